//! Drives one HTTP/1 connection: graceful shutdown and the head timeout,
//! without a timer-wheel entry or a lock per request.
//!
//! hyper's own header-read timeout arms a fresh boxed sleep for every request
//! head (a clock read, an allocation, a timer-wheel insert and removal), and
//! `select!`-ing the connection against a cancellation token takes the
//! token's waiter lock on every wake-up. On `/hello` that was 5 % of the CPU
//! time per request (issue 2's benchmark, `bench/service.sh`). Instead:
//!
//! - [`Activity`] counts requests dispatched and answered on the connection
//!   (two uncontended atomic increments per request);
//! - [`Driven`] wakes the connection every `tick` (one long-lived timer per
//!   connection) and closes it once it has been *quiet* — no request in
//!   progress and none dispatched — for the head timeout: a head that never
//!   completes (slowloris) and an idle keep-alive connection both end there,
//!   as they did with hyper's timer, within `tick` after the deadline;
//! - the close token's waiter is registered once, then read with an atomic
//!   load; every tick registers it again, in case the task's waker changed;
//! - the same tick checks the connection's age ([`super::lifetime`]) and,
//!   once it is past, sets [`Activity`]'s closing flag, which the response
//!   path reads (one atomic load) to add `Connection: close`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// The tick for a given head timeout: a quarter of it, at least 10 ms.
pub fn tick_for(head_timeout: Duration) -> Duration {
    (head_timeout / 4).max(Duration::from_millis(10))
}

/// Requests dispatched and answered on one connection, and whether its age is past.
#[derive(Debug, Default)]
pub struct Activity {
    dispatched: AtomicU64,
    answered: AtomicU64,
    old: AtomicBool,
    /// 0: not told to close by a limit; 1: by its age; 2: by its request count.
    closed_by: AtomicU8,
}

impl Activity {
    /// Counts a request; returns its number on the connection (1-based).
    pub fn dispatched(&self) -> u64 {
        self.dispatched.fetch_add(1, Relaxed) + 1
    }

    /// True once the connection is past its age: its next response is its last.
    pub fn is_old(&self) -> bool {
        self.old.load(Relaxed)
    }

    /// A response carried `Connection: close` because of the age (or the count).
    pub fn told_to_close(&self, by_age: bool) {
        self.closed_by.store(if by_age { 1 } else { 2 }, Relaxed);
    }

    /// `Some(by_age)` if a limit ended the connection; read once it is over.
    pub fn closed_by_limit(&self) -> Option<bool> {
        match self.closed_by.load(Relaxed) {
            0 => None,
            n => Some(n == 1),
        }
    }

    pub fn answered(&self) {
        self.answered.fetch_add(1, Relaxed);
    }

    fn snapshot(&self) -> (u64, u64) {
        (self.dispatched.load(Relaxed), self.answered.load(Relaxed))
    }
}

/// The pure rule behind the head timeout, evaluated on each tick.
#[derive(Debug)]
pub struct QuietWatch {
    timeout: Duration,
    seen: u64,
    quiet_since: Instant,
}

impl QuietWatch {
    pub fn new(timeout: Duration, now: Instant) -> QuietWatch {
        QuietWatch {
            timeout,
            seen: 0,
            quiet_since: now,
        }
    }

    /// True once the connection has had no request in progress and no new
    /// one dispatched for the whole timeout.
    pub fn overdue(&mut self, (dispatched, answered): (u64, u64), now: Instant) -> bool {
        if dispatched != self.seen || dispatched != answered {
            self.seen = dispatched;
            self.quiet_since = now;
            return false;
        }
        now.saturating_duration_since(self.quiet_since) >= self.timeout
    }
}

/// What [`Driven`] needs from a connection: hyper's `Connection` for HTTP/1.
pub trait GracefulConnection: Future {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S> GracefulConnection for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http1::Connection::graceful_shutdown(self);
    }
}

/// How a driven connection ended.
#[derive(Debug)]
pub enum Ended<T> {
    /// hyper finished the connection, with its result.
    Done(T),
    /// Quiet for the head timeout: dropped (which closes the socket).
    HeadTimeout,
}

