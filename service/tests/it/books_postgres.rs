//! `/books` on a real PostgreSQL server the test starts (`testkit::Postgres`):
//! the same scenarios as on SQLite, then the database going away mid-load.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::books::{self, TOKEN, json_of, send};
use common::crash::Scratch;
use common::{Process, client, get};
use hyper::StatusCode;
use serde_json::json;

fn instance(scratch: &Scratch, pg: &testkit::Postgres) -> Process {
    books::db_instance(&scratch.0, pg.url())
}

#[tokio::test]
async fn crud_validation_and_races_on_postgres() {
    let pg = testkit::Postgres::start();
    let scratch = Scratch::new("books-pg");
    let (a, b) = (instance(&scratch, &pg), instance(&scratch, &pg));
    let c = client();
    books::wait_both_ready(&c, &a.base, &b.base).await;
    books::all_scenarios(&c, &a.base, &b.base).await;
}

/// PostgreSQL stopped in the middle of a burst of writes: readiness goes off,
/// requests get 503 with Retry-After (fast, not after a hang), every 201 is in
/// the table afterwards, and no row is partial; it all comes back with the server.
#[tokio::test]
async fn the_database_going_away() {
    let mut pg = testkit::Postgres::start();
    let scratch = Scratch::new("books-pg-away");
    let a = instance(&scratch, &pg);
    let c = client();
    books::wait_ready(&c, &a.base, Duration::from_secs(30)).await;
    let auth = format!("Bearer {TOKEN}");
    // 60 writers; the server is stopped while they run.
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..60 {
        let (c, url, auth) = (c.clone(), format!("{}/books", a.base), auth.clone());
        writers.spawn(async move {
            tokio::time::sleep(Duration::from_millis(5 * i)).await;
            let body = json!({"title": format!("t-{i}"), "author": format!("a-{i}"), "year": i});
            let r = send(&c, "POST", &url, &[("authorization", &auth)], Some(&body)).await;
            (i, r.status, r.headers.get("retry-after").is_some(), r.body)
        });
    }
    tokio::time::sleep(Duration::from_millis(120)).await;
    pg.stop();
    let mut created = BTreeMap::new();
    let mut refused = 0;
    while let Some(done) = writers.join_next().await {
        let (i, status, retry_after, body) = done.unwrap();
        match status {
            StatusCode::CREATED => {
                created.insert(json_of_body(&body)["id"].as_i64().unwrap(), i);
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(retry_after, "503 without Retry-After");
                refused += 1;
            }
            other => panic!("write {i}: {other} {body}"),
        }
    }
    assert!(refused > 0, "the stop came too late to matter");
    // Readiness off, and answers come fast.
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&c, &format!("{}/readyz", a.base)).await.status != StatusCode::SERVICE_UNAVAILABLE {
        assert!(Instant::now() < deadline, "readiness stayed on");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = Instant::now();
    let r = get(&c, &format!("{}/books/1", a.base)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(r.body.contains("not ready"), "{}", r.body);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    let readyz = get(&c, &format!("{}/readyz", a.base)).await;
    assert!(
        readyz.body.contains("books database unavailable"),
        "{}",
        readyz.body
    );
    // /hello is unaffected.
    assert_eq!(
        get(&c, &format!("{}/hello", a.base)).await.status,
        StatusCode::OK
    );

    pg.restart();
    books::wait_ready(&c, &a.base, Duration::from_secs(30)).await;
    let mut rows = Vec::new();
    let mut next = format!("{}/books?limit=100", a.base);
    loop {
        let page = json_of(&get(&c, &next).await);
        rows.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(cur) => next = format!("{}/books?limit=100&after={cur}", a.base),
            None => break,
        }
    }
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    for (id, i) in &created {
        assert!(
            ids.contains(id),
            "201 for write {i} (id {id}) but the row is gone"
        );
    }
    for row in &rows {
        // Every row whole: its three fields from the same write.
        let i = row["year"].as_i64().expect("year written");
        assert_eq!(row["title"], format!("t-{i}"), "{row}");
        assert_eq!(row["author"], format!("a-{i}"), "{row}");
    }
    // A row may exist whose 201 was lost with the connection, never one half-written.
    assert!(rows.len() >= created.len() && rows.len() <= 60);
}

fn json_of_body(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}
