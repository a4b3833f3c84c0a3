//! The tests' one HTTP/1.1 client of their own: one request per connection (`Connection:
//! close`), read to the end within a deadline, then parsed into a [`Response`] (status,
//! headers, body; a chunked body is decoded). Blocking ([`Request::send`], [`get`]) and
//! tokio ([`Request::send_async`]) forms. Tests that send raw or malformed bytes on purpose use
//! [`exchange`] / [`exchange_async`]: the bytes as given, the answer as sent.
//!
//! Where a test wants a client this project did not write, it uses curl, reqwest or hyper
//! instead; this one is for the exact bytes on the wire.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one exchange may take, connect to close, unless a test says otherwise.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A parsed answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// The header lines as sent (names as the server spelled them).
    pub headers: Vec<(String, String)>,
    /// The body (chunked transfer decoded), lossily as UTF-8.
    pub body: String,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Parses a whole answer (everything the server sent before it closed).
    pub fn parse(raw: &[u8]) -> Option<Response> {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&raw[..split]).ok()?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next()?;
        if !status_line.starts_with("HTTP/1.") {
            return None;
        }
        let status = status_line.get(9..12)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let mut response = Response {
            status,
            headers,
            body: String::new(),
        };
        let body = &raw[split + 4..];
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let body = if chunked {
            dechunk(body)?
        } else {
            body.to_vec()
        };
        response.body = String::from_utf8_lossy(&body).into_owned();
        Some(response)
    }
}

/// One request: `Host`, `Content-Length` and `Connection: close` are added to `headers`.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Request {
            method,
            path,
            headers: &[],
            body: b"",
        }
    }

    pub fn headers(self, headers: &'a [(&'a str, &'a str)]) -> Self {
        Request { headers, ..self }
    }

    pub fn body(self, body: &'a [u8]) -> Self {
        Request { body, ..self }
    }

    /// The bytes on the wire: the request line, `Host`, `headers`, `Content-Length`,
    /// `Connection: close`, the body.
    pub fn bytes(&self, addr: SocketAddr) -> Vec<u8> {
        self.wire(addr, "Connection: close\r\n")
    }

    /// [`Request::bytes`] without `Connection: close`: the server answers and keeps the
    /// connection open (for [`keep_alive_exchange_on`]).
    pub fn bytes_keep_alive(&self, addr: SocketAddr) -> Vec<u8> {
        self.wire(addr, "")
    }

    fn wire(&self, addr: SocketAddr, connection: &str) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\nHost: {addr}\r\n", self.method, self.path);
        for (name, value) in self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\n{connection}\r\n",
            self.body.len()
        ));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body);
        bytes
    }

    /// Sends it, blocking; panics (naming the request) on a connection error, a timeout or
    /// an answer that is not HTTP.
    pub fn send(&self, addr: SocketAddr) -> Response {
        self.answer(addr, &exchange(addr, &self.bytes(addr), TIMEOUT))
    }

    /// [`Request::send`] on a tokio runtime.
    pub async fn send_async(&self, addr: SocketAddr) -> Response {
        self.answer(
            addr,
            &exchange_async(addr, &self.bytes(addr), TIMEOUT).await,
        )
    }

    fn answer(&self, addr: SocketAddr, raw: &[u8]) -> Response {
        Response::parse(raw).unwrap_or_else(|| {
            let start = String::from_utf8_lossy(&raw[..raw.len().min(200)]);
            panic!(
                "{} http://{addr}{}: not an HTTP/1 answer: {start:?}",
                self.method, self.path
            )
        })
    }
}

/// `GET path`, blocking.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    Request::new("GET", path).send(addr)
}

/// Writes `bytes` as given (a write error is ignored: the server may close first), then
/// reads until the server closes or fails the connection. Panics when the connection
/// cannot be made or stays open past `within`.
pub fn exchange(addr: SocketAddr, bytes: &[u8], within: Duration) -> Vec<u8> {
    try_exchange(addr, bytes, within).unwrap_or_else(|e| panic!("{addr}: {e}"))
}

