//! The load report: what one instance tells the controller about itself.
//!
//! JSON example (`GET /load` on an instance, or `POST /api/reports` on the controller):
//!
//! ```json
//! {
//!   "instance_id": "i-local-3",
//!   "seq": 42,
//!   "sent_at_ms": 1763790000000,
//!   "started_at_ms": 1763789950000,
//!   "active_window_ms": 10000,
//!   "concurrent_users": 17,
//!   "users_sketch": { "p": 14, "sparse": [[5, 2], [907, 1]] },
//!   "in_flight": 3,
//!   "requests_total": 12345,
//!   "log": { "enqueued": 4000, "shipped": 3980, "queued": 20, "dropped": 0,
//!            "rejected": 0, "retried": 1, "failed": 0 },
//!   "draining": false,
//!   "families": { "hello": 9000, "repeat": 1000, "factorial": 1200, "books": 1145 }
//! }
//! ```
//!
//! Counters are monotonic since `started_at_ms`; the controller turns them into
//! rates over its tick (the change since the report it held at the previous tick).
//! `concurrent_users` is this instance's own count, informative only: the controller
//! counts users from `users_sketch` (per instance, and merged fleet-wide).
//!
//! Pushed reports are signed ([`crate::sign`]); `(started_at_ms, seq)` orders one
//! instance's reports (a newer process start replaces an older one).

use serde::{Deserialize, Serialize};

use crate::sketch::UserSketch;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub instance_id: String,
    /// Increases by one with every report the instance produces.
    pub seq: u64,
    /// Wall-clock time the report was made, Unix milliseconds.
    pub sent_at_ms: u64,
    /// When the instance process started, Unix milliseconds.
    pub started_at_ms: u64,
    /// The window within which a user counts as concurrent.
    pub active_window_ms: u64,
    /// Users seen by this instance within the active window.
    pub concurrent_users: u64,
    /// The same users as a mergeable sketch.
    pub users_sketch: UserSketch,
    /// Requests being served right now.
    pub in_flight: u64,
    /// Requests completed since start.
    pub requests_total: u64,
    pub log: LogCounters,
    /// True once the instance got SIGTERM (readiness is off).
    pub draining: bool,
    /// Requests completed since start per route family (absent in older reports: zeros).
    #[serde(default)]
    pub families: Families,
}

/// Requests per route family, monotonic since start: `/hello`, `/repeat`,
/// `/api/v1/factorial`, `/books` (every method). Counters in a report, rates
/// (requests/s, the same fields as `f64`) in the status API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyCounts<T> {
    #[serde(default)]
    pub hello: T,
    #[serde(default)]
    pub repeat: T,
    #[serde(default)]
    pub factorial: T,
    #[serde(default)]
    pub books: T,
}

/// The report's counters.
pub type Families = FamilyCounts<u64>;
/// Requests/s per family.
pub type FamilyRates = FamilyCounts<f64>;

/// Log shipper counters, monotonic since start (except `queued`, a gauge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCounters {
    /// Events handed to the shipper.
    pub enqueued: u64,
    /// Events accepted by the sink.
    pub shipped: u64,
    /// Events waiting in the queue or in a batch (gauge).
    pub queued: u64,
    /// Events dropped because the queue was full (drop mode only).
    pub dropped: u64,
    /// Events the sink refused (`rejectedLogEventsInfo`, oversize events).
    pub rejected: u64,
    /// Batch sends retried after throttling or a 5xx.
    pub retried: u64,
    /// Of those, retries after an unknown outcome (sent, no answer): the
    /// backend may hold the batch twice, copies recognisable by event id.
    #[serde(default)]
    pub retried_unknown: u64,
    /// Events given up on after the retries ran out.
    pub failed: u64,
}

/// Why a report was refused by the controller.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error("instance_id is empty or longer than 128 bytes")]
    BadInstanceId,
    #[error("in_flight ({0}) is absurd")]
    AbsurdInFlight(u64),
    #[error("concurrent_users ({0}) is absurd")]
    AbsurdUsers(u64),
    #[error("the users sketch is malformed: {0}")]
    BadSketch(String),
    #[error("sent_at_ms is before started_at_ms")]
    TimeTravel,
    #[error("sent_at_ms is {0} ms ahead of the receiver's clock, beyond the allowed skew")]
    Ahead(u64),
}

/// Upper bound for any per-instance gauge; anything above is not a real instance.
pub const ABSURD_GAUGE: u64 = 10_000_000;

impl LoadReport {
    /// Checks the report for values no honest instance sends.
    pub fn validate(&self) -> Result<(), ReportError> {
        if self.instance_id.is_empty() || self.instance_id.len() > 128 {
            return Err(ReportError::BadInstanceId);
        }
        if self.in_flight > ABSURD_GAUGE {
            return Err(ReportError::AbsurdInFlight(self.in_flight));
        }
        if self.concurrent_users > ABSURD_GAUGE {
            return Err(ReportError::AbsurdUsers(self.concurrent_users));
        }
        if self.sent_at_ms < self.started_at_ms {
            return Err(ReportError::TimeTravel);
        }
        self.users_sketch
            .check()
            .map_err(|e| ReportError::BadSketch(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report from an instance built before the families existed still parses (zeros),
    /// and a new one round-trips.
    #[test]
    fn families_default_to_zero_in_older_reports() {
        let old = r#"{"instance_id":"i-1","seq":1,"sent_at_ms":2,"started_at_ms":1,
            "active_window_ms":10000,"concurrent_users":0,"users_sketch":{"p":14,"sparse":[]},
            "in_flight":0,"requests_total":5,"log":{"enqueued":0,"shipped":0,"queued":0,
            "dropped":0,"rejected":0,"retried":0,"failed":0},"draining":false}"#;
        let mut r: LoadReport = serde_json::from_str(old).unwrap();
        assert_eq!(r.families, Families::default());
        r.families.books = 7;
        let back: LoadReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.families.books, 7);
    }
}
