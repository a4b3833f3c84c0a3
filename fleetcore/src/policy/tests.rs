//! Table and property tests of the policy engine.

use super::types::{aws_example_scale_out, step};
use super::*;

const TICK: u64 = 5_000;

/// AWS's documented example: threshold 50; [0, 10) → 0, [10, 20) → +10 %, [20, ∞) → +30 %;
/// scale-in at 40 with (−10, 0] → 0, (−20, −10] → −10 %, (−∞, −20] → −30 %.
fn aws_example() -> Policies {
    let alarm = |threshold, comparison| Alarm {
        metric: MetricName::ConcurrentUsersPerInstance,
        statistic: Statistic::Average,
        threshold,
        comparison,
        period_secs: 5.0,
        evaluation_periods: 1,
        datapoints_to_alarm: None,
    };
    Policies::new(RawPolicies {
        mode: PolicyMode::Controller,
        scale_out: aws_example_scale_out(Statistic::Average),
        scale_in: RawStepPolicy {
            name: "in".into(),
            alarm: alarm(40.0, Comparison::LessThanOrEqualToThreshold),
            adjustment_type: AdjustmentType::PercentChangeInCapacity,
            steps: vec![
                step(Some(-10.0), Some(0.0), 0),
                step(Some(-20.0), Some(-10.0), -10),
                step(None, Some(-20.0), -30),
            ],
            min_adjustment_magnitude: None,
            estimated_instance_warmup_secs: 60.0,
        },
        lookahead: None,
    })
    .expect("the AWS example is valid")
}

fn fleet(min: u32, max: u32, desired: u32, in_service: u32, warming: u32) -> FleetState {
    FleetState {
        min,
        max,
        desired,
        in_service,
        warming,
    }
}

fn sample(v: Option<f64>) -> MetricSample {
    MetricSample {
        concurrent_users_per_instance: v,
        ..MetricSample::default()
    }
}

fn stale(v: f64) -> MetricSample {
    MetricSample {
        stale: true,
        ..sample(Some(v))
    }
}

struct Case {
    policies: Policies,
    fleet: FleetState,
    /// One sample per tick; the decision after the last one is checked.
    samples: Vec<MetricSample>,
}

fn check(case: Case, expected: (Action, Reason, u32)) {
    let mut engine = Engine::new(case.policies);
    let mut last = None;
    for (i, s) in case.samples.iter().enumerate() {
        last = Some(engine.tick(1_000_000 + i as u64 * TICK, s, &case.fleet));
    }
    let d = last.expect("at least one sample");
    assert_eq!(
        (d.action, d.reason, d.capacity_after),
        expected,
        "decision: {d:#?}"
    );
    assert!(!d.explanation.is_empty());
}

fn one(policies: Policies, fleet: FleetState, value: f64) -> Case {
    Case {
        policies,
        fleet,
        samples: vec![sample(Some(value))],
    }
}

#[test]
fn aws_worked_example() {
    #[allow(unused_imports)]
    use Action::{ScaleIn, ScaleOut};
    // 10 instances, metric 60 → +10 % → 11.
    check(
        one(aws_example(), fleet(1, 20, 10, 10, 0), 60.0),
        (ScaleOut, Reason::Scaled, 11),
    );
    // While the new instance warms (desired 11, 10 warm), 62 → 10 + 1 = 11: no change.
    check(
        one(aws_example(), fleet(1, 20, 11, 10, 1), 62.0),
        (Action::None, Reason::WarmingUp, 11),
    );
    // 70 → +30 % of 10 = 3 → 13, more than 11: desired 13.
    check(
        one(aws_example(), fleet(1, 20, 11, 10, 1), 70.0),
        (ScaleOut, Reason::Scaled, 13),
    );
    // The [0, 10) step adjusts nothing.
    check(
        one(aws_example(), fleet(1, 20, 10, 10, 0), 55.0),
        (Action::None, Reason::ZeroAdjustment, 10),
    );
    // Scale-in: 25 is 15 below 40 → −10 % of 10 = −1; 15 → −30 % = −3.
    check(
        one(aws_example(), fleet(1, 20, 10, 10, 0), 25.0),
        (ScaleIn, Reason::Scaled, 9),
    );
    check(
        one(aws_example(), fleet(1, 20, 10, 10, 0), 15.0),
        (ScaleIn, Reason::Scaled, 7),
    );
    check(
        one(aws_example(), fleet(1, 20, 10, 10, 0), 45.0),
        (Action::None, Reason::WithinBand, 10),
    );
}

