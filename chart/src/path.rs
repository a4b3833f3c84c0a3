//! SVG path data (`M x y L …`, `H`/`V` for steps) from points already mapped to pixels by
//! a [`crate::scale::Scale`]. Pure. Used by [`crate::svg`] and the dashboard's inline charts.

use std::fmt::Write;

use crate::model::LineStyle;

/// How coordinates are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// One decimal, always (`36.0 140.0`): the report files.
    Fixed,
    /// Rounded to 0.1 ([`round1`]), shortest form (`36 140`, `87.2`), and a step that keeps
    /// its height writes only its `H`: the dashboard's charts, sent in every page and frame.
    Compact,
}

/// Writes one series' path data, point by point.
#[derive(Debug, Clone)]
pub struct PathBuilder {
    d: String,
    style: LineStyle,
    precision: Precision,
    /// The last point's y while the pen is down.
    pen: Option<f64>,
}

impl PathBuilder {
    pub fn new(style: LineStyle, precision: Precision) -> PathBuilder {
        PathBuilder {
            d: String::new(),
            style,
            precision,
            pen: None,
        }
    }

    /// Lifts the pen: the next point starts a new segment (a gap in the data).
    pub fn gap(&mut self) {
        self.pen = None;
    }

    /// Draws to `(x, y)` (pixels) from the previous point, or starts a segment there. A
    /// non-finite coordinate is a [`Self::gap`].
    pub fn point(&mut self, x: f64, y: f64) {
        if !(x.is_finite() && y.is_finite()) {
            self.gap();
            return;
        }
        let d = &mut self.d;
        let _ = match self.precision {
            Precision::Fixed => match (self.pen, self.style) {
                (None, _) => write!(d, "M{x:.1} {y:.1}"),
                (Some(_), LineStyle::Line) => write!(d, "L{x:.1} {y:.1}"),
                (Some(_), LineStyle::Step) => write!(d, "H{x:.1}V{y:.1}"),
            },
            Precision::Compact => {
                let (x, y) = (round1(x), round1(y));
                match (self.pen, self.style) {
                    (None, _) => write!(d, "M{x} {y}"),
                    (Some(_), LineStyle::Line) => write!(d, "L{x} {y}"),
                    (Some(prev), LineStyle::Step) if prev == y => write!(d, "H{x}"),
                    (Some(_), LineStyle::Step) => write!(d, "H{x}V{y}"),
                }
            }
        };
        self.pen = Some(match self.precision {
            Precision::Fixed => y,
            Precision::Compact => round1(y),
        });
    }

    /// The path data; empty when no point was drawn.
    pub fn finish(self) -> String {
        self.d
    }
}

/// `v` rounded to 0.1 (coordinates of [`Precision::Compact`]).
pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(style: LineStyle, precision: Precision, points: &[Option<(f64, f64)>]) -> String {
        let mut p = PathBuilder::new(style, precision);
        for pt in points {
            match pt {
                Some((x, y)) => p.point(*x, *y),
                None => p.gap(),
            }
        }
        p.finish()
    }

    #[test]
    fn fixed_paths_write_one_decimal_and_full_steps() {
        let pts = [Some((0.0, 100.0)), Some((10.0, 100.0)), Some((20.0, 200.0))];
        assert_eq!(
            draw(LineStyle::Step, Precision::Fixed, &pts),
            "M0.0 100.0H10.0V100.0H20.0V200.0"
        );
        assert_eq!(
            draw(LineStyle::Line, Precision::Fixed, &pts),
            "M0.0 100.0L10.0 100.0L20.0 200.0"
        );
    }

    #[test]
    fn compact_paths_round_and_skip_unchanged_heights() {
        let pts = [
            Some((36.0, 87.24)),
            Some((254.0, 87.2)),
            Some((472.0, 34.4)),
        ];
        assert_eq!(
            draw(LineStyle::Step, Precision::Compact, &pts),
            "M36 87.2H254H472V34.4"
        );
        assert_eq!(
            draw(LineStyle::Line, Precision::Compact, &pts),
            "M36 87.2L254 87.2L472 34.4"
        );
    }

    #[test]
    fn gaps_and_non_finite_points_start_a_new_segment() {
        let pts = [
            Some((0.0, 1.0)),
            None,
            Some((2.0, 3.0)),
            Some((3.0, f64::NAN)),
            Some((4.0, 5.0)),
            Some((5.0, 6.0)),
        ];
        assert_eq!(
            draw(LineStyle::Line, Precision::Compact, &pts),
            "M0 1M2 3M4 5L5 6"
        );
        assert_eq!(draw(LineStyle::Line, Precision::Fixed, &[]), "");
    }
}
