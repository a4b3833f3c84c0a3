//! PROXY protocol v2 (haproxy's `proxy-protocol.txt`, section 2.2): the
//! binary header a load balancer sends before the client's bytes, carrying
//! the client's address. The local balancer sends it; an NLB target group can.
//!
//! [`parse`] is pure and never reads past the header: [`HEAD_LEN`] fixed bytes
//! give the length of the rest, so the server reads exactly the header and
//! leaves the HTTP bytes in the socket. TLVs after the addresses are skipped.
//! [`Trusted`] says which peers may (and then must) send a header.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// The 12-byte signature that starts every v2 header.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Signature, version/command, family/transport and the 2-byte length.
pub const HEAD_LEN: usize = 16;
/// Longest address block plus TLVs accepted (the format allows 65,535).
pub const MAX_REST: usize = 4096;

/// What a valid header says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// `LOCAL`: the balancer's own connection (a health check); use the peer address.
    Local,
    /// `PROXY` with an address family this server does not use (UNSPEC, UNIX):
    /// the spec says to use the peer address.
    Unknown,
    /// `PROXY` over TCP/UDP: the original client's address.
    Client(SocketAddr),
}

/// Why a header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("not a PROXY v2 signature")]
    Signature,
    #[error("version {0} (only 2 is supported)")]
    Version(u8),
    #[error("unknown command {0:#x}")]
    Command(u8),
    #[error("unknown address family/protocol {0:#04x}")]
    Family(u8),
    #[error("{0} bytes after the fixed part, over the {MAX_REST}-byte limit")]
    TooLong(usize),
    #[error("address block of {got} bytes, {need} needed")]
    ShortAddresses { got: usize, need: usize },
}

/// Checks the fixed part; returns how many more bytes the header has.
pub fn rest_len(head: &[u8; HEAD_LEN]) -> Result<usize, ProxyError> {
    if head[..12] != SIGNATURE {
        return Err(ProxyError::Signature);
    }
    let version = head[12] >> 4;
    if version != 2 {
        return Err(ProxyError::Version(version));
    }
    let command = head[12] & 0x0f;
    if command > 1 {
        return Err(ProxyError::Command(command));
    }
    let len = usize::from(u16::from_be_bytes([head[14], head[15]]));
    if len > MAX_REST {
        return Err(ProxyError::TooLong(len));
    }
    Ok(len)
}

/// Parses a whole header: the fixed part and the `rest_len` bytes after it.
pub fn parse(head: &[u8; HEAD_LEN], rest: &[u8]) -> Result<Header, ProxyError> {
    let len = rest_len(head)?;
    if rest.len() != len {
        return Err(ProxyError::ShortAddresses {
            got: rest.len(),
            need: len,
        });
    }
    if head[12] & 0x0f == 0 {
        // LOCAL: the address block (if any) is to be ignored.
        return Ok(Header::Local);
    }
    let need = |n: usize| {
        if rest.len() < n {
            Err(ProxyError::ShortAddresses {
                got: rest.len(),
                need: n,
            })
        } else {
            Ok(())
        }
    };
    let port = |at: usize| u16::from_be_bytes([rest[at], rest[at + 1]]);
    match head[13] {
        // TCP or UDP over IPv4: src(4) dst(4) sport(2) dport(2).
        0x11 | 0x12 => {
            need(12)?;
            let ip = Ipv4Addr::new(rest[0], rest[1], rest[2], rest[3]);
            Ok(Header::Client(SocketAddr::new(IpAddr::V4(ip), port(8))))
        }
        // Over IPv6: src(16) dst(16) sport(2) dport(2).
        0x21 | 0x22 => {
            need(36)?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&rest[..16]);
            let ip = Ipv6Addr::from(octets);
            Ok(Header::Client(SocketAddr::new(IpAddr::V6(ip), port(32))))
        }
        // UNSPEC, or UNIX sockets.
        0x00 | 0x31 | 0x32 => Ok(Header::Unknown),
        other => Err(ProxyError::Family(other)),
    }
}

/// A header for `client` (the local balancer's side; also used by tests).
pub fn encode(client: SocketAddr, server: SocketAddr) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.push(0x21); // v2, PROXY
    let (family, src, dst): (u8, Vec<u8>, Vec<u8>) = match (client.ip(), server.ip()) {
        (IpAddr::V4(c), IpAddr::V4(s)) => (0x11, c.octets().to_vec(), s.octets().to_vec()),
        (c, s) => (0x21, v6(c).to_vec(), v6(s).to_vec()),
    };
    out.push(family);
    let len = src.len() + dst.len() + 4;
    out.extend_from_slice(&u16::try_from(len).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&src);
    out.extend_from_slice(&dst);
    out.extend_from_slice(&client.port().to_be_bytes());
    out.extend_from_slice(&server.port().to_be_bytes());
    out
}

/// The `LOCAL` header: a connection of the balancer's own (health checks).
pub fn encode_local() -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    out
}

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// One allowed source network, `ADDR/PREFIX` (a bare address is a single host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(n.to_bits().into(), a.to_bits().into(), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => masked(n.to_bits(), a.to_bits(), 128, self.prefix),
            _ => false,
        }
    }
}

fn masked(net: u128, addr: u128, bits: u8, prefix: u8) -> bool {
    let shift = u32::from(bits - prefix);
    shift >= u32::from(bits) || (net >> shift) == (addr >> shift)
}

impl FromStr for Net {
    type Err = String;

