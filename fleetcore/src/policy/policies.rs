//! The validated policies: [`StepPolicy`] and [`Policies`] have private fields, read
//! through accessors, and are built only by [`Policies::new`] (`validate.rs`) from their
//! raw form (`raw.rs`), so everything the engine holds passed validation and stays so: a
//! changed policy is a new one ([`Policies::changed`] validates it again; `with_mode`,
//! `with_warmup_ms` and `with_alarm_periods` make only changes validation cannot refuse).

use serde::Serialize;

use super::lookahead::Lookahead;
use super::raw::{RawPolicies, RawStepPolicy};
use super::types::{
    AdjustmentType, Alarm, Comparison, MetricName, PolicyMode, Statistic, StepAdjustment, step,
};

/// A validated step scaling policy: an alarm and what to do when it is in ALARM. Built only
/// by [`Policies::new`] (from a [`RawStepPolicy`]), so it always holds at least one step,
/// and its steps cover the breaching side of the threshold without gaps or overlaps; the
/// fields are read through accessors and never change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepPolicy {
    name: String,
    alarm: Alarm,
    adjustment_type: AdjustmentType,
    steps: Vec<StepAdjustment>,
    min_adjustment_magnitude: Option<u32>,
    estimated_instance_warmup_secs: f64,
}

impl StepPolicy {
    /// Only for [`super::validate`], once `raw` has passed its checks.
    pub(super) fn from_checked(raw: RawStepPolicy) -> StepPolicy {
        StepPolicy {
            name: raw.name,
            alarm: raw.alarm,
            adjustment_type: raw.adjustment_type,
            steps: raw.steps,
            min_adjustment_magnitude: raw.min_adjustment_magnitude,
            estimated_instance_warmup_secs: raw.estimated_instance_warmup_secs,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn alarm(&self) -> &Alarm {
        &self.alarm
    }

    pub fn adjustment_type(&self) -> AdjustmentType {
        self.adjustment_type
    }

    /// The steps in the order given (never empty).
    pub fn steps(&self) -> &[StepAdjustment] {
        &self.steps
    }

    /// Only with `PercentChangeInCapacity`: change capacity by at least this many instances.
    pub fn min_adjustment_magnitude(&self) -> Option<u32> {
        self.min_adjustment_magnitude
    }

    /// How long a new instance is "warming" after it enters service.
    pub fn estimated_instance_warmup_secs(&self) -> f64 {
        self.estimated_instance_warmup_secs
    }

    /// The step for `value`. Every value that breaches the alarm falls in exactly one step
    /// (validation refuses gaps and overlaps, the steps reach the threshold, and the
    /// open-ended step takes ±∞). A value on the other side of the threshold (or NaN) has
    /// none, and that case is real: an alarm in ALARM on M of N datapoints (M < N) can have
    /// a newest datapoint that does not breach; the engine then decides `no_step`.
    pub fn step_for(&self, value: f64) -> Option<&StepAdjustment> {
        let above = self.alarm.comparison.is_greater();
        self.steps
            .iter()
            .find(|s| s.matches(value, self.alarm.threshold, above))
    }

    /// The raw form back (to build a changed policy with [`Policies::new`]).
    pub fn to_raw(&self) -> RawStepPolicy {
        RawStepPolicy {
            name: self.name.clone(),
            alarm: self.alarm.clone(),
            adjustment_type: self.adjustment_type,
            steps: self.steps.clone(),
            min_adjustment_magnitude: self.min_adjustment_magnitude,
            estimated_instance_warmup_secs: self.estimated_instance_warmup_secs,
        }
    }
}

/// The two policies of a group, as the engine runs them: valid by construction, built only
/// by [`Policies::new`] from their raw form (which the controller's config reads from
/// `[policies]`). Serialises as that raw form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policies {
    mode: PolicyMode,
    scale_out: StepPolicy,
    scale_in: StepPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    lookahead: Option<Lookahead>,
}

impl Policies {
    /// Only for [`super::validate`], once both policies and how they relate are checked.
    pub(super) fn from_checked(
        mode: PolicyMode,
        scale_out: StepPolicy,
        scale_in: StepPolicy,
        lookahead: Option<Lookahead>,
    ) -> Policies {
        Policies {
            mode,
            scale_out,
            scale_in,
            lookahead,
        }
    }

    pub fn mode(&self) -> PolicyMode {
        self.mode
    }

    pub fn scale_out(&self) -> &StepPolicy {
        &self.scale_out
    }

    pub fn scale_in(&self) -> &StepPolicy {
        &self.scale_in
    }

    /// `[policies.lookahead]`: the optional trend projection for scale-out (off when absent).
    pub fn lookahead(&self) -> Option<&Lookahead> {
        self.lookahead.as_ref()
    }

    /// These policies with `change` made to their raw form, validated again (the way to a
    /// modified policy: a validated one never changes).
    pub fn changed(
        &self,
        change: impl FnOnce(&mut RawPolicies),
    ) -> Result<Policies, super::PolicyError> {
        let mut raw = self.to_raw();
        change(&mut raw);
        Policies::new(raw)
    }

