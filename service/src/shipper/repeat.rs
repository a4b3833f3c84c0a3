//! The `/repeat` log: a request's messages, and their compact spool form.
//! Pure, no I/O.
//!
//! A `/repeat` logs `lines / every` messages
//! `Iteration {i}: Hello World [id={instance}/{start}/{request}/{i}]`, all
//! derivable from (instance, process start, request number). The id is
//! `instance/process start (Unix ms)/request number in this process/iteration`,
//! unique across restarts, so a copy stored by a retried batch can be found. So its spool
//! record holds those and the timestamp ([`super::record`]'s compact form, a
//! few dozen bytes instead of the messages), and the messages are rebuilt
//! from it when a later process reads the spool.

use std::sync::Arc;

use super::LogEvent;
use super::text::Text;

/// What every `/repeat` of one process logs, with its messages' fixed parts.
#[derive(Debug, PartialEq, Eq)]
pub struct RepeatLog {
    pub instance_id: String,
    pub started_at_ms: u64,
    pub lines: u16,
    pub every: u16,
    /// Per logged iteration: the message up to the request number, and after it.
    parts: Vec<(String, String)>,
}

impl RepeatLog {
    /// `every` of 0 is taken as 1.
    pub fn new(instance_id: &str, started_at_ms: u64, lines: u16, every: u16) -> RepeatLog {
        let every = every.max(1);
        let parts = (1..=lines)
            .filter(|i| i % every == 0)
            .map(|i| {
                (
                    format!("Iteration {i}: Hello World [id={instance_id}/{started_at_ms}/"),
                    format!("/{i}]"),
                )
            })
            .collect();
        RepeatLog {
            instance_id: instance_id.to_owned(),
            started_at_ms,
            lines,
            every,
            parts,
        }
    }

    /// Events per request.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Request `request`'s events, all stamped `timestamp_ms`: one buffer,
    /// one allocation, no formatting machinery (this runs per request).
    pub fn events(&self, timestamp_ms: i64, request: u64) -> Vec<LogEvent> {
        let digits = itoa_buf(request);
        let request = digits.as_str();
        let mut text = String::with_capacity(self.parts.len() * 64);
        let mut ends = Vec::with_capacity(self.parts.len());
        for (prefix, suffix) in &self.parts {
            text.push_str(prefix);
            text.push_str(request);
            text.push_str(suffix);
            ends.push(text.len());
        }
        let buf: Arc<str> = Arc::from(text);
        let mut start = 0;
        ends.iter()
            .filter_map(|&end| {
                let slice = Text::slice(&buf, start..end);
                start = end;
                slice.map(|m| LogEvent::new(timestamp_ms, m))
            })
            .collect()
    }
}

/// A request's events with their compact spool form.
#[derive(Debug)]
pub struct Repeat {
    pub log: Arc<RepeatLog>,
    pub timestamp_ms: i64,
    pub request: u64,
}

/// What a request hands to the log queue: its events, and for a `/repeat`
/// the compact form the spool writes instead of the messages.
#[derive(Debug)]
pub struct Entry {
    pub events: Vec<LogEvent>,
    pub repeat: Option<Repeat>,
}

impl Entry {
    /// A `/repeat`'s entry: its events built from `log`.
    pub fn repeat(log: &Arc<RepeatLog>, timestamp_ms: i64, request: u64) -> Entry {
        Entry {
            events: log.events(timestamp_ms, request),
            repeat: Some(Repeat {
                log: log.clone(),
                timestamp_ms,
                request,
            }),
        }
    }
}

impl From<Vec<LogEvent>> for Entry {
    fn from(events: Vec<LogEvent>) -> Entry {
        Entry {
            events,
            repeat: None,
        }
    }
}

/// A decimal without `fmt`.
fn itoa_buf(mut n: u64) -> String {
    let mut b = [0u8; 20];
    let mut i = b.len();
    loop {
        i -= 1;
        b[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    b[i..].iter().map(|&c| c as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_the_spec_text_with_the_id() {
        let log = RepeatLog::new("i-abc", 1_700_000_000_000, 100, 5);
        assert_eq!(log.len(), 20);
        let ev = log.events(7, 42);
        assert_eq!(ev.len(), 20);
        for (k, e) in ev.iter().enumerate() {
            let i = 5 * (k + 1);
            assert_eq!(
                &*e.message,
                format!("Iteration {i}: Hello World [id=i-abc/1700000000000/42/{i}]")
            );
            assert_eq!(e.timestamp_ms, 7);
        }
        assert_eq!(
            &*log.events(0, 0)[0].message,
            "Iteration 5: Hello World [id=i-abc/1700000000000/0/5]"
        );
        assert_eq!(itoa_buf(u64::MAX), u64::MAX.to_string());
    }
}
