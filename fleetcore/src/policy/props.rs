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
    let mut p = Policies::local_default();
    p.scale_out.adjustment_type = AdjustmentType::ChangeInCapacity;
    p.scale_out.min_adjustment_magnitude = None;
    p.scale_out.steps = vec![step(Some(0.0), None, 1)];
    p.scale_out.alarm.threshold = out_threshold;
    p.scale_in.alarm.threshold = in_threshold;
    p.scale_in.alarm.evaluation_periods = 1;
    p.scale_in.alarm.datapoints_to_alarm = None;
    p
}

fn policies_under_test(rng: &mut Rng) -> Policies {
    match rng.range(0, 2) {
        0 => Policies::local_default(),
        1 => {
            let t_in = rng.float(1.0, 50.0);
            change_policies(t_in * rng.float(2.01, 5.0), t_in)
        }
        _ => {
            let mut p = Policies::local_default();
            p.scale_out.adjustment_type = AdjustmentType::ExactCapacity;
            p.scale_out.min_adjustment_magnitude = None;
            p.scale_out.steps = vec![step(Some(0.0), None, rng.range(0, 40) as i32)];
            p.scale_in.alarm.evaluation_periods = 2;
            p.scale_in.alarm.datapoints_to_alarm = Some(1);
            p
        }
    }
}

#[test]
fn decisions_never_leave_min_max_and_agree_with_their_action() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..5_000 {
        let policies = policies_under_test(&mut rng);
        policies.validate().expect("generated policies are valid");
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
            policies.scale_in.alarm.threshold,
            policies.scale_out.alarm.threshold,
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

#[test]
fn a_breaching_value_always_finds_a_step() {
    let mut rng = Rng(99);
    for case in 0..20_000 {
        let p = policies_under_test(&mut rng);
        for policy in [&p.scale_out, &p.scale_in] {
            let a = &policy.alarm;
            // Values around the threshold, the threshold itself included.
            let v = match rng.range(0, 3) {
                0 => a.threshold,
                1 => a.threshold + rng.float(-1.0, 1.0),
                _ => a.threshold + rng.float(-100.0, 100.0),
            };
            if a.comparison.breaches(v, a.threshold) {
                assert!(
                    policy.step_for(v).is_some(),
                    "case {case}: {v} in {policy:#?}"
                );
            }
        }
    }
}
