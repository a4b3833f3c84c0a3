//! The local group (the `Fleet` the daemon steers) with real instances of this
//! binary (`controller serve-instance`), without the daemon: capacity changes,
//! lifecycle, zone balance, bounds, drain on scale-in, and replacement of an
//! instance that stops answering its health checks, restart in place of one
//! that crashed (its log spool shipped by the next process), replacement of
//! one that keeps crashing (its data dir taken over by the replacement).

use std::time::{Duration, Instant};

use controller::local::{BalancerHandle, GroupOptions, LocalGroup};
use controller::provider::{Fleet, GroupSnapshot, ProviderError};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use proto::{Health, Lifecycle};
use tokio_util::sync::CancellationToken;

struct Group {
    group: LocalGroup,
    stop: CancellationToken,
    dir: std::path::PathBuf,
}

impl Group {
    fn start(name: &str) -> Group {
        Group::start_with(name, &[])
    }

    fn start_with(name: &str, instance_args: &[&str]) -> Group {
        let dir =
            std::env::temp_dir().join(format!("hellofleet-group-{name}-{}", std::process::id()));
        let mut o = GroupOptions::new(
            env!("CARGO_BIN_EXE_controller").into(),
            vec![
                "serve-instance".into(),
                "--drain-delay".into(),
                "200ms".into(),
            ]
            .into_iter()
            .chain(instance_args.iter().map(|a| a.to_string()))
            .collect(),
            dir.clone(),
        );
        o.min_size = 1;
        o.max_size = 4;
        o.health_interval = Duration::from_millis(200);
        o.unhealthy_threshold = 3;
        o.deregistration_delay = Duration::from_millis(200);
        o.stop_timeout = Duration::from_secs(2);
        let stop = CancellationToken::new();
        let group = LocalGroup::start(o, BalancerHandle::new(), stop.clone());
        Group { group, stop, dir }
    }

