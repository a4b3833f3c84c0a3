//! `GET /api/v1/factorial` over HTTP: the table of answers, the 400s, and the
//! bound on large ones (503 + Retry-After) while `/hello` stays fast.

use crate::common;

use std::time::{Duration, Instant};

use common::{InProcess, client, get};
use hyper::StatusCode;

#[tokio::test]
async fn answers_and_refusals() {
    let svc = InProcess::start(&[]).await;
    let c = client();
    let url = |q: &str| format!("{}/api/v1/factorial{q}", svc.base);
    for (q, want) in [
        ("?number=0", r#"{"number":0,"factorial":"1"}"#),
        ("?number=1", r#"{"number":1,"factorial":"1"}"#),
        (
            "?number=20",
            r#"{"number":20,"factorial":"2432902008176640000"}"#,
        ),
    ] {
        let r = get(&c, &url(q)).await;
        assert_eq!(r.status, StatusCode::OK, "{q}");
        assert_eq!(r.body, want);
        assert_eq!(r.headers["content-type"], "application/json");
    }
    let r = get(&c, &url("?number=10000")).await;
    assert_eq!(r.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["factorial"].as_str().unwrap().len(), 35_660);
    for (q, says) in [
        ("", "missing"),
        ("?number=-3", "negative"),
        ("?number=2.5", "integer"),
        ("?number=ten", "integer"),
        ("?number=10001", "at most 10000"),
    ] {
        let r = get(&c, &url(q)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert!(
            v["error"].as_str().unwrap().contains(says),
            "{q}: {}",
            r.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_ones_are_bounded_and_hello_stays_fast() {
    let svc = InProcess::start(&["--factorial-concurrency", "1", "--factorial-max", "60000"]).await;
    let c = client();
    let mut big = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (c, u) = (
            c.clone(),
            format!("{}/api/v1/factorial?number=60000", svc.base),
        );
        big.spawn(async move { get(&c, &u).await });
    }
    // While they run, /hello answers promptly.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t = Instant::now();
    for _ in 0..20 {
        assert_eq!(
            get(&c, &format!("{}/hello", svc.base)).await.status,
            StatusCode::OK
        );
    }
    let hello = t.elapsed();
    let (mut ok, mut busy) = (0, 0);
    while let Some(r) = big.join_next().await {
        let r = r.unwrap();
        match r.status {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(r.headers["retry-after"], "1");
                busy += 1;
            }
            s => panic!("{s}: {}", r.body),
        }
    }
    assert!(ok >= 1 && busy >= 1, "ok {ok}, busy {busy}");
    assert!(hello < Duration::from_secs(2), "20 /hello took {hello:?}");
}
