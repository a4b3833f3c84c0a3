//! Request counters, the latency histogram and the Prometheus text rendering.
//! Lock-free (atomics); rendering is pure over a snapshot.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// The route a request is counted under (a fixed set: label cardinality stays bounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteLabel {
    Hello,
    Repeat,
    Factorial,
    /// `/books` and `/books/{id}`.
    Books,
    Healthz,
    Readyz,
    Metrics,
    Load,
    Other,
}

impl RouteLabel {
    pub const ALL: [RouteLabel; 9] = [
        RouteLabel::Hello,
        RouteLabel::Repeat,
        RouteLabel::Factorial,
        RouteLabel::Books,
        RouteLabel::Healthz,
        RouteLabel::Readyz,
        RouteLabel::Metrics,
        RouteLabel::Load,
        RouteLabel::Other,
    ];

    pub fn of(path: &str) -> RouteLabel {
        match path {
            "/hello" => RouteLabel::Hello,
            "/repeat" => RouteLabel::Repeat,
            crate::factorial::PATH => RouteLabel::Factorial,
            "/books" => RouteLabel::Books,
            p if p.starts_with("/books/") => RouteLabel::Books,
            "/healthz" => RouteLabel::Healthz,
            "/readyz" => RouteLabel::Readyz,
            "/metrics" => RouteLabel::Metrics,
            proto::LOAD_REPORT_PATH => RouteLabel::Load,
            _ => RouteLabel::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RouteLabel::Hello => "/hello",
            RouteLabel::Repeat => "/repeat",
            RouteLabel::Factorial => crate::factorial::PATH,
            RouteLabel::Books => "/books",
            RouteLabel::Healthz => "/healthz",
            RouteLabel::Readyz => "/readyz",
            RouteLabel::Metrics => "/metrics",
            RouteLabel::Load => proto::LOAD_REPORT_PATH,
            RouteLabel::Other => "other",
        }
    }

    /// User traffic, as opposed to probes and scrapes: only traffic tracks
    /// users and counts towards `requests_total` and `in_flight` in the load report.
    pub fn is_traffic(self) -> bool {
        matches!(
            self,
            RouteLabel::Hello
                | RouteLabel::Repeat
                | RouteLabel::Factorial
                | RouteLabel::Books
                | RouteLabel::Other
        )
    }
}

/// Upper bounds of the latency histogram buckets, in seconds.
pub const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
const ROUTES: usize = RouteLabel::ALL.len();
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

#[derive(Default)]
struct RouteStats {
    by_class: [AtomicU64; 5],
    /// Non-cumulative counts per bucket; the last slot is +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

#[derive(Default)]
pub struct Metrics {
    routes: [RouteStats; ROUTES],
    traffic_total: AtomicU64,
    traffic_in_flight: AtomicU64,
    conn: ConnCounters,
}

/// Connection events counted by the server (`server.rs`).
#[derive(Default)]
struct ConnCounters {
    proxy_refused: AtomicU64,
    closed_by_age: AtomicU64,
    closed_by_count: AtomicU64,
}

impl Metrics {
    /// A request on `route` begins: traffic counts as in flight until [`Metrics::leave`].
    pub fn enter(&self, route: RouteLabel) {
        if route.is_traffic() {
            self.traffic_in_flight.fetch_add(1, Relaxed);
        }
    }

    /// The request [`Metrics::enter`] counted has ended (answered or cancelled).
    pub fn leave(&self, route: RouteLabel) {
        if route.is_traffic() {
            self.traffic_in_flight.fetch_sub(1, Relaxed);
        }
    }

    pub fn record(&self, route: RouteLabel, status: u16, elapsed: Duration) {
        let stats = &self.routes[route as usize];
        let class = usize::from((status / 100).clamp(1, 5) - 1);
        stats.by_class[class].fetch_add(1, Relaxed);
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        stats.buckets[slot].fetch_add(1, Relaxed);
        stats.sum_ns.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
        if route.is_traffic() {
            self.traffic_total.fetch_add(1, Relaxed);
        }
    }

    /// Requests completed since start on `route`, every status.
    pub fn route_total(&self, route: RouteLabel) -> u64 {
        self.routes[route as usize]
            .by_class
            .iter()
            .map(|c| c.load(Relaxed))
            .sum()
    }

    /// The load report's per-family counters.
    pub fn families(&self) -> proto::Families {
        proto::Families {
            hello: self.route_total(RouteLabel::Hello),
            repeat: self.route_total(RouteLabel::Repeat),
            factorial: self.route_total(RouteLabel::Factorial),
            books: self.route_total(RouteLabel::Books),
        }
    }

