//! Helpers shared by the service's integration tests.
#![allow(dead_code)]

pub mod books;
pub mod crash;
pub mod cwlogs;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use service::shipper::{LogSink, MemorySink};
use service::{Args, Config};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

/// A validated config from flags; IMDS is always off in tests. From the flags only: every
/// option also reads an environment variable (HOST, PORT, LOG_SINK…), which a CI machine
/// may set, so here none is read.
pub fn config(flags: &[&str]) -> Config {
    use clap::{CommandFactory, FromArgMatches};
    let mut argv = vec!["service", "--no-imds", "--host", "127.0.0.1"];
    argv.extend_from_slice(flags);
    let matches = Cli::command()
        .mut_args(|a| a.env(clap::builder::Resettable::Reset))
        .try_get_matches_from(argv)
        .expect("flags parse");
    let cli = Cli::from_arg_matches(&matches).expect("flags parse");
    Config::from_args(cli.args).expect("valid flags")
}

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

pub async fn request(
    client: &HttpClient,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> Reply {
    send_bytes(client, method, url, headers, Bytes::new()).await
}

/// A request with exactly these headers and body bytes (30 s at most).
pub async fn send_bytes(
    client: &HttpClient,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    bytes: Bytes,
) -> Reply {
    let mut b = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = tokio::time::timeout(
        Duration::from_secs(30),
        client.request(b.body(Full::new(bytes)).unwrap()),
    )
    .await
    .unwrap_or_else(|_| panic!("{method} {url} timed out"))
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub async fn get(client: &HttpClient, url: &str) -> Reply {
    request(client, "GET", url, &[]).await
}

pub async fn load_report(client: &HttpClient, base: &str) -> proto::LoadReport {
    let r = get(client, &format!("{base}{}", proto::LOAD_REPORT_PATH)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    serde_json::from_str(&r.body).expect("load report JSON")
}

/// An in-process service on 127.0.0.1:0 with the in-memory sink; shut down on drop.
pub struct InProcess {
    pub addr: SocketAddr,
    pub base: String,
    pub sink: MemorySink,
    pub shutdown: CancellationToken,
    pub task: Option<tokio::task::JoinHandle<Result<(), service::ServiceError>>>,
}

impl InProcess {
    pub async fn start(flags: &[&str]) -> InProcess {
        let config = config(flags);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sink = MemorySink::new();
        let shutdown = CancellationToken::new();
        let dyn_sink: Arc<dyn LogSink> = Arc::new(sink.clone());
        let task = tokio::spawn(service::run_with_sink(
            config,
            "i-test".into(),
            listener,
            shutdown.clone(),
            dyn_sink,
        ));
        InProcess {
            addr,
            base: format!("http://{addr}"),
            sink,
            shutdown,
            task: Some(task),
        }
    }

    /// Triggers the drain and waits for `run` to return.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .expect("run returns after shutdown")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The real `service` binary as a child process; killed on drop.
pub struct Process {
    pub child: Child,
    pub port: u16,
    pub base: String,
    /// Its stderr, drained and kept from the start.
    pub stderr: testkit::bound::LineReader,
}

impl Process {
    /// Starts the binary on port 0 and waits for its `listening on` line, which
    /// names the port the process bound itself (no port picked by the test and
    /// released before the child binds it, which another process could take).
    pub fn spawn(flags: &[&str], env: &[(&str, String)]) -> Process {
        let mut process = Self::launch(flags, env);
        match process.stderr.addr(Duration::from_secs(30)) {
            Ok(addr) => {
                process.port = addr.port();
                process.base = format!("http://{addr}");
            }
            Err(e) => panic!("service did not start: {e}"),
        }
        process
    }

    /// Starts the binary with flags it must refuse: waits (30 s at most) for it
    /// to exit, and returns its exit code and whole stderr. Panics if it ever
    /// said `listening on`.
    pub fn refused(flags: &[&str]) -> (i32, String) {
        let mut process = Self::launch(flags, &[]);
        let code = process.wait_exit(Duration::from_secs(30));
        // Exited: the reader sees the end of stderr, with or without the line.
        if process.stderr.addr(Duration::from_secs(10)).is_ok() {
            panic!(
                "said `listening on`, then exited:\n{}",
                process.stderr_text()
            );
        }
        (code, process.stderr_text())
    }

    /// Spawns the binary on port 0, its stderr read for the `listening on` line.
    /// `port` and `base` are set by [`Process::spawn`].
    fn launch(flags: &[&str], env: &[(&str, String)]) -> Process {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_service"));
        // Every option of the service also reads an environment variable (HOST, PORT,
        // DATA_DIR, LOG_SINK, QUEUE_CAPACITY…): the child gets none of the test's
        // environment but what a process needs, so a CI machine's variables change nothing.
        testkit::clean_env(&mut cmd);
        cmd.args(["--host", "127.0.0.1", "--port", "0", "--no-imds"]);
        // The default sink is a file in the working directory (the crate's, shared by
        // every test): a test that does not name one writes nowhere.
        if !flags.contains(&"--log-sink") {
            cmd.args(["--log-sink", "file:/dev/null"]);
        }
        cmd.args(flags)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn the service binary");
        let stderr = child.stderr.take().unwrap();
        Process {
            child,
            port: 0,
            base: String::new(),
            stderr: testkit::bound::LineReader::spawn(stderr, "listening on "),
        }
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.text()
    }

    /// Sends SIGTERM with `kill`.
    pub fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -TERM failed");
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> i32 {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "service did not exit within {within:?}:\n{}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Events with the 20 `/repeat` messages, `n` of each, as a sorted list.
/// The messages `sink` stored, sorted.
pub fn sorted_messages(sink: &MemorySink) -> Vec<String> {
    let mut got: Vec<String> = sink
        .stored()
        .iter()
        .map(|e| e.message.to_string())
        .collect();
    got.sort();
    got
}

pub fn expected_repeat_messages(requests: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..requests)
        .flat_map(|_| (1..=20).map(|i| format!("Iteration {}: Hello World", i * 5)))
        .collect();
    v.sort();
    v
}

/// The spec's text of each `/repeat` event (its ` [id=…]` suffix removed),
/// sorted. Panics unless every message carries a well-formed id
/// (`instance/start_ms/request/iteration`, the iteration matching the text)
/// and no id occurs twice.
pub fn repeat_texts(messages: &[String]) -> Vec<String> {
    let mut ids = std::collections::HashSet::new();
    let mut texts: Vec<String> = messages
        .iter()
        .map(|m| {
            let (text, id) = split_id(m).unwrap_or_else(|| panic!("no id in {m:?}"));
            assert!(ids.insert(id.to_owned()), "id {id} occurs twice");
            text.to_owned()
        })
        .collect();
    texts.sort();
    texts
}

/// `("Iteration 5: Hello World", "i-1/1700000000000/42/5")` from a message,
/// if it ends in a well-formed id whose iteration matches the text's.
pub fn split_id(message: &str) -> Option<(&str, &str)> {
    let (text, rest) = message.split_once(" [id=")?;
    let id = rest.strip_suffix(']')?;
    let parts: Vec<&str> = id.rsplitn(4, '/').collect();
    let [iteration, request, start, instance] = parts[..] else {
        return None;
    };
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = !instance.is_empty()
        && numeric(start)
        && numeric(request)
        && numeric(iteration)
        && text == format!("Iteration {iteration}: Hello World");
    ok.then_some((text, id))
}
