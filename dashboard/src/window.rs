//! The chart window a page shows (`?window=5m`).

/// The windows a dashboard can show; the page links to each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Window {
    OneMinute,
    #[default]
    FiveMinutes,
    FifteenMinutes,
    OneHour,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("window `{0}` is not one of 1m, 5m, 15m, 1h")]
pub struct UnknownWindow(pub String);

impl Window {
    pub const ALL: [Window; 4] = [
        Window::OneMinute,
        Window::FiveMinutes,
        Window::FifteenMinutes,
        Window::OneHour,
    ];

    /// Parses the query value; a missing or empty value is the default (5m).
    pub fn parse(s: Option<&str>) -> Result<Window, UnknownWindow> {
        match s.map(str::trim) {
            None | Some("") => Ok(Window::default()),
            Some(v) => Window::ALL
                .into_iter()
                .find(|w| w.label() == v)
                .ok_or_else(|| UnknownWindow(v.to_string())),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Window::OneMinute => "1m",
            Window::FiveMinutes => "5m",
            Window::FifteenMinutes => "15m",
            Window::OneHour => "1h",
        }
    }

    pub fn millis(self) -> u64 {
        match self {
            Window::OneMinute => 60_000,
            Window::FiveMinutes => 300_000,
            Window::FifteenMinutes => 900_000,
            Window::OneHour => 3_600_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_label_and_defaults_to_five_minutes() {
        for w in Window::ALL {
            assert_eq!(Window::parse(Some(w.label())), Ok(w));
        }
        assert_eq!(Window::parse(None), Ok(Window::FiveMinutes));
        assert_eq!(Window::parse(Some("")), Ok(Window::FiveMinutes));
    }

    #[test]
    fn unknown_window_names_the_value() {
        let err = Window::parse(Some("2d")).unwrap_err();
        assert_eq!(err.to_string(), "window `2d` is not one of 1m, 5m, 15m, 1h");
    }
}
