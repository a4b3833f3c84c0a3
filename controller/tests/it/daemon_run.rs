//! `daemon::run` end to end on a real socket: against moto (aws provider + CloudWatch sink),
//! and against the in-memory fleet. Every server and emulator is stopped by the test.

use crate::daemon_support;
use crate::moto_group;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use controller::aws::AwsFleet;
use controller::clock::now_ms;
use controller::config::Config;
use controller::daemon::{DaemonError, StatusResponse, run};
use controller::metrics::cloudwatch::CloudWatchSink;
use controller::metrics::{MemorySink, MetricsSink};
use controller::provider::Fleet;
use controller::provider::memory::MemoryFleet;
use fleetcore::synthetic::{report, user_ids};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use daemon_support::{Daemon, config_with_key, http, post_signed, status, test_key};

/// Every listed instance reports `users` distinct users now.
async fn push_reports(addr: SocketAddr, s: &StatusResponse, users: u64, seq: u64) {
    for (k, i) in s.status.instances.iter().enumerate() {
        let ids = user_ids(k as u64 * users, (k as u64 + 1) * users);
        let r = report(
            &i.id,
            seq,
            now_ms(),
            ids.iter().map(String::as_str),
            seq * 10,
        );
        let (code, body) = post_signed(addr, &r).await;
        assert!(code == 202 || code == 200, "{code} {body}");
    }
}

const CONFIG: &str = r#"
provider = "aws"
tick = "200ms"
[group]
name = "web"
min_size = 1
max_size = 3
[api]
listen = "127.0.0.1:0"
[metrics]
publish = true
namespace = "HelloFleetE2E"
[aws]
region = "us-east-1"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_over_the_threshold_scale_the_moto_group_to_max_and_metrics_reach_cloudwatch() {
    let moto = testkit::Moto::start();
    let sdk = moto_group::sdk(&moto).await;
    moto_group::create_group(&sdk, "web", (1, 5, 1)).await;

    // The aws provider reads the key from the file the config names (no key, no start).
    let config = config_with_key(CONFIG, "daemon-run-moto", "");
    assert_eq!(config.reports().key(), Some(&test_key()));
    let fleet = Arc::new(AwsFleet::new(&sdk, "web"));
    let sink = Arc::new(CloudWatchSink::new(&sdk, "HelloFleetE2E", "web"));
    let daemon =
        Daemon::spawn(|listener, shutdown| run(config, fleet.clone(), sink, listener, shutdown))
            .await;
    let addr = daemon.addr;

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seq = 0;
    let mut seen_desired = vec![];
    loop {
        seq += 1;
        let s = status(addr).await;
        if seen_desired.last() != Some(&s.status.group.desired_capacity) {
            seen_desired.push(s.status.group.desired_capacity);
        }
        if fleet.describe().await.unwrap().desired_capacity == 3 && s.status.instances.len() == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never reached max: {seen_desired:?} {:?}",
            s.reports
        );
        push_reports(addr, &s, 80, seq).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // +1 per breaching tick, never past the controller's max of 3 (the group's is 5).
    for _ in 0..5 {
        seq += 1;
        let s = status(addr).await;
        push_reports(addr, &s, 80, seq).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(fleet.describe().await.unwrap().desired_capacity, 3);
    let (_, body) = http(addr, "GET", "/api/decisions", "").await;
    let decisions: Vec<proto::DecisionRecord> = serde_json::from_str(&body).unwrap();
    let scaled: Vec<(u32, u32)> = decisions
        .iter()
        .filter(|d| d.applied == Some(true))
        .map(|d| (d.capacity_before, d.capacity_after))
        .collect();
    assert_eq!(scaled, vec![(1, 2), (2, 3)], "one step at a time");
    assert!(decisions.iter().any(|d| d.reason == "at_max"));

    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let listed = cw
        .list_metrics()
        .namespace("HelloFleetE2E")
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = listed
        .metrics()
        .iter()
        .filter_map(|m| m.metric_name())
        .collect();
    assert!(
        names.contains(&"ConcurrentUsers") && names.contains(&"DesiredCapacity"),
        "{names:?}"
    );

    daemon.stop().await;
}

#[tokio::test]
async fn the_configured_desired_capacity_is_applied_and_shutdown_stops_everything() {
    let overrides = controller::config::Overrides {
        tick: Some("100ms".into()),
        desired_capacity: Some(3),
        ..Default::default()
    };
    let config = Config::from_toml(controller::config::defaults::LOCAL_TOML, "test", &overrides)
        .unwrap()
        .with_report_key(test_key());
    let fleet = Arc::new(MemoryFleet::new("g", 1, 10, 1));
    let sink = Arc::new(MemorySink::new());
    let dyn_sink: Arc<dyn MetricsSink> = sink.clone();
    let daemon = Daemon::spawn(|listener, shutdown| {
        run(config, fleet.clone(), dyn_sink, listener, shutdown)
    })
    .await;
    let addr = daemon.addr;

    let deadline = Instant::now() + Duration::from_secs(10);
    while status(addr).await.status.tick < 2 {
        assert!(Instant::now() < deadline, "no tick");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fleet.desired_calls()[0], 3);
    let s = status(addr).await;
    assert_eq!(s.status.instances.len(), 3);
    assert_eq!(s.status.provider, "memory");
    let (code, _) = http(addr, "GET", "/", "").await;
    assert_eq!(code, 200, "the dashboard is mounted at /");
    assert!(!sink.data().is_empty());

    daemon.stop().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed after shutdown"
    );
}

/// What `run` fails with, before serving, for `config` and `fleet`.
async fn start_up_error(config: Config, fleet: Arc<MemoryFleet>) -> DaemonError {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink = Arc::new(MemorySink::new());
    run(config, fleet, sink, listener, CancellationToken::new())
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_group_that_cannot_be_read_fails_before_serving() {
    let fleet = Arc::new(MemoryFleet::new("g", 1, 10, 1));
    fleet.fail_with(Some("no such group"));
    let config = Config::local_default().with_report_key(test_key());
    let err = start_up_error(config, fleet).await;
    assert!(err.to_string().contains("no such group"), "{err}");
}

#[tokio::test]
async fn signatures_required_without_a_key_fails_before_serving_naming_the_field() {
    let fleet = Arc::new(MemoryFleet::new("g", 1, 10, 1));
    let err = start_up_error(Config::local_default(), fleet.clone()).await;
    assert!(err.to_string().starts_with("reports.key_file:"), "{err}");
    assert_eq!(fleet.describe_calls(), 0, "nothing started");
}
