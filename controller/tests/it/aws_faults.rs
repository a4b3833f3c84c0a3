//! The `aws` provider under faults: the real `controller run` binary, its AWS endpoint a
//! [`FaultProxy`] in front of moto (both started and stopped by each test; loopback only).
//!
//! - a 30 s blackhole: ticks keep their cadence, each records a `provider_error` at its own
//!   tick, nothing scales in, `/api/status` and the dashboard say what fails, `/readyz` stays
//!   ready, and the first tick after the blackhole recovers (the only long test here);
//! - SIGTERM while a call hangs (at start-up, and in a running tick) ends the process in ≤ 2 s;
//! - start-up against a blackhole fails within the operation timeout, in one line naming the
//!   operation and the endpoint; a config error's one line starts with the field.

use crate::aws_faults_support;

use std::time::{Duration, Instant};

use aws_faults_support::{Controller, Timing, create_group, desired_capacity};
use controller::clock::now_ms;
use controller::daemon::StatusResponse;
use nix::sys::signal::Signal;
use proto::DecisionRecord;
use testkit::Moto;
use testkit::fault_proxy::{Fault, FaultProxy};

const SHORT: Timing = Timing {
    tick: "1s",
    attempt: "500ms",
    operation: "800ms",
};

fn proxy_for(moto: &Moto) -> FaultProxy {
    FaultProxy::start(format!("127.0.0.1:{}", moto.port()).parse().unwrap())
}

