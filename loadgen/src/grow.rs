//! A ramp's users, created when they are due rather than before the test starts.
//!
//! goose builds every user of a `--test-plan` before the load test begins, and each user
//! carries a copy of the configuration, plan included: a ramp of many steps costs users ×
//! steps in memory (a 100,000-user ramp in steps of 1 does not fit in any machine). So a ramp
//! runs goose with `--users START` (held until stopped) and its telnet Controller on a free
//! loopback port, and [`drive`] sends `users N` at each step's start: goose then builds only
//! the users added. At `--duration` it asks the run to stop (`stop`). The telnet exchange is
//! the one adapter here ([`Telnet`]); every call has a timeout.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::plan::Ramp;
use crate::recorder::Recorder;

/// Each telnet connect, command and reply has this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const PROMPT: &[u8] = b"goose> ";

#[derive(Debug, thiserror::Error)]
pub enum GrowError {
    #[error("goose's telnet controller on 127.0.0.1:{port}: {reason}")]
    Telnet { port: u16, reason: String },
    #[error("goose refused `users {users}`: {reply}")]
    Refused { users: u64, reply: String },
}

/// A free loopback port for goose's telnet Controller (bound and released: another
/// process may take it in between, and then the ramp cannot grow, loudly).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A session with goose's telnet Controller.
pub struct Telnet {
    port: u16,
    stream: TcpStream,
}

impl Telnet {
    pub async fn connect(port: u16) -> Result<Telnet, GrowError> {
        let err = |reason: String| GrowError::Telnet { port, reason };
        let stream = tokio::time::timeout(CALL_TIMEOUT, TcpStream::connect(("127.0.0.1", port)))
            .await
            .map_err(|_| err("connect timed out".into()))?
            .map_err(|e| err(e.to_string()))?;
        let mut t = Telnet { port, stream };
        t.reply().await?;
        Ok(t)
    }

    /// Reads up to the prompt; the text before it.
    async fn reply(&mut self) -> Result<String, GrowError> {
        let port = self.port;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 512];
        let read = async {
            while !buf.ends_with(PROMPT) {
                let n = self
                    .stream
                    .read(&mut chunk)
                    .await
                    .map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("closed".to_string());
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 64 * 1024 {
                    return Err("reply too long".to_string());
                }
            }
            Ok(())
        };
        tokio::time::timeout(CALL_TIMEOUT, read)
            .await
            .map_err(|_| "no reply".to_string())
            .and_then(|r| r)
            .map_err(|reason| GrowError::Telnet { port, reason })?;
        let text = &buf[..buf.len() - PROMPT.len()];
        Ok(String::from_utf8_lossy(text).trim().to_string())
    }

    /// `users N`: goose adds (building them now) or removes users to reach `n`.
    pub async fn set_users(&mut self, n: u64) -> Result<(), GrowError> {
        let line = format!("users {n}\n");
        tokio::time::timeout(CALL_TIMEOUT, self.stream.write_all(line.as_bytes()))
            .await
            .map_err(|_| "write timed out".to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|reason| GrowError::Telnet {
                port: self.port,
                reason,
            })?;
        let reply = self.reply().await?;
        if reply.contains("users configured") {
            Ok(())
        } else {
            Err(GrowError::Refused { users: n, reply })
        }
    }
}

/// Grows the ramp step by step from the first user's start until it reaches its ceiling
/// (then holds), and cancels `stop` at its `--duration`. Ends when `done` is cancelled.
pub async fn drive(
    recorder: Arc<Recorder>,
    ramp: Ramp,
    port: u16,
    stop: CancellationToken,
    done: CancellationToken,
) {
    let start = loop {
        if let Some(s) = recorder.started() {
            break Instant::from_std(s);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = done.cancelled() => return,
        }
    };
    let end = ramp.duration.map(|d| start + d);
    let mut telnet: Option<Telnet> = None;
    let mut warned = false;
    let mut k: u32 = 1;
    let mut users = ramp.users_at_level(0);
    loop {
        let next = ramp.users_at_level(u64::from(k));
        let at = if next > users {
            Some(start + ramp.every * k)
        } else {
            None
        };
        let wake = match (at, end) {
            (Some(a), Some(e)) => a.min(e),
            (Some(a), None) => a,
            (None, Some(e)) => e,
            // At the ceiling, no end: hold until stopped.
            (None, None) => return,
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = done.cancelled() => return,
        }
        if end.is_some_and(|e| Instant::now() >= e) {
            tracing::debug!("ramp: --duration reached, stopping");
            stop.cancel();
            return;
        }
        let result = match telnet.as_mut() {
            Some(t) => t.set_users(next).await,
            None => match Telnet::connect(port).await {
                Ok(mut t) => {
                    let r = t.set_users(next).await;
                    telnet = Some(t);
                    r
                }
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(()) => {
                users = next;
                warned = false;
            }
            Err(e) => {
                // A refusal keeps the session; a broken one is opened again next step.
                if !matches!(e, GrowError::Refused { .. }) {
                    telnet = None;
                }
                if !warned {
                    tracing::warn!("ramp cannot add users: {e}; trying again next step");
                }
                warned = true;
                users = next;
            }
        }
        k += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncBufReadExt;

    /// A stand-in for goose's telnet Controller: prompts, records each line, answers
    /// `users configured` (or refuses `users 5`).
    async fn fake_goose() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            w.write_all(PROMPT).await.unwrap();
            let mut lines = tokio::io::BufReader::new(r).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let reply = if line == "users 5" {
                    "load test is stopping, failed to reconfigure users"
                } else {
                    "users configured"
                };
                log.lock().unwrap().push(line);
                w.write_all(format!("{reply}\ngoose> ").as_bytes())
                    .await
                    .unwrap();
            }
        });
        (port, seen)
    }

    #[tokio::test]
    async fn adds_each_step_from_the_first_user_and_stops_at_the_duration() {
        let (port, seen) = fake_goose().await;
        let recorder = Recorder::new(Duration::from_millis(100));
        let ramp = Ramp {
            start: 1,
            step: 2,
            every: Duration::from_millis(100),
            max: 7,
            duration: Some(Duration::from_millis(550)),
        };
        let (stop, done) = (CancellationToken::new(), CancellationToken::new());
        let task = tokio::spawn(drive(recorder.clone(), ramp, port, stop.clone(), done));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            seen.lock().unwrap().is_empty(),
            "nothing before the first user"
        );
        let started = std::time::Instant::now();
        let _user = recorder.user_started(started);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("ends at the duration")
            .unwrap();
        assert!(stop.is_cancelled(), "the duration stops the run");
        assert!(started.elapsed() >= Duration::from_millis(550));
        // `users 5` was refused (a warning); the next step asks for 7 again, then holds.
        assert_eq!(*seen.lock().unwrap(), ["users 3", "users 5", "users 7"]);
    }

    #[tokio::test]
    async fn ends_on_done_and_a_missing_controller_is_only_a_warning() {
        let port = free_port().unwrap();
        let recorder = Recorder::new(Duration::from_millis(100));
        let _user = recorder.user_started(std::time::Instant::now());
        let ramp = Ramp {
            start: 1,
            step: 1,
            every: Duration::from_millis(50),
            max: 1000,
            duration: None,
        };
        let (stop, done) = (CancellationToken::new(), CancellationToken::new());
        let task = tokio::spawn(drive(recorder, ramp, port, stop.clone(), done.clone()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        done.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("ends when done")
            .unwrap();
        assert!(!stop.is_cancelled());
    }
}
