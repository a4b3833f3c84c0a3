//! The metric encoder, pure: one tick's `FleetMetrics` → the [`Datum`]s to publish (names,
//! units, dimensions), and [`batches`] of at most [`MAX_VALUES_PER_CALL`] values. Where the
//! data go (the `MetricsSink` trait, CloudWatch) is the controller's business.

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
