//! Sans-IO SMPP 3.4 (with the SMPP 5.0 TLVs).
//!
//! This crate turns bytes into typed PDUs and back, parses and formats delivery receipts and
//! SMPP time strings, and runs the session state machine for both roles (ESME and MC). It
//! never touches a socket or a clock: callers hand it bytes and `now`, and take back bytes,
//! events and the next deadline (see `smpp-tokio` for the async shell).
//!
//! # Layout
//! - [`types`]: header values (command ids, statuses) and field types with their wire limits.
//! - [`tlv`]: optional parameters, typed, unknown ones preserved.
//! - [`pdu`]: one module per operation and the [`pdu::Pdu`] / [`pdu::PduBody`] enum.
//! - [`codec`]: framing (check, then parse), decoding and encoding.
//! - [`receipt`]: delivery receipts, text form and TLV form.
//! - [`time`]: SMPP absolute and relative time strings.
//! - [`session`]: the session state machine for both roles, driven by the caller's clock.
//! - [`message_state`]: `message_state` / `network_error_code` shared by TLVs and receipts.
#![forbid(unsafe_code)]

pub mod codec;
pub mod message_state;
pub mod pdu;
pub mod receipt;
pub mod session;
pub mod time;
pub mod tlv;
pub mod types;

pub use message_state::{MessageState, NetworkErrorCode};
// Re-exports (helpers: add your `pub use` lines below this comment, one line each).
pub use pdu::{Pdu, PduBody};
pub use receipt::{
    id_keys, IdKey, IdKeys, IdSource, MessageId, ReceiptInfo, ReceiptTlvs, TextReceipt,
};
pub use session::{BindKind, Event, Role, SendError, Session, SessionConfig, SessionState};
pub use time::{AbsoluteTime, RelativeTime, SmppTime, UtcOffset};
pub use types::{CommandId, CommandStatus};
