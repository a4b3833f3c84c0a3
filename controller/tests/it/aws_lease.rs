//! Two controllers against one emulated group (moto: Auto Scaling + DynamoDB), under the
//! `[lease]`: the standby never changes the capacity while the leader holds the lease,
//! and takes over within a few ticks after the leader stops (released) or dies (expired).
//! Every daemon and emulator is stopped by the test.

use crate::daemon_support;
use crate::moto_group;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use controller::aws::AwsFleet;
use controller::aws_lease::DynamoLease;
use controller::clock::now_ms;
use controller::daemon::{StatusResponse, run_with_lease};
use controller::lease::{Claim, LeaseStore};
use controller::metrics::{MemorySink, MetricsSink};
use controller::provider::Fleet;
use fleetcore::synthetic::{report, user_ids};
use testkit::fault_proxy::{Fault, FaultProxy};

use daemon_support::{Daemon, config_with_key, leads, post_signed, standing_by, status};

const TABLE: &str = "hf-lease";

const CONFIG: &str = r#"
provider = "aws"
tick = "200ms"
[group]
name = "web"
min_size = 1
max_size = 5
[api]
listen = "127.0.0.1:0"
[metrics]
publish = false
[aws]
region = "us-east-1"
operation_timeout = "2s"
attempt_timeout = "1s"
connect_timeout = "500ms"
"#;

struct Env {
    moto: testkit::Moto,
    sdk: aws_config::SdkConfig,
    fleet: Arc<AwsFleet>,
}

async fn env() -> Env {
    let moto = testkit::Moto::start();
    let sdk = moto_group::sdk(&moto).await;
    moto_group::create_group(&sdk, "web", (1, 5, 1)).await;
    // The table as infra/fleet.yaml declares it (LeaseTable).
    aws_sdk_dynamodb::Client::new(&sdk)
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("lease")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("lease")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let fleet = Arc::new(AwsFleet::new(&sdk, "web"));
    Env { moto, sdk, fleet }
}

async fn start(env: &Env, holder: &str) -> Daemon {
    let store: Arc<dyn LeaseStore> = Arc::new(DynamoLease::new(&env.sdk, TABLE, "web"));
    start_with(env, holder, store).await
}

async fn start_with(env: &Env, holder: &str, store: Arc<dyn LeaseStore>) -> Daemon {
    let config = config_with_key(
        CONFIG,
        &format!("aws-lease-{holder}"),
        &format!("[lease]\ntable = \"{TABLE}\"\nttl = \"1s\"\nholder = \"{holder}\"\n"),
    );
    let sink: Arc<dyn MetricsSink> = Arc::new(MemorySink::new());
    Daemon::spawn(|listener, stop| {
        run_with_lease(config, env.fleet.clone(), sink, listener, stop, Some(store))
    })
    .await
}

/// Every listed instance reports 80 distinct users (over the threshold of 50): a
/// controller that may act scales out.
async fn overload(addr: SocketAddr, s: &StatusResponse, seq: u64) {
    for (k, i) in s.status.instances.iter().enumerate() {
        let ids = user_ids(k as u64 * 80, (k as u64 + 1) * 80);
        let r = report(&i.id, seq, now_ms(), ids.iter().map(String::as_str), seq);
        let (code, body) = post_signed(addr, &r).await;
        assert!(code == 202 || code == 200, "{code} {body}");
    }
}

