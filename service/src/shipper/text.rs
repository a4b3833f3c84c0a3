//! [`Text`]: a log message — a shared string or a slice of one, so the 20
//! messages of a `/repeat` cost one allocation, not twenty.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// An immutable, cheaply cloned string: `buf[start..end]`.
#[derive(Clone)]
pub struct Text {
    buf: Arc<str>,
    start: usize,
    end: usize,
}

impl Text {
    /// `buf[range]`; `None` unless `range` lies on character boundaries of `buf`.
    pub fn slice(buf: &Arc<str>, range: Range<usize>) -> Option<Text> {
        buf.get(range.clone()).map(|_| Text {
            buf: buf.clone(),
            start: range.start,
            end: range.end,
        })
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        // Checked in every constructor.
        &self.buf[self.start..self.end]
    }
}

impl From<Arc<str>> for Text {
    fn from(buf: Arc<str>) -> Text {
        let end = buf.len();
        Text { buf, start: 0, end }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::from(Arc::<str>::from(s))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::from(Arc::<str>::from(s))
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        **self == **other
    }
}

impl Eq for Text {}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_share_one_buffer_and_compare_by_content() {
        let buf: Arc<str> = Arc::from("aébc");
        let a = Text::slice(&buf, 0..3).unwrap();
        assert_eq!(&*a, "aé");
        assert_eq!(a, Text::from("aé"));
        assert_eq!(a.to_string(), "aé");
        assert_eq!(format!("{a:?}"), "\"aé\"");
        assert!(Text::slice(&buf, 0..2).is_none(), "inside a character");
        assert!(Text::slice(&buf, 3..9).is_none(), "past the end");
        assert_eq!(Arc::strong_count(&buf), 2);
    }
}
