//! Each user's HTTP client, the one place loadgen's users touch the network.
//!
//! - `http://` hosts: [`Http1`], the user's own keep-alive HTTP/1.1 connection on a
//!   `TcpStream` ([`crate::http1`] frames it). A connection lives until the server closes it
//!   (`Connection: close`, as the service says at the end of a connection's life, or an
//!   EOF) or an error; the next request then connects again, so it goes through the
//!   balancer to whichever instance it picks. A `GET` that finds its reused connection
//!   already closed by the server (no byte of a response came) is sent once more on a new one.
//! - `https://` hosts (an NLB's TLS listener): one shared reqwest client (rustls, certificates
//!   verified), the same [`Response`].
//!
//! Every request has a deadline covering connect, write and the whole body.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::http1::{self, Framing, ParseError, Request};

pub const USER_AGENT: &str = concat!("hellofleet-loadgen/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server closed the connection before answering")]
    Closed,
    #[error("the server closed the connection mid-response")]
    Truncated,
    #[error("no complete response within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("https: {0}")]
    Tls(String),
}

/// A complete response: the status, the body and the headers loadgen reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    pub instance: Option<String>,
    pub uid_cookie: Option<String>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

/// Where requests go: `host:port` to connect to and the `Host` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub connect: String,
    pub host: String,
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Responses read on this connection.
    served: u64,
}

/// One user's keep-alive connection (opened on first use, again after the server closes it).
pub struct Http1 {
    endpoint: Arc<Endpoint>,
    conn: Option<Conn>,
    out: Vec<u8>,
    chunked: Vec<u8>,
    /// The last attempt went out on a connection that had served a response already.
    reused_last: bool,
    /// Connections opened.
    pub connects: u64,
}

impl Http1 {
    pub fn new(endpoint: Arc<Endpoint>) -> Http1 {
        Http1 {
            endpoint,
            conn: None,
            out: Vec::new(),
            chunked: Vec::new(),
            reused_last: false,
            connects: 0,
        }
    }

    /// Sends `req` and reads the whole response within `timeout`.
    pub async fn send(
        &mut self,
        req: &Request<'_>,
        timeout: Duration,
    ) -> Result<Response, ClientError> {
        let deadline = Instant::now() + timeout;
        http1::write_request(&mut self.out, &self.endpoint.host, USER_AGENT, req);
        let result = match tokio::time::timeout_at(deadline, self.attempt()).await {
            Ok(Err(ClientError::Closed)) if req.idempotent() && self.reused_last => {
                tokio::time::timeout_at(deadline, self.attempt())
                    .await
                    .unwrap_or(Err(ClientError::Timeout(timeout)))
            }
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout(timeout)),
        };
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn connect(&mut self) -> Result<Conn, ClientError> {
        let addr = &self.endpoint.connect;
        let stream =
            TcpStream::connect(addr.as_str())
                .await
                .map_err(|source| ClientError::Connect {
                    addr: addr.clone(),
                    source,
                })?;
        stream.set_nodelay(true)?;
        self.connects += 1;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(1024),
            served: 0,
        })
    }

    /// One try on the current connection (or a new one); `self.out` holds the request.
    async fn attempt(&mut self) -> Result<Response, ClientError> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().await?,
        };
        self.reused_last = conn.served > 0;
        conn.buf.clear();
        conn.stream.write_all(&self.out).await.map_err(|e| {
            if conn.served > 0 {
                ClientError::Closed
            } else {
                ClientError::Io(e)
            }
        })?;
        let head = loop {
            if let Some(h) = http1::parse_head(&conn.buf)? {
                if h.framing == Framing::Empty && (100..200).contains(&h.status) {
                    conn.buf.drain(..h.len);
                    continue;
                }
                break h;
            }
            let n = read_more(&mut conn).await;
            match n {
                Ok(0) | Err(_) if conn.buf.is_empty() && conn.served > 0 => {
                    return Err(ClientError::Closed);
                }
                Ok(0) if conn.buf.is_empty() => return Err(ClientError::Closed),
                Ok(0) => return Err(ClientError::Truncated),
                Ok(_) => {}
                Err(e) => return Err(ClientError::Io(e)),
            }
        };
        let mut body = Vec::new();
        let mut eof = false;
        loop {
            let rest = &conn.buf[head.len..];
            let done = match head.framing {
                Framing::Empty => Some(0),
                Framing::Length(n) => (rest.len() >= n).then(|| {
                    body.extend_from_slice(&rest[..n]);
                    n
                }),
                Framing::Chunked => http1::decode_chunked(rest, &mut self.chunked)?.inspect(|_| {
                    std::mem::swap(&mut body, &mut self.chunked);
                }),
                Framing::UntilClose if eof => {
                    body.extend_from_slice(rest);
                    Some(rest.len())
                }
                Framing::UntilClose if rest.len() > http1::MAX_BODY => {
                    return Err(ParseError::BodyTooLarge.into());
                }
                Framing::UntilClose => None,
            };
            if done.is_some() {
                break;
            }
            match read_more(&mut conn).await? {
                0 if head.framing == Framing::UntilClose => eof = true,
                0 => return Err(ClientError::Truncated),
                _ => {}
            }
        }
        conn.served += 1;
        if !head.close && !eof {
            self.conn = Some(conn);
        }
        Ok(Response {
            status: head.status,
            body,
            instance: head.instance,
            uid_cookie: head.uid_cookie,
            etag: head.etag,
            location: head.location,
        })
    }
}

