//! The controller's own HTTP/1 accept loop, with the connection hygiene `axum::serve` lacks
//! (the instances reach this port; so may anyone else on the network):
//!
//! - a head-read timeout: a connection that has not sent a whole request head within
//!   `header_timeout` is closed (slowloris). hyper starts this timer whenever it waits for a
//!   head, so it also bounds the keep-alive idle time between two requests;
//! - a cap on open connections: at `max_connections`, a new connection makes room by closing
//!   the oldest connection that has not sent a request yet (a flood of silent sockets cannot
//!   lock everyone out for the head timeout); with none such, the new one is closed at once
//!   (counted), so sockets cannot pile up without bound;
//! - graceful shutdown: on `shutdown`, accepting stops, each connection finishes its request
//!   in flight and closes; the caller bounds the wait (`SERVER_DRAIN`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The limits of [`serve`] (from `[api]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// Connections closed at once because `max_connections` were open.
pub static REFUSED_CONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// Open connections that have not sent a request yet, oldest first, each with the token
/// that closes it: the ones a full server closes to make room.
#[derive(Default)]
struct Silent {
    next_id: u64,
    conns: VecDeque<(u64, CancellationToken)>,
}

impl Silent {
    fn add(&mut self) -> (u64, CancellationToken) {
        self.next_id += 1;
        let token = CancellationToken::new();
        self.conns.push_back((self.next_id, token.clone()));
        (self.next_id, token)
    }

    fn remove(&mut self, id: u64) {
        if let Some(i) = self.conns.iter().position(|(k, _)| *k == id) {
            self.conns.remove(i);
        }
    }
}

/// How long a new connection waits for the room an evicted silent one makes.
const EVICT_WAIT: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown`, then waits for open connections to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let silent = Arc::new(Mutex::new(Silent::default()));
    let tasks = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            // EMFILE, ECONNABORTED…: transient; do not spin.
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(50)) => continue,
                }
            }
        };
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                let victim = silent.lock().expect("silent lock").conns.pop_front();
                match victim {
                    Some((_, token)) => {
                        token.cancel();
                        tokio::time::timeout(EVICT_WAIT, Arc::clone(&permits).acquire_owned())
                            .await
                            .ok()
                            .and_then(Result::ok)
                    }
                    None => None,
                }
            }
        };
        let Some(permit) = permit else {
            REFUSED_CONNECTIONS.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let (id, evict) = silent.lock().expect("silent lock").add();
        tasks.spawn(connection(
            stream,
            app.clone(),
            limits,
            shutdown.clone(),
            Watch {
                silent: Arc::clone(&silent),
                id,
                evict,
                _permit: permit,
            },
        ));
    }
    drop(listener);
    tasks.close();
    tasks.wait().await;
    Ok(())
}

/// One connection's place among the open ones: its permit, and its entry in `silent` until
/// its first request (or its end).
struct Watch {
    silent: Arc<Mutex<Silent>>,
    id: u64,
    evict: CancellationToken,
    _permit: OwnedSemaphorePermit,
}

impl Watch {
    fn spoke(&self) {
        self.silent.lock().expect("silent lock").remove(self.id);
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.spoke();
    }
}

async fn connection(
    stream: TcpStream,
    app: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
    watch: Watch,
) {
    let _ = stream.set_nodelay(true);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let evict = watch.evict.clone();
    let watch = Arc::new(watch);
    let spoke = Arc::new(AtomicBool::new(false));
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        if !spoke.swap(true, Ordering::Relaxed) {
            watch.spoke();
        }
        tower::ServiceExt::oneshot(app.clone(), req.map(axum::body::Body::new))
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        // Closed to make room for a new connection: it had sent nothing yet.
        () = evict.cancelled() => {}
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
