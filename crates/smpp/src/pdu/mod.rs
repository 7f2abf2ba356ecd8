//! Typed PDUs: one module per operation, and [`Pdu`] / [`PduBody`] that dispatch on
//! `command_id`.
//!
//! Decoding is total: any frame gives a [`Pdu`] or a [`DecodeError`] naming the field, never
//! a panic. Unknown operations survive as [`PduBody::Other`]. Every field value was validated
//! when it was built (see [`crate::types`]), so encoding is infallible and writes straight into
//! the caller's `BufMut` after computing the length.
//!
//! Tolerated on decode (never produced on encode): response bodies omitted after an error
//! (e.g. a 16-octet submit_sm_resp or bind_resp), and TLVs after the mandatory fields of any
//! PDU (SMPP 5.0 allows `congestion_state` on every response). Header-only PDUs check such
//! trailing TLVs for well-formedness and then drop them.

use crate::codec::{put_header, DecodeError, DecodeErrorKind, FieldError, Reader, HEADER_LEN};
use crate::tlv::Tlvs;
use crate::types::{CommandId, CommandStatus};
use bytes::{BufMut, Bytes};

mod alert_notification;
mod bind;
mod cancel_sm;
mod data_sm;
mod deliver_sm;
mod outbind;
mod query_sm;
mod replace_sm;
mod submit_multi;
mod submit_sm;

pub use alert_notification::AlertNotification;
pub use bind::{Bind, BindResp};
pub use cancel_sm::CancelSm;
pub use data_sm::{DataSm, DataSmResp};
pub use deliver_sm::{DeliverSm, DeliverSmResp};
pub use outbind::Outbind;
pub use query_sm::{QuerySm, QuerySmResp};
pub use replace_sm::ReplaceSm;
pub use submit_multi::{DestAddress, SubmitMulti, SubmitMultiResp, UnsuccessSme};
pub use submit_sm::{SubmitSm, SubmitSmResp};

/// The wire form of one PDU body (everything after the 16-octet header).
pub(crate) trait Body: Sized {
    /// Decodes the whole body; the reader must be empty afterwards.
    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError>;
    /// Decodes into a `Box`. Large bodies override this to fill the box in place, so the
    /// decoded struct is not built on the stack and then copied to the heap.
    fn decode_boxed(r: &mut Reader<'_>) -> Result<Box<Self>, FieldError> {
        Self::decode(r).map(Box::new)
    }
    /// Octets [`Body::encode`] writes.
    fn encoded_len(&self) -> usize;
    /// Writes the body.
    fn encode(&self, out: &mut impl BufMut);
}

/// One SMPP PDU: header values and a typed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// Chosen by the sender of a request, echoed in its response. Any `u32` is accepted
    /// (real MCs use values above 0x7FFFFFFF).
    pub sequence_number: u32,
    /// 0 in requests; the result in responses.
    pub command_status: CommandStatus,
    /// The operation and its fields.
    pub body: PduBody,
}

/// The operation of a PDU and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PduBody {
    /// bind_transmitter.
    BindTransmitter(Bind),
    /// bind_receiver.
    BindReceiver(Bind),
    /// bind_transceiver.
    BindTransceiver(Bind),
    /// bind_transmitter_resp.
    BindTransmitterResp(BindResp),
    /// bind_receiver_resp.
    BindReceiverResp(BindResp),
    /// bind_transceiver_resp.
    BindTransceiverResp(BindResp),
    /// outbind (MC→ESME, no response).
    Outbind(Outbind),
    /// unbind (header only).
    Unbind,
    /// unbind_resp (header only).
    UnbindResp,
    /// generic_nack (header only; the status says why).
    GenericNack,
    /// enquire_link (header only).
    EnquireLink,
    /// enquire_link_resp (header only).
    EnquireLinkResp,
    /// submit_sm.
    SubmitSm(Box<SubmitSm>),
    /// submit_sm_resp.
    SubmitSmResp(SubmitSmResp),
    /// deliver_sm.
    DeliverSm(Box<DeliverSm>),
    /// deliver_sm_resp.
    DeliverSmResp(DeliverSmResp),
    /// data_sm.
    DataSm(Box<DataSm>),
    /// data_sm_resp.
    DataSmResp(DataSmResp),
    /// submit_multi.
    SubmitMulti(Box<SubmitMulti>),
    /// submit_multi_resp.
    SubmitMultiResp(SubmitMultiResp),
    /// query_sm.
    QuerySm(QuerySm),
    /// query_sm_resp.
    QuerySmResp(QuerySmResp),
    /// cancel_sm.
    CancelSm(CancelSm),
    /// cancel_sm_resp (header only).
    CancelSmResp,
    /// replace_sm.
    ReplaceSm(Box<ReplaceSm>),
    /// replace_sm_resp (header only).
    ReplaceSmResp,
    /// alert_notification (MC→ESME, no response).
    AlertNotification(AlertNotification),
    /// An operation this crate does not model (reserved ids, SMPP 5.0 broadcast PDUs); the
    /// body is kept verbatim.
    Other {
        /// The command_id from the header.
        command_id: CommandId,
        /// The raw body.
        body: Bytes,
    },
}

