//! Native mode against moto's server (started and stopped by the test): the daemon, given
//! a config file in native mode, puts one StepScaling policy and one alarm per TOML policy
//! on the group; the test reads them back with the AWS SDK and compares them field for
//! field with the TOML; a changed file is reloaded and reconciled; back in controller mode
//! they are deleted, and nothing else; SetDesiredCapacity is never called in native mode.
//!
//! What moto 5.2.1 does not do:
//! it does not execute policies or evaluate alarms, `DescribeScalingActivities` always
//! answers an empty list and `DescribeAlarmHistory` is not implemented, so the records from
//! AWS's history are tested on recorded shapes (the `native::history` and `native::aws`
//! unit tests: SDK types built as AWS returns them) rather than here.

use crate::daemon_support::Daemon;
use crate::moto_group;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_autoscaling::types::{ScalingPolicy, StepAdjustment};
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic};
use controller::config::{Config, ConfigWatch, Overrides};
use controller::daemon::{Extras, run_with};
use controller::metrics::cloudwatch::CloudWatchSink;
use controller::native::aws::AwsPolicies;
use controller::native::driver::NativeDriver;
use testkit::Moto;

const GROUP: &str = "web";

async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    moto_group::sdk(moto).await
}

/// The config file: the group's bounds say 3..5 while the group sits at 2, so the
/// controller's own engine would raise it to 3 at once (`out_of_bounds`): in native mode
/// nothing may.
fn config_text(mode: &str, out_threshold: u32, in_name: &str) -> String {
    format!(
        r#"
provider = "aws"
tick = "200ms"
[group]
name = "{GROUP}"
min_size = 3
max_size = 5
desired_capacity = 4
[metrics]
publish = true
namespace = "HelloFleetTest"
[reports]
require_signature = false
[aws]
region = "us-east-1"
operation_timeout = "5s"
[policies]
mode = "{mode}"
[policies.scale_out]
name = "scale-out"
adjustment_type = "PercentChangeInCapacity"
min_adjustment_magnitude = 1
estimated_instance_warmup_secs = 90
alarm = {{ metric = "ConcurrentUsersPerInstance", statistic = "Maximum", threshold = {out_threshold}, comparison = "GreaterThanThreshold", period_secs = 10, evaluation_periods = 3, datapoints_to_alarm = 2 }}
steps = [ {{ lower_bound = 0, upper_bound = 15, scaling_adjustment = 20 }},
          {{ lower_bound = 15, scaling_adjustment = 50 }} ]
[policies.scale_in]
name = "{in_name}"
adjustment_type = "ChangeInCapacity"
estimated_instance_warmup_secs = 30
alarm = {{ metric = "ConcurrentUsersPerInstance", threshold = 20, comparison = "LessThanOrEqualToThreshold", period_secs = 60, evaluation_periods = 5 }}
steps = [ {{ upper_bound = -10, scaling_adjustment = -2 }},
          {{ lower_bound = -10, upper_bound = 0, scaling_adjustment = -1 }} ]
"#
    )
}

struct TempFile(PathBuf);

impl TempFile {
    fn new(text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "hf-native-{}-{}",
            std::process::id(),
            controller::clock::now_ms()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let f = TempFile(dir.join("controller.toml"));
        f.write(text);
        f
    }

