//! The MC side: a listener that runs one session per connection and a handler that decides
//! binds and answers requests.
//!
//! The handler answers inside the connection task, synchronously ([`McSession::on_request`]
//! returns a [`Reply`]): no channel hop and no task per PDU, which is what lets a simulator
//! answer hundreds of thousands of submit_sm per second. When an answer needs async work,
//! return [`Reply::Later`] and answer with [`McHandle::respond`] from anywhere.
//!
//! A hostile peer only affects its own connection: garbage or an absurd command_length closes
//! that session (the codec checks the length before buffering), a flood is read no faster
//! than its answers are written (see `driver::WRITE_HIGH_WATER`), and a peer that never binds
//! is dropped after the bind timeout.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use smpp::codec::HEADER_LEN;
use smpp::pdu::{AlertNotification, Bind, BindResp, DeliverSm};
use smpp::session::CloseReason;
use smpp::types::SystemId;
use smpp::{BindKind, CommandId, CommandStatus, Event, Pdu, PduBody, Role, Session, SessionConfig};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};

use crate::driver::{self, Core};
use crate::esme::RespondError;
use crate::request::{
    self, InFlightTable, RequestError, RequestReceiver, RequestResult, RequestSender,
    ResponseFuture,
};

/// Settings of every MC session.
#[derive(Clone, Debug)]
pub struct McConfig {
    /// Timers and limits of each session. `window` limits the deliver_sm / data_sm we push;
    /// `bind_timeout` is how long a connection may stay unbound; set `inactivity_timeout` to
    /// drop silent ESMEs.
    pub session: SessionConfig,
    /// How long a TLS handshake may take.
    pub handshake_timeout: Duration,
}

impl Default for McConfig {
    fn default() -> Self {
        McConfig {
            session: SessionConfig::default(),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// A bind an ESME asked for.
#[derive(Clone, Debug)]
pub struct BindRequest {
    /// Which bind.
    pub kind: BindKind,
    /// Credentials, system_type, address range.
    pub bind: Bind,
    /// The peer's address, when the transport has one.
    pub peer: Option<SocketAddr>,
}

/// Decides binds and creates the per-session handler. Shared by every connection.
pub trait McHandler: Send + Sync + 'static {
    /// The per-session handler, created by an accepted bind.
    type Session: McSession;

    /// Accepts a bind (returning our system_id for the bind_resp and the session's handler)
    /// or refuses it with an error status (e.g. ESME_RINVPASWD, ESME_RBINDFAIL; ESME_ROK is
    /// replaced by ESME_RBINDFAIL). Runs inside the connection task: keep it quick. `handle`
    /// lets the session push deliver_sm later; keep it if needed.
    fn on_bind(
        &self,
        request: &BindRequest,
        handle: McHandle,
    ) -> Result<(SystemId, Self::Session), CommandStatus>;
}

/// One bound session's handler, owned by its connection task.
pub trait McSession: Send + 'static {
    /// Answers a request from the ESME (submit_sm, data_sm, query_sm, cancel_sm, replace_sm,
    /// submit_multi, vendor operations). Called inside the connection task, in arrival order.
    fn on_request(&mut self, request: Pdu) -> Reply;

    /// The session is over (after unbind, a lost connection, a timeout...).
    fn on_closed(&mut self, reason: CloseReason) {
        let _ = reason;
    }
}

/// How [`McSession::on_request`] answers.
#[derive(Debug)]
pub enum Reply {
    /// Send this response now.
    Respond {
        /// The response status.
        status: CommandStatus,
        /// The response body (the request's `*_resp`, or generic_nack).
        body: PduBody,
    },
    /// The handler will answer later with [`McHandle::respond`], echoing the request's
    /// sequence number. Until it does, the ESME's window slot stays taken.
    Later,
}

impl Reply {
    /// ESME_ROK with `body`.
    pub fn ok(body: PduBody) -> Reply {
        Reply::Respond {
            status: CommandStatus::ESME_ROK,
            body,
        }
    }