    /// The raw form back: change it and build again with [`Policies::new`].
    pub fn to_raw(&self) -> RawPolicies {
        RawPolicies {
            mode: self.mode,
            scale_out: self.scale_out.to_raw(),
            scale_in: self.scale_in.to_raw(),
            lookahead: self.lookahead,
        }
    }

    /// The same policies run by `mode` (validation does not depend on it).
    pub fn with_mode(&self, mode: PolicyMode) -> Policies {
        Policies {
            mode,
            ..self.clone()
        }
    }

    /// The same policies with both estimated instance warmups set to `warmup_ms` (the
    /// simulator's `--warmup`). Cannot fail: any whole number of ms is a valid warmup.
    pub fn with_warmup_ms(&self, warmup_ms: u64) -> Policies {
        let secs = warmup_ms as f64 / 1000.0;
        let mut p = self.clone();
        p.scale_out.estimated_instance_warmup_secs = secs;
        p.scale_in.estimated_instance_warmup_secs = secs;
        p
    }

    /// The same policies with the scale-out and scale-in alarms' periods set to `out_ms` and
    /// `in_ms` (at least 1 ms) and both statistics to `statistic` (the native simulation's
    /// AWS periods). Cannot fail: a period of at least 1 ms and any statistic are valid, and
    /// nothing the steps depend on (threshold, comparison) changes.
    pub fn with_alarm_periods(&self, out_ms: u64, in_ms: u64, statistic: Statistic) -> Policies {
        let mut p = self.clone();
        for (a, ms) in [
            (&mut p.scale_out.alarm, out_ms),
            (&mut p.scale_in.alarm, in_ms),
        ] {
            a.period_secs = ms.max(1) as f64 / 1000.0;
            a.statistic = statistic;
        }
        p
    }

    /// The instance warmup (the scale-out policy's; AWS applies it to instances it launched).
    pub fn warmup_ms(&self) -> u64 {
        (self.scale_out.estimated_instance_warmup_secs.max(0.0) * 1000.0).round() as u64
    }

    /// The policies `controller up` uses on one machine (tick 5 s): scale out when
    /// `ConcurrentUsersPerInstance >= 50` by +20 % / +50 % / +100 % / +200 % / +400 % /
    /// +700 % of the fleet (at least one instance) as the metric passes 50 / 60 / 75 / 100 /
    /// 150 / 250, scale in by one when it has stayed `<= 20` for five minutes (60 periods);
    /// warmup 10 s.
    ///
    /// Percent steps rather than +1/+2: a per-instance metric at `v` needs `v / 50` times the
    /// instances, whatever the fleet size; each step adds what the top of its range needs
    /// (60 → +20 %, 75 → +50 %, 100 → +100 %, 150 → +200 %, 250 → +400 %), so one step
    /// covers a breach anywhere in it, and a spike of 10× finds its capacity in one boot.
    /// Five minutes below 20 before a scale-in is Kubernetes HPA's default scale-down
    /// stabilisation (AWS target tracking waits 15): a shorter window removed capacity in
    /// the dips of a sawtooth just before the next climb needed it (`controller simulate
    /// --trace sawtooth --compare hpa`). The thresholds are far enough apart that no step
    /// lands the fleet across the other one (no oscillation under constant load).
    pub fn local_default() -> Policies {
        let raw = RawPolicies {
            mode: PolicyMode::Controller,
            scale_out: RawStepPolicy {
                name: "scale-out".into(),
                alarm: Alarm {
                    metric: MetricName::ConcurrentUsersPerInstance,
                    statistic: Statistic::Average,
                    threshold: 50.0,
                    comparison: Comparison::GreaterThanOrEqualToThreshold,
                    period_secs: 5.0,
                    evaluation_periods: 1,
                    datapoints_to_alarm: Some(1),
                },
                adjustment_type: AdjustmentType::PercentChangeInCapacity,
                steps: vec![
                    step(Some(0.0), Some(10.0), 20),
                    step(Some(10.0), Some(25.0), 50),
                    step(Some(25.0), Some(50.0), 100),
                    step(Some(50.0), Some(100.0), 200),
                    step(Some(100.0), Some(200.0), 400),
                    step(Some(200.0), None, 700),
                ],
                min_adjustment_magnitude: Some(1),
                estimated_instance_warmup_secs: 10.0,
            },
            scale_in: RawStepPolicy {
                name: "scale-in".into(),
                alarm: Alarm {
                    metric: MetricName::ConcurrentUsersPerInstance,
                    statistic: Statistic::Average,
                    threshold: 20.0,
                    comparison: Comparison::LessThanOrEqualToThreshold,
                    period_secs: 5.0,
                    evaluation_periods: 60,
                    datapoints_to_alarm: Some(60),
                },
                adjustment_type: AdjustmentType::ChangeInCapacity,
                steps: vec![step(None, Some(0.0), -1)],
                min_adjustment_magnitude: None,
                estimated_instance_warmup_secs: 10.0,
            },
            lookahead: None,
        };
        // Constant input: the policy tests (`validation_names_the_field`) pin that it is valid.
        Policies::new(raw).expect("the local default policies are valid")
    }
}
