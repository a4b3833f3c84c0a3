//! The hellofleet control plane (being built; see issues 3, 7 and 8).
//!
//! Codemap (owners in parentheses while the crate is being built):
//! - `provider`: the `Fleet` trait every backend implements.
//! - `policy/`: the pure step-scaling engine (no I/O, no async, no AWS types).
//! - `local/`: the local provider: service processes on loopback + an L4 balancer; `controller up`.
//! - `simulate/`: `controller simulate`, replaying a users trace through the same engine.

pub mod local;
pub mod policy;
pub mod provider;
pub mod simulate;
