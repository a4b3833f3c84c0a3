//! The local provider: the Auto Scaling group and the NLB played on this machine
//! (`controller up`, in `crate::cmd::up`, runs them with the controller daemon).
//!
//! Codemap:
//! - `balancer`: the L4 TCP proxy on one port (the NLB's role), per-flow balancing,
//!   draining, active-flow counts; [`balancer::choose`] is pure.
//! - `group`: [`LocalGroup`], the group's state and its supervisor; implements
//!   [`crate::provider::Fleet`]. Zone balancing and scale-in choice are pure.
//! - `placement`: zone of a new instance, choice of the one to drain (pure).
//! - `instance`: one instance's lifecycle task (spawn, readiness, health checks,
//!   restart in place after a crash, drain, reap).
//! - `key`: the run's report key (configured or random), a 0600 file the instances read.
//! - `restart`: when a crashed instance is restarted in place or replaced, and
//!   the data-dir slots a launch reuses (pure).
//! - `probe`: the bounded HTTP `GET` used for `/readyz` and `/healthz` (status and the
//!   body's first line, which the group keeps as the instance's `reason`).
//!
//! Instances are child processes of this very binary (`controller serve-instance`),
//! so `up` needs nothing built beforehand. Invariant: every process the group starts
//! is reaped before `up` returns, and dies on its own if the controller is killed
//! (its stdin pipe closes; see [`exit_with_parent`]).

pub mod balancer;
pub mod group;
mod instance;
pub mod key;
mod placement;
pub mod probe;
pub mod restart;

pub use balancer::{Balancer, BalancerHandle, BalancerOptions, Strategy};
pub use group::{GroupOptions, LocalGroup};

/// `[local]`, validated (a config type: the local provider reads it, never parses it).
pub use crate::config::LocalSettings;

/// Set in an instance's environment by the group: stop when stdin reaches EOF.
pub const PARENT_WATCH_ENV: &str = "HELLOFLEET_EXIT_WITH_PARENT";

/// In an instance started by the group (its environment has [`PARENT_WATCH_ENV`]):
/// a thread reads stdin, a pipe from the controller, and sends SIGTERM to this
/// process when it closes, so an instance never outlives its controller, even
/// one killed with SIGKILL. The instance then drains and flushes as on any SIGTERM.
pub fn exit_with_parent() {
    if std::env::var_os(PARENT_WATCH_ENV).is_none() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(|| {
            let mut sink = [0u8; 256];
            let mut stdin = std::io::stdin().lock();
            loop {
                match std::io::Read::read(&mut stdin, &mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            tracing::warn!("the controller went away (stdin closed): stopping");
            let _ =
                nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGTERM);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot watch the parent process");
    }
}
