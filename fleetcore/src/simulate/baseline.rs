//! What decides the capacity in a run: the controller itself ([`Model::Controller`], the
//! daemon's tick core) or a model of another autoscaler, run on the same trace, fleet, boot
//! and warmup model, and fed the same aggregated figures. Pure; time is an argument.
//!
//! The baselines are models of documented behaviour, not the real systems:
//!
//! - `aws-target-tracking` ([`TargetTracking`]): the two CloudWatch alarms EC2 Auto Scaling
//!   creates for a target-tracking policy on `ConcurrentUsersPerInstance` with target `T`:
//!   high = `> T` for 3 of 3 one-minute datapoints, low = `< 0.9 T` for 15 of 15 (AWS, "Target
//!   tracking scaling policies for Amazon EC2 Auto Scaling", and the alarms it shows for such
//!   a policy). The metric is an EC2-style per-instance average over the settled instances:
//!   with traffic spread evenly, users / instances serving (not the controller's
//!   users / settled instances, which runs high while instances warm). While an alarm is in
//!   ALARM the policy is invoked every minute and sets the capacity proportionally,
//!   `ceil(current × metric / T)`, where `current` is the settled (non-warming) capacity;
//!   scale-out never goes below the capacity already on its way, scale-in waits for warmup
//!   to end ("instances that are warming up are not counted ...").
//! - `hpa` ([`Hpa`]): the Kubernetes Horizontal Pod Autoscaler with its defaults (Kubernetes
//!   docs, "Horizontal Pod Autoscaling": algorithm details and default behaviour): sync every
//!   15 s; `desired = ceil(current × metric / target)` over ready pods (serving instances),
//!   nothing done within 10 % tolerance; not-ready pods count as 0 for a scale-up; scale-down
//!   takes the highest recommendation of the last 300 s (stabilisation window); scale-up is
//!   limited to `max(+4 pods, +100 %)` per 15 s period (the documented default `behavior`;
//!   the "per 60 s" was the pre-1.18 rule: we follow the current docs).
//! - `native` ([`super::native::Native`]): the config's own step policies as EC2 Auto
//!   Scaling and CloudWatch would run them (`[policies] mode = "native"`).
//!
//! Both TT and HPA track users per instance at `target` (the simulator's
//! `--baseline-target`, default the scale-out threshold).

use std::collections::VecDeque;

use crate::policy::{Action, Alarm, AlarmState, Comparison, Decision, FleetState, MetricName};
use crate::policy::{MetricSample, Reason, Statistic};

use super::native::Native;

/// Who decides in a run. A config with `mode = "native"` simulates with [`Model::Native`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// The controller's own tick core (the daemon's decisions).
    Controller,
    /// The config's policies run by AWS (alarms on period boundaries).
    Native,
    /// AWS target tracking on users per instance.
    TargetTracking,
    /// Kubernetes' HPA defaults on users per instance.
    Hpa,
}

impl Model {
    /// The baseline names `--compare` accepts.
    pub const BASELINES: [&str; 3] = ["aws-target-tracking", "hpa", "native"];

    pub fn name(self) -> &'static str {
        match self {
            Model::Controller => "controller",
            Model::Native => "native",
            Model::TargetTracking => "aws-target-tracking",
            Model::Hpa => "hpa",
        }
    }

    /// A baseline by its `--compare` name.
    pub fn baseline(name: &str) -> Option<Model> {
        match name {
            "aws-target-tracking" => Some(Model::TargetTracking),
            "hpa" => Some(Model::Hpa),
            "native" => Some(Model::Native),
            _ => None,
        }
    }
}

/// What a model sees at a tick (the figures the controller's aggregation made).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub now_ms: u64,
    /// Bounds, desired, settled (`in_service`) and warming counts.
    pub fleet: FleetState,
    /// Instances in service, warming included (HPA's ready pods).
    pub serving: u32,
    /// Instances launched but not in service yet (HPA's not-ready pods).
    pub pending: u32,
    pub sample: MetricSample,
}

/// A decision that does nothing, with `why`.
pub fn hold(
    fleet: &FleetState,
    reason: Reason,
    metric_value: Option<f64>,
    why: String,
) -> Decision {
    Decision {
        action: Action::None,
        reason,
        policy: None,
        metric: MetricName::ConcurrentUsersPerInstance,
        metric_value,
        threshold: None,
        step: None,
        step_label: None,
        adjustment: None,
        capacity_before: fleet.desired,
        capacity_after: fleet.desired,
        explanation: why,
    }
}

