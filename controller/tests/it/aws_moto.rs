//! The AWS adapters against moto's server (started and stopped by each test):
//! the `aws` provider (DescribeAutoScalingGroups, SetDesiredCapacity) driven by the tick core,
//! and the CloudWatch sink (PutMetricData → GetMetricData).
//!
//! moto does not execute step scaling policies or lifecycle hooks; the controller needs
//! neither (it evaluates the policies itself and only calls SetDesiredCapacity), so every
//! operation used here is one moto implements.

use crate::moto_group;

use aws_smithy_types::DateTime;
use controller::aws::AwsFleet;
use controller::metrics::cloudwatch::{CloudWatchSink, GROUP_DIMENSION, MAX_ATTEMPTS};
use controller::metrics::{Datum, MetricsSink, SinkError, Unit};
use controller::provider::{Fleet, GroupSnapshot};
use fleetcore::aggregate::ReportBook;
use fleetcore::policy::{
    AdjustmentType, Alarm, Comparison, MetricName, Policies, RawPolicies, RawStepPolicy, Statistic,
    StepAdjustment,
};
use fleetcore::synthetic::{report, user_ids};
use fleetcore::tick::{Reconciler, ReconcilerSettings};
use testkit::Moto;

const GROUP: &str = "web";

async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    moto_group::sdk(moto).await
}

/// A launch configuration and a group of `desired` in moto.
async fn create_group(sdk: &aws_config::SdkConfig, min: i32, max: i32, desired: i32) {
    moto_group::create_group(sdk, GROUP, (min, max, desired)).await;
}

fn step(lower: Option<f64>, upper: Option<f64>, adj: i32) -> StepAdjustment {
    StepAdjustment {
        lower_bound: lower,
        upper_bound: upper,
        scaling_adjustment: adj,
    }
}

fn alarm(threshold: f64, comparison: Comparison) -> Alarm {
    Alarm {
        metric: MetricName::ConcurrentUsersPerInstance,
        statistic: Statistic::Average,
        threshold,
        comparison,
        period_secs: 10.0,
        evaluation_periods: 1,
        datapoints_to_alarm: Some(1),
    }
}

/// +1 from 50 users per instance, +2 from 70; −1 at or below 10. No warmup.
fn policies() -> Policies {
    Policies::new(RawPolicies {
        mode: fleetcore::policy::PolicyMode::Controller,
        scale_out: RawStepPolicy {
            name: "out".into(),
            alarm: alarm(50.0, Comparison::GreaterThanOrEqualToThreshold),
            adjustment_type: AdjustmentType::ChangeInCapacity,
            steps: vec![step(Some(0.0), Some(20.0), 1), step(Some(20.0), None, 2)],
            min_adjustment_magnitude: None,
            estimated_instance_warmup_secs: 0.0,
        },
        scale_in: RawStepPolicy {
            name: "in".into(),
            alarm: alarm(10.0, Comparison::LessThanOrEqualToThreshold),
            adjustment_type: AdjustmentType::ChangeInCapacity,
            steps: vec![step(None, Some(0.0), -1)],
            min_adjustment_magnitude: None,
            estimated_instance_warmup_secs: 0.0,
        },
        lookahead: None,
    })
    .unwrap()
}

fn reconciler(max: u32) -> Reconciler {
    Reconciler::new(
        policies(),
        ReconcilerSettings {
            min_size: 1,
            max_size: max,
            tick_ms: 10_000,
            stale_after_ms: 30_000,
            per_instance_metrics: false,
            provider: "aws".into(),
            endpoint: None,
        },
    )
}

/// Every instance of `snap` reports `per_instance` distinct users at `now_ms`.
fn reports(snap: &GroupSnapshot, per_instance: u64, now_ms: u64, book: &mut ReportBook) {
    for (k, i) in snap.instances.iter().enumerate() {
        let ids = user_ids(k as u64 * per_instance, (k as u64 + 1) * per_instance);
        book.ingest(
            report(&i.id, now_ms, now_ms, ids.iter().map(String::as_str), 0),
            now_ms,
        );
    }
}

