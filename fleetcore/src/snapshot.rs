//! The group as a provider sees it, as plain data: what the tick core aggregates and the
//! simulator's group produces. The `Fleet` trait that reads it lives in the controller.

use proto::{Health, Lifecycle};

/// What the provider knows about the group right now.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSnapshot {
    pub name: String,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: u32,
    pub instances: Vec<InstanceInfo>,
}

/// One instance as the provider sees it (no load figures: those come from load reports).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceInfo {
    pub id: String,
    pub zone: String,
    pub lifecycle: Lifecycle,
    pub health: Health,
    /// When the instance was launched, Unix milliseconds.
    pub launched_at_ms: u64,
    /// When it entered InService, Unix milliseconds (warmup counts from here).
    pub in_service_at_ms: Option<u64>,
    /// `host:port` the instance serves on, if known.
    pub address: Option<String>,
    /// Why it is not serving, if the provider knows (local: the last non-200
    /// `/readyz` or `/healthz` answer; aws: `None`).
    pub reason: Option<String>,
}
