//! Numbers as text, for every chart, dashboard and report in the workspace. Pure.
//!
//! One rule for large values (`k` from 10 000, `M` from 1 000 000, trailing zeros trimmed)
//! and three ways to choose the decimals:
//! - [`num`]: a reading (dashboard figures, its axis labels): about three significant digits.
//! - [`tick`]: an axis label of a nice [`crate::scale::Scale`]: as many decimals as its step needs.
//! - [`fixed`]: a column of a text summary: fixed decimals and a unit, `-` when absent.
//!
//! [`int`] writes counts with thousands separators.

/// `12,345`.
pub fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate or average with about three significant digits: `0.25`, `7.5`, `12.3`, `456`,
/// `12.3k`, `4.5M`; `–` when not a number.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    let unit = Unit::of(a);
    let decimals = if unit != Unit::One {
        1
    } else if a >= 100.0 || v.fract() == 0.0 {
        0
    } else if a >= 10.0 {
        1
    } else {
        2
    };
    // `7.50` → `7.5`, `12.0k` → `12k`
    unit.write(v, decimals, true)
}

/// A tick label of an axis whose ticks are `step` apart: as many decimals as the step needs,
/// thousands as `k` and millions as `M` when the step is that coarse.
pub fn tick(value: f64, step: f64) -> String {
    let abs_step = step.abs();
    let unit = match Unit::of(value.abs()) {
        Unit::Mega if abs_step >= 1e5 => Unit::Mega,
        Unit::Mega | Unit::Kilo if abs_step >= 1e3 => Unit::Kilo,
        _ => Unit::One,
    };
    if value != 0.0 && unit != Unit::One {
        return unit.write(value, decimals(abs_step / unit.size()), true);
    }
    // Plain labels keep their decimals, so a column of them lines up.
    let s = unit.write(value, decimals(abs_step), false);
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    }
}

/// `v` with `decimals` decimals and `unit` after it (`12.3ms`, `0.25 %`), `-` when absent.
pub fn fixed(v: Option<f64>, decimals: usize, unit: &str) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}{unit}"))
}

/// The unit a value is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    One,
    Kilo,
    Mega,
}

impl Unit {
    /// `k` from 10 000 (so `9,999` stays whole), `M` from a million.
    fn of(abs: f64) -> Unit {
        if abs >= 1e6 {
            Unit::Mega
        } else if abs >= 1e4 {
            Unit::Kilo
        } else {
            Unit::One
        }
    }

    fn size(self) -> f64 {
        match self {
            Unit::One => 1.0,
            Unit::Kilo => 1e3,
            Unit::Mega => 1e6,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Unit::One => "",
            Unit::Kilo => "k",
            Unit::Mega => "M",
        }
    }

    /// `v` in this unit with `decimals` decimals, trailing zeros trimmed when `trim`.
    fn write(self, v: f64, decimals: usize, trim: bool) -> String {
        let s = format!("{:.*}", decimals, v / self.size());
        let s = if trim && s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            &s
        };
        format!("{s}{}", self.suffix())
    }
}

/// The decimals that show `step` exactly (at most 6).
fn decimals(step: f64) -> usize {
    if step <= 0.0 || !step.is_finite() {
        return 0;
    }
    (0..6)
        .find(|&d| {
            let scaled = step * 10f64.powi(d as i32);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_get_thousands_separators() {
        for (n, want) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1234567, "1,234,567"),
        ] {
            assert_eq!(int(n), want, "int({n})");
        }
    }

    #[test]
    fn readings_show_about_three_significant_digits() {
        for (v, want) in [
            (0.0, "0"),
            (0.25, "0.25"),
            (7.5, "7.5"),
            (7.456, "7.46"),
            (12.34, "12.3"),
            (20.0, "20"),
            (456.7, "457"),
            (9_999.0, "9999"),
            (12_345.0, "12.3k"),
            (12_000.0, "12k"),
            (-12_000.0, "-12k"),
            (4_500_000.0, "4.5M"),
            (f64::NAN, "–"),
            (f64::INFINITY, "–"),
        ] {
            assert_eq!(num(v), want, "num({v})");
        }
    }

    #[test]
    fn tick_labels() {
        for (v, step, want) in [
            (0.0, 20.0, "0"),
            (40.0, 20.0, "40"),
            (0.5, 0.5, "0.5"),
            (0.25, 0.05, "0.25"),
            (0.1, 0.05, "0.10"),
            (15000.0, 5000.0, "15k"),
            (12500.0, 2500.0, "12.5k"),
            (12500.0, 500.0, "12500"),
            (2_000_000.0, 500_000.0, "2M"),
            (2_000_000.0, 50_000.0, "2000k"),
            (-0.0, 0.1, "0.0"),
        ] {
            assert_eq!(tick(v, step), want, "tick({v}, {step})");
        }
    }

    #[test]
    fn fixed_columns() {
        assert_eq!(fixed(Some(12.345), 1, "ms"), "12.3ms");
        assert_eq!(fixed(Some(0.5), 2, " %"), "0.50 %");
        assert_eq!(fixed(None, 1, "ms"), "-");
    }
}
