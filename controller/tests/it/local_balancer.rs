//! The local balancer against real TCP backends on loopback: spreading, retry on
//! a refused connect, draining of a deregistered backend, flow counts, shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use controller::local::balancer::{Backend, Balancer, BalancerHandle, BalancerOptions, Strategy};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A backend that answers every line with its own name; stops with `stop`.
async fn backend(name: &'static str, stop: CancellationToken) -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (conn, _) = tokio::select! {
                _ = stop.cancelled() => return,
                r = listener.accept() => r.unwrap(),
            };
            let stop = stop.clone();
            tokio::spawn(async move {
                let (r, mut w) = conn.into_split();
                let mut lines = BufReader::new(r).lines();
                loop {
                    let line = tokio::select! {
                        _ = stop.cancelled() => return,
                        l = lines.next_line() => l,
                    };
                    match line {
                        Ok(Some(_)) => w.write_all(format!("{name}\n").as_bytes()).await.unwrap(),
                        _ => return,
                    }
                }
            });
        }
    });
    Backend {
        id: name.into(),
        addr,
    }
}

struct Client {
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        Client {
            lines: BufReader::new(r).lines(),
            w,
        }
    }

    /// Which backend answers on this connection (None: the connection was closed).
    async fn ask(&mut self) -> Option<String> {
        self.w.write_all(b"who\n").await.ok()?;
        tokio::time::timeout(Duration::from_secs(5), self.lines.next_line())
            .await
            .expect("answer within 5 s")
            .ok()
            .flatten()
    }
}

async fn start(
    options: BalancerOptions,
) -> (
    SocketAddr,
    BalancerHandle,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let handle = BalancerHandle::new();
    let b = Balancer::bind("127.0.0.1:0".parse().unwrap(), handle.clone(), options)
        .await
        .unwrap();
    let addr = b.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(b.run(stop.clone()));
    (addr, handle, stop, task)
}

fn options(strategy: Strategy) -> BalancerOptions {
    BalancerOptions {
        strategy,
        no_backend_wait: Duration::from_millis(300),
        shutdown_grace: Duration::from_millis(300),
        ..BalancerOptions::default()
    }
}

#[tokio::test]
async fn spreads_flows_evenly_and_counts_them() {
    for strategy in [Strategy::LeastFlows, Strategy::RoundRobin] {
        let stop = CancellationToken::new();
        let (addr, handle, bstop, task) = start(options(strategy)).await;
        handle.set_backends(vec![
            backend("a", stop.clone()).await,
            backend("b", stop.clone()).await,
        ]);
        let mut clients = Vec::new();
        let mut seen = std::collections::HashMap::<String, u32>::new();
        for _ in 0..10 {
            let mut c = Client::connect(addr).await;
            *seen.entry(c.ask().await.unwrap()).or_default() += 1;
            clients.push(c);
        }
        assert_eq!(seen.get("a"), Some(&5), "{strategy:?}: {seen:?}");
        assert_eq!(seen.get("b"), Some(&5), "{strategy:?}: {seen:?}");
        assert_eq!(handle.active_flows("a"), 5);
        assert_eq!(handle.stats().active, 10);
        assert_eq!(handle.stats().accepted, 10);
        drop(clients);
        wait_until(|| handle.stats().active == 0).await;
        bstop.cancel();
        task.await.unwrap();
        stop.cancel();
    }
}

#[tokio::test]
async fn a_refused_connect_is_retried_on_the_next_backend() {
    let stop = CancellationToken::new();
    let (addr, handle, bstop, task) = start(options(Strategy::RoundRobin)).await;
    let refused = testkit::RefusedPort::new();
    let dead = Backend {
        id: "dead".into(),
        addr: refused.addr(),
    };
    handle.set_backends(vec![dead, backend("live", stop.clone()).await]);
    for _ in 0..6 {
        let mut c = Client::connect(addr).await;
        assert_eq!(c.ask().await.as_deref(), Some("live"));
    }
    assert!(handle.stats().connect_failures >= 3, "{:?}", handle.stats());
    assert_eq!(handle.stats().rejected, 0);
    bstop.cancel();
    task.await.unwrap();
    stop.cancel();
}

