//! Benchmark for the dashboard's targets (run by `bench/dashboard.sh`):
//!
//! 1. First page transferred (HTML + CSS + JS, headers included) per window,
//!    against the 100 KB budget, with an hour of 1 s samples in the history.
//! 2. The server's CPU time per tick with N open dashboards (SSE clients)
//!    against the same server with none, and against a tick's budget.
//!    Server threads are named `dash-server`; their CPU time is read from
//!    `/proc/self/task/*/schedstat` (ns), so the clients, which run on
//!    their own runtime in this process, are not counted.
//!
//! Usage: `sse_bench [--clients 50] [--ticks 20] [--interval-ms 1100] [--windows 5m|mixed]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashboard::fake::FakeSource;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const T0: u64 = 1_800_000_000_000;

struct Args {
    clients: usize,
    ticks: u64,
    interval: Duration,
    mixed: bool,
}

fn args() -> Args {
    let mut a = Args {
        clients: 50,
        ticks: 20,
        interval: Duration::from_millis(1100),
        mixed: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or("");
        match pair[0].as_str() {
            "--clients" => a.clients = value.parse().unwrap_or_else(|_| bad(&pair[0], value)),
            "--ticks" => a.ticks = value.parse().unwrap_or_else(|_| bad(&pair[0], value)),
            "--interval-ms" => {
                a.interval =
                    Duration::from_millis(value.parse().unwrap_or_else(|_| bad(&pair[0], value)))
            }
            "--windows" => a.mixed = value == "mixed",
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn bad<T>(flag: &str, value: &str) -> T {
    panic!("bad value `{value}` for {flag}")
}

/// One HTTP/1.1 GET with `Connection: close`; returns bytes on the wire.
async fn transferred(port: u16, path: &str) -> usize {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    assert!(buf.starts_with(b"HTTP/1.1 200"), "{path}: not 200");
    buf.len()
}

/// An SSE client: reports every `id: N` line it reads as (client, N).
async fn client(port: u16, window: &str, me: usize, seen: mpsc::UnboundedSender<(usize, u64)>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!(
        "GET /events?window={window} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending = String::new();
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.push_str(&String::from_utf8_lossy(&buf[..n]));
        let complete = pending.rfind('\n').map_or(0, |i| i + 1);
        for line in pending[..complete].lines() {
            if let Some(id) = line
                .strip_prefix("id: ")
                .and_then(|v| v.trim().parse().ok())
                && seen.send((me, id)).is_err()
            {
                return;
            }
        }
        pending.drain(..complete);
    }
}

struct Phase {
    cpu_ms_per_tick: f64,
    mean_fanout_ms: f64,
    max_fanout_ms: f64,
}

async fn phase(
    src: &FakeSource,
    port: u16,
    clients: usize,
    a: &Args,
    tick_clock: &mut u64,
    stop: &CancellationToken,
) -> Phase {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let windows = ["1m", "5m", "15m", "1h"];
    for me in 0..clients {
        let w = if a.mixed { windows[me % 4] } else { "5m" };
        let tx = tx.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = client(port, w, me, tx) => {}
            }
        });
    }
    drop(tx);
    let mut last = vec![0u64; clients];
    let current = *dashboard::Source::subscribe(src).borrow();
    // Every client has its first (on-connect) event before measuring.
    while last.iter().any(|l| *l < current) {
        let (me, id) = rx.recv().await.expect("clients alive");
        last[me] = last[me].max(id);
    }
    tokio::time::sleep(a.interval).await;
    let cpu0 = testkit::threads_cpu_ns("dash-server");
    let mut fanout = Vec::new();
    for _ in 0..a.ticks {
        *tick_clock += 1000;
        let started = Instant::now();
        let users = 40 + *tick_clock / 1000 % 50;
        let tick = src.tick(*tick_clock, users, 4, 4);
        while last.iter().any(|l| *l < tick) {
            let (me, id) = rx.recv().await.expect("clients alive");
            last[me] = last[me].max(id);
        }
        fanout.push(started.elapsed().as_secs_f64() * 1e3);
        let rest = a.interval.saturating_sub(started.elapsed());
        tokio::time::sleep(rest).await;
    }
    let cpu = testkit::threads_cpu_ns("dash-server") - cpu0;
    Phase {
        cpu_ms_per_tick: cpu as f64 / 1e6 / a.ticks as f64,
        mean_fanout_ms: fanout.iter().sum::<f64>() / fanout.len().max(1) as f64,
        max_fanout_ms: fanout.iter().copied().fold(0.0, f64::max),
    }
}

fn main() {
    let a = args();
    let src = Arc::new(FakeSource::new(T0, 1));
    let mut clock = T0 + 3_600_000;
    src.play_demo(T0, clock, 1000);

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("dash-server")
        .enable_all()
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = dashboard::router(src.clone(), shutdown.clone());
    let stop = shutdown.clone();
    let server = server_rt.spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
            .unwrap();
    });

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let assets =
            transferred(port, "/assets/dashboard.css").await + transferred(port, "/assets/live.js").await;
        for w in ["1m", "5m", "15m", "1h"] {
            let html = transferred(port, &format!("/?window={w}")).await;
            let total = html + assets;
            println!(
                "first_page window={w} html_bytes={html} total_bytes={total} budget_ratio={:.3}",
                total as f64 / (100.0 * 1024.0)
            );
        }
        let render_start = Instant::now();
        let renders = 20;
        for _ in 0..renders {
            dashboard::live_from_source(&*src, dashboard::Window::OneHour).unwrap();
        }
        println!(
            "render_1h_window_ms={:.2}",
            render_start.elapsed().as_secs_f64() * 1e3 / f64::from(renders)
        );

        let stop_clients = CancellationToken::new();
        let idle = phase(&src, port, 0, &a, &mut clock, &stop_clients).await;
        let busy = phase(&src, port, a.clients, &a, &mut clock, &stop_clients).await;
        stop_clients.cancel();
        let extra = (busy.cpu_ms_per_tick - idle.cpu_ms_per_tick).max(0.0);
        println!(
            "sse clients=0 server_cpu_ms_per_tick={:.3}",
            idle.cpu_ms_per_tick
        );
        println!(
            "sse clients={} windows={} server_cpu_ms_per_tick={:.3} fanout_mean_ms={:.2} fanout_max_ms={:.2}",
            a.clients,
            if a.mixed { "mixed" } else { "5m" },
            busy.cpu_ms_per_tick,
            busy.mean_fanout_ms,
            busy.max_fanout_ms
        );
        println!(
            "sse extra_cpu_ms_per_tick={extra:.3} share_of_1s_tick={:.4} share_of_5s_tick={:.4}",
            extra / 1000.0,
            extra / 5000.0
        );
    });
    shutdown.cancel();
    server_rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    });
}
