//! Table tests of the target-tracking and HPA models, from their documented defaults.

use super::*;

fn view(t_s: u64, users: f64, desired: u32, settled: u32, warming: u32, pending: u32) -> View {
    let serving = settled + warming - pending.min(warming);
    View {
        now_ms: 86_400_000 + t_s * 1000,
        fleet: FleetState {
            min: 1,
            max: 100,
            desired,
            in_service: settled,
            warming,
        },
        serving,
        pending,
        sample: MetricSample {
            concurrent_users: Some(users),
            concurrent_users_per_instance: (settled > 0).then(|| users / f64::from(settled)),
            ..MetricSample::default()
        },
    }
}

#[test]
fn periods_close_on_clock_aligned_boundaries_with_their_statistic() {
    let mut p = Periods::new(10_000, Statistic::Maximum);
    assert_eq!(p.push(0, Some(1.0)), None);
    assert_eq!(p.push(5_000, Some(3.0)), None);
    assert_eq!(p.push(10_000, Some(2.0)), Some((10_000, Some(3.0))));
    assert_eq!(p.push(15_000, None), None);
    // Period [10, 20) had 2; [20, 30) is skipped entirely (no tick): not returned.
    assert_eq!(p.push(31_000, None), Some((20_000, Some(2.0))));
    assert_eq!(p.push(40_000, None), Some((40_000, None)));
}

#[test]
fn target_tracking_scales_out_after_three_minutes_above_target_proportionally() {
    let mut tt = TargetTracking::new(50.0);
    // 4 settled instances at 75 users each (300 users), ticks every 30 s.
    let mut got = Vec::new();
    for k in 0..=6 {
        let d = tt.decide(&view(k * 30, 300.0, 4, 4, 0, 0));
        got.push((k * 30, d.action, d.capacity_after));
    }
    // Minute datapoints close at 60, 120, 180 s: 3 of 3 at 180 → ceil(4 × 75 / 50) = 6.
    assert_eq!(got[2], (60, Action::None, 4));
    assert_eq!(got[4], (120, Action::None, 4));
    assert_eq!(got[6], (180, Action::ScaleOut, 6));
}

#[test]
fn target_tracking_scales_in_after_fifteen_minutes_below_ninety_percent() {
    let mut tt = TargetTracking::new(50.0);
    let mut first_in = None;
    for k in 0..=20 {
        // 6 instances at 40 users each (< 45): ceil(6 × 40 / 50) = 5.
        let d = tt.decide(&view(k * 60, 240.0, 6, 6, 0, 0));
        if d.action == Action::ScaleIn && first_in.is_none() {
            first_in = Some((k * 60, d.capacity_after));
        }
    }
    assert_eq!(first_in, Some((15 * 60, 5)));
    // 46 per instance (above 0.9 × 50) never alarms low.
    let mut tt = TargetTracking::new(50.0);
    for k in 0..=20 {
        let d = tt.decide(&view(k * 60, 276.0, 6, 6, 0, 0));
        assert_eq!(d.action, Action::None, "t = {} min", k);
    }
}

/// `(t s, users, (desired, settled, warming, pending), action, desired after)`.
type Row = (u64, f64, (u32, u32, u32, u32), Action, u32);

fn run_hpa(rows: &[Row]) {
    let mut h = Hpa::new(50.0);
    for &(t, users, (d, s, w, p), action, after) in rows {
        let got = h.decide(&view(t, users, d, s, w, p));
        assert_eq!(
            (got.action, got.capacity_after),
            (action, after),
            "t = {t} s: {}",
            got.explanation
        );
    }
}

#[test]
fn hpa_syncs_every_15_s_within_tolerance_and_limits_scale_up() {
    run_hpa(&[
        // 52.5 per pod: ratio 1.05, within 10 % tolerance.
        (0, 210.0, (4, 4, 0, 0), Action::None, 4),
        // 75 per pod, but no sync before 15 s.
        (5, 300.0, (4, 4, 0, 0), Action::None, 4),
        // ceil(300 / 50) = 6.
        (15, 300.0, (4, 4, 0, 0), Action::ScaleOut, 6),
        // 2 not ready: counted as 0, 300 / (6 × 50) = 1.0: within tolerance.
        (30, 300.0, (6, 4, 2, 2), Action::None, 6),
        // 1000 users: ceil(1000 / 50) = 20, limited to max(2 × 6, 6 + 4) = 12.
        (45, 1000.0, (6, 6, 0, 0), Action::ScaleOut, 12),
    ]);
    // With 2 instances: max(+4, +100 %) = 6.
    run_hpa(&[(0, 1000.0, (2, 2, 0, 0), Action::ScaleOut, 6)]);
}

#[test]
fn hpa_scale_down_waits_for_the_300_s_stabilisation_window() {
    run_hpa(&[
        (0, 300.0, (6, 6, 0, 0), Action::None, 6),
        // 100 users: 2 recommended, but 6 was recommended within the last 300 s.
        (15, 100.0, (6, 6, 0, 0), Action::None, 6),
        (285, 100.0, (6, 6, 0, 0), Action::None, 6),
        (300, 100.0, (6, 6, 0, 0), Action::ScaleIn, 2),
    ]);
}
