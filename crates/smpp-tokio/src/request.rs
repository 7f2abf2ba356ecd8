//! Our own requests (submit_sm, deliver_sm, ...): the window, the response futures and the
//! table of requests in flight. Shared by the ESME client and the MC sessions.
//!
//! The window is a semaphore with `window` permits. A caller takes a permit before its request
//! is queued and the permit travels with the request until its outcome is known, so at most
//! `window` requests are queued or in flight, callers wait for a free slot instead of failing
//! (`start_request`) or fail fast (`try_send_request`), and the command
//! channel never fills up.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use smpp::codec::DecodeError;
use smpp::{CommandId, CommandStatus, Event, Pdu, PduBody, SendError, Session};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// Why a request did not get a usable response.
///
/// Three kinds of outcome, and callers must tell them apart: *not sent* (nothing reached the
/// peer: retrying is safe), *answered with an error* (the peer did not accept it) and *unknown*
/// (sent, but no answer: the peer may have acted on it, so a blind retry may duplicate it; see
/// [`RequestError::is_outcome_unknown`]). A response with an error `command_status` is not an
/// error here: it is returned as the response [`Pdu`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Not sent: the connection is closed or closing (after `unbind`, or for good).
    #[error("not sent: the session is closed")]
    Closed,
    /// Not sent: not bound at the moment (reconnecting), from a `try_*` call.
    #[error("not sent: the session is not bound")]
    NotBound,
    /// Not sent: all `window` slots are taken, from a `try_*` call.
    #[error("not sent: window full ({window} requests already await a response)")]
    WindowFull {
        /// The configured window.
        window: usize,
    },
    /// Not sent: the session does not allow this request now (role, bind type or state).
    #[error("not sent: {0}")]
    NotAllowed(#[source] SendError),
    /// Not sent: this PDU has no response or belongs to the session itself (bind, unbind,
    /// outbind, alert_notification); use the dedicated method.
    #[error("not sent: command id {command_id:?} cannot be sent as a request with a response")]
    Unsupported {
        /// The offending command id.
        command_id: CommandId,
    },
    /// The peer answered generic_nack: it did not process the request.
    #[error("request {sequence_number} answered with generic_nack, status {status:?}")]
    GenericNack {
        /// Our sequence number.
        sequence_number: u32,
        /// Why the peer refused it.
        status: CommandStatus,
    },
    /// The response arrived but its body could not be decoded. `status` comes from the
    /// header: with ESME_ROK the peer accepted the request, but its fields (message_id) are
    /// lost.
    #[error(
        "the response to request {sequence_number} (status {status:?}) is undecodable: {error}"
    )]
    UndecodableResponse {
        /// Our sequence number.
        sequence_number: u32,
        /// The status in the response header.
        status: CommandStatus,
        /// What was wrong with the body.
        error: DecodeError,
    },
    /// Sent, but no response within the response timeout. Outcome UNKNOWN.
    #[error("outcome unknown: no response to request {sequence_number} within {timeout:?}")]
    TimedOut {
        /// Our sequence number.
        sequence_number: u32,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// Sent, but the connection closed before the response. Outcome UNKNOWN.
    #[error(
        "outcome unknown: the connection closed before request {sequence_number} was answered"
    )]
    ConnectionLost {
        /// Our sequence number.
        sequence_number: u32,
    },
    /// The connection task ended without reporting an outcome (it panicked or was aborted):
    /// whether the request was sent is unknown. Outcome UNKNOWN.
    #[error("outcome unknown: the connection task ended")]
    TaskEnded,
}

impl RequestError {
    /// Whether the peer may have acted on the request although we have no answer: timed
    /// out, connection lost, task ended. Retrying such a request may duplicate it.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(
            self,
            RequestError::TimedOut { .. }
                | RequestError::ConnectionLost { .. }
                | RequestError::TaskEnded
        )
    }

    /// Whether nothing was sent, so that retrying cannot duplicate the request.
    pub fn is_not_sent(&self) -> bool {
        matches!(
            self,
            RequestError::Closed
                | RequestError::NotBound
                | RequestError::WindowFull { .. }
                | RequestError::NotAllowed(_)
                | RequestError::Unsupported { .. }
        )
    }
}

