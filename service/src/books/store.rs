//! The books table behind sqlx's `any` driver: SQLite (`sqlite://PATH`, WAL,
//! a busy timeout) or PostgreSQL (`postgres://…`), the same SQL for both
//! (`$N` parameters, `RETURNING`). Every call is bounded by the store's
//! timeout; the pool connects lazily, so an unreachable database is an error
//! per call (and readiness off, see `super::watch`), never a failed start.
//!
//! The store never creates the SQLite file unless the URL says so
//! (`?mode=rwc`): with instances sharing one file, a file moved or deleted
//! under a running fleet must not become a fresh empty database on the next
//! instance (two databases, colliding ids). `controller up` creates it once.
//! [`Store::ping`] checks that the path still names the file the store first
//! found there (device and inode) and reads the books table, so a missing,
//! replaced or corrupt file turns readiness off, naming the path or the damage.
//!
//! Each write is one statement, so no row is ever half-written: a conditional
//! `UPDATE … WHERE id = $ AND version IN (…)` is how `If-Match` is honoured
//! without a read-then-write race.

use std::borrow::Cow;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row};

use super::model::{Book, Fields, Precondition};

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    fn migration(self) -> &'static str {
        match self {
            Backend::Sqlite => include_str!("migrations/sqlite.sql"),
            Backend::Postgres => include_str!("migrations/postgres.sql"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database did not answer in time, or refused, or the pool is exhausted: 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique constraint (the isbn): 409.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database file is damaged (no retry helps): 500, readiness off.
    #[error("the database is corrupt: {0}")]
    Corrupt(String),
}

fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict("another book has this isbn".into())
        }
        sqlx::Error::Database(db) if is_corrupt(db.code().as_deref(), db.message()) => {
            StoreError::Corrupt(db.message().to_owned())
        }
        _ => unavailable_or_corrupt(e.to_string()),
    }
}

/// SQLite's `SQLITE_CORRUPT` (11) and `SQLITE_NOTADB` (26), extended codes
/// included; PostgreSQL's `data_corrupted` and `index_corrupted`; or their messages.
fn is_corrupt(code: Option<&str>, message: &str) -> bool {
    let by_code = match code {
        Some("XX001" | "XX002") => true,
        Some(c) => c.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 11 | 26)),
        None => false,
    };
    let m = message.to_ascii_lowercase();
    by_code || m.contains("file is not a database") || m.contains("disk image is malformed")
}

/// An error known only by its text (a pool's connect, a migration's).
fn unavailable_or_corrupt(message: String) -> StoreError {
    if is_corrupt(None, &message) {
        StoreError::Corrupt(message)
    } else {
        StoreError::Unavailable(message)
    }
}

/// Makes ring rustls's process-wide crypto provider (once; later calls do nothing).
///
/// Both of rustls's providers are compiled in (ring for sqlx, aws-lc-rs for the AWS
/// SDK), so rustls cannot pick one by itself, and sqlx 0.8's `sslmode=verify-ca` path
/// asks for the process default (`WebPkiServerVerifier::builder`): without this, a
/// PostgreSQL connection with verify-ca panics there.
fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The file a `sqlite:` URL names (`sqlite://PATH?…` or `sqlite:PATH?…`); `None`
/// for an in-memory database or another backend.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let memory = path.is_empty() || path == ":memory:" || query.contains("mode=memory");
    (!memory).then(|| PathBuf::from(path))
}

/// What a conditional write found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Done; the new version (0 after a delete).
    Done(i64),
    Missing,
    /// The book exists at another version than `If-Match` asked for.
    Stale,
}

pub struct Store {
    pool: AnyPool,
    backend: Backend,
    timeout: Duration,
    /// The SQLite file, and its (device, inode) when first found.
    file: Option<PathBuf>,
    /// The URL says `mode=rwc`: the first connection creates the file.
    create: bool,
    identity: Mutex<Option<(u64, u64)>>,
}

const COLUMNS: &str = "id, title, author, year, isbn, version";

