//! service's integration tests, one binary (every extra test binary re-links the workspace).

mod books_postgres;
mod books_postgres_tls;
mod books_sqlite;
mod books_sqlite_file;
mod clients;
mod common;
mod factorial;
mod moto;
mod router;
mod server;
mod spool;
mod spool_moto;
