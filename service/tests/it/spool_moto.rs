//! The log spool through the real binary and the `cloudwatch` sink against
//! moto, with a fault proxy between them: `kill -9` (with and without the
//! endpoint refusing connections), and lost responses making copies that the
//! event ids expose.

use crate::common;

use std::time::{Duration, Instant};

use common::crash::{Scratch, counts, kill_9, repeats, stop, wait_drained};
use common::cwlogs::{GROUP, read_stream};
use common::{Process, client, expected_repeat_messages, load_report, repeat_texts};
use testkit::Moto;
use testkit::fault_proxy::{Fault, FaultProxy};

struct Rig {
    moto: Moto,
    proxy: FaultProxy,
    scratch: Scratch,
    id: &'static str,
}

impl Rig {
    fn new(id: &'static str) -> Rig {
        let moto = Moto::start();
        let proxy = FaultProxy::start(([127, 0, 0, 1], moto.port()).into());
        Rig {
            moto,
            proxy,
            scratch: Scratch::new(id),
            id,
        }
    }

    /// The service, its CloudWatch endpoint behind the proxy.
    fn spawn(&self) -> Process {
        let data = self.scratch.path("data");
        let env: Vec<(&str, String)> = self
            .moto
            .env()
            .into_iter()
            .map(|(k, v)| match k {
                "AWS_ENDPOINT_URL" => (k, self.proxy.endpoint()),
                _ => (k, v),
            })
            .collect();
        Process::spawn(
            &[
                "--log-sink",
                "cloudwatch",
                "--log-group",
                GROUP,
                "--instance-id",
                self.id,
                "--data-dir",
                &data,
                "--flush-interval",
                "300ms",
                "--drain-delay",
                "0s",
            ],
            &env,
        )
    }

    async fn stored(&self) -> Vec<String> {
        read_stream(&self.moto, self.id).await
    }
}

/// 300 requests; `kill -9` after the 150th answer (with CloudWatch refusing
/// for 10 s from the 100th when `refuse`); the rest to the restarted process.
async fn crash_run(id: &'static str, refuse: bool) {
    let rig = Rig::new(id);
    let c = client();
    let mut a = rig.spawn();
    let mut ok = repeats(&c, &a.base, 100, Duration::ZERO).await;
    let refused_at = Instant::now();
    if refuse {
        rig.proxy.set(Fault::Refuse);
    }
    // Paced so the crash lands inside the 10 s refusal.
    let pace = if refuse { 60 } else { 0 };
    ok += repeats(&c, &a.base, 50, Duration::from_millis(pace)).await;
    let before = load_report(&c, &a.base).await.log;
    kill_9(&mut a);
    if refuse {
        assert!(before.retried > 0, "sends were refused: {before:?}");
        assert!(before.queued > 0, "{before:?}");
    }

    let b = rig.spawn();
    let c = client();
    let recovered = load_report(&c, &b.base).await.log.enqueued;
    if refuse {
        // Everything answered during the refusal came back from the spool.
        assert!(recovered >= 50 * 20, "recovered {recovered}");
    }
    ok += repeats(&c, &b.base, 70, Duration::from_millis(pace)).await;
    if refuse {
        tokio::time::sleep(Duration::from_secs(10).saturating_sub(refused_at.elapsed())).await;
        rig.proxy.set(Fault::None);
    }
    ok += repeats(&c, &b.base, 80, Duration::ZERO).await;
    let log = wait_drained(&c, &b, Duration::from_secs(60)).await;
    assert_eq!((log.failed, log.dropped, log.rejected), (0, 0, 0));
    stop(b);

    let msgs = rig.stored().await;
    assert_eq!(ok, 300);
    assert_eq!(
        counts(&msgs),
        (6_000, 6_000),
        "each answered event exactly once"
    );
    assert_eq!(repeat_texts(&msgs), expected_repeat_messages(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_run_then_restart_delivers_exactly_the_answered() {
    crash_run("i-cw-crash", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_cloudwatch_refuses_for_10s_loses_nothing() {
    crash_run("i-cw-refuse", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_responses_make_copies_that_the_ids_expose_and_count() {
    let rig = Rig::new("i-cw-dropresp");
    let c = client();
    let b = rig.spawn();
    let mut ok = repeats(&c, &b.base, 100, Duration::ZERO).await;
    wait_drained(&c, &b, Duration::from_secs(60)).await;
    // Responses lost: moto stores each batch, the service never learns it.
    rig.proxy.set(Fault::DropResponses);
    ok += repeats(&c, &b.base, 50, Duration::ZERO).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = load_report(&c, &b.base).await.log;
        if log.retried_unknown >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no unknown outcome seen: {log:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rig.proxy.set(Fault::None);
    let log = wait_drained(&c, &b, Duration::from_secs(60)).await;
    assert!(log.retried_unknown >= 2, "{log:?}");
    let metrics = common::get(&c, &format!("{}/metrics", b.base)).await.body;
    assert!(
        metrics.contains(&format!(
            "hellofleet_log_batches_retried_unknown_total {}",
            log.retried_unknown
        )),
        "{metrics}"
    );
    stop(b);

    let msgs = rig.stored().await;
    let (total, distinct) = counts(&msgs);
    assert!(total > distinct, "moto kept the retried batches twice");
    assert_eq!(distinct, ok * 20, "by id, every answered event once");
    let mut unique = msgs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(repeat_texts(&unique), expected_repeat_messages(ok));
}
