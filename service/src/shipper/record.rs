//! Pure spool record codec: one record per request, framed so a torn or
//! corrupt tail is recognised and never decoded as events. No I/O.
//!
//! ```text
//! record  = len:u32le crc:u32le payload[len]      crc = CRC-32 (IEEE) of payload
//! payload = count:u32le event*count                  (count < 0xFFFFFFFF)
//!         | 0xFFFFFFFF:u32le repeat                  a /repeat, compact
//! event   = timestamp_ms:i64le msg_len:u32le msg[msg_len]   (UTF-8)
//! repeat  = timestamp_ms:i64le request:u64le started_at_ms:u64le
//!           lines:u16le every:u16le id_len:u16le id[id_len]  (UTF-8)
//! ```
//!
//! A compact record's events are rebuilt by [`RepeatLog`] (the same code
//! that built them for the request), so they read back as they were sent.
//!
//! [`scan`] walks a segment's bytes and stops at the first record that is
//! incomplete (a partial write: the process or host died mid-append) or whose
//! checksum or contents do not match; everything before it is returned, and
//! [`Scan::valid_len`] says where the good bytes end.

use std::sync::Arc;

use super::LogEvent;
use super::repeat::{Repeat, RepeatLog};

/// Bytes before each record's payload.
pub const HEADER: usize = 8;
/// Largest payload accepted when reading: larger lengths mean corruption.
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it), SIMD-accelerated.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Appends one record holding `events` to `out`.
pub fn encode(events: &[LogEvent], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER]);
    out.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for e in events {
        out.extend_from_slice(&e.timestamp_ms.to_le_bytes());
        out.extend_from_slice(&(e.message.len() as u32).to_le_bytes());
        out.extend_from_slice(e.message.as_bytes());
    }
    seal(out, start);
}

/// Marks a compact `/repeat` payload.
const REPEAT: u32 = u32::MAX;
/// Most events a compact record may stand for when read back.
const MAX_REPEAT_EVENTS: usize = 10_000;

/// Appends one compact record for a `/repeat` to `out`.
pub fn encode_repeat(r: &Repeat, out: &mut Vec<u8>) {
    let start = out.len();
    let id = r.log.instance_id.as_bytes();
    let id = &id[..id.len().min(u16::MAX as usize)];
    out.extend_from_slice(&[0u8; HEADER]);
    out.extend_from_slice(&REPEAT.to_le_bytes());
    out.extend_from_slice(&r.timestamp_ms.to_le_bytes());
    out.extend_from_slice(&r.request.to_le_bytes());
    out.extend_from_slice(&r.log.started_at_ms.to_le_bytes());
    out.extend_from_slice(&r.log.lines.to_le_bytes());
    out.extend_from_slice(&r.log.every.to_le_bytes());
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(id);
    seal(out, start);
}

fn seal(out: &mut [u8], start: usize) {
    let payload_len = (out.len() - start - HEADER) as u32;
    let crc = crc32(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
}

/// Why [`scan`] stopped before the end of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The input ended inside a record: a partial write.
    Torn,
    /// A record's length, checksum or contents are wrong.
    Corrupt,
}

/// One decoded record and where it ends (relative to the scanned slice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub end: usize,
    pub events: Vec<LogEvent>,
}

/// What [`scan`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub records: Vec<Record>,
    /// Bytes from the start that hold whole, valid records.
    pub valid_len: usize,
    /// Set when bytes after `valid_len` were not records.
    pub stop: Option<Stop>,
}

/// Decodes every whole, valid record from the start of `bytes`.
pub fn scan(bytes: &[u8]) -> Scan {
    let mut out = Scan::default();
    // Compact records of one process share their messages' fixed parts.
    let mut log: Option<RepeatLog> = None;
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < HEADER {
            out.stop = Some(Stop::Torn);
            break;
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().unwrap_or_default());
        if len > MAX_PAYLOAD {
            out.stop = Some(Stop::Corrupt);
            break;
        }
        let Some(payload) = rest.get(HEADER..HEADER + len) else {
            out.stop = Some(Stop::Torn);
            break;
        };
        let decoded = (crc32(payload) == crc)
            .then(|| decode_payload(payload, &mut log))
            .flatten();
        let Some(events) = decoded else {
            out.stop = Some(Stop::Corrupt);
            break;
        };
        at += HEADER + len;
        out.records.push(Record { end: at, events });
        out.valid_len = at;
    }
    out
}

fn decode_payload(p: &[u8], log: &mut Option<RepeatLog>) -> Option<Vec<LogEvent>> {
    let mut r = Reader(p);
    let count = r.u32()?;
    if count == REPEAT {
        return decode_repeat(r, log);
    }
    let count = count as usize;
    // Each event takes at least 12 bytes: a count beyond that is a lie.
    if count > p.len() / 12 {
        return None;
    }
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        let ts = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
        let len = r.u32()? as usize;
        let msg = std::str::from_utf8(r.take(len)?).ok()?;
        events.push(LogEvent::new(ts, Arc::<str>::from(msg)));
    }
    r.0.is_empty().then_some(events)
}

