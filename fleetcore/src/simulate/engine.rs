//! The simulation loop: a trace, a validated config and a fleet model → one [`Run`].
//!
//! Each simulated tick does what `daemon::tick_once` does, minus the I/O: the fleet moves
//! along (boot, drain), in-service instances send their load reports into a [`ReportBook`],
//! the SAME [`Reconciler::step`] the daemon calls aggregates and decides, the book forgets
//! gone instances, and the decided capacity is applied to the simulated group. Pure and
//! deterministic: the same inputs give the same run.

use proto::DecisionRecord;
use serde::Serialize;

use super::baseline::{Baseline, Hpa, Model, TargetTracking, View};
use super::fleet::{ModelParams, SimFleet};
use super::native::Native;
use super::scores::ScoreParams;
use super::summary::{Summary, summarize};
use super::trace::Trace;
use crate::aggregate::ReportBook;
use crate::core_config::CoreConfig;
use crate::policy::{Action, Reason};
use crate::tick::{Reconciler, TickOutcome, sample_of};

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
    /// What the scores measure against; the baselines track
    /// `target_users_per_instance` too.
    pub score: ScoreParams,
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            model: ModelParams::default(),
            warmup_ms: None,
            oscillation_window_ms: 600_000,
            score: ScoreParams {
                target_users_per_instance: 50.0,
                slo_users_per_instance: 50.0,
            },
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
    /// Instances running at all (pending, in service, draining): what is billed.
    pub running: u32,
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
    /// The config's name (file stem) or the baseline's, shown in summaries.
    pub label: String,
    pub model: Model,
    pub config: CoreConfig,
    pub rows: Vec<Row>,
    /// Decisions that changed the capacity (with `applied = true`).
    pub actions: Vec<DecisionRecord>,
    pub summary: Summary,
}

/// The simulation state between ticks: the daemon's tick core, the simulated group and the
/// report book. [`simulate`] steps it at a fixed tick; tests can step it at any times.
#[derive(Debug, Clone)]
pub struct Simulator {
    config: CoreConfig,
    rec: Reconciler,
    /// `None`: the controller's own decisions (the tick core's); else a baseline's.
    baseline: Option<Baseline>,
    model: Model,
    fleet: SimFleet,
    book: ReportBook,
    rows: Vec<Row>,
    actions: Vec<DecisionRecord>,
}

impl Simulator {
    /// A group as `config` starts it (desired = `group.desired_capacity` or min), warm, at
    /// `start_ms`. `peak_users` bounds the users the trace will bring.
    pub fn new(
        config: impl Into<CoreConfig>,
        p: &SimParams,
        peak_users: u64,
        start_ms: u64,
    ) -> Simulator {
        Simulator::with_model(config, Model::Controller, p, peak_users, start_ms)
    }

    /// As [`Simulator::new`], with `model` deciding the capacity (the tick core still
    /// aggregates the reports: every model sees the same figures).
    pub fn with_model(
        config: impl Into<CoreConfig>,
        model: Model,
        p: &SimParams,
        peak_users: u64,
        start_ms: u64,
    ) -> Simulator {
        let mut config: CoreConfig = config.into();
        if let Some(w) = p.warmup_ms {
            config.policies = config.policies.with_warmup_ms(w);
        }
        let rec = Reconciler::from_config(&config, "simulate", None);
        let target = p.score.target_users_per_instance;
        let baseline = match model {
            Model::Controller => None,
            Model::Native => Some(Baseline::Native(Box::new(Native::new(&config.policies)))),
            Model::TargetTracking => Some(Baseline::TargetTracking(TargetTracking::new(target))),
            Model::Hpa => Some(Baseline::Hpa(Hpa::new(target))),
        };
        let g = &config.group;
        let desired = g.desired_capacity().unwrap_or(g.min_size());
        let fleet = SimFleet::new(
            g.name(),
            (g.min_size(), g.max_size(), desired),
            p.model,
            peak_users,
            start_ms,
        );
        Simulator {
            config,
            rec,
            baseline,
            model,
            fleet,
            book: ReportBook::new(),
            rows: Vec::new(),
            actions: Vec::new(),
        }
    }

