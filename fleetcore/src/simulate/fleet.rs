//! The simulated group: what an Auto Scaling group and its instances would do, on a
//! simulated clock. Pure (no I/O, no clock): every method takes `now_ms`.
//!
//! - A launched instance is `Pending` for `boot_ms`, then `InService` (the policies' warmup
//!   counts from there, as in the live loop).
//! - A scale-in terminates pending instances first, then the newest in service; a
//!   terminated instance is `Terminating` (drained, no new users) for `drain_ms`, then gone.
//! - Users spread evenly over the `InService` instances (warming ones included: the load
//!   balancer sends them traffic). Every in-service instance sends a fresh load report each
//!   tick, built like a real one (`synthetic` ids `user-{i}`), into the same [`ReportBook`]
//!   the daemon uses.
//! - The users sketch: merging sketches is a union, so the fleet's union (users `0..U`) rides
//!   on the first instance's report and the others carry empty sketches; the aggregation
//!   merges them exactly as it would the per-instance shares. Union sketches are built from
//!   cached checkpoints (every [`CHECKPOINT`] users, or peak / 512 for big traces: at most
//!   ~8 MB), so a tick costs at most one spacing of inserts.

use proto::{Health, Lifecycle, LoadReport, LogCounters, UserSketch};

use crate::aggregate::ReportBook;
use crate::snapshot::{GroupSnapshot, InstanceInfo};

/// Smallest spacing of the cached union sketches.
pub const CHECKPOINT: u64 = 256;

/// The physical model of instances and traffic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelParams {
    /// Launch → in service.
    pub boot_ms: u64,
    /// Terminating → gone (deregistration delay).
    pub drain_ms: u64,
    /// Requests per second each user makes.
    pub requests_per_user: f64,
    /// Log events per request (the service's `/repeat` writes 20, `/hello` none).
    pub log_events_per_request: f64,
    /// The users' active window the instances report (the service's default, 10 s): how
    /// long after a drain the controller holds further scale-in (`Reason::Settling`).
    pub active_window_ms: u64,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            boot_ms: 30_000,
            drain_ms: 30_000,
            requests_per_user: 0.5,
            log_events_per_request: 10.0,
            active_window_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone)]
struct Instance {
    id: String,
    launched_at: u64,
    in_service_at: Option<u64>,
    terminating_at: Option<u64>,
    seq: u64,
    requests: f64,
    log_events: f64,
    last_report_at: Option<u64>,
}

/// The simulated group.
#[derive(Debug, Clone)]
pub struct SimFleet {
    name: String,
    min: u32,
    max: u32,
    desired: u32,
    params: ModelParams,
    instances: Vec<Instance>,
    next_id: u64,
    /// Lifetime of instances already gone, in ms.
    gone_ms: u64,
    /// Instances removed since the last [`SimFleet::take_removed`].
    removed: bool,
    sketches: SketchCache,
}

impl SimFleet {
    /// A group with `desired` instances launched at `start_ms` and already warm (in service
    /// since time 0), for a trace of at most `peak_users`.
    pub fn new(
        name: &str,
        (min, max, desired): (u32, u32, u32),
        params: ModelParams,
        peak_users: u64,
        start_ms: u64,
    ) -> Self {
        let mut f = SimFleet {
            name: name.into(),
            min,
            max,
            desired,
            params,
            instances: Vec::new(),
            next_id: 1,
            gone_ms: 0,
            removed: false,
            sketches: SketchCache {
                spacing: CHECKPOINT.max(peak_users / 512),
                checkpoints: Vec::new(),
                last: None,
            },
        };
        for _ in 0..desired {
            f.launch(start_ms);
            if let Some(i) = f.instances.last_mut() {
                i.in_service_at = Some(0);
            }
        }
        f
    }

    pub fn desired(&self) -> u32 {
        self.desired
    }

    fn launch(&mut self, now_ms: u64) {
        self.instances.push(Instance {
            id: format!("i-sim-{}", self.next_id),
            launched_at: now_ms,
            in_service_at: None,
            terminating_at: None,
            seq: 0,
            requests: 0.0,
            log_events: 0.0,
            last_report_at: None,
        });
        self.next_id += 1;
    }

    /// Moves every instance along its lifecycle up to `now_ms`.
    pub fn advance(&mut self, now_ms: u64) {
        let (boot, drain) = (self.params.boot_ms, self.params.drain_ms);
        let mut gone = 0;
        self.instances.retain(|i| match i.terminating_at {
            Some(t) if t + drain <= now_ms => {
                gone += t + drain - i.launched_at;
                false
            }
            _ => true,
        });
        if gone > 0 {
            self.gone_ms += gone;
            self.removed = true;
        }
        for i in &mut self.instances {
            if i.in_service_at.is_none()
                && i.terminating_at.is_none()
                && i.launched_at + boot <= now_ms
            {
                i.in_service_at = Some(i.launched_at + boot);
            }
        }
    }

    /// Sets the desired capacity and launches or terminates instances to match it.
    pub fn set_desired(&mut self, desired: u32, now_ms: u64) {
        self.desired = desired.clamp(self.min, self.max.max(self.min));
        let alive = |f: &SimFleet| {
            f.instances
                .iter()
                .filter(|i| i.terminating_at.is_none())
                .count() as u32
        };
        while alive(self) < self.desired {
            self.launch(now_ms);
        }
        while alive(self) > self.desired {
            // Pending first, then the newest in service.
            let victim = self
                .instances
                .iter()
                .rposition(|i| i.terminating_at.is_none() && i.in_service_at.is_none())
                .or_else(|| {
                    self.instances
                        .iter()
                        .rposition(|i| i.terminating_at.is_none())
                });
            let Some(k) = victim else { break };
            if self.instances[k].in_service_at.is_none() {
                let i = self.instances.remove(k);
                self.gone_ms += now_ms - i.launched_at;
                self.removed = true;
            } else {
                self.instances[k].terminating_at = Some(now_ms);
            }
        }
    }

