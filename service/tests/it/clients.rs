//! Who is a user, seen from outside: raw sockets bound to chosen loopback
//! source addresses, PROXY v2 headers (trusted and not), curl, and keep-alive
//! clients (python's http.client, a raw socket) meeting the connection limits.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{InProcess, client, load_report};
use service::server::proxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection to `to` from the source address `from` (any loopback address).
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse().unwrap(), 0))
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), socket.connect(to))
        .await
        .expect("connect within 5 s")
        .unwrap()
}

/// Sends `bytes` and reads until the server closes (bounded); the whole answer.
async fn exchange(mut s: TcpStream, bytes: &[u8]) -> String {
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    String::from_utf8_lossy(&out).into_owned()
}

const GET_HELLO: &[u8] = b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

async fn users(svc: &InProcess) -> u64 {
    load_report(&client(), &svc.base).await.concurrent_users
}

/// The body of `GET path` from 127.0.0.1, prefixed with the PROXY `LOCAL`
/// header (for a service that trusts 127.0.0.1 as its balancer).
async fn get_as_balancer(svc: &InProcess, path: &str) -> String {
    let mut bytes = proxy::encode_local();
    bytes.extend_from_slice(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let answer = exchange(connect_from("127.0.0.1", svc.addr).await, &bytes).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.80}");
    answer.split_once("\r\n\r\n").unwrap().1.to_owned()
}

async fn users_behind_proxy(svc: &InProcess) -> u64 {
    let body = get_as_balancer(svc, proto::LOAD_REPORT_PATH).await;
    serde_json::from_str::<proto::LoadReport>(&body)
        .unwrap()
        .concurrent_users
}

