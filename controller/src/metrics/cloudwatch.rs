//! The CloudWatch sink: PutMetricData, the only module importing `aws_sdk_cloudwatch`.
//!
//! Pure parts, tested without a network: [`to_metric_datum`] (our [`Datum`] → the SDK's
//! `MetricDatum`, high resolution, `AutoScalingGroupName` dimension), [`is_retriable`] and
//! [`backoff`]. The SDK's own retries are off: this module retries throttling, 5xx,
//! timeouts and connection failures itself, with exponential backoff and full jitter,
//! a bounded number of times. Each attempt is bounded by the `[aws]` connect, attempt and
//! operation timeouts the client inherits from the `SdkConfig` (`crate::aws::sdk_config`),
//! and the daemon bounds the whole publish by the tick's budget. Errors are one line naming
//! `PutMetricData` and the endpoint.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::http::HttpResponse;
use aws_sdk_cloudwatch::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;

use super::{Datum, MAX_VALUES_PER_CALL, MetricsSink, SinkError, Unit, batches};

/// The dimension every datum carries.
pub const GROUP_DIMENSION: &str = "AutoScalingGroupName";
/// The dimension of per-instance data.
pub const INSTANCE_DIMENSION: &str = "InstanceId";
/// Attempts per batch (the first call plus retries).
pub const MAX_ATTEMPTS: u32 = 4;

/// How a call failed, stripped of SDK types so the retry decision is a pure function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The service said to slow down (`Throttling`, HTTP 429…).
    Throttled,
    /// HTTP 5xx.
    Server(u16),
    /// HTTP 4xx other than throttling: our request is wrong; retrying will not help.
    Client(u16),
    /// No response: connection refused or reset, DNS…
    Transport,
    Timeout,
    /// The request could not even be built.
    Other,
}

/// Whether a failure is worth another attempt.
pub fn is_retriable(failure: &Failure) -> bool {
    matches!(
        failure,
        Failure::Throttled | Failure::Server(_) | Failure::Transport | Failure::Timeout
    )
}

/// The wait before retry number `attempt` (1-based): full jitter over an exponential
/// ceiling (100 ms, 200 ms, 400 ms… capped at 2 s); `jitter` is in [0, 1].
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let ceiling_ms = (100u64 << attempt.saturating_sub(1).min(10)).min(2_000);
    Duration::from_millis((ceiling_ms as f64 * jitter.clamp(0.0, 1.0)) as u64)
}

const THROTTLING_CODES: [&str; 5] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
];

/// Classifies an SDK error.
pub fn classify<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Failure {
    if err.code().is_some_and(|c| THROTTLING_CODES.contains(&c)) {
        return Failure::Throttled;
    }
    match err {
        SdkError::TimeoutError(_) => Failure::Timeout,
        SdkError::DispatchFailure(_) => Failure::Transport,
        SdkError::ConstructionFailure(_) => Failure::Other,
        _ => match err.raw_response().map(|r| r.status().as_u16()) {
            Some(429) => Failure::Throttled,
            Some(s) if s >= 500 => Failure::Server(s),
            Some(s) => Failure::Client(s),
            None => Failure::Other,
        },
    }
}

/// Our datum as the SDK's, with the group dimension and `StorageResolution=1`.
pub fn to_metric_datum(d: &Datum, group: &str) -> MetricDatum {
    let mut b = MetricDatum::builder()
        .metric_name(d.name)
        .value(d.value)
        .unit(match d.unit {
            Unit::Count => StandardUnit::Count,
            Unit::CountPerSecond => StandardUnit::CountSecond,
        })
        .storage_resolution(1)
        .timestamp(DateTime::from_millis(d.at_ms as i64))
        .dimensions(
            Dimension::builder()
                .name(GROUP_DIMENSION)
                .value(group)
                .build(),
        );
    if let Some(id) = &d.instance_id {
        b = b.dimensions(
            Dimension::builder()
                .name(INSTANCE_DIMENSION)
                .value(id)
                .build(),
        );
    }
    b.build()
}

/// Publishes to CloudWatch in one namespace for one group.
#[derive(Debug, Clone)]
pub struct CloudWatchSink {
    client: Client,
    namespace: String,
    group: String,
    /// Named in errors.
    endpoint: String,
}

