//! Who is using this instance right now. Pure: time comes in as `now_ms`.
//!
//! A user is identified by the `X-User-Id` header or the `uid` cookie (issued
//! on first contact), else by its client address ([`address_user`]; the rules
//! are in `app.rs`), and is *concurrent* while its last request is less than
//! the active window old. Users are kept as the 64-bit [`proto::sketch::hash64`]
//! of their id, so the same user hashes the same on every instance and the
//! [`proto::UserSketch`] built here merges correctly across the fleet.
//!
//! Memory is bounded: at most `cap` users are tracked. When full, expired users
//! are pruned first; if that is not enough the least recently seen sixteenth is
//! evicted and counted.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use axum::http::{self, HeaderMap};

/// Keys are already well-mixed 64-bit hashes: hash them by identity.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b) ^ (self.0 >> 56);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub struct UserTracker {
    last_seen: HashMap<u64, u64, BuildHasherDefault<IdHasher>>,
    window_ms: u64,
    cap: usize,
    evictions: u64,
}

impl UserTracker {
    pub fn new(window_ms: u64, cap: usize) -> UserTracker {
        UserTracker {
            last_seen: HashMap::default(),
            window_ms: window_ms.max(1),
            cap: cap.max(16),
            evictions: 0,
        }
    }

    /// Records a request by the user with this id hash at `now_ms`.
    pub fn touch(&mut self, user_hash: u64, now_ms: u64) {
        if let Some(t) = self.last_seen.get_mut(&user_hash) {
            *t = (*t).max(now_ms);
            return;
        }
        if self.last_seen.len() >= self.cap {
            self.prune(now_ms);
        }
        if self.last_seen.len() >= self.cap {
            self.evict_oldest(self.cap / 16);
        }
        self.last_seen.insert(user_hash, now_ms);
    }

    fn is_active(&self, last_seen: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(last_seen) < self.window_ms
    }

    /// Forgets users whose last request is outside the window.
    pub fn prune(&mut self, now_ms: u64) {
        let window = self.window_ms;
        self.last_seen
            .retain(|_, &mut t| now_ms.saturating_sub(t) < window);
    }

    fn evict_oldest(&mut self, count: usize) {
        let count = count.clamp(1, self.last_seen.len());
        let mut times: Vec<u64> = self.last_seen.values().copied().collect();
        let (_, &mut cutoff, _) = times.select_nth_unstable(count - 1);
        let before = self.last_seen.len();
        let mut budget = count;
        self.last_seen.retain(|_, &mut t| {
            if t <= cutoff && budget > 0 {
                budget -= 1;
                false
            } else {
                true
            }
        });
        self.evictions += (before - self.last_seen.len()) as u64;
    }

    /// Number of users active at `now_ms`, exactly.
    pub fn active_count(&self, now_ms: u64) -> u64 {
        self.last_seen
            .values()
            .filter(|&&t| self.is_active(t, now_ms))
            .count() as u64
    }

    /// The active users as a mergeable sketch, and their exact count.
    pub fn active_sketch(&self, now_ms: u64) -> (u64, proto::UserSketch) {
        let mut sketch = proto::UserSketch::new();
        let mut n = 0;
        for (&hash, &t) in &self.last_seen {
            if self.is_active(t, now_ms) {
                sketch.insert_hash(hash);
                n += 1;
            }
        }
        (n, sketch)
    }

    /// Users evicted because the tracker was full of active users.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Users currently held (active or not yet pruned).
    pub fn tracked(&self) -> usize {
        self.last_seen.len()
    }
}

/// A user id is 1–128 characters of `[A-Za-z0-9._-]`; anything else is ignored
/// (and a fresh cookie issued).
pub fn valid_user_id(id: &str) -> bool {
    as_user_id(id.as_bytes()).is_some()
}

/// `bytes` as a user id, if valid (valid ids are ASCII, so the conversion cannot fail).
fn as_user_id(bytes: &[u8]) -> Option<&str> {
    let valid = (1..=128).contains(&bytes.len())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    valid.then(|| std::str::from_utf8(bytes).ok()).flatten()
}

const USER_ID_HEADER: http::HeaderName = http::HeaderName::from_static(proto::USER_ID_HEADER);

/// The user named by the request: `X-User-Id` first, then the `uid` cookie.
/// Byte-wise, since it runs on every request.
pub fn user_id(headers: &HeaderMap) -> Option<&str> {
    if let Some(id) = headers
        .get(&USER_ID_HEADER)
        .and_then(|v| as_user_id(v.as_bytes().trim_ascii()))
    {
        return Some(id);
    }
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .find_map(|v| cookie_user_id(v.as_bytes()))
}

/// The valid `uid` in one `Cookie` header value (`a=1; uid=…; b=2`).
fn cookie_user_id(cookie: &[u8]) -> Option<&str> {
    cookie.split(|&b| b == b';').find_map(|pair| {
        let value = pair
            .trim_ascii()
            .strip_prefix(proto::USER_COOKIE.as_bytes())?
            .strip_prefix(b"=")?;
        as_user_id(value)
    })
}

/// The user hash of a client known only by its address: `addr:IP`, without
/// the port (each new connection has a new one). An IPv4-mapped IPv6 address
/// counts as its IPv4 address.
pub fn address_user(ip: std::net::IpAddr) -> u64 {
    let ip = match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        v4 => v4,
    };
    proto::sketch::hash64(format!("addr:{ip}").as_bytes())
}

