//! One user's requests, without goose: the session ([`Session`]: its `uid` cookie, its
//! connection, its books), the request each route makes, the response checked (status,
//! factorial answer, the books contract) into an [`Outcome`], timed to the end of the body.
//! [`crate::attack`] hands each one to goose and the [`Recorder`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::books::Books;
use crate::client::{ClientError, Endpoint, Http1, Response, TlsClient, UserClient};
use crate::http1::Request;
use crate::mix::Route;
use crate::recorder::{Recorder, UserGuard};

/// Where the users send: their own connections to `host:port`, or the shared https client.
#[derive(Clone)]
pub enum Target {
    Plain(Arc<Endpoint>),
    Tls(Arc<TlsClient>),
}

impl Target {
    pub fn new(host: &str) -> Result<Target, String> {
        let url = reqwest::Url::parse(host).map_err(|e| format!("not a URL: {e}"))?;
        let name = url.host_str().ok_or("no host")?;
        match url.scheme() {
            "http" => {
                let port = url.port_or_known_default().unwrap_or(80);
                let host = match url.port() {
                    Some(p) => format!("{name}:{p}"),
                    None => name.to_string(),
                };
                Ok(Target::Plain(Arc::new(Endpoint {
                    connect: format!("{name}:{port}"),
                    host,
                })))
            }
            "https" => Ok(Target::Tls(Arc::new(
                TlsClient::new(host).map_err(|e| e.to_string())?,
            ))),
            other => Err(format!("unsupported scheme {other}")),
        }
    }

    pub fn client(&self) -> UserClient {
        match self {
            Target::Plain(e) => UserClient::Plain(Http1::new(e.clone())),
            Target::Tls(c) => UserClient::Tls(c.clone()),
        }
    }
}

/// What every user shares.
pub struct Shared {
    pub recorder: Arc<Recorder>,
    pub target: Target,
    pub timeout: Duration,
    pub factorial_path: String,
    pub factorial_number: u64,
    pub books_auth: Option<String>,
}

/// One goose user's session: counted while it exists ([`UserGuard`]), its `Cookie` header
/// (its own `uid` until the service issues one), its connection and its books. (goose wants
/// session data to be `Clone`; a clone is counted as one more user and has its own
/// connection.)
pub struct Session {
    _user: UserGuard,
    cookie: String,
    who: String,
    client: UserClient,
    target: Target,
    books: Books,
}

impl Clone for Session {
    fn clone(&self) -> Self {
        Session {
            _user: self._user.clone(),
            cookie: self.cookie.clone(),
            who: self.who.clone(),
            client: self.target.client(),
            target: self.target.clone(),
            books: self.books.clone(),
        }
    }
}

/// `uid=lg-<128 random bits>`: a user id the service accepts (`[A-Za-z0-9._-]{1,128}`).
fn own_uid() -> String {
    format!("{}=lg-{:032x}", proto::USER_COOKIE, rand::random::<u128>())
}

/// A factorial answer is `{"number": N, "factorial": "<digits>"}` for the N asked.
fn factorial_ok(body: &[u8], n: u64) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("factorial: not JSON: {e}"))?;
    let digits = v["factorial"].as_str().unwrap_or_default();
    if v["number"].as_u64() != Some(n)
        || digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("factorial: not the answer for {n}"));
    }
    Ok(())
}

/// The outcome of one request: for goose and the recorder.
pub struct Outcome {
    pub ok: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub instance: Option<String>,
}

fn outcome(
    result: Result<Response, ClientError>,
    check: impl FnOnce(&Response) -> Result<(), String>,
) -> Outcome {
    match result {
        Ok(r) => {
            let checked = if (200..300).contains(&r.status) {
                check(&r)
            } else {
                Err(format!("{} {}", r.status, status_reason(r.status)))
            };
            Outcome {
                ok: checked.is_ok(),
                status: Some(r.status),
                error: checked.err(),
                instance: r.instance,
            }
        }
        Err(e) => Outcome {
            ok: false,
            status: None,
            error: Some(e.to_string()),
            instance: None,
        },
    }
}

fn status_reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// One request made: what goose records.
pub struct Done {
    pub method: &'static str,
    /// The route, e.g. `/books/{id}` (not the path with its id).
    pub name: &'static str,
    pub elapsed: Duration,
    pub outcome: Outcome,
}

