//! `[local]`, validated: the local provider's settings as typed values ([`LocalSettings`]:
//! addresses, paths, durations), built only from the file's [`LocalFile`] (plus `up`'s flags,
//! applied to it first) by [`TryFrom`]; every error names its field (`local.boot_timeout: …`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::defaults;
use super::file::LocalFile;
use super::{ConfigError, invalid};

/// How a new flow picks its backend.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Deserialize,
    serde::Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The backend with the fewest active flows (ties in round-robin order).
    #[default]
    LeastFlows,
    /// Each backend in turn.
    RoundRobin,
}

/// Settings of the local provider (`[local]`), validated: private fields (the config module's
/// own tests compare whole values), read through accessors, built only by `TryFrom<LocalFile>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSettings {
    pub(super) balancer: SocketAddr,
    pub(super) data_dir: PathBuf,
    pub(super) strategy: Strategy,
    pub(super) zones: Vec<String>,
    pub(super) health_check_interval: Duration,
    pub(super) unhealthy_threshold: u32,
    pub(super) deregistration_delay: Duration,
    pub(super) boot_timeout: Duration,
    pub(super) stop_timeout: Duration,
    pub(super) proxy_protocol: bool,
}

impl LocalSettings {
    /// Address of the local balancer (the NLB's role).
    pub fn balancer(&self) -> SocketAddr {
        self.balancer
    }

    /// Where instance logs (file sink) and state go (never empty).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// How the balancer picks a backend for a new flow.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Simulated availability zones (at least one, none empty); instances are spread
    /// evenly across them.
    pub fn zones(&self) -> &[String] {
        &self.zones
    }

    /// Period of the `/healthz` checks.
    pub fn health_check_interval(&self) -> Duration {
        self.health_check_interval
    }

    /// Consecutive failed checks that make an instance unhealthy (then replaced).
    pub fn unhealthy_threshold(&self) -> u32 {
        self.unhealthy_threshold
    }

    /// Longest wait for a deregistered instance's connections to end before SIGTERM.
    pub fn deregistration_delay(&self) -> Duration {
        self.deregistration_delay
    }

    /// An instance not ready within this is replaced.
    pub fn boot_timeout(&self) -> Duration {
        self.boot_timeout
    }

    /// Longest wait for an instance to exit after SIGTERM before SIGKILL.
    pub fn stop_timeout(&self) -> Duration {
        self.stop_timeout
    }

    /// The balancer passes each client's address to the instances in a PROXY protocol v2
    /// header (they run with `--proxy-protocol`), as an NLB target group with proxy
    /// protocol v2 does; off, every user behind one address counts as the balancer's.
    pub fn proxy_protocol(&self) -> bool {
        self.proxy_protocol
    }
}

impl Default for LocalSettings {
    /// The defaults of [`defaults`] (`[local]` absent or empty).
    fn default() -> Self {
        LocalSettings::try_from(LocalFile::default()).expect("the local defaults are valid")
    }
}

impl TryFrom<LocalFile> for LocalSettings {
    type Error = ConfigError;

    fn try_from(f: LocalFile) -> Result<Self, ConfigError> {
        let balancer_text = f.balancer.as_deref().unwrap_or(defaults::LOCAL_BALANCER);
        let balancer = balancer_text.parse().map_err(|_| {
            invalid(
                "local.balancer",
                format!("{balancer_text:?} is not an address like \"127.0.0.1:8000\""),
            )
        })?;
        let data_dir = f.data_dir.as_deref().unwrap_or(defaults::LOCAL_DATA_DIR);
        if data_dir.trim().is_empty() {
            return Err(invalid("local.data_dir", "must not be empty"));
        }
        let zones = f
            .zones
            .unwrap_or_else(|| defaults::LOCAL_ZONES.map(String::from).to_vec());
        if zones.is_empty() || zones.iter().any(|z| z.trim().is_empty()) {
            return Err(invalid(
                "local.zones",
                format!("{zones:?} must list at least one non-empty zone"),
            ));
        }
        let minute = Duration::from_secs(60);
        let health_check_interval = bounded(
            "local.health_check_interval",
            f.health_check_interval.as_deref(),
            defaults::LOCAL_HEALTH_CHECK_INTERVAL,
            (Duration::from_millis(100), minute),
        )?;
        let deregistration_delay = bounded(
            "local.deregistration_delay",
            f.deregistration_delay.as_deref(),
            defaults::LOCAL_DEREGISTRATION_DELAY,
            (Duration::ZERO, 10 * minute),
        )?;
        let boot_timeout = bounded(
            "local.boot_timeout",
            f.boot_timeout.as_deref(),
            defaults::LOCAL_BOOT_TIMEOUT,
            (Duration::from_secs(1), 10 * minute),
        )?;
        let stop_timeout = bounded(
            "local.stop_timeout",
            f.stop_timeout.as_deref(),
            defaults::LOCAL_STOP_TIMEOUT,
            (Duration::from_millis(100), 10 * minute),
        )?;
        let unhealthy_threshold = f
            .unhealthy_threshold
            .unwrap_or(defaults::LOCAL_UNHEALTHY_THRESHOLD);
        if !(1..=100).contains(&unhealthy_threshold) {
            return Err(invalid(
                "local.unhealthy_threshold",
                format!("{unhealthy_threshold} is outside [1, 100]"),
            ));
        }
        Ok(LocalSettings {
            balancer,
            data_dir: data_dir.into(),
            strategy: f.strategy.unwrap_or(defaults::LOCAL_STRATEGY),
            zones,
            health_check_interval,
            unhealthy_threshold,
            deregistration_delay,
            boot_timeout,
            stop_timeout,
            proxy_protocol: f.proxy_protocol.unwrap_or(defaults::LOCAL_PROXY_PROTOCOL),
        })
    }
}

