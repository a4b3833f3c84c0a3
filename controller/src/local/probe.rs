//! Health and readiness probes: one bounded HTTP/1.1 `GET` on loopback.
//! An instance that expects PROXY v2 headers from loopback (the group runs
//! it with `--proxy-protocol`) gets the `LOCAL` header first, as a load
//! balancer's own health checks send. [`get_answer`] also returns the first
//! line of the body (bounded, control characters stripped: it is untrusted),
//! so the group can say why an instance is not ready.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Status code of `GET path` on `addr`, or `None` if no valid answer came within
/// `timeout`. `proxy_local`: send the PROXY v2 `LOCAL` header first.
pub async fn get_status(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
    proxy_local: bool,
) -> Option<u16> {
    get_answer(addr, path, timeout, proxy_local)
        .await
        .ok()
        .map(|a| a.status)
}

/// Body bytes kept by [`get_answer`].
pub const BODY_MAX: usize = 300;
/// Header bytes read before the body; a longer head is not an answer.
const HEAD_MAX: usize = 4096;

/// A probe's answer: the status code and the body's first line (at most
/// [`BODY_MAX`] bytes, control characters stripped, trimmed; may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Why a probe got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoAnswer {
    #[error("not listening (connection refused)")]
    Refused,
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("not an HTTP/1.x answer")]
    Invalid,
}

/// `GET path` on `addr`: its status and the start of its body, all within
/// `timeout` (a body still coming at the deadline is cut there).
pub async fn get_answer(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
    proxy_local: bool,
) -> Result<Answer, NoAnswer> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut stream = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
        Err(_) => return Err(NoAnswer::Timeout(timeout)),
        Ok(Err(_)) => return Err(NoAnswer::Refused),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    let mut request = if proxy_local {
        service::server::proxy::encode_local()
    } else {
        Vec::new()
    };
    request.extend_from_slice(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    match tokio::time::timeout_at(deadline, stream.write_all(&request)).await {
        Err(_) => return Err(NoAnswer::Timeout(timeout)),
        Ok(Err(_)) => return Err(NoAnswer::Invalid),
        Ok(Ok(())) => {}
    }
    let mut got = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    loop {
        let enough = match find_head_end(&got) {
            Some(end) => got.len() >= end + BODY_MAX,
            None => got.len() >= HEAD_MAX,
        };
        if enough {
            break;
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            Ok(_) => break,
            // Cut at the deadline: what came is the answer, if it has a status.
            Err(_) if parse_status_line(&got).is_some() => break,
            Err(_) => return Err(NoAnswer::Timeout(timeout)),
        }
    }
    parse_answer(&got).ok_or(NoAnswer::Invalid)
}

/// Why `path`'s answer says "not serving": `"/readyz 503: <body>"`,
/// `"/readyz: no answer within 1s"`; `None` for a 200. Pure.
pub fn reason(path: &str, answer: &Result<Answer, NoAnswer>) -> Option<String> {
    match answer {
        Ok(a) if a.status == 200 => None,
        Ok(a) if a.body.is_empty() => Some(format!("{path} {}", a.status)),
        Ok(a) => Some(format!("{path} {}: {}", a.status, a.body)),
        Err(e) => Some(format!("{path}: {e}")),
    }
}

/// Status and body's first line of a (possibly cut) HTTP/1.x answer. Pure.
pub fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let status = parse_status_line(raw)?;
    let body = match find_head_end(raw) {
        Some(end) => {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let mut body = &raw[end..];
            if head.contains("transfer-encoding: chunked") {
                // Skip the first chunk's size line.
                let at = body.windows(2).position(|w| w == b"\r\n");
                body = at.map_or(&[][..], |at| &body[at + 2..]);
            }
            first_line(&body[..body.len().min(BODY_MAX)])
        }
        None => String::new(),
    };
    Some(Answer { status, body })
}

fn find_head_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// The first line of untrusted bytes, control characters stripped, trimmed. Pure.
pub fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.split(['\n', '\r']).next().unwrap_or_default();
    line.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

