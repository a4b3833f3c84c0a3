//! The real `loadgen` binary against the real service (in-process, free port).

use crate::common;

use std::time::Duration;

use common::*;

/// `command` split at spaces (none of its words holds one), then `more` as they are
/// (paths and URLs): one loadgen command line.
fn args<'a>(command: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    command
        .split_whitespace()
        .chain(more.iter().copied())
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn two_step_ramp_writes_ground_truth_users_capacity_and_reports() {
    let svc = TestService::start("i-ramp");
    let ctl = FakeController::start(3, 2);
    let dir = out_dir("ramp");
    let csv = dir.join("timeline.csv");
    let out = run(
        &args(
            "ramp --start-users 2 --step-users 3 --step-every 2s --duration 4s --think-time 100ms",
            &[
                "-H",
                &svc.url,
                "--out-dir",
                dir.to_str().unwrap(),
                "--csv",
                csv.to_str().unwrap(),
                "--controller",
                &ctl.url,
            ],
        ),
        Duration::from_secs(30),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );

    let rows = read_csv(&csv);
    assert!(rows.len() >= 2, "{rows:?}");
    let users: Vec<&str> = rows.iter().map(|r| r["users"].as_str()).collect();
    assert_eq!(
        users[..2],
        ["2", "5"],
        "one row per step, ground truth users\n{stdout}"
    );
    assert!(users.iter().all(|u| ["2", "5"].contains(u)), "{users:?}");
    for r in &rows[..2] {
        assert!(r["requests"].parse::<u64>().unwrap() > 0, "{r:?}");
        assert_eq!(r["errors"], "0", "{r:?}");
        assert_eq!(r["instances_seen"], "1", "{r:?}");
        assert_eq!(r["desired_capacity"], "3", "{r:?}");
        assert_eq!(r["in_service"], "2", "{r:?}");
        assert!(!r["p99_ms"].is_empty(), "{r:?}");
    }
    // One line per step on stdout.
    let steps: Vec<&str> = stdout.lines().filter(|l| l.starts_with("t=")).collect();
    assert!(steps.len() >= 2, "{stdout}");
    assert!(
        steps[0].contains("users=2") && steps[0].contains("instances=1"),
        "{}",
        steps[0]
    );
    assert!(
        steps[1].contains("users=5") && steps[1].contains("desired=3"),
        "{}",
        steps[1]
    );

    for f in ["report.html", "report.json", "chart.svg", "chart.png"] {
        let p = dir.join(f);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 100, "{} missing or empty", p.display());
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert!(json.is_object(), "goose's JSON report");

    // Each user kept its session (the uid cookie): the service counts exactly 5 users.
    assert_eq!(
        svc.load_report().concurrent_users,
        5,
        "one uid per goose user"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failing_slo_exits_non_zero_and_a_down_controller_is_only_a_warning() {
    let svc = TestService::start("i-slo");
    let dir = out_dir("slo");
    let refused = testkit::RefusedPort::new();
    let dead = format!("http://{}", refused.addr());
    let out = run(
        &args(
            "steady -u 2 --duration 2s --interval 1s --think-time 50ms --slo errors<1%,p99<1us",
            &[
                "-H",
                &svc.url,
                "--out-dir",
                dir.to_str().unwrap(),
                "--controller",
                &dead,
            ],
        ),
        Duration::from_secs(30),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(3),
        "SLO failed → 3\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("slo: PASS errors<1%"), "{stdout}");
    assert!(stdout.contains("slo: FAIL p99<1us"), "{stdout}");
    assert!(stderr.contains("cannot reach the controller"), "{stderr}");
    let rows = read_csv(&dir.join("timeline.csv"));
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r["desired_capacity"].is_empty()),
        "{rows:?}"
    );

    // The same run with an SLO it meets exits 0.
    let out = run(
        &args(
            "steady -u 1 --duration 1s --interval 1s --think-time 50ms --slo errors<1%,p99<5s",
            &["-H", &svc.url, "--out-dir", dir.to_str().unwrap()],
        ),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();

    // A target that is down: every request fails, which exits 4 even without an SLO,
    // after writing every report.
    // An error-rate SLO would fail too: 4 comes first, as nothing was measured.
    for slo in ["", " --slo errors<1%"] {
        let dir = out_dir("all-failed");
        let command = format!("steady -u 1 --duration 1s --interval 1s --think-time 50ms{slo}");
        let out = run(
            &args(&command, &["-H", &dead, "--out-dir", dir.to_str().unwrap()]),
            Duration::from_secs(30),
        );
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(4),
            "{command}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(stderr.contains("requests failed"), "{stderr}");
        assert!(dir.join("timeline.csv").is_file(), "{stdout}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn sigterm_ends_a_ramp_cleanly_with_every_report() {
    signal_ends_a_ramp_cleanly("TERM");
}

#[test]
fn sigint_ends_a_ramp_cleanly_with_every_report() {
    signal_ends_a_ramp_cleanly("INT");
}

fn signal_ends_a_ramp_cleanly(signal: &str) {
    let svc = TestService::start("i-signal");
    let dir = out_dir(&format!("sig{signal}"));
    let mut running = start(&args(
        "ramp --start-users 1 --step-users 1 --step-every 1s --max-users 20 --think-time 50ms",
        &["-H", &svc.url, "--out-dir", dir.to_str().unwrap()],
    ));
    // Wait for the second step line: the ramp runs until stopped.
    let mut lines = running.stdout_lines();
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|l: &&String| l.starts_with("t="))
        .count()
        < 2
    {
        match lines.next() {
            Some(Ok(l)) => seen.push(l),
            _ => panic!("loadgen stopped early: {seen:?}"),
        }
    }
    running.signal(signal);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = wait(running, Duration::from_secs(20));
    assert!(
        out.status.success(),
        "{:?}\n{}",
        out.status,
        text(&out.stderr)
    );
    assert!(rest.iter().any(|l| l.starts_with("total:")), "{rest:?}");
    for f in [
        "timeline.csv",
        "report.html",
        "report.json",
        "chart.svg",
        "chart.png",
    ] {
        assert!(dir.join(f).exists(), "{f} written after SIG{signal}");
    }
    let rows = read_csv(&dir.join("timeline.csv"));
    assert!(rows.len() >= 2, "{rows:?}");
    assert_eq!(rows[0]["users"], "1");
    assert_eq!(rows[1]["users"], "2");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A ramp with no --max-users keeps adding users until stopped: past 1,000 (the old ceiling,
/// when goose built every user first) here, each step's users built when it is due.
#[test]
fn a_ramp_without_max_users_grows_past_a_thousand_until_stopped() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    // Each user holds a connection, in loadgen and in the service (this process).
    let need = 4096;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard >= need,
        "this test needs {need} open files (ulimit -Hn is {hard}): raise the hard limit"
    );
    if soft < need {
        setrlimit(Resource::RLIMIT_NOFILE, need, hard).unwrap();
    }
    let svc = TestService::start("i-grow");
    let dir = out_dir("grow");
    let mut running = start(&args(
        "ramp --start-users 600 --step-users 600 --step-every 1s --think-time 2s",
        &["-H", &svc.url, "--out-dir", dir.to_str().unwrap()],
    ));
    let mut lines = running.stdout_lines();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut steps = Vec::new();
    while !steps.iter().any(|l: &String| l.contains("users=1800 ")) {
        assert!(std::time::Instant::now() < deadline, "{steps:?}");
        match lines.next() {
            Some(Ok(l)) if l.starts_with("t=") => steps.push(l),
            Some(Ok(_)) => {}
            _ => panic!("loadgen stopped early: {steps:?}"),
        }
    }
    running.signal("TERM");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = wait(running, Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        steps[..3]
            .iter()
            .zip(["users=600 ", "users=1200 ", "users=1800 "])
            .all(|(l, u)| l.contains(u)),
        "{steps:?}"
    );
    let total = rest
        .iter()
        .find(|l| l.starts_with("total:"))
        .expect("total");
    assert!(total.contains("errors=0 "), "{total}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_arguments_give_clear_errors() {
    for (line, needle) in [
        (
            "ramp -H http://127.0.0.1:1 --start-users 1 --step-users 1 --step-every 1500ms",
            "--step-every",
        ),
        (
            "ramp -H http://127.0.0.1:1 --start-users 1 --step-users 1",
            "--step-every",
        ),
        (
            "ramp --start-users 1 --step-users 1 --step-every 1s",
            "--host",
        ),
        ("steady -H localhost:8000 -u 1", "--host"),
        (
            "steady -H http://127.0.0.1:1 -u 1 --slo p99<200",
            "needs a unit",
        ),
        (
            "steady -H http://127.0.0.1:1 -u 1 --slo latency<2ms",
            "unknown metric",
        ),
        (
            "spike -H http://127.0.0.1:1 --base-users 5 --spike-users 2",
            "--spike-users",
        ),
        ("swarm", "swarm"),
    ] {
        let args = args(line, &[]);
        let out = run(&args, Duration::from_secs(10));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
