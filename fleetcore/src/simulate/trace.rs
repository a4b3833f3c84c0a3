//! Users-over-time traces: parsed from CSV (`time,users`, or loadgen's `--csv` timeline as
//! is) or generated (`ramp`, `spike`, `diurnal`, `sawtooth`). Pure: parsing takes text.
//!
//! A trace is a step function: the users of a point hold until the next point.

use std::f64::consts::PI;

/// A users trace: points sorted by time, the first at 0 ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// Shown in summaries and chart titles.
    pub name: String,
    /// `(time_ms, users)`, strictly increasing time.
    pub points: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("the trace has no data rows")]
    Empty,
    #[error("the header has no `{0}` column")]
    NoColumn(&'static str),
    #[error("unknown built-in trace `{0}` (ramp, spike, diurnal, sawtooth)")]
    UnknownBuiltin(String),
    #[error("{0}")]
    Params(String),
}

/// The built-in traces' names.
pub const BUILTINS: [&str; 4] = ["ramp", "spike", "diurnal", "sawtooth"];

/// Parameters of a built-in trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BuiltinParams {
    /// Total length; `None`: the trace's own default (ramp, spike 1 h; sawtooth 2 h; diurnal 24 h).
    pub duration_ms: Option<u64>,
    /// Highest number of users.
    pub peak: u64,
    /// Time between points.
    pub resolution_ms: u64,
}

impl Default for BuiltinParams {
    fn default() -> Self {
        BuiltinParams {
            duration_ms: None,
            peak: 1_000,
            resolution_ms: 1_000,
        }
    }
}

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;

impl Trace {
    /// Users at `t_ms` (the last point at or before it; 0 before the first).
    pub fn users_at(&self, t_ms: u64) -> u64 {
        match self.points.partition_point(|&(t, _)| t <= t_ms) {
            0 => 0,
            i => self.points[i - 1].1,
        }
    }

    /// Time of the last point.
    pub fn end_ms(&self) -> u64 {
        self.points.last().map_or(0, |p| p.0)
    }

    pub fn peak(&self) -> u64 {
        self.points.iter().map(|p| p.1).max().unwrap_or(0)
    }

    /// Parses CSV text: `time,users` rows (seconds, users), with or without a header. With
    /// a header, the time column is `time_s`, `time` or `t` and the users column `users`
    /// (loadgen's timeline has both, among others). Times are shifted to start at 0; rows
    /// must be in time order; blank lines and `#` comments are skipped.
    pub fn parse_csv(name: &str, text: &str) -> Result<Trace, TraceError> {
        let mut rows = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
            .peekable();
        let (mut time_col, mut users_col) = (0, 1);
        if let Some(&(_, first)) = rows.peek() {
            let cells: Vec<&str> = first.split(',').map(str::trim).collect();
            if cells[0].parse::<f64>().is_err() {
                let find = |names: &[&str]| {
                    cells
                        .iter()
                        .position(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)))
                };
                time_col = find(&["time_s", "time", "t", "seconds"])
                    .ok_or(TraceError::NoColumn("time"))?;
                users_col = find(&["users"]).ok_or(TraceError::NoColumn("users"))?;
                rows.next();
            }
        }
        let mut points: Vec<(u64, u64)> = Vec::new();
        let mut start: Option<f64> = None;
        for (line, row) in rows {
            let bad = |message: String| TraceError::Line { line, message };
            let cells: Vec<&str> = row.split(',').map(str::trim).collect();
            let cell = |col: usize, what: &str| {
                cells
                    .get(col)
                    .copied()
                    .ok_or_else(|| bad(format!("no {what} column (column {})", col + 1)))
            };
            let t_text = cell(time_col, "time")?;
            let t: f64 = t_text
                .parse()
                .ok()
                .filter(|t: &f64| t.is_finite() && *t >= 0.0)
                .ok_or_else(|| bad(format!("time {t_text:?} is not a number of seconds >= 0")))?;
            let u_text = cell(users_col, "users")?;
            let u: f64 = u_text
                .parse()
                .ok()
                .filter(|u: &f64| u.is_finite() && *u >= 0.0 && *u < 1e12)
                .ok_or_else(|| bad(format!("users {u_text:?} is not a count >= 0")))?;
            let t0 = *start.get_or_insert(t);
            if t < t0 {
                return Err(bad(format!(
                    "time {t_text} goes back (rows must be in time order)"
                )));
            }
            let t_ms = ((t - t0) * 1000.0).round() as u64;
            let users = u.round() as u64;
            match points.last_mut() {
                Some(last) if t_ms < last.0 => {
                    return Err(bad(format!(
                        "time {t_text} goes back (rows must be in time order)"
                    )));
                }
                Some(last) if t_ms == last.0 => last.1 = users,
                _ => points.push((t_ms, users)),
            }
        }
        if points.is_empty() {
            return Err(TraceError::Empty);
        }
        Ok(Trace {
            name: name.into(),
            points,
        })
    }

    /// A built-in trace by name.
    pub fn builtin(name: &str, p: BuiltinParams) -> Result<Trace, TraceError> {
        if p.resolution_ms == 0 {
            return Err(TraceError::Params("the resolution must be above 0".into()));
        }
        let (default, shape): (u64, fn(f64, f64, u64) -> f64) = match name {
            "ramp" => (HOUR, |t, d, _| t / d),
            "spike" => (HOUR, spike),
            "diurnal" => (24 * HOUR, diurnal),
            "sawtooth" => (2 * HOUR, |t, _, _| {
                (t % (20 * MIN) as f64) / (20 * MIN) as f64
            }),
            other => return Err(TraceError::UnknownBuiltin(other.into())),
        };
        let duration = p.duration_ms.unwrap_or(default);
        let n = duration / p.resolution_ms + 1;
        if n > 10_000_000 {
            return Err(TraceError::Params(format!(
                "{n} points: use a coarser resolution or a shorter duration"
            )));
        }
        let points = (0..n)
            .map(|i| {
                let t = i * p.resolution_ms;
                let f = shape(t as f64, duration as f64, i).clamp(0.0, 1.0);
                (t, (f * p.peak as f64).round() as u64)
            })
            .collect();
        Ok(Trace {
            name: name.into(),
            points,
        })
    }
}

/// 10 % of the peak, a jump to the peak at a quarter of the trace for a tenth of it.
fn spike(t: f64, d: f64, _: u64) -> f64 {
    if t >= 0.25 * d && t < 0.35 * d {
        1.0
    } else {
        0.1
    }
}

/// A day: lowest (10 %) at midnight, highest at noon, with ±3 % deterministic noise.
fn diurnal(t: f64, _: f64, i: u64) -> f64 {
    let day = (24 * HOUR) as f64;
    let base = 0.1 + 0.9 * (1.0 - (2.0 * PI * t / day).cos()) / 2.0;
    base * (1.0 + 0.03 * noise(i))
}

/// Deterministic noise in [-1, 1] from an index (splitmix64).
fn noise(i: u64) -> f64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}
