//! The policy vocabulary (AWS's names): adjustment types, comparisons, statistics, metric
//! names, [`Alarm`] and [`StepAdjustment`] (plain values: a validated
//! [`super::StepPolicy`] holds only checked ones and hands out shared references), the mode,
//! and the fleet as the engine sees it.

use serde::{Deserialize, Serialize};

/// How a step's `scaling_adjustment` is read (AWS names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdjustmentType {
    /// Add the number to the current capacity.
    ChangeInCapacity,
    /// Set the capacity to the number.
    ExactCapacity,
    /// Add that percentage of the current capacity (AWS rounding).
    PercentChangeInCapacity,
}

/// The alarm's comparison (AWS names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    /// Whether `value` breaches `threshold`.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::GreaterThanThreshold => value > threshold,
            Comparison::LessThanThreshold => value < threshold,
            Comparison::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// True for the two "greater" comparisons (a scale-out alarm).
    pub fn is_greater(self) -> bool {
        matches!(
            self,
            Comparison::GreaterThanOrEqualToThreshold | Comparison::GreaterThanThreshold
        )
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => ">=",
            Comparison::GreaterThanThreshold => ">",
            Comparison::LessThanThreshold => "<",
            Comparison::LessThanOrEqualToThreshold => "<=",
        }
    }
}

/// How a period's samples become one datapoint (CloudWatch names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Statistic {
    #[default]
    Average,
    Minimum,
    Maximum,
    Sum,
    SampleCount,
}

/// The fleet metrics a policy can watch (the names published to CloudWatch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetricName {
    /// Distinct users per in-service, non-warming instance.
    ConcurrentUsersPerInstance,
    /// Distinct users fleet-wide.
    ConcurrentUsers,
    /// Requests per second fleet-wide.
    RequestsPerSecond,
    /// Log events per second fleet-wide.
    LogEventsPerSecond,
}

impl MetricName {
    pub const ALL: [MetricName; 4] = [
        MetricName::ConcurrentUsersPerInstance,
        MetricName::ConcurrentUsers,
        MetricName::RequestsPerSecond,
        MetricName::LogEventsPerSecond,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MetricName::ConcurrentUsersPerInstance => "ConcurrentUsersPerInstance",
            MetricName::ConcurrentUsers => "ConcurrentUsers",
            MetricName::RequestsPerSecond => "RequestsPerSecond",
            MetricName::LogEventsPerSecond => "LogEventsPerSecond",
        }
    }
}

impl std::fmt::Display for MetricName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CloudWatch-style alarm evaluated by the engine itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    pub metric: MetricName,
    #[serde(default)]
    pub statistic: Statistic,
    pub threshold: f64,
    pub comparison: Comparison,
    /// Length of one period in seconds (fractions allowed; usually the tick).
    pub period_secs: f64,
    /// N: how many recent periods are looked at.
    #[serde(default = "one")]
    pub evaluation_periods: u32,
    /// M: how many of them must breach (default: all N, as in CloudWatch).
    #[serde(default)]
    pub datapoints_to_alarm: Option<u32>,
}

fn one() -> u32 {
    1
}

impl Alarm {
    /// M, with CloudWatch's default (= N).
    pub fn datapoints_needed(&self) -> u32 {
        self.datapoints_to_alarm.unwrap_or(self.evaluation_periods)
    }

    /// The period in whole milliseconds (at least 1).
    pub fn period_ms(&self) -> u64 {
        ((self.period_secs * 1000.0).round() as u64).max(1)
    }
}

/// One step: bounds relative to the alarm threshold (see the module docs for inclusivity).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepAdjustment {
    /// `None` is −∞.
    #[serde(default)]
    pub lower_bound: Option<f64>,
    /// `None` is +∞.
    #[serde(default)]
    pub upper_bound: Option<f64>,
    pub scaling_adjustment: i32,
}

