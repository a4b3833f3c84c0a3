//! Property tests as loops over generated inputs (a fixed-seed xorshift, no extra crates).

use super::types::step;
use super::*;

/// xorshift64*: deterministic, good enough to spread test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next() % u64::from(hi - lo + 1)) as u32
    }
    fn float(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

fn change_policies(out_threshold: f64, in_threshold: f64) -> Policies {
    Policies::local_default()
        .changed(|p| {
            p.scale_out.adjustment_type = AdjustmentType::ChangeInCapacity;
            p.scale_out.min_adjustment_magnitude = None;
            p.scale_out.steps = vec![step(Some(0.0), None, 1)];
            p.scale_out.alarm.threshold = out_threshold;
            p.scale_in.alarm.threshold = in_threshold;
            p.scale_in.alarm.evaluation_periods = 1;
            p.scale_in.alarm.datapoints_to_alarm = None;
        })
        .expect("generated policies are valid")
}

fn policies_under_test(rng: &mut Rng) -> Policies {
    match rng.range(0, 2) {
        0 => Policies::local_default(),
        1 => {
            let t_in = rng.float(1.0, 50.0);
            change_policies(t_in * rng.float(2.01, 5.0), t_in)
        }
        _ => {
            let exact = rng.range(0, 40) as i32;
            Policies::local_default()
                .changed(|p| {
                    p.scale_out.adjustment_type = AdjustmentType::ExactCapacity;
                    p.scale_out.min_adjustment_magnitude = None;
                    p.scale_out.steps = vec![step(Some(0.0), None, exact)];
                    p.scale_in.alarm.evaluation_periods = 2;
                    p.scale_in.alarm.datapoints_to_alarm = Some(1);
                })
                .expect("generated policies are valid")
        }
    }
}

#[test]
fn decisions_never_leave_min_max_and_agree_with_their_action() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..5_000 {
        let policies = policies_under_test(&mut rng);
        let mut engine = Engine::new(policies);
        let min = rng.range(0, 5);
        let max = rng.range(min, min + 30);
        for tick in 0..rng.range(1, 6) {
            let desired = rng.range(min.saturating_sub(2), max + 2);
            let in_service = rng.range(0, desired);
            let warming = rng.range(0, desired - in_service);
            let fleet = FleetState {
                min,
                max,
                desired,
                in_service,
                warming,
            };
            let value = match rng.range(0, 9) {
                0 => None,
                _ => Some(rng.float(0.0, 200.0)),
            };
            let sample = MetricSample {
                concurrent_users_per_instance: value,
                stale: rng.range(0, 9) == 0,
                ..MetricSample::default()
            };
            let d = engine.tick(u64::from(tick) * 5_000, &sample, &fleet);
            let after = d.capacity_after;
            assert!(
                (min..=max).contains(&after),
                "case {case}: {fleet:?} → {d:#?}"
            );
            match d.action {
                Action::None => assert_eq!(after, desired, "case {case}: {d:#?}"),
                Action::ScaleOut => assert!(after > desired, "case {case}: {d:#?}"),
                Action::ScaleIn => {
                    assert!(after < desired, "case {case}: {d:#?}");
                    let bad = sample.stale || value.is_none();
                    assert!(
                        !bad || d.reason == Reason::OutOfBounds,
                        "case {case}: {d:#?}"
                    );
                    assert!(warming == 0 || d.reason == Reason::OutOfBounds, "{d:#?}");
                }
            }
        }
    }
}

#[test]
fn a_constant_metric_between_the_thresholds_never_scales() {
    let mut rng = Rng(42);
    for case in 0..2_000 {
        let policies = policies_under_test(&mut rng);
        let (lo, hi) = (
            policies.scale_in().alarm().threshold,
            policies.scale_out().alarm().threshold,
        );
        let value = rng.float(lo, hi);
        if value <= lo || value >= hi {
            continue;
        }
        let mut engine = Engine::new(policies);
        let min = rng.range(0, 5);
        let max = rng.range(min, min + 30);
        let desired = rng.range(min, max);
        let fleet = FleetState {
            min,
            max,
            desired,
            in_service: desired,
            warming: 0,
        };
        for tick in 0..50u64 {
            let sample = MetricSample {
                concurrent_users_per_instance: Some(value),
                ..MetricSample::default()
            };
            let d = engine.tick(tick * 5_000, &sample, &fleet);
            assert_eq!(d.action, Action::None, "case {case} tick {tick}: {d:#?}");
        }
    }
}

