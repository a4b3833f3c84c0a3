use proto::{Health, Lifecycle, LoadReport, LogCounters, UserSketch};

use super::*;
use crate::snapshot::{GroupSnapshot, InstanceInfo};

const PARAMS: AggregateParams = AggregateParams {
    stale_after_ms: 3_000,
    warmup_ms: 60_000,
};

pub(crate) fn instance(
    id: &str,
    lifecycle: Lifecycle,
    in_service_at_ms: Option<u64>,
) -> InstanceInfo {
    InstanceInfo {
        id: id.into(),
        zone: "local-a".into(),
        lifecycle,
        health: Health::Healthy,
        launched_at_ms: 0,
        in_service_at_ms,
        address: None,
        reason: None,
    }
}

fn snapshot(instances: Vec<InstanceInfo>) -> GroupSnapshot {
    GroupSnapshot {
        name: "g".into(),
        min_size: 1,
        max_size: 10,
        desired_capacity: instances.len() as u32,
        instances,
    }
}

fn report(id: &str, seq: u64, sent_at_ms: u64, users: &[String], requests: u64) -> LoadReport {
    let mut sketch = UserSketch::new();
    for u in users {
        sketch.insert(u);
    }
    LoadReport {
        instance_id: id.into(),
        seq,
        sent_at_ms,
        started_at_ms: 0,
        active_window_ms: 10_000,
        concurrent_users: users.len() as u64,
        users_sketch: sketch,
        in_flight: 1,
        requests_total: requests,
        log: LogCounters {
            enqueued: requests * 20,
            ..LogCounters::default()
        },
        draining: false,
        families: Default::default(),
    }
}

fn users(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("user-{i}")).collect()
}

#[test]
fn merged_users_do_not_double_count_users_on_two_instances() {
    // 6,000 users over 4 instances; users 1,000..3,000 reached two instances each.
    let n = 6_000u32;
    let parts = [0..2_000, 1_000..3_500, 3_500..5_000, 4_000..6_000];
    let ids = ["a", "b", "c", "d"];
    let mut book = ReportBook::new();
    let mut insts = vec![];
    for (id, part) in ids.iter().zip(parts) {
        book.ingest(report(id, 1, 100_000, &users(part), 0), 100_000);
        insts.push(instance(id, Lifecycle::InService, Some(0)));
    }
    let m = aggregate(&snapshot(insts), &book, 100_500, PARAMS);
    let err = (m.concurrent_users as f64 - f64::from(n)).abs() / f64::from(n);
    assert!(err <= 0.02, "estimate {} for {n} users", m.concurrent_users);
    let summed: u64 = m.instances.iter().map(|i| i.concurrent_users).sum();
    assert!(
        summed > 7_900,
        "the per-instance sum double-counts: {summed}"
    );
    assert_eq!(m.counted_instances, 4);
    // The metric means capacity: distinct users per counted instance, not the mean of
    // per-instance counts (which would be ~1,975 here and rise with every scale-out).
    let per = m.concurrent_users_per_instance.unwrap();
    assert_eq!(per, m.concurrent_users as f64 / 4.0);
    assert!((per - 1_500.0).abs() <= 30.0, "{per}");
}

#[test]
fn a_user_spread_over_every_instance_counts_once_per_fleet() {
    // 100 users whose requests reach all five instances (a shared connection pool):
    // 20 users per instance of capacity, whatever the number of instances.
    let everyone = users(0..100);
    let mut book = ReportBook::new();
    let mut insts = vec![];
    for id in ["a", "b", "c", "d", "e"] {
        book.ingest(report(id, 1, 100_000, &everyone, 0), 100_000);
        insts.push(instance(id, Lifecycle::InService, Some(0)));
    }
    let m = aggregate(&snapshot(insts), &book, 100_500, PARAMS);
    let per = m.concurrent_users_per_instance.unwrap();
    assert!((19.5..=20.5).contains(&per), "{per}");
    assert!(m.instances.iter().all(|i| i.concurrent_users == 100));
}

