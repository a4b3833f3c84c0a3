//! The daemon's HTTP API through `app(state)` with `oneshot` (no socket), and one tick of
//! the loop against the in-memory fleet. Reports are signed with a test key; forged,
//! unsigned, stale and replayed ones are refused.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use controller::config::Config;
use controller::daemon::{Shared, StatusResponse, app, tick_once};
use controller::metrics::MemorySink;
use controller::provider::Fleet;
use controller::provider::memory::MemoryFleet;
use fleetcore::synthetic::{report, user_ids};
use fleetcore::tick::Reconciler;
use http_body_util::BodyExt;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::daemon_support::test_key;

/// The daemon's state for `config`, with nothing known yet.
fn shared(config: &Config) -> Arc<Shared> {
    Arc::new(Shared::new(
        config,
        "memory",
        None,
        CancellationToken::new(),
    ))
}

/// The state with the test key, over a fleet of 3 (i-mem-3 still Pending).
fn setup() -> (Arc<Shared>, Arc<MemoryFleet>) {
    let config = Config::local_default().with_report_key(test_key());
    let fleet = Arc::new(MemoryFleet::new("g", 1, 10, 2).with_pending_launches());
    futures::executor::block_on(fleet.set_desired_capacity(3)).unwrap();
    let state = shared(&config);
    state.set_known(&fleet.snapshot());
    (state, fleet)
}

/// [`setup`] with all 3 instances in service.
fn setup_in_service() -> (Arc<Shared>, Arc<MemoryFleet>) {
    let (state, fleet) = setup();
    fleet.promote_pending();
    state.set_known(&fleet.snapshot());
    (state, fleet)
}

/// Each of the 3 instances reports 70 distinct users at `now` (over the threshold of 50).
async fn report_70_each(state: &Arc<Shared>, now: u64) {
    for (k, id) in ["i-mem-1", "i-mem-2", "i-mem-3"].iter().enumerate() {
        let users = user_ids(k as u64 * 70, (k as u64 + 1) * 70);
        let r = report(id, 1, now, users.iter().map(String::as_str), 100);
        assert_eq!(post_report(state, json(&r)).await, StatusCode::ACCEPTED);
    }
}

/// Whether `sink` got ConcurrentUsersPerInstance of about 70 ([`report_70_each`]).
fn published_about_70_each(sink: &MemorySink) -> bool {
    sink.data()
        .iter()
        .any(|d| d.name == "ConcurrentUsersPerInstance" && (69.0..=71.0).contains(&d.value))
}

/// One tick of the loop with `config`'s policies into `sink`.
async fn tick(config: &Config, fleet: &MemoryFleet, sink: &MemorySink, state: &Arc<Shared>) {
    let mut rec = Reconciler::from_config(config, "memory", None);
    tick_once(&mut rec, fleet, sink, state).await;
}

async fn call(state: &Arc<Shared>, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = app(Arc::clone(state)).oneshot(req).await.unwrap();
    let code = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (code, body)
}

/// POSTs `body` signed now with the test key (each call at a later millisecond than the
/// last, so posting the same body twice is a duplicate, not a replay of one signature).
async fn post_report(state: &Arc<Shared>, body: impl Into<String>) -> StatusCode {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let body = body.into();
    let now = controller::clock::now_ms();
    let t = now.max(LAST.fetch_max(now, Ordering::Relaxed) + 1);
    LAST.fetch_max(t, Ordering::Relaxed);
    let sig = proto::sign::sign(&test_key(), t, body.as_bytes());
    post_with(state, body, Some(&sig)).await
}

async fn post_with(state: &Arc<Shared>, body: String, signature: Option<&str>) -> StatusCode {
    let mut req = Request::post("/api/reports").header("content-type", "application/json");
    if let Some(sig) = signature {
        req = req.header(proto::sign::SIGNATURE_HEADER, sig);
    }
    call(state, req.body(Body::from(body)).unwrap()).await.0
}

