//! Pushes the load report to the controller (`--report-to`): one POST of the
//! [`proto::LoadReport`] JSON every `--report-every`, signed with the key shared with the
//! controller (`--report-key-file`; [`proto::sign`], header `X-Hellofleet-Signature`). A
//! failed push is logged at debug and the next interval simply sends a fresh report;
//! pushing never touches the request path. The controller may also pull `GET /load`.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proto::sign::ReportKey;

use axum::http::{Method, Request, Uri, header};
use bytes::Bytes;
use http_body_util::Full;
use tokio_util::sync::CancellationToken;

use crate::error::ServiceError;
use crate::http_client::{self, HttpClient};
use crate::state::AppState;

/// Reads the report key from `path` (text, trimmed); refuses a short or unreadable one.
pub fn load_key(path: &Path) -> Result<ReportKey, ServiceError> {
    let bad = |reason: String| ServiceError::ReportKey {
        path: path.to_owned(),
        reason,
    };
    let text = proto::file::read_small_to_string(path, proto::file::SECRET_LIMIT)
        .map_err(|e| bad(e.to_string()))?;
    ReportKey::from_text(&text).map_err(|e| bad(e.to_string()))
}

/// Runs until `stop`, then pushes one last report (with `draining` set if so). `key`:
/// `None` only with `--report-unsigned`.
pub async fn push_loop(
    state: AppState,
    url: Uri,
    every: Duration,
    key: Option<ReportKey>,
    stop: CancellationToken,
) {
    let client = http_client::client();
    let timeout = every.min(Duration::from_secs(2));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => push(&client, &state, &url, key.as_ref(), timeout).await,
        }
    }
    push(
        &client,
        &state,
        &url,
        key.as_ref(),
        Duration::from_millis(500),
    )
    .await;
}

async fn push(
    client: &HttpClient,
    state: &AppState,
    url: &Uri,
    key: Option<&ReportKey>,
    timeout: Duration,
) {
    let body = match serde_json::to_vec(&state.load_report()) {
        Ok(b) => b,
        Err(e) => return tracing::debug!(%e, "cannot encode the load report"),
    };
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(url.clone())
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        request = request.header(
            proto::sign::SIGNATURE_HEADER,
            proto::sign::sign(key, now_ms, &body),
        );
    }
    let request = request.body(Full::new(Bytes::from(body)));
    let Ok(request) = request else { return };
    match tokio::time::timeout(timeout, client.request(request)).await {
        Ok(Ok(resp)) if resp.status().is_success() => {}
        Ok(Ok(resp)) => tracing::debug!(status = %resp.status(), %url, "load report refused"),
        Ok(Err(e)) => tracing::debug!(%e, %url, "load report push failed"),
        Err(_) => tracing::debug!(%url, "load report push timed out"),
    }
}
