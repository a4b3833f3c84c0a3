//! The validated parts of the configuration that the core reads. The controller's `Config`
//! (TOML + CLI → validated, in `controller::config`) holds a [`GroupConfig`] and the
//! [`Policies`], and builds a [`CoreConfig`] for the tick core and the simulator
//! (`From<&Config>`), so this crate never sees files, flags or provider settings.
//!
//! [`GroupConfig`] is valid by construction, as [`Policies`] is: private fields, read through
//! accessors, built only by [`GroupConfig::new`] (which the controller's `[group]` validation
//! calls); a change is a new one, checked again ([`GroupConfig::with_desired_capacity`]) or one that
//! cannot break a check ([`GroupConfig::without_desired_capacity`]).

use std::time::Duration;

use crate::policy::Policies;

/// `[group]`, validated: a name of 1 to 255 characters (trimmed), `1 <= max_size <=`
/// [`GroupConfig::MAX_SIZE`], `min_size <= max_size`, `desired_capacity` inside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    name: String,
    min_size: u32,
    max_size: u32,
    desired_capacity: Option<u32>,
}

/// A `[group]` field that is not acceptable: its dotted path and the whole message (which
/// names it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GroupError {
    /// e.g. `group.max_size`.
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl std::fmt::Display) -> GroupError {
    GroupError {
        field,
        message: format!("{field}: {message}"),
    }
}

impl GroupConfig {
    /// A group larger than this is a typo, not a fleet (a bound, not a default).
    pub const MAX_SIZE: u32 = 10_000;

    /// The only way to a `GroupConfig`: `name` (trimmed) and the sizes, checked.
    pub fn new(
        name: &str,
        min_size: u32,
        max_size: u32,
        desired_capacity: Option<u32>,
    ) -> Result<GroupConfig, GroupError> {
        let trimmed = name.trim();
        if trimmed.is_empty() || trimmed.len() > 255 {
            return Err(err(
                "group.name",
                format!("{name:?} must be 1 to 255 characters"),
            ));
        }
        if max_size == 0 {
            return Err(err("group.max_size", "must be at least 1"));
        }
        let most = Self::MAX_SIZE;
        if max_size > most {
            return Err(err("group.max_size", format!("{max_size} is above {most}")));
        }
        if max_size < min_size {
            return Err(GroupError {
                field: "group.max_size",
                message: format!(
                    "group.max_size ({max_size}) is below group.min_size ({min_size})"
                ),
            });
        }
        let group = GroupConfig {
            name: trimmed.into(),
            min_size,
            max_size,
            desired_capacity: None,
        };
        match desired_capacity {
            Some(d) => group.with_desired_capacity(d),
            None => Ok(group),
        }
    }

    /// The same group with `desired_capacity`, checked against the sizes as
    /// [`GroupConfig::new`] checks it (the same error).
    pub fn with_desired_capacity(&self, desired: u32) -> Result<GroupConfig, GroupError> {
        if !(self.min_size..=self.max_size).contains(&desired) {
            return Err(err(
                "group.desired_capacity",
                format!(
                    "{desired} is outside [group.min_size, group.max_size] = [{}, {}]",
                    self.min_size, self.max_size
                ),
            ));
        }
        Ok(GroupConfig {
            desired_capacity: Some(desired),
            ..self.clone()
        })
    }

    /// The same group without a start-up desired capacity (the group's current one is
    /// kept). Cannot fail: no desired capacity is always valid.
    pub fn without_desired_capacity(&self) -> GroupConfig {
        GroupConfig {
            desired_capacity: None,
            ..self.clone()
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn min_size(&self) -> u32 {
        self.min_size
    }

    pub fn max_size(&self) -> u32 {
        self.max_size
    }

    /// Applied once at start-up, when set; always within `[min_size, max_size]`.
    pub fn desired_capacity(&self) -> Option<u32> {
        self.desired_capacity
    }
}

/// What the tick core and the simulator need from a validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreConfig {
    pub group: GroupConfig,
    pub tick: Duration,
    /// Valid by construction (`Policies::new`).
    pub policies: Policies,
    /// Reports received longer ago are stale (`reports.stale_after`).
    pub stale_after: Duration,
    /// Encode `ConcurrentUsers` per instance too (`metrics.per_instance`).
    pub per_instance_metrics: bool,
}

impl From<&CoreConfig> for CoreConfig {
    fn from(c: &CoreConfig) -> Self {
        c.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_valid_group_is_built() {
        let g = GroupConfig::new(" web ", 1, 4, Some(2)).unwrap();
        assert_eq!(
            (g.name(), g.min_size(), g.max_size(), g.desired_capacity()),
            ("web", 1, 4, Some(2))
        );
        let bad = |r: Result<GroupConfig, GroupError>, field: &str, message: &str| {
            let e = r.unwrap_err();
            assert_eq!((e.field, e.to_string().as_str()), (field, message));
        };
        bad(
            GroupConfig::new(" ", 1, 4, None),
            "group.name",
            "group.name: \" \" must be 1 to 255 characters",
        );
        bad(
            GroupConfig::new("g", 0, 0, None),
            "group.max_size",
            "group.max_size: must be at least 1",
        );
        bad(
            GroupConfig::new("g", 1, 10_001, None),
            "group.max_size",
            "group.max_size: 10001 is above 10000",
        );
        bad(
            GroupConfig::new("g", 3, 2, None),
            "group.max_size",
            "group.max_size (2) is below group.min_size (3)",
        );
        bad(
            GroupConfig::new("g", 1, 4, Some(5)),
            "group.desired_capacity",
            "group.desired_capacity: 5 is outside [group.min_size, group.max_size] = [1, 4]",
        );
    }

    #[test]
    fn a_changed_desired_capacity_is_checked_again() {
        let g = GroupConfig::new("g", 2, 4, Some(3)).unwrap();
        assert_eq!(g.without_desired_capacity().desired_capacity(), None);
        assert_eq!(
            g.with_desired_capacity(4).unwrap().desired_capacity(),
            Some(4)
        );
        for refused in [1, 5] {
            let e = g.with_desired_capacity(refused).unwrap_err();
            assert_eq!(
                e,
                GroupConfig::new("g", 2, 4, Some(refused)).unwrap_err(),
                "the same refusal as at construction"
            );
        }
        assert_eq!(g.desired_capacity(), Some(3), "the original is unchanged");
    }
}
