//! The daemon's side of config reload and native mode, run after each tick (and once
//! before the first): reload the file when it changed ([`ConfigWatch`]), reconcile the
//! group's native policies and alarms when owed, and in native mode record what AWS did.
//! Every call is bounded by the deadline given and by shutdown; failures are logged,
//! kept as the status' last error, and retried at the next tick.

use std::sync::Arc;

use tokio::time::Instant;

use crate::config::ConfigWatch;
use crate::lease::LeaseStore;
use crate::native::driver::NativeDriver;
use fleetcore::tick::Reconciler;

use super::{Bounded, Shared, bounded, now_ms};

/// What `run` needs besides the config for reloads and native mode (`Default`: neither).
#[derive(Default)]
pub struct Extras {
    /// Re-reads the config file when it changes.
    pub watch: Option<ConfigWatch>,
    /// The group's policies and alarms (the `aws` provider).
    pub native: Option<NativeDriver>,
    /// The lease's store (with `[lease]`): only its holder changes the group.
    pub lease: Option<Arc<dyn LeaseStore>>,
}

impl std::fmt::Debug for Extras {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extras")
            .field("watch", &self.watch)
            .field("native", &self.native)
            .field("lease", &self.lease.as_ref().map(|l| l.location()))
            .finish()
    }
}

/// Reload, reconcile, read AWS's events: see the module docs. Returns the failed calls.
pub async fn native_step(
    rec: &mut Reconciler,
    extras: &mut Extras,
    state: &Shared,
    deadline: Instant,
) -> Vec<(&'static str, String)> {
    let mut failed = vec![];
    if let Some(watch) = &mut extras.watch
        && let Some(loaded) = watch.poll()
    {
        match loaded {
            Ok(c) if c.policies() != rec.policies() => {
                tracing::info!(
                    path = %watch.path().display(),
                    mode = c.policies().mode().as_str(),
                    "config changed: the new [policies] take effect (other sections need a restart)"
                );
                rec.set_policies(c.policies().clone());
                if let Some(d) = &mut extras.native {
                    d.policies_changed();
                }
            }
            Ok(_) => tracing::info!(
                path = %watch.path().display(),
                "config changed outside [policies]: restart the controller for it to take effect"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "the changed config does not load; keeping the running one");
                failed.push(("config reload", e.to_string()));
            }
        }
    }
    let Some(driver) = &mut extras.native else {
        return failed;
    };
    let shutdown = &state.shutdown;
    // Policies and alarms are changes to the group: only the lease's holder makes them (a
    // standby leaves them pending and reconciles once it leads).
    if driver.is_pending() && state.holds_lease(now_ms()) {
        let policies = rec.policies().clone();
        match bounded(deadline, shutdown, driver.reconcile(&policies)).await {
            Bounded::Done(Ok(plan)) if !plan.is_empty() => {
                tracing::info!(
                    mode = policies.mode().as_str(),
                    "native policies reconciled: {}",
                    plan.summary()
                );
            }
            Bounded::Done(Ok(_)) => {}
            Bounded::Done(Err(e)) => {
                tracing::warn!(error = %e, "reconciling the native policies failed; retrying next tick");
                failed.push((e.operation, e.message));
            }
            Bounded::TimedOut => failed.push((
                "native reconcile",
                "gave no answer within the tick's budget; retrying next tick".into(),
            )),
            Bounded::Cancelled => return failed,
        }
    }
    let now = now_ms();
    if driver.events_due(rec.policies(), now) {
        let policies = rec.policies().clone();
        let desired = state.status().group.desired_capacity;
        match bounded(
            deadline,
            shutdown,
            driver.events(&policies, rec.ticks(), desired, now),
        )
        .await
        {
            Bounded::Done(Ok(records)) => {
                for r in records {
                    tracing::info!(action = %r.action, reason = %r.reason, "{}", r.explanation);
                    state.record_decision(r);
                }
            }
            Bounded::Done(Err(e)) => {
                tracing::warn!(error = %e, "reading what AWS did failed");
                failed.push((e.operation, e.message));
            }
            Bounded::TimedOut => failed.push((
                "native events",
                "gave no answer within the tick's budget".into(),
            )),
            Bounded::Cancelled => {}
        }
    }
    failed
}
