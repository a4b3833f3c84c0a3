//! The simulator and the live loop make the same decisions on the same inputs.
//!
//! The live side is the daemon's own `tick_once` (observe → aggregate + decide → publish →
//! apply → record) against a provider that wraps the simulator's group model, with the load
//! reports going in through the daemon's `Shared::ingest`. The simulated side is
//! `simulate::Simulator` with its own copy of the group. Both get the same users at the same
//! times; every decision record must match.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use controller::clock::now_ms;
use controller::config::{Config, Overrides};
use controller::daemon::{Shared, tick_once};
use controller::metrics::NoopSink;
use controller::provider::{Fleet, GroupSnapshot, ProviderError};
use controller::simulate::{ModelParams, SimFleet, SimParams, Simulator};
use fleetcore::tick::Reconciler;
use tokio_util::sync::CancellationToken;

/// The simulator's group model behind the `Fleet` trait, on a clock the test sets.
struct SimProvider {
    inner: Mutex<(SimFleet, u64)>,
}

#[async_trait]
impl Fleet for SimProvider {
    fn kind(&self) -> &'static str {
        "sim"
    }

    fn endpoint(&self) -> Option<String> {
        None
    }

    async fn describe(&self) -> Result<GroupSnapshot, ProviderError> {
        Ok(self.inner.lock().expect("lock").0.snapshot())
    }

    async fn set_desired_capacity(&self, desired: u32) -> Result<(), ProviderError> {
        let mut g = self.inner.lock().expect("lock");
        let now = g.1;
        g.0.set_desired(desired, now);
        Ok(())
    }
}

const CONFIG: &str = r#"
tick = "100ms"
[group]
name = "sim"
min_size = 1
max_size = 12
desired_capacity = 1
[policies.scale_out]
name = "out"
adjustment_type = "PercentChangeInCapacity"
min_adjustment_magnitude = 1
estimated_instance_warmup_secs = 0.2
alarm = { metric = "ConcurrentUsersPerInstance", threshold = 50, comparison = "GreaterThanOrEqualToThreshold", period_secs = 0.1 }
steps = [ { lower_bound = 0, upper_bound = 40, scaling_adjustment = 30 },
          { lower_bound = 40, scaling_adjustment = 100 } ]
[policies.scale_in]
name = "in"
adjustment_type = "ChangeInCapacity"
alarm = { metric = "ConcurrentUsersPerInstance", threshold = 20, comparison = "LessThanOrEqualToThreshold", period_secs = 0.1, evaluation_periods = 2 }
steps = [ { upper_bound = 0, scaling_adjustment = -1 } ]
"#;

#[tokio::test]
async fn simulator_and_live_loop_decide_the_same() {
    let config = Config::from_toml(CONFIG, "test", &Overrides::default()).expect("config");
    let params = SimParams {
        model: ModelParams {
            boot_ms: 150,
            drain_ms: 100,
            // On the test's compressed clock, as the boot and drain times.
            active_window_ms: 100,
            ..ModelParams::default()
        },
        ..SimParams::default()
    };
    let start = now_ms();
    let mut sim = Simulator::new(&config, &params, 400, start);
    let fleet = SimFleet::new("sim", (1, 12, 1), params.model, 400, start);
    let provider = SimProvider {
        inner: Mutex::new((fleet, start)),
    };
    let state = Arc::new(Shared::new(&config, "sim", None, CancellationToken::new()));
    let mut live = Reconciler::from_config(&config, "sim", None);
    let mut actions = (0, 0);
    for k in 0..60u64 {
        let users = match k {
            0..10 => 40,
            10..30 => 400,
            _ => 30,
        };
        let now = now_ms();
        // Live: the group moves, instances report through the daemon's ingest, one tick.
        let reports = {
            let mut g = provider.inner.lock().expect("lock");
            g.1 = now;
            g.0.advance(now);
            state.set_known(&g.0.snapshot());
            g.0.reports(users, now)
        };
        for r in reports {
            state.ingest(r, now);
        }
        tick_once(&mut live, &provider, &NoopSink, &state).await;
        let mut got = state
            .decisions()
            .last()
            .cloned()
            .expect("a decision per tick");
        // Simulated: the same users at the same times.
        sim.observe(now, users);
        let want = sim.decide(now - start, now, got.at_ms, users).record;
        got.applied = None;
        assert_eq!(got, want, "tick {k} ({users} users)");
        match got.action.as_str() {
            "scale_out" => actions.0 += 1,
            "scale_in" => actions.1 += 1,
            _ => {}
        }
        // Let the clock move on (boot, warmup and periods are a few ticks long).
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert!(
        actions.0 >= 2 && actions.1 >= 2,
        "the run scaled both ways: {actions:?}"
    );
}
