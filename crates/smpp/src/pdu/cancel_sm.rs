//! cancel_sm (smpp-reference §5.10); cancel_sm_resp is header only
//! ([`crate::pdu::PduBody::CancelSmResp`]).

use crate::codec::{FieldError, Reader};
use crate::pdu::{trailing_tlvs, Body};
use crate::tlv::Tlvs;
use crate::types::{Address, MessageId, Npi, ServiceType, Ton};
use bytes::BufMut;

/// cancel_sm: cancel one message (by `message_id`) or all matching ones (empty id).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelSm {
    /// service_type (C(6)).
    pub service_type: ServiceType,
    /// The message to cancel (C(65)); empty = every message matching the addresses.
    pub message_id: MessageId,
    /// source_addr_ton.
    pub source_addr_ton: Ton,
    /// source_addr_npi.
    pub source_addr_npi: Npi,
    /// source_addr (C(21)).
    pub source_addr: Address,
    /// dest_addr_ton.
    pub dest_addr_ton: Ton,
    /// dest_addr_npi.
    pub dest_addr_npi: Npi,
    /// destination_addr (C(21)).
    pub destination_addr: Address,
    /// TLVs after the mandatory fields (none in 3.4).
    pub tlvs: Tlvs,
}

impl Body for CancelSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            service_type: r.cstr("service_type")?,
            message_id: r.cstr("message_id")?,
            source_addr_ton: Ton(r.u8("source_addr_ton")?),
            source_addr_npi: Npi(r.u8("source_addr_npi")?),
            source_addr: r.cstr("source_addr")?,
            dest_addr_ton: Ton(r.u8("dest_addr_ton")?),
            dest_addr_npi: Npi(r.u8("dest_addr_npi")?),
            destination_addr: r.cstr("destination_addr")?,
            tlvs: trailing_tlvs(r)?,
        })
    }

    fn encoded_len(&self) -> usize {
        self.service_type.encoded_len()
            + self.message_id.encoded_len()
            + 2
            + self.source_addr.encoded_len()
            + 2
            + self.destination_addr.encoded_len()
            + self.tlvs.encoded_len()
    }

    fn encode(&self, out: &mut impl BufMut) {
        self.service_type.encode(out);
        self.message_id.encode(out);
        out.put_u8(self.source_addr_ton.0);
        out.put_u8(self.source_addr_npi.0);
        self.source_addr.encode(out);
        out.put_u8(self.dest_addr_ton.0);
        out.put_u8(self.dest_addr_npi.0);
        self.destination_addr.encode(out);
        self.tlvs.encode(out);
    }
}
