//! The outcome of one evaluation, as data: what was done and why.

use super::types::{MetricName, StepAdjustment};

/// The vocabulary lives in `proto` (the records carry it); re-exported here for the engine.
pub use proto::{Action, Reason};

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
            action: self.action,
            policy: self.policy.clone(),
            metric: self.metric.as_str().to_string(),
            metric_value: self.metric_value,
            threshold: self.threshold,
            step: self.step_label.clone(),
            capacity_before: self.capacity_before,
            capacity_after: self.capacity_after,
            reason: self.reason,
            explanation: self.explanation.clone(),
            applied: None,
            source: proto::DecisionSource::Controller,
        }
    }
}
