//! `/books` on a PostgreSQL server that serves TLS with a certificate of a test CA
//! (`testkit::Postgres::start_tls`, a certificate for the address 127.0.0.1 only):
//! `sslmode=verify-full` with that CA as `sslrootcert` connects; another CA, or a
//! host name the certificate does not name, keeps the books unavailable; a bad
//! `sslrootcert` file stops the process at start, naming it.

use crate::common;

use std::time::{Duration, Instant};

use common::books::{self, TOKEN, send};
use common::crash::Scratch;
use common::{Process, client, get};
use hyper::StatusCode;
use serde_json::json;

fn instance(scratch: &Scratch, url: &str) -> Process {
    books::db_instance(&scratch.0, url.to_owned())
}

/// `/readyz` stays 503 and ends up naming a certificate error (15 s at most);
/// a write in the meantime is 503, never 201.
async fn refused(c: &common::HttpClient, p: &Process, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = get(c, &format!("{}/readyz", p.base)).await;
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {}",
            r.body
        );
        if r.body.contains("certificate") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no certificate error named: {}\n{}",
            r.body,
            p.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let auth = format!("Bearer {TOKEN}");
    let body = json!({"title": "t", "author": "a", "year": 2000});
    let url = format!("{}/books", p.base);
    let r = send(c, "POST", &url, &[("authorization", &auth)], Some(&body)).await;
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        r.body
    );
}

#[tokio::test]
async fn verify_full_connects_with_the_ca_and_refuses_another_ca_or_name() {
    let pg = testkit::Postgres::start_tls();
    let scratch = Scratch::new("books-pg-tls");
    let other = testkit::tls::make_ca(&scratch.0, "other");
    let (port, ca) = (pg.port(), pg.ca_pem().display().to_string());
    let url = |host: &str, mode: &str, root: &str| {
        format!("postgres://postgres@{host}:{port}/postgres?sslmode={mode}&sslrootcert={root}")
    };
    let c = client();

    // The CA that signed it, the address it names: ready, and a write lands.
    let good = instance(&scratch, &url("127.0.0.1", "verify-full", &ca));
    books::wait_ready(&c, &good.base, Duration::from_secs(30)).await;
    let (id, _) = books::create(
        &c,
        &good.base,
        json!({"title": "t", "author": "a", "year": 1999}),
    )
    .await;
    assert!(id > 0);

    // Another CA: not ready, and every write refused (the certificate is not trusted).
    let other_ca = instance(
        &scratch,
        &url("127.0.0.1", "verify-full", &other.display().to_string()),
    );
    refused(&c, &other_ca, "another CA").await;

    // The right CA, but reached as `localhost`, a name the certificate does not hold
    // (it holds only IP:127.0.0.1): verify-full checks the name too.
    let wrong_name = instance(&scratch, &url("localhost", "verify-full", &ca));
    refused(&c, &wrong_name, "a name not in the certificate").await;

    // verify-ca with the right CA: ready. This path builds rustls's verifier from the
    // process-wide crypto provider, which panicked before the service installed one.
    // (sqlx 0.8.6 means verify-ca to skip the name check, but it matches only rustls's
    // older NotValidForName error, so with this rustls it checks the name as well:
    // stricter, not looser; reached as `localhost` it is refused too.)
    let chain_only = instance(&scratch, &url("127.0.0.1", "verify-ca", &ca));
    books::wait_ready(&c, &chain_only.base, Duration::from_secs(30)).await;

    // `require` encrypts without checking anything: ready even with the wrong CA. This is
    // why the stack's URL says verify-full.
    let unchecked = instance(
        &scratch,
        &url("127.0.0.1", "require", &other.display().to_string()),
    );
    books::wait_ready(&c, &unchecked.base, Duration::from_secs(30)).await;
}

#[test]
fn a_bad_root_cert_file_or_sslmode_stops_the_process_at_start() {
    let scratch = Scratch::new("books-pg-rootcert");
    let not_a_cert = scratch.path("key.pem");
    std::fs::write(&not_a_cert, "-----BEGIN PRIVATE KEY-----\n").unwrap();
    for (root, reason) in [
        (scratch.path("absent.pem"), "No such file"),
        (not_a_cert, "no PEM certificate"),
    ] {
        // Nothing listens there: the check comes before any connection.
        let db =
            format!("postgres://postgres@127.0.0.1:1/db?sslmode=verify-full&sslrootcert={root}");
        let (code, stderr) = Process::refused(&["--books-db", &db]);
        assert_ne!(code, 0, "{stderr}");
        assert!(
            stderr.contains("sslrootcert") && stderr.contains(&root) && stderr.contains(reason),
            "{stderr}"
        );
    }
    // A mode that does not exist is a configuration error: refused at start, not a
    // readiness that stays off for good.
    let db = "postgres://postgres@127.0.0.1:1/db?sslmode=bogus";
    let (code, stderr) = Process::refused(&["--books-db", db]);
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("sslmode=bogus is not one of") && stderr.contains("verify-full"),
        "{stderr}"
    );
}
