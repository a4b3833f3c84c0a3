//! The controller's JSON API, as read by the dashboard, loadgen and scripts.
//!
//! - `GET /api/status` → [`Status`]
//! - `GET /api/decisions` → `Vec<DecisionRecord>` (oldest first)
//! - `GET /api/metrics?since=<unix ms>` → `Vec<MetricPoint>` (oldest first)

use serde::{Deserialize, Serialize};

use crate::decision::{Action, DecisionSource, Reason};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// `local` or `aws`.
    pub provider: String,
    /// Ticks completed since the controller started.
    pub tick: u64,
    /// When this status was computed, Unix milliseconds.
    pub updated_at_ms: u64,
    pub group: GroupStatus,
    pub instances: Vec<InstanceStatus>,
    pub fleet: FleetTotals,
    pub policy: PolicySummary,
    /// URL of the fleet's entry point (the NLB or the local balancer), if known.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The controller's own health: ticks on time, calls succeeding, warnings.
    #[serde(default)]
    pub health: ControllerHealth,
}

/// Is the controller's tick loop on time, and are its calls to the provider and the
/// metrics sink succeeding?
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ControllerHealth {
    /// When the last tick ended (whether or not its calls succeeded), Unix ms; 0: none yet.
    pub last_tick_at_ms: u64,
    /// How old that tick was when this status was read, ms.
    pub last_tick_age_ms: u64,
    /// Consecutive ticks, up to the last one, in which a call failed (0: the last was clean).
    pub failing_ticks: u64,
    /// The most recent failed call, kept after recovery.
    pub last_error: Option<CallError>,
    /// Configuration that does not match the group (e.g. a max above the group's MaxSize).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The controller lease, when one is configured: does this controller lead?
    #[serde(default)]
    pub lease: Option<LeaseStatus>,
}

/// The controller lease as this controller sees it (two controllers may overlap while one
/// replaces the other; only the leader changes the group).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LeaseStatus {
    /// Where the lease lives, e.g. `dynamodb:hellofleet-lease/hellofleet-fleet`.
    pub location: String,
    /// This controller's holder id.
    pub holder: String,
    /// This controller holds the lease now: it applies changes and publishes metrics.
    pub leads: bool,
    /// Who leads, as of this controller's last claim (itself when `leads`).
    pub leader: Option<String>,
    /// Until when the leader holds it, Unix ms, as far as this controller knows.
    pub until_ms: Option<u64>,
    /// The last claim's error, if the last claim failed.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// One failed call of the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallError {
    /// Unix ms.
    pub at_ms: u64,
    /// The tick it failed in.
    pub tick: u64,
    /// `DescribeAutoScalingGroups`, `SetDesiredCapacity`, `PutMetricData`…
    pub operation: String,
    /// One line: the error and its causes.
    pub message: String,
}

impl ControllerHealth {
    /// The last tick is late when it is older than this many tick intervals.
    pub const LATE_AFTER_TICKS: u64 = 3;

    /// Whether the tick loop is behind: no tick, or the last one older than
    /// [`Self::LATE_AFTER_TICKS`] ticks of `tick_ms`.
    pub fn is_late(&self, tick_ms: u64) -> bool {
        self.last_tick_at_ms == 0 || self.last_tick_age_ms > Self::LATE_AFTER_TICKS * tick_ms
    }

    /// Why the calls fail, in one line, while the last tick had a failed call.
    pub fn failing(&self) -> Option<String> {
        match (&self.last_error, self.failing_ticks) {
            (Some(e), n) if n > 0 => Some(format!(
                "{} failing for {n} tick{}: {}",
                e.operation,
                if n == 1 { "" } else { "s" },
                e.message
            )),
            _ => None,
        }
    }

    /// Why the ticks are late, in one line, while they are.
    pub fn late(&self, tick_ms: u64) -> Option<String> {
        self.is_late(tick_ms).then(|| {
            if self.last_tick_at_ms == 0 {
                "no tick has completed yet".to_string()
            } else {
                format!(
                    "the last tick ended {} ms ago (ticks every {tick_ms} ms)",
                    self.last_tick_age_ms
                )
            }
        })
    }

