//! The PNG path against the real rasterizer and the machine's fonts.

use chart::{Chart, ChartError, Series, Threshold};

fn chart() -> Chart {
    Chart::new("users, instances and p99")
        .y_label("users / instances")
        .y2_label("p99 (ms)")
        .series(Series::new("users", vec![(0.0, 10.0), (15.0, 60.0), (30.0, 110.0)]).stepped())
        .series(Series::new("p99 ms", vec![(0.0, 2.0), (15.0, 4.0), (30.0, 9.0)]).on_right())
        .threshold(Threshold::new("scale out", 100.0))
        .size(640, 320)
}

#[test]
fn png_is_written_with_the_charts_size_and_text_pixels() {
    let dir = std::env::temp_dir().join(format!("chart-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.png");
    chart::to_png(&chart(), &path).expect("render PNG (needs fonts-dejavu-core)");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: width and height, big-endian, at bytes 16..24.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (640, 320));

    // Text renders: the same chart without a title has fewer non-white pixels... compare sizes
    // of the encoded images as a cheap proxy for drawn glyphs.
    let untitled = chart::to_png_bytes(&Chart {
        title: String::new(),
        ..chart()
    })
    .unwrap();
    assert!(
        bytes.len() > untitled.len(),
        "the title's glyphs should add pixels ({} vs {})",
        bytes.len(),
        untitled.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_fonts_are_a_clear_error() {
    let empty = std::env::temp_dir().join(format!("chart-nofonts-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let err = chart::png::to_png_bytes_with_fonts(&chart(), &empty).unwrap_err();
    assert!(matches!(err, ChartError::NoFont { .. }), "{err:?}");
    assert!(err.to_string().contains("fonts-dejavu-core"), "{err}");
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn unwritable_path_names_the_path() {
    let err = chart::to_png(&chart(), "/nonexistent-dir/x.png").unwrap_err();
    assert!(err.to_string().contains("/nonexistent-dir/x.png"), "{err}");
}
