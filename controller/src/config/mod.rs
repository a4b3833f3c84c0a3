//! Configuration, parsed once: the TOML file as given ([`file::ConfigFile`], raw serde forms)
//! with the CLI's [`Overrides`] written into it (`up`'s flags included) → ONE validated
//! [`Config`] (pure; every error names the field). Each part is built from its raw form by
//! `TryFrom` (`Policies`, `GroupConfig`, [`LocalSettings`], [`AwsSettings`], …), every
//! default is in [`defaults`], and the provider's settings are one enum ([`ProviderConfig`]).
//!
//! The parts can only be built valid: [`Config`], [`GroupConfig`] (`fleetcore`'s, built by
//! `GroupConfig::new`), [`MetricsConfig`], [`ApiConfig`], [`ReportsConfig`],
//! [`HistoryConfig`], [`LocalSettings`], [`AwsSettings`] and [`LeaseSettings`] have private
//! fields (visible to this module's own files and tests only), read through accessors
//! (`config.tick()`, `config.group().max_size()`). Outside this module the only ways to a
//! `Config` are validation ([`Config::from_toml`], [`Config::load`], [`Config::validate`])
//! and [`Config::local_default`]; the only changes are the few methods of `change`, each
//! unable to break a check or checking it again with validation's own error.
//!
//! Nothing starts before [`Config::validate`] (or [`Config::load`]) has accepted the
//! configuration. See `controller/examples/local.toml` and `aws.toml` for every field.
//! Files: `file` (raw forms), `defaults`, `validate` (the `TryFrom`s of the whole and of the
//! common sections), `local` (`[local]`), `aws` (`[aws]`, `[lease]`), `overrides` (CLI
//! flags), `report_key` (`[reports]` signing), `change` (changes after validation), `watch`
//! (reload on change).

mod aws;
mod change;
pub mod defaults;
pub mod file;
mod local;
mod overrides;
mod report_key;
mod validate;
mod watch;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub use aws::{AwsSettings, LeaseSettings};
pub use file::{ConfigFile, PoliciesFile, ProviderKind};
pub use local::{LocalSettings, Strategy};
pub use overrides::{LocalOverrides, Overrides};
pub use watch::ConfigWatch;

use fleetcore::policy::Policies;

/// The largest config file read (a real one is a few KB).
const CONFIG_LIMIT: u64 = 1024 * 1024;

/// The validated configuration of the daemon (and of `up` and `simulate`). Private fields,
/// read through accessors; built only by validation ([`Config::validate`], [`Config::load`],
/// [`Config::from_toml`], [`Config::local_default`]); changed only by the few `with_*`
/// methods below, which either cannot break what validation checks or check it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    group: GroupConfig,
    tick: Duration,
    policies: Policies,
    metrics: MetricsConfig,
    api: ApiConfig,
    reports: ReportsConfig,
    history: HistoryConfig,
    provider: ProviderConfig,
    lease: Option<LeaseSettings>,
}

/// `[group]`, validated; the pure core's type (the tick core and the simulator read it),
/// valid by construction (`GroupConfig::new`).
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

/// `[metrics]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    publish: bool,
    namespace: String,
    per_instance: bool,
}

impl MetricsConfig {
    /// Publish to CloudWatch.
    pub fn publish(&self) -> bool {
        self.publish
    }

    /// A valid CloudWatch namespace (not `AWS/…`).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Also publish `ConcurrentUsers` per instance.
    pub fn per_instance(&self) -> bool {
        self.per_instance
    }
}

/// `[api]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    listen: SocketAddr,
    max_report_bytes: usize,
    header_timeout: Duration,
    max_connections: usize,
}

impl ApiConfig {
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// Larger `POST /api/reports` bodies are refused with 413.
    pub fn max_report_bytes(&self) -> usize {
        self.max_report_bytes
    }

    /// A connection that has not sent a whole request head within this (counted from its
    /// accept, or from the end of its previous response: the keep-alive idle time) is closed.
    pub fn header_timeout(&self) -> Duration {
        self.header_timeout
    }

    /// Open connections at most; one more is closed at once.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }
}

/// `[reports]`, validated, and the report key once read ([`Config::load_report_key`]) or
/// made ([`Config::with_report_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportsConfig {
    interval: Duration,
    stale_after: Duration,
    require_signature: bool,
    key_file: Option<std::path::PathBuf>,
    key_env: Option<String>,
    max_clock_skew: Duration,
    key: Option<proto::sign::ReportKey>,
}

impl ReportsConfig {
    /// How often instances push their load report.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Older reports are stale (never shorter than [`ReportsConfig::interval`]).
    pub fn stale_after(&self) -> Duration {
        self.stale_after
    }

    /// Unsigned reports are refused with 401 (signed ones are always checked).
    pub fn require_signature(&self) -> bool {
        self.require_signature
    }

    /// Where the shared key comes from (`controller up` makes one when neither is set).
    pub fn key_file(&self) -> Option<&Path> {
        self.key_file.as_deref()
    }

    /// The environment variable holding the shared key (never set with `key_file`).
    pub fn key_env(&self) -> Option<&str> {
        self.key_env.as_deref()
    }

    /// A signature's time must be within this of the controller's clock.
    pub fn max_clock_skew(&self) -> Duration {
        self.max_clock_skew
    }

    /// The key itself, once read or made; never in a file.
    pub fn key(&self) -> Option<&proto::sign::ReportKey> {
        self.key.as_ref()
    }
}

/// `[history]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    decisions: usize,
    metrics: usize,
}

impl HistoryConfig {
    /// Decisions kept for the API and the dashboard.
    pub fn decisions(&self) -> usize {
        self.decisions
    }

    /// Metric points kept (one per tick).
    pub fn metrics(&self) -> usize {
        self.metrics
    }
}

/// The provider and its settings (each built only by its own validation).
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

impl From<fleetcore::GroupError> for ConfigError {
    fn from(e: fleetcore::GroupError) -> Self {
        ConfigError::Invalid {
            field: e.field.into(),
            message: e.message,
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

    /// Reads `path` (a regular file of at most 1 MiB), applies `overrides`, validates.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
        let text = proto::file::read_small_to_string(path, CONFIG_LIMIT).map_err(|source| {
            ConfigError::Read {
                path: path.display().to_string(),
                source,
            }
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

    pub fn group(&self) -> &GroupConfig {
        &self.group
    }

    /// Within [100ms, 1h], and no longer than either alarm's period.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    pub fn metrics(&self) -> &MetricsConfig {
        &self.metrics
    }

    pub fn api(&self) -> &ApiConfig {
        &self.api
    }

    pub fn reports(&self) -> &ReportsConfig {
        &self.reports
    }

    pub fn history(&self) -> &HistoryConfig {
        &self.history
    }

    pub fn provider(&self) -> &ProviderConfig {
        &self.provider
    }

    /// `[lease]` (aws provider only): absent, this controller always leads.
    pub fn lease(&self) -> Option<&LeaseSettings> {
        self.lease.as_ref()
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