#[test]
fn rates_are_taken_over_the_tick_not_from_the_last_report_pair() {
    let mut book = ReportBook::new();
    assert_eq!(
        book.ingest(report("a", 1, 10_000, &[], 100), 10_000),
        Ingested::First
    );
    assert_eq!(book.get("a").unwrap().requests_per_second, None);
    book.roll_tick();
    // First tick: the counter over the process's uptime (started at 0).
    assert_eq!(book.get("a").unwrap().requests_per_second, Some(10.0));
    assert_eq!(
        book.ingest(report("a", 2, 12_000, &[], 160), 12_000),
        Ingested::Update
    );
    assert_eq!(
        book.ingest(report("a", 3, 15_000, &[], 400), 15_000),
        Ingested::Update
    );
    book.roll_tick();
    let e = book.get("a").unwrap();
    // (400 - 100) / 5 s, not the last pair's (400 - 160) / 3 s.
    assert_eq!(e.requests_per_second, Some(60.0));
    assert_eq!(e.log_events_per_second, Some(1_200.0));
    // No new report: the rate stands.
    book.roll_tick();
    assert_eq!(book.get("a").unwrap().requests_per_second, Some(60.0));
}

#[test]
fn route_families_get_rates_over_the_same_span() {
    let with = |seq, at, requests, f: [u64; 4]| {
        let mut r = report("a", seq, at, &[], requests);
        r.families = proto::Families {
            hello: f[0],
            repeat: f[1],
            factorial: f[2],
            books: f[3],
        };
        r
    };
    let mut book = ReportBook::new();
    book.ingest(with(1, 10_000, 100, [60, 20, 10, 10]), 10_000);
    book.roll_tick();
    let f = book.get("a").unwrap().family_rates.unwrap();
    assert_eq!(
        (f.hello, f.repeat, f.factorial, f.books),
        (6.0, 2.0, 1.0, 1.0)
    );
    book.ingest(with(2, 15_000, 400, [60, 20, 110, 210]), 15_000);
    book.roll_tick();
    let f = book.get("a").unwrap().family_rates.unwrap();
    assert_eq!(
        (f.hello, f.repeat, f.factorial, f.books),
        (0.0, 0.0, 20.0, 40.0)
    );
    // Summed into the fleet's figures.
    let snap = snapshot(vec![instance("a", Lifecycle::InService, Some(0))]);
    let m = aggregate(&snap, &book, 15_500, PARAMS);
    assert_eq!(m.family_rates.books, 40.0);
}

/// A steady 333.3 req/s, reports every second with ±250 ms of timer jitter and the counter
/// read up to 150 ms before the report is stamped (the report is built, then stamped), ticks
/// every 5 s: every tick publishes 333 ± 4 %, where the last report pair swings by ±15 %.
#[test]
fn a_steady_rate_is_published_steadily_each_tick() {
    let rate = 1_000.0 / 3.0;
    let mut book = ReportBook::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = |m: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % m
    };
    let (mut seq, mut pair_min, mut pair_max) = (0, f64::MAX, 0.0f64);
    let mut last: Option<(u64, u64)> = None;
    for tick in 1..=24u64 {
        let tick_at = 60_000 + tick * 5_000;
        for k in 0..5u64 {
            let sent = tick_at - 5_000 + k * 1_000 + 500 + next(500) - 250;
            let counted_at = sent - next(150);
            let requests = (counted_at as f64 * rate / 1_000.0) as u64;
            seq += 1;
            let mut r = report("a", seq, sent, &[], 0);
            r.requests_total = requests;
            book.ingest(r, sent);
            if let Some((s0, q0)) = last {
                let pair = (requests - q0) as f64 * 1_000.0 / (sent - s0) as f64;
                pair_min = pair_min.min(pair);
                pair_max = pair_max.max(pair);
            }
            last = Some((sent, requests));
        }
        book.roll_tick();
        let published = book.get("a").unwrap().requests_per_second.unwrap();
        assert!(
            (rate * 0.96..=rate * 1.04).contains(&published),
            "tick {tick}: {published:.1} req/s published for a steady {rate:.1}"
        );
    }
    // The old estimator (last pair) really did swing: the test can tell the two apart.
    assert!(pair_max / pair_min > 1.2, "{pair_min:.0}..{pair_max:.0}");
}

