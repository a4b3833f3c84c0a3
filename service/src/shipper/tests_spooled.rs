//! The shipper with a spool, against the in-memory sink in paused time:
//! acknowledgement, recovery by the next "process", the byte bound, the
//! unknown-outcome counter.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::spool::{Spool, SpoolOptions};
use super::*;
use crate::config::Overflow;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "hf-shipspool-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One "process": a spooled queue and its shipper on `sink`.
struct Proc {
    queue: LogQueue,
    finish: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start(dir: &Dir, max_bytes: u64, overflow: Overflow, sink: &MemorySink) -> Proc {
    start_holding(dir, max_bytes, overflow, sink, 1_000_000)
}

/// `start`, holding at most `capacity` events in memory.
fn start_holding(
    dir: &Dir,
    max_bytes: u64,
    overflow: Overflow,
    sink: &MemorySink,
    capacity: usize,
) -> Proc {
    let (spool, recovered) = Spool::open(SpoolOptions {
        dir: dir.0.clone(),
        segment_bytes: max_bytes / 4,
        max_bytes,
    })
    .unwrap();
    let (queue, rx) = queue_spooled(spool, recovered, overflow, capacity);
    let options = ShipperOptions {
        flush_interval: Duration::from_secs(1),
        flush_timeout: Duration::ZERO,
        backoff: Backoff::default(),
    };
    let finish = CancellationToken::new();
    let task = tokio::spawn(Shipper::new(rx, Arc::new(sink.clone()), options).run(finish.clone()));
    Proc {
        queue,
        finish,
        task,
    }
}

impl Proc {
    async fn stop(self) -> proto::LogCounters {
        self.finish.cancel();
        self.task.await.unwrap();
        let c = self.queue.counters();
        // The spool (and its lock) goes with the last queue handle.
        drop(self.queue);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        c
    }
}

fn request(r: usize) -> Vec<LogEvent> {
    (1..=20)
        .map(|i| LogEvent::new(1_000 + r as i64, format!("req {r} it {i}")))
        .collect()
}

fn distinct(sink: &MemorySink) -> (usize, usize) {
    let mut m: Vec<String> = sink
        .stored()
        .iter()
        .map(|e| e.message.to_string())
        .collect();
    let all = m.len();
    m.sort();
    m.dedup();
    (all, m.len())
}

#[tokio::test(start_paused = true)]
async fn the_next_process_ships_what_the_last_one_could_not() {
    let dir = Dir::new("next");
    let sink = MemorySink::new();
    let p = start(&dir, 1 << 20, Overflow::Block, &sink);
    for r in 0..10 {
        p.queue.enqueue(request(r)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.stored().len(), 200);
    // The sink goes down; five more requests are answered, then the process
    // ends without delivering them (no flush budget).
    sink.set_down(Some(SinkError::Network("down".into())));
    for r in 10..15 {
        p.queue.enqueue(request(r)).await.unwrap();
    }
    let c = p.stop().await;
    assert_eq!((c.shipped, c.failed), (200, 100));
    sink.set_down(None);
    // A new process on the same spool ships exactly those 100.
    let p = start(&dir, 1 << 20, Overflow::Block, &sink);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let c = p.stop().await;
    assert_eq!((c.enqueued, c.shipped, c.queued), (100, 100, 0));
    assert_eq!(distinct(&sink), (300, 300));
    // And a third finds nothing left.
    let p = start(&dir, 1 << 20, Overflow::Block, &sink);
    let c = p.stop().await;
    assert_eq!(c.enqueued, 0);
}

#[tokio::test(start_paused = true)]
async fn drop_mode_counts_what_a_full_spool_refuses() {
    let dir = Dir::new("drop");
    let sink = MemorySink::new();
    sink.hold();
    // One request's record is ~480 bytes: a 4 KiB spool holds 8.
    let p = start(&dir, 4096, Overflow::Drop, &sink);
    for r in 0..20 {
        p.queue.enqueue(request(r)).await.unwrap();
    }
    let c = p.queue.counters();
    assert_eq!(c.enqueued, 400);
    assert!(c.dropped >= 200 && c.dropped < 400, "{c:?}");
    assert_eq!(c.queued + c.dropped, 400);
    sink.release();
    let c = p.stop().await;
    assert_eq!(c.shipped + c.dropped, 400);
    assert_eq!(distinct(&sink).0 as u64, c.shipped);
}

#[tokio::test(start_paused = true)]
async fn block_mode_waits_for_the_spool_to_drain() {
    let dir = Dir::new("block");
    let sink = MemorySink::new();
    sink.hold();
    let p = start(&dir, 4096, Overflow::Block, &sink);
    let mut answered = 0;
    for r in 0..20 {
        match tokio::time::timeout(Duration::from_secs(5), p.queue.enqueue(request(r))).await {
            Ok(res) => {
                res.unwrap();
                answered += 1;
            }
            Err(_) => break,
        }
    }
    assert!(
        (4..20).contains(&answered),
        "{answered} answered before waiting"
    );
    sink.release();
    // Room comes back as the shipper acknowledges.
    for r in 100..110 {
        tokio::time::timeout(Duration::from_secs(30), p.queue.enqueue(request(r)))
            .await
            .expect("room comes back")
            .unwrap();
    }
    let c = p.stop().await;
    assert_eq!((c.dropped, c.failed), (0, 0));
    assert_eq!(
        distinct(&sink),
        ((answered + 10) * 20, (answered + 10) * 20)
    );
}

#[tokio::test(start_paused = true)]
async fn a_resend_after_an_unknown_outcome_is_counted() {
    let dir = Dir::new("unknown");
    let sink = MemorySink::new();
    sink.fail_next([
        SinkError::Network("refused".into()),
        SinkError::Unknown("reset after send".into()),
    ]);
    let p = start(&dir, 1 << 20, Overflow::Block, &sink);
    p.queue.enqueue(request(0)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let c = p.stop().await;
    assert_eq!((c.shipped, c.retried, c.retried_unknown), (20, 2, 1));
}

#[tokio::test(start_paused = true)]
async fn events_held_in_memory_are_bounded_by_the_capacity_too() {
    let dir = Dir::new("capacity");
    let sink = MemorySink::new();
    sink.set_down(Some(SinkError::Network("down".into())));
    // Ten requests the sink never takes: the next process recovers 200
    // events, over its capacity of 100.
    let p = start(&dir, 1 << 20, Overflow::Drop, &sink);
    for r in 0..10 {
        p.queue.enqueue(request(r)).await.unwrap();
    }
    p.stop().await;
    sink.set_down(None);
    sink.hold();
    let p = start_holding(&dir, 1 << 20, Overflow::Drop, &sink, 100);
    p.queue.enqueue(request(10)).await.unwrap();
    let c = p.queue.counters();
    assert_eq!(
        (c.enqueued, c.dropped),
        (220, 20),
        "no room while over capacity"
    );
    sink.release();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(p.queue.counters().shipped, 200);
    // Exactly the capacity is back, however much was recovered: 5 requests
    // fit while the sink holds them, the 6th is dropped (the spool has room).
    sink.hold();
    for r in 11..17 {
        p.queue.enqueue(request(r)).await.unwrap();
    }
    let c = p.queue.counters();
    assert_eq!((c.enqueued, c.dropped, c.queued), (340, 40, 100), "{c:?}");
    sink.release();
    let c = p.stop().await;
    assert_eq!((c.shipped, c.dropped, c.failed), (300, 40, 0));
    assert_eq!(distinct(&sink), (300, 300));
}

#[tokio::test(start_paused = true)]
async fn a_request_abandoned_after_staging_still_has_its_record_written_and_shipped() {
    let dir = Dir::new("abandoned");
    let sink = MemorySink::new();
    let p = start(&dir, 1 << 20, Overflow::Block, &sink);
    // Polled once (the record is staged, the request yields), then dropped.
    let gone = tokio::time::timeout(Duration::ZERO, p.queue.enqueue(request(0))).await;
    assert!(gone.is_err(), "abandoned while it yielded");
    assert_eq!(
        p.queue.counters().enqueued,
        20,
        "written and handed over on drop"
    );
    p.queue.enqueue(request(1)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let c = p.stop().await;
    assert_eq!((c.enqueued, c.shipped, c.failed), (40, 40, 0));
    assert_eq!(distinct(&sink), (40, 40));
}
