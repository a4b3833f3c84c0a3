//! The on-disk spool: every request's events are appended, as one
//! [`record`](super::record), to an append-only segment file before the
//! request is answered; the shipper records how far the sink has acknowledged
//! in a small `ack` file; segments below that are deleted.
//!
//! Layout of the spool directory (one per instance, locked by one process):
//!
//! ```text
//! lock                         held with an exclusive lock while the process lives
//! ack                          the acknowledged offset, decimal; replaced atomically (tmp + rename)
//! 00000000000000000000.seg     segments, named by their first logical offset
//! 00000000000004194321.seg
//! ```
//!
//! Durability: an append is one `write` to the page cache, which outlives the
//! process, so a `kill -9` or panic loses nothing answered. A host crash (power
//! loss, kernel panic) can lose the unsynced tail; a torn record it leaves is
//! detected by its checksum and cut off at start. An fsync per interval would
//! narrow that window; it is not done (no flag) because the page cache is the
//! promise the spec asks for and an fsync per request costs milliseconds.
//!
//! Blocking I/O: appends and ack writes are short page-cache operations done
//! inline (under one mutex), not on a blocking thread pool: a hop to another
//! thread or task would cost more than the write. Group commit without a
//! writer task: a request stages its record ([`Spool::stage`]), yields once so
//! that the requests ready with it stage theirs, then makes sure its record is
//! written ([`Spool::write_staged`]): the first to get there writes the whole
//! group with one `write`; each request is answered only after that returned.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use super::LogEvent;
use super::ack::{fully_acked, has_room, parse_segment_name, segment_name};
use super::record::scan;

/// Where and how big.
#[derive(Debug, Clone)]
pub struct SpoolOptions {
    pub dir: PathBuf,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// Most bytes the spool's segments may hold (acknowledged bytes in a
    /// segment not yet deleted included).
    pub max_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {what}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("spool {0} is in use by another process (its lock is held)")]
    Locked(PathBuf),
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// What an earlier process left unacknowledged, found by [`Spool::open`].
#[derive(Debug, Default)]
pub struct Recovered {
    /// (record end offset, its events), in spool order.
    pub records: Vec<(u64, Vec<LogEvent>)>,
    /// The acknowledged offset read from the `ack` file.
    pub acked: u64,
    /// Bytes cut off or skipped because they were not whole, valid records.
    pub bad_bytes: u64,
}

pub struct Spool {
    dir: PathBuf,
    options: SpoolOptions,
    writer: Mutex<Writer>,
    room: Notify,
    /// Held for the spool's life: the lock is released when it closes.
    _lock: File,
}

struct Writer {
    file: File,
    /// Live segments' bases, ascending; the last one is `file`.
    bases: Vec<u64>,
    /// End of the staged records (the next record's start).
    end: u64,
    /// End of what is written: `written..end` is `staged`.
    written: u64,
    staged: Vec<u8>,
    /// Each staged record's end and events, in order.
    staged_events: Vec<(u64, Vec<LogEvent>)>,
    /// The last group whose write failed: (from, to, why).
    failed: Option<(u64, u64, String)>,
    acked: u64,
}

