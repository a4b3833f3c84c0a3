//! The daemon: the tick loop and the HTTP API around one shared state.
//!
//! [`run`] is the one entry point (`controller run` calls it with the `aws` provider,
//! `controller up` with the local one). Each tick:
//! observe (`Fleet::describe`) → aggregate + decide ([`fleetcore::tick::Reconciler::step`], pure)
//! → publish ([`MetricsSink`]) and apply (`Fleet::set_desired_capacity`), side by side →
//! record (history, status, health, log).
//!
//! Nothing freezes the loop: ticks keep a fixed cadence (a late tick is skipped, not
//! queued), and every call of a tick is bounded by what is left of the tick's budget (one
//! tick interval) on top of the SDK's own timeouts. A failed or abandoned describe is a
//! `provider_error` decision at the current tick (missing data: never a scale-in); any
//! failed call is logged once, counted, and kept as the status' `health.last_error`.
//! Every await that can hang also watches `shutdown`, start-up included: the daemon stops
//! mid-call, and the server then stops gracefully.
//!
//! - `state`: [`Shared`], read by the API and the dashboard.
//! - `api`: [`app`], the router (`oneshot`-testable); the signed report ingest.
//! - `health`: `/readyz` and the bounds warnings, at start and at each tick (pure checks).
//! - `replay`: [`ReplayGuard`], signatures seen within the skew window (pure).
//! - `serve`: [`serve`], the accept loop: head/idle timeout, connection cap, graceful stop.
//! - `native`: [`native_step`], after each tick (and once before the first) when
//!   [`run_with`] was given [`Extras`]: reload the config file when it changed (the new
//!   `[policies]` take effect), reconcile native mode's policies and alarms, record what AWS
//!   did. In `native` and `stack` modes the tick publishes but never applies: the engine's
//!   would-be change is recorded as `native_mode`, and the initial desired capacity is not set.
//! - `leader`: [`Leader`], the controller lease's bounded calls. With a lease
//!   ([`run_with_lease`]), each tick claims or renews it beside the describe, and only a
//!   tick that holds it publishes and applies ([`Shared::holds_lease`]); a standby
//!   controller observes, decides and serves its status, changing nothing. The lease is
//!   released at shutdown.

mod api;
mod health;
mod leader;
mod native;
mod replay;
mod serve;
mod state;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use api::{API_TIMEOUT, AppError, app};
pub use health::{bounds_warnings, readiness};
pub use leader::Leader;
pub use native::{Extras, native_step};
pub use replay::ReplayGuard;
pub use serve::{ConnLimits, REFUSED_CONNECTIONS, serve};
pub use state::{ErrorStats, ReportStats, Shared, StatusResponse};

use crate::clock::now_ms;
use crate::config::Config;
use crate::lease::LeaseStore;
use crate::metrics::MetricsSink;
use crate::provider::{Fleet, ProviderError};
use fleetcore::tick::Reconciler;

/// How long the HTTP server may take to finish open requests after shutdown.
pub const SERVER_DRAIN: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("the provider failed at start-up: {0}")]
    Provider(ProviderError),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
}

impl From<ProviderError> for DaemonError {
    fn from(e: ProviderError) -> Self {
        DaemonError::Provider(e)
    }
}

/// How a bounded call ended.
#[derive(Debug)]
pub enum Bounded<T> {
    Done(T),
    /// Abandoned at the deadline.
    TimedOut,
    /// Abandoned because `shutdown` was cancelled.
    Cancelled,
}

/// Runs `call` until it ends, `deadline` passes or `shutdown` is cancelled.
pub async fn bounded<T>(
    deadline: Instant,
    shutdown: &CancellationToken,
    call: impl Future<Output = T>,
) -> Bounded<T> {
    tokio::select! {
        () = shutdown.cancelled() => Bounded::Cancelled,
        r = tokio::time::timeout_at(deadline, call) => match r {
            Ok(v) => Bounded::Done(v),
            Err(_) => Bounded::TimedOut,
        },
    }
}

/// Start-up may take this many operation timeouts (describe, set, describe) plus a second
/// before the daemon gives up on its own, whatever the provider does.
fn start_up_budget(config: &Config) -> Duration {
    config.provider().aws().operation_timeout() * 3 + Duration::from_secs(1)
}

