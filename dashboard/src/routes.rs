//! HTTP handlers: the page, the live fragment, the SSE stream and the assets.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use futures::Stream;
use serde::Deserialize;

use crate::render::{self, FragmentCache, RenderError};
use crate::sse::{Hub, MAX_SSE_CLIENTS};
use crate::window::{UnknownWindow, Window};

#[derive(Clone)]
pub struct AppState {
    pub cache: Arc<FragmentCache>,
    pub hub: Arc<Hub>,
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
    // Late ticks stop the fragment from changing, so the page says so itself (and the
    // script, live, when no event comes for three ticks).
    let h = &status.health;
    let late = (h.last_tick_at_ms != 0)
        .then(|| h.late(status.policy.tick_ms))
        .flatten();
    let html = render::page_html(
        &status.group.name,
        window,
        status.policy.tick_ms,
        late,
        &live,
    )?;
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
    let client = st.hub.connect(window).ok_or(AppError::TooManyClients)?;
    Ok(Sse::new(client.into_stream()).keep_alive(KeepAlive::default()))
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
