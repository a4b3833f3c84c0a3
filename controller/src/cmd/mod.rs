//! The commands, side by side: `main.rs` parses the CLI and calls one of them.
//!
//! - `run`: `controller run`, the daemon against the configured AWS group.
//! - `up`: `controller up`, the whole fleet on this machine (instances, balancer, daemon).
//! - `simulate`: `controller simulate`, a users trace through the tick core (the engine is
//!   `fleetcore::simulate`; this command reads the files, writes the outputs and the charts).
//! - `policies`: `controller policies render`, the policies as CloudFormation.
//!
//! Also here: the tokio runtime the async commands run on ([`on_runtime`]) and the
//! shutdown token cancelled by SIGINT / SIGTERM ([`shutdown_on_signal`]).

pub mod policies;
pub mod run;
pub mod simulate;
pub mod up;

use tokio_util::sync::CancellationToken;

/// Runs `main` on a fresh runtime, then gives its leftovers (e.g. a DNS lookup still
/// blocking a thread) at most half a second: exit never waits on a hung call.
pub fn on_runtime<T, E: From<std::io::Error>>(
    main: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let rt = runtime()?;
    let result = rt.block_on(main);
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    result
}

/// A multi-threaded tokio runtime with every driver on.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// A token cancelled on the first SIGINT or SIGTERM.
pub fn shutdown_on_signal() -> CancellationToken {
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