impl PduBody {
    /// The command_id this body is sent with.
    pub fn command_id(&self) -> CommandId {
        match self {
            Self::BindTransmitter(_) => CommandId::BIND_TRANSMITTER,
            Self::BindReceiver(_) => CommandId::BIND_RECEIVER,
            Self::BindTransceiver(_) => CommandId::BIND_TRANSCEIVER,
            Self::BindTransmitterResp(_) => CommandId::BIND_TRANSMITTER_RESP,
            Self::BindReceiverResp(_) => CommandId::BIND_RECEIVER_RESP,
            Self::BindTransceiverResp(_) => CommandId::BIND_TRANSCEIVER_RESP,
            Self::Outbind(_) => CommandId::OUTBIND,
            Self::Unbind => CommandId::UNBIND,
            Self::UnbindResp => CommandId::UNBIND_RESP,
            Self::GenericNack => CommandId::GENERIC_NACK,
            Self::EnquireLink => CommandId::ENQUIRE_LINK,
            Self::EnquireLinkResp => CommandId::ENQUIRE_LINK_RESP,
            Self::SubmitSm(_) => CommandId::SUBMIT_SM,
            Self::SubmitSmResp(_) => CommandId::SUBMIT_SM_RESP,
            Self::DeliverSm(_) => CommandId::DELIVER_SM,
            Self::DeliverSmResp(_) => CommandId::DELIVER_SM_RESP,
            Self::DataSm(_) => CommandId::DATA_SM,
            Self::DataSmResp(_) => CommandId::DATA_SM_RESP,
            Self::SubmitMulti(_) => CommandId::SUBMIT_MULTI,
            Self::SubmitMultiResp(_) => CommandId::SUBMIT_MULTI_RESP,
            Self::QuerySm(_) => CommandId::QUERY_SM,
            Self::QuerySmResp(_) => CommandId::QUERY_SM_RESP,
            Self::CancelSm(_) => CommandId::CANCEL_SM,
            Self::CancelSmResp => CommandId::CANCEL_SM_RESP,
            Self::ReplaceSm(_) => CommandId::REPLACE_SM,
            Self::ReplaceSmResp => CommandId::REPLACE_SM_RESP,
            Self::AlertNotification(_) => CommandId::ALERT_NOTIFICATION,
            Self::Other { command_id, .. } => *command_id,
        }
    }

    /// True for responses (bit 31 of the command_id, generic_nack included).
    pub fn is_response(&self) -> bool {
        self.command_id().is_response()
    }

