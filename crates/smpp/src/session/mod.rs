//! The SMPP session state machine, for both roles (ESME and MC), without I/O or a clock.
//!
//! A [`Session`] is fed the bytes read from the connection ([`Session::handle_input`]) and the
//! current time; it hands back the bytes to write ([`Session::poll_transmit`]), what happened
//! ([`Session::poll_event`]) and when it next needs to be woken ([`Session::poll_timeout`],
//! then [`Session::handle_timeout`]). The async shell owns the socket and the timer; every
//! behaviour here is a plain test with a fake clock.
//!
//! What the session does on its own, so that applications cannot get it wrong:
//! - checks every PDU against the role and bind state (smpp-reference.md §15.2), in both
//!   directions: a forbidden outgoing PDU is a [`SendError`] and nothing is written; a forbidden
//!   incoming request is answered with its `*_resp` (or generic_nack) and ESME_RINVBNDSTS,
//!   ESME_RALYBND or ESME_RINVCMDID;
//! - numbers our requests (1..=0x7FFFFFFF, wrapping to 1) and echoes the peer's verbatim;
//! - keeps at most `window` of the caller's requests in flight, each with its own deadline;
//! - answers enquire_link (even with a full window), sends one after a quiet period and closes
//!   when it is not answered;
//! - runs the bind, unbind and close handshakes with their timers;
//! - answers unknown and undecodable requests, never answers a response.
//!
//! Every sequence number [`Session::send_request`] returns for a request that takes a window
//! slot (everything but bind, unbind, outbind and alert_notification) ends in exactly one of
//! [`Event::Response`], [`Event::ResponseTimeout`], [`Event::ResponseUndecodable`] or
//! [`Event::Unanswered`] (the session closed first).
//!
//! `now` must not go backwards between calls: deadlines are kept in send order and only the
//! oldest is watched (a clock that steps back delays timeouts, it never loses them).
//!
//! Choices where the specification leaves room:
//! - a request the peer's role never sends (deliver_sm to an MC) is answered ESME_RINVCMDID,
//!   one its bind does not allow (deliver_sm to a transmitter) ESME_RINVBNDSTS;
//! - a failed bind closes the session on both sides, as real MCs do;
//! - enquire_link is due after `enquire_link_interval` without *receiving* a PDU, since only
//!   incoming traffic proves the peer alive; any answer to it (even generic_nack) does.

mod rules;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::mem;
use std::time::{Duration, Instant};

use crate::codec::{self, DecodeError, FrameError, DEFAULT_MAX_PDU_SIZE};
use crate::pdu::{AlertNotification, Bind, BindResp, Outbind, Pdu, PduBody};
use crate::types::{CommandId, CommandStatus};

use rules::Op;

/// Largest sequence number we allocate; 3.4 §2 range 0x00000001..=0x7FFFFFFF, then back to 1.
pub const MAX_SEQUENCE_NUMBER: u32 = 0x7FFF_FFFF;

/// Largest accepted [`SessionConfig::window`]; larger values are clamped to it. The in-flight
/// table is allocated up front (twice the window, rounded up to a power of two), so an absurd
/// window must not become an absurd allocation.
pub const MAX_WINDOW: usize = 1 << 16;

/// Which end of the session this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// External Short Message Entity: the client that binds (our gateway's connectors).
    Esme,
    /// Message Centre (SMSC): the server that accepts binds (our simulator).
    Mc,
}

impl Role {
    /// The other end.
    pub fn peer(self) -> Role {
        match self {
            Role::Esme => Role::Mc,
            Role::Mc => Role::Esme,
        }
    }
}

/// The three bind types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindKind {
    /// bind_transmitter: the ESME may submit, the MC may not deliver.
    Transmitter,
    /// bind_receiver: the MC may deliver, the ESME may not submit.
    Receiver,
    /// bind_transceiver: both.
    Transceiver,
}

impl BindKind {
    /// Whether the ESME may send message operations (submit_sm, data_sm, ...) on this bind.
    pub fn can_transmit(self) -> bool {
        !matches!(self, BindKind::Receiver)
    }

    /// Whether the MC may send message operations (deliver_sm, data_sm, alert_notification).
    pub fn can_receive(self) -> bool {
        !matches!(self, BindKind::Transmitter)
    }

    /// The bind request's command id.
    pub fn request_id(self) -> CommandId {
        match self {
            BindKind::Transmitter => CommandId::BIND_TRANSMITTER,
            BindKind::Receiver => CommandId::BIND_RECEIVER,
            BindKind::Transceiver => CommandId::BIND_TRANSCEIVER,
        }
    }

    /// The bind response's command id.
    pub fn response_id(self) -> CommandId {
        match self {
            BindKind::Transmitter => CommandId::BIND_TRANSMITTER_RESP,
            BindKind::Receiver => CommandId::BIND_RECEIVER_RESP,
            BindKind::Transceiver => CommandId::BIND_TRANSCEIVER_RESP,
        }
    }

    fn request_body(self, bind: Bind) -> PduBody {
        match self {
            BindKind::Transmitter => PduBody::BindTransmitter(bind),
            BindKind::Receiver => PduBody::BindReceiver(bind),
            BindKind::Transceiver => PduBody::BindTransceiver(bind),
        }
    }

    fn response_body(self, response: BindResp) -> PduBody {
        match self {
            BindKind::Transmitter => PduBody::BindTransmitterResp(response),
            BindKind::Receiver => PduBody::BindReceiverResp(response),
            BindKind::Transceiver => PduBody::BindTransceiverResp(response),
        }
    }

    fn bound_state(self) -> SessionState {
        match self {
            BindKind::Transmitter => SessionState::BoundTx,
            BindKind::Receiver => SessionState::BoundRx,
            BindKind::Transceiver => SessionState::BoundTrx,
        }
    }
}

