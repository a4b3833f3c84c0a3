//! What the users observe, shared by every goose user and read by the reporter: per-step
//! request counts, errors, latencies and `X-Instance-Id`s, plus a gauge of running users.
//!
//! The step of a request is the interval its response completed in, counted from the first
//! user's start. Time is passed in (`now`), so this is tested without sleeping.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::histogram::Histogram;

/// One interval's observations.
#[derive(Debug, Clone, Default)]
pub struct StepStats {
    pub requests: u64,
    pub errors: u64,
    pub latency: Histogram,
    pub instances: BTreeSet<String>,
}

#[derive(Debug)]
pub struct Recorder {
    interval: Duration,
    start: OnceLock<Instant>,
    steps: Mutex<BTreeMap<u64, StepStats>>,
    users: Arc<AtomicU64>,
}

/// Held in each goose user's session: counts the user while it exists. goose drops a user's
/// session when the user stops (or its task is dropped), so the gauge is the ground truth of
/// how many users goose runs.
#[derive(Debug)]
pub struct UserGuard {
    users: Arc<AtomicU64>,
}

impl Clone for UserGuard {
    fn clone(&self) -> Self {
        self.users.fetch_add(1, Ordering::Relaxed);
        UserGuard {
            users: self.users.clone(),
        }
    }
}

impl Drop for UserGuard {
    fn drop(&mut self) {
        self.users.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Recorder {
    pub fn new(interval: Duration) -> Arc<Recorder> {
        Arc::new(Recorder {
            interval,
            start: OnceLock::new(),
            steps: Mutex::new(BTreeMap::new()),
            users: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// A user started at `now`; the first one starts the clock.
    pub fn user_started(&self, now: Instant) -> UserGuard {
        self.start.get_or_init(|| now);
        self.users.fetch_add(1, Ordering::Relaxed);
        UserGuard {
            users: self.users.clone(),
        }
    }

    /// Users running now.
    pub fn users(&self) -> u64 {
        self.users.load(Ordering::Relaxed)
    }

    /// When the first user started.
    pub fn started(&self) -> Option<Instant> {
        self.start.get().copied()
    }

    /// The step `at` falls in (`None` before the first user).
    pub fn step_of(&self, at: Instant) -> Option<u64> {
        let start = self.started()?;
        let nanos = at.saturating_duration_since(start).as_nanos();
        Some((nanos / self.interval.as_nanos().max(1)) as u64)
    }

    /// Where step `k` ends.
    pub fn step_end(&self, k: u64) -> Option<Instant> {
        let n = u32::try_from(k + 1).unwrap_or(u32::MAX);
        Some(self.started()? + self.interval * n)
    }

    /// A response completed at `now` after `latency`.
    pub fn record(&self, now: Instant, latency: Duration, ok: bool, instance: Option<&str>) {
        let Some(step) = self.step_of(now) else {
            return;
        };
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
        let s = steps.entry(step).or_default();
        s.requests += 1;
        if !ok {
            s.errors += 1;
        }
        s.latency.record(micros);
        if let Some(id) = instance
            && !s.instances.contains(id)
        {
            s.instances.insert(id.to_string());
        }
    }

    /// Removes and returns every step up to and including `k` merged into one (a late
    /// response recorded into an already taken step is folded into the next take).
    pub fn take_through(&self, k: u64) -> StepStats {
        let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
        let later = steps.split_off(&(k + 1));
        let taken = std::mem::replace(&mut *steps, later);
        drop(steps);
        let mut out = StepStats::default();
        for (_, s) in taken {
            out.requests += s.requests;
            out.errors += s.errors;
            out.latency.merge(&s.latency);
            out.instances.extend(s.instances);
        }
        out
    }

    /// Removes and returns everything not yet taken.
    pub fn take_all(&self) -> StepStats {
        self.take_through(u64::MAX - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_land_in_the_step_they_complete_in() {
        let r = Recorder::new(Duration::from_secs(2));
        let t0 = Instant::now();
        r.record(t0, Duration::from_millis(1), true, Some("i-a"));
        assert_eq!(
            r.take_all().requests,
            0,
            "nothing counts before the first user"
        );
        let g = r.user_started(t0);
        assert_eq!(r.users(), 1);
        r.record(
            t0 + Duration::from_millis(500),
            Duration::from_millis(3),
            true,
            Some("i-a"),
        );
        r.record(
            t0 + Duration::from_millis(1999),
            Duration::from_millis(5),
            false,
            Some("i-b"),
        );
        r.record(
            t0 + Duration::from_millis(2000),
            Duration::from_millis(7),
            true,
            Some("i-c"),
        );
        assert_eq!(r.step_end(0), Some(t0 + Duration::from_secs(2)));
        let s0 = r.take_through(0);
        assert_eq!((s0.requests, s0.errors), (2, 1));
        assert_eq!(s0.instances.iter().collect::<Vec<_>>(), ["i-a", "i-b"]);
        assert_eq!(s0.latency.max(), Some(5_000));
        // A late record into step 0 is folded into the next take.
        r.record(
            t0 + Duration::from_millis(1000),
            Duration::from_millis(1),
            true,
            None,
        );
        let s1 = r.take_through(1);
        assert_eq!(s1.requests, 2);
        drop(g);
        assert_eq!(r.users(), 0);
    }

    #[test]
    fn the_gauge_counts_clones_and_drops() {
        let r = Recorder::new(Duration::from_secs(1));
        let now = Instant::now();
        let a = r.user_started(now);
        let b = a.clone();
        let c = r.user_started(now + Duration::from_secs(5));
        assert_eq!(r.users(), 3);
        assert_eq!(r.started(), Some(now), "the first user starts the clock");
        drop((a, b));
        assert_eq!(r.users(), 1);
        drop(c);
        assert_eq!(r.users(), 0);
    }
}
