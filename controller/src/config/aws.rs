//! `[aws]`: the region and the bounds of every AWS call ([`AwsSettings`]), validated from
//! the file's [`AwsFile`] (every error names its field).

use std::time::Duration;

use super::file::AwsFile;
use super::{ConfigError, duration, invalid};

/// `[aws]`: the region and the bounds of every AWS call the controller makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// Absent: the standard chain (`AWS_REGION`, profile…).
    pub region: Option<String>,
    /// Establishing a connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// One attempt of an operation, response included.
    pub attempt_timeout: Duration,
    /// A whole operation, every retry included.
    pub operation_timeout: Duration,
    /// Attempts per operation, the first included (the SDK's standard retry).
    pub max_attempts: u32,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: None,
            connect_timeout: DEFAULT_AWS_CONNECT_TIMEOUT,
            attempt_timeout: DEFAULT_AWS_ATTEMPT_TIMEOUT,
            operation_timeout: DEFAULT_AWS_OPERATION_TIMEOUT,
            max_attempts: DEFAULT_AWS_MAX_ATTEMPTS,
        }
    }
}

pub const DEFAULT_AWS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_AWS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
pub const DEFAULT_AWS_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_AWS_MAX_ATTEMPTS: u32 = 3;

pub(super) fn validate_aws(aws: AwsFile) -> Result<AwsSettings, ConfigError> {
    if let Some(r) = &aws.region {
        let ok = !r.is_empty()
            && r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(invalid(
                "aws.region",
                format!("{r:?} is not a region name like \"eu-west-1\""),
            ));
        }
    }
    let d = AwsSettings::default();
    let bounded = |field: &str, given: &Option<String>, default: Duration| {
        let v = match given {
            Some(s) => duration(field, s)?,
            None => default,
        };
        if v < Duration::from_millis(50) || v > Duration::from_secs(300) {
            return Err(invalid(field, format!("{v:?} is outside [50ms, 5m]")));
        }
        Ok(v)
    };
    let connect_timeout = bounded(
        "aws.connect_timeout",
        &aws.connect_timeout,
        d.connect_timeout,
    )?;
    let attempt_timeout = bounded(
        "aws.attempt_timeout",
        &aws.attempt_timeout,
        d.attempt_timeout,
    )?;
    let operation_timeout = bounded(
        "aws.operation_timeout",
        &aws.operation_timeout,
        d.operation_timeout,
    )?;
    if attempt_timeout < connect_timeout {
        return Err(invalid(
            "aws.attempt_timeout",
            format!(
                "{attempt_timeout:?} is shorter than aws.connect_timeout ({connect_timeout:?}): an attempt includes its connection"
            ),
        ));
    }
    if operation_timeout < attempt_timeout {
        return Err(invalid(
            "aws.operation_timeout",
            format!(
                "{operation_timeout:?} is shorter than aws.attempt_timeout ({attempt_timeout:?}): an operation includes its attempts"
            ),
        ));
    }
    let max_attempts = aws.max_attempts.unwrap_or(d.max_attempts);
    if !(1..=10).contains(&max_attempts) {
        return Err(invalid(
            "aws.max_attempts",
            format!("{max_attempts} is outside [1, 10]"),
        ));
    }
    Ok(AwsSettings {
        region: aws.region,
        connect_timeout,
        attempt_timeout,
        operation_timeout,
        max_attempts,
    })
}
