//! Support for the fault tests: moto with a group, a [`FaultProxy`] in front of it, and the
//! real `controller run` binary pointed at the proxy ([`Controller`], killed on drop).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::Moto;
use testkit::fault_proxy::FaultProxy;

pub const GROUP: &str = "web";

/// Bounds of one test run's `[aws]` section and tick.
pub struct Timing {
    pub tick: &'static str,
    pub attempt: &'static str,
    pub operation: &'static str,
}

pub fn config(t: &Timing, listen: &str) -> String {
    let Timing {
        tick,
        attempt,
        operation,
    } = t;
    format!(
        r#"provider = "aws"
tick = "{tick}"
[group]
name = "{GROUP}"
min_size = 1
max_size = 8
[api]
listen = "{listen}"
[metrics]
publish = true
namespace = "HelloFleetFaults"
[reports]
key_env = "HELLOFLEET_FAULTS_REPORT_KEY"
[aws]
region = "us-east-1"
connect_timeout = "200ms"
attempt_timeout = "{attempt}"
operation_timeout = "{operation}"
max_attempts = 2
{policies}"#,
        // The tests' step policies, 30 s periods: nothing scales within a test.
        policies = testkit::fixtures::step_policies(30.0, 1)
    )
}

/// Creates the group in moto directly (not through the proxy): min 1, max 5, `desired`.
pub async fn create_group(moto: &Moto, desired: i32) -> aws_sdk_autoscaling::Client {
    let sdk = crate::moto_group::sdk(moto).await;
    crate::moto_group::create_group(&sdk, GROUP, (1, 5, desired)).await
}

pub async fn desired_capacity(asg: &aws_sdk_autoscaling::Client) -> i32 {
    crate::moto_group::desired_capacity(asg, GROUP).await
}

/// A running `controller run` on port 0 (it prints the address it bound); killed on drop.
pub struct Controller {
    child: Option<Child>,
    api: std::sync::OnceLock<String>,
    pub stderr: PathBuf,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Controller {
    /// Spawns `controller run` with `timing`, its AWS endpoint at `proxy`.
    pub fn spawn(moto: &Moto, proxy: &FaultProxy, timing: &Timing) -> Controller {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("hellofleet-faults-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("controller.toml");
        // Port 0: no port released here that another process could take first.
        std::fs::write(&path, config(timing, "127.0.0.1:0")).unwrap();
        let stderr = dir.join("stderr.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_controller"));
        // Cleared: AWS_PROFILE, AWS_CONFIG_FILE… of the machine would reach the SDK.
        testkit::clean_env(&mut cmd)
            .args(["run", "--config", path.to_str().unwrap()])
            .envs(moto.env())
            .env("AWS_ENDPOINT_URL", proxy.endpoint())
            .env(
                "HELLOFLEET_FAULTS_REPORT_KEY",
                "faults-test-report-key-0123456789abcdef",
            )
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap());
        let child = cmd.spawn().expect("spawn controller run");
        Controller {
            child: Some(child),
            api: std::sync::OnceLock::new(),
            stderr,
            _dir: TempDir(dir),
        }
    }

    /// `http://ADDR`, from the line `controller: dashboard http://ADDR/ …` it prints once
    /// bound (waits for it: 30 s at most; panics, with stderr, if it exits before).
    pub fn api(&self) -> &str {
        self.api.get_or_init(|| {
            let pid = self.child.as_ref().map(Child::id);
            // `wait` (which reaps) takes `&mut`: /proc tells an exit (gone or a zombie).
            let exited = || {
                pid.is_none_or(|pid| {
                    !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .is_ok_and(|stat| !stat.contains(") Z "))
                })
            };
            let addr = testkit::bound::wait_for_addr_in_file(
                &self.stderr,
                "controller: dashboard ",
                Duration::from_secs(30),
                exited,
            )
            .unwrap_or_else(|e| panic!("controller run: {e}"));
            format!("http://{addr}")
        })
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.as_ref().unwrap().id() as i32)
    }

    pub fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).expect("signal the controller");
    }

    /// Waits up to `timeout` for the process to exit: its status and how long it took.
    pub fn wait(&mut self, timeout: Duration) -> Option<(ExitStatus, Duration)> {
        let start = Instant::now();
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some((status, start.elapsed()));
            }
            if start.elapsed() >= timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// GET `path`: status code and body (bounded: 3 s).
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let resp = client
            .get(format!("{}{path}", self.api()))
            .send()
            .await
            .ok()?;
        let code = resp.status().as_u16();
        Some((code, resp.text().await.ok()?))
    }

    pub async fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let (code, body) = self.get(path).await.expect("the controller answers");
        assert_eq!(code, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((200, _)) = self.get("/readyz").await {
                return;
            }
            if let Some((status, _)) = self.wait(Duration::ZERO) {
                panic!("controller exited ({status}): {}", self.stderr_text());
            }
            assert!(
                Instant::now() < deadline,
                "not ready within {timeout:?}: {}",
                self.stderr_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
