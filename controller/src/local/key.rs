//! The report key of a `controller up` run: the configured one (`reports.key_file` /
//! `reports.key_env`) or a fresh random one per run, handed to the instances as a 0600 file in
//! the data dir (`REPORT_KEY_FILE` in their environment; never on a command line, which `ps`
//! shows).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use proto::sign::ReportKey;
use rand::Rng;

use crate::config::Config;

/// File name of the run's key in the data dir.
pub const KEY_FILE_NAME: &str = "report.key";

/// `config` with the key loaded or made (`reports.key`), and the file the instances read it
/// from: `reports.key_file` as configured, else `data_dir/report.key` (written 0600).
pub fn prepare(config: Config, data_dir: &Path) -> Result<(Config, PathBuf), KeyFileError> {
    let config = config
        .load_report_key()
        .map_err(|e| KeyFileError::Config(e.to_string()))?;
    let reports = config.reports();
    if let (Some(path), Some(_)) = (reports.key_file(), reports.key()) {
        let path = path.to_path_buf();
        return Ok((config, path));
    }
    let text = match reports.key() {
        Some(_) => std::env::var(reports.key_env().unwrap_or_default())
            .map_err(|e| KeyFileError::Config(e.to_string()))?,
        None => random_key_text(),
    };
    let key = ReportKey::from_text(&text).map_err(|e| KeyFileError::Config(e.to_string()))?;
    let path = data_dir.join(KEY_FILE_NAME);
    write_private(&path, text.trim()).map_err(|source| KeyFileError::Write {
        path: path.clone(),
        source,
    })?;
    Ok((config.with_report_key(key), path))
}

/// File name of the run's books write token in the data dir.
pub const BOOKS_TOKEN_FILE_NAME: &str = "books.token";

/// A fresh books write token for this run, written 0600 to `data_dir/books.token`
/// (the instances get the file's path, never the token): the file and the token.
pub fn books_token(data_dir: &Path) -> Result<(PathBuf, String), KeyFileError> {
    let token = random_key_text();
    let path = data_dir.join(BOOKS_TOKEN_FILE_NAME);
    write_private(&path, &token).map_err(|source| KeyFileError::Write {
        path: path.clone(),
        source,
    })?;
    Ok((path, token))
}

/// 32 random bytes from the OS-seeded CSPRNG, as 64 hex digits.
pub fn random_key_text() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `text` to `path`, readable by this user only (0600, also when it existed).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("the report key: {0}")]
    Config(String),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_fresh_key_per_run_is_written_0600_and_loaded() {
        let dir = std::env::temp_dir().join(format!("hf-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (config, path) = prepare(Config::local_default(), &dir).unwrap();
        assert_eq!(path, dir.join(KEY_FILE_NAME));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            config.reports().key(),
            Some(&ReportKey::from_text(&text).unwrap())
        );
        // Another run, another key.
        let (again, _) = prepare(Config::local_default(), &dir).unwrap();
        assert_ne!(again.reports().key(), config.reports().key());
        assert_eq!(random_key_text().len(), 64);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
