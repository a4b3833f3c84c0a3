//! Aggregation: the latest load report per instance + the provider's snapshot → fleet metrics.
//!
//! Pure: no I/O, no clock (every time is an argument, Unix milliseconds).
//!
//! - [`ReportBook`] (`aggregate_book.rs`) keeps the latest [`LoadReport`](proto::LoadReport) of each instance,
//!   ordered by (process start, `seq`): a newer process start replaces the old one, an older
//!   one is refused. Once per tick ([`ReportBook::roll_tick`]) it turns each instance's
//!   counters into rates over the tick window: the counter at this tick minus the counter at
//!   the previous tick, over the time between the two reports (requests/s from
//!   `requests_total`, log events/s from `log.enqueued`). A new process start is a restart:
//!   the rate is then taken from the process start (the counter counts from zero there).
//! - [`aggregate`] produces [`FleetMetrics`]:
//!   - `concurrent_users` = the estimate of the MERGED user sketches (register-wise max),
//!     so a user who reached two instances counts once (HyperLogLog, ±2 %; see
//!     `proto::sketch`). Summing the per-instance counts would double-count.
//!   - `concurrent_users_per_instance` = the distinct users across the *counted*
//!     instances (in service, healthy, not warming, not draining, fresh report: their
//!     sketches merged) divided by their number: the load each unit of capacity carries.
//!     Not the mean of per-instance counts: a user whose requests reach four instances
//!     would count four times, and every scale-out would raise the metric. AWS excludes
//!     warming instances from aggregated metrics the same way. `None` when there is no
//!     such instance: missing data, which must never cause a scale-in.
//!   - each instance's own distinct-user count stays in [`InstanceMetrics`], a diagnostic,
//!     estimated from its sketch (the report's `concurrent_users` field is not trusted).
//!   - rates summed over fresh reports.
//! - A report older than `stale_after_ms` (measured with the controller's receive time,
//!   so instance clock skew does not matter) is excluded and its instance flagged.

use proto::{Health, UserSketch};

use crate::snapshot::GroupSnapshot;

#[path = "aggregate_book.rs"]
mod book;
pub use book::{Ingested, ReportBook, ReportEntry, SUPERSEDE_AFTER_MS};

/// Parameters of the aggregation (from the config and the policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregateParams {
    /// Reports received longer ago than this are stale.
    pub stale_after_ms: u64,
    /// Instances in service for less than this are warming.
    pub warmup_ms: u64,
}

/// One instance's figures for the status API.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceMetrics {
    pub id: String,
    pub warming: bool,
    /// `Fresh`, `Stale` or `Missing` report.
    pub report: ReportState,
    pub concurrent_users: u64,
    pub requests_per_second: f64,
    pub log_events_per_second: f64,
    pub in_flight: u64,
    pub draining: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportState {
    Fresh,
    Stale,
    Missing,
}

/// The fleet's figures at one tick.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FleetMetrics {
    pub at_ms: u64,
    /// Distinct users fleet-wide (merged sketches); 0 when no report is fresh.
    pub concurrent_users: u64,
    /// Distinct users across the counted instances (merged sketches) / their number.
    pub concurrent_users_per_instance: Option<f64>,
    pub requests_per_second: f64,
    pub log_events_per_second: f64,
    /// Requests/s per route family, summed over fresh reports.
    pub family_rates: proto::FamilyRates,
    /// Dropped + rejected + failed log events, over fresh reports.
    pub log_events_lost: u64,
    pub in_flight: u64,
    /// One per instance of the snapshot, in its order (so the two zip).
    pub instances: Vec<InstanceMetrics>,
    /// In-service instances whose report is stale or missing.
    pub stale_instances: Vec<String>,
    /// In-service instances that count for the per-instance average.
    pub counted_instances: u32,
    /// In-service instances (warming or not).
    pub in_service: u32,
}

