//! `daemon::run_with_lease` with the in-memory fleet and sink and an in-memory lease store
//! (the same conditional semantics as the DynamoDB one, `aws_lease.rs`): a standby
//! neither applies (not even the configured start-up capacity) nor publishes; it takes over
//! once the lease is free, and releases it at shutdown.

use crate::daemon_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use controller::config::{Config, Overrides};
use controller::daemon::run_with_lease;
use controller::lease::{Claim, LeaseError, LeaseStore};
use controller::metrics::{MemorySink, MetricsSink};
use controller::provider::memory::MemoryFleet;

use daemon_support::{Daemon, leads, standing_by, status, test_key};

#[derive(Default)]
struct MemLease {
    item: Mutex<Option<(String, u64)>>,
    claims: AtomicU64,
}

#[async_trait]
impl LeaseStore for MemLease {
    async fn claim(
        &self,
        holder: &str,
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Result<Claim, LeaseError> {
        self.claims.fetch_add(1, Ordering::Relaxed);
        let mut item = self.item.lock().unwrap();
        match item.as_ref() {
            Some((h, until)) if h != holder && *until >= now_ms => Ok(Claim::HeldBy {
                holder: h.clone(),
                until_ms: *until,
            }),
            _ => {
                *item = Some((holder.to_string(), expires_at_ms));
                Ok(Claim::Granted)
            }
        }
    }

    async fn release(&self, holder: &str) -> Result<(), LeaseError> {
        let mut item = self.item.lock().unwrap();
        if item.as_ref().is_some_and(|(h, _)| h == holder) {
            *item = None;
        }
        Ok(())
    }

    fn location(&self) -> String {
        "memory:lease".into()
    }
}

const CONFIG: &str = r#"
provider = "aws"
tick = "100ms"
[group]
name = "g"
min_size = 1
max_size = 10
desired_capacity = 3
[api]
listen = "127.0.0.1:0"
[metrics]
publish = true
[lease]
table = "g-lease"
ttl = "1s"
holder = "me"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_neither_applies_nor_publishes_and_takes_over_when_the_lease_is_free() {
    let config = Config::from_toml(CONFIG, "test", &Overrides::default())
        .unwrap()
        .with_report_key(test_key());
    let fleet = Arc::new(MemoryFleet::new("g", 1, 10, 1));
    let sink = Arc::new(MemorySink::new());
    let store = Arc::new(MemLease::default());
    *store.item.lock().unwrap() = Some(("other".into(), u64::MAX));
    let dyn_sink: Arc<dyn MetricsSink> = sink.clone();
    let dyn_store: Arc<dyn LeaseStore> = store.clone();
    let daemon = Daemon::spawn(|listener, shutdown| {
        run_with_lease(
            config,
            fleet.clone(),
            dyn_sink,
            listener,
            shutdown,
            Some(dyn_store),
        )
    })
    .await;
    let addr = daemon.addr;

    // Ten ticks standing by: the configured start-up capacity is not set, nothing is published.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = status(addr).await;
        let lease = standing_by(&s, "other");
        assert_eq!(lease.holder, "me");
        if s.status.tick >= 10 {
            break;
        }
        assert!(Instant::now() < deadline, "no ticks");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        fleet.desired_calls(),
        Vec::<u32>::new(),
        "a standby applied"
    );
    assert!(sink.data().is_empty(), "a standby published");
    assert!(
        store.claims.load(Ordering::Relaxed) >= 10,
        "claimed every tick"
    );

    // The other leader releases it: this one leads within a few ticks, and publishes.
    *store.item.lock().unwrap() = None;
    let freed_at = status(addr).await.status.tick;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = status(addr).await;
        if leads(&s) && !sink.data().is_empty() {
            assert!(
                s.status.tick - freed_at <= 3,
                "took {} ticks",
                s.status.tick - freed_at
            );
            break;
        }
        assert!(Instant::now() < deadline, "never took over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        store.item.lock().unwrap().as_ref().map(|(h, _)| h.clone()),
        Some("me".into())
    );

    // Shutdown releases it, so a successor need not wait for it to expire.
    daemon.stop().await;
    assert_eq!(*store.item.lock().unwrap(), None, "released at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_store_the_controller_always_leads() {
    let config = Config::from_toml(CONFIG, "test", &Overrides::default())
        .unwrap()
        .with_report_key(test_key());
    let fleet = Arc::new(MemoryFleet::new("g", 1, 10, 1));
    let sink: Arc<dyn MetricsSink> = Arc::new(MemorySink::new());
    let daemon = Daemon::spawn(|listener, shutdown| {
        run_with_lease(config, fleet.clone(), sink, listener, shutdown, None)
    })
    .await;
    let addr = daemon.addr;
    let s = status(addr).await;
    assert!(s.status.health.lease.is_none());
    assert_eq!(
        fleet.desired_calls(),
        vec![3],
        "the start-up capacity applies"
    );
    daemon.stop().await;
}
