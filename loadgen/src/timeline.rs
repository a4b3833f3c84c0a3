//! The run's timeline: one [`Row`] per step, the line printed for it, the CSV, the charts
//! and the whole-run [`Summary`]. Pure: the caller writes the files.

use std::fmt::Write;
use std::time::Duration;

use chart::{Chart, Series};

use crate::histogram::Histogram;
use crate::recorder::StepStats;
use crate::slo::Summary;

/// What the controller said at the end of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub desired: u32,
    pub in_service: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Seconds from the first user's start to the end of the step.
    pub time_s: f64,
    /// Length of the step (the last one may be short).
    pub window: Duration,
    /// Ground truth: users goose was running near the end of the step.
    pub users: u64,
    /// Users the plan asks for in the step.
    pub planned_users: u64,
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub instances_seen: usize,
    pub capacity: Option<Capacity>,
    /// The run ended inside this step: its window is shorter than a step.
    pub partial: bool,
}

fn ms(h: &Histogram, p: f64) -> Option<f64> {
    h.percentile(p).map(|us| us as f64 / 1000.0)
}

impl Row {
    pub fn new(
        end: Duration,
        window: Duration,
        users: u64,
        planned_users: u64,
        stats: &StepStats,
        capacity: Option<Capacity>,
    ) -> Row {
        Row {
            time_s: end.as_secs_f64(),
            window,
            users,
            planned_users,
            requests: stats.requests,
            errors: stats.errors,
            p50_ms: ms(&stats.latency, 50.0),
            p95_ms: ms(&stats.latency, 95.0),
            p99_ms: ms(&stats.latency, 99.0),
            instances_seen: stats.instances.len(),
            capacity,
            partial: false,
        }
    }

    pub fn rps(&self) -> f64 {
        let s = self.window.as_secs_f64();
        if s > 0.0 {
            self.requests as f64 / s
        } else {
            0.0
        }
    }

    pub fn error_pct(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            100.0 * self.errors as f64 / self.requests as f64
        }
    }

    /// The line printed on stdout for this step.
    pub fn line(&self) -> String {
        let lat = |v: Option<f64>| chart::format::fixed(v, 1, "ms");
        let mut s = format!(
            "t={:>6.1}s users={:<6} rps={:<9.1} p50={:<9} p95={:<9} p99={:<9} errors={} ({:.2}%) instances={}",
            self.time_s,
            self.users,
            self.rps(),
            lat(self.p50_ms),
            lat(self.p95_ms),
            lat(self.p99_ms),
            self.errors,
            self.error_pct(),
            self.instances_seen,
        );
        if let Some(c) = self.capacity {
            let _ = write!(s, " desired={} in_service={}", c.desired, c.in_service);
        }
        if self.partial {
            let _ = write!(
                s,
                " (partial step: the last {:.1}s)",
                self.window.as_secs_f64()
            );
        }
        s
    }
}

pub const CSV_HEADER: &str = "time_s,users,planned_users,requests,requests_per_s,p50_ms,p95_ms,p99_ms,errors,error_pct,instances_seen,desired_capacity,in_service";

/// The CSV timeline; unknown values are empty cells.
pub fn to_csv(rows: &[Row]) -> String {
    let opt = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.3}"));
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for r in rows {
        let _ = writeln!(
            out,
            "{:.3},{},{},{},{:.3},{},{},{},{},{:.4},{},{},{}",
            r.time_s,
            r.users,
            r.planned_users,
            r.requests,
            r.rps(),
            opt(r.p50_ms),
            opt(r.p95_ms),
            opt(r.p99_ms),
            r.errors,
            r.error_pct(),
            r.instances_seen,
            r.capacity
                .map_or_else(String::new, |c| c.desired.to_string()),
            r.capacity
                .map_or_else(String::new, |c| c.in_service.to_string()),
        );
    }
    out
}

/// Two panels: users with instances (seen, desired, in service) on the right axis, and
/// latency percentiles with requests/s on the right axis. x is seconds from the start.
pub fn charts(title: &str, rows: &[Row]) -> Vec<Chart> {
    // Lines: one point at each step's end. Staircases: each value from its step's start,
    // held to the end of the last step.
    let pts = |f: &dyn Fn(&Row) -> Option<f64>| -> Vec<(f64, f64)> {
        rows.iter()
            .map(|r| (r.time_s, f(r).unwrap_or(f64::NAN)))
            .collect()
    };
    let steps = |f: &dyn Fn(&Row) -> Option<f64>| -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = rows
            .iter()
            .map(|r| (r.time_s - r.window.as_secs_f64(), f(r).unwrap_or(f64::NAN)))
            .collect();
        if let Some(last) = rows.last() {
            v.push((last.time_s, f(last).unwrap_or(f64::NAN)));
        }
        v
    };
    let mut users = Chart::new(format!("{title}: users and instances"))
        .y_label("users")
        .y2_label("instances")
        .series(Series::new("users (ground truth)", steps(&|r| Some(r.users as f64))).stepped())
        .series(
            Series::new(
                "instances serving (seen)",
                steps(&|r| Some(r.instances_seen as f64)),
            )
            .on_right()
            .stepped(),
        );
    if rows.iter().any(|r| r.capacity.is_some()) {
        users = users
            .series(
                Series::new(
                    "desired capacity",
                    steps(&|r| r.capacity.map(|c| f64::from(c.desired))),
                )
                .on_right()
                .stepped(),
            )
            .series(
                Series::new(
                    "in service",
                    steps(&|r| r.capacity.map(|c| f64::from(c.in_service))),
                )
                .on_right()
                .stepped(),
            );
    }
    let latency = Chart::new(format!("{title}: latency and throughput"))
        .y_label("latency (ms)")
        .y2_label("requests/s")
        .series(Series::new("p99", pts(&|r| r.p99_ms)))
        .series(Series::new("p95", pts(&|r| r.p95_ms)))
        .series(Series::new("p50", pts(&|r| r.p50_ms)))
        .series(Series::new("requests/s", pts(&|r| Some(r.rps()))).on_right());
    vec![users, latency]
}

