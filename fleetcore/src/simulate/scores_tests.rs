//! Table tests: each formula on a trace computed by hand.

use super::*;

fn s(t_s: u64, users: f64, serving: u32, desired: u32, running: u32) -> ScoreSample {
    ScoreSample {
        t_ms: t_s * 1000,
        users,
        serving,
        desired,
        running,
    }
}

const P: ScoreParams = ScoreParams {
    target_users_per_instance: 10.0,
    slo_users_per_instance: 12.0,
};

/// Target 10 users per instance, ceiling 12, T = 120 s, Δt = 30 s each:
///
/// | t  | users | d | s | desired | running | (d−s)⁺/d | (s−d)⁺/d | users/s |
/// |----|-------|---|---|---------|---------|----------|----------|---------|
/// | 0  | 10    | 1 | 1 | 1       | 1       | 0        | 0        | 10      |
/// | 30 | 30    | 3 | 1 | 3       | 3       | 2/3      | 0        | 30 (lost, minute 0) |
/// | 60 | 40    | 4 | 3 | 3       | 3       | 1/4      | 0        | 13.3 (lost, minute 1) |
/// | 90 | 10    | 1 | 3 | 2       | 3       | 0        | 2        | 3.3     |
/// | 120| 20    | 2 | 2 | 2       | 2       | (end)    |          |         |
fn hand_trace() -> Vec<ScoreSample> {
    vec![
        s(0, 10.0, 1, 1, 1),
        s(30, 30.0, 1, 3, 3),
        s(60, 40.0, 3, 3, 3),
        s(90, 10.0, 3, 2, 3),
        s(120, 20.0, 2, 2, 2),
    ]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn each_formula_on_the_hand_computed_trace() {
    let t = hand_trace();
    let cases: [(&str, f64, f64); 6] = [
        // 100/120 · (2/3 · 30 + 1/4 · 30)
        ("theta_u", theta_u(&t, &P), 100.0 * (20.0 + 7.5) / 120.0),
        // 100/120 · (2 · 30)
        ("theta_o", theta_o(&t, &P), 50.0),
        // s < d at t = 30 and 60
        ("tau_u", tau_u(&t, &P), 50.0),
        // s > d at t = 90
        ("tau_o", tau_o(&t, &P), 25.0),
        // 90 → 120: supply 3 → 2 while users 10 → 20; 1 of 4 steps
        ("instability", instability(&t, &P), 25.0),
        // (1 + 3 + 3 + 3) · 30 s
        ("instance_hours", instance_hours(&t), 300.0 / 3600.0),
    ];
    for (name, got, want) in cases {
        assert!(close(got, want), "{name}: got {got}, want {want}");
    }
    assert_eq!(capacity_changes(&t), 2, "desired 1 → 3 and 3 → 2");
    assert_eq!(slo_minutes_lost(&t, &P), 2, "minutes 0 and 1");
    let (breach, decided, serving) = reaction(&t, &P);
    assert_eq!(
        breach,
        Some(0.0),
        "d = s = 1 at t = 0 is a breach (at the target)"
    );
    assert_eq!(decided, Some(30.0), "desired 3 > 1 at t = 30");
    assert_eq!(serving, Some(60.0), "3 serving at t = 60");
    let later = &t[1..];
    assert_eq!(
        reaction(later, &P),
        (Some(0.0), Some(0.0), Some(30.0)),
        "breach at 30 s (d 3 > s 1) with desired raised in the same sample"
    );
    let all = score(&t, &P);
    assert!(close(all.theta_u, 100.0 * 27.5 / 120.0));
    assert_eq!(all.slo_minutes_lost, 2);
}

#[test]
fn demand_is_whole_instances_and_moves_only_across_a_multiple_of_the_target() {
    // 11 users need 2 instances of 10: 1 serving is half the demand for the whole 10 s.
    let t = vec![
        s(0, 11.0, 1, 1, 1),
        s(10, 12.0, 2, 2, 2),
        s(20, 19.0, 1, 1, 1),
        s(30, 21.0, 2, 2, 2),
    ];
    assert!(close(
        theta_u(&t, &P),
        100.0 * (0.5 * 10.0 + 0.5 * 10.0) / 30.0
    ));
    // 11 → 12 is no move of d (2 → 2); 12 → 19 neither, though s went 2 → 1; 19 → 21 is
    // d 2 → 3 with s 1 → 2: the same direction. No opposite moves.
    assert_eq!(instability(&t, &P), 0.0);
}

#[test]
fn zero_demand_adds_nothing_to_theta_but_counts_as_over_in_tau() {
    let t = vec![
        s(0, 0.0, 2, 2, 2),
        s(10, 20.0, 2, 2, 2),
        s(20, 20.0, 2, 2, 2),
    ];
    assert!(close(theta_o(&t, &P), 0.0));
    assert!(close(theta_u(&t, &P), 0.0));
    assert!(close(tau_o(&t, &P), 50.0));
    assert!(close(tau_u(&t, &P), 0.0));
}

#[test]
fn slo_minutes_count_each_minute_a_span_touches_once() {
    // Over from 50 s to 70 s (minutes 0 and 1), again 70 → 80 (minute 1, already lost),
    // fine from 80 s; 0 users and nothing serving (170 s) is fine; users and nothing serving
    // from 175 s to 190 s is lost (minutes 2 and 3).
    let t = vec![
        s(0, 10.0, 1, 1, 1),
        s(50, 13.0, 1, 1, 1),
        s(70, 26.0, 2, 2, 2),
        s(80, 10.0, 2, 2, 2),
        s(170, 0.0, 0, 0, 0),
        s(175, 5.0, 0, 1, 1),
        s(190, 5.0, 1, 1, 1),
    ];
    assert_eq!(slo_minutes_lost(&t, &P), 4);
}

#[test]
fn no_breach_no_reaction_and_short_series_score_zero() {
    // 15 users need 2 instances of 10: 3 serving never breach.
    let t = vec![s(0, 15.0, 3, 3, 3), s(5, 15.0, 3, 3, 3)];
    assert_eq!(reaction(&t, &P), (None, None, None));
    let idle = vec![s(0, 0.0, 0, 0, 0), s(5, 0.0, 0, 0, 0)];
    assert_eq!(reaction(&idle, &P).0, None, "no users, no breach");
    let one = [s(0, 50.0, 1, 1, 1)];
    assert_eq!(theta_u(&one, &P), 0.0);
    assert_eq!(instability(&one, &P), 0.0);
    assert_eq!(slo_minutes_lost(&one, &P), 0);
    assert_eq!(score(&[], &P).instance_hours, 0.0);
}
