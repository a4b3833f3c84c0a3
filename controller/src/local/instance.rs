//! One instance's lifecycle, driven by its own task:
//! spawn → Pending → (`/readyz` 200) InService → health checks every interval →
//! (the process exited by itself: back to Pending and respawned in place, same
//! id, port and data dir, unless it crashed too often: [`super::restart`]) →
//! Terminating (deregistered; flows drain up to the deregistration delay;
//! SIGTERM; exit awaited up to the stop timeout, then SIGKILL) → Terminated.
//!
//! The child is spawned with `kill_on_drop`, in its own process group (a
//! terminal's Ctrl-C reaches only the controller, which then drains in order),
//! and with a pipe as stdin that this task holds open: if the controller dies,
//! the pipe closes and the instance stops itself (see [`super::watch_parent`]).

use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use proto::{Health, Lifecycle};
use tokio::process::{Child, Command};

use super::PARENT_WATCH_ENV;
use super::group::{Inner, Member};
use super::probe::{get_answer, reason};
use super::restart::{AfterCrash, after_crash};

use crate::clock::now_ms;

/// Why an instance leaves service.
#[derive(Debug)]
enum Exit {
    /// The process ended by itself.
    Exited(ExitStatus),
    /// Scale-in or controller shutdown.
    Requested,
    /// Failed health checks, or not ready within the boot timeout.
    Unhealthy,
}

pub(super) async fn run(inner: Arc<Inner>, member: Member) {
    let id = member.id.clone();
    let mut crashes = Vec::new();
    let (exit, mut child, _stdin) = loop {
        let (mut child, stdin) = match spawn(&inner, &member) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(instance = %id, program = %inner.options.program.display(), error = %e, "cannot start the instance");
                inner.remove(&id, true);
                return;
            }
        };
        let pid = child.id();
        inner.update(&id, |m| m.pid = pid);
        let exit = match boot(&inner, &member, &mut child).await {
            None => {
                inner.update(&id, |m| {
                    m.lifecycle = Lifecycle::InService;
                    m.in_service_at_ms = Some(now_ms());
                });
                tracing::info!(instance = %id, addr = %member.addr, "in service");
                serve(&inner, &member, &mut child).await
            }
            Some(exit) => exit,
        };
        if !restart_in_place(&inner, &member, &exit, &mut crashes).await {
            break (exit, child, stdin);
        }
    };
    let crashed_before_ready = matches!(exit, Exit::Exited(_) | Exit::Unhealthy)
        && inner
            .lock()
            .members
            .iter()
            .any(|m| m.id == id && m.in_service_at_ms.is_none());
    if !matches!(exit, Exit::Requested) {
        let why = inner
            .lock()
            .members
            .iter()
            .find(|m| m.id == id)
            .and_then(|m| m.reason.clone())
            .unwrap_or_default();
        tracing::warn!(instance = %id, reason = ?exit, why = %why, "instance unhealthy: replacing it");
    }
    inner.update(&id, |m| {
        m.lifecycle = Lifecycle::Terminating;
        if !matches!(exit, Exit::Requested) {
            m.health = Health::Unhealthy;
        }
    });
    let status = match exit {
        Exit::Exited(status) => Some(status),
        Exit::Requested | Exit::Unhealthy => stop(&inner, &member, &mut child, &exit).await,
    };
    tracing::info!(instance = %id, status = ?status, "terminated");
    inner.update(&id, |m| {
        m.lifecycle = Lifecycle::Terminated;
        m.pid = None;
    });
    inner.remove(&id, crashed_before_ready);
}

/// After the process exited by itself: `true` when it is to be respawned in
/// place (it is then Pending again, deregistered), `false` to replace it.
async fn restart_in_place(
    inner: &Inner,
    m: &Member,
    exit: &Exit,
    crashes: &mut Vec<Instant>,
) -> bool {
    let Exit::Exited(status) = exit else {
        return false;
    };
    if m.terminate.is_cancelled() || inner.shutdown.is_cancelled() {
        return false;
    }
    let policy = &inner.options.restart;
    if after_crash(crashes, Instant::now(), policy) == AfterCrash::Replace {
        tracing::warn!(instance = %m.id, %status, crashes = crashes.len(), window = ?policy.window,
            "instance keeps crashing: replacing it (its data dir goes to the next launch)");
        return false;
    }
    tracing::warn!(instance = %m.id, %status, crashes = crashes.len(),
        "instance exited: restarting it in place (same id, port and data dir)");
    inner.update(&m.id, |m| {
        m.lifecycle = Lifecycle::Pending;
        m.in_service_at_ms = None;
        m.pid = None;
    });
    tokio::select! {
        () = tokio::time::sleep(policy.delay) => true,
        () = m.terminate.cancelled() => false,
        () = inner.shutdown.cancelled() => false,
    }
}