    /// An error `status` for `request`, with that request's empty response body.
    pub fn error(request: CommandId, status: CommandStatus) -> Reply {
        Reply::Respond {
            status,
            body: empty_response(request),
        }
    }
}

/// The response body with every field empty for `request` (what MCs send with an error
/// status); generic_nack for an id without a known response.
pub fn empty_response(request: CommandId) -> PduBody {
    let Some(response) = request.response_id() else {
        return PduBody::GenericNack;
    };
    // Responses with mandatory fields get their empty wire form (message_id NUL, ...),
    // decoded so the body is exactly what the codec would read from a peer.
    let body: &[u8] = match response {
        CommandId::SUBMIT_SM_RESP | CommandId::DELIVER_SM_RESP | CommandId::DATA_SM_RESP => &[0],
        CommandId::SUBMIT_MULTI_RESP => &[0, 0],
        CommandId::QUERY_SM_RESP => &[0, 0, 0, 0],
        _ => &[],
    };
    let mut frame = Vec::with_capacity(HEADER_LEN + body.len());
    frame.extend_from_slice(&((HEADER_LEN + body.len()) as u32).to_be_bytes());
    frame.extend_from_slice(&response.0.to_be_bytes());
    frame.extend_from_slice(&[0; 8]);
    frame.extend_from_slice(body);
    Pdu::decode(&frame).map_or(PduBody::GenericNack, |pdu| pdu.body)
}

#[derive(Debug)]
enum McControl {
    Respond {
        sequence_number: u32,
        status: CommandStatus,
        body: PduBody,
    },
    Alert(AlertNotification),
    Unbind(oneshot::Sender<()>),
    Abort,
}

/// A cloneable handle on one MC session: push deliver_sm / data_sm (window-limited, with
/// their responses), alert_notification, late answers, unbind.
#[derive(Clone, Debug)]
pub struct McHandle {
    requests: RequestSender,
    control: mpsc::UnboundedSender<McControl>,
}

impl McHandle {
    /// Sends deliver_sm and waits for deliver_sm_resp.
    pub async fn deliver(&self, sm: DeliverSm) -> RequestResult {
        self.send_request(PduBody::DeliverSm(Box::new(sm))).await
    }

    /// Sends a request (deliver_sm, data_sm, enquire_link, vendor) and waits for its
    /// response; waits for a window slot first.
    pub async fn send_request(&self, body: PduBody) -> RequestResult {
        self.requests.start(body).await?.await
    }

    /// Waits for a window slot, queues the request and returns the future of its response.
    pub async fn start_request(&self, body: PduBody) -> Result<ResponseFuture, RequestError> {
        self.requests.start(body).await
    }

    /// Queues the request only if bound and a window slot is free now.
    pub fn try_send_request(&self, body: PduBody) -> Result<ResponseFuture, RequestError> {
        self.requests.try_start(body)
    }

    /// Sends alert_notification (it has no response).
    pub fn alert(&self, alert: AlertNotification) -> Result<(), RequestError> {
        self.control
            .send(McControl::Alert(alert))
            .map_err(|_| RequestError::Closed)
    }

    /// Answers a request the handler deferred with [`Reply::Later`].
    pub fn respond(
        &self,
        sequence_number: u32,
        status: CommandStatus,
        body: PduBody,
    ) -> Result<(), RespondError> {
        self.control
            .send(McControl::Respond {
                sequence_number,
                status,
                body,
            })
            .map_err(|_| RespondError::Closed)
    }

