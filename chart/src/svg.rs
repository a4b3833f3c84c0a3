//! Renders a [`Chart`] as a standalone SVG document. Pure: no I/O, no clock.

use std::fmt::Write;

use crate::format::tick as format_tick;
use crate::model::{Axis, Chart, Series};
use crate::path::{PathBuilder, Precision};
use crate::scale::{Scale, x_scale, y_scale};

/// Colours given to series and thresholds without one, in order.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// The font family text asks for; `png` loads it from `/usr/share/fonts`.
pub const FONT_FAMILY: &str = "DejaVu Sans";

/// Plot rectangle in pixels.
struct Frame {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

/// The chart as an SVG document (UTF-8, no external references).
pub fn to_svg(chart: &Chart) -> String {
    render(chart, "plot", 0.0)
}

/// Several charts stacked top to bottom in one SVG document (as wide as the widest).
pub fn stack_to_svg(charts: &[Chart]) -> String {
    let width = charts.iter().map(|c| c.width).max().unwrap_or(200);
    let height: u32 = charts.iter().map(|c| c.height).sum::<u32>().max(1);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><rect width="{width}" height="{height}" fill="white"/>"#
    );
    let mut y = 0.0;
    for (i, chart) in charts.iter().enumerate() {
        s.push_str(&render(chart, &format!("plot{i}"), y));
        y += f64::from(chart.height);
    }
    s.push_str("</svg>\n");
    s
}

/// One chart's `<svg>` element, placed `y` pixels down, with clip path id `clip_id`.
fn render(chart: &Chart, clip_id: &str, y: f64) -> String {
    let (w, h) = (f64::from(chart.width), f64::from(chart.height));
    let right_axis = chart.has_right_axis();
    let frame = Frame {
        left: 72.0,
        right: w - if right_axis { 72.0 } else { 24.0 },
        top: 64.0,
        bottom: h - 52.0,
    };
    let xs = x_scale(chart.xs());
    let y1 = y_scale(chart.ys(Axis::Left));
    let y2 = y_scale(chart.ys(Axis::Right));
    let scale_for = |axis: Axis| if axis == Axis::Left { &y1 } else { &y2 };

    let mut s = String::with_capacity(8 * 1024);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" y="{y}" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT_FAMILY}, sans-serif">"#
    );
    let _ = write!(
        s,
        r#"<rect width="{w}" height="{h}" fill="white"/><text x="{}" y="24" font-size="16" font-weight="bold" text-anchor="middle">{}</text>"#,
        w / 2.0,
        escape(&chart.title)
    );
    axes(&mut s, chart, &frame, &xs, &y1, right_axis.then_some(&y2));
    let _ = write!(
        s,
        r#"<clipPath id="{clip_id}"><rect x="{}" y="{}" width="{}" height="{}"/></clipPath><g clip-path="url(#{clip_id})">"#,
        frame.left,
        frame.top,
        frame.right - frame.left,
        frame.bottom - frame.top
    );
    for (i, t) in chart.thresholds.iter().enumerate() {
        let color = t
            .color
            .clone()
            .unwrap_or_else(|| PALETTE[(chart.series.len() + i) % PALETTE.len()].to_string());
        let y = scale_for(t.axis).map(t.value, frame.bottom, frame.top);
        let _ = write!(
            s,
            r#"<line x1="{}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{}" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="{}" stroke="white" stroke-width="3" paint-order="stroke">{}</text>"#,
            frame.left,
            frame.right,
            escape(&color),
            frame.right - 4.0,
            y - 4.0,
            escape(&color),
            escape(&t.label)
        );
    }
    for (i, series) in chart.series.iter().enumerate() {
        let color = series_color(series, i);
        let d = path_data(
            series,
            |x| xs.map(x, frame.left, frame.right),
            |y| scale_for(series.axis).map(y, frame.bottom, frame.top),
        );
        if !d.is_empty() {
            let _ = write!(
                s,
                r#"<path d="{d}" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round"/>"#,
                escape(&color)
            );
        }
    }
    s.push_str("</g>");
    legend(&mut s, chart, &frame);
    s.push_str("</svg>\n");
    s
}

fn series_color(series: &Series, index: usize) -> String {
    series
        .color
        .clone()
        .unwrap_or_else(|| PALETTE[index % PALETTE.len()].to_string())
}

/// `M x y L …` (or `H`/`V` for steps); a non-finite point starts a new segment.
fn path_data(series: &Series, px: impl Fn(f64) -> f64, py: impl Fn(f64) -> f64) -> String {
    let mut d = PathBuilder::new(series.style, Precision::Fixed);
    for &(x, y) in &series.points {
        if x.is_finite() && y.is_finite() {
            d.point(px(x), py(y));
        } else {
            d.gap();
        }
    }
    d.finish()
}

