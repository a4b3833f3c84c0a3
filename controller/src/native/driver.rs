//! What the daemon does for native mode, through a [`PolicyStore`]: reconcile the group's
//! policies and alarms with the config (at start, after every reload, and again each tick
//! until a reconcile succeeded), and in native mode read what AWS did, at most every
//! [`EVENTS_EVERY_MS`], as decision records (each once: [`Seen`] over [`EVENTS_WINDOW_MS`]).
//! The caller bounds every call by the tick's budget and shutdown.

use std::sync::Arc;

use proto::DecisionRecord;

use fleetcore::policy::Policies;

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
        policies.mode().aws_decides() && now_ms >= self.next_events_ms
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
        let alarms: Vec<String> = [policies.scale_out(), policies.scale_in()]
            .iter()
            .map(|p| resource_name(&self.group, p.name()))
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::native::{AwsEvent, Present, PresentAlarm, PresentPolicy};

    /// An in-memory store: applies plans to its `present`, serves fixed events.
    #[derive(Debug, Default)]
    struct Fake {
        present: Mutex<Present>,
        applied: Mutex<Vec<Plan>>,
        events: Mutex<Vec<AwsEvent>>,
        fail_present: Mutex<bool>,
    }

    #[async_trait]
    impl PolicyStore for Fake {
        async fn present(&self) -> Result<Present, NativeError> {
            if *self.fail_present.lock().unwrap() {
                return Err(NativeError {
                    operation: "DescribePolicies",
                    message: "DescribePolicies: AccessDenied".into(),
                });
            }
            Ok(self.present.lock().unwrap().clone())
        }

        async fn apply(&self, plan: &Plan) -> Result<(), NativeError> {
            let mut p = self.present.lock().unwrap();
            for put in &plan.put_policies {
                p.policies.retain(|x| x.spec.name != put.name);
                p.policies.push(PresentPolicy {
                    spec: put.clone(),
                    arn: format!("arn:{}", put.name),
                });
            }
            for put in &plan.put_alarms {
                p.alarms.retain(|x| x.spec.name != put.name);
                p.alarms.push(PresentAlarm {
                    spec: put.clone(),
                    actions: vec![format!("arn:{}", put.policy)],
                });
            }
            p.alarms
                .retain(|a| !plan.delete_alarms.contains(&a.spec.name));
            p.policies
                .retain(|x| !plan.delete_policies.contains(&x.spec.name));
            self.applied.lock().unwrap().push(plan.clone());
            Ok(())
        }

        async fn events(&self, _: &[String], since_ms: u64) -> Result<Vec<AwsEvent>, NativeError> {
            Ok(self
                .events
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.at_ms() >= since_ms)
                .cloned()
                .collect())
        }
    }

    fn native() -> Policies {
        super::super::default_native_policies()
    }

    #[tokio::test]
    async fn reconciles_once_retries_after_a_failure_and_converges() {
        let store = Arc::new(Fake::default());
        let mut d = NativeDriver::new(store.clone(), "web", "HelloFleet");
        *store.fail_present.lock().unwrap() = true;
        assert!(d.reconcile(&native()).await.is_err());
        assert!(d.is_pending(), "a failed reconcile stays owed");
        *store.fail_present.lock().unwrap() = false;
        let plan = d.reconcile(&native()).await.unwrap();
        assert_eq!(plan.put_policies.len(), 2);
        assert!(!d.is_pending());
        assert!(
            d.reconcile(&native()).await.unwrap().is_empty(),
            "converged"
        );
        d.policies_changed();
        let plan = d.reconcile(&Policies::local_default()).await.unwrap();
        assert_eq!(
            (plan.delete_alarms.len(), plan.delete_policies.len()),
            (2, 2)
        );
        assert_eq!(*store.present.lock().unwrap(), Present::default());
    }

    #[tokio::test]
    async fn events_every_ten_seconds_in_aws_modes_each_recorded_once() {
        let store = Arc::new(Fake::default());
        store.events.lock().unwrap().push(AwsEvent::Activity {
            id: "a-1".into(),
            at_ms: 995_000,
            cause: "… changing the desired capacity from 2 to 3.".into(),
            description: "Launching a new EC2 instance".into(),
            status: "Successful".into(),
        });
        let mut d = NativeDriver::new(store.clone(), "web", "HelloFleet");
        assert!(
            !d.events_due(&Policies::local_default(), 1_000_000),
            "not in controller mode"
        );
        let p = native();
        assert!(d.events_due(&p, 1_000_000));
        let r = d.events(&p, 7, 2, 1_000_000).await.unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].source.as_str(), r[0].action.as_str(), r[0].tick),
            ("aws", "scale_out", 7)
        );
        assert!(!d.events_due(&p, 1_009_999));
        assert!(d.events_due(&p, 1_010_000));
        assert!(
            d.events(&p, 8, 3, 1_010_000).await.unwrap().is_empty(),
            "once"
        );
    }
}
