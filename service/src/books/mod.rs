//! `/books`: a CRUD resource on a database every instance shares.
//!
//! - [`model`]: the pure rules (validation, patches, `ETag`/`If-Match`, pages, token).
//! - [`store`]: the one adapter to the database (sqlx `any`: SQLite or PostgreSQL).
//! - [`http`]: the routes and their status codes.
//!
//! [`Books`] holds the store, the write token's hash and the readiness the
//! [`watch`] loop keeps: it applies the migrations (retrying until they are
//! in), then pings the database every second (the SQLite file still the one
//! it found, the books table readable: see [`store::Store::ping`]). While the
//! database is not ready, `/readyz` is 503 and every `/books` request is
//! answered 503 with `Retry-After` at once rather than after a timeout; the
//! log line and the 503 say why (a missing file by its path, a corrupt one).
//! [`tls`] looks at a PostgreSQL URL's TLS settings before the first connection.

pub mod http;
pub mod model;
pub mod store;
pub mod tls;

use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use store::{Store, StoreError};

/// Shortest write token accepted, in bytes.
pub const MIN_TOKEN: usize = 16;

pub struct Books {
    store: Store,
    /// SHA-256 of the bearer token writes need; `None`: every write is 401.
    token: Option<[u8; 32]>,
    migrated: AtomicBool,
    ready: AtomicBool,
    /// Why the database is not ready (for `/readyz` and the 503s).
    why: Mutex<String>,
}

/// Why the books could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum BooksError {
    #[error("--books-token-file {}: {reason}", path.display())]
    Token {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("--books-db: {0}")]
    Store(#[from] StoreError),
    #[error("--books-db: {0}")]
    Url(String),
    #[error("--books-db sslrootcert {}: {reason}", path.display())]
    RootCert {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// The token in `path` (trimmed, at least [`MIN_TOKEN`] bytes), as its SHA-256.
pub fn load_token(path: &Path) -> Result<[u8; 32], BooksError> {
    use sha2::Digest;
    let bad = |reason: String| BooksError::Token {
        path: path.to_owned(),
        reason,
    };
    let text =
        proto::file::read_small(path, proto::file::SECRET_LIMIT).map_err(|e| bad(e.to_string()))?;
    let token = text.trim_ascii();
    if token.len() < MIN_TOKEN {
        return Err(bad(format!("the token must be at least {MIN_TOKEN} bytes")));
    }
    Ok(sha2::Sha256::digest(token).into())
}

impl Books {
    pub fn open(
        url: &str,
        pool: u32,
        timeout: Duration,
        token: Option<[u8; 32]>,
    ) -> Result<Books, BooksError> {
        let env = |name| std::env::var(name).ok();
        let (mode, root) = (env("PGSSLMODE"), env("PGSSLROOTCERT"));
        if let Some(tls) = tls::PgTls::of(url, mode.as_deref(), root.as_deref()) {
            tls.check_mode().map_err(BooksError::Url)?;
            if let Some(path) = &tls.root_cert {
                tls::check_root_cert(path).map_err(|reason| BooksError::RootCert {
                    path: path.clone(),
                    reason,
                })?;
            }
            if let Some(warning) = tls.warning() {
                tracing::warn!("{warning}");
            }
        }
        Ok(Books {
            store: Store::open(url, pool, timeout)?,
            token,
            migrated: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            why: Mutex::new("not checked yet".into()),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn token(&self) -> Option<&[u8; 32]> {
        self.token.as_ref()
    }

    /// Migrated and answering its pings.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Relaxed)
    }

    /// Why not ready.
    pub fn why_not_ready(&self) -> String {
        self.why.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, result: Result<(), StoreError>) {
        let was = self.ready.swap(result.is_ok(), Relaxed);
        match result {
            Ok(()) if !was => tracing::info!("books database ready"),
            Err(e) => {
                if was {
                    tracing::error!(error = %e, "books database lost: readiness off");
                } else {
                    tracing::warn!(error = %e, "books database not ready");
                }
                *self.why.lock().unwrap_or_else(|p| p.into_inner()) = e.to_string();
            }
            Ok(()) => {}
        }
    }
}

/// `check`, with a panic inside it (a driver's bug) turned into an error that `/readyz`
/// and the 503s show, rather than ending the watch with readiness never decided.
async fn guarded(
    check: impl std::future::Future<Output = Result<(), StoreError>>,
) -> Result<(), StoreError> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(check)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(StoreError::Unavailable(format!(
                "the database check panicked: {}",
                what.trim()
            )))
        })
}

/// Migrates, then pings every `every`, keeping [`Books::is_ready`]; returns on `stop`
/// (also while a call is in flight), after closing the pool.
pub async fn watch(books: Arc<Books>, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let check = async {
            if !books.migrated.load(Relaxed) {
                // Before connecting: a missing file is named, never created.
                books.store.check_file().await?;
                books.store.migrate().await?;
                books.migrated.store(true, Relaxed);
                tracing::info!(backend = ?books.store.backend(), "books migrations applied");
            }
            books.store.ping().await
        };
        let result = tokio::select! {
            () = stop.cancelled() => break,
            r = guarded(check) => r,
        };
        books.set(result);
    }
    books.ready.store(false, Relaxed);
    // Bounded: a connection stuck in a dead network must not hold the shutdown.
    let _ = tokio::time::timeout(Duration::from_secs(2), books.store.close()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_check_that_panics_is_an_error_naming_the_panic() {
        let e = guarded(async { panic!("no provider\n") })
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "database unavailable: the database check panicked: no provider"
        );
        let n = 3;
        let e = guarded(async move { panic!("{n} left") })
            .await
            .unwrap_err();
        assert!(e.to_string().ends_with("panicked: 3 left"), "{e}");
        assert!(guarded(async { Ok(()) }).await.is_ok());
    }
}
