//! One controller tick over 1,000 instances' load reports: aggregate (merge 1,000 user
//! sketches, rates) + decide (policy engine) + encode the metrics (with per-instance data,
//! 1,007 values → 2 PutMetricData batches). Target: ≤ 5 ms.
//!
//! Reference measured in the same run: one register-wise max over the 1,000 sketches alone
//! (the floor of any correct de-duplicated count).
//!
//! `cargo bench -p controller --features test-support --bench tick` (bench/controller.sh runs it).

use std::hint::black_box;
use std::time::{Duration, Instant};

use controller::metrics::{MAX_VALUES_PER_CALL, batches};
use controller::provider::memory::MemoryFleet;
use fleetcore::aggregate::ReportBook;
use fleetcore::policy::Policies;
use fleetcore::synthetic::report;
use fleetcore::tick::{Reconciler, ReconcilerSettings};
use proto::UserSketch;

const INSTANCES: u32 = 1_000;
const USERS_PER_INSTANCE: u64 = 60;
const RUNS: usize = 200;
const BUDGET: Duration = Duration::from_millis(5);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let fleet = MemoryFleet::new("bench", 1, INSTANCES, INSTANCES);
    let snap = fleet.snapshot();
    let now = 10_000_000u64;
    // Every instance has 60 users; a tenth of each instance's users also reached the next one.
    let mut book = ReportBook::new();
    for (k, i) in snap.instances.iter().enumerate() {
        let k = k as u64;
        let first = k * (USERS_PER_INSTANCE - USERS_PER_INSTANCE / 10);
        let ids: Vec<String> = (first..first + USERS_PER_INSTANCE)
            .map(|u| format!("user-{u}"))
            .collect();
        book.ingest(
            report(&i.id, 1, now - 1_000, ids.iter().map(String::as_str), 1_000),
            now - 1_000,
        );
        book.ingest(
            report(&i.id, 2, now, ids.iter().map(String::as_str), 1_100),
            now,
        );
    }
    let settings = ReconcilerSettings {
        min_size: 1,
        max_size: INSTANCES,
        tick_ms: 5_000,
        // Every tick below reuses the same reports: keep them fresh.
        stale_after_ms: u64::MAX / 4,
        per_instance_metrics: true,
        provider: "bench".into(),
        endpoint: None,
    };
    let mut rec = Reconciler::new(Policies::local_default(), settings);

    let mut ticks = Vec::with_capacity(RUNS);
    let mut calls = 0;
    for r in 0..RUNS {
        let t0 = Instant::now();
        let out = rec.step(&snap, &mut book, now + r as u64 * 5_000);
        calls = batches(&out.data, MAX_VALUES_PER_CALL).count();
        black_box(&out);
        ticks.push(t0.elapsed());
    }
    ticks.sort();

    let sketches: Vec<UserSketch> = snap
        .instances
        .iter()
        .map(|i| book.get(&i.id).unwrap().report.users_sketch.clone())
        .collect();
    let mut merges = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t0 = Instant::now();
        let mut m = UserSketch::new();
        for s in &sketches {
            m.merge(s);
        }
        black_box(m.count());
        merges.push(t0.elapsed());
    }
    merges.sort();

    let params = fleetcore::aggregate::AggregateParams {
        stale_after_ms: u64::MAX / 4,
        warmup_ms: 0,
    };
    let mut aggs = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t0 = Instant::now();
        black_box(fleetcore::aggregate::aggregate(&snap, &book, now, params));
        aggs.push(t0.elapsed());
    }
    aggs.sort();
    println!(
        "  of which aggregate alone: median {:.2?}",
        percentile(&aggs, 0.5)
    );

    let out = rec.step(&snap, &mut book, now + 10_000_000);
    let median = percentile(&ticks, 0.5);
    let reference = percentile(&merges, 0.5);
    println!("controller tick over {INSTANCES} instances ({RUNS} runs)");
    println!(
        "  tick (aggregate + decide + encode): median {median:.2?}, p95 {:.2?}, max {:.2?}",
        percentile(&ticks, 0.95),
        ticks[ticks.len() - 1]
    );
    println!("  reference (merge {INSTANCES} sketches only): median {reference:.2?}");
    println!(
        "  ratio tick / reference = {:.2}; tick / budget (5 ms) = {:.2}",
        median.as_secs_f64() / reference.as_secs_f64(),
        median.as_secs_f64() / BUDGET.as_secs_f64()
    );
    println!(
        "  fleet users {} (truth {}), {} metric values in {calls} PutMetricData batches, decision: {}",
        out.metrics.concurrent_users,
        u64::from(INSTANCES) * (USERS_PER_INSTANCE - USERS_PER_INSTANCE / 10)
            + USERS_PER_INSTANCE / 10,
        out.data.len(),
        out.record.reason
    );
    let p95 = percentile(&ticks, 0.95);
    if p95 > BUDGET {
        println!("  FAIL: p95 {p95:.2?} is over the 5 ms budget");
        std::process::exit(1);
    }
    println!("  PASS: p95 within the 5 ms budget");
}
