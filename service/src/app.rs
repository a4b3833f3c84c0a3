//! The HTTP routes: `fn app(state) -> App`, so tests call it with `oneshot`.
//!
//! Every request, 404 and 405 included, passes through [`Observe`], which
//! adds `X-Instance-Id`, tracks the user, counts the request, and adds
//! `Connection: close` while draining so clients stop reusing connections to
//! an instance that is going away.
//!
//! Who is a user: only requests to the API's own routes ([`is_api_request`]:
//! `GET`/`HEAD` `/hello`, `/repeat` and `/api/v1/factorial`, and every method
//! `/books` serves, reads and writes alike, whatever their status: a books
//! user refused 401 or 412 is still someone using the fleet) make a user
//! concurrent; 404, 405, health, metrics and the load report do not. The user is the `X-User-Id`
//! header, else the `uid` cookie, else the client's address (`addr:IP`, no
//! port; see `server.rs` for where the address comes from). A request without
//! an id still gets a fresh `uid` cookie, for clients that keep cookies, but
//! counts under its address: a client that never returns the cookie counts
//! once however many requests it sends, and a cookie-keeping browser counts
//! under its address for its first request and under its cookie after that,
//! so for one active window it may count twice (once per address, not per
//! request: users behind one NAT share that first count).
//!
//! `Observe` wraps the whole router once, by hand, rather than being a
//! `middleware::from_fn` layered onto every route (a boxed service clone and
//! a boxed future less per request). And `GET /hello`, the request load
//! tests hammer, is answered by `Observe` directly with the same
//! `hello_response` the router's handler returns (a test holds them equal):
//! axum's route lookup, boxed route clone, boxed handler future and
//! extensions map were a tenth of that request's CPU time. Together these
//! took `/hello` from 0.74 to 0.99 of nginx's rate (`bench/service.sh`).

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pin_project_lite::pin_project;
use tower::Service;
use tower_http::timeout::TimeoutLayer;

use crate::metrics::RouteLabel;
use crate::state::{AppState, unix_ms};
use crate::users;

const HELLO: &str = "Hello World";
const HELLO_LENGTH: HeaderValue = HeaderValue::from_static("11");
const _: () = assert!(HELLO.len() == 11);
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const INSTANCE_ID: HeaderName = HeaderName::from_static(proto::INSTANCE_ID_HEADER);

/// The service the server runs: every route, observed.
pub type App = Observe<Router>;

/// Every route, wrapped in [`Observe`].
pub fn app(state: AppState) -> App {
    let request_timeout = state.request_timeout();
    let router = Router::new()
        .route("/hello", get(hello))
        // Only /repeat can wait (for queue room, in block mode): the timeout
        // sits there, sparing the other routes a timer per request.
        .route(
            "/repeat",
            get(repeat).layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                request_timeout,
            )),
        )
        .route(crate::factorial::PATH, get(factorial))
        .merge(crate::books::http::routes())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(proto::LOAD_REPORT_PATH, get(load))
        .fallback(not_found)
        .with_state(state.clone());
    Observe {
        inner: router,
        state,
        client: None,
    }
}

/// The API's own routes, the only requests that make a user concurrent. A
/// new API route goes here as well as into the router above (a test checks
/// that every route counted here answers 200).
pub fn is_api_request(route: RouteLabel, method: &Method) -> bool {
    match route {
        RouteLabel::Hello | RouteLabel::Repeat | RouteLabel::Factorial => {
            *method == Method::GET || *method == Method::HEAD
        }
        RouteLabel::Books => matches!(
            *method,
            Method::GET
                | Method::HEAD
                | Method::POST
                | Method::PUT
                | Method::PATCH
                | Method::DELETE
        ),
        _ => false,
    }
}

/// `GET /api/v1/factorial?number=N`: see [`crate::factorial`].
async fn factorial(State(state): State<AppState>, uri: axum::http::Uri) -> Response {
    use crate::factorial::{INLINE_MAX, factorial};
    let n = match crate::factorial::parse_number(uri.query(), state.factorial_max()) {
        Ok(n) => n,
        Err(e) => return crate::json::error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let digits = if n <= INLINE_MAX {
        factorial(n)
    } else {
        let Some(permit) = state.factorial_gate().try_enter() else {
            let mut r = crate::json::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many large factorials in progress; try again",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        };
        let work = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            factorial(n)
        });
        match work.await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "a factorial task failed");
                return crate::json::error(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
        }
    };
    // The digits need no escaping: written directly rather than through serde.
    let body = format!("{{\"number\":{n},\"factorial\":\"{digits}\"}}");
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

async fn hello() -> Response {
    hello_response()
}

