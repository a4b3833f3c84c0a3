//! Table tests of the native timing model, from AWS's documented behaviour.

use super::*;
use crate::policy::{
    Action, AdjustmentType, Alarm, Comparison, FleetState, MetricName, MetricSample, Policies,
    aws_example_scale_out, step,
};

fn fleet(desired: u32, in_service: u32, warming: u32) -> FleetState {
    FleetState {
        min: 1,
        max: 40,
        desired,
        in_service,
        warming,
    }
}

fn view(t_s: u64, v: Option<f64>, f: FleetState) -> View {
    View {
        now_ms: 86_400_000 + t_s * 1000,
        fleet: f,
        serving: f.in_service + f.warming,
        pending: 0,
        sample: MetricSample {
            concurrent_users_per_instance: v,
            ..MetricSample::default()
        },
    }
}

/// AWS's step-scaling example ("Step and simple scaling policies"): threshold 50,
/// [0, 10) → 0, [10, 20) → +10 %, [20, ∞) → +30 %; here with 5 s config periods.
fn aws_example(statistic: Statistic) -> Policies {
    let alarm = |threshold, comparison, n| Alarm {
        metric: MetricName::ConcurrentUsersPerInstance,
        statistic,
        threshold,
        comparison,
        period_secs: 5.0,
        evaluation_periods: n,
        datapoints_to_alarm: None,
    };
    Policies::local_default()
        .changed(|p| {
            p.scale_out = aws_example_scale_out(statistic);
            p.scale_in.alarm = alarm(20.0, Comparison::LessThanOrEqualToThreshold, 3);
        })
        .expect("the AWS example is valid")
}

#[test]
fn config_periods_round_up_to_what_cloudwatch_alarms_accept() {
    let cases = [
        (1.0, 10_000),
        (5.0, 10_000),
        (10.0, 10_000),
        (10.5, 30_000),
        (30.0, 30_000),
        (31.0, 60_000),
        (60.0, 60_000),
        (61.0, 120_000),
        (300.0, 300_000),
    ];
    for (secs, want) in cases {
        assert_eq!(native_period_ms(secs), want, "{secs} s");
    }
    let n = Native::new(&aws_example(Statistic::Average));
    assert_eq!(n.policies().scale_out().alarm().period_secs, 10.0);
}

/// `(t s, metric published at t, fleet (desired, settled, warming), action, desired after)`.
type Row = (u64, Option<f64>, (u32, u32, u32), Action, u32);

fn run(p: &Policies, rows: &[Row]) {
    let mut n = Native::new(p);
    for &(t, v, (d, s, w), action, after) in rows {
        let got = n.decide(&view(t, v, fleet(d, s, w)));
        assert_eq!(
            (got.action, got.capacity_after),
            (action, after),
            "t = {t} s: {}",
            got.explanation
        );
    }
}

#[test]
fn the_alarm_is_evaluated_at_period_ends_on_the_periods_statistic() {
    // 5 s ticks, 10 s periods: the breach at t = 5 is seen only when [0, 10) ends, and then
    // as the period's average (40 + 80) / 2 = 60: +10 % of 10 = 11 (AWS's example).
    run(
        &aws_example(Statistic::Average),
        &[
            (0, Some(40.0), (10, 10, 0), Action::None, 10),
            (5, Some(80.0), (10, 10, 0), Action::None, 10),
            (10, Some(40.0), (10, 10, 0), Action::ScaleOut, 11),
        ],
    );
    // The same samples with Maximum: 80 → +30 % → 13.
    run(
        &aws_example(Statistic::Maximum),
        &[
            (0, Some(40.0), (10, 10, 0), Action::None, 10),
            (5, Some(80.0), (10, 10, 0), Action::None, 10),
            (10, Some(40.0), (10, 10, 0), Action::ScaleOut, 13),
        ],
    );
}

#[test]
fn the_policy_is_reinvoked_while_in_alarm_and_warming_instances_are_not_current_capacity() {
    // AWS's worked example: 10 instances; 60 → +10 % → 11; while the new one warms, 62 (same
    // step) adds nothing; 70 (+30 % of the 10 settled) → 13.
    run(
        &aws_example(Statistic::Average),
        &[
            (0, Some(60.0), (10, 10, 0), Action::None, 10),
            (5, Some(60.0), (10, 10, 0), Action::None, 10),
            (10, Some(62.0), (10, 10, 0), Action::ScaleOut, 11),
            (15, Some(62.0), (11, 10, 1), Action::None, 11),
            (20, Some(70.0), (11, 10, 1), Action::None, 11),
            (25, Some(70.0), (11, 10, 1), Action::None, 11),
            (30, Some(70.0), (11, 10, 1), Action::ScaleOut, 13),
            (35, Some(70.0), (13, 10, 3), Action::None, 13),
            (40, Some(70.0), (13, 10, 3), Action::None, 13),
        ],
    );
}

#[test]
fn scale_in_needs_n_whole_periods_and_missing_periods_never_breach() {
    // 3 of 3 at 10 s: the third datapoint ends at t = 30 (the controller, at 5 s periods,
    // would have acted at t = 10). Missing data (no metric published) is not breaching.
    let p = aws_example(Statistic::Average)
        .changed(|p| {
            p.scale_in.adjustment_type = AdjustmentType::ChangeInCapacity;
            p.scale_in.steps = vec![step(None, Some(0.0), -1)];
        })
        .expect("valid");
    run(
        &p,
        &[
            (0, Some(10.0), (4, 4, 0), Action::None, 4),
            (5, Some(10.0), (4, 4, 0), Action::None, 4),
            (10, Some(10.0), (4, 4, 0), Action::None, 4),
            (20, Some(10.0), (4, 4, 0), Action::None, 4),
            (30, None, (4, 4, 0), Action::ScaleIn, 3),
            (40, None, (3, 3, 0), Action::None, 3),
            (50, Some(10.0), (3, 3, 0), Action::None, 3),
            (60, Some(10.0), (3, 3, 0), Action::None, 3),
            (70, Some(10.0), (3, 3, 0), Action::None, 3),
            (80, Some(10.0), (3, 3, 0), Action::ScaleIn, 2),
        ],
    );
}
