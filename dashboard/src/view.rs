//! Pure view models: `proto` status, decisions and metrics → what the
//! templates show (formatted numbers, ages, CSS classes, chart geometry).
//!
//! No I/O and no clock: "now" is the status's `updated_at_ms`, so the same
//! inputs always render the same HTML (which lets the router cache a tick's
//! fragment for every open dashboard).

use proto::{
    Action, DecisionRecord, Health, InstanceStatus, Lifecycle, MetricPoint, Reason, Status,
};

use crate::chart::{self, Chart, HLineInput, SeriesInput, Shape};
use crate::window::Window;
/// Numbers as the reports write them (one formatter for the workspace).
pub use ::chart::format::{int as fmt_int, num as fmt_num};

/// At most this many rows in the decision timeline.
pub const MAX_DECISION_ROWS: usize = 25;

/// Everything inside the live section (re-rendered after every tick).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveView {
    /// Why the controller's calls fail, while the last tick had a failed call (the
    /// banner on top of the live section).
    pub banner: Option<String>,
    /// Configuration warnings (e.g. a max above the group's own MaxSize).
    pub warnings: Vec<String>,
    /// With a controller lease: whether this controller leads (see [`lease_line`]).
    pub lease: Option<LeaseLine>,
    pub summary: Summary,
    pub instances: Vec<InstanceRow>,
    pub charts: Vec<ChartView>,
    pub decisions: Vec<DecisionRow>,
    pub window: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub provider: String,
    pub group: String,
    pub tick: u64,
    /// `HH:MM:SS UTC` of the status.
    pub updated: String,
    pub endpoint: Option<String>,
    pub min: u32,
    pub desired: u32,
    pub max: u32,
    pub in_service: u32,
    pub pending: u32,
    pub draining: u32,
    pub users: String,
    pub users_per_instance: String,
    pub requests_per_second: String,
    pub log_events_per_second: String,
    /// Requests/s per route family: (family, rate), in a fixed order.
    pub families: Vec<(&'static str, String)>,
    pub log_events_lost: String,
    /// `bad` when log events were lost, else empty.
    pub lost_class: &'static str,
    pub metric: String,
    pub scale_out_threshold: String,
    pub scale_in_threshold: String,
    /// Who runs the step policies, in words.
    pub policies_by: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRow {
    pub id: String,
    pub zone: String,
    pub lifecycle: &'static str,
    /// `pending`, `in-service`, `draining` or `gone`.
    pub lifecycle_class: &'static str,
    pub warming: bool,
    pub health: &'static str,
    /// `ok` or `bad`.
    pub health_class: &'static str,
    pub users: String,
    pub requests_per_second: String,
    pub log_events_per_second: String,
    pub in_flight: String,
    pub age: String,
    pub address: String,
    /// Why it is not serving (the provider's words), or empty; shown whole as
    /// the state cell's `title` and cut to [`REASON_SHORT`] characters in it.
    pub reason: String,
    pub reason_short: String,
}

/// Characters of an instance's reason shown in the table (the rest in its `title`).
pub const REASON_SHORT: usize = 48;

/// `s` cut to `max` characters, with `…` when cut. Pure.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChartView {
    pub title: String,
    pub legend: Vec<LegendItem>,
    pub chart: Chart,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LegendItem {
    pub name: String,
    pub class: &'static str,
    /// The latest value, formatted.
    pub last: String,
}

/// One timeline row: a decision, or a run of identical "nothing to do" ones.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRow {
    /// `HH:MM:SS`, or `HH:MM:SS–HH:MM:SS` for a run.
    pub time: String,
    /// How many consecutive decisions the row stands for.
    pub count: usize,
    /// `out`, `in`, `none`; `failed` is appended when applying failed.
    pub class: String,
    pub action: &'static str,
    pub reason: String,
    pub explanation: String,
    /// `2 → 3`, or just `2` when unchanged.
    pub capacity: String,
    /// `12.3 vs 20`, or empty without data.
    pub metric: String,
    pub step: String,
    /// Who decided: `controller`, or `aws` (native mode: AWS's alarms and policies).
    pub source: String,
}

/// Builds the live section's view from the controller's figures.
pub fn live(
    status: &Status,
    decisions: &[DecisionRecord],
    metrics: &[MetricPoint],
    window: Window,
) -> LiveView {
    LiveView {
        banner: status.health.failing(),
        warnings: status.health.warnings.clone(),
        lease: status.health.lease.as_ref().map(lease_line),
        summary: summary(status),
        instances: instances(&status.instances, status.updated_at_ms),
        charts: charts(status, metrics, window),
        decisions: timeline(decisions),
        window: window.label(),
    }
}

/// The lease, as one line on the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseLine {
    /// This controller holds the lease (it applies and publishes).
    pub leads: bool,
    pub text: String,
}

