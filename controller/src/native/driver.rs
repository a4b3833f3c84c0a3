//! What the daemon does for native mode, through a [`PolicyStore`]: reconcile the group's
//! policies and alarms with the config (at start, after every reload, and again each tick
//! until a reconcile succeeded), and in native mode read what AWS did, at most every
//! [`EVENTS_EVERY_MS`], as decision records (each once: [`Seen`] over [`EVENTS_WINDOW_MS`]).
//! The caller bounds every call by the tick's budget and shutdown.

use std::sync::Arc;

use proto::DecisionRecord;

use crate::policy::Policies;

use super::{NativeError, Plan, PolicyStore, Seen, diff, event_record, resource_name, wanted};

/// How often AWS's alarm history and scaling activities are read, at most.
pub const EVENTS_EVERY_MS: u64 = 10_000;
/// How far back each read looks (and how long an item is remembered).
pub const EVENTS_WINDOW_MS: u64 = 60 * 60 * 1000;

#[derive(Debug)]
pub struct NativeDriver {
    store: Arc<dyn PolicyStore>,
    group: String,
    namespace: String,
    /// A reconcile is owed (start, reload, or the last one failed).
    pending: bool,
    next_events_ms: u64,
    seen: Seen,
}

impl NativeDriver {
    pub fn new(store: Arc<dyn PolicyStore>, group: &str, namespace: &str) -> Self {
        Self {
            store,
            group: group.into(),
            namespace: namespace.into(),
            pending: true,
            next_events_ms: 0,
            seen: Seen::new(EVENTS_WINDOW_MS),
        }
    }

    /// The policies changed (a reload): reconcile at the next chance.
    pub fn policies_changed(&mut self) {
        self.pending = true;
    }

    pub fn is_pending(&self) -> bool {
        self.pending
    }

    /// Makes the group's policies and alarms match `policies` (none in controller mode).
    /// Returns the plan carried out; on failure the reconcile stays owed.
    pub async fn reconcile(&mut self, policies: &Policies) -> Result<Plan, NativeError> {
        let want = wanted(&self.group, &self.namespace, policies);
        let present = self.store.present().await?;
        let plan = diff(&self.group, &want, &present);
        if !plan.is_empty() {
            self.store.apply(&plan).await?;
        }
        self.pending = false;
        Ok(plan)
    }

    /// Whether AWS's events are due at `now_ms` (native and stack modes only).
    pub fn events_due(&self, policies: &Policies, now_ms: u64) -> bool {
        policies.mode.aws_decides() && now_ms >= self.next_events_ms
    }

    /// What AWS did since the last read, as records of `tick` (oldest first, each once).
    pub async fn events(
        &mut self,
        policies: &Policies,
        tick: u64,
        desired: u32,
        now_ms: u64,
    ) -> Result<Vec<DecisionRecord>, NativeError> {
        self.next_events_ms = now_ms + EVENTS_EVERY_MS;
        let alarms: Vec<String> = [&policies.scale_out, &policies.scale_in]
            .iter()
            .map(|p| resource_name(&self.group, &p.name))
            .collect();
        let events = self
            .store
            .events(&alarms, self.seen.since_ms(now_ms))
            .await?;
        Ok(self
            .seen
            .fresh(events, now_ms)
            .iter()
            .map(|e| event_record(e, &self.group, policies, tick, desired))
            .collect())
    }
}
