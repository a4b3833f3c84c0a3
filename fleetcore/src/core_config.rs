//! The validated parts of the configuration that the core reads. The controller's `Config`
//! (TOML + CLI → validated, in `controller::config`) holds a [`GroupConfig`] and the
//! [`Policies`], and builds a [`CoreConfig`] for the tick core and the simulator
//! (`From<&Config>`), so this crate never sees files, flags or provider settings.

use std::time::Duration;

use crate::policy::Policies;

/// `[group]`, validated: `min_size <= max_size`, `desired_capacity` inside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    pub name: String,
    pub min_size: u32,
    pub max_size: u32,
    /// Applied once at start-up, when set.
    pub desired_capacity: Option<u32>,
}

/// What the tick core and the simulator need from a validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreConfig {
    pub group: GroupConfig,
    pub tick: Duration,
    /// Valid by construction (`Policies::new`).
    pub policies: Policies,
    /// Reports received longer ago are stale (`reports.stale_after`).
    pub stale_after: Duration,
    /// Encode `ConcurrentUsers` per instance too (`metrics.per_instance`).
    pub per_instance_metrics: bool,
}

impl From<&CoreConfig> for CoreConfig {
    fn from(c: &CoreConfig) -> Self {
        c.clone()
    }
}
