//! Pure retry policy: which sink errors are worth retrying, and how long to wait.

use std::time::Duration;

use super::sink::SinkError;

/// What to do after a failed send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Transient (throttling, 5xx, network, missing group or stream that the
    /// sink recreates): send the same batch again after a backoff.
    Yes,
    /// The request itself is wrong; sending it again cannot succeed.
    No,
}

/// Classifies a sink error. Pure.
pub fn is_retriable(error: &SinkError) -> Retry {
    match error {
        SinkError::Throttled(_)
        | SinkError::Server { .. }
        | SinkError::Network(_)
        | SinkError::Unknown(_)
        | SinkError::ResourceNotFound(_)
        | SinkError::Io(_) => Retry::Yes,
        SinkError::Invalid(_) | SinkError::Denied(_) => Retry::No,
    }
}

/// Backoff parameters.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// Capped exponential backoff with "equal jitter": for attempt `n` (0-based)
    /// the ceiling is `min(cap, base · 2ⁿ)`, and the delay is half of it plus
    /// `jitter` (in `[0, 1)`) times the other half. Pure: the caller supplies the
    /// random number.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(30));
        let ceiling = self.base.saturating_mul(factor).min(self.cap);
        let half = ceiling / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: SinkError, expected: Retry) {
        assert_eq!(is_retriable(&error), expected, "{error:?}");
    }

    #[test]
    fn classification() {
        check(
            SinkError::Throttled("ThrottlingException".into()),
            Retry::Yes,
        );
        check(
            SinkError::Server {
                status: 503,
                message: "ServiceUnavailable".into(),
            },
            Retry::Yes,
        );
        check(SinkError::Network("connection refused".into()), Retry::Yes);
        check(SinkError::ResourceNotFound("stream".into()), Retry::Yes);
        check(SinkError::Io("disk full".into()), Retry::Yes);
        check(
            SinkError::Invalid("InvalidParameterException".into()),
            Retry::No,
        );
        check(SinkError::Denied("AccessDeniedException".into()), Retry::No);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        };
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(50));
        assert_eq!(b.delay(0, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(100));
        assert_eq!(b.delay(3, 0.5), Duration::from_millis(600));
        assert_eq!(b.delay(10, 1.0), Duration::from_secs(2));
        assert_eq!(b.delay(u32::MAX, 0.0), Duration::from_secs(1));
        // Jitter is clamped, never negative or above the ceiling.
        assert_eq!(b.delay(0, -3.0), Duration::from_millis(50));
        assert_eq!(b.delay(0, 7.0), Duration::from_millis(100));
        for attempt in 0..40 {
            let d = b.delay(attempt, 0.999);
            assert!(
                d <= b.cap && d >= Duration::from_millis(50),
                "{attempt}: {d:?}"
            );
        }
    }
}
