//! What AWS would refuse in native mode, refused at config load, naming the field. Takes
//! validated `Policies` (`Policies::new` has already refused overlapping or gapped steps, a
//! scale-in step without the −∞ step, a step with neither bound, bounds on the wrong side
//! of the threshold, `min_adjustment_magnitude` without `PercentChangeInCapacity`).
//!
//! AWS's limits checked here (PutScalingPolicy, PutMetricAlarm, "Step adjustments for step
//! scaling" in the EC2 Auto Scaling user guide, the CloudWatch alarm docs):
//! - `Period`: whole seconds, 10, 30 or a multiple of 60 (10 and 30 only for
//!   high-resolution metrics, which the controller publishes: `StorageResolution = 1`);
//! - `EvaluationPeriods × Period` at most one day (86 400 s);
//! - at most 20 step adjustments per policy;
//! - `EstimatedInstanceWarmup`: whole seconds;
//! - `PolicyName` and `AlarmName` (both `hellofleet-<group>-<name>`) at most 255
//!   characters, no control characters; the two policies' names differ.

use fleetcore::policy::{Policies, PolicyError, StepPolicy};

use super::resource_name;

/// AWS's limit on step adjustments per policy.
pub const MAX_STEPS: usize = 20;
/// AWS's limit on policy and alarm names.
pub const MAX_NAME: usize = 255;
/// AWS's limit on `EvaluationPeriods × Period`, seconds.
pub const MAX_EVALUATION_SECS: f64 = 86_400.0;

fn err(path: String, message: String) -> PolicyError {
    PolicyError { path, message }
}

/// Checks `policies` against AWS's limits for `group`'s native policies and alarms.
pub fn validate_native(group: &str, policies: &Policies) -> Result<(), PolicyError> {
    check(group, policies.scale_out(), "policies.scale_out")?;
    check(group, policies.scale_in(), "policies.scale_in")?;
    if policies.scale_in().name() == policies.scale_out().name() {
        return Err(err(
            "policies.scale_in.name".into(),
            format!(
                "{:?} is also the scale-out policy's name: in native mode each is an AWS policy and alarm named after it",
                policies.scale_in().name()
            ),
        ));
    }
    Ok(())
}

fn check(group: &str, p: &StepPolicy, path: &str) -> Result<(), PolicyError> {
    let full = resource_name(group, p.name());
    if full.chars().count() > MAX_NAME {
        return Err(err(
            format!("{path}.name"),
            format!(
                "the AWS policy and alarm name {full:?} would be {} characters; AWS allows {MAX_NAME}",
                full.chars().count()
            ),
        ));
    }
    if full.chars().any(char::is_control) {
        return Err(err(
            format!("{path}.name"),
            "contains a control character, which AWS names do not allow".into(),
        ));
    }
    let period = p.alarm().period_secs;
    let whole = period.fract() == 0.0;
    let p_int = period as u64;
    if !whole || !(p_int == 10 || p_int == 30 || (p_int >= 60 && p_int.is_multiple_of(60))) {
        return Err(err(
            format!("{path}.alarm.period_secs"),
            format!(
                "{period} is not a CloudWatch alarm period: use 10, 30 or a multiple of 60 seconds"
            ),
        ));
    }
    let total = period * f64::from(p.alarm().evaluation_periods);
    if total > MAX_EVALUATION_SECS {
        return Err(err(
            format!("{path}.alarm.evaluation_periods"),
            format!(
                "{} periods of {period} s is {total} s; CloudWatch evaluates at most one day ({MAX_EVALUATION_SECS} s)",
                p.alarm().evaluation_periods
            ),
        ));
    }
    if p.steps().len() > MAX_STEPS {
        return Err(err(
            format!("{path}.steps"),
            format!(
                "{} steps; AWS allows at most {MAX_STEPS} per policy",
                p.steps().len()
            ),
        ));
    }
    if p.estimated_instance_warmup_secs().fract() != 0.0 {
        return Err(err(
            format!("{path}.estimated_instance_warmup_secs"),
            format!(
                "{} is not whole seconds (EstimatedInstanceWarmup is an integer)",
                p.estimated_instance_warmup_secs()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetcore::policy::{RawPolicies, StepAdjustment};

    fn native() -> Policies {
        super::super::default_native_policies()
    }

    /// `edit` applied to valid native policies → the field named (by the core's
    /// `Policies::new`, then by `validate_native`, as at config load), or accepted (`None`).
    fn check_case(edit: impl FnOnce(&mut RawPolicies), field: Option<&str>) {
        let got = native()
            .changed(edit)
            .and_then(|p| validate_native("web", &p));
        assert_eq!(
            got.clone().err().map(|e| e.path).as_deref(),
            field,
            "{got:?}"
        );
    }

    #[test]
    fn periods_aws_takes_and_refuses() {
        for (secs, ok) in [
            (10.0, true),
            (30.0, true),
            (60.0, true),
            (300.0, true),
            (5.0, false),
            (20.0, false),
            (90.0, false),
            (10.5, false),
        ] {
            check_case(
                |p| p.scale_out.alarm.period_secs = secs,
                (!ok).then_some("policies.scale_out.alarm.period_secs"),
            );
        }
    }

    #[test]
    fn limits_table() {
        check_case(|_| {}, None);
        // One day of periods at most (the core allows up to 1,000 periods: 300 s × 289).
        check_case(
            |p| {
                p.scale_in.alarm.period_secs = 300.0;
                p.scale_in.alarm.evaluation_periods = 289;
            },
            Some("policies.scale_in.alarm.evaluation_periods"),
        );
        check_case(
            |p| {
                p.scale_in.alarm.period_secs = 300.0;
                p.scale_in.alarm.evaluation_periods = 288;
            },
            None,
        );
        check_case(
            |p| {
                p.scale_out.steps = (0..21)
                    .map(|i| StepAdjustment {
                        lower_bound: Some(f64::from(i)),
                        upper_bound: (i < 20).then(|| f64::from(i + 1)),
                        scaling_adjustment: 1,
                    })
                    .collect();
            },
            Some("policies.scale_out.steps"),
        );
        check_case(
            |p| p.scale_out.name = "x".repeat(255),
            Some("policies.scale_out.name"),
        );
        // hellofleet-web- is 15 characters: 240 more make 255.
        check_case(|p| p.scale_out.name = "x".repeat(240), None);
        check_case(
            |p| p.scale_in.name = "a\nb".into(),
            Some("policies.scale_in.name"),
        );
        check_case(
            |p| p.scale_in.name = p.scale_out.name.clone(),
            Some("policies.scale_in.name"),
        );
        check_case(
            |p| p.scale_out.estimated_instance_warmup_secs = 2.5,
            Some("policies.scale_out.estimated_instance_warmup_secs"),
        );
        check_case(
            |p| p.scale_in.min_adjustment_magnitude = Some(1),
            Some("policies.scale_in.min_adjustment_magnitude"),
        );
    }
}
