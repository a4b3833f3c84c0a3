//! Service level objectives for a run: `--slo "p99<200ms,errors<0.1%"`.
//!
//! Pure: a parser with errors that name the bad part, and an evaluation against the run's
//! [`Summary`]. No I/O.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What an objective measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A latency percentile, e.g. `p99` (99.0) or `p99.9`.
    Percentile(f64),
    /// Mean latency (`mean`).
    Mean,
    /// Maximum latency (`max`).
    Max,
    /// Failed requests as a percentage of all requests (`errors<0.1%`).
    ErrorRate,
    /// Failed requests, counted (`errors<=0`).
    ErrorCount,
    /// Requests per second over the whole run (`rps>500`).
    Rps,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, actual: f64, bound: f64) -> bool {
        match self {
            Op::Lt => actual < bound,
            Op::Le => actual <= bound,
            Op::Gt => actual > bound,
            Op::Ge => actual >= bound,
        }
    }
}

/// One objective, e.g. `p99 < 200 ms`. Latency bounds are kept in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub metric: Metric,
    pub op: Op,
    pub bound: f64,
    /// The text it was parsed from, for messages.
    pub text: String,
}

/// All objectives of one `--slo` option; every one must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    pub objectives: Vec<Objective>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SLO objective {part:?}: {reason}")]
pub struct SloError {
    pub part: String,
    pub reason: String,
}

fn err(part: &str, reason: impl Into<String>) -> SloError {
    SloError {
        part: part.to_string(),
        reason: reason.into(),
    }
}

const FORMS: &str = "expected METRIC OP VALUE with METRIC p50, p95, p99, p99.9, mean, max (a \
    latency such as 200ms, 1.5s, 800us), errors (0.1% or a count) or rps, and OP <, <=, > or >=";

impl FromStr for Slo {
    type Err = SloError;

    fn from_str(s: &str) -> Result<Slo, SloError> {
        let objectives = s
            .split(',')
            .map(str::trim)
            .map(|part| {
                if part.is_empty() {
                    Err(err(s, "empty objective (stray comma?)"))
                } else {
                    part.parse::<Objective>()
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Slo { objectives })
    }
}

impl FromStr for Objective {
    type Err = SloError;

    fn from_str(part: &str) -> Result<Objective, SloError> {
        let text: String = part.chars().filter(|c| !c.is_whitespace()).collect();
        let op_at = text
            .find(['<', '>'])
            .ok_or_else(|| err(part, format!("no comparison; {FORMS}")))?;
        let (name, rest) = text.split_at(op_at);
        let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
            (Op::Le, v)
        } else if let Some(v) = rest.strip_prefix(">=") {
            (Op::Ge, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Op::Lt, v)
        } else {
            (Op::Gt, &rest[1..])
        };
        if value.is_empty() {
            return Err(err(part, "missing value after the comparison"));
        }
        let name = name.to_ascii_lowercase();
        let (metric, bound) = match name.as_str() {
            "errors" | "error" | "error_rate" => match value.strip_suffix('%') {
                Some(pct) => {
                    let v = number(part, pct)?;
                    if v > 100.0 {
                        return Err(err(part, "an error rate is at most 100%"));
                    }
                    (Metric::ErrorRate, v)
                }
                None => (Metric::ErrorCount, number(part, value)?),
            },
            "rps" => (Metric::Rps, number(part, value)?),
            "mean" | "avg" => (Metric::Mean, latency_ms(part, value)?),
            "max" => (Metric::Max, latency_ms(part, value)?),
            "" => return Err(err(part, format!("missing metric; {FORMS}"))),
            other => match other.strip_prefix('p').map(str::parse::<f64>) {
                Some(Ok(p)) if p > 0.0 && p <= 100.0 => {
                    (Metric::Percentile(p), latency_ms(part, value)?)
                }
                Some(Ok(_)) => return Err(err(part, "a percentile is above 0 and at most 100")),
                _ => return Err(err(part, format!("unknown metric {other:?}; {FORMS}"))),
            },
        };
        Ok(Objective {
            metric,
            op,
            bound,
            text,
        })
    }
}

fn number(part: &str, v: &str) -> Result<f64, SloError> {
    match v.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
        _ => Err(err(part, format!("{v:?} is not a non-negative number"))),
    }
}

/// A latency in milliseconds: `200ms`, `1.5s`, `800us`/`800µs`; a bare number is refused,
/// so `p99<200` cannot silently mean seconds or milliseconds.
fn latency_ms(part: &str, v: &str) -> Result<f64, SloError> {
    let (num, factor) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("us").or_else(|| v.strip_suffix("µs")) {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return Err(err(
            part,
            format!("latency {v:?} needs a unit: ms, s or us (e.g. 200ms)"),
        ));
    };
    Ok(number(part, num)? * factor)
}

/// The whole run's figures an SLO is checked against.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latency percentiles in ms, as `(percentile, ms)`; looked up by [`Summary::percentile`].
    pub percentiles: Vec<(f64, f64)>,
    pub mean_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

impl Summary {
    pub fn percentile(&self, p: f64) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|(q, _)| (q - p).abs() < 1e-9)
            .map(|(_, v)| *v)
    }

    /// Requests were sent and not one succeeded.
    pub fn all_failed(&self) -> bool {
        self.requests > 0 && self.errors >= self.requests
    }

    pub fn error_rate_pct(&self) -> Option<f64> {
        (self.requests > 0).then(|| 100.0 * self.errors as f64 / self.requests as f64)
    }

    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }
}

