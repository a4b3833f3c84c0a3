use std::time::Duration;

use super::*;

const TTL: Duration = Duration::from_secs(30);
const MARGIN: Duration = Duration::from_secs(5);

fn err() -> LeaseError {
    LeaseError {
        operation: "UpdateItem",
        message: "timed out".into(),
    }
}

fn other(until_ms: u64) -> Claim {
    Claim::HeldBy {
        holder: "b".into(),
        until_ms,
    }
}

/// One step of a table: claim at `at` with `answer`, then ask `holds` at `check`.
struct Step {
    at: u64,
    answer: Result<Claim, LeaseError>,
    check: u64,
    holds: bool,
}

fn run(steps: Vec<Step>) {
    let mut lease = Lease::new("a", TTL, MARGIN);
    for (i, s) in steps.into_iter().enumerate() {
        let req = lease.request(s.at);
        assert_eq!(req.expires_at_ms, s.at + 30_000);
        lease.on_claim(req, s.answer);
        assert_eq!(lease.holds(s.check), s.holds, "step {i}: {lease:?}");
    }
}

#[test]
fn a_fresh_lease_is_not_held() {
    assert!(!Lease::new("a", TTL, MARGIN).holds(0));
}

#[test]
fn table() {
    // granted: held until expiry minus the margin, not a moment after
    run(vec![Step {
        at: 1_000,
        answer: Ok(Claim::Granted),
        check: 1_000,
        holds: true,
    }]);
    run(vec![Step {
        at: 1_000,
        answer: Ok(Claim::Granted),
        check: 25_999,
        holds: true,
    }]);
    run(vec![Step {
        at: 1_000,
        answer: Ok(Claim::Granted),
        check: 26_000,
        holds: false,
    }]);
    // held by another: not ours
    run(vec![Step {
        at: 1_000,
        answer: Ok(other(9_000)),
        check: 1_000,
        holds: false,
    }]);
    // renewals extend it
    run(vec![
        Step {
            at: 0,
            answer: Ok(Claim::Granted),
            check: 0,
            holds: true,
        },
        Step {
            at: 20_000,
            answer: Ok(Claim::Granted),
            check: 44_000,
            holds: true,
        },
    ]);
    // a failed renewal keeps the previous expiry, and no more
    run(vec![
        Step {
            at: 0,
            answer: Ok(Claim::Granted),
            check: 0,
            holds: true,
        },
        Step {
            at: 10_000,
            answer: Err(err()),
            check: 24_000,
            holds: true,
        },
        Step {
            at: 20_000,
            answer: Err(err()),
            check: 25_000,
            holds: false,
        },
    ]);
    // a failed claim never grants
    run(vec![Step {
        at: 0,
        answer: Err(err()),
        check: 0,
        holds: false,
    }]);
    // lost to another holder (ours expired, they took it): not held any more at once
    run(vec![
        Step {
            at: 0,
            answer: Ok(Claim::Granted),
            check: 0,
            holds: true,
        },
        Step {
            at: 10_000,
            answer: Ok(other(60_000)),
            check: 10_000,
            holds: false,
        },
    ]);
    // standby takes over once the other's record is free
    run(vec![
        Step {
            at: 0,
            answer: Ok(other(30_000)),
            check: 0,
            holds: false,
        },
        Step {
            at: 31_000,
            answer: Ok(Claim::Granted),
            check: 31_000,
            holds: true,
        },
    ]);
}

#[test]
fn a_late_answer_never_shortens_the_lease() {
    let mut lease = Lease::new("a", TTL, MARGIN);
    let early = lease.request(0);
    let late = lease.request(10_000);
    lease.on_claim(late, Ok(Claim::Granted));
    lease.on_claim(early, Ok(Claim::Granted));
    assert!(lease.holds(30_000), "{lease:?}");
}

#[test]
fn release_ends_it() {
    let mut lease = Lease::new("a", TTL, MARGIN);
    lease.on_claim(lease.request(0), Ok(Claim::Granted));
    lease.on_release();
    assert!(!lease.holds(1));
}

#[test]
fn status_names_the_leader() {
    let mut lease = Lease::new("a", TTL, MARGIN);
    let s = lease.status(0, "t/k".into());
    assert!(!s.leads);
    assert_eq!(s.leader, None);
    lease.on_claim(lease.request(0), Ok(other(9_000)));
    let s = lease.status(0, "t/k".into());
    assert_eq!(
        (s.leads, s.leader.as_deref(), s.until_ms),
        (false, Some("b"), Some(9_000))
    );
    lease.on_claim(lease.request(10_000), Ok(Claim::Granted));
    let s = lease.status(10_000, "t/k".into());
    assert_eq!(
        (s.leads, s.leader.as_deref(), s.until_ms),
        (true, Some("a"), Some(40_000))
    );
    assert_eq!(s.holder, "a");
    lease.on_claim(lease.request(11_000), Err(err()));
    let s = lease.status(11_000, "t/k".into());
    assert!(s.leads && s.last_error.as_deref().unwrap().contains("timed out"));
}

#[test]
fn holders_differ_per_process_start() {
    assert_ne!(default_holder(), default_holder());
}
