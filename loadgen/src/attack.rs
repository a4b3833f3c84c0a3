//! The goose side: one scenario whose users each keep their own session and connection, a
//! weighted mix of routes ([`Mix`]), think time between requests, and the plan (a goose
//! `--test-plan`, or for a ramp `--users` grown through goose's telnet Controller, see
//! [`crate::grow`]).
//!
//! Requests go through loadgen's own client ([`crate::client`]): each user owns one
//! keep-alive HTTP/1.1 connection ([`crate::user`] times each request to the end of its body), and every request is
//! handed to goose with [`GooseUser::record_custom_request_duration`] (method, route, time,
//! success, status code, error), so goose's metrics, HTML/JSON reports and thresholds see
//! every request; it is also recorded in the [`Recorder`] (step lines, CSV, SLO) with the
//! `X-Instance-Id` that answered. `https://` hosts go through one shared reqwest client.
//!
//! Sessions: each user carries its own `uid` cookie from its first request ([`Session`]),
//! as an API client with a session token does, so the service counts exactly the users
//! this load generator runs. If the service issues another `uid` anyway, the user keeps
//! that one from then on, as a browser would.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::prelude::*;

use crate::config::Config;
use crate::mix::{Mix, Route};
use crate::recorder::Recorder;
use crate::user::{Session, Shared, Target};

/// Users per second goose starts (its most): a step's users all start at once.
const INCREASE_RATE: &str = "100000";

/// The goose command line for this run (goose validates it, and names a bad option).
/// `telnet_port`: where a ramp's goose listens for `users N` (loopback only).
pub fn goose_args(config: &Config, reports: &[&Path], telnet_port: Option<u16>) -> Vec<String> {
    let mut args = vec![
        "--host".to_string(),
        config.host.clone(),
        "--timeout".into(),
        format!("{:.3}", config.timeout.as_secs_f64()),
        // loadgen prints its own line per step and a summary; the reports hold goose's tables.
        "--no-print-metrics".into(),
        // Each transaction is exactly one request, so goose's transaction metrics duplicate its
        // request metrics, and a scenario iteration is one pass over the mix: both cost goose's
        // metrics task work per request for nothing the reports need.
        "--no-transaction-metrics".into(),
        "--no-scenario-metrics".into(),
        "--quiet".into(),
        "--no-gzip".into(),
    ];
    match (config.plan.ramp, telnet_port) {
        (Some(ramp), Some(port)) => args.extend([
            "--users".into(),
            ramp.start.to_string(),
            "--increase-rate".into(),
            INCREASE_RATE.into(),
            "--telnet-host".into(),
            "127.0.0.1".into(),
            "--telnet-port".into(),
            port.to_string(),
        ]),
        _ => args.extend([
            "--test-plan".into(),
            config.plan.to_goose(),
            // No telnet controller: it would bind 127.0.0.1:5116, shared by every run.
            "--no-telnet".into(),
        ]),
    }
    for r in reports {
        args.push("--report-file".into());
        args.push(r.display().to_string());
    }
    args
}

/// One request of `route` for this user, recorded into the [`Recorder`] and goose.
async fn call(user: &mut GooseUser, sh: &Shared, route: Route) -> TransactionResult {
    let Some(session) = user.get_session_data_mut::<Session>() else {
        return Err(Box::new(TransactionError::Custom(
            "no session: on_start did not run".into(),
        )));
    };
    let done = session.request(sh, route).await;
    let out = &done.outcome;
    sh.recorder.record(
        Instant::now(),
        done.elapsed,
        out.ok,
        out.instance.as_deref(),
    );
    user.record_custom_request_duration(
        done.method,
        done.name,
        done.elapsed,
        out.ok,
        out.status,
        out.error.as_deref(),
    )
    .await
}

fn transaction(route: Route, shared: Arc<Shared>) -> TransactionFunction {
    Arc::new(move |user| {
        let shared = shared.clone();
        Box::pin(async move { call(user, &shared, route).await })
    })
}

fn on_start(shared: Arc<Shared>) -> TransactionFunction {
    Arc::new(move |user| {
        let session = Session::new(&shared);
        Box::pin(async move {
            user.set_session_data(session);
            Ok(())
        })
    })
}

