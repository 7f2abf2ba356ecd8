//! The ESME client: dial, bind, submit with a window, receive deliver_sm, reconnect.
//!
//! One spawned task per client owns the connection and the session (see the private `driver` module);
//! the application talks to it through an [`EsmeHandle`] (requests, window-limited) and
//! receives [`EsmeEvent`]s from [`EsmeClient::next_event`]. With
//! [`EsmeClient::connect_with_reconnect`] the same task re-dials after a loss, so handles and
//! the event stream survive reconnections.

use std::future::Future;
use std::io;
use std::sync::atomic::Ordering;
use std::task::Context;
use std::time::{Duration, Instant};

use smpp::pdu::{AlertNotification, Bind, BindResp, DataSmResp, DeliverSmResp, Outbind, SubmitSm};
use smpp::session::{BindFailure, CloseReason};
use smpp::{BindKind, CommandId, CommandStatus, Event, Pdu, PduBody, Role, Session, SessionConfig};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::backoff::{Backoff, Jitter};
use crate::driver::{self, Core};
use crate::request::{
    self, InFlightTable, RequestError, RequestReceiver, RequestResult, RequestSender,
    ResponseFuture,
};

/// How an ESME connects and binds.
#[derive(Clone, Debug)]
pub struct EsmeConfig {
    /// Which bind to send.
    pub kind: BindKind,
    /// The bind body: system_id, password, system_type, address range.
    pub bind: Bind,
    /// Window, timers and limits of each session ([`SessionConfig::window`] is the number of
    /// our requests in flight at once).
    pub session: SessionConfig,
    /// How long one dial (TCP connect, TLS handshake) may take.
    pub connect_timeout: Duration,
    /// Events buffered for the application. When full, incoming deliver_sm / data_sm are
    /// answered ESME_RTHROTTLED (the MC retries later) and other events are dropped (logged).
    pub event_capacity: usize,
    /// Delays between reconnection attempts ([`EsmeClient::connect_with_reconnect`]).
    pub backoff: Backoff,
    /// What a reconnecting client does when the MC refuses the bind for good (wrong
    /// password, unknown system_id): see [`BindRefusalPolicy`].
    pub bind_refusal: BindRefusalPolicy,
}

/// How [`EsmeClient::connect_with_reconnect`] treats a bind the MC refuses.
///
/// A refusal with a status in [`permanent`](Self::permanent) will not fix itself by
/// re-dialling: retrying every few seconds only hammers the operator (some lock the account)
/// and hides the problem in a quiet retry loop. So after such a refusal the next attempt
/// waits the full [`Backoff::max`] (jittered), and after
/// [`give_up_after`](Self::give_up_after) consecutive ones the client stops: it emits
/// [`EsmeEvent::GaveUp`], fails queued requests as not sent ([`RequestError::Closed`]) and
/// ends with [`EsmeEvent::Closed`]. Any other refusal (ESME_RSYSERR, ESME_RTHROTTLED, ...)
/// is temporary and retried with the normal backoff.
///
/// The count of consecutive permanent refusals restarts after a successful bind or a
/// temporary refusal; dial failures and bind timeouts leave it as it is (they say nothing
/// about the credentials).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BindRefusalPolicy {
    /// Statuses that mean "this bind will never succeed as configured". Default:
    /// ESME_RINVPASWD, ESME_RINVSYSID, ESME_RBINDFAIL, ESME_RINVSYSTYP.
    pub permanent: Vec<CommandStatus>,
    /// Give up after this many consecutive permanent refusals (values below 1 count as 1);
    /// `None` keeps retrying forever, at the maximum backoff. Default: `Some(3)`, which with
    /// the default backoff is two waits of 30 to 60 s: time enough to ride out an operator
    /// fixing its side, short enough to page someone the same night.
    pub give_up_after: Option<u32>,
}

impl Default for BindRefusalPolicy {
    fn default() -> Self {
        BindRefusalPolicy {
            permanent: vec![
                CommandStatus::ESME_RINVPASWD,
                CommandStatus::ESME_RINVSYSID,
                CommandStatus::ESME_RBINDFAIL,
                CommandStatus::ESME_RINVSYSTYP,
            ],
            give_up_after: Some(3),
        }
    }
}

impl BindRefusalPolicy {
    /// Whether a refusal with `status` is permanent under this policy.
    pub fn is_permanent(&self, status: CommandStatus) -> bool {
        self.permanent.contains(&status)
    }
}

