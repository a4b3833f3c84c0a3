//! The HTTP routes: `fn app(state) -> Router`, so tests call it with `oneshot`.
//!
//! Every response, 404 and 405 included, passes through [`observe`], which
//! adds `X-Instance-Id`, tracks the user (issuing a `uid` cookie on first
//! contact), counts the request, and adds `Connection: close` while draining
//! so clients stop reusing connections to an instance that is going away.

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::timeout::TimeoutLayer;

use crate::metrics::RouteLabel;
use crate::state::{AppState, unix_ms};
use crate::users;

const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// The router with every route and the observing middleware.
pub fn app(state: AppState) -> Router {
    let request_timeout = state.request_timeout();
    Router::new()
        .route("/hello", get(hello))
        // Only /repeat can wait (for queue room, in block mode): the timeout
        // sits there, sparing the other routes a timer per request.
        .route(
            "/repeat",
            get(repeat).layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                request_timeout,
            )),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(proto::LOAD_REPORT_PATH, get(load))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn hello() -> Response {
    ([(header::CONTENT_TYPE, TEXT)], "Hello World").into_response()
}

/// 100 lines; a log event on every 5th iteration, handed to the shipper
/// without waiting on the network (only on queue room, in block mode).
async fn repeat(State(state): State<AppState>) -> Response {
    let now = i64::try_from(unix_ms()).unwrap_or(i64::MAX);
    state.logs().enqueue(state.repeat_events(now)).await;
    ([(header::CONTENT_TYPE, TEXT)], state.repeat_body()).into_response()
}

async fn healthz() -> Response {
    ([(header::CONTENT_TYPE, TEXT)], "ok").into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_draining() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, TEXT)],
            "draining",
        )
            .into_response()
    } else {
        ([(header::CONTENT_TYPE, TEXT)], "ready").into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.render_metrics(),
    )
        .into_response()
}

async fn load(State(state): State<AppState>) -> Response {
    axum::Json(state.load_report()).into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, TEXT)],
        "not found",
    )
        .into_response()
}

/// Instance header, user tracking, metrics and drain behaviour for every request.
async fn observe(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let route = RouteLabel::of(request.uri().path());
    let _in_flight = state.metrics().start(route);
    let mut new_user = None;
    if route.is_traffic() {
        let hash = match users::user_id(request.headers()) {
            Some(id) => proto::sketch::hash64(id.as_bytes()),
            None => {
                let id = users::new_user_id();
                let hash = proto::sketch::hash64(id.as_bytes());
                new_user = Some(id);
                hash
            }
        };
        state.touch_user(hash);
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(proto::INSTANCE_ID_HEADER, state.instance_header().clone());
    if let Some(Ok(v)) = new_user.map(|id| HeaderValue::from_str(&users::set_cookie(&id))) {
        headers.append(header::SET_COOKIE, v);
    }
    if state.is_draining() {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    state
        .metrics()
        .record(route, response.status().as_u16(), started.elapsed());
    response
}
