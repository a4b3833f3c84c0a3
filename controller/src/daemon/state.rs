//! The one shared state: written by the tick loop and the report handler, read by the API
//! and the dashboard. Locks are held for copies only, never across an `.await`.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use proto::sign::ReportKey;

use proto::{
    CallError, ControllerHealth, DecisionRecord, FleetTotals, GroupStatus, MetricPoint,
    PolicySummary, Status,
};
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::replay::ReplayGuard;
use crate::config::Config;
use crate::provider::{Fleet, GroupSnapshot};
use fleetcore::aggregate::{Ingested, ReportBook};
use fleetcore::tick::TickOutcome;

/// Signatures remembered for replay detection at most (~40 bytes each).
const REPLAY_CAP: usize = 200_000;

/// The provider behind the membership check (`dyn Fleet` has no `Debug`).
struct Members(Arc<dyn Fleet>);

impl std::fmt::Debug for Members {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Members({})", self.0.kind())
    }
}

/// Why a pushed report was refused (or what became of it), counted.
#[derive(Debug, Default)]
pub struct ReportCounters {
    pub accepted: AtomicU64,
    pub duplicate: AtomicU64,
    pub malformed: AtomicU64,
    pub invalid: AtomicU64,
    pub unknown_instance: AtomicU64,
    pub too_large: AtomicU64,
    pub unsigned: AtomicU64,
    pub bad_signature: AtomicU64,
    pub stale_signature: AtomicU64,
    pub replayed: AtomicU64,
    pub old_process: AtomicU64,
}

/// `ReportCounters` as served in `/api/status` (`reports`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct ReportStats {
    pub accepted: u64,
    pub duplicate: u64,
    pub malformed: u64,
    pub invalid: u64,
    pub unknown_instance: u64,
    pub too_large: u64,
    /// 401: no signature header (signatures required).
    #[serde(default)]
    pub unsigned: u64,
    /// 401: malformed signature header, or a MAC that does not match (wrong key, changed body).
    #[serde(default)]
    pub bad_signature: u64,
    /// 401: the signature's time is outside `reports.max_clock_skew`.
    #[serde(default)]
    pub stale_signature: u64,
    /// 401: a signature already seen.
    #[serde(default)]
    pub replayed: u64,
    /// 409: a report of an older process start than the instance's current one.
    #[serde(default)]
    pub old_process: u64,
    /// Every refusal (4xx) together.
    pub refused: u64,
}

impl ReportCounters {
    pub fn snapshot(&self) -> ReportStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = ReportStats {
            accepted: get(&self.accepted),
            duplicate: get(&self.duplicate),
            malformed: get(&self.malformed),
            invalid: get(&self.invalid),
            unknown_instance: get(&self.unknown_instance),
            too_large: get(&self.too_large),
            unsigned: get(&self.unsigned),
            bad_signature: get(&self.bad_signature),
            stale_signature: get(&self.stale_signature),
            replayed: get(&self.replayed),
            old_process: get(&self.old_process),
            refused: 0,
        };
        s.refused = s.malformed
            + s.invalid
            + s.unknown_instance
            + s.too_large
            + s.unsigned
            + s.bad_signature
            + s.stale_signature
            + s.replayed
            + s.old_process;
        s
    }
}

/// What the API serves; replaced or appended once per tick.
#[derive(Debug)]
struct View {
    status: Status,
    decisions: VecDeque<DecisionRecord>,
    metrics: VecDeque<MetricPoint>,
    /// In-service instances whose report was stale or missing at the last tick.
    stale_instances: Vec<String>,
    /// Failed publish / provider calls since start.
    errors: ErrorStats,
    /// Tick timing, the last failed call, warnings (`last_tick_age_ms` is filled on read).
    health: ControllerHealth,
}

/// Failures of the daemon's own calls, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct ErrorStats {
    pub describe: u64,
    pub apply: u64,
    pub publish: u64,
}

/// The shared state (`Arc<Shared>` in the daemon, the router and the dashboard).
#[derive(Debug)]
pub struct Shared {
    view: RwLock<View>,
    book: Mutex<ReportBook>,
    /// Instance ids of the latest snapshot (reports from others are refused).
    known: RwLock<HashSet<String>>,
    /// The provider, asked about an id not in the snapshot (launched since the last tick).
    members: OnceLock<Members>,
    /// The controller lease, when `[lease]` is configured (see [`Shared::holds_lease`]).
    lease: OnceLock<super::leader::Leader>,
    /// The shared report key; `None`: unsigned reports are accepted (`require_signature` off).
    pub report_key: Option<ReportKey>,
    pub require_signature: bool,
    /// `reports.max_clock_skew` in milliseconds.
    pub max_skew_ms: u64,
    replays: Mutex<ReplayGuard>,
    pub counters: ReportCounters,
    tick_tx: watch::Sender<u64>,
    max_decisions: usize,
    max_points: usize,
    pub max_report_bytes: usize,
    /// The tick interval: also each tick's budget for its calls.
    pub tick: std::time::Duration,
    pub shutdown: CancellationToken,
}