pub fn lease_line(l: &proto::LeaseStatus) -> LeaseLine {
    let text = if l.leads {
        format!(
            "this controller ({}) leads: it holds the lease ({}){}",
            l.holder,
            l.location,
            l.until_ms
                .map(|u| format!(" until {} UTC", fmt_clock(u)))
                .unwrap_or_default()
        )
    } else {
        let who = l
            .leader
            .as_deref()
            .filter(|h| !h.is_empty())
            .unwrap_or("no controller (not claimed yet)");
        format!(
            "this controller ({}) stands by: {who} holds the lease ({}); this one observes and decides but changes nothing{}",
            l.holder,
            l.location,
            l.last_error
                .as_deref()
                .map(|e| format!(". Last claim failed: {e}"))
                .unwrap_or_default()
        )
    };
    LeaseLine {
        leads: l.leads,
        text,
    }
}

pub fn summary(s: &Status) -> Summary {
    let lost = s.fleet.log_events_lost;
    Summary {
        provider: s.provider.clone(),
        group: s.group.name.clone(),
        tick: s.tick,
        updated: format!("{} UTC", fmt_clock(s.updated_at_ms)),
        endpoint: s.endpoint.clone(),
        min: s.group.min_size,
        desired: s.group.desired_capacity,
        max: s.group.max_size,
        in_service: s.group.in_service,
        pending: s.group.pending,
        draining: s.group.draining,
        users: fmt_int(s.fleet.concurrent_users),
        users_per_instance: s
            .fleet
            .concurrent_users_per_instance
            .map_or("–".into(), fmt_num),
        requests_per_second: fmt_num(s.fleet.requests_per_second),
        log_events_per_second: fmt_num(s.fleet.log_events_per_second),
        families: {
            let f = s.fleet.requests_per_second_by_family;
            vec![
                ("hello", fmt_num(f.hello)),
                ("repeat", fmt_num(f.repeat)),
                ("factorial", fmt_num(f.factorial)),
                ("books", fmt_num(f.books)),
            ]
        },
        log_events_lost: fmt_int(lost),
        lost_class: if lost > 0 { "bad" } else { "" },
        metric: s.policy.metric.clone(),
        scale_out_threshold: fmt_num(s.policy.scale_out_threshold),
        scale_in_threshold: fmt_num(s.policy.scale_in_threshold),
        policies_by: policies_by(&s.policy.mode),
    }
}

/// `[policies] mode` in words for the summary line.
fn policies_by(mode: &str) -> &'static str {
    match mode {
        "native" => "run by AWS (native step policies the controller keeps in sync)",
        "stack" => "run by AWS (step policies from a CloudFormation stack)",
        "controller" => "run by the controller",
        _ => "run in a mode this dashboard does not know",
    }
}

/// Instances oldest first; ages relative to `now_ms`.
pub fn instances(list: &[InstanceStatus], now_ms: u64) -> Vec<InstanceRow> {
    let mut sorted: Vec<&InstanceStatus> = list.iter().collect();
    sorted.sort_by(|a, b| (a.launched_at_ms, &a.id).cmp(&(b.launched_at_ms, &b.id)));
    sorted
        .into_iter()
        .map(|i| InstanceRow {
            id: i.id.clone(),
            zone: i.zone.clone(),
            lifecycle: i.lifecycle_state.as_str(),
            lifecycle_class: lifecycle_class(i.lifecycle_state),
            warming: i.warming,
            health: match i.health {
                Health::Healthy => "Healthy",
                Health::Unhealthy => "Unhealthy",
            },
            health_class: match i.health {
                Health::Healthy => "ok",
                Health::Unhealthy => "bad",
            },
            users: fmt_int(i.concurrent_users),
            requests_per_second: fmt_num(i.requests_per_second),
            log_events_per_second: fmt_num(i.log_events_per_second),
            in_flight: fmt_int(i.in_flight),
            // 0: the provider does not know when it was launched.
            age: if i.launched_at_ms == 0 {
                "–".into()
            } else {
                fmt_age(now_ms.saturating_sub(i.launched_at_ms))
            },
            address: i.address.clone().unwrap_or_default(),
            reason: i.reason.clone().unwrap_or_default(),
            reason_short: shorten(i.reason.as_deref().unwrap_or_default(), REASON_SHORT),
        })
        .collect()
}

fn lifecycle_class(l: Lifecycle) -> &'static str {
    match l {
        Lifecycle::InService => "in-service",
        _ if l.is_pending() => "pending",
        _ if l.is_draining() => "draining",
        _ => "gone",
    }
}

