//! submit_multi and submit_multi_resp (smpp-reference §5.7).

use crate::codec::{DecodeErrorKind, FieldError, Reader};
use crate::pdu::{read_short_message, trailing_tlvs, Body};
use crate::tlv::Tlvs;
use crate::types::{
    Address, CommandStatus, DataCoding, EsmClass, MessageId, Npi, PriorityFlag, RegisteredDelivery,
    ServiceType, ShortMessage, TimeString, Ton, ValueError,
};
use bytes::BufMut;

/// Most destinations (or unsuccessful SMEs) one PDU can list: the count is one octet.
pub const MAX_DESTINATIONS: usize = 255;

/// One destination of a submit_multi.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestAddress {
    /// dest_flag 1: an SME address.
    Sme {
        /// dest_addr_ton.
        ton: Ton,
        /// dest_addr_npi.
        npi: Npi,
        /// destination_addr (C(21)).
        address: Address,
    },
    /// dest_flag 2: a distribution list name (C(21)).
    DistributionList(Address),
}

impl DestAddress {
    fn encoded_len(&self) -> usize {
        match self {
            Self::Sme { address, .. } => 3 + address.encoded_len(),
            Self::DistributionList(name) => 1 + name.encoded_len(),
        }
    }

    fn encode(&self, out: &mut impl BufMut) {
        match self {
            Self::Sme { ton, npi, address } => {
                out.put_u8(1);
                out.put_u8(ton.0);
                out.put_u8(npi.0);
                address.encode(out);
            }
            Self::DistributionList(name) => {
                out.put_u8(2);
                name.encode(out);
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        match r.u8("dest_flag")? {
            1 => Ok(Self::Sme {
                ton: Ton(r.u8("dest_addr_ton")?),
                npi: Npi(r.u8("dest_addr_npi")?),
                address: r.cstr("destination_addr")?,
            }),
            2 => Ok(Self::DistributionList(r.cstr("dl_name")?)),
            other => Err(FieldError::new(
                "dest_flag",
                DecodeErrorKind::InvalidDestFlag(other),
            )),
        }
    }
}

/// submit_multi: one message to up to 255 destinations. The destination list is private so
/// that its length always fits `number_of_dests`; use [`SubmitMulti::push_dest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMulti {
    /// service_type (C(6)).
    pub service_type: ServiceType,
    /// source_addr_ton.
    pub source_addr_ton: Ton,
    /// source_addr_npi.
    pub source_addr_npi: Npi,
    /// source_addr (C(21)).
    pub source_addr: Address,
    dest_addresses: Vec<DestAddress>,
    /// esm_class.
    pub esm_class: EsmClass,
    /// protocol_id.
    pub protocol_id: u8,
    /// priority_flag.
    pub priority_flag: PriorityFlag,
    /// schedule_delivery_time (C(17)).
    pub schedule_delivery_time: TimeString,
    /// validity_period (C(17)).
    pub validity_period: TimeString,
    /// registered_delivery.
    pub registered_delivery: RegisteredDelivery,
    /// replace_if_present_flag.
    pub replace_if_present_flag: u8,
    /// data_coding.
    pub data_coding: DataCoding,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// short_message.
    pub short_message: ShortMessage,
    /// Optional parameters, in wire order.
    pub tlvs: Tlvs,
}

impl SubmitMulti {
    /// The destinations, in wire order.
    pub fn dest_addresses(&self) -> &[DestAddress] {
        &self.dest_addresses
    }

    /// Adds a destination.
    ///
    /// # Errors
    /// [`ValueError::TooLong`] past 255 destinations.
    pub fn push_dest(&mut self, dest: DestAddress) -> Result<(), ValueError> {
        if self.dest_addresses.len() >= MAX_DESTINATIONS {
            return Err(ValueError::TooLong {
                len: self.dest_addresses.len() + 1,
                max: MAX_DESTINATIONS,
            });
        }
        self.dest_addresses.push(dest);
        Ok(())
    }

