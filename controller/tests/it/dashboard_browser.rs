//! The dashboard served by the real controller daemon (`daemon::run` on a socket, the
//! in-memory fleet), opened in headless Chromium: when load reports push the group to scale
//! out, the page shows the new instance count without a reload, and the requests/s of each
//! route family the reports carry. Writes
//! `target/dashboard-controller-screenshot.png`. Chromium is killed when the test ends.

use crate::daemon_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use controller::clock::now_ms;
use controller::config::{Config, Overrides};
use controller::daemon::run;
use controller::metrics::MemorySink;
use controller::provider::memory::MemoryFleet;
use fleetcore::synthetic::{report, user_ids};
use testkit::browser::Browser;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use daemon_support::{post_signed, status, test_key};

const CONFIG: &str = r#"
provider = "local"
tick = "300ms"
[group]
name = "web"
min_size = 1
max_size = 4
[api]
listen = "127.0.0.1:0"
"#;

/// Every listed instance reports 80 distinct users (threshold 50), every 150 ms, until
/// `stop` or 60 s.
async fn push_load(addr: SocketAddr, stop: CancellationToken) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seq = 0;
    while !stop.is_cancelled() && Instant::now() < deadline {
        seq += 1;
        let s = status(addr).await;
        for (k, i) in s.status.instances.iter().enumerate() {
            let ids = user_ids(k as u64 * 80, (k as u64 + 1) * 80);
            let mut r = report(
                &i.id,
                seq,
                now_ms(),
                ids.iter().map(String::as_str),
                seq * 10,
            );
            // Per route family: hello 6 : repeat 2 : factorial 1 : books 1.
            r.families = proto::Families {
                hello: seq * 6,
                repeat: seq * 2,
                factorial: seq,
                books: seq,
            };
            let (code, text) = post_signed(addr, &r).await;
            assert!(code == 202 || code == 200, "{code} {text}");
        }
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(Duration::from_millis(150)) => {}
        }
    }
}

/// Resolves with `#in-service`'s text once `pred(text)` holds (a MutationObserver, no
/// polling); rejects after 20 s.
fn wait_for_in_service(pred: &str) -> String {
    format!(
        r#"new Promise((resolve, reject) => {{
  const now = () => document.getElementById('in-service').textContent;
  const ok = (t) => {pred};
  if (ok(now())) return resolve(now());
  const obs = new MutationObserver(() => {{ if (ok(now())) {{ obs.disconnect(); resolve(now()); }} }});
  obs.observe(document.getElementById('live'), {{ childList: true, subtree: true, characterData: true }});
  setTimeout(() => reject(new Error('in-service still ' + now() + ' after 20 s')), 20000);
}})"#
    )
}

/// Resolves with the four `#rps-FAMILY` cards as numbers once all are above 0 (checked on
/// every change of the live section); rejects after 20 s.
const FAMILY_RATES: &str = r#"new Promise((resolve, reject) => {
  const now = () => ['hello', 'repeat', 'factorial', 'books']
    .map(f => parseFloat(document.getElementById('rps-' + f).textContent));
  const ok = () => now().every(x => x > 0);
  if (ok()) return resolve(now());
  const obs = new MutationObserver(() => { if (ok()) { obs.disconnect(); resolve(now()); } });
  obs.observe(document.getElementById('live'), { childList: true, subtree: true, characterData: true });
  setTimeout(() => reject(new Error('family rates still ' + now() + ' after 20 s')), 20000);
})"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_scale_out_without_a_reload() {
    // The tests' step policies (+1 at 50 users per instance, -1 after 5 periods at 5), 0.3 s periods.
    let toml = format!("{CONFIG}{}", testkit::fixtures::step_policies(0.3, 5));
    let config = Config::from_toml(&toml, "test", &Overrides::default())
        .unwrap()
        .with_report_key(test_key());
    let fleet = Arc::new(MemoryFleet::new("web", 1, 4, 1));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(run(
        config,
        fleet,
        Arc::new(MemorySink::new()),
        listener,
        shutdown.clone(),
    ));
    let _stop = shutdown.clone().drop_guard();

    let mut b = Browser::launch(&testkit::chromium_path()).await.unwrap();
    b.set_viewport(1280, 1400).await.unwrap();
    b.goto(&format!("http://{addr}/")).await.unwrap();
    let shown = b
        .eval("document.getElementById('in-service').textContent")
        .await
        .unwrap();
    assert_eq!(shown, "1", "one instance before any load");
    b.eval("window.__marker = 1").await.unwrap();
    b.eval(testkit::browser::WAIT_FOR_LIVE_DASHBOARD)
        .await
        .unwrap();

    let load = CancellationToken::new();
    let pusher = tokio::spawn(push_load(addr, load.clone()));
    let first = b.eval(&wait_for_in_service("t !== '1'")).await.unwrap();
    let first: u32 = first.as_str().unwrap().parse().unwrap();
    assert!(first > 1, "scaled out to {first}");
    let max = b.eval(&wait_for_in_service("t === '4'")).await.unwrap();
    assert_eq!(max, "4", "the group reaches its max");
    assert_eq!(
        b.eval("window.__marker").await.unwrap(),
        1,
        "the page reloaded"
    );
    let desired = b
        .eval("document.getElementById('desired').textContent")
        .await
        .unwrap();
    assert_eq!(desired, "4");
    let timeline = b
        .eval("document.querySelector('ol.decisions').textContent")
        .await
        .unwrap();
    assert!(
        timeline.as_str().unwrap().contains("scale out"),
        "{timeline}"
    );

    // Requests/s per route family, live on the page and in /api/status, in the reports' ratio.
    let rates = b.eval(FAMILY_RATES).await.unwrap();
    let rates: Vec<f64> = serde_json::from_value(rates).unwrap();
    assert!(rates.iter().all(|r| *r > 0.0), "{rates:?}");
    let ratio = rates[0] / rates[3];
    assert!(
        (4.0..=8.0).contains(&ratio),
        "hello/books {ratio} from {rates:?}"
    );
    let f = status(addr)
        .await
        .status
        .fleet
        .requests_per_second_by_family;
    assert!(f.books > 0.0 && f.factorial > 0.0, "{f:?}");
    assert!((4.0..=8.0).contains(&(f.hello / f.books)), "{f:?}");

    // Nothing left the machine.
    let local = format!("http://{addr}/");
    for e in b.events("Network.requestWillBeSent") {
        let url = e["request"]["url"].as_str().unwrap_or_default();
        assert!(
            url.starts_with(&local) || url.starts_with("data:"),
            "request to {url}"
        );
    }

    let png = b.screenshot_png().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/dashboard-controller-screenshot.png"
    );
    std::fs::write(path, png).unwrap();

    load.cancel();
    tokio::time::timeout(Duration::from_secs(10), pusher)
        .await
        .expect("pusher stops")
        .unwrap();
    // The open dashboard's SSE stream must not hold up the daemon's shutdown.
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("daemon stops")
        .unwrap()
        .unwrap();
    drop(b);
}