/// `/hello`'s answer; [`Observe`] also gives it directly to `GET /hello`.
fn hello_response() -> Response {
    let mut response = Response::new(Body::from(HELLO));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, TEXT);
    headers.insert(header::CONTENT_LENGTH, HELLO_LENGTH);
    response
}

/// 100 lines; a log event on every 5th iteration, handed to the shipper
/// without waiting on the network (only on queue room, in block mode).
async fn repeat(State(state): State<AppState>) -> Response {
    let now = i64::try_from(unix_ms()).unwrap_or(i64::MAX);
    // With a spool, the events are on disk once this returns: only then 200.
    if let Err(e) = state.logs().enqueue(state.repeat_events(now)).await {
        tracing::error!(error = %e, "/repeat: log events not stored; answering 503");
        return (StatusCode::SERVICE_UNAVAILABLE, "log spool unavailable\n").into_response();
    }
    ([(header::CONTENT_TYPE, TEXT)], state.repeat_body()).into_response()
}

async fn healthz() -> Response {
    ([(header::CONTENT_TYPE, TEXT)], "ok").into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_draining() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, TEXT)],
            "draining",
        )
            .into_response()
    } else if let Some(books) = state.books().filter(|b| !b.is_ready()) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, TEXT)],
            format!("books database unavailable: {}", books.why_not_ready()),
        )
            .into_response()
    } else {
        ([(header::CONTENT_TYPE, TEXT)], "ready").into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.render_metrics(),
    )
        .into_response()
}

async fn load(State(state): State<AppState>) -> Response {
    axum::Json(state.load_report()).into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, TEXT)],
        "not found",
    )
        .into_response()
}

/// Instance header, user tracking, metrics and drain behaviour around `inner`.
#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    state: AppState,
    /// The user hash of the connection's client address (see [`users::address_user`]);
    /// `None` outside a connection (tests calling the service directly).
    client: Option<u64>,
}

impl<S> Observe<S> {
    /// This service for one connection from `ip`: cookieless requests count as `ip`.
    pub fn for_client(mut self, ip: IpAddr) -> Self {
        self.client = Some(users::address_user(ip));
        self
    }
}

impl<S, B> Service<axum::http::Request<B>> for Observe<S>
where
    S: Service<axum::http::Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let route = RouteLabel::of(request.uri().path());
        let mut new_user = None;
        if is_api_request(route, request.method()) {
            let hash = match users::user_id(request.headers()) {
                Some(id) => proto::sketch::hash64(id.as_bytes()),
                None => {
                    new_user = Some(users::new_user_id());
                    self.client.unwrap_or_else(users::unknown_address_user)
                }
            };
            self.state.touch_user(hash, started);
        }
        self.state.metrics().enter(route);
        let inner = if route == RouteLabel::Hello && request.method() == Method::GET {
            Answer::Now {
                response: Some(hello_response()),
            }
        } else {
            Answer::Routed {
                future: self.inner.call(request),
            }
        };
        Observed {
            inner,
            request: Some(InRequest {
                state: self.state.clone(),
                route,
                started,
                new_user,
            }),
        }
    }
}

