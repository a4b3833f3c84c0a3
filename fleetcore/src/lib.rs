//! hellofleet's pure core: everything the controller decides, as functions of data, with time
//! as an argument. Cargo enforces the boundary: this crate depends on `proto`, `serde` and
//! `thiserror` only (no tokio, no HTTP, no AWS SDK, no chart), so nothing here can do I/O,
//! read a clock or wait.
//!
//! Codemap:
//! - [`policy`]: the step-scaling engine with EC2 Auto Scaling's semantics (alarms, steps,
//!   warmup, bounds) and the optional lookahead; the decision as data. Its policies are valid
//!   by construction: [`policy::Policies::new`] checks their raw form and is the only way to
//!   one.
//! - [`aggregate`]: load reports + a group snapshot → fleet metrics (merged user sketches);
//!   [`aggregate::ReportBook`] keeps each instance's latest report.
//! - [`tick`]: [`tick::Reconciler::step`], the per-tick core (aggregate + decide) that the
//!   daemon and the simulator both drive.
//! - [`metrics`]: the metric encoder (fleet metrics → [`metrics::Datum`]s, batches).
//! - [`snapshot`]: the group as a provider reports it ([`snapshot::GroupSnapshot`]).
//! - [`core_config`]: the validated parts of the configuration the core reads
//!   ([`CoreConfig`], [`GroupConfig`]); the controller builds them from its `Config`.
//!   A `GroupConfig` is valid by construction: [`GroupConfig::new`] is the only way to one.
//! - [`simulate`]: the simulator's engine: a users trace through the tick core on a modelled
//!   group, the baselines (`aws-target-tracking`, `hpa`, `native`), the scores and summaries.
//! - [`synthetic`]: synthetic load reports for simulations, benchmarks and tests.

pub mod aggregate;
pub mod core_config;
pub mod metrics;
pub mod policy;
pub mod simulate;
pub mod snapshot;
pub mod synthetic;
pub mod tick;

pub use core_config::{CoreConfig, GroupConfig, GroupError};
