//! The shared SQLite file under outsider abuse (issue 17's follow-up): a
//! missing file is never created by an instance (readiness off, naming the
//! path), a file replaced under a running instance turns its readiness off,
//! and a corrupt file turns readiness off and names the damage.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::books;
use common::crash::Scratch;
use common::{Process, client, get};
use hyper::StatusCode;
use serde_json::json;

fn instance(scratch: &Scratch, db: &str) -> Process {
    let token = books::token_file(&scratch.0);
    let url = format!("sqlite://{db}");
    Process::spawn(
        &[
            "--books-db",
            &url,
            "--books-token-file",
            &token,
            "--log-sink",
            "file:/dev/null",
        ],
        &[],
    )
}

/// Waits until `/readyz` answers `status` with a body containing `needle`.
async fn wait_readyz(p: &Process, status: StatusCode, needle: &str) -> String {
    let c = client();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = get(&c, &format!("{}/readyz", p.base)).await;
        if r.status == status && r.body.contains(needle) {
            return r.body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never {status} with {needle:?}; last {} {}\n{}",
            r.status,
            r.body,
            p.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_missing_file_is_not_created_and_a_replaced_one_is_noticed() {
    let scratch = Scratch::new("books-sqlite-missing");
    let db = scratch.path("books.sqlite");
    let p = instance(&scratch, &db);
    // Not created: readiness off, naming the path, in /readyz, the 503s and the log.
    let why = wait_readyz(&p, StatusCode::SERVICE_UNAVAILABLE, &db).await;
    assert!(why.contains("does not create it"), "{why}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !std::path::Path::new(&db).exists(),
        "the instance created {db}"
    );
    let c = client();
    let r = get(&c, &format!("{}/books", p.base)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(books::json_of(&r)["error"].as_str().unwrap().contains(&db));
    assert!(p.stderr_text().contains(&db), "{}", p.stderr_text());
    // Created (as `controller up` does): ready without a restart, and it works.
    std::fs::write(&db, b"").unwrap();
    wait_readyz(&p, StatusCode::OK, "ready").await;
    let (id, _) = books::create(&c, &p.base, json!({"title": "T", "author": "A"})).await;
    // Moved away and another file put at the path: readiness off, saying so.
    std::fs::rename(&db, scratch.path("moved.sqlite")).unwrap();
    std::fs::write(&db, b"").unwrap();
    let why = wait_readyz(&p, StatusCode::SERVICE_UNAVAILABLE, "replaced").await;
    assert!(why.contains(&db), "{why}");
    let r = get(&c, &format!("{}/books/{id}", p.base)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    // Deleted: readiness stays off, and nothing is created.
    std::fs::remove_file(&db).unwrap();
    wait_readyz(&p, StatusCode::SERVICE_UNAVAILABLE, "No such file").await;
    assert!(!std::path::Path::new(&db).exists());
    // Told to create it (`?mode=rwc`): it does, and is ready.
    let other = scratch.path("created.sqlite");
    let q = instance(&scratch, &format!("{other}?mode=rwc"));
    wait_readyz(&q, StatusCode::OK, "ready").await;
    assert!(std::path::Path::new(&other).exists());
}

#[tokio::test]
async fn a_corrupt_file_turns_readiness_off_and_is_named() {
    let scratch = Scratch::new("books-sqlite-corrupt");
    let db = scratch.path("books.sqlite");
    std::fs::write(&db, b"").unwrap();
    let mut a = instance(&scratch, &db);
    let c = client();
    books::wait_ready(&c, &a.base, Duration::from_secs(30)).await;
    for i in 0..50 {
        let body = json!({"title": format!("Book {i}"), "author": "A".repeat(150)});
        books::create(&c, &a.base, body).await;
    }
    a.sigterm();
    assert_eq!(
        a.wait_exit(Duration::from_secs(20)),
        0,
        "{}",
        a.stderr_text()
    );
    // Garbage over the books table's root page; the migrations' table stays intact,
    // so a ping that reads nothing (`SELECT 1`) would call this database ready.
    let script = format!(
        "import sqlite3\n\
         c = sqlite3.connect('{db}')\n\
         root = c.execute(\"SELECT rootpage FROM sqlite_master WHERE name = 'books'\").fetchone()[0]\n\
         size = c.execute('PRAGMA page_size').fetchone()[0]\n\
         c.execute('PRAGMA wal_checkpoint(TRUNCATE)')\n\
         c.close()\n\
         with open('{db}', 'r+b') as f:\n\
         \x20   f.seek((root - 1) * size)\n\
         \x20   f.write(b'\\xa5' * size)\n\
         print(root)\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 (apt-get install python3)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = instance(&scratch, &db);
    let why = wait_readyz(&b, StatusCode::SERVICE_UNAVAILABLE, "corrupt").await;
    assert!(why.contains("malformed"), "{why}");
    let r = get(&c, &format!("{}/books", b.base)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(r.body.contains("corrupt"), "{}", r.body);
}
