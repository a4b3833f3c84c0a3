//! The validated configuration: [`Config::from_cli`] turns the command line into a plan, a
//! host, a think time and output paths, or an error naming the flag. Pure.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Command, CommonArgs, parse_duration};
use crate::plan::{MAX_USERS, Plan};
use crate::slo::Slo;

/// `--max-users` when a ramp has none: goose builds every user (with its own HTTP client)
/// before the test starts, so "until stopped" needs a ceiling.
pub const DEFAULT_MAX_USERS: u64 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {flag} {value:?}: {reason}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub value: String,
    pub reason: String,
}

fn bad(flag: &'static str, value: impl ToString, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Which profile ran, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Ramp,
    Steady,
    Spike,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Ramp => "ramp",
            Profile::Steady => "steady",
            Profile::Spike => "spike",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub profile: Profile,
    pub plan: Plan,
    /// Base URL, without a trailing slash.
    pub host: String,
    /// Pause after each request, `(min, max)`; `None` for no pause.
    pub think_time: Option<(Duration, Duration)>,
    pub hello_weight: usize,
    pub repeat_weight: usize,
    pub timeout: Duration,
    pub out_dir: PathBuf,
    pub csv: PathBuf,
    pub controller: Option<String>,
    pub slo: Option<Slo>,
}

impl Config {
    pub fn from_cli(command: Command) -> Result<Config, ConfigError> {
        let (profile, plan, common) = match command {
            Command::Ramp(a) => {
                positive("--start-users", a.start_users)?;
                positive("--step-users", a.step_users)?;
                whole_seconds("--step-every", a.step_every)?;
                let max = a.max_users.unwrap_or(DEFAULT_MAX_USERS.max(a.start_users));
                if max < a.start_users {
                    return Err(bad(
                        "--max-users",
                        max,
                        format!("is below --start-users {}", a.start_users),
                    ));
                }
                let duration = optional_whole_seconds("--duration", a.duration)?;
                let plan = Plan::ramp(a.start_users, a.step_users, a.step_every, max, duration);
                check_total("--max-users", &plan)?;
                (Profile::Ramp, plan, a.common)
            }
            Command::Steady(a) => {
                positive("--users", a.users)?;
                let duration = optional_whole_seconds("--duration", a.duration)?;
                interval(a.interval)?;
                let plan = Plan::steady(a.users, duration, a.interval);
                check_total("--users", &plan)?;
                (Profile::Steady, plan, a.common)
            }
            Command::Spike(a) => {
                positive("--base-users", a.base_users)?;
                if a.spike_users <= a.base_users {
                    return Err(bad(
                        "--spike-users",
                        a.spike_users,
                        format!("must exceed --base-users {}", a.base_users),
                    ));
                }
                whole_seconds("--spike-at", a.spike_at)?;
                whole_seconds("--spike-for", a.spike_for)?;
                let duration = optional_whole_seconds("--duration", a.duration)?;
                if let Some(d) = duration
                    && d < a.spike_at + a.spike_for
                {
                    return Err(bad(
                        "--duration",
                        humantime::format_duration(d),
                        "ends before the spike does (--spike-at + --spike-for)",
                    ));
                }
                interval(a.interval)?;
                let plan = Plan::spike(
                    a.base_users,
                    a.spike_users,
                    a.spike_at,
                    a.spike_for,
                    duration,
                    a.interval,
                );
                check_total("--spike-users", &plan)?;
                (Profile::Spike, plan, a.common)
            }
        };
        Config::with_common(profile, plan, common)
    }

    fn with_common(profile: Profile, plan: Plan, c: CommonArgs) -> Result<Config, ConfigError> {
        let host = base_url("--host", &c.host)?;
        let controller = c
            .controller
            .as_deref()
            .map(|u| base_url("--controller", u))
            .transpose()?;
        if c.hello_weight == 0 && c.repeat_weight == 0 {
            return Err(bad(
                "--hello-weight",
                0,
                "and --repeat-weight are both 0: a user would make no request",
            ));
        }
        if c.timeout.is_zero() {
            return Err(bad("--timeout", "0", "must be above zero"));
        }
        let csv = c.csv.unwrap_or_else(|| c.out_dir.join("timeline.csv"));
        Ok(Config {
            profile,
            plan,
            host,
            think_time: parse_think_time(&c.think_time)?,
            hello_weight: c.hello_weight,
            repeat_weight: c.repeat_weight,
            timeout: c.timeout,
            out_dir: c.out_dir,
            csv,
            controller,
            slo: c.slo,
        })
    }
}

fn positive(flag: &'static str, n: u64) -> Result<(), ConfigError> {
    if n == 0 {
        return Err(bad(flag, n, "must be at least 1"));
    }
    if n > MAX_USERS {
        return Err(bad(
            flag,
            n,
            format!("goose runs at most {MAX_USERS} users"),
        ));
    }
    Ok(())
}

fn check_total(flag: &'static str, plan: &Plan) -> Result<(), ConfigError> {
    let total = plan.total_users();
    if total > MAX_USERS {
        return Err(bad(
            flag,
            total,
            format!("the plan starts {total} users in all; goose runs at most {MAX_USERS}"),
        ));
    }
    Ok(())
}

fn whole_seconds(flag: &'static str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() || d.subsec_nanos() != 0 {
        return Err(bad(
            flag,
            humantime::format_duration(d),
            "must be a whole number of seconds, at least 1s (goose's test plan counts seconds)",
        ));
    }
    Ok(())
}

