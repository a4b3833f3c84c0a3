//! `[aws]`: the region and the bounds of every AWS call ([`AwsSettings`]), built from the
//! file's [`AwsFile`] by `TryFrom` (every error names its field); `[lease]`: the controller lease
//! ([`LeaseSettings`], from [`LeaseFile`]).

use std::time::Duration;

use super::file::{AwsFile, LeaseFile};
use super::{ConfigError, defaults, duration, invalid};

/// `[aws]`: the region and the bounds of every AWS call the controller makes, validated
/// (`TryFrom<AwsFile>`; the defaults by `Default`); read through accessors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub(super) region: Option<String>,
    pub(super) connect_timeout: Duration,
    pub(super) attempt_timeout: Duration,
    pub(super) operation_timeout: Duration,
    pub(super) max_attempts: u32,
}

impl AwsSettings {
    /// Absent: the standard chain (`AWS_REGION`, profile…).
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// Establishing a connection (TCP + TLS).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// One attempt of an operation, response included (at least `connect_timeout`).
    pub fn attempt_timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// A whole operation, every retry included (at least `attempt_timeout`).
    pub fn operation_timeout(&self) -> Duration {
        self.operation_timeout
    }

    /// Attempts per operation, the first included (the SDK's standard retry).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
}

impl Default for AwsSettings {
    /// The defaults of [`defaults`] (`[aws]` absent or empty), validated like a file's.
    fn default() -> Self {
        AwsSettings::try_from(AwsFile::default()).expect("the aws defaults are valid")
    }
}

impl TryFrom<AwsFile> for AwsSettings {
    type Error = ConfigError;

    fn try_from(aws: AwsFile) -> Result<AwsSettings, ConfigError> {
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
            defaults::AWS_CONNECT_TIMEOUT,
        )?;
        let attempt_timeout = bounded(
            "aws.attempt_timeout",
            &aws.attempt_timeout,
            defaults::AWS_ATTEMPT_TIMEOUT,
        )?;
        let operation_timeout = bounded(
            "aws.operation_timeout",
            &aws.operation_timeout,
            defaults::AWS_OPERATION_TIMEOUT,
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
        let max_attempts = aws.max_attempts.unwrap_or(defaults::AWS_MAX_ATTEMPTS);
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
}

/// `[lease]`: the DynamoDB lease only whose holder changes the group (see `crate::lease`),
/// validated with the tick it must outlast; read through accessors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSettings {
    pub(super) table: String,
    pub(super) key: String,
    pub(super) ttl: Duration,
    pub(super) holder: Option<String>,
}

impl LeaseSettings {
    /// The DynamoDB table (partition key `lease`, a string).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The item's key (default: the group's name).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// How long a claim lasts: at least three ticks and twice [`LeaseSettings::margin`].
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// `None`: [`crate::lease::default_holder`] at start.
    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref()
    }

    /// How long before its end a lease stops counting as held: one tick (an apply started
    /// while holding may be in flight that long) plus the clock skew allowance.
    pub fn margin(tick: Duration) -> Duration {
        tick + crate::lease::CLOCK_SKEW
    }
}

pub(super) fn validate_lease(
    lease: LeaseFile,
    group: &str,
    tick: Duration,
) -> Result<LeaseSettings, ConfigError> {
    // DynamoDB table names: 3-255 of [A-Za-z0-9_.-].
    let table = lease
        .table
        .ok_or_else(|| invalid("lease.table", "missing (the DynamoDB table of the lease)"))?;
    let ok = (3..=255).contains(&table.len())
        && table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        return Err(invalid(
            "lease.table",
            format!("{table:?} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)"),
        ));
    }
    let key = lease.key.unwrap_or_else(|| group.to_string());
    if key.is_empty() || key.len() > 1024 {
        return Err(invalid("lease.key", "must be 1 to 1024 bytes"));
    }
    let ttl = match &lease.ttl {
        Some(t) => duration("lease.ttl", t)?,
        None => tick * defaults::LEASE_TICKS,
    };
    let least = (tick * 3).max(LeaseSettings::margin(tick) * 2);
    if ttl < least || ttl > Duration::from_secs(600) {
        return Err(invalid(
            "lease.ttl",
            format!(
                "{ttl:?} is outside [{least:?}, 10m]: at least three ticks and twice a tick plus {:?}, so a leader renews it in time",
                crate::lease::CLOCK_SKEW
            ),
        ));
    }
    if let Some(h) = &lease.holder
        && (h.is_empty() || h.len() > 256)
    {
        return Err(invalid("lease.holder", "must be 1 to 256 bytes"));
    }
    Ok(LeaseSettings {
        table,
        key,
        ttl,
        holder: lease.holder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_validated_and_are_the_documented_ones() {
        assert_eq!(
            AwsSettings::default(),
            AwsSettings {
                region: None,
                connect_timeout: Duration::from_secs(2),
                attempt_timeout: Duration::from_secs(4),
                operation_timeout: Duration::from_secs(10),
                max_attempts: 3,
            }
        );
    }
}
