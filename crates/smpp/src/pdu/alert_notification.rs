//! alert_notification (MC→ESME; no response) (smpp-reference §5.12).

use crate::codec::{FieldError, Reader};
use crate::pdu::{trailing_tlvs, Body};
use crate::tlv::{Tlv, Tlvs};
use crate::types::{LongAddress, Npi, Ton};
use bytes::BufMut;

/// alert_notification: a handset (`source_addr`) became reachable for `esme_addr`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertNotification {
    /// source_addr_ton.
    pub source_addr_ton: Ton,
    /// source_addr_npi.
    pub source_addr_npi: Npi,
    /// The handset's address (C(65)).
    pub source_addr: LongAddress,
    /// esme_addr_ton.
    pub esme_addr_ton: Ton,
    /// esme_addr_npi.
    pub esme_addr_npi: Npi,
    /// The ESME's address (C(65)).
    pub esme_addr: LongAddress,
    /// TLVs (ms_availability_status).
    pub tlvs: Tlvs,
}

impl AlertNotification {
    /// The `ms_availability_status` TLV (0 available, 1 denied, 2 unavailable).
    pub fn ms_availability_status(&self) -> Option<u8> {
        self.tlvs.iter().find_map(|t| match t {
            Tlv::MsAvailabilityStatus(v) => Some(*v),
            _ => None,
        })
    }
}

impl Body for AlertNotification {
    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            source_addr_ton: Ton(r.u8("source_addr_ton")?),
            source_addr_npi: Npi(r.u8("source_addr_npi")?),
            source_addr: r.cstr("source_addr")?,
            esme_addr_ton: Ton(r.u8("esme_addr_ton")?),
            esme_addr_npi: Npi(r.u8("esme_addr_npi")?),
            esme_addr: r.cstr("esme_addr")?,
            tlvs: trailing_tlvs(r)?,
        })
    }

    fn encoded_len(&self) -> usize {
        2 + self.source_addr.encoded_len()
            + 2
            + self.esme_addr.encoded_len()
            + self.tlvs.encoded_len()
    }

    fn encode(&self, out: &mut impl BufMut) {
        out.put_u8(self.source_addr_ton.0);
        out.put_u8(self.source_addr_npi.0);
        self.source_addr.encode(out);
        out.put_u8(self.esme_addr_ton.0);
        out.put_u8(self.esme_addr_npi.0);
        self.esme_addr.encode(out);
        self.tlvs.encode(out);
    }
}
