//! Pure rules for a crashed instance and for instance data directories. No I/O.
//!
//! - [`after_crash`]: as on EC2, where a process manager restarts a crashed
//!   service on the same host, a process that exits by itself is restarted in
//!   place (same id, port and data dir, so its log spool is shipped by the next
//!   process); one that keeps crashing ([`RestartPolicy`]: 3 exits within 60 s)
//!   is replaced.
//! - [`Slots`]: each instance gets a data directory `instances/slot-N`, like a
//!   volume. A slot freed by a terminated instance (scale-in, replacement, or a
//!   previous run of `up`) is given to the next launch, which ships whatever
//!   the old process left in the slot's spool; a new slot is made only when
//!   none is free. So a replaced instance's unshipped events are shipped by
//!   its replacement (under the replacement's stream; their ids still name
//!   the instance that answered them).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// When a crashing instance is replaced instead of restarted in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// This many exits within `window` (the last one included) → replace.
    pub max_crashes: usize,
    pub window: Duration,
    /// Pause before a restart in place.
    pub delay: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            max_crashes: 3,
            window: Duration::from_secs(60),
            delay: Duration::from_millis(200),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCrash {
    RestartInPlace,
    Replace,
}

/// Records a crash at `now` in `crashes` (forgetting those outside the
/// window) and decides.
pub fn after_crash(crashes: &mut Vec<Instant>, now: Instant, policy: &RestartPolicy) -> AfterCrash {
    crashes.retain(|t| now.saturating_duration_since(*t) < policy.window);
    crashes.push(now);
    if crashes.len() >= policy.max_crashes {
        AfterCrash::Replace
    } else {
        AfterCrash::RestartInPlace
    }
}

/// Data directory slots: which are free, which number comes next.
#[derive(Debug, Default)]
pub struct Slots {
    free: BTreeSet<u64>,
    next: u64,
}

/// `slot-N` → N.
pub fn parse_slot(name: &str) -> Option<u64> {
    let n = name.strip_prefix("slot-")?;
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
}

pub fn slot_name(n: u64) -> String {
    format!("slot-{n}")
}

impl Slots {
    /// Slots found on disk (left by an earlier run) are free.
    pub fn new(existing: impl IntoIterator<Item = u64>) -> Slots {
        let free: BTreeSet<u64> = existing.into_iter().collect();
        let next = free.last().map_or(1, |n| n + 1);
        Slots { free, next }
    }

    /// The lowest free slot, else a new one.
    pub fn take(&mut self) -> u64 {
        self.free.pop_first().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }

    /// The slot's process has exited: another instance may use it.
    pub fn give_back(&mut self, n: u64) {
        if n < self.next {
            self.free.insert(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_crashes_restart_the_third_within_a_minute_replaces() {
        let p = RestartPolicy::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut c = Vec::new();
        assert_eq!(after_crash(&mut c, t0, &p), AfterCrash::RestartInPlace);
        assert_eq!(
            after_crash(&mut c, t0 + s(30), &p),
            AfterCrash::RestartInPlace
        );
        assert_eq!(after_crash(&mut c, t0 + s(59), &p), AfterCrash::Replace);
    }

    #[test]
    fn crashes_older_than_the_window_are_forgotten() {
        let p = RestartPolicy::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut c = Vec::new();
        after_crash(&mut c, t0, &p);
        after_crash(&mut c, t0 + s(50), &p);
        // The first is 61 s old: two in the window.
        assert_eq!(
            after_crash(&mut c, t0 + s(61), &p),
            AfterCrash::RestartInPlace
        );
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn slots_are_reused_lowest_first_and_new_ones_follow_the_highest() {
        let mut s = Slots::new([3, 1]);
        assert_eq!(s.take(), 1);
        assert_eq!(s.take(), 3);
        assert_eq!(s.take(), 4);
        s.give_back(3);
        assert_eq!(s.take(), 3);
        assert_eq!(s.take(), 5);
        s.give_back(99); // never handed out: ignored
        assert_eq!(s.take(), 6);
        let mut fresh = Slots::new([]);
        assert_eq!((fresh.take(), fresh.take()), (1, 2));
    }

    #[test]
    fn slot_names() {
        assert_eq!(parse_slot(&slot_name(12)), Some(12));
        for bad in ["slot-", "slot-x", "i-local-1", "slot-1.tmp"] {
            assert_eq!(parse_slot(bad), None, "{bad}");
        }
    }
}
