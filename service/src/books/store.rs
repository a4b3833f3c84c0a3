//! The books table behind sqlx's `any` driver: SQLite (`sqlite://PATH`, WAL,
//! a busy timeout) or PostgreSQL (`postgres://…`), the same SQL for both
//! (`$N` parameters, `RETURNING`). Every call is bounded by the store's
//! timeout; the pool connects lazily, so an unreachable database is an error
//! per call (and readiness off, see `super::watch`), never a failed start.
//!
//! Each write is one statement, so no row is ever half-written: a conditional
//! `UPDATE … WHERE id = $ AND version IN (…)` is how `If-Match` is honoured
//! without a read-then-write race.

use std::borrow::Cow;
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
}

fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict("another book has this isbn".into())
        }
        _ => StoreError::Unavailable(e.to_string()),
    }
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
}

const COLUMNS: &str = "id, title, author, year, isbn, version";

impl Store {
    /// A lazily connecting pool of at most `pool_size` connections; each call
    /// (acquiring a connection included) takes at most `timeout`.
    pub fn open(url: &str, pool_size: u32, timeout: Duration) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url).ok_or_else(|| {
            StoreError::Unavailable("the URL must start with sqlite: or postgres://".into())
        })?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
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
            Ok(r) => r.map_err(|e| StoreError::Unavailable(format!("migration: {e}"))),
            Err(_) => Err(StoreError::Unavailable(
                "migration: no answer in time".into(),
            )),
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.bounded(async { sqlx::query("SELECT 1").execute(&self.pool).await.map(drop) })
            .await
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
}