#[test]
fn a_restart_between_ticks_counts_from_the_new_process_start() {
    let mut book = ReportBook::new();
    book.ingest(report("a", 10, 10_000, &[], 1_000), 10_000);
    book.roll_tick();
    let mut r = report("a", 1, 12_000, &[], 40);
    r.started_at_ms = 10_000;
    assert_eq!(book.ingest(r, 12_000), Ingested::Restart);
    book.roll_tick();
    assert_eq!(book.get("a").unwrap().requests_per_second, Some(20.0));
    // The restarted process's next report is an ordinary update despite its low seq.
    let mut r = report("a", 2, 14_000, &[], 60);
    r.started_at_ms = 10_000;
    assert_eq!(book.ingest(r, 14_000), Ingested::Update);
    book.roll_tick();
    assert_eq!(book.get("a").unwrap().requests_per_second, Some(10.0));
}

#[test]
fn old_or_repeated_reports_are_ignored() {
    let mut book = ReportBook::new();
    book.ingest(report("a", 5, 10_000, &[], 100), 10_000);
    assert_eq!(
        book.ingest(report("a", 5, 10_000, &[], 100), 11_000),
        Ingested::Duplicate
    );
    assert_eq!(
        book.ingest(report("a", 4, 9_000, &[], 100), 11_000),
        Ingested::Duplicate
    );
    assert_eq!(book.get("a").unwrap().received_at_ms, 10_000);
}

/// Duplicates are keyed on (process start, seq): a far-ahead `seq` of an older process start
/// (a forger's, or a dead process's late report) is refused and does not silence the live one.
#[test]
fn a_far_ahead_seq_of_an_older_process_does_not_silence_the_live_one() {
    let mut book = ReportBook::new();
    let live = |seq: u64, at: u64| {
        let mut r = report("a", seq, at, &[], seq * 10);
        r.started_at_ms = 5_000;
        r
    };
    assert_eq!(book.ingest(live(1, 10_000), 10_000), Ingested::First);
    let mut forged = report("a", u64::MAX / 2, 10_500, &users(0..1_000), 0);
    forged.started_at_ms = 4_000;
    assert_eq!(book.ingest(forged, 10_500), Ingested::OldProcess);
    assert_eq!(book.ingest(live(2, 11_000), 11_000), Ingested::Update);
    assert_eq!(book.get("a").unwrap().report.seq, 2);
    // A newer process start replaces the old one; the old one's reports are refused after.
    let mut newer = report("a", 1, 12_000, &[], 0);
    newer.started_at_ms = 11_500;
    assert_eq!(book.ingest(newer, 12_000), Ingested::Restart);
    assert_eq!(book.ingest(live(3, 12_500), 12_500), Ingested::OldProcess);
    // The newer process falls silent (it died, or it was one forged report): once its last
    // report is older than SUPERSEDE_AFTER_MS, the live process's reports count again.
    let later = 12_000 + SUPERSEDE_AFTER_MS + 1;
    assert_eq!(book.ingest(live(4, later), later), Ingested::Restart);
    assert_eq!(
        book.ingest(live(5, later + 1_000), later + 1_000),
        Ingested::Update
    );
}

#[test]
fn the_user_count_comes_from_the_sketch_not_the_reported_field() {
    let mut book = ReportBook::new();
    let mut r = report("a", 1, 10_000, &users(0..50), 0);
    r.concurrent_users = 9_000_000;
    book.ingest(r, 10_000);
    let snap = snapshot(vec![instance("a", Lifecycle::InService, Some(0))]);
    let m = aggregate(&snap, &book, 10_500, PARAMS);
    assert_eq!(m.instances[0].concurrent_users, 50);
    assert_eq!(m.concurrent_users, 50);
}

