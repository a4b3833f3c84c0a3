//! The HTTP/1 server around the router: accept loop, per-connection limits,
//! and the graceful drain.
//!
//! Drain, once `shutdown` fires:
//! 1. readiness turns 503 and every response carries `Connection: close`,
//!    while the listener keeps accepting for the drain delay (a balancer needs
//!    that long to notice);
//! 2. the listener closes; idle keep-alive connections are closed, busy ones
//!    finish their request first (hyper's graceful shutdown);
//! 3. [`serve`] returns once every connection is gone (or after the shutdown
//!    timeout, when the stragglers are aborted).
//!
//! Each connection knows its client's address: the TCP peer (an NLB preserves
//! client IPs), or, with `--proxy-protocol`, the address in the PROXY v2
//! header ([`proxy`]) that a trusted peer (`--proxy-from`, loopback by
//! default) must send first, within the head timeout. A trusted peer that
//! sends no valid header is closed (counted in
//! `hellofleet_proxy_header_refused_total`, logged at debug); an untrusted
//! peer is served as a plain client under its own address (a header it sends
//! is then just bytes hyper refuses with 400), so nobody outside the trusted
//! networks can choose the address it is counted under.
//!
//! Each connection's life is bounded ([`lifetime`]): past its age or its
//! request count, its next response carries `Connection: close`.

mod drive;
pub mod lifetime;
pub mod proxy;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, header};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::app::App;
use crate::config::Config;
use crate::state::AppState;
use lifetime::ConnLimits;
use proxy::Trusted;

/// What every connection needs to know, shared by all of them.
struct PerConnection {
    head_timeout: Duration,
    limits: ConnLimits,
    /// `Some` with `--proxy-protocol`: the peers that must send a PROXY v2 header.
    proxy_from: Option<Trusted>,
    state: AppState,
}

pub async fn serve(
    listener: TcpListener,
    app: App,
    state: &AppState,
    config: &Config,
    shutdown: CancellationToken,
) {
    let mut builder = http1::Builder::new();
    builder
        // The head timeout is kept by `drive::Driven`, without hyper's timer.
        .header_read_timeout(None)
        .max_header_size(config.max_header_bytes)
        .keep_alive(true);
    let close = CancellationToken::new();
    let mut conns = JoinSet::new();
    let shared = Arc::new(PerConnection {
        head_timeout: config.header_timeout,
        limits: config.conn_limits,
        proxy_from: config.proxy_from.clone(),
        state: state.clone(),
    });
    let accept = |stream: TcpStream, peer: SocketAddr, conns: &mut JoinSet<()>| {
        let _ = stream.set_nodelay(true);
        conns.spawn(connection(
            stream,
            peer,
            builder.clone(),
            app.clone(),
            close.clone(),
            Arc::clone(&shared),
        ));
    };

    // Serving.
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => accept(stream, peer, &mut conns),
                Err(e) => accept_error(e).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }

    // Draining: still accepting, but readiness is off and connections close after each response.
    state.set_draining();
    tracing::info!(drain_delay = ?config.drain_delay, "draining");
    let until = Instant::now() + config.drain_delay;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(until) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => accept(stream, peer, &mut conns),
                Err(e) => accept_error(e).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }

    // Closing: no new connections; in-flight requests finish.
    drop(listener);
    close.cancel();
    let open = conns.len();
    tracing::info!(open, "listener closed; waiting for in-flight requests");
    let all_done = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(config.shutdown_timeout, all_done)
        .await
        .is_err()
    {
        tracing::warn!(
            left = conns.len(),
            "shutdown timeout: aborting the remaining connections"
        );
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}

/// Accept errors (e.g. out of file descriptors) are logged and the loop
/// pauses briefly instead of spinning.
async fn accept_error(e: std::io::Error) {
    tracing::warn!(%e, "accept failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// The client's address: the peer's, or the one its trusted PROXY header
/// names. `None`: a trusted peer without a valid header (already counted).
async fn client_address(
    stream: &mut TcpStream,
    peer: SocketAddr,
    shared: &PerConnection,
) -> Option<IpAddr> {
    let Some(trusted) = &shared.proxy_from else {
        return Some(peer.ip());
    };
    if !trusted.allows(peer.ip()) {
        return Some(peer.ip());
    }
    let read = async {
        let mut head = [0u8; proxy::HEAD_LEN];
        stream.read_exact(&mut head).await?;
        let mut rest = vec![0u8; proxy::rest_len(&head).map_err(std::io::Error::other)?];
        stream.read_exact(&mut rest).await?;
        proxy::parse(&head, &rest).map_err(std::io::Error::other)
    };
    match tokio::time::timeout(shared.head_timeout, read).await {
        Ok(Ok(proxy::Header::Client(client))) => Some(client.ip()),
        Ok(Ok(proxy::Header::Local | proxy::Header::Unknown)) => Some(peer.ip()),
        Ok(Err(e)) => {
            shared.state.metrics().proxy_refused();
            tracing::debug!(%peer, %e, "no valid PROXY v2 header from a trusted peer: closed");
            None
        }
        Err(_) => {
            shared.state.metrics().proxy_refused();
            tracing::debug!(%peer, "no PROXY v2 header within the head timeout: closed");
            None
        }
    }
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    builder: http1::Builder,
    app: App,
    close: CancellationToken,
    shared: Arc<PerConnection>,
) {
    let Some(client) = client_address(&mut stream, peer, &shared).await else {
        return;
    };
    let app = app.for_client(client);
    let limits = shared.limits;
    let activity = Arc::new(drive::Activity::default());
    let counted = Arc::clone(&activity);
    // The router is always ready: `call` on a clone (two Arc increments) is
    // all tower's contract asks for here.
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let nth = counted.dispatched();
        let answered = Arc::clone(&counted);
        let response = app.clone().call(req);
        async move {
            let mut response = response.await;
            let old = answered.is_old();
            if old || limits.last_by_count(nth) {
                if let Ok(r) = &mut response {
                    r.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                answered.told_to_close(old);
            }
            answered.answered();
            response
        }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let age = limits.age_for(rand::random::<f64>());
    let ended = drive::Driven::new(conn, Arc::clone(&activity), shared.head_timeout, age, close);
    let ended = ended.await;
    if let Some(by_age) = activity.closed_by_limit() {
        shared.state.metrics().lifetime_close(by_age);
    }
    match ended {
        drive::Ended::Done(Ok(())) => {}
        // Garbage and resets end up here; hyper has already answered what
        // deserved an answer (400, 431).
        drive::Ended::Done(Err(e)) => tracing::debug!(%e, "connection ended with an error"),
        drive::Ended::HeadTimeout => {
            tracing::debug!("connection quiet for the head timeout: closed")
        }
    }
}