/// Runs the controller until `shutdown` is cancelled. Fails early (before serving) if the
/// provider cannot describe the group or refuses the configured initial desired capacity,
/// within `start_up_budget`; returns `Ok` at once when `shutdown` comes during start-up.
pub async fn run(
    config: Config,
    fleet: Arc<dyn Fleet>,
    sink: Arc<dyn MetricsSink>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    run_with(config, fleet, sink, listener, shutdown, Extras::default()).await
}

/// [`run`], under the lease in `store` when `config.lease` is set (without a store or
/// without `[lease]` the controller always leads).
pub async fn run_with_lease(
    config: Config,
    fleet: Arc<dyn Fleet>,
    sink: Arc<dyn MetricsSink>,
    listener: TcpListener,
    shutdown: CancellationToken,
    store: Option<Arc<dyn LeaseStore>>,
) -> Result<(), DaemonError> {
    let extras = Extras {
        lease: store,
        ..Extras::default()
    };
    run_with(config, fleet, sink, listener, shutdown, extras).await
}

/// [`run`] with a config watch (reload on change), native mode's policy store and the
/// lease's store: see `native_step`, run after every tick and once before the first.
pub async fn run_with(
    config: Config,
    fleet: Arc<dyn Fleet>,
    sink: Arc<dyn MetricsSink>,
    listener: TcpListener,
    shutdown: CancellationToken,
    mut extras: Extras,
) -> Result<(), DaemonError> {
    config.reports().check_key()?;
    // Native mode sets no capacity: the initial desired capacity is the group's business.
    let native_mode = config.policies().mode().aws_decides();
    let leader = match (config.lease(), extras.lease.take()) {
        (Some(settings), Some(store)) => Some(Leader::new(store, settings, config.tick())),
        _ => None,
    };
    let start_up = async {
        let mut snapshot = fleet.describe().await?;
        // The configured initial capacity is a change too: only under the lease.
        let leads = match &leader {
            Some(l) => {
                let deadline = Instant::now() + config.provider().aws().operation_timeout();
                if let Err(e) = l.claim(deadline, &shutdown).await {
                    tracing::warn!(error = %e, "claiming the lease at start-up failed");
                }
                l.holds(now_ms())
            }
            None => true,
        };
        if let Some(d) = config
            .group()
            .desired_capacity()
            .filter(|d| leads && !native_mode && *d != snapshot.desired_capacity)
        {
            tracing::info!(
                desired = d,
                "setting the configured initial desired capacity"
            );
            fleet.set_desired_capacity(d).await?;
            snapshot = fleet.describe().await?;
        }
        Ok::<_, ProviderError>(snapshot)
    };
    // One more operation for the lease's first claim, when there is one.
    let budget = start_up_budget(&config)
        + if leader.is_some() {
            config.provider().aws().operation_timeout()
        } else {
            Duration::ZERO
        };
    let snapshot = match bounded(Instant::now() + budget, &shutdown, start_up).await {
        Bounded::Done(r) => r?,
        Bounded::Cancelled => {
            tracing::info!("shutdown during start-up");
            return Ok(());
        }
        Bounded::TimedOut => {
            return Err(DaemonError::Provider(ProviderError::Timeout {
                operation: fleet.describe_operation(),
                after: budget,
            }));
        }
    };
    let mut reconciler = Reconciler::from_config(&config, fleet.kind(), fleet.endpoint());
    let state = Arc::new(Shared::new(
        &config,
        fleet.kind(),
        fleet.endpoint(),
        shutdown.clone(),
    ));
    state.set_known(&snapshot);
    if let Some(l) = leader {
        state.set_lease(l);
    }
    state.set_warnings(bounds_warnings(reconciler.settings(), &snapshot));
    state.set_members(Arc::clone(&fleet));
    let addr = listener.local_addr().ok();
    tracing::info!(
        ?addr,
        provider = fleet.kind(),
        sink = sink.kind(),
        group = %snapshot.name,
        tick = ?config.tick(),
        "controller running"
    );
    // The first tick runs before the API answers, so no client ever reads a status made
    // before the fleet was observed (a restarted controller would otherwise show tick 0 with
    // an empty group for a moment). Fixed cadence: a tick that comes due while the previous
    // one still runs is skipped, not queued (no burst after a slow tick).
    let mut interval = tokio::time::interval(config.tick());
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    interval.tick().await;
    // At most one tick before the first tick: a slow AWS delays nothing much (the
    // reconcile is retried each tick until it succeeds).
    let first = Instant::now() + config.tick();
    let failed = native_step(&mut reconciler, &mut extras, &state, first).await;
    note_failures(&state, &reconciler, failed);
    tick_once(&mut reconciler, fleet.as_ref(), sink.as_ref(), &state).await;
    let server = tokio::spawn({
        let app = app(Arc::clone(&state));
        let stop = shutdown.clone();
        let limits = ConnLimits {
            header_timeout: config.api().header_timeout(),
            max_connections: config.api().max_connections(),
        };
        async move { serve(listener, app, limits, stop).await }
    });

    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = interval.tick() => {}
        }
        let tick_end = Instant::now() + config.tick();
        tick_once(&mut reconciler, fleet.as_ref(), sink.as_ref(), &state).await;
        let failed = native_step(&mut reconciler, &mut extras, &state, tick_end).await;
        note_failures(&state, &reconciler, failed);
    }
    tracing::info!("controller stopping");
    if let Some(l) = state.lease() {
        l.release().await;
    }
    match tokio::time::timeout(SERVER_DRAIN, server).await {
        Ok(Ok(Ok(()))) | Err(_) => Ok(()),
        Ok(Ok(Err(e))) => Err(DaemonError::Serve(e)),
        Ok(Err(join)) => Err(DaemonError::Serve(std::io::Error::other(join))),
    }
}

