//! The log shipper: requests hand events to a bounded [`LogQueue`] and return;
//! one [`Shipper`] task batches them ([`batch`]), sends them to a [`LogSink`]
//! and retries transient failures ([`retry`]) until they are stored.
//!
//! Invariants:
//! - A request never waits on the network. In `block` mode it waits only for
//!   room in the queue (backpressure); in `drop` mode it never waits, and every
//!   dropped event is counted.
//! - Queue capacity bounds every event the shipper holds, including those in a
//!   batch being retried, so memory stays bounded while the sink is down.
//! - Every event handed over is counted exactly once as shipped, rejected,
//!   dropped or failed; until then it is `queued`.
//! - Events are only given up (counted `failed`) after shutdown began and the
//!   flush budget ran out, or when the backend says the request is invalid.

pub mod batch;
pub mod cloudwatch;
pub mod file;
pub mod retry;
pub mod sink;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::Overflow;
use batch::{Batch, event_size, make_batches, should_flush_now};
use retry::{Backoff, Retry, is_retriable};
pub use sink::{LogSink, MemorySink, PutOutcome, SinkError};

/// One log event. The message is shared so that fixed messages cost no copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Unix milliseconds.
    pub timestamp_ms: i64,
    pub message: Arc<str>,
}

impl LogEvent {
    pub fn new(timestamp_ms: i64, message: impl Into<Arc<str>>) -> LogEvent {
        LogEvent {
            timestamp_ms,
            message: message.into(),
        }
    }
}

/// The shipper's counters (see [`proto::LogCounters`]).
#[derive(Debug, Default)]
pub struct Counters {
    enqueued: AtomicU64,
    shipped: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    /// A consistent-enough snapshot: the terminal counters are read before
    /// `enqueued`, so `queued` is never negative.
    pub fn snapshot(&self) -> proto::LogCounters {
        let shipped = self.shipped.load(Relaxed);
        let dropped = self.dropped.load(Relaxed);
        let rejected = self.rejected.load(Relaxed);
        let failed = self.failed.load(Relaxed);
        let retried = self.retried.load(Relaxed);
        let enqueued = self.enqueued.load(Relaxed);
        proto::LogCounters {
            enqueued,
            shipped,
            queued: enqueued.saturating_sub(shipped + dropped + rejected + failed),
            dropped,
            rejected,
            retried,
            failed,
        }
    }
}

/// The sending side, cloned into every request handler.
#[derive(Clone)]
pub struct LogQueue {
    tx: mpsc::UnboundedSender<Vec<LogEvent>>,
    room: Arc<Semaphore>,
    counters: Arc<Counters>,
    overflow: Overflow,
}

/// The receiving side, consumed by [`Shipper::new`].
pub struct QueueReceiver {
    rx: mpsc::UnboundedReceiver<Vec<LogEvent>>,
    room: Arc<Semaphore>,
    counters: Arc<Counters>,
}

/// A queue holding at most `capacity` events (queued plus in flight).
pub fn queue(capacity: usize, overflow: Overflow) -> (LogQueue, QueueReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let room = Arc::new(Semaphore::new(capacity));
    let counters = Arc::new(Counters::default());
    (
        LogQueue {
            tx,
            room: room.clone(),
            counters: counters.clone(),
            overflow,
        },
        QueueReceiver { rx, room, counters },
    )
}

impl LogQueue {
    /// Hands events to the shipper. Waits only for room in the queue (block mode).
    pub async fn enqueue(&self, events: Vec<LogEvent>) {
        let n = events.len() as u64;
        if n == 0 {
            return;
        }
        let Ok(permits) = u32::try_from(n) else {
            self.counters.enqueued.fetch_add(n, Relaxed);
            self.counters.dropped.fetch_add(n, Relaxed);
            return;
        };
        let reserved = match self.overflow {
            // Counted once there is room: a request abandoned while it waits
            // (client gone, timeout) handed nothing over.
            Overflow::Block => {
                let p = self.room.acquire_many(permits).await.ok();
                self.counters.enqueued.fetch_add(n, Relaxed);
                p
            }
            Overflow::Drop => {
                self.counters.enqueued.fetch_add(n, Relaxed);
                match self.room.try_acquire_many(permits) {
                    Ok(p) => Some(p),
                    Err(tokio::sync::TryAcquireError::NoPermits) => {
                        self.counters.dropped.fetch_add(n, Relaxed);
                        return;
                    }
                    Err(tokio::sync::TryAcquireError::Closed) => None,
                }
            }
        };
        match reserved {
            // The shipper gives the room back once the events are done with.
            Some(p) => p.forget(),
            None => {
                // The shipper has finished (shutdown is over): nothing will send these.
                self.counters.failed.fetch_add(n, Relaxed);
                return;
            }
        }
        if self.tx.send(events).is_err() {
            self.counters.failed.fetch_add(n, Relaxed);
        }
    }

    pub fn counters(&self) -> proto::LogCounters {
        self.counters.snapshot()
    }
}

/// Shipper timing.
#[derive(Debug, Clone, Copy)]
pub struct ShipperOptions {
    pub flush_interval: Duration,
    /// After `finish`, how long to keep retrying before counting the rest as failed.
    pub flush_timeout: Duration,
    pub backoff: Backoff,
}

