//! The goose side: one scenario whose users each keep their own session and connection, a
//! weighted mix of routes ([`Mix`]), think time between requests, and the plan (a goose
//! `--test-plan`, or for a ramp `--users` grown through goose's telnet Controller, see
//! [`crate::grow`]).
//!
//! Requests go through loadgen's own client ([`crate::client`]): each user owns one
//! keep-alive HTTP/1.1 connection, timed here to the end of the body, and every request is
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
use std::time::{Duration, Instant};

use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::prelude::*;

use crate::books::Books;
use crate::client::{ClientError, Endpoint, Http1, Response, TlsClient, UserClient};
use crate::config::Config;
use crate::http1::Request;
use crate::mix::{Mix, Route};
use crate::recorder::{Recorder, UserGuard};

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

/// Where the users send: their own connections to `host:port`, or the shared https client.
#[derive(Clone)]
enum Target {
    Plain(Arc<Endpoint>),
    Tls(Arc<TlsClient>),
}

impl Target {
    fn new(host: &str) -> Result<Target, String> {
        let url = reqwest::Url::parse(host).map_err(|e| format!("not a URL: {e}"))?;
        let name = url.host_str().ok_or("no host")?;
        match url.scheme() {
            "http" => {
                let port = url.port_or_known_default().unwrap_or(80);
                let host = match url.port() {
                    Some(p) => format!("{name}:{p}"),
                    None => name.to_string(),
                };
                Ok(Target::Plain(Arc::new(Endpoint {
                    connect: format!("{name}:{port}"),
                    host,
                })))
            }
            "https" => Ok(Target::Tls(Arc::new(
                TlsClient::new(host).map_err(|e| e.to_string())?,
            ))),
            other => Err(format!("unsupported scheme {other}")),
        }
    }

    fn client(&self) -> UserClient {
        match self {
            Target::Plain(e) => UserClient::Plain(Http1::new(e.clone())),
            Target::Tls(c) => UserClient::Tls(c.clone()),
        }
    }
}

/// What every user shares.
struct Shared {
    recorder: Arc<Recorder>,
    target: Target,
    timeout: Duration,
    factorial_path: String,
    factorial_number: u64,
    books_auth: Option<String>,
}

/// One goose user's session: counted while it exists ([`UserGuard`]), its `Cookie` header
/// (its own `uid` until the service issues one), its connection and its books. (goose wants
/// session data to be `Clone`; a clone is counted as one more user and has its own
/// connection.)
struct Session {
    _user: UserGuard,
    cookie: String,
    who: String,
    client: UserClient,
    target: Target,
    books: Books,
}

impl Clone for Session {
    fn clone(&self) -> Self {
        Session {
            _user: self._user.clone(),
            cookie: self.cookie.clone(),
            who: self.who.clone(),
            client: self.target.client(),
            target: self.target.clone(),
            books: self.books.clone(),
        }
    }
}

/// `uid=lg-<128 random bits>`: a user id the service accepts (`[A-Za-z0-9._-]{1,128}`).
fn own_uid() -> String {
    format!("{}=lg-{:032x}", proto::USER_COOKIE, rand::random::<u128>())
}

/// A factorial answer is `{"number": N, "factorial": "<digits>"}` for the N asked.
fn factorial_ok(body: &[u8], n: u64) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("factorial: not JSON: {e}"))?;
    let digits = v["factorial"].as_str().unwrap_or_default();
    if v["number"].as_u64() != Some(n)
        || digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("factorial: not the answer for {n}"));
    }
    Ok(())
}

/// The outcome of one request: for goose and the recorder.
struct Outcome {
    ok: bool,
    status: Option<u16>,
    error: Option<String>,
    instance: Option<String>,
}

fn outcome(
    result: Result<Response, ClientError>,
    check: impl FnOnce(&Response) -> Result<(), String>,
) -> Outcome {
    match result {
        Ok(r) => {
            let checked = if (200..300).contains(&r.status) {
                check(&r)
            } else {
                Err(format!("{} {}", r.status, status_reason(r.status)))
            };
            Outcome {
                ok: checked.is_ok(),
                status: Some(r.status),
                error: checked.err(),
                instance: r.instance,
            }
        }
        Err(e) => Outcome {
            ok: false,
            status: None,
            error: Some(e.to_string()),
            instance: None,
        },
    }
}