impl Store {
    /// A lazily connecting pool of at most `pool_size` connections; each call
    /// (acquiring a connection included) takes at most `timeout`. A SQLite URL
    /// without `mode=` opens the file read-write without creating it (`mode=rw`).
    pub fn open(url: &str, pool_size: u32, timeout: Duration) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        install_tls_provider();
        let backend = Backend::of(url).ok_or_else(|| {
            StoreError::Unavailable("the URL must start with sqlite: or postgres://".into())
        })?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rw")
            }
            _ => url.to_owned(),
        };
        let busy_ms = timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(pool_size)
            .min_connections(0)
            .acquire_timeout(timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers never block the one writer; every local instance
                        // shares the file, so a writer waits (busy timeout) for another's.
                        // The timeout first: switching to WAL may itself wait for a lock.
                        conn.execute(format!("PRAGMA busy_timeout = {busy_ms}").as_str())
                            .await?;
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    } else {
                        conn.execute(format!("SET statement_timeout = {busy_ms}").as_str())
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_lazy(&url)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Store {
            pool,
            backend,
            timeout,
            file: sqlite_file(&url),
            create: url.contains("mode=rwc"),
            identity: Mutex::new(None),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn bounded<T>(
        &self,
        f: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r.map_err(classify),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }

    /// Applies the migrations not applied yet (idempotent; safe from several instances).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = Migrator {
            migrations: Cow::Owned(vec![Migration::new(
                1,
                Cow::Borrowed("books"),
                MigrationType::Simple,
                Cow::Borrowed(self.backend.migration()),
                false,
            )]),
            ignore_missing: false,
            locking: true,
            no_tx: false,
        };
        let run = async { migrator.run(&self.pool).await.map_err(sqlx::Error::from) };
        // Migrations may wait on another instance's lock: twice the call bound.
        match tokio::time::timeout(self.timeout * 2, run).await {
            Ok(r) => r.map_err(|e| unavailable_or_corrupt(format!("migration: {e}"))),
            Err(_) => Err(StoreError::Unavailable(
                "migration: no answer in time".into(),
            )),
        }
    }

    /// The SQLite file is still there and the same file; the books table reads.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.check_file().await?;
        self.bounded(async {
            // The table itself (its root page and first leaf), not a covering index:
            // O(1), and a damaged table or schema fails it.
            sqlx::query("SELECT id, version FROM books ORDER BY id LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map(drop)
        })
        .await
    }

    /// The SQLite file exists and is the one first found at its path (a file
    /// moved away and another put there, or none: an error naming the path).
    pub async fn check_file(&self) -> Result<(), StoreError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let meta = match tokio::time::timeout(self.timeout, tokio::fs::metadata(path)).await {
            Ok(Ok(m)) => m,
            // Asked to create it, and not seen yet: the first connection will.
            Ok(Err(e))
                if self.create
                    && e.kind() == std::io::ErrorKind::NotFound
                    && self.identity.lock().is_ok_and(|k| k.is_none()) =>
            {
                return Ok(());
            }
            Ok(Err(e)) => {
                return Err(StoreError::Unavailable(format!(
                    "the database file {}: {e} (the service does not create it: \
                     `controller up` does; or add ?mode=rwc to the URL)",
                    path.display()
                )));
            }
            Err(_) => {
                return Err(StoreError::Unavailable(format!(
                    "the database file {}: no answer within {:?}",
                    path.display(),
                    self.timeout
                )));
            }
        };
        let now = (meta.dev(), meta.ino());
        let mut known = self.identity.lock().unwrap_or_else(|p| p.into_inner());
        match *known {
            None => *known = Some(now),
            Some(first) if first != now => {
                return Err(StoreError::Unavailable(format!(
                    "the database file {} was replaced since this instance opened it \
                     (moved or deleted, and another put there): restart the instance",
                    path.display()
                )));
            }
            Some(_) => {}
        }
        Ok(())
    }

    pub async fn get(&self, id: i64) -> Result<Option<Book>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM books WHERE id = $1");
        let row = self
            .bounded(sqlx::query(&sql).bind(id).fetch_optional(&self.pool))
            .await?;
        row.map(|r| book(&r)).transpose().map_err(classify)
    }

    /// Up to `limit` books with ids above `after`, by id.
    pub async fn list(&self, after: i64, limit: i64) -> Result<Vec<Book>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM books WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = self
            .bounded(
                sqlx::query(&sql)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool),
            )
            .await?;
        rows.iter()
            .map(book)
            .collect::<Result<_, _>>()
            .map_err(classify)
    }

    pub async fn insert(&self, f: &Fields) -> Result<Book, StoreError> {
        let q = sqlx::query(
            "INSERT INTO books (title, author, year, isbn) VALUES ($1, $2, $3, $4) \
             RETURNING id, version",
        )
        .bind(f.title.clone())
        .bind(f.author.clone())
        .bind(f.year)
        .bind(f.isbn.clone());
        let row = self.bounded(q.fetch_one(&self.pool)).await?;
        Ok(Book {
            id: row.try_get("id").map_err(classify)?,
            version: row.try_get("version").map_err(classify)?,
            fields: f.clone(),
        })
    }

    /// Replaces the fields of book `id` if `pre` allows its current version.
    pub async fn update(
        &self,
        id: i64,
        f: &Fields,
        pre: &Precondition,
    ) -> Result<Written, StoreError> {
        let sql = format!(
            "UPDATE books SET title = $1, author = $2, year = $3, isbn = $4, \
             version = version + 1 WHERE id = $5{} RETURNING version",
            version_clause(pre, 6)
        );
        let mut q = sqlx::query(&sql)
            .bind(f.title.clone())
            .bind(f.author.clone())
            .bind(f.year)
            .bind(f.isbn.clone())
            .bind(id);
        if let Precondition::Versions(vs) = pre {
            for v in vs {
                q = q.bind(*v);
            }
        }
        match self.bounded(q.fetch_optional(&self.pool)).await? {
            Some(row) => Ok(Written::Done(row.try_get("version").map_err(classify)?)),
            None => self.why_not(id).await,
        }
    }

    pub async fn delete(&self, id: i64, pre: &Precondition) -> Result<Written, StoreError> {
        let sql = format!("DELETE FROM books WHERE id = $1{}", version_clause(pre, 2));
        let mut q = sqlx::query(&sql).bind(id);
        if let Precondition::Versions(vs) = pre {
            for v in vs {
                q = q.bind(*v);
            }
        }
        let done = self.bounded(q.execute(&self.pool)).await?;
        if done.rows_affected() > 0 {
            return Ok(Written::Done(0));
        }
        self.why_not(id).await
    }

    /// After a conditional write changed nothing: was the book missing or at another version?
    async fn why_not(&self, id: i64) -> Result<Written, StoreError> {
        let q = sqlx::query("SELECT version FROM books WHERE id = $1").bind(id);
        Ok(match self.bounded(q.fetch_optional(&self.pool)).await? {
            Some(_) => Written::Stale,
            None => Written::Missing,
        })
    }

    /// Closes the pool's connections (waits for those in use to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// ` AND version IN ($first, …)` for a version list; nothing otherwise.
