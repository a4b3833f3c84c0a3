//! Pure batching: pending events → PutLogEvents batches. No I/O, no clock.
//!
//! Every batch returned by [`make_batches`] satisfies all PutLogEvents limits:
//! at most [`MAX_BATCH_EVENTS`] events, at most [`MAX_BATCH_BYTES`] bytes counting
//! [`EVENT_OVERHEAD`] per event, events in chronological order, and a span under
//! 24 hours. An event that can never fit ([`MAX_EVENT_BYTES`]) is refused and
//! returned separately so the caller counts it. Every input event ends up in
//! exactly one batch or in the refused list, in timestamp order (ties keep their
//! arrival order).

use super::LogEvent;

/// Most events in one PutLogEvents call.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Most bytes in one call: UTF-8 message bytes plus [`EVENT_OVERHEAD`] per event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Bytes CloudWatch adds to each event when it sizes a batch.
pub const EVENT_OVERHEAD: usize = 26;
/// Largest single event (message plus overhead).
pub const MAX_EVENT_BYTES: usize = MAX_BATCH_BYTES;
/// A batch must span less than this (milliseconds): 24 hours.
pub const MAX_SPAN_MS: i64 = 24 * 3600 * 1000;

/// Events for one PutLogEvents call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub events: Vec<LogEvent>,
    /// Size as CloudWatch counts it.
    pub bytes: usize,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// Size of one event as CloudWatch counts it.
pub fn event_size(event: &LogEvent) -> usize {
    event.message.len() + EVENT_OVERHEAD
}

/// What [`make_batches`] produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batches {
    pub batches: Vec<Batch>,
    /// Events larger than [`MAX_EVENT_BYTES`]; never sent.
    pub refused: Vec<LogEvent>,
}

/// Sorts the events chronologically and cuts them into batches within every limit.
pub fn make_batches(mut events: Vec<LogEvent>) -> Batches {
    // Stable: events with the same timestamp keep their arrival order.
    events.sort_by_key(|e| e.timestamp_ms);
    let mut out = Batches::default();
    let mut current = Batch::default();
    for event in events {
        let size = event_size(&event);
        if size > MAX_EVENT_BYTES {
            out.refused.push(event);
            continue;
        }
        let full = current.events.len() >= MAX_BATCH_EVENTS
            || current.bytes + size > MAX_BATCH_BYTES
            || current
                .events
                .first()
                .is_some_and(|first| event.timestamp_ms - first.timestamp_ms >= MAX_SPAN_MS);
        if full {
            out.batches.push(std::mem::take(&mut current));
        }
        current.bytes += size;
        current.events.push(event);
    }
    if !current.is_empty() {
        out.batches.push(current);
    }
    out
}

