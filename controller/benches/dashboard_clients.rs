//! Benchmark (`cargo bench -p controller --features test-support --bench dashboard_clients`, run by
//! `bench/dashboard.sh`); it asserts nothing about speed. Does 50 open dashboards slow the controller's tick?
//!
//! The real daemon pieces (`Shared`, `Reconciler`, `daemon::tick_once`, `daemon::app` with
//! the dashboard mounted) run on one 2-worker runtime whose threads are named `ctl`, like
//! the daemon's. The in-memory fleet has 8 instances, each reporting 40 users before every
//! tick. A phase runs 15 ticks 1.1 s apart (so every tick is pushed: the push limit is 1/s)
//! with 0 or N SSE clients (on their own runtime, `bench-client`), in `PAIRS` interleaved
//! pairs 0, N, 0, N, … so load from elsewhere on the machine hits both alike. Reported per
//! phase: the tick's duration (median, max) and the `ctl` threads' CPU time per tick; then
//! the ratio of the pooled medians, and the median of the per-pair ratios (robust to one
//! disturbed phase).

use std::sync::Arc;
use std::time::{Duration, Instant};

use controller::clock::now_ms;
use controller::config::{Config, Overrides};
use controller::daemon::{Shared, app, tick_once};
use controller::metrics::MemorySink;
use controller::provider::Fleet;
use controller::provider::memory::MemoryFleet;
use fleetcore::synthetic::{report, user_ids};
use fleetcore::tick::Reconciler;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const CONFIG: &str = r#"
provider = "local"
tick = "1s"
[group]
name = "web"
min_size = 1
max_size = 10
[api]
listen = "127.0.0.1:0"
[policies.scale_out]
name = "out"
adjustment_type = "ChangeInCapacity"
alarm = { metric = "ConcurrentUsersPerInstance", threshold = 50, comparison = "GreaterThanOrEqualToThreshold", period_secs = 1 }
steps = [{ lower_bound = 0, scaling_adjustment = 1 }]
[policies.scale_in]
name = "in"
adjustment_type = "ChangeInCapacity"
alarm = { metric = "ConcurrentUsersPerInstance", threshold = 5, comparison = "LessThanOrEqualToThreshold", period_secs = 1, evaluation_periods = 5 }
steps = [{ upper_bound = 0, scaling_adjustment = -1 }]
"#;

const TICKS: usize = 15;
/// Pairs of (no dashboards, N dashboards) phases; `DASHBOARD_PAIRS` overrides.
const PAIRS: usize = 3;
const SPACING: Duration = Duration::from_millis(1100);

/// An SSE client: reports every `id: N` line it reads.
async fn client(port: u16, seen: mpsc::UnboundedSender<u64>, stop: CancellationToken) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending = String::new();
    loop {
        let n = tokio::select! {
            () = stop.cancelled() => return,
            r = s.read(&mut buf) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
        };
        pending.push_str(&String::from_utf8_lossy(&buf[..n]));
        let complete = pending.rfind('\n').map_or(0, |i| i + 1);
        for line in pending[..complete].lines() {
            if let Some(id) = line
                .strip_prefix("id: ")
                .and_then(|v| v.trim().parse().ok())
            {
                let _ = seen.send(id);
            }
        }
        pending.drain(..complete);
    }
}