/// A decision setting `after` (clamped to the bounds) by `policy`.
fn set(
    fleet: &FleetState,
    policy: &str,
    value: f64,
    target: f64,
    after: u32,
    why: String,
) -> Decision {
    let after = after.clamp(fleet.min, fleet.max.max(fleet.min));
    let before = fleet.desired;
    let action = match after.cmp(&before) {
        std::cmp::Ordering::Greater => Action::ScaleOut,
        std::cmp::Ordering::Less => Action::ScaleIn,
        std::cmp::Ordering::Equal => Action::None,
    };
    Decision {
        action,
        reason: if action == Action::None {
            Reason::AlreadyAtTarget
        } else {
            Reason::Scaled
        },
        policy: Some(policy.into()),
        threshold: Some(target),
        adjustment: Some(i64::from(after) - i64::from(before)),
        capacity_after: after,
        explanation: format!("{why}: desired {before} → {after}"),
        ..hold(fleet, Reason::Scaled, Some(value), String::new())
    }
}

/// Sums one metric's per-tick values over fixed periods aligned to the clock, as CloudWatch
/// does: a period's datapoint is ready once the period has ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Periods {
    period_ms: u64,
    statistic: Statistic,
    current: Option<u64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Periods {
    pub fn new(period_ms: u64, statistic: Statistic) -> Periods {
        Periods {
            period_ms: period_ms.max(1),
            statistic,
            current: None,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Feeds the value at `now_ms` (`None`: no datapoint published). Returns the datapoint
    /// of the period that ended at or before `now_ms`, if one did since the last call:
    /// `(its end, its statistic, or None when it had no samples)`. Periods wholly skipped
    /// (no tick fell in them) are missing datapoints and are not returned.
    pub fn push(&mut self, now_ms: u64, value: Option<f64>) -> Option<(u64, Option<f64>)> {
        let k = now_ms / self.period_ms;
        let mut closed = None;
        match self.current {
            Some(c) if c < k => {
                let v = (self.count > 0).then(|| match self.statistic {
                    Statistic::Average => self.sum / self.count as f64,
                    Statistic::Minimum => self.min,
                    Statistic::Maximum => self.max,
                    Statistic::Sum => self.sum,
                    Statistic::SampleCount => self.count as f64,
                });
                closed = Some(((c + 1) * self.period_ms, v));
                *self = Periods::new(self.period_ms, self.statistic);
                self.current = Some(k);
            }
            None => self.current = Some(k),
            _ => {}
        }
        if let Some(v) = value.filter(|v| v.is_finite()) {
            self.count += 1;
            self.sum += v;
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        closed
    }
}

/// The state a run's decider keeps between ticks.
#[derive(Debug, Clone)]
pub enum Baseline {
    Native(Box<Native>),
    TargetTracking(TargetTracking),
    Hpa(Hpa),
}

impl Baseline {
    pub fn decide(&mut self, v: &View) -> Decision {
        match self {
            Baseline::Native(n) => n.decide(v),
            Baseline::TargetTracking(t) => t.decide(v),
            Baseline::Hpa(h) => h.decide(v),
        }
    }
}

/// The AWS target-tracking model (see the module docs).
#[derive(Debug, Clone)]
pub struct TargetTracking {
    target: f64,
    periods: Periods,
    high: AlarmState,
    low: AlarmState,
}

impl TargetTracking {
    pub fn new(target: f64) -> TargetTracking {
        let alarm = |threshold, comparison, n| Alarm {
            metric: MetricName::ConcurrentUsersPerInstance,
            statistic: Statistic::Average,
            threshold,
            comparison,
            period_secs: 60.0,
            evaluation_periods: n,
            datapoints_to_alarm: Some(n),
        };
        TargetTracking {
            target,
            periods: Periods::new(60_000, Statistic::Average),
            high: AlarmState::new(&alarm(target, Comparison::GreaterThanThreshold, 3)),
            low: AlarmState::new(&alarm(0.9 * target, Comparison::LessThanThreshold, 15)),
        }
    }

    pub fn decide(&mut self, v: &View) -> Decision {
        let f = &v.fleet;
        let per = v
            .sample
            .usable(MetricName::ConcurrentUsers)
            .filter(|_| v.serving > 0)
            .map(|u| u / f64::from(v.serving));
        let Some((at, dp)) = self.periods.push(v.now_ms, per) else {
            return hold(
                f,
                Reason::WithinBand,
                None,
                "between one-minute evaluations".into(),
            );
        };
        self.high.observe(at, dp);
        self.low.observe(at, dp);
        let (high, low) = (self.high.evaluate(at), self.low.evaluate(at));
        let Some(value) = dp else {
            return hold(f, Reason::NoData, None, "no datapoint this minute".into());
        };
        let wanted = (f64::from(f.in_service) * value / self.target)
            .ceil()
            .max(0.0) as u32;
        let t = self.target;
        if high.in_alarm {
            let why = format!(
                "target tracking: {value:.1} > {t} for 3 of 3 minutes: ceil({} × {value:.1} / {t}) = {wanted}",
                f.in_service
            );
            return set(
                f,
                "aws-target-tracking",
                value,
                t,
                wanted.max(f.desired),
                why,
            );
        }
        if low.in_alarm {
            if f.warming > 0 {
                return hold(
                    f,
                    Reason::WarmingUp,
                    Some(value),
                    "scale-in waits for warmup".into(),
                );
            }
            let why = format!(
                "target tracking: {value:.1} < {:.1} for 15 of 15 minutes: ceil({} × {value:.1} / {t}) = {wanted}",
                0.9 * t,
                f.in_service
            );
            return set(
                f,
                "aws-target-tracking",
                value,
                t,
                wanted.min(f.desired),
                why,
            );
        }
        hold(
            f,
            Reason::NotEnoughDatapoints,
            Some(value),
            "no target-tracking alarm in ALARM".into(),
        )
    }
}

/// The Kubernetes HPA model (see the module docs).
#[derive(Debug, Clone)]
pub struct Hpa {
    target: f64,
    next_sync_ms: Option<u64>,
    /// `(time, recommendation)` within the scale-down stabilisation window.
    recent: VecDeque<(u64, u32)>,
}

/// HPA defaults (Kubernetes docs).
pub const HPA_SYNC_MS: u64 = 15_000;
pub const HPA_TOLERANCE: f64 = 0.1;
pub const HPA_DOWN_WINDOW_MS: u64 = 300_000;
pub const HPA_UP_PODS: u32 = 4;

impl Hpa {
    pub fn new(target: f64) -> Hpa {
        Hpa {
            target,
            next_sync_ms: None,
            recent: VecDeque::new(),
        }
    }

    pub fn decide(&mut self, v: &View) -> Decision {
        let f = &v.fleet;
        let due = self.next_sync_ms.is_none_or(|n| v.now_ms >= n);
        if !due {
            return hold(f, Reason::WithinBand, None, "between HPA syncs".into());
        }
        self.next_sync_ms = Some(v.now_ms + HPA_SYNC_MS);
        let users = v.sample.usable(MetricName::ConcurrentUsers);
        let (Some(users), true) = (users, v.serving > 0) else {
            return hold(f, Reason::NoData, None, "no metrics from ready pods".into());
        };
        let t = self.target;
        let ready = f64::from(v.serving);
        let value = users / ready;
        let ratio = value / t;
        let current = f.desired;
        let mut rec = current;
        if (ratio - 1.0).abs() > HPA_TOLERANCE {
            // Not-ready pods count as 0 for a scale-up, which may bring it within tolerance.
            let all = ready + f64::from(v.pending);
            let up_ratio = users / (all * t);
            if !(ratio > 1.0 && v.pending > 0 && up_ratio <= 1.0 + HPA_TOLERANCE) {
                rec = (users / t).ceil() as u32;
            }
        }
        self.recent.push_back((v.now_ms, rec));
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| at + HPA_DOWN_WINDOW_MS <= v.now_ms)
        {
            self.recent.pop_front();
        }
        let stabilized = if rec >= current {
            rec
        } else {
            let highest = self.recent.iter().map(|r| r.1).max().unwrap_or(rec);
            highest.min(current)
        };
        let limit = (current * 2).max(current + HPA_UP_PODS);
        let after = stabilized.min(limit);
        let why = format!(
            "hpa: {value:.1} users per ready pod, target {t}: recommend {rec}, stabilised {stabilized}, \
             scale-up limit {limit}"
        );
        set(f, "hpa", value, t, after, why)
    }
}

#[cfg(test)]
#[path = "baseline_tests.rs"]
mod tests;
