//! What a `postgres://` books URL says about TLS, looked at before the first
//! connection (pure, but for [`check_root_cert`]'s read):
//!
//! - a root certificate file it names (`sslrootcert`) must hold PEM certificates,
//!   or the process stops at start naming it, rather than keeping `/readyz` off
//!   with a connection error later;
//! - a database on another host whose certificate is not checked (`sslmode`
//!   other than `verify-ca` / `verify-full`) gets a warning at start: the
//!   connection is encrypted, but anyone on the path can pose as the server.
//!
//! The names are sqlx's (`sslmode`/`ssl-mode`, `sslrootcert`/`ssl-root-cert`/
//! `ssl-ca`, `host` for a socket), and `PGSSLMODE`/`PGSSLROOTCERT` when the URL
//! is silent, as sqlx reads them.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The TLS settings of a PostgreSQL URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTls {
    /// The server's host name or address; empty for a Unix socket.
    pub host: String,
    /// Lower case; `prefer` (libpq's default) when neither the URL nor the environment says.
    pub mode: String,
    pub root_cert: Option<PathBuf>,
}

impl PgTls {
    /// The settings of `url`, with `PGSSLMODE` / `PGSSLROOTCERT` as `env_mode` / `env_root`;
    /// `None` for anything but a parsable `postgres://` (`postgresql://`) URL (the pool's
    /// own parse names what is wrong with it).
    pub fn of(url: &str, env_mode: Option<&str>, env_root: Option<&str>) -> Option<PgTls> {
        let parsed = url::Url::parse(url).ok()?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return None;
        }
        let mut host = parsed.host_str().unwrap_or("").to_owned();
        let mut mode = env_mode.map(str::to_owned);
        let mut root_cert = env_root.map(PathBuf::from);
        for (key, value) in parsed.query_pairs() {
            match &*key {
                "sslmode" | "ssl-mode" => mode = Some(value.into_owned()),
                "sslrootcert" | "ssl-root-cert" | "ssl-ca" => {
                    root_cert = Some(PathBuf::from(&*value));
                }
                "host" if value.starts_with('/') => host.clear(),
                "host" => host = value.into_owned(),
                _ => {}
            }
        }
        let mode = mode.map_or_else(|| "prefer".into(), |m| m.to_ascii_lowercase());
        Some(PgTls {
            host,
            mode,
            root_cert,
        })
    }

    /// The mode is one of libpq's (and sqlx's) six; else the message naming them.
    pub fn check_mode(&self) -> Result<(), String> {
        if MODES.contains(&self.mode.as_str()) {
            Ok(())
        } else {
            Err(format!(
                "sslmode={} is not one of {}",
                self.mode,
                MODES.join(", ")
            ))
        }
    }

    /// The server's certificate is checked (against `sslrootcert`, else the public roots).
    pub fn verifies(&self) -> bool {
        matches!(self.mode.as_str(), "verify-ca" | "verify-full")
    }

    /// A Unix socket, `localhost` or a loopback address: no one else is on the path.
    pub fn is_local(&self) -> bool {
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        bare.is_empty()
            || bare.eq_ignore_ascii_case("localhost")
            || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The start-up warning for a database on another host whose certificate is not checked.
    pub fn warning(&self) -> Option<String> {
        (!self.verifies() && !self.is_local()).then(|| {
            format!(
                "--books-db: sslmode={} to {} does not check the server's certificate; \
                 use sslmode=verify-full with sslrootcert=<the CA's PEM file>",
                self.mode, self.host
            )
        })
    }
}

/// `path` must be readable and hold at least one PEM certificate.
pub fn check_root_cert(path: &Path) -> Result<(), String> {
    let text = proto::file::read_small(path, ROOT_CERT_LIMIT).map_err(|e| e.to_string())?;
    let has = text
        .windows(CERT_BEGIN.len())
        .any(|w| w == CERT_BEGIN.as_bytes());
    if has {
        Ok(())
    } else {
        Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into())
    }
}

const CERT_BEGIN: &str = "-----BEGIN CERTIFICATE-----";

const MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// RDS's global bundle is about 160 KB.
const ROOT_CERT_LIMIT: u64 = 16 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn of(url: &str) -> PgTls {
        PgTls::of(url, None, None).unwrap_or_else(|| panic!("{url}"))
    }

    #[test]
    fn reads_mode_root_cert_and_host_by_every_name() {
        let t = of(
            "postgres://u:p@db.example:5432/books?sslmode=verify-full&sslrootcert=/etc/ssl/rds.pem",
        );
        assert_eq!(t.host, "db.example");
        assert_eq!(t.mode, "verify-full");
        assert_eq!(t.root_cert.as_deref(), Some(Path::new("/etc/ssl/rds.pem")));
        assert!(t.verifies() && !t.is_local() && t.warning().is_none());
        let t = of("postgresql://h/db?ssl-mode=VERIFY-CA&ssl-ca=%2Ftmp%2Fa%20b.pem");
        assert_eq!(t.mode, "verify-ca");
        assert_eq!(t.root_cert.as_deref(), Some(Path::new("/tmp/a b.pem")));
        assert_eq!(
            of("postgres://h/db?ssl-root-cert=c.pem")
                .root_cert
                .as_deref(),
            Some(Path::new("c.pem"))
        );
        assert_eq!(of("postgres://h/db?host=other").host, "other");
        assert!(of("postgres://h/db?host=/var/run/postgresql").is_local());
    }

    #[test]
    fn the_environment_counts_when_the_url_is_silent() {
        let t = PgTls::of("postgres://h/db", Some("require"), Some("/ca.pem")).unwrap();
        assert_eq!(
            (t.mode.as_str(), t.root_cert.as_deref()),
            ("require", Some(Path::new("/ca.pem")))
        );
        let t = PgTls::of("postgres://h/db?sslmode=verify-full", Some("disable"), None).unwrap();
        assert_eq!(t.mode, "verify-full");
        assert_eq!(of("postgres://h/db").mode, "prefer");
    }

    #[test]
    fn only_a_remote_unverified_database_is_warned_about() {
        for (url, warned) in [
            ("postgres://db.example/b?sslmode=require", true),
            ("postgres://db.example/b", true),
            ("postgres://10.0.0.5/b?sslmode=disable", true),
            ("postgres://db.example/b?sslmode=verify-ca", false),
            ("postgres://db.example/b?sslmode=verify-full", false),
            ("postgres://127.0.0.1:5432/b?sslmode=require", false),
            ("postgres://127.9.9.9/b", false),
            ("postgres://[::1]/b", false),
            ("postgres://LOCALHOST/b", false),
            ("postgres:///b", false),
        ] {
            let w = of(url).warning();
            assert_eq!(w.is_some(), warned, "{url}: {w:?}");
            if let Some(w) = w {
                assert!(
                    w.contains("verify-full") && w.contains("sslrootcert"),
                    "{w}"
                );
            }
        }
    }

    #[test]
    fn an_unknown_mode_is_named_with_the_six() {
        assert_eq!(
            of("postgres://h/db?sslmode=Verify-Full").check_mode(),
            Ok(())
        );
        let e = of("postgres://h/db?sslmode=bogus")
            .check_mode()
            .unwrap_err();
        assert_eq!(
            e,
            "sslmode=bogus is not one of disable, allow, prefer, require, verify-ca, verify-full"
        );
    }

    #[test]
    fn other_urls_are_not_looked_at() {
        for url in [
            "sqlite://books.sqlite",
            "sqlite::memory:",
            "mysql://h/db",
            "not a url",
        ] {
            assert_eq!(PgTls::of(url, None, None), None, "{url}");
        }
    }

    #[test]
    fn a_root_cert_file_must_hold_a_certificate() {
        let dir = std::env::temp_dir().join(format!("svc-rootcert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("ca.pem");
        std::fs::write(
            &good,
            format!("junk\n{CERT_BEGIN}\nMIIB\n-----END CERTIFICATE-----\n"),
        )
        .unwrap();
        assert_eq!(check_root_cert(&good), Ok(()));
        let key = dir.join("key.pem");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
        assert!(
            check_root_cert(&key)
                .unwrap_err()
                .contains("no PEM certificate")
        );
        let e = check_root_cert(&dir.join("absent.pem")).unwrap_err();
        assert!(e.contains("No such file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
