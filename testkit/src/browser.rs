//! A headless Chromium driven over the Chrome DevTools Protocol, for tests.
//! One browser, one page, one websocket; no background
//! task: a command's reply is read in place and events met on the way are
//! kept for [`Browser::events`].
//!
//! Chromium runs with a fresh profile directory and is killed (and the
//! directory removed) when the [`Browser`] drops, also on panic.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long any one step (launch, command, page load, event) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Flags that work in containers and keep Chromium off the network.
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--mute-audio",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
];

/// A script for [`Browser::eval`] on the hellofleet dashboard's page: resolves once its
/// EventSource is open (the page marks `#conn` with class `on`), rejects after 20 s.
pub const WAIT_FOR_LIVE_DASHBOARD: &str = r#"new Promise((resolve, reject) => {
  const conn = document.getElementById('conn');
  if (conn.className.includes('on')) return resolve(true);
  const obs = new MutationObserver(() => { if (conn.className.includes('on')) { obs.disconnect(); resolve(true); } });
  obs.observe(conn, { attributes: true, childList: true, characterData: true, subtree: true });
  setTimeout(() => reject(new Error('stream not open after 20 s')), 20000);
})"#;

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("cannot start {path}: {source}")]
    Launch {
        path: String,
        source: std::io::Error,
    },
    #[error("chromium exited before its DevTools endpoint came up; stderr: {0}")]
    NoDevTools(String),
    #[error("websocket: {0}")]
    WebSocket(String),
    #[error("{method} failed: {message}")]
    Protocol { method: String, message: String },
    #[error("timed out after {STEP_TIMEOUT:?} waiting for {0}")]
    Timeout(String),
    #[error("script threw: {0}")]
    Script(String),
    #[error("screenshot is not base64: {0}")]
    Screenshot(String),
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Browser {
    child: Child,
    profile: PathBuf,
    ws: Ws,
    session: String,
    next_id: u64,
    /// Events read while waiting for replies, oldest first.
    pending: VecDeque<Value>,
    /// Every event seen, for [`Browser::events`].
    seen: Vec<Value>,
}

