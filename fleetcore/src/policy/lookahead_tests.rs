//! Tests of the trend fit and the lookahead scale-out.

use super::*;
use crate::policy::{MetricName, Policies};

fn look(window_secs: f64, max_growth: f64) -> Lookahead {
    Lookahead {
        window_secs,
        horizon_secs: Some(40.0),
        max_growth,
    }
}

fn trend_of(l: &Lookahead, points: impl IntoIterator<Item = (u64, f64)>) -> Trend {
    let mut t = Trend::new(l);
    for (at_s, users) in points {
        t.observe(at_s * 1000, users);
    }
    t
}

#[test]
fn a_linear_ramp_projects_along_its_slope() {
    let l = look(60.0, 2.0);
    // 100 + 2 users/s, every 5 s for 60 s.
    let t = trend_of(&l, (0..=12).map(|k| (k * 5, 100.0 + 10.0 * k as f64)));
    let p = t.project(40_000, l.max_growth).unwrap();
    assert!((p.slope - 2.0).abs() < 1e-9, "{p:?}");
    assert!((p.projected - (220.0 + 80.0)).abs() < 1e-9, "{p:?}");
    assert_eq!(p.samples, 13);
}

#[test]
fn a_falling_trend_projects_todays_users_and_growth_is_capped() {
    let l = look(60.0, 2.0);
    let falling = trend_of(&l, (0..=6).map(|k| (k * 5, 300.0 - 20.0 * k as f64)));
    let p = falling.project(40_000, 2.0).unwrap();
    assert_eq!((p.slope, p.projected), (0.0, 180.0));
    // 10 → 1000 in 10 s: the projection stops at 2 × 1000.
    let steep = trend_of(&l, [(0, 10.0), (5, 500.0), (10, 1000.0)]);
    assert_eq!(steep.project(40_000, 2.0).unwrap().projected, 2000.0);
}

#[test]
fn the_window_forgets_old_samples_and_needs_three() {
    let l = look(10.0, 2.0);
    let t = trend_of(&l, [(0, 1000.0), (100, 50.0), (105, 60.0)]);
    assert_eq!(
        t.project(0, 2.0),
        None,
        "the sample at 0 s is out of the 10 s window"
    );
    let t = trend_of(&l, [(100, 50.0), (105, 60.0), (110, 70.0)]);
    assert!((t.project(10_000, 2.0).unwrap().projected - 90.0).abs() < 1e-9);
}

fn nothing(desired: u32) -> Decision {
    Decision {
        action: Action::None,
        reason: Reason::WithinBand,
        policy: None,
        metric: MetricName::ConcurrentUsersPerInstance,
        metric_value: Some(45.0),
        threshold: Some(50.0),
        step: None,
        step_label: None,
        adjustment: None,
        capacity_before: desired,
        capacity_after: desired,
        explanation: "within the band".into(),
    }
}

fn projection(projected: f64) -> Projection {
    Projection {
        users: 180.0,
        slope: 1.5,
        horizon_ms: 40_000,
        projected,
        samples: 12,
    }
}

#[test]
fn a_projected_breach_scales_out_by_the_policy_step_and_explains_it() {
    let local = Policies::local_default();
    let out = local.scale_out();
    // 240 users ahead on 4 desired = 60 ≥ 50: step [+10, +25) +50 % of 4 → 6.
    let d = apply(out, &projection(240.0), 10, nothing(4));
    assert_eq!((d.action, d.capacity_after), (Action::ScaleOut, 6));
    // 208 ahead = 52: step [0, +10) +20 % of 4 → 0.8 → 1 (min 1) → 5.
    let d = apply(out, &projection(208.0), 10, nothing(4));
    assert_eq!((d.action, d.capacity_after), (Action::ScaleOut, 5));
    assert!(d.explanation.contains("lookahead"), "{}", d.explanation);
    assert!(d.explanation.contains("208 in 40 s"), "{}", d.explanation);
    // Capped at max.
    let d = apply(out, &projection(1000.0), 6, nothing(4));
    assert_eq!(d.capacity_after, 6);
}

#[test]
fn no_breach_held_or_deciding_ticks_are_left_alone() {
    let local = Policies::local_default();
    let out = local.scale_out();
    let d = apply(out, &projection(190.0), 10, nothing(4));
    assert_eq!(d, nothing(4), "47.5 per instance: no breach");
    for reason in [Reason::StaleData, Reason::NoData, Reason::Settling] {
        let held = Decision {
            reason,
            ..nothing(4)
        };
        assert_eq!(apply(out, &projection(400.0), 10, held.clone()), held);
    }
    let scaling_in = Decision {
        action: Action::ScaleIn,
        capacity_after: 3,
        ..nothing(4)
    };
    assert_eq!(
        apply(out, &projection(400.0), 10, scaling_in.clone()),
        scaling_in
    );
}

#[test]
fn validation_names_the_lookahead_field() {
    let local = Policies::local_default();
    let with = |l: Lookahead| local.changed(|p| p.lookahead = Some(l));
    assert_eq!(
        with(look(0.0, 2.0)).unwrap_err().path,
        "policies.lookahead.window_secs"
    );
    assert_eq!(
        with(look(60.0, 0.5)).unwrap_err().path,
        "policies.lookahead.max_growth"
    );
    let e = with(Lookahead {
        horizon_secs: Some(-1.0),
        ..look(60.0, 2.0)
    })
    .unwrap_err();
    assert_eq!(e.path, "policies.lookahead.horizon_secs");
    let p = with(look(60.0, 2.0)).unwrap();
    let e = p
        .changed(|p| {
            p.scale_out.alarm.metric = MetricName::ConcurrentUsers;
            p.scale_in.alarm.metric = MetricName::ConcurrentUsers;
            p.scale_out.alarm.threshold = 500.0;
            p.scale_in.alarm.threshold = 100.0;
        })
        .unwrap_err();
    assert_eq!(e.path, "policies.lookahead");
}
