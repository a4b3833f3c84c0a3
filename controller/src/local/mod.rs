//! The local provider and `controller up` (stub: see issue 8).

use tokio_util::sync::CancellationToken;

/// Settings of the local provider (`[local]` in the TOML config).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalSettings {
    /// Address of the local balancer (the NLB's role).
    pub balancer: String,
    /// Where instance logs (file sink) and state go.
    pub data_dir: String,
}

impl Default for LocalSettings {
    fn default() -> Self {
        Self {
            balancer: "127.0.0.1:8000".into(),
            data_dir: "data".into(),
        }
    }
}

/// `controller up`: the whole fleet on this machine.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Optional config file; without it, local defaults.
    #[arg(long, env = "HELLOFLEET_CONFIG")]
    pub config: Option<std::path::PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("not implemented yet")]
    NotImplemented,
}

pub async fn up(_args: UpArgs, _shutdown: CancellationToken) -> Result<(), LocalError> {
    Err(LocalError::NotImplemented)
}
