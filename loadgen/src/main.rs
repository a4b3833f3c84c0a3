//! `loadgen`: parse the command line, set up logging and signals, run, set the exit status.

use std::process::ExitCode;

use clap::Parser;
use loadgen::cli::Cli;
use loadgen::{Config, EXIT_ALL_FAILED, EXIT_SLO_FAILED};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = match Config::from_cli(cli.command) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(config)))
    {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(config: Config) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    // SIGTERM and SIGINT end the run cleanly, every report written. Once goose's load test
    // starts, its own Ctrl-C handler takes SIGINT over (a second one exits at once).
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            let name = tokio::select! {
                _ = sigterm.recv() => "SIGTERM",
                _ = sigint.recv() => "SIGINT",
            };
            tracing::warn!("{name} received, stopping");
            shutdown.cancel();
        }
    });
    let outcome = loadgen::run(config, shutdown).await?;
    let s = &outcome.summary;
    let p = |q: f64| chart::format::fixed(s.percentile(q), 1, "ms");
    println!(
        "total: requests={} rps={:.1} p50={} p95={} p99={} errors={} ({:.2}%)",
        s.requests,
        s.rps(),
        p(50.0),
        p(95.0),
        p(99.0),
        s.errors,
        s.error_rate_pct().unwrap_or(0.0)
    );
    let paths = &outcome.paths;
    println!(
        "reports: {} {} {} {} {}",
        paths.csv.display(),
        paths.svg.display(),
        paths.png.display(),
        paths.html.display(),
        paths.json.display()
    );
    for v in &outcome.verdicts {
        println!("slo: {v}");
    }
    // First: with every request failed, no verdict means anything (a latency SLO
    // "passes" on fast refusals, an error SLO fails on a target that is down).
    if s.all_failed() {
        eprintln!(
            "every one of the {} requests failed: the run measured nothing (is the target up, the token right?)",
            s.requests
        );
        Ok(ExitCode::from(EXIT_ALL_FAILED as u8))
    } else if !outcome.slo_met() {
        eprintln!("SLO not met");
        Ok(ExitCode::from(EXIT_SLO_FAILED as u8))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
