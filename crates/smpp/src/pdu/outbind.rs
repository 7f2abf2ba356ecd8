//! outbind (MC→ESME; no response: the ESME answers with a bind) (smpp-reference §5.3).

use crate::codec::{FieldError, Reader};
use crate::pdu::{trailing_tlvs, Body};
use crate::tlv::Tlvs;
use crate::types::{Password, SystemId};
use bytes::BufMut;

/// outbind: the MC asks the ESME to bind on this connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outbind {
    /// MC identifier (C(16)).
    pub system_id: SystemId,
    /// Password (C(9)).
    pub password: Password,
    /// TLVs after the mandatory fields (none in the specification).
    pub tlvs: Tlvs,
}

impl Body for Outbind {
    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            system_id: r.cstr("system_id")?,
            password: r.cstr("password")?,
            tlvs: trailing_tlvs(r)?,
        })
    }

    fn encoded_len(&self) -> usize {
        self.system_id.encoded_len() + self.password.encoded_len() + self.tlvs.encoded_len()
    }

    fn encode(&self, out: &mut impl BufMut) {
        self.system_id.encode(out);
        self.password.encode(out);
        self.tlvs.encode(out);
    }
}
