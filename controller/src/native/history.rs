//! What AWS did, as the decision records the API and the dashboard show (`source = "aws"`).
//! Pure: the adapter turns SDK types into [`AwsEvent`]s; [`Seen`] lets each through once.
//!
//! - An alarm state change (DescribeAlarmHistory, `StateUpdate`) becomes a record with
//!   action `none` and reason `alarm_alarm` / `alarm_ok` / `alarm_insufficient_data`: the
//!   alarm is what invokes the policy, not the change itself. Its `HistoryData` JSON gives
//!   the reason and the newest datapoint.
//! - A scaling activity (DescribeScalingActivities) becomes `scale_out` / `scale_in` (from
//!   "changing the desired capacity from A to B" in its Cause) with reason `aws_activity`,
//!   `applied` from its status code.

use std::collections::HashMap;

use proto::{Action, DecisionRecord, DecisionSource, Reason};

use fleetcore::policy::{Policies, StepPolicy};

use super::resource_name;

/// One thing AWS did, free of SDK types.
#[derive(Debug, Clone, PartialEq)]
pub enum AwsEvent {
    AlarmState {
        alarm: String,
        at_ms: u64,
        summary: String,
        old_state: Option<String>,
        new_state: Option<String>,
        reason: Option<String>,
        /// The newest datapoint the alarm evaluated.
        value: Option<f64>,
    },
    Activity {
        id: String,
        at_ms: u64,
        cause: String,
        description: String,
        /// `Successful`, `InProgress`, `Failed`, `Cancelled`…
        status: String,
    },
}

impl AwsEvent {
    /// Unique per item: the activity id; the alarm name and the item's time.
    pub fn key(&self) -> String {
        match self {
            AwsEvent::AlarmState { alarm, at_ms, .. } => format!("alarm/{alarm}/{at_ms}"),
            AwsEvent::Activity { id, .. } => format!("activity/{id}"),
        }
    }

    pub fn at_ms(&self) -> u64 {
        match self {
            AwsEvent::AlarmState { at_ms, .. } | AwsEvent::Activity { at_ms, .. } => *at_ms,
        }
    }
}

/// `(old state, new state, reason, newest datapoint)` from an alarm history item's
/// `HistoryData` JSON (`{"oldState":{"stateValue":…},"newState":{"stateValue":…,
/// "stateReason":…,"stateReasonData":{"recentDatapoints":[…]}}}`); unreadable parts: `None`.
pub fn parse_history_data(
    json: &str,
) -> (Option<String>, Option<String>, Option<String>, Option<f64>) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return (None, None, None, None);
    };
    let text = |p: &str| v.pointer(p).and_then(|s| s.as_str()).map(str::to_string);
    let value = v
        .pointer("/newState/stateReasonData/recentDatapoints")
        .and_then(|d| d.as_array())
        .and_then(|d| d.last())
        .and_then(serde_json::Value::as_f64);
    (
        text("/oldState/stateValue"),
        text("/newState/stateValue"),
        text("/newState/stateReason"),
        value,
    )
}

/// `(A, B)` from "… changing the desired capacity from A to B…".
pub fn capacity_change(cause: &str) -> Option<(u32, u32)> {
    let rest = &cause[cause.find("desired capacity from ")? + "desired capacity from ".len()..];
    let mut words = rest.split_whitespace();
    let from = words.next()?.parse().ok()?;
    (words.next()? == "to").then_some(())?;
    let to = words
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((from, to))
}

fn policy_of<'a>(group: &str, policies: &'a Policies, alarm: &str) -> Option<&'a StepPolicy> {
    [policies.scale_out(), policies.scale_in()]
        .into_iter()
        .find(|p| resource_name(group, p.name()) == alarm)
}

/// `event` as a decision record of `tick`; `desired` is the group's desired capacity (for
/// alarm changes, which do not change it themselves).
pub fn event_record(
    event: &AwsEvent,
    group: &str,
    policies: &Policies,
    tick: u64,
    desired: u32,
) -> DecisionRecord {
    let mut r = DecisionRecord {
        at_ms: event.at_ms(),
        tick,
        action: Action::None,
        policy: None,
        metric: policies.scale_out().alarm().metric.as_str().into(),
        metric_value: None,
        threshold: None,
        step: None,
        capacity_before: desired,
        capacity_after: desired,
        reason: Reason::AwsActivity,
        explanation: String::new(),
        applied: None,
        source: DecisionSource::Aws,
    };
    match event {
        AwsEvent::AlarmState {
            alarm,
            summary,
            old_state,
            new_state,
            reason,
            value,
            ..
        } => {
            if let Some(p) = policy_of(group, policies, alarm) {
                r.policy = Some(p.name().to_string());
                r.metric = p.alarm().metric.as_str().into();
                r.threshold = Some(p.alarm().threshold);
            }
            r.metric_value = *value;
            let new = new_state.as_deref().unwrap_or("unknown");
            r.reason = Reason::alarm(new_state.as_deref());
            r.explanation = match (old_state, reason) {
                (Some(old), Some(why)) => format!("AWS alarm {alarm}: {old} → {new}. {why}"),
                _ => format!("AWS alarm {alarm}: {summary}"),
            };
        }
        AwsEvent::Activity {
            cause,
            description,
            status,
            ..
        } => {
            if let Some((from, to)) = capacity_change(cause) {
                r.capacity_before = from;
                r.capacity_after = to;
                r.action = match to.cmp(&from) {
                    std::cmp::Ordering::Greater => Action::ScaleOut,
                    std::cmp::Ordering::Less => Action::ScaleIn,
                    std::cmp::Ordering::Equal => Action::None,
                };
            }
            r.policy = [policies.scale_out(), policies.scale_in()]
                .into_iter()
                .find(|p| cause.contains(&resource_name(group, p.name())))
                .map(|p| p.name().to_string());
            r.reason = Reason::AwsActivity;
            r.applied = match status.as_str() {
                "Successful" => Some(true),
                "Failed" | "Cancelled" => Some(false),
                _ => None,
            };
            r.explanation = format!("AWS: {description} ({status}). {cause}");
        }
    }
    r
}

/// The items already turned into records, remembered for `window_ms` (the span each read
/// asks AWS for), so that none is recorded twice across ticks.
#[derive(Debug, Clone)]
pub struct Seen {
    window_ms: u64,
    keys: HashMap<String, u64>,
}

impl Seen {
    pub fn new(window_ms: u64) -> Self {
        Self {
            window_ms,
            keys: HashMap::new(),
        }
    }

    /// Where the next read starts.
    pub fn since_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.window_ms)
    }

    /// The events not seen before and inside the window, oldest first; remembers them and
    /// forgets keys that left the window.
    pub fn fresh(&mut self, mut events: Vec<AwsEvent>, now_ms: u64) -> Vec<AwsEvent> {
        let since = self.since_ms(now_ms);
        self.keys.retain(|_, at| *at >= since);
        events.retain(|e| e.at_ms() >= since);
        events.sort_by_key(AwsEvent::at_ms);
        events.retain(|e| self.keys.insert(e.key(), e.at_ms()).is_none());
        events
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