    /// Removes every destination.
    pub fn clear_dests(&mut self) {
        self.dest_addresses.clear();
    }
}

impl Body for SubmitMulti {
    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let service_type = r.cstr("service_type")?;
        let source_addr_ton = Ton(r.u8("source_addr_ton")?);
        let source_addr_npi = Npi(r.u8("source_addr_npi")?);
        let source_addr = r.cstr("source_addr")?;
        let n = r.u8("number_of_dests")?;
        let mut dest_addresses = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            dest_addresses.push(DestAddress::decode(r)?);
        }
        Ok(Self {
            service_type,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addresses,
            esm_class: EsmClass(r.u8("esm_class")?),
            protocol_id: r.u8("protocol_id")?,
            priority_flag: PriorityFlag(r.u8("priority_flag")?),
            schedule_delivery_time: r.cstr("schedule_delivery_time")?,
            validity_period: r.cstr("validity_period")?,
            registered_delivery: RegisteredDelivery(r.u8("registered_delivery")?),
            replace_if_present_flag: r.u8("replace_if_present_flag")?,
            data_coding: DataCoding(r.u8("data_coding")?),
            sm_default_msg_id: r.u8("sm_default_msg_id")?,
            short_message: read_short_message(r)?,
            tlvs: trailing_tlvs(r)?,
        })
    }

    fn encoded_len(&self) -> usize {
        self.service_type.encoded_len()
            + 2
            + self.source_addr.encoded_len()
            + 1
            + self
                .dest_addresses
                .iter()
                .map(DestAddress::encoded_len)
                .sum::<usize>()
            + 3
            + self.schedule_delivery_time.encoded_len()
            + self.validity_period.encoded_len()
            + 5
            + self.short_message.len()
            + self.tlvs.encoded_len()
    }

    fn encode(&self, out: &mut impl BufMut) {
        self.service_type.encode(out);
        out.put_u8(self.source_addr_ton.0);
        out.put_u8(self.source_addr_npi.0);
        self.source_addr.encode(out);
        // At most 255 entries: `push_dest` and the decoder (a u8 count) guarantee it.
        out.put_u8(self.dest_addresses.len() as u8);
        for d in &self.dest_addresses {
            d.encode(out);
        }
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

/// A destination the MC could not accept, in submit_multi_resp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnsuccessSme {
    /// dest_addr_ton.
    pub dest_addr_ton: Ton,
    /// dest_addr_npi.
    pub dest_addr_npi: Npi,
    /// destination_addr (C(21)).
    pub destination_addr: Address,
    /// Why it failed.
    pub error_status_code: CommandStatus,
}

/// submit_multi_resp: the message id and the destinations that failed. The failure list is
/// private so that its length always fits `no_unsuccess`; use
/// [`SubmitMultiResp::push_unsuccess`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMultiResp {
    /// message_id (C(65)).
    pub message_id: MessageId,
    unsuccess_smes: Vec<UnsuccessSme>,
    /// Optional parameters (5.0), in wire order.
    pub tlvs: Tlvs,
}

impl SubmitMultiResp {
    /// A response with this id and no failures.
    pub fn new(message_id: MessageId) -> Self {
        Self {
            message_id,
            ..Self::default()
        }
    }

    /// The destinations that failed.
    pub fn unsuccess_smes(&self) -> &[UnsuccessSme] {
        &self.unsuccess_smes
    }

    /// Adds a failed destination.
    ///
    /// # Errors
    /// [`ValueError::TooLong`] past 255 entries.
    pub fn push_unsuccess(&mut self, sme: UnsuccessSme) -> Result<(), ValueError> {
        if self.unsuccess_smes.len() >= MAX_DESTINATIONS {
            return Err(ValueError::TooLong {
                len: self.unsuccess_smes.len() + 1,
                max: MAX_DESTINATIONS,
            });
        }
        self.unsuccess_smes.push(sme);
        Ok(())
    }
}