    fn from_str(s: &str) -> Result<Net, String> {
        let (addr, prefix) = s.trim().split_once('/').unwrap_or((s.trim(), ""));
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an address or ADDR/PREFIX"))?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            bits
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{s:?}: the prefix must be 0..={bits}"))?
        };
        Ok(Net { addr, prefix })
    }
}

/// The peers whose connections must start with a PROXY v2 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted(Vec<Net>);

impl Trusted {
    /// Loopback only (the local balancer).
    pub const DEFAULT: &'static str = "127.0.0.0/8,::1";

    /// A comma-separated list of `ADDR[/PREFIX]`.
    pub fn parse(list: &str) -> Result<Trusted, String> {
        let nets = list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Net::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        if nets.is_empty() {
            return Err("lists no address".into());
        }
        Ok(Trusted(nets))
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(bytes: &[u8]) -> ([u8; HEAD_LEN], &[u8]) {
        let mut head = [0u8; HEAD_LEN];
        head.copy_from_slice(&bytes[..HEAD_LEN]);
        (head, &bytes[HEAD_LEN..])
    }

    fn check(bytes: &[u8], want: Result<Header, ProxyError>) {
        let (head, rest) = split(bytes);
        assert_eq!(parse(&head, rest), want, "{bytes:02x?}");
    }

    #[test]
    fn ipv4_and_ipv6_round_trip() {
        let c: SocketAddr = "10.1.2.3:40000".parse().unwrap();
        let s: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        check(&encode(c, s), Ok(Header::Client(c)));
        let c6: SocketAddr = "[2001:db8::7]:5555".parse().unwrap();
        let s6: SocketAddr = "[::1]:8080".parse().unwrap();
        check(&encode(c6, s6), Ok(Header::Client(c6)));
        assert_eq!(encode(c, s).len(), HEAD_LEN + 12);
        assert_eq!(encode(c6, s6).len(), HEAD_LEN + 36);
    }

    #[test]
    fn local_command_and_unspecified_family_use_the_peer() {
        check(&encode_local(), Ok(Header::Local));
        // LOCAL with an address block: ignored.
        let mut local = encode("10.0.0.1:1".parse().unwrap(), "10.0.0.2:2".parse().unwrap());
        local[12] = 0x20;
        check(&local, Ok(Header::Local));
        let mut unspec = SIGNATURE.to_vec();
        unspec.extend_from_slice(&[0x21, 0x00, 0, 0]);
        check(&unspec, Ok(Header::Unknown));
    }

    #[test]
    fn tlvs_after_the_addresses_are_skipped() {
        let c: SocketAddr = "192.0.2.9:1234".parse().unwrap();
        let mut bytes = encode(c, "127.0.0.1:80".parse().unwrap());
        // Two TLVs: PP2_TYPE_AUTHORITY "x.y" and a NOOP of 2 bytes.
        let tlvs = [0x02, 0, 3, b'x', b'.', b'y', 0x04, 0, 2, 0, 0];
        bytes.extend_from_slice(&tlvs);
        let len = 12 + tlvs.len() as u16;
        bytes[14..16].copy_from_slice(&len.to_be_bytes());
        check(&bytes, Ok(Header::Client(c)));
    }

    #[test]
    fn bad_headers_are_refused() {
        let good = encode("10.0.0.1:1".parse().unwrap(), "10.0.0.2:2".parse().unwrap());
        let mut sig = good.clone();
        sig[3] = b'X';
        check(&sig, Err(ProxyError::Signature));
        // A v1 (text) header is not v2.
        let v1 = b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
        check(v1, Err(ProxyError::Signature));
        let mut version = good.clone();
        version[12] = 0x11;
        check(&version, Err(ProxyError::Version(1)));
        let mut command = good.clone();
        command[12] = 0x2f;
        check(&command, Err(ProxyError::Command(0xf)));
        let mut family = good.clone();
        family[13] = 0x41;
        check(&family, Err(ProxyError::Family(0x41)));
        // Truncated: the length says 12, only 8 follow.
        check(
            &good[..HEAD_LEN + 8],
            Err(ProxyError::ShortAddresses { got: 8, need: 12 }),
        );
        // The length is consistent but too short for IPv4 addresses.
        let mut short = good[..HEAD_LEN + 6].to_vec();
        short[14..16].copy_from_slice(&6u16.to_be_bytes());
        check(&short, Err(ProxyError::ShortAddresses { got: 6, need: 12 }));
        let mut long = good.clone();
        long[14..16].copy_from_slice(&5000u16.to_be_bytes());
        let (head, _) = split(&long);
        assert_eq!(rest_len(&head), Err(ProxyError::TooLong(5000)));
    }

    #[test]
    fn trusted_sources() {
        let t = Trusted::parse(Trusted::DEFAULT).unwrap();
        assert!(t.allows("127.0.0.1".parse().unwrap()));
        assert!(t.allows("127.9.8.7".parse().unwrap()));
        assert!(t.allows("::1".parse().unwrap()));
        assert!(t.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!t.allows("10.0.0.1".parse().unwrap()));
        assert!(!t.allows("::2".parse().unwrap()));
        let one = Trusted::parse("127.0.0.1").unwrap();
        assert!(one.allows("127.0.0.1".parse().unwrap()));
        assert!(!one.allows("127.0.0.2".parse().unwrap()));
        let all = Trusted::parse("0.0.0.0/0").unwrap();
        assert!(all.allows("8.8.8.8".parse().unwrap()));
        assert!(Trusted::parse("").is_err());
        assert!(Trusted::parse("10.0.0.0/33").is_err());
        assert!(Trusted::parse("nonsense").is_err());
    }
}
