//! Stage two: the raw forms of [`super::file`] → the validated parts, each by `TryFrom`
//! (the whole [`Config`], `Policies`, `[group]`, `[api]`, `[reports]`, `[history]`), and the
//! checks that span sections (periods against the tick, native mode's needs). Every error
//! names its field.

use std::time::Duration;

use super::aws::validate_lease;
use super::file::{self, ConfigFile, PoliciesFile, ProviderKind};
use super::{
    ApiConfig, AwsSettings, Config, ConfigError, GroupConfig, HistoryConfig, LocalSettings,
    MetricsConfig, ProviderConfig, ReportsConfig, defaults, duration, invalid, report_key, within,
};
use fleetcore::policy::{Policies, RawPolicies};

impl TryFrom<ConfigFile> for Config {
    type Error = ConfigError;

    fn try_from(file: ConfigFile) -> Result<Config, ConfigError> {
        let group = GroupConfig::try_from(&file.group)?;
        let tick = duration("tick", &file.tick)?;
        if tick < Duration::from_millis(100) || tick > Duration::from_secs(3_600) {
            return Err(invalid(
                "tick",
                format!("{:?} is outside [100ms, 1h]", file.tick),
            ));
        }
        let policies = match file.policies {
            Some(p) => Policies::try_from(p)?,
            None => defaults::policies(),
        };
        for (name, p) in [
            ("scale_out", policies.scale_out()),
            ("scale_in", policies.scale_in()),
        ] {
            let period = Duration::from_millis(p.alarm().period_ms());
            if period < tick {
                return Err(invalid(
                    &format!("policies.{name}.alarm.period_secs"),
                    format!(
                        "{} is shorter than the tick ({}): most periods would have no datapoint",
                        p.alarm().period_secs,
                        file.tick
                    ),
                ));
            }
        }
        let provider = match (file.provider, file.local, file.aws) {
            (ProviderKind::Local, local, None) => {
                ProviderConfig::Local(LocalSettings::try_from(local.unwrap_or_default())?)
            }
            (ProviderKind::Aws, None, aws) => {
                ProviderConfig::Aws(AwsSettings::try_from(aws.unwrap_or_default())?)
            }
            (ProviderKind::Local, _, Some(_)) => {
                return Err(invalid(
                    "aws",
                    "an [aws] section is given but provider is \"local\"",
                ));
            }
            (ProviderKind::Aws, Some(_), _) => {
                return Err(invalid(
                    "local",
                    "a [local] section is given but provider is \"aws\"",
                ));
            }
        };
        let lease = match (file.lease, file.provider) {
            (None, _) => None,
            (Some(l), ProviderKind::Aws) => Some(validate_lease(l, group.name(), tick)?),
            (Some(_), ProviderKind::Local) => {
                return Err(invalid(
                    "lease",
                    "a [lease] section is given but provider is \"local\" (one local controller needs none)",
                ));
            }
        };
        let metrics = MetricsConfig {
            publish: file
                .metrics
                .publish
                .unwrap_or(file.provider == ProviderKind::Aws),
            namespace: validate_namespace(file.metrics.namespace)?,
            per_instance: file.metrics.per_instance,
        };
        if policies.mode().aws_decides() {
            validate_native_mode(&group, &policies, &provider, &metrics)?;
        }
        Ok(Config {
            group,
            tick,
            policies,
            metrics,
            api: ApiConfig::try_from(&file.api)?,
            reports: ReportsConfig::try_from(&file.reports)?,
            history: HistoryConfig::try_from(&file.history)?,
            provider,
            lease,
        })
    }
}

impl TryFrom<PoliciesFile> for Policies {
    type Error = ConfigError;

    /// Both step policies checked, and how they relate (`Policies::new`).
    fn try_from(f: PoliciesFile) -> Result<Policies, ConfigError> {
        Policies::new(RawPolicies {
            mode: f.mode,
            scale_out: f.scale_out,
            scale_in: f.scale_in,
            lookahead: f.lookahead,
        })
        .map_err(|e| invalid(&e.path, &e.message))
    }
}

impl TryFrom<&file::ApiFile> for ApiConfig {
    type Error = ConfigError;

