//! Daemon memory with 1,000 instances reporting. Target: RSS ≤ 50 MB.
//!
//! The bench re-runs itself as the daemon (`daemon::run` over a 1,000-instance in-memory
//! fleet, ticking every second, on a loopback port), pushes 3 rounds of load reports for
//! every instance over HTTP (`POST /api/reports`), lets it tick, and reads the daemon's
//! VmRSS / VmHWM from /proc. Reference in the same run: the same daemon's RSS before any
//! report arrived. The child stops when its stdin closes and is killed on drop.
//!
//! `cargo bench -p controller --features test-support --bench daemon_rss` (bench/controller.sh runs it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use controller::clock::now_ms;
use controller::config::Config;
use controller::daemon::{StatusResponse, run};
use controller::metrics::NoopSink;
use controller::provider::memory::MemoryFleet;
use fleetcore::synthetic::{report, user_ids};
use tokio_util::sync::CancellationToken;

const INSTANCES: u32 = 1_000;
const USERS: u64 = 60;
const ROUNDS: u64 = 3;
const BUDGET_MB: f64 = 50.0;
const ROLE: &str = "HF_RSS_ROLE";

fn main() {
    if std::env::var(ROLE).as_deref() == Ok("daemon") {
        daemon();
    } else {
        driver();
    }
}

fn daemon() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let toml = format!(
            "tick = \"1s\"\n[group]\nname = \"hellofleet-local\"\nmin_size = 1\nmax_size = {INSTANCES}\n"
        );
        let config = Config::from_toml(&toml, "bench", &Default::default())
            .unwrap()
            .with_report_key(bench_key());
        let fleet = Arc::new(MemoryFleet::new("rss", 1, INSTANCES, INSTANCES));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("PORT {}", listener.local_addr().unwrap().port());
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        std::thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            stop.cancel();
        });
        run(config, fleet, Arc::new(NoopSink), listener, shutdown)
            .await
            .unwrap();
    });
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The key the daemon and the bench's report sender share (reports are signed).
fn bench_key() -> proto::sign::ReportKey {
    proto::sign::ReportKey::from_text("daemon-rss-bench-report-key-0123456789abcdef").unwrap()
}

fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let sig = proto::sign::sign(&bench_key(), now_ms(), body.as_bytes());
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         {}: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        proto::sign::SIGNATURE_HEADER,
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out[9..12].parse().unwrap();
    (
        code,
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    )
}

fn status(addr: SocketAddr) -> StatusResponse {
    serde_json::from_str(&http(addr, "GET", "/api/status", "").1).unwrap()
}

/// (VmRSS, VmHWM) in MB.
fn rss_mb(pid: u32) -> (f64, f64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn wait_ticks(addr: SocketAddr, ticks: u64) {
    let start = status(addr).status.tick;
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(addr).status.tick < start + ticks {
        assert!(Instant::now() < deadline, "the daemon stopped ticking");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn driver() {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .env(ROLE, "daemon")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut daemon = Daemon(child);
    let pid = daemon.0.id();
    let mut line = String::new();
    BufReader::new(daemon.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("PORT ")
        .expect("PORT line")
        .parse()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_ticks(addr, 1);
    let ids: Vec<String> = status(addr)
        .status
        .instances
        .iter()
        .map(|i| i.id.clone())
        .collect();
    assert_eq!(ids.len(), INSTANCES as usize);
    let (idle, _) = rss_mb(pid);

    let started = Instant::now();
    let mut refused = 0;
    for round in 1..=ROUNDS {
        for (k, id) in ids.iter().enumerate() {
            let users = user_ids(k as u64 * USERS, (k as u64 + 1) * USERS);
            let r = report(
                id,
                round,
                now_ms(),
                users.iter().map(String::as_str),
                round * 100,
            );
            let (code, _) = http(
                addr,
                "POST",
                "/api/reports",
                &serde_json::to_string(&r).unwrap(),
            );
            refused += u32::from(code >= 400);
        }
    }
    let push = started.elapsed();
    wait_ticks(addr, 2);
    let s = status(addr);
    let (rss, hwm) = rss_mb(pid);
    println!(
        "controller daemon with {INSTANCES} instances reporting ({ROUNDS} rounds, {USERS} users each)"
    );
    println!(
        "  {} reports in {push:.2?} ({:.0}/s), refused {refused}, accepted {}",
        u64::from(INSTANCES) * ROUNDS,
        (u64::from(INSTANCES) * ROUNDS) as f64 / push.as_secs_f64(),
        s.reports.accepted
    );
    println!(
        "  fleet users {} (truth {}), tick {}",
        s.status.fleet.concurrent_users,
        u64::from(INSTANCES) * USERS,
        s.status.tick
    );
    println!(
        "  RSS {rss:.1} MB (peak {hwm:.1} MB); reference idle RSS before reports {idle:.1} MB"
    );
    println!(
        "  ratio RSS / idle = {:.2}; peak / budget (50 MB) = {:.2}",
        rss / idle,
        hwm / BUDGET_MB
    );
    drop(daemon);
    if hwm > BUDGET_MB || refused > 0 {
        println!("  FAIL");
        std::process::exit(1);
    }
    println!("  PASS: peak RSS within the 50 MB budget");
}
