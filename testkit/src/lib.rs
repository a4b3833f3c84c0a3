//! Test support shared by the crates' integration tests.
//!
//! - [`RefusedPort`]: a loopback port that refuses connections (held, so nobody takes it).
//! - [`Moto`]: moto's AWS API emulator on a loopback port it picks itself, killed on drop.
//! - [`fault_proxy::FaultProxy`]: a TCP proxy that refuses, blackholes or drops responses.
//! - [`Postgres`]: a throwaway PostgreSQL server (initdb + pg_ctl, as `postgres` when root).
//! - [`http`]: the one HTTP/1 client of the tests (and raw exchanges for malformed input).
//! - [`fixtures`]: shared fixtures (the step policies of the controller's tests).
//! - [`clean_env`]: a child's environment cleared but for what any process needs.
//! - [`free_port`]: a free TCP port on 127.0.0.1 (released: prefer a child on port 0
//!   and [`bound`], which reads back the port it bound).
//! - [`chromium_path`]: Debian's Chromium, or a panic saying how to install it;
//!   [`browser::Browser`] drives it over the Chrome DevTools Protocol.
//! - [`threads_cpu_ns`]: CPU time of this process's threads by name, for the benches.
//!
//! Tests never skip when a component is missing: they fail with the install command.

pub mod bound;
pub mod browser;
pub mod fault_proxy;
pub mod fixtures;
pub mod http;
pub mod postgres;
pub mod tls;

pub use postgres::Postgres;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What [`clean_env`] keeps of the test's environment: what any process needs.
pub const INHERITED_ENV: &[&str] = &["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "RUST_BACKTRACE"];

/// Clears `cmd`'s environment but [`INHERITED_ENV`]: a child of a test (the service, the
/// controller, loadgen) reads options from variables (HOST, PORT, LOG_SINK,
/// HELLOFLEET_CONFIG, AWS_PROFILE…) that a CI machine or a developer's shell may set;
/// the test then sets, after this, exactly what the child is to see.
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    cmd.env_clear();
    for (k, v) in std::env::vars_os() {
        if INHERITED_ENV.iter().any(|keep| k == *keep) {
            cmd.env(k, v);
        }
    }
    cmd
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A loopback port that refuses connections for as long as this lives: bound, never
/// listening, so no other process can take it (a released [`free_port`] can be taken and
/// then answer).
pub struct RefusedPort {
    _socket: socket2::Socket,
    addr: SocketAddr,
}

impl RefusedPort {
    pub fn new() -> RefusedPort {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .expect("bind 127.0.0.1:0");
        let addr = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .expect("the bound address");
        RefusedPort {
            _socket: socket,
            addr,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Default for RefusedPort {
    fn default() -> Self {
        Self::new()
    }
}

/// A moto server (`moto_server`, from PyPI `moto[server]`) for one test.
pub struct Moto {
    child: Child,
    port: u16,
    output: bound::LineReader,
}

impl Moto {
    /// Starts moto on port 0 (it binds a free port itself and prints it: no port
    /// released for it that another process could take first) and waits until it answers.
    pub fn start() -> Moto {
        let (child, output) = Self::spawn(0);
        let port = match output.addr(Duration::from_secs(30)) {
            Ok(addr) => addr.port(),
            Err(e) => panic!(
                "moto_server did not say where it listens ({e}). Install it with: pip install 'moto[server]'"
            ),
        };
        Self::ready(child, port, output)
    }

    /// Starts moto on the given port (used to restart it on the same endpoint).
    pub fn start_on(port: u16) -> Moto {
        let (child, output) = Self::spawn(port);
        Self::ready(child, port, output)
    }

    fn spawn(port: u16) -> (Child, bound::LineReader) {
        let mut child = Command::new(moto_command())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto_server ({e}). Install it with: pip install 'moto[server]'"
                )
            });
        let stderr = child.stderr.take().expect("stderr is piped");
        // ` * Running on http://127.0.0.1:PORT`; the thread drains the request log after.
        let output = bound::LineReader::spawn(stderr, "Running on ");
        (child, output)
    }

    fn ready(child: Child, port: u16, output: bound::LineReader) -> Moto {
        let mut moto = Moto {
            child,
            port,
            output,
        };
        moto.wait_ready(Duration::from_secs(30));
        moto
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL` or an SDK endpoint override.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for a child process that should talk to this emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// Stops the server (the endpoint then refuses connections).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "moto_server exited early ({status}). Install it with: pip install 'moto[server]'\n{}",
                    self.output.text()
                );
            }
            if http_get_ok(self.port, "/moto-api/") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {} within {timeout:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn moto_command() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    python_tool("moto_server").unwrap_or_else(|| {
        panic!(
            "moto_server is not in {} nor on PATH. Install it with: bash .ci/install.sh",
            venv_dir().join("bin").display()
        )
    })
}

/// Where `.ci/install.sh` installs the Python tools the tests run (moto, locust): its own
/// virtualenv (Debian 12 and Ubuntu 24.04 refuse `pip install` into the system Python).
/// `HF_VENV` overrides the default `/opt/hellofleet-venv`.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("HF_VENV").map_or_else(|| PathBuf::from(DEFAULT_VENV), PathBuf::from)
}

pub const DEFAULT_VENV: &str = "/opt/hellofleet-venv";

/// A Python tool (`moto_server`, `locust`): from [`venv_dir`] if installed there, else
/// from `PATH`.
pub fn python_tool(name: &str) -> Option<PathBuf> {
    let in_venv = venv_dir().join("bin").join(name);
    if in_venv.is_file() {
        return Some(in_venv);
    }
    which(name)
}

/// Debian's Chromium (`CHROMIUM` overrides), or a panic with the install command.
pub fn chromium_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| which(name))
        .unwrap_or_else(|| {
            panic!("Chromium is not installed. Install it with: apt-get update && apt-get install -y chromium")
        })
}

/// Finds an executable on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A blocking `GET` on loopback that reports whether any HTTP response came back (within 2 s).
pub fn http_get_ok(port: u16, path: &str) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let bytes = http::Request::new("GET", path).bytes(addr);
    http::try_exchange(addr, &bytes, Duration::from_secs(2))
        .is_ok_and(|answer| answer.starts_with(b"HTTP/1."))
}

/// CPU time (ns, from `/proc/self/task/*/schedstat`) of this process's threads whose
/// name starts with `prefix` (tokio's `thread_name`).
pub fn threads_cpu_ns(prefix: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let dir = task.expect("task entry").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.starts_with(prefix) {
            let stat = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}
