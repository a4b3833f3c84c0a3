use super::*;
use crate::Source;
use crate::fake::FakeSource;

fn check<T: std::fmt::Debug + PartialEq, U: std::fmt::Debug>(
    f: impl Fn(U) -> T,
    cases: Vec<(U, T)>,
) {
    for (input, want) in cases {
        let shown = format!("{input:?}");
        assert_eq!(f(input), want, "input {shown}");
    }
}

#[test]
fn ages_and_clock_times() {
    check(
        fmt_age,
        vec![
            (0, "0s"),
            (45_900, "45s"),
            (60_000, "1m"),
            (192_000, "3m 12s"),
            (7_500_000, "2h 05m"),
            (273_600_000, "3d 4h"),
        ]
        .into_iter()
        .map(|(n, s)| (n, s.to_string()))
        .collect(),
    );
    let day = 86_400_000;
    assert_eq!(
        fmt_clock(20_000 * day + 5 * 3_600_000 + 52 * 60_000 + 23_500),
        "05:52:23"
    );
}

fn record(at_ms: u64, action: &str, reason: &str) -> DecisionRecord {
    DecisionRecord {
        at_ms,
        tick: at_ms / 1000,
        action: serde_json::from_value(action.into()).expect("an action"),
        policy: None,
        metric: "ConcurrentUsersPerInstance".into(),
        metric_value: Some(25.0),
        threshold: Some(20.0),
        step: None,
        capacity_before: 2,
        capacity_after: if action == "scale_out" { 3 } else { 2 },
        reason: proto::Reason::parse(reason).expect("a reason"),
        explanation: format!("{action} because {reason}"),
        applied: None,
        source: proto::DecisionSource::Controller,
    }
}

#[test]
fn timeline_is_newest_first_and_folds_runs_of_nothing() {
    let ds = vec![
        record(1_000, "none", "within_band"),
        record(2_000, "scale_out", "scaled"),
        record(3_000, "none", "warming_up"),
        record(4_000, "none", "within_band"),
        record(5_000, "none", "within_band"),
        record(6_000, "none", "within_band"),
    ];
    let rows = timeline(&ds);
    let summary: Vec<_> = rows
        .iter()
        .map(|r| (r.action, r.reason.as_str(), r.count))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("none", "within band", 3),
            ("none", "warming up", 1),
            ("scale out", "scaled", 1),
            ("none", "within band", 1),
        ]
    );
    assert_eq!(rows[0].time, "00:00:04–00:00:06");
    assert_eq!(rows[2].capacity, "2 → 3");
    assert_eq!(rows[2].class, "out");
    assert_eq!(rows[2].metric, "25 vs 20");
    assert_eq!(rows[1].capacity, "2");
}

#[test]
fn timeline_is_bounded_and_marks_failed_changes() {
    let mut ds: Vec<_> = (0..100)
        .map(|i| record(i * 1000, "scale_out", "scaled"))
        .collect();
    ds[99].applied = Some(false);
    let rows = timeline(&ds);
    assert_eq!(rows.len(), MAX_DECISION_ROWS);
    assert_eq!(rows[0].class, "out failed");
    assert_eq!(rows[0].time, fmt_clock(99_000));
}

#[test]
fn instances_sort_oldest_first_with_classes_and_ages() {
    let src = FakeSource::new(1_000_000, 1);
    src.tick(2_000_000, 90, 3, 2);
    let s = src.status();
    let rows = instances(&s.instances, s.updated_at_ms);
    assert_eq!(rows.len(), 3);
    // launched 600 s, 300 s and 200 s before now: oldest first
    assert_eq!(
        rows.iter().map(|r| r.age.as_str()).collect::<Vec<_>>(),
        vec!["10m", "5m", "3m 20s"]
    );
    assert_eq!(rows[0].lifecycle_class, "in-service");
    assert_eq!(rows[2].lifecycle, "Pending");
    assert_eq!(rows[2].lifecycle_class, "pending");
    assert_eq!(rows[0].users, "45");
    assert_eq!(rows[0].health_class, "ok");
    let mut unknown = s.instances[0].clone();
    unknown.launched_at_ms = 0;
    assert_eq!(instances(&[unknown], s.updated_at_ms)[0].age, "–");
}

