//! Test certificates made with the `openssl` command: a CA of its own, and a
//! server certificate it signs for one subjectAltName (`IP:127.0.0.1`,
//! `DNS:db.test`). EC P-256 keys, valid for two days, key files 0600.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const INSTALL: &str = "Install it with: apt-get update && apt-get install -y openssl";

/// Runs `openssl ARGS` in `dir`; panics with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}. {INSTALL}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA in `dir`: `NAME.pem` (returned) and `NAME.key`.
pub fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=hellofleet test CA {name}"),
            "-keyout",
            &key,
            "-out",
            &pem,
        ],
    );
    dir.join(pem)
}

/// A CA `CA.pem` and a server certificate `SERVER.crt` (key `SERVER.key`) it signs
/// for `san` (`IP:127.0.0.1`, `DNS:db.test`), all in `dir`.
pub fn make_ca_and_server_cert(dir: &Path, ca: &str, server: &str, san: &str) {
    make_ca(dir, ca);
    let ext = format!("{server}.ext");
    std::fs::write(
        dir.join(&ext),
        format!(
            "subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .expect("write the certificate's extensions");
    let (key, csr, crt) = (
        format!("{server}.key"),
        format!("{server}.csr"),
        format!("{server}.crt"),
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=hellofleet test server",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-set_serial",
            "2",
            "-days",
            "2",
            "-out",
            &crt,
            "-extfile",
            &ext,
        ],
    );
    // PostgreSQL refuses a key file others can read.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join(&key), std::fs::Permissions::from_mode(0o600))
        .expect("chmod 600 the server key");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_certificate_verifies_against_its_ca_only() {
        let dir = std::env::temp_dir().join(format!("hf-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        make_ca_and_server_cert(&dir, "ca", "server", "IP:127.0.0.1");
        make_ca(&dir, "other");
        let verify = |ca: &str| {
            Command::new("openssl")
                .args(["verify", "-CAfile", ca, "server.crt"])
                .current_dir(&dir)
                .output()
                .unwrap()
                .status
                .success()
        };
        assert!(verify("ca.pem"));
        assert!(!verify("other.pem"));
        let text = Command::new("openssl")
            .args([
                "x509",
                "-in",
                "server.crt",
                "-noout",
                "-ext",
                "subjectAltName",
            ])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&text.stdout).contains("IP Address:127.0.0.1"),
            "{text:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
