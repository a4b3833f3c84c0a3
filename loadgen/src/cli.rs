//! The command line as given (clap). [`crate::config::Config::from_cli`] validates it.
//!
//! Flags that goose also has keep goose's meaning and short letter (`-H/--host`,
//! `-u/--users`, `--timeout`); goose's own parser is not exposed.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::mix::Mix;
use crate::slo::Slo;

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    version,
    about = "goose-based load generator for hellofleet: ramp, steady and spike profiles",
    after_help = "Exit status: 0 done (SLO met), 1 error, 2 bad arguments, 3 SLO not met, 4 every request failed (whatever the SLO)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ever-increasing users: START, then STEP more every interval, until stopped
    /// (or --max-users / --duration); at most 100,000 users, each built when it is due
    Ramp(RampArgs),
    /// A constant number of users
    Steady(SteadyArgs),
    /// BASE users, a jump to SPIKE users for a while, then back to BASE
    Spike(SpikeArgs),
}

#[derive(Debug, Args)]
pub struct RampArgs {
    /// Users at the start
    #[arg(long, value_name = "N")]
    pub start_users: u64,
    /// Users added at each step
    #[arg(long, value_name = "N")]
    pub step_users: u64,
    /// Time between steps, whole seconds (15s, 1m); also the report interval
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub step_every: Duration,
    /// Stop adding users at N (then hold) [default and ceiling: 100000]
    #[arg(long, value_name = "N")]
    pub max_users: Option<u64>,
    /// End the run after this long [default: run until stopped]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct SteadyArgs {
    /// Users, all started at once
    #[arg(short = 'u', long, value_name = "N")]
    pub users: u64,
    /// End the run after this long [default: run until stopped]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Report interval: one line per interval
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    pub interval: Duration,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct SpikeArgs {
    /// Users before and after the spike
    #[arg(long, value_name = "N")]
    pub base_users: u64,
    /// Users during the spike
    #[arg(long, value_name = "N")]
    pub spike_users: u64,
    /// When the spike starts, whole seconds
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub spike_at: Duration,
    /// How long the spike lasts, whole seconds
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub spike_for: Duration,
    /// End the run after this long [default: run until stopped]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Report interval: one line per interval
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    pub interval: Duration,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Base URL of the fleet (the NLB or the local balancer), e.g. http://127.0.0.1:8000.
    /// http://: each user has its own keep-alive connection (a new one, through the balancer,
    /// after the server closes it); https://: users share one TLS client (reqwest, rustls)
    #[arg(short = 'H', long, value_name = "URL")]
    pub host: String,
    /// Pause after each request: a duration (1s) or a range (500ms..1500ms); 0 for none
    #[arg(long, value_name = "DURATION[..DURATION]", default_value = "1s")]
    pub think_time: String,
    /// Each user's requests, as relative weights of: hello (GET /hello), repeat (GET
    /// /repeat), factorial (GET /api/v1/factorial?number=N), books (the user's own records:
    /// POST /books, GET /books/{id}, PATCH /books/{id} with If-Match, in turn; needs
    /// --books-token). E.g. hello=8,repeat=1,factorial=1,books=1 [default: hello=9,repeat=1]
    #[arg(long, value_name = "NAME=WEIGHT,...", value_parser = parse_mix,
          conflicts_with_all = ["hello_weight", "repeat_weight"])]
    pub mix: Option<Mix>,
    /// Relative weight of GET /hello in each user's mix (the same as --mix hello=N)
    #[arg(long, value_name = "N", default_value_t = 9)]
    pub hello_weight: usize,
    /// Relative weight of GET /repeat in each user's mix (the same as --mix repeat=N)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub repeat_weight: usize,
    /// N in the factorial requests of the mix
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub factorial_number: u64,
    /// Bearer token for the books writes (POST, PATCH); required when books is in the mix
    #[arg(
        long,
        value_name = "TOKEN",
        env = "HELLOFLEET_BOOKS_TOKEN",
        hide_env_values = true
    )]
    pub books_token: Option<String>,
    /// Request timeout
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Folder for the reports: goose's report.html and report.json, chart.svg, chart.png,
    /// timeline.csv
    #[arg(long, value_name = "DIR", default_value = "loadgen-report")]
    pub out_dir: PathBuf,
    /// Where to write the CSV timeline [default: OUT_DIR/timeline.csv]
    #[arg(long, value_name = "PATH")]
    pub csv: Option<PathBuf>,
    /// The controller's base URL; its /api/status is read each step for the desired capacity
    #[arg(long, value_name = "URL")]
    pub controller: Option<String>,
    /// Objectives that set the exit status, e.g. "p99<200ms,errors<0.1%"
    #[arg(long, value_name = "SPEC", value_parser = parse_slo)]
    pub slo: Option<Slo>,
}

/// A duration such as `15s`, `1m30s`, `500ms` (humantime); a bare `0` is zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e} (expected a duration such as 15s, 1m30s or 500ms)"))
}

fn parse_mix(s: &str) -> Result<Mix, String> {
    s.parse::<Mix>().map_err(|e| e.to_string())
}

fn parse_slo(s: &str) -> Result<Slo, String> {
    s.parse::<Slo>().map_err(|e| e.to_string())
}