/// The result of one request: its response (any `command_status` but generic_nack), or why
/// there is none.
pub type RequestResult = Result<Pdu, RequestError>;

/// One queued request with its reply channel and its window slot.
pub(crate) struct OutboundRequest {
    pub(crate) body: PduBody,
    pub(crate) reply: oneshot::Sender<RequestResult>,
    pub(crate) permit: OwnedSemaphorePermit,
}

/// Resolves to the response of a request queued with `start_request` / `try_send_request`.
/// Dropping it does not cancel the request (it may already be on the wire); its slot is
/// freed when the outcome is known.
#[must_use = "the request is sent anyway; await this to learn its outcome"]
#[derive(Debug)]
pub struct ResponseFuture {
    rx: oneshot::Receiver<RequestResult>,
}

impl Future for ResponseFuture {
    type Output = RequestResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RequestResult> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|result| result.unwrap_or(Err(RequestError::TaskEnded)))
    }
}

/// The application's end: queues requests, window-limited.
#[derive(Clone, Debug)]
pub(crate) struct RequestSender {
    tx: mpsc::Sender<OutboundRequest>,
    window: Arc<Semaphore>,
    window_size: usize,
    /// Set by the connection task while the session is bound and takes requests.
    bound: Arc<AtomicBool>,
}

/// The connection task's end of [`RequestSender`].
pub(crate) struct RequestReceiver {
    pub(crate) rx: mpsc::Receiver<OutboundRequest>,
    pub(crate) window: Arc<Semaphore>,
    pub(crate) bound: Arc<AtomicBool>,
}

/// A request channel for a window of `window` requests.
pub(crate) fn channel(window: usize) -> (RequestSender, RequestReceiver) {
    let window = window.clamp(1, smpp::session::MAX_WINDOW);
    let (tx, rx) = mpsc::channel(window);
    let semaphore = Arc::new(Semaphore::new(window));
    let bound = Arc::new(AtomicBool::new(false));
    (
        RequestSender {
            tx,
            window: semaphore.clone(),
            window_size: window,
            bound: bound.clone(),
        },
        RequestReceiver {
            rx,
            window: semaphore,
            bound,
        },
    )
}

impl RequestSender {
    /// Waits for a window slot, queues the request and returns the future of its response.
    pub(crate) async fn start(&self, body: PduBody) -> Result<ResponseFuture, RequestError> {
        check_sendable(&body)?;
        let permit = self
            .window
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| RequestError::Closed)?;
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(OutboundRequest {
                body,
                reply,
                permit,
            })
            .await
            .map_err(|_| RequestError::Closed)?;
        Ok(ResponseFuture { rx })
    }

    /// Queues the request if the session is bound and a window slot is free; fails fast
    /// otherwise.
    pub(crate) fn try_start(&self, body: PduBody) -> Result<ResponseFuture, RequestError> {
        check_sendable(&body)?;
        if !self.bound.load(Ordering::Acquire) {
            return Err(if self.window.is_closed() {
                RequestError::Closed
            } else {
                RequestError::NotBound
            });
        }
        let permit = match self.window.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits) => {
                return Err(RequestError::WindowFull {
                    window: self.window_size,
                })
            }
            Err(TryAcquireError::Closed) => return Err(RequestError::Closed),
        };
        let (reply, rx) = oneshot::channel();
        // The channel holds `window` entries and every entry holds a permit, so it is never
        // full here; a closed channel means the task is gone.
        self.tx
            .try_send(OutboundRequest {
                body,
                reply,
                permit,
            })
            .map_err(|_| RequestError::Closed)?;
        Ok(ResponseFuture { rx })
    }

    /// Whether the session is bound now.
    pub(crate) fn is_bound(&self) -> bool {
        self.bound.load(Ordering::Acquire)
    }

    /// Whether the connection task is gone for good.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Rejects PDUs that cannot be a request with a response.