/// A humantime duration inside `[lo, hi]`, or `default` when absent.
fn bounded(
    field: &str,
    text: Option<&str>,
    default: Duration,
    (lo, hi): (Duration, Duration),
) -> Result<Duration, ConfigError> {
    let Some(text) = text else {
        return Ok(default);
    };
    let d = humantime::parse_duration(text).map_err(|e| {
        invalid(
            field,
            format!("{text:?} is not a duration like \"1s\" ({e})"),
        )
    })?;
    if d < lo || d > hi {
        return Err(invalid(
            field,
            format!("{text:?} is outside [{lo:?}, {hi:?}]"),
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_bad(edit: impl FnOnce(&mut LocalFile), field: &str) {
        let mut f = LocalFile::default();
        edit(&mut f);
        let err = LocalSettings::try_from(f).expect_err(field);
        assert_eq!(
            err.field(),
            Some(format!("local.{field}").as_str()),
            "{err}"
        );
        assert!(
            err.to_string().starts_with(&format!("local.{field}: ")),
            "{err}"
        );
    }

    #[test]
    fn defaults_validate() {
        let o = LocalSettings::default();
        assert_eq!(o.balancer, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(o.health_check_interval, Duration::from_secs(1));
        assert_eq!(o.zones, ["local-a", "local-b"]);
        assert!(
            o.proxy_protocol,
            "the balancer passes client addresses by default"
        );
        let off = LocalFile {
            proxy_protocol: Some(false),
            ..LocalFile::default()
        };
        assert!(!LocalSettings::try_from(off).unwrap().proxy_protocol);
    }

    #[test]
    fn bad_values_name_their_field() {
        check_bad(|s| s.balancer = Some("localhost".into()), "balancer");
        check_bad(|s| s.data_dir = Some(" ".into()), "data_dir");
        check_bad(|s| s.zones = Some(vec![]), "zones");
        check_bad(
            |s| s.health_check_interval = Some("fast".into()),
            "health_check_interval",
        );
        check_bad(
            |s| s.health_check_interval = Some("1ms".into()),
            "health_check_interval",
        );
        check_bad(
            |s| s.deregistration_delay = Some("1h".into()),
            "deregistration_delay",
        );
        check_bad(|s| s.boot_timeout = Some("0s".into()), "boot_timeout");
        check_bad(|s| s.stop_timeout = Some("".into()), "stop_timeout");
        check_bad(|s| s.unhealthy_threshold = Some(0), "unhealthy_threshold");
    }

    #[test]
    fn toml_section_parses_with_defaults_and_refuses_unknown_fields() {
        let f: LocalFile =
            toml::from_str("balancer = \"127.0.0.1:18000\"\nstrategy = \"round_robin\"\n").unwrap();
        let s = LocalSettings::try_from(f).unwrap();
        assert_eq!(s.balancer, "127.0.0.1:18000".parse().unwrap());
        assert_eq!(s.strategy, Strategy::RoundRobin);
        assert_eq!(s.data_dir, PathBuf::from("data"));
        assert!(toml::from_str::<LocalFile>("balancr = \"x\"").is_err());
    }
}
