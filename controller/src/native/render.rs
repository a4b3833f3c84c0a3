//! `controller policies render`: the native policies and alarms as a CloudFormation
//! template (YAML), to deploy beside the fleet stack (see `infra/README.md`). Pure: the same
//! [`super::wanted`] specs the controller would put, written out by hand (every
//! string JSON-quoted, which YAML reads as is).
//!
//! The template takes the group's name as a parameter (default: the config's), so it works
//! with any stack that made the group. `AWS::AutoScaling::ScalingPolicy` has no name
//! property (CloudFormation names the policy); the alarms keep the controller's names
//! (`hellofleet-<group>-<policy>`) so the controller's history reading finds them, and carry
//! a description saying CloudFormation manages them (the controller never deletes them).
//! Run the controller with `[policies] mode = "stack"` beside such a stack: it then puts
//! nothing (in `native` mode it would overwrite the stack's alarms, which share the names).

use std::fmt::Write;

use fleetcore::policy::{Policies, PolicyMode};

use super::{AlarmSpec, NAME_PREFIX, PolicySpec, owned_prefix, wanted};

/// The description of rendered alarms (not the controller's: it leaves them alone).
pub fn stack_description(group: &str) -> String {
    format!("Managed by CloudFormation (controller policies render) for group {group}.")
}

fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

fn num(v: f64) -> String {
    format!("{v}")
}

/// `scale-out` → `ScaleOut` (the logical ids; the role, not the TOML name, so they never clash).
const ROLES: [&str; 2] = ["ScaleOut", "ScaleIn"];

fn policy_yaml(out: &mut String, role: &str, p: &PolicySpec) {
    let _ = writeln!(out, "  {role}Policy:");
    let _ = writeln!(out, "    Type: AWS::AutoScaling::ScalingPolicy");
    let _ = writeln!(out, "    Properties:");
    let _ = writeln!(out, "      AutoScalingGroupName: !Ref AutoScalingGroupName");
    let _ = writeln!(out, "      PolicyType: StepScaling");
    let _ = writeln!(out, "      AdjustmentType: {}", p.adjustment_type);
    let _ = writeln!(
        out,
        "      MetricAggregationType: {}",
        p.metric_aggregation_type
    );
    if let Some(w) = p.estimated_instance_warmup {
        let _ = writeln!(out, "      EstimatedInstanceWarmup: {w}");
    }
    if let Some(m) = p.min_adjustment_magnitude {
        let _ = writeln!(out, "      MinAdjustmentMagnitude: {m}");
    }
    let _ = writeln!(out, "      StepAdjustments:");
    for s in &p.steps {
        let mut first = true;
        let mut field = |out: &mut String, text: String| {
            let lead = if first { "        - " } else { "          " };
            first = false;
            let _ = writeln!(out, "{lead}{text}");
        };
        if let Some(lo) = s.lower {
            field(out, format!("MetricIntervalLowerBound: {}", num(lo)));
        }
        if let Some(hi) = s.upper {
            field(out, format!("MetricIntervalUpperBound: {}", num(hi)));
        }
        field(out, format!("ScalingAdjustment: {}", s.adjustment));
    }
}

