//! Alarm state: samples → per-period datapoints → M-of-N evaluation. Pure; time is an argument.
//!
//! Periods are anchored at the first sample, which sits in the middle of period 0, so samples
//! taken once per period land one per period even when the tick jitters by up to half a
//! period. The newest period counts as soon as it holds a sample (see the module docs of
//! `policy`). Memory is bounded: at most `evaluation_periods` buckets are kept.

use std::collections::VecDeque;

use super::policies::Policies;
use super::types::{Alarm, MetricName, Statistic};

/// This tick's fleet metrics, as the aggregation produced them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MetricSample {
    pub concurrent_users_per_instance: Option<f64>,
    pub concurrent_users: Option<f64>,
    pub requests_per_second: Option<f64>,
    pub log_events_per_second: Option<f64>,
    /// True when the figures are too old to act on (e.g. no fresh load report arrived):
    /// the alarms then see a missing sample.
    pub stale: bool,
}

impl MetricSample {
    /// The raw figure for `metric` (whatever `stale` says).
    pub fn get(&self, metric: MetricName) -> Option<f64> {
        match metric {
            MetricName::ConcurrentUsersPerInstance => self.concurrent_users_per_instance,
            MetricName::ConcurrentUsers => self.concurrent_users,
            MetricName::RequestsPerSecond => self.requests_per_second,
            MetricName::LogEventsPerSecond => self.log_events_per_second,
        }
    }

    /// The figure the alarms may use: `None` when stale, missing or not finite.
    pub fn usable(&self, metric: MetricName) -> Option<f64> {
        if self.stale {
            return None;
        }
        self.get(metric).filter(|v| v.is_finite())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    period: i64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Bucket {
    fn value(&self, statistic: Statistic) -> f64 {
        match statistic {
            Statistic::Average => self.sum / self.count as f64,
            Statistic::Minimum => self.min,
            Statistic::Maximum => self.max,
            Statistic::Sum => self.sum,
            Statistic::SampleCount => self.count as f64,
        }
    }
}

/// What one alarm says at a point in time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlarmEval {
    /// The newest datapoint (this period's statistic), if this period has a sample.
    pub value: Option<f64>,
    /// Breaching datapoints among the last `of` periods.
    pub breaching: u32,
    /// Periods among the last `of` that have a datapoint at all.
    pub present: u32,
    /// M.
    pub needed: u32,
    /// N.
    pub of: u32,
    /// `breaching >= needed`.
    pub in_alarm: bool,
}

/// One alarm's memory of recent periods.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmState {
    alarm: Alarm,
    period_ms: i64,
    anchor_ms: Option<i64>,
    buckets: VecDeque<Bucket>,
}

impl AlarmState {
    pub fn new(alarm: &Alarm) -> AlarmState {
        AlarmState {
            alarm: alarm.clone(),
            period_ms: alarm.period_ms() as i64,
            anchor_ms: None,
            buckets: VecDeque::with_capacity(alarm.evaluation_periods as usize),
        }
    }

    pub fn alarm(&self) -> &Alarm {
        &self.alarm
    }

    fn period_of(&self, now_ms: u64) -> Option<i64> {
        let anchor = self.anchor_ms?;
        let rel = now_ms as i64 - anchor;
        (rel >= 0).then(|| rel / self.period_ms)
    }

    /// Feeds one sample taken at `now_ms`; `None` (or a non-finite value) is a missing sample.
    /// A sample older than the newest period is ignored.
    pub fn observe(&mut self, now_ms: u64, value: Option<f64>) {
        if self.anchor_ms.is_none() {
            self.anchor_ms = Some(now_ms as i64 - self.period_ms / 2);
        }
        let Some(k) = self.period_of(now_ms) else {
            return;
        };
        self.trim(k);
        let Some(v) = value.filter(|v| v.is_finite()) else {
            return;
        };
        match self.buckets.back_mut() {
            Some(b) if b.period == k => {
                b.count += 1;
                b.sum += v;
                b.min = b.min.min(v);
                b.max = b.max.max(v);
            }
            Some(b) if b.period > k => {}
            _ => self.buckets.push_back(Bucket {
                period: k,
                count: 1,
                sum: v,
                min: v,
                max: v,
            }),
        }
    }

