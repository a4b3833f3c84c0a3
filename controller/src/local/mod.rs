//! The local provider: the Auto Scaling group and the NLB played on this machine,
//! and `controller up`, which runs them with the controller daemon.
//!
//! Codemap:
//! - `balancer`: the L4 TCP proxy on one port (the NLB's role), per-flow balancing,
//!   draining, active-flow counts; [`balancer::choose`] is pure.
//! - `group`: [`LocalGroup`], the group's state and its supervisor; implements
//!   [`crate::provider::Fleet`]. Zone balancing and scale-in choice are pure.
//! - `placement`: zone of a new instance, choice of the one to drain (pure).
//! - `instance`: one instance's lifecycle task (spawn, readiness, health checks,
//!   restart in place after a crash, drain, reap).
//! - `key`: the run's report key (configured or random), a 0600 file the instances read.
//! - `restart`: when a crashed instance is restarted in place or replaced, and
//!   the data-dir slots a launch reuses (pure).
//! - `probe`: the bounded HTTP `GET` used for `/readyz` and `/healthz` (status and the
//!   body's first line, which the group keeps as the instance's `reason`).
//!
//! Instances are child processes of this very binary (`controller serve-instance`),
//! so `up` needs nothing built beforehand. Invariant: every process the group starts
//! is reaped before `up` returns, and dies on its own if the controller is killed
//! (its stdin pipe closes; see [`exit_with_parent`]).

pub mod balancer;
pub mod group;
mod instance;
pub mod key;
mod placement;
pub mod probe;
pub mod restart;

use std::net::SocketAddr;
use std::time::Duration;

pub use balancer::{Balancer, BalancerHandle, BalancerOptions, Strategy};
pub use group::{GroupOptions, LocalGroup};

/// Set in an instance's environment by the group: stop when stdin reaches EOF.
pub const PARENT_WATCH_ENV: &str = "HELLOFLEET_EXIT_WITH_PARENT";

/// Settings of the local provider (`[local]` in the TOML config). Durations are
/// humantime strings (`"500ms"`, `"3s"`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalSettings {
    /// Address of the local balancer (the NLB's role).
    pub balancer: String,
    /// Where instance logs (file sink) and state go.
    pub data_dir: String,
    /// `least_flows` or `round_robin`.
    pub strategy: Strategy,
    /// Simulated availability zones; instances are spread evenly across them.
    pub zones: Vec<String>,
    /// Period of the `/healthz` checks.
    pub health_check_interval: String,
    /// Consecutive failed checks that make an instance unhealthy (then replaced).
    pub unhealthy_threshold: u32,
    /// Longest wait for a deregistered instance's connections to end before SIGTERM.
    pub deregistration_delay: String,
    /// An instance not ready within this is replaced.
    pub boot_timeout: String,
    /// Longest wait for an instance to exit after SIGTERM before SIGKILL.
    pub stop_timeout: String,
    /// The balancer passes each client's address to the instances in a PROXY
    /// protocol v2 header (they run with `--proxy-protocol`), as an NLB target
    /// group with proxy protocol v2 does; off, every user behind one address
    /// counts as the balancer's.
    pub proxy_protocol: bool,
}

impl Default for LocalSettings {
    fn default() -> Self {
        Self {
            balancer: "127.0.0.1:8000".into(),
            data_dir: "data".into(),
            strategy: Strategy::LeastFlows,
            zones: vec!["local-a".into(), "local-b".into()],
            health_check_interval: "1s".into(),
            unhealthy_threshold: 3,
            deregistration_delay: "3s".into(),
            boot_timeout: "30s".into(),
            stop_timeout: "30s".into(),
            proxy_protocol: true,
        }
    }
}

/// [`LocalSettings`] once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOptions {
    pub balancer: SocketAddr,
    pub data_dir: std::path::PathBuf,
    pub strategy: Strategy,
    pub zones: Vec<String>,
    pub health_check_interval: Duration,
    pub unhealthy_threshold: u32,
    pub deregistration_delay: Duration,
    pub boot_timeout: Duration,
    pub stop_timeout: Duration,
    pub proxy_protocol: bool,
}

/// A `[local]` field with an unusable value; the message names the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("local.{field}: {message}")]
pub struct SettingError {
    pub field: &'static str,
    pub message: String,
}