async fn read_more(conn: &mut Conn) -> std::io::Result<usize> {
    if conn.buf.capacity() - conn.buf.len() < 512 {
        conn.buf.reserve(conn.buf.capacity().max(1024));
    }
    conn.stream.read_buf(&mut conn.buf).await
}

/// The client a user sends through: its own connection, or the shared https client.
pub enum UserClient {
    Plain(Http1),
    Tls(Arc<TlsClient>),
}

impl UserClient {
    pub async fn send(
        &mut self,
        req: &Request<'_>,
        timeout: Duration,
    ) -> Result<Response, ClientError> {
        match self {
            UserClient::Plain(c) => c.send(req, timeout).await,
            UserClient::Tls(c) => c.send(req, timeout).await,
        }
    }
}

/// `https://` through reqwest (rustls; certificates verified; no cookie jar: the user's
/// `Cookie` header is sent as given).
pub struct TlsClient {
    client: reqwest::Client,
    base: String,
}

impl TlsClient {
    pub fn new(base: &str) -> Result<TlsClient, ClientError> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        Ok(TlsClient {
            client,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    async fn send(&self, req: &Request<'_>, timeout: Duration) -> Result<Response, ClientError> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        let mut b = self
            .client
            .request(method, format!("{}{}", self.base, req.path))
            .timeout(timeout);
        for (name, value) in req.headers {
            b = b.header(*name, *value);
        }
        if let Some(body) = req.body {
            b = b.body(body.to_vec());
        }
        let tls = |e: reqwest::Error| {
            if e.is_timeout() {
                ClientError::Timeout(timeout)
            } else {
                ClientError::Tls(e.to_string())
            }
        };
        let resp = b.send().await.map_err(tls)?;
        let h = resp.headers();
        let get = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
        };
        let mut out = Response {
            status: resp.status().as_u16(),
            instance: get(proto::INSTANCE_ID_HEADER),
            uid_cookie: h
                .get_all(reqwest::header::SET_COOKIE)
                .iter()
                .find_map(|v| http1::uid_from_set_cookie(v.as_bytes())),
            etag: get("etag"),
            location: get("location"),
            body: Vec::new(),
        };
        let body = resp.bytes().await.map_err(tls)?;
        if body.len() > http1::MAX_BODY {
            return Err(ParseError::BodyTooLarge.into());
        }
        out.body = body.to_vec();
        Ok(out)
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
