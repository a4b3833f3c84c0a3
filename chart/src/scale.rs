//! Axis math: "nice" tick steps (1, 2, 5 × 10ⁿ) and ceilings (1, 2, 2.5, 5 × 10ⁿ), value →
//! pixel mapping. Pure functions, no I/O. Tick labels: [`crate::format::tick`].
//!
//! Two kinds of scale, one [`Scale`]: the report charts' ([`x_scale`], [`y_scale`]: ticks
//! every nice step, ends on a tick) and the dashboard's compact ones ([`ceil_scale`]: from 0
//! to a nice ceiling, a few equal intervals).

/// An axis range with evenly spaced ticks that include both ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub min: f64,
    pub max: f64,
    pub step: f64,
}

impl Scale {
    /// The tick values from `min` to `max` inclusive.
    pub fn ticks(&self) -> Vec<f64> {
        let n = ((self.max - self.min) / self.step).round() as usize;
        (0..=n).map(|i| self.min + self.step * i as f64).collect()
    }

    /// Maps `value` to a pixel between `lo_px` (at `min`) and `hi_px` (at `max`).
    pub fn map(&self, value: f64, lo_px: f64, hi_px: f64) -> f64 {
        let span = self.max - self.min;
        let t = if span > 0.0 {
            (value - self.min) / span
        } else {
            0.0
        };
        lo_px + t * (hi_px - lo_px)
    }

    /// As [`Self::map`], with `value` first brought into `[min, max]` (a line above the
    /// scale is drawn along its edge).
    pub fn map_clamped(&self, value: f64, lo_px: f64, hi_px: f64) -> f64 {
        self.map(value.clamp(self.min, self.max), lo_px, hi_px)
    }
}

/// The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above `v` (1 for `v ≤ 1`).
pub fn nice_ceil(v: f64) -> f64 {
    if !v.is_finite() || v <= 1.0 {
        return 1.0;
    }
    let exp = 10f64.powf(v.log10().floor());
    let f = v / exp;
    let nice = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|n| f <= *n + 1e-9)
        .unwrap_or(10.0);
    nice * exp
}

/// A scale from 0 to the nice ceiling of `max` plus 5 % headroom, in `intervals` equal
/// steps (the dashboard's: `0`, half and the top for 2).
pub fn ceil_scale(max: f64, intervals: u32) -> Scale {
    let top = nice_ceil(max * 1.05);
    Scale {
        min: 0.0,
        max: top,
        step: top / f64::from(intervals.max(1)),
    }
}

/// The nice number (1, 2, 5 or 10 × 10ⁿ) closest to `x` (> 0).
pub fn nice_step(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 1.0;
    }
    let exp = x.log10().floor();
    let base = 10f64.powf(exp);
    let f = x / base;
    let nice = if f < 1.5 {
        1.0
    } else if f < 3.0 {
        2.0
    } else if f < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * base
}

/// A scale covering `lo..=hi` with about `target` intervals.
pub fn nice_scale(lo: f64, hi: f64, target: usize) -> Scale {
    let (lo, hi) = match (lo.is_finite(), hi.is_finite()) {
        (true, true) if hi > lo => (lo, hi),
        (true, _) => (lo, lo + 1.0),
        _ => (0.0, 1.0),
    };
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let min = (lo / step).floor() * step;
    let max = (hi / step).ceil() * step;
    Scale { min, max, step }
}

/// The x scale of a chart: from 0 (or the data's minimum if negative) to the data's maximum
/// (0..1 when there is no data): time axes start at the run's start.
pub fn x_scale(values: impl Iterator<Item = f64>) -> Scale {
    let (lo, hi) = extent(values).unwrap_or((0.0, 1.0));
    nice_scale(lo.min(0.0), hi, 8)
}

