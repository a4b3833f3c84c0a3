//! Configuration in two stages: [`Args`] as given on the command line or in the
//! environment (clap), then [`Config`], validated by the pure [`Config::from_args`]
//! whose errors name the flag. Nothing here does I/O.

use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;

/// Every flag of the service, each with an environment variable where it makes sense.
/// `main.rs` wraps it in a `Parser`; the controller flattens it into `serve-instance`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// TCP port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// Instance id (also the log stream name); default: EC2 metadata (IMDSv2), else generated.
    #[arg(long, env = "INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// Do not ask the EC2 instance metadata service for the instance id.
    #[arg(long = "no-imds", env = "AWS_EC2_METADATA_DISABLED", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub imds_disabled: bool,
    /// Where log events go: `file:PATH` (JSON lines) or `cloudwatch`.
    #[arg(long, env = "LOG_SINK", default_value = "file:hellofleet-events.jsonl")]
    pub log_sink: String,
    /// CloudWatch Logs group (the stream is the instance id).
    #[arg(long, env = "LOG_GROUP", default_value = "HelloWorldAPI")]
    pub log_group: String,
    /// A user counts as concurrent while it made a request within this window.
    #[arg(long, env = "ACTIVE_WINDOW", default_value = "10s", value_parser = humantime::parse_duration)]
    pub active_window: Duration,
    /// Most users tracked at once; beyond it the least recently pruned are evicted (counted).
    #[arg(long, env = "MAX_USERS", default_value_t = 200_000)]
    pub max_users: usize,
    /// After SIGTERM, readiness is 503 for this long before the listener stops accepting.
    #[arg(long, env = "DRAIN_DELAY", default_value = "1s", value_parser = humantime::parse_duration)]
    pub drain_delay: Duration,
    /// Longest wait for in-flight requests once the listener is closed.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    /// A request head still incomplete after this long closes the connection
    /// (slowloris guard; also closes keep-alive connections idle this long).
    /// Checked coarsely: it fires within a quarter of itself after the deadline.
    #[arg(long, env = "HEADER_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub header_timeout: Duration,
    /// A request taking longer is answered 408.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Largest request header section in bytes; above it the answer is 431.
    #[arg(long, env = "MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,
    /// Log events the shipper holds at most (queued plus being sent).
    #[arg(long, env = "QUEUE_CAPACITY", default_value_t = 65_536)]
    pub queue_capacity: usize,
    /// When the queue is full: `block` (backpressure, lose nothing) or `drop` (counted).
    #[arg(long, env = "OVERFLOW", value_enum, default_value_t = Overflow::Block)]
    pub overflow: Overflow,
    /// Longest time an event waits before its batch is sent.
    #[arg(long, env = "FLUSH_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub flush_interval: Duration,
    /// On shutdown, how long the shipper keeps retrying before counting the rest as failed.
    #[arg(long, env = "FLUSH_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub flush_timeout: Duration,
    /// CloudWatch Logs calls: longest time to establish a connection.
    #[arg(long, env = "LOGS_CONNECT_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub logs_connect_timeout: Duration,
    /// CloudWatch Logs calls: longest time for one attempt, response included.
    #[arg(long, env = "LOGS_ATTEMPT_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub logs_attempt_timeout: Duration,
    /// CloudWatch Logs calls: longest time for a whole call (the shipper retries on its own).
    #[arg(long, env = "LOGS_OPERATION_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub logs_operation_timeout: Duration,
    /// Controller base URL (`http://HOST:PORT`) to push the load report to.
    #[arg(long, env = "REPORT_TO")]
    pub report_to: Option<String>,
    /// How often the load report is pushed.
    #[arg(long, env = "REPORT_EVERY", default_value = "1s", value_parser = humantime::parse_duration)]
    pub report_every: Duration,
    /// File holding the key shared with the controller (text, trimmed, ≥ 32 bytes; keep it
    /// 0600): every pushed report is signed with it. Required with --report-to unless
    /// --report-unsigned. A file, not a flag value, so `ps` never shows the key.
    #[arg(long, env = "REPORT_KEY_FILE")]
    pub report_key_file: Option<PathBuf>,
    /// Push unsigned reports (only a controller with `reports.require_signature = false`
    /// takes them).
    #[arg(long, env = "REPORT_UNSIGNED")]
    pub report_unsigned: bool,

    // Client connections: who the client is, and how long a connection lives.
    /// Connections from `--proxy-from` must start with a PROXY protocol v2 header
    /// (within the header timeout) naming the client's address; others are served
    /// under their own address.
    #[arg(long, env = "PROXY_PROTOCOL", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub proxy_protocol: bool,
    /// The peers trusted to send PROXY v2 headers: comma-separated `ADDR[/PREFIX]`.
    #[arg(long, env = "PROXY_FROM", default_value = crate::server::proxy::Trusted::DEFAULT)]
    pub proxy_from: String,
    /// After this age (jittered per connection), a connection's next response
    /// carries `Connection: close`, so clients reconnect and load moves; 0s: unlimited.
    #[arg(long, env = "MAX_CONNECTION_AGE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub max_connection_age: Duration,
    /// Each connection's age is the max age × (1 ± this), uniformly (0 to 0.5).
    #[arg(long, env = "MAX_CONNECTION_AGE_JITTER", default_value_t = 0.2)]
    pub max_connection_age_jitter: f64,
    /// The response to a connection's Nth request carries `Connection: close`; 0: unlimited.
    #[arg(long, env = "MAX_CONNECTION_REQUESTS", default_value_t = 1000)]
    pub max_connection_requests: u64,
    // --- The log spool (keep these together) ---
    /// The instance's data directory. Given, each `/repeat`'s events are
    /// appended to a spool in `DIR/spool/` before the response and shipped
    /// from there, also by the next process after a crash. Not given, they
    /// are held in memory only (`--queue-capacity`): a crash loses the unshipped.
    #[arg(long, env = "DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Most bytes the spool holds on disk (about 60 bytes per `/repeat`); when
    /// full, `--overflow` applies. Unshipped events are also held in memory,
    /// bounded by `--queue-capacity` events as without a spool.
    #[arg(long, env = "SPOOL_MAX_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub spool_max_bytes: u64,
    /// A spool segment file is closed and a new one started past this size;
    /// a segment is deleted once all of it is shipped.
    #[arg(long, env = "SPOOL_SEGMENT_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub spool_segment_bytes: u64,

    // --- The factorial API and the books store ---
    /// `GET /api/v1/factorial`: the largest `number` answered (above it: 400).
    #[arg(long, env = "FACTORIAL_MAX", default_value_t = crate::factorial::DEFAULT_MAX)]
    pub factorial_max: u64,
    /// Large factorials computed at once (off the async workers, on tokio's blocking
    /// pool); one more is 503 with Retry-After. 10,000! takes about 2.4 ms of CPU.
    #[arg(long, env = "FACTORIAL_CONCURRENCY", default_value_t = 8)]
    pub factorial_concurrency: usize,
    /// The books database every instance shares: `sqlite://PATH` (WAL; never
    /// created unless the URL ends `?mode=rwc`: `controller up` creates it) or `postgres://USER:PASSWORD@HOST/DB` (the environment, not the
    /// command line, for a URL with a password). Not given: `/books` answers 503.
    #[arg(long, env = "BOOKS_DB")]
    pub books_db: Option<String>,
    /// File holding the bearer token `/books` writes need (≥ 16 bytes, trimmed; keep
    /// it 0600). Not given: every write is 401.
    #[arg(long, env = "BOOKS_TOKEN_FILE")]
    pub books_token_file: Option<PathBuf>,
    /// Database connections this instance holds at most.
    #[arg(long, env = "BOOKS_POOL", default_value_t = 5)]
    pub books_pool: u32,
    /// Longest wait for one database call (a connection included); then 503.
    #[arg(long, env = "BOOKS_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub books_timeout: Duration,
}

