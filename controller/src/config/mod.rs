//! Configuration, parsed once: the TOML file as given ([`file::ConfigFile`], raw serde forms)
//! with the CLI's [`Overrides`] written into it (`up`'s flags included) → ONE validated
//! [`Config`] (pure; every error names the field). Each part is built from its raw form by
//! `TryFrom` (`Policies`, `GroupConfig`, [`LocalSettings`], [`AwsSettings`], …), every
//! default is in [`defaults`], and the provider's settings are one enum ([`ProviderConfig`]).
//!
//! Nothing starts before [`Config::validate`] (or [`Config::load`]) has accepted the
//! configuration. See `controller/examples/local.toml` and `aws.toml` for every field.
//! Files: `file` (raw forms), `defaults`, `validate` (the `TryFrom`s of the whole and of the
//! common sections), `local` (`[local]`), `aws` (`[aws]`, `[lease]`), `overrides` (CLI
//! flags), `report_key` (`[reports]` signing), `watch` (reload on change).

mod aws;
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
