//! The pure per-tick core: [`Reconciler::step`] = aggregate → decide, with everything the
//! daemon needs to publish, apply and record.
//!
//! Both the daemon (`controller::daemon::tick_once`, live) and the simulator
//! (`crate::simulate`, a replayed trace) drive THIS code, so a simulation shows exactly what
//! the live controller would do. The order of a tick: observe → aggregate → decide (here)
//! → publish and apply (side by side) → record:
//!
//! ```text
//! let mut rec = Reconciler::new(policies, settings);       // once
//! loop {                                                   // every tick
//!     let snapshot = fleet.describe().await?;               // observe      (caller, I/O)
//!     let out = rec.step(&snapshot, &mut book, now_ms);     // rates, aggregate + decide (pure)
//!     join!(sink.publish(&out.data),                        // publish      (caller, I/O)
//!           fleet.set_desired_capacity(..));                // apply, when the decision
//!                                                           //   changes capacity (caller, I/O)
//!     history.push(out.record);                             // record       (caller)
//! }
//! ```
//!
//! Invariants: no I/O, no clock (`now_ms` is an argument), no async. The reconciler's only
//! memory is the tick counter, the policy engine's alarm history, the settling hold and,
//! with `[policies.lookahead]`, the recent users the trend is fitted on (so the daemon and
//! the simulator both run the lookahead).
//!
//! Lookahead: after the policies and the holds have decided, a tick that changes nothing
//! may still scale out on the users projected one horizon ahead (`policy::lookahead`).
//!
//! Data quality: the policy engine sees a stale sample (and does nothing) when in-service
//! instances exist but none sent a fresh report. When only SOME in-service instances lack
//! a fresh report, the figures of the others still drive a scale-out, but a scale-in is
//! held (reason `stale_data`): missing data never removes capacity.

use proto::{
    DecisionRecord, FleetTotals, GroupStatus, InstanceStatus, Lifecycle, MetricPoint,
    PolicySummary, Status,
};

use crate::aggregate::{AggregateParams, FleetMetrics, ReportBook, aggregate};
use crate::core_config::CoreConfig;
use crate::metrics::{Datum, encode};
use crate::policy::{
    Action, Alarms, Decision, FleetState, MetricName, MetricSample, Policies, Reason, Trend,
    apply_lookahead, evaluate,
};
use crate::snapshot::GroupSnapshot;

/// What the reconciler needs besides the policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcilerSettings {
    /// The controller's bounds (intersected with the group's own at each tick).
    pub min_size: u32,
    pub max_size: u32,
    pub tick_ms: u64,
    /// Reports received longer ago are stale.
    pub stale_after_ms: u64,
    /// Encode `ConcurrentUsers` per instance too.
    pub per_instance_metrics: bool,
    /// Shown in the status: `local`, `aws`, `simulate`…
    pub provider: String,
    pub endpoint: Option<String>,
}

/// The result of one tick.
#[derive(Debug, Clone)]
pub struct TickOutcome {
    /// 1 for the first step.
    pub tick: u64,
    pub metrics: FleetMetrics,
    pub decision: Decision,
    /// `decision` as the API serves it (`applied` is for the caller to fill).
    pub record: DecisionRecord,
    /// The status after this tick (desired capacity = the decision's target).
    pub status: Status,
    /// The chart sample of this tick.
    pub point: MetricPoint,
    /// The metric values to publish.
    pub data: Vec<Datum>,
}

/// The tick core; see the module docs.
#[derive(Debug, Clone)]
pub struct Reconciler {
    policies: Policies,
    alarms: Alarms,
    settings: ReconcilerSettings,
    tick: u64,
    /// Scale-in is held until then (Unix ms): see `Reconciler::settling`.
    settle_until_ms: u64,
    /// The recent fleet users, with `[policies.lookahead]`.
    trend: Option<Trend>,
}

impl Reconciler {
    /// `policies` are valid by construction (`Policies::new`; the config builds them).
    pub fn new(policies: Policies, settings: ReconcilerSettings) -> Self {
        Self {
            alarms: Alarms::new(&policies),
            trend: policies.lookahead().map(Trend::new),
            policies,
            settings,
            tick: 0,
            settle_until_ms: 0,
        }
    }

