//! Load shapes. Pure: no I/O, no clock.
//!
//! Steady and spike run as goose test plans, a list of `(users, time)` steps
//! (`"10,0s;10,15s;0,0s"`): each step reaches its user count over its time; a step that keeps
//! the count holds it. goose counts whole seconds, and builds every user a plan will start
//! before the test begins (each with a copy of the plan). A ramp is a staircase of instant
//! increases and holds ([`Ramp`]): as a plan it would cost users × steps, so it runs as
//! `--users START` grown step by step as the ramp says ([`crate::grow`]).

use std::time::Duration;

/// The most users a run starts (goose's controllers' limit; a ramp's ceiling when it has no
/// `--max-users`).
pub const MAX_USERS: u64 = 100_000;

/// A staircase: `start` users, `step` more every `every`, up to `max`; ended after
/// `duration` if given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ramp {
    pub start: u64,
    pub step: u64,
    pub every: Duration,
    pub max: u64,
    pub duration: Option<Duration>,
}

impl Ramp {
    /// Users at level `k` (from `k × every` on).
    pub fn users_at_level(&self, k: u64) -> u64 {
        self.start
            .saturating_add(self.step.saturating_mul(k))
            .min(self.max)
    }
}
/// How long the last level is held when no `--duration` is given: "until stopped".
pub const HOLD_UNTIL_STOPPED: Duration = Duration::from_secs(7 * 24 * 3600);

/// A load shape: the steps goose runs and the interval of the per-step report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// goose's test plan; empty for a ramp.
    pub steps: Vec<(u64, Duration)>,
    /// The ramp, grown through goose's controller.
    pub ramp: Option<Ramp>,
    /// One report line per interval.
    pub interval: Duration,
}

impl Plan {
    /// A staircase: `start` users, then `step` more every `every`, up to `max`; it ends after
    /// `duration`, or holds `max` until stopped.
    pub fn ramp(
        start: u64,
        step: u64,
        every: Duration,
        max: u64,
        duration: Option<Duration>,
    ) -> Plan {
        Plan {
            steps: Vec::new(),
            ramp: Some(Ramp {
                start: start.min(max),
                step,
                every,
                max,
                duration,
            }),
            interval: every,
        }
    }

    /// `users` from the start, for `duration` or until stopped.
    pub fn steady(users: u64, duration: Option<Duration>, interval: Duration) -> Plan {
        let hold = duration.unwrap_or(HOLD_UNTIL_STOPPED);
        Plan {
            steps: vec![(users, Duration::ZERO), (users, hold), (0, Duration::ZERO)],
            ramp: None,
            interval,
        }
    }

    /// `base` users; at `at` jump to `peak` for `length`; back to `base` for the rest of
    /// `duration` (or until stopped).
    pub fn spike(
        base: u64,
        peak: u64,
        at: Duration,
        length: Duration,
        duration: Option<Duration>,
        interval: Duration,
    ) -> Plan {
        let rest = match duration {
            Some(d) => d.saturating_sub(at + length),
            None => HOLD_UNTIL_STOPPED,
        };
        let mut steps = vec![
            (base, Duration::ZERO),
            (base, at),
            (peak, Duration::ZERO),
            (peak, length),
        ];
        if !rest.is_zero() {
            steps.push((base, Duration::ZERO));
            steps.push((base, rest));
        }
        steps.push((0, Duration::ZERO));
        Plan {
            steps,
            ramp: None,
            interval,
        }
    }

    /// The plan in goose's `--test-plan` syntax.
    pub fn to_goose(&self) -> String {
        self.steps
            .iter()
            .map(|(users, time)| format!("{users},{}s", time.as_secs()))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Users goose builds in all: the sum of every increase (a ramp's ceiling at most).
    pub fn total_users(&self) -> u64 {
        if let Some(r) = self.ramp {
            return r.max;
        }
        let mut previous = 0;
        self.steps.iter().fold(0, |total, &(users, _)| {
            let up = users.saturating_sub(previous);
            previous = users;
            total + up
        })
    }

    /// The most users running at once.
    pub fn peak_users(&self) -> u64 {
        if let Some(r) = self.ramp {
            return r.max;
        }
        self.steps.iter().map(|s| s.0).max().unwrap_or(0)
    }

    /// The users the plan asks for `t` after the start (steps change instantly here; goose
    /// may start a step up to half a second late).
    pub fn users_at(&self, t: Duration) -> u64 {
        if let Some(r) = self.ramp {
            if r.duration.is_some_and(|d| t >= d) {
                return 0;
            }
            let k = t.as_nanos() / r.every.as_nanos().max(1);
            return r.users_at_level(u64::try_from(k).unwrap_or(u64::MAX));
        }
        let mut elapsed = Duration::ZERO;
        let mut users = 0;
        for &(u, time) in &self.steps {
            if time.is_zero() {
                if elapsed <= t {
                    users = u;
                }
                continue;
            }
            if t < elapsed {
                break;
            }
            users = u;
            elapsed += time;
        }
        users
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn ramp_levels_stop_at_the_ceiling() {
        let p = Plan::ramp(10, 50, s(15), 110, Some(s(60)));
        assert!(p.steps.is_empty(), "a ramp is no goose test plan");
        assert_eq!(p.total_users(), 110);
        assert_eq!(p.peak_users(), 110);
        assert_eq!(p.interval, s(15));
        let r = p.ramp.unwrap();
        let levels: Vec<u64> = (0..4).map(|k| r.users_at_level(k)).collect();
        assert_eq!(levels, [10, 60, 110, 110]);
        let p = Plan::ramp(50, 10, s(5), 20, None);
        assert_eq!(p.ramp.unwrap().start, 20, "start above max is clamped");
        let p = Plan::ramp(1, u64::MAX, s(1), MAX_USERS, None);
        assert_eq!(p.ramp.unwrap().users_at_level(u64::MAX), MAX_USERS);
    }

    #[test]
    fn users_at_follows_the_staircase() {
        let p = Plan::ramp(2, 3, s(10), 100, Some(s(25)));
        for (t, want) in [(0, 2), (9, 2), (10, 5), (19, 5), (20, 8), (24, 8)] {
            assert_eq!(p.users_at(s(t)), want, "t={t}");
        }
        assert_eq!(p.users_at(s(25)), 0);
    }

    #[test]
    fn steady_and_spike() {
        let p = Plan::steady(40, Some(s(30)), s(5));
        assert_eq!(p.to_goose(), "40,0s;40,30s;0,0s");
        let p = Plan::spike(10, 100, s(20), s(10), Some(s(60)), s(5));
        assert_eq!(
            p.to_goose(),
            "10,0s;10,20s;100,0s;100,10s;10,0s;10,30s;0,0s"
        );
        assert_eq!(p.total_users(), 100);
        assert_eq!(p.users_at(s(25)), 100);
        assert_eq!(p.users_at(s(45)), 10);
        let p = Plan::spike(10, 100, s(20), s(10), Some(s(30)), s(5));
        assert_eq!(
            p.to_goose(),
            "10,0s;10,20s;100,0s;100,10s;0,0s",
            "no rest after the spike"
        );
    }
}
