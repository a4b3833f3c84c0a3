//! The books API's pure rules: a book's fields and their validation, partial
//! updates, entity tags and `If-Match`, page parameters and the bearer token
//! comparison. No I/O.

use serde::Serialize;
use serde_json::{Map, Value};

/// Longest title and author, in characters.
pub const MAX_TEXT: usize = 200;
/// Default and largest page size of `GET /books`.
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
/// Most entity tags one `If-Match` may list.
pub const MAX_TAGS: usize = 16;

/// The fields a client sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fields {
    pub title: String,
    pub author: String,
    pub year: Option<i64>,
    /// Digits (and a final `X` for ISBN-10), hyphens and spaces removed; unique.
    pub isbn: Option<String>,
}

/// A stored book: its fields, id and version (the `ETag`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Book {
    pub id: i64,
    #[serde(flatten)]
    pub fields: Fields,
    #[serde(skip)]
    pub version: i64,
}

impl Book {
    pub fn etag(&self) -> String {
        etag(self.version)
    }
}

/// The strong entity tag of a version.
pub fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not JSON at all: 400.
    #[error("the body is not valid JSON: {0}")]
    Syntax(String),
    /// JSON, but not a valid book: 422.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> BodyError {
    BodyError::Invalid(msg.into())
}

const KNOWN: [&str; 4] = ["title", "author", "year", "isbn"];

fn object(body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| BodyError::Syntax(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(invalid("the body must be a JSON object"));
    };
    if let Some(unknown) = map.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        let shown: String = unknown.chars().take(40).collect();
        return Err(invalid(format!(
            "unknown field {shown:?} (known: title, author, year, isbn)"
        )));
    }
    Ok(map)
}

fn text(name: &str, value: &Value) -> Result<String, BodyError> {
    let Value::String(s) = value else {
        return Err(invalid(format!("{name}: must be a string")));
    };
    let s = s.trim();
    if s.is_empty() {
        return Err(invalid(format!("{name}: must not be empty")));
    }
    if s.chars().count() > MAX_TEXT {
        return Err(invalid(format!(
            "{name}: longer than {MAX_TEXT} characters"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid(format!("{name}: contains a control character")));
    }
    Ok(s.to_owned())
}

fn year(value: &Value) -> Result<Option<i64>, BodyError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_i64() {
            Some(y) if (-5000..=9999).contains(&y) => Ok(Some(y)),
            _ => Err(invalid("year: must be an integer within -5000..=9999")),
        },
        _ => Err(invalid("year: must be an integer or null")),
    }
}

fn isbn(value: &Value) -> Result<Option<String>, BodyError> {
    let raw = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s,
        _ => return Err(invalid("isbn: must be a string or null")),
    };
    let s: String = raw.chars().filter(|c| *c != '-' && *c != ' ').collect();
    let ok = match s.len() {
        13 => s.bytes().all(|b| b.is_ascii_digit()),
        10 => {
            s[..9].bytes().all(|b| b.is_ascii_digit())
                && matches!(s.as_bytes()[9], b'0'..=b'9' | b'X' | b'x')
        }
        _ => false,
    };
    if !ok {
        return Err(invalid(
            "isbn: must be 10 or 13 digits (hyphens allowed; an ISBN-10 may end in X)",
        ));
    }
    Ok(Some(s.to_ascii_uppercase()))
}

/// A whole book (`POST`, `PUT`): title and author required, the rest optional.
pub fn parse_full(body: &[u8]) -> Result<Fields, BodyError> {
    let map = object(body)?;
    let required = |name: &str| {
        map.get(name)
            .ok_or_else(|| invalid(format!("{name}: required")))
            .and_then(|v| text(name, v))
    };
    Ok(Fields {
        title: required("title")?,
        author: required("author")?,
        year: map.get("year").map_or(Ok(None), year)?,
        isbn: map.get("isbn").map_or(Ok(None), isbn)?,
    })
}

/// `current` with the fields `body` gives replaced (`PATCH`; `null` clears
/// an optional field; title and author cannot be cleared).
pub fn apply_patch(current: &Fields, body: &[u8]) -> Result<Fields, BodyError> {
    let map = object(body)?;
    let mut next = current.clone();
    if let Some(v) = map.get("title") {
        next.title = text("title", v)?;
    }
    if let Some(v) = map.get("author") {
        next.author = text("author", v)?;
    }
    if let Some(v) = map.get("year") {
        next.year = year(v)?;
    }
    if let Some(v) = map.get("isbn") {
        next.isbn = isbn(v)?;
    }
    Ok(next)
}

/// What an `If-Match` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`: any version.
    None,
    /// `If-Match: *`: the book must exist.
    Exists,
    /// One of these versions (empty: no tag of ours, so nothing matches).
    Versions(Vec<i64>),
}

impl Precondition {
    /// Parses `If-Match` (RFC 9110: strong comparison, so weak tags never match).
    pub fn parse(header: Option<&str>) -> Result<Precondition, String> {
        let Some(h) = header else {
            return Ok(Precondition::None);
        };
        if h.trim() == "*" {
            return Ok(Precondition::Exists);
        }
        let tags: Vec<&str> = h
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if tags.is_empty() || tags.len() > MAX_TAGS {
            return Err(format!(
                "If-Match: expected 1 to {MAX_TAGS} entity tags or *"
            ));
        }
        let versions = tags
            .iter()
            .filter_map(|t| t.strip_prefix("\"v")?.strip_suffix('"')?.parse().ok())
            .collect();
        Ok(Precondition::Versions(versions))
    }

    pub fn allows(&self, version: i64) -> bool {
        match self {
            Precondition::None | Precondition::Exists => true,
            Precondition::Versions(v) => v.contains(&version),
        }
    }
}

/// `GET /books`' `limit` and `after` (the last id of the previous page); any other
/// parameter, or one of these twice, is an error naming it.
pub fn parse_page(query: Option<&str>) -> Result<(i64, i64), String> {
    let (mut limit, mut after) = (DEFAULT_LIMIT, 0);
    let mut seen = (false, false);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let once = match key {
            "limit" => &mut seen.0,
            "after" => &mut seen.1,
            _ => {
                let shown: String = key.chars().take(40).collect();
                return Err(format!("{shown}: unknown parameter (only limit and after)"));
            }
        };
        if std::mem::replace(once, true) {
            return Err(format!("{key}: given more than once"));
        }
        match key {
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| format!("limit: must be an integer within 1..={MAX_LIMIT}"))?;
            }
            "after" => {
                after = value
                    .parse()
                    .ok()
                    .filter(|n: &i64| *n >= 0)
                    .ok_or("after: must be the `next` cursor of an earlier page")?;
            }
            _ => unreachable!("refused above"),
        }
    }
    Ok((limit, after))
}

/// A book id from the path: a positive integer, else `None` (404).
pub fn parse_id(segment: &str) -> Option<i64> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse().ok().filter(|n| *n > 0)
}

/// The bearer token of an `Authorization` header.
pub fn bearer(header: Option<&[u8]>) -> Option<&[u8]> {
    let h = header?;
    let scheme = h.get(..7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| h[7..].trim_ascii())
}

/// Whether `given` is the token, in time independent of where they differ
/// (and of `given`'s length: both are hashed first).
pub fn token_matches(given: &[u8], token_sha256: &[u8; 32]) -> bool {
    use sha2::Digest;
    let g = sha2::Sha256::digest(given);
    g.iter()
        .zip(token_sha256.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
