//! Wire types shared across hellofleet. No I/O lives here.
//!
//! - [`decision`]: the decision vocabulary (action, reason, source), as enums.
//! - [`report`]: the load report an instance sends to the controller.
//! - [`sign`]: HMAC-SHA256 signatures of pushed reports (sign / verify, pure).
//! - [`sketch`]: a mergeable HyperLogLog of active user ids, so the fleet-wide
//!   user count does not double-count a user that reached two instances.
//! - [`status`]: the controller's JSON API (`/api/status`, `/api/decisions`,
//!   `/api/metrics`), read by the dashboard, loadgen and scripts.

pub mod decision;
pub mod file;
pub mod report;
pub mod sign;
pub mod sketch;
pub mod status;

pub use decision::{Action, DecisionSource, Reason, ReasonCode, ReasonError};
pub use report::{Families, FamilyCounts, FamilyRates, LoadReport, LogCounters};
pub use sketch::UserSketch;
pub use status::{
    CallError, ControllerHealth, DecisionRecord, FleetTotals, GroupStatus, Health, InstanceStatus,
    LeaseStatus, Lifecycle, MetricPoint, PolicySummary, Status,
};

/// Header carried by every service response.
pub const INSTANCE_ID_HEADER: &str = "x-instance-id";
/// Header a client may send instead of the `uid` cookie.
pub const USER_ID_HEADER: &str = "x-user-id";
/// Cookie the service issues to identify a user.
pub const USER_COOKIE: &str = "uid";
/// Path on the service that returns its [`LoadReport`] (GET).
pub const LOAD_REPORT_PATH: &str = "/load";
/// Path on the controller that accepts a pushed [`LoadReport`] (POST).
pub const REPORT_INGEST_PATH: &str = "/api/reports";
