//! The hellofleet control plane.
//!
//! Each tick: observe the fleet → aggregate the load reports → publish metrics → decide with
//! the step policies → apply the capacity change → record the decision.
//!
//! Codemap:
//! - [`config`]: TOML + CLI overrides → a validated [`config::Config`] (pure).
//! - [`provider`]: the [`provider::Fleet`] trait every backend implements, and
//!   [`provider::memory::MemoryFleet`], an in-memory fake for tests.
//! - [`aws`]: the EC2 Auto Scaling provider (the only module importing `aws_sdk_autoscaling`).
//! - [`lease`]: the controller lease, pure (state machine, time an argument) and the
//!   [`lease::LeaseStore`] trait; [`aws_lease`] its DynamoDB adapter (the only module
//!   importing `aws_sdk_dynamodb`).
//! - `local/`: the local provider: service processes on loopback + an L4 balancer; `controller up`.
//! - [`aggregate`]: load reports + snapshot → fleet metrics (pure; merged user sketches).
//! - `policy/`: the pure step-scaling engine (no I/O, no async, no AWS types).
//! - [`tick`]: [`tick::Reconciler::step`], the pure per-tick core (aggregate + decide) that
//!   the daemon and `controller simulate` both drive.
//! - [`metrics`]: encoder + batcher + the [`metrics::MetricsSink`] trait; `metrics::cloudwatch`
//!   is the only module importing `aws_sdk_cloudwatch`.
//! - [`native`]: `[policies] mode = "native"`: the policies as AWS step policies and
//!   alarms (pure plan, validation, history records, CloudFormation render; one adapter,
//!   `native::aws`, for every call).
//! - [`errors`]: an error and its causes as one line, each message once.
//! - `daemon/`: the tick loop, the shared state and the HTTP API (`run`, `app`).
//! - `simulate/`: `controller simulate`, replaying a users trace through the same core.
//! - [`synthetic`]: synthetic load reports for simulations, benchmarks and tests.

pub mod aggregate;
pub mod aws;
pub mod aws_lease;
pub mod config;
pub mod daemon;
pub mod errors;
pub mod lease;
pub mod local;
pub mod metrics;
pub mod native;
pub mod policy;
pub mod provider;
pub mod simulate;
pub mod synthetic;
pub mod tick;
