//! [`MemoryFleet`]: an in-memory [`Fleet`] for tests and benchmarks (unit tests and feature
//! `test-support` only, never in a production build). `set_desired_capacity` launches or
//! terminates fake instances at once; the clock is whatever the test sets.

use std::sync::Mutex;

use async_trait::async_trait;
use proto::{Health, Lifecycle};

use super::{Fleet, GroupSnapshot, InstanceInfo, ProviderError};

#[derive(Debug)]
pub struct MemoryFleet {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    group: GroupSnapshot,
    next_id: u64,
    now_ms: u64,
    launch_pending: bool,
    fail: Option<String>,
    desired_calls: Vec<u32>,
    describe_calls: u64,
}

impl MemoryFleet {
    /// A group `name` with `desired` instances in service since t = 0.
    pub fn new(name: &str, min: u32, max: u32, desired: u32) -> Self {
        let mut inner = Inner {
            group: GroupSnapshot {
                name: name.into(),
                min_size: min,
                max_size: max,
                desired_capacity: desired,
                instances: vec![],
            },
            next_id: 1,
            now_ms: 0,
            launch_pending: false,
            fail: None,
            desired_calls: vec![],
            describe_calls: 0,
        };
        inner.converge();
        for i in &mut inner.group.instances {
            i.in_service_at_ms = Some(0);
        }
        Self {
            inner: Mutex::new(inner),
        }
    }

    /// New instances start `Pending` (until [`Self::promote_pending`]) instead of `InService`.
    pub fn with_pending_launches(self) -> Self {
        self.lock().launch_pending = true;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the fake clock (launch and in-service times), Unix milliseconds.
    pub fn set_now(&self, now_ms: u64) {
        self.lock().now_ms = now_ms;
    }

    /// Every pending instance enters service now.
    pub fn promote_pending(&self) {
        let mut inner = self.lock();
        let now = inner.now_ms;
        for i in inner
            .group
            .instances
            .iter_mut()
            .filter(|i| i.lifecycle.is_pending())
        {
            i.lifecycle = Lifecycle::InService;
            i.in_service_at_ms = Some(now);
        }
    }

    /// Changes one instance (health or lifecycle), e.g. to test draining or unhealthy ones.
    pub fn update_instance(&self, id: &str, f: impl FnOnce(&mut InstanceInfo)) {
        if let Some(i) = self.lock().group.instances.iter_mut().find(|i| i.id == id) {
            f(i);
        }
    }

    /// Makes every call fail with `message` (None: succeed again).
    pub fn fail_with(&self, message: Option<&str>) {
        self.lock().fail = message.map(str::to_string);
    }

    /// The group now.
    pub fn snapshot(&self) -> GroupSnapshot {
        self.lock().group.clone()
    }

    /// Every desired capacity that was set, in order.
    pub fn desired_calls(&self) -> Vec<u32> {
        self.lock().desired_calls.clone()
    }

    pub fn describe_calls(&self) -> u64 {
        self.lock().describe_calls
    }
}

impl Inner {
    /// Launches or terminates (newest first) until the group has `desired` instances.
    fn converge(&mut self) {
        let want = self.group.desired_capacity as usize;
        while self.group.instances.len() > want {
            self.group.instances.pop();
        }
        while self.group.instances.len() < want {
            let n = self.next_id;
            self.next_id += 1;
            let pending = self.launch_pending;
            self.group.instances.push(InstanceInfo {
                id: format!("i-mem-{n}"),
                zone: if n % 2 == 1 { "mem-a" } else { "mem-b" }.into(),
                lifecycle: if pending {
                    Lifecycle::Pending
                } else {
                    Lifecycle::InService
                },
                health: Health::Healthy,
                launched_at_ms: self.now_ms,
                in_service_at_ms: (!pending).then_some(self.now_ms),
                address: Some(format!("127.0.0.1:{}", 20_000 + n)),
                reason: None,
            });
        }
    }
}

#[async_trait]
impl Fleet for MemoryFleet {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn endpoint(&self) -> Option<String> {
        None
    }

    async fn describe(&self) -> Result<GroupSnapshot, ProviderError> {
        let mut inner = self.lock();
        inner.describe_calls += 1;
        if let Some(m) = &inner.fail {
            return Err(ProviderError::Call(m.clone()));
        }
        Ok(inner.group.clone())
    }

    async fn set_desired_capacity(&self, desired: u32) -> Result<(), ProviderError> {
        let mut inner = self.lock();
        if let Some(m) = &inner.fail {
            return Err(ProviderError::Call(m.clone()));
        }
        let (min, max) = (inner.group.min_size, inner.group.max_size);
        if !(min..=max).contains(&desired) {
            return Err(ProviderError::OutOfBounds { desired, min, max });
        }
        inner.desired_calls.push(desired);
        inner.group.desired_capacity = desired;
        inner.converge();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn launches_and_terminates_on_desired_capacity() {
        let fleet = MemoryFleet::new("g", 1, 5, 2).with_pending_launches();
        fleet.set_now(1_000);
        fleet.set_desired_capacity(4).await.unwrap();
        let s = fleet.describe().await.unwrap();
        assert_eq!(s.instances.len(), 4);
        assert_eq!(s.instances[3].lifecycle, Lifecycle::Pending);
        fleet.promote_pending();
        assert_eq!(fleet.snapshot().instances[3].in_service_at_ms, Some(1_000));
        fleet.set_desired_capacity(1).await.unwrap();
        assert_eq!(fleet.snapshot().instances.len(), 1);
        assert_eq!(fleet.snapshot().instances[0].id, "i-mem-1");
        assert!(matches!(
            fleet.set_desired_capacity(6).await,
            Err(ProviderError::OutOfBounds { desired: 6, .. })
        ));
        assert_eq!(fleet.desired_calls(), vec![4, 1]);
    }

    #[tokio::test]
    async fn failures_can_be_injected() {
        let fleet = MemoryFleet::new("g", 1, 5, 1);
        fleet.fail_with(Some("boom"));
        assert!(fleet.describe().await.is_err());
        fleet.fail_with(None);
        assert!(fleet.describe().await.is_ok());
    }
}