impl LocalSettings {
    /// Pure validation; every error names its field.
    pub fn validate(&self) -> Result<LocalOptions, SettingError> {
        let bad = |field, message: String| SettingError { field, message };
        let balancer = self.balancer.parse().map_err(|_| {
            bad(
                "balancer",
                format!(
                    "{:?} is not an address like \"127.0.0.1:8000\"",
                    self.balancer
                ),
            )
        })?;
        if self.data_dir.trim().is_empty() {
            return Err(bad("data_dir", "must not be empty".into()));
        }
        if self.zones.is_empty() || self.zones.iter().any(|z| z.trim().is_empty()) {
            return Err(bad(
                "zones",
                format!("{:?} must list at least one non-empty zone", self.zones),
            ));
        }
        let duration = |field, text: &str, min: Duration, max: Duration| {
            let d = humantime::parse_duration(text).map_err(|e| {
                bad(
                    field,
                    format!("{text:?} is not a duration like \"1s\" ({e})"),
                )
            })?;
            if d < min || d > max {
                return Err(bad(
                    field,
                    format!("{text:?} is outside [{min:?}, {max:?}]"),
                ));
            }
            Ok(d)
        };
        let minute = Duration::from_secs(60);
        let options = LocalOptions {
            balancer,
            data_dir: self.data_dir.clone().into(),
            strategy: self.strategy,
            zones: self.zones.clone(),
            health_check_interval: duration(
                "health_check_interval",
                &self.health_check_interval,
                Duration::from_millis(100),
                minute,
            )?,
            unhealthy_threshold: self.unhealthy_threshold,
            deregistration_delay: duration(
                "deregistration_delay",
                &self.deregistration_delay,
                Duration::ZERO,
                10 * minute,
            )?,
            boot_timeout: duration(
                "boot_timeout",
                &self.boot_timeout,
                Duration::from_secs(1),
                10 * minute,
            )?,
            stop_timeout: duration(
                "stop_timeout",
                &self.stop_timeout,
                Duration::from_millis(100),
                10 * minute,
            )?,
            proxy_protocol: self.proxy_protocol,
        };
        if !(1..=100).contains(&self.unhealthy_threshold) {
            return Err(bad(
                "unhealthy_threshold",
                format!("{} is outside [1, 100]", self.unhealthy_threshold),
            ));
        }
        Ok(options)
    }
}

/// In an instance started by the group (its environment has [`PARENT_WATCH_ENV`]):
/// a thread reads stdin, a pipe from the controller, and sends SIGTERM to this
/// process when it closes, so an instance never outlives its controller, even
/// one killed with SIGKILL. The instance then drains and flushes as on any SIGTERM.
pub fn exit_with_parent() {
    if std::env::var_os(PARENT_WATCH_ENV).is_none() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(|| {
            let mut sink = [0u8; 256];
            let mut stdin = std::io::stdin().lock();
            loop {
                match std::io::Read::read(&mut stdin, &mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            tracing::warn!("the controller went away (stdin closed): stopping");
            let _ =
                nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGTERM);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot watch the parent process");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_bad(edit: impl FnOnce(&mut LocalSettings), field: &str) {
        let mut s = LocalSettings::default();
        edit(&mut s);
        let err = s.validate().expect_err(field);
        assert_eq!(err.field, field, "{err}");
        assert!(
            err.to_string().starts_with(&format!("local.{field}: ")),
            "{err}"
        );
    }

    #[test]
    fn defaults_validate() {
        let o = LocalSettings::default().validate().unwrap();
        assert_eq!(o.balancer, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(o.health_check_interval, Duration::from_secs(1));
        assert_eq!(o.zones, ["local-a", "local-b"]);
        assert!(
            o.proxy_protocol,
            "the balancer passes client addresses by default"
        );
        let off = LocalSettings {
            proxy_protocol: false,
            ..LocalSettings::default()
        };
        assert!(!off.validate().unwrap().proxy_protocol);
    }

    #[test]
    fn bad_values_name_their_field() {
        check_bad(|s| s.balancer = "localhost".into(), "balancer");
        check_bad(|s| s.data_dir = " ".into(), "data_dir");
        check_bad(|s| s.zones.clear(), "zones");
        check_bad(
            |s| s.health_check_interval = "fast".into(),
            "health_check_interval",
        );
        check_bad(
            |s| s.health_check_interval = "1ms".into(),
            "health_check_interval",
        );
        check_bad(
            |s| s.deregistration_delay = "1h".into(),
            "deregistration_delay",
        );
        check_bad(|s| s.boot_timeout = "0s".into(), "boot_timeout");
        check_bad(|s| s.stop_timeout = "".into(), "stop_timeout");
        check_bad(|s| s.unhealthy_threshold = 0, "unhealthy_threshold");
    }

    #[test]
    fn toml_section_parses_with_defaults_and_refuses_unknown_fields() {
        let s: LocalSettings =
            toml::from_str("balancer = \"127.0.0.1:18000\"\nstrategy = \"round_robin\"\n").unwrap();
        assert_eq!(s.balancer, "127.0.0.1:18000");
        assert_eq!(s.strategy, Strategy::RoundRobin);
        assert_eq!(s.data_dir, "data");
        assert!(toml::from_str::<LocalSettings>("balancr = \"x\"").is_err());
    }
}
