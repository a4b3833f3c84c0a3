//! The scenario mix: which routes each user calls and how often (`--mix
//! hello=8,repeat=1,factorial=1,books=1`). Pure.

use std::fmt;
use std::str::FromStr;

/// A weight above this is refused (goose expands weights into a schedule per user).
pub const MAX_WEIGHT: usize = 1000;

/// A kind of request a user makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// `GET /hello`
    Hello,
    /// `GET /repeat`
    Repeat,
    /// `GET /api/v1/factorial?number=N`
    Factorial,
    /// The user's own books: `POST /books`, `GET /books/{id}`, `PATCH /books/{id}`.
    Books,
}

impl Route {
    pub const ALL: [Route; 4] = [Route::Hello, Route::Repeat, Route::Factorial, Route::Books];

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Hello => "hello",
            Route::Repeat => "repeat",
            Route::Factorial => "factorial",
            Route::Books => "books",
        }
    }
}

/// Non-zero weights, in [`Route::ALL`]'s order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix(Vec<(Route, usize)>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MixError(String);

impl Mix {
    /// `hello` and `repeat` weights, the mix before `--mix` existed.
    pub fn classic(hello: usize, repeat: usize) -> Result<Mix, MixError> {
        Mix::from_weights(&[(Route::Hello, hello), (Route::Repeat, repeat)])
    }

    fn from_weights(weights: &[(Route, usize)]) -> Result<Mix, MixError> {
        let mut out: Vec<(Route, usize)> = Route::ALL
            .iter()
            .filter_map(|r| {
                let w: usize = weights.iter().filter(|(x, _)| x == r).map(|x| x.1).sum();
                (w > 0).then_some((*r, w))
            })
            .collect();
        if out.is_empty() {
            return Err(MixError(
                "every weight is 0: a user would make no request".into(),
            ));
        }
        if let Some((r, w)) = out.iter().find(|(_, w)| *w > MAX_WEIGHT) {
            return Err(MixError(format!(
                "{}={w}: a weight is at most {MAX_WEIGHT}",
                r.as_str()
            )));
        }
        out.shrink_to_fit();
        Ok(Mix(out))
    }

    pub fn weights(&self) -> &[(Route, usize)] {
        &self.0
    }

    pub fn weight(&self, route: Route) -> usize {
        self.0.iter().find(|(r, _)| *r == route).map_or(0, |x| x.1)
    }
}

impl FromStr for Mix {
    type Err = MixError;

    fn from_str(s: &str) -> Result<Mix, MixError> {
        let mut weights = Vec::new();
        for part in s.split(',').map(str::trim) {
            let Some((name, weight)) = part.split_once('=') else {
                return Err(MixError(format!(
                    "{part:?} is not NAME=WEIGHT (e.g. hello=8,repeat=1,factorial=1,books=1)"
                )));
            };
            let (name, weight) = (name.trim(), weight.trim());
            let route = Route::ALL
                .into_iter()
                .find(|r| r.as_str() == name)
                .ok_or_else(|| {
                    MixError(format!(
                        "unknown route {name:?} (known: hello, repeat, factorial, books)"
                    ))
                })?;
            if weights.iter().any(|(r, _)| *r == route) {
                return Err(MixError(format!("{name} is given twice")));
            }
            let w = weight.parse::<usize>().map_err(|_| {
                MixError(format!(
                    "{name}={weight}: the weight is not a whole number from 0 to {MAX_WEIGHT}"
                ))
            })?;
            weights.push((route, w));
        }
        Mix::from_weights(&weights)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(r, w)| format!("{}={w}", r.as_str()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_weights_in_route_order_and_drops_zeros() {
        let m: Mix = "books=1, factorial=1,hello=8,repeat=0".parse().unwrap();
        assert_eq!(
            m.weights(),
            [(Route::Hello, 8), (Route::Factorial, 1), (Route::Books, 1)]
        );
        assert_eq!(m.weight(Route::Repeat), 0);
        assert_eq!(m.to_string(), "hello=8,factorial=1,books=1");
        assert_eq!(
            Mix::classic(9, 1).unwrap().to_string(),
            "hello=9,repeat=1",
            "the default mix"
        );
    }

    #[test]
    fn bad_mixes_say_what_is_wrong() {
        for (spec, needle) in [
            ("hello=8,cats=1", "unknown route \"cats\""),
            ("hello=0,books=0", "every weight is 0"),
            ("hello=-1", "not a whole number"),
            ("hello=1.5", "not a whole number"),
            ("hello=", "not a whole number"),
            ("hello", "not NAME=WEIGHT"),
            ("", "not NAME=WEIGHT"),
            ("hello=1,hello=2", "given twice"),
            ("hello=1001", "at most 1000"),
        ] {
            let e = spec.parse::<Mix>().expect_err(spec).to_string();
            assert!(e.contains(needle), "{spec}: {e}");
        }
        assert!(Mix::classic(0, 0).is_err());
    }
}
