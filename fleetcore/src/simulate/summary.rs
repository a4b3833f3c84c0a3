//! What a run amounts to: the summary figures and oscillation detection. Pure. (The text
//! table, one column per run, is the controller's: `controller::simulate::text`.)

use serde::Serialize;

use super::baseline::Model;
use super::engine::{Row, SimParams};
use super::scores::{ScoreSample, Scores, score};
use super::trace::Trace;
use crate::core_config::CoreConfig;
use crate::policy::Action;

/// The figures of one run (`--json` prints these).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub config: String,
    /// Who decided: `controller`, `native`, `aws-target-tracking` or `hpa`.
    pub model: String,
    pub trace: String,
    pub duration_s: f64,
    pub tick_ms: u64,
    pub boot_s: f64,
    pub warmup_s: f64,
    pub peak_users: u64,
    /// Users per serving (`InService`) instance, over the ticks that had one.
    pub peak_users_per_instance: Option<f64>,
    pub p95_users_per_instance: Option<f64>,
    /// The scale-out alarm's metric and threshold.
    pub metric: String,
    pub scale_out_threshold: f64,
    pub scale_in_threshold: f64,
    /// Time the scale-out metric breached its threshold (ticks × tick).
    pub seconds_above_scale_out_threshold: f64,
    /// Time with users but no instance in service.
    pub seconds_without_capacity: f64,
    pub instance_minutes: f64,
    pub peak_instances: u32,
    pub scale_outs: u32,
    pub scale_ins: u32,
    pub scaling_actions: u32,
    /// Scale-out → scale-in → scale-out within `oscillation_window_s`.
    pub oscillations: u32,
    pub oscillation_window_s: f64,
    /// Users per instance the scores measure demand with (`d = users / this`).
    pub target_users_per_instance: f64,
    /// SLO-minutes count minutes with users per serving instance above this.
    pub slo_users_per_instance: f64,
    /// The elasticity scores (see `scores`).
    pub scores: Scores,
}

/// Counts oscillations in `(time_ms, action)` (actions that changed the capacity): a
/// scale-out, then a scale-in, then a scale-out again, the whole within `window_ms`. Runs
/// of the same direction count as one move; each out → in → out counts once, and the
/// closing scale-out may open the next one.
pub fn oscillations(actions: &[(u64, Action)], window_ms: u64) -> u32 {
    // Collapse into runs: (direction, first time, last time).
    let mut runs: Vec<(Action, u64, u64)> = Vec::new();
    for &(t, a) in actions.iter().filter(|(_, a)| *a != Action::None) {
        match runs.last_mut() {
            Some(r) if r.0 == a => r.2 = t,
            _ => runs.push((a, t, t)),
        }
    }
    runs.windows(3)
        .filter(|w| {
            w[0].0 == Action::ScaleOut
                && w[1].0 == Action::ScaleIn
                && w[2].0 == Action::ScaleOut
                && w[2].1 - w[0].2 <= window_ms
        })
        .count() as u32
}

/// The `q` quantile (0..=1) of `values` (nearest rank).
fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

/// The rows as the scores need them.
pub fn score_samples(rows: &[Row]) -> Vec<ScoreSample> {
    rows.iter()
        .map(|r| ScoreSample {
            t_ms: r.t_ms,
            users: r.users as f64,
            serving: r.in_service,
            desired: r.desired,
            running: r.running,
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub fn summarize(
    label: &str,
    model: Model,
    config: &CoreConfig,
    trace: &Trace,
    rows: &[Row],
    instance_ms: u64,
    tick_ms: u64,
    p: &SimParams,
) -> Summary {
    let alarm = config.policies.scale_out().alarm();
    let tick_s = tick_ms as f64 / 1000.0;
    let mut per: Vec<f64> = rows.iter().filter_map(|r| r.users_per_instance).collect();
    let peak_per = per.iter().copied().reduce(f64::max);
    let p95 = quantile(&mut per, 0.95);
    let above = rows
        .iter()
        .filter(|r| {
            r.metric
                .is_some_and(|v| alarm.comparison.breaches(v, alarm.threshold))
        })
        .count();
    let without = rows
        .iter()
        .filter(|r| r.users > 0 && r.in_service == 0)
        .count();
    let actions: Vec<(u64, Action)> = rows.iter().map(|r| (r.t_ms, r.action)).collect();
    let count = |a: Action| rows.iter().filter(|r| r.action == a).count() as u32;
    let (outs, ins) = (count(Action::ScaleOut), count(Action::ScaleIn));
    Summary {
        config: label.into(),
        model: model.name().into(),
        trace: trace.name.clone(),
        duration_s: trace.end_ms() as f64 / 1000.0,
        tick_ms,
        boot_s: p.model.boot_ms as f64 / 1000.0,
        warmup_s: config.policies.warmup_ms() as f64 / 1000.0,
        peak_users: trace.peak(),
        peak_users_per_instance: peak_per,
        p95_users_per_instance: p95,
        metric: alarm.metric.as_str().into(),
        scale_out_threshold: alarm.threshold,
        scale_in_threshold: config.policies.scale_in().alarm().threshold,
        seconds_above_scale_out_threshold: above as f64 * tick_s,
        seconds_without_capacity: without as f64 * tick_s,
        instance_minutes: instance_ms as f64 / 60_000.0,
        peak_instances: rows
            .iter()
            .map(|r| r.desired.max(r.in_service))
            .max()
            .unwrap_or(0),
        scale_outs: outs,
        scale_ins: ins,
        scaling_actions: outs + ins,
        oscillations: oscillations(&actions, p.oscillation_window_ms),
        oscillation_window_s: p.oscillation_window_ms as f64 / 1000.0,
        target_users_per_instance: p.score.target_users_per_instance,
        slo_users_per_instance: p.score.slo_users_per_instance,
        scores: score(&score_samples(rows), &p.score),
    }
}
