//! The validating constructor [`Policies::new`]: a [`RawPolicies`] checked with AWS's rules
//! for step scaling policies, plus the few this engine adds, becomes the validated
//! [`Policies`]. Every error names the field path (`policies.scale_out.steps[1].lower_bound`).
//!
//! What the engine relies on (every breaching value has its step in `StepPolicy::step_for` because of it): each policy
//! has at least one step; bounds are finite (an absent one is ±∞) with `lower < upper`; the
//! steps, sorted, meet without gaps or overlaps; scale-out steps start at the threshold
//! (`lower_bound = 0`) and reach +∞, scale-in steps reach −∞ and end at it; thresholds are
//! finite, and each alarm's comparison is on its policy's side.

use super::policies::{Policies, StepPolicy};
use super::raw::{RawPolicies, RawStepPolicy};
use super::types::{AdjustmentType, Alarm};

/// A policy field that is not acceptable, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PolicyError {
    /// Dotted path of the offending field, e.g. `policies.scale_in.alarm.threshold`.
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError {
        path: path.into(),
        message: message.into(),
    }
}

/// Upper limit on `evaluation_periods` (bounds the alarm's memory).
pub const MAX_EVALUATION_PERIODS: u32 = 1_000;

impl Policies {
    /// Checks both policies and how they relate, and builds the validated policies: the
    /// only way to get a [`Policies`] (or a [`StepPolicy`]).
    pub fn new(raw: RawPolicies) -> Result<Policies, PolicyError> {
        let RawPolicies {
            mode,
            scale_out,
            scale_in,
            lookahead,
        } = raw;
        let scale_out = step_policy(scale_out, "policies.scale_out", true)?;
        let scale_in = step_policy(scale_in, "policies.scale_in", false)?;
        if let Some(l) = &lookahead {
            validate_lookahead(l, &scale_out)?;
        }
        let (out, inn) = (scale_out.alarm(), scale_in.alarm());
        if out.metric == inn.metric && inn.threshold >= out.threshold {
            return Err(err(
                "policies.scale_in.alarm.threshold",
                format!(
                    "{} must be below the scale-out threshold {} on the same metric, \
                     or the two policies fight",
                    inn.threshold, out.threshold
                ),
            ));
        }
        Ok(Policies::from_checked(mode, scale_out, scale_in, lookahead))
    }
}

fn validate_lookahead(l: &super::Lookahead, scale_out: &StepPolicy) -> Result<(), PolicyError> {
    let path = "policies.lookahead";
    if !(l.window_secs.is_finite() && l.window_secs > 0.0 && l.window_secs <= 3_600.0) {
        return Err(err(
            format!("{path}.window_secs"),
            format!("{} is outside (0, 3600]", l.window_secs),
        ));
    }
    if let Some(h) = l.horizon_secs
        && !(h.is_finite() && (0.0..=3_600.0).contains(&h))
    {
        return Err(err(
            format!("{path}.horizon_secs"),
            format!("{h} is outside [0, 3600]"),
        ));
    }
    if !(l.max_growth.is_finite() && (1.0..=10.0).contains(&l.max_growth)) {
        return Err(err(
            format!("{path}.max_growth"),
            format!("{} is outside [1, 10]", l.max_growth),
        ));
    }
    if scale_out.alarm().metric != super::MetricName::ConcurrentUsersPerInstance {
        return Err(err(
            path,
            "projects users per instance: the scale-out alarm's metric must be \
             ConcurrentUsersPerInstance",
        ));
    }
    Ok(())
}

fn step_policy(p: RawStepPolicy, path: &str, scale_out: bool) -> Result<StepPolicy, PolicyError> {
    if p.name.trim().is_empty() {
        return Err(err(format!("{path}.name"), "must not be empty"));
    }
    validate_alarm(&p.alarm, &format!("{path}.alarm"), scale_out)?;
    if !p.estimated_instance_warmup_secs.is_finite() || p.estimated_instance_warmup_secs < 0.0 {
        return Err(err(
            format!("{path}.estimated_instance_warmup_secs"),
            format!(
                "{} is not a duration >= 0",
                p.estimated_instance_warmup_secs
            ),
        ));
    }
    if let Some(m) = p.min_adjustment_magnitude {
        if p.adjustment_type != AdjustmentType::PercentChangeInCapacity {
            return Err(err(
                format!("{path}.min_adjustment_magnitude"),
                "is only valid with adjustment_type = \"PercentChangeInCapacity\"",
            ));
        }
        if m == 0 {
            return Err(err(
                format!("{path}.min_adjustment_magnitude"),
                "must be >= 1",
            ));
        }
    }
    validate_steps(&p, path, scale_out)?;
    Ok(StepPolicy::from_checked(p))
}

fn validate_alarm(a: &Alarm, path: &str, scale_out: bool) -> Result<(), PolicyError> {
    if !a.threshold.is_finite() {
        return Err(err(format!("{path}.threshold"), "must be a finite number"));
    }
    if a.comparison.is_greater() != scale_out {
        let want = if scale_out {
            "GreaterThanOrEqualToThreshold or GreaterThanThreshold"
        } else {
            "LessThanOrEqualToThreshold or LessThanThreshold"
        };
        return Err(err(
            format!("{path}.comparison"),
            format!("{:?} does not suit this policy: use {want}", a.comparison),
        ));
    }
    if !a.period_secs.is_finite() || a.period_secs < 0.001 {
        return Err(err(
            format!("{path}.period_secs"),
            format!("{} is not a period (> 0 seconds)", a.period_secs),
        ));
    }
    if a.evaluation_periods == 0 || a.evaluation_periods > MAX_EVALUATION_PERIODS {
        return Err(err(
            format!("{path}.evaluation_periods"),
            format!(
                "{} is not in 1..={MAX_EVALUATION_PERIODS}",
                a.evaluation_periods
            ),
        ));
    }
    let m = a.datapoints_needed();
    if m == 0 || m > a.evaluation_periods {
        return Err(err(
            format!("{path}.datapoints_to_alarm"),
            format!(
                "{m} is not in 1..=evaluation_periods ({})",
                a.evaluation_periods
            ),
        ));
    }
    Ok(())
}