/// The session states of smpp-reference.md §15.1, plus `Binding` for the bind in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Connected, not bound.
    Open,
    /// 5.0 OUTBOUND: outbind was sent (MC) or received (ESME); the ESME is expected to bind.
    Outbound,
    /// A bind is in progress: the ESME awaits bind_resp, or the MC's application has not yet
    /// answered an [`Event::BindRequest`].
    Binding,
    /// Bound as transmitter.
    BoundTx,
    /// Bound as receiver.
    BoundRx,
    /// Bound as transceiver.
    BoundTrx,
    /// We sent unbind and await unbind_resp; incoming requests are still delivered and may be
    /// answered, new requests cannot be sent.
    Unbinding,
    /// Finished: flush [`Session::poll_transmit`] once more, then close the connection.
    Closed,
}

/// Timers and limits of one session. [`Default`] gives common operator values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Most of the caller's requests awaiting a response at once (clamped to
    /// `1..=`[`MAX_WINDOW`]). enquire_link, unbind and bind sent by the session itself do not
    /// count.
    pub window: usize,
    /// How long each request may wait for its response before [`Event::ResponseTimeout`].
    pub response_timeout: Duration,
    /// ESME: how long to wait for bind_resp. MC: how long after the session starts the ESME
    /// has to bind (and the application to accept it) before the session closes.
    pub bind_timeout: Duration,
    /// Send enquire_link after this long without receiving any PDU (`None`: never).
    pub enquire_link_interval: Option<Duration>,
    /// How long our enquire_link may wait for its response before the link is declared dead.
    pub enquire_link_timeout: Duration,
    /// How long our unbind may wait for unbind_resp before the session closes anyway.
    pub unbind_timeout: Duration,
    /// Close the session after this long without receiving any PDU (`None`: never). Meant for
    /// the MC, which should drop silent sessions (§15.6).
    pub inactivity_timeout: Option<Duration>,
    /// Largest incoming `command_length` accepted; anything larger closes the session.
    pub max_pdu_size: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            window: 10,
            response_timeout: Duration::from_secs(30),
            bind_timeout: Duration::from_secs(10),
            enquire_link_interval: Some(Duration::from_secs(30)),
            enquire_link_timeout: Duration::from_secs(10),
            unbind_timeout: Duration::from_secs(5),
            inactivity_timeout: None,
            max_pdu_size: DEFAULT_MAX_PDU_SIZE,
        }
    }
}

/// Why a bind did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindFailure {
    /// The MC answered with an error status (bind_*_resp or generic_nack).
    Rejected {
        /// The status the MC gave.
        status: CommandStatus,
    },
    /// No bind_resp within [`SessionConfig::bind_timeout`].
    TimedOut {
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The bind_resp could not be decoded.
    Malformed {
        /// What was wrong with it.
        error: DecodeError,
    },
}

/// Why the session closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Our unbind was answered (or its answer was an error: the peer is done either way).
    Unbound,
    /// The peer sent unbind; the session answered it.
    PeerUnbound,
    /// Our unbind was not answered within [`SessionConfig::unbind_timeout`].
    UnbindTimeout,
    /// The bind failed: ESME side after [`Event::BindFailed`], MC side after
    /// [`Session::reject_bind`].
    BindFailed,
    /// ESME: no bind_resp in time. MC: no accepted bind in time after the session started.
    BindTimeout,
    /// Our enquire_link was not answered within [`SessionConfig::enquire_link_timeout`].
    KeepaliveTimeout,
    /// Nothing received for [`SessionConfig::inactivity_timeout`].
    InactivityTimeout,
    /// The byte stream cannot be re-synchronised (bad command_length); generic_nack
    /// ESME_RINVCMDLEN was queued.
    Framing(FrameError),
    /// The shell reported that the connection is gone ([`Session::connection_lost`]).
    ConnectionLost,
    /// The application gave up on the session ([`Session::abort`]).
    Aborted,
}

/// A peer misbehaviour the session handled by itself; reported so it can be logged and
/// counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A response that matches none of our requests in flight (unknown sequence number, or a
    /// response type that does not answer the request with that number). Dropped, never
    /// answered.
    UnexpectedResponse {
        /// The response's command id.
        command_id: CommandId,
        /// Its sequence number.
        sequence_number: u32,
        /// Its status.
        command_status: CommandStatus,
    },
    /// A request not allowed from the peer's role or in the current state, or an unknown
    /// command id; answered with its `*_resp` (or generic_nack) carrying `status`.
    RequestRejected {
        /// The request's command id.
        command_id: CommandId,
        /// Its sequence number (echoed in the answer).
        sequence_number: u32,
        /// The status we answered with.
        status: CommandStatus,
    },
    /// A request whose body could not be decoded; answered with `error.status()`.
    MalformedRequest {
        /// What was wrong with it.
        error: DecodeError,
    },
    /// An undecodable response that matched none of our requests; dropped.
    MalformedResponse {
        /// What was wrong with it.
        error: DecodeError,
    },
}

