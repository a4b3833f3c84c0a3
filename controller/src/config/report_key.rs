//! `[reports]` signing fields: where the shared report key comes from, and reading it.
//!
//! Validation is pure ([`validate`]); `ReportsConfig::load_key` (called by
//! [`super::Config::load_report_key`]) is the one place that reads the key (a file or an
//! environment variable), before the daemon starts.

use std::path::PathBuf;
use std::time::Duration;

use proto::sign::ReportKey;

use super::{ConfigError, ReportsConfig, duration, file::ReportsFile, invalid};

/// `(key_file, key_env, max_clock_skew)` of `[reports]`, checked.
pub(super) fn validate(
    r: &ReportsFile,
) -> Result<(Option<PathBuf>, Option<String>, Duration), ConfigError> {
    if r.key_file.is_some() && r.key_env.is_some() {
        return Err(invalid(
            "reports.key_env",
            "set either reports.key_file or reports.key_env, not both",
        ));
    }
    let key_file = match r.key_file.as_deref() {
        Some("") => return Err(invalid("reports.key_file", "is empty")),
        other => other.map(PathBuf::from),
    };
    let key_env = match r.key_env.as_deref() {
        Some(name) if name.is_empty() || name.contains(['=', '\0']) => {
            return Err(invalid(
                "reports.key_env",
                format!("{name:?} is not an environment variable name"),
            ));
        }
        other => other.map(str::to_owned),
    };
    let skew = match &r.max_clock_skew {
        Some(s) => duration("reports.max_clock_skew", s)?,
        None => super::defaults::MAX_CLOCK_SKEW,
    };
    if skew < Duration::from_secs(1) || skew > Duration::from_secs(600) {
        return Err(invalid(
            "reports.max_clock_skew",
            format!("{skew:?} is outside [1s, 10m]"),
        ));
    }
    Ok((key_file, key_env, skew))
}

impl ReportsConfig {
    /// Reads the key named by `key_file` or `key_env` into `key`. Neither set: `key` stays as
    /// is (`controller up` then makes one). Errors name the field. Outside this module:
    /// [`super::Config::load_report_key`].
    pub(super) fn load_key(&mut self) -> Result<(), ConfigError> {
        let (field, text) = if let Some(path) = &self.key_file {
            let text = proto::file::read_small_to_string(path, proto::file::SECRET_LIMIT).map_err(
                |e| {
                    invalid(
                        "reports.key_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                },
            )?;
            warn_if_readable_by_others(path);
            ("reports.key_file", text)
        } else if let Some(name) = &self.key_env {
            let text = std::env::var(name)
                .map_err(|e| invalid("reports.key_env", format!("${name}: {e}")))?;
            ("reports.key_env", text)
        } else {
            return Ok(());
        };
        self.key = Some(ReportKey::from_text(&text).map_err(|e| invalid(field, e))?);
        Ok(())
    }

    /// The key must be there when signatures are required.
    pub fn check_key(&self) -> Result<(), ConfigError> {
        if self.require_signature && self.key.is_none() {
            return Err(invalid(
                "reports.key_file",
                "signatures are required (reports.require_signature) but no key is configured: \
                 set reports.key_file or reports.key_env",
            ));
        }
        Ok(())
    }
}

fn warn_if_readable_by_others(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "the report key file is readable by other users; chmod 600 it"
        );
    }
}
