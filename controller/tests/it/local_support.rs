//! Support for the `controller up` end-to-end tests: the real binary on loopback
//! ports it picks itself (port 0; the URLs it prints say which) with a test config ([`Stack`], killed on drop with every
//! instance it started), users driven through the balancer ([`Load`]), and a
//! `/proc` scan for the fleet's processes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio_util::sync::CancellationToken;

/// Thresholds of the test policies (users per instance).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub min: u32,
    pub max: u32,
    pub scale_out_at: f64,
    pub scale_in_at: f64,
}

/// A running `controller up`.
pub struct Stack {
    child: Option<Child>,
    pub dir: PathBuf,
    pub api: String,
    pub balancer: String,
    client: reqwest::Client,
}

fn config(policy: Policy, api: u16, balancer: u16, dir: &Path) -> String {
    let Policy {
        min,
        max,
        scale_out_at,
        scale_in_at,
    } = policy;
    format!(
        r#"provider = "local"
tick = "1s"
[group]
name = "e2e"
min_size = {min}
max_size = {max}
desired_capacity = {min}
[api]
listen = "127.0.0.1:{api}"
[reports]
interval = "1s"
stale_after = "3s"
[local]
balancer = "127.0.0.1:{balancer}"
data_dir = "{dir}"
deregistration_delay = "2s"
health_check_interval = "500ms"
stop_timeout = "20s"
[policies.scale_out]
name = "scale-out"
adjustment_type = "ChangeInCapacity"
estimated_instance_warmup_secs = 2
alarm = {{ metric = "ConcurrentUsersPerInstance", statistic = "Average", threshold = {scale_out_at}, comparison = "GreaterThanOrEqualToThreshold", period_secs = 1, evaluation_periods = 1 }}
steps = [ {{ lower_bound = 0, upper_bound = 10, scaling_adjustment = 1 }},
          {{ lower_bound = 10, scaling_adjustment = 2 }} ]
[policies.scale_in]
name = "scale-in"
adjustment_type = "ChangeInCapacity"
estimated_instance_warmup_secs = 2
alarm = {{ metric = "ConcurrentUsersPerInstance", statistic = "Average", threshold = {scale_in_at}, comparison = "LessThanOrEqualToThreshold", period_secs = 1, evaluation_periods = 2 }}
steps = [ {{ upper_bound = 0, scaling_adjustment = -1 }} ]
"#,
        dir = dir.display()
    )
}

