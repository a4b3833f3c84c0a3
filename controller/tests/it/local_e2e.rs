//! `controller up` end to end, on loopback, bounded (~1–2 min): users increase →
//! desired capacity and in-service instances rise → load removed → back to min.
//! Zero failed requests over the whole run, zero lost log events (file sink lines
//! = 20 × successful `/repeat`), and after SIGTERM no process of the fleet remains.

use crate::local_support;

use std::time::{Duration, Instant};

use local_support::{Load, Policy, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scales_out_and_back_in_without_failing_or_losing_anything() {
    let started = Instant::now();
    let policy = Policy {
        min: 1,
        max: 4,
        scale_out_at: 10.0,
        scale_in_at: 3.0,
    };
    let mut stack = Stack::start("e2e", policy).await;
    let mut load = Load::new(&stack.balancer, Duration::from_millis(150));

    // Ramp: 8 more users every second until the group has grown to 3 in service.
    let mut peak_desired = 1;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if load.users() < 40 {
            load.add_users(8);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let s = stack.status().await.expect("status");
        peak_desired = peak_desired.max(s.group.desired_capacity);
        eprintln!(
            "[{:>5.1}s] users={} fleet users={} desired={} in service={} pending={}",
            started.elapsed().as_secs_f64(),
            load.users(),
            s.fleet.concurrent_users,
            s.group.desired_capacity,
            s.group.in_service,
            s.group.pending
        );
        if s.group.in_service >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no scale-out to 3 within 60 s: {s:#?}\n{}",
            stack.log_tail()
        );
    }
    assert!(peak_desired >= 3);
    // A few more users (their connections reach the new instances, which have the
    // fewest flows) and a little more traffic on the grown fleet; then the load goes away.
    load.add_users(8);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = load.stop().await;
    eprintln!("load stopped: {}", stats.summary());

    let back = stack
        .wait_for(
            "back to min after the load stopped",
            Duration::from_secs(90),
            |s| {
                s.group.desired_capacity == 1
                    && s.group.in_service == 1
                    && s.group.draining == 0
                    && s.instances.len() == 1
            },
        )
        .await;
    eprintln!(
        "[{:>5.1}s] back to min: {:?}",
        started.elapsed().as_secs_f64(),
        back.group
    );
    let decisions = stack.decisions().await;
    let outs = decisions.iter().filter(|d| d.action == "scale_out").count();
    let ins = decisions.iter().filter(|d| d.action == "scale_in").count();
    assert!(outs >= 1 && ins >= 2, "scale-outs {outs}, scale-ins {ins}");

    let pids_before = stack.fleet_pids();
    assert_eq!(pids_before.len(), 1, "{pids_before:?}");
    let status = stack.stop(Duration::from_secs(60));
    assert!(
        status.success(),
        "controller up exited with {status}:\n{}",
        stack.log_tail()
    );
    let left = stack.fleet_pids();
    assert!(
        left.is_empty(),
        "processes of the fleet still running after stop: {left:?}"
    );
    for (pid, _) in &pids_before {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} remains"
        );
    }

    assert_eq!(stats.failed(), 0, "failed requests: {}", stats.summary());
    let repeats = stats.ok_repeat.load(std::sync::atomic::Ordering::Relaxed);
    assert!(repeats > 100, "{}", stats.summary());
    assert!(
        stats.instances.lock().unwrap().len() >= 2,
        "{}",
        stats.summary()
    );
    let events = stack.log_events();
    assert_eq!(
        events,
        20 * repeats,
        "log events in the file sinks vs 20 × {repeats} /repeat responses"
    );
    eprintln!(
        "e2e done in {:.1}s: {} ok requests, 0 failed, {events} log events = 20 × {repeats}, {outs} scale-outs, {ins} scale-ins",
        started.elapsed().as_secs_f64(),
        stats.ok()
    );
}
