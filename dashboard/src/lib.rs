//! The hellofleet dashboard: server-rendered askama views of the controller's
//! state, kept live over Server-Sent Events.
//!
//! The controller implements [`Source`] on its shared state and mounts
//! [`router`] (on `:9090` by default). Routes:
//! - `GET /` — the full page (`?window=1m|5m|15m|1h`, default 5m); readable
//!   without JavaScript (it then reloads itself every tick, at least 5 s).
//! - `GET /events` — SSE: one `live` event with the rendered live section on
//!   connect and after each tick, at most once a second per client; ends
//!   when the client goes, when the tick sender is dropped, or on shutdown.
//! - `GET /fragments/live` — the live section alone (what `/events` pushes).
//!
//! The live section opens with a banner while the controller's calls fail
//! (`proto::ControllerHealth::failing`) and lists configuration warnings. Late
//! ticks cannot change a section cached per tick, so the page says so itself
//! when served, and `live.js` when no event came for three ticks.
//! - `GET /assets/dashboard.css`, `GET /assets/live.js` — embedded; no request
//!   leaves the machine (no CDN, no web fonts).
//!
//! Codemap:
//! - [`view`]: pure view models (formatting, ages, classes, the timeline). No I/O.
//! - [`chart`]: pure SVG chart geometry. No I/O.
//! - [`window`]: the `?window=` values.
//! - `render`: askama templates (`templates/`) and the per-tick fragment cache.
//! - `routes`: the axum handlers.
//! - `sse`: the hub that fans each tick's fragment out to the open streams.
//! - `fake` (unit tests and feature `test-support` only): an in-memory [`Source`] for
//!   tests, the example and the benchmarks; never in a production build.
//!
//! Invariants: the live section is a function of (tick, window) only, rendered
//! once per tick and window however many dashboards are open; the
//! controller's tick wakes one task (the hub), not one per dashboard.

pub mod chart;
#[cfg(any(test, feature = "test-support"))]
pub mod fake;
mod render;
mod routes;
mod sse;
pub mod view;
pub mod window;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

pub use render::{RenderError, live_from_source};
pub use sse::{MAX_SSE_CLIENTS, MIN_PUSH_INTERVAL};
pub use window::{UnknownWindow, Window};

/// What the dashboard reads; the controller implements it on its shared state.
/// Every method is cheap and non-blocking (called from async handlers).
pub trait Source: Send + Sync + 'static {
    /// The fleet now.
    fn status(&self) -> proto::Status;
    /// Recent decisions, oldest first (bounded by the controller).
    fn decisions(&self) -> Vec<proto::DecisionRecord>;
    /// Chart samples at or after `since_ms` (Unix ms), oldest first.
    fn metrics(&self, since_ms: u64) -> Vec<proto::MetricPoint>;
    /// A tick counter that changes after every controller tick (after the
    /// status, decisions and metrics of that tick are visible).
    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64>;
}

/// The dashboard's routes. Open SSE streams end when `shutdown` is cancelled,
/// so the server's graceful shutdown is not held up by open dashboards.
pub fn router(source: Arc<dyn Source>, shutdown: CancellationToken) -> Router {
    let cache = Arc::new(render::FragmentCache::new(source));
    let state = routes::AppState {
        hub: Arc::new(sse::Hub::new(Arc::clone(&cache), shutdown)),
        cache,
    };
    Router::new()
        .route("/", get(routes::page))
        .route("/events", get(routes::events))
        .route("/fragments/live", get(routes::live_fragment))
        .route("/assets/dashboard.css", get(routes::css))
        .route("/assets/live.js", get(routes::js))
        .with_state(state)
}
