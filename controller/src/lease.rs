//! The controller lease, pure: which of two controllers may change the group.
//!
//! A controller replaced by its Auto Scaling group, or restarted by a deploy, can overlap
//! with its successor for a while; both observe the same group. Only the one holding the
//! lease applies a change (`SetDesiredCapacity`, policy reconciles) or publishes metrics:
//! the other stands by, observing, and takes over when the lease is released (the leader
//! stops) or expires (the leader died).
//!
//! The lease is one record in a store (DynamoDB in `aws_lease.rs`) written with a
//! conditional write: "take it if it is free, mine, or expired", expiring `ttl` after the
//! claim was **sent**. [`Lease`] is the state machine around those writes, time an
//! argument, free of I/O: [`Lease::request`] says what to write now, [`Lease::on_claim`]
//! takes the store's answer, [`Lease::holds`] says whether this controller may act now.
//!
//! Safety: the store's expiry is `sent + ttl`, so the local view of it never runs past the
//! store's. [`Lease::holds`] keeps a `margin` on top (one tick, the longest an apply can be
//! in flight after the check, plus [`CLOCK_SKEW`] between hosts): a change started while
//! holding lands before anyone else can take the lease. A failed or unanswered claim
//! changes nothing known: the previous expiry still bounds the lease, so a leader that
//! cannot reach the store stops acting once it runs out, and never acts past it.

use std::time::Duration;

use async_trait::async_trait;

/// Allowance for the difference between two hosts' clocks (EC2 instances sync to the
/// Amazon Time Sync Service, well within this).
pub const CLOCK_SKEW: Duration = Duration::from_millis(250);

/// The store's answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The write went through: this holder has the lease until the claim's expiry.
    Granted,
    /// Another holder has it, unexpired, until `until_ms` (by the store's record).
    HeldBy { holder: String, until_ms: u64 },
}

/// A failed call to the lease store (the outcome of the write is unknown).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} on the lease failed: {message}")]
pub struct LeaseError {
    pub operation: &'static str,
    pub message: String,
}

/// The store the lease lives in: one record, conditional writes.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Writes `holder` with `expires_at_ms` if the record is absent, already `holder`'s,
    /// or expired at `now_ms`; otherwise reports who holds it.
    async fn claim(
        &self,
        holder: &str,
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Result<Claim, LeaseError>;
    /// Removes the record if `holder` holds it (a successor need not wait for expiry).
    async fn release(&self, holder: &str) -> Result<(), LeaseError>;
    /// Where the lease lives, for logs and the status (e.g. `dynamodb:table/key`).
    fn location(&self) -> String;
}

/// What to write at a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimRequest {
    pub now_ms: u64,
    pub expires_at_ms: u64,
}

/// This controller's view of the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    me: String,
    ttl_ms: u64,
    margin_ms: u64,
    /// Our lease ends at this time (the expiry of our last granted claim), if we hold it.
    until_ms: Option<u64>,
    /// The other holder, as of our last claim.
    other: Option<(String, u64)>,
    last_error: Option<String>,
}

impl Lease {
    /// `margin`: how long before its end the lease stops counting as held.
    pub fn new(me: impl Into<String>, ttl: Duration, margin: Duration) -> Lease {
        Lease {
            me: me.into(),
            ttl_ms: ttl.as_millis() as u64,
            margin_ms: margin.as_millis() as u64,
            until_ms: None,
            other: None,
            last_error: None,
        }
    }

    pub fn holder(&self) -> &str {
        &self.me
    }

    /// The claim to send at `now_ms` (a leader renews with the same write).
    pub fn request(&self, now_ms: u64) -> ClaimRequest {
        ClaimRequest {
            now_ms,
            expires_at_ms: now_ms.saturating_add(self.ttl_ms),
        }
    }

    /// The store's answer to `req`.
    pub fn on_claim(&mut self, req: ClaimRequest, answer: Result<Claim, LeaseError>) {
        match answer {
            Ok(Claim::Granted) => {
                // Never shorten what we know we hold (answers may come out of order).
                self.until_ms = Some(self.until_ms.unwrap_or(0).max(req.expires_at_ms));
                self.other = None;
                self.last_error = None;
            }
            Ok(Claim::HeldBy { holder, until_ms }) => {
                // Someone else holds it: whatever we thought we had is gone.
                self.until_ms = None;
                self.other = Some((holder, until_ms));
                self.last_error = None;
            }
            Err(e) => self.last_error = Some(e.to_string()),
        }
    }

    /// Released (or given up): no longer held.
    pub fn on_release(&mut self) {
        self.until_ms = None;
    }

    /// May this controller change the group at `now_ms`?
    pub fn holds(&self, now_ms: u64) -> bool {
        self.until_ms
            .is_some_and(|until| now_ms.saturating_add(self.margin_ms) < until)
    }

    /// The status' view at `now_ms`.
    pub fn status(&self, now_ms: u64, location: String) -> proto::LeaseStatus {
        let leads = self.holds(now_ms);
        proto::LeaseStatus {
            location,
            holder: self.me.clone(),
            leads,
            leader: if leads {
                Some(self.me.clone())
            } else {
                self.other.as_ref().map(|(h, _)| h.clone())
            },
            until_ms: if leads {
                self.until_ms
            } else {
                self.other.as_ref().map(|(_, u)| *u)
            },
            last_error: self.last_error.clone(),
        }
    }
}

/// A holder id for this process: the host name, the pid and a random suffix (a restarted
/// controller on the same host is a new holder; its predecessor's lease still bounds it).
pub fn default_holder() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "controller".into());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

#[cfg(test)]
#[path = "lease_tests.rs"]
mod tests;