#[test]
fn bounds_are_inclusive_on_the_threshold_side_aws_documents() {
    #[allow(unused_imports)]
    use Action::{ScaleIn, ScaleOut};
    // Exactly threshold + 10 is in [10, 20): +10 %.
    check(
        one(aws_example(), fleet(1, 20, 10, 10, 0), 60.0),
        (ScaleOut, Reason::Scaled, 11),
    );
    // Just below threshold + 10 is in [0, 10): nothing.
    check(
        one(aws_example(), fleet(1, 20, 10, 10, 0), 59.99),
        (Action::None, Reason::ZeroAdjustment, 10),
    );
    // Exactly threshold + 20 is in [20, ∞): +30 %.
    check(
        one(aws_example(), fleet(1, 20, 10, 10, 0), 70.0),
        (ScaleOut, Reason::Scaled, 13),
    );
    // Below the threshold the upper bound is inclusive: 30 = 40 − 10 is in (−20, −10].
    check(
        one(aws_example(), fleet(1, 20, 10, 10, 0), 30.0),
        (ScaleIn, Reason::Scaled, 9),
    );
    // 20 = 40 − 20 is in (−∞, −20]: −30 %.
    check(
        one(aws_example(), fleet(1, 20, 10, 10, 0), 20.0),
        (ScaleIn, Reason::Scaled, 7),
    );
    let s = step(Some(10.0), Some(20.0), 1);
    assert!(s.matches(60.0, 50.0, true) && !s.matches(70.0, 50.0, true));
    let s = step(Some(-20.0), Some(-10.0), -1);
    assert!(s.matches(40.0, 50.0, false) && !s.matches(30.0, 50.0, false));
    // A value exactly on a `<=` threshold takes the step that ends at 0 (regression: the
    // simulator found a fleet stuck at 20 users per instance with scale-in at <= 20).
    let p = aws_example()
        .changed(|p| {
            p.scale_in.alarm.threshold = 20.0;
            p.scale_in.steps = vec![step(None, Some(0.0), -1)];
        })
        .expect("valid");
    check(
        one(p, fleet(1, 20, 2, 2, 0), 20.0),
        (ScaleIn, Reason::Scaled, 1),
    );
}

#[test]
fn percent_rounding_follows_aws() {
    for (x, want) in [
        (2.7, 2),
        (1.0, 1),
        (1.5, 1),
        (0.3, 1),
        (0.0, 0),
        (-0.3, -1),
        (-1.0, -1),
        (-1.5, -1),
        (-2.7, -2),
    ] {
        assert_eq!(round_percent(x), want, "round_percent({x})");
    }
}