fn scenario(config: &Config, shared: &Arc<Shared>, mix: &Mix) -> Result<Scenario, GooseError> {
    let mut scenario = scenario!("user").register_transaction(
        Transaction::new(on_start(shared.clone()))
            .set_name("session start")
            .set_on_start(),
    );
    for &(route, weight) in mix.weights() {
        scenario = scenario.register_transaction(
            Transaction::new(transaction(route, shared.clone()))
                .set_name(route.as_str())
                .set_weight(weight)?,
        );
    }
    if let Some((min, max)) = config.think_time {
        scenario = scenario.set_wait_time(min, max)?;
    }
    Ok(scenario)
}

/// Runs the load test to its end (the plan's end, Ctrl-C, or [`goose::trigger_killswitch`]).
/// goose writes its reports before this returns.
pub async fn execute(
    config: &Config,
    recorder: Arc<Recorder>,
    reports: &[&Path],
    telnet_port: Option<u16>,
) -> Result<GooseMetrics, GooseError> {
    let goose_config =
        GooseConfiguration::parse_args_default(&goose_args(config, reports, telnet_port))?;
    let target = Target::new(&config.host).map_err(|detail| GooseError::InvalidOption {
        option: "--host".into(),
        value: config.host.clone(),
        detail,
    })?;
    let shared = Arc::new(Shared {
        recorder,
        target,
        timeout: config.timeout,
        factorial_path: format!("/api/v1/factorial?number={}", config.factorial_number),
        factorial_number: config.factorial_number,
        books_auth: config.books_auth.clone(),
    });
    let scenario = scenario(config, &shared, &config.mix)?;
    GooseAttack::initialize_with_config(goose_config)?
        // goose gives each user a reqwest client; they share one (loadgen sends through its own).
        .set_client_builder_without_cookies(GooseClientBuilder::new().without_cookies())?
        .register_scenario(scenario)
        .execute()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cli::Cli;
    use clap::Parser;

    fn args(host: &str) -> Vec<String> {
        let cli = Cli::try_parse_from([
            "loadgen",
            "steady",
            "-H",
            host,
            "-u",
            "3",
            "--duration",
            "5s",
        ])
        .unwrap();
        let config = Config::from_cli(cli.command).unwrap();
        goose_args(&config, &[Path::new("r.html"), Path::new("r.json")], None)
    }

    #[test]
    fn goose_gets_the_plan_the_reports_and_no_telnet() {
        let a = args("http://127.0.0.1:8000");
        let joined = a.join(" ");
        assert!(joined.contains("--host http://127.0.0.1:8000"), "{joined}");
        assert!(joined.contains("--test-plan 3,0s;3,5s;0,0s"), "{joined}");
        assert!(
            joined.contains("--report-file r.html --report-file r.json"),
            "{joined}"
        );
        assert!(joined.contains("--no-telnet"), "{joined}");
        GooseConfiguration::parse_args_default(&a).expect("goose accepts the arguments");
    }

    #[test]
    fn a_ramp_starts_its_first_users_with_a_loopback_controller() {
        let cli = Cli::try_parse_from(
            "loadgen ramp -H http://h --start-users 4 --step-users 2 --step-every 2s".split(' '),
        )
        .unwrap();
        let config = Config::from_cli(cli.command).unwrap();
        let a = goose_args(&config, &[], Some(40001));
        let joined = a.join(" ");
        assert!(joined.contains("--users 4 --increase-rate"), "{joined}");
        assert!(
            joined.contains("--telnet-host 127.0.0.1 --telnet-port 40001"),
            "{joined}"
        );
        assert!(!joined.contains("--test-plan"), "{joined}");
        GooseConfiguration::parse_args_default(&a).expect("goose accepts the arguments");
    }

    #[test]
    fn certificates_are_always_verified_and_gzip_is_off() {
        for host in ["http://h", "https://h"] {
            let a = args(host);
            assert!(!a.contains(&"--accept-invalid-certs".to_string()), "{a:?}");
            assert!(a.contains(&"--no-gzip".to_string()), "{a:?}");
        }
    }
}
