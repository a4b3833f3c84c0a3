//! The fleet a controller steers, behind one small trait.
//!
//! Implementations: `aws` (EC2 Auto Scaling, the only module importing
//! `aws_sdk_autoscaling`), `local` (service processes on loopback plus an L4
//! balancer) and an in-memory fake for tests. What a provider reports ([`GroupSnapshot`],
//! [`InstanceInfo`]) is plain data of the pure core (`fleetcore::snapshot`).

use std::time::Duration;

use async_trait::async_trait;
pub use fleetcore::snapshot::{GroupSnapshot, InstanceInfo};

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the group `{0}` does not exist")]
    NoSuchGroup(String),
    #[error("desired capacity {desired} is outside [{min}, {max}]")]
    OutOfBounds { desired: u32, min: u32, max: u32 },
    #[error("the provider call failed: {0}")]
    Call(String),
    /// An AWS call failed (`message` is one line: the error and its causes).
    #[error("{operation} at {endpoint} failed: {message}")]
    Aws {
        operation: &'static str,
        endpoint: String,
        message: String,
    },
    /// The call was abandoned: it had not answered within the tick's budget.
    #[error("{operation} gave no answer within {after:?} (the tick's budget)")]
    Timeout {
        operation: &'static str,
        after: Duration,
    },
}

impl ProviderError {
    /// The operation that failed, when the error knows it.
    pub fn operation(&self) -> Option<&'static str> {
        match self {
            ProviderError::Aws { operation, .. } | ProviderError::Timeout { operation, .. } => {
                Some(operation)
            }
            _ => None,
        }
    }
}

#[async_trait]
pub trait Fleet: Send + Sync {
    /// `local` or `aws`.
    fn kind(&self) -> &'static str;

    /// The fleet's entry point (NLB or local balancer URL), if known.
    fn endpoint(&self) -> Option<String>;

    /// The name `describe` goes by in errors and the status (`DescribeAutoScalingGroups`).
    fn describe_operation(&self) -> &'static str {
        "describe"
    }

    /// The name `set_desired_capacity` goes by in errors and the status.
    fn apply_operation(&self) -> &'static str {
        "set_desired_capacity"
    }

    /// Reads the group and its instances.
    async fn describe(&self) -> Result<GroupSnapshot, ProviderError>;

    /// Sets the group's desired capacity (the provider launches or drains instances).
    async fn set_desired_capacity(&self, desired: u32) -> Result<(), ProviderError>;

    /// Whether `id` is a live member right now, when the provider knows without a call
    /// (the local group does: it launched it). Asked by the report handler about ids not in
    /// the last snapshot; synchronous, no I/O. Default: no.
    fn is_member(&self, _id: &str) -> bool {
        false
    }
}

#[cfg(any(test, feature = "test-support"))]
pub mod memory;
