//! `--mix` with factorial and books users, against a stub server that implements the
//! contract (issue 17): `GET /api/v1/factorial?number=N`, `POST /books` (bearer token, 201
//! with `Location` and `ETag`), `GET /books/{id}` (`ETag`), `PATCH /books/{id}` (`If-Match`,
//! 412 when stale). The stub counts what it saw and refuses anything off-contract.

use crate::common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

const TOKEN: &str = "t0ken-for-tests";

#[derive(Default)]
struct Seen {
    /// (method, route) → count
    requests: HashMap<(String, String), u64>,
    /// Off-contract requests: why.
    refused: Vec<String>,
    books: HashMap<u64, (String, u64)>,
    next_id: u64,
}

struct Stub {
    url: String,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

fn respond(conn: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &str) {
    let mut head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("x-instance-id: i-stub\r\n\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body.as_bytes());
}

fn handle(seen: &Mutex<Seen>, conn: &mut TcpStream, head: &str, body: &[u8]) {
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut s = seen.lock().unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let route = match path {
        p if p.starts_with("/books/") => "/books/{id}",
        p => p,
    };
    *s.requests
        .entry((method.to_string(), route.to_string()))
        .or_default() += 1;
    if !headers
        .get("cookie")
        .is_some_and(|c| c.starts_with("uid=lg-"))
    {
        s.refused.push(format!("{method} {target}: no uid cookie"));
    }
    let authorized =
        headers.get("authorization").map(String::as_str) == Some(&format!("Bearer {TOKEN}"));
    let id = path
        .strip_prefix("/books/")
        .and_then(|i| i.parse::<u64>().ok());
    match (method, path, id) {
        ("GET", "/hello", _) => respond(conn, "200 OK", &[], "Hello World"),
        ("GET", "/api/v1/factorial", _) => {
            if query != "number=7" {
                s.refused.push(format!("factorial query {query}"));
            }
            respond(conn, "200 OK", &[], r#"{"number":7,"factorial":"5040"}"#)
        }
        ("POST", "/books", _) => {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let valid = authorized
                && headers.get("content-type").map(String::as_str) == Some("application/json")
                && v["title"].is_string()
                && v["author"].is_string();
            if !valid {
                s.refused.push(format!("POST /books: {headers:?} {v}"));
                return respond(conn, "422 Unprocessable Entity", &[], "{}");
            }
            s.next_id += 1;
            let id = s.next_id;
            s.books.insert(id, (v["title"].as_str().unwrap().into(), 1));
            let headers = [
                ("location", format!("/books/{id}")),
                ("etag", "\"1\"".to_string()),
            ];
            respond(conn, "201 Created", &headers, "{}")
        }
        ("GET", _, Some(id)) => match s.books.get(&id) {
            Some((_, v)) => {
                let etag = [("etag", format!("\"{v}\""))];
                respond(conn, "200 OK", &etag, "{}")
            }
            None => respond(conn, "404 Not Found", &[], "{}"),
        },
        ("PATCH", _, Some(id)) => {
            let if_match = headers.get("if-match").cloned();
            let Some((_, version)) = s.books.get(&id).cloned() else {
                return respond(conn, "404 Not Found", &[], "{}");
            };
            if !authorized {
                s.refused.push("PATCH without the token".into());
                return respond(conn, "401 Unauthorized", &[], "{}");
            }
            if if_match != Some(format!("\"{version}\"")) {
                s.refused
                    .push(format!("stale If-Match {if_match:?} for v{version}"));
                return respond(conn, "412 Precondition Failed", &[], "{}");
            }
            s.books.get_mut(&id).unwrap().1 += 1;
            let etag = [("etag", format!("\"{}\"", version + 1))];
            respond(conn, "200 OK", &etag, "{}")
        }
        _ => {
            s.refused.push(format!("{method} {target}"));
            respond(conn, "404 Not Found", &[], "{}")
        }
    }
}

fn serve(seen: Arc<Mutex<Seen>>, conn: TcpStream) {
    let mut conn_w = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => head.push_str(&line),
            }
        }
        let len = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        handle(&seen, &mut conn_w, &head, &body);
    }
}

fn stub() -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::spawn({
        let (seen, stop) = (seen.clone(), stop.clone());
        move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let seen = seen.clone();
                std::thread::spawn(move || serve(seen, conn));
            }
        }
    });
    Stub { url, seen, stop }
}

