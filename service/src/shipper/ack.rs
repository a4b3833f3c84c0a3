//! Pure spool bookkeeping: which prefix of the spool the sink has
//! acknowledged, which segments that frees, how segments are named. No I/O.
//!
//! Offsets are logical byte positions in the spool: a segment named
//! `{base:020}.seg` holds the bytes `base .. base + len`. Records are shipped
//! in batches that may reorder them (batches are sorted by timestamp), so the
//! acknowledged offset advances only over a contiguous run of finished
//! records: [`AckTracker`].

use std::collections::VecDeque;

/// Suffix of segment files.
pub const SEGMENT_SUFFIX: &str = ".seg";

/// The file name of the segment starting at `base`.
pub fn segment_name(base: u64) -> String {
    format!("{base:020}{SEGMENT_SUFFIX}")
}

/// The base offset of a segment file name, if it is one.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments (by base, sorted ascending) whose every byte is below
/// `acked`: each is followed by a segment starting at or below `acked`. The
/// last segment is never returned (appends go there).
pub fn fully_acked(bases: &[u64], acked: u64) -> Vec<u64> {
    bases
        .windows(2)
        .take_while(|w| w[1] <= acked)
        .map(|w| w[0])
        .collect()
}

/// Whether a record of `len` bytes fits when the spool's oldest kept byte is
/// `oldest`, its end is `end`, and it may hold `max` bytes. An empty spool
/// always takes one record, so a record larger than `max` cannot wedge it.
pub fn has_room(oldest: u64, end: u64, len: u64, max: u64) -> bool {
    end == oldest || end.saturating_sub(oldest).saturating_add(len) <= max
}

/// Records handed to the shipper, oldest first, and how many of each
/// record's events are still unfinished.
#[derive(Debug, Default)]
pub struct AckTracker {
    /// (record end offset, events not yet finished)
    open: VecDeque<(u64, usize)>,
    acked: u64,
}

impl AckTracker {
    /// Starts with everything below `acked` acknowledged.
    pub fn new(acked: u64) -> AckTracker {
        AckTracker {
            open: VecDeque::new(),
            acked,
        }
    }

    /// A record ending at `end` with `events` events was handed over. Records
    /// arrive in spool order; an out-of-order or empty one is ignored.
    pub fn push(&mut self, end: u64, events: usize) {
        let last = self.open.back().map_or(self.acked, |r| r.0);
        if end <= last {
            return;
        }
        if events == 0 {
            // Nothing to wait for: done as soon as everything before it is.
            self.open.push_back((end, 0));
            self.advance();
            return;
        }
        self.open.push_back((end, events));
    }

    /// `n` events of the record ending at `end` are finished (stored,
    /// refused for good). Returns the new acknowledged offset if it moved.
    pub fn finish(&mut self, end: u64, n: usize) -> Option<u64> {
        if let Ok(i) = self.open.binary_search_by_key(&end, |r| r.0) {
            let r = &mut self.open[i].1;
            *r = r.saturating_sub(n);
        }
        self.advance()
    }

    fn advance(&mut self) -> Option<u64> {
        let before = self.acked;
        while let Some(&(end, 0)) = self.open.front() {
            self.acked = end;
            self.open.pop_front();
        }
        (self.acked != before).then_some(self.acked)
    }

    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Records not yet fully finished.
    pub fn open_records(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        assert_eq!(segment_name(42), "00000000000000000042.seg");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        for bad in [
            "42.seg",
            "ack",
            "0000000000000000004x.seg",
            "00000000000000000042.tmp",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_segment_is_freed_once_the_next_one_starts_at_or_below_the_ack() {
        let bases = [0, 100, 250];
        assert_eq!(fully_acked(&bases, 0), Vec::<u64>::new());
        assert_eq!(fully_acked(&bases, 99), Vec::<u64>::new());
        assert_eq!(fully_acked(&bases, 100), vec![0]);
        assert_eq!(fully_acked(&bases, 260), vec![0, 100]);
        assert_eq!(fully_acked(&[7], 1000), Vec::<u64>::new());
    }

    #[test]
    fn room() {
        assert!(has_room(0, 0, 5000, 100), "an empty spool takes any record");
        assert!(has_room(0, 90, 10, 100));
        assert!(!has_room(0, 91, 10, 100));
        assert!(has_room(50, 141, 9, 100));
    }

    #[test]
    fn ack_advances_only_over_a_contiguous_finished_prefix() {
        let mut t = AckTracker::new(10);
        t.push(30, 2);
        t.push(50, 1);
        t.push(70, 3);
        // The middle record finishes first (a batch sorted it earlier).
        assert_eq!(t.finish(50, 1), None);
        assert_eq!(t.finish(30, 1), None);
        assert_eq!(t.finish(30, 1), Some(50));
        assert_eq!(t.finish(70, 2), None);
        assert_eq!(t.finish(70, 5), Some(70), "over-finishing saturates");
        assert_eq!(t.acked(), 70);
        assert_eq!(t.open_records(), 0);
        // Unknown records and stale pushes change nothing.
        assert_eq!(t.finish(999, 1), None);
        t.push(60, 1);
        assert_eq!(t.open_records(), 0);
    }

    #[test]
    fn empty_records_ack_with_their_predecessors() {
        let mut t = AckTracker::new(0);
        t.push(8, 0);
        assert_eq!(t.acked(), 8);
        t.push(20, 1);
        t.push(28, 0);
        assert_eq!(t.finish(20, 1), Some(28));
    }
}
