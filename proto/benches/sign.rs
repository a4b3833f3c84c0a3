//! The cost of signing and verifying one load report (HMAC-SHA256 over "t.body"), for a
//! typical report (60 users: a sparse sketch) and a large one (20,000 users: a dense sketch).
//!
//! Reference measured in the same run: parsing the same body as a `LoadReport` (serde_json),
//! which the controller does for every report anyway. Budget: verifying a typical report
//! costs ≤ 50 µs (the controller takes ~1 report per instance per second).
//!
//! `cargo bench -p proto --bench sign` (bench/proto.sh runs it).

use std::hint::black_box;
use std::time::{Duration, Instant};

use proto::sign::{ReportKey, sign, verify};
use proto::{LoadReport, LogCounters, UserSketch};

const ROUNDS: u32 = 20_000;
const BUDGET: Duration = Duration::from_micros(50);

fn body(users: u64) -> Vec<u8> {
    let mut sketch = UserSketch::new();
    for u in 0..users {
        sketch.insert(&format!("user-{u}"));
    }
    let r = LoadReport {
        instance_id: "i-0123456789abcdef0".into(),
        seq: 123_456,
        sent_at_ms: 1_763_790_000_000,
        started_at_ms: 1_763_780_000_000,
        active_window_ms: 10_000,
        concurrent_users: users,
        users_sketch: sketch,
        in_flight: 12,
        requests_total: 9_876_543,
        log: LogCounters {
            enqueued: 1_000_000,
            shipped: 999_000,
            queued: 1_000,
            ..LogCounters::default()
        },
        draining: false,
        families: Default::default(),
    };
    serde_json::to_vec(&r).unwrap()
}

/// Median time per call of `f` over 5 batches of `ROUNDS` calls.
fn per_call(mut f: impl FnMut()) -> Duration {
    let mut runs: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..ROUNDS {
                f();
            }
            started.elapsed() / ROUNDS
        })
        .collect();
    runs.sort();
    runs[2]
}

fn main() {
    let key = ReportKey::from_text("bench-report-key-0123456789abcdef0123456789").unwrap();
    let t = 1_763_790_000_000u64;
    let mut over = false;
    for (name, users) in [("typical (60 users)", 60), ("large (20,000 users)", 20_000)] {
        let body = body(users);
        let header = sign(&key, t, &body);
        let s = per_call(|| {
            black_box(sign(&key, black_box(t), black_box(&body)));
        });
        let v = per_call(|| {
            black_box(verify(
                &key,
                Some(header.as_bytes()),
                black_box(&body),
                t,
                30_000,
            ))
            .unwrap();
        });
        let parse = per_call(|| {
            black_box(serde_json::from_slice::<LoadReport>(black_box(&body)).unwrap());
        });
        println!(
            "{name}: body {} B  sign {s:.2?}  verify {v:.2?}  | reference parse {parse:.2?}  \
             ratio verify/parse {:.2}",
            body.len(),
            v.as_secs_f64() / parse.as_secs_f64()
        );
        if users == 60 && v > BUDGET {
            over = true;
        }
    }
    if over {
        eprintln!("verifying a typical report is over the {BUDGET:?} budget");
        std::process::exit(1);
    }
}
