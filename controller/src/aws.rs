//! The `aws` provider: an EC2 Auto Scaling group behind the [`Fleet`] trait. The only module
//! importing `aws_sdk_autoscaling`.
//!
//! - `describe` = DescribeAutoScalingGroups (min / max / desired, instances with lifecycle
//!   state, health and zone), mapped by the pure [`snapshot_from`].
//! - `set_desired_capacity` = SetDesiredCapacity with `HonorCooldown=false` (the controller's
//!   own policies decide; the change shows in the group's activity history).
//!
//! The Auto Scaling API does not say when an instance was launched or entered service, so
//! the provider remembers when it first saw each instance and each InService transition.
//! Instances already in service at the controller's first look count as warmed up (time 0):
//! a restarted controller must not treat the whole fleet as warming.
//! Region, credentials and the endpoint come from the standard AWS chain (`AWS_REGION`,
//! `AWS_ENDPOINT_URL`…), so the same code runs against an emulator.
//!
//! Every call is bounded: [`sdk_config`] sets the `[aws]` connect, per-attempt and
//! per-operation timeouts and the SDK's standard retry on the one `SdkConfig` every client
//! (this one and the CloudWatch sink's) is built from. A failed call is one line naming the
//! operation and the endpoint ([`ProviderError::Aws`]); the SDK's `Debug` detail goes to the
//! debug log.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::types::{AutoScalingGroup, LifecycleState};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use proto::{Health, Lifecycle};

use crate::clock::now_ms;
use crate::config::AwsSettings;
use crate::provider::{Fleet, GroupSnapshot, InstanceInfo, ProviderError};

pub const DESCRIBE: &str = "DescribeAutoScalingGroups";
pub const SET_DESIRED_CAPACITY: &str = "SetDesiredCapacity";

/// The `[aws]` bounds as the SDK's timeout configuration.
pub fn timeout_config(s: &AwsSettings) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(s.connect_timeout())
        .operation_attempt_timeout(s.attempt_timeout())
        .operation_timeout(s.operation_timeout())
        .build()
}

/// The SDK's standard retry with `[aws] max_attempts`.
pub fn retry_config(s: &AwsSettings) -> RetryConfig {
    RetryConfig::standard().with_max_attempts(s.max_attempts())
}

/// The SDK configuration from the standard chain, with `[aws]`'s region (when given),
/// timeouts and retry. Called only when something needs AWS: building it may consult the
/// instance metadata service for a region.
pub async fn sdk_config(s: &AwsSettings) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeout_config(s))
        .retry_config(retry_config(s));
    if let Some(r) = s.region() {
        loader = loader.region(aws_config::Region::new(r.to_owned()));
    }
    loader.load().await
}

/// Where `service`'s calls go, for error messages: the endpoint override
/// (`AWS_ENDPOINT_URL`…) or the regional AWS endpoint.
pub fn endpoint_of(sdk: &aws_config::SdkConfig, service: &str) -> String {
    match (sdk.endpoint_url(), sdk.region()) {
        (Some(url), _) => url.to_string(),
        (None, Some(region)) => format!("https://{service}.{region}.amazonaws.com"),
        (None, None) => format!("{service} (no region configured)"),
    }
}

/// An SDK error as a [`ProviderError::Aws`] naming the operation and the endpoint.
pub fn call_error<E>(operation: &'static str, endpoint: &str, err: &E) -> ProviderError
where
    E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata + 'static,
{
    ProviderError::Aws {
        operation,
        endpoint: endpoint.to_string(),
        message: crate::errors::sdk_error_line(operation, endpoint, err),
    }
}

/// What the provider remembers about an instance between describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub first_seen_ms: u64,
    pub in_service_at_ms: Option<u64>,
}

#[derive(Debug)]
pub struct AwsFleet {
    client: Client,
    group: String,
    /// The Auto Scaling endpoint, named in errors.
    endpoint: String,
    seen: Mutex<Option<HashMap<String, Seen>>>,
}

