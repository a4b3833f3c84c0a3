//! The native-mode adapter: every AWS call native mode makes, and nothing else (besides
//! `crate::aws` and `crate::metrics::cloudwatch`, the only module importing the Auto Scaling
//! and CloudWatch SDKs). SDK types → the pure types of `plan` and `history` here; the
//! mapping functions are public so the shapes moto does not produce are tested directly.
//!
//! Calls: DescribePolicies, PutScalingPolicy, DeletePolicy, DescribeScalingActivities
//! (Auto Scaling); DescribeAlarms, PutMetricAlarm (with a `hellofleet:group` tag),
//! DeleteAlarms, DescribeAlarmHistory (CloudWatch). Each is bounded by the `[aws]` timeouts
//! of the `SdkConfig` (`crate::aws::sdk_config`); the caller bounds a whole reconcile or
//! read by the tick's budget and shutdown. Listings are paged at most [`MAX_PAGES`] times.

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{Activity, ScalingPolicy, StepAdjustment};
use aws_sdk_cloudwatch::types::{
    AlarmHistoryItem, ComparisonOperator, Dimension, HistoryItemType, MetricAlarm, Statistic, Tag,
};
use aws_smithy_types::DateTime;

use super::plan::sorted_steps;
use super::{
    AlarmSpec, AwsEvent, GROUP_TAG, NativeError, Plan, PolicySpec, PolicyStore, Present,
    PresentAlarm, PresentPolicy, StepSpec, owned_prefix,
};
use crate::metrics::cloudwatch::GROUP_DIMENSION;

pub const DESCRIBE_POLICIES: &str = "DescribePolicies";
pub const PUT_SCALING_POLICY: &str = "PutScalingPolicy";
pub const DELETE_POLICY: &str = "DeletePolicy";
pub const DESCRIBE_SCALING_ACTIVITIES: &str = "DescribeScalingActivities";
pub const DESCRIBE_ALARMS: &str = "DescribeAlarms";
pub const PUT_METRIC_ALARM: &str = "PutMetricAlarm";
pub const DELETE_ALARMS: &str = "DeleteAlarms";
pub const DESCRIBE_ALARM_HISTORY: &str = "DescribeAlarmHistory";
/// Pages read at most per listing.
pub const MAX_PAGES: usize = 10;
/// Items asked for per history or activity read.
pub const MAX_RECORDS: i32 = 50;

/// The group's step policies and the alarms it owns, through the real SDK clients.
#[derive(Debug, Clone)]
pub struct AwsPolicies {
    autoscaling: aws_sdk_autoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    group: String,
    endpoint: String,
}

impl AwsPolicies {
    /// Clients with `sdk`'s timeouts and retry (see `crate::aws::sdk_config`).
    pub fn new(sdk: &aws_config::SdkConfig, group: &str) -> Self {
        Self {
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            group: group.into(),
            endpoint: crate::aws::endpoint_of(sdk, "autoscaling/monitoring"),
        }
    }

