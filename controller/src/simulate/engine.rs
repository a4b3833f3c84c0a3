//! The simulation loop: a trace, a validated config and a fleet model → one [`Run`].
//!
//! Each simulated tick does what `daemon::tick_once` does, minus the I/O: the fleet moves
//! along (boot, drain), in-service instances send their load reports into a [`ReportBook`],
//! the SAME [`Reconciler::step`] the daemon calls aggregates and decides, the book forgets
//! gone instances, and the decided capacity is applied to the simulated group. Pure and
//! deterministic: the same inputs give the same run.

use proto::DecisionRecord;
use serde::Serialize;

use super::fleet::{ModelParams, SimFleet};
use super::summary::{Summary, summarize};
use super::trace::Trace;
use crate::aggregate::ReportBook;
use crate::config::Config;
use crate::policy::{Action, Reason};
use crate::tick::{Reconciler, sample_of};

/// The simulated clock starts here (Unix ms), a day in, so the initial instances have been
/// in service (and warm) long before the trace starts.
pub const EPOCH_MS: u64 = 86_400_000;

/// What a simulation needs besides the config and the trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimParams {
    pub model: ModelParams,
    /// Overrides the policies' `estimated_instance_warmup_secs` (ms).
    pub warmup_ms: Option<u64>,
    /// Out → in → out within this window is an oscillation.
    pub oscillation_window_ms: u64,
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            model: ModelParams::default(),
            warmup_ms: None,
            oscillation_window_ms: 600_000,
        }
    }
}

/// One simulated tick, for charts and the CSV timeline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Row {
    /// Since the trace start.
    pub t_ms: u64,
    pub users: u64,
    /// After this tick's decision.
    pub desired: u32,
    /// `InService` (warming included) when the tick observed the fleet.
    pub in_service: u32,
    pub pending: u32,
    /// Users each serving instance has (`users / in_service`); `None` without one.
    pub users_per_instance: Option<f64>,
    /// The scale-out alarm's metric as the policy engine saw it.
    pub metric: Option<f64>,
    pub action: Action,
    /// Why the policy engine decided as it did.
    pub reason: Reason,
}

/// A finished simulation.
#[derive(Debug, Clone)]
pub struct Run {
    /// The config's name (file stem), shown in summaries.
    pub label: String,
    pub config: Config,
    pub rows: Vec<Row>,
    /// Decisions that changed the capacity (with `applied = true`).
    pub actions: Vec<DecisionRecord>,
    pub summary: Summary,
}

/// Replays `trace` through `config`'s policies.
pub fn simulate(label: &str, config: &Config, trace: &Trace, p: &SimParams) -> Run {
    let mut config = config.clone();
    if let Some(w) = p.warmup_ms {
        let secs = w as f64 / 1000.0;
        config.policies.scale_out.estimated_instance_warmup_secs = secs;
        config.policies.scale_in.estimated_instance_warmup_secs = secs;
    }
    let mut rec = Reconciler::from_config(&config, "simulate", None);
    let g = &config.group;
    let desired = g.desired_capacity.unwrap_or(g.min_size);
    let mut fleet = SimFleet::new(
        &g.name,
        (g.min_size, g.max_size, desired),
        p.model,
        trace.peak(),
        EPOCH_MS,
    );
    let mut book = ReportBook::new();
    let tick_ms = (config.tick.as_millis() as u64).max(1);
    let metric = config.policies.scale_out.alarm.metric;
    let end = trace.end_ms();
    let mut rows = Vec::with_capacity((end / tick_ms + 1) as usize);
    let mut actions = Vec::new();
    let mut t = 0;
    while t <= end {
        let now = EPOCH_MS + t;
        fleet.advance(now);
        let users = trace.users_at(t);
        fleet.report(&mut book, users, now);
        let snapshot = fleet.snapshot();
        let (in_service, pending, _) = fleet.counts();
        let out = rec.step(&snapshot, &book, now);
        if fleet.take_removed() {
            book.retain_known(&snapshot);
        }
        let d = &out.decision;
        if d.changes_capacity() {
            fleet.set_desired(d.capacity_after, now);
            let mut r = out.record.clone();
            r.applied = Some(true);
            actions.push(r);
        }
        rows.push(Row {
            t_ms: t,
            users,
            desired: fleet.desired(),
            in_service,
            pending,
            users_per_instance: (in_service > 0).then(|| users as f64 / f64::from(in_service)),
            metric: sample_of(&out.metrics).get(metric),
            action: if d.changes_capacity() {
                d.action
            } else {
                Action::None
            },
            reason: d.reason,
        });
        t += tick_ms;
    }
    let instance_ms = fleet.instance_ms(EPOCH_MS + end);
    let summary = summarize(label, &config, trace, &rows, instance_ms, tick_ms, p);
    Run {
        label: label.into(),
        config,
        rows,
        actions,
        summary,
    }
}