pin_project! {
    #[project = AnswerProj]
    enum Answer<F> {
        Routed { #[pin] future: F },
        Now { response: Option<Response> },
    }
}

impl<F> Future for Answer<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AnswerProj::Routed { future } => future.poll(cx),
            AnswerProj::Now { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}

pin_project! {
    /// The response future of [`Observe`].
    pub struct Observed<F> {
        #[pin]
        inner: Answer<F>,
        request: Option<InRequest>,
    }
}

/// A request being served; dropping it (answered or cancelled) ends its in-flight count.
struct InRequest {
    state: AppState,
    route: RouteLabel,
    started: Instant,
    new_user: Option<String>,
}

impl Drop for InRequest {
    fn drop(&mut self) {
        self.state.metrics().leave(self.route);
    }
}

impl<F> Future for Observed<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        if let Some(request) = this.request.take() {
            let state = &request.state;
            let headers = response.headers_mut();
            headers.insert(INSTANCE_ID, state.instance_header().clone());
            if let Some(Ok(v)) = request
                .new_user
                .as_deref()
                .map(|id| HeaderValue::from_str(&users::set_cookie(id)))
            {
                headers.append(header::SET_COOKIE, v);
            }
            if state.is_draining() {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            state.metrics().record(
                request.route,
                response.status().as_u16(),
                request.started.elapsed(),
            );
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overflow;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn state() -> AppState {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: crate::Args,
        }
        let args = Cli::parse_from(["service", "--no-imds"]).args;
        let config = crate::Config::from_args(args).unwrap();
        // No shipper: /repeat's events are dropped rather than waited for.
        let (queue, _input) = crate::shipper::queue(10, Overflow::Drop);
        AppState::new(&config, "i-fast".into(), queue)
    }

    async fn parts(response: Response) -> (StatusCode, Vec<(String, String)>, String) {
        let mut headers: Vec<_> = response
            .headers()
            .iter()
            .filter(|(k, _)| *k != header::SET_COOKIE)
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    /// `GET /hello` skips the router; what it answers must not differ.
    #[tokio::test]
    async fn the_direct_hello_answers_exactly_like_the_routed_one() {
        let state = state();
        let get = || {
            axum::http::Request::get("/hello")
                .header("cookie", "uid=u1")
                .body(Body::empty())
                .unwrap()
        };
        let app = app(state.clone());
        let direct = parts(app.clone().oneshot(get()).await.unwrap()).await;
        // The router alone, plus the one header Observe adds.
        let mut via_router = app.inner.clone().oneshot(get()).await.unwrap();
        via_router
            .headers_mut()
            .insert(INSTANCE_ID, state.instance_header().clone());
        let via_router = parts(via_router).await;
        assert_eq!(direct, via_router);
        assert_eq!(direct.0, StatusCode::OK);
        assert_eq!(direct.2, "Hello World");
        assert!(
            direct
                .1
                .contains(&("x-instance-id".into(), "i-fast".into()))
        );
        // Both count as /hello traffic.
        assert_eq!(state.metrics().requests(RouteLabel::Hello, 1), 1);
    }

    /// Active users after `requests` (path, method, headers) on a fresh state.
    async fn users_after(client: Option<&str>, requests: &[(&str, Method, Option<&str>)]) -> u64 {
        let state = state();
        let mut app = app(state.clone());
        if let Some(ip) = client {
            app = app.for_client(ip.parse().unwrap());
        }
        for (path, method, cookie) in requests {
            let mut r = axum::http::Request::builder()
                .method(method.clone())
                .uri(*path);
            if let Some(c) = cookie {
                r = r.header("cookie", *c);
            }
            let _ = app
                .clone()
                .oneshot(r.body(Body::empty()).unwrap())
                .await
                .unwrap();
        }
        state.load_report().concurrent_users
    }

    #[tokio::test]
    async fn only_the_api_routes_make_users() {
        use Method as M;
        let n = |path| (path, M::GET, None);
        assert_eq!(users_after(Some("127.0.0.9"), &[n("/hello")]).await, 1);
        assert_eq!(users_after(Some("127.0.0.9"), &[n("/repeat")]).await, 1);
        assert_eq!(
            users_after(Some("127.0.0.9"), &[("/hello", M::HEAD, None)]).await,
            1
        );
        for path in [
            "/nope",
            "/healthz",
            "/readyz",
            "/metrics",
            proto::LOAD_REPORT_PATH,
        ] {
            assert_eq!(
                users_after(Some("127.0.0.9"), &[n(path)]).await,
                0,
                "{path}"
            );
        }
        // 405s.
        assert_eq!(
            users_after(Some("127.0.0.9"), &[("/hello", M::POST, None)]).await,
            0
        );
        assert_eq!(
            users_after(Some("127.0.0.9"), &[("/repeat", M::DELETE, Some("uid=x"))]).await,
            0
        );
    }

    #[tokio::test]
    async fn cookieless_requests_count_as_their_address() {
        let hello = ("/hello", Method::GET, None);
        assert_eq!(
            users_after(Some("127.0.0.9"), &vec![hello.clone(); 50]).await,
            1
        );
        assert_eq!(users_after(None, &vec![hello.clone(); 5]).await, 1);
        // A cookie-keeper: its first request (no cookie yet) under its address, then its cookie.
        let kept = ("/hello", Method::GET, Some("uid=abc"));
        assert_eq!(
            users_after(Some("127.0.0.9"), &[hello, kept.clone(), kept]).await,
            2
        );
    }

    /// The single list of API routes and the router agree: each answers 200.
    #[tokio::test]
    async fn every_counted_route_is_served() {
        let app = app(state());
        for route in RouteLabel::ALL {
            for method in [
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::DELETE,
            ] {
                if !is_api_request(route, &method) {
                    continue;
                }
                let r = axum::http::Request::builder()
                    .method(method.clone())
                    .uri(match (route, &method) {
                        (RouteLabel::Books, &Method::PUT | &Method::PATCH | &Method::DELETE) => {
                            "/books/1"
                        }
                        _ => route.as_str(),
                    })
                    .body(Body::empty())
                    .unwrap();
                let status = app.clone().oneshot(r).await.unwrap().status();
                match route {
                    // Served: 400 for the missing number, 503 with no --books-db.
                    RouteLabel::Factorial => assert_eq!(status, StatusCode::BAD_REQUEST),
                    RouteLabel::Books => {
                        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{method}");
                    }
                    _ => assert_eq!(status, StatusCode::OK, "{method} {}", route.as_str()),
                }
            }
        }
    }
}
