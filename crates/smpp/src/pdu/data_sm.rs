//! data_sm (either direction) and data_sm_resp (smpp-reference §5.8).

use crate::codec::{FieldError, Reader};
use crate::pdu::{message_id_resp, trailing_tlvs, Body};
use crate::tlv::Tlvs;
use crate::types::{DataCoding, EsmClass, LongAddress, Npi, RegisteredDelivery, ServiceType, Ton};
use bytes::BufMut;

/// data_sm: a message without `short_message`; the content travels in `message_payload`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSm {
    /// service_type (C(6)).
    pub service_type: ServiceType,
    /// source_addr_ton.
    pub source_addr_ton: Ton,
    /// source_addr_npi.
    pub source_addr_npi: Npi,
    /// source_addr (C(65) in data_sm).
    pub source_addr: LongAddress,
    /// dest_addr_ton.
    pub dest_addr_ton: Ton,
    /// dest_addr_npi.
    pub dest_addr_npi: Npi,
    /// destination_addr (C(65) in data_sm).
    pub destination_addr: LongAddress,
    /// esm_class.
    pub esm_class: EsmClass,
    /// registered_delivery.
    pub registered_delivery: RegisteredDelivery,
    /// data_coding.
    pub data_coding: DataCoding,
    /// Optional parameters, in wire order.
    pub tlvs: Tlvs,
}

impl DataSm {
    /// The `message_payload` TLV, if present.
    pub fn message_payload(&self) -> Option<&bytes::Bytes> {
        self.tlvs.message_payload()
    }

    /// The optional parameters.
    pub fn tlvs(&self) -> &Tlvs {
        &self.tlvs
    }
}

impl Body for DataSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            service_type: r.cstr("service_type")?,
            source_addr_ton: Ton(r.u8("source_addr_ton")?),
            source_addr_npi: Npi(r.u8("source_addr_npi")?),
            source_addr: r.cstr("source_addr")?,
            dest_addr_ton: Ton(r.u8("dest_addr_ton")?),
            dest_addr_npi: Npi(r.u8("dest_addr_npi")?),
            destination_addr: r.cstr("destination_addr")?,
            esm_class: EsmClass(r.u8("esm_class")?),
            registered_delivery: RegisteredDelivery(r.u8("registered_delivery")?),
            data_coding: DataCoding(r.u8("data_coding")?),
            tlvs: trailing_tlvs(r)?,
        })
    }

    fn encoded_len(&self) -> usize {
        self.service_type.encoded_len()
            + 2
            + self.source_addr.encoded_len()
            + 2
            + self.destination_addr.encoded_len()
            + 3
            + self.tlvs.encoded_len()
    }

    fn encode(&self, out: &mut impl BufMut) {
        self.service_type.encode(out);
        out.put_u8(self.source_addr_ton.0);
        out.put_u8(self.source_addr_npi.0);
        self.source_addr.encode(out);
        out.put_u8(self.dest_addr_ton.0);
        out.put_u8(self.dest_addr_npi.0);
        self.destination_addr.encode(out);
        out.put_u8(self.esm_class.0);
        out.put_u8(self.registered_delivery.0);
        out.put_u8(self.data_coding.0);
        self.tlvs.encode(out);
    }
}

message_id_resp! {
    /// data_sm_resp: `message_id` plus optional TLVs (delivery_failure_reason,
    /// network_error_code, additional_status_info_text, dpf_result).
    DataSmResp
}
