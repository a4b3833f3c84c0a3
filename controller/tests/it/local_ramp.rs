//! Issue 12's ramps, end to end on loopback: `controller up` (balancer with
//! PROXY v2, instances with their default connection lifetimes) and 260 users
//! at a scale-out threshold of 50 users per instance, from two clients:
//!
//! - loadgen (goose) in this process: one keep-alive connection per user,
//!   reopened through the balancer when the service closes it;
//! - locust's `FastHttpUser` (an independent client; `bash .ci/install.sh`
//!   installs it): one keep-alive connection and cookie jar per user.
//!
//! Each must settle at 6 (±1) desired instances, never reach the max (10), and
//! once settled (and the connections have had the time to be recycled once,
//! the service's max connection age plus its jitter) every in-service,
//! non-warming instance must serve between 0.5× and 1.5× the mean requests/s.
//! Zero failed requests. Each ramp takes ~2 minutes; the request rate is low
//! (think time ~2 s): the metric is users.

use crate::local_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use local_support::{Policy, Stack};

const USERS: u64 = 260;
const POLICY: Policy = Policy {
    min: 1,
    max: 10,
    scale_out_at: 50.0,
    scale_in_at: 20.0,
};
/// The service's default max connection age (30 s) + 20 % jitter + a tick.
const RECYCLED: Duration = Duration::from_secs(40);
/// Status samples averaged per instance once settled.
const SAMPLES: usize = 15;

/// What the ramp came to.
#[derive(Debug)]
struct Settled {
    desired: u32,
    peak_desired: u32,
    /// Mean requests/s per counted instance, by id.
    rps: BTreeMap<String, f64>,
}

impl Settled {
    fn mean(&self) -> f64 {
        self.rps.values().sum::<f64>() / self.rps.len().max(1) as f64
    }

    /// max / mean requests per instance.
    fn imbalance(&self) -> f64 {
        let max = self.rps.values().copied().fold(0.0, f64::max);
        max / self.mean()
    }

    fn check(&self, name: &str) {
        eprintln!(
            "{name}: settled at {} (peak {}), requests/s per instance {:?}, mean {:.1}, imbalance (max/mean) {:.2}",
            self.desired,
            self.peak_desired,
            self.rps,
            self.mean(),
            self.imbalance()
        );
        assert!(
            (5..=7).contains(&self.desired),
            "{name}: settled at {}",
            self.desired
        );
        assert!(
            self.peak_desired < POLICY.max,
            "{name}: reached the max: {self:?}"
        );
        let mean = self.mean();
        for (id, rps) in &self.rps {
            assert!(
                (0.5 * mean..=1.5 * mean).contains(rps),
                "{name}: {id} serves {rps:.1} req/s, mean {mean:.1}: {self:?}"
            );
        }
    }
}

/// Watches the fleet until it has settled with the full load and the
/// connections were recycled, then averages each instance's requests/s.
async fn settle(stack: &Stack, load_full_at: Instant, deadline: Instant) -> Settled {
    let started = Instant::now();
    let mut peak_desired = 0;
    let mut shape = (0, 0);
    let mut stable_since = Instant::now();
    let mut samples: Vec<BTreeMap<String, f64>> = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "not settled in time; peak desired {peak_desired}\n{}",
            stack.log_tail()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(s) = stack.status().await else {
            continue;
        };
        peak_desired = peak_desired.max(s.group.desired_capacity);
        let counted: BTreeMap<String, f64> = s
            .instances
            .iter()
            .filter(|i| i.lifecycle_state == proto::Lifecycle::InService && !i.warming)
            .map(|i| (i.id.clone(), i.requests_per_second))
            .collect();
        let steady = s.group.in_service == s.group.desired_capacity
            && s.group.pending == 0
            && counted.len() == s.group.desired_capacity as usize;
        eprintln!(
            "[{:>5.1}s] users={} per instance={:?} desired={} in service={} pending={} draining={} rps={:?}",
            started.elapsed().as_secs_f64(),
            s.fleet.concurrent_users,
            s.fleet.concurrent_users_per_instance.map(|u| u.round()),
            s.group.desired_capacity,
            s.group.in_service,
            s.group.pending,
            s.group.draining,
            counted.values().map(|r| r.round()).collect::<Vec<_>>()
        );
        let now_shape = (s.group.desired_capacity, s.group.in_service);
        if now_shape != shape || !steady || Instant::now() < load_full_at {
            shape = now_shape;
            stable_since = Instant::now();
            samples.clear();
            continue;
        }
        if stable_since.elapsed() < RECYCLED {
            continue;
        }
        samples.push(counted);
        if samples.len() == SAMPLES {
            let mut rps = BTreeMap::new();
            for sample in &samples {
                for (id, r) in sample {
                    *rps.entry(id.clone()).or_insert(0.0) += r / SAMPLES as f64;
                }
            }
            return Settled {
                desired: shape.0,
                peak_desired,
                rps,
            };
        }
    }
}

