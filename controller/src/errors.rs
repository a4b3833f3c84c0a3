//! One clear line per error: the message and its causes, each said once.
//!
//! The AWS SDK's errors nest (`dispatch failure` → `io error` → `timeout` …) and their
//! `DisplayErrorContext` appends the whole `Debug` dump; a `thiserror` wrapper often repeats
//! its source's text. [`one_line`] walks the `source()` chain and joins the messages with
//! `": "`, leaving out any message the line already contains, so nothing is printed twice.
//! The SDK's `Debug` detail belongs at debug level (the callers log it there).

use std::error::Error;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// `err` and its causes as one line (`outer: cause: root`), each message once.
pub fn one_line(err: &(dyn Error + 'static)) -> String {
    let mut messages = vec![err.to_string()];
    let mut cause = err.source();
    while let Some(e) = cause {
        messages.push(e.to_string());
        cause = e.source();
    }
    join_chain(messages)
}

/// An AWS SDK error as one line: its causes, then the service's code and message when it
/// answered. The SDK's `Debug` detail is logged at debug level, with the operation and
/// the endpoint.
pub fn sdk_error_line<E>(operation: &str, endpoint: &str, err: &E) -> String
where
    E: Error + ProvideErrorMetadata + 'static,
{
    tracing::debug!(operation, endpoint, error = ?err, "AWS call failed");
    let said = err
        .message()
        .map(|m| format!("{}: {m}", err.code().unwrap_or("error")));
    join_chain(std::iter::once(one_line(err)).chain(said))
}

/// Joins messages (outermost first) with `": "`, skipping empty ones and any message the
/// joined line already contains; line breaks inside a message become spaces.
pub fn join_chain(messages: impl IntoIterator<Item = String>) -> String {
    let mut line = String::new();
    for m in messages {
        let m = m.split_whitespace().collect::<Vec<_>>().join(" ");
        if m.is_empty() || line.contains(&m) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&m);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);

    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for E {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    fn chain(parts: &[&'static str]) -> E {
        parts
            .iter()
            .rev()
            .fold(None, |inner, p| Some(E(p, inner.map(Box::new))))
            .unwrap()
    }

    #[test]
    fn causes_are_joined_once_each_on_one_line() {
        for (parts, want) in [
            (
                vec!["dispatch failure", "io error", "timeout"],
                "dispatch failure: io error: timeout",
            ),
            (
                vec![
                    "the provider failed at start-up: no such group",
                    "no such group",
                ],
                "the provider failed at start-up: no such group",
            ),
            (vec!["a\n  b", "", "c"], "a b: c"),
            (vec!["only"], "only"),
        ] {
            assert_eq!(one_line(&chain(&parts)), want, "{parts:?}");
        }
    }
}
