//! `controller run`: validate the config, then wire the AWS provider, the metrics sink, the
//! lease, the config watch and native mode to the daemon.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError, Overrides, ProviderConfig};

/// `controller run`: the daemon against the configured provider.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The TOML config (see controller/examples/).
    #[arg(long, env = "HELLOFLEET_CONFIG")]
    pub config: PathBuf,
    #[command(flatten)]
    pub overrides: Overrides,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("provider \"local\" runs with `controller up --config {0}`")]
    NotAws(String),
    #[error("cannot listen on {addr} (api.listen): {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Daemon(#[from] crate::daemon::DaemonError),
    #[error("starting the tokio runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Runs the daemon until `shutdown`.
pub async fn run(args: RunArgs, shutdown: CancellationToken) -> Result<(), RunError> {
    let config = Config::load(&args.config, &args.overrides)?.load_report_key()?;
    config.reports().check_key()?;
    let ProviderConfig::Aws(aws) = config.provider() else {
        return Err(RunError::NotAws(args.config.display().to_string()));
    };
    // Loading the SDK config may consult the instance metadata service (region,
    // credentials): it obeys shutdown like every other call.
    let sdk = tokio::select! {
        sdk = crate::aws::sdk_config(aws) => sdk,
        () = shutdown.cancelled() => return Ok(()),
    };
    let fleet = Arc::new(crate::aws::AwsFleet::new(&sdk, config.group().name()));
    let sink = crate::metrics::sink_for(&config, Some(&sdk)).await;
    let listener = tokio::net::TcpListener::bind(config.api().listen())
        .await
        .map_err(|source| RunError::Listen {
            addr: config.api().listen(),
            source,
        })?;
    let addr = listener.local_addr()?;
    eprintln!("controller: dashboard http://{addr}/  status http://{addr}/api/status");
    // `[lease]`: two controllers (a replacement overlapping its predecessor) never both
    // change the group; the one holding the DynamoDB lease does.
    let lease: Option<Arc<dyn crate::lease::LeaseStore>> = config
        .lease()
        .map(|l| Arc::new(crate::aws_lease::DynamoLease::new(&sdk, l.table(), l.key())) as _);
    // Reloads the file when it changes; reconciles the group's native policies and alarms
    // (none in controller mode: leftovers of a native run are deleted).
    let store = Arc::new(crate::native::aws::AwsPolicies::new(
        &sdk,
        config.group().name(),
    ));
    let extras = crate::daemon::Extras {
        watch: Some(crate::config::ConfigWatch::new(
            args.config.clone(),
            args.overrides.clone(),
        )),
        native: Some(crate::native::driver::NativeDriver::new(
            store,
            config.group().name(),
            config.metrics().namespace(),
        )),
        lease,
    };
    crate::daemon::run_with(config, fleet, sink, listener, shutdown, extras).await?;
    Ok(())
}
