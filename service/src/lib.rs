//! `service`: the hellofleet API instance.
//!
//! Codemap:
//! - [`config`]: `Args` (clap flags + env) → validated `Config` (pure).
//! - [`app`](mod@app): `app(state) -> App` — routes wrapped in the observing service.
//! - [`server`]: HTTP/1 accept loop, header limit, graceful drain, the client's
//!   address (`server::proxy`: PROXY v2, pure) and bounded connection lives
//!   (`server::lifetime`, pure).
//! - [`state`]: `AppState` shared by handlers, the report and background tasks.
//! - [`users`]: concurrent-user tracking (pure, bounded).
//! - [`metrics`]: request counters, latency histogram, Prometheus text.
//! - [`report`]: pushes the `proto::LoadReport` to the controller.
//! - [`shipper`]: the log shipper — queue and on-disk spool, pure batching,
//!   record codec, ack bookkeeping and retry policy, the `LogSink` trait with
//!   `cloudwatch`, `file` and in-memory sinks.
//! - [`instance_id`]: flag, else IMDSv2, else generated.
//! - [`factorial`]: `/api/v1/factorial` (pure parsing and product; bounded blocking pool).
//! - [`books`]: `/books` on a shared SQLite or PostgreSQL database (pure rules in
//!   `books::model`, the one adapter in `books::store`, routes in `books::http`).
//! - [`json`]: JSON responses and the `{"error"}` body.
//!
//! Invariants: no request waits on the network; with a data dir, a `/repeat`
//! is answered only once its events are in the spool; every log event handed to the
//! shipper is counted exactly once as shipped, rejected, dropped or failed;
//! `run` returns only after in-flight requests finished and logs were flushed.

pub mod app;
pub mod books;
pub mod config;
pub mod error;
pub mod factorial;
pub mod http_client;
pub mod instance_id;
pub mod json;
pub mod metrics;
pub mod report;
pub mod server;
pub mod shipper;
pub mod state;
pub mod users;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use app::{App, app};
pub use config::{Args, Config, ConfigError, Overflow, SinkSpec};
pub use error::ServiceError;
pub use state::AppState;

use shipper::cloudwatch::CloudWatchSink;
use shipper::file::FileSink;
use shipper::retry::Backoff;
use shipper::{LogSink, Shipper, ShipperOptions};

/// The tokio runtime to serve on: the current-thread scheduler when this
/// process may use a single CPU (pinned with `taskset`, a 1-vCPU instance),
/// where work stealing only adds bookkeeping; otherwise one worker per CPU.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut builder = if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all().build()
}

/// Validates the flags, binds, handles SIGTERM/SIGINT, serves, drains, and
/// returns after the logs are flushed.
pub async fn serve(args: Args) -> Result<(), ServiceError> {
    let config = Config::from_args(args)?;
    let shutdown = CancellationToken::new();
    let signals = on_signal(shutdown.clone())?;
    let addr = format!("{}:{}", config.host, config.port);
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|source| ServiceError::Bind { addr, source })?;
    let result = run(config, listener, shutdown.clone()).await;
    signals.abort();
    result
}

/// Cancels `token` on the first SIGTERM or SIGINT.
fn on_signal(token: CancellationToken) -> Result<tokio::task::JoinHandle<()>, ServiceError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(ServiceError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServiceError::Signal)?;
    Ok(tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
            () = token.cancelled() => return,
        }
        token.cancel();
    }))
}

/// Serves on `listener` until `shutdown`, then drains (see [`server`]) and
/// flushes the logs. The sink comes from the configuration.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    let instance_id =
        instance_id::resolve(config.instance_id.as_deref(), config.imds_disabled).await;
    let sink: Arc<dyn LogSink> = match &config.sink {
        SinkSpec::File(path) => Arc::new(FileSink::open(path, &instance_id).map_err(|source| {
            ServiceError::LogFile {
                path: path.clone(),
                source,
            }
        })?),
        SinkSpec::CloudWatch => Arc::new(
            CloudWatchSink::from_env(&config.log_group, &instance_id, config.logs_timeouts).await,
        ),
    };
    run_with_sink(config, instance_id, listener, shutdown, sink).await
}