    /// Settings from a validated config (the controller's `&Config` converts);
    /// `provider` and `endpoint` from the fleet.
    pub fn from_config(
        config: impl Into<CoreConfig>,
        provider: &str,
        endpoint: Option<String>,
    ) -> Self {
        let config: CoreConfig = config.into();
        Self::new(
            config.policies,
            ReconcilerSettings {
                min_size: config.group.min_size(),
                max_size: config.group.max_size(),
                tick_ms: config.tick.as_millis() as u64,
                stale_after_ms: config.stale_after.as_millis() as u64,
                per_instance_metrics: config.per_instance_metrics,
                provider: provider.into(),
                endpoint,
            },
        )
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Takes reloaded policies (validated): the alarms start afresh (their periods may
    /// differ); the tick counter and the settling hold carry on.
    pub fn set_policies(&mut self, policies: Policies) {
        self.alarms = Alarms::new(&policies);
        self.policies = policies;
    }

    pub fn settings(&self) -> &ReconcilerSettings {
        &self.settings
    }

    /// Ticks stepped (or skipped) so far.
    pub fn ticks(&self) -> u64 {
        self.tick
    }

    /// Counts a tick that could not step (the group could not be read): the tick number
    /// advances, the alarms get no datapoint (missing data, which never scales in).
    /// Returns the skipped tick's number.
    pub fn skip(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The controller's bounds within the group's: SetDesiredCapacity outside the group's
    /// own MinSize/MaxSize would fail.
    pub fn bounds(&self, snapshot: &GroupSnapshot) -> (u32, u32) {
        let min = self.settings.min_size.max(snapshot.min_size);
        let max = self.settings.max_size.min(snapshot.max_size);
        if min <= max {
            (min, max)
        } else {
            (snapshot.min_size, snapshot.max_size.max(snapshot.min_size))
        }
    }

    /// One tick at `now_ms`: roll the book's rates over the tick, aggregate the reports, feed
    /// the alarms, decide.
    pub fn step(
        &mut self,
        snapshot: &GroupSnapshot,
        reports: &mut ReportBook,
        now_ms: u64,
    ) -> TickOutcome {
        self.tick += 1;
        reports.roll_tick();
        let params = AggregateParams {
            stale_after_ms: self.settings.stale_after_ms,
            warmup_ms: self.policies.warmup_ms(),
        };
        let metrics = aggregate(snapshot, reports, now_ms, params);
        let fleet = self.fleet_state(snapshot, &metrics);
        let sample = sample_of(&metrics);
        self.alarms.observe(now_ms, &sample);
        let mut decision = evaluate(&self.policies, &fleet, &self.alarms, now_ms);
        let settling = self.settling(snapshot, &metrics, reports, now_ms);
        if decision.action == Action::ScaleIn && metrics.has_stale() {
            decision = hold_scale_in(decision, &metrics);
        } else if decision.action == Action::ScaleIn && !settling.is_empty() {
            decision = hold_settling(decision, &settling, self.settle_until_ms, now_ms);
        }
        if let (Some(l), Some(trend)) = (self.policies.lookahead(), &mut self.trend)
            && let Some(users) = sample.usable(MetricName::ConcurrentUsers)
        {
            trend.observe(now_ms, users);
            let horizon = l.horizon_ms(self.policies.scale_out());
            if let Some(p) = trend.project(horizon, l.max_growth) {
                let max = fleet.max.max(fleet.min);
                decision = apply_lookahead(self.policies.scale_out(), &p, max, decision);
            }
        }
        if decision.action == Action::ScaleIn {
            // The instances this removes drain next: their users move to the others.
            self.settle_until_ms = self
                .settle_until_ms
                .max(now_ms + reports.max_active_window_ms());
        }
        let record = decision.to_record(self.tick, now_ms);
        let status = self.status(snapshot, &metrics, &decision, fleet, now_ms);
        let point = MetricPoint {
            at_ms: now_ms,
            concurrent_users: metrics.concurrent_users,
            concurrent_users_per_instance: metrics.concurrent_users_per_instance,
            desired_capacity: decision.capacity_after,
            in_service: metrics.in_service,
            requests_per_second: metrics.requests_per_second,
            log_events_per_second: metrics.log_events_per_second,
        };
        let data = encode(
            &metrics,
            decision.capacity_after,
            self.settings.per_instance_metrics,
        );
        TickOutcome {
            tick: self.tick,
            metrics,
            decision,
            record,
            status,
            point,
            data,
        }
    }

    /// The draining instances that keep scale-in on hold (a scale-in this tick or earlier
    /// holds it until `settle_until_ms` as well). While an instance drains, its users still
    /// reach it over kept-alive connections, then move to the others; until the users'
    /// active window has passed since, the fleet's figures miss some of them, and a
    /// scale-in on them would cascade (each drain lowering the figures for the next).
    fn settling(
        &mut self,
        snapshot: &GroupSnapshot,
        metrics: &FleetMetrics,
        reports: &ReportBook,
        now_ms: u64,
    ) -> Vec<String> {
        let draining: Vec<String> = snapshot
            .instances
            .iter()
            .zip(&metrics.instances)
            .filter(|(i, m)| {
                i.lifecycle.is_draining()
                    || (m.draining && i.lifecycle != proto::Lifecycle::Terminated)
            })
            .map(|(i, _)| i.id.clone())
            .collect();
        if !draining.is_empty() {
            self.settle_until_ms = self
                .settle_until_ms
                .max(now_ms + reports.max_active_window_ms());
        }
        if draining.is_empty() && now_ms < self.settle_until_ms {
            return vec!["drained lately".into()];
        }
        draining
    }

    /// The group as the policy engine sees it: bounds, desired, settled and warming counts.
    pub fn fleet_state(&self, snapshot: &GroupSnapshot, metrics: &FleetMetrics) -> FleetState {
        let (min, max) = self.bounds(snapshot);
        let mut state = FleetState {
            min,
            max,
            desired: snapshot.desired_capacity,
            in_service: 0,
            warming: 0,
        };
        for (inst, m) in snapshot.instances.iter().zip(&metrics.instances) {
            match inst.lifecycle {
                Lifecycle::InService if m.draining => {}
                Lifecycle::InService if m.warming => state.warming += 1,
                Lifecycle::InService => state.in_service += 1,
                l if l.is_pending() => state.warming += 1,
                _ => {}
            }
        }
        state
    }

    fn status(
        &self,
        snapshot: &GroupSnapshot,
        metrics: &FleetMetrics,
        decision: &Decision,
        fleet: FleetState,
        now_ms: u64,
    ) -> Status {
        let instances: Vec<InstanceStatus> = snapshot
            .instances
            .iter()
            .zip(&metrics.instances)
            .map(|(i, m)| InstanceStatus {
                id: i.id.clone(),
                zone: i.zone.clone(),
                lifecycle_state: i.lifecycle,
                health: i.health,
                warming: m.warming || i.lifecycle.is_pending(),
                concurrent_users: m.concurrent_users,
                requests_per_second: m.requests_per_second,
                log_events_per_second: m.log_events_per_second,
                in_flight: m.in_flight,
                launched_at_ms: i.launched_at_ms,
                address: i.address.clone(),
                reason: i.reason.clone(),
            })
            .collect();
        let count =
            |f: &dyn Fn(&InstanceStatus) -> bool| instances.iter().filter(|i| f(i)).count() as u32;
        let draining = snapshot
            .instances
            .iter()
            .zip(&metrics.instances)
            .filter(|(i, m)| i.lifecycle.is_draining() || m.draining)
            .count() as u32;
        Status {
            provider: self.settings.provider.clone(),
            tick: self.tick,
            updated_at_ms: now_ms,
            group: GroupStatus {
                name: snapshot.name.clone(),
                min_size: fleet.min,
                max_size: fleet.max,
                desired_capacity: decision.capacity_after,
                in_service: count(&|i| i.lifecycle_state == Lifecycle::InService),
                pending: count(&|i| i.lifecycle_state.is_pending()),
                draining,
            },
            instances,
            fleet: FleetTotals {
                concurrent_users: metrics.concurrent_users,
                concurrent_users_per_instance: metrics.concurrent_users_per_instance,
                requests_per_second: metrics.requests_per_second,
                log_events_per_second: metrics.log_events_per_second,
                log_events_lost: metrics.log_events_lost,
                requests_per_second_by_family: metrics.family_rates,
            },
            policy: PolicySummary {
                metric: self.policies.scale_out().alarm().metric.as_str().into(),
                scale_out_threshold: self.policies.scale_out().alarm().threshold,
                scale_in_threshold: self.policies.scale_in().alarm().threshold,
                tick_ms: self.settings.tick_ms,
                mode: self.policies.mode().as_str().into(),
            },
            endpoint: self.settings.endpoint.clone(),
            health: proto::ControllerHealth::default(),
        }
    }
}

/// The policy engine's view of this tick's metrics.
pub fn sample_of(m: &FleetMetrics) -> MetricSample {
    let fresh = m
        .instances
        .iter()
        .any(|i| i.report == crate::aggregate::ReportState::Fresh);
    let some = |v: f64| fresh.then_some(v);
    MetricSample {
        concurrent_users_per_instance: m.concurrent_users_per_instance,
        concurrent_users: some(m.concurrent_users as f64),
        requests_per_second: some(m.requests_per_second),
        log_events_per_second: some(m.log_events_per_second),
        stale: m.in_service > 0 && !fresh,
    }
}

fn hold_settling(d: Decision, draining: &[String], until_ms: u64, now_ms: u64) -> Decision {
    let ids = draining
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    Decision {
        action: Action::None,
        reason: Reason::Settling,
        capacity_after: d.capacity_before,
        explanation: format!(
            "Scale-in held at {}: users of draining instances ({ids}) are moving to the others, \
             and the figures miss some of them for the users' active window (about {:.0} s \
             more); a scale-in on them would remove too much. (Policy said: {})",
            d.capacity_before,
            until_ms.saturating_sub(now_ms) as f64 / 1000.0,
            d.explanation
        ),
        ..d
    }
}

fn hold_scale_in(d: Decision, m: &FleetMetrics) -> Decision {
    let ids = m
        .stale_instances
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let more = m.stale_instances.len().saturating_sub(3);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Decision {
        action: Action::None,
        reason: Reason::StaleData,
        capacity_after: d.capacity_before,
        explanation: format!(
            "Scale-in held at {}: {} in-service instance(s) sent no fresh load report ({ids}{more}); \
             missing data never removes capacity. (Policy said: {})",
            d.capacity_before,
            m.stale_instances.len(),
            d.explanation
        ),
        ..d
    }
}

#[cfg(test)]
#[path = "tick_tests.rs"]
mod tests;
