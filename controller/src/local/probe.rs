//! Health and readiness probes: one bounded HTTP/1.1 `GET` on loopback.
//! An instance that expects PROXY v2 headers from loopback (the group runs
//! it with `--proxy-protocol`) gets the `LOCAL` header first, as a load
//! balancer's own health checks send.

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
    tokio::time::timeout(timeout, get_status_inner(addr, path, proxy_local))
        .await
        .ok()
        .flatten()
}

async fn get_status_inner(addr: SocketAddr, path: &str, proxy_local: bool) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let _ = stream.set_nodelay(true);
    let mut request = if proxy_local {
        service::server::proxy::encode_local()
    } else {
        Vec::new()
    };
    request.extend_from_slice(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    stream.write_all(&request).await.ok()?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    // The status line is `HTTP/1.1 200 OK`: 12 bytes are enough for the code.
    while head.len() < 12 {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse_status_line(&head)
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

    #[tokio::test]
    async fn nothing_listening_is_none() {
        let port = testkit::free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        assert_eq!(
            get_status(addr, "/healthz", Duration::from_millis(500), false).await,
            None
        );
    }
}
