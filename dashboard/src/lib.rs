//! The hellofleet dashboard: server-rendered askama views of the controller's
//! state, kept live over Server-Sent Events.
//!
//! The controller implements [`Source`] on its shared state and mounts
//! [`router`] (on `:9090` by default). Routes:
//! - `GET /` — the full page (`?window=5m`); readable without JavaScript.
//! - `GET /events` — SSE, one `live` event carrying the rendered live section
//!   after each tick, at most once a second per client; ends when the client
//!   goes or on shutdown.
//! - `GET /assets/...` — the embedded CSS and script (nothing leaves the machine).
//!
//! (Skeleton: the views, templates and SSE stream are being filled in; see issue 5.)

use std::sync::Arc;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

/// What the dashboard reads; the controller implements it on its shared state.
/// Every method is cheap and non-blocking (called from async handlers).
pub trait Source: Send + Sync + 'static {
    /// The fleet now.
    fn status(&self) -> proto::Status;
    /// Recent decisions, oldest first (bounded by the controller).
    fn decisions(&self) -> Vec<proto::DecisionRecord>;
    /// Chart samples at or after `since_ms` (Unix ms), oldest first.
    fn metrics(&self, since_ms: u64) -> Vec<proto::MetricPoint>;
    /// A tick counter that changes after every controller tick.
    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64>;
}

/// The dashboard's routes. Open SSE streams end when `shutdown` is cancelled,
/// so the server's graceful shutdown is not held up by open dashboards.
pub fn router(source: Arc<dyn Source>, shutdown: CancellationToken) -> Router {
    let _ = (source, shutdown);
    Router::new().route(
        "/",
        get(|| async { Html("<!doctype html><title>hellofleet</title>") }),
    )
}