    /// Graceful close: waits for our requests in flight, sends unbind, waits for the answer
    /// (or the unbind timeout), then the connection closes.
    pub async fn unbind(&self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(McControl::Unbind(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Drops the connection without unbind.
    pub fn abort(&self) {
        let _ = self.control.send(McControl::Abort);
    }

    /// Whether the session is bound now.
    pub fn is_bound(&self) -> bool {
        self.requests.is_bound()
    }

    /// Whether the connection is over.
    pub fn is_closed(&self) -> bool {
        self.requests.is_closed()
    }

    /// Waits until the connection is over.
    pub async fn closed(&self) {
        self.control.closed().await;
    }
}

/// A TCP listener for ESMEs.
#[derive(Debug)]
pub struct McListener {
    listener: TcpListener,
}

impl McListener {
    /// Listens on `addr` (port 0 picks a free port; see [`McListener::local_addr`]).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<McListener> {
        Ok(McListener {
            listener: TcpListener::bind(addr).await?,
        })
    }

    /// Wraps a listener bound elsewhere.
    pub fn from_listener(listener: TcpListener) -> McListener {
        McListener { listener }
    }

    /// The address we listen on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections forever, one task and one session each. Drop (abort) the future
    /// to stop accepting; running sessions go on until they close.
    pub async fn serve<H: McHandler>(self, handler: Arc<H>, config: McConfig) {
        self.accept_loop(handler, config, |stream, _| async move { Ok(stream) })
            .await
    }

    /// Like [`McListener::serve`], with a TLS handshake (bounded by
    /// [`McConfig::handshake_timeout`]) before each session.
    #[cfg(feature = "tls")]
    pub async fn serve_tls<H: McHandler>(
        self,
        acceptor: tokio_rustls::TlsAcceptor,
        handler: Arc<H>,
        config: McConfig,
    ) {
        let timeout = config.handshake_timeout;
        self.accept_loop(handler, config, move |stream, _| {
            let acceptor = acceptor.clone();
            async move {
                tokio::time::timeout(timeout, acceptor.accept(stream))
                    .await
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
                    })?
            }
        })
        .await
    }

    async fn accept_loop<H, W, F, S>(self, handler: Arc<H>, config: McConfig, wrap: W)
    where
        H: McHandler,
        W: Fn(TcpStream, SocketAddr) -> F,
        F: Future<Output = io::Result<S>> + Send + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually out of file descriptors: back off briefly instead of spinning;
                    // the existing sessions go on.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, %peer, "set_nodelay failed");
            }
            let wrapped = wrap(stream, peer);
            let handler = handler.clone();
            let config = config.clone();
            tokio::spawn(async move {
                match wrapped.await {
                    Ok(stream) => {
                        let reason = serve_connection(stream, Some(peer), handler, config).await;
                        tracing::debug!(%peer, ?reason, "session closed");
                    }
                    Err(error) => tracing::debug!(%error, %peer, "connection setup failed"),
                }
            });
        }
    }
}

/// Runs one MC session over `stream` until it closes; returns why. Use it directly for
/// transports the listener does not cover (and in tests, over `tokio::io::duplex`).
pub async fn serve_connection<S, H>(
    mut stream: S,
    peer: Option<SocketAddr>,
    handler: Arc<H>,
    config: McConfig,
) -> CloseReason
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    H: McHandler,
{
    let (requests_tx, requests_rx) = request::channel(config.session.window);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let mut core = McCore {
        handler,
        peer,
        handle: McHandle {
            requests: requests_tx,
            control: control_tx,
        },
        session: None,
        requests: requests_rx,
        control: control_rx,
        table: InFlightTable::default(),
        unbind_waiters: Vec::new(),
        unbind_wanted: false,
    };
    let mut session = Session::new(Role::Mc, config.session, driver::now());
    let reason = driver::drive(&mut stream, &mut session, &mut core).await;
    let _ = tokio::time::timeout(driver::LINGER, stream.shutdown()).await;
    core.requests.close();
    for waiter in core.unbind_waiters.drain(..) {
        let _ = waiter.send(());
    }
    reason
}

struct McCore<H: McHandler> {
    handler: Arc<H>,
    peer: Option<SocketAddr>,
    /// The handle given to the handler at bind time.
    handle: McHandle,
    session: Option<H::Session>,
    requests: RequestReceiver,
    control: mpsc::UnboundedReceiver<McControl>,
    table: InFlightTable,
    unbind_waiters: Vec<oneshot::Sender<()>>,
    unbind_wanted: bool,
}

