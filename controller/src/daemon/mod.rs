//! The daemon: the tick loop and the HTTP API around one shared state.
//!
//! [`run`] is the one entry point (`controller run` calls it with the `aws` provider,
//! `controller up` with the local one). Each tick:
//! observe (`Fleet::describe`) → aggregate + decide ([`crate::tick::Reconciler::step`], pure)
//! → publish ([`MetricsSink`]) → apply (`Fleet::set_desired_capacity`) → record (history,
//! status, log). A failing provider or sink is logged, counted and recorded; the loop goes
//! on. Everything stops when `shutdown` is cancelled: the loop after its current tick, the
//! server gracefully.
//!
//! - `state`: [`Shared`], read by the API and the dashboard.
//! - `api`: [`app`], the router (`oneshot`-testable); the signed report ingest.
//! - `replay`: [`ReplayGuard`], signatures seen within the skew window (pure).
//! - `serve`: [`serve`], the accept loop: head/idle timeout, connection cap, graceful stop.

mod api;
mod replay;
mod serve;
mod state;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use api::{API_TIMEOUT, AppError, app};
pub use replay::ReplayGuard;
pub use serve::{ConnLimits, REFUSED_CONNECTIONS, serve};
pub use state::{ErrorStats, ReportStats, Shared, StatusResponse};

use crate::config::Config;
use crate::metrics::MetricsSink;
use crate::provider::{Fleet, ProviderError};
use crate::tick::Reconciler;

/// How long the HTTP server may take to finish open requests after shutdown.
pub const SERVER_DRAIN: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("the provider failed at start-up: {0}")]
    Provider(#[from] ProviderError),
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
}

/// Wall-clock time, Unix milliseconds (the only clock the daemon reads).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Runs the controller until `shutdown` is cancelled. Fails early (before serving) if the
/// provider cannot describe the group or refuses the configured initial desired capacity.
pub async fn run(
    config: Config,
    fleet: Arc<dyn Fleet>,
    sink: Arc<dyn MetricsSink>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    config.reports.check_key()?;
    let mut snapshot = fleet.describe().await?;
    let mut reconciler = Reconciler::from_config(&config, fleet.kind(), fleet.endpoint());
    if let Some(d) = config
        .group
        .desired_capacity
        .filter(|d| *d != snapshot.desired_capacity)
    {
        tracing::info!(
            desired = d,
            "setting the configured initial desired capacity"
        );
        fleet.set_desired_capacity(d).await?;
        snapshot = fleet.describe().await?;
    }
    let state = Arc::new(Shared::new(
        &config,
        fleet.kind(),
        fleet.endpoint(),
        shutdown.clone(),
    ));
    state.set_known(&snapshot);
    state.set_members(Arc::clone(&fleet));
    let addr = listener.local_addr().ok();
    tracing::info!(
        ?addr,
        provider = fleet.kind(),
        sink = sink.kind(),
        group = %snapshot.name,
        tick = ?config.tick,
        "controller running"
    );
    // The first tick runs before the API answers, so no client ever reads a status made
    // before the fleet was observed (a restarted controller would otherwise show tick 0 with
    // an empty group for a moment).
    let mut interval = tokio::time::interval(config.tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    tick_once(&mut reconciler, fleet.as_ref(), sink.as_ref(), &state).await;
    let server = tokio::spawn({
        let app = app(Arc::clone(&state));
        let stop = shutdown.clone();
        let limits = ConnLimits {
            header_timeout: config.api.header_timeout,
            max_connections: config.api.max_connections,
        };
        async move { serve(listener, app, limits, stop).await }
    });

    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = interval.tick() => {}
        }
        tick_once(&mut reconciler, fleet.as_ref(), sink.as_ref(), &state).await;
    }
    tracing::info!("controller stopping");
    match tokio::time::timeout(SERVER_DRAIN, server).await {
        Ok(Ok(Ok(()))) | Err(_) => Ok(()),
        Ok(Ok(Err(e))) => Err(DaemonError::Serve(e)),
        Ok(Err(join)) => Err(DaemonError::Serve(std::io::Error::other(join))),
    }
}

/// One tick: observe → aggregate + decide → publish → apply → record.
pub async fn tick_once(
    rec: &mut Reconciler,
    fleet: &dyn Fleet,
    sink: &dyn MetricsSink,
    state: &Shared,
) {
    let now = now_ms();
    let snapshot = match fleet.describe().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot describe the group; nothing decided this tick");
            state.count_error(|c| c.describe += 1);
            state.record_decision(provider_error_record(rec, &state.status().group, now, &e));
            return;
        }
    };
    state.set_known(&snapshot);
    let mut outcome = state.with_book(|book| {
        let out = rec.step(&snapshot, book, now);
        book.retain_known(&snapshot);
        out
    });
    if let Err(e) = sink.publish(&outcome.data).await {
        tracing::warn!(error = %e, "publishing the metrics failed");
        state.count_error(|c| c.publish += 1);
    }
    let d = &outcome.decision;
    let mut record = outcome.record.clone();
    if d.changes_capacity() {
        match fleet.set_desired_capacity(d.capacity_after).await {
            Ok(()) => {
                record.applied = Some(true);
                tracing::info!(
                    action = d.action.as_str(),
                    from = d.capacity_before,
                    to = d.capacity_after,
                    "{}",
                    d.explanation
                );
                refresh_known(fleet, state).await;
            }
            Err(e) => {
                record.applied = Some(false);
                record.explanation = format!("{} Applying it failed: {e}.", record.explanation);
                outcome.status.group.desired_capacity = d.capacity_before;
                tracing::warn!(error = %e, to = d.capacity_after, "setting the desired capacity failed");
                state.count_error(|c| c.apply += 1);
            }
        }
    } else {
        tracing::debug!(reason = d.reason.as_str(), "{}", d.explanation);
    }
    state.record(&outcome, record);
}

/// After a capacity change, learn the new (pending) instances at once so their first
/// reports are not refused as unknown until the next tick.
async fn refresh_known(fleet: &dyn Fleet, state: &Shared) {
    match fleet.describe().await {
        Ok(s) => state.set_known(&s),
        Err(e) => tracing::debug!(error = %e, "describe after the change failed"),
    }
}

fn provider_error_record(
    rec: &Reconciler,
    group: &proto::GroupStatus,
    now: u64,
    e: &ProviderError,
) -> proto::DecisionRecord {
    proto::DecisionRecord {
        at_ms: now,
        tick: rec.ticks(),
        action: "none".into(),
        policy: None,
        metric: rec.policies().scale_out.alarm.metric.as_str().into(),
        metric_value: None,
        threshold: None,
        step: None,
        capacity_before: group.desired_capacity,
        capacity_after: group.desired_capacity,
        reason: "provider_error".into(),
        explanation: format!("The group could not be read ({e}); nothing was decided."),
        applied: None,
    }
}
