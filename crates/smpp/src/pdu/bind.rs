//! bind_transmitter / bind_receiver / bind_transceiver (identical bodies) and their
//! responses (smpp-reference §5.1, §5.2).

use crate::codec::{FieldError, Reader};
use crate::pdu::{trailing_tlvs, Body};
use crate::tlv::{Tlv, Tlvs};
use crate::types::{interface_version, AddressRange, Npi, Password, SystemId, SystemType, Ton};
use bytes::BufMut;

/// The body of the three bind requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// ESME login (C(16)).
    pub system_id: SystemId,
    /// Password (C(17): the specification says 8 characters, real MCs use up to 16).
    pub password: Password,
    /// system_type (C(13)), often empty.
    pub system_type: SystemType,
    /// 0x34 for SMPP 3.4 (0x50 for 5.0).
    pub interface_version: u8,
    /// TON of `address_range`.
    pub addr_ton: Ton,
    /// NPI of `address_range`.
    pub addr_npi: Npi,
    /// Addresses served (C(41)), usually empty.
    pub address_range: AddressRange,
    /// TLVs after the mandatory fields (none in the specification; kept if a peer sends
    /// them).
    pub tlvs: Tlvs,
}

impl Default for Bind {
    fn default() -> Self {
        Self {
            system_id: SystemId::empty(),
            password: Password::empty(),
            system_type: SystemType::empty(),
            interface_version: interface_version::V34,
            addr_ton: Ton::UNKNOWN,
            addr_npi: Npi::UNKNOWN,
            address_range: AddressRange::empty(),
            tlvs: Tlvs::new(),
        }
    }
}

impl Bind {
    /// A 3.4 bind with these credentials and everything else empty.
    pub fn new(system_id: SystemId, password: Password) -> Self {
        Self {
            system_id,
            password,
            ..Self::default()
        }
    }
}

impl Body for Bind {
    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            system_id: r.cstr("system_id")?,
            password: r.cstr("password")?,
            system_type: r.cstr("system_type")?,
            interface_version: r.u8("interface_version")?,
            addr_ton: Ton(r.u8("addr_ton")?),
            addr_npi: Npi(r.u8("addr_npi")?),
            address_range: r.cstr("address_range")?,
            tlvs: trailing_tlvs(r)?,
        })
    }

    fn encoded_len(&self) -> usize {
        self.system_id.encoded_len()
            + self.password.encoded_len()
            + self.system_type.encoded_len()
            + 3
            + self.address_range.encoded_len()
            + self.tlvs.encoded_len()
    }

    fn encode(&self, out: &mut impl BufMut) {
        self.system_id.encode(out);
        self.password.encode(out);
        self.system_type.encode(out);
        out.put_u8(self.interface_version);
        out.put_u8(self.addr_ton.0);
        out.put_u8(self.addr_npi.0);
        self.address_range.encode(out);
        self.tlvs.encode(out);
    }
}

/// The body of the three bind responses.
///
/// `sc_interface_version` is an ordinary TLV kept in wire order in `tlvs` (so that every
/// decoded response re-encodes byte for byte); [`BindResp::sc_interface_version`] reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindResp {
    /// MC identifier (C(16)); empty when the body was omitted (failed bind).
    pub system_id: SystemId,
    /// TLVs, in wire order (usually just `sc_interface_version`).
    pub tlvs: Tlvs,
}

impl BindResp {
    /// A response with this system_id, announcing SMPP 3.4 (`sc_interface_version` 0x34).
    pub fn new(system_id: SystemId) -> Self {
        let mut tlvs = Tlvs::new();
        // Invariant: a one-octet sc_interface_version always fits its wire form.
        tlvs.push(Tlv::ScInterfaceVersion(interface_version::V34))
            .expect("sc_interface_version is one octet");
        Self { system_id, tlvs }
    }

    /// The MC's SMPP version from the `sc_interface_version` TLV; absent means the MC does
    /// not announce TLV support (smpp-reference §5.2).
    pub fn sc_interface_version(&self) -> Option<u8> {
        self.tlvs.sc_interface_version()
    }
}

impl Body for BindResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        // Failed binds may come without a body.
        if r.remaining() == 0 {
            return Ok(Self::default());
        }
        let system_id = r.cstr("system_id")?;
        let tlvs = trailing_tlvs(r)?;
        Ok(Self { system_id, tlvs })
    }

    fn encoded_len(&self) -> usize {
        self.system_id.encoded_len() + self.tlvs.encoded_len()
    }

    fn encode(&self, out: &mut impl BufMut) {
        self.system_id.encode(out);
        self.tlvs.encode(out);
    }
}