/// Something the application should know about. Drain with [`Session::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// MC: an ESME asks to bind. Answer with [`Session::accept_bind`] or
    /// [`Session::reject_bind`] after checking the credentials.
    BindRequest {
        /// The bind's sequence number (the answer echoes it; the session remembers it).
        sequence_number: u32,
        /// Which bind.
        kind: BindKind,
        /// Credentials and address range.
        bind: Bind,
    },
    /// ESME: the bind succeeded.
    Bound {
        /// Which bind.
        kind: BindKind,
        /// The MC's answer (system_id, sc_interface_version).
        response: BindResp,
    },
    /// ESME: the bind failed; [`Event::Closed`] follows.
    BindFailed {
        /// Why.
        failure: BindFailure,
    },
    /// ESME: the MC opened this connection and asks us to bind (receiver or transceiver).
    Outbind(Outbind),
    /// A request from the peer, allowed in the current state. Answer it with
    /// [`Session::send_response`] and its sequence number.
    Request(Pdu),
    /// The response to one of our requests (including generic_nack and error statuses).
    Response {
        /// The sequence number [`Session::send_request`] returned.
        sequence_number: u32,
        /// The command id of the request it answers.
        request_id: CommandId,
        /// The response.
        pdu: Pdu,
    },
    /// A request got no response in time; its window slot is free again. The outcome is
    /// unknown: the peer may have acted on it.
    ResponseTimeout {
        /// The sequence number [`Session::send_request`] returned.
        sequence_number: u32,
        /// The request's command id.
        command_id: CommandId,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The response to one of our requests arrived but could not be decoded; its window
    /// slot is free again. `command_status` is read from the header, which is always
    /// readable.
    ResponseUndecodable {
        /// The sequence number [`Session::send_request`] returned.
        sequence_number: u32,
        /// The request's command id.
        request_id: CommandId,
        /// The status in the response header.
        command_status: CommandStatus,
        /// What was wrong with the body.
        error: DecodeError,
    },
    /// The session closed while this request awaited its response: outcome unknown.
    Unanswered {
        /// The sequence number [`Session::send_request`] returned.
        sequence_number: u32,
        /// The request's command id.
        command_id: CommandId,
    },
    /// ESME: alert_notification (it has no response).
    AlertNotification(AlertNotification),
    /// Our enquire_link got no answer; [`Event::Closed`] follows.
    KeepaliveTimeout {
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// A peer error the session already handled (answered or dropped).
    ProtocolError(ProtocolError),
    /// The session is over. Last event; flush [`Session::poll_transmit`] and close the
    /// connection.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// Why a PDU could not be sent. Nothing was written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The session is closed.
    #[error("the session is closed")]
    Closed,
    /// `window` requests already await their responses.
    #[error("window full: {window} requests already await a response")]
    WindowFull {
        /// The configured window.
        window: usize,
    },
    /// [`Session::send_request`] was given a response.
    #[error("command id {command_id:?} is a response; send it with send_response")]
    NotARequest {
        /// The offending command id.
        command_id: CommandId,
    },
    /// [`Session::send_response`] was given a request.
    #[error("command id {command_id:?} is a request; send it with send_request")]
    NotAResponse {
        /// The offending command id.
        command_id: CommandId,
    },
    /// This role may not send this PDU in this state (§15.2), or the session sends it itself
    /// (enquire_link_resp, unbind_resp) or through a dedicated method (bind_*_resp).
    #[error(
        "a session in role {role:?} and state {state:?} may not send command id {command_id:?}"
    )]
    NotAllowed {
        /// The offending command id.
        command_id: CommandId,
        /// Our role.
        role: Role,
        /// The state at the time.
        state: SessionState,
    },
    /// [`Session::accept_bind`] or [`Session::reject_bind`] without a pending
    /// [`Event::BindRequest`].
    #[error("no bind request awaits an answer")]
    NoPendingBind,
    /// [`Session::reject_bind`] was given ESME_ROK.
    #[error("reject_bind needs an error status, got {status:?}")]
    RejectWithOk {
        /// The status given.
        status: CommandStatus,
    },
}

/// One of the caller's requests awaiting its response.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    sequence_number: u32,
    command_id: CommandId,
    /// `None` only when `now + response_timeout` overflows `Instant` (no deadline then).
    deadline: Option<Instant>,
}

/// A request the session sent itself (bind, unbind, enquire_link).
#[derive(Clone, Copy, Debug)]
struct Pending {
    sequence_number: u32,
    deadline: Option<Instant>,
}

/// A request the session sent on its own account, identified by a response.
#[derive(Clone, Copy, Debug)]
enum Own {
    Bind(BindKind),
    Unbind,
    Keepalive,
}

/// Internal phase; [`SessionState`] is derived from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    Outbound,
    /// The kind requested (ESME: sent; MC: received, awaiting the application).
    Binding(BindKind),
    /// The kind granted.
    Bound(BindKind),
    /// Kept while unbinding, because the peer may still send what the bind allowed.
    Unbinding(BindKind),
    Closed,
}

/// One SMPP session, either role. See the module documentation.
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: SessionConfig,
    phase: Phase,
    next_sequence_number: u32,
    /// In-flight table indexed by `sequence_number & mask`. Its length is a power of two and
    /// at least twice the window, so a free slot is always near.
    slots: Box<[Option<InFlight>]>,
    mask: usize,
    in_flight: usize,
    /// Deadlines of the caller's requests in send order. Entries whose slot was freed are
    /// removed lazily; the front is kept live so `poll_timeout` is exact.
    deadlines: VecDeque<(Instant, u32)>,
    /// ESME: our bind awaiting bind_resp. MC: the peer's bind awaiting the application.
    bind: Option<Pending>,
    /// ESME: bind_resp deadline. MC: deadline for the session to be bound.
    bind_deadline: Option<Instant>,
    unbind: Option<Pending>,
    keepalive: Option<Pending>,
    last_received: Instant,
    /// Holds at most one incomplete frame between calls to `handle_input`.
    rx: Vec<u8>,
    tx: Vec<u8>,
    events: VecDeque<Event>,
}

impl Session {
    /// A new session on a fresh connection, in state [`SessionState::Open`]. An MC session
    /// starts its bind timer now.
    pub fn new(role: Role, mut config: SessionConfig, now: Instant) -> Self {
        config.window = config.window.clamp(1, MAX_WINDOW);
        let capacity = (config.window * 2).next_power_of_two();
        let bind_deadline = match role {
            Role::Mc => deadline_after(now, config.bind_timeout),
            Role::Esme => None,
        };
        Session {
            role,
            phase: Phase::Open,
            next_sequence_number: 1,
            slots: vec![None; capacity].into_boxed_slice(),
            mask: capacity - 1,
            in_flight: 0,
            deadlines: VecDeque::with_capacity(capacity),
            bind: None,
            bind_deadline,
            unbind: None,
            keepalive: None,
            last_received: now,
            rx: Vec::new(),
            tx: Vec::new(),
            events: VecDeque::new(),
            config,
        }
    }