/// The outcome of one objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub objective: String,
    /// The measured value (`None`: nothing measured, which fails the objective).
    pub actual: Option<f64>,
    pub pass: bool,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.pass { "PASS" } else { "FAIL" };
        match self.actual {
            Some(v) => write!(f, "{status} {} (measured {v:.3})", self.objective),
            None => write!(f, "{status} {} (nothing measured)", self.objective),
        }
    }
}

impl Slo {
    /// Percentiles the summary must contain to evaluate this SLO.
    pub fn percentiles(&self) -> Vec<f64> {
        self.objectives
            .iter()
            .filter_map(|o| match o.metric {
                Metric::Percentile(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// Every objective against `summary`. A latency objective with no requests fails.
    pub fn evaluate(&self, summary: &Summary) -> Vec<Verdict> {
        self.objectives
            .iter()
            .map(|o| {
                let actual = match o.metric {
                    Metric::Percentile(p) => summary.percentile(p),
                    Metric::Mean => summary.mean_ms,
                    Metric::Max => summary.max_ms,
                    Metric::ErrorRate => summary.error_rate_pct(),
                    Metric::ErrorCount => Some(summary.errors as f64),
                    Metric::Rps => Some(summary.rps()),
                };
                Verdict {
                    objective: o.text.clone(),
                    actual,
                    pass: actual.is_some_and(|v| o.op.holds(v, o.bound)),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[(Metric, Op, f64)]) {
        let slo: Slo = input.parse().unwrap_or_else(|e| panic!("{input:?}: {e}"));
        let got: Vec<_> = slo
            .objectives
            .iter()
            .map(|o| (o.metric, o.op, o.bound))
            .collect();
        assert_eq!(got, expected, "{input:?}");
    }

    #[test]
    fn all_failed_needs_requests_and_no_success() {
        let summary = |requests, errors| Summary {
            requests,
            errors,
            ..Summary::default()
        };
        assert!(summary(5, 5).all_failed());
        assert!(!summary(5, 4).all_failed());
        assert!(
            !summary(0, 0).all_failed(),
            "no request sent is not a failure of one"
        );
    }

    #[test]
    fn parses_the_forms() {
        check(
            "p99<200ms,errors<0.1%",
            &[
                (Metric::Percentile(99.0), Op::Lt, 200.0),
                (Metric::ErrorRate, Op::Lt, 0.1),
            ],
        );
        check(
            " p95 <= 1.5s , P50<800us ",
            &[
                (Metric::Percentile(95.0), Op::Le, 1500.0),
                (Metric::Percentile(50.0), Op::Lt, 0.8),
            ],
        );
        check("p99.9<1s", &[(Metric::Percentile(99.9), Op::Lt, 1000.0)]);
        check("errors<=0", &[(Metric::ErrorCount, Op::Le, 0.0)]);
        check(
            "rps>=500,max<2s,mean<10ms",
            &[
                (Metric::Rps, Op::Ge, 500.0),
                (Metric::Max, Op::Lt, 2000.0),
                (Metric::Mean, Op::Lt, 10.0),
            ],
        );
    }

    #[test]
    fn bad_strings_name_the_part_and_the_reason() {
        for (input, part, reason) in [
            ("p99<200", "p99<200", "needs a unit"),
            ("p99 200ms", "p99 200ms", "no comparison"),
            ("p99<", "p99<", "missing value"),
            (
                "latency<200ms",
                "latency<200ms",
                "unknown metric \"latency\"",
            ),
            ("p0<1ms", "p0<1ms", "above 0"),
            ("p101<1ms", "p101<1ms", "above 0"),
            ("errors<150%", "errors<150%", "at most 100%"),
            ("errors<x%", "errors<x%", "not a non-negative number"),
            (
                "p99<200ms,,errors<1%",
                "p99<200ms,,errors<1%",
                "empty objective",
            ),
            ("<200ms", "<200ms", "missing metric"),
            ("rps>-1", "rps>-1", "not a non-negative number"),
        ] {
            let e = input.parse::<Slo>().expect_err(input);
            assert_eq!(e.part, part, "{input:?}");
            assert!(e.reason.contains(reason), "{input:?}: {}", e.reason);
            assert!(e.to_string().contains(part), "message names the part: {e}");
        }
    }

    fn summary() -> Summary {
        Summary {
            requests: 1000,
            errors: 2,
            elapsed: Duration::from_secs(10),
            percentiles: vec![(50.0, 3.0), (99.0, 150.0)],
            mean_ms: Some(5.0),
            max_ms: Some(400.0),
        }
    }

    #[test]
    fn evaluation_passes_and_fails_per_objective() {
        let slo: Slo = "p99<200ms,errors<0.1%,rps>=100,max<300ms".parse().unwrap();
        let v = slo.evaluate(&summary());
        let passes: Vec<bool> = v.iter().map(|v| v.pass).collect();
        // errors: 0.2% is not < 0.1%; max 400 ms is not < 300 ms.
        assert_eq!(passes, vec![true, false, true, false]);
        assert_eq!(v[1].actual, Some(0.2));
        assert!(v[0].to_string().starts_with("PASS p99<200ms"), "{}", v[0]);
        assert_eq!(slo.percentiles(), vec![99.0]);
    }

    #[test]
    fn nothing_measured_fails() {
        let slo: Slo = "p99<200ms,errors<1%".parse().unwrap();
        let v = slo.evaluate(&Summary::default());
        assert!(v.iter().all(|v| !v.pass && v.actual.is_none()), "{v:?}");
        assert!(v[0].to_string().contains("nothing measured"));
    }
}
