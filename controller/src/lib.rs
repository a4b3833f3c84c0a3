//! The hellofleet control plane: the daemon, the providers and the commands. The pure core
//! (policy engine, aggregation, the tick reconciler, the simulator's engine) is the
//! `fleetcore` crate, re-exported here under its old paths (`controller::policy`,
//! `controller::tick`, …).
//!
//! Each tick (`daemon::tick_once`): observe the fleet → aggregate the load reports and decide
//! with the step policies (`tick::Reconciler::step`, pure) → publish the metrics and apply the
//! capacity change, side by side → record the decision.
//!
//! Codemap:
//! - [`cmd`]: the commands side by side (`run`, `up`, `simulate`, `policies`); `main.rs`
//!   only parses the CLI and calls one.
//! - [`config`]: TOML + CLI overrides → one validated [`config::Config`] (pure).
//! - [`provider`]: the [`provider::Fleet`] trait every backend implements, and
//!   `provider::memory::MemoryFleet`, an in-memory fake for tests (only with `cfg(test)` or feature `test-support`).
//! - [`aws`]: the EC2 Auto Scaling provider (the only module importing `aws_sdk_autoscaling`).
//! - [`lease`]: the controller lease, pure (state machine, time an argument) and the
//!   [`lease::LeaseStore`] trait; [`aws_lease`] its DynamoDB adapter (the only module
//!   importing `aws_sdk_dynamodb`).
//! - `local/`: the local provider: service processes on loopback + an L4 balancer.
//! - [`metrics`]: the [`metrics::MetricsSink`] trait and its sinks; `metrics::cloudwatch`
//!   is the only module importing `aws_sdk_cloudwatch` (the encoder is the core's).
//! - [`native`]: `[policies] mode = "native"`: the policies as AWS step policies and
//!   alarms (pure plan, validation, history records, CloudFormation render; one adapter,
//!   `native::aws`, for every call).
//! - [`errors`]: an error and its causes as one line, each message once.
//! - [`clock`]: the one wall clock ([`clock::now_ms`]).
//! - `daemon/`: the tick loop, the shared state and the HTTP API (`run`, `app`).
//! - [`simulate`]: the simulator's charts and summary table, and the engine and command re-exported.
//! - The pure core is the `fleetcore` crate (policy, aggregation, the tick core, the simulator's
//!   engine), imported by its own name; the snapshot types are re-exported through [`provider`]
//!   (what `Fleet::describe` returns) and the encoder through [`metrics`].

pub mod aws;
pub mod aws_lease;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod daemon;
pub mod errors;
pub mod lease;
pub mod local;
pub mod metrics;
pub mod native;
pub mod provider;
pub mod simulate;
