//! A run's summary as a text table, one column per run, so `--compare` reads side by side.
//! Numbers through `chart::format`, the workspace's one formatter.

use std::fmt::Write;

use chart::format;
use fleetcore::simulate::{Scores, Summary};

fn opt(v: Option<f64>) -> String {
    format::fixed(v, 1, "")
}

fn duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

type Cell = Box<dyn Fn(&Summary) -> String>;

fn score_row(label: &str, f: fn(&Scores) -> String) -> (String, Cell) {
    (label.into(), Box::new(move |s: &Summary| f(&s.scores)))
}

fn pct(v: f64) -> String {
    format::fixed(Some(v), 2, " %")
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), duration)
}

/// The summaries as a text table, one column per run.
pub fn to_text(summaries: &[&Summary]) -> String {
    let Some(first) = summaries.first() else {
        return String::new();
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trace {}: {}, peak {} users; tick {}ms, boot {}, warmup {}",
        first.trace,
        duration(first.duration_s),
        first.peak_users,
        first.tick_ms,
        duration(first.boot_s),
        duration(first.warmup_s),
    );
    let _ = writeln!(
        out,
        "scores: demand d = ⌈users / {}⌉ instances, supply s = instances serving (Herbst et al. 2016; Ilyushkin et al. 2018)",
        first.target_users_per_instance
    );
    let rows: Vec<(String, Cell)> = vec![
        ("config".into(), Box::new(|s: &Summary| s.config.clone())),
        ("decided by".into(), Box::new(|s: &Summary| s.model.clone())),
        (
            "scale out / in at".into(),
            Box::new(|s: &Summary| match s.model.as_str() {
                "hpa" | "aws-target-tracking" => format!(
                    "target {} ConcurrentUsersPerInstance",
                    s.target_users_per_instance
                ),
                _ => format!(
                    "{} / {} {}",
                    s.scale_out_threshold, s.scale_in_threshold, s.metric
                ),
            }),
        ),
        (
            "users per instance, peak".into(),
            Box::new(|s: &Summary| opt(s.peak_users_per_instance)),
        ),
        (
            "users per instance, p95".into(),
            Box::new(|s: &Summary| opt(s.p95_users_per_instance)),
        ),
        (
            "time above the scale-out threshold".into(),
            Box::new(|s: &Summary| duration(s.seconds_above_scale_out_threshold)),
        ),
        (
            "time with users and no instance".into(),
            Box::new(|s: &Summary| duration(s.seconds_without_capacity)),
        ),
        (
            "instance-minutes".into(),
            Box::new(|s: &Summary| format::fixed(Some(s.instance_minutes), 1, "")),
        ),
        (
            "peak instances".into(),
            Box::new(|s: &Summary| s.peak_instances.to_string()),
        ),
        (
            "scaling actions (out / in)".into(),
            Box::new(|s: &Summary| {
                format!("{} ({} / {})", s.scaling_actions, s.scale_outs, s.scale_ins)
            }),
        ),
        (
            format!(
                "oscillations (within {})",
                duration(first.oscillation_window_s)
            ),
            Box::new(|s: &Summary| s.oscillations.to_string()),
        ),
        score_row("θU under-provisioning accuracy", |s| pct(s.theta_u)),
        score_row("θO over-provisioning accuracy", |s| pct(s.theta_o)),
        score_row("τU time under-provisioned", |s| pct(s.tau_u)),
        score_row("τO time over-provisioned", |s| pct(s.tau_o)),
        score_row("instability", |s| pct(s.instability)),
        score_row("capacity changes", |s| s.capacity_changes.to_string()),
        score_row("instance-hours", |s| {
            format::fixed(Some(s.instance_hours), 2, "")
        }),
        (
            format!(
                "SLO-minutes lost (> {} users/instance)",
                first.slo_users_per_instance
            ),
            Box::new(|s: &Summary| s.scores.slo_minutes_lost.to_string()),
        ),
        score_row("first breach (users ≥ target × s) at", |s| {
            secs(s.first_breach_s)
        }),
        score_row("reaction: breach → desired raised", |s| {
            secs(s.reaction_decided_s)
        }),
        score_row("reaction: breach → capacity added", |s| {
            secs(s.reaction_serving_s)
        }),
    ];
    let label_w = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(_, f)| summaries.iter().map(|s| f(s)).collect())
        .collect();
    let col_w: Vec<usize> = (0..summaries.len())
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for ((label, _), row) in rows.iter().zip(&cells) {
        let _ = write!(out, "{label:<label_w$}");
        for (cell, w) in row.iter().zip(&col_w) {
            let _ = write!(out, "  {cell:>w$}");
        }
        out.push('\n');
    }
    out
}
