//! `evaluate`: (policies, fleet state, alarms, now) → [`Decision`]. Pure.

use super::alarm::{AlarmEval, Alarms, MetricSample, SampleStatus};
use super::decision::{Action, Decision, Reason};
use super::policies::{Policies, StepPolicy};
use super::types::{AdjustmentType, FleetState, StepAdjustment};

/// AWS's rounding of a `PercentChangeInCapacity` result: values above 1 round down, values
/// in (0, 1) become 1, values in (−1, 0) become −1, values below −1 round up (toward zero).
pub fn round_percent(x: f64) -> i64 {
    if x >= 1.0 {
        x.floor() as i64
    } else if x > 0.0 {
        1
    } else if x == 0.0 || x.is_nan() {
        0
    } else if x > -1.0 {
        -1
    } else {
        x.ceil() as i64
    }
}

/// The capacity a step asks for, from `current` (the non-warming in-service count), before
/// warmup and min/max are applied. May be negative.
pub fn apply_adjustment(policy: &StepPolicy, step: &StepAdjustment, current: u32) -> i64 {
    let current = i64::from(current);
    let adj = i64::from(step.scaling_adjustment);
    match policy.adjustment_type() {
        AdjustmentType::ChangeInCapacity => current + adj,
        AdjustmentType::ExactCapacity => adj,
        AdjustmentType::PercentChangeInCapacity => {
            let mut delta = round_percent(current as f64 * adj as f64 / 100.0);
            if let Some(m) = policy.min_adjustment_magnitude()
                && adj != 0
                && delta.abs() < i64::from(m)
            {
                delta = adj.signum() * i64::from(m);
            }
            current + delta
        }
    }
}

/// Whether an instance is warming at `now_ms`: not yet in service, or in service for less
/// than the warmup.
pub fn is_warming(in_service_at_ms: Option<u64>, now_ms: u64, warmup_ms: u64) -> bool {
    match in_service_at_ms {
        None => true,
        Some(at) => now_ms < at.saturating_add(warmup_ms),
    }
}

/// Numbers in explanations: integers without decimals, others with up to two.
pub(crate) fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Evaluates both policies at `now_ms`. `alarms` must have observed this tick's sample at
/// exactly `now_ms` (otherwise the tick counts as having no data).
pub fn evaluate(policies: &Policies, fleet: &FleetState, alarms: &Alarms, now_ms: u64) -> Decision {
    let min = fleet.min;
    let max = fleet.max.max(min);
    let before = fleet.desired;
    let out_p = policies.scale_out();
    let in_p = policies.scale_in();
    let out = alarms.scale_out.evaluate(now_ms);
    let inn = alarms.scale_in.evaluate(now_ms);
    let (out_status, in_status) = alarms.sample_status(now_ms);
    let base = Decision {
        action: Action::None,
        reason: Reason::WithinBand,
        policy: None,
        metric: out_p.alarm().metric,
        metric_value: out.value,
        threshold: Some(out_p.alarm().threshold),
        step: None,
        step_label: None,
        adjustment: None,
        capacity_before: before,
        capacity_after: before,
        explanation: String::new(),
    };

    if before < min || before > max {
        let after = before.clamp(min, max);
        return Decision {
            action: if after > before {
                Action::ScaleOut
            } else {
                Action::ScaleIn
            },
            reason: Reason::OutOfBounds,
            explanation: format!(
                "desired capacity {before} is outside [{min}, {max}]: set to {after}"
            ),
            capacity_after: after,
            ..base
        };
    }
    if out_status == SampleStatus::Stale {
        return Decision {
            reason: Reason::StaleData,
            explanation: "the fleet metrics are stale (no fresh load reports): nothing is \
                          done, and stale data never scales in"
                .into(),
            ..base
        };
    }
    if out_status != SampleStatus::Fresh && in_status != SampleStatus::Fresh {
        return Decision {
            reason: Reason::NoData,
            explanation: format!(
                "no {} figure this tick: nothing is done, and missing data never scales in",
                out_p.alarm().metric
            ),
            ..base
        };
    }

    if out_status == SampleStatus::Fresh && out.in_alarm {
        return scale_out(out_p, fleet, &out, max, base);
    }
    if in_status == SampleStatus::Fresh && inn.in_alarm {
        let base = Decision {
            metric: in_p.alarm().metric,
            metric_value: inn.value,
            threshold: Some(in_p.alarm().threshold),
            ..base
        };
        return scale_in(in_p, fleet, &inn, min, base);
    }

    // Nothing in alarm: within band, or on the way to an alarm.
    let lead = if inn.breaching > out.breaching && in_status == SampleStatus::Fresh {
        Some((in_p, &inn))
    } else if out.breaching > 0 {
        Some((out_p, &out))
    } else {
        None
    };
    if let Some((p, e)) = lead {
        return Decision {
            reason: Reason::NotEnoughDatapoints,
            policy: Some(p.name().to_string()),
            metric: p.alarm().metric,
            metric_value: e.value,
            threshold: Some(p.alarm().threshold),
            explanation: format!(
                "{} {} {} in {} of the last {} periods; {} needed before `{}` acts",
                p.alarm().metric,
                p.alarm().comparison.symbol(),
                num(p.alarm().threshold),
                e.breaching,
                e.of,
                e.needed,
                p.name()
            ),
            ..base
        };
    }
    let value = out
        .value
        .or(inn.value)
        .map(num)
        .unwrap_or_else(|| "-".into());
    Decision {
        explanation: format!(
            "{} {value} is within the band: scale-out at {} {}, scale-in at {} {}",
            out_p.alarm().metric,
            out_p.alarm().comparison.symbol(),
            num(out_p.alarm().threshold),
            in_p.alarm().comparison.symbol(),
            num(in_p.alarm().threshold)
        ),
        metric_value: out.value.or(inn.value),
        ..base
    }
}

