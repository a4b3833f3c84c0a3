//! Configuration, parsed once: the TOML file as given ([`file::ConfigFile`], raw serde forms)
//! with the CLI's [`Overrides`] written into it (`up`'s flags included) → ONE validated
//! [`Config`] (pure; every error names the field). Each part is built from its raw form by
//! `TryFrom` (`Policies`, `GroupConfig`, [`LocalSettings`], [`AwsSettings`], …), every
//! default is in [`defaults`], and the provider's settings are one enum ([`ProviderConfig`]).
//!
//! Nothing starts before [`Config::validate`] (or [`Config::load`]) has accepted the
//! configuration. See `controller/examples/local.toml` and `aws.toml` for every field.
//! Files: `file` (raw forms), `defaults`, `local` (`[local]`), `aws` (`[aws]`, `[lease]`),
//! `overrides` (CLI flags), `report_key` (`[reports]` signing), `watch` (reload on change).

mod aws;
pub mod defaults;
pub mod file;
mod local;
mod overrides;
mod report_key;
mod watch;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use aws::validate_lease;
pub use aws::{AwsSettings, LeaseSettings};
pub use file::{ConfigFile, PoliciesFile, ProviderKind};
pub use local::{LocalSettings, Strategy};
pub use overrides::{LocalOverrides, Overrides};
pub use watch::ConfigWatch;

use crate::policy::Policies;

/// The validated configuration of the daemon (and of `up` and `simulate`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub group: GroupConfig,
    pub tick: Duration,
    pub policies: Policies,
    pub metrics: MetricsConfig,
    pub api: ApiConfig,
    pub reports: ReportsConfig,
    pub history: HistoryConfig,
    pub provider: ProviderConfig,
    /// `[lease]` (aws provider only): absent, this controller always leads.
    pub lease: Option<LeaseSettings>,
}

/// `[group]`, validated; the pure core's type (the tick core and the simulator read it).
pub use fleetcore::GroupConfig;

