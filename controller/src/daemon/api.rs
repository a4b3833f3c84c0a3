//! The controller's HTTP API on one port, as a `Router` ([`app`]) that tests call with
//! `oneshot` and no socket.
//!
//! - `GET /api/status` → [`super::state::StatusResponse`] (`proto::Status` + counters)
//! - `GET /api/decisions` → `Vec<proto::DecisionRecord>`, oldest first
//! - `GET /api/metrics?since=<unix ms>` → `Vec<proto::MetricPoint>`, oldest first
//! - `POST /api/reports` ← `proto::LoadReport`: 202 accepted, 200 duplicate; refused and
//!   counted: 400 malformed JSON, 413 body too large, 422 failed `validate()`, 404 unknown
//!   instance (not in the latest snapshot; pending instances are in it)
//! - `GET /healthz` → `ok` (liveness)
//! - `GET /readyz` → 200, or 503 when the last tick is older than three ticks (the body says
//!   why; see `super::health`)
//! - `/` and the rest: the dashboard (`dashboard::router`)

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_http::timeout::TimeoutLayer;

use super::state::{Shared, StatusResponse};
use crate::aggregate::Ingested;

/// API handlers never take longer than this (the dashboard's SSE stream is not limited).
pub const API_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole HTTP surface of the daemon.
pub fn app(state: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/api/status", get(status))
        .route("/api/decisions", get(decisions))
        .route("/api/metrics", get(metrics))
        .route(proto::REPORT_INGEST_PATH, post(ingest))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(super::health::readyz))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            API_TIMEOUT,
        ))
        .with_state(Arc::clone(&state));
    let shutdown = state.shutdown.clone();
    api.merge(dashboard::router(state, shutdown))
}

/// Why a request failed; rendered as `{"error": "..."}` with the status code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the report is not valid JSON for a LoadReport: {0}")]
    Malformed(String),
    #[error("the report body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the report is refused: {0}")]
    Invalid(#[from] proto::report::ReportError),
    #[error("instance `{0}` is not in the group")]
    UnknownInstance(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let code = match &self {
            AppError::Malformed(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::UnknownInstance(_) => StatusCode::NOT_FOUND,
        };
        (code, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}

async fn status(State(s): State<Arc<Shared>>) -> Json<StatusResponse> {
    Json(s.status_response())
}

async fn decisions(State(s): State<Arc<Shared>>) -> Json<Vec<proto::DecisionRecord>> {
    Json(s.decisions())
}

#[derive(Debug, Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

async fn metrics(
    State(s): State<Arc<Shared>>,
    Query(q): Query<Since>,
) -> Json<Vec<proto::MetricPoint>> {
    Json(s.metrics_since(q.since))
}

async fn ingest(State(s): State<Arc<Shared>>, body: Body) -> Result<Response, AppError> {
    let result = parse_report(&s, body).await;
    let counter = match &result {
        Ok(_) => None,
        Err(AppError::Malformed(_)) => Some(&s.counters.malformed),
        Err(AppError::TooLarge(_)) => Some(&s.counters.too_large),
        Err(AppError::Invalid(_)) => Some(&s.counters.invalid),
        Err(AppError::UnknownInstance(_)) => Some(&s.counters.unknown_instance),
    };
    if let Some(c) = counter {
        c.fetch_add(1, Ordering::Relaxed);
    }
    if let Err(e) = &result {
        tracing::debug!(error = %e, "load report refused");
    }
    let report = result?;
    let code = match s.ingest(report, super::now_ms()) {
        Ingested::Duplicate => StatusCode::OK,
        _ => StatusCode::ACCEPTED,
    };
    Ok(code.into_response())
}

async fn parse_report(s: &Shared, body: Body) -> Result<proto::LoadReport, AppError> {
    let limit = s.max_report_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner.is::<http_body_util::LengthLimitError>() {
            AppError::TooLarge(limit)
        } else {
            AppError::Malformed(format!("the body could not be read: {inner}"))
        }
    })?;
    let report: proto::LoadReport =
        serde_json::from_slice(&bytes).map_err(|e| AppError::Malformed(e.to_string()))?;
    report.validate()?;
    if !s.is_known(&report.instance_id) {
        return Err(AppError::UnknownInstance(report.instance_id));
    }
    Ok(report)
}