impl EsmeConfig {
    /// A config for `kind` with these credentials and default timers.
    pub fn new(kind: BindKind, bind: Bind) -> Self {
        EsmeConfig {
            kind,
            bind,
            session: SessionConfig::default(),
            connect_timeout: Duration::from_secs(10),
            event_capacity: 1024,
            backoff: Backoff::default(),
            bind_refusal: BindRefusalPolicy::default(),
        }
    }
}

/// Why [`EsmeClient::connect`] did not produce a bound client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// Dialling failed.
    #[error("connect failed: {0}")]
    Io(#[from] io::Error),
    /// Dialling took longer than [`EsmeConfig::connect_timeout`].
    #[error("connect timed out after {0:?}")]
    ConnectTimeout(Duration),
    /// The MC refused the bind, did not answer it in time, or answered garbage.
    #[error("bind failed: {0:?}")]
    BindFailed(BindFailure),
    /// The connection closed before the bind was answered.
    #[error("the connection closed during the bind: {0:?}")]
    Closed(CloseReason),
}

/// What happened on an ESME connection; read with [`EsmeClient::next_event`].
#[derive(Debug)]
#[non_exhaustive]
pub enum EsmeEvent {
    /// A deliver_sm or data_sm from the MC. Answer it with [`IncomingRequest::respond`];
    /// dropping it unanswered answers ESME_RX_T_APPN (a temporary error: the MC retries).
    Request(IncomingRequest),
    /// An alert_notification (it has no response).
    Alert(AlertNotification),
    /// The MC's outbind ([`EsmeClient::accept_outbind`]); the bind follows.
    Outbind(Outbind),
    /// The transport is up (before the bind).
    Connected,
    /// The bind succeeded; requests flow.
    Bound {
        /// The bind type.
        kind: BindKind,
        /// The MC's bind response (its system_id, version).
        response: BindResp,
    },
    /// The bind failed.
    BindFailed {
        /// Why.
        failure: BindFailure,
    },
    /// A dial attempt failed (or timed out).
    ConnectFailed {
        /// Why.
        error: io::Error,
    },
    /// The session ended; requests in flight were failed as outcome unknown.
    Disconnected {
        /// Why.
        reason: CloseReason,
    },
    /// The supervisor waits `delay` before dial attempt `attempt` (1 = the first retry).
    Reconnecting {
        /// Retry number since the last successful bind.
        attempt: u32,
        /// The (jittered) wait.
        delay: Duration,
    },
    /// A reconnecting client stopped retrying: the MC refused the bind with a permanent
    /// status [`BindRefusalPolicy::give_up_after`] times in a row. Queued requests failed as
    /// not sent; [`EsmeEvent::Closed`] follows. Needs a human (credentials, account).
    GaveUp {
        /// The status of the last refusal.
        status: CommandStatus,
        /// Consecutive permanent refusals counted.
        refusals: u32,
    },
    /// The client is finished (unbound, not reconnecting, or given up); last event.
    Closed,
}

/// Messages to the connection task besides requests: unlimited, because each is either an
/// answer to a PDU the MC sent (bounded by the MC's window) or a one-off.
#[derive(Debug)]
enum Control {
    Respond {
        /// The connection the request came on: an answer must not reach a later one.
        connection: u64,
        sequence_number: u32,
        status: CommandStatus,
        body: PduBody,
    },
    Unbind(oneshot::Sender<()>),
}

/// A deliver_sm or data_sm from the MC awaiting the application's answer.
///
/// Dropping it unanswered answers `ESME_RX_T_APPN` ("temporary application error"), so the MC
/// never waits for a response that will not come and retries the message later.
#[derive(Debug)]
pub struct IncomingRequest {
    pdu: Option<Pdu>,
    sequence_number: u32,
    command_id: CommandId,
    connection: u64,
    control: mpsc::UnboundedSender<Control>,
}

/// Why [`IncomingRequest::respond`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// The body is not the response type of the request. Nothing was sent; the request is
    /// handed back so it can still be answered.
    #[error("{given:?} does not answer {:?}", incoming.command_id())]
    WrongResponse {
        /// The response body's command id.
        given: CommandId,
        /// The request, still unanswered.
        incoming: Box<IncomingRequest>,
    },
    /// The connection is gone; the peer will get no answer (it retries on its side).
    #[error("the connection is closed")]
    Closed,
}

