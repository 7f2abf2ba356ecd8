//! query_sm and query_sm_resp (smpp-reference §5.9).

use crate::codec::{FieldError, Reader};
use crate::message_state::MessageState;
use crate::pdu::{trailing_tlvs, Body};
use crate::tlv::Tlvs;
use crate::types::{Address, MessageId, Npi, TimeString, Ton};
use bytes::BufMut;

/// query_sm: ask the MC for the state of a submitted message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuerySm {
    /// The MC's message_id (C(65)).
    pub message_id: MessageId,
    /// source_addr_ton of the original submission.
    pub source_addr_ton: Ton,
    /// source_addr_npi of the original submission.
    pub source_addr_npi: Npi,
    /// source_addr of the original submission (C(21)).
    pub source_addr: Address,
    /// TLVs after the mandatory fields (none in 3.4).
    pub tlvs: Tlvs,
}

impl Body for QuerySm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            message_id: r.cstr("message_id")?,
            source_addr_ton: Ton(r.u8("source_addr_ton")?),
            source_addr_npi: Npi(r.u8("source_addr_npi")?),
            source_addr: r.cstr("source_addr")?,
            tlvs: trailing_tlvs(r)?,
        })
    }

    fn encoded_len(&self) -> usize {
        self.message_id.encoded_len() + 2 + self.source_addr.encoded_len() + self.tlvs.encoded_len()
    }

    fn encode(&self, out: &mut impl BufMut) {
        self.message_id.encode(out);
        out.put_u8(self.source_addr_ton.0);
        out.put_u8(self.source_addr_npi.0);
        self.source_addr.encode(out);
        self.tlvs.encode(out);
    }
}

/// query_sm_resp: the message's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySmResp {
    /// The queried message_id (C(65)).
    pub message_id: MessageId,
    /// When the message reached a final state (C(17)); empty if not final.
    pub final_date: TimeString,
    /// The state.
    pub message_state: MessageState,
    /// Network error code (0 if none).
    pub error_code: u8,
    /// TLVs after the mandatory fields (none in 3.4).
    pub tlvs: Tlvs,
}

impl Default for QuerySmResp {
    fn default() -> Self {
        Self {
            message_id: MessageId::empty(),
            final_date: TimeString::empty(),
            message_state: MessageState::Unknown,
            error_code: 0,
            tlvs: Tlvs::new(),
        }
    }
}

impl Body for QuerySmResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        // Tolerated: no body after an error status.
        if r.remaining() == 0 {
            return Ok(Self::default());
        }
        Ok(Self {
            message_id: r.cstr("message_id")?,
            final_date: r.cstr("final_date")?,
            message_state: MessageState::from_u8(r.u8("message_state")?),
            error_code: r.u8("error_code")?,
            tlvs: trailing_tlvs(r)?,
        })
    }

    fn encoded_len(&self) -> usize {
        self.message_id.encoded_len() + self.final_date.encoded_len() + 2 + self.tlvs.encoded_len()
    }

    fn encode(&self, out: &mut impl BufMut) {
        self.message_id.encode(out);
        self.final_date.encode(out);
        out.put_u8(self.message_state.to_u8());
        out.put_u8(self.error_code);
        self.tlvs.encode(out);
    }
}
