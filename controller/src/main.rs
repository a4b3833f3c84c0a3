//! `controller`: parses the CLI, sets up tracing, and hands over to one of the commands
//! (`controller::cmd`). A failure is printed once, as one line starting with the problem
//! (`error: group.max_size (2) is below group.min_size (5)`), exit status 1.

use anyhow::Context;
use clap::{Parser, Subcommand};
use controller::cmd;

#[derive(Parser)]
#[command(name = "controller", version, about = "hellofleet's control plane")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole fleet on this machine: instances, balancer, controller, dashboard.
    Up(cmd::up::UpArgs),
    /// Run the controller daemon against the configured provider (an EC2 Auto Scaling group).
    Run(cmd::run::RunArgs),
    /// Replay a users trace through the step policies and report what they would do.
    Simulate(cmd::simulate::SimulateArgs),
    /// The scaling policies as infrastructure code (`policies render --config FILE`).
    Policies(cmd::policies::PoliciesArgs),
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
        Command::Simulate(args) => Ok(cmd::simulate::run(args)?),
        Command::Policies(args) => {
            print!("{}", cmd::policies::run(&args)?);
            Ok(())
        }
        Command::ServeInstance(args) => {
            controller::local::exit_with_parent();
            Ok(service::runtime()
                .context("starting the tokio runtime")?
                .block_on(service::serve(*args))?)
        }
        Command::Run(args) => Ok(cmd::on_runtime(async {
            cmd::run::run(args, cmd::shutdown_on_signal()).await
        })?),
        Command::Up(args) => Ok(cmd::on_runtime(async {
            cmd::up::up(args, cmd::shutdown_on_signal()).await
        })?),
    }
}