/// The validated books settings (`Debug` hides the URL: it may hold a password).
#[derive(Clone, PartialEq, Eq)]
pub struct BooksConfig {
    pub url: String,
    pub token_file: Option<PathBuf>,
    pub pool: u32,
    pub timeout: Duration,
}

impl std::fmt::Debug for BooksConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.url.split(':').next().unwrap_or_default();
        f.debug_struct("BooksConfig")
            .field("url", &format_args!("{scheme}:…"))
            .field("token_file", &self.token_file)
            .field("pool", &self.pool)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn parse_books(args: &Args) -> Result<Option<BooksConfig>, ConfigError> {
    if !(1..=100).contains(&args.books_pool) {
        return Err(bad("books-pool", "must be within 1..=100"));
    }
    let timeout = within(
        "books-timeout",
        args.books_timeout,
        Duration::from_millis(50),
        Duration::from_secs(60),
    )?;
    let Some(url) = &args.books_db else {
        return Ok(None);
    };
    if crate::books::store::Backend::of(url).is_none() {
        return Err(bad(
            "books-db",
            "must be sqlite://PATH or postgres://USER:PASSWORD@HOST/DB",
        ));
    }
    Ok(Some(BooksConfig {
        url: url.clone(),
        token_file: args.books_token_file.clone(),
        pool: args.books_pool,
        timeout,
    }))
}