fn spawn(
    inner: &Inner,
    m: &Member,
) -> std::io::Result<(Child, Option<tokio::process::ChildStdin>)> {
    let o = &inner.options;
    let logs = o.data_dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join(format!("{}.stderr.log", m.id)))?;
    let mut cmd = Command::new(&o.program);
    cmd.args(&o.program_args)
        .args(["--host", "127.0.0.1", "--port", &m.addr.port().to_string()])
        .args(["--instance-id", &m.id])
        .arg("--data-dir")
        .arg(&m.data_dir)
        .arg("--log-sink")
        .arg(format!(
            "file:{}",
            logs.join(format!("{}.jsonl", m.id)).display()
        ));
    if let Some(url) = &o.report_to {
        cmd.args(["--report-to", url]);
        match &o.report_key_file {
            Some(path) => cmd.env("REPORT_KEY_FILE", path),
            None => cmd.env("REPORT_UNSIGNED", "true"),
        };
    }
    if o.proxy_protocol {
        // Loopback (the balancer and the probes) must send PROXY v2 headers.
        cmd.arg("--proxy-protocol");
    }
    cmd.env(PARENT_WATCH_ENV, "1")
        .env("HELLOFLEET_ZONE", &m.zone)
        .stdin(Stdio::piped())
        .stdout(stderr.try_clone()?)
        .stderr(stderr)
        .kill_on_drop(true)
        .process_group(0);
    let mut child = cmd.spawn()?;
    // Held by the task: `Child::wait` would otherwise close it.
    let stdin = child.stdin.take();
    Ok((child, stdin))
}

/// Polls `/readyz` until 200. `None` when ready; otherwise why not.
async fn boot(inner: &Inner, m: &Member, child: &mut Child) -> Option<Exit> {
    let o = &inner.options;
    let deadline = Instant::now() + o.boot_timeout;
    loop {
        let answer = get_answer(m.addr, "/readyz", Duration::from_secs(1), o.proxy_protocol).await;
        let ready = answer.as_ref().is_ok_and(|a| a.status == 200);
        note_reason(inner, m, reason("/readyz", &answer));
        if ready {
            return None;
        }
        if Instant::now() >= deadline {
            return Some(Exit::Unhealthy);
        }
        tokio::select! {
            status = child.wait() => return Some(match status {
                Ok(s) => Exit::Exited(s),
                Err(_) => Exit::Unhealthy,
            }),
            _ = m.terminate.cancelled() => return Some(Exit::Requested),
            _ = tokio::time::sleep(o.readiness_poll) => {}
        }
    }
}

/// In service: `/healthz` every interval until the process exits, checks fail
/// `unhealthy_threshold` times in a row, or termination is requested. After a
/// 200, `/readyz` too, only for the member's `reason` (a live instance whose
/// database is gone stays in service, and says so).
async fn serve(inner: &Inner, m: &Member, child: &mut Child) -> Exit {
    let o = &inner.options;
    let mut failures = 0u32;
    let mut ticks = tokio::time::interval(o.health_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            status = child.wait() => return match status {
                Ok(s) => Exit::Exited(s),
                Err(_) => Exit::Unhealthy,
            },
            _ = m.terminate.cancelled() => return Exit::Requested,
            _ = ticks.tick() => {
                let timeout = o.health_interval.min(Duration::from_secs(2));
                let answer = get_answer(m.addr, "/healthz", timeout, o.proxy_protocol).await;
                let healthy = answer.as_ref().is_ok_and(|a| a.status == 200);
                let why = if healthy {
                    // Alive; whether it is ready (e.g. its database) is only told, not acted on.
                    let ready = get_answer(m.addr, "/readyz", timeout, o.proxy_protocol).await;
                    reason("/readyz", &ready)
                } else {
                    reason("/healthz", &answer)
                };
                note_reason(inner, m, why);
                if healthy {
                    failures = 0;
                } else {
                    failures += 1;
                    tracing::warn!(instance = %m.id, failures, "health check failed");
                    if failures >= o.unhealthy_threshold {
                        return Exit::Unhealthy;
                    }
                }
            }
        }
    }
}

/// Remembers the member's last probe reason (`None`: fine), when it changed.
fn note_reason(inner: &Inner, m: &Member, why: Option<String>) {
    let same = inner
        .lock()
        .members
        .iter()
        .any(|x| x.id == m.id && x.reason == why);
    if !same {
        inner.update(&m.id, |x| x.reason = why);
    }
}

/// Drains and stops the process; returns its exit status.
async fn stop(inner: &Inner, m: &Member, child: &mut Child, why: &Exit) -> Option<ExitStatus> {
    let o = &inner.options;
    // Deregistered already: let the flows end, bounded by the deregistration delay
    // (skipped when the whole stack stops or the instance is unhealthy).
    if matches!(why, Exit::Requested) && !inner.shutdown.is_cancelled() {
        let deadline = Instant::now() + o.deregistration_delay;
        while inner.balancer.active_flows(&m.id) > 0 && Instant::now() < deadline {
            tokio::select! {
                _ = inner.shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
        let left = inner.balancer.active_flows(&m.id);
        tracing::info!(instance = %m.id, flows_left = left, "deregistration delay over: SIGTERM");
    }
    if let Some(pid) = child.id() {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    }
    match tokio::time::timeout(o.stop_timeout, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            tracing::warn!(instance = %m.id, "no exit after SIGTERM: SIGKILL");
            let _ = child.start_kill();
            child.wait().await.ok()
        }
    }
}