#[test]
fn stale_and_missing_reports_are_excluded_and_flagged() {
    let mut book = ReportBook::new();
    book.ingest(report("fresh", 1, 10_000, &users(0..10), 0), 10_000);
    book.ingest(report("stale", 1, 5_000, &users(10..30), 0), 5_000);
    let snap = snapshot(vec![
        instance("fresh", Lifecycle::InService, Some(0)),
        instance("stale", Lifecycle::InService, Some(0)),
        instance("missing", Lifecycle::InService, Some(0)),
        instance("booting", Lifecycle::Pending, None),
    ]);
    // now = 10,500: "stale" was received 5.5 s ago (> 3 s).
    let m = aggregate(&snap, &book, 10_500, PARAMS);
    assert_eq!(m.concurrent_users, 10);
    assert_eq!(
        m.stale_instances,
        vec!["stale".to_string(), "missing".to_string()]
    );
    assert!(m.has_stale());
    assert_eq!(m.instances[1].report, ReportState::Stale);
    assert_eq!(m.instances[2].report, ReportState::Missing);
    assert_eq!(m.instances[3].report, ReportState::Missing);
    assert_eq!(m.in_service, 3);
}

#[test]
fn warming_draining_and_unhealthy_instances_do_not_count_for_the_average() {
    let mut book = ReportBook::new();
    let mut draining = report("draining", 1, 100_000, &users(100..200), 0);
    draining.draining = true;
    book.ingest(report("old", 1, 100_000, &users(0..40), 0), 100_000);
    book.ingest(report("new", 1, 100_000, &users(40..41), 0), 100_000);
    book.ingest(draining, 100_000);
    book.ingest(report("sick", 1, 100_000, &users(200..201), 0), 100_000);
    let mut sick = instance("sick", Lifecycle::InService, Some(0));
    sick.health = Health::Unhealthy;
    let snap = snapshot(vec![
        instance("old", Lifecycle::InService, Some(0)),
        instance("new", Lifecycle::InService, Some(90_000)),
        instance("draining", Lifecycle::InService, Some(0)),
        sick,
    ]);
    let m = aggregate(&snap, &book, 100_000, PARAMS);
    assert_eq!(m.counted_instances, 1);
    // Only the counted instance's users (40) are divided by the counted instances.
    let per = m.concurrent_users_per_instance.unwrap();
    assert!((39.0..=41.0).contains(&per), "{per}");
    assert!(m.instances[1].warming);
    // Every fresh report still counts for the fleet-wide users (142, HyperLogLog ±2 %).
    assert!(
        (139..=145).contains(&m.concurrent_users),
        "{}",
        m.concurrent_users
    );
}

#[test]
fn no_counted_instance_means_no_per_instance_value() {
    let book = ReportBook::new();
    let snap = snapshot(vec![instance("a", Lifecycle::InService, Some(0))]);
    let m = aggregate(&snap, &book, 100_000, PARAMS);
    assert_eq!(m.concurrent_users_per_instance, None);
    assert_eq!(m.concurrent_users, 0);
}

#[test]
fn retain_known_forgets_instances_that_left_the_group() {
    let mut book = ReportBook::new();
    book.ingest(report("a", 1, 1_000, &[], 0), 1_000);
    book.ingest(report("gone", 1, 1_000, &[], 0), 1_000);
    book.retain_known(&snapshot(vec![instance(
        "a",
        Lifecycle::InService,
        Some(0),
    )]));
    assert_eq!(book.len(), 1);
    assert!(book.get("gone").is_none());
}

#[test]
fn terminated_instances_keep_their_place_but_do_not_count() {
    let mut book = ReportBook::new();
    book.ingest(report("gone", 1, 10_000, &users(0..50), 0), 10_000);
    book.ingest(report("live", 1, 10_000, &users(50..60), 0), 10_000);
    let snap = snapshot(vec![
        instance("gone", Lifecycle::Terminated, Some(0)),
        instance("live", Lifecycle::InService, Some(0)),
    ]);
    let m = aggregate(&snap, &book, 11_000, PARAMS);
    assert_eq!(
        m.instances.len(),
        2,
        "one entry per snapshot instance, in order"
    );
    assert_eq!(m.instances[1].id, "live");
    assert_eq!(m.concurrent_users, 10);
    assert!(m.stale_instances.is_empty());
}
