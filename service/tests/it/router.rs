//! Every route through `app(state)` with `oneshot`: no socket.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use service::shipper::{MemorySink, Shipper, ShipperOptions, queue, retry::Backoff};
use service::{AppState, Overflow, app};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

struct Rig {
    state: AppState,
    sink: MemorySink,
    finish: CancellationToken,
    shipper: tokio::task::JoinHandle<()>,
}

fn rig() -> Rig {
    let config = common::config(&["--instance-id", "i-router"]);
    let (q, input) = queue(1_000, Overflow::Block);
    let sink = MemorySink::new();
    let finish = CancellationToken::new();
    let options = ShipperOptions {
        flush_interval: Duration::from_secs(1),
        flush_timeout: Duration::from_secs(5),
        backoff: Backoff::default(),
    };
    let shipper =
        tokio::spawn(Shipper::new(input, Arc::new(sink.clone()), options).run(finish.clone()));
    Rig {
        state: AppState::new(&config, "i-router".into(), q),
        sink,
        finish,
        shipper,
    }
}

struct Got {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn call(state: &AppState, method: &str, path: &str, headers: &[(&str, &str)]) -> Got {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = app(state.clone())
        .oneshot(b.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let got = Got {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    };
    assert_eq!(
        got.headers
            .get(proto::INSTANCE_ID_HEADER)
            .map(|v| v.to_str().unwrap()),
        Some("i-router"),
        "{method} {path} lacks X-Instance-Id"
    );
    got
}

#[tokio::test]
async fn hello() {
    let r = rig();
    let got = call(&r.state, "GET", "/hello", &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, "Hello World");
    assert!(
        got.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let cookie = got.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.starts_with("uid=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}

#[tokio::test]
async fn repeat_answers_100_lines_and_logs_20_events() {
    let r = rig();
    let got = call(&r.state, "GET", "/repeat", &[("x-user-id", "u1")]).await;
    assert_eq!(got.status, StatusCode::OK);
    let lines: Vec<&str> = got.body.lines().collect();
    assert_eq!(lines.len(), 100);
    assert!(lines.iter().all(|l| *l == "Hello World"));
    call(&r.state, "GET", "/repeat", &[("x-user-id", "u1")]).await;
    r.finish.cancel();
    r.shipper.await.unwrap();
    let got = common::sorted_messages(&r.sink);
    assert_eq!(
        common::repeat_texts(&got),
        common::expected_repeat_messages(2)
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let r = rig();
    let h = call(&r.state, "GET", "/healthz", &[]).await;
    assert_eq!(h.status, StatusCode::OK);
    assert!(
        h.headers.get(header::SET_COOKIE).is_none(),
        "probes are not users"
    );
    let ready = call(&r.state, "GET", "/readyz", &[]).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert!(ready.headers.get(header::CONNECTION).is_none());
    r.state.set_draining();
    let ready = call(&r.state, "GET", "/readyz", &[]).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.headers[header::CONNECTION], "close");
    let h = call(&r.state, "GET", "/healthz", &[]).await;
    assert_eq!(h.status, StatusCode::OK, "still alive while draining");
    let hello = call(&r.state, "GET", "/hello", &[]).await;
    assert_eq!(hello.status, StatusCode::OK, "still serving while draining");
    assert_eq!(hello.headers[header::CONNECTION], "close");
}

#[tokio::test]
async fn users_are_counted_by_cookie_or_header() {
    let r = rig();
    let first = call(&r.state, "GET", "/hello", &[]).await;
    let cookie = first.headers[header::SET_COOKIE].to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    // The same browser again: no new cookie, same user.
    let again = call(&r.state, "GET", "/hello", &[("cookie", &pair)]).await;
    assert!(again.headers.get(header::SET_COOKIE).is_none());
    call(&r.state, "GET", "/repeat", &[("x-user-id", "bob")]).await;
    call(&r.state, "GET", "/hello", &[("x-user-id", "bob")]).await;
    call(
        &r.state,
        "GET",
        "/nope",
        &[("cookie", "theme=dark; uid=carol")],
    )
    .await;
    let report: proto::LoadReport = serde_json::from_str(
        &call(&r.state, "GET", proto::LOAD_REPORT_PATH, &[])
            .await
            .body,
    )
    .unwrap();
    assert_eq!(report.concurrent_users, 3);
    assert_eq!(report.users_sketch.count(), 3);
    assert_eq!(report.requests_total, 5, "probes and /load are not traffic");
}

#[tokio::test]
async fn load_report_is_complete_and_valid() {
    let r = rig();
    call(&r.state, "GET", "/repeat", &[]).await;
    let got = call(&r.state, "GET", proto::LOAD_REPORT_PATH, &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(
        got.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("json")
    );
    let a: proto::LoadReport = serde_json::from_str(&got.body).unwrap();
    a.validate().unwrap();
    assert_eq!(a.instance_id, "i-router");
    assert_eq!(a.active_window_ms, 10_000);
    assert_eq!(
        (a.concurrent_users, a.requests_total, a.in_flight),
        (1, 1, 0)
    );
    assert_eq!(a.log.enqueued, 20);
    assert_eq!(a.log.shipped + a.log.queued, 20);
    assert!(!a.draining);
    assert!(a.sent_at_ms >= a.started_at_ms);
    r.state.set_draining();
    let b: proto::LoadReport = serde_json::from_str(
        &call(&r.state, "GET", proto::LOAD_REPORT_PATH, &[])
            .await
            .body,
    )
    .unwrap();
    assert!(b.draining);
    assert_eq!(b.seq, a.seq + 1);
}

#[tokio::test]
async fn metrics_in_prometheus_text() {
    let r = rig();
    call(&r.state, "GET", "/hello", &[]).await;
    call(&r.state, "GET", "/repeat", &[]).await;
    call(&r.state, "GET", "/missing", &[]).await;
    let got = call(&r.state, "GET", "/metrics", &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(
        got.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("version=0.0.4")
    );
    for needle in [
        "hellofleet_requests_total{route=\"/hello\",status=\"2xx\"} 1",
        "hellofleet_requests_total{route=\"/repeat\",status=\"2xx\"} 1",
        "hellofleet_requests_total{route=\"other\",status=\"4xx\"} 1",
        "hellofleet_request_duration_seconds_count{route=\"/hello\"} 1",
        "hellofleet_in_flight_requests 0",
        // One cookieless client (no address outside a connection); /missing is no user.
        "hellofleet_concurrent_users 1",
        "hellofleet_log_events_enqueued_total 20",
        "hellofleet_log_events_dropped_total 0",
        "hellofleet_log_batches_retried_total 0",
        "hellofleet_draining 0",
    ] {
        assert!(
            got.body.lines().any(|l| l == needle),
            "missing {needle}\n{}",
            got.body
        );
    }
}

#[tokio::test]
async fn unknown_path_is_404_and_wrong_method_is_405() {
    let r = rig();
    let got = call(&r.state, "GET", "/does-not-exist", &[]).await;
    assert_eq!(got.status, StatusCode::NOT_FOUND);
    for (method, path) in [
        ("POST", "/hello"),
        ("DELETE", "/repeat"),
        ("PUT", "/load"),
        ("POST", "/readyz"),
    ] {
        let got = call(&r.state, method, path, &[]).await;
        assert_eq!(
            got.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(got.headers.contains_key(header::ALLOW));
    }
    let head = call(&r.state, "HEAD", "/hello", &[]).await;
    assert_eq!(head.status, StatusCode::OK);
}
