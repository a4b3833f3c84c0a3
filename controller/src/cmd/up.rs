//! `controller up`: the whole fleet on this machine.
//!
//! Order of start: config validated → data dir → both ports bound (a port in use
//! is an error naming the flag that changes it) → balancer → group at its
//! minimum → the daemon (ticks, JSON API, dashboard) → URLs printed.
//! Order of stop (Ctrl-C or SIGTERM): daemon → instances drained and reaped →
//! balancer; SIGHUP (the terminal closed) stops it the same way. SIGUSR1
//! restarts the daemon alone (its state is rebuilt from the
//! group and fresh load reports), as a restarted controller would on AWS,
//! where the group and the NLB do not stop with it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::config::{
    Config, ConfigError, LocalOverrides, LocalSettings, Overrides, ProviderConfig, Strategy,
    defaults,
};
use crate::local::balancer::{Balancer, BalancerHandle, BalancerOptions};
use crate::local::group::{GroupOptions, LocalGroup};
use crate::provider::Fleet;

/// `controller up`: the whole fleet on this machine.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Optional config file; without it, local defaults (min 1, max 10, tick 5 s).
    #[arg(long, env = "HELLOFLEET_CONFIG")]
    pub config: Option<PathBuf>,
    /// Port of the fleet's API (the local balancer) on 127.0.0.1; overrides `local.balancer`.
    #[arg(long)]
    pub api_port: Option<u16>,
    /// Overrides `local.data_dir` (instance logs).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Overrides `local.strategy`.
    #[arg(long, value_enum)]
    pub strategy: Option<Strategy>,
    #[command(flatten)]
    pub overrides: Overrides,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("`controller up` runs the local provider; use `controller run` for provider \"aws\"")]
    NotLocal,
    #[error("cannot create the data dir {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the books database {path}: {source}")]
    BooksDb {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "port {port} ({what}) is already in use: stop what uses it, or choose another port with {flag}"
    )]
    PortInUse {
        port: u16,
        what: &'static str,
        flag: &'static str,
    },
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        addr: SocketAddr,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("cannot find this program's path to start instances: {0}")]
    CurrentExe(std::io::Error),
    #[error("the controller daemon failed: {0}")]
    Daemon(String),
    #[error(transparent)]
    ReportKey(#[from] crate::local::key::KeyFileError),
    #[error("starting the tokio runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Stage one and two of the configuration, once: the file (or the built-in defaults) with
/// every flag written in, validated; nothing has started yet.
pub fn load_config(args: &UpArgs) -> Result<(Config, LocalSettings), LocalError> {
    let overrides = Overrides {
        local: LocalOverrides {
            api_port: args.api_port,
            data_dir: args.data_dir.clone(),
            strategy: args.strategy,
        },
        ..args.overrides.clone()
    };
    let config = match &args.config {
        Some(path) => Config::load(path, &overrides)?,
        None => Config::from_toml(defaults::LOCAL_TOML, "the built-in defaults", &overrides)?,
    };
    let ProviderConfig::Local(settings) = config.provider() else {
        return Err(LocalError::NotLocal);
    };
    let settings = settings.clone();
    Ok((config, settings))
}

async fn bind(
    addr: SocketAddr,
    what: &'static str,
    flag: &'static str,
) -> Result<TcpListener, LocalError> {
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            LocalError::PortInUse {
                port: addr.port(),
                what,
                flag,
            }
        } else {
            LocalError::Bind { addr, what, source }
        }
    })
}

