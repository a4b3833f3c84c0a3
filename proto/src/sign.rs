//! Signed load reports: HMAC-SHA256 over `"{t}.{body}"` with a key shared by the controller
//! and the fleet, carried in one header:
//!
//! ```text
//! X-Hellofleet-Signature: t=1763790000000,v1=<64 hex digits>
//! ```
//!
//! `t` is the signer's clock in Unix milliseconds. The verifier checks the MAC (constant-time
//! comparison) before it parses the body, then that `t` is within its clock-skew window, so a
//! captured report cannot be replayed later; within the window the controller refuses a
//! signature it has already seen. Pure functions: the time is an argument.

use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-hellofleet-signature";
/// The shortest key accepted, in bytes (an HMAC-SHA256 key shorter than its output is weak).
pub const MIN_KEY_BYTES: usize = 32;
/// Length of the MAC in bytes.
pub const MAC_BYTES: usize = 32;

/// The shared secret. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ReportKey(Vec<u8>);

impl std::fmt::Debug for ReportKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReportKey({} bytes, redacted)", self.0.len())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the report key is {0} bytes; at least {MIN_KEY_BYTES} are needed")]
    TooShort(usize),
}

impl ReportKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, KeyError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The key as stored in a key file or a secret: the text's bytes, surrounding whitespace
    /// (a trailing newline) removed.
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        Self::new(text.trim().as_bytes())
    }

    fn mac(&self, t_ms: u64, body: &[u8]) -> HmacSha256 {
        // HMAC takes a key of any length; `new` checked ours is long enough.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(t_ms.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// Why a signature is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum SignatureError {
    #[error("the report is not signed (no {SIGNATURE_HEADER} header)")]
    Missing,
    #[error("the {SIGNATURE_HEADER} header is not `t=<unix ms>,v1=<64 hex>`")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signature's time is {0} ms away from the controller's clock")]
    Stale(i64),
}

/// A signature that matched: its time and MAC (the replay key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub t_ms: u64,
    pub mac: [u8; MAC_BYTES],
}

/// The header value for `body` signed at `t_ms`.
pub fn sign(key: &ReportKey, t_ms: u64, body: &[u8]) -> String {
    let tag = key.mac(t_ms, body).finalize().into_bytes();
    let mut out = String::with_capacity(24 + 2 * MAC_BYTES);
    out.push_str("t=");
    out.push_str(&t_ms.to_string());
    out.push_str(",v1=");
    for b in tag.iter() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Checks `header` (absent: `None`) against `body`, then its time against `now_ms` ± `window_ms`.
/// The MAC is compared in constant time; the time is checked after it, so an unsigned caller
/// learns nothing about the window.
pub fn verify(
    key: &ReportKey,
    header: Option<&[u8]>,
    body: &[u8],
    now_ms: u64,
    window_ms: u64,
) -> Result<Verified, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (t_ms, tag) = parse(header).ok_or(SignatureError::Malformed)?;
    key.mac(t_ms, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)?;
    let skew = i128::from(t_ms) - i128::from(now_ms);
    if skew.unsigned_abs() > u128::from(window_ms) {
        let skew = i64::try_from(skew).unwrap_or(if skew < 0 { i64::MIN } else { i64::MAX });
        return Err(SignatureError::Stale(skew));
    }
    Ok(Verified { t_ms, mac: tag })
}

/// `t=<digits>,v1=<64 hex>` → (t, mac); anything else is `None`.
fn parse(header: &[u8]) -> Option<(u64, [u8; MAC_BYTES])> {
    let text = std::str::from_utf8(header).ok()?;
    let (t, v1) = text.trim().split_once(',')?;
    let t = t.trim().strip_prefix("t=")?;
    let v1 = v1.trim().strip_prefix("v1=")?;
    if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t_ms = t.parse().ok()?;
    if v1.len() != 2 * MAC_BYTES {
        return None;
    }
    let mut mac = [0u8; MAC_BYTES];
    for (i, pair) in v1.as_bytes().chunks_exact(2).enumerate() {
        mac[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some((t_ms, mac))
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
