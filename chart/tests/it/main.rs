//! chart's integration tests, one binary (every extra test binary re-links the workspace).

mod png;