/// The task that drains the queue into the sink.
pub struct Shipper {
    input: QueueReceiver,
    sink: Arc<dyn LogSink>,
    options: ShipperOptions,
    pending: Vec<LogEvent>,
    pending_bytes: usize,
    /// Set once `finish` fired: the time after which events are given up.
    deadline: Option<Instant>,
}

impl Shipper {
    pub fn new(input: QueueReceiver, sink: Arc<dyn LogSink>, options: ShipperOptions) -> Shipper {
        Shipper {
            input,
            sink,
            options,
            pending: Vec::new(),
            pending_bytes: 0,
            deadline: None,
        }
    }

    /// Runs until `finish` is cancelled (or every sender is gone), then sends
    /// everything still queued within the flush budget and returns.
    pub async fn run(mut self, finish: CancellationToken) {
        let mut tick = tokio::time::interval(self.options.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.reset();
        loop {
            tokio::select! {
                biased;
                () = finish.cancelled() => break,
                msg = self.input.rx.recv() => match msg {
                    Some(events) => {
                        self.add(events);
                        if should_flush_now(self.pending.len(), self.pending_bytes) {
                            self.flush(&finish).await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => self.flush(&finish).await,
            }
        }
        self.start_deadline();
        // No more events can come in: refuse new room, then drain what is queued.
        self.input.room.close();
        self.input.rx.close();
        while let Some(events) = self.input.rx.recv().await {
            self.add(events);
        }
        self.flush(&finish).await;
        let c = self.input.counters.snapshot();
        tracing::info!(
            sink = %self.sink.describe(),
            shipped = c.shipped, rejected = c.rejected, dropped = c.dropped,
            failed = c.failed, retried = c.retried,
            "log shipper finished"
        );
    }

    fn add(&mut self, events: Vec<LogEvent>) {
        self.pending_bytes += events.iter().map(event_size).sum::<usize>();
        self.pending.extend(events);
    }

    fn start_deadline(&mut self) {
        if self.deadline.is_none() {
            self.deadline = Some(Instant::now() + self.options.flush_timeout);
        }
    }

    /// Sends every pending event, batch by batch, each until it is stored.
    async fn flush(&mut self, finish: &CancellationToken) {
        if self.pending.is_empty() {
            return;
        }
        self.pending_bytes = 0;
        let out = make_batches(std::mem::take(&mut self.pending));
        if !out.refused.is_empty() {
            tracing::warn!(count = out.refused.len(), "log events over 1 MB refused");
            self.finished(out.refused.len(), |c| &c.rejected);
        }
        for batch in out.batches {
            self.deliver(batch, finish).await;
        }
    }

    /// Sends one batch, retrying transient errors with backoff, until it is
    /// stored, refused as invalid, or the shutdown budget is spent.
    async fn deliver(&mut self, batch: Batch, finish: &CancellationToken) {
        let n = batch.len();
        let mut attempt: u32 = 0;
        loop {
            if finish.is_cancelled() {
                self.start_deadline();
            }
            let result = match self.deadline {
                None => self.sink.put(&batch).await,
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline, self.sink.put(&batch)).await {
                        Ok(r) => r,
                        Err(_) => return self.give_up(n, "flush budget spent during a send"),
                    }
                }
            };
            let error = match result {
                Ok(outcome) => {
                    let rejected = (outcome.rejected as usize).min(n);
                    if rejected > 0 {
                        tracing::warn!(rejected, "the sink rejected log events");
                    }
                    self.finished(rejected, |c| &c.rejected);
                    self.finished(n - rejected, |c| &c.shipped);
                    return;
                }
                Err(e) => e,
            };
            if is_retriable(&error) == Retry::No {
                tracing::error!(%error, events = n, "log batch refused; counted as failed");
                return self.finished(n, |c| &c.failed);
            }
            self.input.counters.retried.fetch_add(1, Relaxed);
            let delay = match error {
                // The sink recreated what was missing: resend at once.
                SinkError::ResourceNotFound(_) if attempt == 0 => Duration::ZERO,
                _ => self.options.backoff.delay(attempt, rand::random::<f64>()),
            };
            tracing::debug!(%error, attempt, ?delay, "log batch send failed; will retry");
            attempt = attempt.saturating_add(1);
            let wake = Instant::now() + delay;
            if self.deadline.is_some_and(|d| wake > d) {
                return self.give_up(n, &error.to_string());
            }
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                // Shutdown began: re-check against the new deadline right away.
                () = finish.cancelled(), if self.deadline.is_none() => {}
            }
        }
    }

    fn give_up(&self, n: usize, why: &str) {
        tracing::error!(
            events = n,
            why,
            "log events not delivered before the flush deadline"
        );
        self.finished(n, |c| &c.failed);
    }

    /// Counts `n` events as done and gives their room back to the queue.
    fn finished(&self, n: usize, counter: impl Fn(&Counters) -> &AtomicU64) {
        if n == 0 {
            return;
        }
        counter(&self.input.counters).fetch_add(n as u64, Relaxed);
        self.input.room.add_permits(n);
    }
}

#[cfg(test)]
mod tests;
