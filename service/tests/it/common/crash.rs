//! Driving the real binary through `kill -9` and a restart on the same data
//! dir, for the spool tests (file and CloudWatch sinks).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hyper::StatusCode;

use super::{HttpClient, Process, get, load_report};

/// A scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("hf-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch dir");
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends `/repeat` requests one after another; returns how many got 200.
/// Stops at the first failure (a killed process) when `stop_on_error`.
pub async fn repeats(c: &HttpClient, base: &str, n: usize, pace: Duration) -> usize {
    let mut ok = 0;
    for i in 0..n {
        let r = get(c, &format!("{base}/repeat")).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}: {}", r.body);
        assert_eq!(r.body.lines().count(), 100);
        ok += 1;
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
    }
    ok
}

/// `kill -9`, and waits until the process is gone.
pub fn kill_9(p: &mut Process) {
    p.child.kill().expect("SIGKILL");
    p.child.wait().expect("reap");
}

/// Waits until everything the process holds is shipped (its own counters),
/// and returns them.
pub async fn wait_drained(c: &HttpClient, p: &Process, within: Duration) -> proto::LogCounters {
    let deadline = Instant::now() + within;
    loop {
        let log = load_report(c, &p.base).await.log;
        if log.queued == 0 && log.enqueued == log.shipped {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "not drained: {log:?}\n{}",
            p.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGTERM and a clean exit.
pub fn stop(mut p: Process) {
    p.sigterm();
    assert_eq!(
        p.wait_exit(Duration::from_secs(60)),
        0,
        "{}",
        p.stderr_text()
    );
}

/// Messages of a `file` sink's JSON lines.
pub fn file_messages(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v["message"].as_str().expect("message").to_owned()
        })
        .collect()
}

/// (total, distinct) messages.
pub fn counts(messages: &[String]) -> (usize, usize) {
    let mut m = messages.to_vec();
    m.sort();
    m.dedup();
    (messages.len(), m.len())
}
