//! The chart as plain data, with small builder methods. No rendering here.

/// Which vertical axis a series or threshold is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Axis {
    #[default]
    Left,
    Right,
}

/// How consecutive points are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineStyle {
    /// Straight segments between points.
    #[default]
    Line,
    /// Hold each value until the next point (capacities, user counts).
    Step,
}

/// One named line. Points are `(seconds, value)`; non-finite values break the line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub axis: Axis,
    pub style: LineStyle,
    /// Any SVG colour; `None` takes the next colour of the palette.
    pub color: Option<String>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            axis: Axis::Left,
            style: LineStyle::Line,
            color: None,
        }
    }

    /// Measure this series against the right-hand axis.
    pub fn on_right(mut self) -> Series {
        self.axis = Axis::Right;
        self
    }

    /// Draw as a staircase (the value holds until the next point).
    pub fn stepped(mut self) -> Series {
        self.style = LineStyle::Step;
        self
    }

    pub fn color(mut self, color: impl Into<String>) -> Series {
        self.color = Some(color.into());
        self
    }
}

/// A horizontal dashed line at `value`, labelled at the plot's right edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub label: String,
    pub value: f64,
    pub axis: Axis,
    pub color: Option<String>,
}

impl Threshold {
    pub fn new(label: impl Into<String>, value: f64) -> Threshold {
        Threshold {
            label: label.into(),
            value,
            axis: Axis::Left,
            color: None,
        }
    }

    pub fn on_right(mut self) -> Threshold {
        self.axis = Axis::Right;
        self
    }

    pub fn color(mut self, color: impl Into<String>) -> Threshold {
        self.color = Some(color.into());
        self
    }
}

/// A line chart with an x axis of seconds, a left axis and an optional right axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Label of the right-hand axis; the axis is drawn when a series or threshold uses it.
    pub y2_label: String,
    pub series: Vec<Series>,
    pub thresholds: Vec<Threshold>,
    /// Size in pixels (SVG user units).
    pub width: u32,
    pub height: u32,
}

impl Chart {
    pub fn new(title: impl Into<String>) -> Chart {
        Chart {
            title: title.into(),
            x_label: "time (s)".into(),
            y_label: String::new(),
            y2_label: String::new(),
            series: Vec::new(),
            thresholds: Vec::new(),
            width: 960,
            height: 480,
        }
    }

    pub fn x_label(mut self, label: impl Into<String>) -> Chart {
        self.x_label = label.into();
        self
    }

    pub fn y_label(mut self, label: impl Into<String>) -> Chart {
        self.y_label = label.into();
        self
    }

    pub fn y2_label(mut self, label: impl Into<String>) -> Chart {
        self.y2_label = label.into();
        self
    }

    pub fn series(mut self, series: Series) -> Chart {
        self.series.push(series);
        self
    }

    pub fn threshold(mut self, threshold: Threshold) -> Chart {
        self.thresholds.push(threshold);
        self
    }

    /// Size in pixels; each side is at least 200.
    pub fn size(mut self, width: u32, height: u32) -> Chart {
        self.width = width.max(200);
        self.height = height.max(200);
        self
    }

    /// Whether anything is measured against the right-hand axis.
    pub fn has_right_axis(&self) -> bool {
        self.series.iter().any(|s| s.axis == Axis::Right)
            || self.thresholds.iter().any(|t| t.axis == Axis::Right)
    }

    /// Finite x values of every series.
    pub(crate) fn xs(&self) -> impl Iterator<Item = f64> + '_ {
        self.series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .filter(|x| x.is_finite())
    }

    /// Finite y values measured against `axis`, thresholds included.
    pub(crate) fn ys(&self, axis: Axis) -> impl Iterator<Item = f64> + '_ {
        let points = self
            .series
            .iter()
            .filter(move |s| s.axis == axis)
            .flat_map(|s| s.points.iter().map(|p| p.1));
        let lines = self
            .thresholds
            .iter()
            .filter(move |t| t.axis == axis)
            .map(|t| t.value);
        points.chain(lines).filter(|y| y.is_finite())
    }
}