/// Closed loop: constant users, users-per-instance falls as capacity rises, new instances
/// warm for a few ticks. With thresholds far enough apart for the steps, the fleet moves in
/// one direction only and then settles.
#[test]
fn constant_users_never_oscillate() {
    let mut rng = Rng(7);
    for case in 0..1_000 {
        let policies = match rng.range(0, 1) {
            0 => Policies::local_default(),
            _ => {
                let t_in = rng.float(1.0, 50.0);
                change_policies(t_in * rng.float(2.01, 5.0), t_in)
            }
        };
        let mut engine = Engine::new(policies);
        let users = f64::from(rng.range(0, 5_000));
        let (min, max) = (1, 200);
        let mut desired = rng.range(min, 60);
        // Instances by the tick at which they finish warming.
        let mut ready_at: Vec<u64> = vec![0; desired as usize];
        let mut directions = Vec::new();
        for tick in 0..800u64 {
            let in_service = ready_at.iter().filter(|&&r| r <= tick).count() as u32;
            let fleet = FleetState {
                min,
                max,
                desired,
                in_service,
                warming: desired - in_service,
            };
            let per = (in_service > 0).then(|| users / f64::from(in_service));
            let sample = MetricSample {
                concurrent_users_per_instance: per,
                ..MetricSample::default()
            };
            let d = engine.tick(tick * 5_000, &sample, &fleet);
            if d.action != Action::None && directions.last() != Some(&d.action) {
                directions.push(d.action);
            }
            assert!(
                tick < 700 || d.action == Action::None,
                "case {case} tick {tick} users {users}: not settled: {}",
                d.explanation
            );
            while (ready_at.len() as u32) < d.capacity_after {
                ready_at.push(tick + 3);
            }
            ready_at.sort_unstable();
            ready_at.truncate(d.capacity_after as usize);
            desired = d.capacity_after;
        }
        assert!(
            directions.len() <= 1,
            "case {case}: users {users}: {directions:?}"
        );
    }
}

/// Raw steps on one side of a threshold, most of them valid (contiguous from the threshold
/// to ±∞, in any order) and some not (a gap, an overlap, a missing open end, a bound off the
/// threshold, a non-finite bound), for `Policies::new` to sort out.
fn raw_steps(rng: &mut Rng, scale_out: bool) -> Vec<StepAdjustment> {
    let n = rng.range(1, 6) as usize;
    let mut cuts = vec![0.0];
    for _ in 1..n {
        let last = cuts[cuts.len() - 1];
        cuts.push(last + rng.float(0.001, 50.0));
    }
    let mut steps: Vec<StepAdjustment> = (0..n)
        .map(|i| {
            let (lo, hi) = (cuts[i], cuts.get(i + 1).copied());
            if scale_out {
                step(Some(lo), hi, rng.range(0, 5) as i32)
            } else {
                step(hi.map(|h| -h), Some(-lo), -(rng.range(0, 5) as i32))
            }
        })
        .collect();
    match rng.range(0, 9) {
        0 => steps[rng.range(0, n as u32 - 1) as usize].lower_bound = Some(rng.float(-60.0, 60.0)),
        1 => steps[rng.range(0, n as u32 - 1) as usize].upper_bound = Some(rng.float(-60.0, 60.0)),
        2 => steps[rng.range(0, n as u32 - 1) as usize].upper_bound = Some(f64::INFINITY),
        3 => steps[rng.range(0, n as u32 - 1) as usize].lower_bound = None,
        _ => {}
    }
    for i in (1..n).rev() {
        steps.swap(i, rng.range(0, i as u32) as usize);
    }
    steps
}

/// Validation's promise, which `StepPolicy::step_for` rests on: whatever raw steps are given,
/// policies that build put every breaching value (the threshold itself, values a hair
/// beyond it, ±∞, and distances that overflow) in exactly one step, and `step_for` finds it.
#[test]
fn every_breaching_value_falls_in_exactly_one_step_of_valid_policies() {
    let mut rng = Rng(99);
    let (mut built, mut refused) = (0, 0);
    for case in 0..20_000 {
        let t_out = rng.float(-1e3, 1e3);
        let t_in = t_out - rng.float(1.0, 1e3);
        let (out_steps, in_steps) = (raw_steps(&mut rng, true), raw_steps(&mut rng, false));
        let greater = [
            Comparison::GreaterThanOrEqualToThreshold,
            Comparison::GreaterThanThreshold,
        ][rng.range(0, 1) as usize];
        let less = [
            Comparison::LessThanOrEqualToThreshold,
            Comparison::LessThanThreshold,
        ][rng.range(0, 1) as usize];
        let changed = Policies::local_default().changed(|p| {
            p.scale_out.adjustment_type = AdjustmentType::ChangeInCapacity;
            p.scale_out.min_adjustment_magnitude = None;
            (p.scale_out.steps, p.scale_in.steps) = (out_steps, in_steps);
            (p.scale_out.alarm.threshold, p.scale_in.alarm.threshold) = (t_out, t_in);
            (p.scale_out.alarm.comparison, p.scale_in.alarm.comparison) = (greater, less);
        });
        let Ok(p) = changed else {
            refused += 1;
            continue;
        };
        built += 1;
        for policy in [p.scale_out(), p.scale_in()] {
            let a = policy.alarm();
            let t = a.threshold;
            let near = [
                t,
                t.next_up(),
                t.next_down(),
                t + rng.float(-1.0, 1.0),
                t + rng.float(-1e4, 1e4),
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MAX,
                f64::MIN,
                f64::NAN,
            ];
            for v in near {
                let above = a.comparison.is_greater();
                let hits: Vec<_> = policy
                    .steps()
                    .iter()
                    .filter(|s| s.matches(v, t, above))
                    .collect();
                if a.comparison.breaches(v, t) {
                    assert_eq!(hits.len(), 1, "case {case}: {v} in {policy:#?}");
                }
                // At most one step, and `step_for` finds it (a value on the other side of
                // the threshold, or NaN, may have none: the engine's `no_step`).
                assert!(hits.len() <= 1, "case {case}: {v} in {policy:#?}");
                assert_eq!(
                    policy.step_for(v),
                    hits.first().copied(),
                    "case {case}: {v}"
                );
            }
        }
    }
    // Both kinds of input were exercised.
    assert!(
        built > 5_000 && refused > 2_000,
        "{built} built, {refused} refused"
    );
}
