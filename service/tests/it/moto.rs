//! The CloudWatch sink and the whole binary against moto's server, started by
//! each test on a free loopback port (`testkit::Moto`).

use crate::common;

use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::Client;
use axum::http::StatusCode;
use common::cwlogs::{GROUP, read_stream, sdk_config};
use common::{Process, client, expected_repeat_messages, get, load_report};
use service::shipper::batch::Batch;
use service::shipper::cloudwatch::CloudWatchSink;
use service::shipper::{LogEvent, LogSink};
use testkit::Moto;

fn spawn_service(moto: &Moto, id: &str, extra: &[&str]) -> Process {
    let mut flags = vec![
        "--log-sink",
        "cloudwatch",
        "--log-group",
        GROUP,
        "--instance-id",
        id,
    ];
    flags.extend_from_slice(extra);
    Process::spawn(&flags, &moto.env())
}

async fn repeat_n(c: &common::HttpClient, base: &str, n: usize, pace: Duration) {
    for i in 0..n {
        let started = Instant::now();
        let r = get(c, &format!("{base}/repeat")).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}");
        assert_eq!(r.body.lines().count(), 100);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "request {i} took {:?}",
            started.elapsed()
        );
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
    }
}

/// Polls the service's own counters (its readiness signal for shipping).
async fn wait_shipped(
    c: &common::HttpClient,
    svc: &Process,
    shipped: u64,
    within: Duration,
) -> proto::LogCounters {
    let deadline = Instant::now() + within;
    loop {
        let log = load_report(c, &svc.base).await.log;
        if log.shipped >= shipped && log.queued == 0 {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "shipped only {log:?}\n{}",
            svc.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_creates_group_and_stream_and_recreates_them() {
    let moto = Moto::start();
    let sink = CloudWatchSink::from_config(sdk_config(&moto), GROUP, "adapter");
    let now = service::state::unix_ms() as i64;
    let batch = |from: i64| Batch {
        events: (0..50)
            .map(|i| LogEvent::new(now + i, format!("event {}", from + i)))
            .collect(),
        bytes: 0,
    };
    let out = sink
        .put(&batch(0))
        .await
        .expect("first put creates group and stream");
    assert_eq!(out.rejected, 0);
    assert_eq!(read_stream(&moto, "adapter").await.len(), 50);
    // Deleted under the sink: the next put recreates and resends.
    Client::from_conf(sdk_config(&moto))
        .delete_log_group()
        .log_group_name(GROUP)
        .send()
        .await
        .unwrap();
    sink.put(&batch(50)).await.expect("put after deletion");
    let got = read_stream(&moto, "adapter").await;
    assert_eq!(got.len(), 50);
    assert!(
        got.iter().all(|m| m.as_str() >= "event 50"),
        "only the new batch after deletion"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_reports_a_dead_endpoint_as_retriable() {
    let moto = Moto::start();
    let config = sdk_config(&moto);
    drop(moto);
    let sink = CloudWatchSink::from_config(config, GROUP, "gone");
    let batch = Batch {
        events: vec![LogEvent::new(1, "x")],
        bytes: 0,
    };
    let err = sink.put(&batch).await.expect_err("nobody listens");
    assert_eq!(
        service::shipper::retry::is_retriable(&err),
        service::shipper::retry::Retry::Yes,
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_repeats_give_exactly_4000_events() {
    let moto = Moto::start();
    let svc = spawn_service(&moto, "i-moto-a", &["--drain-delay", "100ms"]);
    let c = client();
    repeat_n(&c, &svc.base, 200, Duration::ZERO).await;
    let log = wait_shipped(&c, &svc, 4_000, Duration::from_secs(60)).await;
    assert_eq!(
        (log.enqueued, log.shipped, log.failed, log.dropped),
        (4_000, 4_000, 0, 0)
    );
    assert_eq!(
        common::repeat_texts(&read_stream(&moto, "i-moto-a").await),
        expected_repeat_messages(200)
    );
    common::crash::stop(svc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_right_after_the_last_response_still_delivers_4000() {
    let moto = Moto::start();
    // A long flush interval: nothing ships before SIGTERM, so the final flush does it all.
    let mut svc = spawn_service(
        &moto,
        "i-moto-b",
        &["--flush-interval", "10m", "--drain-delay", "200ms"],
    );
    let c = client();
    repeat_n(&c, &svc.base, 200, Duration::ZERO).await;
    svc.sigterm();
    assert_eq!(
        svc.wait_exit(Duration::from_secs(60)),
        0,
        "{}",
        svc.stderr_text()
    );
    assert_eq!(
        common::repeat_texts(&read_stream(&moto, "i-moto-b").await),
        expected_repeat_messages(200)
    );
    assert!(
        svc.stderr_text().contains("failed=0"),
        "{}",
        svc.stderr_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_down_for_5s_loses_nothing() {
    let mut moto = Moto::start();
    let port = moto.port();
    let svc = spawn_service(&moto, "i-moto-c", &["--drain-delay", "100ms"]);
    let c = client();

    // Phase A: the emulator is up and takes everything.
    repeat_n(&c, &svc.base, 100, Duration::ZERO).await;
    wait_shipped(&c, &svc, 2_000, Duration::from_secs(60)).await;

    // Phase B: the emulator is down for ~5 s; requests keep answering promptly.
    moto.stop();
    let down_at = Instant::now();
    repeat_n(&c, &svc.base, 100, Duration::from_millis(35)).await;
    let during = load_report(&c, &svc.base).await.log;
    assert_eq!(
        during.queued, 2_000,
        "held while the sink is down: {during:?}"
    );
    assert!(during.retried > 0);
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(down_at.elapsed())).await;

    // It comes back empty (moto keeps state in memory): the shipper recreates
    // the group and stream and delivers every held event.
    moto = Moto::start_on(port);
    let log = wait_shipped(&c, &svc, 4_000, Duration::from_secs(60)).await;
    assert_eq!(
        (log.shipped, log.failed, log.dropped, log.rejected),
        (4_000, 0, 0, 0)
    );
    assert_eq!(
        common::repeat_texts(&read_stream(&moto, "i-moto-c").await),
        expected_repeat_messages(100)
    );
    common::crash::stop(svc);
}
