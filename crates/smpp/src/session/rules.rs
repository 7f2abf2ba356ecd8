//! Which PDU may be sent by which role in which state (smpp-reference.md §15.2).
//!
//! Kept apart from the state machine so the table can be read (and tested) on its own: the
//! machine asks "may this role send this operation now?" for both directions, and the answer
//! for the receiving side is the status to reject with.

use crate::types::{CommandId, CommandStatus};

use super::{BindKind, Role};

/// What an operation is, as far as session rules are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// bind_transmitter / bind_receiver / bind_transceiver (ESME -> MC, only before binding).
    Bind(BindKind),
    /// outbind (MC -> ESME, only in OPEN; no response).
    Outbind,
    /// unbind (either side, bound states).
    Unbind,
    /// enquire_link (either side, any state: always answered).
    EnquireLink,
    /// A message operation that only an ESME sends and that needs a transmitting bind:
    /// submit_sm, submit_multi, query_sm, cancel_sm, replace_sm.
    EsmeToMc,
    /// A message operation that only an MC sends and that needs a receiving bind: deliver_sm.
    McToEsme,
    /// data_sm: either side; the direction decides which capability the bind needs.
    EitherWay,
    /// alert_notification: MC -> ESME, receiving bind, no response.
    Alert,
    /// A request id this crate has no rule for (unknown, reserved, vendor or 5.0 broadcast).
    Unknown,
}

/// Classifies a request command id (callers have checked that bit 31 is clear).
pub(super) fn classify(id: CommandId) -> Op {
    match id {
        CommandId::BIND_TRANSMITTER => Op::Bind(BindKind::Transmitter),
        CommandId::BIND_RECEIVER => Op::Bind(BindKind::Receiver),
        CommandId::BIND_TRANSCEIVER => Op::Bind(BindKind::Transceiver),
        CommandId::OUTBIND => Op::Outbind,
        CommandId::UNBIND => Op::Unbind,
        CommandId::ENQUIRE_LINK => Op::EnquireLink,
        CommandId::SUBMIT_SM
        | CommandId::SUBMIT_MULTI
        | CommandId::QUERY_SM
        | CommandId::CANCEL_SM
        | CommandId::REPLACE_SM => Op::EsmeToMc,
        CommandId::DELIVER_SM => Op::McToEsme,
        CommandId::DATA_SM => Op::EitherWay,
        CommandId::ALERT_NOTIFICATION => Op::Alert,
        _ => Op::Unknown,
    }
}

/// The request id a response id answers (clears bit 31). generic_nack maps to 0, which
/// classifies as [`Op::Unknown`]; callers handle generic_nack before asking.
pub(super) fn request_of(response: CommandId) -> CommandId {
    CommandId(response.0 & !0x8000_0000)
}

/// Whether `sender`, bound as `kind`, may send the message operation `op` (one of
/// [`Op::EsmeToMc`], [`Op::McToEsme`], [`Op::EitherWay`], [`Op::Alert`]).
///
/// `Err` carries the status the receiving side answers with: ESME_RINVCMDID when this role
/// never sends that operation (a deliver_sm arriving at an MC is not a state problem: the
/// operation does not exist in that direction), ESME_RINVBNDSTS when the bind type does not
/// allow it (a deliver_sm to a transmitter).
pub(super) fn message_op_allowed(
    sender: Role,
    op: Op,
    kind: BindKind,
) -> Result<(), CommandStatus> {
    let direction_ok = match op {
        Op::EsmeToMc => sender == Role::Esme,
        Op::McToEsme | Op::Alert => sender == Role::Mc,
        Op::EitherWay => true,
        // Session operations are not message operations; the machine never asks for them.
        Op::Bind(_) | Op::Outbind | Op::Unbind | Op::EnquireLink | Op::Unknown => false,
    };
    if !direction_ok {
        return Err(CommandStatus::ESME_RINVCMDID);
    }
    // A transceiver can do everything a transmitter and a receiver can (§15.1).
    let capability = match sender {
        Role::Esme => kind.can_transmit(),
        Role::Mc => kind.can_receive(),
    };
    if capability {
        Ok(())
    } else {
        Err(CommandStatus::ESME_RINVBNDSTS)
    }
}

/// The shortest body a decoder accepts for an error response with this id, all fields
/// empty/zero. 3.4 lets submit_sm_resp omit its body on error, but a single NUL message_id is
/// what every decoder accepts (cloudhopper, Kannel, our codec), so the bodies that start with
/// a C-string get one; header-only responses stay header-only.
pub(super) fn empty_response_body(response: CommandId) -> &'static [u8] {
    match response {
        CommandId::BIND_TRANSMITTER_RESP
        | CommandId::BIND_RECEIVER_RESP
        | CommandId::BIND_TRANSCEIVER_RESP
        | CommandId::SUBMIT_SM_RESP
        | CommandId::DELIVER_SM_RESP
        | CommandId::DATA_SM_RESP => &[0],
        // message_id NUL, no_unsuccess 0.
        CommandId::SUBMIT_MULTI_RESP => &[0, 0],
        // message_id NUL, final_date NUL, message_state, error_code.
        CommandId::QUERY_SM_RESP => &[0, 0, 0, 0],
        _ => &[],
    }
}