#[test]
fn books_users_create_read_and_update_their_own_records() {
    let stub = stub();
    let dir = out_dir("mix");
    let out = run(
        &[
            "steady",
            "-H",
            &stub.url,
            "-u",
            "3",
            "--duration",
            "2s",
            "--interval",
            "1s",
            "--think-time",
            "20ms",
            "--mix",
            "hello=2,factorial=1,books=3",
            "--factorial-number",
            "7",
            "--books-token",
            TOKEN,
            "--out-dir",
            dir.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let total = stdout.lines().find(|l| l.starts_with("total:")).unwrap();
    assert!(total.contains("errors=0 "), "{total}");
    let seen = stub.seen.lock().unwrap();
    assert!(seen.refused.is_empty(), "off-contract: {:?}", seen.refused);
    let n = |m: &str, r: &str| {
        seen.requests
            .get(&(m.into(), r.into()))
            .copied()
            .unwrap_or(0)
    };
    let (posts, gets, patches) = (
        n("POST", "/books"),
        n("GET", "/books/{id}"),
        n("PATCH", "/books/{id}"),
    );
    assert!(
        posts >= 3 && gets >= 3 && patches >= 3,
        "{:?}",
        seen.requests
    );
    assert!(
        posts.abs_diff(patches) <= 3,
        "each user in turn: {:?}",
        seen.requests
    );
    assert!(n("GET", "/api/v1/factorial") > 0 && n("GET", "/hello") > 0);
    // Every updated record was one its user created (and read) first.
    assert!(seen.books.values().any(|(_, v)| *v > 1));
    // goose's report groups the books requests by route, not by id.
    let report = std::fs::read_to_string(dir.join("report.json")).unwrap();
    for name in ["/books/{id}", "/api/v1/factorial", "/hello"] {
        assert!(
            report.contains(&format!("\"{name}\"")),
            "{name} in report.json"
        );
    }
    assert!(
        !report.contains("\"/books/1\""),
        "ids are not request names"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn books_in_the_mix_need_a_token_and_bad_mixes_are_clear_errors() {
    for (args, needle) in [
        (vec!["--mix", "hello=1,books=1"], "--books-token"),
        (vec!["--mix", "hello=1,cats=1"], "unknown route \"cats\""),
        (vec!["--mix", "hello=0"], "every weight is 0"),
        (vec!["--mix", "hello=lots"], "not a whole number"),
    ] {
        let mut all = vec!["steady", "-H", "http://127.0.0.1:1", "-u", "1"];
        all.extend(args.iter());
        let out = loadgen()
            .args(&all)
            .env_remove("HELLOFLEET_BOOKS_TOKEN")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {stderr}");
        assert!(stderr.contains(needle), "{all:?}: {stderr}");
    }
}

/// The same mix against the real service (issue 17's routes on its SQLite store): every
/// request succeeds, the books users' records exist in the store afterwards, and the
/// service's own per-family counters saw each family loadgen sent.
#[test]
fn the_mix_against_the_real_service_on_sqlite() {
    let dir = out_dir("mix-real");
    std::fs::create_dir_all(&dir).unwrap();
    let token_path = dir.join("books.token");
    std::fs::write(&token_path, format!("{TOKEN}-real-service-0123456789\n")).unwrap();
    let token = format!("{TOKEN}-real-service-0123456789");
    // Created beforehand, as `controller up` does (the service never creates it).
    std::fs::write(dir.join("books.sqlite"), b"").unwrap();
    let db = format!("sqlite://{}", dir.join("books.sqlite").display());
    let service = TestService::start_with(
        "i-mix",
        &[
            "--books-db",
            &db,
            "--books-token-file",
            token_path.to_str().unwrap(),
        ],
    );
    let out = run(
        &[
            "steady",
            "-H",
            &service.url,
            "-u",
            "4",
            "--duration",
            "3s",
            "--interval",
            "1s",
            "--think-time",
            "20ms",
            "--mix",
            "hello=2,repeat=1,factorial=1,books=3",
            "--factorial-number",
            "20",
            "--books-token",
            &token,
            "--out-dir",
            dir.join("out").to_str().unwrap(),
        ],
        Duration::from_secs(40),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let total = stdout.lines().find(|l| l.starts_with("total:")).unwrap();
    assert!(total.contains("errors=0 "), "{total}\n{stdout}");
    let report = std::fs::read_to_string(dir.join("out").join("report.json")).unwrap();
    for name in [
        "POST",
        "/books/{id}",
        "/api/v1/factorial",
        "/hello",
        "/repeat",
    ] {
        assert!(report.contains(name), "{name} in report.json");
    }
    // The service counted every family it was sent.
    let families = service.load_report().families;
    assert!(
        families.hello > 0 && families.repeat > 0 && families.factorial > 0 && families.books > 0,
        "{families:?}"
    );
    // The books users' records are in the store: list them over plain HTTP.
    let list = testkit::http::get(service.addr, "/books?limit=5");
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body.contains("\"title\""),
        "records created by loadgen: {}",
        list.body
    );
    drop(service);
    std::fs::remove_dir_all(&dir).unwrap();
}
