//! `controller up` with its real instances (the service, as `serve-instance` children) pushing
//! signed reports, and a forging client this project did not write (python3's `hmac` and
//! `urllib`): forged, unsigned, stale and replayed reports are refused with 401, counted in
//! `/api/status`, and move nothing; the instances launched by a scale-out have their first
//! reports accepted (no 404 until the next tick); the key is a 0600 file, never on a command
//! line.

use crate::local_support;

use std::time::Duration;

use local_support::{Policy, Stack};

/// The forger: copies an instance id from the status, claims 5,000 users, and posts it
/// unsigned, signed with a guessed key, and signed (with the real key) an hour ago. Then a
/// validly signed report, as one who captured it on the wire would have it, sent twice (for
/// an id outside the group, so the first copy moves nothing either). Prints one status code
/// per line.
const FORGER: &str = r#"
import hashlib, hmac, json, sys, time, urllib.request, urllib.error
api, key_path = sys.argv[1], sys.argv[2]
status = json.load(urllib.request.urlopen(api + "/api/status", timeout=5))
victim = status["instances"][0]["id"]
now = int(time.time() * 1000)
sparse = [[i * 3 + 1, 1] for i in range(5000)]
report = {"instance_id": victim, "seq": 10**15, "sent_at_ms": now, "started_at_ms": now - 1000,
          "active_window_ms": 10000, "concurrent_users": 5000,
          "users_sketch": {"p": 14, "sparse": sparse}, "in_flight": 0,
          "requests_total": 0, "log": {"enqueued": 0, "shipped": 0, "queued": 0, "dropped": 0,
          "rejected": 0, "retried": 0, "failed": 0}, "draining": False}
body = json.dumps(report).encode()
def sig(key, t):
    return "t=%d,v1=%s" % (t, hmac.new(key, b"%d." % t + body, hashlib.sha256).hexdigest())
def post(signature):
    req = urllib.request.Request(api + "/api/reports", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    if signature:
        req.add_header("X-Hellofleet-Signature", signature)
    try:
        return urllib.request.urlopen(req, timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code
real = open(key_path, "rb").read().strip()
print(post(None))
print(post(sig(b"guessed-key-guessed-key-guessed-key!", now)))
print(post(sig(real, now - 3600 * 1000)))
report["instance_id"] = "i-captured"
body = json.dumps(report).encode()
captured = sig(real, now)
print(post(captured))
print(post(captured))
"#;

/// `/api/status` as JSON (with the controller's `reports` counters and `stale_instances`).
async fn raw_status(stack: &Stack) -> serde_json::Value {
    reqwest::get(format!("{}/api/status", stack.api))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn reports(stack: &Stack) -> serde_json::Value {
    raw_status(stack).await["reports"].clone()
}

/// Polls the raw status until `pred` holds; panics after `timeout`.
async fn wait_raw(
    stack: &Stack,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let v = raw_status(stack).await;
        if pred(&v) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {timeout:?}: {v:#}\n{}",
            stack.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn all_fresh(v: &serde_json::Value, in_service: u64) -> bool {
    v["group"]["in_service"].as_u64() >= Some(in_service)
        && v["stale_instances"].as_array().is_some_and(Vec::is_empty)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_reports_are_refused_and_new_instances_are_heard_at_once() {
    use std::os::unix::fs::PermissionsExt;
    let policy = Policy {
        min: 1,
        max: 3,
        scale_out_at: 2.0,
        scale_in_at: 0.5,
    };
    let mut stack = Stack::start("trust", policy).await;
    let key_path = stack.dir.join("report.key");
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the run's key file is private");
    let key = std::fs::read_to_string(&key_path).unwrap();
    let key = key.trim();
    assert!(key.len() >= 32);
    // No process shows the key on its command line (`ps` would).
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            assert!(
                !String::from_utf8_lossy(&cmdline).contains(key),
                "the key is on the command line of {:?}",
                entry.path()
            );
        }
    }
    // The instance's signed reports are accepted.
    wait_raw(&stack, "a fresh report", Duration::from_secs(20), |v| {
        all_fresh(v, 1) && v["reports"]["accepted"].as_u64() >= Some(2)
    })
    .await;
    let before = stack.status().await.unwrap();

    let out = std::process::Command::new("python3")
        .args(["-c", FORGER, &stack.api])
        .arg(&key_path)
        .output()
        .expect("python3 is needed by this test (apt-get install python3)");
    let codes = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{codes}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let codes: Vec<&str> = codes.lines().collect();
    // Unsigned, wrong key, stale: 401. The captured one: checked once (404: not in the
    // group), then refused as a replay before anything else.
    assert_eq!(codes, ["401", "401", "401", "404", "401"]);
    let r = reports(&stack).await;
    assert!(r["unsigned"].as_u64() >= Some(1), "{r}");
    assert!(r["bad_signature"].as_u64() >= Some(1), "{r}");
    assert!(r["stale_signature"].as_u64() >= Some(1), "{r}");
    assert!(r["replayed"].as_u64() >= Some(1), "{r}");
    assert_eq!(
        r["unknown_instance"], 1,
        "the captured report's id only: {r}"
    );

    // The forgeries moved nothing: the fleet's users and capacity are as before.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let after = stack.status().await.unwrap();
    assert_eq!(after.group.desired_capacity, before.group.desired_capacity);
    assert!(after.fleet.concurrent_users < 100, "{:?}", after.fleet);

    // Real users (X-User-Id) over the threshold: a scale-out; the new instances' first
    // reports are accepted, never refused as unknown.
    let client = reqwest::Client::new();
    for round in 0..12 {
        for u in 0..8 {
            let r = client
                .get(format!("{}/hello", stack.balancer))
                .header(proto::USER_ID_HEADER, format!("user-{u}"))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
        if stack
            .status()
            .await
            .is_some_and(|s| s.group.in_service >= 2)
        {
            break;
        }
        assert!(round < 11, "no scale-out:\n{}", stack.log_tail());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    wait_raw(
        &stack,
        "the new instance reporting",
        Duration::from_secs(20),
        |v| all_fresh(v, 2),
    )
    .await;
    let r = reports(&stack).await;
    assert_eq!(
        r["unknown_instance"], 1,
        "a new instance was not heard: {r}"
    );
    assert!(r["accepted"].as_u64() > Some(3), "{r}");

    let status = stack.stop(Duration::from_secs(60));
    assert!(status.success(), "controller up exited with {status}");
}
