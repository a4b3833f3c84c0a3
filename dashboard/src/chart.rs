//! Chart geometry for the inline SVG charts: samples → paths, axis ticks and
//! threshold lines in the SVG's coordinate space. Pure: no I/O, no clock.
//!
//! The maths is the `chart` crate's, as in loadgen's and the simulator's reports: a
//! [`chart::scale::ceil_scale`] for values (0 to a nice ceiling, ticks at 0, half and the
//! top), a [`Scale`] over the time window, [`PathBuilder`]'s compact paths (coordinates
//! rounded to 0.1 so the markup stays small) and [`chart::format`]'s labels. What is the
//! dashboard's own: the layout (its DOM, ids and classes), time-ago labels, and reducing a
//! series to at most [`MAX_POINTS`] buckets (keeping each bucket's peak, so a spike above a
//! threshold is never hidden).

use chart::path::{PathBuilder, Precision, round1};
use chart::scale::{Scale, ceil_scale};

/// The SVG's viewBox size; CSS scales it to the page width.
pub const WIDTH: f64 = 480.0;
pub const HEIGHT: f64 = 160.0;
const LEFT: f64 = 36.0;
const RIGHT: f64 = WIDTH - 8.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = HEIGHT - 20.0;
/// At most this many points per series (≈ 2 units each).
pub const MAX_POINTS: usize = 240;

/// How a series is drawn: `Line` (straight segments between samples: rates, averages) or
/// `Step` (horizontal then vertical segments: counts that change in steps).
pub use chart::LineStyle as Shape;

/// One series to draw: samples `(at_ms, value)`; `None` is a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInput {
    pub name: &'static str,
    pub class: &'static str,
    pub shape: Shape,
    pub points: Vec<(u64, Option<f64>)>,
}

/// A horizontal reference line (a threshold or a bound).
#[derive(Debug, Clone, PartialEq)]
pub struct HLineInput {
    pub label: String,
    pub class: &'static str,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: &'static str,
    pub class: &'static str,
    /// SVG path data (`M x y L x y …`), empty when there is nothing to draw.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HLine {
    pub label: String,
    pub class: &'static str,
    pub y: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// x for time ticks, y for value ticks.
    pub pos: f64,
    /// SVG `text-anchor` for the label: the last time label ends at the edge.
    pub anchor: &'static str,
    pub label: String,
}

/// A chart ready for the template.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    /// Where value labels end (right-aligned, left of the plot).
    pub label_x: f64,
    /// Baseline of time labels.
    pub label_y: f64,
    pub y_max: f64,
    pub series: Vec<Series>,
    pub hlines: Vec<HLine>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
}

/// Lays out `series` and `hlines` over the time window `[from_ms, to_ms]`.
pub fn layout(from_ms: u64, to_ms: u64, series: &[SeriesInput], hlines: &[HLineInput]) -> Chart {
    let to_ms = to_ms.max(from_ms + 1);
    let data_max = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(t, _)| (from_ms..=to_ms).contains(t))
        .filter_map(|(_, v)| *v)
        .chain(hlines.iter().map(|h| h.value))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let ys = ceil_scale(data_max, 2);
    let y_max = ys.max;
    let xs = Scale {
        min: from_ms as f64,
        max: to_ms as f64,
        step: (to_ms - from_ms) as f64 / 4.0,
    };
    let x = |t: u64| round1(xs.map(t as f64, LEFT, RIGHT));
    let y = |v: f64| round1(ys.map_clamped(v, BOTTOM, TOP));

    let series = series
        .iter()
        .map(|s| {
            let pts = decimate(&s.points, from_ms, to_ms, MAX_POINTS, s.shape);
            Series {
                name: s.name,
                class: s.class,
                path: path(&pts, s.shape, &x, &y),
            }
        })
        .collect();
    let hlines = hlines
        .iter()
        .filter(|h| h.value.is_finite())
        .map(|h| HLine {
            label: h.label.clone(),
            class: h.class,
            y: y(h.value),
        })
        .collect();
    let y_ticks = ys
        .ticks()
        .into_iter()
        .map(|v| Tick {
            pos: y(v),
            anchor: "end",
            label: chart::format::num(v),
        })
        .collect();
    let span = to_ms - from_ms;
    let x_ticks = [0u64, 1, 2, 3, 4]
        .iter()
        .map(|q| {
            let back = span - span * q / 4;
            Tick {
                pos: x(to_ms - back),
                anchor: if back == 0 { "end" } else { "middle" },
                label: if back == 0 {
                    "now".to_string()
                } else {
                    format!("-{}", crate::view::fmt_age(back))
                },
            }
        })
        .collect();
    Chart {
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right: RIGHT,
        top: TOP,
        bottom: BOTTOM,
        label_x: LEFT - 4.0,
        label_y: HEIGHT - 6.0,
        y_max,
        series,
        hlines,
        y_ticks,
        x_ticks,
    }
}

