//! Pushes the load report to the controller (`--report-to`): one POST of the
//! [`proto::LoadReport`] JSON every `--report-every`. A failed push is logged at
//! debug and the next interval simply sends a fresh report; pushing never
//! touches the request path. The controller may also pull `GET /load`.

use std::time::Duration;

use axum::http::{Method, Request, Uri, header};
use bytes::Bytes;
use http_body_util::Full;
use tokio_util::sync::CancellationToken;

use crate::http_client::{self, HttpClient};
use crate::state::AppState;

/// Runs until `stop`, then pushes one last report (with `draining` set if so).
pub async fn push_loop(state: AppState, url: Uri, every: Duration, stop: CancellationToken) {
    let client = http_client::client();
    let timeout = every.min(Duration::from_secs(2));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => push(&client, &state, &url, timeout).await,
        }
    }
    push(&client, &state, &url, Duration::from_millis(500)).await;
}

async fn push(client: &HttpClient, state: &AppState, url: &Uri, timeout: Duration) {
    let body = match serde_json::to_vec(&state.load_report()) {
        Ok(b) => b,
        Err(e) => return tracing::debug!(%e, "cannot encode the load report"),
    };
    let request = Request::builder()
        .method(Method::POST)
        .uri(url.clone())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)));
    let Ok(request) = request else { return };
    match tokio::time::timeout(timeout, client.request(request)).await {
        Ok(Ok(resp)) if resp.status().is_success() => {}
        Ok(Ok(resp)) => tracing::debug!(status = %resp.status(), %url, "load report refused"),
        Ok(Err(e)) => tracing::debug!(%e, %url, "load report push failed"),
        Err(_) => tracing::debug!(%url, "load report push timed out"),
    }
}
