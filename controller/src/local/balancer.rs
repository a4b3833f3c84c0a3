//! The local balancer: an L4 TCP proxy playing the NLB's role.
//!
//! One listening port; every accepted connection (a *flow*) is proxied, bytes
//! unchanged, to one backend picked when the flow opens (least active flows or
//! round robin). A backend that refuses the connect is skipped and the next one
//! tried. The backend set is replaced through a [`BalancerHandle`]: a removed
//! backend gets no new flows while its existing ones run to their end (draining),
//! and its active-flow count stays readable so the group can wait for zero.
//!
//! With `proxy_protocol`, each flow starts with a PROXY protocol v2 header
//! naming the client's address and port (as an NLB target group with proxy
//! protocol v2 does), so the instances count users by their real address and
//! not all as the balancer's; the instances must then run with
//! `--proxy-protocol` (the group passes it). Load moves because instances bound
//! their connections' lives (`Connection: close` after an age or a request
//! count) and each reconnect is a new flow, placed on the least loaded backend.
//!
//! Invariants: [`choose`] is pure; the accept loop and every flow stop on
//! shutdown (flows get a grace period, then are cut).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How a new flow picks its backend (`local.strategy`; a config type).
pub use crate::config::Strategy;

/// One registered target: an in-service, healthy instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub id: String,
    pub addr: SocketAddr,
}

/// Counters since the balancer started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BalancerStats {
    /// Connections accepted from clients.
    pub accepted: u64,
    /// Flows currently open (all backends, registered or draining).
    pub active: u64,
    /// Connects to a backend that failed (each followed by a try on the next one).
    pub connect_failures: u64,
    /// Client connections closed because no backend could take them.
    pub rejected: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    connect_failures: AtomicU64,
    rejected: AtomicU64,
}

/// Changes the backend set and reads flow counts; cheap to clone.
#[derive(Clone)]
pub struct BalancerHandle {
    backends: Arc<watch::Sender<Vec<Backend>>>,
    flows: Arc<Mutex<HashMap<String, Arc<AtomicU64>>>>,
    counters: Arc<Counters>,
}

impl Default for BalancerHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl BalancerHandle {
    pub fn new() -> Self {
        Self {
            backends: Arc::new(watch::Sender::new(Vec::new())),
            flows: Arc::default(),
            counters: Arc::default(),
        }
    }

    /// Replaces the registered backends. Removed ones drain: no new flows.
    pub fn set_backends(&self, backends: Vec<Backend>) {
        self.backends.send_if_modified(|current| {
            if *current == backends {
                false
            } else {
                *current = backends;
                true
            }
        });
    }

    pub fn backends(&self) -> Vec<Backend> {
        self.backends.borrow().clone()
    }

