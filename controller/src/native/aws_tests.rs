//! The adapter's SDK → plan/history mappings, on SDK values built as AWS returns them.

use aws_sdk_autoscaling::types::ScalingActivityStatusCode;

use super::*;

#[test]
fn described_policies_and_alarms_map_to_the_plan_types() {
    let p = ScalingPolicy::builder()
        .policy_name("hellofleet-web-scale-out")
        .policy_arn("arn:aws:autoscaling:us-east-1:123:scalingPolicy:x:autoScalingGroupName/web:policyName/hellofleet-web-scale-out")
        .policy_type("StepScaling")
        .adjustment_type("ChangeInCapacity")
        .step_adjustments(StepAdjustment::builder().metric_interval_lower_bound(10.0).scaling_adjustment(2).build())
        .step_adjustments(StepAdjustment::builder().metric_interval_lower_bound(0.0).metric_interval_upper_bound(10.0).scaling_adjustment(1).build())
        .estimated_instance_warmup(60)
        .build();
    let got = policy_from(&p).unwrap();
    assert_eq!(
        got.spec.metric_aggregation_type, "Average",
        "absent = AWS's default"
    );
    assert_eq!(
        got.spec.steps,
        vec![
            StepSpec {
                lower: Some(0.0),
                upper: Some(10.0),
                adjustment: 1
            },
            StepSpec {
                lower: Some(10.0),
                upper: None,
                adjustment: 2
            },
        ],
        "sorted"
    );
    assert!(policy_from(&ScalingPolicy::builder().policy_name("no-arn").build()).is_none());

    let a = MetricAlarm::builder()
        .alarm_name("hellofleet-web-scale-in")
        .alarm_description("d")
        .namespace("HelloFleet")
        .metric_name("ConcurrentUsersPerInstance")
        .dimensions(Dimension::builder().name("Other").value("x").build())
        .dimensions(
            Dimension::builder()
                .name(GROUP_DIMENSION)
                .value("web")
                .build(),
        )
        .statistic(Statistic::Average)
        .threshold(20.0)
        .comparison_operator(ComparisonOperator::LessThanOrEqualToThreshold)
        .period(60)
        .evaluation_periods(3)
        .alarm_actions("arn:p")
        .build();
    let got = alarm_from(&a).unwrap();
    assert_eq!(got.spec.group, "web");
    assert_eq!(
        got.spec.datapoints_to_alarm, 3,
        "absent = EvaluationPeriods"
    );
    assert_eq!(
        got.spec.treat_missing_data, "missing",
        "absent = CloudWatch's default"
    );
    assert_eq!(got.spec.comparison, "LessThanOrEqualToThreshold");
    assert_eq!(got.actions, vec!["arn:p".to_string()]);
}

#[test]
fn history_items_and_activities_become_events() {
    let item = AlarmHistoryItem::builder()
        .alarm_name("hellofleet-web-scale-out")
        .timestamp(DateTime::from_millis(1_764_252_070_000))
        .history_item_type(HistoryItemType::StateUpdate)
        .history_summary("Alarm updated from OK to ALARM")
        .history_data(r#"{"version":"1.0","oldState":{"stateValue":"OK"},"newState":{"stateValue":"ALARM","stateReason":"Threshold Crossed","stateReasonData":{"recentDatapoints":[55.5]}}}"#)
        .build();
    assert_eq!(
        alarm_event(&item),
        AwsEvent::AlarmState {
            alarm: "hellofleet-web-scale-out".into(),
            at_ms: 1_764_252_070_000,
            summary: "Alarm updated from OK to ALARM".into(),
            old_state: Some("OK".into()),
            new_state: Some("ALARM".into()),
            reason: Some("Threshold Crossed".into()),
            value: Some(55.5),
        }
    );
    let act = Activity::builder()
        .activity_id("a1b2")
        .auto_scaling_group_name("web")
        .cause("At 2026-11-27T14:01:12Z a monitor alarm hellofleet-web-scale-out in state ALARM triggered policy hellofleet-web-scale-out changing the desired capacity from 2 to 3.")
        .description("Launching a new EC2 instance: i-0abc")
        .start_time(DateTime::from_millis(1_764_252_072_000))
        .status_code(ScalingActivityStatusCode::InProgress)
        .progress(30)
        .build();
    let AwsEvent::Activity {
        id, at_ms, status, ..
    } = activity_event(&act)
    else {
        panic!("an activity");
    };
    assert_eq!(
        (id.as_str(), at_ms, status.as_str()),
        ("a1b2", 1_764_252_072_000, "InProgress")
    );
}