/// The validated spool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// `DATA_DIR/spool`.
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub segment_bytes: u64,
}

fn parse_spool(args: &Args) -> Result<Option<SpoolConfig>, ConfigError> {
    let Some(data_dir) = &args.data_dir else {
        return Ok(None);
    };
    if data_dir.as_os_str().is_empty() {
        return Err(bad("data-dir", "must not be empty"));
    }
    if !(64 * 1024..=1 << 30).contains(&args.spool_segment_bytes) {
        return Err(bad(
            "spool-segment-bytes",
            "must be within 65536..=1073741824",
        ));
    }
    if args.spool_max_bytes < 2 * args.spool_segment_bytes {
        return Err(bad(
            "spool-max-bytes",
            format!(
                "must be at least twice --spool-segment-bytes ({})",
                args.spool_segment_bytes
            ),
        ));
    }
    Ok(Some(SpoolConfig {
        dir: data_dir.join("spool"),
        max_bytes: args.spool_max_bytes,
        segment_bytes: args.spool_segment_bytes,
    }))
}

/// What happens when the log queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Overflow {
    /// The request waits for room (backpressure); no event is lost.
    Block,
    /// The event is dropped and counted in `dropped`.
    Drop,
}

/// Where log events are shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// JSON lines appended to a file.
    File(PathBuf),
    /// CloudWatch Logs, configured from the standard AWS environment.
    CloudWatch,
}

/// Bounds of every CloudWatch Logs call (`--logs-*-timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkTimeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub instance_id: Option<String>,
    pub imds_disabled: bool,
    pub sink: SinkSpec,
    pub log_group: String,
    pub active_window: Duration,
    pub max_users: usize,
    pub drain_delay: Duration,
    pub shutdown_timeout: Duration,
    pub request_timeout: Duration,
    pub header_timeout: Duration,
    pub max_header_bytes: usize,
    pub queue_capacity: usize,
    pub overflow: Overflow,
    pub flush_interval: Duration,
    pub flush_timeout: Duration,
    /// Full URL the report is POSTed to (`{report_to}{REPORT_INGEST_PATH}`).
    pub report_url: Option<hyper::Uri>,
    pub report_every: Duration,
    pub logs_timeouts: SdkTimeouts,
    /// The report key's file (read at start; the service does not start without it).
    pub report_key_file: Option<PathBuf>,
    /// `Some` with `--proxy-protocol`: the peers that must send a PROXY v2 header.
    pub proxy_from: Option<crate::server::proxy::Trusted>,
    pub conn_limits: crate::server::lifetime::ConnLimits,
    /// The log spool; `None`: events are held in memory only.
    pub spool: Option<SpoolConfig>,
    pub factorial_max: u64,
    pub factorial_concurrency: usize,
    /// `None`: no `--books-db`.
    pub books: Option<BooksConfig>,
}

