//! A throwaway PostgreSQL server for one test: `initdb` in a temporary
//! directory, `pg_ctl start` on a free loopback port (Unix socket in the same
//! directory, `fsync` off), stopped (`-m immediate`) and removed on drop. With
//! [`Postgres::start_tls`], it serves TLS with a certificate of a test CA.
//!
//! PostgreSQL refuses to run as root: as root, every command runs as the
//! `postgres` user (`runuser -u postgres`), which Debian's package creates, and
//! the directory is handed to it. Missing binaries panic with the install command.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

const INSTALL: &str = "Install it with: apt-get update && apt-get install -y postgresql";

pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    running: bool,
    /// Serving TLS with a certificate for `127.0.0.1` signed by `ca.pem` in `dir`.
    tls: bool,
}

/// The directory of Debian's `initdb`/`pg_ctl` (`/usr/lib/postgresql/N/bin`,
/// newest N; `PG_BIN` overrides), else `initdb` on `PATH`.
fn bin_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("PG_BIN") {
        return PathBuf::from(p);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    crate::which("pg_ctl")
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| panic!("PostgreSQL's initdb/pg_ctl are not installed. {INSTALL}"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

impl Postgres {
    /// initdb + start; waits (`pg_ctl -w`, 60 s) until it accepts connections.
    pub fn start() -> Postgres {
        Self::start_with(false)
    }

    /// [`Postgres::start`] serving TLS (`ssl = on`) with a certificate for the IP address
    /// `127.0.0.1` (no DNS name) signed by a CA of its own, [`Postgres::ca_pem`]
    /// (made with the `openssl` command).
    pub fn start_tls() -> Postgres {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Postgres {
        let bin = bin_dir();
        let dir =
            std::env::temp_dir().join(format!("hf-pg-{}-{}", std::process::id(), free_port()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the PostgreSQL scratch dir");
        if tls {
            crate::tls::make_ca_and_server_cert(&dir, "ca", "server", "IP:127.0.0.1");
        }
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "chown to the postgres user failed (no such user?). {INSTALL}"
            );
        }
        let pg = Postgres {
            dir,
            bin,
            port: free_port(),
            running: false,
            tls,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        // PostgreSQL cannot bind port 0 and report it: the port is picked here and
        // released, so another process may take it before the server binds it. Only
        // that (the log says so) is worth a new port; any other failure panics.
        let mut pg = pg;
        for attempt in 1.. {
            match pg.try_start() {
                Ok(()) => break,
                Err(e) if attempt < 5 && pg.log().contains("could not bind") => {
                    eprintln!("PostgreSQL port {} was taken ({e}); another port", pg.port);
                    pg.port = free_port();
                }
                Err(e) => panic!("{e}\nserver log:\n{}", pg.log()),
            }
        }
        pg
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// One of PostgreSQL's programs, as `postgres` when root.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    /// Runs one of PostgreSQL's programs; panics on failure.
    fn run(&self, program: &str, args: &[&str]) {
        self.try_run(program, args)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Runs one of PostgreSQL's programs; its output on failure.
    fn try_run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let out = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}. {INSTALL}"));
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    /// Starts the server (again) on the same port and data.
    pub fn restart(&mut self) {
        self.try_start()
            .unwrap_or_else(|e| panic!("{e}\nserver log:\n{}", self.log()));
    }

    fn try_start(&mut self) -> Result<(), String> {
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            self.port,
            self.dir.display()
        );
        if self.tls {
            let d = self.dir.display();
            opts += &format!(
                " -c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key"
            );
        }
        let log = self.dir.join("server.log").display().to_string();
        let data = self.data();
        let started = Instant::now();
        self.try_run(
            "pg_ctl",
            &[
                "-D", &data, "-o", &opts, "-l", &log, "-w", "-t", "60", "start",
            ],
        )?;
        self.running = true;
        assert!(started.elapsed() < Duration::from_secs(61));
        Ok(())
    }

    /// Stops the server at once (`-m immediate`: connections are cut, no checkpoint).
    pub fn stop(&mut self) {
        if self.running {
            let data = self.data();
            self.run(
                "pg_ctl",
                &["-D", &data, "-m", "immediate", "-w", "-t", "30", "stop"],
            );
            self.running = false;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The CA that signed the server's certificate ([`Postgres::start_tls`] only).
    pub fn ca_pem(&self) -> PathBuf {
        assert!(
            self.tls,
            "ca_pem: this server was not started with start_tls"
        );
        self.dir.join("ca.pem")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let data = self.data();
            let _ = self
                .command("pg_ctl")
                .args(["-D", &data, "-m", "immediate", "-w", "-t", "30", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
