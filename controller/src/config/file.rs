//! The TOML file as given (stage one of two): serde types with defaults, unknown fields refused.
//! [`super::Config::validate`] turns it into the validated [`super::Config`].

use serde::Deserialize;

use crate::local::LocalSettings;
use crate::policy::Policies;

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
    /// Absent: [`Policies::local_default`].
    #[serde(default)]
    pub policies: Option<Policies>,
    #[serde(default)]
    pub metrics: MetricsFile,
    #[serde(default)]
    pub api: ApiFile,
    #[serde(default)]
    pub reports: ReportsFile,
    #[serde(default)]
    pub history: HistoryFile,
    #[serde(default)]
    pub local: Option<LocalSettings>,
    #[serde(default)]
    pub aws: Option<AwsFile>,
    #[serde(default)]
    pub lease: Option<LeaseFile>,
}

pub fn default_tick() -> String {
    "5s".into()
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
    "hellofleet".into()
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
