//! Synthetic load reports, for `controller simulate`, benchmarks and tests: what an instance
//! with a given set of users and counters would send.

use proto::{LoadReport, LogCounters, UserSketch};

/// A report from `instance_id` at `sent_at_ms` (process started at 0) whose active users are
/// `users` (ids), with `requests_total` requests and 20 log events per request so far.
pub fn report<'a>(
    instance_id: &str,
    seq: u64,
    sent_at_ms: u64,
    users: impl IntoIterator<Item = &'a str>,
    requests_total: u64,
) -> LoadReport {
    let mut sketch = UserSketch::new();
    let mut n = 0;
    for u in users {
        sketch.insert(u);
        n += 1;
    }
    LoadReport {
        instance_id: instance_id.into(),
        seq,
        sent_at_ms,
        started_at_ms: 0,
        active_window_ms: 10_000,
        concurrent_users: n,
        users_sketch: sketch,
        in_flight: 0,
        requests_total,
        log: LogCounters {
            enqueued: requests_total * 20,
            shipped: requests_total * 20,
            ..LogCounters::default()
        },
        draining: false,
        families: Default::default(),
    }
}

/// User ids `user-{from}` … `user-{to - 1}`.
pub fn user_ids(from: u64, to: u64) -> Vec<String> {
    (from..to).map(|i| format!("user-{i}")).collect()
}