/// The code of an HTTP/1.x status line (`HTTP/1.1 503 …` → 503). Pure.
pub fn parse_status_line(head: &[u8]) -> Option<u16> {
    let rest = head.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        for (line, want) in [
            (&b"HTTP/1.1 200 OK\r\n"[..], Some(200)),
            (b"HTTP/1.0 503 Service Unavailable", Some(503)),
            (b"HTTP/1.1 20", None),
            (b"HTTP/2 200", None),
            (b"SSH-2.0-OpenSSH", None),
            (b"HTTP/1.1 2x0 OK", None),
            (b"", None),
        ] {
            assert_eq!(
                parse_status_line(line),
                want,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    /// A one-shot server on 127.0.0.1:0 that reads the request and writes `answer`
    /// (then holds the connection `hold` before closing it).
    async fn answering(answer: Vec<u8>, hold: Duration) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            let _ = conn.write_all(&answer).await;
            tokio::time::sleep(hold).await;
        });
        addr
    }

    #[tokio::test]
    async fn a_503_with_a_body_names_it() {
        let body = "books database unavailable: /tmp/x/books.sqlite not found\nsecond line";
        let raw = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let addr = answering(raw.into_bytes(), Duration::ZERO).await;
        let got = get_answer(addr, "/readyz", Duration::from_secs(2), false).await;
        assert_eq!(
            got,
            Ok(Answer {
                status: 503,
                body: "books database unavailable: /tmp/x/books.sqlite not found".into()
            })
        );
        assert_eq!(
            reason("/readyz", &got).as_deref(),
            Some("/readyz 503: books database unavailable: /tmp/x/books.sqlite not found")
        );
    }

    #[tokio::test]
    async fn control_characters_and_a_huge_body_are_cut() {
        // ANSI escape, NUL, BEL, tab, then megabytes without a newline; the
        // server keeps the connection open: the probe stops reading by itself.
        let mut raw =
            b"HTTP/1.1 500 Internal Server Error\r\nx: y\r\n\r\n\x1b[31mred\x00\x07\tok ".to_vec();
        raw.extend(std::iter::repeat_n(b'A', 4 << 20));
        let addr = answering(raw, Duration::from_secs(10)).await;
        let started = std::time::Instant::now();
        let got = get_answer(addr, "/healthz", Duration::from_secs(5), false)
            .await
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(got.status, 500);
        assert!(got.body.starts_with("[31mredok AAA"), "{:?}", got.body);
        assert!(got.body.len() <= BODY_MAX, "{}", got.body.len());
        assert!(!got.body.chars().any(char::is_control));
    }

    #[tokio::test]
    async fn silence_is_a_timeout_and_garbage_is_invalid() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got = get_answer(addr, "/readyz", Duration::from_millis(300), false).await;
        assert_eq!(got, Err(NoAnswer::Timeout(Duration::from_millis(300))));
        assert_eq!(
            reason("/readyz", &got).as_deref(),
            Some("/readyz: no answer within 300ms")
        );
        drop(listener);
        let addr = answering(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(), Duration::ZERO).await;
        let got = get_answer(addr, "/readyz", Duration::from_secs(2), false).await;
        assert_eq!(got, Err(NoAnswer::Invalid));
        let refused = testkit::RefusedPort::new();
        let got = get_answer(refused.addr(), "/readyz", Duration::from_secs(2), false).await;
        assert_eq!(got, Err(NoAnswer::Refused));
        let ok = Ok(Answer {
            status: 200,
            body: "ready".into(),
        });
        assert_eq!(reason("/readyz", &ok), None);
    }

    #[tokio::test]
    async fn nothing_listening_is_none() {
        let refused = testkit::RefusedPort::new();
        assert_eq!(
            get_status(
                refused.addr(),
                "/healthz",
                Duration::from_millis(500),
                false
            )
            .await,
            None
        );
    }
}