#[tokio::test]
async fn load_over_the_threshold_moves_the_group_by_the_step_and_never_past_max() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    create_group(&sdk, 1, 5, 2).await;
    let fleet = AwsFleet::new(&sdk, GROUP);
    let mut rec = reconciler(4);
    let mut book = ReportBook::new();
    // Simulated time in the future, so instances the provider first sees count as warmed up.
    let mut now = controller::clock::now_ms() + 60_000;

    let snap = fleet.describe().await.unwrap();
    assert_eq!(
        (snap.min_size, snap.max_size, snap.desired_capacity),
        (1, 5, 2)
    );
    assert_eq!(snap.instances.len(), 2);
    assert!(
        snap.instances
            .iter()
            .all(|i| i.lifecycle == proto::Lifecycle::InService)
    );
    assert!(
        snap.instances
            .iter()
            .all(|i| i.zone.starts_with("us-east-1"))
    );

    // (users per instance, expected desired capacity in moto afterwards)
    let plan = [(60, 3), (80, 4), (200, 4), (30, 4), (5, 3)];
    for (users, expected) in plan {
        now += 10_000;
        let snap = fleet.describe().await.unwrap();
        reports(&snap, users, now, &mut book);
        let out = rec.step(&snap, &mut book, now);
        if out.decision.changes_capacity() {
            fleet
                .set_desired_capacity(out.decision.capacity_after)
                .await
                .unwrap();
        }
        let after = fleet.describe().await.unwrap();
        assert_eq!(
            after.desired_capacity, expected,
            "{users} users: {}",
            out.decision.explanation
        );
        assert!(
            after.desired_capacity <= 4,
            "never past the controller's max"
        );
        assert_eq!(
            after.instances.len() as u32,
            expected,
            "moto launched or terminated"
        );
        if users == 200 {
            assert_eq!(out.record.reason, "at_max", "{}", out.decision.explanation);
        }
    }
}

/// (moto does not check SetDesiredCapacity against MaxSize; that error is tested with
/// aws-smithy-mocks in `aws.rs`.)
#[tokio::test]
async fn a_missing_group_is_an_error() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    let err = AwsFleet::new(&sdk, "nope").describe().await.unwrap_err();
    assert!(
        matches!(err, controller::provider::ProviderError::NoSuchGroup(_)),
        "{err}"
    );
}

async fn metric_values(sdk: &aws_config::SdkConfig, name: &str, at_ms: u64) -> Vec<f64> {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
    let cw = aws_sdk_cloudwatch::Client::new(sdk);
    let metric = Metric::builder()
        .namespace("HelloFleetTest")
        .metric_name(name)
        .dimensions(
            Dimension::builder()
                .name(GROUP_DIMENSION)
                .value(GROUP)
                .build(),
        )
        .build();
    let out = cw
        .get_metric_data()
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("q")
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric)
                        .period(1)
                        .stat("Maximum")
                        .build(),
                )
                .build(),
        )
        .start_time(DateTime::from_millis(at_ms as i64 - 60_000))
        .end_time(DateTime::from_millis(at_ms as i64 + 60_000))
        .send()
        .await
        .expect("GetMetricData");
    out.metric_data_results()
        .iter()
        .flat_map(|r| r.values().to_vec())
        .collect()
}

#[tokio::test]
async fn after_a_tick_get_metric_data_returns_the_published_values() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    let fleet = controller::provider::memory::MemoryFleet::new(GROUP, 1, 5, 3);
    let snap = fleet.snapshot();
    let now = controller::clock::now_ms();
    let mut book = ReportBook::new();
    reports(&snap, 40, now, &mut book);
    let out = reconciler(5).step(&snap, &mut book, now);

    let sink = CloudWatchSink::new(&sdk, "HelloFleetTest", GROUP);
    assert_eq!(
        sink.publish(&out.data).await.unwrap(),
        1,
        "one PutMetricData call"
    );
    let users = metric_values(&sdk, "ConcurrentUsers", now).await;
    assert_eq!(users, vec![out.metrics.concurrent_users as f64]);
    assert!(
        (118..=122).contains(&out.metrics.concurrent_users),
        "{}",
        out.metrics.concurrent_users
    );
    assert_eq!(
        metric_values(&sdk, "ConcurrentUsersPerInstance", now).await,
        vec![40.0]
    );
    assert_eq!(
        metric_values(&sdk, "InServiceInstances", now).await,
        vec![3.0]
    );
}

#[tokio::test]
async fn large_publishes_go_in_batches_of_at_most_1000() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    let now = controller::clock::now_ms();
    let data: Vec<Datum> = (0..2_100)
        .map(|i| Datum {
            name: "ConcurrentUsers",
            value: f64::from(i),
            unit: Unit::Count,
            at_ms: now,
            instance_id: Some(format!("i-{i}")),
        })
        .collect();
    let sink = CloudWatchSink::new(&sdk, "HelloFleetTest", GROUP);
    assert_eq!(sink.publish(&data).await.unwrap(), 3);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retried_then_reported() {
    let mut moto = Moto::start();
    let sdk = sdk(&moto).await;
    moto.stop();
    let sink = CloudWatchSink::new(&sdk, "HelloFleetTest", GROUP);
    let d = Datum {
        name: "ConcurrentUsers",
        value: 1.0,
        unit: Unit::Count,
        at_ms: 1,
        instance_id: None,
    };
    let started = std::time::Instant::now();
    let err = sink.publish(&[d]).await.unwrap_err();
    let SinkError::Publish {
        failed, attempts, ..
    } = err;
    assert_eq!((failed, attempts), (1, MAX_ATTEMPTS));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