    /// Octets of the body on the wire.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::BindTransmitter(b) | Self::BindReceiver(b) | Self::BindTransceiver(b) => {
                b.encoded_len()
            }
            Self::BindTransmitterResp(b)
            | Self::BindReceiverResp(b)
            | Self::BindTransceiverResp(b) => b.encoded_len(),
            Self::Outbind(b) => b.encoded_len(),
            Self::Unbind
            | Self::UnbindResp
            | Self::GenericNack
            | Self::EnquireLink
            | Self::EnquireLinkResp
            | Self::CancelSmResp
            | Self::ReplaceSmResp => 0,
            Self::SubmitSm(b) => b.encoded_len(),
            Self::SubmitSmResp(b) => b.encoded_len(),
            Self::DeliverSm(b) => b.encoded_len(),
            Self::DeliverSmResp(b) => b.encoded_len(),
            Self::DataSm(b) => b.encoded_len(),
            Self::DataSmResp(b) => b.encoded_len(),
            Self::SubmitMulti(b) => b.encoded_len(),
            Self::SubmitMultiResp(b) => b.encoded_len(),
            Self::QuerySm(b) => b.encoded_len(),
            Self::QuerySmResp(b) => b.encoded_len(),
            Self::CancelSm(b) => b.encoded_len(),
            Self::ReplaceSm(b) => b.encoded_len(),
            Self::AlertNotification(b) => b.encoded_len(),
            Self::Other { body, .. } => body.len(),
        }
    }

    /// Writes the body (not the header).
    pub fn encode(&self, out: &mut impl BufMut) {
        match self {
            Self::BindTransmitter(b) | Self::BindReceiver(b) | Self::BindTransceiver(b) => {
                b.encode(out)
            }
            Self::BindTransmitterResp(b)
            | Self::BindReceiverResp(b)
            | Self::BindTransceiverResp(b) => b.encode(out),
            Self::Outbind(b) => b.encode(out),
            Self::Unbind
            | Self::UnbindResp
            | Self::GenericNack
            | Self::EnquireLink
            | Self::EnquireLinkResp
            | Self::CancelSmResp
            | Self::ReplaceSmResp => {}
            Self::SubmitSm(b) => b.encode(out),
            Self::SubmitSmResp(b) => b.encode(out),
            Self::DeliverSm(b) => b.encode(out),
            Self::DeliverSmResp(b) => b.encode(out),
            Self::DataSm(b) => b.encode(out),
            Self::DataSmResp(b) => b.encode(out),
            Self::SubmitMulti(b) => b.encode(out),
            Self::SubmitMultiResp(b) => b.encode(out),
            Self::QuerySm(b) => b.encode(out),
            Self::QuerySmResp(b) => b.encode(out),
            Self::CancelSm(b) => b.encode(out),
            Self::ReplaceSm(b) => b.encode(out),
            Self::AlertNotification(b) => b.encode(out),
            Self::Other { body, .. } => out.put_slice(body),
        }
    }

    fn decode(command_id: CommandId, r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(match command_id {
            CommandId::BIND_TRANSMITTER => Self::BindTransmitter(Bind::decode(r)?),
            CommandId::BIND_RECEIVER => Self::BindReceiver(Bind::decode(r)?),
            CommandId::BIND_TRANSCEIVER => Self::BindTransceiver(Bind::decode(r)?),
            CommandId::BIND_TRANSMITTER_RESP => Self::BindTransmitterResp(BindResp::decode(r)?),
            CommandId::BIND_RECEIVER_RESP => Self::BindReceiverResp(BindResp::decode(r)?),
            CommandId::BIND_TRANSCEIVER_RESP => Self::BindTransceiverResp(BindResp::decode(r)?),
            CommandId::OUTBIND => Self::Outbind(Outbind::decode(r)?),
            CommandId::UNBIND => header_only(r, Self::Unbind)?,
            CommandId::UNBIND_RESP => header_only(r, Self::UnbindResp)?,
            CommandId::GENERIC_NACK => header_only(r, Self::GenericNack)?,
            CommandId::ENQUIRE_LINK => header_only(r, Self::EnquireLink)?,
            CommandId::ENQUIRE_LINK_RESP => header_only(r, Self::EnquireLinkResp)?,
            CommandId::SUBMIT_SM => Self::SubmitSm(SubmitSm::decode_boxed(r)?),
            CommandId::SUBMIT_SM_RESP => Self::SubmitSmResp(SubmitSmResp::decode(r)?),
            CommandId::DELIVER_SM => Self::DeliverSm(DeliverSm::decode_boxed(r)?),
            CommandId::DELIVER_SM_RESP => Self::DeliverSmResp(DeliverSmResp::decode(r)?),
            CommandId::DATA_SM => Self::DataSm(DataSm::decode_boxed(r)?),
            CommandId::DATA_SM_RESP => Self::DataSmResp(DataSmResp::decode(r)?),
            CommandId::SUBMIT_MULTI => Self::SubmitMulti(SubmitMulti::decode_boxed(r)?),
            CommandId::SUBMIT_MULTI_RESP => Self::SubmitMultiResp(SubmitMultiResp::decode(r)?),
            CommandId::QUERY_SM => Self::QuerySm(QuerySm::decode(r)?),
            CommandId::QUERY_SM_RESP => Self::QuerySmResp(QuerySmResp::decode(r)?),
            CommandId::CANCEL_SM => Self::CancelSm(CancelSm::decode(r)?),
            CommandId::CANCEL_SM_RESP => header_only(r, Self::CancelSmResp)?,
            CommandId::REPLACE_SM => Self::ReplaceSm(ReplaceSm::decode_boxed(r)?),
            CommandId::REPLACE_SM_RESP => header_only(r, Self::ReplaceSmResp)?,
            CommandId::ALERT_NOTIFICATION => Self::AlertNotification(AlertNotification::decode(r)?),
            other => Self::Other {
                command_id: other,
                body: r.rest(),
            },
        })
    }
}