fn decode_repeat(mut r: Reader<'_>, log: &mut Option<RepeatLog>) -> Option<Vec<LogEvent>> {
    let ts = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let request = r.u64()?;
    let started = r.u64()?;
    let lines = r.u16()?;
    let every = r.u16()?;
    let id_len = r.u16()? as usize;
    let id = std::str::from_utf8(r.take(id_len)?).ok()?;
    if !r.0.is_empty() || every == 0 || usize::from(lines / every) > MAX_REPEAT_EVENTS {
        return None;
    }
    let same = log.as_ref().is_some_and(|l| {
        l.instance_id == id && l.started_at_ms == started && l.lines == lines && l.every == every
    });
    if !same {
        *log = Some(RepeatLog::new(id, started, lines, every));
    }
    log.as_ref().map(|l| l.events(ts, request))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: usize, tag: &str) -> Vec<LogEvent> {
        (0..n)
            .map(|i| LogEvent::new(1_700_000_000_000 + i as i64, format!("{tag} {i} é")))
            .collect()
    }

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn records_round_trip() {
        let mut buf = Vec::new();
        encode(&events(20, "a"), &mut buf);
        let first = buf.len();
        encode(&events(3, "b"), &mut buf);
        encode(&[], &mut buf);
        let s = scan(&buf);
        assert_eq!(s.stop, None);
        assert_eq!(s.valid_len, buf.len());
        assert_eq!(s.records.len(), 3);
        assert_eq!(s.records[0].end, first);
        assert_eq!(s.records[0].events, events(20, "a"));
        assert_eq!(s.records[1].events, events(3, "b"));
        assert!(s.records[2].events.is_empty());
    }

    #[test]
    fn every_truncation_of_the_last_record_is_torn_and_keeps_the_rest() {
        let mut buf = Vec::new();
        encode(&events(2, "keep"), &mut buf);
        let good = buf.len();
        encode(&events(5, "torn"), &mut buf);
        for cut in good + 1..buf.len() {
            let s = scan(&buf[..cut]);
            assert_eq!(s.stop, Some(Stop::Torn), "cut at {cut}");
            assert_eq!(s.valid_len, good);
            assert_eq!(s.records.len(), 1);
        }
    }

    #[test]
    fn a_flipped_byte_anywhere_in_a_payload_is_corrupt() {
        let mut buf = Vec::new();
        encode(&events(1, "x"), &mut buf);
        for i in HEADER..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            let s = scan(&bad);
            assert_eq!(s.stop, Some(Stop::Corrupt), "byte {i}");
            assert!(s.records.is_empty());
        }
    }

    #[test]
    fn zeroed_tail_and_absurd_lengths_are_not_events() {
        // A file extended with zeros (a host crash can leave this): len 0, crc 0
        // does not match CRC of the empty payload's count → corrupt, not events.
        let s = scan(&[0u8; 64]);
        assert!(s.records.is_empty());
        assert_eq!(s.valid_len, 0);
        assert!(s.stop.is_some());
        let mut huge = Vec::new();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0; 4]);
        assert_eq!(scan(&huge).stop, Some(Stop::Corrupt));
    }

    #[test]
    fn a_compact_repeat_record_reads_back_as_the_events_it_stands_for() {
        let log = Arc::new(RepeatLog::new("i-é1", 1_700_000_000_123, 100, 5));
        let mut buf = Vec::new();
        encode(&events(2, "full"), &mut buf);
        for request in [1, 2, u64::MAX] {
            let e = super::super::repeat::Entry::repeat(&log, 99, request);
            encode_repeat(e.repeat.as_ref().unwrap(), &mut buf);
        }
        assert!(
            buf.len() < 2 * (HEADER + 60) + 200,
            "compact: {} bytes",
            buf.len()
        );
        let s = scan(&buf);
        assert_eq!(s.stop, None);
        assert_eq!(s.records.len(), 4);
        assert_eq!(s.records[0].events, events(2, "full"));
        assert_eq!(s.records[1].events, log.events(99, 1));
        assert_eq!(s.records[3].events, log.events(99, u64::MAX));
        assert_eq!(
            &*s.records[2].events[19].message,
            "Iteration 100: Hello World [id=i-é1/1700000000123/2/100]"
        );
        // Every truncation is torn; every flipped byte is corrupt.
        let one = &buf[s.records[0].end..s.records[1].end];
        for cut in 1..one.len() {
            assert_eq!(scan(&one[..cut]).stop, Some(Stop::Torn));
        }
        for i in HEADER..one.len() {
            let mut bad = one.to_vec();
            bad[i] ^= 0x08;
            assert_eq!(scan(&bad).stop, Some(Stop::Corrupt), "byte {i}");
        }
    }

    #[test]
    fn a_compact_record_with_absurd_fields_is_corrupt() {
        for (lines, every) in [(100u16, 0u16), (u16::MAX, 1)] {
            let mut payload = REPEAT.to_le_bytes().to_vec();
            payload.extend_from_slice(&[0u8; 24]);
            payload.extend_from_slice(&lines.to_le_bytes());
            payload.extend_from_slice(&every.to_le_bytes());
            payload.extend_from_slice(&0u16.to_le_bytes());
            let mut buf = vec![0u8; HEADER];
            buf.extend_from_slice(&payload);
            seal(&mut buf, 0);
            assert_eq!(scan(&buf).stop, Some(Stop::Corrupt), "{lines}/{every}");
        }
    }

    #[test]
    fn a_valid_checksum_over_a_lying_count_is_corrupt() {
        let mut payload = Vec::new();
        payload.extend_from_slice(&1000u32.to_le_bytes());
        let mut buf = Vec::new();
        buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        buf.extend_from_slice(&crc32(&payload).to_le_bytes());
        buf.extend_from_slice(&payload);
        assert_eq!(scan(&buf).stop, Some(Stop::Corrupt));
    }
}