    /// What is wrong now, in one line, or `None` when the ticks are on time and the last
    /// one's calls succeeded.
    pub fn problem(&self, tick_ms: u64) -> Option<String> {
        match (self.late(tick_ms), self.failing()) {
            (None, None) => None,
            (Some(l), None) => Some(l),
            (None, Some(f)) => Some(f),
            (Some(l), Some(f)) => Some(format!("{l}; {f}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupStatus {
    pub name: String,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: u32,
    pub in_service: u32,
    pub pending: u32,
    pub draining: u32,
}

/// An instance's lifecycle, named as EC2 Auto Scaling names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lifecycle {
    Pending,
    #[serde(rename = "Pending:Wait")]
    PendingWait,
    InService,
    Terminating,
    #[serde(rename = "Terminating:Wait")]
    TerminatingWait,
    Terminated,
    /// Any other state AWS reports (Standby, Detaching, warm pool states…).
    Other,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Pending => "Pending",
            Lifecycle::PendingWait => "Pending:Wait",
            Lifecycle::InService => "InService",
            Lifecycle::Terminating => "Terminating",
            Lifecycle::TerminatingWait => "Terminating:Wait",
            Lifecycle::Terminated => "Terminated",
            Lifecycle::Other => "Other",
        }
    }

    pub fn is_pending(self) -> bool {
        matches!(self, Lifecycle::Pending | Lifecycle::PendingWait)
    }

    pub fn is_draining(self) -> bool {
        matches!(self, Lifecycle::Terminating | Lifecycle::TerminatingWait)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Health {
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub id: String,
    pub zone: String,
    pub lifecycle_state: Lifecycle,
    pub health: Health,
    /// True while the instance is inside its warmup period.
    pub warming: bool,
    pub concurrent_users: u64,
    pub requests_per_second: f64,
    pub log_events_per_second: f64,
    pub in_flight: u64,
    /// When the instance was launched, Unix milliseconds.
    pub launched_at_ms: u64,
    /// `host:port` the instance serves on, if known.
    #[serde(default)]
    pub address: Option<String>,
    /// Why the instance is not serving, when the provider knows (e.g. its last
    /// non-200 `/readyz` answer, `"/readyz 503: books database … not found"`);
    /// absent when it is fine. Text from the instance: untrusted, one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct FleetTotals {
    /// Distinct users fleet-wide (merged sketches).
    pub concurrent_users: u64,
    /// Distinct users across the counted instances (in service, healthy, not warming,
    /// fresh report) divided by their number; `None` when there are none.
    pub concurrent_users_per_instance: Option<f64>,
    pub requests_per_second: f64,
    pub log_events_per_second: f64,
    /// Log events dropped, rejected or failed fleet-wide since the instances started.
    pub log_events_lost: u64,
    /// Requests/s per route family (hello, repeat, factorial, books), fleet-wide.
    #[serde(default)]
    pub requests_per_second_by_family: crate::report::FamilyRates,
}

/// What the dashboard needs to draw the thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicySummary {
    pub metric: String,
    pub scale_out_threshold: f64,
    pub scale_in_threshold: f64,
    pub tick_ms: u64,
    /// Who runs the step policies (`[policies] mode`): `controller`, or `native` / `stack`
    /// (AWS's own step policies and alarms). Absent in older JSON: `controller`.
    #[serde(default = "controller_mode")]
    pub mode: String,
}

fn controller_mode() -> String {
    "controller".into()
}

/// One policy evaluation, as data. The vocabulary ([`Action`], [`Reason`],
/// [`DecisionSource`]) is in [`crate::decision`], serialised as snake_case strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub at_ms: u64,
    pub tick: u64,
    pub action: Action,
    /// The policy that acted or was closest to acting.
    pub policy: Option<String>,
    pub metric: String,
    pub metric_value: Option<f64>,
    pub threshold: Option<f64>,
    /// The matched step, e.g. `[0, 20) → +1 ChangeInCapacity`.
    pub step: Option<String>,
    pub capacity_before: u32,
    pub capacity_after: u32,
    /// Short machine-readable reason: `scaled`, `within_band`, `warming_up`,
    /// `at_max`, `at_min`, `stale_data`, `no_data`, `provider_error`…
    pub reason: Reason,
    /// One human sentence explaining the decision.
    pub explanation: String,
    /// Whether applying the change to the provider succeeded (None: nothing to apply).
    #[serde(default)]
    pub applied: Option<bool>,
    /// Who decided: the controller's own policy engine or AWS (native mode). Absent in
    /// older JSON: the controller.
    #[serde(default)]
    pub source: DecisionSource,
}

/// One sample of the fleet, for charts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    pub at_ms: u64,
    pub concurrent_users: u64,
    pub concurrent_users_per_instance: Option<f64>,
    pub desired_capacity: u32,
    pub in_service: u32,
    pub requests_per_second: f64,
    pub log_events_per_second: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(age: u64, failing: u64) -> ControllerHealth {
        ControllerHealth {
            last_tick_at_ms: 10_000,
            last_tick_age_ms: age,
            failing_ticks: failing,
            last_error: Some(CallError {
                at_ms: 9_000,
                tick: 7,
                operation: "DescribeAutoScalingGroups".into(),
                message: "timed out".into(),
            }),
            warnings: vec![],
            lease: None,
        }
    }