/// A y scale: from 0 (or the data's minimum if negative) to a little above the data's
/// maximum, so a line at the maximum stays clear of the frame. Counts (every value a whole
/// number) get whole-number ticks.
pub fn y_scale(values: impl Iterator<Item = f64>) -> Scale {
    let values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    let Some((lo, hi)) = extent(values.iter().copied()) else {
        return nice_scale(0.0, 1.0, 5);
    };
    let lo = lo.min(0.0);
    let hi = if hi > lo {
        hi + (hi - lo) * 0.04
    } else {
        lo + 1.0
    };
    let scale = nice_scale(lo, hi, 5);
    if scale.step < 1.0 && values.iter().all(|v| v.fract() == 0.0) {
        let step = 1.0;
        return Scale {
            min: (lo / step).floor() * step,
            max: (hi / step).ceil() * step,
            step,
        };
    }
    scale
}

fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        for (x, want) in [
            (0.7, 0.5),
            (1.0, 1.0),
            (1.6, 2.0),
            (3.2, 5.0),
            (7.5, 10.0),
            (23.0, 20.0),
            (130.0, 100.0),
            (0.031, 0.05),
            (0.0, 1.0),
            (f64::NAN, 1.0),
        ] {
            assert_eq!(nice_step(x), want, "nice_step({x})");
        }
    }

    #[test]
    fn scales_cover_the_data_with_round_ends() {
        let s = nice_scale(0.0, 93.0, 5);
        assert_eq!((s.min, s.max, s.step), (0.0, 100.0, 20.0));
        assert_eq!(s.ticks(), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let s = nice_scale(3.0, 3.0, 5);
        assert!(s.min <= 3.0 && s.max >= 4.0);
        let s = y_scale([5.0, 12.0, f64::NAN].into_iter());
        assert_eq!(s.min, 0.0);
        assert!(s.max >= 12.0);
        let s = y_scale(std::iter::empty());
        assert_eq!((s.min, s.max), (0.0, 1.0));
        let s = y_scale([1.0, 1.0].into_iter());
        assert_eq!(
            (s.min, s.max, s.step),
            (0.0, 2.0, 1.0),
            "counts get whole ticks, headroom"
        );
        let s = y_scale([0.0, 100.0].into_iter());
        assert!(s.max > 100.0, "a line at the maximum is not on the frame");
        let s = y_scale([-3.0, 4.0].into_iter());
        assert!(s.min <= -3.0 && s.max >= 4.0);
        let s = x_scale([10.0, 130.0].into_iter());
        assert_eq!(s.min, 0.0, "time starts at 0");
        assert!(s.max >= 130.0);
    }

    #[test]
    fn nice_ceil_rounds_up_to_1_2_2_5_5() {
        for (v, want) in [
            (0.0, 1.0),
            (0.3, 1.0),
            (1.2, 2.0),
            (2.1, 2.5),
            (3.0, 5.0),
            (7.0, 10.0),
            (10.0, 10.0),
            (23.0, 25.0),
            (420.0, 500.0),
            (f64::NAN, 1.0),
        ] {
            assert_eq!(nice_ceil(v), want, "nice_ceil({v})");
        }
    }

    #[test]
    fn ceil_scales_have_headroom_and_equal_intervals() {
        let s = ceil_scale(10.0, 2);
        assert_eq!((s.min, s.max, s.step), (0.0, 20.0, 10.0), "10 × 1.05 → 20");
        assert_eq!(s.ticks(), vec![0.0, 10.0, 20.0]);
        assert_eq!(ceil_scale(40.0, 2).ticks(), vec![0.0, 25.0, 50.0]);
        assert_eq!(ceil_scale(0.0, 2).max, 1.0);
        assert_eq!(
            s.map_clamped(30.0, 140.0, 8.0),
            8.0,
            "above the top: on the edge"
        );
        assert_eq!(s.map_clamped(-1.0, 140.0, 8.0), 140.0);
    }

    #[test]
    fn map_is_linear_and_flips_for_svg_y() {
        let s = Scale {
            min: 0.0,
            max: 100.0,
            step: 20.0,
        };
        assert_eq!(s.map(0.0, 10.0, 110.0), 10.0);
        assert_eq!(s.map(50.0, 10.0, 110.0), 60.0);
        assert_eq!(s.map(100.0, 400.0, 40.0), 40.0);
    }
}
