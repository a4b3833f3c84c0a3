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

mod drive;

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::app::App;
use crate::config::Config;
use crate::state::AppState;

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
    let accept = |stream: TcpStream, conns: &mut JoinSet<()>| {
        let _ = stream.set_nodelay(true);
        conns.spawn(connection(
            stream,
            builder.clone(),
            app.clone(),
            close.clone(),
            config.header_timeout,
        ));
    };

    // Serving.
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => accept(stream, &mut conns),
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
                Ok((stream, _)) => accept(stream, &mut conns),
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

async fn connection(
    stream: TcpStream,
    builder: http1::Builder,
    app: App,
    close: CancellationToken,
    head_timeout: Duration,
) {
    let activity = Arc::new(drive::Activity::default());
    let counted = Arc::clone(&activity);
    // The router is always ready: `call` on a clone (two Arc increments) is
    // all tower's contract asks for here.
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        counted.dispatched();
        let answered = Arc::clone(&counted);
        let response = app.clone().call(req);
        async move {
            let response = response.await;
            answered.answered();
            response
        }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    match drive::Driven::new(conn, activity, head_timeout, close).await {
        drive::Ended::Done(Ok(())) => {}
        // Garbage and resets end up here; hyper has already answered what
        // deserved an answer (400, 431).
        drive::Ended::Done(Err(e)) => tracing::debug!(%e, "connection ended with an error"),
        drive::Ended::HeadTimeout => {
            tracing::debug!("connection quiet for the head timeout: closed")
        }
    }
}
