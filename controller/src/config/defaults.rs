//! Every default of the configuration, in one place: what an absent TOML field (or the
//! absent file of `controller up`) means. `controller/examples/*.toml` spell them out.
//! The default step policies are the core's `Policies::local_default` (the simulator and
//! the tests build them too); [`policies`] names them here. `metrics.publish` defaults to
//! the provider (on with `aws`, off with `local`); `lease.key` to the group's name.

use std::time::Duration;

use fleetcore::policy::Policies;

use super::local::Strategy;

/// `tick`.
pub const TICK: &str = "5s";
/// `group.name`.
pub const GROUP_NAME: &str = "hellofleet";
/// A group larger than this is a typo, not a fleet (a bound, not a default; checked by
/// `fleetcore::GroupConfig::new`).
pub const MAX_GROUP_SIZE: u32 = fleetcore::GroupConfig::MAX_SIZE;

/// `[policies]` absent: one to ten instances' worth of step policies (see
/// `Policies::local_default`).
pub fn policies() -> Policies {
    Policies::local_default()
}

/// `api.listen`.
pub const LISTEN: &str = "127.0.0.1:9090";
/// `metrics.namespace`.
pub const NAMESPACE: &str = "HelloFleet";
/// `api.max_report_bytes`.
pub const MAX_REPORT_BYTES: usize = 256 * 1024;
/// `api.header_timeout`.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// `api.max_connections`.
pub const MAX_CONNECTIONS: usize = 1_024;
/// `reports.interval`; `reports.stale_after` is [`STALE_REPORT_INTERVALS`] of it.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// `reports.stale_after` absent: this many `reports.interval`s.
pub const STALE_REPORT_INTERVALS: u32 = 3;
/// `reports.require_signature`: unsigned reports are refused.
pub const REQUIRE_SIGNATURE: bool = true;
/// `reports.max_clock_skew`.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(30);
/// `history.decisions`.
pub const DECISIONS: usize = 1_000;
/// `history.metrics`: two hours of 5-second ticks.
pub const METRIC_POINTS: usize = 1_440;

/// `aws.connect_timeout`.
pub const AWS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// `aws.attempt_timeout`.
pub const AWS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
/// `aws.operation_timeout`.
pub const AWS_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// `aws.max_attempts`.
pub const AWS_MAX_ATTEMPTS: u32 = 3;
/// `lease.ttl` absent: this many ticks.
pub const LEASE_TICKS: u32 = 6;

/// `local.balancer`.
pub const LOCAL_BALANCER: &str = "127.0.0.1:8000";
/// `local.data_dir`.
pub const LOCAL_DATA_DIR: &str = "data";
/// `local.strategy`.
pub const LOCAL_STRATEGY: Strategy = Strategy::LeastFlows;
/// `local.zones`.
pub const LOCAL_ZONES: [&str; 2] = ["local-a", "local-b"];
/// `local.health_check_interval`.
pub const LOCAL_HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// `local.unhealthy_threshold`.
pub const LOCAL_UNHEALTHY_THRESHOLD: u32 = 3;
/// `local.deregistration_delay`.
pub const LOCAL_DEREGISTRATION_DELAY: Duration = Duration::from_secs(3);
/// `local.boot_timeout`.
pub const LOCAL_BOOT_TIMEOUT: Duration = Duration::from_secs(30);
/// `local.stop_timeout`.
pub const LOCAL_STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// `local.proxy_protocol`: the balancer passes client addresses.
pub const LOCAL_PROXY_PROTOCOL: bool = true;

/// What `controller up` runs without a file (`Config::local_default`): one to ten local
/// instances, every other field at its default. A file, so CLI overrides apply to it.
pub const LOCAL_TOML: &str =
    "[group]\nname = \"hellofleet-local\"\nmin_size = 1\nmax_size = 10\ndesired_capacity = 1\n";
