//! Elasticity scores of one run: pure functions over a (time, demand, supply) series.
//!
//! Definitions (the research community's, so runs compare with published autoscaler studies):
//! N. Herbst, A. Bauer, S. Kounev et al., "Ready for Rain? A View from SPEC Research on the
//! Future of Cloud Metrics", SPEC RG technical report SPEC-RG-2016-01 (2016), and
//! A. Ilyushkin, A. Ali-Eldin, N. Herbst et al., "An Experimental Performance Evaluation of
//! Autoscalers for Complex Workflows", ACM TOMPECS 3(2), 2018.
//!
//! Each sample `i` holds from its time `t_i` until the next sample's (`Δt_i`); the last one
//! ends the series, so `T = t_last − t_first`. With `d_i` = ⌈users / the per-instance
//! target⌉ (the demand: the fewest instances that serve the users within the target, in
//! resource units as SPEC RG defines it) and `s_i` = instances serving (in service, warming
//! ones included: the balancer sends them traffic):
//!
//! | score | formula |
//! |---|---|
//! | θU, under-provisioning accuracy (%) | `100/T · Σ (d−s)⁺/d · Δt` |
//! | θO, over-provisioning accuracy (%) | `100/T · Σ (s−d)⁺/d · Δt` |
//! | τU, under-provisioning timeshare (%) | `100/T · Σ [s < d] · Δt` |
//! | τO, over-provisioning timeshare (%) | `100/T · Σ [s > d] · Δt` |
//! | instability (%) | share of the steps `i−1 → i` where `s` and `d` move in opposite directions |
//! | capacity changes | steps where the desired capacity changed |
//! | instance-hours | `Σ running · Δt` (pending, serving and draining instances: what is billed) |
//! | SLO-minutes lost | minutes (from the first sample) in which some sample had users per serving instance above the ceiling, or users and nothing serving |
//!
//! A sample with `d = 0` adds nothing to θU and θO (the ratio is undefined there); it still
//! counts in `T`, and in τO when something serves. Reaction time: from the first breach, the
//! first sample with users per serving instance at or above the target (`users ≥ target × s`,
//! as a `>=` scale-out alarm on the target sees it), to the first sample from there whose
//! desired capacity is above the one before the breach (decided), and to the first whose
//! serving count is above the breach's (capacity added).

use serde::Serialize;

/// One point of a run, as the scores need it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreSample {
    pub t_ms: u64,
    pub users: f64,
    /// Instances serving traffic (`s`).
    pub serving: u32,
    /// The group's desired capacity after this sample's decision.
    pub desired: u32,
    /// Instances running at all (billed): pending, serving, draining.
    pub running: u32,
}

/// What the scores are measured against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreParams {
    /// Users one instance should serve: `d = users / target`.
    pub target_users_per_instance: f64,
    /// Users per serving instance above this lose the minute (SLO-minutes).
    pub slo_users_per_instance: f64,
}

/// The scores of one run (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    pub theta_u: f64,
    pub theta_o: f64,
    pub tau_u: f64,
    pub tau_o: f64,
    pub instability: f64,
    pub capacity_changes: u32,
    pub instance_hours: f64,
    pub slo_minutes_lost: u32,
    /// Seconds from the start to the first breach (`users ≥ target × s`, with users).
    pub first_breach_s: Option<f64>,
    /// First breach → desired capacity raised, seconds.
    pub reaction_decided_s: Option<f64>,
    /// First breach → more instances serving, seconds.
    pub reaction_serving_s: Option<f64>,
}

/// `⌈users / target⌉` (a hair of tolerance, so 30 / 10 is 3 whatever the rounding).
fn demand(s: &ScoreSample, p: &ScoreParams) -> f64 {
    (s.users / p.target_users_per_instance - 1e-9)
        .ceil()
        .max(0.0)
}

/// `(sample, Δt in ms)` pairs: each sample with the time until the next one.
fn spans(samples: &[ScoreSample]) -> impl Iterator<Item = (&ScoreSample, f64)> {
    samples
        .windows(2)
        .map(|w| (&w[0], w[1].t_ms.saturating_sub(w[0].t_ms) as f64))
}

fn total_ms(samples: &[ScoreSample]) -> f64 {
    match (samples.first(), samples.last()) {
        (Some(a), Some(b)) => b.t_ms.saturating_sub(a.t_ms) as f64,
        _ => 0.0,
    }
}

/// `100/T · Σ f(d, s) · Δt`; 0 for a series shorter than one step.
fn time_share(samples: &[ScoreSample], p: &ScoreParams, f: impl Fn(f64, f64) -> f64) -> f64 {
    let t = total_ms(samples);
    if t <= 0.0 {
        return 0.0;
    }
    let sum: f64 = spans(samples)
        .map(|(x, dt)| f(demand(x, p), f64::from(x.serving)) * dt)
        .sum();
    100.0 * sum / t
}

