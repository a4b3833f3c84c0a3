//! Shared by the daemon's integration tests: a daemon spawned on a loopback socket and
//! stopped by the test ([`Daemon`]), a config with the test key file ([`config_with_key`]),
//! plain HTTP/1.1 calls to it (through `testkit::http`), signed report posts, and the lease
//! as its status shows it.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use controller::clock::now_ms;
use controller::config::{Config, Overrides};
use controller::daemon::{DaemonError, StatusResponse};
use proto::sign::ReportKey;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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

/// `base`, the test [`policies`], `[reports] key_file` (a fresh file holding [`TEST_KEY`],
/// named after `name`) and `extra`, parsed, with the key loaded as the aws provider does.
pub fn config_with_key(base: &str, name: &str, extra: &str) -> Config {
    let key_file = test_key_file(name);
    let toml = format!(
        "{base}{}[reports]\nkey_file = {:?}\n{extra}",
        policies(),
        key_file.display().to_string()
    );
    Config::from_toml(&toml, "test", &Overrides::default())
        .unwrap()
        .load_report_key()
        .unwrap()
}

/// A daemon running on a fresh 127.0.0.1:0 listener; cancelled when dropped.
pub struct Daemon {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    task: JoinHandle<Result<(), DaemonError>>,
}

impl Daemon {
    /// Binds the listener and spawns `start(listener, shutdown)`: one of `daemon::run`,
    /// `run_with_lease`, `run_with`, given everything else.
    pub async fn spawn<F, Fut>(start: F) -> Daemon
    where
        F: FnOnce(TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = Result<(), DaemonError>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(start(listener, shutdown.clone()));
        Daemon {
            addr,
            shutdown,
            task,
        }
    }

    /// Cancels it and asserts that it stops, cleanly, within 10 s.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("the daemon stops on shutdown")
            .unwrap()
            .unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Whether the status says this controller holds the lease.
pub fn leads(s: &StatusResponse) -> bool {
    s.status.health.lease.as_ref().is_some_and(|l| l.leads)
}

/// The status' lease, asserted to stand by while `leader` holds it.
pub fn standing_by(s: &StatusResponse, leader: &str) -> proto::LeaseStatus {
    let lease = s
        .status
        .health
        .lease
        .clone()
        .expect("the status shows the lease");
    assert!(!lease.leads, "{lease:?}");
    assert_eq!(lease.leader.as_deref(), Some(leader), "{lease:?}");
    lease
}
