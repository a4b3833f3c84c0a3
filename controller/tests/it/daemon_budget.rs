//! `daemon::tick_once` under hanging calls, in-process with tokio's paused clock: each call
//! is bounded by the tick's budget, a hung describe is a `provider_error` at the current
//! tick, a hung publish still lets the decision through, and shutdown ends a hung tick.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use controller::config::Config;
use controller::daemon::{Shared, tick_once};
use controller::metrics::{Datum, MemorySink, MetricsSink, SinkError};
use controller::provider::memory::MemoryFleet;
use controller::provider::{Fleet, GroupSnapshot, ProviderError};
use fleetcore::tick::Reconciler;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A fleet whose calls never answer while `hang` is set (else the inner fleet answers).
struct Hanging {
    inner: MemoryFleet,
    hang: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Fleet for Hanging {
    fn kind(&self) -> &'static str {
        "hanging"
    }
    fn endpoint(&self) -> Option<String> {
        None
    }
    fn describe_operation(&self) -> &'static str {
        "DescribeAutoScalingGroups"
    }
    async fn describe(&self) -> Result<GroupSnapshot, ProviderError> {
        if self.hang.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.inner.describe().await
    }
    async fn set_desired_capacity(&self, desired: u32) -> Result<(), ProviderError> {
        self.inner.set_desired_capacity(desired).await
    }
}

/// A sink that never answers.
struct HangingSink;

#[async_trait]
impl MetricsSink for HangingSink {
    fn kind(&self) -> &'static str {
        "hanging"
    }
    fn operation(&self) -> &'static str {
        "PutMetricData"
    }
    async fn publish(&self, _data: &[Datum]) -> Result<usize, SinkError> {
        std::future::pending().await
    }
}

fn setup(shutdown: CancellationToken) -> (Shared, Arc<Hanging>, Reconciler) {
    let toml = format!(
        "tick = \"500ms\"\n{}",
        controller::config::defaults::LOCAL_TOML
    );
    let config = Config::from_toml(&toml, "test", &Default::default()).unwrap();
    let state = Shared::new(&config, "hanging", None, shutdown);
    let fleet = Arc::new(Hanging {
        inner: MemoryFleet::new("g", 1, 10, 2),
        hang: true.into(),
    });
    let rec = Reconciler::from_config(&config, "hanging", None);
    (state, fleet, rec)
}

#[tokio::test(start_paused = true)]
async fn a_hung_describe_is_a_provider_error_at_the_current_tick_within_the_budget() {
    let (state, fleet, mut rec) = setup(CancellationToken::new());
    let sink = MemorySink::new();
    for tick in 1..=3u64 {
        let start = Instant::now();
        tick_once(&mut rec, fleet.as_ref(), &sink, &state).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(500),
            "the tick's budget"
        );
        let d = state.decisions();
        let last = d.last().unwrap();
        assert_eq!((last.tick, last.reason.as_str()), (tick, "provider_error"));
        assert_eq!(last.action, "none", "missing data never scales");
        assert!(
            last.explanation
                .contains("DescribeAutoScalingGroups gave no answer within 500ms"),
            "{}",
            last.explanation
        );
        let h = state.health(controller::clock::now_ms());
        assert_eq!(h.failing_ticks, tick);
        assert_eq!(h.last_error.as_ref().unwrap().tick, tick);
    }
    fleet.hang.store(false, std::sync::atomic::Ordering::SeqCst);
    tick_once(&mut rec, fleet.as_ref(), &sink, &state).await;
    let d = state.decisions();
    assert_eq!(d.last().unwrap().tick, 4);
    assert_ne!(d.last().unwrap().reason, "provider_error");
    assert_eq!(state.status().tick, 4, "tick numbers stay one sequence");
    let h = state.health(controller::clock::now_ms());
    assert_eq!(h.failing_ticks, 0, "recovered");
    assert_eq!(
        h.last_error.unwrap().operation,
        "DescribeAutoScalingGroups",
        "the last error is kept"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hung_publish_is_abandoned_at_the_budget_and_the_decision_is_still_recorded() {
    let (state, fleet, mut rec) = setup(CancellationToken::new());
    fleet.hang.store(false, std::sync::atomic::Ordering::SeqCst);
    let start = Instant::now();
    tick_once(&mut rec, fleet.as_ref(), &HangingSink, &state).await;
    assert_eq!(start.elapsed(), Duration::from_millis(500));
    let d = state.decisions();
    assert_eq!(d.len(), 1);
    assert_ne!(d[0].reason, "provider_error");
    let s = state.status_response();
    assert_eq!(s.errors.publish, 1);
    let e = s.status.health.last_error.unwrap();
    assert_eq!(e.operation, "PutMetricData");
    assert!(
        e.message.contains("no answer within 500ms"),
        "{}",
        e.message
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_a_hung_tick_at_once_and_records_nothing() {
    let shutdown = CancellationToken::new();
    let (state, fleet, mut rec) = setup(shutdown.clone());
    let start = Instant::now();
    let cancel = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        shutdown.cancel();
    });
    tick_once(&mut rec, fleet.as_ref(), &MemorySink::new(), &state).await;
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert!(state.decisions().is_empty());
    cancel.await.unwrap();
}