impl IncomingRequest {
    /// The request.
    pub fn pdu(&self) -> &Pdu {
        // `pdu` is only taken by `into_pdu`, which consumes `self`.
        self.pdu.as_ref().unwrap_or(&PLACEHOLDER)
    }

    /// The request's command id.
    pub fn command_id(&self) -> CommandId {
        self.command_id
    }

    /// Takes the PDU out, e.g. to store it, leaving a request that can still be answered
    /// with [`IncomingRequest::respond`].
    pub fn take_pdu(&mut self) -> Option<Pdu> {
        self.pdu.take()
    }

    /// Answers with `status` and `body` (which must be the request's response type, or
    /// generic_nack).
    pub fn respond(mut self, status: CommandStatus, body: PduBody) -> Result<(), RespondError> {
        let given = body.command_id();
        if given != CommandId::GENERIC_NACK && self.command_id.response_id() != Some(given) {
            return Err(RespondError::WrongResponse {
                given,
                incoming: Box::new(self),
            });
        }
        self.send(status, body)
    }

    /// Answers ESME_ROK with an empty response body (no message_id, as usual for
    /// deliver_sm_resp).
    pub fn ack(self) -> Result<(), RespondError> {
        self.respond_status(CommandStatus::ESME_ROK)
    }

    /// Answers `status` with an empty response body.
    pub fn respond_status(mut self, status: CommandStatus) -> Result<(), RespondError> {
        let body = empty_response(self.command_id);
        self.send(status, body)
    }

    fn send(&mut self, status: CommandStatus, body: PduBody) -> Result<(), RespondError> {
        let sequence_number = self.sequence_number;
        // Mark answered before sending, so Drop does not answer twice.
        self.command_id = CommandId::GENERIC_NACK;
        self.control
            .send(Control::Respond {
                connection: self.connection,
                sequence_number,
                status,
                body,
            })
            .map_err(|_| RespondError::Closed)
    }
}

impl Drop for IncomingRequest {
    fn drop(&mut self) {
        if self.command_id != CommandId::GENERIC_NACK {
            let body = empty_response(self.command_id);
            let _ = self.send(CommandStatus::ESME_RX_T_APPN, body);
        }
    }
}

static PLACEHOLDER: Pdu = Pdu {
    sequence_number: 0,
    command_status: CommandStatus::ESME_ROK,
    body: PduBody::GenericNack,
};

/// The empty response body for an incoming ESME-side request (deliver_sm, data_sm);
/// generic_nack for anything else.
fn empty_response(request: CommandId) -> PduBody {
    match request {
        CommandId::DELIVER_SM => PduBody::DeliverSmResp(DeliverSmResp::default()),
        CommandId::DATA_SM => PduBody::DataSmResp(DataSmResp::default()),
        _ => PduBody::GenericNack,
    }
}

/// A cloneable handle for sending requests from many tasks. Requests wait for a window slot;
/// while a reconnecting client is down they wait in the queue and go out after the next bind.
#[derive(Clone, Debug)]
pub struct EsmeHandle {
    requests: RequestSender,
    control: mpsc::UnboundedSender<Control>,
}

impl EsmeHandle {
    /// Sends submit_sm and waits for submit_sm_resp (the response's `command_status` says
    /// whether the MC accepted it).
    pub async fn submit(&self, sm: SubmitSm) -> RequestResult {
        self.send_request(PduBody::SubmitSm(Box::new(sm))).await
    }

    /// Sends any request that has a response (submit_sm, data_sm, query_sm, cancel_sm,
    /// replace_sm, submit_multi, enquire_link, vendor operations) and waits for it.
    pub async fn send_request(&self, body: PduBody) -> RequestResult {
        self.requests.start(body).await?.await
    }

    /// Waits for a window slot and queues the request, returning the future of its response
    /// without waiting for it: one task can keep the whole window busy.
    pub async fn start_request(&self, body: PduBody) -> Result<ResponseFuture, RequestError> {
        self.requests.start(body).await
    }

    /// Queues the request only if bound and a slot is free now ([`RequestError::WindowFull`],
    /// [`RequestError::NotBound`] otherwise).
    pub fn try_send_request(&self, body: PduBody) -> Result<ResponseFuture, RequestError> {
        self.requests.try_start(body)
    }