impl From<&Config> for fleetcore::CoreConfig {
    /// The parts of the configuration the pure core reads.
    fn from(c: &Config) -> Self {
        fleetcore::CoreConfig {
            group: c.group.clone(),
            tick: c.tick,
            policies: c.policies.clone(),
            stale_after: c.reports.stale_after,
            per_instance_metrics: c.metrics.per_instance,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Publish to CloudWatch.
    pub publish: bool,
    pub namespace: String,
    pub per_instance: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// Larger `POST /api/reports` bodies are refused with 413.
    pub max_report_bytes: usize,
    /// A connection that has not sent a whole request head within this (counted from its
    /// accept, or from the end of its previous response: the keep-alive idle time) is closed.
    pub header_timeout: Duration,
    /// Open connections at most; one more is closed at once.
    pub max_connections: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportsConfig {
    pub interval: Duration,
    pub stale_after: Duration,
    /// Unsigned reports are refused with 401 (signed ones are always checked).
    pub require_signature: bool,
    /// Where the shared key comes from (`controller up` makes one when neither is set).
    pub key_file: Option<std::path::PathBuf>,
    pub key_env: Option<String>,
    /// A signature's time must be within this of the controller's clock.
    pub max_clock_skew: Duration,
    /// The key itself, once read ([`ReportsConfig::load_key`]) or made; never in a file.
    pub key: Option<proto::sign::ReportKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    /// Decisions kept for the API and the dashboard.
    pub decisions: usize,
    /// Metric points kept (one per tick).
    pub metrics: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderConfig {
    Local(LocalSettings),
    Aws(AwsSettings),
}

impl ProviderConfig {
    pub fn kind(&self) -> ProviderKind {
        match self {
            ProviderConfig::Local(_) => ProviderKind::Local,
            ProviderConfig::Aws(_) => ProviderKind::Aws,
        }
    }

    /// The `[aws]` settings; the defaults with the local provider (which needs AWS only
    /// to publish metrics, when `metrics.publish` is on).
    pub fn aws(&self) -> AwsSettings {
        match self {
            ProviderConfig::Aws(a) => a.clone(),
            ProviderConfig::Local(_) => AwsSettings::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid config: {message}")]
    Parse { path: String, message: String },
    #[error("{message}")]
    Invalid { field: String, message: String },
}

impl ConfigError {
    /// The offending field's dotted path, for validation errors.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

fn invalid(field: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: format!("{field}: {message}"),
    }
}

impl Config {
    /// What `controller up` runs without a file: one to ten local instances
    /// ([`defaults::LOCAL_TOML`], every other field at its default).
    pub fn local_default() -> Config {
        Config::from_toml(
            defaults::LOCAL_TOML,
            "the built-in defaults",
            &Overrides::default(),
        )
        .expect("the built-in defaults are valid")
    }

    /// Reads `path`, applies `overrides`, validates.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string(), overrides)
    }

    /// Parses TOML text (`origin` names it in errors), applies `overrides`, validates.
    pub fn from_toml(
        text: &str,
        origin: &str,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.into(),
            message: e.to_string(),
        })?;
        overrides.apply(&mut file);
        Self::validate(file)
    }

    /// Stage two: the file as given → the validated config (`Config::try_from`).
    pub fn validate(file: ConfigFile) -> Result<Config, ConfigError> {
        Config::try_from(file)
    }
}

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
            ("scale_out", &policies.scale_out),
            ("scale_in", &policies.scale_in),
        ] {
            let period = Duration::from_millis(p.alarm.period_ms());
            if period < tick {
                return Err(invalid(
                    &format!("policies.{name}.alarm.period_secs"),
                    format!(
                        "{} is shorter than the tick ({}): most periods would have no datapoint",
                        p.alarm.period_secs, file.tick
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
            (Some(l), ProviderKind::Aws) => Some(validate_lease(l, &group.name, tick)?),
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
        if policies.mode.aws_decides() {
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

    /// Both step policies checked, and how they relate (`Policies::validate`).
    fn try_from(f: PoliciesFile) -> Result<Policies, ConfigError> {
        let policies = Policies {
            mode: f.mode,
            scale_out: f.scale_out,
            scale_in: f.scale_in,
            lookahead: f.lookahead,
        };
        policies
            .validate()
            .map_err(|e| invalid(&e.path, &e.message))?;
        Ok(policies)
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

    fn try_from(g: &file::GroupFile) -> Result<GroupConfig, ConfigError> {
        let name = g.name.trim();
        if name.is_empty() || name.len() > 255 {
            return Err(invalid(
                "group.name",
                format!("{:?} must be 1 to 255 characters", g.name),
            ));
        }
        if g.max_size == 0 {
            return Err(invalid("group.max_size", "must be at least 1"));
        }
        let most = defaults::MAX_GROUP_SIZE;
        if g.max_size > most {
            return Err(invalid(
                "group.max_size",
                format!("{} is above {most}", g.max_size),
            ));
        }
        if g.max_size < g.min_size {
            return Err(ConfigError::Invalid {
                field: "group.max_size".into(),
                message: format!(
                    "group.max_size ({}) is below group.min_size ({})",
                    g.max_size, g.min_size
                ),
            });
        }
        if let Some(d) = g
            .desired_capacity
            .filter(|d| !(g.min_size..=g.max_size).contains(d))
        {
            return Err(invalid(
                "group.desired_capacity",
                format!(
                    "{d} is outside [group.min_size, group.max_size] = [{}, {}]",
                    g.min_size, g.max_size
                ),
            ));
        }
        Ok(GroupConfig {
            name: name.into(),
            min_size: g.min_size,
            max_size: g.max_size,
            desired_capacity: g.desired_capacity,
        })
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
                policies.mode.as_str()
            ),
        ));
    }
    if !metrics.publish {
        return Err(invalid(
            "policies.mode",
            format!(
                "{:?} needs metrics.publish = true: the alarms watch the metrics the controller publishes",
                policies.mode.as_str()
            ),
        ));
    }
    crate::native::validate_native(&group.name, policies).map_err(|e| invalid(&e.path, &e.message))
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
            require_signature: r.require_signature.unwrap_or(true),
            key_file,
            key_env,
            max_clock_skew,
            key: None,
        })
    }
}

fn duration(field: &str, text: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(text).map_err(|e| {
        invalid(
            field,
            format!("{text:?} is not a duration like \"5s\" or \"500ms\" ({e})"),
        )
    })
}

fn within(field: &str, v: usize, lo: usize, hi: usize) -> Result<usize, ConfigError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(field, format!("{v} is outside [{lo}, {hi}]")))
    }
}

#[cfg(test)]
mod tests;