#[test]
fn adjustment_types_and_min_magnitude() {
    let changed = |change: fn(&mut RawPolicies)| aws_example().changed(change).expect("valid");
    let p = aws_example();
    let s = step(Some(0.0), None, 25);
    // 25 % of 3 = 0.75 → 1; of 10 = 2.5 → 2; of 0 = 0.
    for (current, want) in [(3, 4), (10, 12), (0, 0)] {
        let p = p.scale_out();
        assert_eq!(apply_adjustment(p, &s, current), want, "{current}");
    }
    let p = changed(|p| p.scale_out.min_adjustment_magnitude = Some(3));
    for (current, want) in [(3, 6), (10, 13), (20, 25), (0, 3)] {
        let p = p.scale_out();
        assert_eq!(apply_adjustment(p, &s, current), want, "min 3, {current}");
    }
    // (min_adjustment_magnitude is only valid with PercentChangeInCapacity.)
    let p = changed(|p| p.scale_out.adjustment_type = AdjustmentType::ChangeInCapacity);
    assert_eq!(apply_adjustment(p.scale_out(), &s, 4), 29);
    let p = changed(|p| p.scale_out.adjustment_type = AdjustmentType::ExactCapacity);
    assert_eq!(apply_adjustment(p.scale_out(), &s, 4), 25);
    let down = step(None, Some(0.0), -50);
    let q = changed(|p| p.scale_in.min_adjustment_magnitude = Some(2));
    let q = q.scale_in();
    // −50 % of 3 = −1.5 → −1, raised to −2.
    assert_eq!(apply_adjustment(q, &down, 3), 1);
}

#[test]
fn min_max_and_warmup_rules() {
    #[allow(unused_imports)]
    use Action::{ScaleIn, ScaleOut};
    // Capped at max.
    check(
        one(aws_example(), fleet(1, 12, 10, 10, 0), 80.0),
        (ScaleOut, Reason::Scaled, 12),
    );
    check(
        one(aws_example(), fleet(1, 12, 12, 12, 0), 80.0),
        (Action::None, Reason::AtMax, 12),
    );
    // Floored at min.
    check(
        one(aws_example(), fleet(8, 20, 10, 10, 0), 10.0),
        (ScaleIn, Reason::Scaled, 8),
    );
    check(
        one(aws_example(), fleet(10, 20, 10, 10, 0), 10.0),
        (Action::None, Reason::AtMin, 10),
    );
    // Scale-in waits while anything warms.
    check(
        one(aws_example(), fleet(1, 20, 10, 9, 1), 10.0),
        (Action::None, Reason::WarmingUp, 10),
    );
    // Desired outside [min, max] is corrected whatever the metric says.
    check(
        one(aws_example(), fleet(4, 20, 2, 2, 0), 45.0),
        (ScaleOut, Reason::OutOfBounds, 4),
    );
    check(
        one(aws_example(), fleet(1, 5, 8, 8, 0), 99.0),
        (ScaleIn, Reason::OutOfBounds, 5),
    );
    // Exact capacity never lowers desired on scale-out.
    let p = aws_example()
        .changed(|p| {
            p.scale_out.adjustment_type = AdjustmentType::ExactCapacity;
            p.scale_out.steps = vec![step(Some(0.0), None, 6)];
        })
        .expect("valid");
    check(
        one(p.clone(), fleet(1, 20, 4, 4, 0), 51.0),
        (ScaleOut, Reason::Scaled, 6),
    );
    check(
        one(p, fleet(1, 20, 8, 8, 0), 51.0),
        (Action::None, Reason::AlreadyAtTarget, 8),
    );
}

#[test]
fn stale_or_missing_data_never_scales_in() {
    #[allow(unused_imports)]
    use Action::{ScaleIn, ScaleOut};
    let f = fleet(1, 20, 10, 10, 0);
    check(
        Case {
            policies: aws_example(),
            fleet: f,
            samples: vec![stale(5.0)],
        },
        (Action::None, Reason::StaleData, 10),
    );
    check(
        Case {
            policies: aws_example(),
            fleet: f,
            samples: vec![sample(None)],
        },
        (Action::None, Reason::NoData, 10),
    );
    // Scale-in alarm on 2 of 3: two low periods, then a stale tick → nothing happens.
    let p = aws_example()
        .changed(|p| {
            p.scale_in.alarm.evaluation_periods = 3;
            p.scale_in.alarm.datapoints_to_alarm = Some(2);
        })
        .expect("valid");
    let low = sample(Some(10.0));
    check(
        Case {
            policies: p.clone(),
            fleet: f,
            samples: vec![low, low],
        },
        (ScaleIn, Reason::Scaled, 7),
    );
    check(
        Case {
            policies: p.clone(),
            fleet: f,
            samples: vec![low, low, stale(10.0)],
        },
        (Action::None, Reason::StaleData, 10),
    );
    check(
        Case {
            policies: p,
            fleet: f,
            samples: vec![low, low, sample(None)],
        },
        (Action::None, Reason::NoData, 10),
    );
    // NaN is missing, not a number.
    check(
        Case {
            policies: aws_example(),
            fleet: f,
            samples: vec![sample(Some(f64::NAN))],
        },
        (Action::None, Reason::NoData, 10),
    );
}

