//! The policies as given, before validation: plain data with public fields, the serde form
//! of a `[policies.scale_out]` / `[policies.scale_in]` table (the controller's config reads
//! them; tests and the simulator write them as literals).
//!
//! Nothing in the engine takes a raw form: [`Policies::new`] checks one (AWS's rules and the
//! engine's own, every error naming its field) and only then builds the validated
//! [`Policies`] and its [`super::StepPolicy`]s, whose fields are private. To change a
//! validated policy, take its raw form back ([`Policies::to_raw`]), change that and build
//! again.
//!
//! ```toml
//! [policies.scale_out]
//! name = "scale-out"
//! adjustment_type = "PercentChangeInCapacity"
//! min_adjustment_magnitude = 1
//! estimated_instance_warmup_secs = 10
//! alarm = { metric = "ConcurrentUsersPerInstance", statistic = "Average", threshold = 50,
//!           comparison = "GreaterThanOrEqualToThreshold", period_secs = 5,
//!           evaluation_periods = 1, datapoints_to_alarm = 1 }
//! steps = [ { lower_bound = 0, upper_bound = 15, scaling_adjustment = 20 },
//!           { lower_bound = 15, scaling_adjustment = 50 } ]
//! ```

use serde::{Deserialize, Serialize};

use super::lookahead::Lookahead;
use super::policies::Policies;
use super::types::{AdjustmentType, Alarm, PolicyMode, StepAdjustment};

/// A step scaling policy as given: an alarm and what to do when it is in ALARM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStepPolicy {
    pub name: String,
    pub alarm: Alarm,
    pub adjustment_type: AdjustmentType,
    pub steps: Vec<StepAdjustment>,
    /// Only with `PercentChangeInCapacity`: change capacity by at least this many instances.
    #[serde(default)]
    pub min_adjustment_magnitude: Option<u32>,
    /// How long a new instance is "warming" after it enters service.
    #[serde(default)]
    pub estimated_instance_warmup_secs: f64,
}

/// The two policies of a group as given (`[policies]`), for [`Policies::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawPolicies {
    pub mode: PolicyMode,
    pub scale_out: RawStepPolicy,
    pub scale_in: RawStepPolicy,
    /// `[policies.lookahead]`: the optional trend projection for scale-out (off when absent).
    pub lookahead: Option<Lookahead>,
}

impl TryFrom<RawPolicies> for Policies {
    type Error = super::PolicyError;

    fn try_from(raw: RawPolicies) -> Result<Policies, super::PolicyError> {
        Policies::new(raw)
    }
}
