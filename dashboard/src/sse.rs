//! The live stream: one hub task per router fans a tick's rendered fragment
//! out to every open dashboard.
//!
//! The controller's tick wakes only the hub (one subscriber on the source's
//! tick channel, however many dashboards are open); the hub renders each
//! window that has viewers once, publishes it on that window's watch channel,
//! and the client streams pick it up. Ticks that arrive within
//! [`MIN_PUSH_INTERVAL`] of the last push fold into the next one; a slow
//! client skips to the latest fragment (a watch channel keeps only that).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::response::sse::Event;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::render::FragmentCache;
use crate::window::Window;

/// At most one `live` event per second per client.
pub const MIN_PUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Open SSE streams beyond this get `503` (each costs a task and a socket).
pub const MAX_SSE_CLIENTS: usize = 256;
/// How long a browser waits before reconnecting a dropped stream.
const RETRY: Duration = Duration::from_secs(2);

/// What a window's channel carries.
#[derive(Debug, Clone)]
enum Push {
    /// Nothing published yet.
    Pending,
    /// The live section for a tick, or why it could not be rendered.
    Fragment(u64, Result<Arc<str>, String>),
    /// The hub stopped (shutdown or the source went away): streams end.
    Closed,
}

pub struct Hub {
    cache: Arc<FragmentCache>,
    shutdown: CancellationToken,
    windows: HashMap<Window, watch::Sender<Push>>,
    clients: Arc<Semaphore>,
    started: OnceLock<()>,
}

impl Hub {
    pub fn new(cache: Arc<FragmentCache>, shutdown: CancellationToken) -> Hub {
        Hub {
            cache,
            shutdown,
            windows: Window::ALL
                .into_iter()
                .map(|w| (w, watch::channel(Push::Pending).0))
                .collect(),
            clients: Arc::new(Semaphore::new(MAX_SSE_CLIENTS)),
            started: OnceLock::new(),
        }
    }

    /// A stream for one dashboard: the current live section at once, then
    /// each published one. `None` when [`MAX_SSE_CLIENTS`] are open.
    pub fn connect(self: &Arc<Self>, window: Window) -> Option<ClientStream> {
        let permit = self.clients.clone().try_acquire_owned().ok()?;
        self.started.get_or_init(|| {
            // Subscribe now, not when the task first runs, so no tick is missed.
            let ticks = self.cache.source().subscribe();
            tokio::spawn(Arc::clone(self).run(ticks));
        });
        let mut rx = self.windows[&window].subscribe();
        rx.borrow_and_update();
        let tick = *self.cache.source().subscribe().borrow();
        let first = self.cache.live(window, tick).map_err(|e| e.to_string());
        Some(ClientStream {
            rx,
            shutdown: self.shutdown.clone(),
            first: Some(event(tick, first)),
            last_tick: tick,
            last_push: None,
            _permit: permit,
        })
    }

    async fn run(self: Arc<Self>, mut ticks: watch::Receiver<u64>) {
        let mut last_push: Option<Instant> = None;
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                changed = ticks.changed() => if changed.is_err() { break },
            }
            if let Some(last) = last_push {
                tokio::select! {
                    () = self.shutdown.cancelled() => break,
                    () = tokio::time::sleep_until(last + MIN_PUSH_INTERVAL) => {}
                }
            }
            let tick = *ticks.borrow_and_update();
            for (window, tx) in &self.windows {
                if tx.receiver_count() > 0 {
                    let html = self.cache.live(*window, tick).map_err(|e| e.to_string());
                    tx.send_replace(Push::Fragment(tick, html));
                }
            }
            last_push = Some(Instant::now());
        }
        for tx in self.windows.values() {
            tx.send_replace(Push::Closed);
        }
    }
}

fn event(tick: u64, html: Result<Arc<str>, String>) -> Event {
    match html {
        Ok(html) => Event::default()
            .event("live")
            .id(tick.to_string())
            .retry(RETRY)
            .data(&*html),
        Err(e) => Event::default().event("failed").data(e),
    }
}

/// One open dashboard. Dropped (releasing its permit) when the client goes.
pub struct ClientStream {
    rx: watch::Receiver<Push>,
    shutdown: CancellationToken,
    first: Option<Event>,
    last_tick: u64,
    last_push: Option<Instant>,
    _permit: OwnedSemaphorePermit,
}

impl ClientStream {
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<Event, Infallible>> {
        futures::stream::unfold(self, ClientStream::next)
    }

    async fn next(mut self) -> Option<(Result<Event, Infallible>, ClientStream)> {
        if self.shutdown.is_cancelled() {
            return None;
        }
        if let Some(first) = self.first.take() {
            self.last_push = Some(Instant::now());
            return Some((Ok(first), self));
        }
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return None,
                changed = self.rx.changed() => changed.ok()?,
            }
            // Never more than one push a second, even right after connecting.
            if let Some(last) = self.last_push {
                tokio::select! {
                    () = self.shutdown.cancelled() => return None,
                    () = tokio::time::sleep_until(last + MIN_PUSH_INTERVAL) => {}
                }
            }
            let push = self.rx.borrow_and_update().clone();
            match push {
                Push::Closed => return None,
                Push::Pending => continue,
                Push::Fragment(tick, _) if tick <= self.last_tick => continue,
                Push::Fragment(tick, html) => {
                    self.last_tick = tick;
                    self.last_push = Some(Instant::now());
                    return Some((Ok(event(tick, html)), self));
                }
            }
        }
    }
}
