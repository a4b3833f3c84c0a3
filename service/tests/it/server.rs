//! The real HTTP server on a loopback socket: limits, bad input, drain, report push.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{InProcess, client, get, load_report};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Writes raw bytes and reads until the server closes (panics past 15 s).
async fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let out = testkit::http::exchange_async(addr, bytes, Duration::from_secs(15)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Holds the log sink and sends the 5 `/repeat` requests (each answered) that fill a
/// queue of 100 (each ships 20 events).
async fn fill_the_queue(c: &common::HttpClient, svc: &InProcess) {
    svc.sink.hold();
    for _ in 0..5 {
        assert_eq!(
            get(c, &format!("{}/repeat", svc.base)).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_header_section_gets_431() {
    let mut svc = InProcess::start(&[]).await;
    let big = "a".repeat(20 * 1024);
    let req = format!("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let answer = raw(svc.addr, req.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.80}");
    // Just under the limit is fine.
    let ok = format!(
        "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
        "a".repeat(15 * 1024)
    );
    let answer = raw(svc.addr, ok.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.80}");
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_that_connection_only() {
    let mut svc = InProcess::start(&[]).await;
    // A well-behaved keep-alive client, before and after.
    let mut good = TcpStream::connect(svc.addr).await.unwrap();
    let hello = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut buf = vec![0u8; 4096];
    good.write_all(hello).await.unwrap();
    let n = good.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));

    for junk in [
        &b"\x00\x01\x02\xff\xfe garbage \r\n\r\n"[..],
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET /hello HTTP/9.9\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS ClientHello
    ] {
        let answer = raw(svc.addr, junk).await;
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
            "{answer:.80}"
        );
    }

    good.write_all(hello).await.unwrap();
    let n = good.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "the good client was disturbed"
    );
    let c = client();
    assert_eq!(
        get(&c, &format!("{}/hello", svc.base)).await.status,
        StatusCode::OK
    );
    svc.stop().await;
}

/// Slowloris guard: a head that never completes, and a keep-alive connection
/// left idle, are closed after `--header-timeout` (checked every quarter of it);
/// a client that keeps sending requests, or waits on a slow one, is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_heads_and_idle_connections_are_closed_after_the_header_timeout() {
    use std::time::Instant;
    let mut svc = InProcess::start(&["--header-timeout", "400ms"]).await;
    let hello = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut buf = vec![0u8; 4096];

    let started = Instant::now();
    let mut partial = TcpStream::connect(svc.addr).await.unwrap();
    partial
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(svc.addr).await.unwrap();
    idle.write_all(hello).await.unwrap();
    let n = idle.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let mut busy = TcpStream::connect(svc.addr).await.unwrap();

    // The busy client sends a request every 150 ms for 1.2 s: three timeouts' worth.
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        busy.write_all(hello).await.unwrap();
        let n = busy.read(&mut buf).await.unwrap();
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "an active connection was closed"
        );
    }
    for (name, conn) in [("incomplete head", &mut partial), ("idle", &mut idle)] {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{name} connection still open"));
        assert!(matches!(n, Ok(0) | Err(_)), "{name}: {n:?}");
    }
    // Closed no sooner than the timeout (and the loop above took 1.2 s).
    assert!(started.elapsed() >= Duration::from_millis(400));
    svc.stop().await;
}