/// [`exchange`] with the error returned: a refused connection, or a timeout.
pub fn try_exchange(addr: SocketAddr, bytes: &[u8], within: Duration) -> std::io::Result<Vec<u8>> {
    let deadline = Instant::now() + within;
    let mut s = TcpStream::connect_timeout(&addr, within)?;
    let _ = s.set_write_timeout(Some(within));
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(within));
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::Interrupted) => {}
            Err(e) if is_timeout(&e) => return Err(timed_out(within)),
            // Reset or other failure: what arrived is the answer.
            Err(_) => return Ok(out),
        }
    }
}

/// [`exchange`] on a tokio runtime.
pub async fn exchange_async(addr: SocketAddr, bytes: &[u8], within: Duration) -> Vec<u8> {
    let connect = tokio::time::timeout(within, tokio::net::TcpStream::connect(addr));
    let mut s = connect
        .await
        .unwrap_or_else(|_| panic!("{addr}: no connection within {within:?}"))
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    exchange_on(&mut s, bytes, within).await
}

/// [`exchange_async`] on a connection the test opened itself (to choose when, or to hold
/// several at once).
pub async fn exchange_on(s: &mut tokio::net::TcpStream, bytes: &[u8], within: Duration) -> Vec<u8> {
    let run = async {
        let _ = s.write_all(bytes).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        out
    };
    tokio::time::timeout(within, run)
        .await
        .unwrap_or_else(|_| panic!("{}", timed_out(within)))
}

/// Writes `bytes` on a connection kept open, and reads one whole answer (its
/// `Content-Length` of body) within `within`, leaving the connection open: to hold a
/// connection the server has certainly accepted and served. Panics on a close before the
/// answer is whole, an answer without `Content-Length`, or the deadline.
pub async fn keep_alive_exchange_on(
    s: &mut tokio::net::TcpStream,
    bytes: &[u8],
    within: Duration,
) -> Response {
    let run = async {
        s.write_all(bytes).await.expect("write the request");
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let answer = Response::parse(&raw[..split + 4]).expect("an HTTP/1 head");
                let length: usize = answer
                    .header("content-length")
                    .and_then(|v| v.parse().ok())
                    .expect("an answer with Content-Length");
                if raw.len() >= split + 4 + length {
                    return Response::parse(&raw[..split + 4 + length]).expect("an HTTP/1 answer");
                }
            }
            let n = s.read(&mut buf).await.expect("read the answer");
            assert!(
                n > 0,
                "closed before a whole answer: {:?}",
                String::from_utf8_lossy(&raw)
            );
            raw.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(within, run)
        .await
        .unwrap_or_else(|_| panic!("{}", timed_out(within)))
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn timed_out(within: Duration) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("the server did not close the connection within {within:?}"),
    )
}

/// Decodes a chunked body (extensions and trailers ignored); `None` when malformed.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = size.split(';').next()?.trim();
        let n = usize::from_str_radix(size, 16).ok()?;
        body = &body[line_end + 2..];
        if n == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..n)?);
        body = body.get(n + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_content_length_answer() {
        let r = Response::parse(b"HTTP/1.1 404 Not Found\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nno")
            .unwrap();
        assert_eq!(
            (r.status, r.header("x-a"), r.body.as_str()),
            (404, Some("1"), "no")
        );
    }

    #[test]
    fn decodes_a_chunked_body() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n6;x=y\r\n World\r\n0\r\n\r\n";
        assert_eq!(Response::parse(raw).unwrap().body, "Hello World");
    }

    #[test]
    fn a_request_is_these_bytes() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 9));
        let req = Request::new("POST", "/x")
            .headers(&[("X-A", "1")])
            .body(b"{}");
        assert_eq!(
            String::from_utf8(req.bytes(addr)).unwrap(),
            "POST /x HTTP/1.1\r\nHost: 127.0.0.1:9\r\nX-A: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        );
    }

    #[test]
    fn refuses_what_is_not_http() {
        assert!(Response::parse(b"SSH-2.0-x\r\n\r\n").is_none());
        assert!(Response::parse(b"HTTP/1.1 200 OK\r\n").is_none());
        let cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHel";
        assert!(Response::parse(cut).is_none());
    }
}
