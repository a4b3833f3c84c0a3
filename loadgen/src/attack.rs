//! The goose side: one scenario whose users each keep their own session, a weighted mix of
//! `GET /hello` and `GET /repeat`, think time between requests, and the plan as goose's
//! `--test-plan`. Every response is also recorded in the [`Recorder`] (latency to the end
//! of the body, success, `X-Instance-Id`).
//!
//! Sessions: each user carries its own `uid` cookie from its first request ([`Session`]),
//! as an API client with a session token does, so the service counts exactly the users
//! this load generator runs. (A browser's first request carries no cookie: the service
//! counts it under its client address until the cookie it issues comes back, so from one
//! address a ramp of browsers would count one user more for a window. loadgen knows its
//! users, so it says who they are.) If the service issues another `uid` anyway, the user
//! keeps that one from then on, as a browser would. All users
//! share one HTTP client (goose's shared strategy) instead of a client and cookie jar
//! each: per user that saves ~50 KB and the client's construction before the test starts,
//! and per request the jar's matching. Requests go out with a URL parsed once per route.
//! Together with `--no-gzip` this took loadgen from 28k to 35k requests/s on one core
//! (`bench/loadgen.sh`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::prelude::*;
use reqwest::Url;
use reqwest::header::{self, HeaderMap, HeaderValue};

use crate::config::Config;
use crate::recorder::{Recorder, UserGuard};

/// The goose command line for this run (goose validates it, and names a bad option).
pub fn goose_args(config: &Config, reports: &[&Path]) -> Vec<String> {
    let mut args = vec![
        "--host".to_string(),
        config.host.clone(),
        "--test-plan".into(),
        config.plan.to_goose(),
        "--timeout".into(),
        format!("{:.3}", config.timeout.as_secs_f64()),
        // No telnet controller: it would bind 127.0.0.1:5116, shared by every run.
        "--no-telnet".into(),
        // loadgen prints its own line per step and a summary; the reports hold goose's tables.
        "--no-print-metrics".into(),
        // Each transaction is exactly one request, so goose's transaction metrics duplicate its
        // request metrics, and a scenario iteration is one pass over the mix: both cost goose's
        // metrics task work per request for nothing the reports need.
        "--no-transaction-metrics".into(),
        "--no-scenario-metrics".into(),
        "--quiet".into(),
        // The service answers plain text; no Accept-Encoding, no decompression layer at work.
        "--no-gzip".into(),
    ];
    for r in reports {
        args.push("--report-file".into());
        args.push(r.display().to_string());
    }
    args
}

/// One goose user's session: counted while it exists ([`UserGuard`]), and the `Cookie`
/// header it sends: its own `uid` until the service issues one. (goose wants session data to be
/// `Clone`; a clone is counted as one more user, like [`UserGuard`].)
#[derive(Clone)]
struct Session {
    _user: UserGuard,
    cookie: Option<HeaderValue>,
}

/// `uid=lg-<128 random bits>`: a user id the service accepts (`[A-Za-z0-9._-]{1,128}`).
fn own_uid() -> HeaderValue {
    let id = format!("{}=lg-{:032x}", proto::USER_COOKIE, rand::random::<u128>());
    HeaderValue::from_str(&id).expect("ASCII")
}

/// The `Cookie` header value for a `uid` the service set in `headers`, if it set one.
fn issued_uid(headers: &HeaderMap) -> Option<HeaderValue> {
    headers.get_all(header::SET_COOKIE).iter().find_map(|v| {
        let pair = v.as_bytes().split(|&b| b == b';').next()?.trim_ascii();
        let value = pair
            .strip_prefix(proto::USER_COOKIE.as_bytes())?
            .strip_prefix(b"=")?;
        (!value.is_empty())
            .then(|| HeaderValue::from_bytes(pair).ok())
            .flatten()
    })
}