    fn fail<E>(&self, operation: &'static str, err: &E) -> NativeError
    where
        E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata + 'static,
    {
        NativeError {
            operation,
            message: crate::errors::sdk_error_line(operation, &self.endpoint, err),
        }
    }
}

/// A described policy as ours (`None`: not a step policy with a name and an ARN).
pub fn policy_from(p: &ScalingPolicy) -> Option<PresentPolicy> {
    Some(PresentPolicy {
        arn: p.policy_arn()?.to_string(),
        spec: PolicySpec {
            name: p.policy_name()?.to_string(),
            adjustment_type: p.adjustment_type().unwrap_or_default().to_string(),
            steps: sorted_steps(
                p.step_adjustments()
                    .iter()
                    .map(|s| StepSpec {
                        lower: s.metric_interval_lower_bound(),
                        upper: s.metric_interval_upper_bound(),
                        adjustment: s.scaling_adjustment().unwrap_or(0),
                    })
                    .collect(),
            ),
            min_adjustment_magnitude: p.min_adjustment_magnitude(),
            estimated_instance_warmup: p.estimated_instance_warmup(),
            metric_aggregation_type: p.metric_aggregation_type().unwrap_or("Average").to_string(),
        },
    })
}

/// A described alarm as ours; `policy` is filled in by the caller from the ARNs.
pub fn alarm_from(a: &MetricAlarm) -> Option<PresentAlarm> {
    Some(PresentAlarm {
        spec: AlarmSpec {
            name: a.alarm_name()?.to_string(),
            description: a.alarm_description().unwrap_or_default().to_string(),
            namespace: a.namespace().unwrap_or_default().to_string(),
            metric: a.metric_name().unwrap_or_default().to_string(),
            group: a
                .dimensions()
                .iter()
                .find(|d| d.name() == Some(GROUP_DIMENSION))
                .and_then(Dimension::value)
                .unwrap_or_default()
                .to_string(),
            statistic: a
                .statistic()
                .map(|s| s.as_str())
                .unwrap_or_default()
                .to_string(),
            threshold: a.threshold().unwrap_or(f64::NAN),
            comparison: a
                .comparison_operator()
                .map(|c| c.as_str())
                .unwrap_or_default()
                .to_string(),
            period: a.period().unwrap_or(0),
            evaluation_periods: a.evaluation_periods().unwrap_or(0),
            datapoints_to_alarm: a
                .datapoints_to_alarm()
                .or(a.evaluation_periods())
                .unwrap_or(0),
            treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_string(),
            policy: String::new(),
        },
        actions: a.alarm_actions().to_vec(),
    })
}

fn ms(t: Option<&DateTime>) -> u64 {
    t.and_then(|t| t.to_millis().ok())
        .map_or(0, |v| v.max(0) as u64)
}

/// An alarm history item as an event.
pub fn alarm_event(item: &AlarmHistoryItem) -> AwsEvent {
    let (old_state, new_state, reason, value) =
        super::history::parse_history_data(item.history_data().unwrap_or_default());
    AwsEvent::AlarmState {
        alarm: item.alarm_name().unwrap_or_default().to_string(),
        at_ms: ms(item.timestamp()),
        summary: item.history_summary().unwrap_or_default().to_string(),
        old_state,
        new_state,
        reason,
        value,
    }
}

/// A scaling activity as an event.
pub fn activity_event(a: &Activity) -> AwsEvent {
    AwsEvent::Activity {
        id: a.activity_id().unwrap_or_default().to_string(),
        at_ms: ms(a.start_time()),
        cause: a.cause().unwrap_or_default().to_string(),
        description: a.description().unwrap_or_default().to_string(),
        status: a
            .status_code()
            .map(|s| s.as_str())
            .unwrap_or_default()
            .to_string(),
    }
}

#[async_trait]
impl PolicyStore for AwsPolicies {
    async fn present(&self) -> Result<Present, NativeError> {
        let mut present = Present::default();
        let mut token = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .autoscaling
                .describe_policies()
                .auto_scaling_group_name(&self.group)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.fail(DESCRIBE_POLICIES, &e))?;
            present
                .policies
                .extend(out.scaling_policies().iter().filter_map(policy_from));
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut token = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .cloudwatch
                .describe_alarms()
                .alarm_name_prefix(owned_prefix(&self.group))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.fail(DESCRIBE_ALARMS, &e))?;
            present
                .alarms
                .extend(out.metric_alarms().iter().filter_map(alarm_from));
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let names: Vec<Option<String>> = present
            .alarms
            .iter()
            .map(|a| {
                let [arn] = a.actions.as_slice() else {
                    return None;
                };
                present.policy_named_by_arn(arn).map(str::to_string)
            })
            .collect();
        for (a, name) in present.alarms.iter_mut().zip(names) {
            a.spec.policy = name.unwrap_or_default();
        }
        Ok(present)
    }

    async fn apply(&self, plan: &Plan) -> Result<(), NativeError> {
        let mut arns: Vec<(String, String)> = vec![];
        for p in &plan.put_policies {
            let steps = p
                .steps
                .iter()
                .map(|s| {
                    StepAdjustment::builder()
                        .set_metric_interval_lower_bound(s.lower)
                        .set_metric_interval_upper_bound(s.upper)
                        .scaling_adjustment(s.adjustment)
                        .build()
                })
                .collect();
            let out = self
                .autoscaling
                .put_scaling_policy()
                .auto_scaling_group_name(&self.group)
                .policy_name(&p.name)
                .policy_type("StepScaling")
                .adjustment_type(&p.adjustment_type)
                .set_step_adjustments(Some(steps))
                .set_min_adjustment_magnitude(p.min_adjustment_magnitude)
                .set_estimated_instance_warmup(p.estimated_instance_warmup)
                .metric_aggregation_type(&p.metric_aggregation_type)
                .send()
                .await
                .map_err(|e| self.fail(PUT_SCALING_POLICY, &e))?;
            if let Some(arn) = out.policy_arn() {
                arns.push((p.name.clone(), arn.to_string()));
            }
        }
        if !plan.put_alarms.is_empty() {
            // Policies not put in this plan, or whose put answered no ARN (moto's answers
            // carry none): their ARNs from a fresh describe.
            let present = self.present().await?;
            for p in present.policies {
                if !arns.iter().any(|(n, _)| *n == p.spec.name) {
                    arns.push((p.spec.name, p.arn));
                }
            }
        }
        for a in &plan.put_alarms {
            let arn = arns
                .iter()
                .find(|(n, _)| *n == a.policy)
                .map(|(_, arn)| arn.clone())
                .ok_or_else(|| NativeError {
                    operation: PUT_METRIC_ALARM,
                    message: format!(
                        "{PUT_METRIC_ALARM} {}: the group has no policy {} to act on",
                        a.name, a.policy
                    ),
                })?;
            self.cloudwatch
                .put_metric_alarm()
                .alarm_name(&a.name)
                .alarm_description(&a.description)
                .namespace(&a.namespace)
                .metric_name(&a.metric)
                .dimensions(
                    Dimension::builder()
                        .name(GROUP_DIMENSION)
                        .value(&a.group)
                        .build(),
                )
                .statistic(Statistic::from(a.statistic.as_str()))
                .threshold(a.threshold)
                .comparison_operator(ComparisonOperator::from(a.comparison.as_str()))
                .period(a.period)
                .evaluation_periods(a.evaluation_periods)
                .datapoints_to_alarm(a.datapoints_to_alarm)
                .treat_missing_data(&a.treat_missing_data)
                .actions_enabled(true)
                .alarm_actions(arn)
                .tags(Tag::builder().key(GROUP_TAG).value(&self.group).build())
                .send()
                .await
                .map_err(|e| self.fail(PUT_METRIC_ALARM, &e))?;
        }
        if !plan.delete_alarms.is_empty() {
            self.cloudwatch
                .delete_alarms()
                .set_alarm_names(Some(plan.delete_alarms.clone()))
                .send()
                .await
                .map_err(|e| self.fail(DELETE_ALARMS, &e))?;
        }
        for name in &plan.delete_policies {
            self.autoscaling
                .delete_policy()
                .auto_scaling_group_name(&self.group)
                .policy_name(name)
                .send()
                .await
                .map_err(|e| self.fail(DELETE_POLICY, &e))?;
        }
        Ok(())
    }

    async fn events(&self, alarms: &[String], since_ms: u64) -> Result<Vec<AwsEvent>, NativeError> {
        let mut events = vec![];
        let out = self
            .autoscaling
            .describe_scaling_activities()
            .auto_scaling_group_name(&self.group)
            .max_records(MAX_RECORDS)
            .send()
            .await
            .map_err(|e| self.fail(DESCRIBE_SCALING_ACTIVITIES, &e))?;
        events.extend(out.activities().iter().map(activity_event));
        for name in alarms {
            let out = self
                .cloudwatch
                .describe_alarm_history()
                .alarm_name(name)
                .history_item_type(HistoryItemType::StateUpdate)
                .start_date(DateTime::from_millis(since_ms as i64))
                .max_records(MAX_RECORDS)
                .send()
                .await
                .map_err(|e| self.fail(DESCRIBE_ALARM_HISTORY, &e))?;
            events.extend(out.alarm_history_items().iter().map(alarm_event));
        }
        Ok(events)
    }
}

#[cfg(test)]
#[path = "aws_tests.rs"]
mod tests;
