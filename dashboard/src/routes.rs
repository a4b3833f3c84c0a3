//! HTTP handlers: the page, the live fragment, the SSE stream and the assets.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::render::{self, FragmentCache, RenderError};
use crate::window::{UnknownWindow, Window};

/// At most one `live` event per second per client.
pub const MIN_PUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Open SSE streams beyond this get `503` (each costs a task and a socket).
pub const MAX_SSE_CLIENTS: usize = 256;
/// How long a browser waits before reconnecting a dropped stream.
const RETRY: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct AppState {
    pub cache: Arc<FragmentCache>,
    pub shutdown: CancellationToken,
    pub clients: Arc<Semaphore>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    BadWindow(#[from] UnknownWindow),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("too many open dashboards (at most {MAX_SSE_CLIENTS})")]
    TooManyClients,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match self {
            AppError::BadWindow(_) => StatusCode::BAD_REQUEST,
            AppError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::TooManyClients => StatusCode::SERVICE_UNAVAILABLE,
        };
        let body = match self {
            // Internal details stay out of the response body.
            AppError::Render(_) => "internal error while rendering the dashboard".to_string(),
            other => other.to_string(),
        };
        (status, body).into_response()
    }
}

#[derive(Debug, Deserialize)]
pub struct WindowQuery {
    window: Option<String>,
}

fn window_of(q: &WindowQuery) -> Result<Window, UnknownWindow> {
    Window::parse(q.window.as_deref())
}

fn current_tick(st: &AppState) -> u64 {
    *st.cache.source().subscribe().borrow()
}

pub async fn page(
    State(st): State<AppState>,
    Query(q): Query<WindowQuery>,
) -> Result<Html<String>, AppError> {
    let window = window_of(&q)?;
    let live = st.cache.live(window, current_tick(&st))?;
    let status = st.cache.source().status();
    let html = render::page_html(&status.group.name, window, status.policy.tick_ms, &live)?;
    Ok(Html(html))
}

pub async fn live_fragment(
    State(st): State<AppState>,
    Query(q): Query<WindowQuery>,
) -> Result<Html<String>, AppError> {
    let window = window_of(&q)?;
    Ok(Html(st.cache.live(window, current_tick(&st))?.to_string()))
}

pub async fn events(
    State(st): State<AppState>,
    Query(q): Query<WindowQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let window = window_of(&q)?;
    let permit = st
        .clients
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::TooManyClients)?;
    let client = Client {
        ticks: st.cache.source().subscribe(),
        cache: st.cache.clone(),
        shutdown: st.shutdown.clone(),
        window,
        last_push: None,
        _permit: permit,
    };
    Ok(Sse::new(futures::stream::unfold(client, Client::next)).keep_alive(KeepAlive::default()))
}

/// One open dashboard's stream state. Dropped (releasing its permit) when the
/// client goes away or the stream ends.
struct Client {
    ticks: watch::Receiver<u64>,
    cache: Arc<FragmentCache>,
    shutdown: CancellationToken,
    window: Window,
    last_push: Option<Instant>,
    _permit: OwnedSemaphorePermit,
}

impl Client {
    /// The next `live` event: right away on connect (so a reconnecting page is
    /// current), then after each tick but at most once per
    /// [`MIN_PUSH_INTERVAL`]; ticks inside the interval fold into one push.
    /// Ends on shutdown or when the tick sender is gone.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Client)> {
        if let Some(last) = self.last_push {
            tokio::select! {
                _ = self.shutdown.cancelled() => return None,
                changed = self.ticks.changed() => changed.ok()?,
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return None,
                _ = tokio::time::sleep_until(last + MIN_PUSH_INTERVAL) => {}
            }
        } else if self.shutdown.is_cancelled() {
            return None;
        }
        let tick = *self.ticks.borrow_and_update();
        let event = match self.cache.live(self.window, tick) {
            Ok(html) => Event::default()
                .event("live")
                .id(tick.to_string())
                .retry(RETRY)
                .data(&*html),
            Err(e) => Event::default().event("failed").data(e.to_string()),
        };
        self.last_push = Some(Instant::now());
        Some((Ok(event), self))
    }
}

pub async fn css() -> impl IntoResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/dashboard.css"),
    )
}

pub async fn js() -> impl IntoResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/live.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
}
