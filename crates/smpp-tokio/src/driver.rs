//! The connection driver: the one place where a socket, a timer and a sans-IO [`Session`]
//! meet.
//!
//! One task owns the stream and the session. Each wake-up it takes every command the
//! application queued, reads whatever the socket has (up to [`READ_BUF`] bytes per read, every
//! whole PDU in it handled), hands the session's events to the role-specific [`Core`], runs due
//! timers and writes all pending output with one `poll_write`. Batching in both directions is
//! what makes it fast: one read carries hundreds of PDUs and one write answers them.
//!
//! The driver is a hand-written poll loop rather than `select!`, so that reading, writing and
//! the command channels make progress independently inside one future (a peer that does not
//! read never stops us from reading, and vice versa), without splitting the stream.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use smpp::session::CloseReason;
use smpp::{Event, Session};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Bytes asked for per read. Large, so that a busy peer's PDUs arrive in few syscalls.
pub(crate) const READ_BUF: usize = 64 * 1024;

/// While this much output waits to be written, the driver stops reading: a peer that floods
/// requests but never reads the answers fills its own TCP window instead of our memory.
pub(crate) const WRITE_HIGH_WATER: usize = 1 << 20;

/// How long a closed session may take to flush its last PDUs (unbind_resp, generic_nack)
/// before the connection is dropped anyway.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// Rounds of work per wake-up before yielding to other tasks, so one flooded connection
/// cannot starve the others on the same worker thread.
const MAX_ROUNDS: usize = 64;

/// The caller's clock, as the session wants it. Taken from tokio so that tests with paused
/// time drive the session's timers too.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The role-specific half of a connection: applies the application's commands to the session
/// and reacts to the session's events.
pub(crate) trait Core {
    /// Applies queued commands; registers the waker on every channel it left pending.
    /// Returns whether it did anything.
    fn poll_commands(&mut self, cx: &mut Context<'_>, session: &mut Session, now: Instant) -> bool;

    /// Handles one session event (the session may be used to answer it).
    fn on_event(&mut self, session: &mut Session, now: Instant, event: Event);
}

/// Runs `session` over `io` until the session closes and its last output is written (or the
/// connection fails). Returns why it closed.
pub(crate) async fn drive<S, C>(io: &mut S, session: &mut Session, core: &mut C) -> CloseReason
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Core,
{
    let mut driver = Driver {
        io,
        session,
        core,
        rbuf: vec![0; READ_BUF],
        wbuf: Vec::with_capacity(READ_BUF),
        wpos: 0,
        needs_flush: false,
        io_failed: false,
        sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
        sleep_at: None,
        linger_until: None,
        reason: None,
    };
    poll_fn(|cx| driver.poll(cx)).await
}

struct Driver<'a, S, C> {
    io: &'a mut S,
    session: &'a mut Session,
    core: &'a mut C,
    rbuf: Vec<u8>,
    /// Output not yet accepted by the stream: `wbuf[wpos..]`.
    wbuf: Vec<u8>,
    wpos: usize,
    /// Something was written since the last successful flush (TLS buffers inside the stream).
    needs_flush: bool,
    /// A read or write failed or hit EOF: nothing more can be exchanged.
    io_failed: bool,
    sleep: Pin<Box<Sleep>>,
    /// The instant `sleep` is armed for (`None`: not armed).
    sleep_at: Option<Instant>,
    linger_until: Option<Instant>,
    reason: Option<CloseReason>,
}

