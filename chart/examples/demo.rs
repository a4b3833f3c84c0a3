//! Writes a sample chart: `cargo run -p chart --example demo -- out.png`.
use chart::{Chart, Series, Threshold};

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "chart-demo.png".into());
    let users: Vec<(f64, f64)> = (0..10)
        .map(|i| (i as f64 * 15.0, 10.0 + 50.0 * i as f64))
        .collect();
    let p99: Vec<(f64, f64)> = (0..10)
        .map(|i| (i as f64 * 15.0, 3.0 + (i * i) as f64))
        .collect();
    let c = Chart::new("ramp: users, instances and p99")
        .y_label("users")
        .y2_label("p99 (ms)")
        .series(Series::new("users", users).stepped())
        .series(Series::new("p99", p99).on_right())
        .threshold(Threshold::new("p99 SLO 200 ms", 80.0).on_right());
    chart::to_png(&c, &path).expect("png");
    std::fs::write(format!("{path}.svg"), chart::to_svg(&c)).expect("svg");
}