impl Session {
    /// A new user, counted from now, with its own `uid`.
    pub fn new(shared: &Shared) -> Session {
        let cookie = own_uid();
        Session {
            _user: shared.recorder.user_started(Instant::now()),
            who: cookie.trim_start_matches("uid=").to_string(),
            cookie,
            client: shared.target.client(),
            target: shared.target.clone(),
            books: Books::default(),
        }
    }

    /// One request of `route`: sent, timed to the end of its body, checked.
    pub async fn request(&mut self, sh: &Shared, route: Route) -> Done {
        let Session {
            cookie,
            who,
            client,
            books,
            ..
        } = self;
        let started = Instant::now();
        let (method, name, out) = match route {
            Route::Hello | Route::Repeat | Route::Factorial => {
                let (path, name) = match route {
                    Route::Hello => ("/hello", "/hello"),
                    Route::Repeat => ("/repeat", "/repeat"),
                    _ => (sh.factorial_path.as_str(), "/api/v1/factorial"),
                };
                let req = Request {
                    method: "GET",
                    path,
                    headers: &[("Cookie", cookie.as_str())],
                    body: None,
                };
                let result = client.send(&req, sh.timeout).await;
                let n = sh.factorial_number;
                let out = outcome(result.map(|r| adopt(cookie, r)), |r| match route {
                    Route::Factorial => factorial_ok(&r.body, n),
                    _ => Ok(()),
                });
                ("GET", name, out)
            }
            Route::Books => {
                let planned = books.next(who);
                let mut headers = vec![("Cookie", cookie.as_str())];
                if planned.write {
                    headers.push(("Authorization", sh.books_auth.as_deref().unwrap_or("")));
                    headers.push(("Content-Type", "application/json"));
                }
                if let Some(etag) = &planned.if_match {
                    headers.push(("If-Match", etag.as_str()));
                }
                let req = Request {
                    method: planned.method,
                    path: &planned.path,
                    headers: &headers,
                    body: planned.body.as_deref(),
                };
                let result = client.send(&req, sh.timeout).await;
                drop(headers);
                let result = result.map(|r| adopt(cookie, r));
                let observed = books.observe(&planned, result.as_ref().ok());
                let mut out = outcome(result, |_| Ok(()));
                if out.status.is_some() {
                    out.ok = observed.is_ok();
                    out.error = observed.err();
                }
                (planned.method, planned.name, out)
            }
        };
        Done {
            method,
            name,
            elapsed: started.elapsed(),
            outcome: out,
        }
    }
}

/// Keeps the `uid` the service issued, if it issued one.
fn adopt(cookie: &mut String, r: Response) -> Response {
    if let Some(c) = &r.uid_cookie
        && c != cookie
    {
        cookie.clone_from(c);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_has_its_own_valid_uid() {
        let (a, b) = (own_uid(), own_uid());
        assert_ne!(a, b);
        let value = a.strip_prefix("uid=").unwrap();
        assert!(value.len() <= 128);
        assert!(
            value
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        );
    }

    #[test]
    fn keeps_the_uid_the_service_issues() {
        let mut cookie = "uid=lg-1".to_string();
        let r = Response {
            uid_cookie: Some("uid=s-9".into()),
            ..Response::default()
        };
        adopt(&mut cookie, r);
        assert_eq!(cookie, "uid=s-9");
        adopt(&mut cookie, Response::default());
        assert_eq!(cookie, "uid=s-9", "no Set-Cookie: kept");
    }

    #[test]
    fn factorial_answers_are_checked() {
        assert!(factorial_ok(br#"{"number":5,"factorial":"120"}"#, 5).is_ok());
        for bad in [
            &br#"{"number":4,"factorial":"24"}"#[..],
            br#"{"number":5,"factorial":120}"#,
            br#"{"number":5,"factorial":"12x"}"#,
            b"120",
        ] {
            assert!(
                factorial_ok(bad, 5).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn targets_from_hosts() {
        let Ok(Target::Plain(e)) = Target::new("http://127.0.0.1:8000") else {
            panic!()
        };
        assert_eq!(
            (e.connect.as_str(), e.host.as_str()),
            ("127.0.0.1:8000", "127.0.0.1:8000")
        );
        let Ok(Target::Plain(e)) = Target::new("http://example.test") else {
            panic!()
        };
        assert_eq!(
            (e.connect.as_str(), e.host.as_str()),
            ("example.test:80", "example.test")
        );
        assert!(matches!(
            Target::new("https://example.test"),
            Ok(Target::Tls(_))
        ));
    }
}