/// The loadgen ramp: 10 users, +50 every 5 s, to 260, think time 1.5–2.5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_ramp_with_a_connection_per_user_settles_balanced() {
    use clap::Parser;
    let deadline = Instant::now() + Duration::from_secs(175);
    let stack = Stack::start("ramp-loadgen", POLICY).await;
    let out = stack.dir.join("loadgen");
    let cli = loadgen::cli::Cli::try_parse_from([
        "loadgen",
        "ramp",
        "--host",
        &stack.balancer,
        "--start-users",
        "10",
        "--step-users",
        "50",
        "--step-every",
        "5s",
        "--max-users",
        &USERS.to_string(),
        "--duration",
        "170s",
        "--think-time",
        "1500ms..2500ms",
        "--out-dir",
        &out.display().to_string(),
    ])
    .unwrap();
    let config = loadgen::Config::from_cli(cli.command).unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(loadgen::run(config, stop.clone()));
    let full_at = Instant::now() + Duration::from_secs(30);

    let settled = settle(&stack, full_at, deadline).await;
    stop.cancel();
    let outcome = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("loadgen stops")
        .unwrap()
        .expect("loadgen ran");
    let summary = &outcome.summary;
    eprintln!(
        "loadgen: {} requests, {} errors",
        summary.requests, summary.errors
    );
    assert!(summary.requests > 1_000, "{summary:?}");
    assert_eq!(summary.errors, 0, "failed requests: {summary:?}");
    settled.check("loadgen (shared pool)");
}

const LOCUSTFILE: &str = r#"
from locust import FastHttpUser, task, between

class User(FastHttpUser):
    wait_time = between(1.5, 2.5)

    @task(9)
    def hello(self):
        self.client.get("/hello")

    @task(1)
    def repeat(self):
        self.client.get("/repeat")
"#;

/// locust, headless: 260 `FastHttpUser`s spawned at 10/s, each with its own
/// keep-alive connection and cookie jar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramp_with_per_user_keep_alive_connections_settles_balanced() {
    let deadline = Instant::now() + Duration::from_secs(175);
    let stack = Stack::start("ramp-locust", POLICY).await;
    let file = stack.dir.join("locustfile.py");
    std::fs::write(&file, LOCUSTFILE).unwrap();
    let csv = stack.dir.join("locust");
    let locust_bin = testkit::python_tool("locust")
        .expect("locust is needed: bash .ci/install.sh (locust==2.47.0 into its virtualenv)");
    let mut locust = tokio::process::Command::new(locust_bin)
        .arg("-f")
        .arg(&file)
        .args(["--headless", "--users", &USERS.to_string()])
        .args(["--spawn-rate", "10", "--run-time", "170s", "--only-summary"])
        .args(["--host", &stack.balancer, "--csv"])
        .arg(&csv)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(stack.dir.join("locust.err")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("locust is needed: bash .ci/install.sh (pip install locust==2.47.0)");
    let full_at = Instant::now() + Duration::from_secs(30);

    let settled = settle(&stack, full_at, deadline).await;
    // SIGTERM: locust stops its users and writes its statistics.
    let pid = nix::unistd::Pid::from_raw(locust.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), locust.wait())
        .await
        .expect("locust stops")
        .unwrap();
    let stats = std::fs::read_to_string(format!("{}_stats.csv", csv.display()))
        .unwrap_or_else(|e| panic!("locust wrote no statistics ({e}), exit {status}"));
    // Columns: Type,Name,Request Count,Failure Count,...
    let total = stats
        .lines()
        .find(|l| l.contains(",Aggregated,"))
        .expect("an Aggregated row");
    let cols: Vec<&str> = total.split(',').collect();
    let (requests, failures): (u64, u64) = (cols[2].parse().unwrap(), cols[3].parse().unwrap());
    eprintln!("locust: {requests} requests, {failures} failures, exit {status}");
    assert!(requests > 1_000, "{total}");
    assert_eq!(failures, 0, "failed requests: {total}");
    settled.check("locust (per-user connections)");
}