fn axes(s: &mut String, chart: &Chart, f: &Frame, xs: &Scale, y1: &Scale, y2: Option<&Scale>) {
    let grid = "#e0e0e0";
    for x in xs.ticks() {
        let px = xs.map(x, f.left, f.right);
        let _ = write!(
            s,
            r#"<line x1="{px:.1}" y1="{}" x2="{px:.1}" y2="{}" stroke="{grid}"/><text x="{px:.1}" y="{}" font-size="11" text-anchor="middle">{}</text>"#,
            f.top,
            f.bottom,
            f.bottom + 16.0,
            format_tick(x, xs.step)
        );
    }
    for y in y1.ticks() {
        let py = y1.map(y, f.bottom, f.top);
        let _ = write!(
            s,
            r#"<line x1="{}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="{grid}"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"#,
            f.left,
            f.right,
            f.left - 6.0,
            py + 4.0,
            format_tick(y, y1.step)
        );
    }
    if let Some(y2) = y2 {
        for y in y2.ticks() {
            let py = y2.map(y, f.bottom, f.top);
            let _ = write!(
                s,
                r##"<text x="{}" y="{:.1}" font-size="11" text-anchor="start" fill="#555">{}</text>"##,
                f.right + 6.0,
                py + 4.0,
                format_tick(y, y2.step)
            );
        }
        let cx = f64::from(chart.width) - 14.0;
        let cy = (f.top + f.bottom) / 2.0;
        let _ = write!(
            s,
            r##"<text x="{cx}" y="{cy}" font-size="12" text-anchor="middle" fill="#555" transform="rotate(90 {cx} {cy})">{}</text>"##,
            escape(&chart.y2_label)
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#888"/>"##,
        f.left,
        f.top,
        f.right - f.left,
        f.bottom - f.top
    );
    let cy = (f.top + f.bottom) / 2.0;
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">{}</text><text x="18" y="{cy}" font-size="12" text-anchor="middle" transform="rotate(-90 18 {cy})">{}</text>"#,
        (f.left + f.right) / 2.0,
        f64::from(chart.height) - 12.0,
        escape(&chart.x_label),
        escape(&chart.y_label)
    );
}

/// One row under the title: a swatch and the name of each series (right-axis ones marked).
fn legend(s: &mut String, chart: &Chart, f: &Frame) {
    let mut x = f.left;
    let y = 46.0;
    for (i, series) in chart.series.iter().enumerate() {
        let name =
            if series.axis == Axis::Right && chart.series.iter().any(|s| s.axis == Axis::Left) {
                format!("{} (right)", series.name)
            } else {
                series.name.clone()
            };
        let color = series_color(series, i);
        let _ = write!(
            s,
            r#"<line x1="{x}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="3"/><text x="{}" y="{y}" font-size="12">{}</text>"#,
            y - 4.0,
            x + 18.0,
            y - 4.0,
            escape(&color),
            x + 23.0,
            escape(&name)
        );
        // About 7 px per character at 12 px.
        x += 23.0 + 7.0 * name.chars().count() as f64 + 18.0;
    }
}

/// Escapes text for SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Series, Threshold};

    fn sample() -> Chart {
        Chart::new("Ramp <test> & co")
            .y_label("users")
            .y2_label("p99 (ms)")
            .series(Series::new("users", vec![(0.0, 10.0), (15.0, 60.0), (30.0, 110.0)]).stepped())
            .series(Series::new("p99", vec![(0.0, 2.0), (15.0, f64::NAN), (30.0, 8.0)]).on_right())
            .threshold(Threshold::new("scale out", 100.0))
    }

    #[test]
    fn svg_has_every_series_threshold_and_escaped_text() {
        let svg = to_svg(&sample());
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("Ramp &lt;test&gt; &amp; co"));
        assert!(!svg.contains("<test>"));
        assert_eq!(svg.matches("<path ").count(), 2);
        assert!(svg.contains("stroke-dasharray"), "threshold line");
        assert!(svg.contains("scale out"));
        assert!(
            svg.contains("p99 (right)"),
            "legend marks right-axis series"
        );
        assert!(svg.contains("p99 (ms)"), "right axis label drawn");
    }

    #[test]
    fn step_series_use_horizontal_then_vertical_segments() {
        let s = Series::new("u", vec![(0.0, 1.0), (1.0, 2.0)]).stepped();
        let d = path_data(&s, |x| x * 10.0, |y| y * 100.0);
        assert_eq!(d, "M0.0 100.0H10.0V200.0");
        let s = Series::new(
            "u",
            vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0), (3.0, 4.0)],
        );
        let d = path_data(&s, |x| x, |y| y);
        assert_eq!(d, "M0.0 1.0M2.0 3.0L3.0 4.0", "a gap starts a new segment");
    }

    #[test]
    fn empty_chart_still_renders_axes() {
        let svg = to_svg(&Chart::new("empty"));
        assert!(svg.contains("<rect"));
        assert_eq!(svg.matches("<path ").count(), 0);
        assert!(
            !svg.contains("rotate(90"),
            "no right axis without right series"
        );
    }

    #[test]
    fn stacked_charts_get_their_own_clip_paths() {
        let svg = stack_to_svg(&[sample(), sample().size(500, 300)]);
        assert!(svg.contains(r#"id="plot0""#) && svg.contains(r#"id="plot1""#));
        assert!(svg.contains(r#"height="780""#), "heights add up");
        assert!(
            svg.contains(r#"y="480""#),
            "second chart placed below the first"
        );
        resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default()).expect("valid SVG");
    }

    #[test]
    fn svg_parses_as_xml() {
        let svg = to_svg(&sample());
        resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default()).expect("valid SVG");
    }
}
