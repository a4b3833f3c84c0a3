//! The step-scaling policy engine: pure, with EC2 Auto Scaling's documented semantics.
//!
//! Invariants (stated as absences): this module does no I/O, spawns nothing, reads no clock
//! (time is always an argument, Unix milliseconds) and knows no AWS SDK type.
//!
//! How it is used, once per tick:
//!
//! ```text
//! let policies = Policies::new(raw)?;               // the only way to a Policies: validated
//! let mut alarms = Alarms::new(&policies);          // once
//! alarms.observe(now_ms, &sample);                  // every tick: feed this tick's metrics
//! let d = evaluate(&policies, &fleet, &alarms, now_ms);   // → Decision (data)
//! // apply d.capacity_after when d.action != Action::None, record d.to_record(tick, now_ms)
//! ```
//!
//! Semantics (AWS "step scaling policies", with the deviations called out):
//!
//! - **Alarm.** Each policy has an alarm: metric, statistic, threshold, comparison, period,
//!   M-of-N (`datapoints_to_alarm` of `evaluation_periods`). Samples (one per tick) fall into
//!   periods of `period_secs`, anchored so that the first sample sits in the middle of its
//!   period (a tick that jitters by less than half a period stays in its own period). A
//!   period's datapoint is the statistic over its samples. The newest period counts as soon
//!   as it has a sample, so with `period = tick` every tick is one datapoint (CloudWatch
//!   would wait for the period to end: we trade that for reaction in seconds). A period
//!   without samples is missing; missing datapoints never breach (CloudWatch's
//!   `notBreaching`).
//! - **Steps.** Bounds are relative to the threshold (`t`). For a scale-out ("greater")
//!   alarm the value is above it and a step matches `t + lower <= value < t + upper`; for a
//!   scale-in ("less") alarm it is below and a step matches `t + lower < value <= t + upper`
//!   (so a value exactly on a `<=` threshold matches the step ending at 0). A missing lower
//!   bound is −∞, a missing upper bound +∞. The step is chosen with the newest datapoint.
//! - **Adjustment.** `ChangeInCapacity` adds the step's number; `ExactCapacity` sets it;
//!   `PercentChangeInCapacity` adds that percent of the current capacity, rounded as AWS does
//!   (> 1 down, (0, 1) → 1, (−1, 0) → −1, < −1 up) and then raised to
//!   `min_adjustment_magnitude` if smaller.
//! - **Current capacity** is the non-warming in-service count ([`FleetState::in_service`]).
//!   While instances warm up, a scale-out breach raises desired only to
//!   `max(desired, in_service + adjustment)` (AWS's worked example: 10 instances, +10 % at 60
//!   → 11; 62 while warming → still 11; 70 with +30 % → 13). A scale-in waits until no instance
//!   is warming.
//! - **Priority.** If both alarms are in ALARM, scale-out wins (AWS: "the policy that provides
//!   the largest capacity").
//! - **Bounds.** The result is always inside `[min, max]`; a desired capacity found outside is
//!   brought back in even without a breach (reason `out_of_bounds`).
//! - **Bad data.** A tick whose sample is stale or missing never scales in (nor out): reason
//!   `stale_data` / `no_data`. Only the min/max correction still happens.
//!
//! - **Lookahead** (optional, `[policies.lookahead]`): a scale-out on the users projected one
//!   warmup ahead; never a scale-in. See `lookahead`.
//!
//! - **Valid by construction.** [`Policies`] and [`StepPolicy`] have private fields, read
//!   through accessors, and are built only by [`Policies::new`] from their raw form
//!   ([`RawPolicies`], [`RawStepPolicy`]: what the config file holds); nothing changes them
//!   afterwards ([`Policies::changed`] validates a changed copy; `with_mode`,
//!   `with_warmup_ms` and `with_alarm_periods` make the changes validation cannot refuse).
//!   So every breaching value finds exactly one step ([`StepPolicy::step_for`]). An alarm in
//!   ALARM on M of N datapoints (M < N) can still have a newest datapoint that does not
//!   breach: no step covers it, and the decision is `no_step` (nothing is done).
//!
//! Files: `raw` (the policies as given), `validate` (`Policies::new`: the checks, naming the
//! field), `policies` (the validated policies), `types` (the vocabulary), `alarm` (period aggregation,
//! M-of-N), `decide` (the evaluation and its explanation), `decision` (the result as data),
//! `lookahead` (the trend projection).

mod alarm;
mod decide;
mod decision;
mod lookahead;
mod policies;
mod raw;
mod types;
mod validate;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

pub use alarm::{AlarmEval, AlarmState, Alarms, MetricSample, SampleStatus};
pub use decide::{Engine, apply_adjustment, evaluate, is_warming, round_percent};
pub use decision::{Action, Decision, Reason};
pub use lookahead::{Lookahead, Projection, Trend, apply as apply_lookahead};
pub use policies::{Policies, StepPolicy};
pub use raw::{RawPolicies, RawStepPolicy};
pub use types::{
    AdjustmentType, Alarm, Comparison, FleetState, MetricName, PolicyMode, Statistic,
    StepAdjustment,
};
/// Test fixtures shared by the engine's and the simulator's tests.
#[cfg(test)]
pub(crate) use types::{aws_example_scale_out, step};
pub use validate::PolicyError;
