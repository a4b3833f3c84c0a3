//! The TOML file as given (stage one of two): the raw serde forms, unknown fields refused,
//! an absent field `None` (its default is in [`super::defaults`], applied by validation).
//! [`super::Config::validate`] (`TryFrom` for each part) turns it into the validated
//! [`super::Config`]; CLI overrides ([`super::Overrides`]) are written into it before.

use serde::Deserialize;

use super::defaults;
use super::local::Strategy;
use fleetcore::policy::{Lookahead, PolicyMode, RawStepPolicy};

/// Which backend plays the Auto Scaling group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Service processes on this machine behind a local L4 balancer.
    #[default]
    Local,
    /// An EC2 Auto Scaling group.
    Aws,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Local => "local",
            ProviderKind::Aws => "aws",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub provider: ProviderKind,
    /// A humantime duration, e.g. `"5s"`.
    #[serde(default = "default_tick")]
    pub tick: String,
    pub group: GroupFile,
    /// Absent: [`defaults::policies`].
    #[serde(default)]
    pub policies: Option<PoliciesFile>,
    #[serde(default)]
    pub metrics: MetricsFile,
    #[serde(default)]
    pub api: ApiFile,
    #[serde(default)]
    pub reports: ReportsFile,
    #[serde(default)]
    pub history: HistoryFile,
    #[serde(default)]
    pub local: Option<LocalFile>,
    #[serde(default)]
    pub aws: Option<AwsFile>,
    #[serde(default)]
    pub lease: Option<LeaseFile>,
}

pub fn default_tick() -> String {
    defaults::TICK.into()
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFile {
    #[serde(default = "default_group_name")]
    pub name: String,
    pub min_size: u32,
    pub max_size: u32,
    /// Set at start-up; absent: the group's current desired capacity is kept.
    #[serde(default)]
    pub desired_capacity: Option<u32>,
}

pub fn default_group_name() -> String {
    defaults::GROUP_NAME.into()
}

/// `[policies]` as given: the two step policies (the core's raw form) and the optional
/// lookahead. `Policies::try_from` checks them as a whole (AWS's rules and the engine's
/// own, in the core's `Policies::new`, the only way to a `Policies`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoliciesFile {
    /// Absent: `controller`.
    #[serde(default)]
    pub mode: PolicyMode,
    pub scale_out: RawStepPolicy,
    pub scale_in: RawStepPolicy,
    /// `[policies.lookahead]`: off when absent.
    #[serde(default)]
    pub lookahead: Option<Lookahead>,
}

/// `[local]` as given: durations are humantime strings (`"500ms"`, `"3s"`); absent fields
/// take [`defaults`]' `LOCAL_*` values.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalFile {
    /// Address of the local balancer (the NLB's role).
    #[serde(default)]
    pub balancer: Option<String>,
    /// Where instance logs (file sink) and state go.
    #[serde(default)]
    pub data_dir: Option<String>,
    /// `least_flows` or `round_robin`.
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// Simulated availability zones.
    #[serde(default)]
    pub zones: Option<Vec<String>>,
    /// Period of the `/healthz` checks.
    #[serde(default)]
    pub health_check_interval: Option<String>,
    /// Consecutive failed checks that make an instance unhealthy.
    #[serde(default)]
    pub unhealthy_threshold: Option<u32>,
    /// Longest wait for a deregistered instance's connections to end before SIGTERM.
    #[serde(default)]
    pub deregistration_delay: Option<String>,
    /// An instance not ready within this is replaced.
    #[serde(default)]
    pub boot_timeout: Option<String>,
    /// Longest wait for an instance to exit after SIGTERM before SIGKILL.
    #[serde(default)]
    pub stop_timeout: Option<String>,
    /// PROXY protocol v2 headers from the balancer to the instances.
    #[serde(default)]
    pub proxy_protocol: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// Publish to CloudWatch. Absent: on with the `aws` provider, off with `local`.
    #[serde(default)]
    pub publish: Option<bool>,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Also publish `ConcurrentUsers` per instance (`InstanceId` dimension).
    #[serde(default)]
    pub per_instance: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFile {
    #[serde(default)]
    pub listen: Option<String>,
    #[serde(default)]
    pub max_report_bytes: Option<usize>,
    /// Head-read and keep-alive idle timeout (humantime).
    #[serde(default)]
    pub header_timeout: Option<String>,
    #[serde(default)]
    pub max_connections: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsFile {
    /// How often instances push their load report (humantime).
    #[serde(default)]
    pub interval: Option<String>,
    /// Older reports are stale (humantime). Absent: three intervals.
    #[serde(default)]
    pub stale_after: Option<String>,
    /// Refuse unsigned reports (401). Absent: true.
    #[serde(default)]
    pub require_signature: Option<bool>,
    /// File holding the shared report key (the text, trimmed; at least 32 bytes).
    #[serde(default)]
    pub key_file: Option<String>,
    /// Name of an environment variable holding the shared report key.
    #[serde(default)]
    pub key_env: Option<String>,
    /// Signature times further than this from the controller's clock are stale (humantime).
    #[serde(default)]
    pub max_clock_skew: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryFile {
    #[serde(default)]
    pub decisions: Option<usize>,
    #[serde(default)]
    pub metrics: Option<usize>,
}

/// `[aws]`. There is deliberately no endpoint field: the SDK reads `AWS_ENDPOINT_URL`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsFile {
    #[serde(default)]
    pub region: Option<String>,
    /// Connection set-up bound (humantime). Default 2s.
    #[serde(default)]
    pub connect_timeout: Option<String>,
    /// One attempt's bound, response included (humantime). Default 4s.
    #[serde(default)]
    pub attempt_timeout: Option<String>,
    /// A whole operation's bound, retries included (humantime). Default 10s.
    #[serde(default)]
    pub operation_timeout: Option<String>,
    /// Attempts per operation with the SDK's standard retry. Default 3.
    #[serde(default)]
    pub max_attempts: Option<u32>,
}

/// `[lease]` (aws provider only): the DynamoDB lease two controllers share.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseFile {
    /// The DynamoDB table (partition key `lease`, a string). Required.
    #[serde(default)]
    pub table: Option<String>,
    /// The item's key. Default: the group's name.
    #[serde(default)]
    pub key: Option<String>,
    /// How long a claim lasts (humantime). Default: six ticks; at least three.
    #[serde(default)]
    pub ttl: Option<String>,
    /// This controller's holder id. Default: host name, pid and a random suffix.
    #[serde(default)]
    pub holder: Option<String>,
}
