//! A TCP proxy on loopback that injects faults between a client and a server
//! (the controller or the service and moto, in the tests).
//!
//! [`FaultProxy::start`] listens on a free port and forwards to `upstream`.
//! [`FaultProxy::set`] switches the [`Fault`] at any time; it applies to new
//! connections and to bytes not yet relayed on open ones:
//!
//! - [`Fault::None`]: relays both ways.
//! - [`Fault::Refuse`]: closes each new connection at once with a reset (what
//!   a client sees of a port nobody listens on, after connect).
//! - [`Fault::Blackhole`]: accepts and reads, never answers, never closes
//!   (a hung endpoint). Open connections stop relaying too.
//! - [`Fault::DropResponses`]: relays the request to the server, swallows its
//!   answer, then resets the connection (the request's outcome is unknown to
//!   the client).
//!
//! Every thread it starts ends when the proxy is dropped (within ~100 ms).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::SeqCst};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the proxy does to traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    None = 0,
    Refuse = 1,
    Blackhole = 2,
    DropResponses = 3,
}

impl Fault {
    fn from_u8(v: u8) -> Fault {
        match v {
            1 => Fault::Refuse,
            2 => Fault::Blackhole,
            3 => Fault::DropResponses,
            _ => Fault::None,
        }
    }
}

struct Shared {
    fault: AtomicU8,
    stop: AtomicBool,
    accepted: AtomicU64,
}

impl Shared {
    fn fault(&self) -> Fault {
        Fault::from_u8(self.fault.load(SeqCst))
    }
}

/// A fault-injecting TCP proxy; stops (and closes every connection) on drop.
pub struct FaultProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

/// How often idle relay threads look at the stop flag.
const POLL: Duration = Duration::from_millis(100);

impl FaultProxy {
    /// Listens on `127.0.0.1:0` and relays to `upstream` (a loopback port).
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let addr = listener.local_addr().expect("fault proxy address");
        let shared = Arc::new(Shared {
            fault: AtomicU8::new(Fault::None as u8),
            stop: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
        });
        let s = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || accept_loop(listener, upstream, s))
            .expect("spawn the fault proxy");
        FaultProxy {
            shared,
            addr,
            acceptor: Some(acceptor),
        }
    }

    /// The proxy's own address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for an endpoint override.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the fault.
    pub fn set(&self, fault: Fault) {
        self.shared.fault.store(fault as u8, SeqCst);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        // Wakes the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    let mut relays: Vec<JoinHandle<()>> = Vec::new();
    for conn in listener.incoming() {
        if shared.stop.load(SeqCst) {
            break;
        }
        let Ok(client) = conn else { continue };
        shared.accepted.fetch_add(1, SeqCst);
        relays.retain(|h| !h.is_finished());
        let s = Arc::clone(&shared);
        if let Ok(h) = std::thread::Builder::new()
            .name("fault-relay".into())
            .spawn(move || relay(client, upstream, s))
        {
            relays.push(h);
        }
    }
    for h in relays {
        let _ = h.join();
    }
}

/// Closes with a reset (SO_LINGER 0), so the peer sees ECONNRESET, not EOF.
fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    let _ = stream.shutdown(Shutdown::Both);
}

fn relay(client: TcpStream, upstream: SocketAddr, shared: Arc<Shared>) {
    match shared.fault() {
        Fault::Refuse => return reset(&client),
        Fault::Blackhole => return blackhole(client, &shared),
        Fault::None | Fault::DropResponses => {}
    }
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(2)) else {
        return reset(&client);
    };
    for s in [&client, &server] {
        let _ = s.set_read_timeout(Some(POLL));
        let _ = s.set_nodelay(true);
    }
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let s = Arc::clone(&shared);
    let up = std::thread::Builder::new()
        .name("fault-relay-up".into())
        .spawn(move || pump(client2, server2, &s, false));
    pump(server, client, &shared, true);
    if let Ok(h) = up {
        let _ = h.join();
    }
}

/// Copies `from` → `to` until EOF, an error or the stop flag. On the response
/// direction, a `DropResponses` fault swallows the bytes and resets both sides.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared, response: bool) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        if shared.stop.load(SeqCst) {
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        match shared.fault() {
            Fault::None => {}
            Fault::DropResponses if response => {
                reset(&to);
                reset(&from);
                return;
            }
            Fault::DropResponses => {}
            // Nothing more is relayed; the connection hangs until the fault
            // changes (and then it is relayed no more: closed) or the proxy stops.
            Fault::Blackhole | Fault::Refuse => {
                while !shared.stop.load(SeqCst) && shared.fault() != Fault::None {
                    let _ = from.read(&mut buf);
                    std::thread::sleep(POLL);
                }
                break;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Reads and discards until the fault changes or the proxy stops; never answers.
fn blackhole(mut client: TcpStream, shared: &Shared) {
    let _ = client.set_read_timeout(Some(POLL));
    let mut buf = [0u8; 4096];
    while !shared.stop.load(SeqCst) && shared.fault() == Fault::Blackhole {
        match client.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
    // The endpoint "came back": this connection was never answered; close it.
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> (SocketAddr, JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            // Serves two connections, then ends.
            for conn in l.incoming().take(2) {
                let mut c = conn.unwrap();
                let mut buf = [0u8; 64];
                if let Ok(n) = c.read(&mut buf) {
                    let _ = c.write_all(&buf[..n]);
                }
            }
        });
        (addr, h)
    }

    fn ask(addr: SocketAddr) -> std::io::Result<Vec<u8>> {
        let mut c = TcpStream::connect(addr)?;
        c.set_read_timeout(Some(Duration::from_millis(600)))?;
        c.write_all(b"ping")?;
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match c.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return if out.is_empty() { Err(e) } else { Ok(out) },
            }
        }
    }

    #[test]
    fn relays_then_blackholes_then_relays_again() {
        let (up, server) = echo_server();
        let proxy = FaultProxy::start(up);
        assert_eq!(ask(proxy.addr()).unwrap(), b"ping");
        proxy.set(Fault::Blackhole);
        let err = ask(proxy.addr()).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "a blackhole times out, got {err:?}"
        );
        proxy.set(Fault::None);
        assert_eq!(ask(proxy.addr()).unwrap(), b"ping");
        drop(proxy);
        server.join().unwrap();
    }

    #[test]
    fn refuse_and_drop_responses_answer_nothing() {
        let (up, _server) = echo_server();
        let proxy = FaultProxy::start(up);
        proxy.set(Fault::Refuse);
        assert!(ask(proxy.addr()).map_or(true, |b| b.is_empty()));
        proxy.set(Fault::DropResponses);
        assert!(ask(proxy.addr()).map_or(true, |b| b.is_empty()));
        assert_eq!(proxy.accepted(), 2);
    }
}
