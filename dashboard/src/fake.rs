//! An in-memory [`Source`] for tests, the example and benchmarks (unit tests and feature
//! `test-support` only, never in a production build): a fleet whose
//! figures the caller sets tick by tick. Time is passed in, never read.

use std::sync::Mutex;

use proto::{
    Action, DecisionRecord, FleetTotals, GroupStatus, Health, InstanceStatus, Lifecycle,
    MetricPoint, PolicySummary, Reason, Status,
};
use tokio::sync::watch;

use crate::Source;

/// Samples kept (an hour at one per second).
const MAX_METRICS: usize = 3600;
const MAX_DECISIONS: usize = 200;
pub const SCALE_OUT: f64 = 20.0;
pub const SCALE_IN: f64 = 8.0;

pub struct FakeSource {
    state: Mutex<State>,
    ticks: watch::Sender<u64>,
}

struct State {
    status: Status,
    decisions: Vec<DecisionRecord>,
    metrics: Vec<MetricPoint>,
}

impl FakeSource {
    /// A local fleet (min 1, max 10) with `instances` in service at `now_ms`.
    pub fn new(now_ms: u64, instances: u32) -> FakeSource {
        let status = Status {
            provider: "local".into(),
            tick: 0,
            updated_at_ms: now_ms,
            group: GroupStatus {
                name: "hellofleet-local".into(),
                min_size: 1,
                max_size: 10,
                desired_capacity: instances,
                in_service: instances,
                pending: 0,
                draining: 0,
            },
            instances: (0..instances).map(|n| instance(n, now_ms, 0)).collect(),
            fleet: FleetTotals::default(),
            policy: PolicySummary {
                metric: "ConcurrentUsersPerInstance".into(),
                scale_out_threshold: SCALE_OUT,
                scale_in_threshold: SCALE_IN,
                tick_ms: 1000,
                mode: "controller".into(),
            },
            endpoint: Some("http://127.0.0.1:8080".into()),
            health: proto::ControllerHealth::default(),
        };
        FakeSource {
            state: Mutex::new(State {
                status,
                decisions: Vec::new(),
                metrics: Vec::new(),
            }),
            ticks: watch::channel(0).0,
        }
    }

    /// One tick: `users` spread over `in_service` instances (desired may be
    /// ahead while new ones are pending); records a metric point and a
    /// decision, then notifies subscribers. Returns the new tick number.
    pub fn tick(&self, now_ms: u64, users: u64, desired: u32, in_service: u32) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let before = st.status.group.desired_capacity;
        let s = &mut st.status;
        s.tick += 1;
        s.updated_at_ms = now_ms;
        s.group.desired_capacity = desired;
        s.group.in_service = in_service;
        s.group.pending = desired.saturating_sub(in_service);
        s.group.draining = in_service.saturating_sub(desired);
        let per = (in_service > 0).then(|| users as f64 / f64::from(in_service));
        let total = desired.max(in_service);
        let launched = |n: u32| now_ms.saturating_sub(600_000 / u64::from(n + 1));
        s.instances = (0..total)
            .map(|n| {
                let mut i = instance(n, launched(n), users / u64::from(in_service.max(1)));
                if n >= in_service {
                    i.lifecycle_state = Lifecycle::Pending;
                    i.concurrent_users = 0;
                }
                if n >= desired {
                    i.lifecycle_state = Lifecycle::Terminating;
                }
                i
            })
            .collect();
        s.fleet = FleetTotals {
            concurrent_users: users,
            concurrent_users_per_instance: per,
            requests_per_second: users as f64 * 0.8,
            log_events_per_second: users as f64 * 0.8 * 10.0,
            log_events_lost: 0,
            requests_per_second_by_family: proto::FamilyRates {
                hello: users as f64 * 0.5,
                repeat: users as f64 * 0.1,
                factorial: users as f64 * 0.1,
                books: users as f64 * 0.1,
            },
        };
        let tick = s.tick;
        let point = MetricPoint {
            at_ms: now_ms,
            concurrent_users: users,
            concurrent_users_per_instance: per,
            desired_capacity: desired,
            in_service,
            requests_per_second: s.fleet.requests_per_second,
            log_events_per_second: s.fleet.log_events_per_second,
        };
        let decision = decision(now_ms, tick, per, before, desired);
        st.metrics.push(point);
        if st.metrics.len() > MAX_METRICS {
            st.metrics.remove(0);
        }
        st.decisions.push(decision);
        if st.decisions.len() > MAX_DECISIONS {
            st.decisions.remove(0);
        }
        drop(st);
        self.ticks.send_replace(tick);
        tick
    }
}