fn status_reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// One request of `route` for this user: sent, timed, checked, recorded.
async fn call(user: &mut GooseUser, sh: &Shared, route: Route) -> TransactionResult {
    let Some(Session {
        cookie,
        who,
        client,
        books,
        ..
    }) = user.get_session_data_mut::<Session>()
    else {
        return Err(Box::new(TransactionError::Custom(
            "no session: on_start did not run".into(),
        )));
    };
    let started = Instant::now();
    let (method, name, out) = match route {
        Route::Hello | Route::Repeat | Route::Factorial => {
            let (path, name) = match route {
                Route::Hello => ("/hello", "/hello"),
                Route::Repeat => ("/repeat", "/repeat"),
                _ => (sh.factorial_path.as_str(), "/api/v1/factorial"),
            };
            let req = Request {
                method: "GET",
                path,
                headers: &[("Cookie", cookie.as_str())],
                body: None,
            };
            let result = client.send(&req, sh.timeout).await;
            let n = sh.factorial_number;
            let out = outcome(result.map(|r| adopt(cookie, r)), |r| match route {
                Route::Factorial => factorial_ok(&r.body, n),
                _ => Ok(()),
            });
            ("GET", name, out)
        }
        Route::Books => {
            let planned = books.next(who);
            let mut headers = vec![("Cookie", cookie.as_str())];
            if planned.write {
                headers.push(("Authorization", sh.books_auth.as_deref().unwrap_or("")));
                headers.push(("Content-Type", "application/json"));
            }
            if let Some(etag) = &planned.if_match {
                headers.push(("If-Match", etag.as_str()));
            }
            let req = Request {
                method: planned.method,
                path: &planned.path,
                headers: &headers,
                body: planned.body.as_deref(),
            };
            let result = client.send(&req, sh.timeout).await;
            drop(headers);
            let result = result.map(|r| adopt(cookie, r));
            let observed = books.observe(&planned, result.as_ref().ok());
            let mut out = outcome(result, |_| Ok(()));
            if out.status.is_some() {
                out.ok = observed.is_ok();
                out.error = observed.err();
            }
            (planned.method, planned.name, out)
        }
    };
    let elapsed = started.elapsed();
    sh.recorder
        .record(Instant::now(), elapsed, out.ok, out.instance.as_deref());
    user.record_custom_request_duration(
        method,
        name,
        elapsed,
        out.ok,
        out.status,
        out.error.as_deref(),
    )
    .await
}

/// Keeps the `uid` the service issued, if it issued one.
fn adopt(cookie: &mut String, r: Response) -> Response {
    if let Some(c) = &r.uid_cookie
        && c != cookie
    {
        cookie.clone_from(c);
    }
    r
}

fn transaction(route: Route, shared: Arc<Shared>) -> TransactionFunction {
    Arc::new(move |user| {
        let shared = shared.clone();
        Box::pin(async move { call(user, &shared, route).await })
    })
}

fn on_start(shared: Arc<Shared>) -> TransactionFunction {
    Arc::new(move |user| {
        let cookie = own_uid();
        let session = Session {
            _user: shared.recorder.user_started(Instant::now()),
            who: cookie.trim_start_matches("uid=").to_string(),
            cookie,
            client: shared.target.client(),
            target: shared.target.clone(),
            books: Books::default(),
        };
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

    #[test]
    fn each_user_has_its_own_valid_uid() {
        let (a, b) = (own_uid(), own_uid());
        assert_ne!(a, b);
        let value = a.strip_prefix("uid=").unwrap();
        assert!(value.len() <= 128);
        assert!(
            value
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        );
    }

    #[test]
    fn keeps_the_uid_the_service_issues() {
        let mut cookie = "uid=lg-1".to_string();
        let r = Response {
            uid_cookie: Some("uid=s-9".into()),
            ..Response::default()
        };
        adopt(&mut cookie, r);
        assert_eq!(cookie, "uid=s-9");
        adopt(&mut cookie, Response::default());
        assert_eq!(cookie, "uid=s-9", "no Set-Cookie: kept");
    }

    #[test]
    fn factorial_answers_are_checked() {
        assert!(factorial_ok(br#"{"number":5,"factorial":"120"}"#, 5).is_ok());
        for bad in [
            &br#"{"number":4,"factorial":"24"}"#[..],
            br#"{"number":5,"factorial":120}"#,
            br#"{"number":5,"factorial":"12x"}"#,
            b"120",
        ] {
            assert!(
                factorial_ok(bad, 5).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn targets_from_hosts() {
        let Ok(Target::Plain(e)) = Target::new("http://127.0.0.1:8000") else {
            panic!()
        };
        assert_eq!(
            (e.connect.as_str(), e.host.as_str()),
            ("127.0.0.1:8000", "127.0.0.1:8000")
        );
        let Ok(Target::Plain(e)) = Target::new("http://example.test") else {
            panic!()
        };
        assert_eq!(
            (e.connect.as_str(), e.host.as_str()),
            ("example.test:80", "example.test")
        );
        assert!(matches!(
            Target::new("https://example.test"),
            Ok(Target::Tls(_))
        ));
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