impl Spool {
    /// Opens (creating) the spool directory, takes its lock, cuts a torn tail
    /// off, and returns every record not yet acknowledged.
    pub fn open(options: SpoolOptions) -> Result<(Spool, Recovered), SpoolError> {
        let dir = options.dir.clone();
        std::fs::create_dir_all(&dir).map_err(io("creating the directory", &dir))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("opening the lock file", &lock_path))?;
        lock.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => SpoolError::Locked(dir.clone()),
            std::fs::TryLockError::Error(source) => SpoolError::Io {
                what: "locking",
                path: lock_path.clone(),
                source,
            },
        })?;
        let acked = read_ack(&dir)?;
        let mut bases = list_segments(&dir)?;
        let mut recovered = Recovered {
            acked,
            ..Recovered::default()
        };
        let mut last_end = None;
        for (i, &base) in bases.iter().enumerate() {
            let path = dir.join(segment_name(base));
            let bytes = read_file(&path)?;
            let len = bytes.len() as u64;
            let last = i + 1 == bases.len();
            let from = acked.saturating_sub(base).min(len) as usize;
            let s = scan(&bytes[from..]);
            recovered.records.extend(
                s.records
                    .into_iter()
                    .filter(|r| !r.events.is_empty())
                    .map(|r| (base + (from + r.end) as u64, r.events)),
            );
            let good = (from + s.valid_len) as u64;
            if let Some(stop) = s.stop {
                recovered.bad_bytes += len - good;
                tracing::warn!(segment = %path.display(), at = good, ?stop, bad_bytes = len - good,
                    "spool: bytes that are not a whole record skipped (a write torn by a crash?)");
                if last {
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(io("opening to cut a torn tail", &path))?;
                    f.set_len(good).map_err(io("cutting a torn tail", &path))?;
                }
            }
            if last {
                last_end = Some(base + good);
            }
        }
        // Appends continue in the last segment, unless the ack is past its end
        // (its bytes were lost): then a new segment starts at the ack.
        let end = last_end.map_or(acked, |e| e.max(acked));
        if last_end != Some(end) {
            bases.push(end);
        }
        let current = dir.join(segment_name(*bases.last().unwrap_or(&end)));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&current)
            .map_err(io("opening a segment", &current))?;
        let spool = Spool {
            dir,
            options,
            writer: Mutex::new(Writer {
                file,
                bases,
                end,
                written: end,
                staged: Vec::new(),
                staged_events: Vec::new(),
                failed: None,
                acked,
            }),
            room: Notify::new(),
            _lock: lock,
        };
        spool.delete_acked(&mut spool.writer())?;
        Ok((spool, recovered))
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stages one record, if the spool has room for it, to be written by the
    /// next [`Spool::write_staged`] together with every record staged before
    /// it (group commit), and returns the record's end offset; `Err` gives
    /// the events back when the spool is full.
    pub fn stage(&self, record: &[u8], events: Vec<LogEvent>) -> Result<u64, Vec<LogEvent>> {
        let len = record.len() as u64;
        let mut w = self.writer();
        let oldest = w.bases.first().copied().unwrap_or(w.end);
        if !has_room(oldest, w.end, len, self.options.max_bytes) {
            return Err(events);
        }
        w.staged.extend_from_slice(record);
        w.end += len;
        let end = w.end;
        w.staged_events.push((end, events));
        Ok(end)
    }

    /// Makes sure the record ending at `upto` is written: unless an earlier
    /// call did, writes every staged record with one `write` and passes each
    /// one's end and events to `hand`, in spool order, under the writer
    /// lock, with whether it was written. On a failed write the segment is
    /// cut back so the spool holds no partial record, and the group's records
    /// are gone; `Err` for the caller's if it was among them.
    pub fn write_staged(
        &self,
        upto: u64,
        mut hand: impl FnMut(u64, Vec<LogEvent>, bool),
    ) -> Result<(), SpoolError> {
        let mut w = self.writer();
        if w.written < upto {
            let from = w.written;
            let result = self.write_group(&mut w);
            let ok = result.is_ok();
            for (end, events) in std::mem::take(&mut w.staged_events) {
                hand(end, events, ok);
            }
            if let Err(e) = result {
                w.failed = Some((from, w.end, e.to_string()));
                w.staged.clear();
                w.end = w.written;
                return Err(e);
            }
        }
        match &w.failed {
            Some((from, to, why)) if *from < upto && upto <= *to => Err(SpoolError::Io {
                what: "appending a record",
                path: self.dir.clone(),
                source: std::io::Error::other(why.clone()),
            }),
            _ => Ok(()),
        }
    }

    fn write_group(&self, w: &mut Writer) -> Result<(), SpoolError> {
        let total = w.end - w.written;
        let base = w.bases.last().copied().unwrap_or(w.written);
        if w.written > base && w.written - base + total > self.options.segment_bytes {
            let path = self.dir.join(segment_name(w.written));
            w.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io("starting a segment", &path))?;
            let start = w.written;
            w.bases.push(start);
        }
        let base = w.bases.last().copied().unwrap_or(w.written);
        let staged = std::mem::take(&mut w.staged);
        let written = w.file.write_all(&staged);
        w.staged = staged;
        w.staged.clear();
        if let Err(source) = written {
            let _ = w.file.set_len(w.written - base);
            return Err(SpoolError::Io {
                what: "appending a record",
                path: self.dir.join(segment_name(base)),
                source,
            });
        }
        w.written = w.end;
        Ok(())
    }

    /// Stages and writes one record: its end offset, or `Ok(None)` when the
    /// spool is full.
    pub fn try_append(&self, record: &[u8]) -> Result<Option<u64>, SpoolError> {
        let Ok(end) = self.stage(record, Vec::new()) else {
            return Ok(None);
        };
        self.write_staged(end, |_, _, _| {})?;
        Ok(Some(end))
    }

    /// Woken whenever room may have been freed.
    pub fn room(&self) -> &Notify {
        &self.room
    }

    /// Records that everything below `acked` is stored: writes the `ack` file
    /// (tmp + rename), deletes segments that are wholly below it, wakes
    /// requests waiting for room.
    pub fn commit(&self, acked: u64) -> Result<(), SpoolError> {
        let mut w = self.writer();
        if acked <= w.acked {
            return Ok(());
        }
        let tmp = self.dir.join("ack.tmp");
        let path = self.dir.join("ack");
        std::fs::write(&tmp, format!("{acked}\n")).map_err(io("writing", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("renaming into place", &path))?;
        w.acked = acked;
        let result = self.delete_acked(&mut w);
        drop(w);
        self.room.notify_waiters();
        result
    }

    fn delete_acked(&self, w: &mut Writer) -> Result<(), SpoolError> {
        let gone = fully_acked(&w.bases, w.acked);
        for base in &gone {
            let path = self.dir.join(segment_name(*base));
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(SpoolError::Io {
                        what: "deleting an acknowledged segment",
                        path,
                        source,
                    });
                }
            }
        }
        w.bases.drain(..gone.len());
        Ok(())
    }

    /// Bytes the segments hold now.
    pub fn bytes(&self) -> u64 {
        let w = self.writer();
        w.end - w.bases.first().copied().unwrap_or(w.end)
    }

    /// The acknowledged offset.
    pub fn acked(&self) -> u64 {
        self.writer().acked
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn read_ack(dir: &Path) -> Result<u64, SpoolError> {
    let path = dir.join("ack");
    match std::fs::read_to_string(&path) {
        Ok(text) => match text.trim().parse() {
            Ok(v) => Ok(v),
            Err(_) => {
                // Written by rename, so never torn; if it is garbage anyway,
                // shipping everything again loses nothing (ids show copies).
                tracing::warn!(path = %path.display(), "spool: unreadable ack file; reshipping the whole spool");
                Ok(0)
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(source) => Err(SpoolError::Io {
            what: "reading",
            path,
            source,
        }),
    }
}

fn list_segments(dir: &Path) -> Result<Vec<u64>, SpoolError> {
    let mut bases: Vec<u64> = std::fs::read_dir(dir)
        .map_err(io("listing", dir))?
        .filter_map(Result::ok)
        .filter_map(|e| parse_segment_name(e.file_name().to_str()?))
        .collect();
    bases.sort_unstable();
    Ok(bases)
}

fn read_file(path: &Path) -> Result<Vec<u8>, SpoolError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io("reading a segment", path))?;
    Ok(bytes)
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod tests;
