//! The controller's own health, as pure checks and one handler.
//!
//! - [`readiness`]: ready while the last tick is at most three tick intervals old
//!   (`proto::ControllerHealth::is_late`); `GET /readyz` answers 200 `ready …` or 503 with
//!   the reason, for load balancer health checks and the stack's "controller silent" alarm.
//!   A failing provider does not make the controller unready (it still ticks and says so in
//!   the status); `/healthz` stays plain liveness.
//! - [`bounds_warnings`]: the configured bounds against the group's own, checked at
//!   start-up and again at each tick (a config max above the group's MaxSize is capped at
//!   each tick, and said so; a group resized under the controller changes what is said).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use proto::ControllerHealth;

use super::state::Shared;
use crate::provider::GroupSnapshot;
use fleetcore::tick::ReconcilerSettings;

/// `Ok(why ready)` or `Err(why not)`, one line each.
pub fn readiness(health: &ControllerHealth, tick_ms: u64) -> Result<String, String> {
    if health.last_tick_at_ms == 0 {
        return Err("not ready: no tick has completed yet".into());
    }
    if health.is_late(tick_ms) {
        return Err(format!(
            "not ready: the last tick ended {} ms ago, more than {} ticks of {tick_ms} ms",
            health.last_tick_age_ms,
            ControllerHealth::LATE_AFTER_TICKS
        ));
    }
    Ok(format!(
        "ready: the last tick ended {} ms ago",
        health.last_tick_age_ms
    ))
}

/// `GET /readyz`.
pub async fn readyz(State(s): State<Arc<Shared>>) -> (StatusCode, String) {
    let health = s.health(super::now_ms());
    match readiness(&health, s.tick.as_millis() as u64) {
        Ok(why) => (StatusCode::OK, why + "\n"),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why + "\n"),
    }
}

/// Where the configured bounds exceed the group's own: the controller works within both
/// (the tighter wins at each tick), but the operator should know the config is not what
/// happens.
pub fn bounds_warnings(config: &ReconcilerSettings, group: &GroupSnapshot) -> Vec<String> {
    let mut out = vec![];
    if config.max_size > group.max_size {
        out.push(format!(
            "group.max_size is {} but the group's own MaxSize is {}: the controller will not go above {}",
            config.max_size, group.max_size, group.max_size
        ));
    }
    if config.min_size < group.min_size {
        out.push(format!(
            "group.min_size is {} but the group's own MinSize is {}: the controller will not go below {}",
            config.min_size, group.min_size, group.min_size
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(at: u64, age: u64) -> ControllerHealth {
        ControllerHealth {
            last_tick_at_ms: at,
            last_tick_age_ms: age,
            ..ControllerHealth::default()
        }
    }

    #[test]
    fn ready_until_the_last_tick_is_three_ticks_old() {
        for (h, ready, says) in [
            (health(0, 0), false, "no tick has completed"),
            (health(5, 2_999), true, "2999 ms ago"),
            (health(5, 3_000), true, "3000 ms ago"),
            (health(5, 3_001), false, "more than 3 ticks of 1000 ms"),
        ] {
            let r = readiness(&h, 1_000);
            assert_eq!(r.is_ok(), ready, "{r:?}");
            let line = r.unwrap_or_else(|e| e);
            assert!(line.contains(says), "{line}");
        }
    }

    #[test]
    fn bounds_beyond_the_group_are_warnings() {
        let snap = |min, max| GroupSnapshot {
            name: "g".into(),
            min_size: min,
            max_size: max,
            desired_capacity: min,
            instances: vec![],
        };
        let config = ReconcilerSettings {
            min_size: 1,
            max_size: 20,
            tick_ms: 1_000,
            stale_after_ms: 5_000,
            per_instance_metrics: false,
            provider: "aws".into(),
            endpoint: None,
        };
        assert!(bounds_warnings(&config, &snap(1, 20)).is_empty());
        let w = bounds_warnings(&config, &snap(2, 5));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("group.max_size is 20 but the group's own MaxSize is 5"));
        assert!(w[1].contains("MinSize is 2"));
    }
}