fn optional_whole_seconds(
    flag: &'static str,
    d: Option<Duration>,
) -> Result<Option<Duration>, ConfigError> {
    if let Some(d) = d {
        whole_seconds(flag, d)?;
    }
    Ok(d)
}

fn interval(d: Duration) -> Result<(), ConfigError> {
    if d < Duration::from_millis(100) {
        return Err(bad(
            "--interval",
            humantime::format_duration(d),
            "must be at least 100ms",
        ));
    }
    Ok(())
}

/// An `http://` or `https://` URL with a host; returned without a trailing slash.
fn base_url(flag: &'static str, value: &str) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(value).map_err(|e| {
        bad(
            flag,
            value,
            format!("{e} (expected e.g. http://127.0.0.1:8000)"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(
            flag,
            value,
            "must be an http:// or https:// URL with a host",
        ));
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// `1s`, `0`, or `500ms..1500ms`.
pub fn parse_think_time(s: &str) -> Result<Option<(Duration, Duration)>, ConfigError> {
    let flag = "--think-time";
    let (lo, hi) = match s.split_once("..") {
        Some((lo, hi)) => (
            parse_duration(lo).map_err(|e| bad(flag, s, e))?,
            parse_duration(hi).map_err(|e| bad(flag, s, e))?,
        ),
        None => {
            let d = parse_duration(s).map_err(|e| bad(flag, s, e))?;
            (d, d)
        }
    };
    if lo > hi {
        return Err(bad(flag, s, "the range's lower end is above its upper end"));
    }
    Ok((!hi.is_zero()).then_some((lo, hi)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn config(args: &str) -> Result<Config, ConfigError> {
        let cli = Cli::try_parse_from(args.split_whitespace()).expect("clap parses");
        Config::from_cli(cli.command)
    }

    #[test]
    fn ramp_builds_a_staircase() {
        let c = config(
            "loadgen ramp -H http://127.0.0.1:8000/ --start-users 2 --step-users 3 --step-every 2s --duration 4s",
        )
        .unwrap();
        assert_eq!(c.plan.to_goose(), "2,0s;2,2s;5,0s;5,2s;0,0s");
        assert_eq!(c.host, "http://127.0.0.1:8000");
        assert_eq!(
            c.think_time,
            Some((Duration::from_secs(1), Duration::from_secs(1)))
        );
        assert_eq!(c.csv, PathBuf::from("loadgen-report/timeline.csv"));
        let c = config("loadgen ramp -H http://h --start-users 10 --step-users 5 --step-every 15s")
            .unwrap();
        assert_eq!(c.plan.peak_users(), DEFAULT_MAX_USERS);
    }

    #[test]
    fn bad_values_name_the_flag() {
        for (args, flag, reason) in [
            (
                "ramp -H http://h --start-users 0 --step-users 1 --step-every 1s",
                "--start-users",
                "at least 1",
            ),
            (
                "ramp -H http://h --start-users 1 --step-users 1 --step-every 1500ms",
                "--step-every",
                "whole number",
            ),
            (
                "ramp -H http://h --start-users 9 --step-users 1 --step-every 1s --max-users 5",
                "--max-users",
                "below --start-users",
            ),
            (
                "ramp -H http://h --start-users 1 --step-users 1 --step-every 1s --max-users 200000",
                "--max-users",
                "at most 100000",
            ),
            (
                "ramp -H localhost:8000 --start-users 1 --step-users 1 --step-every 1s",
                "--host",
                "http",
            ),
            (
                "ramp -H ftp://h --start-users 1 --step-users 1 --step-every 1s",
                "--host",
                "http",
            ),
            (
                "steady -H http://h -u 5 --think-time 2s..1s",
                "--think-time",
                "lower end",
            ),
            (
                "steady -H http://h -u 5 --think-time soon",
                "--think-time",
                "expected a duration",
            ),
            (
                "steady -H http://h -u 5 --hello-weight 0 --repeat-weight 0",
                "--hello-weight",
                "no request",
            ),
            (
                "steady -H http://h -u 5 --controller nope",
                "--controller",
                "expected e.g.",
            ),
            (
                "spike -H http://h --base-users 5 --spike-users 5",
                "--spike-users",
                "must exceed",
            ),
            (
                "spike -H http://h --base-users 5 --spike-users 9 --duration 40s",
                "--duration",
                "before the spike",
            ),
        ] {
            let e = config(&format!("loadgen {args}")).expect_err(args);
            assert_eq!(e.flag, flag, "{args}: {e}");
            assert!(e.to_string().contains(reason), "{args}: {e}");
        }
    }

    #[test]
    fn think_time_forms() {
        assert_eq!(parse_think_time("0").unwrap(), None);
        assert_eq!(
            parse_think_time("500ms..1500ms").unwrap(),
            Some((Duration::from_millis(500), Duration::from_millis(1500)))
        );
    }

    #[test]
    fn clap_rejects_bad_durations_and_slos_naming_the_flag() {
        let e = Cli::try_parse_from(
            "loadgen ramp -H http://h --start-users 1 --step-users 1 --step-every 5x".split(' '),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--step-every"), "{e}");
        let e = Cli::try_parse_from([
            "loadgen", "steady", "-H", "http://h", "-u", "1", "--slo", "p99<200",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("--slo") && e.contains("needs a unit"), "{e}");
    }
}