#[test]
fn m_of_n_datapoints() {
    #[allow(unused_imports)]
    use Action::{ScaleIn, ScaleOut};
    let p = aws_example()
        .changed(|p| {
            p.scale_out.alarm.evaluation_periods = 3;
            p.scale_out.alarm.datapoints_to_alarm = Some(2);
        })
        .expect("valid");
    let f = fleet(1, 20, 10, 10, 0);
    let v = |x| sample(Some(x));
    let case = |samples| Case {
        policies: p.clone(),
        fleet: f,
        samples,
    };
    check(
        case(vec![v(65.0)]),
        (Action::None, Reason::NotEnoughDatapoints, 10),
    );
    check(
        case(vec![v(65.0), v(45.0), v(61.0)]),
        (ScaleOut, Reason::Scaled, 11),
    );
    // The first breach fell out of the window of 3.
    check(
        case(vec![v(65.0), v(45.0), v(45.0), v(61.0)]),
        (Action::None, Reason::NotEnoughDatapoints, 10),
    );
    // Missing periods count as not breaching.
    check(
        case(vec![v(65.0), sample(None), v(61.0)]),
        (ScaleOut, Reason::Scaled, 11),
    );
    // Still in ALARM (2 of the last 3), but the newest datapoint is below the threshold: no
    // step covers it, so nothing is done (`no_step`), never a scale-out from a low value.
    check(
        case(vec![v(65.0), v(61.0), v(45.0)]),
        (Action::None, Reason::NoStep, 10),
    );
}

#[test]
fn periods_aggregate_samples_with_the_statistic() {
    let mut alarm = aws_example().scale_out().alarm().clone();
    alarm.period_secs = 30.0;
    for (statistic, want) in [
        (Statistic::Average, 50.0),
        (Statistic::Minimum, 40.0),
        (Statistic::Maximum, 60.0),
        (Statistic::Sum, 150.0),
        (Statistic::SampleCount, 3.0),
    ] {
        alarm.statistic = statistic;
        let mut state = AlarmState::new(&alarm);
        for (i, v) in [40.0, 50.0, 60.0].into_iter().enumerate() {
            state.observe(i as u64 * TICK, Some(v));
        }
        assert_eq!(state.evaluate(2 * TICK).value, Some(want), "{statistic:?}");
    }
    // A tick jittering by less than half a period stays in its own period.
    alarm.period_secs = 5.0;
    alarm.statistic = Statistic::Maximum;
    alarm.evaluation_periods = 3;
    let mut state = AlarmState::new(&alarm);
    for (t, v) in [(5_003, 60.0), (9_990, 40.0), (15_004, 61.0)] {
        state.observe(t, Some(v));
    }
    let e = state.evaluate(15_004);
    assert_eq!((e.present, e.breaching, e.value), (3, 2, Some(61.0)));
}

#[test]
fn decision_record_carries_the_explanation() {
    let p = aws_example();
    let mut engine = Engine::new(p);
    let d = engine.tick(0, &sample(Some(60.0)), &fleet(1, 20, 10, 10, 0));
    let r = d.to_record(7, 123);
    assert_eq!(
        (r.tick, r.at_ms, r.action.as_str(), r.reason.as_str()),
        (7, 123, "scale_out", "scaled")
    );
    assert_eq!(r.step.as_deref(), Some("[+10, +20) → +10 %"));
    assert_eq!((r.capacity_before, r.capacity_after), (10, 11));
    assert_eq!(r.metric_value, Some(60.0));
    assert!(
        r.explanation.contains("desired 10 → 11"),
        "{}",
        r.explanation
    );
}

