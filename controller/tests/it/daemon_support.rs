//! Shared by the daemon's integration tests: plain HTTP/1.1 calls to a running daemon, and
//! signed report posts.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use controller::daemon::{StatusResponse, now_ms};
use proto::sign::ReportKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    let mut s = TcpStream::connect(addr)
        .await
        .expect("connect to the daemon");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let code = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
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
pub const POLICIES: &str = r#"
[policies.scale_out]
name = "out"
adjustment_type = "ChangeInCapacity"
alarm = { metric = "ConcurrentUsersPerInstance", threshold = 50, comparison = "GreaterThanOrEqualToThreshold", period_secs = 0.2 }
steps = [{ lower_bound = 0, scaling_adjustment = 1 }]
[policies.scale_in]
name = "in"
adjustment_type = "ChangeInCapacity"
alarm = { metric = "ConcurrentUsersPerInstance", threshold = 5, comparison = "LessThanOrEqualToThreshold", period_secs = 0.2, evaluation_periods = 5 }
steps = [{ upper_bound = 0, scaling_adjustment = -1 }]
"#;
