//! loadgen's integration tests, one binary (every extra test binary re-links the workspace).

mod cli;
mod common;
mod instances;
mod mix;
