//! The controller's HTTP API on one port, as a `Router` ([`app`]) that tests call with
//! `oneshot` and no socket.
//!
//! - `GET /api/status` → [`super::state::StatusResponse`] (`proto::Status` + counters)
//! - `GET /api/decisions` → `Vec<proto::DecisionRecord>`, oldest first
//! - `GET /api/metrics?since=<unix ms>` → `Vec<proto::MetricPoint>`, oldest first
//! - `POST /api/reports` ← `proto::LoadReport`, signed (`proto::sign`, header
//!   `X-Hellofleet-Signature`): 202 accepted, 200 duplicate; refused and counted (`reports`
//!   in `/api/status`): 413 body too large (read with a limit first), 401 unsigned, badly
//!   signed, stale or replayed signature (checked before the body is parsed), 400 malformed
//!   JSON, 422 failed `validate()`, 404 unknown instance (not in the latest snapshot nor
//!   launched since: pending instances count), 409 a report of an older process start
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
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_http::timeout::TimeoutLayer;

use super::state::{Shared, StatusResponse};
use fleetcore::aggregate::Ingested;

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
    #[error("the report is refused: {0}")]
    Signature(#[from] proto::sign::SignatureError),
    #[error("the report is refused: this signature was already used")]
    Replayed,
    #[error("the report is refused: instance `{0}` has a newer process start")]
    OldProcess(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let code = match &self {
            AppError::Malformed(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::UnknownInstance(_) => StatusCode::NOT_FOUND,
            AppError::Signature(_) | AppError::Replayed => StatusCode::UNAUTHORIZED,
            AppError::OldProcess(_) => StatusCode::CONFLICT,
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

async fn ingest(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let now = super::now_ms();
    let result = match parse_report(&s, &headers, body, now).await {
        Ok(report) => {
            let id = report.instance_id.clone();
            match s.ingest(report, now) {
                Ingested::OldProcess => Err(AppError::OldProcess(id)),
                Ingested::Duplicate => Ok(StatusCode::OK),
                _ => Ok(StatusCode::ACCEPTED),
            }
        }
        Err(e) => {
            use proto::sign::SignatureError as S;
            let c = &s.counters;
            let counter = match &e {
                AppError::Malformed(_) => &c.malformed,
                AppError::TooLarge(_) => &c.too_large,
                AppError::Invalid(_) => &c.invalid,
                AppError::UnknownInstance(_) => &c.unknown_instance,
                AppError::Signature(S::Missing) => &c.unsigned,
                AppError::Signature(S::Malformed | S::Mismatch) => &c.bad_signature,
                AppError::Signature(S::Stale(_)) => &c.stale_signature,
                AppError::Replayed => &c.replayed,
                // Not from `parse_report`: `Shared::ingest` refuses and counts it.
                AppError::OldProcess(_) => &c.old_process,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            Err(e)
        }
    };
    if let Err(e) = &result {
        tracing::debug!(error = %e, "load report refused");
    }
    Ok(result?.into_response())
}

/// Size limit → signature (before any parsing) → replay → JSON → `validate()` → membership.
async fn parse_report(
    s: &Shared,
    headers: &HeaderMap,
    body: Body,
    now_ms: u64,
) -> Result<proto::LoadReport, AppError> {
    let limit = s.max_report_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner.is::<http_body_util::LengthLimitError>() {
            AppError::TooLarge(limit)
        } else {
            AppError::Malformed(format!("the body could not be read: {inner}"))
        }
    })?;
    let header = headers
        .get(proto::sign::SIGNATURE_HEADER)
        .map(|v| v.as_bytes());
    match &s.report_key {
        Some(key) => {
            let v = proto::sign::verify(key, header, &bytes, now_ms, s.max_skew_ms)?;
            if !s.first_sight(&v, now_ms) {
                return Err(AppError::Replayed);
            }
        }
        None if s.require_signature => {
            return Err(AppError::Signature(proto::sign::SignatureError::Missing));
        }
        None => {}
    }
    let report: proto::LoadReport =
        serde_json::from_slice(&bytes).map_err(|e| AppError::Malformed(e.to_string()))?;
    report.validate()?;
    // A report from the future would take over its instance's process start (below) and
    // make the real reports look old: its times must agree with the controller's clock.
    if report.sent_at_ms > now_ms.saturating_add(s.max_skew_ms) {
        return Err(AppError::Invalid(proto::report::ReportError::Ahead(
            report.sent_at_ms - now_ms,
        )));
    }
    if !s.is_known(&report.instance_id) {
        return Err(AppError::UnknownInstance(report.instance_id));
    }
    Ok(report)
}
