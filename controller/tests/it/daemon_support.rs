//! Shared by the daemon's integration tests: plain HTTP/1.1 calls to a running daemon
//! (through `testkit::http`), and signed report posts.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use controller::daemon::{StatusResponse, now_ms};
use proto::sign::ReportKey;

/// The report key the tests' daemons and their report senders share.
pub const TEST_KEY: &str = "test-report-key-shared-by-controller-and-fleet-0123456789";

pub fn test_key() -> ReportKey {
    ReportKey::from_text(TEST_KEY).unwrap()
}

/// Writes [`TEST_KEY`] to a fresh 0600 file named after `name` (for `reports.key_file`).
pub fn test_key_file(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("hf-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report.key");
    std::fs::write(&path, format!("{TEST_KEY}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// One HTTP/1.1 exchange on loopback: (status code, body).
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    http_with(addr, method, path, &[], body).await
}

/// [`http`] with extra headers.
pub async fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    let r = testkit::http::Request::new(method, path)
        .headers(&all)
        .body(body.as_bytes())
        .send_async(addr)
        .await;
    (r.status, r.body)
}

/// POSTs `report` signed with [`TEST_KEY`] now.
pub async fn post_signed(addr: SocketAddr, report: &proto::LoadReport) -> (u16, String) {
    let body = serde_json::to_string(report).unwrap();
    let sig = proto::sign::sign(&test_key(), now_ms(), body.as_bytes());
    http_with(
        addr,
        "POST",
        proto::REPORT_INGEST_PATH,
        &[(proto::sign::SIGNATURE_HEADER, &sig)],
        &body,
    )
    .await
}

pub async fn status(addr: SocketAddr) -> StatusResponse {
    let (code, body) = http(addr, "GET", "/api/status", "").await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Step policies on users per instance for the daemon's end-to-end tests: +1 at 50 or more,
/// -1 after 5 periods at 5 or fewer (0.2 s periods), as TOML to append to a config.
pub fn policies() -> String {
    testkit::fixtures::step_policies(0.2, 5)
}
