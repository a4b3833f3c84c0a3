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

use crate::moto_group;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_autoscaling::types::StepAdjustment;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use controller::config::{Config, ConfigWatch, Overrides};
use controller::daemon::{Extras, run_with};
use controller::native::aws::AwsPolicies;
use controller::native::driver::NativeDriver;
use testkit::Moto;
use tokio_util::sync::CancellationToken;

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
            controller::daemon::now_ms()
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

async fn policy_names(asg: &aws_sdk_autoscaling::Client) -> Vec<String> {
    let out = asg
        .describe_policies()
        .auto_scaling_group_name(GROUP)
        .send()
        .await
        .unwrap();
    let mut v: Vec<String> = out
        .scaling_policies()
        .iter()
        .filter_map(|p| p.policy_name().map(str::to_string))
        .collect();
    v.sort();
    v
}

async fn alarm_names(cw: &aws_sdk_cloudwatch::Client) -> Vec<String> {
    let out = cw.describe_alarms().send().await.unwrap();
    let mut v: Vec<String> = out
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect();
    v.sort();
    v
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
    let config = Config::load(&file.0, &Overrides::default()).unwrap();
    let wanted_policies = config.policies.clone();
    let store = Arc::new(AwsPolicies::new(&sdk, GROUP));
    let extras = Extras {
        watch: Some(ConfigWatch::new(file.0.clone(), Overrides::default())),
        native: Some(NativeDriver::new(store, GROUP, "HelloFleetTest")),
        lease: None,
    };
    let fleet = Arc::new(controller::aws::AwsFleet::new(&sdk, GROUP));
    let sink = Arc::new(controller::metrics::cloudwatch::CloudWatchSink::new(
        &sdk,
        "HelloFleetTest",
        GROUP,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(run_with(
        config,
        fleet,
        sink,
        listener,
        shutdown.clone(),
        extras,
    ));

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
    let by_name = |n: &str| {
        policies
            .scaling_policies()
            .iter()
            .find(|p| p.policy_name() == Some(n))
            .unwrap_or_else(|| panic!("no policy {n}"))
            .clone()
    };
    let out = by_name("hellofleet-web-scale-out");
    assert_eq!(out.policy_type(), Some("StepScaling"));
    assert_eq!(out.adjustment_type(), Some("PercentChangeInCapacity"));
    assert_eq!(out.min_adjustment_magnitude(), Some(1));
    assert_eq!(out.estimated_instance_warmup(), Some(90));
    assert_eq!(out.metric_aggregation_type(), Some("Maximum"));
    let steps: Vec<(Option<f64>, Option<f64>, Option<i32>)> = out
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
    assert_eq!(
        steps,
        vec![
            (Some(0.0), Some(15.0), Some(20)),
            (Some(15.0), None, Some(50))
        ]
    );
    let inn = by_name("hellofleet-web-scale-in");
    assert_eq!(inn.adjustment_type(), Some("ChangeInCapacity"));
    assert_eq!(inn.min_adjustment_magnitude(), None);
    assert_eq!(inn.estimated_instance_warmup(), Some(30));
    assert_eq!(inn.metric_aggregation_type(), Some("Average"));
    assert_eq!(inn.step_adjustments().len(), 2);
    assert_eq!(
        inn.step_adjustments()[0].metric_interval_lower_bound(),
        None
    );
    assert_eq!(
        inn.step_adjustments()[0].metric_interval_upper_bound(),
        Some(-10.0)
    );
    assert_eq!(inn.step_adjustments()[0].scaling_adjustment(), Some(-2));

    let alarms = cw
        .describe_alarms()
        .alarm_name_prefix("hellofleet-web-scale")
        .send()
        .await
        .unwrap();
    let alarm = |n: &str| {
        alarms
            .metric_alarms()
            .iter()
            .find(|a| a.alarm_name() == Some(n))
            .unwrap_or_else(|| panic!("no alarm {n}"))
            .clone()
    };
    let a = alarm("hellofleet-web-scale-out");
    assert_eq!(a.namespace(), Some("HelloFleetTest"));
    assert_eq!(a.metric_name(), Some("ConcurrentUsersPerInstance"));
    assert_eq!(a.dimensions().len(), 1);
    assert_eq!(a.dimensions()[0].name(), Some("AutoScalingGroupName"));
    assert_eq!(a.dimensions()[0].value(), Some(GROUP));
    assert_eq!(a.statistic(), Some(&Statistic::Maximum));
    assert_eq!(a.threshold(), Some(50.0));
    assert_eq!(
        a.comparison_operator(),
        Some(&ComparisonOperator::GreaterThanThreshold)
    );
    assert_eq!(
        (a.period(), a.evaluation_periods(), a.datapoints_to_alarm()),
        (Some(10), Some(3), Some(2))
    );
    assert_eq!(a.treat_missing_data(), Some("notBreaching"));
    assert_eq!(a.alarm_actions(), [out.policy_arn().unwrap().to_string()]);
    let b = alarm("hellofleet-web-scale-in");
    assert_eq!(b.statistic(), Some(&Statistic::Average));
    assert_eq!(
        b.comparison_operator(),
        Some(&ComparisonOperator::LessThanOrEqualToThreshold)
    );
    assert_eq!(
        (b.period(), b.evaluation_periods(), b.datapoints_to_alarm()),
        (Some(60), Some(5), Some(5))
    );
    assert_eq!(b.treat_missing_data(), Some("notBreaching"));
    assert_eq!(b.alarm_actions(), [inn.policy_arn().unwrap().to_string()]);
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

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("the daemon stops")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_file_that_stops_loading_keeps_the_running_policies() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    let asg = create_group(&sdk).await;
    let file = TempFile::new(&config_text("native", 50, "scale-in"));
    let config = Config::load(&file.0, &Overrides::default()).unwrap();
    let store = Arc::new(AwsPolicies::new(&sdk, GROUP));
    let extras = Extras {
        watch: Some(ConfigWatch::new(file.0.clone(), Overrides::default())),
        native: Some(NativeDriver::new(store, GROUP, "HelloFleetTest")),
        lease: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(run_with(
        config,
        Arc::new(controller::aws::AwsFleet::new(&sdk, GROUP)),
        Arc::new(controller::metrics::cloudwatch::CloudWatchSink::new(
            &sdk,
            "HelloFleetTest",
            GROUP,
        )),
        listener,
        shutdown.clone(),
        extras,
    ));
    eventually("the native policies", || async {
        policy_names(&asg).await.len() == 2
    })
    .await;
    // AWS would refuse a 20 s period: the reload is refused, naming the field, and
    // the policies stay as they were.
    file.write(
        &config_text("native", 50, "scale-in").replace("period_secs = 10", "period_secs = 20"),
    );
    let status_has = |needle: &'static str| async move {
        let body = reqwest::get(format!("http://{addr}/api/status"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        body.contains(needle)
    };
    eventually("the reload error in the status", || {
        status_has("policies.scale_out.alarm.period_secs")
    })
    .await;
    assert_eq!(
        policy_names(&asg).await,
        strings(&["hellofleet-web-scale-in", "hellofleet-web-scale-out"])
    );
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("the daemon stops")
        .unwrap()
        .unwrap();
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
