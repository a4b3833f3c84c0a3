//! Faults under load, against the real `controller up` on loopback:
//! - an instance killed with SIGKILL is restarted in place (same id and data
//!   dir, as a process manager on its host would), and only the requests in
//!   flight on it fail (counted and printed);
//! - the controller restarted under load (SIGUSR1: the daemon, its state and its
//!   API restart while the local group and balancer, the parts AWS would keep
//!   running, stay up) keeps the fleet serving and causes no scale-in.
//!   A restart of the whole `up` process is not tested here: it takes its
//!   instances with it by design (they stop when their controller goes away).

use crate::local_support;

use std::time::{Duration, Instant};

use local_support::{Load, Policy, Stack};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_restarts_in_place_and_only_its_in_flight_requests_fail() {
    // Thresholds out of reach: the group stays at 2, only the replacement changes it.
    let policy = Policy {
        min: 2,
        max: 4,
        scale_out_at: 10_000.0,
        scale_in_at: 0.0,
    };
    let mut stack = Stack::start("kill", policy).await;
    let mut load = Load::new(&stack.balancer, Duration::from_millis(50));
    load.add_users(20);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        load.stats.failed(),
        0,
        "before the kill: {}",
        load.stats.summary()
    );

    let pid = stack.instance_pid("i-local-1").expect("i-local-1 runs");
    let ok_before = load.stats.ok();
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    let killed_at = Instant::now();
    let s = stack
        .wait_for("i-local-1 back in service", Duration::from_secs(30), |s| {
            s.group.in_service == 2
                && s.instances.iter().any(|i| {
                    i.id == "i-local-1" && i.lifecycle_state == proto::Lifecycle::InService
                })
                && stack.instance_pid("i-local-1").is_some_and(|p| p != pid)
        })
        .await;
    let replaced_in = killed_at.elapsed();
    assert!(
        s.instances
            .iter()
            .all(|i| i.id == "i-local-1" || i.id == "i-local-2"),
        "restarted in place, nothing launched: {s:#?}"
    );
    let failed_at_kill = load.stats.failed();
    // The fleet keeps serving with no further failure. The users that lost their
    // connection reconnected at once (to i-local-2, while i-local-1 restarted).
    load.add_users(10);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = load.stop().await;
    eprintln!(
        "kill -9 of i-local-1: {failed_at_kill} failed request(s) (in flight on it, at most one per user: 20), back in service in {replaced_in:?}; {}",
        stats.summary()
    );
    assert!(
        failed_at_kill <= 20,
        "more failures than requests that could be in flight: {}",
        stats.summary()
    );
    assert_eq!(
        stats.failed(),
        failed_at_kill,
        "failures after the replacement: {}",
        stats.summary()
    );
    assert!(stats.ok() > ok_before + 100, "{}", stats.summary());

    let status = stack.stop(Duration::from_secs(60));
    assert!(status.success(), "{status}");
    assert!(stack.fleet_pids().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_restart_under_load_keeps_serving_and_does_not_scale_in() {
    // 30 users at 12 per instance → the group grows to 3 (its max).
    let policy = Policy {
        min: 1,
        max: 3,
        scale_out_at: 12.0,
        scale_in_at: 3.0,
    };
    let mut stack = Stack::start("restart", policy).await;
    let mut load = Load::new(&stack.balancer, Duration::from_millis(100));
    load.add_users(30);
    let before = stack
        .wait_for("scaled out to 3", Duration::from_secs(60), |s| {
            s.group.in_service == 3 && s.group.desired_capacity == 3
        })
        .await;
    let tick_before = before.tick;
    // New users open new connections: least-flows sends them to the two new instances.
    load.add_users(10);
    tokio::time::sleep(Duration::from_secs(2)).await;

    stack.signal(Signal::SIGUSR1);
    // The restarted daemon counts ticks from zero again.
    let after = stack
        .wait_for("the daemon restarted", Duration::from_secs(30), |s| {
            s.tick < tick_before
        })
        .await;
    assert_eq!(after.group.desired_capacity, 3, "{after:#?}");
    // Watch it for a while under load: capacity never goes down.
    let watch_until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < watch_until {
        let s = stack.status().await.expect("status after restart");
        assert_eq!(
            s.group.desired_capacity, 3,
            "desired capacity changed after the restart: {s:#?}"
        );
        assert_eq!(s.group.in_service, 3, "{s:#?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let decisions = stack.decisions().await;
    let ins: Vec<_> = decisions
        .iter()
        .filter(|d| d.action == "scale_in")
        .collect();
    assert!(ins.is_empty(), "scale-in after the restart: {ins:#?}");
    let reasons: Vec<&str> = decisions.iter().map(|d| d.reason.as_str()).collect();
    eprintln!("decisions after the restart: {reasons:?}");

    let stats = load.stop().await;
    eprintln!("restart under load: {}", stats.summary());
    assert_eq!(stats.failed(), 0, "{}", stats.summary());
    assert_eq!(
        stats.instances.lock().unwrap().len(),
        3,
        "{}",
        stats.summary()
    );
    let status = stack.stop(Duration::from_secs(60));
    assert!(status.success(), "{status}");
    assert!(stack.fleet_pids().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_stop_by_themselves_when_the_controller_is_killed() {
    let policy = Policy {
        min: 2,
        max: 2,
        scale_out_at: 10_000.0,
        scale_in_at: 0.0,
    };
    let stack = Stack::start("orphans", policy).await;
    assert_eq!(stack.fleet_pids().len(), 2);
    stack.signal(Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !stack.fleet_pids().is_empty() {
        assert!(
            Instant::now() < deadline,
            "orphaned instances: {:?}",
            stack.fleet_pids()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // They flushed their logs on the way out (SIGTERM path, exit 0).
    for entry in std::fs::read_dir(stack.dir.join("logs")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".stderr.log") {
            let log = std::fs::read_to_string(entry.path()).unwrap();
            assert!(log.contains("stdin closed"), "{name}: {log}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_stops_everything_like_sigterm() {
    let policy = Policy {
        min: 2,
        max: 2,
        scale_out_at: 10_000.0,
        scale_in_at: 0.0,
    };
    let mut stack = Stack::start("hangup", policy).await;
    assert_eq!(stack.fleet_pids().len(), 2);
    let status = stack.stop_with(Signal::SIGHUP, Duration::from_secs(60));
    assert!(status.success(), "{status}:\n{}", stack.log_tail());
    assert!(stack.fleet_pids().is_empty(), "{:?}", stack.fleet_pids());
}