/// A header-only PDU: anything after the header must be a well-formed TLV stream (5.0 lets
/// responses carry `congestion_state`); it is checked and dropped.
fn header_only(r: &mut Reader<'_>, body: PduBody) -> Result<PduBody, FieldError> {
    Tlvs::decode(r)?;
    Ok(body)
}

/// Reads the TLVs that close a body, or none if the body has ended.
pub(crate) fn trailing_tlvs(r: &mut Reader<'_>) -> Result<Tlvs, FieldError> {
    if r.remaining() == 0 {
        Ok(Tlvs::new())
    } else {
        Tlvs::decode(r)
    }
}

impl Pdu {
    /// A PDU with status ESME_ROK.
    pub fn new(sequence_number: u32, body: PduBody) -> Self {
        Self {
            sequence_number,
            command_status: CommandStatus::ESME_ROK,
            body,
        }
    }

    /// A PDU with the given status (for responses).
    pub fn with_status(sequence_number: u32, command_status: CommandStatus, body: PduBody) -> Self {
        Self {
            sequence_number,
            command_status,
            body,
        }
    }

    /// A generic_nack with this status, answering `sequence_number`.
    pub fn generic_nack(sequence_number: u32, command_status: CommandStatus) -> Self {
        Self::with_status(sequence_number, command_status, PduBody::GenericNack)
    }

    /// The command_id this PDU is sent with.
    pub fn command_id(&self) -> CommandId {
        self.body.command_id()
    }

    /// Octets of the whole frame (header included): the `command_length`.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.body.encoded_len()
    }

    /// Appends one whole frame to `out`.
    ///
    /// Infallible: every field was validated when it was built. The frame length fits the
    /// 4-octet `command_length` because each body is bounded far below 4 GiB (at most 255
    /// destinations, 255-octet strings and 65535-octet TLV values, or an `Other` body that
    /// came from a frame).
    pub fn encode(&self, out: &mut impl BufMut) {
        let len = self.encoded_len();
        put_header(
            out,
            u32::try_from(len).unwrap_or(u32::MAX),
            self.command_id(),
            self.command_status,
            self.sequence_number,
        );
        self.body.encode(out);
    }

    /// The frame as a fresh `Vec` (exactly [`Pdu::encoded_len`] octets, one allocation).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }

    /// Decodes exactly one frame, as delimited by [`crate::codec::check`]
    /// (`frame.len()` must equal its `command_length`).
    ///
    /// # Errors
    /// [`DecodeError`] naming the field and the status to answer with.
    pub fn decode(frame: &[u8]) -> Result<Pdu, DecodeError> {
        Self::decode_from(frame, None)
    }

    /// As [`Pdu::decode`], but octet strings (`message_payload`, other raw TLVs, unknown
    /// bodies) are zero-copy slices of `frame`.
    ///
    /// # Errors
    /// As [`Pdu::decode`].
    pub fn decode_bytes(frame: Bytes) -> Result<Pdu, DecodeError> {
        Self::decode_from(&frame, Some(&frame))
    }

    fn decode_from(frame: &[u8], src: Option<&Bytes>) -> Result<Pdu, DecodeError> {
        let word = |i: usize| {
            frame
                .get(i..i + 4)
                .and_then(|b| b.first_chunk::<4>())
                .map_or(0, |b| u32::from_be_bytes(*b))
        };
        let command_length = word(0);
        let command_id = CommandId(word(4));
        let command_status = CommandStatus(word(8));
        let sequence_number = word(12);
        let err = |field, kind| DecodeError {
            command_id,
            sequence_number,
            field,
            kind,
        };
        if frame.len() < HEADER_LEN || command_length as usize != frame.len() {
            return Err(err(
                "command_length",
                DecodeErrorKind::LengthMismatch {
                    command_length,
                    frame_len: frame.len(),
                },
            ));
        }
        let mut r = Reader::new(frame.get(HEADER_LEN..).unwrap_or(&[]), src, HEADER_LEN);
        let body = PduBody::decode(command_id, &mut r).map_err(|e| err(e.field, e.kind))?;
        debug_assert_eq!(
            r.remaining(),
            0,
            "every body decoder consumes the whole body"
        );
        Ok(Pdu {
            sequence_number,
            command_status,
            body,
        })
    }
}