    async fn wait(
        &self,
        what: &str,
        mut pred: impl FnMut(&GroupSnapshot) -> bool,
    ) -> GroupSnapshot {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.group.describe().await.unwrap();
            if pred(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "{what}: not within 30 s: {s:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn shutdown(self) {
        let pids = self.group.pids();
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.group.stopped())
            .await
            .expect("the group stops within 30 s");
        for (id, pid) in pids {
            assert!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "{id} (pid {pid}) still runs"
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn in_service(s: &GroupSnapshot) -> usize {
    s.instances
        .iter()
        .filter(|i| i.lifecycle == Lifecycle::InService)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_changes_launch_and_drain_instances_across_two_zones() {
    let g = Group::start("capacity");
    let s = g.wait("min in service", |s| in_service(s) == 1).await;
    assert_eq!(s.desired_capacity, 1);
    let first = &s.instances[0];
    assert!(
        first.in_service_at_ms.is_some() && first.address.is_some(),
        "{first:?}"
    );
    assert_eq!(g.group.balancer().backends().len(), 1);

    assert!(matches!(
        g.group.set_desired_capacity(5).await,
        Err(ProviderError::OutOfBounds { desired: 5, .. })
    ));
    assert!(matches!(
        g.group.set_desired_capacity(0).await,
        Err(ProviderError::OutOfBounds { .. })
    ));

    g.group.set_desired_capacity(3).await.unwrap();
    let s = g.wait("three in service", |s| in_service(s) == 3).await;
    let zone = |z: &str| s.instances.iter().filter(|i| i.zone == z).count();
    assert_eq!((zone("local-a"), zone("local-b")), (2, 1), "{s:#?}");
    assert_eq!(g.group.balancer().backends().len(), 3);

    g.group.set_desired_capacity(2).await.unwrap();
    // The victim leaves the balancer at once, drains, and is gone after its exit.
    let s = g
        .wait("one draining", |s| {
            s.instances
                .iter()
                .any(|i| i.lifecycle == Lifecycle::Terminating)
        })
        .await;
    assert_eq!(g.group.balancer().backends().len(), 2, "{s:#?}");
    let victim = s
        .instances
        .iter()
        .find(|i| i.lifecycle == Lifecycle::Terminating)
        .unwrap();
    assert_eq!(
        victim.zone, "local-a",
        "scale-in takes from the bigger zone"
    );
    let s = g
        .wait("back to two", |s| {
            s.instances.len() == 2 && in_service(s) == 2
        })
        .await;
    let zones: Vec<&str> = s.instances.iter().map(|i| i.zone.as_str()).collect();
    assert!(
        zones.contains(&"local-a") && zones.contains(&"local-b"),
        "{zones:?}"
    );
    // The drained instance flushed and exited by itself (exit 0 logged by its service).
    let log = std::fs::read_to_string(g.dir.join("logs").join(format!("{}.stderr.log", victim.id)))
        .unwrap();
    assert!(log.contains("stopped"), "{log}");
    g.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_stops_answering_is_marked_unhealthy_and_replaced() {
    let g = Group::start("unhealthy");
    let s = g.wait("min in service", |s| in_service(s) == 1).await;
    let (id, pid) = g.group.pids().into_iter().next().unwrap();
    assert_eq!(s.instances[0].id, id);
    // Frozen: the process lives but answers nothing.
    kill(Pid::from_raw(pid as i32), Signal::SIGSTOP).unwrap();
    let s = g
        .wait("marked unhealthy", |s| {
            s.instances
                .iter()
                .any(|i| i.id == id && i.health == Health::Unhealthy)
        })
        .await;
    assert!(
        g.group.balancer().backends().iter().all(|b| b.id != id),
        "{s:#?}"
    );
    let s = g
        .wait("replaced", |s| {
            s.instances
                .iter()
                .any(|i| i.id != id && i.lifecycle == Lifecycle::InService)
        })
        .await;
    assert_eq!(s.desired_capacity, 1);
    // SIGTERM cannot reach a stopped process: after the stop timeout it is killed.
    g.wait("the frozen one reaped", |s| {
        s.instances.iter().all(|i| i.id != id)
    })
    .await;
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    g.shutdown().await;
}

/// `GET /repeat` (testkit's HTTP/1 client); true on a 200 with the whole body.
fn repeat_raw(addr: &str) -> bool {
    let r = testkit::http::get(addr.parse().expect("ip:port"), "/repeat");
    r.status == 200 && r.body.matches("Hello World\n").count() == 100
}

fn pid_of(g: &Group, id: &str) -> Option<u32> {
    g.group
        .pids()
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|p| p.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_instance_restarts_in_place_and_ships_its_spool_then_one_crashing_again_is_replaced()
 {
    let g = Group::start_with("restart", &["--flush-interval", "2s"]);
    let s = g.wait("min in service", |s| in_service(s) == 1).await;
    let id = s.instances[0].id.clone();
    let addr = s.instances[0].address.clone().expect("address");
    for _ in 0..30 {
        assert!(repeat_raw(&addr));
    }
    // kill -9 right after the answers: their events are in the spool only.
    let pid = pid_of(&g, &id).unwrap();
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    let s = g
        .wait("restarted in place", |s| {
            s.instances
                .iter()
                .any(|i| i.id == id && i.lifecycle == Lifecycle::InService)
                && pid_of(&g, &id).is_some_and(|p| p != pid)
        })
        .await;
    assert_eq!(s.instances.len(), 1, "no replacement launched: {s:#?}");
    assert_eq!(
        s.instances[0].address.as_deref(),
        Some(addr.as_str()),
        "same port"
    );
    // The restarted process ships what the killed one answered: 600, each once.
    let events = g.dir.join("logs").join(format!("{id}.jsonl"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let lines = loop {
        let text = std::fs::read_to_string(&events).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= 600 || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut ids: Vec<&str> = lines
        .iter()
        .map(|l| l.split("[id=").nth(1).expect("an id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((lines.len(), ids.len()), (600, 600));

    // Two more crashes within the minute: the third replaces it, and the
    // replacement takes over its data dir.
    for round in 0..2 {
        let pid = pid_of(&g, &id).expect("runs");
        kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
        if round == 0 {
            g.wait("restarted again", |s| {
                s.instances
                    .iter()
                    .any(|i| i.id == id && i.lifecycle == Lifecycle::InService)
                    && pid_of(&g, &id).is_some_and(|p| p != pid)
            })
            .await;
        }
    }
    let s = g
        .wait("replaced", |s| {
            s.instances.iter().all(|i| i.id != id)
                && s.instances
                    .iter()
                    .any(|i| i.lifecycle == Lifecycle::InService)
        })
        .await;
    let new_id = &s.instances[0].id;
    let log =
        std::fs::read_to_string(g.dir.join("logs").join(format!("{new_id}.stderr.log"))).unwrap();
    assert!(
        log.contains("instances/slot-1/spool"),
        "the replacement uses the crashed instance's data dir: {log}"
    );
    g.shutdown().await;
}
