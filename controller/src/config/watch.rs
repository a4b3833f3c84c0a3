//! Reloading the config file when it changes: [`ConfigWatch::poll`], called once per tick,
//! compares the file's modification time (and length) with the last seen and, when either
//! moved, reads and validates it again. A file that does not load is reported and the
//! running config kept; the same broken file is not reported again until it changes.

use std::path::PathBuf;
use std::time::SystemTime;

use super::{Config, ConfigError, Overrides};

#[derive(Debug, Clone)]
pub struct ConfigWatch {
    path: PathBuf,
    overrides: Overrides,
    seen: Option<(SystemTime, u64)>,
}

impl ConfigWatch {
    /// Watches `path`, as of now (the config just loaded from it is the current one).
    pub fn new(path: PathBuf, overrides: Overrides) -> Self {
        let seen = stamp(&path);
        Self {
            path,
            overrides,
            seen,
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// `None` while the file is unchanged (or unreadable, which is reported once by
    /// the load when it changes); the freshly loaded config or its error when it changed.
    pub fn poll(&mut self) -> Option<Result<Config, ConfigError>> {
        let now = stamp(&self.path);
        if now.is_none() || now == self.seen {
            return None;
        }
        self.seen = now;
        Some(Config::load(&self.path, &self.overrides).and_then(Config::load_report_key))
    }
}

fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_a_change_once_and_keeps_quiet_otherwise() {
        let dir = std::env::temp_dir().join(format!("hf-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(&path, "[group]\nmin_size = 1\nmax_size = 3\n").unwrap();
        let mut w = ConfigWatch::new(path.clone(), Overrides::default());
        assert!(w.poll().is_none(), "unchanged");
        // Another length: a change even within the file system's mtime granularity.
        std::fs::write(&path, "[group]\nmin_size = 1\nmax_size = 4\n\n").unwrap();
        let c = w.poll().expect("changed").expect("valid");
        assert_eq!(c.group.max_size(), 4);
        assert!(w.poll().is_none(), "reported once");
        std::fs::write(&path, "[group]\nmin_size = 1\n").unwrap();
        let e = w.poll().expect("changed").unwrap_err();
        assert!(e.to_string().contains("max_size"), "{e}");
        assert!(w.poll().is_none(), "a broken file is reported once");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