pin_project! {
    /// A connection that shuts down gracefully once `close` is cancelled and
    /// is dropped once quiet for the head timeout (see the module docs).
    pub struct Driven<C> {
        #[pin]
        conn: C,
        activity: Arc<Activity>,
        watch: QuietWatch,
        close: CancellationToken,
        #[pin]
        closed: WaitForCancellationFutureOwned,
        #[pin]
        tick: tokio::time::Sleep,
        every: Duration,
        born: Instant,
        age: Option<Duration>,
        started: bool,
        closing: bool,
    }
}

impl<C: GracefulConnection> Driven<C> {
    /// `age`: this connection's (jittered) age limit, `None` for none.
    pub fn new(
        conn: C,
        activity: Arc<Activity>,
        head_timeout: Duration,
        age: Option<Duration>,
        close: CancellationToken,
    ) -> Driven<C> {
        // Ticks often enough to notice the age within a quarter of it.
        let every = age.map_or(tick_for(head_timeout), |age| {
            tick_for(head_timeout).min(tick_for(age))
        });
        let now = Instant::now();
        Driven {
            conn,
            activity,
            watch: QuietWatch::new(head_timeout, now),
            closed: close.clone().cancelled_owned(),
            close,
            tick: tokio::time::sleep_until(now + every),
            every,
            born: now,
            age,
            started: false,
            closing: false,
        }
    }
}

impl<C: GracefulConnection> Future for Driven<C> {
    type Output = Ended<C::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // Atomic loads on the hot path; the tick and the close token are
        // polled (registering this task's waker) only at the start, when the
        // tick is due, or once the token is cancelled.
        let mut ticked = false;
        if (!*this.started || this.tick.is_elapsed()) && this.tick.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            if this.watch.overdue(this.activity.snapshot(), now) {
                return Poll::Ready(Ended::HeadTimeout);
            }
            if super::lifetime::past_age(*this.born, *this.age, now) {
                this.activity.old.store(true, Relaxed);
            }
            this.tick.as_mut().reset(now + *this.every);
            // Pending right after the reset: registers for the next tick.
            let _ = this.tick.as_mut().poll(cx);
            ticked = true;
        }
        if !*this.closing
            && (!*this.started || ticked || this.close.is_cancelled())
            && this.closed.as_mut().poll(cx).is_ready()
        {
            *this.closing = true;
            this.conn.as_mut().graceful_shutdown();
        }
        *this.started = true;
        this.conn.poll(cx).map(Ended::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn ticks_are_a_quarter_of_the_timeout_and_never_below_10ms() {
        assert_eq!(tick_for(30 * S), Duration::from_millis(7_500));
        assert_eq!(
            tick_for(Duration::from_millis(20)),
            Duration::from_millis(10)
        );
    }

    #[test]
    fn a_connection_without_any_request_is_overdue_after_the_timeout() {
        let t0 = Instant::now();
        let mut w = QuietWatch::new(30 * S, t0);
        assert!(!w.overdue((0, 0), t0 + 29 * S));
        assert!(w.overdue((0, 0), t0 + 30 * S));
    }

    #[test]
    fn each_new_request_restarts_the_quiet_period() {
        let t0 = Instant::now();
        let mut w = QuietWatch::new(30 * S, t0);
        assert!(!w.overdue((3, 3), t0 + 29 * S));
        assert!(!w.overdue((3, 3), t0 + 58 * S));
        assert!(w.overdue((3, 3), t0 + 59 * S));
    }

    #[test]
    fn a_request_in_progress_is_never_overdue_however_long_it_takes() {
        let t0 = Instant::now();
        let mut w = QuietWatch::new(30 * S, t0);
        assert!(!w.overdue((1, 0), t0 + 10 * S));
        assert!(!w.overdue((1, 0), t0 + 100 * S));
        // Answered at last: the quiet period starts from the last tick that saw it busy.
        assert!(!w.overdue((1, 1), t0 + 120 * S));
        assert!(w.overdue((1, 1), t0 + 130 * S));
    }
}
