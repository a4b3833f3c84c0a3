//! The policy configuration as data (the controller reads it from the `[policies]` table of
//! the TOML config, whose raw form holds these step policies).
//!
//! ```toml
//! [policies.scale_out]
//! name = "scale-out"
//! adjustment_type = "PercentChangeInCapacity"
//! min_adjustment_magnitude = 1
//! estimated_instance_warmup_secs = 10
//! alarm = { metric = "ConcurrentUsersPerInstance", statistic = "Average", threshold = 50,
//!           comparison = "GreaterThanOrEqualToThreshold", period_secs = 5,
//!           evaluation_periods = 1, datapoints_to_alarm = 1 }
//! steps = [ { lower_bound = 0, upper_bound = 15, scaling_adjustment = 20 },
//!           { lower_bound = 15, scaling_adjustment = 50 } ]
//! ```

use serde::{Deserialize, Serialize};

use super::lookahead::Lookahead;

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
    pub fn matches(&self, value: f64, threshold: f64, above: bool) -> bool {
        let d = value - threshold;
        let lo = self.lower_bound.unwrap_or(f64::NEG_INFINITY);
        let hi = self.upper_bound.unwrap_or(f64::INFINITY);
        if above {
            lo <= d && d < hi
        } else {
            lo < d && d <= hi
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

/// A step scaling policy: an alarm and what to do when it is in ALARM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepPolicy {
    pub name: String,
    pub alarm: Alarm,
    pub adjustment_type: AdjustmentType,
    pub steps: Vec<StepAdjustment>,
    /// Only with `PercentChangeInCapacity`: change capacity by at least this many instances.
    #[serde(default)]
    pub min_adjustment_magnitude: Option<u32>,
    /// How long a new instance is "warming" after it enters service.
    #[serde(default)]
    pub estimated_instance_warmup_secs: f64,
}

impl StepPolicy {
    /// The step matching `value`, if any.
    pub fn step_for(&self, value: f64) -> Option<&StepAdjustment> {
        let above = self.alarm.comparison.is_greater();
        self.steps
            .iter()
            .find(|s| s.matches(value, self.alarm.threshold, above))
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

/// The two policies of a group, as the engine runs them: checked with [`Policies::validate`]
/// before use. Not read from a file directly: the controller's config reads its raw form
/// (`[policies]`) and converts it, validating.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policies {
    pub mode: PolicyMode,
    pub scale_out: StepPolicy,
    pub scale_in: StepPolicy,
    /// `[policies.lookahead]`: the optional trend projection for scale-out (off when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookahead: Option<Lookahead>,
}

impl Policies {
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
        Policies {
            mode: PolicyMode::Controller,
            scale_out: StepPolicy {
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
            scale_in: StepPolicy {
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
        }
    }
}

pub(crate) fn step(lower: Option<f64>, upper: Option<f64>, adj: i32) -> StepAdjustment {
    StepAdjustment {
        lower_bound: lower,
        upper_bound: upper,
        scaling_adjustment: adj,
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
