//! The hand-over from requests to the [`Shipper`](super::Shipper): a
//! [`LogQueue`] cloned into every handler, its [`QueueReceiver`], and the
//! shared [`Counters`].
//!
//! Two modes, chosen at start:
//! - spooled ([`queue_spooled`]): each request's events are encoded as one
//!   record and appended to the [`Spool`] before `enqueue` returns, then
//!   handed over in memory tagged with the record's end offset. Two bounds:
//!   the spool's bytes on disk, and a semaphore of `capacity` events held in
//!   memory, as in memory mode (a `/repeat`'s compact record is ~60 bytes on
//!   disk for ~1.5 KB of events in memory, so the byte bound alone would not
//!   bound memory). Group commit without a writer task: a request stages its
//!   record, yields once, and the first request of the group to run again
//!   writes every staged record with one `write` and hands their events over
//!   in order; each request returns after its own record's write.
//! - in memory ([`queue`]): a semaphore of `capacity` events bounds the queue;
//!   a crash loses what was not yet shipped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use tokio::sync::{Semaphore, mpsc};

use super::LogEvent;
use super::record;
use super::repeat::Entry;
use super::spool::{Recovered, Spool};
use crate::config::Overflow;

/// The shipper's counters (see [`proto::LogCounters`]).
#[derive(Debug, Default)]
pub struct Counters {
    pub(super) enqueued: AtomicU64,
    pub(super) shipped: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) retried: AtomicU64,
    pub(super) retried_unknown: AtomicU64,
    pub(super) failed: AtomicU64,
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
        let retried_unknown = self.retried_unknown.load(Relaxed);
        let enqueued = self.enqueued.load(Relaxed);
        proto::LogCounters {
            enqueued,
            shipped,
            queued: enqueued.saturating_sub(shipped + dropped + rejected + failed),
            dropped,
            rejected,
            retried,
            retried_unknown,
            failed,
        }
    }
}

/// Why events could not be handed over.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// The spool could not store them (disk full, I/O error): counted `failed`.
    #[error("{0}")]
    Spool(String),
}

/// A staged record, written when dropped if its request was abandoned
/// before it made sure (so no staged record waits for a later request).
struct Staged<'a> {
    queue: &'a LogQueue,
    spool: &'a Spool,
    end: u64,
    done: bool,
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.queue.write_staged(self.spool, self.end);
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
    spool: Option<Arc<Spool>>,
}

/// The receiving side, consumed by [`Shipper::new`](super::Shipper::new).
pub struct QueueReceiver {
    pub(super) rx: mpsc::UnboundedReceiver<Vec<LogEvent>>,
    pub(super) room: Arc<Semaphore>,
    pub(super) counters: Arc<Counters>,
    pub(super) spool: Option<Arc<Spool>>,
    /// Offset the spool had acknowledged at start.
    pub(super) acked: u64,
    /// Recovered events held beyond the capacity: room not to give back.
    pub(super) debt: usize,
}

/// An in-memory queue holding at most `capacity` events (queued plus in flight).
pub fn queue(capacity: usize, overflow: Overflow) -> (LogQueue, QueueReceiver) {
    build(Semaphore::new(capacity), overflow, None, 0)
}

/// A queue whose events are first appended to `spool`. What an earlier
/// process left unacknowledged is handed over first (and counted `enqueued`).
/// Two bounds apply: the spool's bytes on disk, and `capacity` events held in
/// memory (queued plus being sent), as without a spool. Recovered events
/// beyond `capacity` are handed over anyway; the room they take is given back
/// only once they are done with and no new events are admitted meanwhile.
pub fn queue_spooled(
    spool: Spool,
    recovered: Recovered,
    overflow: Overflow,
    capacity: usize,
) -> (LogQueue, QueueReceiver) {
    let (queue, mut input) = build(
        Semaphore::new(capacity.min(Semaphore::MAX_PERMITS)),
        overflow,
        Some(Arc::new(spool)),
        recovered.acked,
    );
    let total: usize = recovered.records.iter().map(|r| r.1.len()).sum();
    input.debt = total - queue.room.forget_permits(total);
    for (end, mut events) in recovered.records {
        queue
            .counters
            .enqueued
            .fetch_add(events.len() as u64, Relaxed);
        events.iter_mut().for_each(|e| e.record = end);
        let _ = queue.tx.send(events);
    }
    (queue, input)
}

