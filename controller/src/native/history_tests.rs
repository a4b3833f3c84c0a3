//! AWS items (recorded shapes from AWS's documentation and a live account) → records.

use super::*;
use fleetcore::policy::{Policies, PolicyMode};

/// A `HistoryData` as CloudWatch writes it for an OK → ALARM change.
const TO_ALARM: &str = r#"{"version":"1.0","oldState":{"stateValue":"OK","stateReason":"Threshold Crossed: 1 datapoint [12.0 (27/11/26 14:00:50)] was not greater than or equal to the threshold (50.0)."},"newState":{"stateValue":"ALARM","stateReason":"Threshold Crossed: 1 datapoint [62.0 (27/11/26 14:01:00)] was greater than or equal to the threshold (50.0).","stateReasonData":{"version":"1.0","queryDate":"2026-11-27T14:01:10.123+0000","startDate":"2026-11-27T14:01:00.000+0000","statistic":"Average","period":10,"recentDatapoints":[62.0],"threshold":50.0,"evaluatedDatapoints":[{"timestamp":"2026-11-27T14:01:00.000+0000","sampleCount":2.0,"value":62.0}]}}}"#;

const CAUSE: &str = "At 2026-11-27T14:01:12Z a monitor alarm hellofleet-web-scale-out in state ALARM triggered policy hellofleet-web-scale-out changing the desired capacity from 1 to 2.  At 2026-11-27T14:01:20Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 1 to 2.";

fn policies() -> Policies {
    Policies::local_default().with_mode(PolicyMode::Native)
}

fn alarm_event(at_ms: u64) -> AwsEvent {
    let (old_state, new_state, reason, value) = parse_history_data(TO_ALARM);
    AwsEvent::AlarmState {
        alarm: "hellofleet-web-scale-out".into(),
        at_ms,
        summary: "Alarm updated from OK to ALARM".into(),
        old_state,
        new_state,
        reason,
        value,
    }
}

fn activity(id: &str, at_ms: u64, cause: &str, status: &str) -> AwsEvent {
    AwsEvent::Activity {
        id: id.into(),
        at_ms,
        cause: cause.into(),
        description: "Launching a new EC2 instance: i-0abc".into(),
        status: status.into(),
    }
}

#[test]
fn history_data_gives_states_reason_and_datapoint() {
    let (old, new, reason, value) = parse_history_data(TO_ALARM);
    assert_eq!(old.as_deref(), Some("OK"));
    assert_eq!(new.as_deref(), Some("ALARM"));
    assert!(reason.unwrap().contains("[62.0"));
    assert_eq!(value, Some(62.0));
    assert_eq!(parse_history_data("not json"), (None, None, None, None));
    assert_eq!(parse_history_data("{}"), (None, None, None, None));
}

#[test]
fn capacity_change_from_causes() {
    for (cause, want) in [
        (CAUSE, Some((1, 2))),
        ("… changing the desired capacity from 5 to 3.", Some((5, 3))),
        ("… changing the desired capacity from 5 to 3", Some((5, 3))),
        ("an instance was taken out of service", None),
        ("changing the desired capacity from x to 3.", None),
    ] {
        assert_eq!(capacity_change(cause), want, "{cause}");
    }
}

#[test]
fn an_alarm_change_is_an_aws_record_naming_the_policy() {
    let r = event_record(&alarm_event(1_000), "web", &policies(), 7, 3);
    assert_eq!(r.source, "aws");
    assert_eq!(
        (r.action.as_str(), r.reason.as_str()),
        ("none", "alarm_alarm")
    );
    assert_eq!(r.policy.as_deref(), Some("scale-out"));
    assert_eq!((r.metric_value, r.threshold), (Some(62.0), Some(50.0)));
    assert_eq!((r.capacity_before, r.capacity_after, r.tick), (3, 3, 7));
    assert!(
        r.explanation
            .starts_with("AWS alarm hellofleet-web-scale-out: OK → ALARM.")
    );
}

#[test]
fn activities_become_scale_records_with_their_outcome() {
    let r = event_record(
        &activity("a-1", 2_000, CAUSE, "Successful"),
        "web",
        &policies(),
        8,
        1,
    );
    assert_eq!(r.action, "scale_out");
    assert_eq!((r.capacity_before, r.capacity_after), (1, 2));
    assert_eq!(r.policy.as_deref(), Some("scale-out"));
    assert_eq!((r.reason.as_str(), r.applied), ("aws_activity", Some(true)));
    assert!(r.explanation.contains(CAUSE));
    let down = "At … a monitor alarm hellofleet-web-scale-in in state ALARM triggered policy hellofleet-web-scale-in changing the desired capacity from 4 to 3.";
    let r = event_record(
        &activity("a-2", 3_000, down, "Failed"),
        "web",
        &policies(),
        9,
        4,
    );
    assert_eq!((r.action.as_str(), r.applied), ("scale_in", Some(false)));
    assert_eq!(r.policy.as_deref(), Some("scale-in"));
    let r = event_record(
        &activity("a-3", 3_000, "terminated by hand", "InProgress"),
        "web",
        &policies(),
        9,
        4,
    );
    assert_eq!(
        (r.action.as_str(), r.applied, r.capacity_after),
        ("none", None, 4)
    );
}

#[test]
fn each_item_once_across_reads_and_forgotten_after_the_window() {
    let mut seen = Seen::new(60_000);
    let read = vec![
        activity("a-1", 100_000, CAUSE, "InProgress"),
        alarm_event(90_000),
    ];
    let first = seen.fresh(read.clone(), 120_000);
    assert_eq!(
        first.iter().map(AwsEvent::at_ms).collect::<Vec<_>>(),
        vec![90_000, 100_000],
        "oldest first"
    );
    // The same items again (the activity now Successful): nothing new.
    let again = vec![
        activity("a-1", 100_000, CAUSE, "Successful"),
        alarm_event(90_000),
    ];
    assert!(seen.fresh(again, 125_000).is_empty());
    // A new one among them: only it.
    let more = vec![alarm_event(90_000), alarm_event(124_000)];
    assert_eq!(seen.fresh(more, 126_000).len(), 1);
    assert_eq!(seen.len(), 3);
    // Out of the window: neither returned nor remembered.
    assert!(seen.fresh(vec![alarm_event(10_000)], 200_000).is_empty());
    assert_eq!(seen.len(), 0);
    assert_eq!(seen.since_ms(200_000), 140_000);
}
