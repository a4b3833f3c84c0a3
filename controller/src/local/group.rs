//! The local group: plays an Auto Scaling group with service processes on loopback.
//!
//! [`LocalGroup`] keeps the group's state (desired capacity, members) and a
//! supervisor loop that reconciles it: it launches instances when fewer are
//! live than desired and picks instances to drain when more are. Each instance
//! is driven through its lifecycle by its own task (`instance.rs`). The
//! balancer's backend set is recomputed from the state on every change, so an
//! instance is registered exactly while it is InService and healthy.
//!
//! Crashes and data: an instance whose process exits by itself is restarted in
//! place, and replaced only when it keeps crashing; each instance's data dir
//! (its log spool) is a slot under `data_dir/instances/` that the next launch
//! reuses once free (see [`super::restart`]).
//!
//! Zones: members are spread over the configured zones (`local-a`, `local-b`);
//! a launch goes to the zone with the fewest live members, a scale-in takes
//! from the zone with the most (as EC2 Auto Scaling balances zones).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use proto::{Health, Lifecycle};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::balancer::{Backend, BalancerHandle};
use super::instance;
use super::placement::{pick_victim, pick_zone};
use super::restart::{RestartPolicy, Slots, parse_slot, slot_name};
use crate::config::{GroupConfig, LocalSettings};
use crate::provider::{Fleet, GroupSnapshot, InstanceInfo, ProviderError};

/// How the group launches and supervises instances.
#[derive(Debug, Clone)]
pub struct GroupOptions {
    pub name: String,
    pub min_size: u32,
    pub max_size: u32,
    /// Program and leading arguments of an instance (e.g. this binary + `serve-instance`).
    pub program: PathBuf,
    pub program_args: Vec<String>,
    /// Instance logs (file sink) and stderr go to `data_dir/logs/`; each
    /// instance's own data dir (its log spool) is `data_dir/instances/slot-N`.
    pub data_dir: PathBuf,
    /// Controller URL the instances push their load reports to.
    pub report_to: Option<String>,
    /// The report key's file, passed as `REPORT_KEY_FILE` (not on the command line).
    pub report_key_file: Option<PathBuf>,
    /// The balancer's URL, reported as the fleet's endpoint.
    pub endpoint: Option<String>,
    pub zones: Vec<String>,
    /// Period of `/healthz` checks on in-service instances.
    pub health_interval: Duration,
    /// Consecutive failed checks that make an instance Unhealthy.
    pub unhealthy_threshold: u32,
    /// Period of `/readyz` polls while an instance boots.
    pub readiness_poll: Duration,
    /// An instance not ready within this is replaced.
    pub boot_timeout: Duration,
    /// Longest wait for a deregistered instance's flows to end before SIGTERM.
    pub deregistration_delay: Duration,
    /// Longest wait for an exit after SIGTERM before SIGKILL.
    pub stop_timeout: Duration,
    /// Run instances with `--proxy-protocol` (the balancer sends PROXY v2
    /// headers; the probes send `LOCAL` ones).
    pub proxy_protocol: bool,
    /// A crashed instance restarts in place until it crashes this often.
    pub restart: RestartPolicy,
}

impl GroupOptions {
    /// The group `[group]` and `[local]` describe (what `controller up` runs); the caller
    /// adds where instances report and the balancer's URL.
    pub fn from_config(
        program: PathBuf,
        program_args: Vec<String>,
        group: &GroupConfig,
        local: &LocalSettings,
    ) -> Self {
        Self {
            name: group.name().to_owned(),
            min_size: group.min_size(),
            max_size: group.max_size(),
            program,
            program_args,
            data_dir: local.data_dir().to_path_buf(),
            report_to: None,
            report_key_file: None,
            endpoint: None,
            zones: local.zones().to_vec(),
            health_interval: local.health_check_interval(),
            unhealthy_threshold: local.unhealthy_threshold(),
            readiness_poll: Duration::from_millis(25),
            boot_timeout: local.boot_timeout(),
            deregistration_delay: local.deregistration_delay(),
            stop_timeout: local.stop_timeout(),
            proxy_protocol: local.proxy_protocol(),
            restart: RestartPolicy::default(),
        }
    }

    /// A group `local` of 1 to 10 with the `[local]` defaults in `data_dir`, without PROXY
    /// headers (nothing in front of its instances sends them): for tests and tools.
    pub fn new(program: PathBuf, program_args: Vec<String>, data_dir: PathBuf) -> Self {
        let group = GroupConfig::new("local", 1, 10, None).expect("a valid group");
        Self {
            data_dir,
            proxy_protocol: false,
            ..Self::from_config(program, program_args, &group, &LocalSettings::default())
        }
    }
}

