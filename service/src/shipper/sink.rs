//! The one seam to a log backend: the [`LogSink`] trait, its error type, and
//! [`MemorySink`], an in-memory fake for tests that can be told to fail.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::LogEvent;
use super::batch::Batch;

/// A log backend that accepts one batch at a time.
#[async_trait]
pub trait LogSink: Send + Sync + 'static {
    /// Sends one batch (already within every limit). `Ok` tells how many of its
    /// events the backend refused (e.g. too old); the rest are stored.
    async fn put(&self, batch: &Batch) -> Result<PutOutcome, SinkError>;

    /// A short description for logs, e.g. `cloudwatch:HelloWorldAPI/i-123`.
    fn describe(&self) -> String;
}

/// What the backend did with a batch it answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutOutcome {
    pub rejected: u64,
}

/// Why a send failed, independent of the backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("server error {status}: {message}")]
    Server { status: u16, message: String },
    /// Not sent (refused, connect timeout): a resend cannot make a copy.
    #[error("network: {0}")]
    Network(String),
    /// Sent, but no answer came (timeout after sending, connection dropped
    /// before the response): the backend may have stored it.
    #[error("no answer, outcome unknown: {0}")]
    Unknown(String),
    #[error("log group or stream missing: {0}")]
    ResourceNotFound(String),
    #[error("i/o: {0}")]
    Io(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("access denied: {0}")]
    Denied(String),
}

/// In-memory sink for unit tests: stores every accepted event, fails the next
/// calls as scripted, and can be paused so tests can hold sends in flight.
#[derive(Clone, Default)]
pub struct MemorySink {
    inner: Arc<MemoryInner>,
}

struct MemoryInner {
    stored: Mutex<Vec<LogEvent>>,
    batches: Mutex<Vec<usize>>,
    failures: Mutex<VecDeque<SinkError>>,
    down: Mutex<Option<SinkError>>,
    calls: std::sync::atomic::AtomicU64,
    /// `true` while sends are held.
    gate: tokio::sync::watch::Sender<bool>,
}

impl Default for MemoryInner {
    fn default() -> Self {
        MemoryInner {
            stored: Mutex::default(),
            batches: Mutex::default(),
            failures: Mutex::default(),
            down: Mutex::default(),
            calls: Default::default(),
            gate: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl MemorySink {
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// The next `put` calls fail with these errors, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = SinkError>) {
        self.inner.failures.lock().unwrap().extend(errors);
    }

    /// While set, every `put` fails with this error.
    pub fn set_down(&self, error: Option<SinkError>) {
        *self.inner.down.lock().unwrap() = error;
    }

    /// Holds every `put` until [`MemorySink::release`].
    pub fn hold(&self) {
        self.inner.gate.send_replace(true);
    }

    pub fn release(&self) {
        self.inner.gate.send_replace(false);
    }

    /// Every event accepted so far, in the order received.
    pub fn stored(&self) -> Vec<LogEvent> {
        self.inner.stored.lock().unwrap().clone()
    }

    /// Sizes of the accepted batches.
    pub fn batch_sizes(&self) -> Vec<usize> {
        self.inner.batches.lock().unwrap().clone()
    }

    /// Number of `put` calls, failed ones included.
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[async_trait]
impl LogSink for MemorySink {
    async fn put(&self, batch: &Batch) -> Result<PutOutcome, SinkError> {
        self.inner
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut gate = self.inner.gate.subscribe();
        let _ = gate.wait_for(|held| !*held).await;
        if let Some(e) = self.inner.down.lock().unwrap().clone() {
            return Err(e);
        }
        if let Some(e) = self.inner.failures.lock().unwrap().pop_front() {
            return Err(e);
        }
        self.inner
            .stored
            .lock()
            .unwrap()
            .extend(batch.events.iter().cloned());
        self.inner.batches.lock().unwrap().push(batch.len());
        Ok(PutOutcome::default())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}