/// The matched step and the breach in words, or the `no_step` decision: the alarm is in
/// ALARM on M of N datapoints, but its newest datapoint is not on the breaching side (every
/// breaching value has a step: the policies are valid by construction).
fn matched<'p>(
    p: &'p StepPolicy,
    e: &AlarmEval,
    base: &Decision,
) -> Result<(&'p StepAdjustment, String), Box<Decision>> {
    let value = e.value.unwrap_or(f64::NAN);
    let breach = format!(
        "{} {} {} {} ({} of {} datapoints)",
        p.alarm().metric,
        num(value),
        p.alarm().comparison.symbol(),
        num(p.alarm().threshold),
        e.breaching,
        e.of
    );
    match p.step_for(value) {
        Some(step) => Ok((step, breach)),
        None => Err(Box::new(Decision {
            reason: Reason::NoStep,
            policy: Some(p.name().to_string()),
            explanation: format!("{breach} but no step of `{}` covers the value", p.name()),
            ..base.clone()
        })),
    }
}

/// The matched step applied to the non-warming capacity: the target, the explanation's
/// opening, and the decision filled in so far — or, for a step that adjusts nothing, the
/// finished decision. Shared by both directions.
fn stepped(
    p: &StepPolicy,
    step: &StepAdjustment,
    fleet: &FleetState,
    breach: &str,
    base: Decision,
) -> Result<(i64, String, Decision), Box<Decision>> {
    let target = apply_adjustment(p, step, fleet.in_service);
    let label = step.label(p.adjustment_type());
    let from = format!(
        "{breach}: step {label} asks for {target} from {} in service",
        fleet.in_service
    );
    let d = Decision {
        policy: Some(p.name().to_string()),
        step: Some(*step),
        step_label: Some(label),
        adjustment: Some(target - i64::from(fleet.in_service)),
        ..base
    };
    if step.scaling_adjustment == 0 {
        return Err(Box::new(Decision {
            reason: Reason::ZeroAdjustment,
            explanation: format!("{from}; the step adjusts nothing"),
            ..d
        }));
    }
    Ok((target, from, d))
}