    /// This session's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration in use (with the window clamped).
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        match self.phase {
            Phase::Open => SessionState::Open,
            Phase::Outbound => SessionState::Outbound,
            Phase::Binding(_) => SessionState::Binding,
            Phase::Bound(kind) => kind.bound_state(),
            Phase::Unbinding(_) => SessionState::Unbinding,
            Phase::Closed => SessionState::Closed,
        }
    }

    /// The bind kind once bound (kept while unbinding), `None` before.
    pub fn bound_kind(&self) -> Option<BindKind> {
        match self.phase {
            Phase::Bound(kind) | Phase::Unbinding(kind) => Some(kind),
            _ => None,
        }
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The caller's requests awaiting a response.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// How many more requests [`Session::send_request`] accepts before
    /// [`SendError::WindowFull`].
    pub fn window_available(&self) -> usize {
        self.config.window.saturating_sub(self.in_flight)
    }

    // ----------------------------------------------------------------------------------
    // Sending

    /// ESME: sends bind_transmitter / bind_receiver / bind_transceiver and starts the bind
    /// timer. Allowed in [`SessionState::Open`] and [`SessionState::Outbound`]. Returns the
    /// sequence number; the answer is [`Event::Bound`] or [`Event::BindFailed`].
    pub fn bind(&mut self, now: Instant, kind: BindKind, bind: Bind) -> Result<u32, SendError> {
        self.send_bind(now, kind.request_body(bind))
    }

    fn send_bind(&mut self, now: Instant, body: PduBody) -> Result<u32, SendError> {
        let kind = match rules::classify(body.command_id()) {
            Op::Bind(kind) => kind,
            // Callers pass only bind bodies.
            _ => return Err(self.not_allowed(body.command_id())),
        };
        if self.role != Role::Esme || !matches!(self.phase, Phase::Open | Phase::Outbound) {
            return Err(self.not_allowed(kind.request_id()));
        }
        let sequence_number = self.allocate_sequence_number();
        Pdu::new(sequence_number, body).encode(&mut self.tx);
        self.phase = Phase::Binding(kind);
        let deadline = deadline_after(now, self.config.bind_timeout);
        self.bind = Some(Pending {
            sequence_number,
            deadline,
        });
        self.bind_deadline = deadline;
        Ok(sequence_number)
    }

    /// Sends unbind (bound states only) and starts the unbind timer. No further requests can
    /// be sent; incoming requests are still delivered. The session closes on unbind_resp or
    /// when the timer runs out; requests still in flight then are reported as
    /// [`Event::Unanswered`], so drain the window first for a clean shutdown (§15.4).
    pub fn unbind(&mut self, now: Instant) -> Result<u32, SendError> {
        if self.phase == Phase::Closed {
            return Err(SendError::Closed);
        }
        let Phase::Bound(kind) = self.phase else {
            return Err(self.not_allowed(CommandId::UNBIND));
        };
        let sequence_number = self.allocate_sequence_number();
        write_header_pdu(
            &mut self.tx,
            CommandId::UNBIND,
            CommandStatus::ESME_ROK,
            sequence_number,
            &[],
        );
        self.phase = Phase::Unbinding(kind);
        self.unbind = Some(Pending {
            sequence_number,
            deadline: deadline_after(now, self.config.unbind_timeout),
        });
        Ok(sequence_number)
    }

    /// Sends a request and returns its sequence number.
    ///
    /// Checks that our role may send it in the current state (bind and unbind go through
    /// [`Session::bind`] / [`Session::unbind`] rules when passed here), that the window has
    /// room (outbind and alert_notification have no response and take no slot), then
    /// allocates the sequence number, records the deadline and encodes the PDU into the
    /// outgoing buffer. Unknown (vendor) operations are allowed in bound states.
    pub fn send_request(&mut self, now: Instant, body: PduBody) -> Result<u32, SendError> {
        let command_id = body.command_id();
        if self.phase == Phase::Closed {
            return Err(SendError::Closed);
        }
        if command_id.is_response() {
            return Err(SendError::NotARequest { command_id });
        }
        match rules::classify(command_id) {
            Op::Bind(_) => return self.send_bind(now, body),
            Op::Unbind => return self.unbind(now),
            Op::Outbind => {
                if self.role != Role::Mc || self.phase != Phase::Open {
                    return Err(self.not_allowed(command_id));
                }
                let sequence_number = self.allocate_sequence_number();
                Pdu::new(sequence_number, body).encode(&mut self.tx);
                self.phase = Phase::Outbound;
                return Ok(sequence_number);
            }
            Op::Alert => {
                self.check_message_op(command_id, Op::Alert)?;
                let sequence_number = self.allocate_sequence_number();
                Pdu::new(sequence_number, body).encode(&mut self.tx);
                return Ok(sequence_number);
            }
            // Both roles, any state but Closed/Unbinding: 5.0 allows it outside bound states.
            Op::EnquireLink => {
                if matches!(self.phase, Phase::Unbinding(_)) {
                    return Err(self.not_allowed(command_id));
                }
            }
            op @ (Op::EsmeToMc | Op::McToEsme | Op::EitherWay) => {
                self.check_message_op(command_id, op)?;
            }
            Op::Unknown => {
                if !matches!(self.phase, Phase::Bound(_)) {
                    return Err(self.not_allowed(command_id));
                }
            }
        }
        if self.in_flight >= self.config.window {
            return Err(SendError::WindowFull {
                window: self.config.window,
            });
        }
        let Some((sequence_number, index)) = self.allocate_slot() else {
            // Unreachable while the table holds twice the window (see `allocate_slot`).
            return Err(SendError::WindowFull {
                window: self.config.window,
            });
        };
        let deadline = deadline_after(now, self.config.response_timeout);
        // `allocate_slot` checked that `index` is in the table and free.
        let Some(slot) = self.slots.get_mut(index) else {
            return Err(SendError::WindowFull {
                window: self.config.window,
            });
        };
        *slot = Some(InFlight {
            sequence_number,
            command_id,
            deadline,
        });
        self.in_flight += 1;
        Pdu::new(sequence_number, body).encode(&mut self.tx);
        if let Some(deadline) = deadline {
            self.deadlines.push_back((deadline, sequence_number));
        }
        Ok(sequence_number)
    }

    /// Answers a request the peer sent ([`Event::Request`]) with `status` and `body`, echoing
    /// `sequence_number` verbatim. Allowed while bound or unbinding, for responses our role
    /// sends in the bind type; generic_nack in any open state. bind_*_resp goes through
    /// [`Session::accept_bind`]; enquire_link_resp and unbind_resp are sent by the session.
    pub fn send_response(
        &mut self,
        _now: Instant,
        sequence_number: u32,
        status: CommandStatus,
        body: PduBody,
    ) -> Result<(), SendError> {
        let command_id = body.command_id();
        if self.phase == Phase::Closed {
            return Err(SendError::Closed);
        }
        if !command_id.is_response() {
            return Err(SendError::NotAResponse { command_id });
        }
        if command_id != CommandId::GENERIC_NACK {
            let op = rules::classify(rules::request_of(command_id));
            let allowed = matches!(op, Op::EsmeToMc | Op::McToEsme | Op::EitherWay)
                && self.bound_kind().is_some_and(|kind| {
                    rules::message_op_allowed(self.role.peer(), op, kind).is_ok()
                });
            if !allowed {
                return Err(self.not_allowed(command_id));
            }
        }
        Pdu {
            sequence_number,
            command_status: status,
            body,
        }
        .encode(&mut self.tx);
        Ok(())
    }

    /// MC: accepts the pending [`Event::BindRequest`]: sends bind_*_resp (ESME_ROK) with
    /// `response` and enters the bound state.
    pub fn accept_bind(&mut self, now: Instant, response: BindResp) -> Result<(), SendError> {
        let (pending, kind) = self.pending_peer_bind()?;
        Pdu::new(pending.sequence_number, kind.response_body(response)).encode(&mut self.tx);
        self.bind = None;
        self.bind_deadline = None;
        self.phase = Phase::Bound(kind);
        // The keepalive timer starts from the bind, not from session start.
        self.last_received = now;
        Ok(())
    }

    /// MC: refuses the pending [`Event::BindRequest`] with `status` (e.g. ESME_RBINDFAIL for
    /// bad credentials) and closes the session, as MCs do (§15.2). The bind_*_resp carries an
    /// empty system_id.
    pub fn reject_bind(&mut self, _now: Instant, status: CommandStatus) -> Result<(), SendError> {
        if status.is_ok() {
            return Err(SendError::RejectWithOk { status });
        }
        let (pending, kind) = self.pending_peer_bind()?;
        let response = kind.response_id();
        write_header_pdu(
            &mut self.tx,
            response,
            status,
            pending.sequence_number,
            rules::empty_response_body(response),
        );
        self.close(CloseReason::BindFailed);
        Ok(())
    }

    fn pending_peer_bind(&self) -> Result<(Pending, BindKind), SendError> {
        if self.phase == Phase::Closed {
            return Err(SendError::Closed);
        }
        match (self.role, self.phase, self.bind) {
            (Role::Mc, Phase::Binding(kind), Some(pending)) => Ok((pending, kind)),
            _ => Err(SendError::NoPendingBind),
        }
    }

    /// The shell lost the connection: in-flight requests become [`Event::Unanswered`], then
    /// [`Event::Closed`] with [`CloseReason::ConnectionLost`].
    pub fn connection_lost(&mut self) {
        self.close(CloseReason::ConnectionLost);
    }

    /// Closes the session without the unbind handshake ([`CloseReason::Aborted`]).
    pub fn abort(&mut self) {
        self.close(CloseReason::Aborted);
    }

    fn check_message_op(&self, command_id: CommandId, op: Op) -> Result<(), SendError> {
        let allowed = matches!(self.phase, Phase::Bound(_))
            && self
                .bound_kind()
                .is_some_and(|kind| rules::message_op_allowed(self.role, op, kind).is_ok());
        if allowed {
            Ok(())
        } else {
            Err(self.not_allowed(command_id))
        }
    }

    fn not_allowed(&self, command_id: CommandId) -> SendError {
        SendError::NotAllowed {
            command_id,
            role: self.role,
            state: self.state(),
        }
    }

    fn allocate_sequence_number(&mut self) -> u32 {
        let sequence_number = self.next_sequence_number;
        self.next_sequence_number = if sequence_number >= MAX_SEQUENCE_NUMBER {
            1
        } else {
            sequence_number + 1
        };
        sequence_number
    }

    /// Allocates a sequence number whose table slot is free. Numbers whose slot is still
    /// held by an older request (one that outlived `capacity` later ones) are skipped: SMPP
    /// only needs them increasing, not contiguous. With at most `window` requests in flight
    /// and `capacity >= 2 * window`, at least half the slots are free, so the scan is short;
    /// it is bounded anyway.
    fn allocate_slot(&mut self) -> Option<(u32, usize)> {
        for _ in 0..self.slots.len() {
            let sequence_number = self.allocate_sequence_number();
            let index = sequence_number as usize & self.mask;
            if self.slots.get(index).is_some_and(Option::is_none) {
                return Some((sequence_number, index));
            }
        }
        None
    }

    // ----------------------------------------------------------------------------------
    // Output, events, timers

    /// Appends every pending outgoing byte (any number of whole PDUs) to `out`; returns how
    /// many. Keep calling after [`Event::Closed`] until it returns 0, then close.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.tx.len();
        out.extend_from_slice(&self.tx);
        self.tx.clear();
        n
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest instant at which [`Session::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Closed {
            return None;
        }
        let mut earliest = self.deadlines.front().map(|&(deadline, _)| deadline);
        earliest = min_instant(earliest, self.bind_deadline);
        earliest = min_instant(earliest, self.unbind.and_then(|p| p.deadline));
        earliest = min_instant(earliest, self.keepalive.and_then(|p| p.deadline));
        earliest = min_instant(earliest, self.inactivity_deadline());
        min_instant(earliest, self.keepalive_due())
    }

    /// Runs every timer due at `now`: response timeouts, the bind, unbind and keepalive
    /// timers, inactivity, and sends enquire_link after a quiet period.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Closed {
            return;
        }
        while let Some(&(deadline, sequence_number)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            if let Some(request) = self.take_in_flight(sequence_number, Some(deadline)) {
                self.events.push_back(Event::ResponseTimeout {
                    sequence_number,
                    command_id: request.command_id,
                    timeout: self.config.response_timeout,
                });
            }
        }
        self.trim_deadlines();
        if is_due(self.bind_deadline, now) {
            if self.role == Role::Esme {
                self.events.push_back(Event::BindFailed {
                    failure: BindFailure::TimedOut {
                        timeout: self.config.bind_timeout,
                    },
                });
            }
            self.close(CloseReason::BindTimeout);
            return;
        }
        if is_due(self.unbind.and_then(|p| p.deadline), now) {
            self.close(CloseReason::UnbindTimeout);
            return;
        }
        if is_due(self.keepalive.and_then(|p| p.deadline), now) {
            self.events.push_back(Event::KeepaliveTimeout {
                timeout: self.config.enquire_link_timeout,
            });
            self.close(CloseReason::KeepaliveTimeout);
            return;
        }
        if is_due(self.inactivity_deadline(), now) {
            self.close(CloseReason::InactivityTimeout);
            return;
        }
        if is_due(self.keepalive_due(), now) {
            let sequence_number = self.allocate_sequence_number();
            write_header_pdu(
                &mut self.tx,
                CommandId::ENQUIRE_LINK,
                CommandStatus::ESME_ROK,
                sequence_number,
                &[],
            );
            self.keepalive = Some(Pending {
                sequence_number,
                deadline: deadline_after(now, self.config.enquire_link_timeout),
            });
        }
    }

    fn inactivity_deadline(&self) -> Option<Instant> {
        self.config
            .inactivity_timeout
            .and_then(|timeout| deadline_after(self.last_received, timeout))
    }

    /// When the next enquire_link is due: only while bound, one at a time, measured from the
    /// last PDU received (only incoming traffic proves the peer is alive).
    fn keepalive_due(&self) -> Option<Instant> {
        if !matches!(self.phase, Phase::Bound(_)) || self.keepalive.is_some() {
            return None;
        }
        self.config
            .enquire_link_interval
            .and_then(|interval| deadline_after(self.last_received, interval))
    }

    /// Removes the in-flight request `sequence_number` (if `deadline` is given, only if it is
    /// the same request that deadline was recorded for).
    fn take_in_flight(
        &mut self,
        sequence_number: u32,
        deadline: Option<Instant>,
    ) -> Option<InFlight> {
        let slot = self.slots.get_mut(sequence_number as usize & self.mask)?;
        match *slot {
            Some(request)
                if request.sequence_number == sequence_number
                    && (deadline.is_none() || request.deadline == deadline) =>
            {
                *slot = None;
                self.in_flight -= 1;
                Some(request)
            }
            _ => None,
        }
    }

    fn is_live(&self, deadline: Instant, sequence_number: u32) -> bool {
        matches!(
            self.slots.get(sequence_number as usize & self.mask),
            Some(Some(request)) if request.sequence_number == sequence_number && request.deadline == Some(deadline)
        )
    }

    /// Drops answered entries from the front of the deadline queue, and compacts it when one
    /// slow request at the front lets answered entries pile up behind it.
    fn trim_deadlines(&mut self) {
        while let Some(&(deadline, sequence_number)) = self.deadlines.front() {
            if self.is_live(deadline, sequence_number) {
                break;
            }
            self.deadlines.pop_front();
        }
        if self.deadlines.len() > 2 * self.slots.len() {
            let mut deadlines = mem::take(&mut self.deadlines);
            deadlines
                .retain(|&(deadline, sequence_number)| self.is_live(deadline, sequence_number));
            self.deadlines = deadlines;
        }
    }

    /// Closes the session: reports in-flight requests (in send order) as unanswered, then
    /// [`Event::Closed`]. Queued output stays queued so the shell can flush it.
    fn close(&mut self, reason: CloseReason) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        let deadlines = mem::take(&mut self.deadlines);
        for &(deadline, sequence_number) in &deadlines {
            if let Some(request) = self.take_in_flight(sequence_number, Some(deadline)) {
                self.events.push_back(Event::Unanswered {
                    sequence_number,
                    command_id: request.command_id,
                });
            }
        }
        // Requests without a deadline (timeout overflowed `Instant`) are not in the queue.
        for slot in self.slots.iter_mut() {
            if let Some(request) = slot.take() {
                self.events.push_back(Event::Unanswered {
                    sequence_number: request.sequence_number,
                    command_id: request.command_id,
                });
            }
        }
        self.in_flight = 0;
        self.bind = None;
        self.bind_deadline = None;
        self.unbind = None;
        self.keepalive = None;
        self.rx = Vec::new();
        self.events.push_back(Event::Closed { reason });
    }

    // ----------------------------------------------------------------------------------
    // Input

    /// Takes bytes read from the connection (any amount, split anywhere) and handles every
    /// whole PDU in them. Ignored once closed.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        let mut data = data;
        // Finish a frame left incomplete by the previous call, copying only its own bytes,
        // so `rx` never holds more than one frame and the rest is decoded in place.
        while !self.rx.is_empty() && self.phase != Phase::Closed {
            match codec::check(&self.rx, self.config.max_pdu_size) {
                Ok(Some(len)) => {
                    let rx = mem::take(&mut self.rx);
                    if let Some(frame) = rx.get(..len) {
                        self.process_frame(now, frame);
                    }
                    // Reuse the allocation; `rx` held exactly this frame.
                    self.rx = rx;
                    self.rx.clear();
                }
                Ok(None) => {
                    if data.is_empty() {
                        return;
                    }
                    let needed = match self.rx.get(..4) {
                        Some(&[a, b, c, d]) => (u32::from_be_bytes([a, b, c, d]) as usize)
                            .saturating_sub(self.rx.len()),
                        _ => 4 - self.rx.len(),
                    };
                    let (head, rest) = data.split_at(needed.max(1).min(data.len()));
                    self.rx.extend_from_slice(head);
                    data = rest;
                }
                Err(error) => {
                    self.framing_error(error);
                    return;
                }
            }
        }
        while !data.is_empty() && self.phase != Phase::Closed {
            match codec::check(data, self.config.max_pdu_size) {
                Ok(Some(len)) => match data.split_at_checked(len) {
                    Some((frame, rest)) => {
                        self.process_frame(now, frame);
                        data = rest;
                    }
                    // `check` promises `len <= data.len()`; if not, wait for more bytes.
                    None => {
                        self.rx.extend_from_slice(data);
                        return;
                    }
                },
                Ok(None) => {
                    self.rx.extend_from_slice(data);
                    return;
                }
                Err(error) => {
                    self.framing_error(error);
                    return;
                }
            }
        }
    }

    fn framing_error(&mut self, error: FrameError) {
        // The offending sequence number cannot be trusted once the length is not (§15.7).
        write_header_pdu(
            &mut self.tx,
            CommandId::GENERIC_NACK,
            CommandStatus::ESME_RINVCMDLEN,
            0,
            &[],
        );
        self.close(CloseReason::Framing(error));
    }

    fn process_frame(&mut self, now: Instant, frame: &[u8]) {
        self.last_received = now;
        match Pdu::decode(frame) {
            Ok(pdu) if pdu.command_id().is_response() => self.on_response(now, pdu),
            Ok(pdu) => self.on_request(pdu),
            Err(error) => self.on_decode_error(frame, error),
        }
    }

    fn on_request(&mut self, pdu: Pdu) {
        let command_id = pdu.command_id();
        let sequence_number = pdu.sequence_number;
        match rules::classify(command_id) {
            Op::EnquireLink => {
                write_header_pdu(
                    &mut self.tx,
                    CommandId::ENQUIRE_LINK_RESP,
                    CommandStatus::ESME_ROK,
                    sequence_number,
                    &[],
                );
            }
            Op::Unknown => self.reject(command_id, sequence_number, CommandStatus::ESME_RINVCMDID),
            Op::Bind(kind) => {
                if self.role != Role::Mc {
                    return self.reject(command_id, sequence_number, CommandStatus::ESME_RINVCMDID);
                }
                match self.phase {
                    Phase::Open | Phase::Outbound => {}
                    Phase::Binding(_) | Phase::Bound(_) => {
                        return self.reject(
                            command_id,
                            sequence_number,
                            CommandStatus::ESME_RALYBND,
                        )
                    }
                    Phase::Unbinding(_) | Phase::Closed => {
                        return self.reject(
                            command_id,
                            sequence_number,
                            CommandStatus::ESME_RINVBNDSTS,
                        )
                    }
                }
                let bind = match pdu.body {
                    PduBody::BindTransmitter(bind)
                    | PduBody::BindReceiver(bind)
                    | PduBody::BindTransceiver(bind) => bind,
                    // `classify` said bind, so the decoder produced a bind body.
                    _ => {
                        return self.reject(
                            command_id,
                            sequence_number,
                            CommandStatus::ESME_RSYSERR,
                        )
                    }
                };
                self.phase = Phase::Binding(kind);
                // The MC's bind timer (from session start) keeps running until accepted.
                self.bind = Some(Pending {
                    sequence_number,
                    deadline: self.bind_deadline,
                });
                self.events.push_back(Event::BindRequest {
                    sequence_number,
                    kind,
                    bind,
                });
            }
            Op::Outbind => {
                if self.role != Role::Esme {
                    return self.reject(command_id, sequence_number, CommandStatus::ESME_RINVCMDID);
                }
                if self.phase != Phase::Open {
                    return self.reject(
                        command_id,
                        sequence_number,
                        CommandStatus::ESME_RINVBNDSTS,
                    );
                }
                if let PduBody::Outbind(outbind) = pdu.body {
                    self.phase = Phase::Outbound;
                    self.events.push_back(Event::Outbind(outbind));
                }
            }
            Op::Unbind => {
                if self.bound_kind().is_none() {
                    return self.reject(
                        command_id,
                        sequence_number,
                        CommandStatus::ESME_RINVBNDSTS,
                    );
                }
                write_header_pdu(
                    &mut self.tx,
                    CommandId::UNBIND_RESP,
                    CommandStatus::ESME_ROK,
                    sequence_number,
                    &[],
                );
                self.close(CloseReason::PeerUnbound);
            }
            op @ (Op::EsmeToMc | Op::McToEsme | Op::EitherWay | Op::Alert) => {
                let verdict = match self.bound_kind() {
                    Some(kind) => rules::message_op_allowed(self.role.peer(), op, kind),
                    // Not bound: a wrong direction is still the more precise answer.
                    None => rules::message_op_allowed(self.role.peer(), op, BindKind::Transceiver)
                        .and(Err(CommandStatus::ESME_RINVBNDSTS)),
                };
                if let Err(status) = verdict {
                    return self.reject(command_id, sequence_number, status);
                }
                match pdu.body {
                    PduBody::AlertNotification(alert) => {
                        self.events.push_back(Event::AlertNotification(alert))
                    }
                    _ => self.events.push_back(Event::Request(pdu)),
                }
            }
        }
    }

    /// Answers a request we will not handle with its `*_resp` (or generic_nack when it has
    /// none) carrying `status`, and reports it.
    fn reject(&mut self, command_id: CommandId, sequence_number: u32, status: CommandStatus) {
        self.answer_error(command_id, sequence_number, status);
        self.events
            .push_back(Event::ProtocolError(ProtocolError::RequestRejected {
                command_id,
                sequence_number,
                status,
            }));
    }

    fn answer_error(&mut self, command_id: CommandId, sequence_number: u32, status: CommandStatus) {
        let response = match rules::classify(command_id) {
            // Unknown ids have no response type we could name: generic_nack.
            Op::Unknown => CommandId::GENERIC_NACK,
            _ => command_id.response_id().unwrap_or(CommandId::GENERIC_NACK),
        };
        write_header_pdu(
            &mut self.tx,
            response,
            status,
            sequence_number,
            rules::empty_response_body(response),
        );
    }

    fn on_response(&mut self, now: Instant, pdu: Pdu) {
        let sequence_number = pdu.sequence_number;
        let command_id = pdu.command_id();
        match self.own_request(sequence_number, command_id) {
            Some(Own::Bind(kind)) => return self.on_bind_response(now, kind, pdu),
            // An error answer means the peer considers the session over too.
            Some(Own::Unbind) => return self.close(CloseReason::Unbound),
            Some(Own::Keepalive) => {
                // Any answer proves the link is alive.
                self.keepalive = None;
                return;
            }
            None => {}
        }
        if let Some(request_id) = self.matching_request(sequence_number, command_id) {
            self.take_in_flight(sequence_number, None);
            self.trim_deadlines();
            self.events.push_back(Event::Response {
                sequence_number,
                request_id,
                pdu,
            });
            return;
        }
        self.events
            .push_back(Event::ProtocolError(ProtocolError::UnexpectedResponse {
                command_id,
                sequence_number,
                command_status: pdu.command_status,
            }));
    }

    /// Which of the session's own requests (bind, unbind, keepalive) `response` answers.
    fn own_request(&self, sequence_number: u32, response: CommandId) -> Option<Own> {
        let answers = |pending: Option<Pending>, expected: CommandId| {
            pending.is_some_and(|p| p.sequence_number == sequence_number)
                && (response == expected || response == CommandId::GENERIC_NACK)
        };
        if let (Role::Esme, Phase::Binding(kind)) = (self.role, self.phase) {
            if answers(self.bind, kind.response_id()) {
                return Some(Own::Bind(kind));
            }
        }
        if answers(self.unbind, CommandId::UNBIND_RESP) {
            return Some(Own::Unbind);
        }
        if answers(self.keepalive, CommandId::ENQUIRE_LINK_RESP) {
            return Some(Own::Keepalive);
        }
        None
    }

    /// The command id of our in-flight request `sequence_number`, if `response` answers it.
    fn matching_request(&self, sequence_number: u32, response: CommandId) -> Option<CommandId> {
        match self.slots.get(sequence_number as usize & self.mask) {
            Some(Some(request))
                if request.sequence_number == sequence_number
                    && (response == CommandId::GENERIC_NACK
                        // The rule for every operation, vendor ones included (whose
                        // ids `CommandId::response_id` does not know).
                        || request.command_id.0 | 0x8000_0000 == response.0) =>
            {
                Some(request.command_id)
            }
            _ => None,
        }
    }

    fn on_bind_response(&mut self, now: Instant, kind: BindKind, pdu: Pdu) {
        let status = pdu.command_status;
        let response = match pdu.body {
            PduBody::BindTransmitterResp(r)
            | PduBody::BindReceiverResp(r)
            | PduBody::BindTransceiverResp(r)
                if status.is_ok() =>
            {
                r
            }
            _ => return self.bind_failed(BindFailure::Rejected { status }),
        };
        self.bind = None;
        self.bind_deadline = None;
        self.phase = Phase::Bound(kind);
        self.last_received = now;
        self.events.push_back(Event::Bound { kind, response });
    }

    fn bind_failed(&mut self, failure: BindFailure) {
        self.events.push_back(Event::BindFailed { failure });
        self.close(CloseReason::BindFailed);
    }

    fn on_decode_error(&mut self, frame: &[u8], error: DecodeError) {
        let command_id = error.command_id;
        let sequence_number = error.sequence_number;
        if !command_id.is_response() {
            self.answer_error(command_id, sequence_number, error.status());
            self.events
                .push_back(Event::ProtocolError(ProtocolError::MalformedRequest {
                    error,
                }));
            return;
        }
        // `check` guaranteed at least the 16-octet header.
        let command_status = CommandStatus(match frame.get(8..12) {
            Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
            _ => 0,
        });
        match self.own_request(sequence_number, command_id) {
            Some(Own::Bind(_)) => return self.bind_failed(BindFailure::Malformed { error }),
            Some(Own::Unbind) => return self.close(CloseReason::Unbound),
            Some(Own::Keepalive) => {
                self.keepalive = None;
                return;
            }
            None => {}
        }
        if let Some(request_id) = self.matching_request(sequence_number, command_id) {
            self.take_in_flight(sequence_number, None);
            self.trim_deadlines();
            self.events.push_back(Event::ResponseUndecodable {
                sequence_number,
                request_id,
                command_status,
                error,
            });
            return;
        }
        self.events
            .push_back(Event::ProtocolError(ProtocolError::MalformedResponse {
                error,
            }));
    }
}

/// Appends a PDU made of the header and a fixed body. Used for the PDUs the session writes
/// itself (enquire_link, unbind and their responses, generic_nack, error responses), which
/// need no typed body and so cost no allocation.
fn write_header_pdu(
    out: &mut Vec<u8>,
    command_id: CommandId,
    status: CommandStatus,
    sequence_number: u32,
    body: &[u8],
) {
    // Bodies here are at most 4 octets, so the length fits easily.
    let length = 16 + body.len() as u32;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&command_id.0.to_be_bytes());
    out.extend_from_slice(&status.0.to_be_bytes());
    out.extend_from_slice(&sequence_number.to_be_bytes());
    out.extend_from_slice(body);
}

/// `now + timeout`, or `None` (never) when that is beyond what `Instant` can represent.
fn deadline_after(now: Instant, timeout: Duration) -> Option<Instant> {
    now.checked_add(timeout)
}

fn min_instant(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

fn is_due(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|deadline| deadline <= now)
}