impl FleetMetrics {
    /// True when an in-service instance has no fresh report: figures are incomplete.
    pub fn has_stale(&self) -> bool {
        !self.stale_instances.is_empty()
    }
}

/// `dst.merge(src)`, kept out of line: inlined into the loop of [`aggregate`] the
/// register-wise max was compiled to a scalar loop 6× slower (benches/tick.rs).
#[inline(never)]
fn merge_into(dst: &mut UserSketch, src: &UserSketch) {
    dst.merge(src);
}

/// Aggregates the book's reports for the instances of `snapshot` at `now_ms`.
pub fn aggregate(
    snapshot: &GroupSnapshot,
    book: &ReportBook,
    now_ms: u64,
    params: AggregateParams,
) -> FleetMetrics {
    // Counted instances' sketches in one union, the other fresh ones in another: each sketch
    // is merged once, and the fleet-wide union is the two together.
    let mut counted: Option<UserSketch> = None;
    let mut others: Option<UserSketch> = None;
    let mut out = FleetMetrics {
        at_ms: now_ms,
        ..FleetMetrics::default()
    };
    for inst in &snapshot.instances {
        let in_service = inst.lifecycle == proto::Lifecycle::InService;
        let warming = in_service
            && crate::policy::is_warming(inst.in_service_at_ms, now_ms, params.warmup_ms);
        out.in_service += u32::from(in_service);
        // A terminated instance's last report no longer counts.
        let entry = book
            .get(&inst.id)
            .filter(|_| inst.lifecycle != proto::Lifecycle::Terminated);
        let state = match entry {
            None => ReportState::Missing,
            Some(e) if now_ms.saturating_sub(e.received_at_ms) > params.stale_after_ms => {
                ReportState::Stale
            }
            Some(_) => ReportState::Fresh,
        };
        let mut m = InstanceMetrics {
            id: inst.id.clone(),
            warming,
            report: state,
            concurrent_users: 0,
            requests_per_second: 0.0,
            log_events_per_second: 0.0,
            in_flight: 0,
            draining: inst.lifecycle.is_draining(),
        };
        match (state, entry) {
            (ReportState::Fresh, Some(e)) => {
                let r = &e.report;
                m.concurrent_users = e.sketch_users;
                m.requests_per_second = e.requests_per_second.unwrap_or(0.0);
                m.log_events_per_second = e.log_events_per_second.unwrap_or(0.0);
                m.in_flight = r.in_flight;
                m.draining |= r.draining;
                out.requests_per_second += m.requests_per_second;
                out.log_events_per_second += m.log_events_per_second;
                if let Some(f) = e.family_rates {
                    let t = &mut out.family_rates;
                    t.hello += f.hello;
                    t.repeat += f.repeat;
                    t.factorial += f.factorial;
                    t.books += f.books;
                }
                out.in_flight += r.in_flight;
                out.log_events_lost += r.log.dropped + r.log.rejected + r.log.failed;
                let union =
                    if in_service && !warming && !m.draining && inst.health == Health::Healthy {
                        out.counted_instances += 1;
                        &mut counted
                    } else {
                        &mut others
                    };
                match union.as_mut() {
                    Some(s) => merge_into(s, &r.users_sketch),
                    None => *union = Some(r.users_sketch.clone()),
                }
            }
            _ if in_service => out.stale_instances.push(inst.id.clone()),
            _ => {}
        }
        out.instances.push(m);
    }
    let counted_users = counted.as_ref().map(UserSketch::count);
    out.concurrent_users_per_instance =
        counted_users.map(|n| n as f64 / f64::from(out.counted_instances.max(1)));
    out.concurrent_users = match (counted, others) {
        (Some(mut all), Some(rest)) => {
            merge_into(&mut all, &rest);
            all.count()
        }
        (Some(_), None) => counted_users.unwrap_or(0),
        (None, Some(rest)) => rest.count(),
        (None, None) => 0,
    };
    out
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
