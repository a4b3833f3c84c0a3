//! Every instance reached: two real service instances (each closing a connection after 5
//! requests, as `--max-connection-requests` says) behind the fleet's local balancer
//! (least flows). loadgen starts with one registered; once the second registers (a
//! scale-out), each user's next connection goes through the balancer again, and the step
//! line's `instances=` reaches 2 within a few steps.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use controller::local::balancer::{Backend, Balancer, BalancerHandle, BalancerOptions};
use tokio_util::sync::CancellationToken;

/// The local balancer on 127.0.0.1:<free port>, in its own runtime; stopped on drop.
struct TestBalancer {
    url: String,
    handle: BalancerHandle,
    stop: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestBalancer {
    fn start() -> TestBalancer {
        let handle = BalancerHandle::new();
        let stop = CancellationToken::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn({
            let (handle, stop) = (handle.clone(), stop.clone());
            move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let options = BalancerOptions {
                        shutdown_grace: Duration::from_millis(200),
                        ..BalancerOptions::default()
                    };
                    let b = Balancer::bind("127.0.0.1:0".parse().unwrap(), handle, options)
                        .await
                        .unwrap();
                    tx.send(b.local_addr().unwrap()).unwrap();
                    b.run(stop).await;
                });
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("balancer bound");
        TestBalancer {
            url: format!("http://{addr}"),
            handle,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TestBalancer {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn backend(svc: &TestService) -> Backend {
    Backend {
        id: svc.instance_id.clone(),
        addr: svc.addr,
    }
}

#[test]
fn after_a_scale_out_the_step_lines_count_both_instances() {
    let flags = ["--max-connection-requests", "5"];
    let a = TestService::start_with("i-one", &flags);
    let b = TestService::start_with("i-two", &flags);
    let lb = TestBalancer::start();
    lb.handle.set_backends(vec![backend(&a)]);
    let dir = out_dir("instances");
    let mut running = start(&[
        "steady",
        "-H",
        &lb.url,
        "-u",
        "6",
        "--interval",
        "1s",
        "--think-time",
        "20ms",
        "--out-dir",
        dir.to_str().unwrap(),
    ]);
    let lines = running.stdout_lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(40);
    let next_step = || loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("a step line in time");
        if line.starts_with("t=") {
            return line;
        }
    };
    let first = next_step();
    assert!(first.contains("instances=1"), "one registered: {first}");
    assert!(first.contains("errors=0 "), "{first}");
    // Scale-out: the second instance registers.
    lb.handle.set_backends(vec![backend(&a), backend(&b)]);
    let mut seen = vec![first];
    let reached = loop {
        let line = next_step();
        seen.push(line.clone());
        if line.contains("instances=2") {
            break true;
        }
        if seen.len() > 10 {
            break false;
        }
    };
    assert!(
        reached,
        "instances=2 within 10 steps of the scale-out:\n{}",
        seen.join("\n")
    );
    running.signal("TERM");
    let rest: Vec<String> = rx.iter().collect();
    let out = wait(running, Duration::from_secs(20));
    assert!(out.status.success(), "{:?}", out.status);
    let total = rest
        .iter()
        .find(|l| l.starts_with("total:"))
        .expect("total line");
    assert!(total.contains("errors=0 "), "{total}");
    // Both instances served loadgen's users.
    for svc in [&a, &b] {
        let report = svc.load_report();
        assert!(report.requests_total > 0, "{}: {report:?}", svc.instance_id);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