/// True once pending events fill at least one whole batch, so waiting for the
/// flush interval would gain nothing.
pub fn should_flush_now(pending_events: usize, pending_bytes: usize) -> bool {
    pending_events >= MAX_BATCH_EVENTS || pending_bytes >= MAX_BATCH_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ev(ts: i64, msg: &str) -> LogEvent {
        LogEvent::new(ts, Arc::<str>::from(msg))
    }

    fn sized(ts: i64, bytes: usize) -> LogEvent {
        ev(ts, &"x".repeat(bytes))
    }

    /// Checks every limit on every batch, and that batches ++ refused is the
    /// sorted input exactly (nothing lost, nothing duplicated).
    fn check_invariants(input: &[LogEvent], out: &Batches) {
        let mut all: Vec<LogEvent> = Vec::new();
        for b in &out.batches {
            assert!(!b.is_empty());
            assert!(b.len() <= MAX_BATCH_EVENTS, "{} events", b.len());
            let bytes: usize = b.events.iter().map(event_size).sum();
            assert_eq!(bytes, b.bytes);
            assert!(b.bytes <= MAX_BATCH_BYTES, "{} bytes", b.bytes);
            assert!(
                b.events
                    .windows(2)
                    .all(|w| w[0].timestamp_ms <= w[1].timestamp_ms)
            );
            let span = b.events.last().unwrap().timestamp_ms - b.events[0].timestamp_ms;
            assert!(span < MAX_SPAN_MS, "span {span}");
            all.extend(b.events.iter().cloned());
        }
        // Batches follow each other in time too.
        for w in out.batches.windows(2) {
            assert!(w[0].events.last().unwrap().timestamp_ms <= w[1].events[0].timestamp_ms);
        }
        let mut expected: Vec<LogEvent> = input.to_vec();
        expected.sort_by_key(|e| e.timestamp_ms);
        expected.retain(|e| event_size(e) <= MAX_EVENT_BYTES);
        assert_eq!(all, expected, "events lost, duplicated or reordered");
        assert_eq!(all.len() + out.refused.len(), input.len());
    }

    #[test]
    fn empty_input_gives_no_batch() {
        assert_eq!(make_batches(vec![]), Batches::default());
    }

    #[test]
    fn count_limit_splits_at_10000() {
        let input: Vec<_> = (0..25_001).map(|i| ev(1_000 + i / 7, "m")).collect();
        let out = make_batches(input.clone());
        let lens: Vec<_> = out.batches.iter().map(Batch::len).collect();
        assert_eq!(lens, vec![10_000, 10_000, 5_001]);
        check_invariants(&input, &out);
    }

    #[test]
    fn byte_limit_counts_26_bytes_per_event() {
        // 1,000 events of 1,000 bytes: 1,026 each as counted → 1,022 fit in 1 MiB.
        let input: Vec<_> = (0..1_000).map(|i| sized(i, 1_000)).collect();
        let out = make_batches(input.clone());
        assert_eq!(out.batches.len(), 1);
        let input: Vec<_> = (0..2_000).map(|i| sized(i, 1_000)).collect();
        let out = make_batches(input.clone());
        assert_eq!(out.batches[0].len(), MAX_BATCH_BYTES / 1_026);
        assert_eq!(out.batches[0].len(), 1_022);
        check_invariants(&input, &out);
        // A batch filled exactly to the byte: two events of half the limit each.
        let half = MAX_BATCH_BYTES / 2 - EVENT_OVERHEAD;
        let input = vec![sized(1, half), sized(2, half), sized(3, 0)];
        let out = make_batches(input.clone());
        assert_eq!(out.batches[0].bytes, MAX_BATCH_BYTES);
        assert_eq!(out.batches.len(), 2);
        check_invariants(&input, &out);
    }

    #[test]
    fn oversize_event_is_refused_and_neighbours_survive() {
        let largest = MAX_EVENT_BYTES - EVENT_OVERHEAD;
        let input = vec![
            sized(1, 10),
            sized(2, largest + 1),
            sized(3, largest),
            sized(4, 10),
        ];
        let out = make_batches(input.clone());
        assert_eq!(out.refused.len(), 1);
        assert_eq!(out.refused[0].timestamp_ms, 2);
        assert_eq!(out.batches.len(), 3, "the largest event fits alone");
        check_invariants(&input, &out);
    }

    #[test]
    fn sorted_chronologically_and_stable() {
        let input = vec![ev(30, "c"), ev(10, "a1"), ev(20, "b"), ev(10, "a2")];
        let out = make_batches(input.clone());
        let msgs: Vec<_> = out.batches[0].events.iter().map(|e| &*e.message).collect();
        assert_eq!(msgs, ["a1", "a2", "b", "c"]);
        check_invariants(&input, &out);
    }

    #[test]
    fn split_at_24_hours() {
        let day = MAX_SPAN_MS;
        let input = vec![
            ev(0, "a"),
            ev(day - 1, "b"),
            ev(day, "c"),
            ev(2 * day + 5, "d"),
        ];
        let out = make_batches(input.clone());
        let msgs: Vec<Vec<&str>> = out
            .batches
            .iter()
            .map(|b| b.events.iter().map(|e| &*e.message).collect())
            .collect();
        assert_eq!(msgs, vec![vec!["a", "b"], vec!["c"], vec!["d"]]);
        check_invariants(&input, &out);
    }

    #[test]
    fn mixed_random_input_keeps_every_event_once() {
        // A deterministic pseudo-random mix of sizes and times across all limits.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let input: Vec<_> = (0..30_000)
            .map(|i| {
                let ts = (next() % (3 * MAX_SPAN_MS as u64)) as i64;
                let len = if i % 5_000 == 0 {
                    300_000
                } else {
                    (next() % 200) as usize
                };
                LogEvent::new(ts, Arc::<str>::from(format!("{i}:{}", "y".repeat(len))))
            })
            .collect();
        let out = make_batches(input.clone());
        check_invariants(&input, &out);
        assert!(out.batches.len() >= 3);
    }

    #[test]
    fn flush_now_thresholds() {
        assert!(!should_flush_now(9_999, 0));
        assert!(should_flush_now(10_000, 0));
        assert!(should_flush_now(1, MAX_BATCH_BYTES));
    }
}