fn check_sendable(body: &PduBody) -> Result<(), RequestError> {
    let command_id = body.command_id();
    let dedicated = matches!(
        command_id,
        CommandId::BIND_TRANSMITTER
            | CommandId::BIND_RECEIVER
            | CommandId::BIND_TRANSCEIVER
            | CommandId::UNBIND
            | CommandId::OUTBIND
            | CommandId::ALERT_NOTIFICATION
    );
    if dedicated {
        return Err(RequestError::Unsupported { command_id });
    }
    if command_id.is_response() {
        return Err(RequestError::NotAllowed(SendError::NotARequest {
            command_id,
        }));
    }
    Ok(())
}

impl RequestReceiver {
    /// The task is done for good: fail everything queued as not sent and wake every waiter.
    pub(crate) fn close(&mut self) {
        self.bound.store(false, Ordering::Release);
        self.window.close();
        self.rx.close();
        while let Ok(request) = self.rx.try_recv() {
            let _ = request.reply.send(Err(RequestError::Closed));
        }
    }

    /// Takes queued requests into the session while it has window room. Returns whether any
    /// was taken, and whether the channel is closed (every sender dropped).
    pub(crate) fn poll_into(
        &mut self,
        cx: &mut Context<'_>,
        session: &mut Session,
        now: Instant,
        table: &mut InFlightTable,
    ) -> (bool, bool) {
        let mut any = false;
        // Bounded so that one wake-up cannot run forever; the driver loops again if busy.
        for _ in 0..4096 {
            if session.window_available() == 0 {
                break;
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(request)) => {
                    table.send(session, now, request);
                    any = true;
                }
                Poll::Ready(None) => return (any, true),
                Poll::Pending => break,
            }
        }
        (any, false)
    }
}

/// Our requests awaiting their response, by sequence number.
#[derive(Default)]
pub(crate) struct InFlightTable {
    pending: HashMap<u32, (oneshot::Sender<RequestResult>, OwnedSemaphorePermit)>,
}

impl InFlightTable {
    /// Hands the request to the session; on refusal the caller learns why at once.
    pub(crate) fn send(&mut self, session: &mut Session, now: Instant, request: OutboundRequest) {
        let OutboundRequest {
            body,
            reply,
            permit,
        } = request;
        match session.send_request(now, body) {
            Ok(sequence_number) => {
                self.pending.insert(sequence_number, (reply, permit));
            }
            Err(SendError::Closed) => {
                let _ = reply.send(Err(RequestError::Closed));
            }
            Err(error) => {
                let _ = reply.send(Err(RequestError::NotAllowed(error)));
            }
        }
    }

    /// Resolves the request an event is about. Returns the event back if it is not about one
    /// of our requests.
    pub(crate) fn on_event(&mut self, event: Event) -> Option<Event> {
        let (sequence_number, result) = match event {
            Event::Response {
                sequence_number,
                pdu,
                ..
            } => {
                let result = if pdu.command_id() == CommandId::GENERIC_NACK {
                    Err(RequestError::GenericNack {
                        sequence_number,
                        status: pdu.command_status,
                    })
                } else {
                    Ok(pdu)
                };
                (sequence_number, result)
            }
            Event::ResponseTimeout {
                sequence_number,
                timeout,
                ..
            } => (
                sequence_number,
                Err(RequestError::TimedOut {
                    sequence_number,
                    timeout,
                }),
            ),
            Event::ResponseUndecodable {
                sequence_number,
                command_status,
                error,
                ..
            } => (
                sequence_number,
                Err(RequestError::UndecodableResponse {
                    sequence_number,
                    status: command_status,
                    error,
                }),
            ),
            Event::Unanswered {
                sequence_number, ..
            } => (
                sequence_number,
                Err(RequestError::ConnectionLost { sequence_number }),
            ),
            other => return Some(other),
        };
        match self.pending.remove(&sequence_number) {
            // The permit is dropped after the reply is sent, freeing the slot.
            Some((reply, _permit)) => {
                let _ = reply.send(result);
            }
            None => tracing::warn!(sequence_number, "outcome for a request we do not track"),
        }
        None
    }
}
