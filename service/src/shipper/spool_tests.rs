//! The spool against a real directory: recovery, torn tails, rolling,
//! deletion, the bound, the lock.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::shipper::record::encode;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hf-spool-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn options(dir: &TempDir, segment_bytes: u64, max_bytes: u64) -> SpoolOptions {
    SpoolOptions {
        dir: dir.0.clone(),
        segment_bytes,
        max_bytes,
    }
}

fn record(tag: usize) -> Vec<u8> {
    let events: Vec<LogEvent> = (0..20)
        .map(|i| LogEvent::new(1_000 + tag as i64, format!("Iteration {i}: req {tag}")))
        .collect();
    let mut buf = Vec::new();
    encode(&events, &mut buf);
    buf
}

fn append(spool: &Spool, tag: usize) -> u64 {
    spool
        .try_append(&record(tag))
        .expect("append")
        .expect("room")
}

fn tags(r: &Recovered) -> Vec<String> {
    r.records
        .iter()
        .map(|(_, ev)| ev[0].message.rsplit(' ').next().unwrap().to_owned())
        .collect()
}

#[test]
fn what_is_not_acknowledged_comes_back_after_a_restart() {
    let dir = TempDir::new("recover");
    let (spool, r) = Spool::open(options(&dir, 1 << 20, 4 << 20)).unwrap();
    assert!(r.records.is_empty());
    let ends: Vec<u64> = (0..5).map(|t| append(&spool, t)).collect();
    spool.commit(ends[1]).unwrap();
    drop(spool);
    let (spool, r) = Spool::open(options(&dir, 1 << 20, 4 << 20)).unwrap();
    assert_eq!(r.acked, ends[1]);
    assert_eq!(tags(&r), ["2", "3", "4"]);
    assert_eq!(r.records.iter().map(|x| x.0).collect::<Vec<_>>(), ends[2..]);
    assert_eq!(r.records[0].1.len(), 20);
    // New appends continue after the old ones.
    assert_eq!(append(&spool, 5), ends[4] + record(5).len() as u64);
}

#[test]
fn a_torn_tail_is_cut_off_and_never_returned() {
    let dir = TempDir::new("torn");
    let (spool, _) = Spool::open(options(&dir, 1 << 20, 4 << 20)).unwrap();
    let good = append(&spool, 1);
    drop(spool);
    // A crash mid-write: half of a second record reached the file.
    let seg = dir.0.join(segment_name(0));
    let half = &record(2)[..300];
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(half).unwrap();
    drop(f);
    let (spool, r) = Spool::open(options(&dir, 1 << 20, 4 << 20)).unwrap();
    assert_eq!(tags(&r), ["1"]);
    assert_eq!(r.bad_bytes, 300);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), good, "cut back");
    // The next record lands right after the good one and reads back whole.
    append(&spool, 3);
    drop(spool);
    let (_, r) = Spool::open(options(&dir, 1 << 20, 4 << 20)).unwrap();
    assert_eq!(tags(&r), ["1", "3"]);
    assert_eq!(r.bad_bytes, 0);
}

#[test]
fn segments_roll_and_are_deleted_once_acknowledged() {
    let dir = TempDir::new("roll");
    let rec = record(0).len() as u64;
    // Three records per segment.
    let (spool, _) = Spool::open(options(&dir, 3 * rec, 100 * rec)).unwrap();
    let ends: Vec<u64> = (0..10).map(|t| append(&spool, t)).collect();
    let segments = || list_segments(&dir.0).unwrap();
    assert_eq!(segments(), [0, 3 * rec, 6 * rec, 9 * rec]);
    spool.commit(ends[4]).unwrap();
    assert_eq!(
        segments(),
        [3 * rec, 6 * rec, 9 * rec],
        "the first is wholly acked"
    );
    spool.commit(ends[9]).unwrap();
    assert_eq!(segments(), [9 * rec], "the current segment stays");
    assert_eq!(spool.bytes(), rec);
    drop(spool);
    let (_, r) = Spool::open(options(&dir, 3 * rec, 100 * rec)).unwrap();
    assert!(r.records.is_empty());
    assert_eq!(r.acked, ends[9]);
}

#[test]
fn a_full_spool_refuses_until_a_commit_frees_a_segment() {
    let dir = TempDir::new("full");
    let rec = record(0).len() as u64;
    let (spool, _) = Spool::open(options(&dir, 2 * rec, 4 * rec)).unwrap();
    let ends: Vec<u64> = (0..4).map(|t| append(&spool, t)).collect();
    assert!(spool.try_append(&record(9)).unwrap().is_none());
    // Acking only part of the first segment frees nothing on disk.
    spool.commit(ends[0]).unwrap();
    assert!(spool.try_append(&record(9)).unwrap().is_none());
    spool.commit(ends[1]).unwrap();
    assert!(spool.try_append(&record(9)).unwrap().is_some());
}

#[test]
fn staged_records_are_one_write_handed_on_in_order_and_count_as_used() {
    let dir = TempDir::new("group");
    let rec = record(0).len() as u64;
    let (spool, _) = Spool::open(options(&dir, 100 * rec, 3 * rec)).unwrap();
    let ends: Vec<u64> = (1..=3)
        .map(|tag| spool.stage(&record(tag), Vec::new()).unwrap())
        .collect();
    assert_eq!(ends, vec![rec, 2 * rec, 3 * rec]);
    assert!(
        spool.stage(&record(4), Vec::new()).is_err(),
        "staged room is taken"
    );
    // The first to make sure writes all three and hands them on, in order.
    let mut seen = Vec::new();
    spool
        .write_staged(rec, |end, _, written| seen.push((end, written)))
        .unwrap();
    assert_eq!(seen, vec![(rec, true), (2 * rec, true), (3 * rec, true)]);
    // The others find theirs written: nothing more is handed on.
    spool
        .write_staged(3 * rec, |_, _, _| panic!("written once"))
        .unwrap();
    drop(spool);
    let (_, r) = Spool::open(options(&dir, 100 * rec, 3 * rec)).unwrap();
    assert_eq!(tags(&r), ["1", "2", "3"]);
}

#[test]
fn a_second_process_cannot_open_the_same_spool() {
    let dir = TempDir::new("lock");
    let (_spool, _) = Spool::open(options(&dir, 1 << 20, 4 << 20)).unwrap();
    match Spool::open(options(&dir, 1 << 20, 4 << 20)) {
        Err(SpoolError::Locked(p)) => assert_eq!(p, dir.0),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened twice"),
    }
}

#[test]
fn garbage_in_the_ack_file_reships_rather_than_loses() {
    let dir = TempDir::new("ack");
    let (spool, _) = Spool::open(options(&dir, 1 << 20, 4 << 20)).unwrap();
    let end = append(&spool, 1);
    spool.commit(end).unwrap();
    drop(spool);
    std::fs::write(dir.0.join("ack"), "not a number").unwrap();
    let (_, r) = Spool::open(options(&dir, 1 << 20, 4 << 20)).unwrap();
    assert_eq!(tags(&r), ["1"]);
}