struct Phase {
    open: usize,
    took: Vec<f64>,
    cpu_ms_per_tick: f64,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs [`TICKS`] ticks on the `ctl` runtime; returns the reconciler for the next phase.
async fn ticks(
    mut rec: Reconciler,
    fleet: Arc<MemoryFleet>,
    state: Arc<Shared>,
    seq: u64,
) -> (Reconciler, Vec<f64>) {
    let sink = MemorySink::new();
    let mut took = Vec::new();
    for k in 0..TICKS as u64 {
        let started = Instant::now();
        let snapshot = fleet.describe().await.unwrap();
        state.set_known(&snapshot);
        for (n, i) in snapshot.instances.iter().enumerate() {
            let ids = user_ids(n as u64 * 40, (n as u64 + 1) * 40);
            let s = seq + k;
            let r = report(&i.id, s, now_ms(), ids.iter().map(String::as_str), s * 10);
            state.ingest(r, now_ms());
        }
        let t = Instant::now();
        tick_once(&mut rec, fleet.as_ref(), &sink, &state).await;
        took.push(t.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(SPACING.saturating_sub(started.elapsed())).await;
    }
    (rec, took)
}

fn main() {
    let clients: usize = std::env::var("DASHBOARD_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let ctl = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ctl")
        .enable_all()
        .build()
        .unwrap();
    let bench = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .unwrap();

    let config = Config::from_toml(CONFIG, "bench", &Overrides::default()).unwrap();
    let fleet = Arc::new(MemoryFleet::new("web", 1, 10, 8));
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let state = Arc::new(Shared::new(&config, fleet.kind(), None, shutdown.clone()));
    let mut rec = Reconciler::from_config(&config, fleet.kind(), None);
    let listener = ctl
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = app(Arc::clone(&state));
    let stop = shutdown.clone();
    ctl.spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
            .unwrap();
    });

    let pairs: usize = std::env::var("DASHBOARD_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(PAIRS)
        .max(1);
    let mut phases = Vec::new();
    let plan = (0..pairs).flat_map(|_| [0, clients]);
    for (n, open) in plan.enumerate() {
        let stop_clients = CancellationToken::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        bench.block_on(async {
            for _ in 0..open {
                tokio::spawn(client(port, tx.clone(), stop_clients.clone()));
            }
            // Every client has its on-connect event before measuring.
            for _ in 0..open {
                rx.recv().await.expect("a client's first event");
            }
        });
        let cpu0 = testkit::threads_cpu_ns("ctl");
        let task = ctl.spawn(ticks(rec, fleet.clone(), state.clone(), 1 + n as u64 * 100));
        let (back, took) = ctl.block_on(task).unwrap();
        rec = back;
        let cpu = testkit::threads_cpu_ns("ctl") - cpu0;
        let pushed = bench.block_on(async {
            let mut events = 0;
            while let Ok(id) = rx.try_recv() {
                events += usize::from(id > 0);
            }
            events
        });
        stop_clients.cancel();
        let phase = Phase {
            open,
            cpu_ms_per_tick: cpu as f64 / 1e6 / TICKS as f64,
            took,
        };
        println!(
            "controller clients={open} tick_median_ms={:.3} tick_max_ms={:.3} ctl_cpu_ms_per_tick={:.3} events_pushed={pushed}",
            median(&phase.took),
            phase.took.iter().copied().fold(0.0, f64::max),
            phase.cpu_ms_per_tick
        );
        if open > 0 {
            assert!(pushed >= open * TICKS / 2, "clients got {pushed} events");
        }
        phases.push(phase);
    }
    let pooled = |busy: bool| {
        let ps: Vec<&Phase> = phases.iter().filter(|p| (p.open > 0) == busy).collect();
        let took: Vec<f64> = ps.iter().flat_map(|p| p.took.iter().copied()).collect();
        let cpu = ps.iter().map(|p| p.cpu_ms_per_tick).sum::<f64>() / ps.len() as f64;
        (median(&took), cpu)
    };
    let ((idle_ms, idle_cpu), (busy_ms, busy_cpu)) = (pooled(false), pooled(true));
    let extra = busy_cpu - idle_cpu;
    let pair_ratios: Vec<f64> = phases
        .chunks(2)
        .map(|p| median(&p[1].took) / median(&p[0].took))
        .collect();
    println!(
        "controller pair_ratios={} median_pair_ratio={:.3}",
        pair_ratios
            .iter()
            .map(|r| format!("{r:.3}"))
            .collect::<Vec<_>>()
            .join(","),
        median(&pair_ratios)
    );
    println!(
        "controller tick_median_ms idle={idle_ms:.3} with_{clients}={busy_ms:.3} tick_slowdown_ratio={:.3} (target <= 1.10) extra_cpu_ms_per_tick={extra:.3} extra_cpu_share_of_1s_tick={:.4} of_5s_tick={:.4}",
        busy_ms / idle_ms,
        extra / 1000.0,
        extra / 5000.0
    );
    shutdown.cancel();
}
