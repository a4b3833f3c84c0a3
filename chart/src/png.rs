//! Rasterizes a chart's SVG to PNG with resvg (pure Rust). Text needs a font: the faces
//! under [`FONT_DIR`] are loaded (Debian's `fonts-dejavu-core` provides DejaVu Sans).

use std::path::Path;
use std::sync::Arc;

use resvg::{tiny_skia, usvg};

use crate::model::Chart;
use crate::svg::{FONT_FAMILY, stack_to_svg, to_svg};

/// Where fonts are looked for.
pub const FONT_DIR: &str = "/usr/share/fonts";

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error(
        "no font found under {dir}: a chart's text needs one. Install Debian's \
         fonts-dejavu-core (apt-get install -y fonts-dejavu-core)"
    )]
    NoFont { dir: String },
    #[error("cannot read the chart's SVG: {0}")]
    Svg(String),
    #[error("cannot allocate a {width}x{height} image")]
    Size { width: u32, height: u32 },
    #[error("cannot encode the PNG: {0}")]
    Encode(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Writes the chart as a PNG file at `path`.
pub fn to_png(chart: &Chart, path: impl AsRef<Path>) -> Result<(), ChartError> {
    write(path.as_ref(), &to_png_bytes(chart)?)
}

/// Writes charts stacked top to bottom (as [`stack_to_svg`]) as one PNG file at `path`.
pub fn stack_to_png(charts: &[Chart], path: impl AsRef<Path>) -> Result<(), ChartError> {
    write(
        path.as_ref(),
        &rasterize(&stack_to_svg(charts), Path::new(FONT_DIR))?,
    )
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ChartError> {
    std::fs::write(path, bytes).map_err(|source| ChartError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// The chart as PNG bytes, with fonts from [`FONT_DIR`].
pub fn to_png_bytes(chart: &Chart) -> Result<Vec<u8>, ChartError> {
    to_png_bytes_with_fonts(chart, Path::new(FONT_DIR))
}

/// The chart as PNG bytes, with the fonts found under `font_dir` (searched recursively).
pub fn to_png_bytes_with_fonts(chart: &Chart, font_dir: &Path) -> Result<Vec<u8>, ChartError> {
    rasterize(&to_svg(chart), font_dir)
}

/// Rasterizes an SVG document, with the fonts under `font_dir`.
pub fn rasterize(svg: &str, font_dir: &Path) -> Result<Vec<u8>, ChartError> {
    let mut fonts = usvg::fontdb::Database::new();
    load_fonts(&mut fonts, font_dir, 0);
    let family = fonts
        .faces()
        .flat_map(|face| face.families.iter().map(|(name, _)| name.clone()))
        .find(|name| name == FONT_FAMILY)
        .or_else(|| {
            fonts
                .faces()
                .find_map(|face| face.families.first().map(|(name, _)| name.clone()))
        })
        .ok_or_else(|| ChartError::NoFont {
            dir: font_dir.display().to_string(),
        })?;
    fonts.set_sans_serif_family(family.clone());
    let options = usvg::Options {
        font_family: family,
        fontdb: Arc::new(fonts),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| ChartError::Svg(e.to_string()))?;
    let size = tree.size().to_int_size();
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).ok_or(ChartError::Size {
            width: size.width(),
            height: size.height(),
        })?;
    resvg::render(
        &tree,
        tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| ChartError::Encode(e.to_string()))
}

/// Loads every `.ttf`, `.otf` and `.ttc` under `dir` (at most 8 levels deep); unreadable
/// entries are skipped, as a missing font is reported by the caller.
fn load_fonts(fonts: &mut usvg::fontdb::Database, dir: &Path, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && depth < 8 {
            load_fonts(fonts, &path, depth + 1);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "ttf" | "otf" | "ttc"))
            && let Ok(data) = std::fs::read(&path)
        {
            fonts.load_font_data(data);
        }
    }
}
