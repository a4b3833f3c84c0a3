//! [`ReplayGuard`]: the signatures seen within the clock-skew window, so a captured signed
//! report sent again is refused. Pure: the time is an argument.
//!
//! A signature older than the window is refused as stale before it gets here, so each MAC
//! needs remembering only until its time + the window. Bounded: past `cap` entries the oldest
//! are forgotten (a report replayed after that is still a duplicate of the book's
//! (process start, seq) and moves nothing).

use std::collections::{HashMap, VecDeque};

use proto::sign::{MAC_BYTES, Verified};

type Mac = [u8; MAC_BYTES];

#[derive(Debug)]
pub struct ReplayGuard {
    window_ms: u64,
    cap: usize,
    /// MAC → when it may be forgotten (its time + the window).
    seen: HashMap<Mac, u64>,
    /// Insertion order, for expiry.
    order: VecDeque<(Mac, u64)>,
}

impl ReplayGuard {
    pub fn new(window_ms: u64, cap: usize) -> Self {
        Self {
            window_ms,
            cap: cap.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// True the first time `v` is seen at `now_ms`; false for a replay.
    pub fn first_sight(&mut self, v: &Verified, now_ms: u64) -> bool {
        while let Some(&(mac, forget_at)) = self.order.front() {
            if forget_at >= now_ms && self.order.len() < self.cap {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&mac);
        }
        if self.seen.contains_key(&v.mac) {
            return false;
        }
        let forget_at = v.t_ms.saturating_add(self.window_ms);
        self.seen.insert(v.mac, forget_at);
        self.order.push_back((v.mac, forget_at));
        true
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: u8, t_ms: u64) -> Verified {
        Verified {
            t_ms,
            mac: [n; MAC_BYTES],
        }
    }

    #[test]
    fn a_signature_is_accepted_once_within_the_window() {
        let mut g = ReplayGuard::new(30_000, 100);
        assert!(g.first_sight(&v(1, 1_000), 1_000));
        assert!(!g.first_sight(&v(1, 1_000), 2_000));
        assert!(!g.first_sight(&v(1, 1_000), 31_000));
        assert!(g.first_sight(&v(2, 1_000), 2_000));
    }

    #[test]
    fn entries_are_forgotten_after_the_window_and_bounded_by_cap() {
        let mut g = ReplayGuard::new(30_000, 100);
        for n in 0..10 {
            assert!(g.first_sight(&v(n, 1_000), 1_000));
        }
        assert_eq!(g.len(), 10);
        assert!(g.first_sight(&v(50, 40_000), 40_000));
        assert_eq!(g.len(), 1, "the window has passed for the first ten");
        let mut small = ReplayGuard::new(30_000, 3);
        for n in 0..10 {
            assert!(small.first_sight(&v(n, 1_000), 1_000));
            assert!(small.len() <= 3);
        }
    }
}