    /// Traffic requests completed since start.
    pub fn traffic_total(&self) -> u64 {
        self.traffic_total.load(Relaxed)
    }

    /// Traffic requests being served now.
    pub fn traffic_in_flight(&self) -> u64 {
        self.traffic_in_flight.load(Relaxed)
    }

    /// A connection closed for a missing or malformed PROXY header.
    pub fn proxy_refused(&self) {
        self.conn.proxy_refused.fetch_add(1, Relaxed);
    }

    /// A response told its connection to close: past its age (`by_age`) or its request count.
    pub fn lifetime_close(&self, by_age: bool) {
        let c = &self.conn;
        let n = if by_age {
            &c.closed_by_age
        } else {
            &c.closed_by_count
        };
        n.fetch_add(1, Relaxed);
    }

    /// Connections closed for a missing or malformed PROXY header, since start.
    pub fn proxy_refused_total(&self) -> u64 {
        self.conn.proxy_refused.load(Relaxed)
    }

    /// Requests by route and status class (for tests and the report).
    pub fn requests(&self, route: RouteLabel, class: usize) -> u64 {
        self.routes[route as usize].by_class[class].load(Relaxed)
    }
}

/// Gauges and counters owned by others, rendered with the request metrics.
pub struct Extra<'a> {
    pub instance_id: &'a str,
    pub uptime: Duration,
    pub draining: bool,
    pub concurrent_users: u64,
    pub tracked_users: u64,
    pub user_evictions: u64,
    pub active_window: Duration,
    pub log: proto::LogCounters,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn render_connections(o: &mut String, m: &Metrics) {
    family(
        o,
        "hellofleet_proxy_header_refused_total",
        "counter",
        "Connections from a trusted source closed for a missing or malformed PROXY v2 header.",
    );
    let c = &m.conn;
    let _ = writeln!(
        o,
        "hellofleet_proxy_header_refused_total {}",
        c.proxy_refused.load(Relaxed)
    );
    family(
        o,
        "hellofleet_connections_ended_total",
        "counter",
        "Connections told to close by their age or request-count limit.",
    );
    for (reason, n) in [("age", &c.closed_by_age), ("requests", &c.closed_by_count)] {
        let _ = writeln!(
            o,
            "hellofleet_connections_ended_total{{reason=\"{reason}\"}} {}",
            n.load(Relaxed)
        );
    }
}

/// Prometheus text exposition format 0.0.4.
pub fn render(m: &Metrics, x: &Extra<'_>) -> String {
    let mut o = String::with_capacity(8 * 1024);
    family(
        &mut o,
        "hellofleet_info",
        "gauge",
        "Constant 1, labelled with the instance id.",
    );
    let _ = writeln!(o, "hellofleet_info{{instance_id=\"{}\"}} 1", x.instance_id);
    family(
        &mut o,
        "hellofleet_uptime_seconds",
        "gauge",
        "Seconds since the process started.",
    );
    let _ = writeln!(o, "hellofleet_uptime_seconds {:.3}", x.uptime.as_secs_f64());
    family(
        &mut o,
        "hellofleet_draining",
        "gauge",
        "1 once SIGTERM was received.",
    );
    let _ = writeln!(o, "hellofleet_draining {}", u8::from(x.draining));

    family(
        &mut o,
        "hellofleet_requests_total",
        "counter",
        "Requests completed, by route and status class.",
    );
    for route in RouteLabel::ALL {
        for (i, class) in CLASSES.iter().enumerate() {
            let n = m.requests(route, i);
            if n > 0 {
                let _ = writeln!(
                    o,
                    "hellofleet_requests_total{{route=\"{}\",status=\"{class}\"}} {n}",
                    route.as_str()
                );
            }
        }
    }
    family(
        &mut o,
        "hellofleet_request_duration_seconds",
        "histogram",
        "Request latency, by route.",
    );
    for route in RouteLabel::ALL {
        let stats = &m.routes[route as usize];
        let mut cumulative = 0u64;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += stats.buckets[i].load(Relaxed);
            let _ = writeln!(
                o,
                "hellofleet_request_duration_seconds_bucket{{route=\"{}\",le=\"{bound}\"}} {cumulative}",
                route.as_str()
            );
        }
        cumulative += stats.buckets[BUCKETS.len()].load(Relaxed);
        let r = route.as_str();
        let _ = writeln!(
            o,
            "hellofleet_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {cumulative}"
        );
        let sum = stats.sum_ns.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(
            o,
            "hellofleet_request_duration_seconds_sum{{route=\"{r}\"}} {sum}"
        );
        let _ = writeln!(
            o,
            "hellofleet_request_duration_seconds_count{{route=\"{r}\"}} {cumulative}"
        );
    }
    family(
        &mut o,
        "hellofleet_in_flight_requests",
        "gauge",
        "Traffic requests being served.",
    );
    let _ = writeln!(o, "hellofleet_in_flight_requests {}", m.traffic_in_flight());
    render_connections(&mut o, m);
    family(
        &mut o,
        "hellofleet_concurrent_users",
        "gauge",
        "Users with a request within the active window.",
    );
    let _ = writeln!(o, "hellofleet_concurrent_users {}", x.concurrent_users);
    family(
        &mut o,
        "hellofleet_tracked_users",
        "gauge",
        "Users held in memory (active or not yet pruned).",
    );
    let _ = writeln!(o, "hellofleet_tracked_users {}", x.tracked_users);
    family(
        &mut o,
        "hellofleet_user_evictions_total",
        "counter",
        "Active users forgotten because the tracker was full.",
    );
    let _ = writeln!(o, "hellofleet_user_evictions_total {}", x.user_evictions);
    family(
        &mut o,
        "hellofleet_active_window_seconds",
        "gauge",
        "The concurrent-user window.",
    );
    let _ = writeln!(
        o,
        "hellofleet_active_window_seconds {}",
        x.active_window.as_secs_f64()
    );

