//! The per-step loop: at the end of each step it samples the users goose runs, takes the
//! step's observations from the [`Recorder`], asks the controller for its capacity, and
//! hands a [`Row`] to `emit` (which prints it). Bounded: it ends when `done` is cancelled,
//! after a last (possibly short) row.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::plan::Plan;
use crate::recorder::{Recorder, StepStats};
use crate::status::StatusSource;
use crate::timeline::{Capacity, Row};

/// How often the users gauge is sampled.
const TICK: Duration = Duration::from_millis(100);
/// A step is closed this long after its end, so responses completing at the boundary land.
const GRACE: Duration = Duration::from_millis(100);

/// Everything the loop saw: the rows and the whole run's observations.
#[derive(Debug, Default)]
pub struct Observed {
    pub rows: Vec<Row>,
    pub total: StepStats,
    /// From the first user's start to the end of the last row.
    pub elapsed: Duration,
}

fn add(total: &mut StepStats, s: &StepStats) {
    total.requests += s.requests;
    total.errors += s.errors;
    total.latency.merge(&s.latency);
    total.instances.extend(s.instances.iter().cloned());
}

pub async fn run<S: StatusSource>(
    recorder: Arc<Recorder>,
    plan: Plan,
    status: Option<S>,
    done: CancellationToken,
    mut emit: impl FnMut(&Row) + Send,
) -> Observed {
    let mut out = Observed::default();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Wait for the first user: goose prepares every user before it starts one.
    let start = loop {
        if let Some(s) = recorder.started() {
            break Instant::from_std(s);
        }
        if done.is_cancelled() {
            return out;
        }
        tokio::select! {
            _ = tick.tick() => {}
            _ = done.cancelled() => {}
        }
    };
    let interval = recorder.interval();
    // Users are sampled up to this long before a step ends: goose starts a step's users when
    // its own clock says so, which may be a little before ours.
    let margin = (interval / 10).min(Duration::from_millis(500));
    let mut warned = false;
    let mut k: u32 = 0;
    let mut users = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = done.cancelled() => {}
        }
        let now = Instant::now();
        let step_start = start + interval * k;
        let end = step_start + interval;
        let g = recorder.users();
        if now + margin < end && g > 0 {
            users = g;
        }
        if done.is_cancelled() {
            let stats = recorder.take_all();
            let window = now.saturating_duration_since(step_start).min(interval);
            if stats.requests > 0 {
                // Responses that straggle in after goose stopped its users belong to the users
                // of the step before.
                if users == 0 {
                    users = out.rows.last().map_or(0, |r| r.users);
                }
                let planned = plan.users_at(window.saturating_sub(margin) + interval * k);
                let capacity = match &status {
                    Some(s) => capacity(s, interval, &mut warned).await,
                    None => None,
                };
                let mut row = Row::new(now - start, window, users, planned, &stats, capacity);
                row.partial = window < interval;
                emit(&row);
                add(&mut out.total, &stats);
                out.rows.push(row);
            }
            out.elapsed = now - start;
            return out;
        }
        if now < end + GRACE {
            continue;
        }
        let stats = recorder.take_through(u64::from(k));
        let capacity = match &status {
            Some(s) => capacity(s, interval, &mut warned).await,
            None => None,
        };
        let planned = plan.users_at(interval * (k + 1) - margin);
        let row = Row::new(end - start, interval, users, planned, &stats, capacity);
        emit(&row);
        add(&mut out.total, &stats);
        out.rows.push(row);
        out.elapsed = end - start;
        k += 1;
        users = 0;
    }
}

