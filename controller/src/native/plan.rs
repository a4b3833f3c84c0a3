//! Wanted against present, as data: [`wanted`] turns the validated policies into the AWS
//! policies and alarms they mean; [`diff`] compares them with what the group has and
//! returns the [`Plan`] (puts and deletes). Pure: no SDK type, no I/O.

use fleetcore::policy::{AdjustmentType, Policies, PolicyMode, Statistic, StepPolicy};

use super::{owned_prefix, owner_description, resource_name};

/// One step adjustment, bounds relative to the alarm threshold (AWS's meaning and ours).
#[derive(Debug, Clone, PartialEq)]
pub struct StepSpec {
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub adjustment: i32,
}

/// A StepScaling policy as PutScalingPolicy takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    pub name: String,
    /// `ChangeInCapacity`, `ExactCapacity` or `PercentChangeInCapacity`.
    pub adjustment_type: String,
    /// Sorted by lower bound (−∞ first).
    pub steps: Vec<StepSpec>,
    pub min_adjustment_magnitude: Option<i32>,
    pub estimated_instance_warmup: Option<i32>,
    /// `Average`, `Minimum` or `Maximum` (the alarm statistic; `Sum` and `SampleCount`,
    /// which PutScalingPolicy does not take, become `Average`, AWS's own default).
    pub metric_aggregation_type: String,
}

/// A metric alarm as PutMetricAlarm takes it; its one action is `policy`'s ARN.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSpec {
    pub name: String,
    pub description: String,
    pub namespace: String,
    pub metric: String,
    /// The `AutoScalingGroupName` dimension's value (as the controller publishes it).
    pub group: String,
    pub statistic: String,
    pub threshold: f64,
    pub comparison: String,
    pub period: i32,
    pub evaluation_periods: i32,
    pub datapoints_to_alarm: i32,
    pub treat_missing_data: String,
    /// The name of the policy the alarm invokes (present alarms: found by its ARN; empty
    /// when the action is not a policy of the group).
    pub policy: String,
}

/// What the config wants.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wanted {
    pub policies: Vec<PolicySpec>,
    pub alarms: Vec<AlarmSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PresentPolicy {
    pub spec: PolicySpec,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PresentAlarm {
    pub spec: AlarmSpec,
    pub actions: Vec<String>,
}

/// What AWS has: the group's policies (all of them) and the alarms named with its prefix.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Present {
    pub policies: Vec<PresentPolicy>,
    pub alarms: Vec<PresentAlarm>,
}

impl Present {
    /// The name of the group's policy with ARN `arn`.
    pub fn policy_named_by_arn(&self, arn: &str) -> Option<&str> {
        self.policies
            .iter()
            .find(|p| p.arn == arn)
            .map(|p| p.spec.name.as_str())
    }
}

/// The calls that make present = wanted, in the order they must run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub put_policies: Vec<PolicySpec>,
    pub put_alarms: Vec<AlarmSpec>,
    pub delete_alarms: Vec<String>,
    pub delete_policies: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.put_policies.is_empty()
            && self.put_alarms.is_empty()
            && self.delete_alarms.is_empty()
            && self.delete_policies.is_empty()
    }

    /// `put 2 policies, 2 alarms; delete 0 alarms, 1 policy`.
    pub fn summary(&self) -> String {
        format!(
            "put {} policies, {} alarms; delete {} alarms, {} policies",
            self.put_policies.len(),
            self.put_alarms.len(),
            self.delete_alarms.len(),
            self.delete_policies.len()
        )
    }
}

fn adjustment_type(t: AdjustmentType) -> &'static str {
    match t {
        AdjustmentType::ChangeInCapacity => "ChangeInCapacity",
        AdjustmentType::ExactCapacity => "ExactCapacity",
        AdjustmentType::PercentChangeInCapacity => "PercentChangeInCapacity",
    }
}

pub(crate) fn statistic(s: Statistic) -> &'static str {
    match s {
        Statistic::Average => "Average",
        Statistic::Minimum => "Minimum",
        Statistic::Maximum => "Maximum",
        Statistic::Sum => "Sum",
        Statistic::SampleCount => "SampleCount",
    }
}

