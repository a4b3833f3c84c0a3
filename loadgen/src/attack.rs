//! The goose side: one scenario whose users each keep their own session (goose's `cookies`
//! feature gives every user its own client and cookie jar, so the service's `uid` cookie
//! sticks), a weighted mix of `GET /hello` and `GET /repeat`, think time between requests,
//! and the plan as goose's `--test-plan`. Every response is also recorded in the
//! [`Recorder`] (latency to the end of the body, success, `X-Instance-Id`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::prelude::*;

use crate::config::Config;
use crate::recorder::Recorder;

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
        "--quiet".into(),
    ];
    for r in reports {
        args.push("--report-file".into());
        args.push(r.display().to_string());
    }
    args
}

fn get(path: &'static str, recorder: Arc<Recorder>) -> TransactionFunction {
    Arc::new(move |user| {
        let recorder = recorder.clone();
        Box::pin(async move {
            let started = Instant::now();
            let goose = user.get(path).await?;
            let (ok, instance) = match goose.response {
                Ok(resp) => {
                    let ok = resp.status().is_success();
                    let instance = resp
                        .headers()
                        .get(proto::INSTANCE_ID_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    // Read the body so the connection is reused and latency covers it.
                    let body_ok = resp.bytes().await.is_ok();
                    (ok && body_ok, instance)
                }
                Err(_) => (false, None),
            };
            recorder.record(Instant::now(), started.elapsed(), ok, instance.as_deref());
            Ok(())
        })
    })
}

fn on_start(recorder: Arc<Recorder>) -> TransactionFunction {
    Arc::new(move |user| {
        let guard = recorder.user_started(Instant::now());
        Box::pin(async move {
            user.set_session_data(guard);
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
    for (path, weight) in [
        ("/hello", config.hello_weight),
        ("/repeat", config.repeat_weight),
    ] {
        if weight > 0 {
            scenario = scenario.register_transaction(
                Transaction::new(get(path, recorder.clone()))
                    .set_name(path)
                    .set_weight(weight)?,
            );
        }
    }
    if let Some((min, max)) = config.think_time {
        scenario = scenario.set_wait_time(min, max)?;
    }
    GooseAttack::initialize_with_config(goose_config)?
        .set_client_builder_with_cookies(
            GooseClientBuilder::new()
                .user_agent(concat!("hellofleet-loadgen/", env!("CARGO_PKG_VERSION"))),
        )?
        .register_scenario(scenario)
        .execute()
        .await
}
