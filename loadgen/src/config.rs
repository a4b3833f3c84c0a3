//! The validated configuration: [`Config::from_cli`] turns the command line into a plan, a
//! host, a think time and output paths, or an error naming the flag. Pure.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Command, CommonArgs, parse_duration};
use crate::mix::{Mix, Route};
use crate::plan::{MAX_USERS, Plan};
use crate::slo::Slo;

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
    pub mix: Mix,
    /// `number` in the factorial requests.
    pub factorial_number: u64,
    /// `Authorization` value for the books writes (`Bearer …`), when books is in the mix.
    pub books_auth: Option<String>,
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
                let max = a.max_users.unwrap_or(MAX_USERS);
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
        let mix = match c.mix {
            Some(m) => m,
            None => Mix::classic(c.hello_weight, c.repeat_weight).map_err(|e| {
                bad(
                    "--hello-weight",
                    c.hello_weight,
                    format!("with --repeat-weight {}: {e}", c.repeat_weight),
                )
            })?,
        };
        let books_auth = if mix.weight(Route::Books) > 0 {
            let token = c.books_token.as_deref().map(str::trim).unwrap_or_default();
            if token.is_empty() {
                return Err(bad(
                    "--books-token",
                    "",
                    "is required when books is in --mix (or set HELLOFLEET_BOOKS_TOKEN)",
                ));
            }
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(bad(
                    "--books-token",
                    "(hidden)",
                    "must be printable ASCII without spaces",
                ));
            }
            Some(format!("Bearer {token}"))
        } else {
            None
        };
        if c.timeout.is_zero() {
            return Err(bad("--timeout", "0", "must be above zero"));
        }
        let csv = c.csv.unwrap_or_else(|| c.out_dir.join("timeline.csv"));
        Ok(Config {
            profile,
            plan,
            host,
            think_time: parse_think_time(&c.think_time)?,
            mix,
            factorial_number: c.factorial_number,
            books_auth,
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
        assert_eq!(c.plan.users_at(Duration::from_secs(2)), 5);
        assert_eq!(c.host, "http://127.0.0.1:8000");
        assert_eq!(
            c.think_time,
            Some((Duration::from_secs(1), Duration::from_secs(1)))
        );
        assert_eq!(c.csv, PathBuf::from("loadgen-report/timeline.csv"));
        let c = config("loadgen ramp -H http://h --start-users 10 --step-users 5 --step-every 15s")
            .unwrap();
        assert_eq!(c.plan.peak_users(), MAX_USERS, "until stopped: the ceiling");
        assert_eq!(c.mix.to_string(), "hello=9,repeat=1");
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
                "steady -H http://h -u 5 --mix hello=1,books=1",
                "--books-token",
                "required",
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
    fn mix_and_books_token() {
        let c = config(
            "loadgen steady -H http://h -u 5 --mix hello=8,repeat=1,factorial=1,books=1 --books-token s3cret --factorial-number 5000",
        )
        .unwrap();
        assert_eq!(c.mix.weight(Route::Books), 1);
        assert_eq!(c.books_auth.as_deref(), Some("Bearer s3cret"));
        assert_eq!(c.factorial_number, 5000);
        let c = config("loadgen steady -H http://h -u 5 --mix factorial=1").unwrap();
        assert_eq!(c.books_auth, None, "no token needed without books");
        for bad in [
            "loadgen steady -H http://h -u 5 --mix hello=1,dogs=1",
            "loadgen steady -H http://h -u 5 --mix hello=0",
            "loadgen steady -H http://h -u 5 --mix hello=x",
            "loadgen steady -H http://h -u 5 --mix hello=1 --hello-weight 3",
        ] {
            let e = Cli::try_parse_from(bad.split_whitespace())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("--mix") || e.contains("--hello-weight"),
                "{bad}: {e}"
            );
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
