//! `controller up` refuses to start, with a clear error and nothing left running,
//! when a port it needs is taken or the configuration is invalid.

use std::process::Command;

fn up(args: &[&str]) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("hellofleet-cli-{}", std::process::id()));
    let out = testkit::clean_env(&mut Command::new(env!("CARGO_BIN_EXE_controller")))
        .arg("up")
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(args)
        .output()
        .expect("run controller up");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_taken_balancer_port_names_the_port_and_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (ok, stderr) = up(&["--api-port", &port, "--listen", "127.0.0.1:0"]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("port {port}")) && stderr.contains("--api-port"),
        "{stderr}"
    );
}

#[test]
fn a_taken_api_port_names_the_port_and_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (ok, stderr) = up(&["--api-port", "0", "--listen", &addr]);
    assert!(!ok);
    let taken_port = addr.rsplit(':').next().unwrap();
    assert!(
        stderr.contains(&format!("port {taken_port}")) && stderr.contains("--listen"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_override_names_the_field() {
    let (ok, stderr) = up(&["--min-size", "5", "--max-size", "2"]);
    assert!(!ok);
    assert!(stderr.contains("group.max_size"), "{stderr}");
}