impl Shared {
    /// An empty state for `config`, before the first tick.
    pub fn new(
        config: &Config,
        provider: &str,
        endpoint: Option<String>,
        shutdown: CancellationToken,
    ) -> Self {
        let status = Status {
            provider: provider.into(),
            tick: 0,
            updated_at_ms: 0,
            group: GroupStatus {
                name: config.group().name().to_owned(),
                min_size: config.group().min_size(),
                max_size: config.group().max_size(),
                desired_capacity: config
                    .group()
                    .desired_capacity()
                    .unwrap_or(config.group().min_size()),
                in_service: 0,
                pending: 0,
                draining: 0,
            },
            instances: vec![],
            fleet: FleetTotals::default(),
            policy: PolicySummary {
                metric: config.policies().scale_out().alarm().metric.as_str().into(),
                scale_out_threshold: config.policies().scale_out().alarm().threshold,
                scale_in_threshold: config.policies().scale_in().alarm().threshold,
                tick_ms: config.tick().as_millis() as u64,
                mode: config.policies().mode().as_str().into(),
            },
            endpoint,
            health: proto::ControllerHealth::default(),
        };
        Self {
            view: RwLock::new(View {
                status,
                decisions: VecDeque::new(),
                metrics: VecDeque::new(),
                stale_instances: vec![],
                errors: ErrorStats::default(),
                health: ControllerHealth::default(),
            }),
            book: Mutex::new(ReportBook::new()),
            known: RwLock::new(HashSet::new()),
            members: OnceLock::new(),
            lease: OnceLock::new(),
            report_key: config.reports().key().cloned(),
            require_signature: config.reports().require_signature(),
            max_skew_ms: config.reports().max_clock_skew().as_millis() as u64,
            replays: Mutex::new(ReplayGuard::new(
                config.reports().max_clock_skew().as_millis() as u64,
                REPLAY_CAP,
            )),
            counters: ReportCounters::default(),
            tick_tx: watch::channel(0).0,
            max_decisions: config.history().decisions(),
            max_points: config.history().metrics(),
            max_report_bytes: config.api().max_report_bytes(),
            tick: config.tick(),
            shutdown,
        }
    }