    /// Active flows to the backend `id` (registered or draining).
    pub fn active_flows(&self, id: &str) -> u64 {
        let flows = self.flows.lock().expect("flows lock");
        flows.get(id).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Active flows per backend id, draining backends included while they have any.
    pub fn flows(&self) -> HashMap<String, u64> {
        let flows = self.flows.lock().expect("flows lock");
        flows
            .iter()
            .map(|(id, c)| (id.clone(), c.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    pub fn stats(&self) -> BalancerStats {
        BalancerStats {
            accepted: self.counters.accepted.load(Ordering::Relaxed),
            active: self.flows().values().sum(),
            connect_failures: self.counters.connect_failures.load(Ordering::Relaxed),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
        }
    }

    fn open_flow(&self, id: &str) -> FlowGuard {
        let counter = {
            let mut flows = self.flows.lock().expect("flows lock");
            // Forget backends that are gone and idle, so the map stays small.
            if flows.len() > 64 {
                let live = self.backends.borrow();
                flows.retain(|k, c| {
                    c.load(Ordering::Relaxed) > 0 || live.iter().any(|b| &b.id == k)
                });
            }
            flows.entry(id.to_string()).or_default().clone()
        };
        counter.fetch_add(1, Ordering::Relaxed);
        FlowGuard(counter)
    }
}

/// Counts one open flow; the count drops when the flow ends.
struct FlowGuard(Arc<AtomicU64>);

impl Drop for FlowGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Picks the backend for a new flow among those not `tried` yet.
///
/// `loads[i]` is backend i's active flows; `start` rotates the order so ties
/// (and round robin) spread evenly. Pure.
pub fn choose(strategy: Strategy, loads: &[u64], tried: &[bool], start: usize) -> Option<usize> {
    let n = loads.len();
    let order = (0..n).map(|k| (start + k) % n).filter(|&i| !tried[i]);
    match strategy {
        Strategy::RoundRobin => order.into_iter().next(),
        Strategy::LeastFlows => order.min_by_key(|&i| loads[i]),
    }
}

/// Tunables of the proxy.
#[derive(Debug, Clone, Copy)]
pub struct BalancerOptions {
    pub strategy: Strategy,
    /// Time allowed for one backend connect before trying the next.
    pub connect_timeout: Duration,
    /// How long a flow that finds no backend waits for one to register.
    pub no_backend_wait: Duration,
    /// On shutdown, how long open flows may continue before they are cut.
    pub shutdown_grace: Duration,
    /// Start each flow with a PROXY v2 header carrying the client's address.
    pub proxy_protocol: bool,
}

impl Default for BalancerOptions {
    fn default() -> Self {
        Self {
            strategy: Strategy::LeastFlows,
            connect_timeout: Duration::from_secs(1),
            no_backend_wait: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(5),
            proxy_protocol: false,
        }
    }
}

/// A bound balancer, ready to [`run`](Balancer::run).
pub struct Balancer {
    listener: TcpListener,
    handle: BalancerHandle,
    options: BalancerOptions,
}

impl Balancer {
    /// Binds the balancer's port.
    pub async fn bind(
        addr: SocketAddr,
        handle: BalancerHandle,
        options: BalancerOptions,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self::from_listener(listener, handle, options))
    }

    pub fn from_listener(
        listener: TcpListener,
        handle: BalancerHandle,
        options: BalancerOptions,
    ) -> Self {
        Self {
            listener,
            handle,
            options,
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn handle(&self) -> BalancerHandle {
        self.handle.clone()
    }

    /// Accepts and proxies until `shutdown`; then stops accepting, lets open
    /// flows run for the grace period, cuts the rest and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let flows = TaskTracker::new();
        let cut = CancellationToken::new();
        let rotation = Arc::new(AtomicUsize::new(0));
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = self.listener.accept() => r,
            };
            match accepted {
                Ok((client, peer)) => {
                    self.handle
                        .counters
                        .accepted
                        .fetch_add(1, Ordering::Relaxed);
                    let flow = Flow {
                        handle: self.handle.clone(),
                        options: self.options,
                        rotation: rotation.clone(),
                        cut: cut.clone(),
                    };
                    flows.spawn(flow.proxy(client, peer));
                }
                Err(e) => {
                    // Out of descriptors or similar: back off briefly, keep serving.
                    tracing::warn!(error = %e, "balancer accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        drop(self.listener);
        flows.close();
        if tokio::time::timeout(self.options.shutdown_grace, flows.wait())
            .await
            .is_err()
        {
            tracing::info!(
                open = flows.len(),
                "balancer grace period over, cutting flows"
            );
            cut.cancel();
            flows.wait().await;
        }
    }
}

struct Flow {
    handle: BalancerHandle,
    options: BalancerOptions,
    rotation: Arc<AtomicUsize>,
    cut: CancellationToken,
}

impl Flow {
    async fn proxy(self, mut client: TcpStream, peer: SocketAddr) {
        let _ = client.set_nodelay(true);
        let Some((mut upstream, _guard)) = self.connect().await else {
            self.handle
                .counters
                .rejected
                .fetch_add(1, Ordering::Relaxed);
            return;
        };
        if self.options.proxy_protocol {
            let local = client.local_addr().unwrap_or(peer);
            let header = service::server::proxy::encode(peer, local);
            let write = tokio::io::AsyncWriteExt::write_all(&mut upstream, &header);
            if !matches!(
                tokio::time::timeout(self.options.connect_timeout, write).await,
                Ok(Ok(()))
            ) {
                tracing::debug!(%peer, "could not send the PROXY header: flow closed");
                self.handle
                    .counters
                    .rejected
                    .fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
            _ = self.cut.cancelled() => {}
        }
    }

    /// Connects to a backend, trying each registered one at most once; waits
    /// once for a backend to register when none is left.
    async fn connect(&self) -> Option<(TcpStream, FlowGuard)> {
        let mut changes = self.handle.backends.subscribe();
        let mut waited = false;
        loop {
            let backends = changes.borrow_and_update().clone();
            let mut tried = vec![false; backends.len()];
            let start = self.rotation.fetch_add(1, Ordering::Relaxed);
            loop {
                let loads: Vec<u64> = backends
                    .iter()
                    .map(|b| self.handle.active_flows(&b.id))
                    .collect();
                let Some(i) = choose(self.options.strategy, &loads, &tried, start) else {
                    break;
                };
                tried[i] = true;
                let guard = self.handle.open_flow(&backends[i].id);
                let connect = TcpStream::connect(backends[i].addr);
                match tokio::time::timeout(self.options.connect_timeout, connect).await {
                    Ok(Ok(stream)) => {
                        let _ = stream.set_nodelay(true);
                        return Some((stream, guard));
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(backend = %backends[i].id, error = %e, "connect failed");
                    }
                    Err(_) => {
                        tracing::debug!(backend = %backends[i].id, "connect timed out");
                    }
                }
                self.handle
                    .counters
                    .connect_failures
                    .fetch_add(1, Ordering::Relaxed);
            }
            if waited {
                return None;
            }
            waited = true;
            let wait = self.options.no_backend_wait;
            tokio::select! {
                r = tokio::time::timeout(wait, changes.changed()) => {
                    if !matches!(r, Ok(Ok(()))) {
                        return None;
                    }
                }
                _ = self.cut.cancelled() => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(strategy: Strategy, loads: &[u64], tried: &[bool], start: usize, want: Option<usize>) {
        assert_eq!(
            choose(strategy, loads, tried, start),
            want,
            "{strategy:?} loads={loads:?} tried={tried:?} start={start}"
        );
    }

    #[test]
    fn least_flows_picks_the_idlest_untried_backend() {
        use Strategy::LeastFlows as L;
        check(L, &[], &[], 0, None);
        check(L, &[3, 1, 2], &[false; 3], 0, Some(1));
        check(L, &[3, 1, 2], &[false, true, false], 0, Some(2));
        check(L, &[0, 0, 0], &[false; 3], 4, Some(1)); // tie: rotation decides
        check(L, &[0, 0, 0], &[false; 3], 5, Some(2));
        check(L, &[1, 1], &[true, true], 0, None);
    }

    #[test]
    fn round_robin_takes_turns_and_skips_tried() {
        use Strategy::RoundRobin as R;
        check(R, &[9, 0, 0], &[false; 3], 0, Some(0));
        check(R, &[9, 0, 0], &[false; 3], 1, Some(1));
        check(R, &[9, 0, 0], &[false, true, false], 1, Some(2));
        check(R, &[9, 0, 0], &[true, true, true], 1, None);
    }

    #[test]
    fn set_backends_only_notifies_on_change() {
        let h = BalancerHandle::new();
        let mut rx = h.backends.subscribe();
        let b = Backend {
            id: "a".into(),
            addr: "127.0.0.1:1".parse().unwrap(),
        };
        h.set_backends(vec![b.clone()]);
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        h.set_backends(vec![b]);
        assert!(!rx.has_changed().unwrap());
    }

    #[test]
    fn flow_counts_follow_guards() {
        let h = BalancerHandle::new();
        let g1 = h.open_flow("a");
        let g2 = h.open_flow("a");
        assert_eq!(h.active_flows("a"), 2);
        drop(g1);
        assert_eq!(h.active_flows("a"), 1);
        drop(g2);
        assert_eq!(h.active_flows("a"), 0);
        assert!(h.flows().is_empty());
    }
}