    fn write(&self, text: &str) {
        std::fs::write(&self.0, text).unwrap();
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn create_group(sdk: &aws_config::SdkConfig) -> aws_sdk_autoscaling::Client {
    moto_group::create_group(sdk, GROUP, (1, 5, 2)).await
}

async fn desired(asg: &aws_sdk_autoscaling::Client) -> i32 {
    moto_group::desired_capacity(asg, GROUP).await
}

fn sorted<'a>(names: impl Iterator<Item = Option<&'a str>>) -> Vec<String> {
    let mut v: Vec<String> = names.flatten().map(str::to_string).collect();
    v.sort();
    v
}

async fn policy_names(asg: &aws_sdk_autoscaling::Client) -> Vec<String> {
    let out = asg
        .describe_policies()
        .auto_scaling_group_name(GROUP)
        .send()
        .await
        .unwrap();
    sorted(out.scaling_policies().iter().map(|p| p.policy_name()))
}

async fn alarm_names(cw: &aws_sdk_cloudwatch::Client) -> Vec<String> {
    let out = cw.describe_alarms().send().await.unwrap();
    sorted(out.metric_alarms().iter().map(|a| a.alarm_name()))
}

/// The one of `items` whose name (by `name_of`) is `name`.
fn named<T: Clone>(items: &[T], name: &str, name_of: impl Fn(&T) -> Option<&str>) -> T {
    items
        .iter()
        .find(|i| name_of(i) == Some(name))
        .unwrap_or_else(|| panic!("no {name}"))
        .clone()
}

type Steps = Vec<(Option<f64>, Option<f64>, Option<i32>)>;

/// A policy's fields as the TOML sets them: type, adjustment type, minimum magnitude,
/// warmup, aggregation, steps (lower, upper, adjustment).
#[allow(clippy::type_complexity)]
fn policy_fields(
    p: &ScalingPolicy,
) -> (
    Option<&str>,
    Option<&str>,
    Option<i32>,
    Option<i32>,
    Option<&str>,
    Steps,
) {
    let steps = p
        .step_adjustments()
        .iter()
        .map(|s| {
            (
                s.metric_interval_lower_bound(),
                s.metric_interval_upper_bound(),
                s.scaling_adjustment(),
            )
        })
        .collect();
    (
        p.policy_type(),
        p.adjustment_type(),
        p.min_adjustment_magnitude(),
        p.estimated_instance_warmup(),
        p.metric_aggregation_type(),
        steps,
    )
}

/// What an alarm watches: namespace, metric, dimensions (name, value), statistic.
#[allow(clippy::type_complexity)]
fn alarm_metric(a: &MetricAlarm) -> ((Option<&str>, Option<&str>, Vec<(&str, &str)>), Statistic) {
    let dims = a
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap_or(""), d.value().unwrap_or("")))
        .collect();
    (
        (a.namespace(), a.metric_name(), dims),
        a.statistic().cloned().expect("a statistic"),
    )
}

/// When an alarm fires and what it runs: threshold, comparison, (period, evaluation
/// periods, datapoints to alarm), missing data, actions.
#[allow(clippy::type_complexity)]
fn alarm_rule(
    a: &MetricAlarm,
) -> (
    Option<f64>,
    Option<&ComparisonOperator>,
    (Option<i32>, Option<i32>, Option<i32>),
    Option<&str>,
    &[String],
) {
    (
        a.threshold(),
        a.comparison_operator(),
        (a.period(), a.evaluation_periods(), a.datapoints_to_alarm()),
        a.treat_missing_data(),
        a.alarm_actions(),
    )
}

/// Starts the daemon on moto with the config in `file` (watched for changes) and native
/// mode's policy store.
async fn start(sdk: &aws_config::SdkConfig, file: &TempFile) -> Daemon {
    let config = Config::load(&file.0, &Overrides::default()).unwrap();
    let extras = Extras {
        watch: Some(ConfigWatch::new(file.0.clone(), Overrides::default())),
        native: Some(NativeDriver::new(
            Arc::new(AwsPolicies::new(sdk, GROUP)),
            GROUP,
            "HelloFleetTest",
        )),
        lease: None,
    };
    let fleet = Arc::new(controller::aws::AwsFleet::new(sdk, GROUP));
    let sink = Arc::new(CloudWatchSink::new(sdk, "HelloFleetTest", GROUP));
    Daemon::spawn(|listener, shutdown| run_with(config, fleet, sink, listener, shutdown, extras))
        .await
}

/// Polls `check` every 50 ms until it holds or 15 s pass.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn status_body(addr: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/api/status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The `group` part of `/api/status`.
async fn group_status(addr: std::net::SocketAddr) -> proto::GroupStatus {
    let body = status_body(addr).await;
    serde_json::from_str::<proto::Status>(&body)
        .unwrap_or_else(|e| panic!("{e}: {body}"))
        .group
}

