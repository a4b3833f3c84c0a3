//! How long a client connection lives, so load moves to new instances: like
//! Envoy's `max_connection_duration` and nginx's `keepalive_time` /
//! `keepalive_requests`. Pure: time comes in as an argument.
//!
//! Once a connection is older than its age (the configured age, jittered per
//! connection so connections opened together do not all close together) or
//! has carried `max_requests`, its *next response* carries
//! `Connection: close` and hyper closes the connection after writing it. An
//! idle connection is never closed for its age (only by the head timeout,
//! as before), so no request is cut: the client learns from a complete
//! response that it must reconnect, and its next connection goes through the
//! balancer again. A client that had already pipelined another request behind
//! the closing one sees that connection close without an answer; HTTP/1.1
//! clients retry such requests on a new connection (RFC 9112 §9.3.1), and
//! pipelining is rare (browsers and the common libraries do not pipeline).
//!
//! Cost on the request path: the age is checked on the connection's existing
//! tick (`drive.rs`), which sets a flag; each response reads that flag and
//! compares the request count: one atomic load and a compare.

use std::time::Duration;

use tokio::time::Instant;

/// The limits, as configured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnLimits {
    /// Base age; `None` = unlimited.
    pub max_age: Option<Duration>,
    /// Each connection's age is `max_age × (1 ± jitter)`, uniformly; 0..=0.5.
    pub jitter: f64,
    /// Responses per connection, the last carrying `Connection: close`; 0 = unlimited.
    pub max_requests: u64,
}

impl ConnLimits {
    pub const UNLIMITED: ConnLimits = ConnLimits {
        max_age: None,
        jitter: 0.0,
        max_requests: 0,
    };

    /// One connection's age, for `unit` uniform in `[0, 1)` (its random draw).
    pub fn age_for(&self, unit: f64) -> Option<Duration> {
        let base = self.max_age?;
        let factor = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Some(base.mul_f64(factor.max(0.0)))
    }

    /// Whether the response to the connection's `nth` request (1-based) is its last.
    pub fn last_by_count(&self, nth: u64) -> bool {
        self.max_requests != 0 && nth >= self.max_requests
    }
}

/// Whether a connection opened at `born` with this `age` is past it at `now`.
pub fn past_age(born: Instant, age: Option<Duration>, now: Instant) -> bool {
    age.is_some_and(|age| now.saturating_duration_since(born) >= age)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn limits(age: Option<Duration>, jitter: f64, max_requests: u64) -> ConnLimits {
        ConnLimits {
            max_age: age,
            jitter,
            max_requests,
        }
    }

    #[test]
    fn ages_are_jittered_within_the_band() {
        let l = limits(Some(30 * S), 0.2, 0);
        assert_eq!(l.age_for(0.0), Some(24 * S));
        assert_eq!(l.age_for(0.5), Some(30 * S));
        let top = l.age_for(0.999_999).unwrap();
        assert!(top < 36 * S && top > 35 * S, "{top:?}");
        // Out-of-range draws are clamped, never negative.
        assert_eq!(l.age_for(-3.0), Some(24 * S));
        assert_eq!(limits(Some(30 * S), 0.0, 0).age_for(0.9), Some(30 * S));
        assert_eq!(ConnLimits::UNLIMITED.age_for(0.3), None);
    }

    #[test]
    fn the_age_is_reached_exactly_at_the_deadline() {
        let t0 = Instant::now();
        assert!(!past_age(t0, Some(30 * S), t0 + 29 * S));
        assert!(past_age(t0, Some(30 * S), t0 + 30 * S));
        assert!(!past_age(t0, None, t0 + 100_000 * S));
        // A clock that went "backwards" (now before born) is young.
        assert!(!past_age(t0 + S, Some(S / 2), t0));
    }

    #[test]
    fn the_nth_response_is_the_last_one() {
        let l = limits(None, 0.0, 3);
        assert!(!l.last_by_count(1));
        assert!(!l.last_by_count(2));
        assert!(l.last_by_count(3));
        assert!(l.last_by_count(4));
        assert!(!limits(None, 0.0, 0).last_by_count(u64::MAX));
        assert!(limits(None, 0.0, 1).last_by_count(1));
    }
}