async fn wait_until_leads(addr: SocketAddr, within: Duration) {
    let deadline = Instant::now() + within;
    while !leads(&status(addr).await) {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            status(addr).await.status.health
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Overloads `standby` for `ticks` of its ticks, asserting each time that the group keeps
/// its capacity and the standby says who leads.
async fn standby_changes_nothing(env: &Env, standby: SocketAddr, leader: &str, ticks: u64) -> u64 {
    let first = status(standby).await.status.tick;
    let mut seq = 0;
    loop {
        seq += 1;
        let s = status(standby).await;
        standing_by(&s, leader);
        assert_eq!(env.fleet.describe().await.unwrap().desired_capacity, 1);
        if s.status.tick >= first + ticks {
            return seq;
        }
        overload(standby, &s, seq).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Keeps overloading `addr` until the group grows; returns the ticks it took.
async fn takes_over(env: &Env, addr: SocketAddr, mut seq: u64, within: Duration) -> u64 {
    let first = status(addr).await.status.tick;
    let deadline = Instant::now() + within;
    loop {
        seq += 1;
        let s = status(addr).await;
        if env.fleet.describe().await.unwrap().desired_capacity > 1 {
            assert!(leads(&s), "{:?}", s.status.health);
            return s.status.tick - first;
        }
        assert!(
            Instant::now() < deadline,
            "never took over: {:?}",
            s.status.health
        );
        overload(addr, &s, seq).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_never_scales_while_the_leader_holds_the_lease_and_takes_over_when_it_stops() {
    let env = env().await;
    let a = start(&env, "a").await;
    wait_until_leads(a.addr, Duration::from_secs(10)).await;
    let b = start(&env, "b").await;

    // b is overloaded for 15 ticks (3 s, three lease lifetimes): it decides, never applies.
    let seq = standby_changes_nothing(&env, b.addr, "a", 15).await;
    let (_, body) = daemon_support::http(b.addr, "GET", "/api/decisions", "").await;
    let decisions: Vec<proto::DecisionRecord> = serde_json::from_str(&body).unwrap();
    assert!(
        decisions
            .iter()
            .any(|d| d.action == "scale_out" && d.explanation.contains("standing by")),
        "the standby wanted to scale out: {decisions:?}"
    );
    assert!(decisions.iter().all(|d| d.applied != Some(true)));

    // a stops (and releases): b takes over within a few ticks, and scales.
    a.stop().await;
    let ticks = takes_over(&env, b.addr, seq, Duration::from_secs(10)).await;
    assert!(ticks <= 5, "took {ticks} ticks");
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_leaders_lease_is_respected_until_it_expires() {
    let env = env().await;
    // A leader that died without releasing: its claim runs for 2 s more.
    let ghost = DynamoLease::new(&env.sdk, TABLE, "web");
    let now = now_ms();
    assert_eq!(
        ghost.claim("ghost", now, now + 2_000).await,
        Ok(Claim::Granted)
    );
    let b = start(&env, "b").await;
    let mut seq = 0;
    while now_ms() < now + 1_500 {
        seq += 1;
        let s = status(b.addr).await;
        assert!(!leads(&s), "{:?}", s.status.health);
        assert_eq!(env.fleet.describe().await.unwrap().desired_capacity, 1);
        overload(b.addr, &s, seq).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Expired at now + 2 s: b takes over within a few ticks after that.
    let ticks = takes_over(&env, b.addr, seq, Duration::from_secs(10)).await;
    assert!(ticks <= 10, "took {ticks} ticks");
    // The ghost's late renewal is refused: b holds it.
    let later = now_ms();
    match ghost.claim("ghost", later, later + 2_000).await {
        Ok(Claim::HeldBy { holder, .. }) => assert_eq!(holder, "b"),
        other => panic!("{other:?}"),
    }
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_lease_stops_acting_before_it_expires_and_keeps_its_cadence() {
    let env = env().await;
    // The lease's calls go through a fault proxy; the group's go to moto directly.
    let proxy = FaultProxy::start(format!("127.0.0.1:{}", env.moto.port()).parse().unwrap());
    let via_proxy = moto_group::sdk_at(&proxy.endpoint()).await;
    let store: Arc<dyn LeaseStore> = Arc::new(DynamoLease::new(&via_proxy, TABLE, "web"));
    let a = start_with(&env, "a", store).await;
    wait_until_leads(a.addr, Duration::from_secs(10)).await;

    proxy.set(Fault::Blackhole);
    let cut = Instant::now();
    let tick_at_cut = status(a.addr).await.status.tick;
    // Its last claim was sent before the cut and lasts 1 s: past that it must not lead.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let s = status(a.addr).await;
    let lease = s.status.health.lease.clone().unwrap();
    assert!(
        !lease.leads,
        "still leads {:?} after the cut: {lease:?}",
        cut.elapsed()
    );
    assert!(lease.last_error.is_some(), "{lease:?}");
    // Every claim is bounded by the tick: the ticks kept coming (200 ms each).
    assert!(
        s.status.tick >= tick_at_cut + 3,
        "{} -> {}",
        tick_at_cut,
        s.status.tick
    );

    proxy.set(Fault::None);
    wait_until_leads(a.addr, Duration::from_secs(5)).await;
    a.stop().await;
}