fn get(path: &'static str, url: Url, recorder: Arc<Recorder>) -> TransactionFunction {
    Arc::new(move |user| {
        let recorder = recorder.clone();
        let url = url.clone();
        Box::pin(async move {
            let started = Instant::now();
            let mut request = user.client.get(url);
            if let Some(cookie) = user
                .get_session_data::<Session>()
                .and_then(|s| s.cookie.clone())
            {
                request = request.header(header::COOKIE, cookie);
            }
            let goose = user
                .request(
                    GooseRequest::builder()
                        .name(path)
                        .set_request_builder(request)
                        .build(),
                )
                .await?;
            let (ok, instance, issued) = match goose.response {
                Ok(resp) => {
                    let ok = resp.status().is_success();
                    let instance = resp
                        .headers()
                        .get(proto::INSTANCE_ID_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let issued = issued_uid(resp.headers());
                    // Read the body so the connection is reused and latency covers it.
                    let body_ok = resp.bytes().await.is_ok();
                    (ok && body_ok, instance, issued)
                }
                Err(_) => (false, None, None),
            };
            if let (Some(cookie), Some(session)) = (issued, user.get_session_data_mut::<Session>())
            {
                session.cookie = Some(cookie);
            }
            recorder.record(Instant::now(), started.elapsed(), ok, instance.as_deref());
            Ok(())
        })
    })
}

fn on_start(recorder: Arc<Recorder>) -> TransactionFunction {
    Arc::new(move |user| {
        let session = Session {
            _user: recorder.user_started(Instant::now()),
            cookie: Some(own_uid()),
        };
        Box::pin(async move {
            user.set_session_data(session);
            Ok(())
        })
    })
}

/// Runs the load test to its end (the plan's end, Ctrl-C, or [`goose::trigger_killswitch`]).
/// goose writes its reports before this returns.
pub async fn execute(
    config: &Config,
    recorder: Arc<Recorder>,
    reports: &[&Path],
) -> Result<GooseMetrics, GooseError> {
    let goose_config = GooseConfiguration::parse_args_default(&goose_args(config, reports))?;
    let mut scenario = scenario!("user").register_transaction(
        Transaction::new(on_start(recorder.clone()))
            .set_name("session start")
            .set_on_start(),
    );
    let base = Url::parse(&config.host).map_err(|e| GooseError::InvalidOption {
        option: "--host".into(),
        value: config.host.clone(),
        detail: format!("not a URL: {e}"),
    })?;
    for (path, weight) in [
        ("/hello", config.hello_weight),
        ("/repeat", config.repeat_weight),
    ] {
        if weight > 0 {
            let url = base.join(path).map_err(|e| GooseError::InvalidOption {
                option: "--host".into(),
                value: config.host.clone(),
                detail: format!("cannot join {path}: {e}"),
            })?;
            scenario = scenario.register_transaction(
                Transaction::new(get(path, url, recorder.clone()))
                    .set_name(path)
                    .set_weight(weight)?,
            );
        }
    }
    if let Some((min, max)) = config.think_time {
        scenario = scenario.set_wait_time(min, max)?;
    }
    GooseAttack::initialize_with_config(goose_config)?
        .set_client_builder_without_cookies(
            GooseClientBuilder::new()
                .without_cookies()
                .user_agent(concat!("hellofleet-loadgen/", env!("CARGO_PKG_VERSION"))),
        )?
        .register_scenario(scenario)
        .execute()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_has_its_own_valid_uid() {
        let (a, b) = (own_uid(), own_uid());
        assert_ne!(a, b);
        let value = a.to_str().unwrap().strip_prefix("uid=").unwrap();
        assert!(value.len() <= 128);
        assert!(
            value
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        );
    }

    #[test]
    fn keeps_the_uid_the_service_issues_and_nothing_else() {
        let set = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(header::SET_COOKIE, HeaderValue::from_str(v).unwrap());
            }
            issued_uid(&h).map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(
            set(&["uid=abc123; Path=/; Max-Age=31536000; HttpOnly"]),
            Some("uid=abc123".into())
        );
        assert_eq!(set(&["other=1", "uid=x9; Path=/"]), Some("uid=x9".into()));
        assert_eq!(set(&[]), None);
        assert_eq!(set(&["uid=; Path=/"]), None);
        assert_eq!(set(&["xuid=1; Path=/"]), None);
        assert_eq!(set(&["session=uid=1"]), None);
    }
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
        goose_args(&config, &[Path::new("r.html"), Path::new("r.json")])
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
    fn certificates_are_always_verified_and_gzip_is_off() {
        for host in ["http://h", "https://h"] {
            let a = args(host);
            assert!(!a.contains(&"--accept-invalid-certs".to_string()), "{a:?}");
            assert!(a.contains(&"--no-gzip".to_string()), "{a:?}");
        }
    }
}
