//! Load shapes as goose test plans. Pure: no I/O, no clock.
//!
//! goose runs a load test as a list of `(users, time)` steps (`"10,0s;10,15s;60,0s;…"`): each
//! step reaches its user count over its time; a step that keeps the count holds it. A ramp is
//! a staircase of instant increases and holds. goose counts whole seconds, and allocates every
//! user the plan will start before the test begins, so a plan's total is bounded.

use std::time::Duration;

/// goose refuses a plan that starts more users than this (its controllers' limit too).
pub const MAX_USERS: u64 = 100_000;
/// How long the last level is held when no `--duration` is given: "until stopped".
pub const HOLD_UNTIL_STOPPED: Duration = Duration::from_secs(7 * 24 * 3600);

/// A load shape: the steps goose runs and the interval of the per-step report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<(u64, Duration)>,
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
        let mut steps = Vec::new();
        let mut users = start.min(max);
        let mut elapsed = Duration::ZERO;
        let end = duration.unwrap_or(Duration::MAX);
        loop {
            steps.push((users, Duration::ZERO));
            let at_max = users >= max;
            let hold = if at_max {
                end.saturating_sub(elapsed).min(HOLD_UNTIL_STOPPED)
            } else {
                every.min(end.saturating_sub(elapsed))
            };
            steps.push((users, hold));
            elapsed += hold;
            if at_max || elapsed >= end {
                break;
            }
            users = (users + step).min(max);
        }
        steps.push((0, Duration::ZERO));
        Plan {
            steps,
            interval: every,
        }
    }

    /// `users` from the start, for `duration` or until stopped.
    pub fn steady(users: u64, duration: Option<Duration>, interval: Duration) -> Plan {
        let hold = duration.unwrap_or(HOLD_UNTIL_STOPPED);
        Plan {
            steps: vec![(users, Duration::ZERO), (users, hold), (0, Duration::ZERO)],
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
        Plan { steps, interval }
    }

    /// The plan in goose's `--test-plan` syntax.
    pub fn to_goose(&self) -> String {
        self.steps
            .iter()
            .map(|(users, time)| format!("{users},{}s", time.as_secs()))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Users goose allocates: the sum of every increase.
    pub fn total_users(&self) -> u64 {
        let mut previous = 0;
        self.steps.iter().fold(0, |total, &(users, _)| {
            let up = users.saturating_sub(previous);
            previous = users;
            total + up
        })
    }

    /// The most users running at once.
    pub fn peak_users(&self) -> u64 {
        self.steps.iter().map(|s| s.0).max().unwrap_or(0)
    }

    /// The users the plan asks for `t` after the start (steps change instantly here; goose
    /// may start a step up to half a second late).
    pub fn users_at(&self, t: Duration) -> u64 {
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
    fn ramp_with_max_and_duration() {
        let p = Plan::ramp(10, 50, s(15), 110, Some(s(60)));
        assert_eq!(
            p.to_goose(),
            "10,0s;10,15s;60,0s;60,15s;110,0s;110,30s;0,0s"
        );
        assert_eq!(p.total_users(), 110);
        assert_eq!(p.peak_users(), 110);
        assert_eq!(p.interval, s(15));
    }

    #[test]
    fn ramp_duration_cuts_a_step_short() {
        let p = Plan::ramp(2, 3, s(10), 100, Some(s(25)));
        assert_eq!(p.to_goose(), "2,0s;2,10s;5,0s;5,10s;8,0s;8,5s;0,0s");
        assert_eq!(p.total_users(), 8);
    }

    #[test]
    fn ramp_until_stopped_holds_the_max() {
        let p = Plan::ramp(10, 10, s(5), 25, None);
        assert_eq!(
            p.to_goose(),
            "10,0s;10,5s;20,0s;20,5s;25,0s;25,604800s;0,0s"
        );
        let p = Plan::ramp(50, 10, s(5), 20, None);
        assert_eq!(
            p.steps[0],
            (20, Duration::ZERO),
            "start above max is clamped"
        );
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
