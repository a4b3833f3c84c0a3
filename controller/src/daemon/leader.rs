//! The daemon's side of the controller lease: [`Leader`] pairs the pure
//! [`crate::lease::Lease`] with its store, and makes the bounded calls. The lock is held
//! for the state machine only, never across a call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Bounded, bounded, now_ms};
use crate::config::LeaseSettings;
use crate::lease::{Lease, LeaseError, LeaseStore};

/// How long a release at shutdown may take (shutdown is already under way: the call is
/// bounded by this alone).
pub const RELEASE_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Leader {
    store: Arc<dyn LeaseStore>,
    lease: Mutex<Lease>,
}

impl std::fmt::Debug for Leader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leader")
            .field("store", &self.store.location())
            .field("lease", &self.lease)
            .finish()
    }
}

impl Leader {
    /// A lease under `settings` for a controller ticking every `tick`.
    pub fn new(store: Arc<dyn LeaseStore>, settings: &LeaseSettings, tick: Duration) -> Leader {
        let holder = settings
            .holder()
            .map_or_else(crate::lease::default_holder, str::to_owned);
        Leader {
            store,
            lease: Mutex::new(Lease::new(
                holder,
                settings.ttl(),
                LeaseSettings::margin(tick),
            )),
        }
    }

    fn lease(&self) -> std::sync::MutexGuard<'_, Lease> {
        self.lease.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn holds(&self, now_ms: u64) -> bool {
        self.lease().holds(now_ms)
    }

    pub fn status(&self, now_ms: u64) -> proto::LeaseStatus {
        self.lease().status(now_ms, self.store.location())
    }

    /// Claims (or renews) the lease, within `deadline` and `shutdown`. Returns the failure,
    /// if any (already recorded in the lease's state; the previous expiry still bounds it).
    pub async fn claim(
        &self,
        deadline: Instant,
        shutdown: &CancellationToken,
    ) -> Result<(), LeaseError> {
        let (holder, req) = {
            let l = self.lease();
            (l.holder().to_string(), l.request(now_ms()))
        };
        let call = self.store.claim(&holder, req.now_ms, req.expires_at_ms);
        let answer = match bounded(deadline, shutdown, call).await {
            Bounded::Done(r) => r,
            Bounded::TimedOut => Err(LeaseError {
                operation: "claim",
                message: "no answer within the tick's budget".into(),
            }),
            Bounded::Cancelled => return Ok(()),
        };
        let failed = answer.as_ref().err().cloned();
        let was = self.holds(now_ms());
        self.lease().on_claim(req, answer);
        let is = self.holds(now_ms());
        if was != is {
            if is {
                tracing::info!(holder, lease = %self.store.location(), "this controller now leads");
            } else {
                tracing::warn!(holder, lease = %self.store.location(), "this controller no longer leads: standing by");
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Gives the lease up (at shutdown), so a successor takes over at its next tick.
    pub async fn release(&self) {
        let holder = {
            let mut l = self.lease();
            l.on_release();
            l.holder().to_string()
        };
        match tokio::time::timeout(RELEASE_TIMEOUT, self.store.release(&holder)).await {
            Ok(Ok(())) => tracing::info!(holder, "lease released"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "releasing the lease failed: it expires on its own")
            }
            Err(_) => tracing::warn!("releasing the lease timed out: it expires on its own"),
        }
    }
}