impl AwsFleet {
    /// A provider whose client has `sdk`'s timeouts and retry (see [`sdk_config`]).
    pub fn new(sdk: &aws_config::SdkConfig, group: &str) -> Self {
        Self::from_client(Client::new(sdk), group).with_endpoint(endpoint_of(sdk, "autoscaling"))
    }

    pub fn from_client(client: Client, group: &str) -> Self {
        Self {
            client,
            group: group.into(),
            endpoint: "autoscaling".into(),
            seen: Mutex::new(None),
        }
    }

    /// Names `endpoint` in errors.
    pub fn with_endpoint(mut self, endpoint: String) -> Self {
        self.endpoint = endpoint;
        self
    }
}

/// The wire lifecycle state as ours.
pub fn lifecycle(state: Option<&LifecycleState>) -> Lifecycle {
    match state {
        Some(LifecycleState::Pending | LifecycleState::PendingProceed) => Lifecycle::Pending,
        Some(LifecycleState::PendingWait) => Lifecycle::PendingWait,
        Some(LifecycleState::InService) => Lifecycle::InService,
        Some(LifecycleState::Terminating | LifecycleState::TerminatingProceed) => {
            Lifecycle::Terminating
        }
        Some(LifecycleState::TerminatingWait) => Lifecycle::TerminatingWait,
        Some(LifecycleState::Terminated) => Lifecycle::Terminated,
        _ => Lifecycle::Other,
    }
}

/// Maps a described group at `now_ms`, updating `seen` (`None`: the first look, when
/// in-service instances count as warmed up). Forgets instances that left the group.
pub fn snapshot_from(
    group: &AutoScalingGroup,
    seen: &mut Option<HashMap<String, Seen>>,
    now_ms: u64,
) -> GroupSnapshot {
    let first_look = seen.is_none();
    let memory = seen.get_or_insert_with(HashMap::new);
    let mut instances = Vec::with_capacity(group.instances().len());
    for i in group.instances() {
        let Some(id) = i.instance_id() else { continue };
        let state = lifecycle(i.lifecycle_state());
        let s = memory.entry(id.to_string()).or_insert(Seen {
            first_seen_ms: if first_look { 0 } else { now_ms },
            in_service_at_ms: None,
        });
        if state == Lifecycle::InService && s.in_service_at_ms.is_none() {
            s.in_service_at_ms = Some(if first_look { 0 } else { now_ms });
        }
        instances.push(InstanceInfo {
            id: id.to_string(),
            zone: i.availability_zone().unwrap_or_default().to_string(),
            lifecycle: state,
            health: if i
                .health_status()
                .is_some_and(|h| h.eq_ignore_ascii_case("healthy"))
            {
                Health::Healthy
            } else {
                Health::Unhealthy
            },
            launched_at_ms: s.first_seen_ms,
            in_service_at_ms: s.in_service_at_ms,
            address: None,
            reason: None,
        });
    }
    let listed: std::collections::HashSet<&str> = instances.iter().map(|i| i.id.as_str()).collect();
    memory.retain(|id, _| listed.contains(id.as_str()));
    let size = |v: Option<i32>| v.unwrap_or(0).max(0) as u32;
    GroupSnapshot {
        name: group
            .auto_scaling_group_name()
            .unwrap_or_default()
            .to_string(),
        min_size: size(group.min_size()),
        max_size: size(group.max_size()),
        desired_capacity: size(group.desired_capacity()),
        instances,
    }
}