    #[test]
    fn late_after_three_ticks_and_failing_only_while_calls_fail() {
        assert_eq!(
            health(3_000, 0).problem(1_000),
            None,
            "3 ticks old is on time"
        );
        assert_eq!(
            health(3_001, 0).problem(1_000).as_deref(),
            Some("the last tick ended 3001 ms ago (ticks every 1000 ms)")
        );
        assert_eq!(
            health(500, 2).problem(1_000).as_deref(),
            Some("DescribeAutoScalingGroups failing for 2 ticks: timed out")
        );
        let never = ControllerHealth::default();
        assert!(never.is_late(1_000));
        assert_eq!(
            never.problem(1_000).as_deref(),
            Some("no tick has completed yet")
        );
    }

    #[test]
    fn a_decision_without_source_is_the_controllers_and_aws_ones_round_trip() {
        let old = r#"{"at_ms":1,"tick":2,"action":"none","policy":null,"metric":"ConcurrentUsers",
            "metric_value":null,"threshold":null,"step":null,"capacity_before":1,
            "capacity_after":1,"reason":"no_data","explanation":"x"}"#;
        let d: DecisionRecord = serde_json::from_str(old).unwrap();
        assert_eq!(d.source, DecisionSource::Controller);
        let aws = DecisionRecord {
            source: DecisionSource::Aws,
            ..d
        };
        let back: DecisionRecord =
            serde_json::from_str(&serde_json::to_string(&aws).unwrap()).unwrap();
        assert_eq!(back.source, "aws");
    }

    #[test]
    fn an_instance_reason_is_absent_when_fine_and_old_json_parses() {
        let old = r#"{"id":"i-1","zone":"a","lifecycle_state":"InService","health":"Healthy",
            "warming":false,"concurrent_users":0,"requests_per_second":0.0,
            "log_events_per_second":0.0,"in_flight":0,"launched_at_ms":1}"#;
        let i: InstanceStatus = serde_json::from_str(old).unwrap();
        assert_eq!((i.reason.as_deref(), i.address.as_deref()), (None, None));
        assert!(!serde_json::to_string(&i).unwrap().contains("reason"));
        let why = InstanceStatus {
            reason: Some("/readyz 503: books database unavailable".into()),
            ..i
        };
        let json = serde_json::to_string(&why).unwrap();
        assert!(
            json.contains(r#""reason":"/readyz 503: books database unavailable""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<InstanceStatus>(&json).unwrap(), why);
    }

    #[test]
    fn the_policy_mode_defaults_to_controller_in_older_json() {
        let old = r#"{"metric":"ConcurrentUsersPerInstance","scale_out_threshold":50.0,
            "scale_in_threshold":20.0,"tick_ms":1000}"#;
        let p: PolicySummary = serde_json::from_str(old).unwrap();
        assert_eq!(p.mode, "controller");
        let native = PolicySummary {
            mode: "native".into(),
            ..p
        };
        let json = serde_json::to_string(&native).unwrap();
        assert_eq!(
            serde_json::from_str::<PolicySummary>(&json).unwrap(),
            native
        );
    }
}
