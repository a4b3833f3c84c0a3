//! The `native` model: the config's own step policies as EC2 Auto Scaling runs them, on
//! CloudWatch alarms over the metrics the controller publishes every tick. Pure.
//!
//! Documented behaviour modelled (sources: CloudWatch "Using Amazon CloudWatch alarms",
//! high-resolution alarms; EC2 Auto Scaling "Step and simple scaling policies", instance
//! warmup):
//!
//! - **Periods.** An alarm's period is 10 s or 30 s (high-resolution metrics) or a multiple of
//!   60 s ([`native_period_ms`] rounds a config's period up to the next of these). Periods are
//!   aligned to the clock; a period's datapoint (the alarm's statistic over the samples
//!   published in it) exists once the period has ended, and the alarm is evaluated then: on
//!   period boundaries, not every tick. A period with no sample is missing, and missing data
//!   is treated as not breaching (native mode's alarms never scale in on missing data).
//! - **M of N** over the last N datapoints, as the controller's own engine does.
//! - **Invocation.** The policy runs when its alarm goes to ALARM, and again at every
//!   evaluation while it stays there (Auto Scaling re-evaluates the alarm each period).
//! - **Warmup.** Instances still warming do not count toward the current capacity for the next
//!   step adjustment, and their metrics are not aggregated (the controller's per-instance
//!   figure already leaves them out); breaches within the same step while they warm add
//!   nothing more (AWS's worked example). Scale-in waits for warmup to end.
//!
//! A hazard this shows: the controller publishes users per *settled* instance, which runs
//! high while new instances warm (they serve users but do not count). A period that ends as
//! their warmup ends is evaluated against the new, larger current capacity, so a large
//! percent step applies the stale figure to it (built-in `spike`: 1 → 8, then 8 → 40 one
//! period later). The controller, evaluating the tick's own figure, does not.
//!
//! The adjustment itself (steps, rounding, MinAdjustmentMagnitude, min/max) is the policy
//! engine's `evaluate`, which has AWS's semantics; what differs from controller mode is only
//! when it is called and with which datapoints, and that no settling or stale-data holds
//! apply (AWS has none).

use crate::policy::{Alarms, Decision, Policies, Reason, Statistic, evaluate};

use super::baseline::{Periods, View, hold};

/// A config period (seconds) as a CloudWatch alarm period: 10, 30, or a multiple of 60 s.
pub fn native_period_ms(period_secs: f64) -> u64 {
    let s = period_secs.max(0.0).ceil() as u64;
    match s {
        0..=10 => 10_000,
        11..=30 => 30_000,
        _ => s.div_ceil(60) * 60_000,
    }
}

/// The native model's state: both alarms' periods and M-of-N memory.
#[derive(Debug, Clone)]
pub struct Native {
    /// The config's policies with the alarms' periods as AWS would run them; the alarms see
    /// one ready-made datapoint per period, so their statistic is the identity (Average).
    policies: Policies,
    alarms: Alarms,
    out: Periods,
    inn: Periods,
}

impl Native {
    pub fn new(policies: &Policies) -> Native {
        let (out_ms, in_ms) = (
            native_period_ms(policies.scale_out().alarm().period_secs),
            native_period_ms(policies.scale_in().alarm().period_secs),
        );
        let out = Periods::new(out_ms, policies.scale_out().alarm().statistic);
        let inn = Periods::new(in_ms, policies.scale_in().alarm().statistic);
        let p = policies.with_alarm_periods(out_ms, in_ms, Statistic::Average);
        Native {
            alarms: Alarms::new(&p),
            policies: p,
            out,
            inn,
        }
    }

    /// The policies as the model runs them (periods rounded up).
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Feeds this tick's published figures; on a period boundary, evaluates the alarms and,
    /// for one in ALARM, invokes its policy.
    pub fn decide(&mut self, v: &View) -> Decision {
        let out_metric = self.policies.scale_out().alarm().metric;
        let in_metric = self.policies.scale_in().alarm().metric;
        let out = self.out.push(v.now_ms, v.sample.usable(out_metric));
        let inn = self.inn.push(v.now_ms, v.sample.usable(in_metric));
        // The two alarms may have different periods; whichever closed is evaluated (the
        // other one keeps its last state, and an alarm not evaluated now is not in ALARM
        // for this invocation: its datapoint is missing at this instant).
        let at = match (out, inn) {
            (None, None) => {
                return hold(
                    &v.fleet,
                    Reason::WithinBand,
                    None,
                    "native: between alarm evaluations".into(),
                );
            }
            (Some((a, _)), _) | (None, Some((a, _))) => a,
        };
        let dp =
            |c: Option<(u64, Option<f64>)>| c.and_then(|(b, v)| (b == at).then_some(v).flatten());
        self.alarms.observe_each(at, dp(out), dp(inn));
        let mut d = evaluate(&self.policies, &v.fleet, &self.alarms, at);
        d.explanation = format!(
            "native (alarm evaluated at its period's end): {}",
            d.explanation
        );
        d
    }
}

#[cfg(test)]
#[path = "native_tests.rs"]
mod tests;
