//! The `cloudwatch` sink: PutLogEvents into one stream of one group. The only
//! file that imports `aws_sdk_cloudwatchlogs`.
//!
//! - Endpoint, region and credentials come from the standard AWS environment
//!   (`AWS_ENDPOINT_URL`, `AWS_REGION`, the credential chain), so the same code
//!   runs against an emulator.
//! - The group and stream are created when missing (first send, and again
//!   whenever a send answers ResourceNotFound, e.g. after they were deleted).
//! - No sequence tokens. The SDK's own retries are off: the shipper retries,
//!   so its `retried` counter and backoff are the only ones.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::config::retry::RetryConfig;
use aws_sdk_cloudwatchlogs::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatchlogs::types::{InputLogEvent, RejectedLogEventsInfo};

use super::batch::Batch;
use super::sink::{LogSink, PutOutcome, SinkError};

pub struct CloudWatchSink {
    client: Client,
    group: String,
    stream: String,
    /// Group and stream are known to exist.
    ready: AtomicBool,
}

impl CloudWatchSink {
    /// A sink configured from the standard AWS environment, its calls bounded by `t`.
    pub async fn from_env(
        group: &str,
        stream: &str,
        t: crate::config::SdkTimeouts,
    ) -> CloudWatchSink {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(t.connect)
                    .operation_attempt_timeout(t.attempt)
                    .operation_timeout(t.operation)
                    .build(),
            )
            .load()
            .await;
        Self::from_config(aws_sdk_cloudwatchlogs::Config::from(&sdk), group, stream)
    }

    /// A sink with an explicit client configuration (tests point it at an emulator). Its
    /// attempt and operation timeouts are kept; unset ones default to 2 s connect, 10 s
    /// attempt, 15 s operation.
    pub fn from_config(
        config: aws_sdk_cloudwatchlogs::Config,
        group: &str,
        stream: &str,
    ) -> CloudWatchSink {
        let defaults = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(10))
            .operation_timeout(Duration::from_secs(15))
            .build();
        let timeouts = match config.timeout_config() {
            Some(given) => {
                let mut t = given.clone();
                t.take_defaults_from(&defaults);
                t
            }
            None => defaults,
        };
        let config = config
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts)
            .build();
        CloudWatchSink {
            client: Client::from_conf(config),
            group: group.to_owned(),
            stream: stream.to_owned(),
            ready: AtomicBool::new(false),
        }
    }

    /// Creates the group and the stream; "already exists" is success.
    async fn ensure_resources(&self) -> Result<(), SinkError> {
        let created = self
            .client
            .create_log_group()
            .log_group_name(&self.group)
            .send()
            .await;
        if let Err(e) = created {
            if e.code() != Some("ResourceAlreadyExistsException") {
                return Err(sink_error(e));
            }
        } else {
            tracing::info!(group = %self.group, "created log group");
        }
        let created = self
            .client
            .create_log_stream()
            .log_group_name(&self.group)
            .log_stream_name(&self.stream)
            .send()
            .await;
        match created {
            Err(e) if e.code() != Some("ResourceAlreadyExistsException") => Err(sink_error(e)),
            _ => Ok(()),
        }
    }

    async fn put_once(&self, events: Vec<InputLogEvent>) -> Result<PutOutcome, SinkError> {
        let n = events.len();
        let out = self
            .client
            .put_log_events()
            .log_group_name(&self.group)
            .log_stream_name(&self.stream)
            .set_log_events(Some(events))
            .send()
            .await
            .map_err(sink_error)?;
        Ok(PutOutcome {
            rejected: out
                .rejected_log_events_info()
                .map_or(0, |info| rejected_count(n, info)),
        })
    }
}

