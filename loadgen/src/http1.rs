//! HTTP/1.1 on the wire, without I/O: the request bytes, and a response read from a buffer —
//! its head (httparse), then its body framed by `Content-Length`, chunked encoding or the
//! connection's end. Only the headers loadgen uses are kept (`X-Instance-Id`, the `uid`
//! cookie, `ETag`, `Location`); everything from the server is bounded and checked.

/// A response head larger than this is refused.
pub const MAX_HEAD: usize = 16 * 1024;
/// A response body larger than this is refused.
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// Headers parsed per response.
const MAX_HEADERS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("malformed response head: {0}")]
    Head(String),
    #[error("response head over {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("response body over {MAX_BODY} bytes")]
    BodyTooLarge,
    #[error("bad Content-Length")]
    BadLength,
    #[error("malformed chunked body")]
    BadChunk,
    #[error("unsupported Transfer-Encoding")]
    Encoding,
}

/// How the body after a head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (1xx, 204, 304).
    Empty,
    Length(usize),
    Chunked,
    /// Read until the server closes the connection.
    UntilClose,
}

/// A parsed response head and the headers loadgen reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Bytes of the head, up to and including the blank line.
    pub len: usize,
    pub framing: Framing,
    /// The server closes the connection after this response.
    pub close: bool,
    pub instance: Option<String>,
    /// `uid=<value>` from a `Set-Cookie` that sets a non-empty `uid`.
    pub uid_cookie: Option<String>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

fn text(v: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(v).ok()?.trim();
    (!s.is_empty() && s.len() <= 1024).then(|| s.to_string())
}

/// `uid=<value>` when this `Set-Cookie` value sets the `uid` cookie to a non-empty value.
pub fn uid_from_set_cookie(v: &[u8]) -> Option<String> {
    let pair = v.split(|&b| b == b';').next()?.trim_ascii();
    let value = pair
        .strip_prefix(proto::USER_COOKIE.as_bytes())?
        .strip_prefix(b"=")?;
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    ok.then(|| String::from_utf8_lossy(pair).into_owned())
}

/// Parses a response head at the start of `buf`: `Ok(None)` until it is complete.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(ParseError::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ParseError::Head(e.to_string())),
    };
    let status = resp.code.unwrap_or(0);
    let mut close = resp.version == Some(0);
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut head = Head {
        status,
        len,
        framing: Framing::UntilClose,
        close: false,
        instance: None,
        uid_cookie: None,
        etag: None,
        location: None,
    };
    for h in resp.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or(ParseError::BadLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(ParseError::BadLength);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
            if v.trim() != "chunked" {
                return Err(ParseError::Encoding);
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
            if v.split(',').any(|t| t.trim() == "close") {
                close = true;
            } else if v.split(',').any(|t| t.trim() == "keep-alive") {
                close = false;
            }
        } else if name.eq_ignore_ascii_case(proto::INSTANCE_ID_HEADER) {
            head.instance = text(h.value);
        } else if name.eq_ignore_ascii_case("set-cookie") {
            if let Some(c) = uid_from_set_cookie(h.value) {
                head.uid_cookie = Some(c);
            }
        } else if name.eq_ignore_ascii_case("etag") {
            head.etag = text(h.value);
        } else if name.eq_ignore_ascii_case("location") {
            head.location = text(h.value);
        }
    }
    head.framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(ParseError::BodyTooLarge);
        }
        Framing::Length(n)
    } else {
        close = true;
        Framing::UntilClose
    };
    head.close = close;
    Ok(Some(head))
}

/// Decodes a complete chunked body at the start of `buf` into `out`: `Ok(Some(consumed))`
/// when it is complete (trailers skipped), `Ok(None)` while more bytes are needed.
pub fn decode_chunked(buf: &[u8], out: &mut Vec<u8>) -> Result<Option<usize>, ParseError> {
    out.clear();
    let mut at = 0;
    loop {
        let (skip, size) = match httparse::parse_chunk_size(&buf[at..]) {
            Ok(httparse::Status::Complete(v)) => v,
            Ok(httparse::Status::Partial) if buf.len() - at > 1024 => {
                return Err(ParseError::BadChunk);
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(ParseError::BadChunk),
        };
        at += skip;
        let size = usize::try_from(size).map_err(|_| ParseError::BodyTooLarge)?;
        if size == 0 {
            // Trailers: header lines up to a blank line.
            loop {
                let Some(eol) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
                    return if buf.len() - at > MAX_HEAD {
                        Err(ParseError::BadChunk)
                    } else {
                        Ok(None)
                    };
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some(at));
                }
            }
        }
        if out.len() + size > MAX_BODY {
            return Err(ParseError::BodyTooLarge);
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&buf[at..at + size]);
        if &buf[at + size..at + size + 2] != b"\r\n" {
            return Err(ParseError::BadChunk);
        }
        at += size + 2;
    }
}

