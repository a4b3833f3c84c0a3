//! The outcome of one evaluation, as data: what was done and why.

use serde::{Deserialize, Serialize};

use super::types::{MetricName, StepAdjustment};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ScaleOut,
    ScaleIn,
    None,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ScaleOut => "scale_out",
            Action::ScaleIn => "scale_in",
            Action::None => "none",
        }
    }
}

/// Why the decision came out as it did (machine-readable; `as_str` is the wire form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A policy's alarm fired and the capacity changes.
    Scaled,
    /// Desired capacity was outside `[min, max]` and is brought back in.
    OutOfBounds,
    /// Neither alarm breaches.
    WithinBand,
    /// Some datapoints breach, but fewer than `datapoints_to_alarm`.
    NotEnoughDatapoints,
    /// Scale-out: the warming instances already cover the step. Scale-in: waits for warmup.
    WarmingUp,
    /// Scale-out wanted, the group is at its max.
    AtMax,
    /// Scale-in wanted, the group is at its min.
    AtMin,
    /// The matched step's adjustment is zero.
    ZeroAdjustment,
    /// The step's target is not beyond the desired capacity already requested.
    AlreadyAtTarget,
    /// The value breaches but no step covers it (cannot happen with validated policies).
    NoStep,
    /// This tick's figures are stale.
    StaleData,
    /// Scale-in held while users of draining instances move to the others (their figures
    /// are incomplete until the users' active window has passed).
    Settling,
    /// This tick has no figure for the policies' metric.
    NoData,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Scaled => "scaled",
            Reason::OutOfBounds => "out_of_bounds",
            Reason::WithinBand => "within_band",
            Reason::NotEnoughDatapoints => "not_enough_datapoints",
            Reason::WarmingUp => "warming_up",
            Reason::AtMax => "at_max",
            Reason::AtMin => "at_min",
            Reason::ZeroAdjustment => "zero_adjustment",
            Reason::AlreadyAtTarget => "already_at_target",
            Reason::NoStep => "no_step",
            Reason::StaleData => "stale_data",
            Reason::Settling => "settling",
            Reason::NoData => "no_data",
        }
    }
}

/// One evaluation of the policies.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub action: Action,
    pub reason: Reason,
    /// The policy that acted or was closest to acting.
    pub policy: Option<String>,
    pub metric: MetricName,
    /// The newest datapoint of that policy's alarm.
    pub metric_value: Option<f64>,
    pub threshold: Option<f64>,
    /// The step that matched, and its label (`[+10, +20) → +10 %`).
    pub step: Option<StepAdjustment>,
    pub step_label: Option<String>,
    /// Instances the step adds (> 0) or removes (< 0) from the current capacity, after
    /// rounding and `min_adjustment_magnitude`, before warmup and min/max.
    pub adjustment: Option<i64>,
    /// Desired capacity before and after.
    pub capacity_before: u32,
    pub capacity_after: u32,
    /// One human sentence.
    pub explanation: String,
}

impl Decision {
    /// Whether the provider has to change the desired capacity.
    pub fn changes_capacity(&self) -> bool {
        self.action != Action::None && self.capacity_after != self.capacity_before
    }

    /// The wire form for the JSON API (`applied` is left for the caller to fill).
    pub fn to_record(&self, tick: u64, at_ms: u64) -> proto::DecisionRecord {
        proto::DecisionRecord {
            at_ms,
            tick,
            action: self.action.as_str().to_string(),
            policy: self.policy.clone(),
            metric: self.metric.as_str().to_string(),
            metric_value: self.metric_value,
            threshold: self.threshold,
            step: self.step_label.clone(),
            capacity_before: self.capacity_before,
            capacity_after: self.capacity_after,
            reason: self.reason.as_str().to_string(),
            explanation: self.explanation.clone(),
            applied: None,
            source: proto::SOURCE_CONTROLLER.into(),
        }
    }
}