fn build(
    room: Semaphore,
    overflow: Overflow,
    spool: Option<Arc<Spool>>,
    acked: u64,
) -> (LogQueue, QueueReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let room = Arc::new(room);
    let counters = Arc::new(Counters::default());
    (
        LogQueue {
            tx,
            room: room.clone(),
            counters: counters.clone(),
            overflow,
            spool: spool.clone(),
        },
        QueueReceiver {
            rx,
            room,
            counters,
            spool,
            acked,
            debt: 0,
        },
    )
}

impl LogQueue {
    /// Hands events to the shipper. Waits only for room (block mode). With a
    /// spool, the events are in it when this returns `Ok`.
    pub async fn enqueue(&self, entry: impl Into<Entry>) -> Result<(), EnqueueError> {
        let entry = entry.into();
        if entry.events.is_empty() {
            return Ok(());
        }
        match &self.spool {
            Some(spool) => self.enqueue_spooled(spool, entry).await,
            None => {
                self.enqueue_memory(entry.events).await;
                Ok(())
            }
        }
    }

    async fn enqueue_spooled(&self, spool: &Spool, entry: Entry) -> Result<(), EnqueueError> {
        let Entry { events, repeat } = entry;
        let n = events.len() as u64;
        // A /repeat's record is its compact form: the messages are rebuilt
        // from it when read back.
        let record = match &repeat {
            Some(r) => {
                let mut out = Vec::with_capacity(64 + r.log.instance_id.len());
                record::encode_repeat(r, &mut out);
                out
            }
            None => {
                let size = events.iter().map(|e| 12 + e.message.len()).sum::<usize>();
                let mut out = Vec::with_capacity(16 + size);
                record::encode(&events, &mut out);
                out
            }
        };
        // The in-memory bound first (the events are held until shipped).
        let Ok(permits) = u32::try_from(n) else {
            self.counters.enqueued.fetch_add(n, Relaxed);
            self.counters.dropped.fetch_add(n, Relaxed);
            return Ok(());
        };
        // None (closed): the shipper has finished; the record is still
        // written, for the next process, and its events counted `failed`.
        let held = match self.overflow {
            Overflow::Block => self.room.acquire_many(permits).await.ok(),
            Overflow::Drop => match self.room.try_acquire_many(permits) {
                Ok(p) => Some(p),
                Err(tokio::sync::TryAcquireError::NoPermits) => {
                    self.counters.enqueued.fetch_add(n, Relaxed);
                    self.counters.dropped.fetch_add(n, Relaxed);
                    return Ok(());
                }
                Err(tokio::sync::TryAcquireError::Closed) => None,
            },
        };
        let mut events = events;
        let end = loop {
            // Registered before the attempt, so a commit in between is not missed.
            let freed = spool.room().notified();
            events = match spool.stage(&record, events) {
                Ok(end) => break end,
                Err(events) => events,
            };
            if self.overflow == Overflow::Drop {
                self.counters.enqueued.fetch_add(n, Relaxed);
                self.counters.dropped.fetch_add(n, Relaxed);
                return Ok(());
            }
            // Block: wait for a commit to free room. The request's own
            // timeout bounds the wait; abandoning it hands nothing over.
            freed.await;
        };
        // Staged: the shipper gives the room back once they are done with
        // (or the hand-over below, if the write fails).
        if let Some(p) = held {
            p.forget();
        }
        let mut staged = Staged {
            queue: self,
            spool,
            end,
            done: false,
        };
        // Let the requests that are ready stage theirs, so one `write` takes
        // them all (group commit without a writer task).
        tokio::task::yield_now().await;
        staged.done = true;
        self.write_staged(spool, end)
    }

    /// Makes sure the staged record ending at `end` is written; the one that
    /// writes hands every staged record's events to the shipper, in order.
    fn write_staged(&self, spool: &Spool, end: u64) -> Result<(), EnqueueError> {
        spool
            .write_staged(end, |end, mut events, written| {
                let n = events.len() as u64;
                events.iter_mut().for_each(|e| e.record = end);
                // Counted before the hand-over, so `queued` never goes negative.
                self.counters.enqueued.fetch_add(n, Relaxed);
                if !written {
                    self.counters.failed.fetch_add(n, Relaxed);
                    self.room.add_permits(n as usize);
                } else if self.tx.send(events).is_err() {
                    // The shipper has finished: the record stays in the
                    // spool for the next process.
                    self.counters.failed.fetch_add(n, Relaxed);
                }
            })
            .map_err(|e| EnqueueError::Spool(e.to_string()))
    }

    async fn enqueue_memory(&self, events: Vec<LogEvent>) {
        let n = events.len() as u64;
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

    /// Bytes in the spool's segments, if there is a spool.
    pub fn spool_bytes(&self) -> Option<u64> {
        self.spool.as_ref().map(|s| s.bytes())
    }
}