/// Declares a PDU body struct with the submit_sm / deliver_sm layout (smpp-reference §5.5),
/// which the two operations share field for field.
macro_rules! short_message_pdu {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// service_type (C(6)); empty = MC default.
            pub service_type: $crate::types::ServiceType,
            /// source_addr_ton.
            pub source_addr_ton: $crate::types::Ton,
            /// source_addr_npi.
            pub source_addr_npi: $crate::types::Npi,
            /// source_addr (C(21)).
            pub source_addr: $crate::types::Address,
            /// dest_addr_ton.
            pub dest_addr_ton: $crate::types::Ton,
            /// dest_addr_npi.
            pub dest_addr_npi: $crate::types::Npi,
            /// destination_addr (C(21)).
            pub destination_addr: $crate::types::Address,
            /// esm_class.
            pub esm_class: $crate::types::EsmClass,
            /// protocol_id (GSM TP-PID).
            pub protocol_id: u8,
            /// priority_flag.
            pub priority_flag: $crate::types::PriorityFlag,
            /// schedule_delivery_time (C(17)); empty = immediate.
            pub schedule_delivery_time: $crate::types::TimeString,
            /// validity_period (C(17)); empty = MC default.
            pub validity_period: $crate::types::TimeString,
            /// registered_delivery.
            pub registered_delivery: $crate::types::RegisteredDelivery,
            /// replace_if_present_flag.
            pub replace_if_present_flag: u8,
            /// data_coding.
            pub data_coding: $crate::types::DataCoding,
            /// sm_default_msg_id.
            pub sm_default_msg_id: u8,
            /// short_message (its length is sm_length).
            pub short_message: $crate::types::ShortMessage,
            /// Optional parameters, in wire order.
            pub tlvs: $crate::tlv::Tlvs,
        }

        impl $name {
            /// A message from `source_addr` to `destination_addr` with everything else at its
            /// default (TON/NPI unknown, no receipt, data_coding 0).
            pub fn new(
                source_addr: $crate::types::Address,
                destination_addr: $crate::types::Address,
                short_message: $crate::types::ShortMessage,
            ) -> Self {
                Self {
                    source_addr,
                    destination_addr,
                    short_message,
                    ..Self::default()
                }
            }

            /// [`Self::new`] from plain values, naming the field that does not fit.
            ///
            /// # Errors
            /// An address over 20 octets or with a NUL, or a message over 255 octets (put
            /// longer content in `message_payload`).
            pub fn try_new(
                source_addr: &str,
                destination_addr: &str,
                short_message: &[u8],
            ) -> Result<Self, $crate::types::FieldValueError> {
                Ok(Self::new(
                    source_addr
                        .parse()
                        .map_err(|e: $crate::types::ValueError| e.in_field("source_addr"))?,
                    destination_addr
                        .parse()
                        .map_err(|e: $crate::types::ValueError| e.in_field("destination_addr"))?,
                    $crate::types::ShortMessage::new(short_message)
                        .map_err(|e| e.in_field("short_message"))?,
                ))
            }

            /// Appends a TLV (validated, see [`crate::tlv::Tlvs::push`]).
            ///
            /// # Errors
            /// [`crate::tlv::TlvError`] when the value does not fit the tag's wire form.
            pub fn with_tlv(mut self, tlv: $crate::tlv::Tlv) -> Result<Self, $crate::tlv::TlvError> {
                self.tlvs.push(tlv)?;
                Ok(self)
            }

            /// The optional parameters.
            pub fn tlvs(&self) -> &$crate::tlv::Tlvs {
                &self.tlvs
            }

            /// The `message_payload` TLV, if present.
            pub fn message_payload(&self) -> Option<&bytes::Bytes> {
                self.tlvs.message_payload()
            }

            /// The message content: `short_message`, or `message_payload` when
            /// `short_message` is empty.
            pub fn message(&self) -> &[u8] {
                match self.message_payload() {
                    Some(p) if self.short_message.is_empty() => p,
                    _ => self.short_message.as_bytes(),
                }
            }
        }

        impl $crate::pdu::Body for $name {
            fn decode(r: &mut $crate::codec::Reader<'_>) -> Result<Self, $crate::codec::FieldError> {
                Self::decode_boxed(r).map(|b| *b)
            }

            fn decode_boxed(
                r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Box<Self>, $crate::codec::FieldError> {
                // Filled in place: this is the hot path of a gateway, and building the
                // ~400-octet struct on the stack before boxing it cost more than the parsing.
                let mut m = Box::<Self>::default();
                r.cstr_into(&mut m.service_type, "service_type")?;
                let [ton, npi] = r.array(&["source_addr_ton", "source_addr_npi"])?;
                m.source_addr_ton = $crate::types::Ton(ton);
                m.source_addr_npi = $crate::types::Npi(npi);
                r.cstr_into(&mut m.source_addr, "source_addr")?;
                let [ton, npi] = r.array(&["dest_addr_ton", "dest_addr_npi"])?;
                m.dest_addr_ton = $crate::types::Ton(ton);
                m.dest_addr_npi = $crate::types::Npi(npi);
                r.cstr_into(&mut m.destination_addr, "destination_addr")?;
                let [esm_class, protocol_id, priority_flag] =
                    r.array(&["esm_class", "protocol_id", "priority_flag"])?;
                m.esm_class = $crate::types::EsmClass(esm_class);
                m.protocol_id = protocol_id;
                m.priority_flag = $crate::types::PriorityFlag(priority_flag);
                r.cstr_into(&mut m.schedule_delivery_time, "schedule_delivery_time")?;
                r.cstr_into(&mut m.validity_period, "validity_period")?;
                let [registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id] =
                    r.array(&[
                        "registered_delivery",
                        "replace_if_present_flag",
                        "data_coding",
                        "sm_default_msg_id",
                    ])?;
                m.registered_delivery = $crate::types::RegisteredDelivery(registered_delivery);
                m.replace_if_present_flag = replace_if_present_flag;
                m.data_coding = $crate::types::DataCoding(data_coding);
                m.sm_default_msg_id = sm_default_msg_id;
                $crate::pdu::read_short_message_into(r, &mut m.short_message)?;
                m.tlvs.decode_append(r)?;
                Ok(m)
            }

            fn encoded_len(&self) -> usize {
                self.service_type.encoded_len()
                    + 2
                    + self.source_addr.encoded_len()
                    + 2
                    + self.destination_addr.encoded_len()
                    + 3
                    + self.schedule_delivery_time.encoded_len()
                    + self.validity_period.encoded_len()
                    + 5
                    + self.short_message.len()
                    + self.tlvs.encoded_len()
            }

            fn encode(&self, out: &mut impl bytes::BufMut) {
                self.service_type.encode(out);
                out.put_u8(self.source_addr_ton.0);
                out.put_u8(self.source_addr_npi.0);
                self.source_addr.encode(out);
                out.put_u8(self.dest_addr_ton.0);
                out.put_u8(self.dest_addr_npi.0);
                self.destination_addr.encode(out);
                out.put_u8(self.esm_class.0);
                out.put_u8(self.protocol_id);
                out.put_u8(self.priority_flag.0);
                self.schedule_delivery_time.encode(out);
                self.validity_period.encode(out);
                out.put_u8(self.registered_delivery.0);
                out.put_u8(self.replace_if_present_flag);
                out.put_u8(self.data_coding.0);
                out.put_u8(self.sm_default_msg_id);
                self.short_message.encode(out);
                self.tlvs.encode(out);
            }
        }
    };
}
pub(crate) use short_message_pdu;