#[tokio::test]
async fn a_deregistered_backend_drains_its_open_flows() {
    let stop = CancellationToken::new();
    let (addr, handle, bstop, task) = start(options(Strategy::LeastFlows)).await;
    let a = backend("a", stop.clone()).await;
    let b = backend("b", stop.clone()).await;
    handle.set_backends(vec![a.clone()]);
    let mut old = Client::connect(addr).await;
    assert_eq!(old.ask().await.as_deref(), Some("a"));
    handle.set_backends(vec![b]);
    // The open flow keeps going to `a`; new flows only reach `b`.
    for _ in 0..3 {
        let mut c = Client::connect(addr).await;
        assert_eq!(c.ask().await.as_deref(), Some("b"));
    }
    assert_eq!(old.ask().await.as_deref(), Some("a"));
    assert_eq!(handle.active_flows("a"), 1);
    assert_eq!(handle.flows().get("a"), Some(&1));
    drop(old);
    wait_until(|| handle.active_flows("a") == 0).await;
    bstop.cancel();
    task.await.unwrap();
    stop.cancel();
}

#[tokio::test]
async fn without_backends_a_flow_waits_briefly_then_is_refused() {
    let stop = CancellationToken::new();
    let (addr, handle, bstop, task) = start(options(Strategy::LeastFlows)).await;
    let mut c = Client::connect(addr).await;
    assert_eq!(c.ask().await, None, "no backend: the connection is closed");
    assert_eq!(handle.stats().rejected, 1);
    // A backend registering while a flow waits takes that flow.
    let mut c = Client::connect(addr).await;
    let late = backend("late", stop.clone()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    handle.set_backends(vec![late]);
    assert_eq!(c.ask().await.as_deref(), Some("late"));
    bstop.cancel();
    task.await.unwrap();
    stop.cancel();
}

#[tokio::test]
async fn shutdown_stops_accepting_and_cuts_flows_after_the_grace() {
    let stop = CancellationToken::new();
    let (addr, handle, bstop, task) = start(options(Strategy::LeastFlows)).await;
    handle.set_backends(vec![backend("a", stop.clone()).await]);
    let mut open = Client::connect(addr).await;
    assert_eq!(open.ask().await.as_deref(), Some("a"));
    bstop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the balancer stops within its grace period")
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
    assert_eq!(open.ask().await, None, "the open flow was cut");
    stop.cancel();
}

async fn wait_until(mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met within 2 s");
}

/// With `proxy_protocol`, a backend reads a PROXY v2 header naming the
/// client's address and port first, then the client's bytes unchanged.
#[tokio::test]
async fn proxy_protocol_passes_the_client_address() {
    use service::server::proxy;
    use tokio::io::AsyncReadExt;
    let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (addr, handle, stop, task) = start(BalancerOptions {
        proxy_protocol: true,
        ..options(Strategy::LeastFlows)
    })
    .await;
    handle.set_backends(vec![Backend {
        id: "pp".into(),
        addr: backend.local_addr().unwrap(),
    }]);
    // The client's own source address: 127.0.0.7, not the balancer's.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.7:0".parse().unwrap()).unwrap();
    let mut client = socket.connect(addr).await.unwrap();
    let client_addr = client.local_addr().unwrap();
    client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let (mut upstream, _) = tokio::time::timeout(Duration::from_secs(5), backend.accept())
        .await
        .unwrap()
        .unwrap();
    let mut head = [0u8; proxy::HEAD_LEN];
    upstream.read_exact(&mut head).await.unwrap();
    let mut rest = vec![0u8; proxy::rest_len(&head).unwrap()];
    upstream.read_exact(&mut rest).await.unwrap();
    assert_eq!(
        proxy::parse(&head, &rest),
        Ok(proxy::Header::Client(client_addr))
    );
    let mut line = [0u8; 16];
    upstream.read_exact(&mut line).await.unwrap();
    assert_eq!(&line, b"GET / HTTP/1.1\r\n");
    drop((client, upstream));
    stop.cancel();
    task.await.unwrap();
}