#[test]
fn summary_shows_group_sizes_and_fleet_totals() {
    let src = FakeSource::new(0, 2);
    src.tick(10_000, 30, 2, 2);
    let s = summary(&src.status());
    assert_eq!(
        (s.min, s.desired, s.max, s.in_service, s.pending, s.draining),
        (1, 2, 10, 2, 0, 0)
    );
    assert_eq!(s.users, "30");
    assert_eq!(s.users_per_instance, "15");
    assert_eq!(s.updated, "00:00:10 UTC");
    assert_eq!(s.lost_class, "");
}

#[test]
fn charts_cover_the_window_and_draw_thresholds() {
    let src = FakeSource::new(0, 1);
    for t in 1..=120u64 {
        let n = if t < 100 { 1 } else { 3 };
        src.tick(t * 5_000, t, n, n);
    }
    let s = src.status();
    let window = Window::FiveMinutes;
    let ms = src.metrics(s.updated_at_ms - window.millis());
    let cs = charts(&s, &ms, window);
    assert_eq!(cs.len(), 3);
    let users = &cs[0];
    assert_eq!(users.chart.hlines.len(), 2);
    assert_eq!(users.legend[1].last, "20");
    assert!(users.chart.series[0].path.starts_with('M'));
    let count = &cs[1];
    assert_eq!(count.legend[1].last, "3");
    assert!(
        count.chart.series[1].path.contains('V'),
        "the scale-out shows as a step"
    );
    assert_eq!(count.chart.x_ticks[0].label, "-5m");
}

#[test]
fn timeline_shows_the_source_and_never_folds_aws_rows_into_controller_ones() {
    let mut aws = record(3_000, "none", "within_band");
    aws.source = proto::DecisionSource::Aws;
    let ds = vec![
        record(1_000, "none", "within_band"),
        record(2_000, "none", "within_band"),
        aws,
    ];
    let rows = timeline(&ds);
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].source.as_str(), rows[0].count), ("aws", 1));
    assert_eq!((rows[1].source.as_str(), rows[1].count), ("controller", 2));
}

#[test]
fn an_instance_says_why_it_is_not_serving_in_its_state_cell() {
    let src = FakeSource::new(1_000_000, 2);
    let mut s = src.status();
    let why = "/readyz 503: books database unavailable: <b>/tmp/run/books.sqlite</b> not found (moved or deleted?)";
    s.instances[1].reason = Some(why.into());
    let rows = instances(&s.instances, s.updated_at_ms);
    let row = rows.iter().find(|r| r.id == s.instances[1].id).unwrap();
    assert_eq!(row.reason, why);
    assert_eq!(row.reason_short.chars().count(), REASON_SHORT + 1);
    assert!(row.reason_short.starts_with("/readyz 503: books database"));
    assert!(row.reason_short.ends_with('…'));
    let fine = rows.iter().find(|r| r.id == s.instances[0].id).unwrap();
    assert_eq!((fine.reason.as_str(), fine.reason_short.as_str()), ("", ""));
    // Rendered: whole in the title, short in the cell, escaped (it is the instance's text).
    let live = crate::view::live(&s, &[], &[], crate::window::Window::default());
    let html = crate::render::live_html(&live).unwrap();
    assert!(
        html.contains(r#"title="/readyz 503: books database unavailable: &#60;b&#62;/tmp/run/books.sqlite&#60;/b&#62; not found (moved or deleted?)""#)
            || html.contains("&lt;b&gt;/tmp/run/books.sqlite&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<b>/tmp"), "{html}");
    assert_eq!(html.matches(r#"class="why""#).count(), 1, "{html}");
    assert!(
        html.contains(">/readyz 503: books database unavailable: &"),
        "{html}"
    );
}

#[test]
fn the_summary_says_who_runs_the_policies() {
    check(
        policies_by,
        vec![
            ("controller", "run by the controller"),
            (
                "native",
                "run by AWS (native step policies the controller keeps in sync)",
            ),
            (
                "stack",
                "run by AWS (step policies from a CloudFormation stack)",
            ),
            (
                "something-newer",
                "run in a mode this dashboard does not know",
            ),
        ],
    );
}
