//! The log shipper: requests hand events to a bounded [`LogQueue`] and return;
//! one [`Shipper`] task batches them ([`batch`]), sends them to a [`LogSink`]
//! and retries transient failures ([`retry`]) until they are stored.
//!
//! With a data dir, the queue is spooled ([`queue`](mod@queue), [`spool`]): a request's
//! events are one [`record`] appended to a segment file before the request is
//! answered, and the shipper moves the acknowledged offset ([`ack`]) as
//! batches are stored, so the next process ships what this one left.
//!
//! Invariants:
//! - A request never waits on the network. In `block` mode it waits only for
//!   room in the queue or spool (backpressure); in `drop` mode it never waits,
//!   and every dropped event is counted.
//! - Queue capacity bounds every event the shipper holds, including those in
//!   a batch being retried, so memory stays bounded while the sink is down
//!   (with a spool too, beside the spool's byte bound on disk; only what a
//!   start-up recovers may exceed it, and then no new event is admitted until
//!   the excess is shipped).
//! - Every event handed over is counted exactly once as shipped, rejected,
//!   dropped or failed; until then it is `queued`.
//! - Events are only given up (counted `failed`) after shutdown began and the
//!   flush budget ran out, or when the backend says the request is invalid.
//!   With a spool, those given up at shutdown stay in it for the next process.
//! - The spool's acknowledged offset only covers events stored, rejected or
//!   refused as invalid; a crash between a store and its ack re-sends the
//!   batch, whose copies carry the same event ids.

pub mod ack;
pub mod batch;
pub mod cloudwatch;
pub mod file;
pub mod queue;
pub mod record;
pub mod repeat;
pub mod retry;
pub mod sink;
pub mod spool;
pub mod text;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use ack::AckTracker;
use batch::{Batch, event_size, make_batches, should_flush_now};
pub use queue::{Counters, EnqueueError, LogQueue, QueueReceiver, queue, queue_spooled};
pub use repeat::Entry;
use retry::{Backoff, Retry, is_retriable};
pub use sink::{LogSink, MemorySink, PutOutcome, SinkError};
pub use text::Text;

/// One log event. The message is shared so that copies cost no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Unix milliseconds.
    pub timestamp_ms: i64,
    pub message: Text,
    /// End offset of the spool record holding it; 0 when not spooled.
    pub record: u64,
}

impl LogEvent {
    pub fn new(timestamp_ms: i64, message: impl Into<Text>) -> LogEvent {
        LogEvent {
            timestamp_ms,
            message: message.into(),
            record: 0,
        }
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
    /// How far the spool is acknowledged (unused without a spool).
    acks: AckTracker,
}

impl Shipper {
    pub fn new(input: QueueReceiver, sink: Arc<dyn LogSink>, options: ShipperOptions) -> Shipper {
        let acks = AckTracker::new(input.acked);
        Shipper {
            input,
            sink,
            options,
            pending: Vec::new(),
            pending_bytes: 0,
            deadline: None,
            acks,
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
            failed = c.failed, retried = c.retried, retried_unknown = c.retried_unknown,
            spool_acked = self.input.spool.as_ref().map(|s| s.acked()),
            "log shipper finished"
        );
    }

    fn add(&mut self, events: Vec<LogEvent>) {
        // One hand-over is one spool record.
        if let Some(first) = events.first().filter(|e| e.record != 0) {
            self.acks.push(first.record, events.len());
        }
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
            self.settle(&out.refused);
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
                    return self.settle(&batch.events);
                }
                Err(e) => e,
            };
            if is_retriable(&error) == Retry::No {
                tracing::error!(%error, events = n, "log batch refused; counted as failed");
                self.finished(n, |c| &c.failed);
                // Refused as invalid: never sendable, so done with. Denied: a
                // later process (fixed credentials) ships them from the spool.
                if !matches!(error, SinkError::Denied(_)) {
                    self.settle(&batch.events);
                }
                return;
            }
            self.input.counters.retried.fetch_add(1, Relaxed);
            if matches!(error, SinkError::Unknown(_)) {
                // The backend may have stored it: the resend may be a copy,
                // recognisable by the events' ids.
                self.input.counters.retried_unknown.fetch_add(1, Relaxed);
            }
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

    fn give_up(&mut self, n: usize, why: &str) {
        tracing::error!(
            events = n,
            why,
            "log events not delivered before the flush deadline"
        );
        self.finished(n, |c| &c.failed);
    }

    /// Counts `n` events as done and gives their room back to the queue.
    fn finished(&mut self, n: usize, counter: impl Fn(&Counters) -> &AtomicU64) {
        if n == 0 {
            return;
        }
        counter(&self.input.counters).fetch_add(n as u64, Relaxed);
        // Room in memory; the spool's room is freed by `settle`. Recovered
        // events held beyond the capacity give none back.
        let owed = self.input.debt.min(n);
        self.input.debt -= owed;
        if n > owed {
            self.input.room.add_permits(n - owed);
        }
    }

    /// Marks these events' spool records as done with; once a prefix of the
    /// spool is, records that in the `ack` file and frees its segments.
    fn settle(&mut self, events: &[LogEvent]) {
        let Some(spool) = &self.input.spool else {
            return;
        };
        let mut moved = None;
        let mut rest = events;
        while let Some(first) = rest.first() {
            let run = rest.iter().take_while(|e| e.record == first.record).count();
            moved = self.acks.finish(first.record, run).or(moved);
            rest = &rest[run..];
        }
        if let Some(acked) = moved
            && let Err(e) = spool.commit(acked)
        {
            // Not fatal: the next commit retries; a crash before it reships
            // (copies recognisable by id).
            tracing::warn!(error = %e, "spool: could not record the acknowledged offset");
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_spooled;