/// A request to send: `path` includes the query; `headers` are extra lines.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<&'a [u8]>,
}

impl Request<'_> {
    /// Safe to send again after the connection died before any byte of a response came.
    pub fn idempotent(&self) -> bool {
        matches!(self.method, "GET" | "HEAD")
    }
}

/// Writes `req` for `host` (the `Host` header) into `out`.
pub fn write_request(out: &mut Vec<u8>, host: &str, user_agent: &str, req: &Request<'_>) {
    out.clear();
    for part in [req.method, " ", req.path, " HTTP/1.1\r\nHost: ", host] {
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(b"\r\nUser-Agent: ");
    out.extend_from_slice(user_agent.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in req.headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(body) = req.body {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
    } else {
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_with_length_and_the_headers_loadgen_reads() {
        let r = b"HTTP/1.1 201 Created\r\ncontent-length: 5\r\nx-instance-id: i-a\r\n\
            set-cookie: other=1\r\nSet-Cookie: uid=abc; Path=/; HttpOnly\r\nETag: \"v1\"\r\n\
            Location: /books/7\r\n\r\nhello";
        assert_eq!(parse_head(&r[..20]).unwrap(), None, "partial");
        let h = parse_head(r).unwrap().unwrap();
        assert_eq!(h.status, 201);
        assert_eq!(h.framing, Framing::Length(5));
        assert!(!h.close);
        assert_eq!(&r[h.len..], b"hello");
        assert_eq!(h.instance.as_deref(), Some("i-a"));
        assert_eq!(h.uid_cookie.as_deref(), Some("uid=abc"));
        assert_eq!(h.etag.as_deref(), Some("\"v1\""));
        assert_eq!(h.location.as_deref(), Some("/books/7"));
    }

    #[test]
    fn connection_close_http10_and_no_length_end_the_connection() {
        let h = parse_head(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.close);
        let h = parse_head(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.close, "HTTP/1.0 without keep-alive");
        let h = parse_head(b"HTTP/1.1 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.framing, h.close), (Framing::UntilClose, true));
        let h = parse_head(b"HTTP/1.1 204 No Content\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.framing, h.close), (Framing::Empty, false));
    }

    #[test]
    fn bad_heads_are_errors() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"SMTP ready\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        ] {
            assert!(parse_head(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let long = [b'a'; MAX_HEAD + 10];
        let mut buf = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        buf.extend_from_slice(&long);
        assert_eq!(parse_head(&buf), Err(ParseError::HeadTooLarge));
    }

    #[test]
    fn uid_cookie_only_when_set_and_valid() {
        assert_eq!(
            uid_from_set_cookie(b"uid=x9; Path=/").as_deref(),
            Some("uid=x9")
        );
        for bad in [
            &b"uid=; Path=/"[..],
            b"xuid=1",
            b"session=uid=1",
            b"uid=a b",
        ] {
            assert_eq!(uid_from_set_cookie(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn chunked_bodies_in_pieces_with_trailers() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let mut out = Vec::new();
        for cut in [0, 3, 10, 20, body.len() - 6] {
            assert_eq!(
                decode_chunked(&body[..cut], &mut out),
                Ok(None),
                "cut {cut}"
            );
        }
        assert_eq!(decode_chunked(body, &mut out), Ok(Some(body.len() - 4)));
        assert_eq!(out, b"hello world");
        assert_eq!(
            decode_chunked(b"0\r\n\r\n", &mut out),
            Ok(Some(5)),
            "empty body"
        );
        assert!(out.is_empty());
        assert_eq!(
            decode_chunked(b"3\r\nabcX\r\n0\r\n\r\n", &mut out),
            Err(ParseError::BadChunk)
        );
        assert_eq!(
            decode_chunked(b"zz\r\n", &mut out),
            Err(ParseError::BadChunk)
        );
    }

    #[test]
    fn requests_on_the_wire() {
        let mut out = Vec::new();
        let req = Request {
            method: "POST",
            path: "/books",
            headers: &[("Cookie", "uid=a"), ("Content-Type", "application/json")],
            body: Some(b"{}"),
        };
        write_request(&mut out, "h:8", "ua", &req);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "POST /books HTTP/1.1\r\nHost: h:8\r\nUser-Agent: ua\r\nCookie: uid=a\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
        assert!(!req.idempotent());
        let get = Request {
            method: "GET",
            path: "/hello",
            headers: &[],
            body: None,
        };
        write_request(&mut out, "h", "ua", &get);
        assert!(out.ends_with(b"User-Agent: ua\r\n\r\n"));
        assert!(get.idempotent());
    }
}
