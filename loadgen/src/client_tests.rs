//! [`Http1`] against scripted raw-socket servers on 127.0.0.1:0.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const T: Duration = Duration::from_secs(5);

/// Reads one request (head and a Content-Length body); false at EOF.
async fn read_request(s: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            if buf.len() >= end + 4 + len {
                return true;
            }
        }
        match s.read(&mut b).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
}

/// A server whose i-th connection answers `script[i]`'s responses in turn, then closes.
async fn scripted(script: Vec<Vec<&'static [u8]>>) -> (Arc<Endpoint>, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        for responses in script {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                for r in responses {
                    if !read_request(&mut s).await {
                        return;
                    }
                    s.write_all(r).await.unwrap();
                }
            });
        }
    });
    let endpoint = Endpoint {
        connect: addr.clone(),
        host: addr,
    };
    (Arc::new(endpoint), accepted)
}

fn get(path: &str) -> Request<'_> {
    Request {
        method: "GET",
        path,
        headers: &[("Cookie", "uid=lg-1")],
        body: None,
    }
}

const OK5: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-instance-id: i-a\r\n\r\nhello";
const CHUNKED: &[u8] =
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
const CLOSE: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\nx-instance-id: i-b\r\n\r\nok";

#[tokio::test]
async fn keep_alive_reuses_one_connection_for_length_and_chunked_bodies() {
    let (ep, accepted) = scripted(vec![vec![OK5, CHUNKED, OK5]]).await;
    let mut c = Http1::new(ep);
    let r = c.send(&get("/hello"), T).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
    assert_eq!(r.instance.as_deref(), Some("i-a"));
    let r = c.send(&get("/hello"), T).await.unwrap();
    assert_eq!(r.body, b"abcde");
    let r = c.send(&get("/hello"), T).await.unwrap();
    assert_eq!(r.body, b"hello");
    assert_eq!((c.connects, accepted.load(Ordering::SeqCst)), (1, 1));
}

#[tokio::test]
async fn connection_close_and_until_close_bodies_open_a_new_connection() {
    let until_close: &[u8] = b"HTTP/1.1 200 OK\r\n\r\nall of it";
    let (ep, accepted) = scripted(vec![vec![CLOSE], vec![until_close], vec![OK5]]).await;
    let mut c = Http1::new(ep);
    let r = c.send(&get("/hello"), T).await.unwrap();
    assert_eq!(
        (r.body.as_slice(), r.instance.as_deref()),
        (&b"ok"[..], Some("i-b"))
    );
    let r = c.send(&get("/hello"), T).await;
    // The scripted server keeps the socket open after its last response; a body framed by
    // the connection's end needs the close, which comes when the script's task ends.
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(r.unwrap().body, b"all of it");
    let r = c.send(&get("/hello"), T).await.unwrap();
    assert_eq!(r.body, b"hello");
    assert_eq!((c.connects, accepted.load(Ordering::SeqCst)), (3, 3));
}

#[tokio::test]
async fn a_get_on_a_connection_the_server_closed_is_sent_again_once() {
    // First connection: one response, then the server closes it (an idle close).
    let (ep, accepted) = scripted(vec![vec![OK5], vec![OK5]]).await;
    let mut c = Http1::new(ep.clone());
    c.send(&get("/hello"), T).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = c.send(&get("/hello"), T).await.unwrap();
    assert_eq!(r.body, b"hello");
    assert_eq!((c.connects, accepted.load(Ordering::SeqCst)), (2, 2));

    // A POST is not sent twice: the error is the caller's.
    let (ep, _) = scripted(vec![vec![OK5], vec![OK5]]).await;
    let mut c = Http1::new(ep);
    c.send(&get("/hello"), T).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let post = Request {
        method: "POST",
        path: "/books",
        headers: &[],
        body: Some(b"{}"),
    };
    let e = c.send(&post, T).await.unwrap_err();
    assert!(matches!(e, ClientError::Closed), "{e}");
    assert_eq!(c.connects, 1);
}

#[tokio::test]
async fn a_silent_server_times_out_and_a_short_body_is_an_error() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let held = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(s);
    });
    let mut c = Http1::new(Arc::new(Endpoint {
        connect: addr.clone(),
        host: addr,
    }));
    let started = std::time::Instant::now();
    let e = c
        .send(&get("/hello"), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Timeout(_)), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    held.abort();

    let short: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\nonly this";
    let (ep, _) = scripted(vec![vec![short]]).await;
    let e = Http1::new(ep).send(&get("/"), T).await.unwrap_err();
    assert!(matches!(e, ClientError::Truncated), "{e}");

    let garbage: &[u8] = b"SSH-2.0-OpenSSH\r\n\r\n";
    let (ep, _) = scripted(vec![vec![garbage]]).await;
    let e = Http1::new(ep).send(&get("/"), T).await.unwrap_err();
    assert!(matches!(e, ClientError::Parse(_)), "{e}");
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let e = Http1::new(Arc::new(Endpoint {
        connect: addr.clone(),
        host: addr,
    }))
    .send(&get("/"), T)
    .await
    .unwrap_err();
    assert!(matches!(e, ClientError::Connect { .. }), "{e}");
}