#[async_trait]
impl Fleet for AwsFleet {
    fn kind(&self) -> &'static str {
        "aws"
    }

    fn endpoint(&self) -> Option<String> {
        None
    }

    fn describe_operation(&self) -> &'static str {
        DESCRIBE
    }

    fn apply_operation(&self) -> &'static str {
        SET_DESIRED_CAPACITY
    }

    async fn describe(&self) -> Result<GroupSnapshot, ProviderError> {
        let out = self
            .client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.group)
            .send()
            .await
            .map_err(|e| call_error(DESCRIBE, &self.endpoint, &e))?;
        let group = out
            .auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(self.group.as_str()))
            .ok_or_else(|| ProviderError::NoSuchGroup(self.group.clone()))?;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        Ok(snapshot_from(group, &mut seen, now_ms()))
    }

    async fn set_desired_capacity(&self, desired: u32) -> Result<(), ProviderError> {
        let desired = i32::try_from(desired)
            .map_err(|_| ProviderError::Call(format!("desired capacity {desired} is too large")))?;
        self.client
            .set_desired_capacity()
            .auto_scaling_group_name(&self.group)
            .desired_capacity(desired)
            .honor_cooldown(false)
            .send()
            .await
            .map_err(|e| call_error(SET_DESIRED_CAPACITY, &self.endpoint, &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_autoscaling::types::Instance;

    use super::*;

    fn instance(id: &str, state: LifecycleState, health: &str) -> Instance {
        Instance::builder()
            .instance_id(id)
            .availability_zone("us-east-1a")
            .lifecycle_state(state)
            .health_status(health)
            .protected_from_scale_in(false)
            .build()
    }

    fn group(instances: Vec<Instance>) -> AutoScalingGroup {
        AutoScalingGroup::builder()
            .auto_scaling_group_name("web")
            .min_size(1)
            .max_size(5)
            .desired_capacity(instances.len() as i32)
            .set_instances(Some(instances))
            .build()
    }

    #[test]
    fn aws_settings_become_the_sdk_timeouts_and_standard_retry() {
        let s = AwsSettings::try_from(crate::config::file::AwsFile {
            region: None,
            connect_timeout: Some("200ms".into()),
            attempt_timeout: Some("500ms".into()),
            operation_timeout: Some("800ms".into()),
            max_attempts: Some(2),
        })
        .unwrap();
        let ms = std::time::Duration::from_millis;
        let t = timeout_config(&s);
        assert_eq!(t.connect_timeout(), Some(ms(200)));
        assert_eq!(t.operation_attempt_timeout(), Some(ms(500)));
        assert_eq!(t.operation_timeout(), Some(ms(800)));
        let r = retry_config(&s);
        assert_eq!(r.max_attempts(), 2);
        assert_eq!(r.mode(), aws_smithy_types::retry::RetryMode::Standard);
    }

    #[tokio::test]
    async fn every_client_gets_the_bounds_and_errors_name_the_endpoint() {
        let sdk = sdk_config(
            &AwsSettings::try_from(crate::config::file::AwsFile {
                region: Some("eu-west-1".into()),
                ..Default::default()
            })
            .unwrap(),
        )
        .await;
        assert_eq!(
            sdk.timeout_config().and_then(|t| t.operation_timeout()),
            Some(crate::config::defaults::AWS_OPERATION_TIMEOUT)
        );
        assert_eq!(sdk.retry_config().map(|r| r.max_attempts()), Some(3));
        let fleet = AwsFleet::new(&sdk, "web");
        if sdk.endpoint_url().is_none() {
            assert_eq!(
                fleet.endpoint,
                "https://autoscaling.eu-west-1.amazonaws.com"
            );
        }
    }

    #[test]
    fn maps_states_and_health() {
        for (state, ours) in [
            (LifecycleState::Pending, Lifecycle::Pending),
            (LifecycleState::PendingWait, Lifecycle::PendingWait),
            (LifecycleState::InService, Lifecycle::InService),
            (LifecycleState::TerminatingWait, Lifecycle::TerminatingWait),
            (LifecycleState::Terminated, Lifecycle::Terminated),
            (LifecycleState::Standby, Lifecycle::Other),
        ] {
            assert_eq!(lifecycle(Some(&state)), ours);
        }
        let mut seen = None;
        let s = snapshot_from(
            &group(vec![instance(
                "i-1",
                LifecycleState::InService,
                "Unhealthy",
            )]),
            &mut seen,
            5,
        );
        assert_eq!(s.instances[0].health, Health::Unhealthy);
        assert_eq!((s.min_size, s.max_size, s.desired_capacity), (1, 5, 1));
        assert_eq!(s.instances[0].zone, "us-east-1a");
    }

    #[test]
    fn in_service_time_is_when_first_seen_in_service_except_at_the_first_look() {
        let mut seen = None;
        let g1 = group(vec![
            instance("old", LifecycleState::InService, "Healthy"),
            instance("new", LifecycleState::Pending, "Healthy"),
        ]);
        let s = snapshot_from(&g1, &mut seen, 1_000);
        assert_eq!(
            s.instances[0].in_service_at_ms,
            Some(0),
            "warmed up at the first look"
        );
        assert_eq!(s.instances[1].in_service_at_ms, None);
        let g2 = group(vec![
            instance("old", LifecycleState::InService, "Healthy"),
            instance("new", LifecycleState::InService, "Healthy"),
            instance("newer", LifecycleState::InService, "Healthy"),
        ]);
        let s = snapshot_from(&g2, &mut seen, 9_000);
        assert_eq!(s.instances[1].in_service_at_ms, Some(9_000));
        assert_eq!(s.instances[2].launched_at_ms, 9_000);
        let s = snapshot_from(&group(vec![]), &mut seen, 10_000);
        assert!(s.instances.is_empty());
        assert!(seen.unwrap().is_empty(), "forgets instances that left");
    }

    // What moto does not do, through the real client with aws-smithy-mocks: bounds
    // validation on SetDesiredCapacity, a scaling activity in progress, lifecycle-hook
    // wait states.
    mod mocked {
        use aws_sdk_autoscaling::error::ErrorMetadata;
        use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
        use aws_sdk_autoscaling::operation::set_desired_capacity::SetDesiredCapacityError;
        use aws_sdk_autoscaling::types::error::ScalingActivityInProgressFault;
        use aws_smithy_mocks::{mock, mock_client};

        use super::*;

        #[tokio::test]
        async fn set_desired_capacity_errors_name_the_call_and_the_reason() {
            let above_max = mock!(Client::set_desired_capacity)
                .match_requests(|r| r.desired_capacity() == Some(9) && r.honor_cooldown() == Some(false))
                .then_error(|| {
                    SetDesiredCapacityError::generic(
                        ErrorMetadata::builder()
                            .code("ValidationError")
                            .message("New SetDesiredCapacity value 9 is above max value 3 for the AutoScalingGroup.")
                            .build(),
                    )
                });
            let busy = mock!(Client::set_desired_capacity).then_error(|| {
                SetDesiredCapacityError::ScalingActivityInProgressFault(
                    ScalingActivityInProgressFault::builder()
                        .message("Scaling activity 1234 is in progress")
                        .build(),
                )
            });
            let client = mock_client!(aws_sdk_autoscaling, [&above_max, &busy]);
            let fleet = AwsFleet::from_client(client, "web");
            let err = fleet.set_desired_capacity(9).await.unwrap_err().to_string();
            assert!(
                err.contains("SetDesiredCapacity") && err.contains("above max value 3"),
                "{err}"
            );
            let err = fleet.set_desired_capacity(2).await.unwrap_err().to_string();
            assert!(err.contains("in progress"), "{err}");
            assert_eq!((above_max.num_calls(), busy.num_calls()), (1, 1));
        }

        #[tokio::test]
        async fn lifecycle_hook_wait_states_come_through_describe() {
            let describe = mock!(Client::describe_auto_scaling_groups).then_output(|| {
                DescribeAutoScalingGroupsOutput::builder()
                    .auto_scaling_groups(group(vec![
                        instance("i-1", LifecycleState::PendingWait, "Healthy"),
                        instance("i-2", LifecycleState::TerminatingWait, "Healthy"),
                    ]))
                    .build()
            });
            let client = mock_client!(aws_sdk_autoscaling, [&describe]);
            let s = AwsFleet::from_client(client, "web")
                .describe()
                .await
                .unwrap();
            let states: Vec<Lifecycle> = s.instances.iter().map(|i| i.lifecycle).collect();
            assert_eq!(
                states,
                vec![Lifecycle::PendingWait, Lifecycle::TerminatingWait]
            );
        }
    }
}
