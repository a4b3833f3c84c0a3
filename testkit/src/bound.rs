//! The address a child process bound, read from its output.
//!
//! A test that picks a free port ([`crate::free_port`]: bound, then released) and hands
//! it to a child races every other process on the machine until the child binds it: a
//! connection's ephemeral source port or another test's listener can take it first, and
//! the child then exits on "address in use". Started on port 0 instead, the child binds
//! a port nobody else holds and prints it; these functions read it back:
//!
//! - [`addr_after`]: the `host:port` just after a marker in one line (pure);
//! - [`wait_for_addr_in_file`]: polls a child's redirected output file for that line;
//! - [`LineReader`]: drains a child's piped output on a thread (the pipe never fills),
//!   keeps its lines, and waits for the one with the address.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `host:port` (after an optional `http://`) that follows `marker` in `line`.
///
/// `addr_after(" * Running on http://127.0.0.1:34081", "Running on ")` is
/// `127.0.0.1:34081`; trailing text (`/`, `/api/status`, spaces) is ignored.
pub fn addr_after(line: &str, marker: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once(marker)?;
    let rest = rest.trim_start();
    let rest = rest.strip_prefix("http://").unwrap_or(rest);
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Polls `path` (every 20 ms, up to `timeout`) until a line holds an address after
/// `marker`. Returns early with an error when `exited()` says the child is gone.
pub fn wait_for_addr_in_file(
    path: &Path,
    marker: &str,
    timeout: Duration,
    mut exited: impl FnMut() -> bool,
) -> Result<SocketAddr, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(addr) = text.lines().find_map(|l| addr_after(l, marker)) {
            return Ok(addr);
        }
        if exited() {
            // One last read: the line may have been written just before the exit.
            let text = std::fs::read_to_string(path).unwrap_or_default();
            return text
                .lines()
                .find_map(|l| addr_after(l, marker))
                .ok_or_else(|| format!("exited before printing {marker:?}:\n{text}"));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no {marker:?} line with an address in {} within {timeout:?}:\n{text}",
                path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A thread draining a child's stdout or stderr: every line kept, and the address of
/// the first line with the marker sent once.
pub struct LineReader {
    lines: Arc<Mutex<Vec<String>>>,
    found: Receiver<SocketAddr>,
}

impl LineReader {
    /// Starts draining `out`, looking for an address after `marker`.
    pub fn spawn(out: impl Read + Send + 'static, marker: &str) -> LineReader {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, found) = channel();
        let (keep, marker) = (Arc::clone(&lines), marker.to_string());
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let found = if sent {
                    None
                } else {
                    addr_after(&line, &marker)
                };
                if let Some(addr) = found {
                    sent = tx.send(addr).is_ok();
                }
                let mut kept = keep.lock().unwrap_or_else(|e| e.into_inner());
                // Bounded: a chatty child (moto logs each request) keeps the first lines.
                if kept.len() < 2_000 {
                    kept.push(line);
                }
            }
        });
        LineReader { lines, found }
    }

    /// The address, once the line is out (up to `timeout`); an error with the output
    /// so far when the output ends (the child exited) or the time is up.
    pub fn addr(&self, timeout: Duration) -> Result<SocketAddr, String> {
        match self.found.recv_timeout(timeout) {
            Ok(addr) => Ok(addr),
            Err(RecvTimeoutError::Disconnected) => {
                Err(format!("output ended without it:\n{}", self.text()))
            }
            Err(RecvTimeoutError::Timeout) => {
                Err(format!("not within {timeout:?}; so far:\n{}", self.text()))
            }
        }
    }

    /// The lines read so far.
    pub fn text(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_after_markers() {
        let check = |line: &str, marker: &str, want: Option<&str>| {
            assert_eq!(
                addr_after(line, marker),
                want.map(|w| w.parse().unwrap()),
                "{line:?}"
            );
        };
        check(
            " * Running on http://127.0.0.1:34081",
            "Running on ",
            Some("127.0.0.1:34081"),
        );
        check(
            "  JSON API                    http://127.0.0.1:9090/api/status",
            "JSON API",
            Some("127.0.0.1:9090"),
        );
        check(
            "controller: dashboard http://127.0.0.1:5/  status http://127.0.0.1:5/api/status",
            "dashboard ",
            Some("127.0.0.1:5"),
        );
        check(
            "INFO service: listening on 127.0.0.1:80",
            "listening on ",
            Some("127.0.0.1:80"),
        );
        check("listening on nowhere", "listening on ", None);
        check("nothing here", "listening on ", None);
    }

    #[test]
    fn a_reader_finds_the_line_and_keeps_the_rest() {
        let out = b"starting\n * Running on http://127.0.0.1:4567\nGET / 200\n".to_vec();
        let r = LineReader::spawn(std::io::Cursor::new(out), "Running on ");
        assert_eq!(
            r.addr(Duration::from_secs(10)),
            Ok("127.0.0.1:4567".parse().unwrap())
        );
        let r = LineReader::spawn(
            std::io::Cursor::new(b"no address\n".to_vec()),
            "Running on ",
        );
        let e = r.addr(Duration::from_secs(10)).unwrap_err();
        assert!(e.contains("no address"), "{e}");
    }
}