    /// Whether the session is bound now.
    pub fn is_bound(&self) -> bool {
        self.requests.is_bound()
    }

    /// Graceful close: stops taking new requests, waits for those in flight to be answered
    /// (or time out), sends unbind, waits for unbind_resp (or its timeout) and ends the
    /// client (no reconnect). Requests still queued fail with [`RequestError::Closed`].
    pub async fn unbind(&self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Unbind(tx)).is_ok() {
            // An error only means the task is already gone: closed either way.
            let _ = rx.await;
        }
    }

    /// Waits until the client task has ended.
    pub async fn closed(&self) {
        self.control.closed().await;
    }
}

/// An ESME client: an [`EsmeHandle`] plus the event stream.
#[derive(Debug)]
pub struct EsmeClient {
    handle: EsmeHandle,
    events: mpsc::Receiver<EsmeEvent>,
}

impl std::ops::Deref for EsmeClient {
    type Target = EsmeHandle;

    fn deref(&self) -> &EsmeHandle {
        &self.handle
    }
}

impl EsmeClient {
    /// Binds over an established stream (TCP, TLS, an in-memory duplex) and returns once
    /// bound. No reconnect.
    pub async fn connect<S>(stream: S, config: EsmeConfig) -> Result<EsmeClient, ConnectError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut stream = Some(stream);
        Self::connect_with(
            move || {
                let stream = stream.take();
                async move {
                    stream.ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "used"))
                }
            },
            config,
        )
        .await
    }

    /// Dials `addr` over TCP (no Nagle delay), binds, and returns once bound. No reconnect.
    pub async fn connect_tcp(addr: &str, config: EsmeConfig) -> Result<EsmeClient, ConnectError> {
        let addr = addr.to_owned();
        Self::connect_with(move || dial_tcp(addr.clone()), config).await
    }

    /// Dials once with `dial`, binds, and returns once bound. No reconnect.
    pub async fn connect_with<D, F, S>(
        dial: D,
        config: EsmeConfig,
    ) -> Result<EsmeClient, ConnectError>
    where
        D: FnMut() -> F + Send + 'static,
        F: Future<Output = io::Result<S>> + Send + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (bound_tx, bound_rx) = oneshot::channel();
        let client = spawn(dial, config, Mode::Once, Some(bound_tx));
        match bound_rx.await {
            Ok(Ok(())) => Ok(client),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(ConnectError::Closed(CloseReason::Aborted)),
        }
    }

    /// Starts a supervised client and returns at once: it dials with `dial`, binds, and after
    /// every loss re-dials with [`EsmeConfig::backoff`] (reset after each successful bind)
    /// until [`EsmeHandle::unbind`] or until every handle and the client are dropped. State
    /// changes arrive as events ([`EsmeEvent::Connected`], [`EsmeEvent::Bound`],
    /// [`EsmeEvent::Disconnected`], [`EsmeEvent::Reconnecting`]). Requests in flight at a
    /// loss fail as [`RequestError::ConnectionLost`] (outcome unknown); queued ones wait for
    /// the next bind. Permanent bind refusals follow [`EsmeConfig::bind_refusal`]: by
    /// default the client gives up after three in a row ([`EsmeEvent::GaveUp`]).
    pub fn connect_with_reconnect<D, F, S>(dial: D, config: EsmeConfig) -> EsmeClient
    where
        D: FnMut() -> F + Send + 'static,
        F: Future<Output = io::Result<S>> + Send + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        spawn(dial, config, Mode::Reconnect, None)
    }

    /// Waits on an established stream (opened by the MC) for outbind, reports it as
    /// [`EsmeEvent::Outbind`], then binds as `config.kind` (receiver or transceiver, per
    /// SMPP) and returns once bound. No reconnect. The wait for outbind has no timer of its
    /// own: wrap the call in `tokio::time::timeout` (dropping it ends the connection).
    pub async fn accept_outbind<S>(
        stream: S,
        config: EsmeConfig,
    ) -> Result<EsmeClient, ConnectError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut stream = Some(stream);
        let dial = move || {
            let stream = stream.take();
            async move { stream.ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "used")) }
        };
        let (bound_tx, bound_rx) = oneshot::channel();
        let client = spawn(dial, config, Mode::Outbind, Some(bound_tx));
        match bound_rx.await {
            Ok(Ok(())) => Ok(client),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(ConnectError::Closed(CloseReason::Aborted)),
        }
    }

    /// A cloneable handle for sending requests from other tasks.
    pub fn handle(&self) -> EsmeHandle {
        self.handle.clone()
    }

    /// The next event; `None` once the client task has ended and every event was read.
    pub async fn next_event(&mut self) -> Option<EsmeEvent> {
        self.events.recv().await
    }

    /// Splits into the handle and the raw event receiver (e.g. to read events in another
    /// task).
    pub fn into_parts(self) -> (EsmeHandle, mpsc::Receiver<EsmeEvent>) {
        (self.handle, self.events)
    }
}