/// θU (%): `100/T · Σ (d−s)⁺/d · Δt`.
pub fn theta_u(samples: &[ScoreSample], p: &ScoreParams) -> f64 {
    time_share(
        samples,
        p,
        |d, s| if d > 0.0 { (d - s).max(0.0) / d } else { 0.0 },
    )
}

/// θO (%): `100/T · Σ (s−d)⁺/d · Δt`.
pub fn theta_o(samples: &[ScoreSample], p: &ScoreParams) -> f64 {
    time_share(
        samples,
        p,
        |d, s| if d > 0.0 { (s - d).max(0.0) / d } else { 0.0 },
    )
}

/// τU (%): the share of time with `s < d`.
pub fn tau_u(samples: &[ScoreSample], p: &ScoreParams) -> f64 {
    time_share(samples, p, |d, s| f64::from(u8::from(s < d)))
}

/// τO (%): the share of time with `s > d`.
pub fn tau_o(samples: &[ScoreSample], p: &ScoreParams) -> f64 {
    time_share(samples, p, |d, s| f64::from(u8::from(s > d)))
}

/// Instability (%): the share of steps where supply and demand move in opposite directions.
pub fn instability(samples: &[ScoreSample], p: &ScoreParams) -> f64 {
    if samples.len() < 2 {
        return 0.0;
    }
    let opposite = samples
        .windows(2)
        .filter(|w| {
            let ds = i64::from(w[1].serving) - i64::from(w[0].serving);
            let dd = demand(&w[1], p) - demand(&w[0], p);
            (ds > 0 && dd < 0.0) || (ds < 0 && dd > 0.0)
        })
        .count();
    100.0 * opposite as f64 / (samples.len() - 1) as f64
}

/// Steps where the desired capacity changed.
pub fn capacity_changes(samples: &[ScoreSample]) -> u32 {
    samples
        .windows(2)
        .filter(|w| w[1].desired != w[0].desired)
        .count() as u32
}

/// `Σ running · Δt`, in hours.
pub fn instance_hours(samples: &[ScoreSample]) -> f64 {
    spans(samples)
        .map(|(x, dt)| f64::from(x.running) * dt)
        .sum::<f64>()
        / 3_600_000.0
}

/// Minutes (counted from the first sample) in which a sample that holds for some time had
/// users per serving instance above the ceiling, or users and nothing serving.
pub fn slo_minutes_lost(samples: &[ScoreSample], p: &ScoreParams) -> u32 {
    let Some(t0) = samples.first().map(|s| s.t_ms) else {
        return 0;
    };
    let mut lost = 0;
    let mut last_minute = None;
    for (x, dt) in spans(samples) {
        let over = x.users > 0.0
            && (x.serving == 0 || x.users / f64::from(x.serving) > p.slo_users_per_instance);
        if !over || dt <= 0.0 {
            continue;
        }
        // Every minute this sample's span touches.
        let first = (x.t_ms - t0) / 60_000;
        let last = (x.t_ms - t0 + dt as u64 - 1) / 60_000;
        for m in first..=last {
            if last_minute.is_none_or(|l| m > l) {
                lost += 1;
                last_minute = Some(m);
            }
        }
    }
    lost
}

/// `(first breach, → desired raised, → serving raised)` in seconds (see the module docs).
pub fn reaction(
    samples: &[ScoreSample],
    p: &ScoreParams,
) -> (Option<f64>, Option<f64>, Option<f64>) {
    let t0 = samples.first().map_or(0, |s| s.t_ms);
    let Some(k) = samples.iter().position(|x| {
        x.users > 0.0 && x.users >= p.target_users_per_instance * f64::from(x.serving)
    }) else {
        return (None, None, None);
    };
    let b = samples[k];
    let after = |f: &dyn Fn(&ScoreSample) -> bool| {
        samples[k..]
            .iter()
            .find(|x| f(x))
            .map(|x| (x.t_ms - b.t_ms) as f64 / 1000.0)
    };
    let before_desired = if k > 0 {
        samples[k - 1].desired
    } else {
        b.serving
    };
    (
        Some((b.t_ms - t0) as f64 / 1000.0),
        after(&|x| x.desired > before_desired),
        after(&|x| x.serving > b.serving),
    )
}

/// Every score of `samples`.
pub fn score(samples: &[ScoreSample], p: &ScoreParams) -> Scores {
    let (first_breach_s, reaction_decided_s, reaction_serving_s) = reaction(samples, p);
    Scores {
        theta_u: theta_u(samples, p),
        theta_o: theta_o(samples, p),
        tau_u: tau_u(samples, p),
        tau_o: tau_o(samples, p),
        instability: instability(samples, p),
        capacity_changes: capacity_changes(samples),
        instance_hours: instance_hours(samples),
        slo_minutes_lost: slo_minutes_lost(samples, p),
        first_breach_s,
        reaction_decided_s,
        reaction_serving_s,
    }
}

#[cfg(test)]
#[path = "scores_tests.rs"]
mod tests;
