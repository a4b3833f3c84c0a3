//! Publishing the fleet metrics: a pure encoder, a batcher, and the [`MetricsSink`] trait.
//!
//! - [`encode`]: `FleetMetrics` → [`Datum`]s (pure; names, units, dimensions).
//! - [`batches`]: data → batches of at most [`MAX_VALUES_PER_CALL`] values (pure).
//! - [`MetricsSink`]: where data goes. Implementations: [`cloudwatch::CloudWatchSink`]
//!   (PutMetricData; the only module importing `aws_sdk_cloudwatch`), [`MemorySink`]
//!   (keeps everything, for tests) and [`NoopSink`] (publishing disabled).

pub mod cloudwatch;

use std::sync::Mutex;

use async_trait::async_trait;

use crate::aggregate::FleetMetrics;

/// PutMetricData accepts at most 1,000 metric values per call.
pub const MAX_VALUES_PER_CALL: usize = 1_000;

pub const CONCURRENT_USERS: &str = "ConcurrentUsers";
pub const CONCURRENT_USERS_PER_INSTANCE: &str = "ConcurrentUsersPerInstance";
pub const REQUESTS_PER_SECOND: &str = "RequestsPerSecond";
pub const LOG_EVENTS_PER_SECOND: &str = "LogEventsPerSecond";
pub const IN_SERVICE_INSTANCES: &str = "InServiceInstances";
pub const DESIRED_CAPACITY: &str = "DesiredCapacity";
pub const STALE_INSTANCES: &str = "StaleInstances";

/// The unit of a value, as CloudWatch names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    CountPerSecond,
}

/// One value to publish. Every datum carries the `AutoScalingGroupName` dimension (added by
/// the sink); per-instance data also carry `InstanceId`.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub name: &'static str,
    pub value: f64,
    pub unit: Unit,
    pub at_ms: u64,
    pub instance_id: Option<String>,
}

/// Encodes one tick's figures. `per_instance` adds `ConcurrentUsers` per instance.
pub fn encode(metrics: &FleetMetrics, desired_capacity: u32, per_instance: bool) -> Vec<Datum> {
    let at_ms = metrics.at_ms;
    let fleet = |name, value, unit| Datum {
        name,
        value,
        unit,
        at_ms,
        instance_id: None,
    };
    let mut out = Vec::with_capacity(
        7 + if per_instance {
            metrics.instances.len()
        } else {
            0
        },
    );
    out.push(fleet(
        CONCURRENT_USERS,
        metrics.concurrent_users as f64,
        Unit::Count,
    ));
    if let Some(v) = metrics.concurrent_users_per_instance {
        out.push(fleet(CONCURRENT_USERS_PER_INSTANCE, v, Unit::Count));
    }
    out.push(fleet(
        REQUESTS_PER_SECOND,
        metrics.requests_per_second,
        Unit::CountPerSecond,
    ));
    out.push(fleet(
        LOG_EVENTS_PER_SECOND,
        metrics.log_events_per_second,
        Unit::CountPerSecond,
    ));
    out.push(fleet(
        IN_SERVICE_INSTANCES,
        f64::from(metrics.in_service),
        Unit::Count,
    ));
    out.push(fleet(
        DESIRED_CAPACITY,
        f64::from(desired_capacity),
        Unit::Count,
    ));
    out.push(fleet(
        STALE_INSTANCES,
        metrics.stale_instances.len() as f64,
        Unit::Count,
    ));
    if per_instance {
        out.extend(metrics.instances.iter().map(|i| Datum {
            name: CONCURRENT_USERS,
            value: i.concurrent_users as f64,
            unit: Unit::Count,
            at_ms,
            instance_id: Some(i.id.clone()),
        }));
    }
    out
}

/// Splits `data` into batches of at most `max` values, in order.
pub fn batches(data: &[Datum], max: usize) -> impl Iterator<Item = &[Datum]> {
    data.chunks(max.max(1))
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(
        "publishing {failed} of {total} metric values failed after {attempts} attempts: {message}"
    )]
    Publish {
        failed: usize,
        total: usize,
        attempts: u32,
        message: String,
    },
}

/// Where the fleet metrics go each tick.
#[async_trait]
pub trait MetricsSink: Send + Sync {
    /// `cloudwatch`, `memory` or `none`.
    fn kind(&self) -> &'static str;