/// [`run`] with a given sink and instance id (tests pass the in-memory sink).
pub async fn run_with_sink(
    config: Config,
    instance_id: String,
    listener: TcpListener,
    shutdown: CancellationToken,
    sink: Arc<dyn LogSink>,
) -> Result<(), ServiceError> {
    tracing::info!(instance_id, sink = %sink.describe(), "starting");
    let report_key = config
        .report_key_file
        .as_deref()
        .map(report::load_key)
        .transpose()?;
    let (queue, input) = open_queue(&config)?;
    let finish = CancellationToken::new();
    let options = ShipperOptions {
        flush_interval: config.flush_interval,
        flush_timeout: config.flush_timeout,
        backoff: Backoff::default(),
    };
    let shipper = tokio::spawn(Shipper::new(input, sink, options).run(finish.clone()));
    let state = AppState::new(&config, instance_id, queue);
    let books = open_books(&config)?;

    let background = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(books) = books {
        state.set_books(books.clone());
        tasks.spawn(books::watch(
            books,
            std::time::Duration::from_secs(1),
            background.clone(),
        ));
    }
    tasks.spawn(prune_loop(state.clone(), background.clone()));
    if let Some(url) = config.report_url.clone() {
        tasks.spawn(report::push_loop(
            state.clone(),
            url,
            config.report_every,
            report_key,
            background.clone(),
        ));
    }

    // Only now, with every file read and every part built: a process that says
    // it listens does not exit on a bad token or key file a moment later.
    match listener.local_addr() {
        Ok(local) => tracing::info!("listening on {local}"),
        Err(e) => tracing::info!("listening (address unknown: {e})"),
    }
    server::serve(listener, app(state.clone()), &state, &config, shutdown).await;

    background.cancel();
    while tasks.join_next().await.is_some() {}
    tracing::info!("requests done; flushing logs");
    finish.cancel();
    if let Err(e) = shipper.await {
        tracing::error!(%e, "the log shipper panicked");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The books store of `--books-db` (connecting lazily: an unreachable
/// database is readiness off, not a failed start).
fn open_books(config: &Config) -> Result<Option<Arc<books::Books>>, ServiceError> {
    let Some(b) = &config.books else {
        return Ok(None);
    };
    let token = b.token_file.as_deref().map(books::load_token).transpose()?;
    if token.is_none() {
        tracing::warn!("no --books-token-file: every /books write is refused (401)");
    }
    let store = books::Books::open(&b.url, b.pool, b.timeout, token)?;
    Ok(Some(Arc::new(store)))
}

/// The spooled queue when there is a data dir (with what an earlier process
/// left unshipped handed over first), else the in-memory one.
fn open_queue(
    config: &Config,
) -> Result<(shipper::LogQueue, shipper::QueueReceiver), ServiceError> {
    let Some(spool) = &config.spool else {
        tracing::warn!(
            "no --data-dir: log events are held in memory only; a crash loses the unshipped"
        );
        return Ok(shipper::queue(config.queue_capacity, config.overflow));
    };
    let (spool, recovered) = shipper::spool::Spool::open(shipper::spool::SpoolOptions {
        dir: spool.dir.clone(),
        segment_bytes: spool.segment_bytes,
        max_bytes: spool.max_bytes,
    })?;
    let events: usize = recovered.records.iter().map(|r| r.1.len()).sum();
    tracing::info!(
        dir = %spool.dir().display(),
        acked = recovered.acked,
        unshipped_events = events,
        bad_bytes = recovered.bad_bytes,
        "log spool open"
    );
    Ok(shipper::queue_spooled(
        spool,
        recovered,
        config.overflow,
        config.queue_capacity,
    ))
}

/// Forgets expired users every half window, so memory follows the active set.
async fn prune_loop(state: AppState, stop: CancellationToken) {
    let every = (state.active_window() / 2).max(std::time::Duration::from_millis(50));
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => state.prune_users(),
        }
    }
}