impl FakeSource {
    /// Replaces the controller's health (failing calls, late ticks, warnings) and notifies
    /// subscribers as a tick would. Returns the new tick number.
    pub fn set_health(&self, health: proto::ControllerHealth) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.status.health = health;
        st.status.tick += 1;
        let tick = st.status.tick;
        drop(st);
        self.ticks.send_replace(tick);
        tick
    }
}

impl FakeSource {
    /// Plays a demo run into the history, one tick per `step_ms` from
    /// `from_ms` to `to_ms`: users rise and fall, a simple threshold policy
    /// moves desired capacity one at a time, and new instances take two ticks
    /// to come into service. Returns the last (desired, in service).
    pub fn play_demo(&self, from_ms: u64, to_ms: u64, step_ms: u64) -> (u32, u32) {
        let (mut desired, mut in_service) = {
            let s = self.status();
            (s.group.desired_capacity.max(1), s.group.in_service.max(1))
        };
        let mut ready_at: Vec<u64> = Vec::new();
        let span = (to_ms - from_ms).max(1) as f64;
        let mut t = from_ms;
        while t <= to_ms {
            let phase = (t - from_ms) as f64 / span;
            // 10 users rising to ~120 and back down a little
            let users = (10.0 + 110.0 * (phase * std::f64::consts::PI * 0.8).sin()) as u64;
            let per = users as f64 / f64::from(in_service.max(1));
            if per > SCALE_OUT && desired < 10 {
                desired += 1;
                ready_at.push(t + 2 * step_ms);
            } else if per < SCALE_IN && desired > 1 && ready_at.is_empty() {
                desired -= 1;
            }
            ready_at.retain(|r| {
                if *r <= t {
                    in_service += 1;
                    false
                } else {
                    true
                }
            });
            in_service = in_service.min(desired);
            self.tick(t, users, desired, in_service);
            t += step_ms;
        }
        (desired, in_service)
    }
}

fn instance(n: u32, launched_at_ms: u64, users: u64) -> InstanceStatus {
    InstanceStatus {
        id: format!("i-{:04x}", 0xa000 + n),
        zone: if n.is_multiple_of(2) {
            "local-a"
        } else {
            "local-b"
        }
        .into(),
        lifecycle_state: Lifecycle::InService,
        health: Health::Healthy,
        warming: false,
        concurrent_users: users,
        requests_per_second: users as f64 * 0.8,
        log_events_per_second: users as f64 * 8.0,
        in_flight: users / 4,
        launched_at_ms,
        address: Some(format!("127.0.0.1:{}", 41000 + n)),
        reason: None,
    }
}

fn decision(at_ms: u64, tick: u64, per: Option<f64>, before: u32, after: u32) -> DecisionRecord {
    let (action, reason, threshold, explanation) = if after > before {
        (
            Action::ScaleOut,
            Reason::Scaled,
            Some(SCALE_OUT),
            format!("Users per instance above {SCALE_OUT}: desired {before} → {after}."),
        )
    } else if after < before {
        (
            Action::ScaleIn,
            Reason::Scaled,
            Some(SCALE_IN),
            format!("Users per instance below {SCALE_IN}: desired {before} → {after}."),
        )
    } else {
        (
            Action::None,
            Reason::WithinBand,
            None,
            format!("Users per instance between {SCALE_IN} and {SCALE_OUT}: nothing to do."),
        )
    };
    DecisionRecord {
        at_ms,
        tick,
        action,
        policy: threshold.map(|_| format!("{action}-policy")),
        metric: "ConcurrentUsersPerInstance".into(),
        metric_value: per,
        threshold,
        step: match action {
            Action::ScaleOut => Some("[0, +∞) → +1 ChangeInCapacity".into()),
            Action::ScaleIn => Some("(-∞, 0] → -1 ChangeInCapacity".into()),
            Action::None => None,
        },
        capacity_before: before,
        capacity_after: after,
        reason,
        explanation,
        applied: (after != before).then_some(true),
        source: proto::DecisionSource::Controller,
    }
}

impl Source for FakeSource {
    fn status(&self) -> Status {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .status
            .clone()
    }

    fn decisions(&self) -> Vec<DecisionRecord> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .decisions
            .clone()
    }

    fn metrics(&self, since_ms: u64) -> Vec<MetricPoint> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.metrics
            .iter()
            .filter(|m| m.at_ms >= since_ms)
            .copied()
            .collect()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.ticks.subscribe()
    }
}