fn version_clause(pre: &Precondition, first: usize) -> String {
    match pre {
        Precondition::Versions(vs) if vs.is_empty() => " AND 1 = 0".into(),
        Precondition::Versions(vs) => {
            let ps: Vec<String> = (0..vs.len()).map(|i| format!("${}", first + i)).collect();
            format!(" AND version IN ({})", ps.join(", "))
        }
        Precondition::None | Precondition::Exists => String::new(),
    }
}

fn book(r: &AnyRow) -> Result<Book, sqlx::Error> {
    Ok(Book {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        fields: Fields {
            title: r.try_get("title")?,
            author: r.try_get("author")?,
            year: r.try_get("year")?,
            isbn: r.try_get("isbn")?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_and_version_clauses() {
        assert_eq!(Backend::of("sqlite:///tmp/b.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of("postgres://u@h/db"), Some(Backend::Postgres));
        assert_eq!(Backend::of("postgresql://u@h/db"), Some(Backend::Postgres));
        assert_eq!(Backend::of("mysql://h/db"), None);
        assert_eq!(version_clause(&Precondition::None, 6), "");
        assert_eq!(version_clause(&Precondition::Exists, 6), "");
        assert_eq!(
            version_clause(&Precondition::Versions(vec![1, 2]), 6),
            " AND version IN ($6, $7)"
        );
        assert_eq!(
            version_clause(&Precondition::Versions(vec![]), 2),
            " AND 1 = 0"
        );
    }

    #[test]
    fn sqlite_files_and_corruption() {
        let f = |u: &str| sqlite_file(u).map(|p| p.display().to_string());
        assert_eq!(
            f("sqlite:///d/b.sqlite?mode=rw").as_deref(),
            Some("/d/b.sqlite")
        );
        assert_eq!(f("sqlite://rel/b.sqlite").as_deref(), Some("rel/b.sqlite"));
        assert_eq!(f("sqlite:b.sqlite").as_deref(), Some("b.sqlite"));
        assert_eq!(f("sqlite::memory:"), None);
        assert_eq!(f("sqlite://x?mode=memory"), None);
        assert_eq!(f("postgres://u@h/db"), None);
        assert!(is_corrupt(Some("26"), "file is not a database"));
        assert!(is_corrupt(Some("779"), "x"));
        assert!(is_corrupt(Some("XX001"), "x"));
        assert!(is_corrupt(
            None,
            "error returned from database: (code: 11) database disk image is malformed"
        ));
        assert!(!is_corrupt(Some("5"), "database is locked"));
        assert!(!is_corrupt(Some("23505"), "duplicate key"));
        assert!(matches!(
            unavailable_or_corrupt("migration: file is not a database".into()),
            StoreError::Corrupt(_)
        ));
    }
}