/// The controller's capacity, or `None` with one warning per outage.
async fn capacity<S: StatusSource>(
    s: &S,
    interval: Duration,
    warned: &mut bool,
) -> Option<Capacity> {
    let limit = (interval / 2).clamp(Duration::from_millis(200), Duration::from_secs(2));
    match tokio::time::timeout(limit, s.capacity()).await {
        Ok(Ok(c)) => {
            if *warned {
                tracing::info!("controller status is back");
            }
            *warned = false;
            Some(c)
        }
        Ok(Err(e)) => {
            if !*warned {
                tracing::warn!("{e}; desired capacity unknown until it answers");
            }
            *warned = true;
            None
        }
        Err(_) => {
            if !*warned {
                tracing::warn!(
                    "the controller's status took over {limit:?}; desired capacity unknown until it answers"
                );
            }
            *warned = true;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::FixedStatus;

    #[tokio::test(start_paused = true)]
    async fn one_row_per_step_with_ground_truth_users_and_capacity() {
        let recorder = Recorder::new(Duration::from_secs(2));
        let plan = Plan::ramp(
            1,
            1,
            Duration::from_secs(2),
            10,
            Some(Duration::from_secs(4)),
        );
        let done = CancellationToken::new();
        let cap = Capacity {
            desired: 2,
            in_service: 1,
        };
        let task = tokio::spawn(run(
            recorder.clone(),
            plan,
            Some(FixedStatus(Some(cap))),
            done.clone(),
            |_row: &Row| {},
        ));
        // Step 0: one user, two responses from two instances.
        let g1 = recorder.user_started(Instant::now().into_std());
        recorder.record(
            Instant::now().into_std(),
            Duration::from_millis(3),
            true,
            Some("i-a"),
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
        recorder.record(
            Instant::now().into_std(),
            Duration::from_millis(4),
            false,
            Some("i-b"),
        );
        tokio::time::sleep(Duration::from_millis(1050)).await;
        // Step 1: a second user (started just after the boundary), one response.
        let g2 = recorder.user_started(Instant::now().into_std());
        recorder.record(
            Instant::now().into_std(),
            Duration::from_millis(5),
            true,
            Some("i-a"),
        );
        tokio::time::sleep(Duration::from_millis(2100)).await;
        // Step 2 (short): goose stops, users drop.
        recorder.record(
            Instant::now().into_std(),
            Duration::from_millis(5),
            true,
            Some("i-a"),
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop((g1, g2));
        done.cancel();
        let out = task.await.unwrap();
        let users: Vec<u64> = out.rows.iter().map(|r| r.users).collect();
        assert_eq!(users, vec![1, 2, 2], "{:?}", out.rows);
        assert_eq!(out.rows[0].requests, 2);
        assert_eq!(out.rows[0].errors, 1);
        assert_eq!(out.rows[0].instances_seen, 2);
        assert_eq!(out.rows[0].capacity, Some(cap));
        assert_eq!(out.rows[1].planned_users, 2);
        assert_eq!(
            out.rows[2].capacity,
            Some(cap),
            "the short last row has the capacity too"
        );
        assert!(out.rows[2].window < Duration::from_secs(1));
        assert!(out.rows[2].partial && !out.rows[1].partial);
        assert!(out.rows[2].line().contains("partial step"));
        assert_eq!(out.total.requests, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn stragglers_after_the_users_stopped_count_for_the_last_users() {
        let recorder = Recorder::new(Duration::from_secs(1));
        let done = CancellationToken::new();
        let task = tokio::spawn(run(
            recorder.clone(),
            Plan::steady(3, None, Duration::from_secs(1)),
            None::<FixedStatus>,
            done.clone(),
            |_row: &Row| {},
        ));
        let guards: Vec<_> = (0..3)
            .map(|_| recorder.user_started(Instant::now().into_std()))
            .collect();
        tokio::time::sleep(Duration::from_millis(1150)).await;
        drop(guards);
        tokio::time::sleep(Duration::from_millis(150)).await;
        recorder.record(
            Instant::now().into_std(),
            Duration::from_millis(9),
            true,
            None,
        );
        done.cancel();
        let out = task.await.unwrap();
        let users: Vec<u64> = out.rows.iter().map(|r| r.users).collect();
        assert_eq!(users, vec![3, 3], "{:?}", out.rows);
    }

    #[tokio::test(start_paused = true)]
    async fn a_down_controller_gives_unknown_capacity() {
        let recorder = Recorder::new(Duration::from_secs(1));
        let done = CancellationToken::new();
        let task = tokio::spawn(run(
            recorder.clone(),
            Plan::steady(1, None, Duration::from_secs(1)),
            Some(FixedStatus(None)),
            done.clone(),
            |_row: &Row| {},
        ));
        let _g = recorder.user_started(Instant::now().into_std());
        tokio::time::sleep(Duration::from_millis(2500)).await;
        done.cancel();
        let out = task.await.unwrap();
        assert_eq!(out.rows.len(), 2, "{:?}", out.rows);
        assert!(
            out.rows
                .iter()
                .all(|r| r.capacity.is_none() && r.users == 1)
        );
    }

    #[tokio::test]
    async fn ends_at_once_when_no_user_ever_started() {
        let done = CancellationToken::new();
        done.cancel();
        let out = run(
            Recorder::new(Duration::from_secs(1)),
            Plan::steady(1, None, Duration::from_secs(1)),
            None::<FixedStatus>,
            done,
            |_row: &Row| {},
        )
        .await;
        assert!(out.rows.is_empty());
    }
}
