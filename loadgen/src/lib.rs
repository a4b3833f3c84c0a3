//! The hellofleet load generator: goose users ramping, holding or spiking against the fleet,
//! with one line per step, a CSV timeline, a chart and an SLO exit status.
//!
//! - [`cli`]: the command line as given (clap); [`config`]: validated into a [`Config`].
//! - [`plan`]: load shapes as goose test plans (pure).
//! - [`attack`]: the goose scenario (sessions with the `uid` cookie, the route [`mix`],
//!   think time, each request recorded into goose) — the only module that imports goose's
//!   user API; [`user`]: one user's requests and their checks, without goose; [`books`]: a
//!   books user's create/read/update sequence (pure).
//! - [`client`]: each user's keep-alive HTTP/1.1 connection (reqwest for https);
//!   [`http1`]: the wire format (pure).
//! - [`grow`]: a ramp's users added step by step through goose's telnet Controller.
//! - [`recorder`]: per-step observations shared by the users, and the users gauge.
//! - [`reporter`]: the per-step loop (sample users, take the step, ask the controller).
//! - [`status`]: the controller's `/api/status` adapter.
//! - [`timeline`]: rows, the printed line, CSV, charts, the run summary (pure).
//! - [`slo`]: `--slo` parsing and evaluation (pure); [`histogram`]: latency buckets (pure).
//! - [`run`](mod@run): one load test from start to written reports.
//!
//! Invariants: the pure modules do no I/O and read no clock; every loop ends when the run
//! does; a down controller only costs the capacity column, never the run.

pub mod attack;
pub mod books;
pub mod cli;
pub mod client;
pub mod config;
pub mod grow;
pub mod histogram;
pub mod http1;
pub mod mix;
pub mod plan;
pub mod recorder;
pub mod reporter;
pub mod run;
pub mod slo;
pub mod status;
pub mod timeline;
pub mod user;

pub use config::{Config, ConfigError};
pub use run::{Outcome, RunError, run};

/// Exit status when the run finished but an SLO objective was not met.
pub const EXIT_SLO_FAILED: i32 = 3;

/// Exit status when every request of the run failed (a target down, every write refused):
/// the run measured nothing, with or without an SLO (this comes before [`EXIT_SLO_FAILED`]).
pub const EXIT_ALL_FAILED: i32 = 4;