impl Browser {
    /// Starts `chromium` headless with a fresh profile and opens a blank page
    /// (Page, Network and Runtime domains enabled).
    pub async fn launch(chromium: &Path) -> Result<Browser, BrowserError> {
        let profile = fresh_profile_dir();
        let mut child = Command::new(chromium)
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| BrowserError::Launch {
                path: chromium.display().to_string(),
                source,
            })?;
        let ws_url = match devtools_url(&mut child) {
            Ok(url) => url,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&profile);
                return Err(e);
            }
        };
        // From here on, Drop cleans up.
        let connect = tokio::time::timeout(STEP_TIMEOUT, connect_async(ws_url.as_str())).await;
        let ws = match connect {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => {
                return Err(kill(
                    child,
                    &profile,
                    BrowserError::WebSocket(e.to_string()),
                ));
            }
            Err(_) => return Err(kill(child, &profile, BrowserError::Timeout(ws_url))),
        };
        let mut b = Browser {
            child,
            profile,
            ws,
            session: String::new(),
            next_id: 0,
            pending: VecDeque::new(),
            seen: Vec::new(),
        };
        let target = b
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await?;
        let target_id = target["targetId"].as_str().unwrap_or_default().to_string();
        let attached = b
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await?;
        b.session = attached["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for domain in ["Page", "Network", "Runtime"] {
            b.call(&format!("{domain}.enable"), json!({})).await?;
        }
        Ok(b)
    }

    /// Sets the page's viewport in CSS pixels.
    pub async fn set_viewport(&mut self, width: u32, height: u32) -> Result<(), BrowserError> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await
        .map(drop)
    }

    /// Turns JavaScript off (or on) for the page.
    pub async fn set_javascript(&mut self, enabled: bool) -> Result<(), BrowserError> {
        self.call(
            "Emulation.setScriptExecutionDisabled",
            json!({ "value": !enabled }),
        )
        .await
        .map(drop)
    }

    /// Navigates and waits for the page's load event.
    pub async fn goto(&mut self, url: &str) -> Result<(), BrowserError> {
        self.pending
            .retain(|e| e["method"] != "Page.loadEventFired");
        let nav = self.call("Page.navigate", json!({ "url": url })).await?;
        if let Some(err) = nav["errorText"].as_str() {
            return Err(BrowserError::Protocol {
                method: "Page.navigate".into(),
                message: format!("{url}: {err}"),
            });
        }
        self.wait_event("Page.loadEventFired").await.map(drop)
    }

    /// Evaluates `expression` in the page, awaiting it if it is a promise,
    /// and returns its value as JSON.
    pub async fn eval(&mut self, expression: &str) -> Result<Value, BrowserError> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        if let Some(ex) = r.get("exceptionDetails") {
            let text = ex["exception"]["description"]
                .as_str()
                .or(ex["text"].as_str())
                .unwrap_or("unknown exception");
            return Err(BrowserError::Script(text.to_string()));
        }
        Ok(r["result"]["value"].clone())
    }

    /// A PNG of the whole page.
    pub async fn screenshot_png(&mut self) -> Result<Vec<u8>, BrowserError> {
        let r = self
            .call(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true }),
            )
            .await?;
        base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap_or_default())
            .map_err(|e| BrowserError::Screenshot(e.to_string()))
    }

    /// The parameters of every event named `method` seen so far, oldest first.
    pub fn events(&self, method: &str) -> Vec<Value> {
        self.seen
            .iter()
            .filter(|e| e["method"] == method)
            .map(|e| e["params"].clone())
            .collect()
    }

    /// Sends a command to the page (or the browser before a page is attached)
    /// and returns its result.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, BrowserError> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .map_err(|e| BrowserError::WebSocket(e.to_string()))?;
        loop {
            let m = self.read(method).await?;
            if m["id"] == id {
                if let Some(err) = m.get("error") {
                    return Err(BrowserError::Protocol {
                        method: method.into(),
                        message: err["message"].as_str().unwrap_or("?").into(),
                    });
                }
                return Ok(m["result"].clone());
            }
            if m.get("method").is_some() {
                self.pending.push_back(m);
            }
        }
    }

    /// Waits for the next event named `method` (or takes one already read).
    pub async fn wait_event(&mut self, method: &str) -> Result<Value, BrowserError> {
        if let Some(pos) = self.pending.iter().position(|e| e["method"] == method) {
            let e = self.pending.remove(pos).expect("position is valid");
            return Ok(e["params"].clone());
        }
        loop {
            let m = self.read(method).await?;
            if m["method"] == method {
                return Ok(m["params"].clone());
            }
            if m.get("method").is_some() {
                self.pending.push_back(m);
            }
        }
    }

    async fn read(&mut self, waiting_for: &str) -> Result<Value, BrowserError> {
        loop {
            let next = tokio::time::timeout(STEP_TIMEOUT, self.ws.next())
                .await
                .map_err(|_| BrowserError::Timeout(waiting_for.to_string()))?;
            let text = match next {
                None => return Err(BrowserError::WebSocket("closed by chromium".into())),
                Some(Err(e)) => return Err(BrowserError::WebSocket(e.to_string())),
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(_)) => continue,
            };
            let v: Value = serde_json::from_str(text.as_str())
                .map_err(|e| BrowserError::WebSocket(format!("bad JSON from chromium: {e}")))?;
            if v.get("method").is_some() {
                self.seen.push(v.clone());
                // Keep the event log bounded on long pages.
                if self.seen.len() > 10_000 {
                    self.seen.drain(..5_000);
                }
            }
            return Ok(v);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn kill(mut child: Child, profile: &Path, e: BrowserError) -> BrowserError {
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(profile);
    e
}

fn fresh_profile_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "hellofleet-chromium-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Reads Chromium's stderr until it prints its DevTools websocket URL (its
/// readiness signal); a thread keeps draining stderr afterwards.
fn devtools_url(child: &mut Child) -> Result<String, BrowserError> {
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel::<Result<String, String>>();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut sent = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !sent {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    sent = tx.send(Ok(url.trim().to_string())).is_ok();
                } else if seen.len() < 4000 {
                    seen.push_str(&line);
                    seen.push('\n');
                }
            }
        }
        if !sent {
            let _ = tx.send(Err(seen));
        }
    });
    match rx.recv_timeout(STEP_TIMEOUT) {
        Ok(Ok(url)) => Ok(url),
        Ok(Err(stderr)) => Err(BrowserError::NoDevTools(stderr)),
        Err(_) => Err(BrowserError::Timeout("chromium's DevTools endpoint".into())),
    }
}