    fn view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        self.view.read().unwrap_or_else(|e| e.into_inner())
    }

    fn view_mut(&self) -> std::sync::RwLockWriteGuard<'_, View> {
        self.view.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the report book (the tick reads it, the handler writes it).
    pub fn with_book<T>(&self, f: impl FnOnce(&mut ReportBook) -> T) -> T {
        f(&mut self.book.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Remembers the instances of `snapshot` as the ones allowed to report.
    pub fn set_known(&self, snapshot: &GroupSnapshot) {
        let ids = snapshot.instances.iter().map(|i| i.id.clone()).collect();
        *self.known.write().unwrap_or_else(|e| e.into_inner()) = ids;
    }

    /// Lets the handler ask `fleet` about ids launched since the last snapshot.
    pub fn set_members(&self, fleet: Arc<dyn Fleet>) {
        let _ = self.members.set(Members(fleet));
    }

    /// In the latest snapshot, or a member the provider has launched since (then remembered
    /// until the next snapshot), so a new instance's first reports count.
    pub fn is_known(&self, id: &str) -> bool {
        if self
            .known
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(id)
        {
            return true;
        }
        let member = self.members.get().is_some_and(|m| m.0.is_member(id));
        if member {
            self.known
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.to_owned());
        }
        member
    }

    /// True the first time this signature is seen (not a replay).
    pub fn first_sight(&self, v: &proto::sign::Verified, now_ms: u64) -> bool {
        self.replays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .first_sight(v, now_ms)
    }

    /// Stores a validated report from a known instance.
    pub fn ingest(&self, report: proto::LoadReport, now_ms: u64) -> Ingested {
        let outcome = self.with_book(|b| b.ingest(report, now_ms));
        let c = match outcome {
            Ingested::Duplicate => &self.counters.duplicate,
            Ingested::OldProcess => &self.counters.old_process,
            _ => &self.counters.accepted,
        };
        c.fetch_add(1, Ordering::Relaxed);
        outcome
    }

    /// Records a tick: the new status, the decision, the chart point; wakes subscribers.
    pub fn record(&self, outcome: &TickOutcome, record: DecisionRecord) {
        {
            let mut v = self.view_mut();
            v.status = outcome.status.clone();
            v.stale_instances
                .clone_from(&outcome.metrics.stale_instances);
            push_bounded(&mut v.decisions, record, self.max_decisions);
            push_bounded(&mut v.metrics, outcome.point, self.max_points);
        }
        self.tick_tx.send_replace(outcome.tick);
    }

    /// Records a decision that did not come from a tick (e.g. the provider failed).
    pub fn record_decision(&self, record: DecisionRecord) {
        let tick = record.tick;
        push_bounded(&mut self.view_mut().decisions, record, self.max_decisions);
        self.tick_tx.send_replace(tick);
    }

    pub fn count_error(&self, f: impl FnOnce(&mut ErrorStats)) {
        f(&mut self.view_mut().errors);
    }

    /// Records the end of tick `tick` at `now_ms` with the calls that failed in it
    /// (`(operation, one-line message)`, in order): the last one becomes `last_error`.
    pub fn tick_ended(&self, tick: u64, now_ms: u64, failed: &[(&str, String)]) {
        let mut v = self.view_mut();
        let h = &mut v.health;
        h.last_tick_at_ms = now_ms;
        if let Some((operation, message)) = failed.last() {
            h.failing_ticks += 1;
            h.last_error = Some(CallError {
                at_ms: now_ms,
                tick,
                operation: (*operation).to_string(),
                message: message.clone(),
            });
        } else {
            h.failing_ticks = 0;
        }
    }

    /// Records a failed call made outside a tick's own list (config reload, native mode):
    /// it becomes `last_error`; the failing-tick count is the tick's own business.
    pub fn call_failed(&self, tick: u64, now_ms: u64, operation: &str, message: String) {
        self.view_mut().health.last_error = Some(CallError {
            at_ms: now_ms,
            tick,
            operation: operation.to_string(),
            message,
        });
    }

    /// Replaces the configuration warnings shown in the status and the dashboard; logs
    /// the ones that are new.
    pub fn set_warnings(&self, warnings: Vec<String>) {
        let mut view = self.view_mut();
        for w in warnings
            .iter()
            .filter(|w| !view.health.warnings.contains(w))
        {
            tracing::warn!("{w}");
        }
        view.health.warnings = warnings;
    }

    /// Puts the controller under `leader`'s lease (once, before the first tick).
    pub fn set_lease(&self, leader: super::leader::Leader) {
        let _ = self.lease.set(leader);
    }

    /// The lease, if one is configured.
    pub fn lease(&self) -> Option<&super::leader::Leader> {
        self.lease.get()
    }

    /// May this controller change the group (capacity, scaling policies, alarms) or
    /// publish metrics at `now_ms`? Always, without a lease; with one, only while holding
    /// it. Every change to the group checks this right before it is made.
    pub fn holds_lease(&self, now_ms: u64) -> bool {
        self.lease.get().is_none_or(|l| l.holds(now_ms))
    }

    /// The controller's health as of `now_ms`.
    pub fn health(&self, now_ms: u64) -> ControllerHealth {
        let mut h = self.view().health.clone();
        h.lease = self.lease.get().map(|l| l.status(now_ms));
        h.last_tick_age_ms = if h.last_tick_at_ms == 0 {
            0
        } else {
            now_ms.saturating_sub(h.last_tick_at_ms)
        };
        h
    }

    /// The status, its health as of now.
    pub fn status(&self) -> Status {
        let mut s = self.view().status.clone();
        s.health = self.health(super::now_ms());
        s
    }

    /// The status plus the controller's own counters, as `/api/status` serves it.
    pub fn status_response(&self) -> StatusResponse {
        let status = self.status();
        let v = self.view();
        StatusResponse {
            status,
            reports: self.counters.snapshot(),
            stale_instances: v.stale_instances.clone(),
            errors: v.errors,
        }
    }

    /// Decisions, oldest first.
    pub fn decisions(&self) -> Vec<DecisionRecord> {
        self.view().decisions.iter().cloned().collect()
    }

    /// Chart points at or after `since_ms`, oldest first.
    pub fn metrics_since(&self, since_ms: u64) -> Vec<MetricPoint> {
        let v = self.view();
        let start = v.metrics.partition_point(|p| p.at_ms < since_ms);
        v.metrics.range(start..).copied().collect()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tick_tx.subscribe()
    }
}

/// `/api/status`: [`proto::Status`] (flattened, so `proto::Status` clients read it as is)
/// plus the controller's counters.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct StatusResponse {
    #[serde(flatten)]
    pub status: Status,
    pub reports: ReportStats,
    pub stale_instances: Vec<String>,
    pub errors: ErrorStats,
}

fn push_bounded<T>(q: &mut VecDeque<T>, item: T, max: usize) {
    while q.len() >= max.max(1) {
        q.pop_front();
    }
    q.push_back(item);
}

impl dashboard::Source for Shared {
    fn status(&self) -> Status {
        Shared::status(self)
    }

    fn decisions(&self) -> Vec<DecisionRecord> {
        Shared::decisions(self)
    }

    fn metrics(&self, since_ms: u64) -> Vec<MetricPoint> {
        self.metrics_since(since_ms)
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        Shared::subscribe(self)
    }
}