/// Keeps the points inside the window and at most `max` of them: one per time
/// bucket, the bucket's peak for lines, its last value for steps.
pub fn decimate(
    points: &[(u64, Option<f64>)],
    from_ms: u64,
    to_ms: u64,
    max: usize,
    shape: Shape,
) -> Vec<(u64, Option<f64>)> {
    let inside: Vec<_> = points
        .iter()
        .copied()
        .filter(|(t, _)| (from_ms..=to_ms).contains(t))
        .collect();
    if inside.len() <= max || max == 0 {
        return inside;
    }
    let span = (to_ms - from_ms).max(1);
    let mut out: Vec<(u64, Option<f64>)> = Vec::with_capacity(max);
    let mut current: Option<usize> = None;
    for (t, v) in inside {
        let bucket = ((t - from_ms) as u128 * max as u128 / (span as u128 + 1)) as usize;
        match (current, out.last_mut()) {
            (Some(b), Some(last)) if b == bucket => {
                let keep = match shape {
                    Shape::Line => match (last.1, v) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    },
                    Shape::Step => v,
                };
                *last = (t, keep);
            }
            _ => {
                out.push((t, v));
                current = Some(bucket);
            }
        }
    }
    out
}

fn path(
    points: &[(u64, Option<f64>)],
    shape: Shape,
    x: &dyn Fn(u64) -> f64,
    y: &dyn Fn(f64) -> f64,
) -> String {
    let mut d = PathBuilder::new(shape, Precision::Compact);
    for (t, v) in points {
        match v.filter(|v| v.is_finite()) {
            None => d.gap(),
            Some(v) => d.point(x(*t), y(v)),
        }
    }
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(points: Vec<(u64, Option<f64>)>, shape: Shape) -> SeriesInput {
        SeriesInput {
            name: "s",
            class: "c",
            shape,
            points,
        }
    }

    #[test]
    fn line_maps_window_ends_to_plot_edges_and_values_to_height() {
        let c = layout(
            1_000,
            11_000,
            &[line(
                vec![(1_000, Some(0.0)), (11_000, Some(10.0))],
                Shape::Line,
            )],
            &[],
        );
        assert_eq!(c.y_max, 20.0, "10 × 1.05 rounds up to 20");
        // x: 36 → 472; y: 0 → 140, 10/20 of 132 above the bottom → 74
        assert_eq!(c.series[0].path, "M36 140L472 74");
    }

    #[test]
    fn gaps_restart_the_path_and_outside_points_are_dropped() {
        let c = layout(
            0,
            100,
            &[line(
                vec![
                    (0, Some(1.0)),
                    (50, None),
                    (60, Some(1.0)),
                    (200, Some(9.0)),
                ],
                Shape::Line,
            )],
            &[],
        );
        let d = &c.series[0].path;
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert!(!d.contains('L'), "{d}");
        assert_eq!(
            c.y_max, 2.0,
            "the point outside the window does not set the scale"
        );
    }

    #[test]
    fn steps_draw_horizontal_then_vertical() {
        let c = layout(
            0,
            100,
            &[line(
                vec![(0, Some(1.0)), (50, Some(1.0)), (100, Some(2.0))],
                Shape::Step,
            )],
            &[],
        );
        // y_max 2.5: 1 → 140 - 0.4 × 132 = 87.2, 2 → 34.4
        assert_eq!(c.series[0].path, "M36 87.2H254H472V34.4");
    }

    #[test]
    fn thresholds_set_the_scale_and_get_a_line() {
        let c = layout(
            0,
            100,
            &[line(vec![(0, Some(5.0))], Shape::Line)],
            &[HLineInput {
                label: "scale out 40".into(),
                class: "th-out",
                value: 40.0,
            }],
        );
        assert_eq!(c.y_max, 50.0);
        assert_eq!(c.hlines[0].y, 34.4);
        assert_eq!(c.y_ticks[2].label, "50");
        assert_eq!(c.x_ticks[0].label, "-0s");
        assert_eq!(c.x_ticks[4].label, "now");
    }

    #[test]
    fn decimate_keeps_the_peak_of_each_bucket() {
        let pts: Vec<_> = (0..1000u64)
            .map(|i| (i, Some(if i == 501 { 99.0 } else { 1.0 })))
            .collect();
        let out = decimate(&pts, 0, 999, 100, Shape::Line);
        assert!(out.len() <= 100, "{}", out.len());
        assert!(out.iter().any(|p| p.1 == Some(99.0)));
        let steps = decimate(&pts, 0, 999, 100, Shape::Step);
        assert!(
            steps.iter().all(|p| p.1 == Some(1.0)),
            "steps keep the last value"
        );
    }
}