/// The user of cookieless requests whose address is unknown (no connection).
pub fn unknown_address_user() -> u64 {
    proto::sketch::hash64(b"addr:unknown")
}

/// A fresh random user id (128 bits, hex).
pub fn new_user_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The `Set-Cookie` value that hands a new user its id.
pub fn set_cookie(id: &str) -> String {
    format!(
        "{}={id}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax",
        proto::USER_COOKIE
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::sketch::hash64;

    fn h(id: &str) -> u64 {
        hash64(id.as_bytes())
    }

    #[test]
    fn active_window_counts_exactly() {
        let mut t = UserTracker::new(10_000, 1_000);
        t.touch(h("a"), 0);
        t.touch(h("b"), 5_000);
        t.touch(h("a"), 6_000);
        t.touch(h("c"), 9_999);
        assert_eq!(t.active_count(9_999), 3);
        assert_eq!(
            t.active_count(15_999),
            2,
            "a last seen at 6,000 is still active"
        );
        assert_eq!(t.active_count(16_000), 1, "window is 10 s, exclusive");
        assert_eq!(t.active_count(30_000), 0);
        t.prune(16_000);
        assert_eq!(t.tracked(), 1);
    }

    #[test]
    fn sketch_matches_the_exact_count_and_merges_across_instances() {
        let mut a = UserTracker::new(10_000, 100_000);
        let mut b = UserTracker::new(10_000, 100_000);
        for i in 0..300 {
            a.touch(h(&format!("u{i}")), 1);
        }
        for i in 200..500 {
            b.touch(h(&format!("u{i}")), 1);
        }
        let (na, mut sa) = a.active_sketch(2);
        let (nb, sb) = b.active_sketch(2);
        assert_eq!((na, nb), (300, 300));
        let near = |got: u64, want: u64| got.abs_diff(want) * 100 <= want;
        assert!(near(sa.count(), 300), "{}", sa.count());
        sa.merge(&sb);
        assert!(
            near(sa.count(), 500),
            "shared users count once: {}",
            sa.count()
        );
        // The sketch built from hashes equals one built from the ids.
        let mut by_id = proto::UserSketch::new();
        for i in 200..500 {
            by_id.insert(&format!("u{i}"));
        }
        assert_eq!(by_id, sb);
    }

    #[test]
    fn memory_is_capped_and_evictions_counted() {
        let mut t = UserTracker::new(60_000, 160);
        for i in 0..1_000u64 {
            t.touch(h(&i.to_string()), i);
            assert!(t.tracked() <= 160);
        }
        assert!(t.evictions() >= 1_000 - 160, "{}", t.evictions());
        // The most recent users survive.
        let (_, sketch) = t.active_sketch(1_000);
        let mut recent = proto::UserSketch::new();
        recent.insert_hash(h("999"));
        let mut merged = sketch.clone();
        merged.merge(&recent);
        assert_eq!(merged, sketch);
    }

    #[test]
    fn expired_users_are_pruned_before_anyone_is_evicted() {
        let mut t = UserTracker::new(100, 32);
        for i in 0..32u64 {
            t.touch(h(&format!("old{i}")), 0);
        }
        t.touch(h("new"), 1_000);
        assert_eq!(t.evictions(), 0);
        assert_eq!(t.tracked(), 1);
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    #[test]
    fn user_ids_from_header_or_cookie() {
        let check = |pairs: &[(&str, &str)], expected: Option<&str>| {
            let m = headers(pairs);
            assert_eq!(user_id(&m), expected, "{pairs:?}");
        };
        check(&[], None);
        check(&[("x-user-id", "alice")], Some("alice"));
        check(&[("cookie", "uid=abc123")], Some("abc123"));
        check(&[("cookie", "a=1; uid=xyz; b=2")], Some("xyz"));
        check(
            &[("cookie", "a=1"), ("cookie", "uid=second")],
            Some("second"),
        );
        check(&[("x-user-id", "h"), ("cookie", "uid=c")], Some("h"));
        check(&[("x-user-id", "bad id!"), ("cookie", "uid=c")], Some("c"));
        check(&[("cookie", "uid=")], None);
        check(&[("cookie", "xuid=1")], None);
        check(&[("cookie", "uid = spaced")], None);
        check(&[("cookie", "uid=bad!id; uid=good")], Some("good"));
        check(&[("cookie", "a=1;uid=tight;b=2")], Some("tight"));
        check(&[("x-user-id", "  padded  ")], Some("padded"));
        check(&[("x-user-id", &"a".repeat(129))], None);
        let id = new_user_id();
        assert!(valid_user_id(&id) && id.len() == 32);
        assert_ne!(id, new_user_id());
        assert!(set_cookie(&id).starts_with(&format!("uid={id}; Path=/")));
    }

    #[test]
    fn address_users_ignore_the_port_and_the_v4_mapping() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(address_user(ip("127.0.0.2")), h("addr:127.0.0.2"));
        assert_eq!(
            address_user(ip("::ffff:127.0.0.2")),
            address_user(ip("127.0.0.2"))
        );
        assert_ne!(address_user(ip("127.0.0.2")), address_user(ip("127.0.0.3")));
        assert_ne!(address_user(ip("::1")), unknown_address_user());
        // A user id that happens to spell an address is a different user.
        assert_ne!(address_user(ip("10.0.0.1")), h("10.0.0.1"));
    }
}