/// One member of the group.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub id: String,
    pub zone: String,
    pub addr: SocketAddr,
    pub lifecycle: Lifecycle,
    pub health: Health,
    pub launched_at_ms: u64,
    pub in_service_at_ms: Option<u64>,
    pub pid: Option<u32>,
    /// The last non-200 `/readyz` or `/healthz` answer, as a reason
    /// (`"/readyz 503: <body>"`); cleared by a 200.
    pub reason: Option<String>,
    /// Its data dir's slot and path (`data_dir/instances/slot-N`).
    pub slot: u64,
    pub data_dir: PathBuf,
    /// Cancelled to make the instance's task drain and stop it.
    pub terminate: CancellationToken,
}

impl Member {
    /// Counts toward the desired capacity.
    pub(super) fn is_live(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Pending | Lifecycle::InService)
            && self.health == Health::Healthy
            && !self.terminate.is_cancelled()
    }
}

#[derive(Debug)]
pub(super) struct GroupState {
    pub desired: u32,
    pub members: Vec<Member>,
    next_index: u64,
    /// A launch failed (spawn error or exit before ready) at this time: wait before the next.
    pub launch_failed_at: Option<Instant>,
    slots: Slots,
}

pub(super) struct Inner {
    pub options: GroupOptions,
    pub state: Mutex<GroupState>,
    pub balancer: BalancerHandle,
    pub wake: Notify,
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
}

impl Inner {
    pub fn lock(&self) -> MutexGuard<'_, GroupState> {
        self.state.lock().expect("group state lock")
    }

    /// Applies `f` to the member `id` (if still present), then re-registers the
    /// balancer's backends and wakes the supervisor.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Member)) {
        {
            let mut state = self.lock();
            if let Some(m) = state.members.iter_mut().find(|m| m.id == id) {
                f(m);
            }
            self.publish(&state);
        }
        self.wake.notify_one();
    }

    /// Removes a terminated member.
    pub fn remove(&self, id: &str, launch_failed: bool) {
        {
            let mut state = self.lock();
            // Its process is reaped: the next launch may take over its data dir.
            if let Some(slot) = state.members.iter().find(|m| m.id == id).map(|m| m.slot) {
                state.slots.give_back(slot);
            }
            state.members.retain(|m| m.id != id);
            if launch_failed {
                state.launch_failed_at = Some(Instant::now());
            }
            self.publish(&state);
        }
        self.wake.notify_one();
    }

    /// The balancer serves exactly the in-service, healthy, not terminating members.
    fn publish(&self, state: &GroupState) {
        let backends = state
            .members
            .iter()
            .filter(|m| m.lifecycle == Lifecycle::InService && m.is_live())
            .map(|m| Backend {
                id: m.id.clone(),
                addr: m.addr,
            })
            .collect();
        self.balancer.set_backends(backends);
    }
}

/// The local Auto Scaling group; implements [`Fleet`]. Cheap to clone.
#[derive(Clone)]
pub struct LocalGroup {
    inner: Arc<Inner>,
}

impl LocalGroup {
    /// Starts the supervisor with `desired = min_size`; instances launch at once.
    /// Everything stops when `shutdown` is cancelled; await [`LocalGroup::stopped`].
    pub fn start(
        options: GroupOptions,
        balancer: BalancerHandle,
        shutdown: CancellationToken,
    ) -> Self {
        let slots = Slots::new(existing_slots(&options.data_dir));
        let inner = Arc::new(Inner {
            state: Mutex::new(GroupState {
                desired: options.min_size,
                members: Vec::new(),
                next_index: 1,
                launch_failed_at: None,
                slots,
            }),
            options,
            balancer,
            wake: Notify::new(),
            tasks: TaskTracker::new(),
            shutdown,
        });
        inner.tasks.spawn(supervise(inner.clone()));
        Self { inner }
    }

    /// Waits until the supervisor and every instance task ended (every child reaped).
    pub async fn stopped(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// `(instance id, pid)` of every member with a running process.
    pub fn pids(&self) -> Vec<(String, u32)> {
        let state = self.inner.lock();
        state
            .members
            .iter()
            .filter_map(|m| m.pid.map(|p| (m.id.clone(), p)))
            .collect()
    }

    /// Instances currently InService and healthy.
    pub fn in_service(&self) -> usize {
        let state = self.inner.lock();
        state
            .members
            .iter()
            .filter(|m| m.lifecycle == Lifecycle::InService && m.is_live())
            .count()
    }

    pub fn balancer(&self) -> &BalancerHandle {
        &self.inner.balancer
    }
}

#[async_trait]
impl Fleet for LocalGroup {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn endpoint(&self) -> Option<String> {
        self.inner.options.endpoint.clone()
    }

