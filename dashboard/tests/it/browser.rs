//! The dashboard in a real headless Chromium (Debian's `chromium`): the page
//! updates itself over SSE without a reload, works without JavaScript, loads
//! nothing from elsewhere, and fits the first-page budget. Writes
//! `target/dashboard-screenshot.png`.

use std::net::SocketAddr;
use std::sync::Arc;

use dashboard::fake::FakeSource;
use testkit::browser::Browser;
use tokio_util::sync::CancellationToken;

const T0: u64 = 1_800_000_000_000;

/// The dashboard on 127.0.0.1:0; the server stops when the guard drops.
struct Server {
    addr: SocketAddr,
    shutdown: CancellationToken,
}

impl Server {
    async fn start(src: Arc<FakeSource>) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let app = dashboard::router(src, shutdown.clone());
        let stop = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
                .unwrap();
        });
        Server { addr, shutdown }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A fleet with five minutes of history ending with `instances` in service.
fn fleet() -> (Arc<FakeSource>, u64) {
    let src = Arc::new(FakeSource::new(T0, 1));
    let now = T0 + 300_000;
    src.play_demo(T0, now, 2_000);
    (src, now)
}

async fn text(b: &mut Browser, id: &str) -> String {
    let v = b
        .eval(&format!("document.getElementById('{id}').textContent"))
        .await
        .unwrap();
    v.as_str().unwrap_or_default().to_string()
}

/// Resolves with `#in-service`'s text once it differs from `old` (a
/// MutationObserver, not polling); rejects after 20 s.
const WAIT_FOR_CHANGE: &str = r#"
new Promise((resolve, reject) => {
  const now = () => document.getElementById('in-service').textContent;
  const old = OLD;
  if (now() !== old) return resolve(now());
  const obs = new MutationObserver(() => { if (now() !== old) { obs.disconnect(); resolve(now()); } });
  obs.observe(document.getElementById('live'), { childList: true, subtree: true, characterData: true });
  setTimeout(() => reject(new Error('in-service still ' + now() + ' after 20 s')), 20000);
})"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_count_changes_live_without_a_reload() {
    let (src, now) = fleet();
    let (desired, in_service) = {
        let s = dashboard::Source::status(&*src);
        (s.group.desired_capacity, s.group.in_service)
    };
    let server = Server::start(src.clone()).await;
    let mut b = Browser::launch(&testkit::chromium_path()).await.unwrap();
    b.set_viewport(1280, 1600).await.unwrap();
    b.goto(&server.url("/")).await.unwrap();

    assert_eq!(text(&mut b, "in-service").await, in_service.to_string());
    b.eval("window.__marker = 1").await.unwrap();
    b.eval(testkit::browser::WAIT_FOR_LIVE_DASHBOARD)
        .await
        .unwrap();

    // Scale out by two: the page must show it without navigating.
    let target = in_service + 2;
    src.tick(now + 2_000, 200, desired + 2, in_service);
    src.tick(now + 4_000, 200, desired + 2, target);
    let shown = b
        .eval(&WAIT_FOR_CHANGE.replace("OLD", &format!("'{in_service}'")))
        .await
        .unwrap();
    let shown: u32 = shown.as_str().unwrap().parse().unwrap();
    assert!(shown > in_service, "shown {shown}, was {in_service}");
    if shown != target {
        // The two ticks may arrive as two pushes a second apart.
        let last = b
            .eval(&WAIT_FOR_CHANGE.replace("OLD", &format!("'{shown}'")))
            .await
            .unwrap();
        assert_eq!(last.as_str().unwrap(), target.to_string());
    }
    assert_eq!(
        b.eval("window.__marker").await.unwrap(),
        1,
        "the page reloaded"
    );
    assert_eq!(text(&mut b, "desired").await, (desired + 2).to_string());
    assert_eq!(text(&mut b, "conn").await, "live");

    // Nothing left the machine; the first page's transfer fits 100 KB.
    let mut urls = Vec::new();
    for e in b.events("Network.requestWillBeSent") {
        urls.push(e["request"]["url"].as_str().unwrap_or_default().to_string());
    }
    assert!(!urls.is_empty());
    let local = format!("http://{}/", server.addr);
    for u in &urls {
        assert!(
            u.starts_with(&local) || u.starts_with("data:"),
            "request to {u}"
        );
    }
    let transferred: f64 = b
        .events("Network.loadingFinished")
        .iter()
        .filter_map(|e| e["encodedDataLength"].as_f64())
        .sum();
    assert!(
        transferred > 1_000.0 && transferred <= 100.0 * 1024.0,
        "first page {transferred} B"
    );
    eprintln!(
        "first page transferred {transferred} B over {} requests",
        urls.len()
    );

    let png = b.screenshot_png().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/dashboard-screenshot.png"
    );
    std::fs::write(path, png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_the_page_shows_the_current_state() {
    let (src, _) = fleet();
    let s = dashboard::Source::status(&*src);
    let server = Server::start(src.clone()).await;
    let mut b = Browser::launch(&testkit::chromium_path()).await.unwrap();
    b.set_javascript(false).await.unwrap();
    b.goto(&server.url("/?window=15m")).await.unwrap();
    // Runtime.evaluate still works with page scripts disabled.
    assert_eq!(
        text(&mut b, "in-service").await,
        s.group.in_service.to_string()
    );
    assert_eq!(text(&mut b, "conn").await, "static", "live.js did not run");
    let rows = b
        .eval("document.querySelectorAll('table.instances tbody tr').length")
        .await
        .unwrap();
    assert_eq!(rows, s.instances.len());
    let charts = b
        .eval("document.querySelectorAll('svg path').length")
        .await
        .unwrap();
    assert!(charts.as_u64().unwrap() >= 4, "{charts}");
    let requested: Vec<_> = b
        .events("Network.requestWillBeSent")
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        !requested.iter().any(|u| u.contains("/events")),
        "{requested:?}"
    );
}
