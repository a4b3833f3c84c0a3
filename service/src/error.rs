//! The library's error type.

use std::path::PathBuf;

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot open the log file {}: {source}", path.display())]
    LogFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the log spool: {0}")]
    Spool(#[from] crate::shipper::spool::SpoolError),
    #[error("cannot install the signal handlers: {0}")]
    Signal(std::io::Error),
    #[error(transparent)]
    Books(#[from] crate::books::BooksError),
    #[error("--report-key-file {}: {reason}", path.display())]
    ReportKey { path: PathBuf, reason: String },
}