    /// True once after instances disappeared (time to prune the report book).
    pub fn take_removed(&mut self) -> bool {
        std::mem::take(&mut self.removed)
    }

    /// Instance-milliseconds used from the start up to `now_ms` (launch → gone).
    pub fn instance_ms(&self, now_ms: u64) -> u64 {
        self.gone_ms
            + self
                .instances
                .iter()
                .map(|i| now_ms.saturating_sub(i.launched_at))
                .sum::<u64>()
    }

    /// `(in service, pending, terminating)` right now.
    pub fn counts(&self) -> (u32, u32, u32) {
        let mut c = (0, 0, 0);
        for i in &self.instances {
            match (i.terminating_at, i.in_service_at) {
                (Some(_), _) => c.2 += 1,
                (None, Some(_)) => c.0 += 1,
                (None, None) => c.1 += 1,
            }
        }
        c
    }

    /// What a provider's `describe` would return.
    pub fn snapshot(&self) -> GroupSnapshot {
        GroupSnapshot {
            name: self.name.clone(),
            min_size: self.min,
            max_size: self.max,
            desired_capacity: self.desired,
            instances: self
                .instances
                .iter()
                .map(|i| InstanceInfo {
                    id: i.id.clone(),
                    zone: "sim-1a".into(),
                    lifecycle: match (i.terminating_at, i.in_service_at) {
                        (Some(_), _) => Lifecycle::Terminating,
                        (None, Some(_)) => Lifecycle::InService,
                        (None, None) => Lifecycle::Pending,
                    },
                    health: Health::Healthy,
                    launched_at_ms: i.launched_at,
                    in_service_at_ms: i.in_service_at,
                    address: None,
                    reason: None,
                })
                .collect(),
        }
    }

    /// Every in-service instance reports its share of `users` at `now_ms` into `book`.
    pub fn report(&mut self, book: &mut ReportBook, users: u64, now_ms: u64) {
        for r in self.reports(users, now_ms) {
            book.ingest(r, now_ms);
        }
    }

    /// The load reports the in-service instances send at `now_ms` when `users` use the fleet.
    pub fn reports(&mut self, users: u64, now_ms: u64) -> Vec<LoadReport> {
        let serving: Vec<usize> = (0..self.instances.len())
            .filter(|&k| {
                let i = &self.instances[k];
                i.terminating_at.is_none() && i.in_service_at.is_some()
            })
            .collect();
        if serving.is_empty() {
            return Vec::new();
        }
        let n = serving.len() as u64;
        let union = self.sketches.union_of(users);
        let p = self.params;
        let mut out = Vec::with_capacity(serving.len());
        for (rank, &k) in serving.iter().enumerate() {
            let share = users / n + u64::from((rank as u64) < users % n);
            let i = &mut self.instances[k];
            let since = i.last_report_at.unwrap_or(now_ms);
            let secs = now_ms.saturating_sub(since) as f64 / 1000.0;
            let reqs = share as f64 * p.requests_per_user * secs;
            i.requests += reqs;
            i.log_events += reqs * p.log_events_per_request;
            i.seq += 1;
            i.last_report_at = Some(now_ms);
            let report = LoadReport {
                instance_id: i.id.clone(),
                seq: i.seq,
                sent_at_ms: now_ms,
                started_at_ms: i.launched_at,
                active_window_ms: p.active_window_ms,
                concurrent_users: share,
                users_sketch: if rank == 0 {
                    union.clone()
                } else {
                    UserSketch::new()
                },
                in_flight: 0,
                requests_total: i.requests as u64,
                log: LogCounters {
                    enqueued: i.log_events as u64,
                    shipped: i.log_events as u64,
                    ..LogCounters::default()
                },
                draining: false,
                families: Default::default(),
            };
            out.push(report);
        }
        out
    }
}

/// Union sketches of users `0..U`, from checkpoints every `spacing` users.
#[derive(Debug, Clone)]
struct SketchCache {
    spacing: u64,
    /// `checkpoints[k]` holds users `0..k * spacing`.
    checkpoints: Vec<UserSketch>,
    last: Option<(u64, UserSketch)>,
}

impl SketchCache {
    fn union_of(&mut self, users: u64) -> &UserSketch {
        if self.last.as_ref().is_none_or(|(u, _)| *u != users) {
            let step = self.spacing;
            let k = (users / step) as usize;
            while self.checkpoints.len() <= k {
                let j = self.checkpoints.len() as u64;
                let mut s = match self.checkpoints.last() {
                    Some(prev) => prev.clone(),
                    None => UserSketch::new(),
                };
                if j > 0 {
                    insert_users(&mut s, (j - 1) * step, j * step);
                }
                self.checkpoints.push(s);
            }
            let mut s = self.checkpoints[k].clone();
            insert_users(&mut s, k as u64 * step, users);
            self.last = Some((users, s));
        }
        &self.last.as_ref().expect("just set").1
    }
}

/// Adds `user-{from}` … `user-{to - 1}` (the ids `crate::synthetic::user_ids` makes).
fn insert_users(s: &mut UserSketch, from: u64, to: u64) {
    use std::fmt::Write;
    let mut id = String::with_capacity(24);
    for u in from..to {
        id.clear();
        let _ = write!(id, "user-{u}");
        s.insert(&id);
    }
}
