//! Lookahead: an optional scale-out input that projects the users per instance one warmup
//! ahead from the recent trend, so a ramp finds capacity already serving. Off by default
//! (`[policies.lookahead]` absent). Pure: time is an argument.
//!
//! Each tick with fresh figures, the fleet's users go into a [`Trend`] (the samples of the
//! last `window_secs`, at most [`MAX_SAMPLES`]). The projection is a least-squares line
//! through them: `users + slope × horizon`, with the slope floored at 0 (a falling trend
//! projects today's users: lookahead never scales in) and the result capped at
//! `max_growth × users` (a bounded fit: one noisy window cannot ask for an unbounded fleet).
//! Divided by the desired capacity (everything launched serves by then), it is compared with
//! the scale-out alarm's threshold; on a breach the scale-out policy's step for the
//! projected value is applied to the desired capacity. It only ever adds capacity, and only
//! when the policies themselves changed nothing this tick.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::decide::{apply_adjustment, num};
use super::decision::{Action, Decision, Reason};
use super::policies::StepPolicy;

/// Samples kept at most (a 1 h window at a 1 s tick is 3,600: this bounds memory and work).
pub const MAX_SAMPLES: usize = 4_096;

/// `[policies.lookahead]`: see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookahead {
    /// The trend is fitted over the users of the last this many seconds.
    #[serde(default = "default_window")]
    pub window_secs: f64,
    /// How far ahead to project: from a launch until the instance counts (boot + the
    /// estimated instance warmup) [default: the scale-out policy's warmup].
    #[serde(default)]
    pub horizon_secs: Option<f64>,
    /// The projection is at most this many times today's users.
    #[serde(default = "default_growth")]
    pub max_growth: f64,
}

fn default_window() -> f64 {
    60.0
}

fn default_growth() -> f64 {
    2.0
}

impl Lookahead {
    /// The horizon in ms, given the scale-out policy (its warmup is the default).
    pub fn horizon_ms(&self, scale_out: &StepPolicy) -> u64 {
        let secs = self
            .horizon_secs
            .unwrap_or(scale_out.estimated_instance_warmup_secs());
        (secs.max(0.0) * 1000.0).round() as u64
    }
}

/// The recent users, for the fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    window_ms: u64,
    samples: VecDeque<(u64, f64)>,
}

/// A projection and what it rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    pub users: f64,
    /// Users per second (≥ 0).
    pub slope: f64,
    pub horizon_ms: u64,
    pub projected: f64,
    pub samples: usize,
}

impl Trend {
    pub fn new(l: &Lookahead) -> Trend {
        Trend {
            window_ms: (l.window_secs.max(0.0) * 1000.0).round() as u64,
            samples: VecDeque::new(),
        }
    }

    /// Adds the users seen at `now_ms` and forgets samples older than the window.
    pub fn observe(&mut self, now_ms: u64, users: f64) {
        if !users.is_finite() || self.samples.back().is_some_and(|s| s.0 >= now_ms) {
            return;
        }
        self.samples.push_back((now_ms, users));
        while self.samples.len() > MAX_SAMPLES
            || self
                .samples
                .front()
                .is_some_and(|s| s.0 + self.window_ms < now_ms)
        {
            self.samples.pop_front();
        }
    }

    /// The users `horizon_ms` after the newest sample (see the module docs); `None` with
    /// fewer than three samples.
    pub fn project(&self, horizon_ms: u64, max_growth: f64) -> Option<Projection> {
        let &(t_last, users) = self.samples.back()?;
        if self.samples.len() < 3 {
            return None;
        }
        let n = self.samples.len() as f64;
        let x = |t: u64| (t as f64 - t_last as f64) / 1000.0;
        let mx = self.samples.iter().map(|s| x(s.0)).sum::<f64>() / n;
        let my = self.samples.iter().map(|s| s.1).sum::<f64>() / n;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for &(t, u) in &self.samples {
            sxy += (x(t) - mx) * (u - my);
            sxx += (x(t) - mx) * (x(t) - mx);
        }
        let slope = if sxx > 0.0 { (sxy / sxx).max(0.0) } else { 0.0 };
        let ahead = users + slope * horizon_ms as f64 / 1000.0;
        Some(Projection {
            users,
            slope,
            horizon_ms,
            projected: ahead.min(users * max_growth.max(1.0)),
            samples: self.samples.len(),
        })
    }
}

/// The lookahead's scale-out for `d` (a decision that changed nothing), or `d` as it was.
/// `desired` and `max` are the group's; `p` from [`Trend::project`].
pub fn apply(policy: &StepPolicy, p: &Projection, max: u32, d: Decision) -> Decision {
    let before = d.capacity_before;
    let held = matches!(
        d.reason,
        Reason::StaleData | Reason::NoData | Reason::OutOfBounds | Reason::Settling
    );
    if before == 0 || d.action != Action::None || held {
        return d;
    }
    let per = p.projected / f64::from(before);
    let a = policy.alarm();
    if !a.comparison.breaches(per, a.threshold) {
        return d;
    }
    let Some(step) = policy.step_for(per) else {
        return d;
    };
    let target = apply_adjustment(policy, step, before).clamp(0, i64::from(max)) as u32;
    if target <= before {
        return d;
    }
    let label = step.label(policy.adjustment_type());
    Decision {
        action: Action::ScaleOut,
        reason: Reason::Scaled,
        policy: Some(format!("{} (lookahead)", policy.name())),
        metric_value: Some(per),
        threshold: Some(a.threshold),
        step: Some(*step),
        step_label: Some(label.clone()),
        adjustment: Some(i64::from(target) - i64::from(before)),
        capacity_after: target,
        explanation: format!(
            "lookahead: {} users rising {}/s (fit over {} samples) → {} in {} s = {} per \
             instance on the {before} desired {} {}: step {label} → desired {before} → {target} \
             (the policies alone: {})",
            num(p.users),
            num(p.slope),
            p.samples,
            num(p.projected),
            num(p.horizon_ms as f64 / 1000.0),
            num(per),
            a.comparison.symbol(),
            num(a.threshold),
            d.explanation
        ),
        ..d
    }
}

#[cfg(test)]
#[path = "lookahead_tests.rs"]
mod tests;
