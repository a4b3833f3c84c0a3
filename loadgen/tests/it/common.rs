//! Test support: the real `service` on a free port (in-process, its own runtime), a fake
//! controller serving a real `proto::Status`, and the `loadgen` binary with a deadline.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Lines, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct ServiceCli {
    #[command(flatten)]
    args: service::Args,
}

/// A `service` instance on 127.0.0.1:<free port>, stopped (drained) on drop.
pub struct TestService {
    pub addr: SocketAddr,
    pub url: String,
    pub instance_id: String,
    shutdown: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl TestService {
    pub fn start(instance_id: &str) -> TestService {
        TestService::start_with(instance_id, &[])
    }

    /// With more service flags (e.g. `--max-connection-requests 5`).
    pub fn start_with(instance_id: &str, flags: &[&str]) -> TestService {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let mut argv = vec![
            "service",
            "--no-imds",
            "--host",
            "127.0.0.1",
            "--drain-delay",
            "0s",
            "--instance-id",
            instance_id,
        ];
        argv.extend_from_slice(flags);
        // From the flags only, none of the service's environment variables (HOST, PORT…).
        let matches = <ServiceCli as clap::CommandFactory>::command()
            .mut_args(|a| a.env(clap::builder::Resettable::Reset))
            .try_get_matches_from(argv)
            .unwrap();
        let cli = <ServiceCli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap();
        let config = service::Config::from_args(cli.args).expect("valid service flags");
        let shutdown = CancellationToken::new();
        let (stop, id) = (shutdown.clone(), instance_id.to_string());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let sink = Arc::new(service::shipper::MemorySink::new());
                service::run_with_sink(config, id, listener, stop, sink)
                    .await
                    .expect("service runs");
            });
        });
        let port = addr.port();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !testkit::http_get_ok(port, "/healthz") {
            assert!(
                Instant::now() < deadline,
                "service did not answer on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        TestService {
            addr,
            url: format!("http://{addr}"),
            instance_id: instance_id.to_string(),
            shutdown,
            thread: Some(thread),
        }
    }

    /// The service's load report (`GET /load`).
    pub fn load_report(&self) -> proto::LoadReport {
        let port: u16 = self.url.rsplit(':').next().unwrap().parse().unwrap();
        let body = http_get_body(port, proto::LOAD_REPORT_PATH);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("load report {body:?}: {e}"))
    }
}

impl Drop for TestService {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn http_get_body(port: u16, path: &str) -> String {
    let r = testkit::http::get(SocketAddr::from(([127, 0, 0, 1], port)), path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    r.body
}

/// A controller stand-in answering `GET /api/status` with a fixed `proto::Status`.
pub struct FakeController {
    pub url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeController {
    pub fn start(desired: u32, in_service: u32) -> FakeController {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let status = proto::Status {
            provider: "local".into(),
            tick: 1,
            updated_at_ms: 0,
            group: proto::GroupStatus {
                name: "test".into(),
                min_size: 1,
                max_size: 10,
                desired_capacity: desired,
                in_service,
                pending: 0,
                draining: 0,
            },
            instances: vec![],
            fleet: proto::FleetTotals::default(),
            policy: proto::PolicySummary {
                metric: "ConcurrentUsersPerInstance".into(),
                scale_out_threshold: 100.0,
                scale_in_threshold: 20.0,
                tick_ms: 1000,
                mode: "controller".into(),
            },
            endpoint: None,
            health: proto::ControllerHealth::default(),
        };
        let body = serde_json::to_string(&status).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FakeController {
            url: format!("http://{addr}"),
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeController {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A fresh folder for one test's reports.
pub fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("loadgen-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn loadgen() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_loadgen"));
    // Cleared: HELLOFLEET_BOOKS_TOKEN in the machine's environment would reach loadgen.
    testkit::clean_env(&mut c)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    c
}

/// A started `loadgen`, killed on drop if still running; its stderr is read from the
/// start (by a thread), so a test reading only its stdout never leaves it blocked.
pub struct Running(pub Option<Child>, Option<JoinHandle<Vec<u8>>>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Running {
    /// Its stdout, line by line (taken from the child: call once).
    pub fn stdout_lines(&mut self) -> Lines<BufReader<ChildStdout>> {
        let child = self.0.as_mut().expect("running");
        BufReader::new(child.stdout.take().expect("stdout piped, taken once")).lines()
    }

    /// Sends `signal` (`TERM`, `INT`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let pid = self.0.as_ref().expect("running").id().to_string();
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(killed.success(), "kill -{signal} {pid}");
    }
}

/// Starts `loadgen` with `args`, stdout and stderr piped; killed on drop.
pub fn start(args: &[&str]) -> Running {
    let mut child = loadgen()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn loadgen");
    let stderr = drain(child.stderr.take());
    Running(Some(child), stderr)
}

/// Runs `loadgen` with `args`; panics if it takes longer than `limit`.
pub fn run(args: &[&str], limit: Duration) -> Output {
    wait(start(args), limit)
}

pub fn wait(mut running: Running, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    let c = running.0.as_mut().unwrap();
    // Both pipes are read while it runs: a child that fills a pipe nobody reads (64 KiB
    // of warnings on a slow machine) blocks on the write and never exits.
    let stdout = drain(c.stdout.take());
    let stderr = running.1.take();
    let status = loop {
        if let Some(status) = c.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "loadgen ran past {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    running.0 = None;
    let read = |h: Option<JoinHandle<Vec<u8>>>| {
        h.map_or_else(Vec::new, |h| h.join().expect("pipe reader"))
    };
    Output {
        status,
        stdout: read(stdout),
        stderr: read(stderr),
    }
}

/// Reads `pipe` to its end on a thread.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Option<JoinHandle<Vec<u8>>> {
    pipe.map(|mut pipe| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    })
}

/// The CSV timeline as (header, rows of cells).
pub fn read_csv(path: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}