/// `http://` URL of a listening address, with a wildcard host shown as loopback.
fn url(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://127.0.0.1:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

pub async fn up(args: UpArgs, shutdown: CancellationToken) -> Result<(), LocalError> {
    let (mut config, local) = load_config(&args)?;
    std::fs::create_dir_all(local.data_dir()).map_err(|source| LocalError::DataDir {
        path: local.data_dir().display().to_string(),
        source,
    })?;
    let report_key_file;
    (config, report_key_file) = crate::local::key::prepare(config, local.data_dir())?;
    let (books_token_file, books_token) = crate::local::key::books_token(local.data_dir())?;
    // Absolute: the URL must not depend on the instances' working directory.
    let books_db = std::fs::canonicalize(local.data_dir())
        .unwrap_or_else(|_| local.data_dir().to_path_buf())
        .join(BOOKS_DB_FILE_NAME);
    create_books_db(&books_db)?;
    let program = std::env::current_exe().map_err(LocalError::CurrentExe)?;
    raise_open_files_limit();
    let balancer_listener = bind(
        local.balancer(),
        "the fleet's API, local.balancer",
        "--api-port",
    )
    .await?;
    let api_listener = bind(
        config.api().listen(),
        "the controller's API and dashboard, api.listen",
        "--listen",
    )
    .await?;
    let balancer_addr = balancer_listener
        .local_addr()
        .map_err(|source| LocalError::Bind {
            addr: local.balancer(),
            what: "the fleet's API",
            source,
        })?;
    let api_addr = api_listener
        .local_addr()
        .map_err(|source| LocalError::Bind {
            addr: config.api().listen(),
            what: "the controller's API",
            source,
        })?;

    let handle = BalancerHandle::new();
    let balancer_options = BalancerOptions {
        strategy: local.strategy(),
        proxy_protocol: local.proxy_protocol(),
        ..BalancerOptions::default()
    };
    let balancer = Balancer::from_listener(balancer_listener, handle.clone(), balancer_options);
    let balancer_stop = CancellationToken::new();
    let balancer_task = tokio::spawn(balancer.run(balancer_stop.clone()));

    // Instances push their load report as often as the controller expects it.
    let program_args = vec![
        "serve-instance".into(),
        "--report-every".into(),
        humantime::format_duration(config.reports().interval()).to_string(),
        "--max-connection-requests".into(),
        LOCAL_MAX_CONNECTION_REQUESTS.to_string(),
        // Every instance on the one SQLite file (WAL) of the run; the token by file.
        "--books-db".into(),
        format!("sqlite://{}", books_db.display()),
        "--books-token-file".into(),
        books_token_file.display().to_string(),
    ];
    let mut group_options =
        GroupOptions::from_config(program, program_args, config.group(), &local);
    group_options.report_to = Some(url(api_addr));
    group_options.report_key_file = Some(report_key_file);
    group_options.endpoint = Some(url(balancer_addr));
    let group_stop = CancellationToken::new();
    let group = LocalGroup::start(group_options, handle, group_stop.clone());

    print_urls(balancer_addr, api_addr, &local, &books_token);
    let result = supervise(&config, &group, api_listener, api_addr, &shutdown).await;

    tracing::info!("stopping: draining and stopping every instance");
    group_stop.cancel();
    group.stopped().await;
    balancer_stop.cancel();
    let _ = balancer_task.await;
    tracing::info!("stopped: no instance left running");
    result
}

/// Responses per client connection on the local fleet's instances (the
/// service's default is 1,000). A client sharing one keep-alive pool among
/// all its users (loadgen) holds only a few connections at a few hundred
/// requests/s; at 1,000 requests each lives many seconds on one instance and
/// the fleet's load is lumpy for as long (issue 12's ramp: max/mean 2.5 with
/// instances at 0 req/s). At 100 they moved about once a second (max/mean
/// 1.2–1.3), at 50 twice; at these rates the extra connects cost nothing; at
/// tens of thousands of requests/s they would (`bench/service_conn.sh`), which
/// is why the service keeps 1,000.
const LOCAL_MAX_CONNECTION_REQUESTS: u64 = 50;

/// The books database of a local run, in its data dir: one SQLite file
/// (WAL mode) that `up` creates and every instance opens.
const BOOKS_DB_FILE_NAME: &str = "books.sqlite";

/// Creates the run's books database file once, here, if it is not there yet
/// (empty: SQLite takes a zero-length file for an empty database, and the first
/// instance's migrations fill it). The instances never create it (issue 17): a
/// file moved or deleted under the running fleet is then an instance not ready,
/// naming the path, rather than a second, empty database.
fn create_books_db(path: &std::path::Path) -> Result<(), LocalError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(|source| LocalError::BooksDb {
            path: path.display().to_string(),
            source,
        })
}

/// Every flow through the balancer holds two descriptors here and one in an
/// instance: lift the soft limit (often 1,024) to the hard one, for this process
/// and the instances it starts, so a few thousand users do not exhaust it.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => tracing::debug!(from = soft, to = hard, "raised the open files limit"),
            Err(e) => tracing::warn!(soft, error = %e, "cannot raise the open files limit"),
        },
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read the open files limit"),
    }
}