impl StepAdjustment {
    /// Whether the step covers `value` for an alarm on `threshold` (AWS inclusivity). `above`
    /// is the breaching side: true for a "greater" alarm (bounds `[lower, upper)`), false for
    /// a "less" alarm (bounds `(lower, upper]`), so a value exactly on the threshold finds
    /// the step that starts (or ends) there.
    /// An absent bound has no limit, so a value of ±∞ (or one whose distance from the
    /// threshold overflows to ±∞) finds the open-ended step.
    pub fn matches(&self, value: f64, threshold: f64, above: bool) -> bool {
        let d = value - threshold;
        if above {
            self.lower_bound.is_none_or(|lo| lo <= d) && self.upper_bound.is_none_or(|hi| d < hi)
        } else {
            self.lower_bound.is_none_or(|lo| lo < d) && self.upper_bound.is_none_or(|hi| d <= hi)
        }
    }

    /// `[+10, +20) → +10 %`-style label (bounds relative to the threshold).
    pub fn label(&self, adjustment_type: AdjustmentType) -> String {
        let bound = |b: Option<f64>, inf: &str| match b {
            Some(v) => format!("{v:+}"),
            None => inf.to_string(),
        };
        let adj = match adjustment_type {
            AdjustmentType::ChangeInCapacity => format!("{:+}", self.scaling_adjustment),
            AdjustmentType::ExactCapacity => format!("= {}", self.scaling_adjustment),
            AdjustmentType::PercentChangeInCapacity => format!("{:+} %", self.scaling_adjustment),
        };
        let lo = bound(self.lower_bound, "-inf");
        let hi = bound(self.upper_bound, "+inf");
        if self.lower_bound.is_some_and(|l| l >= 0.0) {
            format!("[{lo}, {hi}) → {adj}")
        } else {
            format!("({lo}, {hi}] → {adj}")
        }
    }
}

/// Who runs the policies (`[policies] mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyMode {
    /// The controller's own engine decides each tick and calls SetDesiredCapacity.
    #[default]
    Controller,
    /// The group carries the policies as AWS step scaling policies and CloudWatch alarms
    /// (`controller::native`); the controller only publishes the metrics and explains what AWS did.
    Native,
    /// Like `Native`, but the policies and alarms come from a CloudFormation stack
    /// (`controller policies render`): the controller never puts or deletes any (it still
    /// deletes what it made itself in native mode) and reads what AWS did.
    Stack,
}

impl PolicyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyMode::Controller => "controller",
            PolicyMode::Native => "native",
            PolicyMode::Stack => "stack",
        }
    }

    /// Whether AWS runs the policies (native or stack): no SetDesiredCapacity.
    pub fn aws_decides(self) -> bool {
        matches!(self, PolicyMode::Native | PolicyMode::Stack)
    }
}

pub(crate) fn step(lower: Option<f64>, upper: Option<f64>, adj: i32) -> StepAdjustment {
    StepAdjustment {
        lower_bound: lower,
        upper_bound: upper,
        scaling_adjustment: adj,
    }
}

/// The scale-out policy of AWS's documented step-scaling example ("Step and simple scaling
/// policies"), for the engine's and the simulator's tests: threshold 50 (≥, one 5 s period),
/// [0, 10) → 0, [10, 20) → +10 %, [20, ∞) → +30 %.
#[cfg(test)]
pub(crate) fn aws_example_scale_out(statistic: Statistic) -> super::RawStepPolicy {
    super::RawStepPolicy {
        name: "out".into(),
        alarm: Alarm {
            metric: MetricName::ConcurrentUsersPerInstance,
            statistic,
            threshold: 50.0,
            comparison: Comparison::GreaterThanOrEqualToThreshold,
            period_secs: 5.0,
            evaluation_periods: 1,
            datapoints_to_alarm: None,
        },
        adjustment_type: AdjustmentType::PercentChangeInCapacity,
        steps: vec![
            step(Some(0.0), Some(10.0), 0),
            step(Some(10.0), Some(20.0), 10),
            step(Some(20.0), None, 30),
        ],
        min_adjustment_magnitude: None,
        estimated_instance_warmup_secs: 60.0,
    }
}

/// The group as the engine needs it. `in_service` counts instances that are in service,
/// ready and past their warmup ("current capacity" in AWS's words); `warming` counts those
/// launched for the group but not yet there (pending, booting, or inside the warmup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FleetState {
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    pub in_service: u32,
    pub warming: u32,
}
