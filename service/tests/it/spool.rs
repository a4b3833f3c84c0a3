//! The log spool through the real binary and the `file` sink: `kill -9`
//! mid-run, restart on the same data dir, and exactly the answered events
//! arrive, each once (by its id).

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use bytes::Bytes;
use common::crash::{Scratch, counts, file_messages, kill_9, repeats, stop, wait_drained};
use common::{Process, client, expected_repeat_messages, load_report, repeat_texts};
use http_body_util::{BodyExt, Full};

fn flags<'a>(events: &'a str, data: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "--instance-id",
        "i-crash",
        "--log-sink",
        events,
        "--data-dir",
        data,
        "--drain-delay",
        "0s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn spawn(flags: &[String]) -> Process {
    let f: Vec<&str> = flags.iter().map(String::as_str).collect();
    Process::spawn(&f, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_requests_then_restart_delivers_exactly_the_answered() {
    let dir = Scratch::new("spool-exact");
    let events = dir.path("events.jsonl");
    let sink = format!("file:{events}");
    let data = dir.path("data");
    // A long flush interval: at the kill, the answered events are only in the spool.
    let flags = flags(&sink, &data, &["--flush-interval", "5s"]);
    let mut a = spawn(&flags);
    let c = client();
    let mut ok = repeats(&c, &a.base, 137, Duration::ZERO).await;
    kill_9(&mut a);
    let shipped_before = file_messages(&events).len();
    assert!(
        shipped_before < ok * 20,
        "the test needs answered events left unshipped at the kill ({shipped_before})"
    );

    let b = spawn(&flags);
    let c = client();
    let recovered = load_report(&c, &b.base).await.log.enqueued as usize;
    assert_eq!(
        recovered,
        ok * 20 - shipped_before,
        "exactly the unshipped come back"
    );
    ok += repeats(&c, &b.base, 163, Duration::ZERO).await;
    let log = wait_drained(&c, &b, Duration::from_secs(30)).await;
    assert_eq!((log.failed, log.dropped), (0, 0));
    stop(b);

    let msgs = file_messages(&events);
    assert_eq!(ok, 300);
    assert_eq!(counts(&msgs), (6_000, 6_000), "every answered event once");
    assert_eq!(repeat_texts(&msgs), expected_repeat_messages(300));
    // Shipped and acknowledged: the ack file points at the end of the spool.
    let spool = format!("{data}/spool");
    let segments: Vec<(u64, u64)> = std::fs::read_dir(&spool)
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let base = service::shipper::ack::parse_segment_name(&name)?;
            Some((base, e.metadata().unwrap().len()))
        })
        .collect();
    let end = segments.iter().map(|(b, l)| b + l).max().unwrap();
    let ack: u64 = std::fs::read_to_string(format!("{spool}/ack"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(ack, end, "everything acknowledged: {segments:?}");
}

/// One `/repeat`; `None` when the connection failed (the process is gone).
async fn try_repeat(c: &common::HttpClient, base: &str) -> Option<hyper::StatusCode> {
    let req = hyper::Request::get(format!("{base}/repeat"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), c.request(req))
        .await
        .ok()?
        .ok()?;
    let status = resp.status();
    // A 200 counts only once its whole body arrived.
    resp.into_body().collect().await.ok()?;
    Some(status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_requests_in_flight_loses_no_answered_event() {
    const WORKERS: usize = 4;
    let dir = Scratch::new("spool-inflight");
    let events = dir.path("events.jsonl");
    let sink = format!("file:{events}");
    let data = dir.path("data");
    // Shipping runs while requests arrive, so the kill hits a live shipper.
    let flags = flags(&sink, &data, &["--flush-interval", "100ms"]);
    let a = spawn(&flags);
    let pid = a.child.id().to_string();
    let ok = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let dead = Arc::new(AtomicBool::new(false));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let (ok, sent, dead, base) = (ok.clone(), sent.clone(), dead.clone(), a.base.clone());
        workers.spawn(async move {
            let c = client();
            while sent.fetch_add(1, SeqCst) < 300 && !dead.load(SeqCst) {
                match try_repeat(&c, &base).await {
                    Some(s) if s == 200 => _ = ok.fetch_add(1, SeqCst),
                    Some(s) => panic!("status {s}"),
                    None => return,
                }
            }
        });
    }
    // kill -9 once 150 were answered, with up to WORKERS requests in flight.
    tokio::time::timeout(Duration::from_secs(60), async {
        while ok.load(SeqCst) < 150 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("150 answers");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    dead.store(true, SeqCst);
    while workers.join_next().await.is_some() {}
    let mut a = a;
    a.child.wait().unwrap();
    let answered = ok.load(SeqCst);

    let b = spawn(&flags);
    let c = client();
    wait_drained(&c, &b, Duration::from_secs(30)).await;
    stop(b);
    let msgs = file_messages(&events);
    let (total, distinct) = counts(&msgs);
    assert_eq!(total, distinct, "no event twice");
    repeat_texts(&msgs); // every message carries a well-formed, unique id
    // Every answered request's events, plus at most those of the requests in
    // flight at the kill (stored, but their answer never arrived).
    assert!(
        distinct >= answered * 20 && distinct <= (answered + WORKERS) * 20,
        "{distinct} events for {answered} answered requests"
    );
    assert_eq!(
        distinct % 20,
        0,
        "whole requests only: no torn record shipped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_spool_tail_is_cut_and_the_whole_records_ship() {
    use service::shipper::LogEvent;
    use service::shipper::ack::segment_name;
    use service::shipper::record::encode;
    let dir = Scratch::new("spool-torn");
    let events = dir.path("events.jsonl");
    let sink = format!("file:{events}");
    let data = dir.path("data");
    // What a crashed process left: two whole records and half of a third.
    let spool = format!("{data}/spool");
    std::fs::create_dir_all(&spool).unwrap();
    let mut bytes = Vec::new();
    for r in 0..3 {
        let evs: Vec<LogEvent> = (1..=20)
            .map(|i| {
                LogEvent::new(
                    1_700_000_000_000,
                    format!(
                        "Iteration {}: Hello World [id=i-crash/1/{r}/{}]",
                        i * 5,
                        i * 5
                    ),
                )
            })
            .collect();
        encode(&evs, &mut bytes);
    }
    let torn = bytes.len() - 100;
    std::fs::write(format!("{spool}/{}", segment_name(0)), &bytes[..torn]).unwrap();

    let b = spawn(&flags(&sink, &data, &["--flush-interval", "100ms"]));
    let c = client();
    let log = wait_drained(&c, &b, Duration::from_secs(30)).await;
    assert_eq!(log.shipped, 40);
    stop(b);
    let msgs = file_messages(&events);
    assert_eq!(counts(&msgs), (40, 40));
    assert_eq!(repeat_texts(&msgs), expected_repeat_messages(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_the_same_data_dir_stops_with_a_clear_error() {
    let dir = Scratch::new("spool-lock");
    let sink = format!("file:{}", dir.path("events.jsonl"));
    let data = dir.path("data");
    let flags = flags(&sink, &data, &[]);
    let a = spawn(&flags);
    // The second never says `listening on` (it stops before, since c885023).
    let f: Vec<&str> = flags.iter().map(String::as_str).collect();
    let (code, stderr) = Process::refused(&f);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("in use by another process"), "{stderr}");
    stop(a);
}