/// The checks of the steps (what makes `StepPolicy::step_for` find one step for every
/// breaching value).
fn validate_steps(p: &RawStepPolicy, path: &str, scale_out: bool) -> Result<(), PolicyError> {
    if p.steps.is_empty() {
        return Err(err(format!("{path}.steps"), "needs at least one step"));
    }
    let mut null_lower = None;
    let mut null_upper = None;
    for (i, s) in p.steps.iter().enumerate() {
        let sp = format!("{path}.steps[{i}]");
        for (name, b) in [
            ("lower_bound", s.lower_bound),
            ("upper_bound", s.upper_bound),
        ] {
            if b.is_some_and(|v| !v.is_finite()) {
                return Err(err(
                    format!("{sp}.{name}"),
                    "must be finite (omit it for ±∞)",
                ));
            }
        }
        if let (Some(lo), Some(hi)) = (s.lower_bound, s.upper_bound)
            && lo >= hi
        {
            return Err(err(
                format!("{sp}.upper_bound"),
                format!("{hi} must be greater than lower_bound {lo}"),
            ));
        }
        if s.lower_bound.is_none() {
            if let Some(j) = null_lower {
                return Err(err(
                    format!("{sp}.lower_bound"),
                    format!("only one step may omit lower_bound (steps[{j}] does too)"),
                ));
            }
            null_lower = Some(i);
        }
        if s.upper_bound.is_none() {
            if let Some(j) = null_upper {
                return Err(err(
                    format!("{sp}.upper_bound"),
                    format!("only one step may omit upper_bound (steps[{j}] does too)"),
                ));
            }
            null_upper = Some(i);
        }
        // A scale-out policy adds (or sets) capacity, a scale-in policy removes it.
        let adj = s.scaling_adjustment;
        let wrong_sign = match p.adjustment_type {
            AdjustmentType::ExactCapacity => adj < 0,
            _ if scale_out => adj < 0,
            _ => adj > 0,
        };
        if wrong_sign {
            return Err(err(
                format!("{sp}.scaling_adjustment"),
                format!(
                    "{adj} goes the wrong way for a scale-{} policy",
                    if scale_out { "out" } else { "in" }
                ),
            ));
        }
        // The steps live on the breaching side of the threshold.
        if scale_out && s.lower_bound.is_none_or(|v| v < 0.0) {
            return Err(err(
                format!("{sp}.lower_bound"),
                "a scale-out step must have lower_bound >= 0 (above the threshold)",
            ));
        }
        if !scale_out && s.upper_bound.is_none_or(|v| v > 0.0) {
            return Err(err(
                format!("{sp}.upper_bound"),
                "a scale-in step must have upper_bound <= 0 (below the threshold)",
            ));
        }
    }
    // No overlaps, no gaps: sorted by lower bound, each upper meets the next lower.
    let mut order: Vec<usize> = (0..p.steps.len()).collect();
    order.sort_by(|&a, &b| {
        let lo = |i: usize| p.steps[i].lower_bound.unwrap_or(f64::NEG_INFINITY);
        lo(a).total_cmp(&lo(b))
    });
    for w in order.windows(2) {
        let (a, b) = (&p.steps[w[0]], &p.steps[w[1]]);
        let (a_hi, b_lo) = (a.upper_bound, b.lower_bound);
        let a_hi = a_hi.unwrap_or(f64::INFINITY);
        let b_lo = b_lo.unwrap_or(f64::NEG_INFINITY);
        if a_hi > b_lo {
            return Err(err(
                format!("{path}.steps[{}].lower_bound", w[1]),
                format!("{b_lo} overlaps steps[{}] (which ends at {a_hi})", w[0]),
            ));
        }
        if a_hi < b_lo {
            return Err(err(
                format!("{path}.steps[{}].lower_bound", w[1]),
                format!(
                    "{b_lo} leaves a gap after steps[{}] (which ends at {a_hi})",
                    w[0]
                ),
            ));
        }
    }
    // The breach must always find a step: scale-out steps reach +∞ and start at the
    // threshold; scale-in steps reach −∞ and end at it.
    let first = &p.steps[order[0]];
    let last = &p.steps[order[order.len() - 1]];
    if scale_out {
        if last.upper_bound.is_some() {
            return Err(err(
                format!("{path}.steps[{}].upper_bound", order[order.len() - 1]),
                "the highest scale-out step must omit upper_bound (+∞)",
            ));
        }
        if first.lower_bound != Some(0.0) {
            return Err(err(
                format!("{path}.steps[{}].lower_bound", order[0]),
                "the lowest scale-out step must start at the threshold (lower_bound = 0)",
            ));
        }
    } else {
        if first.lower_bound.is_some() {
            return Err(err(
                format!("{path}.steps[{}].lower_bound", order[0]),
                "the lowest scale-in step must omit lower_bound (−∞)",
            ));
        }
        if last.upper_bound != Some(0.0) {
            return Err(err(
                format!("{path}.steps[{}].upper_bound", order[order.len() - 1]),
                "the highest scale-in step must end at the threshold (upper_bound = 0)",
            ));
        }
    }
    Ok(())
}
