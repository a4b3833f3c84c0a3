//! The books API scenarios, run against SQLite (`books_sqlite.rs`) and
//! PostgreSQL (`books_postgres.rs`) alike, through the real binary.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{Value, json};

use super::{HttpClient, Reply, get, send_bytes};

pub const TOKEN: &str = "books-test-token-0123456789";

/// Writes the token file into `dir` and returns its path. Atomically (a
/// rename): a second instance's call never shows the first a half-written file.
pub fn token_file(dir: &std::path::Path) -> String {
    let path = dir.join("books.token");
    let part = dir.join(format!("books.token.{}", std::process::id()));
    std::fs::write(&part, format!("{TOKEN}\n")).unwrap();
    std::fs::rename(&part, &path).unwrap();
    path.display().to_string()
}

/// A service process on the database at `url` (given through the environment, as on
/// AWS), writes allowed with [`TOKEN`], each database call bounded to 1 s.
pub fn db_instance(dir: &std::path::Path, url: String) -> super::Process {
    let token = token_file(dir);
    super::Process::spawn(
        &[
            "--books-token-file",
            &token,
            "--log-sink",
            "file:/dev/null",
            "--books-timeout",
            "1s",
        ],
        &[("BOOKS_DB", url)],
    )
}

/// A request with a body (JSON content type when `body` is given).
pub async fn send(
    c: &HttpClient,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    let mut all = headers.to_vec();
    let bytes = match body {
        Some(v) => {
            all.push(("content-type", "application/json"));
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    send_bytes(c, method, url, &all, bytes).await
}

const AUTH: (&str, &str) = ("authorization", "Bearer books-test-token-0123456789");

pub fn json_of(r: &Reply) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

pub fn etag(r: &Reply) -> String {
    r.headers["etag"].to_str().unwrap().to_owned()
}

/// Waits until `/readyz` is 200 (migrations applied, database answering).
pub async fn wait_ready(c: &HttpClient, base: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let r = get(c, &format!("{base}/readyz")).await;
        if r.status == StatusCode::OK {
            return;
        }
        assert!(Instant::now() < deadline, "not ready: {}", r.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until both instances are ready (30 s each at most).
pub async fn wait_both_ready(c: &HttpClient, a: &str, b: &str) {
    wait_ready(c, a, Duration::from_secs(30)).await;
    wait_ready(c, b, Duration::from_secs(30)).await;
}

/// Every scenario on two instances sharing one database: [`crud`] (written through `a`,
/// read through `b`), [`validation_and_auth`] and [`concurrent_if_match`].
pub async fn all_scenarios(c: &HttpClient, a: &str, b: &str) {
    crud(c, a, b).await;
    validation_and_auth(c, a).await;
    concurrent_if_match(c, a, b).await;
}

/// Creates a book through `a` and returns (id, etag).
pub async fn create(c: &HttpClient, base: &str, body: Value) -> (i64, String) {
    let r = send(c, "POST", &format!("{base}/books"), &[AUTH], Some(&body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = json_of(&r)["id"].as_i64().unwrap();
    assert_eq!(r.headers["location"], format!("/books/{id}").as_str());
    (id, etag(&r))
}

/// Create, read, list, replace, patch, delete; written through `a`, read through `b`.
pub async fn crud(c: &HttpClient, a: &str, b: &str) {
    let (id, tag) = create(
        c,
        a,
        json!({"title": "Dom Casmurro", "author": "Machado de Assis", "year": 1899, "isbn": "978-85-7326-981-1"}),
    )
    .await;
    // Read back through the other instance.
    let r = get(c, &format!("{b}/books/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(etag(&r), tag);
    assert_eq!(
        json_of(&r),
        json!({"id": id, "title": "Dom Casmurro", "author": "Machado de Assis", "year": 1899, "isbn": "9788573269811"})
    );
    // Same isbn again: 409, nothing written.
    let dup = json!({"title": "Copy", "author": "X", "isbn": "9788573269811"});
    let r = send(c, "POST", &format!("{a}/books"), &[AUTH], Some(&dup)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // PUT replaces everything (year and isbn gone), bumping the ETag.
    let url = format!("{a}/books/{id}");
    let full = json!({"title": "Dom Casmurro (2nd ed.)", "author": "Machado"});
    let r = send(c, "PUT", &url, &[AUTH, ("if-match", &tag)], Some(&full)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let tag2 = etag(&r);
    assert_ne!(tag2, tag);
    let r = get(c, &format!("{b}/books/{id}")).await;
    assert_eq!(json_of(&r)["year"], Value::Null);
    assert_eq!(json_of(&r)["isbn"], Value::Null);
    // The old ETag no longer matches.
    let r = send(c, "PUT", &url, &[AUTH, ("if-match", &tag)], Some(&full)).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.body);
    // PATCH changes only what it names.
    let r = send(c, "PATCH", &url, &[AUTH], Some(&json!({"year": 1900}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let got = json_of(&get(c, &format!("{b}/books/{id}")).await);
    assert_eq!(
        (got["title"].as_str(), got["year"].as_i64()),
        (Some("Dom Casmurro (2nd ed.)"), Some(1900))
    );
    // Pages: stable by id, `next` until the end.
    let mut ids = vec![id];
    for i in 0..4 {
        ids.push(
            create(c, a, json!({"title": format!("T{i}"), "author": "A"}))
                .await
                .0,
        );
    }
    let mut seen = Vec::new();
    let mut next = format!("{b}/books?limit=2&after={}", id - 1);
    loop {
        let page = json_of(&get(c, &next).await);
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|i| i["id"].as_i64().unwrap()));
        match page["next"].as_str() {
            Some(cursor) => next = format!("{b}/books?limit=2&after={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every book once, in id order");
    // DELETE: 204, then 404 everywhere; a stale If-Match is 412 first.
    let r = send(c, "DELETE", &url, &[AUTH, ("if-match", "\"v1\"")], None).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = send(c, "DELETE", &url, &[AUTH], None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(
        get(c, &format!("{b}/books/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = send(c, "DELETE", &url, &[AUTH], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(c, "PATCH", &url, &[AUTH], Some(&json!({"year": 1}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Bad bodies, bad tokens and bad paths, each with its status.
pub async fn validation_and_auth(c: &HttpClient, base: &str) {
    let url = format!("{base}/books");
    let good = json!({"title": "T", "author": "A"});
    for (auth, why) in [
        (None, "none"),
        (Some("Bearer wrong-token-0123456789"), "wrong"),
        (Some("Bearer books-test-token-012345678"), "a prefix"),
        (Some("Basic Ym9va3M="), "basic"),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let r = send(c, "POST", &url, &headers, Some(&good)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{why}: {}", r.body);
        assert!(json_of(&r)["error"].as_str().unwrap().contains("Bearer"));
    }
    for (body, field) in [
        (json!({"author": "A"}), "title: required"),
        (json!({"title": "T"}), "author: required"),
        (
            json!({"title": "", "author": "A"}),
            "title: must not be empty",
        ),
        (
            json!({"title": "x".repeat(201), "author": "A"}),
            "title: longer than 200",
        ),
        (
            json!({"title": "T", "author": "A", "price": 1}),
            "unknown field",
        ),
        (json!({"title": "T", "author": "A", "isbn": "12"}), "isbn"),
        (json!({"title": "T", "author": "A", "year": "old"}), "year"),
    ] {
        let r = send(c, "POST", &url, &[AUTH], Some(&body)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert!(r.body.contains(field), "{field}: {}", r.body);
    }
    let r = send(c, "GET", &format!("{base}/books/999999999"), &[], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(json_of(&r)["error"], "no such book");
    for bad in ["abc", "0", "-3"] {
        let r = get(c, &format!("{base}/books/{bad}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}");
    }
    let r = get(c, &format!("{base}/books?limit=0")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = get(c, &format!("{base}/books?after=x")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    outsider_findings(c, base).await;
}

/// Issue 17's outsider findings: unknown and repeated list parameters, the
/// 413's body, the media type's case, an empty `PATCH`.
async fn outsider_findings(c: &HttpClient, base: &str) {
    let url = format!("{base}/books");
    for (query, named) in [
        ("offset=5", "offset"),
        ("limit=5&offset=5", "offset"),
        ("limit=5&limit=6", "limit"),
        ("after=1&after=2", "after"),
    ] {
        let r = get(c, &format!("{url}?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.body);
        let e = json_of(&r)["error"].as_str().unwrap().to_owned();
        assert!(e.starts_with(named), "{query}: {e}");
    }
    // Over 16 KiB: 413, as JSON like every other error.
    let big = json!({"title": "x".repeat(20_000), "author": "A"});
    let r = send(c, "POST", &url, &[AUTH], Some(&big)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(
        json_of(&r)["error"].as_str().unwrap().contains("16384"),
        "{}",
        r.body
    );
    // Media types are case-insensitive.
    let body = Bytes::from(r#"{"title":"Upper","author":"Case"}"#);
    for ct in ["application/JSON", "Application/Json; charset=UTF-8"] {
        let r = send_bytes(c, "POST", &url, &[AUTH, ("content-type", ct)], body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{ct}: {}", r.body);
    }
    let r = send_bytes(
        c,
        "POST",
        &url,
        &[AUTH, ("content-type", "text/plain")],
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.body);
    // A PATCH that changes nothing writes nothing: the same version and ETag.
    let (id, tag) = create(c, base, json!({"title": "Still", "author": "Same"})).await;
    let one = format!("{url}/{id}");
    for patch in [json!({}), json!({"title": "Still"})] {
        let r = send(c, "PATCH", &one, &[AUTH], Some(&patch)).await;
        assert_eq!(r.status, StatusCode::OK, "{patch}: {}", r.body);
        assert_eq!(etag(&r), tag, "{patch}");
        assert_eq!(json_of(&r)["title"], "Still", "{patch}");
    }
    let r = send(
        c,
        "PATCH",
        &one,
        &[AUTH, ("if-match", &tag)],
        Some(&json!({})),
    )
    .await;
    assert_eq!((r.status, etag(&r)), (StatusCode::OK, tag.clone()));
    let r = send(
        c,
        "PATCH",
        &one,
        &[AUTH, ("if-match", "\"v9\"")],
        Some(&json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.body);
    assert_eq!(etag(&get(c, &one).await), tag);
    let r = send(c, "PATCH", &one, &[AUTH], Some(&json!({"title": "Moved"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(etag(&r), "\"v2\"", "a real change still bumps the version");
}

/// Two PUTs with the same `If-Match` at once: exactly one 200, the other 412.
pub async fn concurrent_if_match(c: &HttpClient, a: &str, b: &str) {
    for round in 0..5 {
        let (id, tag) = create(
            c,
            a,
            json!({"title": format!("race {round}"), "author": "A"}),
        )
        .await;
        let put = |base: &str, who: &str| {
            let url = format!("{base}/books/{id}");
            let body = json!({"title": format!("won by {who}"), "author": "A"});
            let tag = tag.clone();
            let c = c.clone();
            async move { send(&c, "PUT", &url, &[AUTH, ("if-match", &tag)], Some(&body)).await }
        };
        let (x, y) = tokio::join!(put(a, "x"), put(b, "y"));
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::PRECONDITION_FAILED],
            "{} / {}",
            x.body,
            y.body
        );
        let winner = if x.status == StatusCode::OK { "x" } else { "y" };
        let now = json_of(&get(c, &format!("{b}/books/{id}")).await);
        assert_eq!(now["title"], format!("won by {winner}"));
    }
}
