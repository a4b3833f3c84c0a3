//! [`AppState`]: what the handlers, the load report and the background tasks share.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;
use bytes::Bytes;

use crate::config::{Config, EVENTS_PER_REQUEST};
use crate::metrics::{self, Metrics};
use crate::shipper::LogQueue;
use crate::shipper::repeat::{Entry, RepeatLog};
use crate::users::UserTracker;

/// Lines in the `/repeat` body.
pub const REPEAT_LINES: usize = 100;
/// A log event on every this-many iterations of `/repeat`.
pub const LOG_EVERY: usize = REPEAT_LINES / EVENTS_PER_REQUEST;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    instance_id: String,
    instance_header: HeaderValue,
    active_window: Duration,
    request_timeout: Duration,
    started: Instant,
    started_at_ms: u64,
    draining: AtomicBool,
    seq: AtomicU64,
    /// `/repeat` requests so far: the request part of each event's id.
    repeat_seq: AtomicU64,
    users: Mutex<UserTracker>,
    metrics: Metrics,
    logs: LogQueue,
    repeat_body: Bytes,
    /// What every `/repeat` logs (messages and their compact spool form).
    repeat_log: Arc<RepeatLog>,
    factorial_max: u64,
    factorial_gate: crate::factorial::Gate,
    /// Set once at start with `--books-db`.
    books: OnceLock<Arc<crate::books::Books>>,
}

/// Wall clock, Unix milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl AppState {
    /// `instance_id` must already be valid (see [`crate::config::check_instance_id`]).
    pub fn new(config: &Config, instance_id: String, logs: LogQueue) -> AppState {
        let instance_header = HeaderValue::from_str(&instance_id)
            .unwrap_or_else(|_| HeaderValue::from_static("invalid"));
        let window_ms = u64::try_from(config.active_window.as_millis()).unwrap_or(u64::MAX);
        let started_at_ms = unix_ms();
        let repeat_log = Arc::new(RepeatLog::new(
            &instance_id,
            started_at_ms,
            REPEAT_LINES as u16,
            LOG_EVERY as u16,
        ));
        AppState(Arc::new(Inner {
            instance_header,
            instance_id,
            active_window: config.active_window,
            request_timeout: config.request_timeout,
            started: Instant::now(),
            started_at_ms,
            draining: AtomicBool::new(false),
            seq: AtomicU64::new(0),
            repeat_seq: AtomicU64::new(0),
            users: Mutex::new(UserTracker::new(window_ms, config.max_users)),
            metrics: Metrics::default(),
            logs,
            repeat_body: Bytes::from("Hello World\n".repeat(REPEAT_LINES)),
            repeat_log,
            factorial_max: config.factorial_max,
            factorial_gate: crate::factorial::Gate::new(config.factorial_concurrency),
            books: OnceLock::new(),
        }))
    }

    pub fn factorial_max(&self) -> u64 {
        self.0.factorial_max
    }

    pub fn factorial_gate(&self) -> &crate::factorial::Gate {
        &self.0.factorial_gate
    }

    /// The books store, once [`AppState::set_books`] gave it.
    pub fn books(&self) -> Option<Arc<crate::books::Books>> {
        self.0.books.get().cloned()
    }

    /// Gives the books store (once; a second call is ignored).
    pub fn set_books(&self, books: Arc<crate::books::Books>) {
        let _ = self.0.books.set(books);
    }

    pub fn instance_id(&self) -> &str {
        &self.0.instance_id
    }

    pub fn active_window(&self) -> Duration {
        self.0.active_window
    }

    pub fn request_timeout(&self) -> Duration {
        self.0.request_timeout
    }

    pub fn instance_header(&self) -> &HeaderValue {
        &self.0.instance_header
    }

    /// Milliseconds since start (monotonic): the clock of the user tracker.
    pub fn now_ms(&self) -> u64 {
        self.ms_at(Instant::now())
    }

    /// `at` on the user tracker's clock.
    fn ms_at(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.0.started).as_millis()).unwrap_or(u64::MAX)
    }

    pub fn set_draining(&self) {
        self.0.draining.store(true, Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Relaxed)
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub fn logs(&self) -> &LogQueue {
        &self.0.logs
    }

    fn users(&self) -> MutexGuard<'_, UserTracker> {
        // A panic while holding the lock leaves the tracker consistent enough.
        self.0.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request by this user started `at` (the request's own clock read, not another).
    pub fn touch_user(&self, user_hash: u64, at: Instant) {
        let now = self.ms_at(at);
        self.users().touch(user_hash, now);
    }

    pub fn prune_users(&self) {
        let now = self.now_ms();
        self.users().prune(now);
    }

    /// The `/repeat` body, built once.
    pub fn repeat_body(&self) -> Bytes {
        self.0.repeat_body.clone()
    }

    /// The 20 events of one `/repeat` request, stamped `timestamp_ms`, each
    /// with its stable id (see [`RepeatLog`]).
    pub fn repeat_events(&self, timestamp_ms: i64) -> Entry {
        let request = self.0.repeat_seq.fetch_add(1, Relaxed) + 1;
        Entry::repeat(&self.0.repeat_log, timestamp_ms, request)
    }

    /// The load report (see [`proto::report`] for its JSON).
    pub fn load_report(&self) -> proto::LoadReport {
        let (concurrent_users, users_sketch) = self.users().active_sketch(self.now_ms());
        proto::LoadReport {
            instance_id: self.0.instance_id.clone(),
            seq: self.0.seq.fetch_add(1, Relaxed) + 1,
            sent_at_ms: unix_ms().max(self.0.started_at_ms),
            started_at_ms: self.0.started_at_ms,
            active_window_ms: u64::try_from(self.0.active_window.as_millis()).unwrap_or(u64::MAX),
            concurrent_users,
            users_sketch,
            in_flight: self.0.metrics.traffic_in_flight(),
            requests_total: self.0.metrics.traffic_total(),
            log: self.0.logs.counters(),
            draining: self.is_draining(),
            families: self.0.metrics.families(),
        }
    }

    /// `/metrics` in Prometheus text format.
    pub fn render_metrics(&self) -> String {
        let now = self.now_ms();
        let (concurrent_users, tracked, evictions) = {
            let u = self.users();
            (u.active_count(now), u.tracked() as u64, u.evictions())
        };
        let mut text = metrics::render(
            &self.0.metrics,
            &metrics::Extra {
                instance_id: &self.0.instance_id,
                uptime: self.0.started.elapsed(),
                draining: self.is_draining(),
                concurrent_users,
                tracked_users: tracked,
                user_evictions: evictions,
                active_window: self.0.active_window,
                log: self.0.logs.counters(),
            },
        );
        if let Some(bytes) = self.0.logs.spool_bytes() {
            text.push_str(
                "# HELP hellofleet_log_spool_bytes Bytes in the log spool's segments on disk.\n\
                 # TYPE hellofleet_log_spool_bytes gauge\n",
            );
            text.push_str(&format!("hellofleet_log_spool_bytes {bytes}\n"));
        }
        text
    }
}