fn scale_out(
    p: &StepPolicy,
    fleet: &FleetState,
    e: &AlarmEval,
    max: u32,
    base: Decision,
) -> Decision {
    let (step, breach) = match matched(p, e, &base) {
        Ok(m) => m,
        Err(d) => return *d,
    };
    let before = fleet.desired;
    let (target, from, d) = match stepped(p, step, fleet, &breach, base) {
        Ok(s) => s,
        Err(d) => return *d,
    };
    let wanted = target.max(i64::from(before));
    let after = wanted.clamp(0, i64::from(max)) as u32;
    if after > before {
        let capped = if wanted > i64::from(max) {
            format!(" (capped at max {max})")
        } else {
            String::new()
        };
        return Decision {
            action: Action::ScaleOut,
            reason: Reason::Scaled,
            capacity_after: after,
            explanation: format!("{from}: desired {before} → {after}{capped}"),
            ..d
        };
    }
    let (reason, why) = if before >= max && target > i64::from(before) {
        (Reason::AtMax, format!("the group is at its max {max}"))
    } else if fleet.warming > 0 {
        (
            Reason::WarmingUp,
            format!(
                "desired is already {before} with {} instance(s) warming up",
                fleet.warming
            ),
        )
    } else {
        (
            Reason::AlreadyAtTarget,
            format!("desired is already {before}"),
        )
    };
    Decision {
        reason,
        explanation: format!("{from}; {why}: nothing to add"),
        ..d
    }
}

fn scale_in(
    p: &StepPolicy,
    fleet: &FleetState,
    e: &AlarmEval,
    min: u32,
    base: Decision,
) -> Decision {
    let (step, breach) = match matched(p, e, &base) {
        Ok(m) => m,
        Err(d) => return *d,
    };
    let before = fleet.desired;
    let label = step.label(p.adjustment_type());
    if fleet.warming > 0 {
        return Decision {
            reason: Reason::WarmingUp,
            policy: Some(p.name().to_string()),
            step: Some(*step),
            step_label: Some(label),
            explanation: format!(
                "{breach}, but {} instance(s) are warming up: scale-in waits for warmup to end",
                fleet.warming
            ),
            ..base
        };
    }
    let (target, from, d) = match stepped(p, step, fleet, &breach, base) {
        Ok(s) => s,
        Err(d) => return *d,
    };
    let wanted = target.min(i64::from(before));
    let after = wanted.max(i64::from(min)) as u32;
    if after < before {
        let floored = if wanted < i64::from(min) {
            format!(" (floored at min {min})")
        } else {
            String::new()
        };
        return Decision {
            action: Action::ScaleIn,
            reason: Reason::Scaled,
            capacity_after: after,
            explanation: format!("{from}: desired {before} → {after}{floored}"),
            ..d
        };
    }
    let (reason, why) = if before <= min {
        (Reason::AtMin, format!("the group is at its min {min}"))
    } else {
        (
            Reason::AlreadyAtTarget,
            format!("desired is already {before}"),
        )
    };
    Decision {
        reason,
        explanation: format!("{from}; {why}: nothing to remove"),
        ..d
    }
}

/// The policies and their alarms together: what a loop (live or simulated) keeps between
/// ticks. `tick` = observe this tick's sample, then evaluate.
#[derive(Debug, Clone)]
pub struct Engine {
    policies: Policies,
    alarms: Alarms,
}

impl Engine {
    /// `policies` are valid by construction ([`Policies::new`]).
    pub fn new(policies: Policies) -> Engine {
        let alarms = Alarms::new(&policies);
        Engine { policies, alarms }
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    pub fn alarms(&self) -> &Alarms {
        &self.alarms
    }

    /// Feeds this tick's metrics and decides.
    pub fn tick(&mut self, now_ms: u64, sample: &MetricSample, fleet: &FleetState) -> Decision {
        self.alarms.observe(now_ms, sample);
        evaluate(&self.policies, fleet, &self.alarms, now_ms)
    }
}
