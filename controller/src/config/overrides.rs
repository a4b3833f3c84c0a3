//! CLI overrides, written into the file as given before validation (so errors still name
//! the config field, and the config is validated once): the common flags ([`Overrides`])
//! and `controller up`'s `[local]` ones ([`LocalOverrides`]).

use std::path::PathBuf;

use super::file::{AwsFile, ConfigFile, LocalFile, ProviderKind};
use super::local::Strategy;

/// Flags that override the config file.
#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct Overrides {
    /// Overrides `provider`.
    #[arg(long, value_enum)]
    pub provider: Option<ProviderKind>,
    /// Overrides `group.name`.
    #[arg(long = "group")]
    pub group_name: Option<String>,
    /// Overrides `group.min_size`.
    #[arg(long)]
    pub min_size: Option<u32>,
    /// Overrides `group.max_size`.
    #[arg(long)]
    pub max_size: Option<u32>,
    /// Overrides `group.desired_capacity`.
    #[arg(long)]
    pub desired_capacity: Option<u32>,
    /// Overrides `tick` (e.g. `2s`).
    #[arg(long)]
    pub tick: Option<String>,
    /// Overrides `api.listen` (e.g. `127.0.0.1:9090`).
    #[arg(long)]
    pub listen: Option<String>,
    /// Overrides `metrics.namespace`.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Overrides `metrics.publish` (`true` or `false`).
    #[arg(long)]
    pub publish: Option<bool>,
    /// Overrides `aws.region`.
    #[arg(long)]
    pub region: Option<String>,
    /// `controller up`'s flags for `[local]` (set by `up` from its own arguments; no flag
    /// of `run` or `simulate`).
    #[arg(skip)]
    pub local: LocalOverrides,
}

/// `controller up`'s overrides of `[local]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalOverrides {
    /// `--api-port`: `local.balancer` becomes `127.0.0.1:PORT`.
    pub api_port: Option<u16>,
    /// `--data-dir`: `local.data_dir`.
    pub data_dir: Option<PathBuf>,
    /// `--strategy`: `local.strategy`.
    pub strategy: Option<Strategy>,
}

impl LocalOverrides {
    fn is_empty(&self) -> bool {
        self == &LocalOverrides::default()
    }

    fn apply(&self, local: &mut LocalFile) {
        if let Some(port) = self.api_port {
            local.balancer = Some(std::net::SocketAddr::from(([127, 0, 0, 1], port)).to_string());
        }
        if let Some(dir) = &self.data_dir {
            local.data_dir = Some(dir.display().to_string());
        }
        if let Some(s) = self.strategy {
            local.strategy = Some(s);
        }
    }
}

impl Overrides {
    /// Writes every given flag into `file`.
    pub fn apply(&self, file: &mut ConfigFile) {
        if let Some(p) = self.provider {
            file.provider = p;
        }
        if let Some(v) = &self.group_name {
            file.group.name.clone_from(v);
        }
        if let Some(v) = self.min_size {
            file.group.min_size = v;
        }
        if let Some(v) = self.max_size {
            file.group.max_size = v;
        }
        if let Some(v) = self.desired_capacity {
            file.group.desired_capacity = Some(v);
        }
        if let Some(v) = &self.tick {
            file.tick.clone_from(v);
        }
        if let Some(v) = &self.listen {
            file.api.listen = Some(v.clone());
        }
        if let Some(v) = &self.namespace {
            file.metrics.namespace = Some(v.clone());
        }
        if let Some(v) = self.publish {
            file.metrics.publish = Some(v);
        }
        if let Some(v) = &self.region {
            file.aws.get_or_insert_with(AwsFile::default).region = Some(v.clone());
        }
        if self.provider == Some(ProviderKind::Aws) {
            file.local = None;
        }
        if self.provider == Some(ProviderKind::Local) {
            file.aws = None;
        }
        // Only where `[local]` applies: with provider "aws" the command refuses the config
        // anyway (`up` runs the local provider), and a `[local]` written here would make the
        // error about the section instead.
        if !self.local.is_empty() && file.provider == ProviderKind::Local {
            self.local
                .apply(file.local.get_or_insert_with(LocalFile::default));
        }
    }
}