/// The configuration warnings of `/api/status`.
async fn warnings(addr: std::net::SocketAddr) -> Vec<String> {
    let body = status_body(addr).await;
    serde_json::from_str::<proto::Status>(&body)
        .unwrap_or_else(|e| panic!("{e}: {body}"))
        .health
        .warnings
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

#[tokio::test]
async fn native_mode_puts_reloads_and_removes_only_its_own_policies_and_alarms() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    let asg = create_group(&sdk).await;
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);

    // Someone else's policy on the group and two alarms, one with the controller's prefix.
    asg.put_scaling_policy()
        .auto_scaling_group_name(GROUP)
        .policy_name("by-hand")
        .policy_type("StepScaling")
        .adjustment_type("ChangeInCapacity")
        .step_adjustments(
            StepAdjustment::builder()
                .metric_interval_lower_bound(0.0)
                .scaling_adjustment(1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // (moto's PutScalingPolicy answer carries no ARN: read it back.)
    let described = asg
        .describe_policies()
        .auto_scaling_group_name(GROUP)
        .send()
        .await
        .unwrap();
    let foreign_arn = described.scaling_policies()[0]
        .policy_arn()
        .unwrap()
        .to_string();
    for name in ["hellofleet-web-by-hand", "someone-else"] {
        cw.put_metric_alarm()
            .alarm_name(name)
            .namespace("HelloFleetTest")
            .metric_name("ConcurrentUsers")
            .dimensions(
                Dimension::builder()
                    .name("AutoScalingGroupName")
                    .value(GROUP)
                    .build(),
            )
            .statistic(Statistic::Average)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .period(60)
            .evaluation_periods(1)
            .alarm_actions(&foreign_arn)
            .send()
            .await
            .unwrap();
    }

    let file = TempFile::new(&config_text("native", 50, "scale-in"));
    let wanted_policies = Config::load(&file.0, &Overrides::default())
        .unwrap()
        .policies()
        .clone();
    let daemon = start(&sdk, &file).await;

    // Start: ours put beside the foreign ones.
    eventually("the native policies", || async {
        policy_names(&asg).await.len() == 3 && alarm_names(&cw).await.len() == 4
    })
    .await;
    assert_eq!(
        policy_names(&asg).await,
        strings(&[
            "by-hand",
            "hellofleet-web-scale-in",
            "hellofleet-web-scale-out"
        ])
    );

    // Field for field against the TOML.
    let policies = asg
        .describe_policies()
        .auto_scaling_group_name(GROUP)
        .policy_names("hellofleet-web-scale-out")
        .policy_names("hellofleet-web-scale-in")
        .send()
        .await
        .unwrap();
    let ours = ["hellofleet-web-scale-out", "hellofleet-web-scale-in"];
    let [out, inn] =
        ours.map(|n| named(policies.scaling_policies(), n, ScalingPolicy::policy_name));
    assert_eq!(
        policy_fields(&out),
        (
            Some("StepScaling"),
            Some("PercentChangeInCapacity"),
            Some(1),
            Some(90),
            Some("Maximum"),
            vec![
                (Some(0.0), Some(15.0), Some(20)),
                (Some(15.0), None, Some(50))
            ]
        )
    );
    assert_eq!(
        policy_fields(&inn),
        (
            Some("StepScaling"),
            Some("ChangeInCapacity"),
            None,
            Some(30),
            Some("Average"),
            vec![
                (None, Some(-10.0), Some(-2)),
                (Some(-10.0), Some(0.0), Some(-1))
            ]
        )
    );

    let alarms = cw
        .describe_alarms()
        .alarm_name_prefix("hellofleet-web-scale")
        .send()
        .await
        .unwrap();
    let [a, b] = ours.map(|n| named(alarms.metric_alarms(), n, MetricAlarm::alarm_name));
    let watched = (
        Some("HelloFleetTest"),
        Some("ConcurrentUsersPerInstance"),
        vec![("AutoScalingGroupName", GROUP)],
    );
    assert_eq!(alarm_metric(&a), (watched.clone(), Statistic::Maximum));
    assert_eq!(alarm_metric(&b), (watched, Statistic::Average));
    assert_eq!(
        alarm_rule(&a),
        (
            Some(50.0),
            Some(&ComparisonOperator::GreaterThanThreshold),
            (Some(10), Some(3), Some(2)),
            Some("notBreaching"),
            &[out.policy_arn().unwrap().to_string()][..]
        )
    );
    assert_eq!(
        alarm_rule(&b),
        (
            Some(20.0),
            Some(&ComparisonOperator::LessThanOrEqualToThreshold),
            (Some(60), Some(5), Some(5)),
            Some("notBreaching"),
            &[inn.policy_arn().unwrap().to_string()][..]
        )
    );
    let tags = cw
        .list_tags_for_resource()
        .resource_arn(a.alarm_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("hellofleet:group") && t.value() == Some(GROUP)),
        "{tags:?}"
    );

    // Read back through the adapter, what AWS has is what the file wants: converged.
    let present = controller::native::PolicyStore::present(&AwsPolicies::new(&sdk, GROUP))
        .await
        .unwrap();
    let want = controller::native::wanted(GROUP, "HelloFleetTest", &wanted_policies);
    let plan = controller::native::diff(GROUP, &want, &present);
    assert!(plan.is_empty(), "{plan:?}");

    // Several ticks in native mode: the group's desired capacity is the group's.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        desired(&asg).await,
        2,
        "SetDesiredCapacity was called in native mode"
    );
    // The bounds shown are the group's (1..5, what binds AWS's policies), not the
    // config's 3..5.
    let group = group_status(daemon.addr).await;
    assert_eq!((group.min_size, group.max_size), (1, 5), "{group:?}");
    // Someone lowers the group's MaxSize below the config's 5: the warning says so at
    // the next ticks, and goes when it is set back (it was computed once, at start).
    let resize = |max: i32| {
        asg.update_auto_scaling_group()
            .auto_scaling_group_name(GROUP)
            .max_size(max)
            .send()
    };
    resize(4).await.unwrap();
    let warned = "group.max_size is 5 but the group's own MaxSize is 4";
    eventually("the MaxSize warning", || async {
        warnings(daemon.addr)
            .await
            .iter()
            .any(|w| w.starts_with(warned))
    })
    .await;
    resize(5).await.unwrap();
    eventually("no warning once it is back", || async {
        warnings(daemon.addr).await.is_empty()
    })
    .await;

    // A changed file: the threshold moves, the scale-in policy is renamed.
    file.write(&config_text("native", 60, "shrink"));
    eventually("the reloaded policies", || async {
        policy_names(&asg).await
            == strings(&[
                "by-hand",
                "hellofleet-web-scale-out",
                "hellofleet-web-shrink",
            ])
    })
    .await;
    eventually("the reloaded alarms", || async {
        let out = cw
            .describe_alarms()
            .alarm_names("hellofleet-web-scale-out")
            .send()
            .await
            .unwrap();
        out.metric_alarms()
            .first()
            .is_some_and(|a| a.threshold() == Some(60.0))
    })
    .await;
    assert_eq!(
        alarm_names(&cw).await,
        strings(&[
            "hellofleet-web-by-hand",
            "hellofleet-web-scale-out",
            "hellofleet-web-shrink",
            "someone-else",
        ])
    );
    assert_eq!(desired(&asg).await, 2);

    // Back to controller mode: ours gone, the others kept; the controller now sets the
    // capacity itself (the group's 2 is below the config's min_size 3).
    file.write(&config_text("controller", 60, "shrink"));
    eventually("only the foreign policies and alarms", || async {
        policy_names(&asg).await == strings(&["by-hand"])
            && alarm_names(&cw).await == strings(&["hellofleet-web-by-hand", "someone-else"])
    })
    .await;
    eventually("the controller applying min_size", || async {
        desired(&asg).await == 3
    })
    .await;
    // The controller's own bounds again: the config's within the group's.
    let group = group_status(daemon.addr).await;
    assert_eq!((group.min_size, group.max_size), (3, 5), "{group:?}");

    daemon.stop().await;
}