#[async_trait]
impl LogSink for CloudWatchSink {
    async fn put(&self, batch: &Batch) -> Result<PutOutcome, SinkError> {
        let events = batch
            .events
            .iter()
            .map(|e| {
                InputLogEvent::builder()
                    .timestamp(e.timestamp_ms)
                    .message(&*e.message)
                    .build()
                    .map_err(|err| SinkError::Invalid(err.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !self.ready.load(Ordering::Relaxed) {
            self.ensure_resources().await?;
            self.ready.store(true, Ordering::Relaxed);
        }
        match self.put_once(events.clone()).await {
            Err(SinkError::ResourceNotFound(why)) => {
                // Deleted under us (or the emulator restarted): recreate, resend once.
                tracing::warn!(%why, group = %self.group, stream = %self.stream,
                    "log group or stream missing; recreating");
                self.ready.store(false, Ordering::Relaxed);
                self.ensure_resources().await?;
                self.ready.store(true, Ordering::Relaxed);
                self.put_once(events).await
            }
            other => other,
        }
    }

    fn describe(&self) -> String {
        format!("cloudwatch:{}/{}", self.group, self.stream)
    }
}

/// Events of a batch of `n` that CloudWatch refused, from `rejectedLogEventsInfo`.
/// Per the API reference, `tooOldLogEventEndIndex` and `expiredLogEventEndIndex`
/// are exclusive ends (events `[0, end)`), `tooNewLogEventStartIndex` is an
/// inclusive start (events `[start, n)`).
pub fn rejected_count(n: usize, info: &RejectedLogEventsInfo) -> u64 {
    let clamp = |i: i32| usize::try_from(i).unwrap_or(0).min(n);
    let old = clamp(info.too_old_log_event_end_index().unwrap_or(0))
        .max(clamp(info.expired_log_event_end_index().unwrap_or(0)));
    let new = info
        .too_new_log_event_start_index()
        .map_or(0, |start| n - clamp(start).max(old));
    (old + new) as u64
}

fn sink_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: SdkError<E>,
) -> SinkError {
    let status = err.raw_response().map(|r| r.status().as_u16());
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        // The attempt timed out or the answer was unreadable: the request may
        // have been received and stored.
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => SinkError::Unknown(detail),
        SdkError::DispatchFailure(f) => transport_error(f.is_timeout(), refused(&err), detail),
        SdkError::ConstructionFailure(_) => SinkError::Invalid(detail),
        _ => classify(err.code(), status, detail),
    }
}

/// Whether the error's cause is a refused connection (nothing was sent).
fn refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// A failure to exchange the request. Pure. A connect timeout or a refused
/// connection sent nothing ([`SinkError::Network`]); any other (reset, closed
/// before the answer) may have come after the request was received, so its
/// outcome is [`SinkError::Unknown`] — conservatively, since a connection
/// reset right after connect looks the same.
pub fn transport_error(connect_timeout: bool, refused: bool, detail: String) -> SinkError {
    if connect_timeout || refused {
        SinkError::Network(detail)
    } else {
        SinkError::Unknown(detail)
    }
}

/// Maps an AWS error code and HTTP status to a [`SinkError`]. Pure.
pub fn classify(code: Option<&str>, status: Option<u16>, detail: String) -> SinkError {
    match code.unwrap_or("") {
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded" => return SinkError::Throttled(detail),
        "ServiceUnavailableException"
        | "InternalFailure"
        | "RequestTimeout"
        | "RequestTimeoutException"
        | "ExpiredTokenException" => {
            return SinkError::Server {
                status: status.unwrap_or(503),
                message: detail,
            };
        }
        "ResourceNotFoundException" => return SinkError::ResourceNotFound(detail),
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "MissingAuthenticationToken"
        | "InvalidSignatureException" => {
            return SinkError::Denied(detail);
        }
        _ => {}
    }
    match status {
        Some(429) => SinkError::Throttled(detail),
        Some(s) if s >= 500 => SinkError::Server {
            status: s,
            message: detail,
        },
        None => SinkError::Network(detail),
        Some(_) => SinkError::Invalid(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(new: Option<i32>, old: Option<i32>, expired: Option<i32>) -> RejectedLogEventsInfo {
        RejectedLogEventsInfo::builder()
            .set_too_new_log_event_start_index(new)
            .set_too_old_log_event_end_index(old)
            .set_expired_log_event_end_index(expired)
            .build()
    }

    #[test]
    fn rejected_counts() {
        let cases = [
            (info(None, None, None), 0),
            (info(Some(8), None, None), 2),
            (info(None, Some(3), None), 3),
            (info(None, Some(3), Some(5)), 5),
            (info(Some(7), Some(3), None), 6),
            (info(Some(0), None, None), 10),
            (info(Some(2), Some(5), None), 10),
            (info(Some(-1), Some(99), Some(-4)), 10),
        ];
        for (i, expected) in cases {
            assert_eq!(rejected_count(10, &i), expected, "{i:?}");
        }
    }

    #[test]
    fn error_classification() {
        let check = |code: Option<&str>, status: Option<u16>, expected: &str| {
            let e = classify(code, status, "d".into());
            let got = format!("{e:?}");
            assert!(got.starts_with(expected), "{code:?} {status:?} → {got}");
        };
        check(Some("ThrottlingException"), Some(400), "Throttled");
        check(Some("ServiceUnavailableException"), Some(503), "Server");
        check(
            Some("ResourceNotFoundException"),
            Some(400),
            "ResourceNotFound",
        );
        check(Some("InvalidParameterException"), Some(400), "Invalid");
        check(Some("AccessDeniedException"), Some(400), "Denied");
        check(Some("UnrecognizedClientException"), Some(400), "Denied");
        check(None, Some(500), "Server");
        check(None, Some(502), "Server");
        check(None, Some(429), "Throttled");
        check(None, Some(404), "Invalid");
        check(None, None, "Network");
        assert!(matches!(
            transport_error(true, false, "connect timeout".into()),
            SinkError::Network(_)
        ));
        assert!(matches!(
            transport_error(false, true, "refused".into()),
            SinkError::Network(_)
        ));
        assert!(matches!(
            transport_error(false, false, "connection reset".into()),
            SinkError::Unknown(_)
        ));
    }
}