/// The operation, as errors and the status name it.
pub const PUT_METRIC_DATA: &str = "PutMetricData";

impl CloudWatchSink {
    /// A sink from an SDK config (region, credentials, timeouts, and `AWS_ENDPOINT_URL` for
    /// an emulator); the SDK's retry is replaced by this module's.
    pub fn new(sdk: &aws_config::SdkConfig, namespace: &str, group: &str) -> Self {
        let conf = aws_sdk_cloudwatch::config::Builder::from(sdk)
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build();
        Self {
            client: Client::from_conf(conf),
            namespace: namespace.into(),
            group: group.into(),
            endpoint: crate::aws::endpoint_of(sdk, "monitoring"),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn put_batch(&self, batch: &[Datum]) -> Result<(), (Failure, String, u32)> {
        let data: Vec<MetricDatum> = batch
            .iter()
            .map(|d| to_metric_datum(d, &self.group))
            .collect();
        let mut attempt = 1;
        loop {
            let result = self
                .client
                .put_metric_data()
                .namespace(&self.namespace)
                .set_metric_data(Some(data.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let failure = classify(&err);
            let message = format!(
                "{PUT_METRIC_DATA} at {}: {}",
                self.endpoint,
                crate::errors::sdk_error_line(PUT_METRIC_DATA, &self.endpoint, &err)
            );
            if attempt >= MAX_ATTEMPTS || !is_retriable(&failure) {
                return Err((failure, message, attempt));
            }
            let wait = backoff(attempt, rand::random::<f64>());
            tracing::debug!(?failure, attempt, ?wait, "PutMetricData failed; retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[async_trait]
impl MetricsSink for CloudWatchSink {
    fn kind(&self) -> &'static str {
        "cloudwatch"
    }

    fn operation(&self) -> &'static str {
        PUT_METRIC_DATA
    }

    async fn publish(&self, data: &[Datum]) -> Result<usize, SinkError> {
        let mut calls = 0;
        let mut failed = 0;
        let mut last: Option<(String, u32)> = None;
        for batch in batches(data, MAX_VALUES_PER_CALL) {
            calls += 1;
            if let Err((_, message, attempts)) = self.put_batch(batch).await {
                failed += batch.len();
                last = Some((message, attempts));
            }
        }
        match last {
            None => Ok(calls),
            Some((message, attempts)) => Err(SinkError::Publish {
                failed,
                total: data.len(),
                attempts,
                message,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retried() {
        for (failure, retry) in [
            (Failure::Throttled, true),
            (Failure::Server(500), true),
            (Failure::Server(503), true),
            (Failure::Transport, true),
            (Failure::Timeout, true),
            (Failure::Client(400), false),
            (Failure::Client(403), false),
            (Failure::Other, false),
        ] {
            assert_eq!(is_retriable(&failure), retry, "{failure:?}");
        }
    }

    #[test]
    fn backoff_grows_exponentially_with_a_cap() {
        assert_eq!(backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(2, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(3, 1.0), Duration::from_millis(400));
        assert_eq!(backoff(30, 1.0), Duration::from_millis(2_000));
        assert_eq!(backoff(3, 0.5), Duration::from_millis(200));
        assert_eq!(backoff(3, 0.0), Duration::ZERO);
    }

    #[test]
    fn datum_is_high_resolution_with_the_group_dimension() {
        let d = Datum {
            name: super::super::CONCURRENT_USERS,
            value: 42.0,
            unit: Unit::Count,
            at_ms: 1_700_000_000_000,
            instance_id: Some("i-1".into()),
        };
        let m = to_metric_datum(&d, "web");
        assert_eq!(m.metric_name(), Some("ConcurrentUsers"));
        assert_eq!(m.value(), Some(42.0));
        assert_eq!(m.storage_resolution(), Some(1));
        assert_eq!(m.unit(), Some(&StandardUnit::Count));
        let dims: Vec<(&str, &str)> = m
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap(), d.value().unwrap()))
            .collect();
        assert_eq!(
            dims,
            vec![(GROUP_DIMENSION, "web"), (INSTANCE_DIMENSION, "i-1")]
        );
        assert_eq!(
            m.timestamp().unwrap().to_millis().unwrap(),
            1_700_000_000_000
        );
    }
}