async fn metric(svc: &InProcess, proxied: bool, name: &str) -> u64 {
    let body = if proxied {
        get_as_balancer(svc, "/metrics").await
    } else {
        common::get(&client(), &format!("{}/metrics", svc.base))
            .await
            .body
    };
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// Connection counters are added when the connection's task ends, just after the close.
async fn wait_metric(svc: &InProcess, name: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = metric(svc, false, name).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{name} = {got}, want {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookieless_requests_from_one_address_are_one_user() {
    let svc = InProcess::start(&[]).await;
    // 200 requests, each on its own connection (a new source port each time), no cookie.
    for _ in 0..200 {
        let answer = exchange(connect_from("127.0.0.1", svc.addr).await, GET_HELLO).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.80}");
        assert!(
            answer.to_ascii_lowercase().contains("set-cookie: uid="),
            "a cookie is still offered"
        );
    }
    assert_eq!(users(&svc).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookieless_requests_from_fifty_addresses_are_fifty_users() {
    let svc = InProcess::start(&[]).await;
    for i in 2..=51 {
        for _ in 0..3 {
            let s = connect_from(&format!("127.0.0.{i}"), svc.addr).await;
            let answer = exchange(s, GET_HELLO).await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.80}");
        }
    }
    assert_eq!(users(&svc).await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_without_a_cookie_jar_counts_once() {
    let svc = InProcess::start(&[]).await;
    let url = format!("{}/hello", svc.base);
    for _ in 0..20 {
        let out = std::process::Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "5",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .arg(&url)
            .output()
            .expect("curl is needed: apt-get install curl");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    }
    assert_eq!(users(&svc).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_api_routes_count() {
    let svc = InProcess::start(&[]).await;
    for request in [
        "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_string(),
        "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
        "DELETE /repeat HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
        "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
        format!(
            "GET {} HTTP/1.1\r\nHost: x\r\nCookie: uid=u1\r\nConnection: close\r\n\r\n",
            proto::LOAD_REPORT_PATH
        ),
        "GET /nope HTTP/1.1\r\nHost: x\r\nX-User-Id: u2\r\nConnection: close\r\n\r\n".into(),
    ] {
        // From different addresses, so no count could hide behind another.
        for i in 2..=4 {
            let s = connect_from(&format!("127.0.0.{i}"), svc.addr).await;
            let answer = exchange(s, request.as_bytes()).await;
            assert!(answer.starts_with("HTTP/1.1 "), "{answer:.80}");
        }
    }
    assert_eq!(users(&svc).await, 0);
    // And the API's routes do.
    let s = connect_from("127.0.0.5", svc.addr).await;
    let answer = exchange(
        s,
        b"GET /repeat HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.80}");
    assert_eq!(users(&svc).await, 1);
}

fn header_for(client: &str) -> Vec<u8> {
    proxy::encode(client.parse().unwrap(), "127.0.0.1:8080".parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_headers_are_trusted_only_from_the_allowed_sources() {
    let svc = InProcess::start(&[
        "--proxy-protocol",
        "--proxy-from",
        "127.0.0.1/32",
        "--header-timeout",
        "500ms",
    ])
    .await;
    // From the trusted balancer: three clients, two connections each.
    for client in ["10.0.0.1:1111", "10.0.0.2:2222", "[2001:db8::3]:3333"] {
        for _ in 0..2 {
            let mut bytes = header_for(client);
            bytes.extend_from_slice(GET_HELLO);
            let answer = exchange(connect_from("127.0.0.1", svc.addr).await, &bytes).await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.80}");
        }
    }
    // A LOCAL header (a health check) is served as the balancer itself: not a user.
    let mut bytes = proxy::encode_local();
    bytes.extend_from_slice(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let answer = exchange(connect_from("127.0.0.1", svc.addr).await, &bytes).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.80}");
    assert_eq!(
        users_behind_proxy(&svc).await,
        3,
        "one user per client address"
    );

    // From an untrusted source, a header is not believed: the bytes are not HTTP (400).
    let mut forged = header_for("10.9.9.9:9");
    forged.extend_from_slice(GET_HELLO);
    let answer = exchange(connect_from("127.0.0.2", svc.addr).await, &forged).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer:.80}"
    );
    assert_eq!(
        users_behind_proxy(&svc).await,
        3,
        "the forged address counted nobody"
    );
    // That source is served under its own address.
    let answer = exchange(connect_from("127.0.0.2", svc.addr).await, GET_HELLO).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.80}");
    assert_eq!(users_behind_proxy(&svc).await, 4);

    // From the trusted source without a valid header: closed, no answer, counted.
    let refused = |bytes: Vec<u8>| async move {
        let started = Instant::now();
        let answer = exchange(connect_from("127.0.0.1", svc.addr).await, &bytes).await;
        assert_eq!(answer, "", "no answer to {bytes:02x?}");
        started.elapsed()
    };
    refused(GET_HELLO.to_vec()).await;
    let mut bad = header_for("10.0.0.1:1");
    bad[0] = b'X';
    refused(bad).await;
    let mut v1 = b"PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n".to_vec();
    v1.extend_from_slice(GET_HELLO);
    refused(v1).await;
    // Truncated: the rest never comes; the head timeout (500 ms) ends it.
    let took = refused(header_for("10.0.0.1:1")[..20].to_vec()).await;
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(
        metric(&svc, true, "hellofleet_proxy_header_refused_total").await,
        4
    );
    assert_eq!(users_behind_proxy(&svc).await, 4);
}

/// python's http.client on one keep-alive connection: the 5th response says
/// `Connection: close`, http.client reconnects by itself, every request succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_clients_are_told_to_reconnect_after_n_requests() {
    let svc = InProcess::start(&[
        "--max-connection-requests",
        "5",
        "--max-connection-age",
        "0s",
    ])
    .await;
    let script = r#"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
for i in range(12):
    c.request("GET", "/hello", headers={"X-User-Id": "py"})
    r = c.getresponse()
    body = r.read()
    print(r.status, r.getheader("Connection", "-"), body.decode())
"#;
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(svc.addr.port().to_string())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("python finishes")
        .expect("python3 is needed: apt-get install python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12, "{text}");
    for (i, line) in lines.iter().enumerate() {
        let want = if (i + 1) % 5 == 0 {
            "200 close Hello World"
        } else {
            "200 - Hello World"
        };
        assert_eq!(*line, want, "request {}", i + 1);
    }
    wait_metric(
        &svc,
        "hellofleet_connections_ended_total{reason=\"requests\"}",
        2,
    )
    .await;
}

/// A raw keep-alive socket sending a request every 100 ms: once the connection
/// is 1 s old its next response carries `Connection: close`, then the server
/// closes; nothing fails and nothing is cut mid-response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_end_after_their_age() {
    let svc = InProcess::start(&[
        "--max-connection-age",
        "1s",
        "--max-connection-age-jitter",
        "0",
        "--max-connection-requests",
        "0",
    ])
    .await;
    let mut s = connect_from("127.0.0.1", svc.addr).await;
    let opened = Instant::now();
    let request = b"GET /hello HTTP/1.1\r\nHost: x\r\nX-User-Id: raw\r\n\r\n";
    let mut answered = 0;
    let closed_at = loop {
        assert!(
            opened.elapsed() < Duration::from_secs(5),
            "never told to close"
        );
        s.write_all(request).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.ends_with("hello world"), "a whole response: {head}");
        answered += 1;
        if head.contains("connection: close") {
            break opened.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The age is checked every quarter of it: told within 1 s … 1.25 s (+ a request).
    assert!(closed_at >= Duration::from_secs(1), "{closed_at:?}");
    assert!(closed_at < Duration::from_millis(1_600), "{closed_at:?}");
    assert!(answered >= 8, "{answered}");
    let mut rest = Vec::new();
    let eof = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert!(
        matches!(eof, Ok(Ok(0))),
        "closed after the response: {eof:?}"
    );
    wait_metric(
        &svc,
        "hellofleet_connections_ended_total{reason=\"age\"}",
        1,
    )
    .await;
}
