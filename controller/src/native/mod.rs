//! Native mode (`[policies] mode = "native"`): the group carries the TOML policies as AWS
//! step scaling policies, each with a CloudWatch alarm on the metric the controller
//! publishes; AWS decides, the controller publishes the metrics and explains what AWS did.
//!
//! - `plan` (pure): the wanted [`PolicySpec`]s and [`AlarmSpec`]s from the config, and
//!   [`diff`] of wanted against what the group has: the puts and deletes ([`Plan`]).
//! - `validate` (pure): what PutScalingPolicy / PutMetricAlarm would refuse, refused at
//!   config load, naming the field.
//! - `history` (pure): alarm state changes and scaling activities ([`AwsEvent`]) as the
//!   [`proto::DecisionRecord`]s the API and the dashboard show (`source = "aws"`), each once.
//! - `render` (pure): the same policies and alarms as CloudFormation resources (YAML).
//! - `aws`: [`aws::AwsPolicies`], the one adapter calling AWS for all of this.
//! - `driver`: [`driver::NativeDriver`], what the daemon runs at start, on reload and each tick.
//!
//! Ownership: every policy and alarm the controller makes is named
//! `hellofleet-<group>-<policy name>` ([`resource_name`]). It deletes only
//! - policies of ITS group (DescribePolicies is per group) named with [`owned_prefix`];
//! - alarms named with [`owned_prefix`] whose description is [`owner_description`] of its
//!   group (so the alarms of a group `web-2`, which share the prefix `hellofleet-web-`, and
//!   anyone's hand-made `hellofleet-web-…` alarm are never touched). Alarms are also tagged
//!   `hellofleet:group = <group>` for people and IAM.
//!
//! Missing data: both alarms use `TreatMissingData = notBreaching`. For the scale-in (low)
//! alarm that is the safety rule: a controller that stops publishing, or a gap, never
//! removes capacity (`missing` would let the remaining datapoints of a partly empty M-of-N
//! window alarm, `breaching` would scale in on silence). For the scale-out (high) alarm it is
//! the controller engine's own rule (missing datapoints never breach): without figures
//! nothing is added either, and the alarm returns to OK instead of re-invoking the policy
//! on stale state.

pub mod aws;
pub mod driver;
mod history;
mod plan;
pub mod render;
mod validate;

use async_trait::async_trait;

pub use history::{AwsEvent, Seen, event_record};
pub use plan::{
    AlarmSpec, Plan, PolicySpec, Present, PresentAlarm, PresentPolicy, StepSpec, diff, wanted,
};
pub use validate::validate_native;

/// Every name the controller owns starts with this.
pub const NAME_PREFIX: &str = "hellofleet-";
/// The tag key on every alarm the controller makes (value: the group).
pub const GROUP_TAG: &str = "hellofleet:group";

/// `hellofleet-<group>-`.
pub fn owned_prefix(group: &str) -> String {
    format!("{NAME_PREFIX}{group}-")
}

/// `hellofleet-<group>-<policy>`: the policy's and its alarm's name.
pub fn resource_name(group: &str, policy: &str) -> String {
    format!("{}{policy}", owned_prefix(group))
}

/// The description of every alarm the controller owns (checked before deleting one).
pub fn owner_description(group: &str) -> String {
    format!(
        "Managed by the hellofleet controller for group {group} (native mode); changes here are overwritten."
    )
}

/// A failed or refused call to AWS, one line naming the operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NativeError {
    pub operation: &'static str,
    pub message: String,
}

/// What the policies and alarms adapter does (AWS: [`aws::AwsPolicies`]).
#[async_trait]
pub trait PolicyStore: Send + Sync + std::fmt::Debug {
    /// The group's policies and the alarms named with its prefix.
    async fn present(&self) -> Result<Present, NativeError>;
    /// Carries out `plan` in order: policies put, alarms put (acting on the policy ARNs),
    /// alarms deleted, policies deleted. Stops at the first failure.
    async fn apply(&self, plan: &Plan) -> Result<(), NativeError>;
    /// State changes of `alarms` and the group's scaling activities since `since_ms`.
    async fn events(&self, alarms: &[String], since_ms: u64) -> Result<Vec<AwsEvent>, NativeError>;
}

/// The default policies in native mode with 10 s periods (what AWS allows), for the tests
/// that need valid native policies but no particular steps.
#[cfg(test)]
pub(crate) fn default_native_policies() -> fleetcore::policy::Policies {
    fleetcore::policy::Policies::local_default()
        .changed(|p| {
            p.mode = fleetcore::policy::PolicyMode::Native;
            p.scale_out.alarm.period_secs = 10.0;
            p.scale_in.alarm.period_secs = 10.0;
        })
        .expect("the defaults with 10 s periods are valid")
}

/// The policies the native tests map, pinned here rather than taken from the defaults
/// (which are tuned by the simulator's scores and change): 10 s periods, scale-out +20 %
/// / +50 % / +100 % at 0 / 15 / 40 above the threshold, scale-in −1 after 3 of 3 periods at
/// or below 20.
#[cfg(test)]
pub(crate) fn test_policies() -> fleetcore::policy::Policies {
    use fleetcore::policy::StepAdjustment;
    let step = |lower: Option<f64>, upper: Option<f64>, scaling_adjustment: i32| StepAdjustment {
        lower_bound: lower,
        upper_bound: upper,
        scaling_adjustment,
    };
    fleetcore::policy::Policies::local_default()
        .changed(|p| {
            p.scale_out.alarm.period_secs = 10.0;
            p.scale_in.alarm.period_secs = 10.0;
            p.scale_out.steps = vec![
                step(Some(0.0), Some(15.0), 20),
                step(Some(15.0), Some(40.0), 50),
                step(Some(40.0), None, 100),
            ];
            p.scale_in.alarm.threshold = 20.0;
            p.scale_in.alarm.evaluation_periods = 3;
            p.scale_in.alarm.datapoints_to_alarm = Some(3);
            p.scale_in.steps = vec![step(None, Some(0.0), -1)];
        })
        .expect("the test policies are valid")
}