/// Steps sorted by lower bound, −∞ first (AWS returns them in any order).
pub fn sorted_steps(mut steps: Vec<StepSpec>) -> Vec<StepSpec> {
    steps.sort_by(|a, b| {
        let lo = |s: &StepSpec| s.lower.unwrap_or(f64::NEG_INFINITY);
        lo(a).total_cmp(&lo(b))
    });
    steps
}

fn policy_spec(group: &str, p: &StepPolicy) -> PolicySpec {
    PolicySpec {
        name: resource_name(group, p.name()),
        adjustment_type: adjustment_type(p.adjustment_type()).into(),
        steps: sorted_steps(
            p.steps()
                .iter()
                .map(|s| StepSpec {
                    lower: s.lower_bound,
                    upper: s.upper_bound,
                    adjustment: s.scaling_adjustment,
                })
                .collect(),
        ),
        min_adjustment_magnitude: p.min_adjustment_magnitude().map(|m| m as i32),
        estimated_instance_warmup: Some(p.estimated_instance_warmup_secs().round() as i32),
        metric_aggregation_type: match p.alarm().statistic {
            Statistic::Minimum => "Minimum",
            Statistic::Maximum => "Maximum",
            _ => "Average",
        }
        .into(),
    }
}

fn alarm_spec(group: &str, namespace: &str, p: &StepPolicy) -> AlarmSpec {
    let a = p.alarm();
    AlarmSpec {
        name: resource_name(group, p.name()),
        description: owner_description(group),
        namespace: namespace.into(),
        metric: a.metric.as_str().into(),
        group: group.into(),
        statistic: statistic(a.statistic).into(),
        threshold: a.threshold,
        comparison: format!("{:?}", a.comparison),
        period: a.period_secs.round() as i32,
        evaluation_periods: a.evaluation_periods as i32,
        datapoints_to_alarm: a.datapoints_needed() as i32,
        treat_missing_data: "notBreaching".into(),
        policy: resource_name(group, p.name()),
    }
}

/// The policies and alarms `policies` mean for `group` (none in controller and stack modes:
/// switching removes the ones it made). `policies` must have passed validation.
pub fn wanted(group: &str, namespace: &str, policies: &Policies) -> Wanted {
    if policies.mode() != PolicyMode::Native {
        return Wanted::default();
    }
    let both = [policies.scale_out(), policies.scale_in()];
    Wanted {
        policies: both.iter().map(|p| policy_spec(group, p)).collect(),
        alarms: both
            .iter()
            .map(|p| alarm_spec(group, namespace, p))
            .collect(),
    }
}

/// Whether the controller made `alarm` for `group` (never touch anything else).
pub fn owns_alarm(group: &str, alarm: &AlarmSpec) -> bool {
    alarm.name.starts_with(&owned_prefix(group)) && alarm.description == owner_description(group)
}

/// The puts and deletes that make `present` match `wanted` for `group`. A policy is put when
/// missing or different; an alarm when missing, different, or not acting on exactly its
/// policy's ARN (always after its policy was put: the ARN comes from that put). Deleted:
/// owned policies and alarms the config no longer has, nothing else.
pub fn diff(group: &str, wanted: &Wanted, present: &Present) -> Plan {
    let prefix = owned_prefix(group);
    let mut plan = Plan::default();
    for w in &wanted.policies {
        let same = present.policies.iter().any(|p| p.spec == *w);
        if !same {
            plan.put_policies.push(w.clone());
        }
    }
    for w in &wanted.alarms {
        let policy_put = plan.put_policies.iter().any(|p| p.name == w.policy);
        let arn = present
            .policies
            .iter()
            .find(|p| p.spec.name == w.policy)
            .map(|p| p.arn.as_str());
        let same = present.alarms.iter().any(|a| {
            a.spec == *w && arn.is_some_and(|arn| a.actions.len() == 1 && a.actions[0] == arn)
        });
        if policy_put || !same {
            plan.put_alarms.push(w.clone());
        }
    }
    for a in &present.alarms {
        let kept = wanted.alarms.iter().any(|w| w.name == a.spec.name);
        if !kept && owns_alarm(group, &a.spec) {
            plan.delete_alarms.push(a.spec.name.clone());
        }
    }
    for p in &present.policies {
        let kept = wanted.policies.iter().any(|w| w.name == p.spec.name);
        if !kept && p.spec.name.starts_with(&prefix) {
            plan.delete_policies.push(p.spec.name.clone());
        }
    }
    plan
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