/// The whole run, for the SLO and the closing line.
pub fn summary(total: &StepStats, elapsed: Duration, percentiles: &[f64]) -> Summary {
    let mut ps: Vec<f64> = vec![50.0, 95.0, 99.0];
    ps.extend_from_slice(percentiles);
    Summary {
        requests: total.requests,
        errors: total.errors,
        elapsed,
        percentiles: ps
            .into_iter()
            .filter_map(|p| ms(&total.latency, p).map(|v| (p, v)))
            .collect(),
        mean_ms: total.latency.mean().map(|us| us / 1000.0),
        max_ms: total.latency.max().map(|us| us as f64 / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(latencies_us: &[u64], errors: u64, instances: &[&str]) -> StepStats {
        let mut s = StepStats::default();
        for &l in latencies_us {
            s.latency.record(l);
            s.requests += 1;
        }
        s.errors = errors;
        s.instances = instances.iter().map(|i| i.to_string()).collect();
        s
    }

    #[test]
    fn row_line_and_csv() {
        let st = stats(&[1_000, 2_000, 3_000, 40_000], 1, &["i-a", "i-b"]);
        let r = Row::new(
            Duration::from_secs(4),
            Duration::from_secs(2),
            5,
            5,
            &st,
            None,
        );
        assert_eq!(r.rps(), 2.0);
        assert_eq!(r.error_pct(), 25.0);
        let line = r.line();
        assert!(line.contains("users=5"), "{line}");
        assert!(line.contains("rps=2.0"), "{line}");
        assert!(line.contains("errors=1 (25.00%)"), "{line}");
        assert!(line.contains("instances=2"), "{line}");
        assert!(line.contains("p99=40.0ms"), "{line}");
        assert!(!line.contains("desired"), "{line}");

        let cap = Some(Capacity {
            desired: 3,
            in_service: 2,
        });
        let empty = Row::new(
            Duration::from_secs(6),
            Duration::from_secs(2),
            8,
            8,
            &StepStats::default(),
            cap,
        );
        assert!(empty.line().contains("p99=-") && empty.line().contains("desired=3"));
        assert!(!empty.line().contains("partial"));
        let mut last = empty.clone();
        last.window = Duration::from_millis(700);
        last.partial = true;
        assert!(
            last.line().ends_with(" (partial step: the last 0.7s)"),
            "{}",
            last.line()
        );
        let csv = to_csv(&[r, empty]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(
            lines[1],
            "4.000,5,5,4,2.000,2.015,40.000,40.000,1,25.0000,2,,"
        );
        assert_eq!(lines[2], "6.000,8,8,0,0.000,,,,0,0.0000,0,3,2");
    }

    #[test]
    fn charts_add_capacity_only_when_known() {
        let st = stats(&[1_000], 0, &["i-a"]);
        let rows = vec![Row::new(
            Duration::from_secs(2),
            Duration::from_secs(2),
            2,
            2,
            &st,
            None,
        )];
        let c = charts("ramp", &rows);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].series.len(), 2);
        assert_eq!(
            c[0].series[0].points,
            vec![(0.0, 2.0), (2.0, 2.0)],
            "users held over the step"
        );
        assert_eq!(
            c[1].series[0].points,
            vec![(2.0, 1.0)],
            "p99 at the step's end"
        );
        let mut with = rows.clone();
        with[0].capacity = Some(Capacity {
            desired: 1,
            in_service: 1,
        });
        assert_eq!(charts("ramp", &with)[0].series.len(), 4);
    }

    #[test]
    fn summary_covers_the_run() {
        let st = stats(&[1_000, 2_000, 3_000, 4_000], 2, &[]);
        let s = summary(&st, Duration::from_secs(2), &[99.9]);
        assert_eq!(s.requests, 4);
        assert_eq!(s.error_rate_pct(), Some(50.0));
        assert_eq!(s.rps(), 2.0);
        assert!(s.percentile(99.9).is_some());
        assert_eq!(s.max_ms, Some(4.0));
    }
}