fn alarm_yaml(out: &mut String, role: &str, a: &AlarmSpec, group: &str) {
    let _ = writeln!(out, "  {role}Alarm:");
    let _ = writeln!(out, "    Type: AWS::CloudWatch::Alarm");
    let _ = writeln!(out, "    Properties:");
    // The group part follows the parameter; `${` in the policy's name stays literal (`${!`).
    let policy = a
        .name
        .strip_prefix(&owned_prefix(group))
        .unwrap_or(&a.name)
        .replace("${", "${!");
    let _ = writeln!(
        out,
        "      AlarmName: !Sub {}",
        q(&format!("{NAME_PREFIX}${{AutoScalingGroupName}}-{policy}"))
    );
    let _ = writeln!(
        out,
        "      AlarmDescription: !Sub {}",
        q(&stack_description("${AutoScalingGroupName}"))
    );
    let _ = writeln!(out, "      Namespace: {}", q(&a.namespace));
    let _ = writeln!(out, "      MetricName: {}", a.metric);
    let _ = writeln!(out, "      Dimensions:");
    let _ = writeln!(out, "        - Name: AutoScalingGroupName");
    let _ = writeln!(out, "          Value: !Ref AutoScalingGroupName");
    let _ = writeln!(out, "      Statistic: {}", a.statistic);
    let _ = writeln!(out, "      Threshold: {}", num(a.threshold));
    let _ = writeln!(out, "      ComparisonOperator: {}", a.comparison);
    let _ = writeln!(out, "      Period: {}", a.period);
    let _ = writeln!(out, "      EvaluationPeriods: {}", a.evaluation_periods);
    let _ = writeln!(out, "      DatapointsToAlarm: {}", a.datapoints_to_alarm);
    let _ = writeln!(out, "      TreatMissingData: {}", a.treat_missing_data);
    let _ = writeln!(out, "      ActionsEnabled: true");
    let _ = writeln!(out, "      AlarmActions:");
    let _ = writeln!(out, "        - !Ref {role}Policy");
}

/// The template for `group`'s policies (whatever `policies.mode` says: rendering is for
/// putting them in a stack instead). `policies` must have passed the native validation.
pub fn render(group: &str, namespace: &str, policies: &Policies) -> String {
    let native = policies.with_mode(PolicyMode::Native);
    let w = wanted(group, namespace, &native);
    let mut out = String::new();
    let _ = writeln!(out, "AWSTemplateFormatVersion: \"2010-09-09\"");
    let _ = writeln!(
        out,
        "Description: {}",
        q(&format!(
            "hellofleet step scaling policies and alarms for group {group} (controller policies render)"
        ))
    );
    let _ = writeln!(out, "Parameters:");
    let _ = writeln!(out, "  AutoScalingGroupName:");
    let _ = writeln!(out, "    Type: String");
    let _ = writeln!(out, "    Default: {}", q(group));
    let _ = writeln!(
        out,
        "    Description: The Auto Scaling group the policies scale"
    );
    let _ = writeln!(out, "Resources:");
    for ((role, p), a) in ROLES.iter().zip(&w.policies).zip(&w.alarms) {
        policy_yaml(&mut out, role, p);
        alarm_yaml(&mut out, role, a, group);
    }
    let _ = writeln!(out, "Outputs:");
    for role in ROLES {
        let _ = writeln!(out, "  {role}PolicyArn:");
        let _ = writeln!(out, "    Value: !Ref {role}Policy");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_policies_and_alarms_with_every_field() {
        let p = crate::native::test_policies();
        let y = render("web", "HelloFleet", &p);
        for want in [
            "  ScaleOutPolicy:\n    Type: AWS::AutoScaling::ScalingPolicy",
            "      AdjustmentType: PercentChangeInCapacity\n",
            "      MinAdjustmentMagnitude: 1\n",
            "      EstimatedInstanceWarmup: 10\n",
            "        - MetricIntervalLowerBound: 0\n          MetricIntervalUpperBound: 15\n          ScalingAdjustment: 20\n",
            "        - MetricIntervalLowerBound: 40\n          ScalingAdjustment: 100\n",
            "        - MetricIntervalUpperBound: 0\n          ScalingAdjustment: -1\n",
            "      AlarmName: !Sub \"hellofleet-${AutoScalingGroupName}-scale-in\"\n",
            "      ComparisonOperator: LessThanOrEqualToThreshold\n",
            "      Threshold: 20\n      ComparisonOperator",
            "      Period: 10\n      EvaluationPeriods: 3\n      DatapointsToAlarm: 3\n",
            "      TreatMissingData: notBreaching\n",
            "        - !Ref ScaleInPolicy\n",
            "    Default: \"web\"\n",
        ] {
            assert!(y.contains(want), "missing {want:?} in:\n{y}");
        }
        assert_eq!(y.matches("Type: AWS::CloudWatch::Alarm").count(), 2);
        assert!(!y.contains("Managed by the hellofleet controller"));
    }
}
