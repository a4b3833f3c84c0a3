use proto::{Health, Lifecycle};

use super::*;
use crate::aggregate::ReportBook;
use crate::policy::{Action, Policies};
use crate::snapshot::{GroupSnapshot, InstanceInfo};
use crate::synthetic::{report, user_ids};

/// A group of `desired` healthy instances `i-mem-1…`, launched and in service at 0 (what
/// the controller's in-memory fake starts with).
fn group(name: &str, min: u32, max: u32, desired: u32) -> GroupSnapshot {
    GroupSnapshot {
        name: name.into(),
        min_size: min,
        max_size: max,
        desired_capacity: desired,
        instances: (1..=desired).map(|n| instance(n, 0, false)).collect(),
    }
}

fn instance(n: u32, at_ms: u64, pending: bool) -> InstanceInfo {
    InstanceInfo {
        id: format!("i-mem-{n}"),
        zone: if n % 2 == 1 { "mem-a" } else { "mem-b" }.into(),
        lifecycle: if pending {
            Lifecycle::Pending
        } else {
            Lifecycle::InService
        },
        health: Health::Healthy,
        launched_at_ms: at_ms,
        in_service_at_ms: (!pending).then_some(at_ms),
        address: Some(format!("127.0.0.1:{}", 20_000 + n)),
        reason: None,
    }
}

fn reconciler(min: u32, max: u32) -> Reconciler {
    // Scale-in after three 5 s periods (the defaults wait five minutes), so the holds show.
    let policies = Policies::local_default()
        .changed(|p| {
            p.scale_in.alarm.evaluation_periods = 3;
            p.scale_in.alarm.datapoints_to_alarm = Some(3);
        })
        .expect("valid");
    Reconciler::new(
        policies,
        ReconcilerSettings {
            min_size: min,
            max_size: max,
            tick_ms: 5_000,
            stale_after_ms: 3_000,
            per_instance_metrics: false,
            provider: "memory".into(),
            endpoint: None,
        },
    )
}

/// Every instance of `snap` reports `per_instance` distinct users at `now_ms`.
fn book_with(snap: &GroupSnapshot, per_instance: u64, now_ms: u64) -> ReportBook {
    let mut book = ReportBook::new();
    for (k, i) in snap.instances.iter().enumerate() {
        let k = k as u64;
        let ids = user_ids(k * per_instance, (k + 1) * per_instance);
        book.ingest(
            report(
                &i.id,
                now_ms / 1000,
                now_ms,
                ids.iter().map(String::as_str),
                now_ms / 100,
            ),
            now_ms,
        );
    }
    book
}

#[test]
fn over_the_threshold_scales_out_by_the_matched_step() {
    let snap = group("g", 1, 10, 2);
    let mut rec = reconciler(1, 10);
    let now = 1_000_000;
    // 60 users per instance: threshold 50, step [0, 15) → +20 % of 2 = 0.4 → 1 instance.
    let out = rec.step(&snap, &mut book_with(&snap, 60, now), now);
    assert_eq!(
        out.decision.action,
        Action::ScaleOut,
        "{}",
        out.decision.explanation
    );
    assert_eq!(
        (out.decision.capacity_before, out.decision.capacity_after),
        (2, 3)
    );
    assert_eq!(out.metrics.concurrent_users, 120);
    assert_eq!(out.record.tick, 1);
    assert_eq!(out.record.reason, "scaled");
    assert_eq!(out.status.group.desired_capacity, 3);
    assert_eq!(out.status.fleet.concurrent_users_per_instance, Some(60.0));
    assert_eq!(out.status.instances.len(), 2);
    assert_eq!(out.point.desired_capacity, 3);
    assert!(
        out.data
            .iter()
            .any(|d| d.name == "ConcurrentUsers" && d.value == 120.0)
    );
}

#[test]
fn never_past_max_even_far_over_the_threshold() {
    let snap = group("g", 1, 10, 3);
    let mut rec = reconciler(1, 4);
    let out = rec.step(&snap, &mut book_with(&snap, 500, 10_000), 10_000);
    assert_eq!(
        out.decision.capacity_after, 4,
        "{}",
        out.decision.explanation
    );
    assert_eq!(out.status.group.max_size, 4);
}

#[test]
fn no_report_at_all_changes_nothing() {
    let snap = group("g", 1, 10, 3);
    let mut rec = reconciler(1, 10);
    for k in 0..5 {
        let out = rec.step(&snap, &mut ReportBook::new(), 100_000 + k * 5_000);
        assert_eq!(out.decision.action, Action::None);
        assert_eq!(out.decision.capacity_after, 3);
        assert!(
            matches!(out.record.reason.as_str(), "stale_data" | "no_data"),
            "{}",
            out.record.reason
        );
    }
}