fn print_urls(balancer: SocketAddr, api: SocketAddr, local: &LocalSettings, books_token: &str) {
    let api = url(api);
    let fleet = url(balancer);
    println!("hellofleet is up (local provider):");
    println!("  fleet API (local balancer)  {fleet}/hello");
    println!("  factorial                   {fleet}/api/v1/factorial?number=20");
    println!(
        "  books (SQLite {})  {fleet}/books",
        local.data_dir().join(BOOKS_DB_FILE_NAME).display()
    );
    println!("  books write token           Authorization: Bearer {books_token}");
    println!("  dashboard                   {api}/");
    println!("  JSON API                    {api}/api/status");
    println!(
        "  instance logs               {}",
        local.data_dir().join("logs").display()
    );
    println!("Ctrl-C stops everything it started.");
}

fn outcome(
    r: Result<Result<(), crate::daemon::DaemonError>, tokio::task::JoinError>,
) -> Result<(), LocalError> {
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(LocalError::Daemon(e.to_string())),
        Err(e) => Err(LocalError::Daemon(e.to_string())),
    }
}

/// The old server may hold the port for a moment after its shutdown.
async fn rebind(addr: SocketAddr) -> Result<TcpListener, LocalError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match bind(
            addr,
            "the controller's API and dashboard, api.listen",
            "--listen",
        )
        .await
        {
            Err(LocalError::PortInUse { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// Runs the controller daemon against the group until shutdown or SIGHUP; restarts it on
/// SIGUSR1.
async fn supervise(
    config: &Config,
    group: &LocalGroup,
    mut listener: TcpListener,
    api_addr: SocketAddr,
    shutdown: &CancellationToken,
) -> Result<(), LocalError> {
    let fleet: Arc<dyn Fleet> = Arc::new(group.clone());
    let sink = crate::metrics::sink_for(config, None).await;
    let install = |kind: SignalKind, name: &str| {
        signal(kind)
            .map_err(|e| LocalError::Daemon(format!("cannot install the {name} handler: {e}")))
    };
    let mut hangup = install(SignalKind::hangup(), "SIGHUP")?;
    let mut usr1 = install(SignalKind::user_defined1(), "SIGUSR1")?;
    let mut config = config.clone();
    loop {
        let stop = shutdown.child_token();
        let mut run = tokio::spawn(crate::daemon::run(
            config.clone(),
            Arc::clone(&fleet),
            Arc::clone(&sink),
            listener,
            stop.clone(),
        ));
        let restart = tokio::select! {
            r = &mut run => return outcome(r),
            () = shutdown.cancelled() => false,
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: stopping");
                false
            }
            _ = usr1.recv() => true,
        };
        stop.cancel();
        let ended = outcome(run.await);
        if !restart {
            return ended;
        }
        ended?;
        // A restarted controller keeps the group's capacity: no start-up desired capacity.
        config = config.without_desired_capacity();
        listener = rebind(api_addr).await?;
        tracing::warn!(
            "SIGUSR1: the controller daemon restarted (its state is rebuilt; the group and the balancer kept running)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        up: UpArgs,
    }

    fn args(argv: &[&str]) -> UpArgs {
        Cli::try_parse_from(std::iter::once("up").chain(argv.iter().copied()))
            .unwrap()
            .up
    }

    #[test]
    fn no_file_means_the_local_defaults() {
        let (config, local) = load_config(&args(&[])).unwrap();
        assert_eq!(config, Config::local_default());
        assert_eq!(local, LocalSettings::default());
    }

    #[test]
    fn flags_override_ports_and_dirs() {
        let (config, local) = load_config(&args(&[
            "--api-port",
            "18000",
            "--listen",
            "127.0.0.1:19090",
            "--data-dir",
            "/tmp/x",
        ]))
        .unwrap();
        assert_eq!(local.balancer(), "127.0.0.1:18000".parse().unwrap());
        assert_eq!(config.api().listen(), "127.0.0.1:19090".parse().unwrap());
        assert_eq!(local.data_dir(), PathBuf::from("/tmp/x"));
    }

    #[test]
    fn aws_is_refused() {
        let err = load_config(&args(&["--provider", "aws"])).unwrap_err();
        assert!(matches!(err, LocalError::NotLocal), "{err}");
    }

    #[tokio::test]
    async fn a_port_in_use_names_the_flag() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = bind(addr, "the fleet's API", "--api-port")
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&addr.port().to_string()) && msg.contains("--api-port"),
            "{msg}"
        );
    }
}