    fn try_from(f: &file::ApiFile) -> Result<ApiConfig, ConfigError> {
        let listen = f.listen.as_deref().unwrap_or(defaults::LISTEN);
        let api = ApiConfig {
            listen: listen.parse().map_err(|_| {
                invalid(
                    "api.listen",
                    format!("{listen:?} is not an address like \"127.0.0.1:9090\""),
                )
            })?,
            max_report_bytes: within(
                "api.max_report_bytes",
                f.max_report_bytes.unwrap_or(defaults::MAX_REPORT_BYTES),
                1_024,
                16 << 20,
            )?,
            header_timeout: match &f.header_timeout {
                Some(t) => duration("api.header_timeout", t)?,
                None => defaults::HEADER_TIMEOUT,
            },
            max_connections: within(
                "api.max_connections",
                f.max_connections.unwrap_or(defaults::MAX_CONNECTIONS),
                4,
                1_000_000,
            )?,
        };
        if api.header_timeout < Duration::from_millis(100)
            || api.header_timeout > Duration::from_secs(600)
        {
            return Err(invalid(
                "api.header_timeout",
                format!("{:?} is outside [100ms, 10m]", api.header_timeout),
            ));
        }
        Ok(api)
    }
}

impl TryFrom<&file::HistoryFile> for HistoryConfig {
    type Error = ConfigError;

    fn try_from(f: &file::HistoryFile) -> Result<HistoryConfig, ConfigError> {
        Ok(HistoryConfig {
            decisions: within(
                "history.decisions",
                f.decisions.unwrap_or(defaults::DECISIONS),
                1,
                100_000,
            )?,
            metrics: within(
                "history.metrics",
                f.metrics.unwrap_or(defaults::METRIC_POINTS),
                1,
                1_000_000,
            )?,
        })
    }
}

impl TryFrom<&file::GroupFile> for GroupConfig {
    type Error = ConfigError;

    /// `GroupConfig::new`'s checks (name, sizes, `desired_capacity` inside them).
    fn try_from(g: &file::GroupFile) -> Result<GroupConfig, ConfigError> {
        Ok(GroupConfig::new(
            &g.name,
            g.min_size,
            g.max_size,
            g.desired_capacity,
        )?)
    }
}

/// `[policies] mode = "native"` (or `"stack"`): an AWS group to carry the policies, published metrics for
/// the alarms to watch, and nothing AWS would refuse (`crate::native::validate_native`).
fn validate_native_mode(
    group: &GroupConfig,
    policies: &Policies,
    provider: &ProviderConfig,
    metrics: &MetricsConfig,
) -> Result<(), ConfigError> {
    if provider.kind() != ProviderKind::Aws {
        return Err(invalid(
            "policies.mode",
            format!(
                "{:?} needs provider = \"aws\": the policies and alarms live on an EC2 Auto Scaling group",
                policies.mode().as_str()
            ),
        ));
    }
    if !metrics.publish {
        return Err(invalid(
            "policies.mode",
            format!(
                "{:?} needs metrics.publish = true: the alarms watch the metrics the controller publishes",
                policies.mode().as_str()
            ),
        ));
    }
    crate::native::validate_native(group.name(), policies).map_err(|e| invalid(&e.path, &e.message))
}

fn validate_namespace(ns: Option<String>) -> Result<String, ConfigError> {
    let ns = ns.unwrap_or_else(|| defaults::NAMESPACE.into());
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#:".contains(c);
    if ns.is_empty() || ns.len() > 255 || !ns.chars().all(allowed) {
        return Err(invalid(
            "metrics.namespace",
            format!("{ns:?} must be 1 to 255 of A-Z a-z 0-9 . - _ / # :"),
        ));
    }
    if ns.starts_with("AWS/") {
        return Err(invalid(
            "metrics.namespace",
            format!("{ns:?}: the AWS/ prefix is reserved"),
        ));
    }
    Ok(ns)
}

impl TryFrom<&file::ReportsFile> for ReportsConfig {
    type Error = ConfigError;

    fn try_from(r: &file::ReportsFile) -> Result<ReportsConfig, ConfigError> {
        let interval = match &r.interval {
            Some(s) => duration("reports.interval", s)?,
            None => defaults::REPORT_INTERVAL,
        };
        if interval < Duration::from_millis(100) || interval > Duration::from_secs(600) {
            return Err(invalid(
                "reports.interval",
                format!("{interval:?} is outside [100ms, 10m]"),
            ));
        }
        let stale_after = match &r.stale_after {
            Some(s) => duration("reports.stale_after", s)?,
            None => interval * defaults::STALE_REPORT_INTERVALS,
        };
        if stale_after < interval {
            return Err(invalid(
                "reports.stale_after",
                format!(
                    "{stale_after:?} is shorter than reports.interval ({interval:?}): every report would be stale"
                ),
            ));
        }
        let (key_file, key_env, max_clock_skew) = report_key::validate(r)?;
        Ok(ReportsConfig {
            interval,
            stale_after,
            require_signature: r.require_signature.unwrap_or(defaults::REQUIRE_SIGNATURE),
            key_file,
            key_env,
            max_clock_skew,
            key: None,
        })
    }
}
