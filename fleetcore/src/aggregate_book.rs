//! [`ReportBook`]: the latest load report of each instance, and its rates over the tick.
//!
//! Pure: no I/O, no clock. Ordering of one instance's reports is (process start, `seq`):
//! - a report of a newer process start (`started_at_ms` greater) replaces the held one (the
//!   instance restarted); one of an older process start is refused ([`Ingested::OldProcess`]),
//!   so a forged or delayed report of a dead process cannot take an instance's place;
//! - within one process, a report whose `seq` or `sent_at_ms` is not ahead is a duplicate.
//!
//! Rates are computed once per tick by [`ReportBook::roll_tick`], from the counters' change
//! since the report held at the previous tick, not from the last pair of reports (a pair one
//! second apart turns every jitter of the report timer into a jump of the published rate).

use std::collections::HashMap;

use proto::LoadReport;

use crate::snapshot::GroupSnapshot;

/// One instance's latest report and the rates derived at the last tick.
#[derive(Debug, Clone)]
pub struct ReportEntry {
    pub report: LoadReport,
    /// The report's distinct users estimated from its sketch, once, at ingestion (the tick
    /// reads it; the report's own `concurrent_users` field is not trusted).
    pub sketch_users: u64,
    /// Controller clock when the report arrived.
    pub received_at_ms: u64,
    /// `None` until a tick has seen a report of a process that ran for 100 ms or more.
    pub requests_per_second: Option<f64>,
    pub log_events_per_second: Option<f64>,
    /// Requests/s per route family, over the same span as `requests_per_second`.
    pub family_rates: Option<proto::FamilyRates>,
    /// The counters held at the previous tick (`None` before the first tick).
    base: Option<Sample>,
}

/// The counters of one report, as the base of the next tick's rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    started_at_ms: u64,
    seq: u64,
    sent_at_ms: u64,
    requests: u64,
    log_events: u64,
    families: proto::Families,
}

impl Sample {
    fn of(r: &LoadReport) -> Self {
        Self {
            started_at_ms: r.started_at_ms,
            seq: r.seq,
            sent_at_ms: r.sent_at_ms,
            requests: r.requests_total,
            log_events: r.log.enqueued,
            families: r.families,
        }
    }
}

/// What happened to an ingested report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// The first report of this instance.
    First,
    /// A newer report of the same process.
    Update,
    /// A report of a newer process start: the instance restarted.
    Restart,
    /// Same process, `seq` or `sent_at_ms` not ahead of the report held: ignored.
    Duplicate,
    /// A report of an older process start than the one held: refused.
    OldProcess,
}

/// The latest report of each instance.
#[derive(Debug, Clone)]
pub struct ReportBook {
    entries: HashMap<String, ReportEntry>,
}

/// A report of an older process start is refused while the newer process's last report is
/// younger than this; after that the newer one is taken as gone (or as a forgery that
/// stopped) and the older process's reports count again.
pub const SUPERSEDE_AFTER_MS: u64 = 3_000;

impl Default for ReportBook {
    fn default() -> Self {
        Self::new()
    }
}

impl ReportBook {
    pub fn new() -> Self {
        ReportBook {
            entries: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The longest user active window the instances report (0 with no report).
    pub fn max_active_window_ms(&self) -> u64 {
        self.entries
            .values()
            .map(|e| e.report.active_window_ms)
            .max()
            .unwrap_or(0)
    }

    pub fn get(&self, instance_id: &str) -> Option<&ReportEntry> {
        self.entries.get(instance_id)
    }

    /// Stores `report` (already validated) received at `received_at_ms`.
    pub fn ingest(&mut self, report: LoadReport, received_at_ms: u64) -> Ingested {
        let Some(prev) = self.entries.get_mut(&report.instance_id) else {
            let entry = ReportEntry {
                sketch_users: report.users_sketch.count(),
                report,
                received_at_ms,
                requests_per_second: None,
                log_events_per_second: None,
                family_rates: None,
                base: None,
            };
            self.entries.insert(entry.report.instance_id.clone(), entry);
            return Ingested::First;
        };
        let old = &prev.report;
        let outcome = match report.started_at_ms.cmp(&old.started_at_ms) {
            std::cmp::Ordering::Less
                if received_at_ms.saturating_sub(prev.received_at_ms) <= SUPERSEDE_AFTER_MS =>
            {
                return Ingested::OldProcess;
            }
            std::cmp::Ordering::Less => Ingested::Restart,
            std::cmp::Ordering::Greater => Ingested::Restart,
            std::cmp::Ordering::Equal
                if report.seq <= old.seq || report.sent_at_ms <= old.sent_at_ms =>
            {
                return Ingested::Duplicate;
            }
            std::cmp::Ordering::Equal => Ingested::Update,
        };
        prev.sketch_users = report.users_sketch.count();
        prev.report = report;
        prev.received_at_ms = received_at_ms;
        outcome
    }

    /// Once per tick: each instance's rates over the window since the previous tick.
    ///
    /// Rate = (counter now − counter at the previous tick) / (time between those two
    /// reports, by the instance's clock, which stamped both). No new report since: the rate
    /// stands (the report goes stale soon enough). A new process start, no previous tick, or
    /// a counter that went down: the counter over the process's uptime.
    pub fn roll_tick(&mut self) {
        for e in self.entries.values_mut() {
            let now = Sample::of(&e.report);
            let rates = match e.base {
                Some(b) if b == now => continue,
                Some(b)
                    if b.started_at_ms == now.started_at_ms
                        && now.sent_at_ms > b.sent_at_ms
                        && now.requests >= b.requests
                        && now.log_events >= b.log_events =>
                {
                    let secs = (now.sent_at_ms - b.sent_at_ms) as f64 / 1000.0;
                    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
                    let (f, g) = (now.families, b.families);
                    Some((
                        per(now.requests, b.requests),
                        per(now.log_events, b.log_events),
                        proto::FamilyRates {
                            hello: per(f.hello, g.hello),
                            repeat: per(f.repeat, g.repeat),
                            factorial: per(f.factorial, g.factorial),
                            books: per(f.books, g.books),
                        },
                    ))
                }
                _ => since_start(&now),
            };
            if let Some((rps, lps, families)) = rates {
                e.requests_per_second = Some(rps);
                e.log_events_per_second = Some(lps);
                e.family_rates = Some(families);
            }
            e.base = Some(now);
        }
    }

    /// Forgets instances the provider no longer lists (keeps the book bounded).
    pub fn retain_known(&mut self, snapshot: &GroupSnapshot) {
        if self.entries.len() == snapshot.instances.len()
            && snapshot
                .instances
                .iter()
                .all(|i| self.entries.contains_key(&i.id))
        {
            return;
        }
        let known: std::collections::HashSet<&str> =
            snapshot.instances.iter().map(|i| i.id.as_str()).collect();
        self.entries.retain(|id, _| known.contains(id.as_str()));
    }
}

/// Rates of a process's counters over its uptime (`None` before 100 ms of it).
fn since_start(s: &Sample) -> Option<(f64, f64, proto::FamilyRates)> {
    let up_ms = s.sent_at_ms.saturating_sub(s.started_at_ms);
    if up_ms < 100 {
        return None;
    }
    let secs = up_ms as f64 / 1000.0;
    let f = s.families;
    Some((
        s.requests as f64 / secs,
        s.log_events as f64 / secs,
        proto::FamilyRates {
            hello: f.hello as f64 / secs,
            repeat: f.repeat as f64 / secs,
            factorial: f.factorial as f64 / secs,
            books: f.books as f64 / secs,
        },
    ))
}