/// Dials TCP with Nagle off: PDUs are small and a batch is already one write.
pub async fn dial_tcp(addr: String) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr.as_str()).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

type BindResult = oneshot::Sender<Result<(), ConnectError>>;

/// How the client task connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Dial and bind once.
    Once,
    /// Dial and bind, and again after every loss.
    Reconnect,
    /// The MC opened the connection: bind when its outbind arrives.
    Outbind,
}

fn spawn<D, F, S>(dial: D, config: EsmeConfig, mode: Mode, bound: Option<BindResult>) -> EsmeClient
where
    D: FnMut() -> F + Send + 'static,
    F: Future<Output = io::Result<S>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (requests_tx, requests_rx) = request::channel(config.session.window);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::channel(config.event_capacity.max(1));
    let core = EsmeCore {
        requests: requests_rx,
        requests_closed: false,
        control: control_rx,
        control_tx: control_tx.downgrade(),
        table: InFlightTable::default(),
        events: events_tx,
        unbind_waiters: Vec::new(),
        unbind_wanted: false,
        bound_once: false,
        bind_refused: None,
        connection: 0,
        bind_result: bound,
        outbind_bind: (mode == Mode::Outbind).then(|| (config.kind, config.bind.clone())),
    };
    tokio::spawn(run(dial, config, mode, core));
    EsmeClient {
        handle: EsmeHandle {
            requests: requests_tx,
            control: control_tx,
        },
        events: events_rx,
    }
}

struct EsmeCore {
    requests: RequestReceiver,
    /// Every request sender is gone: unbind when the window drains, then stop.
    requests_closed: bool,
    control: mpsc::UnboundedReceiver<Control>,
    /// For the `IncomingRequest`s we hand out; weak, so that it does not keep the channel
    /// (and `EsmeHandle::closed`) alive.
    control_tx: mpsc::WeakUnboundedSender<Control>,
    table: InFlightTable,
    events: mpsc::Sender<EsmeEvent>,
    unbind_waiters: Vec<oneshot::Sender<()>>,
    /// Unbind requested: take no more requests, unbind once the window is empty.
    unbind_wanted: bool,
    /// Bound during the current connection (resets the backoff).
    bound_once: bool,
    /// The status the MC refused the bind with on the current connection, if it did.
    bind_refused: Option<CommandStatus>,
    /// Counts connections, to tie answers to the connection their request came on.
    connection: u64,
    /// `connect`'s caller, waiting for the first bind.
    bind_result: Option<BindResult>,
    /// Outbind mode: the bind to send when the MC's outbind arrives.
    outbind_bind: Option<(BindKind, Bind)>,
}

impl EsmeCore {
    fn emit(&self, event: EsmeEvent) {
        if let Err(error) = self.events.try_send(event) {
            // Full or nobody listening: a state event is not worth blocking the connection.
            tracing::debug!(event = ?error.into_inner(), "event dropped: the application is not reading events");
        }
    }

    fn finished(&self) -> bool {
        self.unbind_wanted || self.requests_closed
    }

    fn report_bind(&mut self, result: Result<(), ConnectError>) {
        if let Some(tx) = self.bind_result.take() {
            let _ = tx.send(result);
        }
    }

    fn on_control(&mut self, session: &mut Session, now: Instant, control: Control) {
        match control {
            Control::Respond {
                connection,
                sequence_number,
                status,
                body,
            } => {
                if connection != self.connection {
                    // Its connection is gone; the MC will retry the message itself.
                    tracing::debug!(sequence_number, "answer for a previous connection dropped");
                    return;
                }
                if let Err(error) = session.send_response(now, sequence_number, status, body) {
                    tracing::debug!(%error, sequence_number, "response not sent");
                }
            }
            Control::Unbind(waiter) => {
                self.unbind_waiters.push(waiter);
                self.unbind_wanted = true;
                // Refuse new requests at once; queued ones fail as not sent at the end.
                self.requests.bound.store(false, Ordering::Release);
            }
        }
    }