/// A flag with a value the service cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--{flag}: {reason}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub reason: String,
}

fn bad(flag: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        flag,
        reason: reason.into(),
    }
}

/// Most events one request enqueues; the queue must hold at least this many.
pub const EVENTS_PER_REQUEST: usize = 20;

fn within(
    flag: &'static str,
    value: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    if value < min || value > max {
        return Err(bad(
            flag,
            format!(
                "{} is outside {}..={}",
                humantime::format_duration(value),
                humantime::format_duration(min),
                humantime::format_duration(max)
            ),
        ));
    }
    Ok(value)
}

/// A CloudWatch log stream name: 1–512 characters, no `:` or `*`.
pub fn check_instance_id(id: &str) -> Result<(), ConfigError> {
    if id.is_empty() || id.len() > 128 {
        return Err(bad("instance-id", "must be 1 to 128 bytes long"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| *c == ':' || *c == '*' || c.is_control() || c.is_whitespace())
    {
        return Err(bad("instance-id", format!("{id:?} contains {c:?}")));
    }
    Ok(())
}

fn parse_sink(value: &str) -> Result<SinkSpec, ConfigError> {
    if value == "cloudwatch" {
        return Ok(SinkSpec::CloudWatch);
    }
    match value.strip_prefix("file:") {
        Some("") => Err(bad(
            "log-sink",
            "file: needs a path, e.g. file:events.jsonl",
        )),
        Some(path) => Ok(SinkSpec::File(PathBuf::from(path))),
        None => Err(bad(
            "log-sink",
            format!("{value:?} is neither `file:PATH` nor `cloudwatch`"),
        )),
    }
}

fn parse_log_group(value: &str) -> Result<String, ConfigError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-/#".contains(c);
    if value.is_empty() || value.len() > 512 || !value.chars().all(ok_char) {
        return Err(bad(
            "log-group",
            format!("{value:?} must be 1 to 512 characters of [A-Za-z0-9._-/#]"),
        ));
    }
    Ok(value.to_owned())
}

fn parse_report_to(value: &str) -> Result<hyper::Uri, ConfigError> {
    let base = value.trim_end_matches('/');
    let uri: hyper::Uri = format!("{base}{}", proto::REPORT_INGEST_PATH)
        .parse()
        .map_err(|e| bad("report-to", format!("{value:?} is not a URL: {e}")))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err(bad(
            "report-to",
            format!("{value:?} must look like http://HOST:PORT"),
        ));
    }
    Ok(uri)
}

type ConnectionFlags = (
    Option<crate::server::proxy::Trusted>,
    crate::server::lifetime::ConnLimits,
);

/// `--proxy-*` and `--max-connection-*`.
fn connection_flags(args: &Args) -> Result<ConnectionFlags, ConfigError> {
    let trusted = crate::server::proxy::Trusted::parse(&args.proxy_from)
        .map_err(|e| bad("proxy-from", format!("{:?}: {e}", args.proxy_from)))?;
    let age = args.max_connection_age;
    if !age.is_zero() {
        within(
            "max-connection-age",
            age,
            Duration::from_millis(100),
            Duration::from_secs(24 * 3600),
        )?;
    }
    let jitter = args.max_connection_age_jitter;
    if !(0.0..=0.5).contains(&jitter) {
        return Err(bad(
            "max-connection-age-jitter",
            format!("{jitter} is outside 0..=0.5"),
        ));
    }
    let limits = crate::server::lifetime::ConnLimits {
        max_age: (!age.is_zero()).then_some(age),
        jitter,
        max_requests: args.max_connection_requests,
    };
    Ok((args.proxy_protocol.then_some(trusted), limits))
}

