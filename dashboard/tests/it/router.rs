//! The router called with `oneshot` (no socket), asserting on rendered HTML.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use dashboard::fake::FakeSource;
use http_body_util::BodyExt;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const T0: u64 = 1_800_000_000_000;

/// A fleet that ran for an hour at one tick per second, scaling 2 → 3 at the end.
fn fleet() -> Arc<FakeSource> {
    let src = Arc::new(FakeSource::new(T0, 2));
    for s in 1..=3600u64 {
        let n = if s < 3590 { 2 } else { 3 };
        src.tick(T0 + s * 1000, 30 + s % 20, n, n);
    }
    src
}

async fn get(app: axum::Router, uri: &str) -> (StatusCode, String, String) {
    let res = app
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let ctype = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, ctype, String::from_utf8(body.to_vec()).unwrap())
}

fn app(src: Arc<FakeSource>) -> axum::Router {
    dashboard::router(src, CancellationToken::new())
}

#[tokio::test]
async fn page_shows_summary_instances_charts_and_decisions() {
    let (status, ctype, html) = get(app(fleet()), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    for want in [
        r#"<span class="v" id="desired">3</span>"#,
        r#"<span class="v" id="in-service">3</span>"#,
        r#"<span class="v" id="min">1</span>"#,
        r#"<span class="v" id="max">10</span>"#,
        r#"<span class="v" id="pending">0</span>"#,
        "hellofleet-local",
        "i-a000",
        "i-a002",
        "local-b",
        "InService",
        "Users per instance (ConcurrentUsersPerInstance)",
        // Who decided, on every timeline row (`aws` in native mode).
        r#"<span class="src src-controller">controller</span> <b class="act">"#,
        r#"<line class="th th-out""#,
        r#"<line class="th th-in""#,
        r#"<path class="s-inservice" d="M"#,
        "scale out",
        "desired 2 → 3.",
        "within band",
        r#"<a href="?window=5m" class="sel" aria-current="page">5m</a>"#,
        r#"<noscript><meta http-equiv="refresh" content="5"></noscript>"#,
        r#"<script src="assets/live.js" defer></script>"#,
    ] {
        assert!(html.contains(want), "page lacks {want:?}");
    }
    // the run of within-band decisions before the scale-out is folded
    assert!(html.contains(r#"<span class="count">×"#), "no folded run");
}

#[tokio::test]
async fn page_fits_the_first_page_budget_and_loads_nothing_from_elsewhere() {
    let src = fleet();
    let (_, _, html) = get(app(src.clone()), "/?window=1h").await;
    let (_, _, css) = get(app(src.clone()), "/assets/dashboard.css").await;
    let (_, _, js) = get(app(src), "/assets/live.js").await;
    let total = html.len() + css.len() + js.len();
    assert!(
        total <= 100 * 1024,
        "first page is {total} bytes (html {})",
        html.len()
    );
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let url = &html[i + attr.len()..];
            let local = url.starts_with("assets/")
                || url.starts_with('?')
                || url.starts_with("api/")
                || url.starts_with("data:")
                || url.starts_with("http://127.0.0.1");
            assert!(local, "page refers to {}", &url[..url.len().min(60)]);
        }
    }
    assert!(!html.contains("https://") && !css.contains("url(") && !css.contains("@import"));
}

#[tokio::test]
async fn window_is_selectable_and_a_bad_one_is_a_clear_400() {
    let (status, _, html) = get(app(fleet()), "/?window=1m").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<a href="?window=1m" class="sel" aria-current="page">1m</a>"#));
    assert!(html.contains(r#"data-window="1m""#));
    assert!(
        html.contains(">-1m</text>"),
        "x axis starts one minute back"
    );
    let (status, _, body) = get(app(fleet()), "/?window=2d").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, "window `2d` is not one of 1m, 5m, 15m, 1h");
}

#[tokio::test]
async fn empty_fleet_renders_placeholders() {
    let src = Arc::new(FakeSource::new(T0, 0));
    let (status, _, html) = get(app(src), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No instances."));
    assert!(html.contains("No decisions yet."));
    assert!(html.contains(r#"id="users-per-instance">–<"#));
}

#[tokio::test]
async fn fragment_is_the_live_section_alone() {
    let (status, _, html) = get(app(fleet()), "/fragments/live").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.starts_with(r#"<section class="summary""#),
        "{}",
        &html[..80]
    );
    assert!(!html.contains("<html"));
}

#[tokio::test]
async fn assets_are_served_with_their_types() {
    let (status, ctype, js) = get(app(fleet()), "/assets/live.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/javascript"));
    assert!(js.contains("EventSource"));
    let (_, ctype, _) = get(app(fleet()), "/assets/dashboard.css").await;
    assert!(ctype.starts_with("text/css"));
}

/// Reads SSE frames until one complete `live` event; returns its data.
async fn next_live_event(body: &mut Body) -> Option<String> {
    let mut buf = String::new();
    loop {
        let frame = body.frame().await?.unwrap();
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.push_str(std::str::from_utf8(&data).unwrap());
        if let Some(end) = buf.find("\n\n") {
            let event = &buf[..end];
            if event.lines().any(|l| l == "event: live") {
                let data: Vec<_> = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                return Some(data.join("\n"));
            }
            buf.drain(..end + 2);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn events_push_the_current_state_then_each_tick_at_most_once_a_second() {
    let src = Arc::new(FakeSource::new(T0, 2));
    src.tick(T0 + 1000, 40, 2, 2);
    let shutdown = CancellationToken::new();
    let app = dashboard::router(src.clone(), shutdown.clone());
    let res = app
        .oneshot(Request::get("/events").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = res.into_body();

    let first = next_live_event(&mut body)
        .await
        .expect("an event on connect");
    assert!(first.contains(r#"id="in-service">2<"#));

    // Three ticks at once fold into one push, a second after the first.
    let start = tokio::time::Instant::now();
    src.tick(T0 + 2000, 60, 3, 2);
    src.tick(T0 + 3000, 60, 3, 3);
    src.tick(T0 + 4000, 60, 4, 3);
    let second = next_live_event(&mut body)
        .await
        .expect("an event after the ticks");
    assert!(
        start.elapsed() >= Duration::from_millis(999),
        "{:?}",
        start.elapsed()
    );
    assert!(second.contains(r#"id="desired">4<"#) && second.contains(r#"id="in-service">3<"#));

    shutdown.cancel();
    let rest = tokio::time::timeout(Duration::from_secs(60), body.collect())
        .await
        .expect("the stream ends on shutdown");
    assert!(rest.is_ok());
}

#[tokio::test]
async fn open_streams_are_bounded() {
    let src = Arc::new(FakeSource::new(T0, 2));
    let app = app(src);
    let mut open = Vec::new();
    for _ in 0..dashboard::MAX_SSE_CLIENTS {
        let res = app
            .clone()
            .oneshot(Request::get("/events").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        open.push(res);
    }
    let (status, _, body) = get(app.clone(), "/events").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("too many open dashboards"), "{body}");
    open.pop();
    let res = app
        .oneshot(Request::get("/events").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a closed stream frees its slot"
    );
}

fn failing_health(failing_ticks: u64, age_ms: u64) -> proto::ControllerHealth {
    proto::ControllerHealth {
        last_tick_at_ms: T0,
        last_tick_age_ms: age_ms,
        failing_ticks,
        last_error: Some(proto::CallError {
            at_ms: T0,
            tick: 7,
            operation: "DescribeAutoScalingGroups".into(),
            message: "request has timed out: operation timeout (all attempts including retries) occurred after 800ms <b>".into(),
        }),
        warnings: vec!["group.max_size is 20 but the group's own MaxSize is 5".into()],
        lease: None,
    }
}

#[tokio::test]
async fn a_banner_shows_while_the_provider_fails_and_goes_when_it_recovers() {
    let src = fleet();
    let router = app(Arc::clone(&src));
    let (_, _, html) = get(router.clone(), "/").await;
    assert!(
        !html.contains(r#"id="health-banner""#),
        "healthy: no banner"
    );
    assert!(
        html.contains(r#"id="late-banner" role="alert" hidden"#),
        "{html}"
    );

    src.set_health(failing_health(3, 200));
    for uri in ["/", "/fragments/live"] {
        let (code, _, html) = get(router.clone(), uri).await;
        assert_eq!(code, StatusCode::OK);
        assert!(
            html.contains(r#"<div class="banner bad" id="health-banner" role="alert"><b>Controller degraded:</b> DescribeAutoScalingGroups failing for 3 ticks: request has timed out"#),
            "{uri}: {html}"
        );
        assert!(!html.contains("800ms <b>"), "the error text is escaped");
        assert!(html.contains("Configuration warning:</b> group.max_size is 20"));
    }

    // Recovered, error kept in the status, warning still there: no banner.
    src.set_health(failing_health(0, 200));
    let (_, _, html) = get(router.clone(), "/fragments/live").await;
    assert!(!html.contains(r#"id="health-banner""#));
    assert!(html.contains("Configuration warning:"));

    // Late ticks: the page says so itself (the live section cannot change).
    src.set_health(failing_health(0, 3_500));
    let (_, _, html) = get(router, "/").await;
    assert!(
        html.contains(r#"<div class="banner bad" id="late-banner" role="alert"><b>Controller late:</b> <span id="late-text">the last tick ended 3500 ms ago (ticks every 1000 ms)</span>"#),
        "{html}"
    );
}

#[tokio::test]
async fn the_banner_reaches_open_dashboards_over_sse() {
    let src = fleet();
    let router = app(Arc::clone(&src));
    let res = router
        .oneshot(Request::get("/events").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let mut body = res.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(!String::from_utf8_lossy(&first).contains("health-banner"));
    src.set_health(failing_health(1, 100));
    let next = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let frame = body.frame().await.unwrap().unwrap();
            if let Ok(data) = frame.into_data() {
                let text = String::from_utf8_lossy(&data).into_owned();
                if text.starts_with("event: live") || text.contains("\nevent: live") {
                    return text;
                }
            }
        }
    })
    .await
    .expect("a live event after the health changed");
    assert!(
        next.contains("DescribeAutoScalingGroups failing for 1 tick:"),
        "{next}"
    );
}

#[tokio::test]
async fn the_lease_says_whether_this_controller_leads() {
    let src = fleet();
    let router = app(Arc::clone(&src));
    let (_, _, html) = get(router.clone(), "/").await;
    assert!(!html.contains("lease-banner"), "no lease, no line");

    let lease = |leads: bool, leader: &str| proto::LeaseStatus {
        location: "dynamodb:web-lease/web".into(),
        holder: "ctl-b".into(),
        leads,
        leader: Some(leader.into()),
        until_ms: Some(T0),
        last_error: None,
    };
    src.set_health(proto::ControllerHealth {
        lease: Some(lease(false, "ctl-a <x>")),
        ..failing_health(0, 200)
    });
    let (_, _, html) = get(router.clone(), "/fragments/live").await;
    assert!(
        html.contains(r#"<div class="banner warn" id="lease-banner" role="status"><b>Standby:</b> this controller (ctl-b) stands by: ctl-a &#60;x&#62; holds the lease (dynamodb:web-lease/web)"#),
        "{html}"
    );
    assert!(html.contains("changes nothing"));

    src.set_health(proto::ControllerHealth {
        lease: Some(lease(true, "ctl-b")),
        ..failing_health(0, 200)
    });
    let (_, _, html) = get(router, "/").await;
    assert!(
        html.contains(r#"<div class="banner ok" id="lease-banner" role="status"><b>Leader:</b> this controller (ctl-b) leads"#),
        "{html}"
    );
}