impl<S, C> Driver<'_, S, C>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Core,
{
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<CloseReason> {
        for _ in 0..MAX_ROUNDS {
            let now = now();
            let mut progress = false;

            if !self.session.is_closed() {
                progress |= self.core.poll_commands(cx, self.session, now);
            }
            if !self.session.is_closed()
                && !self.io_failed
                && self.pending_output() < WRITE_HIGH_WATER
            {
                progress |= self.poll_read(cx, now);
            }
            progress |= self.dispatch_events(now);
            progress |= self.poll_timer(cx, now);
            progress |= self.poll_write(cx);
            // Output or events produced by this round's writes and timers are handled in the
            // next round; only a round without any progress may park the task.
            progress |= self.dispatch_events(now);

            if self.session.is_closed() {
                if let Some(reason) = self.poll_finish(cx, now) {
                    return Poll::Ready(reason);
                }
            }
            if !progress {
                return Poll::Pending;
            }
        }
        // Still busy: let other connections run, and come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn pending_output(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut buf = ReadBuf::new(&mut self.rbuf);
        match Pin::new(&mut *self.io).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let filled = buf.filled();
                if filled.is_empty() {
                    tracing::debug!("peer closed the connection");
                    self.io_failed = true;
                    self.session.connection_lost();
                } else {
                    self.session.handle_input(now, filled);
                }
                true
            }
            Poll::Ready(Err(error)) => {
                tracing::debug!(%error, "read failed");
                self.io_failed = true;
                self.session.connection_lost();
                true
            }
            Poll::Pending => false,
        }
    }

    fn dispatch_events(&mut self, now: Instant) -> bool {
        let mut any = false;
        while let Some(event) = self.session.poll_event() {
            if let Event::Closed { reason } = &event {
                self.reason = Some(*reason);
            }
            self.core.on_event(self.session, now, event);
            any = true;
        }
        any
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let Some(at) = self.session.poll_timeout() else {
            return false;
        };
        if at <= now {
            self.session.handle_timeout(now);
            return true;
        }
        self.arm(at);
        // Ready means `at` has passed by tokio's clock; the next round handles it.
        self.sleep.as_mut().poll(cx).is_ready()
    }

    fn arm(&mut self, at: Instant) {
        if self.sleep_at != Some(at) {
            self.sleep
                .as_mut()
                .reset(tokio::time::Instant::from_std(at));
            self.sleep_at = Some(at);
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        self.session.poll_transmit(&mut self.wbuf);
        if self.io_failed {
            // Nowhere to write to: drop the output so the closed session can finish.
            self.wbuf.clear();
            self.wpos = 0;
            return false;
        }
        let mut progress = false;
        while self.wpos < self.wbuf.len() {
            let Some(pending) = self.wbuf.get(self.wpos..) else {
                break;
            };
            match Pin::new(&mut *self.io).poll_write(cx, pending) {
                Poll::Ready(Ok(0)) => {
                    self.write_failed("write returned 0");
                    return true;
                }
                Poll::Ready(Ok(n)) => {
                    self.wpos += n;
                    self.needs_flush = true;
                    progress = true;
                }
                Poll::Ready(Err(error)) => {
                    self.write_failed(&error.to_string());
                    return true;
                }
                Poll::Pending => break,
            }
        }
        if self.wpos >= self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
            if self.needs_flush {
                match Pin::new(&mut *self.io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.needs_flush = false,
                    Poll::Ready(Err(error)) => {
                        self.write_failed(&error.to_string());
                        return true;
                    }
                    Poll::Pending => {}
                }
            }
        } else if self.wpos > READ_BUF && self.wpos * 2 > self.wbuf.len() {
            // Keep the buffer from growing without bound under a slow reader.
            self.wbuf.drain(..self.wpos);
            self.wpos = 0;
        }
        progress
    }

    fn write_failed(&mut self, error: &str) {
        tracing::debug!(error, "write failed");
        self.io_failed = true;
        self.wbuf.clear();
        self.wpos = 0;
        self.needs_flush = false;
        self.session.connection_lost();
    }

    /// The session is closed: done once its output is out (or cannot be), or the linger
    /// time is over.
    fn poll_finish(&mut self, cx: &mut Context<'_>, now: Instant) -> Option<CloseReason> {
        let reason = self.reason.unwrap_or(smpp::session::CloseReason::Aborted);
        if self.io_failed || (self.pending_output() == 0 && !self.needs_flush) {
            return Some(reason);
        }
        // `Instant` overflow would mean "never"; treat it as "now" and just close.
        let until = *self
            .linger_until
            .get_or_insert_with(|| now.checked_add(LINGER).unwrap_or(now));
        if until <= now {
            tracing::debug!("closing with unwritten output: the peer does not read");
            return Some(reason);
        }
        self.arm(until);
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Some(reason);
        }
        None
    }
}
