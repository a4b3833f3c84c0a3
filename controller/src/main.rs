//! `controller`: parses the CLI, sets up tracing, and hands over to the library.
//! A failure is printed once, as one line starting with the problem
//! (`error: group.max_size (2) is below group.min_size (5)`), exit status 1.

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
    /// The scaling policies as infrastructure code (`policies render --config FILE`).
    Policies(controller::native::render::PoliciesArgs),
    /// One API instance (started by `up`'s local group as a child of this binary).
    #[command(hide = true)]
    ServeInstance(Box<service::Args>),
}

fn main() -> std::process::ExitCode {
    match main_inner() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let causes: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", controller::errors::join_chain(causes));
            std::process::ExitCode::FAILURE
        }
    }
}

fn main_inner() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Simulate(args) => Ok(controller::simulate::run(args)?),
        Command::Policies(args) => {
            print!("{}", controller::native::render::run(&args)?);
            Ok(())
        }
        Command::ServeInstance(args) => {
            controller::local::exit_with_parent();
            Ok(service::runtime()
                .context("starting the tokio runtime")?
                .block_on(service::serve(*args))?)
        }
        Command::Run(args) => on_runtime(async {
            let shutdown = shutdown_on_signal();
            run(args, shutdown).await
        }),
        Command::Up(args) => on_runtime(async {
            let shutdown = shutdown_on_signal();
            Ok(controller::local::up(args, shutdown).await?)
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
    // Loading the SDK config may consult the instance metadata service (region,
    // credentials): it obeys shutdown like every other call.
    let sdk = tokio::select! {
        sdk = controller::aws::sdk_config(aws) => sdk,
        () = shutdown.cancelled() => return Ok(()),
    };
    let fleet = Arc::new(controller::aws::AwsFleet::new(&sdk, &config.group.name));
    let sink = controller::metrics::sink_for(&config, Some(&sdk)).await;
    let listener = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .with_context(|| format!("cannot listen on {} (api.listen)", config.api.listen))?;
    let addr = listener.local_addr()?;
    eprintln!("controller: dashboard http://{addr}/  status http://{addr}/api/status");
    // `[lease]`: two controllers (a replacement overlapping its predecessor) never both
    // change the group; the one holding the DynamoDB lease does.
    let lease: Option<Arc<dyn controller::lease::LeaseStore>> = config.lease.as_ref().map(|l| {
        Arc::new(controller::aws_lease::DynamoLease::new(
            &sdk, &l.table, &l.key,
        )) as _
    });
    // Reloads the file when it changes; reconciles the group's native policies and alarms
    // (none in controller mode: leftovers of a native run are deleted).
    let store = Arc::new(controller::native::aws::AwsPolicies::new(
        &sdk,
        &config.group.name,
    ));
    let extras = controller::daemon::Extras {
        watch: Some(controller::config::ConfigWatch::new(
            args.config.clone(),
            args.overrides.clone(),
        )),
        native: Some(controller::native::driver::NativeDriver::new(
            store,
            &config.group.name,
            &config.metrics.namespace,
        )),
        lease,
    };
    controller::daemon::run_with(config, fleet, sink, listener, shutdown, extras).await?;
    Ok(())
}

/// Runs `main` on a fresh runtime, then gives its leftovers (e.g. a DNS lookup still
/// blocking a thread) at most half a second: exit never waits on a hung call.
fn on_runtime(main: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    let rt = runtime()?;
    let result = rt.block_on(main);
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    result
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