    async fn describe(&self) -> Result<GroupSnapshot, ProviderError> {
        let o = &self.inner.options;
        let state = self.inner.lock();
        Ok(GroupSnapshot {
            name: o.name.clone(),
            min_size: o.min_size,
            max_size: o.max_size,
            desired_capacity: state.desired,
            instances: state
                .members
                .iter()
                .map(|m| InstanceInfo {
                    id: m.id.clone(),
                    zone: m.zone.clone(),
                    lifecycle: m.lifecycle,
                    health: m.health,
                    launched_at_ms: m.launched_at_ms,
                    in_service_at_ms: m.in_service_at_ms,
                    address: Some(m.addr.to_string()),
                    reason: m.reason.clone(),
                })
                .collect(),
        })
    }

    fn is_member(&self, id: &str) -> bool {
        let state = self.inner.lock();
        state
            .members
            .iter()
            .any(|m| m.id == id && m.lifecycle != Lifecycle::Terminated)
    }

    async fn set_desired_capacity(&self, desired: u32) -> Result<(), ProviderError> {
        let o = &self.inner.options;
        if desired < o.min_size || desired > o.max_size {
            return Err(ProviderError::OutOfBounds {
                desired,
                min: o.min_size,
                max: o.max_size,
            });
        }
        if self.inner.shutdown.is_cancelled() {
            return Err(ProviderError::Call(
                "the local group is shutting down".into(),
            ));
        }
        let before = std::mem::replace(&mut self.inner.lock().desired, desired);
        if before != desired {
            tracing::info!(group = %o.name, before, desired, "desired capacity set");
        }
        self.inner.wake.notify_one();
        Ok(())
    }
}

/// The supervisor: reconciles on every change and at least once a second, until shutdown.
async fn supervise(inner: Arc<Inner>) {
    loop {
        reconcile(&inner);
        tokio::select! {
            _ = inner.shutdown.cancelled() => break,
            _ = inner.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    // Stop every member; their tasks SIGTERM and reap their processes.
    let state = inner.lock();
    for m in &state.members {
        m.terminate.cancel();
    }
}

/// One reconciliation: launch or drain so that live members = desired.
fn reconcile(inner: &Arc<Inner>) {
    let mut state = inner.lock();
    let live = state.members.iter().filter(|m| m.is_live()).count() as u32;
    if live < state.desired {
        let backing_off = state
            .launch_failed_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1));
        if !backing_off {
            for _ in live..state.desired {
                launch(inner, &mut state);
            }
        }
    } else if live > state.desired {
        for _ in state.desired..live {
            let Some(i) = pick_victim(&state.members, |id| inner.balancer.active_flows(id)) else {
                break;
            };
            let m = &mut state.members[i];
            tracing::info!(instance = %m.id, zone = %m.zone, "scale-in: draining");
            m.lifecycle = Lifecycle::Terminating;
            m.terminate.cancel();
        }
        inner.publish(&state);
    }
}

fn launch(inner: &Arc<Inner>, state: &mut GroupState) {
    let zone = pick_zone(&inner.options.zones, &state.members);
    let id = format!("i-local-{}", state.next_index);
    state.next_index += 1;
    let port = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => {
            tracing::error!(error = %e, "no free loopback port for a new instance");
            state.launch_failed_at = Some(Instant::now());
            return;
        }
    };
    let slot = state.slots.take();
    let data_dir = inner
        .options
        .data_dir
        .join("instances")
        .join(slot_name(slot));
    let member = Member {
        slot,
        data_dir,
        id: id.clone(),
        zone,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        lifecycle: Lifecycle::Pending,
        health: Health::Healthy,
        launched_at_ms: crate::clock::now_ms(),
        in_service_at_ms: None,
        pid: None,
        reason: None,
        terminate: CancellationToken::new(),
    };
    tracing::info!(instance = %id, zone = %member.zone, port, data_dir = %member.data_dir.display(), "launching");
    inner
        .tasks
        .spawn(instance::run(inner.clone(), member.clone()));
    state.members.push(member);
}

/// Slot numbers of the data dirs an earlier run left (free at start).
fn existing_slots(data_dir: &std::path::Path) -> Vec<u64> {
    std::fs::read_dir(data_dir.join("instances"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| parse_slot(e.file_name().to_str()?))
                .collect()
        })
        .unwrap_or_default()
}