/// The three charts over `window`, ending at the status's time.
pub fn charts(s: &Status, metrics: &[MetricPoint], window: Window) -> Vec<ChartView> {
    let to = s.updated_at_ms;
    let from = to.saturating_sub(window.millis());
    let last = metrics.last();
    let upi: Vec<_> = metrics
        .iter()
        .map(|m| (m.at_ms, m.concurrent_users_per_instance))
        .collect();
    let users = ChartView {
        title: format!("Users per instance ({})", s.policy.metric),
        legend: vec![
            legend(
                "per instance",
                "s-users",
                last.and_then(|m| m.concurrent_users_per_instance),
            ),
            legend("scale out", "th-out", Some(s.policy.scale_out_threshold)),
            legend("scale in", "th-in", Some(s.policy.scale_in_threshold)),
        ],
        chart: chart::layout(
            from,
            to,
            &[series("per instance", "s-users", Shape::Line, upi)],
            &[
                hline("scale out", "th-out", s.policy.scale_out_threshold),
                hline("scale in", "th-in", s.policy.scale_in_threshold),
            ],
        ),
    };
    let desired: Vec<_> = metrics
        .iter()
        .map(|m| (m.at_ms, Some(f64::from(m.desired_capacity))))
        .collect();
    let in_service: Vec<_> = metrics
        .iter()
        .map(|m| (m.at_ms, Some(f64::from(m.in_service))))
        .collect();
    let count = ChartView {
        title: "Instances".into(),
        legend: vec![
            legend(
                "desired",
                "s-desired",
                last.map(|m| f64::from(m.desired_capacity)),
            ),
            legend(
                "in service",
                "s-inservice",
                last.map(|m| f64::from(m.in_service)),
            ),
            legend("max", "th-max", Some(f64::from(s.group.max_size))),
        ],
        chart: chart::layout(
            from,
            to,
            &[
                series("desired", "s-desired", Shape::Step, desired),
                series("in service", "s-inservice", Shape::Step, in_service),
            ],
            &[hline("max", "th-max", f64::from(s.group.max_size))],
        ),
    };
    let logs: Vec<_> = metrics
        .iter()
        .map(|m| (m.at_ms, Some(m.log_events_per_second)))
        .collect();
    let log_chart = ChartView {
        title: "Log events / s".into(),
        legend: vec![legend(
            "log events/s",
            "s-logs",
            last.map(|m| m.log_events_per_second),
        )],
        chart: chart::layout(
            from,
            to,
            &[series("log events/s", "s-logs", Shape::Line, logs)],
            &[],
        ),
    };
    vec![users, count, log_chart]
}

fn legend(name: &str, class: &'static str, value: Option<f64>) -> LegendItem {
    LegendItem {
        name: name.to_string(),
        class,
        last: value.map_or("–".into(), fmt_num),
    }
}

fn series(
    name: &'static str,
    class: &'static str,
    shape: Shape,
    points: Vec<(u64, Option<f64>)>,
) -> SeriesInput {
    SeriesInput {
        name,
        class,
        shape,
        points,
    }
}

fn hline(label: &str, class: &'static str, value: f64) -> HLineInput {
    HLineInput {
        label: format!("{label} {}", fmt_num(value)),
        class,
        value,
    }
}

/// The decision timeline, newest first: consecutive decisions that did nothing
/// for the same reason fold into one row, so a quiet hour does not push the
/// last scale-out off the list.
pub fn timeline(decisions: &[DecisionRecord]) -> Vec<DecisionRow> {
    // (row, earliest time, latest time, raw reason)
    let mut rows: Vec<(DecisionRow, u64, u64, Reason)> = Vec::new();
    for d in decisions.iter().rev() {
        let folds = d.action == Action::None
            && rows.last().is_some_and(|(r, _, _, reason)| {
                r.action == "none" && *reason == d.reason && r.source == d.source.as_str()
            });
        if folds {
            let (row, first, _, _) = rows.last_mut().expect("checked above");
            row.count += 1;
            *first = d.at_ms;
            continue;
        }
        if rows.len() == MAX_DECISION_ROWS {
            break;
        }
        rows.push((decision_row(d), d.at_ms, d.at_ms, d.reason));
    }
    rows.into_iter()
        .map(|(mut row, first, last, _)| {
            if row.count > 1 {
                row.time = format!("{}–{}", fmt_clock(first), fmt_clock(last));
            }
            row
        })
        .collect()
}

fn decision_row(d: &DecisionRecord) -> DecisionRow {
    let (action, class) = match d.action {
        Action::ScaleOut => ("scale out", "out"),
        Action::ScaleIn => ("scale in", "in"),
        Action::None => ("none", "none"),
    };
    let class = if d.applied == Some(false) {
        format!("{class} failed")
    } else {
        class.to_string()
    };
    let metric = match (d.metric_value, d.threshold) {
        (Some(v), Some(t)) => format!("{} vs {}", fmt_num(v), fmt_num(t)),
        (Some(v), None) => format!("at {}", fmt_num(v)),
        _ => String::new(),
    };
    DecisionRow {
        time: fmt_clock(d.at_ms),
        count: 1,
        class,
        action,
        reason: d.reason.as_str().replace('_', " "),
        explanation: d.explanation.clone(),
        capacity: if d.capacity_before == d.capacity_after {
            d.capacity_before.to_string()
        } else {
            format!("{} → {}", d.capacity_before, d.capacity_after)
        },
        metric,
        step: d.step.clone().unwrap_or_default(),
        source: d.source.as_str().to_string(),
    }
}

/// An age: `45s`, `3m 12s`, `2h 05m`, `3d 4h`.
pub fn fmt_age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 if s.is_multiple_of(60) => format!("{}m", s / 60),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86400, s % 86400 / 3600),
    }
}

/// `HH:MM:SS` (UTC) of a Unix-millisecond time.
pub fn fmt_clock(ms: u64) -> String {
    let s = ms / 1000 % 86400;
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