    fn on_incoming_request(&mut self, session: &mut Session, now: Instant, pdu: Pdu) {
        let sequence_number = pdu.sequence_number;
        let command_id = pdu.command_id();
        let Some(control) = self.control_tx.upgrade() else {
            // Only when the task is shutting down: refuse temporarily.
            let _ = session.send_response(
                now,
                sequence_number,
                CommandStatus::ESME_RX_T_APPN,
                empty_response(command_id),
            );
            return;
        };
        let request = IncomingRequest {
            pdu: Some(pdu),
            sequence_number,
            command_id,
            connection: self.connection,
            control,
        };
        if let Err(error) = self.events.try_send(EsmeEvent::Request(request)) {
            let status = match &error {
                mpsc::error::TrySendError::Full(_) => CommandStatus::ESME_RTHROTTLED,
                mpsc::error::TrySendError::Closed(_) => CommandStatus::ESME_RX_T_APPN,
            };
            if let EsmeEvent::Request(mut request) = error.into_inner() {
                // Answer here, synchronously, and disarm the drop answer.
                request.command_id = CommandId::GENERIC_NACK;
                let _ =
                    session.send_response(now, sequence_number, status, empty_response(command_id));
            }
        }
    }
}

impl Core for EsmeCore {
    fn poll_commands(&mut self, cx: &mut Context<'_>, session: &mut Session, now: Instant) -> bool {
        let mut any = false;
        for _ in 0..4096 {
            match self.control.poll_recv(cx) {
                std::task::Poll::Ready(Some(control)) => {
                    self.on_control(session, now, control);
                    any = true;
                }
                // Every handle is gone. Once bound, the request channel reports it too,
                // after the requests they queued are sent; before, nothing is left to do.
                std::task::Poll::Ready(None) => {
                    if session.bound_kind().is_none() && !self.requests_closed {
                        self.requests_closed = true;
                        any = true;
                    }
                    break;
                }
                std::task::Poll::Pending => break,
            }
        }
        let bound = matches!(
            session.state(),
            smpp::SessionState::BoundTx
                | smpp::SessionState::BoundRx
                | smpp::SessionState::BoundTrx
        );
        if bound && !self.finished() {
            let (taken, closed) = self.requests.poll_into(cx, session, now, &mut self.table);
            any |= taken;
            if closed {
                self.requests_closed = true;
                any = true;
            }
        }
        if bound && self.finished() && session.in_flight() == 0 {
            self.requests.bound.store(false, Ordering::Release);
            if let Err(error) = session.unbind(now) {
                tracing::debug!(%error, "unbind not sent");
                session.abort();
            }
            any = true;
        }
        if self.finished()
            && !bound
            && matches!(
                session.state(),
                smpp::SessionState::Open
                    | smpp::SessionState::Binding
                    | smpp::SessionState::Outbound
            )
        {
            // Nothing to unbind yet: give up on the connection.
            session.abort();
            any = true;
        }
        any
    }

    fn on_event(&mut self, session: &mut Session, now: Instant, event: Event) {
        let Some(event) = self.table.on_event(event) else {
            return;
        };
        match event {
            Event::Bound { kind, response } => {
                self.bound_once = true;
                self.requests.bound.store(true, Ordering::Release);
                self.report_bind(Ok(()));
                self.emit(EsmeEvent::Bound { kind, response });
            }
            Event::BindFailed { failure } => {
                if let BindFailure::Rejected { status } = failure {
                    self.bind_refused = Some(status);
                }
                self.report_bind(Err(ConnectError::BindFailed(failure)));
                self.emit(EsmeEvent::BindFailed { failure });
            }
            Event::Request(pdu) => self.on_incoming_request(session, now, pdu),
            Event::AlertNotification(alert) => self.emit(EsmeEvent::Alert(alert)),
            Event::Outbind(outbind) => {
                self.emit(EsmeEvent::Outbind(outbind));
                match self.outbind_bind.clone() {
                    Some((kind, bind)) => {
                        if let Err(error) = session.bind(now, kind, bind) {
                            tracing::warn!(%error, "bind after outbind not sent");
                            session.abort();
                        }
                    }
                    // Not expecting one: the session accepted it, but we will not bind.
                    None => session.abort(),
                }
            }
            Event::KeepaliveTimeout { timeout } => {
                tracing::warn!(?timeout, "enquire_link unanswered: the link is dead");
            }
            Event::ProtocolError(error) => tracing::debug!(?error, "peer protocol error handled"),
            Event::Closed { reason } => {
                self.requests.bound.store(false, Ordering::Release);
                self.report_bind(Err(ConnectError::Closed(reason)));
                self.emit(EsmeEvent::Disconnected { reason });
            }
            other => tracing::debug!(event = ?other, "unexpected event for an ESME"),
        }
    }
}