#[test]
fn validation_names_the_field() {
    type Edit = fn(&mut RawPolicies);
    let cases: Vec<(Edit, &str)> = vec![
        (|p| p.scale_out.name.clear(), "policies.scale_out.name"),
        (
            |p| p.scale_out.steps[1].lower_bound = Some(12.0),
            "policies.scale_out.steps[1].lower_bound",
        ),
        (
            |p| p.scale_out.steps[1].lower_bound = Some(8.0),
            "policies.scale_out.steps[1].lower_bound",
        ),
        (
            |p| p.scale_out.steps[0].upper_bound = Some(0.0),
            "policies.scale_out.steps[0].upper_bound",
        ),
        (
            |p| p.scale_out.steps[1].upper_bound = None,
            "policies.scale_out.steps[5].upper_bound",
        ),
        (
            |p| p.scale_out.steps[5].upper_bound = Some(300.0),
            "policies.scale_out.steps[5].upper_bound",
        ),
        (
            |p| p.scale_out.steps[0].lower_bound = Some(5.0),
            "policies.scale_out.steps[0].lower_bound",
        ),
        (
            |p| p.scale_out.steps[2].scaling_adjustment = -1,
            "policies.scale_out.steps[2].scaling_adjustment",
        ),
        (|p| p.scale_out.steps.clear(), "policies.scale_out.steps"),
        (
            |p| p.scale_out.alarm.comparison = Comparison::LessThanThreshold,
            "policies.scale_out.alarm.comparison",
        ),
        (
            |p| p.scale_out.alarm.period_secs = 0.0,
            "policies.scale_out.alarm.period_secs",
        ),
        (
            |p| p.scale_out.alarm.threshold = f64::NAN,
            "policies.scale_out.alarm.threshold",
        ),
        (
            |p| p.scale_out.alarm.evaluation_periods = 0,
            "policies.scale_out.alarm.evaluation_periods",
        ),
        (
            |p| p.scale_out.alarm.datapoints_to_alarm = Some(2),
            "policies.scale_out.alarm.datapoints_to_alarm",
        ),
        (
            |p| p.scale_out.estimated_instance_warmup_secs = -1.0,
            "policies.scale_out.estimated_instance_warmup_secs",
        ),
        (
            |p| p.scale_in.min_adjustment_magnitude = Some(1),
            "policies.scale_in.min_adjustment_magnitude",
        ),
        (
            |p| p.scale_out.min_adjustment_magnitude = Some(0),
            "policies.scale_out.min_adjustment_magnitude",
        ),
        (
            |p| p.scale_in.steps[0].scaling_adjustment = 1,
            "policies.scale_in.steps[0].scaling_adjustment",
        ),
        (
            |p| p.scale_in.steps[0].upper_bound = Some(5.0),
            "policies.scale_in.steps[0].upper_bound",
        ),
        (
            |p| p.scale_in.steps[0].lower_bound = Some(-5.0),
            "policies.scale_in.steps[0].lower_bound",
        ),
        (
            |p| p.scale_in.alarm.threshold = 50.0,
            "policies.scale_in.alarm.threshold",
        ),
        (
            |p| p.scale_in.steps.push(step(None, Some(-5.0), -2)),
            "policies.scale_in.steps[1].lower_bound",
        ),
    ];
    // Both build (`Policies::new` is the only way to a `Policies`).
    let local = Policies::local_default();
    aws_example();
    for (edit, path) in cases {
        let e = local.changed(edit).expect_err(path);
        assert_eq!(e.path, path, "{e}");
        assert!(e.to_string().starts_with(path));
    }
    // Steps may be listed in any order (and are kept in it).
    let p = local
        .changed(|p| p.scale_out.steps.reverse())
        .expect("order does not matter");
    assert_eq!(p.scale_out().steps()[0].upper_bound, None);
}