    /// Drops the periods that fell out of the evaluation window ending at period `k`.
    fn trim(&mut self, k: i64) {
        let n = i64::from(self.alarm.evaluation_periods);
        while self.buckets.front().is_some_and(|b| b.period + n <= k) {
            self.buckets.pop_front();
        }
    }

    /// The alarm's verdict at `now_ms` over the last N periods (the current one included).
    pub fn evaluate(&self, now_ms: u64) -> AlarmEval {
        let needed = self.alarm.datapoints_needed();
        let of = self.alarm.evaluation_periods;
        let mut eval = AlarmEval {
            value: None,
            breaching: 0,
            present: 0,
            needed,
            of,
            in_alarm: false,
        };
        let Some(k) = self.period_of(now_ms) else {
            return eval;
        };
        let n = i64::from(of);
        for b in self
            .buckets
            .iter()
            .filter(|b| b.period <= k && b.period + n > k)
        {
            let v = b.value(self.alarm.statistic);
            eval.present += 1;
            if self.alarm.comparison.breaches(v, self.alarm.threshold) {
                eval.breaching += 1;
            }
            if b.period == k {
                eval.value = Some(v);
            }
        }
        eval.in_alarm = eval.breaching >= needed;
        eval
    }
}

/// Whether this tick's sample for a policy's metric could be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleStatus {
    Fresh,
    Stale,
    Missing,
}

/// Both policies' alarms, plus what the latest sample looked like.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarms {
    pub scale_out: AlarmState,
    pub scale_in: AlarmState,
    last: Option<(u64, SampleStatus, SampleStatus)>,
}

impl Alarms {
    pub fn new(policies: &Policies) -> Alarms {
        Alarms {
            scale_out: AlarmState::new(policies.scale_out().alarm()),
            scale_in: AlarmState::new(policies.scale_in().alarm()),
            last: None,
        }
    }

    /// Feeds this tick's metrics to both alarms.
    pub fn observe(&mut self, now_ms: u64, sample: &MetricSample) {
        let status = |m: MetricName| match (sample.stale, sample.usable(m)) {
            (true, _) => SampleStatus::Stale,
            (false, Some(_)) => SampleStatus::Fresh,
            (false, None) => SampleStatus::Missing,
        };
        let out_metric = self.scale_out.alarm.metric;
        let in_metric = self.scale_in.alarm.metric;
        self.scale_out.observe(now_ms, sample.usable(out_metric));
        self.scale_in.observe(now_ms, sample.usable(in_metric));
        self.last = Some((now_ms, status(out_metric), status(in_metric)));
    }

    /// Feeds one ready-made datapoint to each alarm (`None`: missing), for a model that
    /// aggregates periods itself (the simulator's model of CloudWatch alarms).
    pub fn observe_each(&mut self, now_ms: u64, scale_out: Option<f64>, scale_in: Option<f64>) {
        let status = |v: Option<f64>| match v.filter(|v| v.is_finite()) {
            Some(_) => SampleStatus::Fresh,
            None => SampleStatus::Missing,
        };
        self.scale_out.observe(now_ms, scale_out);
        self.scale_in.observe(now_ms, scale_in);
        self.last = Some((now_ms, status(scale_out), status(scale_in)));
    }

    /// The status of the sample observed exactly at `now_ms` for (scale-out, scale-in);
    /// `Missing` for both when nothing was observed at `now_ms`.
    pub fn sample_status(&self, now_ms: u64) -> (SampleStatus, SampleStatus) {
        match self.last {
            Some((at, out, inn)) if at == now_ms => (out, inn),
            _ => (SampleStatus::Missing, SampleStatus::Missing),
        }
    }
}