async fn run<D, F, S>(mut dial: D, config: EsmeConfig, mode: Mode, mut core: EsmeCore)
where
    D: FnMut() -> F + Send + 'static,
    F: Future<Output = io::Result<S>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut jitter = Jitter::new();
    let mut retry: u32 = 0;
    // Consecutive permanent bind refusals (see `BindRefusalPolicy`).
    let mut refusals: u32 = 0;
    loop {
        // The permanent refusal of this attempt, if it ended with one.
        let mut refused_for_good = None;
        match tokio::time::timeout(config.connect_timeout, dial()).await {
            Ok(Ok(mut stream)) => {
                core.emit(EsmeEvent::Connected);
                core.bound_once = false;
                core.bind_refused = None;
                core.connection += 1;
                let now = driver::now();
                let mut session = Session::new(Role::Esme, config.session.clone(), now);
                let bound = match mode {
                    Mode::Outbind => Ok(0),
                    Mode::Once | Mode::Reconnect => {
                        session.bind(now, config.kind, config.bind.clone())
                    }
                };
                match bound {
                    Ok(_) => {
                        driver::drive(&mut stream, &mut session, &mut core).await;
                    }
                    Err(error) => tracing::error!(%error, "bind not sent on a fresh session"),
                }
                // Best effort: tell the peer we are done (TLS close_notify, TCP FIN).
                let _ = tokio::time::timeout(driver::LINGER, stream.shutdown()).await;
                if core.bound_once {
                    retry = 0;
                    refusals = 0;
                }
                match core.bind_refused.take() {
                    Some(status) if config.bind_refusal.is_permanent(status) => {
                        refusals = refusals.saturating_add(1);
                        refused_for_good = Some(status);
                    }
                    Some(_) => refusals = 0,
                    None => {}
                }
            }
            Ok(Err(error)) => {
                core.report_bind(Err(ConnectError::Io(io::Error::new(
                    error.kind(),
                    error.to_string(),
                ))));
                core.emit(EsmeEvent::ConnectFailed { error });
            }
            Err(_) => {
                core.report_bind(Err(ConnectError::ConnectTimeout(config.connect_timeout)));
                core.emit(EsmeEvent::ConnectFailed {
                    error: io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
                });
            }
        }
        if mode != Mode::Reconnect || core.finished() {
            break;
        }
        if let (Some(status), Some(limit)) = (refused_for_good, config.bind_refusal.give_up_after) {
            if refusals >= limit.max(1) {
                tracing::error!(
                    ?status,
                    refusals,
                    "the MC refused the bind permanently; not reconnecting"
                );
                core.emit(EsmeEvent::GaveUp { status, refusals });
                break;
            }
        }
        retry = retry.saturating_add(1);
        let delay = if refused_for_good.is_some() {
            // Retrying soon cannot help a wrong password: wait the longest delay.
            config.backoff.delay(u32::MAX, &mut jitter)
        } else {
            config.backoff.delay(retry - 1, &mut jitter)
        };
        core.emit(EsmeEvent::Reconnecting {
            attempt: retry,
            delay,
        });
        // Wait, but stay responsive to unbind and to the handles going away.
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                control = core.control.recv() => match control {
                    Some(Control::Unbind(waiter)) => {
                        core.unbind_waiters.push(waiter);
                        core.unbind_wanted = true;
                        break;
                    }
                    // Answers for a session that is gone.
                    Some(Control::Respond { .. }) => {}
                    // Every handle is gone (they hold the only strong senders).
                    None => {
                        core.requests_closed = true;
                        break;
                    }
                },
            }
        }
        if core.finished() {
            break;
        }
    }
    core.requests.close();
    for waiter in core.unbind_waiters.drain(..) {
        let _ = waiter.send(());
    }
    core.emit(EsmeEvent::Closed);
}
