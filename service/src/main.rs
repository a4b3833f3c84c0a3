//! `service`: parses the flags, sets up tracing (stderr), runs until SIGTERM.

use anyhow::Context;
use clap::Parser;

#[derive(Parser)]
#[command(name = "service", version, about = "The hellofleet API instance")]
struct Cli {
    #[command(flatten)]
    args: service::Args,
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
    service::runtime()
        .context("starting the tokio runtime")?
        .block_on(service::serve(cli.args))
        .context("service")
}