/// SIGTERM semantics in process: readiness off, new connections still served
/// during the drain delay, the in-flight request completes, logs are flushed,
/// then `run` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_finishes_in_flight_requests_and_flushes_logs() {
    let mut svc = InProcess::start(&[
        "--queue-capacity",
        "100",
        "--drain-delay",
        "500ms",
        "--flush-interval",
        "50ms",
    ])
    .await;
    let c = client();
    // Hold the sink: 5 requests fill the queue, the 6th waits for room.
    fill_the_queue(&c, &svc).await;
    let slow = {
        let c = c.clone();
        let url = format!("{}/repeat", svc.base);
        tokio::spawn(async move { common::get(&c, &url).await })
    };
    let mut in_flight = 0;
    for _ in 0..500 {
        in_flight = load_report(&c, &svc.base).await.in_flight;
        if in_flight == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(in_flight, 1, "the 6th request should be waiting");

    svc.shutdown.cancel();
    // Readiness goes off while the listener still takes new connections.
    let fresh = client();
    let mut ready = StatusCode::OK;
    for _ in 0..100 {
        ready = get(&fresh, &format!("{}/readyz", svc.base)).await.status;
        if ready == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(ready, StatusCode::SERVICE_UNAVAILABLE);
    let report = load_report(&fresh, &svc.base).await;
    assert!(report.draining);

    svc.sink.release();
    let reply = tokio::time::timeout(Duration::from_secs(20), slow)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the in-flight request must complete"
    );
    assert_eq!(reply.headers["connection"], "close");
    svc.stop().await;
    let got = common::sorted_messages(&svc.sink);
    assert_eq!(
        common::repeat_texts(&got),
        common::expected_repeat_messages(6),
        "every event flushed before run returned"
    );
    // The listener is closed now.
    assert!(TcpStream::connect(svc.addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed_on_shutdown() {
    let mut svc = InProcess::start(&["--drain-delay", "0s"]).await;
    let mut idle = TcpStream::connect(svc.addr).await.unwrap();
    idle.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    svc.stop().await;
    let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf))
        .await
        .unwrap();
    assert!(
        matches!(n, Ok(0) | Err(_)),
        "idle connection should be closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_load_reports_to_the_controller() {
    use axum::routing::post;
    let dir = std::env::temp_dir().join(format!("svc-report-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_path = dir.join("report.key");
    let key_text = "k3y-shared-by-the-controller-and-the-fleet-0123456789";
    std::fs::write(&key_path, format!("{key_text}\n")).unwrap();
    let key = proto::sign::ReportKey::from_text(key_text).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<proto::LoadReport>(16);
    // The fake controller checks each signature as the real one does, then parses.
    let fake_controller = axum::Router::new().route(
        proto::REPORT_INGEST_PATH,
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let tx = tx.clone();
                let key = key.clone();
                async move {
                    let header = headers
                        .get(proto::sign::SIGNATURE_HEADER)
                        .map(|v| v.as_bytes());
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_millis() as u64;
                    if proto::sign::verify(&key, header, &body, now, 30_000).is_err() {
                        return StatusCode::UNAUTHORIZED;
                    }
                    let _ = tx.send(serde_json::from_slice(&body).unwrap()).await;
                    StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let controller = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, fake_controller).await });

    let key_arg = key_path.display().to_string();
    let mut svc = InProcess::start(&[
        "--report-to",
        &controller,
        "--report-every",
        "100ms",
        "--report-key-file",
        &key_arg,
    ])
    .await;
    let c = client();
    get(&c, &format!("{}/hello", svc.base)).await;
    let mut seen = None;
    for _ in 0..50 {
        let r = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        r.validate().unwrap();
        assert_eq!(r.instance_id, "i-test");
        if r.concurrent_users == 1 {
            seen = Some(r);
            break;
        }
    }
    let r = seen.expect("a report counting the user (signed: the fake controller checks)");
    assert_eq!(r.users_sketch.count(), 1);
    svc.stop().await;
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_short_or_missing_report_key_file_is_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("svc-short-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let short = dir.join("short.key");
    std::fs::write(&short, "too-short\n").unwrap();
    let e = service::report::load_key(&short).unwrap_err().to_string();
    assert!(e.contains("short.key") && e.contains("at least 32"), "{e}");
    let e = service::report::load_key(&dir.join("absent.key"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("absent.key"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_push_to_a_dead_controller_never_blocks_requests() {
    let refused = testkit::RefusedPort::new();
    let dead = format!("http://{}", refused.addr());
    let mut svc = InProcess::start(&[
        "--report-to",
        &dead,
        "--report-every",
        "50ms",
        "--report-unsigned",
    ])
    .await;
    let c = client();
    for _ in 0..20 {
        let started = std::time::Instant::now();
        assert_eq!(
            get(&c, &format!("{}/hello", svc.base)).await.status,
            StatusCode::OK
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_the_file_sink_writes_json_lines() {
    let dir = std::env::temp_dir().join(format!("svc-run-file-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("events.jsonl");
    let sink = format!("file:{}", path.display());
    let config = common::config(&[
        "--instance-id",
        "i-file",
        "--log-sink",
        &sink,
        "--drain-delay",
        "0s",
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(service::run(config, listener, shutdown.clone()));
    let c = client();
    for _ in 0..10 {
        let r = get(&c, &format!("{base}/repeat")).await;
        assert_eq!(r.headers[proto::INSTANCE_ID_HEADER], "i-file");
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut messages = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["stream"], "i-file");
        assert!(v["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
        messages.push(v["message"].as_str().unwrap().to_owned());
    }
    messages.sort();
    assert_eq!(
        common::repeat_texts(&messages),
        common::expected_repeat_messages(10)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_stuck_past_the_timeout_gets_408() {
    let mut svc =
        InProcess::start(&["--queue-capacity", "100", "--request-timeout", "300ms"]).await;
    let c = client();
    fill_the_queue(&c, &svc).await;
    let stuck = get(&c, &format!("{}/repeat", svc.base)).await;
    assert_eq!(stuck.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(stuck.headers[proto::INSTANCE_ID_HEADER], "i-test");
    svc.sink.release();
    svc.stop().await;
    assert_eq!(
        svc.sink.stored().len(),
        100,
        "the abandoned request handed nothing over"
    );
}