/// Declares a response body that is just `message_id` (+ TLVs), tolerating an omitted body.
macro_rules! message_id_resp {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// message_id (C(65)).
            pub message_id: $crate::types::MessageId,
            /// Optional parameters (SMPP 5.0), in wire order.
            pub tlvs: $crate::tlv::Tlvs,
        }

        impl $name {
            /// A response carrying `message_id`.
            pub fn new(message_id: $crate::types::MessageId) -> Self {
                Self {
                    message_id,
                    tlvs: $crate::tlv::Tlvs::new(),
                }
            }
        }

        impl $crate::pdu::Body for $name {
            fn decode(r: &mut $crate::codec::Reader<'_>) -> Result<Self, $crate::codec::FieldError> {
                // The body is omitted after an error (3.4 §4.4.2) and by some peers even on
                // success: read it as an empty message_id.
                let mut m = Self::default();
                if r.remaining() == 0 {
                    return Ok(m);
                }
                // Filled in place, like the boxed bodies: each move of the ~100-octet
                // struct was measurable.
                r.cstr_into(&mut m.message_id, "message_id")?;
                m.tlvs.decode_append(r)?;
                Ok(m)
            }

            fn encoded_len(&self) -> usize {
                self.message_id.encoded_len() + self.tlvs.encoded_len()
            }

            fn encode(&self, out: &mut impl bytes::BufMut) {
                self.message_id.encode(out);
                self.tlvs.encode(out);
            }
        }
    };
}
pub(crate) use message_id_resp;