impl Config {
    /// Validates the flags; the error names the first flag that is wrong.
    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        const MS: Duration = Duration::from_millis(1);
        const HOUR: Duration = Duration::from_secs(3600);
        if args.host.is_empty() || args.host.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(bad(
                "host",
                format!("{:?} is not an address or host name", args.host),
            ));
        }
        if let Some(id) = &args.instance_id {
            check_instance_id(id)?;
        }
        if !(100..=10_000_000).contains(&args.max_users) {
            return Err(bad("max-users", "must be within 100..=10000000"));
        }
        if !(8 * 1024..=1024 * 1024).contains(&args.max_header_bytes) {
            return Err(bad("max-header-bytes", "must be within 8192..=1048576"));
        }
        if !(EVENTS_PER_REQUEST * 5..=10_000_000).contains(&args.queue_capacity) {
            return Err(bad(
                "queue-capacity",
                format!("must be within {}..=10000000", EVENTS_PER_REQUEST * 5),
            ));
        }
        let connect = within(
            "logs-connect-timeout",
            args.logs_connect_timeout,
            50 * MS,
            300 * 1000 * MS,
        )?;
        let attempt = within(
            "logs-attempt-timeout",
            args.logs_attempt_timeout,
            connect,
            HOUR,
        )
        .map_err(|_| {
            bad(
                "logs-attempt-timeout",
                "must be within --logs-connect-timeout..=1h",
            )
        })?;
        let operation = within(
            "logs-operation-timeout",
            args.logs_operation_timeout,
            attempt,
            HOUR,
        )
        .map_err(|_| {
            bad(
                "logs-operation-timeout",
                "must be within --logs-attempt-timeout..=1h",
            )
        })?;
        match (&args.report_to, &args.report_key_file, args.report_unsigned) {
            (_, Some(_), true) => {
                return Err(bad(
                    "report-unsigned",
                    "--report-key-file is given: reports are signed",
                ));
            }
            (Some(_), None, false) => {
                return Err(bad(
                    "report-key-file",
                    "--report-to needs the key shared with the controller to sign the reports \
                     (or --report-unsigned, for a controller that does not require signatures)",
                ));
            }
            _ => {}
        }
        let (proxy_from, conn_limits) = connection_flags(&args)?;
        let spool = parse_spool(&args)?;
        if !(1..=1_000_000).contains(&args.factorial_max) {
            return Err(bad("factorial-max", "must be within 1..=1000000"));
        }
        if !(1..=256).contains(&args.factorial_concurrency) {
            return Err(bad("factorial-concurrency", "must be within 1..=256"));
        }
        Ok(Config {
            books: parse_books(&args)?,
            factorial_max: args.factorial_max,
            factorial_concurrency: args.factorial_concurrency,
            spool,
            logs_timeouts: SdkTimeouts {
                connect,
                attempt,
                operation,
            },
            report_key_file: args.report_key_file,
            proxy_from,
            conn_limits,
            sink: parse_sink(&args.log_sink)?,
            log_group: parse_log_group(&args.log_group)?,
            active_window: within("active-window", args.active_window, 100 * MS, HOUR)?,
            drain_delay: within(
                "drain-delay",
                args.drain_delay,
                Duration::ZERO,
                300 * 1000 * MS,
            )?,
            shutdown_timeout: within("shutdown-timeout", args.shutdown_timeout, MS, HOUR)?,
            request_timeout: within("request-timeout", args.request_timeout, MS, HOUR)?,
            header_timeout: within("header-timeout", args.header_timeout, 100 * MS, HOUR)?,
            flush_interval: within("flush-interval", args.flush_interval, 10 * MS, HOUR)?,
            flush_timeout: within("flush-timeout", args.flush_timeout, Duration::ZERO, HOUR)?,
            report_every: within("report-every", args.report_every, 50 * MS, HOUR)?,
            report_url: args.report_to.as_deref().map(parse_report_to).transpose()?,
            host: args.host,
            port: args.port,
            instance_id: args.instance_id,
            imds_disabled: args.imds_disabled,
            max_users: args.max_users,
            max_header_bytes: args.max_header_bytes,
            queue_capacity: args.queue_capacity,
            overflow: args.overflow,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(flags: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["service"];
        argv.extend_from_slice(flags);
        Config::from_args(Cli::try_parse_from(argv).expect("clap accepts").args)
    }

    fn check_err(flags: &[&str], flag: &str) {
        let err = parse(flags).expect_err("should be refused");
        assert_eq!(err.flag, flag, "{flags:?} → {err}");
    }

    #[test]
    fn defaults_are_valid() {
        let c = parse(&["--no-imds"]).unwrap();
        assert_eq!(c.active_window, Duration::from_secs(10));
        assert_eq!(c.drain_delay, Duration::from_secs(1));
        assert_eq!(c.flush_interval, Duration::from_secs(1));
        assert_eq!(c.log_group, "HelloWorldAPI");
        assert_eq!(c.overflow, Overflow::Block);
        assert!(c.imds_disabled);
        assert!(c.report_url.is_none());
    }

    #[test]
    fn sinks() {
        assert_eq!(
            parse(&["--log-sink", "cloudwatch"]).unwrap().sink,
            SinkSpec::CloudWatch
        );
        assert_eq!(
            parse(&["--log-sink", "file:/tmp/x.jsonl"]).unwrap().sink,
            SinkSpec::File("/tmp/x.jsonl".into())
        );
        check_err(&["--log-sink", "file:"], "log-sink");
        check_err(&["--log-sink", "s3"], "log-sink");
    }

    #[test]
    fn bad_values_name_their_flag() {
        check_err(&["--log-group", "has space"], "log-group");
        check_err(&["--instance-id", "a:b"], "instance-id");
        check_err(&["--instance-id", ""], "instance-id");
        check_err(&["--active-window", "1ms"], "active-window");
        check_err(&["--queue-capacity", "10"], "queue-capacity");
        check_err(&["--max-header-bytes", "100"], "max-header-bytes");
        check_err(
            &["--report-to", "https://x:1", "--report-unsigned"],
            "report-to",
        );
        check_err(
            &["--report-to", "not a url", "--report-unsigned"],
            "report-to",
        );
        check_err(&["--report-to", "http://127.0.0.1:9"], "report-key-file");
        check_err(
            &["--report-key-file", "/k", "--report-unsigned"],
            "report-unsigned",
        );
        check_err(&["--host", "a b"], "host");
        check_err(&["--host", ""], "host");
        check_err(&["--flush-interval", "0s"], "flush-interval");
        check_err(&["--proxy-from", "10.0.0.0/40"], "proxy-from");
        check_err(&["--proxy-from", ""], "proxy-from");
        check_err(&["--max-connection-age", "1ms"], "max-connection-age");
        check_err(
            &["--max-connection-age-jitter", "0.7"],
            "max-connection-age-jitter",
        );
        check_err(
            &["--max-connection-age-jitter=-0.1"],
            "max-connection-age-jitter",
        );
        check_err(
            &["--data-dir", "d", "--spool-segment-bytes", "10"],
            "spool-segment-bytes",
        );
        check_err(
            &["--data-dir", "d", "--spool-max-bytes", "3000000"],
            "spool-max-bytes",
        );
        check_err(&["--factorial-max", "0"], "factorial-max");
        check_err(&["--factorial-concurrency", "0"], "factorial-concurrency");
        check_err(&["--books-db", "mysql://h/db"], "books-db");
        check_err(&["--books-pool", "0"], "books-pool");
        check_err(&["--books-timeout", "1ms"], "books-timeout");
    }

    #[test]
    fn books_and_factorial_flags() {
        let c = parse(&[]).unwrap();
        assert_eq!((c.factorial_max, c.factorial_concurrency), (10_000, 8));
        assert_eq!(c.books, None);
        let b = parse(&[
            "--books-db",
            "sqlite:///d/books.sqlite",
            "--books-pool",
            "3",
        ])
        .unwrap()
        .books
        .unwrap();
        assert_eq!((b.pool, b.timeout), (3, Duration::from_secs(2)));
        assert_eq!(b.token_file, None);
        // The URL may carry a password: Debug never shows it.
        let b = parse(&["--books-db", "postgres://books:s3cr3t@db:5432/books"])
            .unwrap()
            .books
            .unwrap();
        let shown = format!("{b:?}");
        assert!(
            !shown.contains("s3cr3t") && shown.contains("postgres:…"),
            "{shown}"
        );
    }

    #[test]
    fn connection_flags() {
        let c = parse(&[]).unwrap();
        assert!(c.proxy_from.is_none(), "PROXY v2 is off unless asked for");
        assert_eq!(c.conn_limits.max_age, Some(Duration::from_secs(30)));
        assert_eq!(c.conn_limits.max_requests, 1000);
        assert!((c.conn_limits.jitter - 0.2).abs() < 1e-9);
        let c = parse(&[
            "--proxy-protocol",
            "--max-connection-age",
            "0s",
            "--max-connection-requests",
            "0",
        ])
        .unwrap();
        let trusted = c.proxy_from.expect("on");
        assert!(trusted.allows("127.0.0.1".parse().unwrap()));
        assert!(!trusted.allows("10.0.0.1".parse().unwrap()));
        assert_eq!(c.conn_limits.max_age, None);
        assert_eq!(c.conn_limits.max_requests, 0);
        let c = parse(&["--proxy-protocol", "--proxy-from", "10.0.0.0/8"]).unwrap();
        assert!(c.proxy_from.unwrap().allows("10.9.9.9".parse().unwrap()));
    }

    #[test]
    fn the_spool_lives_under_the_data_dir_and_is_off_without_one() {
        assert_eq!(parse(&[]).unwrap().spool, None);
        let s = parse(&["--data-dir", "/var/lib/hf"])
            .unwrap()
            .spool
            .unwrap();
        assert_eq!(s.dir, PathBuf::from("/var/lib/hf/spool"));
        assert_eq!((s.max_bytes, s.segment_bytes), (32 << 20, 2 << 20));
    }

    #[test]
    fn report_url_gets_the_ingest_path() {
        let c = parse(&[
            "--report-to",
            "http://127.0.0.1:9000/",
            "--report-key-file",
            "/run/hellofleet/report.key",
            "--overflow",
            "drop",
        ])
        .unwrap();
        assert_eq!(
            c.report_url.unwrap().to_string(),
            format!("http://127.0.0.1:9000{}", proto::REPORT_INGEST_PATH)
        );
        assert_eq!(c.overflow, Overflow::Drop);
    }

    #[test]
    fn cloudwatch_logs_calls_are_bounded_and_the_bounds_nest() {
        let c = parse(&[]).unwrap();
        assert_eq!(
            c.logs_timeouts,
            SdkTimeouts {
                connect: Duration::from_secs(2),
                attempt: Duration::from_secs(10),
                operation: Duration::from_secs(15),
            }
        );
        let c = parse(&[
            "--logs-connect-timeout",
            "200ms",
            "--logs-attempt-timeout",
            "500ms",
            "--logs-operation-timeout",
            "800ms",
        ])
        .unwrap();
        assert_eq!(c.logs_timeouts.operation, Duration::from_millis(800));
        check_err(&["--logs-connect-timeout", "1ms"], "logs-connect-timeout");
        check_err(&["--logs-attempt-timeout", "1s"], "logs-attempt-timeout");
        check_err(
            &["--logs-operation-timeout", "5s"],
            "logs-operation-timeout",
        );
    }
}