    let l = &x.log;
    for (name, kind, help, v) in [
        (
            "hellofleet_log_events_enqueued_total",
            "counter",
            "Log events handed to the shipper.",
            l.enqueued,
        ),
        (
            "hellofleet_log_events_shipped_total",
            "counter",
            "Log events accepted by the sink.",
            l.shipped,
        ),
        (
            "hellofleet_log_events_queued",
            "gauge",
            "Log events waiting or being sent.",
            l.queued,
        ),
        (
            "hellofleet_log_events_dropped_total",
            "counter",
            "Log events dropped on a full queue (drop mode).",
            l.dropped,
        ),
        (
            "hellofleet_log_events_rejected_total",
            "counter",
            "Log events refused by the sink or over 1 MB.",
            l.rejected,
        ),
        (
            "hellofleet_log_batches_retried_total",
            "counter",
            "Batch sends retried after a transient error.",
            l.retried,
        ),
        (
            "hellofleet_log_batches_retried_unknown_total",
            "counter",
            "Of those, retries after an unknown outcome (sent, no answer): possible copies, recognisable by event id.",
            l.retried_unknown,
        ),
        (
            "hellofleet_log_events_failed_total",
            "counter",
            "Log events given up on.",
            l.failed,
        ),
    ] {
        family(&mut o, name, kind, help);
        let _ = writeln!(o, "{name} {v}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_match() {
        let m = Metrics::default();
        m.record(RouteLabel::Hello, 200, Duration::from_micros(50));
        m.record(RouteLabel::Hello, 200, Duration::from_millis(3));
        m.record(RouteLabel::Hello, 404, Duration::from_secs(30));
        m.record(RouteLabel::Healthz, 200, Duration::from_micros(1));
        let text = render(
            &m,
            &Extra {
                instance_id: "i-1",
                uptime: Duration::from_secs(1),
                draining: false,
                concurrent_users: 2,
                tracked_users: 3,
                user_evictions: 0,
                active_window: Duration::from_secs(10),
                log: proto::LogCounters {
                    shipped: 7,
                    ..Default::default()
                },
            },
        );
        for line in [
            "hellofleet_requests_total{route=\"/hello\",status=\"2xx\"} 2",
            "hellofleet_requests_total{route=\"/hello\",status=\"4xx\"} 1",
            "hellofleet_request_duration_seconds_bucket{route=\"/hello\",le=\"0.0001\"} 1",
            "hellofleet_request_duration_seconds_bucket{route=\"/hello\",le=\"0.005\"} 2",
            "hellofleet_request_duration_seconds_bucket{route=\"/hello\",le=\"5\"} 2",
            "hellofleet_request_duration_seconds_bucket{route=\"/hello\",le=\"+Inf\"} 3",
            "hellofleet_request_duration_seconds_count{route=\"/hello\"} 3",
            "hellofleet_concurrent_users 2",
            "hellofleet_log_events_shipped_total 7",
            "hellofleet_info{instance_id=\"i-1\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        assert_eq!(m.traffic_total(), 3, "health probes are not traffic");
    }

    #[test]
    fn in_flight_counts_traffic_only() {
        let m = Metrics::default();
        m.enter(RouteLabel::Repeat);
        m.enter(RouteLabel::Load);
        assert_eq!(m.traffic_in_flight(), 1);
        m.leave(RouteLabel::Repeat);
        m.leave(RouteLabel::Load);
        assert_eq!(m.traffic_in_flight(), 0);
    }
}