async fn get(state: &Arc<Shared>, uri: &str) -> (StatusCode, Vec<u8>) {
    call(state, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn get_json<T: serde::de::DeserializeOwned>(state: &Arc<Shared>, uri: &str) -> T {
    let (code, body) = get(state, uri).await;
    assert_eq!(
        code,
        StatusCode::OK,
        "{uri}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).unwrap()
}

fn json(r: &proto::LoadReport) -> String {
    serde_json::to_string(r).unwrap()
}

#[tokio::test]
async fn reports_are_accepted_or_refused_and_counted() {
    let (state, _fleet) = setup();
    let users = user_ids(0, 10);
    let good = report("i-mem-1", 1, 5_000, users.iter().map(String::as_str), 10);
    assert_eq!(post_report(&state, json(&good)).await, StatusCode::ACCEPTED);
    assert_eq!(
        post_report(&state, json(&good)).await,
        StatusCode::OK,
        "duplicate (a new signature of the same report)"
    );
    // i-mem-3 is Pending: its reports are welcome.
    let pending = report("i-mem-3", 1, 5_000, [], 0);
    assert_eq!(
        post_report(&state, json(&pending)).await,
        StatusCode::ACCEPTED
    );

    assert_eq!(
        post_report(&state, "{not json").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post_report(&state, r#"{"instance_id":"i-mem-1"}"#).await,
        StatusCode::BAD_REQUEST
    );
    let mut time_travel = good.clone();
    time_travel.started_at_ms = 9_000;
    assert_eq!(
        post_report(&state, json(&time_travel)).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let mut absurd = good.clone();
    absurd.in_flight = u64::MAX;
    assert_eq!(
        post_report(&state, json(&absurd)).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let stranger = report("i-stranger", 1, 5_000, [], 0);
    assert_eq!(
        post_report(&state, json(&stranger)).await,
        StatusCode::NOT_FOUND
    );
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(state.max_report_bytes + 1));
    assert_eq!(
        post_with(&state, huge, None).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "the size limit comes before the signature"
    );
    let bad_sketch = json(&good).replace(r#""p":14"#, r#""p":99"#);
    assert_eq!(
        post_report(&state, bad_sketch).await,
        StatusCode::BAD_REQUEST
    );

    let s: StatusResponse = get_json(&state, "/api/status").await;
    let r = s.reports;
    assert_eq!((r.accepted, r.duplicate), (2, 1));
    assert_eq!(
        (r.malformed, r.invalid, r.unknown_instance, r.too_large),
        (3, 2, 1, 1)
    );
    assert_eq!(r.refused, 7);
    // The same body reads as a plain proto::Status too.
    let (_, body) = get(&state, "/api/status").await;
    let plain: proto::Status = serde_json::from_slice(&body).unwrap();
    assert_eq!(plain.group.name, "hellofleet-local");
}

#[tokio::test]
async fn a_tick_fills_status_decisions_and_metrics() {
    let (state, fleet) = setup_in_service();
    let now = controller::clock::now_ms();
    report_70_each(&state, now).await;
    let sink = MemorySink::new();
    tick(&Config::local_default(), &fleet, &sink, &state).await;

    let s: StatusResponse = get_json(&state, "/api/status").await;
    assert_eq!(s.status.tick, 1);
    assert_eq!(s.status.instances.len(), 3);
    assert!(
        (207..=213).contains(&s.status.fleet.concurrent_users),
        "{}",
        s.status.fleet.concurrent_users
    );
    // 70 per instance against a threshold of 50: step [+15, +40) → +50 % of 3 = 1.5,
    // rounded down as AWS does → 4.
    assert_eq!(s.status.group.desired_capacity, 4);
    assert_eq!(fleet.desired_calls(), vec![3, 4]);

    let decisions: Vec<proto::DecisionRecord> = get_json(&state, "/api/decisions").await;
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].action, "scale_out");
    assert_eq!(decisions[0].applied, Some(true));
    assert!(!decisions[0].explanation.is_empty());

    let points: Vec<proto::MetricPoint> = get_json(&state, "/api/metrics?since=0").await;
    assert_eq!(points.len(), 1);
    let since = points[0].at_ms + 1;
    let later: Vec<proto::MetricPoint> =
        get_json(&state, &format!("/api/metrics?since={since}")).await;
    assert!(later.is_empty());
    let (code, _) = get(&state, "/api/metrics?since=yesterday").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(published_about_70_each(&sink), "{:?}", sink.data());

    // The new pending instances are known at once: their first reports are accepted.
    let r = report("i-mem-4", 1, now, [], 0);
    assert_eq!(post_report(&state, json(&r)).await, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_failing_provider_is_recorded_not_fatal() {
    let (state, fleet) = setup();
    fleet.fail_with(Some("throttled"));
    tick(&Config::local_default(), &fleet, &MemorySink::new(), &state).await;
    let s: StatusResponse = get_json(&state, "/api/status").await;
    assert_eq!(s.errors.describe, 1);
    let decisions: Vec<proto::DecisionRecord> = get_json(&state, "/api/decisions").await;
    assert_eq!(decisions[0].reason, "provider_error");
    assert!(decisions[0].explanation.contains("throttled"));
}

#[tokio::test]
async fn decision_history_is_bounded() {
    let toml = format!(
        "{}[history]\ndecisions = 3\nmetrics = 2\n",
        controller::config::defaults::LOCAL_TOML
    );
    let config = Config::from_toml(&toml, "test", &Default::default()).unwrap();
    let fleet = MemoryFleet::new("g", 1, 10, 1);
    let state = shared(&config);
    let mut rec = Reconciler::from_config(&config, "memory", None);
    for _ in 0..5 {
        tick_once(&mut rec, &fleet, &MemorySink::new(), &state).await;
    }
    let decisions: Vec<proto::DecisionRecord> = get_json(&state, "/api/decisions").await;
    assert_eq!(
        decisions.iter().map(|d| d.tick).collect::<Vec<_>>(),
        vec![3, 4, 5]
    );
    let points: Vec<proto::MetricPoint> = get_json(&state, "/api/metrics").await;
    assert_eq!(points.len(), 2);
}

/// A forged report (an instance id copied from the status, 10,000,000 users, a wrong key),
/// an unsigned one, a stale one and a replayed one: each 401, counted by reason, and none
/// moves the book: the tick after them sees only the real report.
#[tokio::test]
async fn forged_unsigned_stale_and_replayed_reports_are_refused_and_move_nothing() {
    let (state, fleet) = setup_in_service();
    let now = controller::clock::now_ms();
    let real_users = user_ids(0, 10);
    let real = report("i-mem-1", 1, now, real_users.iter().map(String::as_str), 10);
    assert_eq!(post_report(&state, json(&real)).await, StatusCode::ACCEPTED);

    let crowd = user_ids(1_000, 6_000);
    let mut forged = report("i-mem-1", 2, now, crowd.iter().map(String::as_str), 1_000);
    forged.concurrent_users = 10_000_000;
    let body = json(&forged);
    let wrong_key = proto::sign::ReportKey::from_text(&"x".repeat(40)).unwrap();
    let forged_sig = proto::sign::sign(&wrong_key, now, body.as_bytes());
    assert_eq!(
        post_with(&state, body.clone(), Some(&forged_sig)).await,
        StatusCode::UNAUTHORIZED,
        "wrong key"
    );
    assert_eq!(
        post_with(&state, body.clone(), None).await,
        StatusCode::UNAUTHORIZED,
        "unsigned"
    );
    assert_eq!(
        post_with(&state, body.clone(), Some("t=1,v1=zz")).await,
        StatusCode::UNAUTHORIZED,
        "malformed"
    );
    let stale_sig = proto::sign::sign(&test_key(), now - 31_000, body.as_bytes());
    assert_eq!(
        post_with(&state, body.clone(), Some(&stale_sig)).await,
        StatusCode::UNAUTHORIZED,
        "stale"
    );
    // A captured real report sent again with its own signature: a replay.
    let next = report(
        "i-mem-1",
        2,
        now + 1,
        real_users.iter().map(String::as_str),
        20,
    );
    let next_body = json(&next);
    let sig = proto::sign::sign(&test_key(), now, next_body.as_bytes());
    assert_eq!(
        post_with(&state, next_body.clone(), Some(&sig)).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        post_with(&state, next_body, Some(&sig)).await,
        StatusCode::UNAUTHORIZED,
        "replayed"
    );

    let s: StatusResponse = get_json(&state, "/api/status").await;
    let r = s.reports;
    assert_eq!(
        (
            r.accepted,
            r.unsigned,
            r.bad_signature,
            r.stale_signature,
            r.replayed
        ),
        (2, 1, 2, 1, 1),
        "{r:?}"
    );
    assert_eq!(r.refused, 5);

    let sink = MemorySink::new();
    tick(&Config::local_default(), &fleet, &sink, &state).await;
    let s: StatusResponse = get_json(&state, "/api/status").await;
    assert_eq!(
        s.status.fleet.concurrent_users, 10,
        "the forgery moved nothing"
    );
    assert_eq!(s.status.group.desired_capacity, 3, "and scaled nothing");
}

/// Duplicates are keyed on (process start, seq): a validly signed report of an older process
/// start with a far-ahead seq is refused (409) and the real instance keeps reporting.
#[tokio::test]
async fn a_far_ahead_seq_from_an_old_process_does_not_silence_the_real_instance() {
    let (state, _fleet) = setup();
    let now = controller::clock::now_ms();
    let live = |seq: u64| {
        let mut r = report("i-mem-1", seq, now + seq, [], seq);
        r.started_at_ms = now - 60_000;
        r
    };
    assert_eq!(
        post_report(&state, json(&live(1))).await,
        StatusCode::ACCEPTED
    );
    let mut old = report("i-mem-1", u64::MAX / 2, now, [], 0);
    old.started_at_ms = now - 120_000;
    assert_eq!(post_report(&state, json(&old)).await, StatusCode::CONFLICT);
    for seq in 2..5 {
        assert_eq!(
            post_report(&state, json(&live(seq))).await,
            StatusCode::ACCEPTED,
            "seq {seq}"
        );
    }
    let s: StatusResponse = get_json(&state, "/api/status").await;
    assert_eq!((s.reports.accepted, s.reports.old_process), (4, 1));
}

/// With `require_signature = false` and no key, unsigned reports are taken (a migration
/// setting); the default refuses them.
#[tokio::test]
async fn unsigned_reports_are_taken_only_when_signatures_are_not_required() {
    let toml = format!(
        "{}[reports]\nrequire_signature = false\n",
        controller::config::defaults::LOCAL_TOML
    );
    let config = Config::from_toml(&toml, "test", &Default::default()).unwrap();
    let state = shared(&config);
    let fleet = MemoryFleet::new("g", 1, 10, 1);
    state.set_known(&fleet.snapshot());
    let r = report("i-mem-1", 1, controller::clock::now_ms(), [], 0);
    assert_eq!(
        post_with(&state, json(&r), None).await,
        StatusCode::ACCEPTED
    );
    let state = shared(&Config::local_default());
    state.set_known(&fleet.snapshot());
    assert_eq!(
        post_with(&state, json(&r), None).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn in_native_mode_a_tick_publishes_but_never_sets_the_capacity() {
    let (state, fleet) = setup_in_service();
    let now = controller::clock::now_ms();
    report_70_each(&state, now).await;
    // The daemon's reconciler with native-mode policies (as a reloaded config sets them).
    let config = Config::local_default();
    let mut rec = Reconciler::from_config(&config, "memory", None);
    rec.set_policies(
        config
            .policies()
            .with_mode(fleetcore::policy::PolicyMode::Native),
    );
    let sink = MemorySink::new();
    tick_once(&mut rec, fleet.as_ref(), &sink, &state).await;

    // The same load scales out in controller mode (the test above): here nothing is set.
    assert_eq!(fleet.desired_calls(), vec![3], "SetDesiredCapacity called");
    let s: StatusResponse = get_json(&state, "/api/status").await;
    assert_eq!(s.status.group.desired_capacity, 3);
    assert_eq!(
        s.status.policy.mode, "native",
        "the status says who runs the policies"
    );
    let decisions: Vec<proto::DecisionRecord> = get_json(&state, "/api/decisions").await;
    assert_eq!(decisions.len(), 1);
    let d = &decisions[0];
    assert_eq!(
        (d.action.as_str(), d.reason.as_str()),
        ("none", "native_mode")
    );
    assert_eq!(
        (d.capacity_before, d.capacity_after, d.applied),
        (3, 3, None)
    );
    assert_eq!(d.source, "controller");
    assert!(
        d.explanation.starts_with("Native mode: AWS's alarms"),
        "{}",
        d.explanation
    );
    assert!(
        published_about_70_each(&sink),
        "still published: {:?}",
        sink.data()
    );
}