impl Stack {
    /// Starts `controller up` with the test config and waits until `min` instances serve.
    pub async fn start(name: &str, policy: Policy) -> Stack {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("hellofleet-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Port 0 for both: `up` binds them itself and prints where (no port released
        // here that another process could take before `up` binds it).
        let path = dir.join("controller.toml");
        std::fs::write(&path, config(policy, 0, 0, &dir)).unwrap();
        // A cleared environment: `up`'s instances inherit it, and the service reads
        // options from variables (HOST, PORT, LOG_SINK…) a CI machine may set.
        let mut child = testkit::clean_env(&mut Command::new(env!("CARGO_BIN_EXE_controller")))
            .arg("up")
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("controller.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("controller.err")).unwrap())
            .spawn()
            .expect("start controller up");
        let out = dir.join("controller.out");
        let mut exited = || child.try_wait().is_ok_and(|s| s.is_some());
        let printed = |marker: &str, exited: &mut dyn FnMut() -> bool| {
            testkit::bound::wait_for_addr_in_file(&out, marker, Duration::from_secs(60), exited)
                .unwrap_or_else(|e| {
                    let err = std::fs::read_to_string(dir.join("controller.err"));
                    panic!("controller up: {e}\n{}", err.unwrap_or_default())
                })
        };
        let api = printed("JSON API", &mut exited);
        let balancer = printed("fleet API (local balancer)", &mut exited);
        let stack = Stack {
            child: Some(child),
            dir,
            api: format!("http://{api}"),
            balancer: format!("http://{balancer}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        };
        stack
            .wait_for(
                &format!("{} instance(s) in service", policy.min),
                Duration::from_secs(60),
                |s| s.group.in_service >= policy.min,
            )
            .await;
        stack
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// `GET /api/status`, or `None` while the controller does not answer.
    pub async fn status(&self) -> Option<proto::Status> {
        let r = self
            .client
            .get(format!("{}/api/status", self.api))
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    pub async fn decisions(&self) -> Vec<proto::DecisionRecord> {
        let r = self
            .client
            .get(format!("{}/api/decisions", self.api))
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    /// Polls the status (every 100 ms) until `pred` holds; panics after `timeout`.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&proto::Status) -> bool,
    ) -> proto::Status {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Some(s) = self.status().await {
                if pred(&s) {
                    return s;
                }
                last = Some(s);
            }
            if Instant::now() > deadline {
                panic!(
                    "{what}: not reached within {timeout:?}; last status: {last:#?}\ncontroller log:\n{}",
                    self.log_tail()
                );
            }
            self.check_alive();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn check_alive(&self) {
        // A controller that exited early is a failure, with its log.
        if let Some(pid) = self.child.as_ref().map(Child::id) {
            let alive = Path::new(&format!("/proc/{pid}")).exists()
                && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .unwrap_or_default()
                    .contains(") Z ");
            assert!(alive, "controller up exited early:\n{}", self.log_tail());
        }
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("controller.err")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid() as i32), signal).unwrap();
    }

    /// SIGTERM to the controller; waits (bounded) for it to exit and returns its status.
    pub fn stop(&mut self, timeout: Duration) -> ExitStatus {
        self.stop_with(Signal::SIGTERM, timeout)
    }

    /// `signal` to the controller; waits (bounded) for it to exit and returns its status.
    pub fn stop_with(&mut self, signal: Signal, timeout: Duration) -> ExitStatus {
        self.signal(signal);
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "controller up did not stop within {timeout:?}:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Pids of every `serve-instance` process of this stack (found by its data dir).
    pub fn fleet_pids(&self) -> Vec<(u32, String)> {
        let needle = self.dir.display().to_string();
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let zombie = std::fs::read_to_string(entry.path().join("stat"))
                .unwrap_or_default()
                .contains(") Z ");
            if cmd.contains("serve-instance") && cmd.contains(&needle) && !zombie {
                out.push((pid, cmd));
            }
        }
        out
    }

    /// Pid of the process serving instance `id`.
    pub fn instance_pid(&self, id: &str) -> Option<u32> {
        let flag = format!("--instance-id {id} ");
        self.fleet_pids()
            .into_iter()
            .find(|(_, cmd)| cmd.contains(&flag))
            .map(|(p, _)| p)
    }

    /// Log events written by every instance's file sink (one JSON line each).
    pub fn log_events(&self) -> u64 {
        let mut n = 0;
        for entry in std::fs::read_dir(self.dir.join("logs")).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "jsonl") {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                n += text.lines().filter(|l| l.contains("Hello World")).count() as u64;
            }
        }
        n
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for (pid, _) in self.fleet_pids() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// What the users saw.
#[derive(Default)]
pub struct Stats {
    pub ok_hello: AtomicU64,
    pub ok_repeat: AtomicU64,
    pub failed: AtomicU64,
    pub errors: Mutex<Vec<String>>,
    pub instances: Mutex<std::collections::BTreeSet<String>>,
}

impl Stats {
    pub fn ok(&self) -> u64 {
        self.ok_hello.load(Ordering::Relaxed) + self.ok_repeat.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock().unwrap();
        if errors.len() < 20 {
            errors.push(what);
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "ok hello={} repeat={} failed={} instances seen={:?} first errors={:?}",
            self.ok_hello.load(Ordering::Relaxed),
            self.ok_repeat.load(Ordering::Relaxed),
            self.failed(),
            self.instances.lock().unwrap(),
            self.errors.lock().unwrap()
        )
    }
}

/// Users, each a task with its own connection and `X-User-Id`, mixing `/hello`
/// and `/repeat` with a think time. Stopping lets in-flight requests finish.
pub struct Load {
    base: String,
    think: Duration,
    stop: CancellationToken,
    users: Vec<tokio::task::JoinHandle<()>>,
    pub stats: Arc<Stats>,
}

impl Load {
    pub fn new(base: &str, think: Duration) -> Load {
        Load {
            base: base.into(),
            think,
            stop: CancellationToken::new(),
            users: Vec::new(),
            stats: Arc::default(),
        }
    }

    pub fn users(&self) -> usize {
        self.users.len()
    }

    pub fn add_users(&mut self, n: usize) {
        for _ in 0..n {
            let id = format!("user-{}", self.users.len());
            let task = user(
                id,
                self.base.clone(),
                self.think,
                self.stop.clone(),
                self.stats.clone(),
            );
            self.users.push(tokio::spawn(task));
        }
    }

    /// Stops every user after its current request; returns what they saw.
    pub async fn stop(self) -> Arc<Stats> {
        self.stop.cancel();
        for u in self.users {
            u.await.unwrap();
        }
        self.stats
    }
}

async fn user(
    id: String,
    base: String,
    think: Duration,
    stop: CancellationToken,
    stats: Arc<Stats>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut i = 0u64;
    while !stop.is_cancelled() {
        let repeat = i.is_multiple_of(3);
        let path = if repeat { "/repeat" } else { "/hello" };
        i += 1;
        let result = async {
            let r = client
                .get(format!("{base}{path}"))
                .header("x-user-id", &id)
                .send()
                .await?;
            let status = r.status();
            let instance = r
                .headers()
                .get(proto::INSTANCE_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?")
                .to_string();
            let body = r.text().await?;
            Ok::<_, reqwest::Error>((status, instance, body))
        }
        .await;
        match result {
            Ok((status, instance, body)) if status == 200 => {
                let lines = body.lines().filter(|l| *l == "Hello World").count();
                let want = if repeat { 100 } else { 1 };
                if lines == want {
                    let counter = if repeat {
                        &stats.ok_repeat
                    } else {
                        &stats.ok_hello
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    stats.instances.lock().unwrap().insert(instance);
                } else {
                    stats.fail(format!("{path} from {instance}: {lines} lines"));
                }
            }
            Ok((status, instance, _)) => stats.fail(format!("{path} from {instance}: {status}")),
            Err(e) => stats.fail(format!("{path}: {e:?}")),
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(think) => {}
        }
    }
}
