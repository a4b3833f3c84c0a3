//! The simulator's engine: replay a users trace through the SAME tick core the daemon runs
//! ([`crate::tick::Reconciler`]: aggregation + policy engine) on a simulated clock, with
//! instance boot, warmup and drain modelled. Pure and deterministic; the command
//! (`controller simulate`: files, charts) is in the controller.
//!
//! - `trace`: CSV (`time,users`, or loadgen's `--csv` timeline) and the built-in traces.
//! - `fleet`: the simulated group (lifecycle, traffic spread, load reports).
//! - `engine`: the loop, one [`engine::Run`] per config or baseline.
//! - `baseline`: who decides ([`Model`]): the controller, or a model of AWS target tracking,
//!   Kubernetes' HPA, or (`native`) the config's policies as AWS runs them (`native.rs`).
//! - `scores`: the elasticity scores (θU, θO, τU, τO, instability, …) of a run.
//! - `summary`: the figures, oscillation detection, the side-by-side text table.

pub mod baseline;
pub mod engine;
pub mod fleet;
pub mod native;
pub mod scores;
pub mod summary;
pub mod trace;

pub use baseline::Model;
pub use engine::{EPOCH_MS, Row, Run, SimParams, Simulator, simulate, simulate_model};
pub use fleet::{ModelParams, SimFleet};
pub use scores::{ScoreParams, Scores};
pub use summary::{Summary, oscillations};
pub use trace::{BuiltinParams, Trace, TraceError};
