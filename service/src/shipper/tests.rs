//! Shipper behaviour against the in-memory sink, in paused (virtual) time.

use super::*;
use crate::config::Overflow;

const MINUTE: Duration = Duration::from_secs(60);

struct Rig {
    queue: LogQueue,
    sink: MemorySink,
    finish: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn options() -> ShipperOptions {
    ShipperOptions {
        flush_interval: Duration::from_secs(1),
        flush_timeout: Duration::from_secs(30),
        backoff: Backoff::default(),
    }
}

fn rig(capacity: usize, overflow: Overflow) -> Rig {
    rig_with(capacity, overflow, options())
}

fn rig_with(capacity: usize, overflow: Overflow, options: ShipperOptions) -> Rig {
    let (queue, rx) = super::queue(capacity, overflow);
    let sink = MemorySink::new();
    let finish = CancellationToken::new();
    let shipper = Shipper::new(rx, Arc::new(sink.clone()), options);
    let task = tokio::spawn(shipper.run(finish.clone()));
    Rig {
        queue,
        sink,
        finish,
        task,
    }
}

impl Rig {
    async fn finish(self) -> (MemorySink, proto::LogCounters) {
        self.finish.cancel();
        self.task.await.unwrap();
        (self.sink, self.queue.counters())
    }

    /// Waits (in virtual time) until the counters satisfy `ok`.
    async fn wait_for(&self, ok: impl Fn(&proto::LogCounters) -> bool) {
        for _ in 0..10_000 {
            if ok(&self.queue.counters()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("counters never got there: {:?}", self.queue.counters());
    }
}

/// One request's worth of events, numbered so duplicates and losses show.
fn request(r: usize, ts: i64) -> Vec<LogEvent> {
    (1..=20)
        .map(|i| LogEvent::new(ts, format!("req {r} iteration {}", i * 5)))
        .collect()
}

fn assert_each_once(stored: &[LogEvent], requests: usize) {
    let mut msgs: Vec<&str> = stored.iter().map(|e| &*e.message).collect();
    msgs.sort_unstable();
    let before = msgs.len();
    msgs.dedup();
    assert_eq!(before, msgs.len(), "duplicated events");
    assert_eq!(msgs.len(), requests * 20, "lost events");
}

#[tokio::test(start_paused = true)]
async fn everything_enqueued_is_shipped_once_on_finish() {
    let rig = rig(1_000, Overflow::Block);
    for r in 0..30 {
        rig.queue
            .enqueue(request(r, 1_000 + r as i64))
            .await
            .unwrap();
    }
    let (sink, c) = rig.finish().await;
    assert_each_once(&sink.stored(), 30);
    assert_eq!(
        (c.enqueued, c.shipped, c.queued, c.failed),
        (600, 600, 0, 0)
    );
    // Chronological across the whole stream.
    let ts: Vec<i64> = sink.stored().iter().map(|e| e.timestamp_ms).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));
}

#[tokio::test(start_paused = true)]
async fn flushes_on_the_interval_without_shutdown() {
    let rig = rig(1_000, Overflow::Block);
    rig.queue.enqueue(request(0, 5)).await.unwrap();
    assert_eq!(rig.queue.counters().queued, 20);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(rig.sink.stored().len(), 20);
    assert_eq!(rig.queue.counters().queued, 0);
    rig.finish().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_is_sent_before_the_interval() {
    let rig = rig(50_000, Overflow::Block);
    let events: Vec<_> = (0..10_000).map(|i| LogEvent::new(i, "x")).collect();
    rig.queue.enqueue(events).await.unwrap();
    rig.wait_for(|c| c.shipped == 10_000).await;
    let (sink, _) = rig.finish().await;
    assert_eq!(sink.batch_sizes(), vec![10_000]);
}

#[tokio::test(start_paused = true)]
async fn batches_across_boundaries_lose_and_duplicate_nothing() {
    let rig = rig(100_000, Overflow::Block);
    for r in 0..1_234 {
        rig.queue
            .enqueue(request(r, (r % 97) as i64))
            .await
            .unwrap();
    }
    let (sink, c) = rig.finish().await;
    assert!(sink.batch_sizes().len() >= 3, "{:?}", sink.batch_sizes());
    assert!(sink.batch_sizes().iter().all(|&n| n <= 10_000));
    assert_each_once(&sink.stored(), 1_234);
    assert_eq!(c.shipped, 24_680);
}

#[tokio::test(start_paused = true)]
async fn drop_mode_counts_every_dropped_event() {
    let rig = rig(100, Overflow::Drop);
    rig.sink.hold();
    for r in 0..10 {
        rig.queue.enqueue(request(r, 1)).await.unwrap();
    }
    let c = rig.queue.counters();
    assert_eq!((c.enqueued, c.dropped, c.queued), (200, 100, 100));
    rig.sink.release();
    let (sink, c) = rig.finish().await;
    assert_eq!(sink.stored().len(), 100);
    assert_eq!(c.shipped + c.dropped, c.enqueued);
    assert_eq!(c.queued, 0);
}

#[tokio::test(start_paused = true)]
async fn block_mode_waits_for_room_and_loses_nothing() {
    let rig = rig(100, Overflow::Block);
    rig.sink.hold();
    for r in 0..5 {
        rig.queue.enqueue(request(r, 1)).await.unwrap();
    }
    let sixth = tokio::time::timeout(MINUTE, rig.queue.enqueue(request(5, 2))).await;
    assert!(sixth.is_err(), "a full queue must make the request wait");
    rig.sink.release();
    tokio::time::timeout(MINUTE, rig.queue.enqueue(request(6, 2)))
        .await
        .expect("room comes back once the sink accepts")
        .unwrap();
    let (sink, c) = rig.finish().await;
    // Request 5 was abandoned by its caller before it got room; 0–4 and 6 arrive.
    assert_eq!(sink.stored().len(), 120);
    assert_eq!(c.dropped, 0);
    assert_eq!(c.failed, 0);
}

#[tokio::test(start_paused = true)]
async fn throttling_and_5xx_are_retried_without_duplicates() {
    let rig = rig(1_000, Overflow::Block);
    rig.sink.fail_next([
        SinkError::Throttled("ThrottlingException".into()),
        SinkError::Server {
            status: 500,
            message: "boom".into(),
        },
        SinkError::Network("connection refused".into()),
    ]);
    rig.queue.enqueue(request(0, 1)).await.unwrap();
    rig.wait_for(|c| c.shipped == 20).await;
    let (sink, c) = rig.finish().await;
    assert_each_once(&sink.stored(), 1);
    assert_eq!(c.retried, 3);
    assert_eq!(sink.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn invalid_requests_are_counted_failed_not_retried() {
    let rig = rig(1_000, Overflow::Block);
    rig.sink
        .fail_next([SinkError::Invalid("InvalidParameterException".into())]);
    rig.queue.enqueue(request(0, 1)).await.unwrap();
    rig.queue.enqueue(request(1, 1)).await.unwrap();
    let (sink, c) = rig.finish().await;
    assert_eq!((c.failed, c.shipped, c.retried), (40, 0, 0));
    assert_eq!(sink.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_long_outage_loses_nothing() {
    let rig = rig(10_000, Overflow::Block);
    rig.sink
        .set_down(Some(SinkError::Network("refused".into())));
    for r in 0..100 {
        rig.queue.enqueue(request(r, r as i64)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(10 * MINUTE).await;
    let c = rig.queue.counters();
    assert_eq!((c.shipped, c.failed, c.queued), (0, 0, 2_000));
    assert!(c.retried > 50, "kept retrying: {c:?}");
    rig.sink.set_down(None);
    rig.wait_for(|c| c.shipped == 2_000).await;
    let (sink, c) = rig.finish().await;
    assert_each_once(&sink.stored(), 100);
    assert_eq!(c.failed, 0);
}

#[tokio::test(start_paused = true)]
async fn finish_with_the_sink_down_gives_up_after_the_budget() {
    let rig = rig(10_000, Overflow::Block);
    rig.sink.set_down(Some(SinkError::Server {
        status: 503,
        message: "down".into(),
    }));
    for r in 0..3 {
        rig.queue.enqueue(request(r, 1)).await.unwrap();
    }
    let started = Instant::now();
    let (_, c) = rig.finish().await;
    let took = started.elapsed();
    assert!(took <= Duration::from_secs(31), "took {took:?}");
    assert!(
        took >= Duration::from_secs(20),
        "gave up too early: {took:?}"
    );
    assert_eq!((c.failed, c.shipped, c.queued), (60, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn finish_while_the_sink_recovers_delivers_everything() {
    let rig = rig(10_000, Overflow::Block);
    rig.sink
        .set_down(Some(SinkError::Network("refused".into())));
    rig.queue.enqueue(request(0, 1)).await.unwrap();
    let sink = rig.sink.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        sink.set_down(None);
    });
    let (sink, c) = rig.finish().await;
    assert_each_once(&sink.stored(), 1);
    assert_eq!(c.failed, 0);
}

#[tokio::test(start_paused = true)]
async fn missing_stream_is_resent_at_once() {
    let rig = rig(1_000, Overflow::Block);
    rig.sink
        .fail_next([SinkError::ResourceNotFound("stream".into())]);
    rig.queue.enqueue(request(0, 1)).await.unwrap();
    let started = Instant::now();
    rig.wait_for(|c| c.shipped == 20).await;
    assert!(started.elapsed() < Duration::from_millis(1_200));
    let (_, c) = rig.finish().await;
    assert_eq!(c.retried, 1);
}

#[tokio::test(start_paused = true)]
async fn oversize_events_are_rejected_and_counted() {
    let rig = rig(1_000, Overflow::Block);
    let huge = "z".repeat(batch::MAX_EVENT_BYTES);
    rig.queue
        .enqueue(vec![LogEvent::new(1, "small"), LogEvent::new(2, huge)])
        .await
        .unwrap();
    let (sink, c) = rig.finish().await;
    assert_eq!((c.shipped, c.rejected, c.queued), (1, 1, 0));
    assert_eq!(sink.stored().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn enqueue_after_finish_is_counted_failed() {
    let rig = rig(1_000, Overflow::Block);
    let queue = rig.queue.clone();
    rig.finish().await;
    queue.enqueue(request(0, 1)).await.unwrap();
    let c = queue.counters();
    assert_eq!((c.enqueued, c.failed, c.queued), (20, 20, 0));
}