impl<H: McHandler> McCore<H> {
    fn on_control(&mut self, session: &mut Session, now: Instant, control: McControl) {
        match control {
            McControl::Respond {
                sequence_number,
                status,
                body,
            } => {
                if let Err(error) = session.send_response(now, sequence_number, status, body) {
                    tracing::debug!(%error, sequence_number, "late response not sent");
                }
            }
            McControl::Alert(alert) => {
                if let Err(error) = session.send_request(now, PduBody::AlertNotification(alert)) {
                    tracing::debug!(%error, "alert_notification not sent");
                }
            }
            McControl::Unbind(waiter) => {
                self.unbind_waiters.push(waiter);
                self.unbind_wanted = true;
                self.requests.bound.store(false, Ordering::Release);
            }
            McControl::Abort => session.abort(),
        }
    }

    fn on_bind(&mut self, session: &mut Session, now: Instant, kind: BindKind, bind: Bind) {
        let request = BindRequest {
            kind,
            bind,
            peer: self.peer,
        };
        let result = match self.handler.on_bind(&request, self.handle.clone()) {
            Ok((system_id, handler)) => {
                self.session = Some(handler);
                session.accept_bind(now, BindResp::new(system_id))
            }
            Err(status) => {
                let status = if status.is_ok() {
                    CommandStatus::ESME_RBINDFAIL
                } else {
                    status
                };
                session.reject_bind(now, status)
            }
        };
        match result {
            Ok(()) if session.bound_kind().is_some() => {
                self.requests.bound.store(true, Ordering::Release);
            }
            Ok(()) => {}
            Err(error) => tracing::warn!(%error, "bind answer not sent"),
        }
    }
}

impl<H: McHandler> Core for McCore<H> {
    fn poll_commands(&mut self, cx: &mut Context<'_>, session: &mut Session, now: Instant) -> bool {
        let mut any = false;
        for _ in 0..4096 {
            match self.control.poll_recv(cx) {
                Poll::Ready(Some(control)) => {
                    self.on_control(session, now, control);
                    any = true;
                }
                // The core holds a sender itself, so the channel never closes while we run.
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        let bound = matches!(
            session.state(),
            smpp::SessionState::BoundTx
                | smpp::SessionState::BoundRx
                | smpp::SessionState::BoundTrx
        );
        if bound && !self.unbind_wanted {
            let (taken, _) = self.requests.poll_into(cx, session, now, &mut self.table);
            any |= taken;
        }
        if self.unbind_wanted && !session.is_closed() {
            if bound && session.in_flight() == 0 {
                self.requests.bound.store(false, Ordering::Release);
                if let Err(error) = session.unbind(now) {
                    tracing::debug!(%error, "unbind not sent");
                    session.abort();
                }
                any = true;
            } else if !bound && session.state() != smpp::SessionState::Unbinding {
                session.abort();
                any = true;
            }
        }
        any
    }

    fn on_event(&mut self, session: &mut Session, now: Instant, event: Event) {
        let Some(event) = self.table.on_event(event) else {
            return;
        };
        match event {
            Event::BindRequest { kind, bind, .. } => self.on_bind(session, now, kind, bind),
            Event::Request(pdu) => {
                let sequence_number = pdu.sequence_number;
                let command_id = pdu.command_id();
                let reply = match self.session.as_mut() {
                    Some(handler) => handler.on_request(pdu),
                    // The session delivers requests only once bound, i.e. after `on_bind`
                    // created the handler.
                    None => Reply::error(command_id, CommandStatus::ESME_RSYSERR),
                };
                if let Reply::Respond { status, body } = reply {
                    if let Err(error) = session.send_response(now, sequence_number, status, body) {
                        tracing::debug!(%error, sequence_number, "response not sent");
                    }
                }
            }
            Event::Closed { reason } => {
                self.requests.bound.store(false, Ordering::Release);
                if let Some(handler) = self.session.as_mut() {
                    handler.on_closed(reason);
                }
            }
            Event::KeepaliveTimeout { timeout } => {
                tracing::debug!(?timeout, peer = ?self.peer, "enquire_link unanswered");
            }
            Event::ProtocolError(error) => {
                tracing::debug!(?error, peer = ?self.peer, "peer protocol error handled");
            }
            other => tracing::debug!(event = ?other, "unexpected event for an MC"),
        }
    }
}
