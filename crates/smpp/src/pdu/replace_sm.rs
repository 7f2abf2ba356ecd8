//! replace_sm (smpp-reference §5.11); replace_sm_resp is header only
//! ([`crate::pdu::PduBody::ReplaceSmResp`]).

use crate::codec::{FieldError, Reader};
use crate::pdu::{read_short_message, trailing_tlvs, Body};
use crate::tlv::Tlvs;
use crate::types::{Address, MessageId, Npi, RegisteredDelivery, ShortMessage, TimeString, Ton};
use bytes::BufMut;

/// replace_sm: replace a previously submitted message. Note: no service_type field (Kannel's
/// table is wrong there; cloudhopper's vector and Rusmpp agree).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplaceSm {
    /// The message to replace (C(65)).
    pub message_id: MessageId,
    /// source_addr_ton of the original.
    pub source_addr_ton: Ton,
    /// source_addr_npi of the original.
    pub source_addr_npi: Npi,
    /// source_addr of the original (C(21)).
    pub source_addr: Address,
    /// New schedule_delivery_time (C(17)).
    pub schedule_delivery_time: TimeString,
    /// New validity_period (C(17)).
    pub validity_period: TimeString,
    /// registered_delivery.
    pub registered_delivery: RegisteredDelivery,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// The new short_message.
    pub short_message: ShortMessage,
    /// TLVs (5.0: message_payload).
    pub tlvs: Tlvs,
}

impl Body for ReplaceSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            message_id: r.cstr("message_id")?,
            source_addr_ton: Ton(r.u8("source_addr_ton")?),
            source_addr_npi: Npi(r.u8("source_addr_npi")?),
            source_addr: r.cstr("source_addr")?,
            schedule_delivery_time: r.cstr("schedule_delivery_time")?,
            validity_period: r.cstr("validity_period")?,
            registered_delivery: RegisteredDelivery(r.u8("registered_delivery")?),
            sm_default_msg_id: r.u8("sm_default_msg_id")?,
            short_message: read_short_message(r)?,
            tlvs: trailing_tlvs(r)?,
        })
    }

    fn encoded_len(&self) -> usize {
        self.message_id.encoded_len()
            + 2
            + self.source_addr.encoded_len()
            + self.schedule_delivery_time.encoded_len()
            + self.validity_period.encoded_len()
            + 3
            + self.short_message.len()
            + self.tlvs.encoded_len()
    }

    fn encode(&self, out: &mut impl BufMut) {
        self.message_id.encode(out);
        out.put_u8(self.source_addr_ton.0);
        out.put_u8(self.source_addr_npi.0);
        self.source_addr.encode(out);
        self.schedule_delivery_time.encode(out);
        self.validity_period.encode(out);
        out.put_u8(self.registered_delivery.0);
        out.put_u8(self.sm_default_msg_id);
        self.short_message.encode(out);
        self.tlvs.encode(out);
    }
}
