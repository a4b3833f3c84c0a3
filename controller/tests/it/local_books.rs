//! `controller up` with `/books`: the run's token is written 0600 under the data dir and
//! printed with the URLs; both instances share one SQLite file, so a book written through
//! the balancer is read back on each instance; `/api/status` shows books requests/s.
//! With the file moved away, the instance is not ready, and `/api/status` says why, in
//! the instance's own words (its `reason`), in service and again once restarted.

use crate::local_support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use local_support::{Policy, Stack};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_local_instances_share_one_books_file() {
    let policy = Policy {
        min: 2,
        max: 2,
        scale_out_at: 1000.0,
        scale_in_at: 0.0,
    };
    let mut stack = Stack::start("books", policy).await;
    let token_file = stack.dir.join("books.token");
    let token = std::fs::read_to_string(&token_file).expect("books.token in the data dir");
    let token = token.trim();
    assert!(token.len() >= 32);
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let printed = std::fs::read_to_string(stack.dir.join("controller.out")).unwrap();
    assert!(printed.contains(&format!("Bearer {token}")), "{printed}");
    assert!(stack.dir.join("books.sqlite").exists());

    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let created = c
        .post(format!("{}/books", stack.balancer))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(r#"{"title":"Quincas Borba","author":"Machado de Assis","year":1891}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    // Two connections held open at once are placed on the two instances (least flows
    // first): each reads the same row from the one shared file.
    let addr: std::net::SocketAddr = stack
        .balancer
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    // The first is answered (so its flow is placed and counted) and kept open before the
    // second connects: not a fixed sleep, which a loaded balancer may outlast.
    let request = testkit::http::Request::new("GET", &location);
    let mut first = TcpStream::connect(addr).await.unwrap();
    let first_answer = testkit::http::keep_alive_exchange_on(
        &mut first,
        &request.bytes_keep_alive(addr),
        Duration::from_secs(5),
    )
    .await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    let raw =
        testkit::http::exchange_on(&mut second, &request.bytes(addr), Duration::from_secs(5)).await;
    let second_answer = testkit::http::Response::parse(&raw).expect("an HTTP/1 answer");
    drop(first);
    let mut seen = std::collections::BTreeSet::new();
    for answer in [first_answer, second_answer] {
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(answer.body.contains("Quincas Borba"), "{answer:?}");
        let who = answer
            .header(proto::INSTANCE_ID_HEADER)
            .expect("x-instance-id")
            .to_owned();
        seen.insert(who);
    }
    assert_eq!(seen.len(), 2, "read through both instances: {seen:?}");
    // A write without the token is refused through the balancer too.
    let r = c
        .delete(format!("{}{location}", stack.balancer))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    stack
        .wait_for(
            "books requests/s in /api/status",
            Duration::from_secs(15),
            |s| s.fleet.requests_per_second_by_family.books > 0.0,
        )
        .await;
    assert!(stack.stop(Duration::from_secs(60)).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_not_ready_for_its_books_file_says_why_in_the_status() {
    let policy = Policy {
        min: 1,
        max: 1,
        scale_out_at: 1000.0,
        scale_in_at: 0.0,
    };
    let mut stack = Stack::start("books-reason", policy).await;
    let fine = stack.status().await.expect("status");
    assert_eq!(fine.instances.len(), 1);
    assert_eq!(fine.instances[0].reason, None, "{:?}", fine.instances[0]);
    let raw = reqwest::get(format!("{}/api/status", stack.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!raw.contains("\"reason\""), "absent when fine: {raw}");

    let file = stack.dir.join("books.sqlite");
    std::fs::rename(&file, stack.dir.join("books.sqlite.moved")).unwrap();
    // In service (its /healthz is 200), it is not ready: it says why and stays.
    let named = |s: &proto::Status, state: proto::Lifecycle| {
        s.instances.iter().any(|i| {
            i.lifecycle_state == state
                && i.reason.as_deref().is_some_and(|r| {
                    r.starts_with("/readyz 503: books database unavailable")
                        && r.contains("books.sqlite")
                })
        })
    };
    stack
        .wait_for(
            "the in-service instance's reason naming the books file",
            Duration::from_secs(15),
            |s| named(s, proto::Lifecycle::InService),
        )
        .await;
    // The same file back (same inode): ready again, the reason goes.
    std::fs::rename(stack.dir.join("books.sqlite.moved"), &file).unwrap();
    stack
        .wait_for(
            "the reason cleared once ready again",
            Duration::from_secs(15),
            |s| {
                s.instances.len() == 1
                    && s.instances[0].lifecycle_state == proto::Lifecycle::InService
                    && s.instances[0].reason.is_none()
            },
        )
        .await;
    std::fs::rename(&file, stack.dir.join("books.sqlite.moved")).unwrap();
    // The instance crashes: restarted in place, it finds no books file.
    let id = fine.instances[0].id.clone();
    let pid = stack.instance_pid(&id).expect("the instance's process");
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    let s = stack
        .wait_for(
            "the restarted (pending) instance's reason naming the books file",
            Duration::from_secs(20),
            |s| named(s, proto::Lifecycle::Pending),
        )
        .await;
    let i = s.instances.iter().find(|i| i.reason.is_some()).unwrap();
    let why = i.reason.as_deref().unwrap();
    assert!(
        why.len() <= 320 && !why.chars().any(char::is_control),
        "{why:?}"
    );
    assert!(stack.stop(Duration::from_secs(60)).success());
}