impl Body for SubmitMultiResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        // Tolerated: no body after an error status.
        if r.remaining() == 0 {
            return Ok(Self::default());
        }
        let message_id = r.cstr("message_id")?;
        let n = r.u8("no_unsuccess")?;
        let mut unsuccess_smes = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            unsuccess_smes.push(UnsuccessSme {
                dest_addr_ton: Ton(r.u8("dest_addr_ton")?),
                dest_addr_npi: Npi(r.u8("dest_addr_npi")?),
                destination_addr: r.cstr("destination_addr")?,
                error_status_code: CommandStatus(r.u32("error_status_code")?),
            });
        }
        Ok(Self {
            message_id,
            unsuccess_smes,
            tlvs: trailing_tlvs(r)?,
        })
    }

    fn encoded_len(&self) -> usize {
        self.message_id.encoded_len()
            + 1
            + self
                .unsuccess_smes
                .iter()
                .map(|u| 6 + u.destination_addr.encoded_len())
                .sum::<usize>()
            + self.tlvs.encoded_len()
    }

    fn encode(&self, out: &mut impl BufMut) {
        self.message_id.encode(out);
        // At most 255 entries (see `push_unsuccess` and the u8 count on decode).
        out.put_u8(self.unsuccess_smes.len() as u8);
        for u in &self.unsuccess_smes {
            out.put_u8(u.dest_addr_ton.0);
            out.put_u8(u.dest_addr_npi.0);
            u.destination_addr.encode(out);
            out.put_u32(u.error_status_code.0);
        }
        self.tlvs.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{Pdu, PduBody};

    #[test]
    fn submit_multi_round_trips_both_destination_kinds() {
        let mut sm = SubmitMulti {
            source_addr: "Acme".parse().unwrap(),
            short_message: ShortMessage::new(b"hi all").unwrap(),
            ..SubmitMulti::default()
        };
        sm.push_dest(DestAddress::Sme {
            ton: Ton::INTERNATIONAL,
            npi: Npi::ISDN,
            address: "447700900123".parse().unwrap(),
        })
        .unwrap();
        sm.push_dest(DestAddress::DistributionList("friends".parse().unwrap()))
            .unwrap();
        let pdu = Pdu::new(3, PduBody::SubmitMulti(Box::new(sm)));
        let wire = pdu.to_vec();
        assert_eq!(wire.len(), pdu.encoded_len());
        assert_eq!(Pdu::decode(&wire).unwrap(), pdu);
    }

    #[test]
    fn bad_dest_flag_is_rejected_with_its_status() {
        let mut sm = SubmitMulti::default();
        sm.push_dest(DestAddress::DistributionList("x".parse().unwrap()))
            .unwrap();
        let mut wire = Pdu::new(3, PduBody::SubmitMulti(Box::new(sm))).to_vec();
        // header 16, service_type 1, ton 1, npi 1, source_addr 1: number_of_dests at 20,
        // then dest_flag 2 at 21.
        assert_eq!((wire[20], wire[21]), (1, 2));
        wire[21] = 3;
        let e = Pdu::decode(&wire).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::InvalidDestFlag(3));
        assert_eq!(e.status(), CommandStatus::ESME_RINVDESTFLAG);
    }

    #[test]
    fn destination_count_is_capped_at_255() {
        let mut sm = SubmitMulti::default();
        for _ in 0..255 {
            sm.push_dest(DestAddress::DistributionList(Address::empty()))
                .unwrap();
        }
        assert!(sm
            .push_dest(DestAddress::DistributionList(Address::empty()))
            .is_err());
        assert_eq!(sm.dest_addresses().len(), 255);
    }

    #[test]
    fn submit_multi_resp_round_trips_failures() {
        let mut resp = SubmitMultiResp::new("id-1".parse().unwrap());
        resp.push_unsuccess(UnsuccessSme {
            dest_addr_ton: Ton::INTERNATIONAL,
            dest_addr_npi: Npi::ISDN,
            destination_addr: "4477".parse().unwrap(),
            error_status_code: CommandStatus::ESME_RINVDSTADR,
        })
        .unwrap();
        let pdu = Pdu::new(4, PduBody::SubmitMultiResp(resp));
        let wire = pdu.to_vec();
        assert_eq!(wire.len(), pdu.encoded_len());
        assert_eq!(Pdu::decode(&wire).unwrap(), pdu);
    }
}
