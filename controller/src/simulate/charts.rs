//! The runs as charts (data for the `chart` crate; rendering happens there). Pure.
//!
//! Two charts stacked: users, demand (`d` = users / the scores' target, in instances) and
//! supply (instances serving; with one run its desired capacity too); users per instance
//! against the thresholds. With `--compare` every run shares each chart.

use chart::{Chart, Series, Threshold};

use super::engine::{Row, Run};

/// Points per series at most; longer runs keep each bucket's highest value.
pub const MAX_POINTS: usize = 2_000;

const COLORS: [[&str; 3]; 5] = [
    ["#1f77b4", "#2ca02c", "#9467bd"],
    ["#d62728", "#ff7f0e", "#8c564b"],
    ["#17becf", "#bcbd22", "#e377c2"],
    ["#8c564b", "#393b79", "#637939"],
    ["#e7ba52", "#843c39", "#7b4173"],
];

/// Downsamples `rows` to at most [`MAX_POINTS`] points of `value` (bucket maximum).
fn points(rows: &[Row], value: impl Fn(&Row) -> Option<f64>) -> Vec<(f64, f64)> {
    let bucket = rows.len().div_ceil(MAX_POINTS).max(1);
    rows.chunks(bucket)
        .map(|chunk| {
            let t = chunk[0].t_ms as f64 / 1000.0;
            let v = chunk.iter().filter_map(&value).reduce(f64::max);
            (t, v.unwrap_or(f64::NAN))
        })
        .collect()
}

/// The two charts of `runs` (any number; colours repeat after five).
pub fn charts(runs: &[&Run]) -> Vec<Chart> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    let title = if runs.len() == 1 {
        format!("simulate: {} on trace {}", first.label, first.summary.trace)
    } else {
        let labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
        format!(
            "simulate: {} on trace {}",
            labels.join(" vs "),
            first.summary.trace
        )
    };
    let mut capacity = Chart::new(title)
        .y_label("users")
        .y2_label("instances")
        .size(1200, 420)
        .series(
            Series::new("users", points(&first.rows, |r| Some(r.users as f64)))
                .stepped()
                .color("#7f7f7f"),
        )
        .series({
            let target = first
                .summary
                .target_users_per_instance
                .max(f64::MIN_POSITIVE);
            Series::new(
                format!("demand (users / {target})"),
                points(&first.rows, |r| Some(r.users as f64 / target)),
            )
            .on_right()
            .color("#000000")
        });
    let mut per = Chart::new("users per instance")
        .y_label("users per in-service instance")
        .size(1200, 360);
    let suffix = |r: &Run| {
        if runs.len() == 1 {
            String::new()
        } else {
            format!(" ({})", r.label)
        }
    };
    for (k, run) in runs.iter().enumerate() {
        let c = COLORS[k % COLORS.len()];
        let s = suffix(run);
        if runs.len() == 1 {
            capacity = capacity.series(
                Series::new(
                    format!("desired{s}"),
                    points(&run.rows, |r| Some(f64::from(r.desired))),
                )
                .stepped()
                .on_right()
                .color(c[0]),
            );
        }
        capacity = capacity.series(
            Series::new(
                format!("supply: in service{s}"),
                points(&run.rows, |r| Some(f64::from(r.in_service))),
            )
            .stepped()
            .on_right()
            .color(c[1]),
        );
        per = per.series(
            Series::new(
                format!("users per instance{s}"),
                points(&run.rows, |r| r.users_per_instance),
            )
            .color(c[2]),
        );
        let p = &run.summary;
        if p.metric != "ConcurrentUsersPerInstance" {
            continue;
        }
        for (kind, value, color) in [
            ("scale out", p.scale_out_threshold, c[0]),
            ("scale in", p.scale_in_threshold, c[1]),
        ] {
            // Two runs with the same threshold share one line.
            if per.thresholds.iter().any(|t| t.value == value) {
                continue;
            }
            let label = format!("{kind}{s} {value}");
            per = per.threshold(Threshold::new(label, value).color(color));
        }
    }
    vec![capacity, per]
}
