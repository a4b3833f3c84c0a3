//! `controller`: parses the CLI, sets up tracing, and hands over to the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "controller", version, about = "hellofleet's control plane")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole fleet on this machine: instances, balancer, controller, dashboard.
    Up(controller::local::UpArgs),
    /// Run the controller daemon against the configured provider (an EC2 Auto Scaling group).
    Run(controller::config::RunArgs),
    /// Replay a users trace through the step policies and report what they would do.
    Simulate(controller::simulate::SimulateArgs),
    /// One API instance (started by `up`'s local group as a child of this binary).
    #[command(hide = true)]
    ServeInstance(service::Args),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Simulate(args) => controller::simulate::run(args).context("simulate"),
        Command::ServeInstance(args) => {
            controller::local::exit_with_parent();
            service::runtime()
                .context("starting the tokio runtime")?
                .block_on(service::serve(args))
                .context("serve-instance")
        }
        Command::Run(args) => runtime()?.block_on(async {
            let shutdown = shutdown_on_signal();
            run(args, shutdown).await.context("run")
        }),
        Command::Up(args) => runtime()?.block_on(async {
            let shutdown = shutdown_on_signal();
            controller::local::up(args, shutdown).await.context("up")
        }),
    }
}

/// `controller run`: validate the config, then wire the AWS provider and sink to the daemon.
async fn run(args: controller::config::RunArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    use controller::config::{Config, ProviderConfig};
    use std::sync::Arc;

    let mut config = Config::load(&args.config, &args.overrides)?;
    config.reports.load_key()?;
    config.reports.check_key()?;
    let ProviderConfig::Aws(aws) = &config.provider else {
        anyhow::bail!(
            "provider \"local\" runs with `controller up --config {}`",
            args.config.display()
        );
    };
    let sdk = controller::aws::sdk_config(aws.region.as_deref()).await;
    let fleet = Arc::new(controller::aws::AwsFleet::new(&sdk, &config.group.name));
    let sink = controller::metrics::sink_for(&config, &sdk).await;
    let listener = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .with_context(|| format!("cannot listen on {} (api.listen)", config.api.listen))?;
    let addr = listener.local_addr()?;
    eprintln!("controller: dashboard http://{addr}/  status http://{addr}/api/status");
    controller::daemon::run(config, fleet, sink, listener, shutdown).await?;
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

/// A token cancelled on the first SIGINT or SIGTERM.
fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install the SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutdown signal received");
        t.cancel();
    });
    token
}
