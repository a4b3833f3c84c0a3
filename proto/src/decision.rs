//! The decision vocabulary: what was done ([`Action`]), why ([`Reason`]) and who decided
//! ([`DecisionSource`]), as carried by [`crate::DecisionRecord`].
//!
//! Each serialises as the snake_case string it always had on the wire (`scale_out`,
//! `within_band`, `aws`…); `as_str` is that string and `Display` prints it.
//!
//! What an unknown string (from an older or newer controller) does:
//! - [`Action`] and [`DecisionSource`] are closed: capacity goes up, down or not at all, and
//!   either the controller or AWS decided. Any other string is a parse error naming the
//!   expected values.
//! - [`Reason`] is open: new reasons come with new features. A string this version does not
//!   name reads as [`Reason::Other`], kept verbatim (it writes back unchanged), as long as it
//!   looks like a code: 1 to [`ReasonCode::MAX_LEN`] printable ASCII characters, no spaces.
//!   Anything else is a parse error saying so.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a decision did to the desired capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ScaleOut,
    ScaleIn,
    None,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ScaleOut => "scale_out",
            Action::ScaleIn => "scale_in",
            Action::None => "none",
        }
    }
}

/// Who decided: the controller's own policy engine, or AWS (native mode: an alarm state
/// change or a scaling activity read from AWS). Absent in older JSON: the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionSource {
    #[default]
    Controller,
    Aws,
}

impl DecisionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionSource::Controller => "controller",
            DecisionSource::Aws => "aws",
        }
    }
}

/// Why the decision came out as it did (machine-readable; `as_str` is the wire form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A policy's alarm fired and the capacity changes.
    Scaled,
    /// Desired capacity was outside `[min, max]` and is brought back in.
    OutOfBounds,
    /// Neither alarm breaches.
    WithinBand,
    /// Some datapoints breach, but fewer than `datapoints_to_alarm`.
    NotEnoughDatapoints,
    /// Scale-out: the warming instances already cover the step. Scale-in: waits for warmup.
    WarmingUp,
    /// Scale-out wanted, the group is at its max.
    AtMax,
    /// Scale-in wanted, the group is at its min.
    AtMin,
    /// The matched step's adjustment is zero.
    ZeroAdjustment,
    /// The step's target is not beyond the desired capacity already requested.
    AlreadyAtTarget,
    /// The alarm is in ALARM (M of N datapoints) but its newest datapoint is not on the
    /// breaching side, so no step covers it (every breaching value has one).
    NoStep,
    /// This tick's figures are stale.
    StaleData,
    /// Scale-in held while users of draining instances move to the others (their figures
    /// are incomplete until the users' active window has passed).
    Settling,
    /// This tick has no figure for the policies' metric.
    NoData,
    /// The group could not be read this tick; nothing was decided.
    ProviderError,
    /// Native mode: the engine would have acted, but AWS's own policies act.
    NativeMode,
    /// Native mode: a scaling activity AWS ran.
    AwsActivity,
    /// Native mode: an AWS alarm went to `OK`.
    AlarmOk,
    /// Native mode: an AWS alarm went to `ALARM`.
    AlarmAlarm,
    /// Native mode: an AWS alarm went to `INSUFFICIENT_DATA`.
    AlarmInsufficientData,
    /// A reason this version does not name, kept verbatim (see the module docs).
    Other(ReasonCode),
}

/// Every named reason, for tables and parsing.
const NAMED: [Reason; 19] = [
    Reason::Scaled,
    Reason::OutOfBounds,
    Reason::WithinBand,
    Reason::NotEnoughDatapoints,
    Reason::WarmingUp,
    Reason::AtMax,
    Reason::AtMin,
    Reason::ZeroAdjustment,
    Reason::AlreadyAtTarget,
    Reason::NoStep,
    Reason::StaleData,
    Reason::Settling,
    Reason::NoData,
    Reason::ProviderError,
    Reason::NativeMode,
    Reason::AwsActivity,
    Reason::AlarmOk,
    Reason::AlarmAlarm,
    Reason::AlarmInsufficientData,
];

impl Reason {
    /// Every reason this version names (all but [`Reason::Other`]).
    pub const NAMED: &'static [Reason] = &NAMED;

    pub fn as_str(&self) -> &str {
        match self {
            Reason::Scaled => "scaled",
            Reason::OutOfBounds => "out_of_bounds",
            Reason::WithinBand => "within_band",
            Reason::NotEnoughDatapoints => "not_enough_datapoints",
            Reason::WarmingUp => "warming_up",
            Reason::AtMax => "at_max",
            Reason::AtMin => "at_min",
            Reason::ZeroAdjustment => "zero_adjustment",
            Reason::AlreadyAtTarget => "already_at_target",
            Reason::NoStep => "no_step",
            Reason::StaleData => "stale_data",
            Reason::Settling => "settling",
            Reason::NoData => "no_data",
            Reason::ProviderError => "provider_error",
            Reason::NativeMode => "native_mode",
            Reason::AwsActivity => "aws_activity",
            Reason::AlarmOk => "alarm_ok",
            Reason::AlarmAlarm => "alarm_alarm",
            Reason::AlarmInsufficientData => "alarm_insufficient_data",
            Reason::Other(code) => code.as_str(),
        }
    }

    /// The reason of `s`: a named one, else [`Reason::Other`] if `s` is a code.
    pub fn parse(s: &str) -> Result<Reason, ReasonError> {
        match NAMED.iter().find(|r| r.as_str() == s) {
            Some(r) => Ok(*r),
            None => ReasonCode::new(s).map(Reason::Other),
        }
    }

    /// Native mode: an AWS alarm went to `state` (`OK`, `ALARM`, `INSUFFICIENT_DATA`; `None`:
    /// not said), as `alarm_<state in lower case>`; a state that does not make a code reads
    /// as `alarm_unknown`, like a missing one.
    pub fn alarm(state: Option<&str>) -> Reason {
        let state = state.unwrap_or("unknown").to_ascii_lowercase();
        Reason::parse(&format!("alarm_{state}"))
            .or_else(|_| Reason::parse("alarm_unknown"))
            .expect("alarm_unknown is a code")
    }
}

/// A string that is not a reason code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a decision reason: expected 1 to {max} printable ASCII characters without spaces",
    max = ReasonCode::MAX_LEN
)]
pub struct ReasonError(pub String);

/// A reason code this version does not name: 1 to [`Self::MAX_LEN`] printable ASCII
/// characters (no spaces), stored inline so that [`Reason`] stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReasonCode {
    len: u8,
    bytes: [u8; ReasonCode::MAX_LEN],
}

impl ReasonCode {
    pub const MAX_LEN: usize = 48;

    pub fn new(s: &str) -> Result<ReasonCode, ReasonError> {
        let ok = (1..=Self::MAX_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(ReasonError(s.to_string()));
        }
        let mut bytes = [0; Self::MAX_LEN];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(ReasonCode {
            len: s.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("checked ASCII in new")
    }
}

impl fmt::Debug for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Reason, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Reason::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `Display` (the wire string) and comparison with it (`record.reason == "at_max"`).
macro_rules! wire_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    )*};
}
wire_str!(Action, DecisionSource, Reason);

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