fn note_failures(state: &Shared, rec: &Reconciler, failed: Vec<(&'static str, String)>) {
    for (operation, message) in failed {
        state.call_failed(rec.ticks(), now_ms(), operation, message);
    }
}

/// One tick: observe → aggregate + decide → publish and apply → record. Every call is
/// bounded by the tick's budget (`state.tick` from now) and by `state.shutdown` (a
/// cancelled tick records nothing).
pub async fn tick_once(
    rec: &mut Reconciler,
    fleet: &dyn Fleet,
    sink: &dyn MetricsSink,
    state: &Shared,
) {
    let now = now_ms();
    let budget = state.tick;
    let deadline = Instant::now() + budget;
    let shutdown = &state.shutdown;
    // The lease is claimed (or renewed) beside the describe, within the same budget.
    let claim = async {
        match state.lease() {
            Some(l) => l.claim(deadline, shutdown).await.err(),
            None => None,
        }
    };
    let (described, claim_failed) =
        tokio::join!(bounded(deadline, shutdown, fleet.describe()), claim);
    if let Some(e) = &claim_failed {
        tracing::warn!(error = %e, "claiming the lease failed; the previous claim still bounds it");
    }
    let described = match described {
        Bounded::Cancelled => return,
        Bounded::TimedOut => Err(ProviderError::Timeout {
            operation: fleet.describe_operation(),
            after: budget,
        }),
        Bounded::Done(r) => r,
    };
    let snapshot = match described {
        Ok(s) => s,
        Err(e) => {
            let tick = rec.skip();
            let line = e.to_string();
            tracing::warn!(tick, error = %line, "cannot describe the group; nothing decided this tick");
            state.count_error(|c| c.describe += 1);
            let mut failed = vec![(e.operation().unwrap_or(fleet.describe_operation()), line)];
            if let Some(c) = &claim_failed {
                failed.push((c.operation, c.message.clone()));
            }
            state.tick_ended(tick, now_ms(), &failed);
            state.record_decision(provider_error_record(
                rec,
                tick,
                &state.status().group,
                now,
                &e,
            ));
            return;
        }
    };
    state.set_known(&snapshot);
    // The group's own bounds can change under the controller (someone resizes it).
    state.set_warnings(bounds_warnings(rec.settings(), &snapshot));
    let mut outcome = state.with_book(|book| {
        let out = rec.step(&snapshot, book, now);
        book.retain_known(&snapshot);
        out
    });
    let d = outcome.decision.clone();
    let native = rec.policies().mode().aws_decides();
    // Checked once, now: a change started while holding lands within the lease's margin.
    let leads = state.holds_lease(now_ms());
    let publish = async {
        if !leads {
            return Ok(());
        }
        match bounded(deadline, shutdown, sink.publish(&outcome.data)).await {
            Bounded::Done(Ok(_)) => Ok(()),
            Bounded::Done(Err(e)) => Err(Some(e.to_string())),
            Bounded::TimedOut => Err(Some(format!(
                "{} gave no answer within {budget:?} (the tick's budget)",
                sink.operation()
            ))),
            Bounded::Cancelled => Err(None),
        }
    };
    let apply = async {
        if !d.changes_capacity() || native {
            return Ok(None);
        }
        if !leads {
            return Ok(Some(false));
        }
        match bounded(
            deadline,
            shutdown,
            fleet.set_desired_capacity(d.capacity_after),
        )
        .await
        {
            Bounded::Done(Ok(())) => {
                // Learn the new (pending) instances at once, so their first reports are
                // not refused as unknown until the next tick.
                if let Bounded::Done(Ok(s)) = bounded(deadline, shutdown, fleet.describe()).await {
                    state.set_known(&s);
                }
                Ok(Some(true))
            }
            Bounded::Done(Err(e)) => Err(Some(e)),
            Bounded::TimedOut => Err(Some(ProviderError::Timeout {
                operation: fleet.apply_operation(),
                after: budget,
            })),
            Bounded::Cancelled => Err(None),
        }
    };
    let (published, applied) = tokio::join!(publish, apply);
    if shutdown.is_cancelled() {
        return;
    }
    let mut failed: Vec<(&str, String)> = vec![];
    if let Some(e) = claim_failed {
        failed.push((e.operation, e.message));
    }
    if let Err(Some(e)) = published {
        tracing::warn!(tick = outcome.tick, error = %e, "publishing the metrics failed");
        state.count_error(|c| c.publish += 1);
        failed.push((sink.operation(), e));
    }
    let mut record = outcome.record.clone();
    if native {
        as_native(&mut record);
        let group = &mut outcome.status.group;
        group.desired_capacity = d.capacity_before;
        // AWS's policies act within the group's own MinSize/MaxSize, not the controller's.
        (group.min_size, group.max_size) = (snapshot.min_size, snapshot.max_size);
    }
    match applied {
        Ok(None) => tracing::debug!(reason = d.reason.as_str(), "{}", d.explanation),
        Ok(Some(false)) => {
            record.explanation = format!(
                "{} Not applied: this controller is standing by (another holds the lease).",
                record.explanation
            );
            outcome.status.group.desired_capacity = d.capacity_before;
            tracing::debug!(
                tick = outcome.tick,
                to = d.capacity_after,
                "standby: not applied"
            );
        }
        Ok(Some(true)) => {
            record.applied = Some(true);
            tracing::info!(
                action = d.action.as_str(),
                from = d.capacity_before,
                to = d.capacity_after,
                "{}",
                d.explanation
            );
        }
        Err(e) => {
            let line = e.map_or_else(|| "abandoned".to_string(), |e| e.to_string());
            record.applied = Some(false);
            record.explanation = format!("{} Applying it failed: {line}.", record.explanation);
            outcome.status.group.desired_capacity = d.capacity_before;
            tracing::warn!(tick = outcome.tick, error = %line, to = d.capacity_after, "setting the desired capacity failed");
            state.count_error(|c| c.apply += 1);
            failed.push((fleet.apply_operation(), line));
        }
    }
    state.tick_ended(outcome.tick, now_ms(), &failed);
    state.record(&outcome, record);
}

/// Native mode: the group's own policies act, so the engine's view is shown as what it is.
fn as_native(record: &mut proto::DecisionRecord) {
    if record.action != proto::Action::None {
        record.explanation = format!(
            "Native mode: AWS's alarms and step policies act, the controller only publishes. Its own engine would have said: {}",
            record.explanation
        );
        record.action = proto::Action::None;
        record.reason = proto::Reason::NativeMode;
        record.capacity_after = record.capacity_before;
        record.step = None;
    }
}

fn provider_error_record(
    rec: &Reconciler,
    tick: u64,
    group: &proto::GroupStatus,
    now: u64,
    e: &ProviderError,
) -> proto::DecisionRecord {
    proto::DecisionRecord {
        at_ms: now,
        tick,
        action: proto::Action::None,
        policy: None,
        metric: rec.policies().scale_out().alarm().metric.as_str().into(),
        metric_value: None,
        threshold: None,
        step: None,
        capacity_before: group.desired_capacity,
        capacity_after: group.desired_capacity,
        reason: proto::Reason::ProviderError,
        explanation: format!("The group could not be read ({e}); nothing was decided."),
        applied: None,
        source: proto::DecisionSource::Controller,
    }
}