/// Reads `sm_length` and `short_message`; an `sm_length` past the end of the PDU is
/// ESME_RINVMSGLEN (the N9 vector), not a panic.
pub(crate) fn read_short_message(
    r: &mut Reader<'_>,
) -> Result<crate::types::ShortMessage, FieldError> {
    let mut m = crate::types::ShortMessage::empty();
    read_short_message_into(r, &mut m)?;
    Ok(m)
}

/// [`read_short_message`] into an existing value, in place.
pub(crate) fn read_short_message_into(
    r: &mut Reader<'_>,
    dst: &mut crate::types::ShortMessage,
) -> Result<(), FieldError> {
    let sm_length = r.u8("sm_length")?;
    if usize::from(sm_length) > r.remaining() {
        return Err(FieldError::new(
            "short_message",
            DecodeErrorKind::ShortMessageOverrun {
                sm_length,
                remaining: r.remaining(),
            },
        ));
    }
    // At most 255 octets: `sm_length` is a u8.
    dst.set_checked(r.take(usize::from(sm_length), "short_message")?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlv::Tlv;
    use crate::types::{FieldValueError, ValueError};

    fn frame(id: u32, body: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        for w in [16 + body.len() as u32, id, 0, 42] {
            f.extend_from_slice(&w.to_be_bytes());
        }
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn header_only_pdus_accept_a_tlv_and_reject_stray_octets() {
        // enquire_link_resp with a 5.0 congestion_state TLV: accepted (the TLV is dropped).
        let p = Pdu::decode(&frame(0x8000_0015, &[0x04, 0x28, 0, 1, 50])).unwrap();
        assert_eq!(p.body, PduBody::EnquireLinkResp);
        assert_eq!(p.to_vec(), frame(0x8000_0015, &[]));
        let e = Pdu::decode(&frame(0x0000_0006, &[1, 2])).unwrap_err();
        assert_eq!(e.command_id, CommandId::UNBIND);
        assert_eq!(e.sequence_number, 42);
        assert_eq!(e.kind, DecodeErrorKind::TlvStrayOctets { count: 2 });
        assert_eq!(e.status(), CommandStatus::ESME_RINVOPTPARSTREAM);
    }

    #[test]
    fn too_long_c_strings_get_the_field_status() {
        // system_id of 16 characters: no NUL within C(16).
        let mut body = b"0123456789abcdef\0pw\0\0".to_vec();
        body.extend_from_slice(&[0x34, 0, 0, 0]);
        let e = Pdu::decode(&frame(0x0000_0002, &body)).unwrap_err();
        assert_eq!(e.field, "system_id");
        assert_eq!(e.kind, DecodeErrorKind::CStringTooLong { max: 16 });
        assert_eq!(e.status(), CommandStatus::ESME_RINVSYSID);
        // password of 17 characters: too long for C(17).
        let mut body = [&b"sys\0"[..], b"0123456789abcdefg\0\0"].concat();
        body.extend_from_slice(&[0x34, 0, 0, 0]);
        let e = Pdu::decode(&frame(0x0000_0009, &body)).unwrap_err();
        assert_eq!(e.field, "password");
        assert_eq!(e.status(), CommandStatus::ESME_RINVPASWD);
        // A request body that stops early is a command-length problem.
        let e = Pdu::decode(&frame(0x0000_0004, b"\0\x01\x01")).unwrap_err();
        assert_eq!(e.field, "source_addr");
        assert_eq!(
            e.kind,
            DecodeErrorKind::Truncated {
                needed: 1,
                remaining: 0
            }
        );
        assert_eq!(e.status(), CommandStatus::ESME_RINVCMDLEN);
    }

    #[test]
    fn truncation_inside_a_group_of_octets_names_the_missing_one() {
        // service_type, source ton/npi, "A", dest ton/npi, "1", esm_class, protocol_id,
        // priority_flag, two empty times, then registered_delivery .. sm_default_msg_id.
        let body: &[u8] = b"\0\x05\x00A\0\x01\x01\x31\0\0\0\0\0\0\x01\x00\x00\x00\x02hi";
        let field_at = |cut: usize| Pdu::decode(&frame(4, &body[..cut])).unwrap_err().field;
        assert_eq!(field_at(1), "source_addr_ton");
        assert_eq!(field_at(2), "source_addr_npi");
        assert_eq!(field_at(5), "dest_addr_ton");
        assert_eq!(field_at(6), "dest_addr_npi");
        assert_eq!(field_at(9), "esm_class");
        assert_eq!(field_at(11), "priority_flag");
        assert_eq!(field_at(14), "registered_delivery");
        assert_eq!(field_at(16), "data_coding");
        assert_eq!(field_at(18), "sm_length");
        let whole = Pdu::decode(&frame(4, body)).unwrap();
        let PduBody::SubmitSm(sm) = whole.body else {
            panic!("not a submit_sm")
        };
        assert_eq!(sm.source_addr_ton, crate::types::Ton::ALPHANUMERIC);
        assert_eq!(
            sm.registered_delivery,
            crate::types::RegisteredDelivery::RECEIPT
        );
        assert_eq!(sm.short_message.as_bytes(), b"hi");
    }

    #[test]
    fn try_new_names_the_bad_field() {
        let sm = SubmitSm::try_new("Acme", "254712345678", b"hi").unwrap();
        assert_eq!(sm.destination_addr, "254712345678");
        assert_eq!(
            SubmitSm::try_new("Acme", "123456789012345678901", b"hi").unwrap_err(),
            FieldValueError {
                field: "destination_addr",
                error: ValueError::TooLong { len: 21, max: 20 }
            }
        );
        assert_eq!(
            DeliverSm::try_new("A\0", "1", b"").unwrap_err().field,
            "source_addr"
        );
        assert_eq!(
            SubmitSm::try_new("A", "1", &[0; 256]).unwrap_err().field,
            "short_message"
        );
        let sm = sm.with_tlv(Tlv::SarMsgRefNum(3)).unwrap();
        assert_eq!(sm.tlvs().as_slice(), &[Tlv::SarMsgRefNum(3)]);
        assert!(sm
            .with_tlv(Tlv::CallbackNum(Bytes::from_static(b"1")))
            .is_err());
    }

    #[test]
    fn other_bodies_are_kept_and_responses_never_have_one_made_up() {
        let p = Pdu::decode(&frame(0x0000_0111, b"\x01\x02\x03")).unwrap();
        assert_eq!(
            p.body,
            PduBody::Other {
                command_id: CommandId::BROADCAST_SM,
                body: Bytes::from_static(b"\x01\x02\x03")
            }
        );
        assert_eq!(p.to_vec(), frame(0x0000_0111, b"\x01\x02\x03"));
        let nack = Pdu::generic_nack(42, CommandStatus::ESME_RINVCMDID);
        assert_eq!(
            nack.to_vec(),
            [0, 0, 0, 16, 0x80, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 42]
        );
    }

    #[test]
    fn decode_bytes_slices_the_payload_out_of_the_frame() {
        let sm = SubmitSm::try_new("A", "1", b"")
            .unwrap()
            .with_tlv(Tlv::MessagePayload(Bytes::from_static(b"payload")))
            .unwrap();
        let frame = Bytes::from(Pdu::new(1, PduBody::SubmitSm(Box::new(sm))).to_vec());
        let p = Pdu::decode_bytes(frame.clone()).unwrap();
        let PduBody::SubmitSm(sm) = p.body else {
            panic!("not a submit_sm")
        };
        let payload = sm.message_payload().unwrap();
        assert_eq!(&payload[..], b"payload");
        let offset = frame.len() - payload.len();
        assert_eq!(
            payload.as_ptr(),
            frame[offset..].as_ptr(),
            "zero-copy slice"
        );
    }
}
