//! `/books` on the local default: two service processes on ONE SQLite file
//! (WAL), as the local fleet runs them; curl and python as outside clients.

use crate::common;

use std::process::Command;

use common::books::{self, TOKEN};
use common::crash::Scratch;
use common::{Process, client, get};
use hyper::StatusCode;

/// Two instances on one new file in `scratch`, both ready.
async fn two_instances(scratch: &Scratch) -> (Process, Process) {
    let token = books::token_file(&scratch.0);
    // Created once beforehand, as `controller up` does: the service never creates it.
    std::fs::write(scratch.path("books.sqlite"), b"").unwrap();
    let db = format!("sqlite://{}", scratch.path("books.sqlite"));
    let flags = [
        "--books-db",
        &db,
        "--books-token-file",
        &token,
        "--log-sink",
        "file:/dev/null",
    ];
    let (a, b) = (Process::spawn(&flags, &[]), Process::spawn(&flags, &[]));
    books::wait_both_ready(&client(), &a.base, &b.base).await;
    (a, b)
}

/// A books token file too short (or being rewritten, hence empty) stops the
/// process before it says it listens: `listening on` means serving.
#[test]
fn a_short_token_file_is_refused_before_listening() {
    let scratch = Scratch::new("books-short-token");
    let token = scratch.path("short.token");
    std::fs::write(&token, b"").unwrap();
    let db = format!("sqlite://{}", scratch.path("books.sqlite"));
    let flags = ["--books-db", &db, "--books-token-file", &token];
    let (code, stderr) = Process::refused(&flags);
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("short.token") && stderr.contains("at least"),
        "{stderr}"
    );
}

/// A token "file" that is endless (`/dev/zero`) or a FIFO no one writes is refused at
/// once, naming it: never read into memory without end, never a start that hangs.
#[test]
fn an_endless_or_blocking_token_file_is_refused_at_once() {
    let scratch = Scratch::new("books-odd-token");
    let fifo = scratch.path("token.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let big = scratch.path("big.token");
    std::fs::write(&big, vec![b'x'; 65 * 1024]).unwrap();
    let db = format!("sqlite://{}", scratch.path("books.sqlite"));
    for (token, reason) in [
        ("/dev/zero", "not a regular file"),
        (fifo.as_str(), "not a regular file"),
        (big.as_str(), "larger than 65536 bytes"),
    ] {
        let flags = ["--books-db", &db, "--books-token-file", token];
        let (code, stderr) = Process::refused(&flags);
        assert_ne!(code, 0, "{stderr}");
        assert!(
            stderr.contains(token) && stderr.contains(reason),
            "{token}: {stderr}"
        );
    }
}

#[tokio::test]
async fn crud_validation_and_races_across_two_instances_on_one_file() {
    let scratch = Scratch::new("books-sqlite");
    let (a, b) = two_instances(&scratch).await;
    let c = client();
    books::all_scenarios(&c, &a.base, &b.base).await;
    // One file, in WAL mode.
    assert!(scratch.0.join("books.sqlite-wal").exists() || scratch.0.join("books.sqlite").exists());
    let mode = std::fs::read(scratch.0.join("books.sqlite")).unwrap();
    assert_eq!(&mode[18..20], &[2, 2], "WAL mode is recorded in the header");
}

/// curl (silent, 10 s at most) with `args`: its stdout.
fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "-m", "10"])
        .args(args)
        .output()
        .expect("curl (apt-get install curl)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// curl writes through one instance, python reads through the other.
#[tokio::test]
async fn curl_and_python_clients() {
    let scratch = Scratch::new("books-sqlite-curl");
    let (a, b) = two_instances(&scratch).await;
    let c = client();
    let text = curl(&[
        "-o",
        "-",
        "-w",
        "\n%{http_code} %header{location}",
        "-X",
        "POST",
        "-H",
        &format!("Authorization: Bearer {TOKEN}"),
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"title":"Grande Sertão: Veredas","author":"Guimarães Rosa","year":1956}"#,
        &format!("{}/books", a.base),
    ]);
    let status_line = text.lines().last().unwrap();
    assert!(status_line.starts_with("201 /books/"), "{text}");
    let location = status_line.split_once(' ').unwrap().1.to_owned();
    let script = format!(
        "import json, urllib.request\n\
         r = urllib.request.urlopen('{}{location}', timeout=10)\n\
         b = json.load(r)\n\
         print(r.status, r.headers['ETag'], b['title'], b['year'])\n",
        b.base
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        said.trim(),
        "200 \"v1\" Grande Sertão: Veredas 1956",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A write without the token, from curl: 401.
    let code = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "DELETE",
        &format!("{}{location}", b.base),
    ]);
    assert_eq!(code, "401");
    assert_eq!(
        get(&c, &format!("{}{location}", a.base)).await.status,
        StatusCode::OK
    );
}