    /// The simulated group (tests drive the live loop against it too).
    pub fn fleet_mut(&mut self) -> &mut SimFleet {
        &mut self.fleet
    }

    /// One tick at `now_ms` with `users` on the fleet: the group moves along, in-service
    /// instances report, the tick core decides, the group applies the decision.
    pub fn tick(&mut self, t_ms: u64, now_ms: u64, users: u64) -> TickOutcome {
        self.observe(now_ms, users);
        self.decide(t_ms, now_ms, now_ms, users)
    }

    /// The first half of a tick: the group moves along to `now_ms` and its in-service
    /// instances report `users` into the book.
    pub fn observe(&mut self, now_ms: u64, users: u64) {
        self.fleet.advance(now_ms);
        self.fleet.report(&mut self.book, users, now_ms);
    }

    /// The second half of a tick: decide at `decide_ms` with what the book holds, apply the
    /// decision to the group at `apply_ms`.
    pub fn decide(&mut self, t_ms: u64, apply_ms: u64, decide_ms: u64, users: u64) -> TickOutcome {
        let snapshot = self.fleet.snapshot();
        let (in_service, pending, terminating) = self.fleet.counts();
        let mut out = self.rec.step(&snapshot, &mut self.book, decide_ms);
        if self.fleet.take_removed() {
            self.book.retain_known(&snapshot);
        }
        if let Some(b) = &mut self.baseline {
            let view = View {
                now_ms: decide_ms,
                fleet: self.rec.fleet_state(&snapshot, &out.metrics),
                serving: in_service,
                pending,
                sample: sample_of(&out.metrics),
            };
            out.decision = b.decide(&view);
            out.record = out.decision.to_record(out.tick, decide_ms);
        }
        let d = &out.decision;
        let changed = d.changes_capacity();
        if changed {
            self.fleet.set_desired(d.capacity_after, apply_ms);
            let mut r = out.record.clone();
            r.applied = Some(true);
            self.actions.push(r);
        }
        let metric = self.config.policies.scale_out().alarm().metric;
        self.rows.push(Row {
            t_ms,
            users,
            desired: self.fleet.desired(),
            in_service,
            pending,
            running: in_service + pending + terminating,
            users_per_instance: (in_service > 0).then(|| users as f64 / f64::from(in_service)),
            metric: sample_of(&out.metrics).get(metric),
            action: if changed { d.action } else { Action::None },
            reason: d.reason,
        });
        out
    }

    /// The run so far, summarised up to `end_ms` (simulated clock) of `trace`.
    pub fn finish(self, label: &str, trace: &Trace, end_ms: u64, p: &SimParams) -> Run {
        let tick_ms = (self.config.tick.as_millis() as u64).max(1);
        let instance_ms = self.fleet.instance_ms(end_ms);
        let summary = summarize(
            label,
            self.model,
            &self.config,
            trace,
            &self.rows,
            instance_ms,
            tick_ms,
            p,
        );
        Run {
            label: label.into(),
            model: self.model,
            config: self.config,
            rows: self.rows,
            actions: self.actions,
            summary,
        }
    }
}

/// Replays `trace` through `config`'s policies, one tick every `config.tick`.
pub fn simulate(label: &str, config: impl Into<CoreConfig>, trace: &Trace, p: &SimParams) -> Run {
    simulate_model(label, config, Model::Controller, trace, p)
}

/// Replays `trace` with `model` deciding, on `config`'s group, tick and policies.
pub fn simulate_model(
    label: &str,
    config: impl Into<CoreConfig>,
    model: Model,
    trace: &Trace,
    p: &SimParams,
) -> Run {
    let config: CoreConfig = config.into();
    let tick_ms = (config.tick.as_millis() as u64).max(1);
    let mut sim = Simulator::with_model(config, model, p, trace.peak(), EPOCH_MS);
    let end = trace.end_ms();
    sim.rows.reserve((end / tick_ms + 1) as usize);
    let mut t = 0;
    while t <= end {
        sim.tick(t, EPOCH_MS + t, trace.users_at(t));
        t += tick_ms;
    }
    sim.finish(label, trace, EPOCH_MS + end, p)
}