/// SIGTERMs `ctl` and asserts a clean exit within 2 s (`when`: what was hanging).
fn sigterm_stops_within_2s(ctl: &mut Controller, when: &str) {
    ctl.signal(Signal::SIGTERM);
    let (status, took) = ctl
        .wait(Duration::from_secs(2))
        .unwrap_or_else(|| panic!("still running 2 s after SIGTERM: {}", ctl.stderr_text()));
    assert!(status.success(), "{status}: {}", ctl.stderr_text());
    eprintln!("{when}: exited {took:?} after SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30s_blackhole_keeps_the_cadence_records_provider_errors_and_recovers_at_the_next_tick() {
    let moto = Moto::start();
    let asg = create_group(&moto, 2).await;
    let proxy = proxy_for(&moto);
    let mut ctl = Controller::spawn(&moto, &proxy, &SHORT);
    ctl.wait_ready(Duration::from_secs(20)).await;
    // The config's max of 8 is above the group's MaxSize of 5: said, not silently capped.
    let s: StatusResponse = ctl.json("/api/status").await;
    assert_eq!(
        s.status.health.warnings,
        vec![
            "group.max_size is 8 but the group's own MaxSize is 5: the controller will not go above 5"
        ]
    );
    assert!(
        ctl.stderr_text()
            .contains("group.max_size is 8 but the group's own MaxSize is 5")
    );
    let (_, page) = ctl.get("/").await.unwrap();
    assert!(page.contains("Configuration warning:</b> group.max_size is 8"));

    proxy.set(Fault::Blackhole);
    let from_ms = now_ms();
    let until = Instant::now() + Duration::from_secs(30);
    let (mut banner_seen, mut ready_all_along, mut worst_failing) = (false, true, 0);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let s: StatusResponse = ctl.json("/api/status").await;
        worst_failing = worst_failing.max(s.status.health.failing_ticks);
        ready_all_along &= matches!(ctl.get("/readyz").await, Some((200, _)));
        let (_, page) = ctl.get("/").await.unwrap();
        banner_seen |= page.contains(r#"id="health-banner""#)
            && page.contains("DescribeAutoScalingGroups failing");
    }
    let to_ms = now_ms();
    proxy.set(Fault::None);
    let back = Instant::now();

    // Recovery at the first tick after the blackhole: a decision that read the group,
    // within about one tick (1 s) plus the last abandoned call.
    let recovered = Instant::now() + Duration::from_millis(2_500);
    let last: Vec<DecisionRecord> = loop {
        let d: Vec<DecisionRecord> = ctl.json("/api/decisions").await;
        if d.iter()
            .any(|d| d.at_ms > to_ms && d.reason != "provider_error")
        {
            break d;
        }
        assert!(
            Instant::now() < recovered,
            "no recovery within 2.5 s: {:?}",
            d.iter().rev().take(3).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let recovery = back.elapsed();

    let during: Vec<&DecisionRecord> = last
        .iter()
        .filter(|d| d.at_ms > from_ms + 1_000 && d.at_ms < to_ms - 1_000)
        .collect();
    assert!(
        (25..=30).contains(&during.len()),
        "about one tick a second for 28 s: {}",
        during.len()
    );
    for d in &during {
        assert_eq!(d.reason, "provider_error", "{d:?}");
        assert!(
            d.explanation.contains("DescribeAutoScalingGroups")
                && d.explanation.contains(&proxy.endpoint())
                && !d.explanation.contains('\n')
                && !d.explanation.contains("DispatchFailure {"),
            "one line naming the call and the endpoint: {}",
            d.explanation
        );
    }
    let mut gaps = vec![];
    for pair in during.windows(2) {
        assert_eq!(pair[1].tick, pair[0].tick + 1, "{pair:?}");
        let gap = pair[1].at_ms - pair[0].at_ms;
        assert!((700..=1_500).contains(&gap), "tick cadence: {gap} ms");
        gaps.push(gap);
    }
    eprintln!(
        "blackhole: {} provider_error decisions, tick gaps {}..={} ms, recovered {recovery:?} after the fault cleared",
        during.len(),
        gaps.iter().min().unwrap(),
        gaps.iter().max().unwrap()
    );
    assert!(
        last.iter().all(|d| d.action != "scale_in"),
        "missing data never scales in"
    );
    assert_eq!(desired_capacity(&asg).await, 2);
    assert!(
        worst_failing >= 25,
        "failing ticks counted: {worst_failing}"
    );
    assert!(ready_all_along, "the loop kept ticking: /readyz stays 200");
    assert!(banner_seen, "the dashboard shows the failing call");

    let s: StatusResponse = ctl.json("/api/status").await;
    let h = &s.status.health;
    assert_eq!(h.failing_ticks, 0, "recovered: {h:?}");
    let e = h.last_error.as_ref().expect("the last error is kept");
    assert_eq!(e.operation, "DescribeAutoScalingGroups");
    assert!(h.last_tick_age_ms < 1_500, "{h:?}");
    assert!(s.errors.describe >= 25, "{:?}", s.errors);

    ctl.signal(Signal::SIGTERM);
    let (status, _) = ctl.wait(Duration::from_secs(5)).expect("stops on SIGTERM");
    assert!(status.success(), "{status}: {}", ctl.stderr_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_hung_call_ends_the_controller_within_two_seconds() {
    let moto = Moto::start();
    let _asg = create_group(&moto, 1).await;
    let proxy = proxy_for(&moto);
    // Timeouts far longer than the test: only obeying shutdown can end the calls in time.
    let long = Timing {
        tick: "5s",
        attempt: "30s",
        operation: "60s",
    };

    // At start-up: the first describe hangs.
    proxy.set(Fault::Blackhole);
    let mut ctl = Controller::spawn(&moto, &proxy, &long);
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.accepted() == 0 {
        assert!(Instant::now() < deadline, "no call reached the proxy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    sigterm_stops_within_2s(&mut ctl, "start-up");

    // In a running tick: the describe of tick 2 hangs (its budget is the 5 s tick).
    proxy.set(Fault::None);
    let mut ctl = Controller::spawn(&moto, &proxy, &long);
    ctl.wait_ready(Duration::from_secs(20)).await;
    let s: StatusResponse = ctl.json("/api/status").await;
    proxy.set(Fault::Blackhole);
    let tick_2_hangs = s.status.health.last_tick_at_ms + 5_000 + 800;
    while now_ms() < tick_2_hangs {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sigterm_stops_within_2s(&mut ctl, "running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_against_a_blackhole_fails_within_the_timeout_naming_operation_and_endpoint() {
    let moto = Moto::start();
    let proxy = proxy_for(&moto);
    proxy.set(Fault::Blackhole);
    let started = Instant::now();
    let mut ctl = Controller::spawn(&moto, &proxy, &SHORT);
    let (status, _) = ctl
        .wait(Duration::from_secs(10))
        .expect("start-up gives up on a hung endpoint");
    let took = started.elapsed();
    let stderr = ctl.stderr_text();
    assert!(!status.success(), "{stderr}");
    // 800 ms operation timeout, plus the process start.
    assert!(took < Duration::from_secs(3), "took {took:?}: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    eprintln!("{}", errors[0]);
    assert!(
        errors[0].contains("DescribeAutoScalingGroups") && errors[0].contains(&proxy.endpoint()),
        "{}",
        errors[0]
    );
    assert!(
        !stderr.contains("Caused by") && !stderr.contains("DispatchFailure {"),
        "{stderr}"
    );
}

#[test]
fn a_config_error_is_one_line_starting_with_the_field() {
    let dir = std::env::temp_dir().join(format!("hellofleet-badconf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        "provider = \"aws\"\n[group]\nmin_size = 1\nmax_size = 2\n[aws]\noperation_timeout = \"10ms\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_controller"))
        .args(["run", "--config", path.to_str().unwrap()])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(
        stderr.trim(),
        "error: aws.operation_timeout: 10ms is outside [50ms, 5m]",
        "{stderr}"
    );
}
