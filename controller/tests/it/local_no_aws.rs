//! `controller up` with publishing off needs no AWS: it builds no SDK config, so it never
//! asks the EC2 instance metadata service (or any AWS endpoint) for anything. Both are
//! pointed at a loopback listener this test owns, which must see no connection.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[test]
fn up_with_publishing_off_makes_no_aws_or_metadata_call() {
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    let trap_addr = trap.local_addr().unwrap();
    trap.set_nonblocking(true).unwrap();
    let hits = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let counter = {
        let (hits, stop) = (Arc::clone(&hits), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if trap.accept().is_ok() {
                    hits.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let dir = std::env::temp_dir().join(format!("hellofleet-noaws-{}", std::process::id()));
    let trap_url = format!("http://{trap_addr}");
    // Port 0 for both: `up` binds them and prints the URLs (the API's is read below).
    let mut child = testkit::clean_env(&mut Command::new(env!("CARGO_BIN_EXE_controller")))
        .args(["up", "--data-dir", dir.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--api-port", "0"])
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &trap_url)
        .env("AWS_ENDPOINT_URL", &trap_url)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn controller up");
    let stdout = testkit::bound::LineReader::spawn(child.stdout.take().unwrap(), "JSON API");
    // Read while it runs: a pipe nobody reads fills up and blocks the child's logging.
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr_pipe, &mut text);
        text
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    // No address means it exited first: `ready` stays false and the assert shows stderr.
    let port = stdout.addr(Duration::from_secs(30)).map_or(0, |a| a.port());
    let mut ready = false;
    while port != 0 && Instant::now() < deadline {
        if testkit::http_get_ok(port, "/readyz") {
            ready = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // A few more ticks' worth of running (the local default ticks every 5 s; the first
    // tick is done once /readyz answers).
    std::thread::sleep(Duration::from_secs(2));
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let stop_deadline = Instant::now() + Duration::from_secs(60);
    let exited = loop {
        if child.try_wait().unwrap().is_some() {
            break true;
        }
        if Instant::now() > stop_deadline {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = stderr_reader.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    counter.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        exited,
        "controller up still running 60 s after SIGTERM: {stderr}"
    );
    assert!(ready, "controller up never became ready: {stderr}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "something asked AWS or the metadata service: {stderr}"
    );
    assert!(!stderr.contains("region"), "{stderr}");
}