#[tokio::test]
async fn a_file_that_stops_loading_keeps_the_running_policies() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    let asg = create_group(&sdk).await;
    let file = TempFile::new(&config_text("native", 50, "scale-in"));
    let daemon = start(&sdk, &file).await;
    let addr = daemon.addr;
    eventually("the native policies", || async {
        policy_names(&asg).await.len() == 2
    })
    .await;
    // AWS would refuse a 20 s period: the reload is refused, naming the field, and
    // the policies stay as they were.
    file.write(
        &config_text("native", 50, "scale-in").replace("period_secs = 10", "period_secs = 20"),
    );
    let status_has = |needle: &'static str| async move { status_body(addr).await.contains(needle) };
    eventually("the reload error in the status", || {
        status_has("policies.scale_out.alarm.period_secs")
    })
    .await;
    assert_eq!(
        policy_names(&asg).await,
        strings(&["hellofleet-web-scale-in", "hellofleet-web-scale-out"])
    );
    daemon.stop().await;
}

#[test]
fn policies_render_prints_the_template_or_names_the_refused_field() {
    let bin = env!("CARGO_BIN_EXE_controller");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/aws.toml");
    let out = std::process::Command::new(bin)
        .args(["policies", "render", "--config", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(
        yaml.starts_with("AWSTemplateFormatVersion: \"2010-09-09\"\n"),
        "{yaml}"
    );
    assert_eq!(
        yaml.matches("Type: AWS::AutoScaling::ScalingPolicy")
            .count(),
        2
    );
    assert_eq!(yaml.matches("Type: AWS::CloudWatch::Alarm").count(), 2);

    let bad = TempFile::new(
        &config_text("controller", 50, "scale-in").replace("period_secs = 10", "period_secs = 15"),
    );
    let out = std::process::Command::new(bin)
        .args(["policies", "render", "--config"])
        .arg(&bad.0)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "error: policies.scale_out.alarm.period_secs: 15 is not a CloudWatch alarm period"
        ),
        "{err}"
    );
}
