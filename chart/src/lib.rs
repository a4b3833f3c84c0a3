//! Line charts over time, as an SVG string or a PNG file.
//!
//! Used by loadgen (users, instances and p99 over a run) and by `controller simulate`
//! (capacity against a users trace). Generic on purpose: a title, an x axis of seconds,
//! named series of `(x, y)` points on a left or right axis, and horizontal threshold lines.
//! The dashboard draws its inline charts with the same [`scale`], [`path`] and [`format`](mod@format).
//!
//! - [`model`]: [`Chart`], [`Series`], [`Threshold`], [`Axis`] — plain data with builders.
//! - [`scale`]: pure axis math (nice ticks and ceilings, value → pixel). No I/O.
//! - [`path`]: SVG path data from points in pixels, pure.
//! - [`format`](mod@format): numbers as text (readings, tick labels, summary columns), for the whole
//!   workspace, pure.
//! - [`svg`]: [`to_svg`] and [`stack_to_svg`] (charts one above the other), pure.
//! - `png` (feature `png`, off by default): `to_png` / `to_png_bytes` / `stack_to_png`,
//!   rasterized with resvg; text needs a font from `/usr/share/fonts` (Debian's
//!   `fonts-dejavu-core`), else a clear `ChartError::NoFont`.
//!
//! ```
//! use chart::{Chart, Series, Threshold};
//! let c = Chart::new("users")
//!     .y_label("users")
//!     .series(Series::new("users", vec![(0.0, 10.0), (15.0, 60.0)]))
//!     .series(Series::new("p99 ms", vec![(0.0, 3.0), (15.0, 9.0)]).on_right())
//!     .threshold(Threshold::new("scale out", 50.0));
//! assert!(chart::to_svg(&c).starts_with("<svg"));
//! ```

pub mod format;
pub mod model;
pub mod path;
#[cfg(feature = "png")]
pub mod png;
pub mod scale;
pub mod svg;

pub use model::{Axis, Chart, LineStyle, Series, Threshold};
#[cfg(feature = "png")]
pub use png::{ChartError, FONT_DIR, stack_to_png, to_png, to_png_bytes};
pub use svg::{stack_to_svg, to_svg};