    /// The call `publish` makes, as errors and the status name it (`PutMetricData`).
    fn operation(&self) -> &'static str {
        "publish"
    }

    /// Publishes `data` (the sink batches). Returns how many calls it made.
    async fn publish(&self, data: &[Datum]) -> Result<usize, SinkError>;
}

/// Publishing disabled.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopSink;

#[async_trait]
impl MetricsSink for NoopSink {
    fn kind(&self) -> &'static str {
        "none"
    }

    async fn publish(&self, _data: &[Datum]) -> Result<usize, SinkError> {
        Ok(0)
    }
}

/// Keeps every published datum (tests, and `controller simulate`).
#[derive(Debug, Default)]
pub struct MemorySink {
    data: Mutex<Vec<Datum>>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything published so far, oldest first.
    pub fn data(&self) -> Vec<Datum> {
        self.data.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl MetricsSink for MemorySink {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn publish(&self, data: &[Datum]) -> Result<usize, SinkError> {
        let mut held = self.data.lock().unwrap_or_else(|e| e.into_inner());
        held.extend_from_slice(data);
        Ok(batches(data, MAX_VALUES_PER_CALL).count())
    }
}

/// The sink `[metrics]` asks for: CloudWatch when `publish` is on, otherwise none.
/// `sdk`: the provider's SDK config when there is one; without it, one is built from
/// `[aws]` only when publishing is on (publishing off never touches AWS, not even the
/// instance metadata service).
pub async fn sink_for(
    config: &crate::config::Config,
    sdk: Option<&aws_config::SdkConfig>,
) -> std::sync::Arc<dyn MetricsSink> {
    if !config.metrics.publish {
        return std::sync::Arc::new(NoopSink);
    }
    let built;
    let sdk = match sdk {
        Some(sdk) => sdk,
        None => {
            built = crate::aws::sdk_config(&config.provider.aws()).await;
            &built
        }
    };
    std::sync::Arc::new(cloudwatch::CloudWatchSink::new(
        sdk,
        &config.metrics.namespace,
        &config.group.name,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{InstanceMetrics, ReportState};

    fn metrics(instances: usize) -> FleetMetrics {
        FleetMetrics {
            at_ms: 1_000,
            concurrent_users: 120,
            concurrent_users_per_instance: Some(40.0),
            requests_per_second: 12.5,
            log_events_per_second: 250.0,
            in_service: 3,
            instances: (0..instances)
                .map(|i| InstanceMetrics {
                    id: format!("i-{i}"),
                    warming: false,
                    report: ReportState::Fresh,
                    concurrent_users: 40,
                    requests_per_second: 0.0,
                    log_events_per_second: 0.0,
                    in_flight: 0,
                    draining: false,
                })
                .collect(),
            ..FleetMetrics::default()
        }
    }

    #[test]
    fn encodes_the_fleet_figures_with_units() {
        let data = encode(&metrics(3), 4, false);
        let find = |n| data.iter().find(|d| d.name == n).unwrap();
        assert_eq!(find(CONCURRENT_USERS).value, 120.0);
        assert_eq!(find(CONCURRENT_USERS_PER_INSTANCE).value, 40.0);
        assert_eq!(find(REQUESTS_PER_SECOND).unit, Unit::CountPerSecond);
        assert_eq!(find(DESIRED_CAPACITY).value, 4.0);
        assert_eq!(data.len(), 7);
        assert!(
            data.iter()
                .all(|d| d.at_ms == 1_000 && d.instance_id.is_none())
        );
    }

    #[test]
    fn a_missing_per_instance_value_is_not_published_as_zero() {
        let mut m = metrics(0);
        m.concurrent_users_per_instance = None;
        let data = encode(&m, 1, false);
        assert!(data.iter().all(|d| d.name != CONCURRENT_USERS_PER_INSTANCE));
    }

    #[test]
    fn per_instance_data_and_batches_of_at_most_1000() {
        let data = encode(&metrics(2_500), 4, true);
        assert_eq!(data.len(), 2_507);
        let sizes: Vec<usize> = batches(&data, MAX_VALUES_PER_CALL)
            .map(<[_]>::len)
            .collect();
        assert_eq!(sizes, vec![1_000, 1_000, 507]);
        assert_eq!(data[2_506].instance_id.as_deref(), Some("i-2499"));
        assert_eq!(batches(&[], MAX_VALUES_PER_CALL).count(), 0);
    }
}