#[test]
fn a_scale_in_is_held_while_some_in_service_instance_is_silent() {
    let snap = group("g", 1, 10, 3);
    let mut rec = reconciler(1, 10);
    let mut last = None;
    for k in 0..4u64 {
        let now = 100_000 + k * 5_000;
        let mut book = book_with(&snap, 5, now);
        let mut partial = ReportBook::new();
        for i in &snap.instances[..2] {
            partial.ingest(book.get(&i.id).unwrap().report.clone(), now);
        }
        book = partial;
        last = Some(rec.step(&snap, &mut book, now));
    }
    let out = last.unwrap();
    assert_eq!(
        out.decision.action,
        Action::None,
        "{}",
        out.decision.explanation
    );
    assert_eq!(out.record.reason, "stale_data");
    assert!(
        out.decision.explanation.contains("i-mem-3"),
        "{}",
        out.decision.explanation
    );

    // With every instance reporting, the same low load scales in (once: the next scale-in
    // waits for the drained instance's users to settle).
    let mut rec = reconciler(1, 10);
    let mut outs = vec![];
    for k in 0..4u64 {
        let now = 100_000 + k * 5_000;
        outs.push(rec.step(&snap, &mut book_with(&snap, 5, now), now));
    }
    let first = outs
        .iter()
        .position(|o| o.decision.action == Action::ScaleIn)
        .expect("a scale-in");
    if let Some(next) = outs.get(first + 1) {
        assert_eq!(
            next.record.reason, "settling",
            "{}",
            next.decision.explanation
        );
        assert_eq!(next.decision.action, Action::None);
    }
    let out = &outs[first];
    assert_eq!(
        out.decision.action,
        Action::ScaleIn,
        "{}",
        out.decision.explanation
    );
    assert_eq!(out.decision.capacity_after, 2);
}

#[test]
fn a_scale_in_is_held_while_an_instance_drains_and_for_the_active_window_after() {
    // Low load on 3 in-service instances, plus one draining: its users still reach it
    // over kept-alive connections, so the figures of the others miss them.
    let mut draining = group("g", 1, 10, 4);
    draining.instances[3].lifecycle = Lifecycle::Terminating;
    let mut gone = draining.clone();
    gone.instances[3].lifecycle = Lifecycle::Terminated;
    let mut rec = reconciler(1, 10);
    let mut reasons = vec![];
    for k in 0..7u64 {
        let now = 100_000 + k * 5_000;
        // Draining for the first four ticks, gone after.
        let snap = if k < 4 { &draining } else { &gone };
        let out = rec.step(snap, &mut book_with(snap, 5, now), now);
        reasons.push((out.decision.action, out.record.reason));
        if out.decision.action == Action::ScaleIn {
            break;
        }
    }
    let held = reasons.iter().filter(|(_, r)| r == "settling").count();
    assert!(held >= 1, "{reasons:?}");
    // Last seen draining at tick 3 (t = 115 s): held until the users' active window (10 s)
    // has passed, so the first scale-in is at tick 5 (t = 125 s).
    assert_eq!(
        reasons.last().map(|(a, _)| *a),
        Some(Action::ScaleIn),
        "{reasons:?}"
    );
    assert_eq!(reasons.len(), 6, "{reasons:?}");
}

#[test]
fn warming_and_pending_instances_are_counted_as_such() {
    // Two instances in service, desired raised to 4 at 100 s: two launches pending, one of
    // which has just entered service (so it warms).
    let mut snap = group("g", 1, 10, 2);
    snap.desired_capacity = 4;
    snap.instances.push(instance(3, 100_000, false));
    snap.instances.push(instance(4, 100_000, true));
    let rec = reconciler(1, 10);
    let book = book_with(&snap, 10, 101_000);
    let metrics = crate::aggregate::aggregate(
        &snap,
        &book,
        101_000,
        crate::aggregate::AggregateParams {
            stale_after_ms: 3_000,
            warmup_ms: 10_000,
        },
    );
    let state = rec.fleet_state(&snap, &metrics);
    assert_eq!((state.in_service, state.warming, state.desired), (2, 2, 4));
}

#[test]
fn bounds_intersect_the_controller_and_the_group() {
    let rec = reconciler(2, 8);
    let mut snap = group("g", 1, 5, 1);
    assert_eq!(rec.bounds(&snap), (2, 5));
    snap.max_size = 1;
    assert_eq!(
        rec.bounds(&snap),
        (1, 1),
        "an empty intersection falls back to the group's"
    );
}
