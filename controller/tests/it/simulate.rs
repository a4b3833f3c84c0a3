//! `controller simulate`: traces, the simulated group, summaries, determinism, outputs.

use controller::config::{Config, Overrides};
use controller::simulate::{
    self, BuiltinParams, ModelParams, SimParams, SimulateArgs, Trace, TraceError, oscillations,
    simulate, to_text,
};
use fleetcore::policy::Action;

fn config(toml_extra: &str) -> Config {
    let text = format!("tick = \"5s\"\n[group]\nmin_size = 1\nmax_size = 20\n{toml_extra}");
    Config::from_toml(&text, "test", &Overrides::default()).expect("valid test config")
}

fn trace(points: &[(u64, u64)]) -> Trace {
    Trace {
        name: "t".into(),
        points: points.to_vec(),
    }
}

fn params(boot_ms: u64) -> SimParams {
    SimParams {
        model: ModelParams {
            boot_ms,
            drain_ms: 10_000,
            ..ModelParams::default()
        },
        ..SimParams::default()
    }
}

#[test]
fn csv_traces_parse_with_or_without_a_header() {
    let check = |text: &str, want: &[(u64, u64)]| {
        let t = Trace::parse_csv("x", text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(t.points, want, "{text:?}");
    };
    check("0,10\n5,20\n10.5,0\n", &[(0, 10), (5_000, 20), (10_500, 0)]);
    check(
        "time,users\n# comment\n\n100,3\n101,4\n",
        &[(0, 3), (1_000, 4)],
    );
    check("users,time\n7,0\n8,2\n", &[(0, 7), (2_000, 8)]);
    // loadgen's --csv timeline, as it writes it.
    check(
        "time_s,users,planned_users,requests,requests_per_s,p50_ms,p95_ms,p99_ms,errors,error_pct,instances_seen,desired_capacity,in_service\n\
         0.000,10,10,0,0.000,,,,0,0.0000,0,,\n\
         10.002,20,20,155,15.500,1.200,3.400,5.000,0,0.0000,2,2,2\n",
        &[(0, 10), (10_002, 20)],
    );
    // A repeated time keeps the last value.
    check("0,1\n0,2\n1,3\n", &[(0, 2), (1_000, 3)]);
}

#[test]
fn bad_csv_traces_name_the_line() {
    let check = |text: &str, want: TraceError| {
        assert_eq!(
            Trace::parse_csv("x", text).expect_err(text),
            want,
            "{text:?}"
        );
    };
    let line = |line, message: &str| TraceError::Line {
        line,
        message: message.into(),
    };
    check("", TraceError::Empty);
    check("time,users\n", TraceError::Empty);
    check("when,who\n1,2\n", TraceError::NoColumn("time"));
    check("time,count\n1,2\n", TraceError::NoColumn("users"));
    check(
        "0,1\nx,2\n",
        line(2, "time \"x\" is not a number of seconds >= 0"),
    );
    check("0,1\n1,-2\n", line(2, "users \"-2\" is not a count >= 0"));
    check("0,1\n2\n", line(2, "no users column (column 2)"));
    check(
        "5,1\n2,2\n",
        line(2, "time 2 goes back (rows must be in time order)"),
    );
}

#[test]
fn built_in_traces_have_their_shape() {
    let p = BuiltinParams::default();
    let ramp = Trace::builtin("ramp", p).expect("ramp");
    assert_eq!(ramp.end_ms(), 3_600_000);
    assert_eq!(ramp.points.len(), 3_601);
    assert!(
        ramp.points.windows(2).all(|w| w[0].1 <= w[1].1),
        "ramp only rises"
    );
    assert_eq!((ramp.points[0].1, ramp.peak()), (0, 1_000));
    let spike = Trace::builtin("spike", p).expect("spike");
    assert_eq!(spike.users_at(0), 100);
    assert_eq!(spike.users_at(1_000_000), 1_000);
    assert_eq!(spike.users_at(2_000_000), 100);
    let day = Trace::builtin("diurnal", p).expect("diurnal");
    assert_eq!(day.end_ms(), 86_400_000);
    let (night, noon) = (day.users_at(0), day.users_at(43_200_000));
    assert!(night < 120 && noon > 950, "night {night}, noon {noon}");
    let saw = Trace::builtin("sawtooth", p).expect("sawtooth");
    assert_eq!(saw.users_at(0), 0);
    assert!(saw.users_at(1_199_000) > 990);
    assert_eq!(saw.users_at(1_200_000), 0);
    assert_eq!(
        Trace::builtin("sine", p),
        Err(TraceError::UnknownBuiltin("sine".into()))
    );
    let short = BuiltinParams {
        duration_ms: Some(60_000),
        peak: 50,
        resolution_ms: 10_000,
    };
    assert_eq!(Trace::builtin("ramp", short).expect("ramp").points.len(), 7);
}

#[test]
fn oscillations_are_out_in_out_within_the_window() {
    use Action::{ScaleIn as I, ScaleOut as O};
    let check = |actions: &[(u64, Action)], window: u64, want: u32| {
        assert_eq!(
            oscillations(actions, window),
            want,
            "{actions:?} within {window}"
        );
    };
    check(&[], 100, 0);
    check(&[(0, O), (10, O), (20, I), (30, I)], 100, 0);
    check(&[(0, O), (10, I), (20, O)], 100, 1);
    check(&[(0, O), (10, I), (200, O)], 100, 0);
    // Runs of one direction are one move; the closing scale-out opens the next.
    check(
        &[(0, O), (5, O), (10, I), (15, I), (20, O), (30, I), (40, O)],
        100,
        2,
    );
    check(&[(0, I), (10, O), (20, I)], 100, 0);
    check(&[(0, O), (1, Action::None), (10, I), (20, O)], 100, 1);
}

#[test]
fn a_steady_fleet_costs_its_instance_minutes_and_does_nothing() {
    // 60 users on 2 instances: 30 each, between 20 and 50 for 10 minutes.
    let c = config("desired_capacity = 2");
    let run = simulate(
        "steady",
        &c,
        &trace(&[(0, 60), (600_000, 60)]),
        &params(30_000),
    );
    let s = &run.summary;
    assert_eq!(s.scaling_actions, 0, "{:#?}", run.actions);
    assert_eq!(s.instance_minutes, 20.0);
    assert_eq!(s.peak_users_per_instance, Some(30.0));
    assert_eq!(s.seconds_above_scale_out_threshold, 0.0);
    assert_eq!(run.rows.len(), 121);
}

#[test]
fn a_surge_scales_out_after_boot_and_back_in_after_it() {
    // 40 users, then 400 for 10 minutes, then 40 again.
    let t = trace(&[(0, 40), (300_000, 400), (900_000, 40), (1_800_000, 40)]);
    let run = simulate("surge", &config(""), &t, &params(30_000));
    let s = &run.summary;
    let first = &run.actions[0];
    assert_eq!(
        (first.at_ms - simulate::EPOCH_MS, first.action.as_str()),
        (300_000, "scale_out")
    );
    // One step covers 400 per instance (+700 %); scale-in waits five minutes below 20, then
    // removes one at a time.
    assert!(s.scale_outs >= 1 && s.scale_ins >= 2, "{s:#?}");
    assert_eq!(s.oscillations, 0, "{s:#?}");
    // 400 users at 50 per instance: 8 to 10 instances; on the way back down at the end.
    assert!((8..=10).contains(&s.peak_instances), "{s:#?}");
    let last = run.rows.last().expect("rows");
    assert!(last.desired <= s.peak_instances - 2, "{last:?}");
    // Boot is 30 s: the first new instance serves 30 s after the first scale-out.
    let serving = |t_ms: u64| {
        run.rows
            .iter()
            .find(|r| r.t_ms == t_ms)
            .expect("row")
            .in_service
    };
    assert_eq!((serving(325_000), serving(330_000)), (1, 8));
    assert!(s.seconds_above_scale_out_threshold >= 30.0, "{s:#?}");
    // Every action is explained.
    assert!(
        run.actions
            .iter()
            .all(|a| !a.explanation.is_empty() && a.applied == Some(true))
    );
}

#[test]
fn the_same_trace_gives_the_same_output() {
    let p = BuiltinParams {
        duration_ms: Some(4 * 3_600_000),
        peak: 700,
        resolution_ms: 1_000,
    };
    let t = Trace::builtin("diurnal", p).expect("trace");
    let c = config("");
    let a = simulate("a", &c, &t, &params(20_000));
    let b = simulate("a", &c, &t, &params(20_000));
    assert_eq!(a.rows, b.rows);
    assert_eq!(a.actions, b.actions);
    assert_eq!(a.summary, b.summary);
    assert_eq!(to_text(&[&a.summary]), to_text(&[&b.summary]));
    assert_eq!(
        simulate::timeline_csv(&a.rows),
        simulate::timeline_csv(&b.rows)
    );
    assert!(
        a.summary.scaling_actions > 0,
        "the trace exercises the policies"
    );
}

#[test]
fn compare_puts_two_policies_side_by_side() {
    let t = trace(&[(0, 40), (300_000, 400), (900_000, 40), (1_800_000, 40)]);
    let fast = simulate("fast", &config(""), &t, &params(30_000));
    let slow_cfg = config(
        r#"
        [policies.scale_out]
        name = "slow-out"
        adjustment_type = "ChangeInCapacity"
        estimated_instance_warmup_secs = 60
        alarm = { metric = "ConcurrentUsersPerInstance", threshold = 50, comparison = "GreaterThanOrEqualToThreshold", period_secs = 5 }
        steps = [ { lower_bound = 0, scaling_adjustment = 1 } ]
        [policies.scale_in]
        name = "slow-in"
        adjustment_type = "ChangeInCapacity"
        alarm = { metric = "ConcurrentUsersPerInstance", threshold = 20, comparison = "LessThanOrEqualToThreshold", period_secs = 5 }
        steps = [ { upper_bound = 0, scaling_adjustment = -1 } ]
        "#,
    );
    let slow = simulate("slow", &slow_cfg, &t, &params(30_000));
    assert!(
        slow.summary.seconds_above_scale_out_threshold
            > fast.summary.seconds_above_scale_out_threshold,
        "+1 per warmup reacts slower than +100 %: {:#?} {:#?}",
        slow.summary,
        fast.summary
    );
    let text = to_text(&[&fast.summary, &slow.summary]);
    let config_line = text.lines().nth(2).expect("config line");
    assert!(
        config_line.contains("fast") && config_line.contains("slow"),
        "{text}"
    );
    // Two header lines, 11 figures, 11 scores.
    assert_eq!(text.lines().count(), 24, "{text}");
    assert!(
        fast.summary.scores.theta_u < slow.summary.scores.theta_u,
        "{text}"
    );
}

#[test]
fn run_writes_the_summary_charts_and_data() {
    let dir = std::env::temp_dir().join(format!("simulate-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let csv = dir.join("trace.csv");
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(&csv, "time,users\n0,10\n60,300\n300,300\n600,10\n900,10\n").expect("trace");
    let args = SimulateArgs {
        config: None,
        trace: csv.display().to_string(),
        compare: Vec::new(),
        target_users_per_instance: None,
        slo_users_per_instance: None,
        json: true,
        out: Some(dir.join("out")),
        boot: std::time::Duration::from_secs(20),
        drain: std::time::Duration::from_secs(10),
        warmup: None,
        oscillation_window: std::time::Duration::from_secs(600),
        tick: Some("5s".into()),
        min_size: None,
        max_size: Some(12),
        peak: 400,
        duration: None,
        resolution: std::time::Duration::from_secs(1),
        requests_per_user: 0.5,
    };
    simulate::run(args).expect("simulate runs");
    let out = dir.join("out");
    let svg = std::fs::read_to_string(out.join("simulate.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("users per instance"));
    let png = std::fs::read(out.join("simulate.png")).expect("png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("json"))
            .expect("parses");
    assert_eq!(summary[0]["trace"], "trace.csv");
    assert!(summary[0]["scale_outs"].as_u64().expect("count") > 0);
    let timeline = std::fs::read_to_string(out.join("timeline.csv")).expect("timeline");
    // The timeline is itself a valid trace.
    let again = Trace::parse_csv("again", &timeline).expect("timeline parses as a trace");
    assert_eq!(again.peak(), 300);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_config_or_trace_is_a_clear_error() {
    let args = |trace: &str, config: Option<&str>| SimulateArgs {
        config: config.map(Into::into),
        trace: trace.into(),
        compare: Vec::new(),
        target_users_per_instance: None,
        slo_users_per_instance: None,
        json: false,
        out: None,
        boot: std::time::Duration::from_secs(1),
        drain: std::time::Duration::from_secs(1),
        warmup: None,
        oscillation_window: std::time::Duration::from_secs(1),
        tick: None,
        min_size: None,
        max_size: None,
        peak: 10,
        duration: None,
        resolution: std::time::Duration::from_secs(1),
        requests_per_user: 0.5,
    };
    let e = simulate::run(args("/nonexistent/trace.csv", None)).expect_err("no trace");
    assert!(e.to_string().contains("/nonexistent/trace.csv"), "{e}");
    let e = simulate::run(args("ramp", Some("/nonexistent/c.toml"))).expect_err("no config");
    assert!(e.to_string().contains("/nonexistent/c.toml"), "{e}");
}
