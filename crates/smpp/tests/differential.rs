//! Differential test against rusmpp 0.4 (an independent Rust SMPP implementation).
//!
//! For a broad sample of PDUs (every operation rusmpp models: binds and their responses,
//! outbind, submit_sm / deliver_sm with TLVs and receipts, data_sm, submit_multi, query,
//! cancel, replace, alert_notification, enquire_link, unbind, generic_nack, and unknown
//! operations), with values inside what rusmpp can represent:
//!
//! * rusmpp decodes what we encode, consuming the whole frame, and every field agrees;
//! * rusmpp, building the same values with its own constructors, encodes the same bytes,
//!   and we decode them back to the value we started from.
//!
//! The public vectors of `shared/reference/test-vectors.md` are compared the same way.
//! Where the two libraries disagree the difference is pinned in a test of its own at the end
//! of this file, with the reason it is rusmpp's and not ours (smpp-reference.md §5, §14).

mod common;

use common::strategies::{pdu_of_kind, Domain, KINDS};
use common::{hex, VECTORS};
use proptest::prelude::*;
use smpp::pdu::{DestAddress, Pdu, PduBody};
use smpp::tlv::{Tlv, Tlvs};

// ---------------------------------------------------------------------------------------------
// A neutral, flat view of a PDU: the header and the body fields in wire order. Both codecs
// are projected onto it, so "the field values agree" is a plain `assert_eq!` whose failure
// names the field.
// ---------------------------------------------------------------------------------------------

/// One body field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum V {
    /// An integer field (1 or 4 octets on the wire).
    Int(u32),
    /// A C-Octet String's content (without the NUL).
    Str(Vec<u8>),
    /// An octet string (short_message).
    Oct(Vec<u8>),
    /// A TLV: tag and value octets.
    Tlv(u16, Vec<u8>),
}

/// A PDU as header values plus named fields in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Flat {
    id: u32,
    status: u32,
    seq: u32,
    fields: Vec<(&'static str, V)>,
}

impl Flat {
    fn push(&mut self, name: &'static str, v: V) {
        self.fields.push((name, v));
    }
}

// ---------------------------------------------------------------------------------------------
// rusmpp side: decode, encode, project, build.
// ---------------------------------------------------------------------------------------------

mod theirs {
    use super::{Flat, V};
    use bytes::{BufMut, BytesMut};
    use rusmpp::decode::DecodeWithLength;
    use rusmpp::encode::{owned::Encode, Length};
    use rusmpp::pdus::{
        AlertNotification, BindReceiver, BindReceiverResp, BindTransceiver, BindTransceiverResp,
        BindTransmitter, BindTransmitterResp, CancelSm, DataSm, DataSmResp, DeliverSm,
        DeliverSmResp, Outbind, QuerySm, QuerySmResp, ReplaceSm, SubmitMulti, SubmitMultiResp,
        SubmitSm, SubmitSmResp,
    };
    use rusmpp::tlvs::{
        MessageDeliveryRequestTlvValue, MessageDeliveryResponseTlvValue,
        MessageSubmissionRequestTlvValue, MessageSubmissionResponseTlvValue, Tlv, TlvTag, TlvValue,
    };
    use rusmpp::types::{AnyOctetString, COctetString, EmptyOrFullCOctetString, OctetString};
    use rusmpp::values::{
        DestAddress, DistributionListName, InterfaceVersion, MessagePayload, MsAvailabilityStatus,
        ServiceType, SmeAddress, UnsuccessSme,
    };
    use rusmpp::{Command, CommandId, CommandStatus, Pdu};

    /// Decodes one whole frame the way rusmpp's own tokio codec does (the body after the
    /// 4-octet length), and also reports how many octets rusmpp consumed.
    pub fn decode(frame: &[u8]) -> Result<(Command, usize), String> {
        let body = frame.get(4..).ok_or("frame shorter than 4 octets")?;
        let mut buf = BytesMut::from(body);
        Command::decode(&mut buf, body.len())
            .map(|(c, n)| (c, n + 4))
            .map_err(|e| format!("{e:?}"))
    }

    /// Encodes one frame with rusmpp (length prefix + command), as its tokio codec does.
    pub fn encode(command: &Command) -> Vec<u8> {
        let len = 4 + command.length();
        let mut buf = BytesMut::with_capacity(len);
        buf.put_u32(len as u32);
        command.encode(&mut buf);
        buf.to_vec()
    }

    fn s(v: &[u8]) -> V {
        // rusmpp's C-string types deref to their octets including the NUL.
        V::Str(v.strip_suffix(&[0]).unwrap_or(v).to_vec())
    }

    fn i(v: impl Into<u8>) -> V {
        V::Int(u32::from(v.into()))
    }

    fn tlv(t: &Tlv) -> V {
        let mut value = BytesMut::new();
        if let Some(v) = t.value() {
            value.reserve(v.length());
            v.encode(&mut value);
        }
        // A disagreement between the declared and the re-encoded length is itself a
        // difference in the decoded value: show it as a distinct (impossible) tag.
        if value.len() != usize::from(t.value_length()) {
            return V::Tlv(
                0xFFFF,
                format!("len {} != {}", t.value_length(), value.len()).into(),
            );
        }
        V::Tlv(u16::from(t.tag()), value.to_vec())
    }

    fn tlvs(f: &mut Flat, list: &[Tlv]) {
        for t in list {
            f.push("tlv", tlv(t));
        }
    }

    /// Projects a rusmpp command onto the flat view.
    pub fn flatten(c: &Command) -> Flat {
        let mut f = Flat {
            id: u32::from(c.id()),
            status: u32::from(c.status()),
            seq: c.sequence_number(),
            fields: Vec::new(),
        };
        macro_rules! bind {
            ($b:expr) => {{
                f.push("system_id", s(&$b.system_id));
                f.push("password", s(&$b.password));
                f.push("system_type", s(&$b.system_type));
                f.push("interface_version", i($b.interface_version));
                f.push("addr_ton", i($b.addr_ton));
                f.push("addr_npi", i($b.addr_npi));
                f.push("address_range", s(&$b.address_range));
            }};
        }
        macro_rules! bind_resp {
            ($b:expr) => {{
                f.push("system_id", s(&$b.system_id));
                if let Some(t) = $b.sc_interface_version_tlv() {
                    f.push("tlv", tlv(t));
                }
            }};
        }
        macro_rules! sm {
            ($b:expr) => {{
                f.push("service_type", s($b.service_type.value()));
                f.push("source_addr_ton", i($b.source_addr_ton));
                f.push("source_addr_npi", i($b.source_addr_npi));
                f.push("source_addr", s(&$b.source_addr));
                f.push("dest_addr_ton", i($b.dest_addr_ton));
                f.push("dest_addr_npi", i($b.dest_addr_npi));
                f.push("destination_addr", s(&$b.destination_addr));
                f.push("esm_class", i($b.esm_class));
                f.push("protocol_id", i($b.protocol_id));
                f.push("priority_flag", i($b.priority_flag));
                f.push("schedule_delivery_time", s(&$b.schedule_delivery_time));
                f.push("validity_period", s(&$b.validity_period));
                f.push("registered_delivery", i($b.registered_delivery));
                f.push("replace_if_present_flag", i($b.replace_if_present_flag));
                f.push("data_coding", i($b.data_coding));
                f.push("sm_default_msg_id", i($b.sm_default_msg_id));
                f.push("short_message", V::Oct($b.short_message().to_vec()));
                tlvs(&mut f, $b.tlvs());
            }};
        }
        macro_rules! sm_resp {
            ($b:expr) => {{
                f.push("message_id", s($b.message_id()));
                tlvs(&mut f, $b.tlvs());
            }};
        }
        let Some(pdu) = c.pdu() else {
            // rusmpp has no PDU for an empty body of an operation it does not know; we keep
            // it as an empty `Other` body.
            if let CommandId::Other(_) = c.id() {
                f.push("body", V::Oct(Vec::new()));
            }
            return f;
        };
        match pdu {
            Pdu::BindTransmitter(b) => bind!(b),
            Pdu::BindReceiver(b) => bind!(b),
            Pdu::BindTransceiver(b) => bind!(b),
            Pdu::BindTransmitterResp(b) => bind_resp!(b),
            Pdu::BindReceiverResp(b) => bind_resp!(b),
            Pdu::BindTransceiverResp(b) => bind_resp!(b),
            Pdu::Outbind(b) => {
                f.push("system_id", s(&b.system_id));
                f.push("password", s(&b.password));
            }
            Pdu::SubmitSm(b) => sm!(b),
            Pdu::DeliverSm(b) => sm!(b),
            Pdu::SubmitSmResp(b) => sm_resp!(b),
            Pdu::DeliverSmResp(b) => sm_resp!(b),
            Pdu::DataSmResp(b) => sm_resp!(b),
            Pdu::DataSm(b) => {
                f.push("service_type", s(b.service_type.value()));
                f.push("source_addr_ton", i(b.source_addr_ton));
                f.push("source_addr_npi", i(b.source_addr_npi));
                f.push("source_addr", s(&b.source_addr));
                f.push("dest_addr_ton", i(b.dest_addr_ton));
                f.push("dest_addr_npi", i(b.dest_addr_npi));
                f.push("destination_addr", s(&b.destination_addr));
                f.push("esm_class", i(b.esm_class));
                f.push("registered_delivery", i(b.registered_delivery));
                f.push("data_coding", i(b.data_coding));
                tlvs(&mut f, b.tlvs());
            }
            Pdu::SubmitMulti(b) => {
                f.push("service_type", s(b.service_type.value()));
                f.push("source_addr_ton", i(b.source_addr_ton));
                f.push("source_addr_npi", i(b.source_addr_npi));
                f.push("source_addr", s(&b.source_addr));
                f.push("number_of_dests", i(b.number_of_dests()));
                for d in b.dest_address() {
                    match d {
                        DestAddress::SmeAddress(a) => {
                            f.push("dest_flag", V::Int(1));
                            f.push("dest_addr_ton", i(a.dest_addr_ton));
                            f.push("dest_addr_npi", i(a.dest_addr_npi));
                            f.push("destination_addr", s(&a.destination_addr));
                        }
                        DestAddress::DistributionListName(d) => {
                            f.push("dest_flag", V::Int(2));
                            f.push("dl_name", s(&d.dl_name));
                        }
                    }
                }
                f.push("esm_class", i(b.esm_class));
                f.push("protocol_id", i(b.protocol_id));
                f.push("priority_flag", i(b.priority_flag));
                f.push("schedule_delivery_time", s(&b.schedule_delivery_time));
                f.push("validity_period", s(&b.validity_period));
                f.push("registered_delivery", i(b.registered_delivery));
                f.push("replace_if_present_flag", i(b.replace_if_present_flag));
                f.push("data_coding", i(b.data_coding));
                f.push("sm_default_msg_id", i(b.sm_default_msg_id));
                f.push("short_message", V::Oct(b.short_message().to_vec()));
                tlvs(&mut f, b.tlvs());
            }
            Pdu::SubmitMultiResp(b) => {
                f.push("message_id", s(&b.message_id));
                f.push("no_unsuccess", i(b.no_unsuccess()));
                for u in b.unsuccess_sme() {
                    f.push("dest_addr_ton", i(u.dest_addr_ton));
                    f.push("dest_addr_npi", i(u.dest_addr_npi));
                    f.push("destination_addr", s(&u.destination_addr));
                    f.push("error_status_code", V::Int(u32::from(u.error_status_code)));
                }
                tlvs(&mut f, b.tlvs());
            }
            Pdu::QuerySm(b) => {
                f.push("message_id", s(&b.message_id));
                f.push("source_addr_ton", i(b.source_addr_ton));
                f.push("source_addr_npi", i(b.source_addr_npi));
                f.push("source_addr", s(&b.source_addr));
            }
            Pdu::QuerySmResp(b) => {
                f.push("message_id", s(&b.message_id));
                f.push("final_date", s(&b.final_date));
                f.push("message_state", i(b.message_state));
                f.push("error_code", i(b.error_code));
            }
            Pdu::CancelSm(b) => {
                f.push("service_type", s(b.service_type.value()));
                f.push("message_id", s(&b.message_id));
                f.push("source_addr_ton", i(b.source_addr_ton));
                f.push("source_addr_npi", i(b.source_addr_npi));
                f.push("source_addr", s(&b.source_addr));
                f.push("dest_addr_ton", i(b.dest_addr_ton));
                f.push("dest_addr_npi", i(b.dest_addr_npi));
                f.push("destination_addr", s(&b.destination_addr));
            }
            Pdu::ReplaceSm(b) => {
                f.push("message_id", s(&b.message_id));
                f.push("source_addr_ton", i(b.source_addr_ton));
                f.push("source_addr_npi", i(b.source_addr_npi));
                f.push("source_addr", s(&b.source_addr));
                f.push("schedule_delivery_time", s(&b.schedule_delivery_time));
                f.push("validity_period", s(&b.validity_period));
                f.push("registered_delivery", i(b.registered_delivery));
                f.push("sm_default_msg_id", i(b.sm_default_msg_id));
                f.push("short_message", V::Oct(b.short_message().to_vec()));
                if let Some(t) = b.message_payload_tlv() {
                    f.push("tlv", tlv(t));
                }
            }
            Pdu::AlertNotification(b) => {
                f.push("source_addr_ton", i(b.source_addr_ton));
                f.push("source_addr_npi", i(b.source_addr_npi));
                f.push("source_addr", s(&b.source_addr));
                f.push("esme_addr_ton", i(b.esme_addr_ton));
                f.push("esme_addr_npi", i(b.esme_addr_npi));
                f.push("esme_addr", s(&b.esme_addr));
                if let Some(t) = b.ms_availability_status_tlv() {
                    f.push("tlv", tlv(t));
                }
            }
            Pdu::Other { body, .. } => f.push("body", V::Oct(body.to_vec())),
            // Header-only operations.
            Pdu::Unbind
            | Pdu::UnbindResp
            | Pdu::EnquireLink
            | Pdu::EnquireLinkResp
            | Pdu::GenericNack
            | Pdu::CancelSmResp
            | Pdu::ReplaceSmResp => {}
            other => f.push("unexpected_5_0_pdu", V::Oct(format!("{other:?}").into())),
        }
        f
    }

    /// Reads the flat fields back in order, as the rusmpp constructors want them.
    struct Cursor<'a> {
        fields: &'a [(&'static str, V)],
        at: usize,
    }

    impl Cursor<'_> {
        fn next(&mut self, name: &str) -> Result<&V, String> {
            let (n, v) = self
                .fields
                .get(self.at)
                .ok_or_else(|| format!("missing field {name}"))?;
            if *n != name {
                return Err(format!("expected field {name}, found {n}"));
            }
            self.at += 1;
            Ok(v)
        }
        fn int(&mut self, name: &str) -> Result<u32, String> {
            match self.next(name)? {
                V::Int(x) => Ok(*x),
                v => Err(format!("{name}: not an integer: {v:?}")),
            }
        }
        fn u8(&mut self, name: &str) -> Result<u8, String> {
            let x = self.int(name)?;
            u8::try_from(x).map_err(|_| format!("{name}: {x} is not one octet"))
        }
        fn bytes(&mut self, name: &str) -> Result<Vec<u8>, String> {
            match self.next(name)? {
                V::Str(b) | V::Oct(b) => Ok(b.clone()),
                v => Err(format!("{name}: not a string: {v:?}")),
            }
        }
        fn c<const A: usize, const B: usize>(
            &mut self,
            name: &str,
        ) -> Result<COctetString<A, B>, String> {
            let mut b = self.bytes(name)?;
            b.push(0);
            COctetString::from_vec(b).map_err(|e| format!("rusmpp rejects {name}: {e}"))
        }
        fn time(&mut self, name: &str) -> Result<EmptyOrFullCOctetString<17>, String> {
            let mut b = self.bytes(name)?;
            b.push(0);
            EmptyOrFullCOctetString::from_vec(b).map_err(|e| format!("rusmpp rejects {name}: {e}"))
        }
        fn short_message(&mut self) -> Result<OctetString<0, 255>, String> {
            let b = self.bytes("short_message")?;
            OctetString::from_vec(b).map_err(|e| format!("rusmpp rejects short_message: {e}"))
        }
        /// The remaining fields, which must all be TLVs.
        fn tlvs(&mut self) -> Result<Vec<(u16, Vec<u8>)>, String> {
            let mut out = Vec::new();
            while let Some((n, v)) = self.fields.get(self.at) {
                match v {
                    V::Tlv(tag, value) => out.push((*tag, value.clone())),
                    v => return Err(format!("trailing non-TLV field {n}: {v:?}")),
                }
                self.at += 1;
            }
            Ok(out)
        }
        fn done(&self) -> Result<(), String> {
            match self.fields.get(self.at) {
                None => Ok(()),
                Some((n, _)) => Err(format!("rusmpp cannot represent field {n} here")),
            }
        }
    }

    fn service_type(c: &mut Cursor<'_>) -> Result<ServiceType, String> {
        Ok(ServiceType::new(c.c("service_type")?))
    }

    /// Decodes one TLV with rusmpp's own typed parser (used where its constructors want a
    /// typed value rather than raw octets).
    fn typed_tlv(tag: u16, value: &[u8]) -> Result<Option<TlvValue>, String> {
        let mut raw = BytesMut::new();
        raw.put_u16(tag);
        raw.put_u16(value.len() as u16);
        raw.put_slice(value);
        let len = raw.len();
        match Tlv::decode(&mut raw, len) {
            Ok((t, _)) => Ok(t.value().cloned()),
            Err(e) => Err(format!("rusmpp cannot parse TLV {tag:#06x}: {e:?}")),
        }
    }

    fn raw(tag: u16, value: Vec<u8>) -> (TlvTag, AnyOctetString) {
        (TlvTag::from(tag), AnyOctetString::from_vec(value))
    }

    /// Builds the rusmpp command for a flat PDU with rusmpp's constructors (which compute
    /// sm_length, number_of_dests, TLV lengths themselves). TLVs go in as rusmpp's `Other`
    /// variant with the exact octets; their typed decoding is covered by `flatten`.
    pub fn build(f: &Flat) -> Result<Command, String> {
        let mut c = Cursor {
            fields: &f.fields,
            at: 0,
        };
        let status = CommandStatus::from(f.status);
        macro_rules! bind {
            ($t:ident) => {{
                $t::new(
                    c.c("system_id")?,
                    c.c("password")?,
                    c.c("system_type")?,
                    InterfaceVersion::from(c.u8("interface_version")?),
                    c.u8("addr_ton")?.into(),
                    c.u8("addr_npi")?.into(),
                    c.c("address_range")?,
                )
                .into()
            }};
        }
        macro_rules! bind_resp {
            ($t:ident) => {{
                let system_id = c.c("system_id")?;
                let version = match c.tlvs()?.as_slice() {
                    [] => None,
                    [(0x0210, v)] => match typed_tlv(0x0210, v)? {
                        Some(TlvValue::ScInterfaceVersion(v)) => Some(v),
                        other => return Err(format!("sc_interface_version parsed as {other:?}")),
                    },
                    more => {
                        return Err(format!(
                            "rusmpp bind_resp holds only sc_interface_version, not {more:?}"
                        ))
                    }
                };
                $t::new(system_id, version).into()
            }};
        }
        macro_rules! sm {
            ($t:ident, $tlv:ident) => {{
                $t::new(
                    service_type(&mut c)?,
                    c.u8("source_addr_ton")?.into(),
                    c.u8("source_addr_npi")?.into(),
                    c.c("source_addr")?,
                    c.u8("dest_addr_ton")?.into(),
                    c.u8("dest_addr_npi")?.into(),
                    c.c("destination_addr")?,
                    c.u8("esm_class")?.into(),
                    c.u8("protocol_id")?,
                    c.u8("priority_flag")?.into(),
                    c.time("schedule_delivery_time")?,
                    c.time("validity_period")?,
                    c.u8("registered_delivery")?.into(),
                    c.u8("replace_if_present_flag")?.into(),
                    c.u8("data_coding")?.into(),
                    c.u8("sm_default_msg_id")?,
                    c.short_message()?,
                    c.tlvs()?
                        .into_iter()
                        .map(|(t, v)| {
                            let (tag, value) = raw(t, v);
                            $tlv::Other { tag, value }
                        })
                        .collect(),
                )
                .into()
            }};
        }
        macro_rules! sm_resp {
            ($t:ident, $tlv:ident) => {{
                $t::new(
                    c.c("message_id")?,
                    c.tlvs()?
                        .into_iter()
                        .map(|(t, v)| {
                            let (tag, value) = raw(t, v);
                            $tlv::Other { tag, value }
                        })
                        .collect(),
                )
                .into()
            }};
        }
        let id = CommandId::from(f.id);
        let pdu: Pdu = match id {
            CommandId::BindTransmitter => bind!(BindTransmitter),
            CommandId::BindReceiver => bind!(BindReceiver),
            CommandId::BindTransceiver => bind!(BindTransceiver),
            CommandId::BindTransmitterResp => bind_resp!(BindTransmitterResp),
            CommandId::BindReceiverResp => bind_resp!(BindReceiverResp),
            CommandId::BindTransceiverResp => bind_resp!(BindTransceiverResp),
            CommandId::Outbind => Outbind::new(c.c("system_id")?, c.c("password")?).into(),
            CommandId::SubmitSm => sm!(SubmitSm, MessageSubmissionRequestTlvValue),
            CommandId::DeliverSm => sm!(DeliverSm, MessageDeliveryRequestTlvValue),
            CommandId::SubmitSmResp if f.fields.is_empty() => {
                return Ok(bodiless(status, f.seq, id));
            }
            CommandId::SubmitSmResp => sm_resp!(SubmitSmResp, MessageSubmissionResponseTlvValue),
            CommandId::DeliverSmResp if f.fields.is_empty() => {
                return Ok(bodiless(status, f.seq, id));
            }
            CommandId::DeliverSmResp => sm_resp!(DeliverSmResp, MessageDeliveryResponseTlvValue),
            CommandId::DataSmResp if f.fields.is_empty() => {
                return Ok(bodiless(status, f.seq, id));
            }
            CommandId::DataSmResp => sm_resp!(DataSmResp, MessageDeliveryResponseTlvValue),
            CommandId::DataSm => DataSm::new(
                service_type(&mut c)?,
                c.u8("source_addr_ton")?.into(),
                c.u8("source_addr_npi")?.into(),
                c.c("source_addr")?,
                c.u8("dest_addr_ton")?.into(),
                c.u8("dest_addr_npi")?.into(),
                c.c("destination_addr")?,
                c.u8("esm_class")?.into(),
                c.u8("registered_delivery")?.into(),
                c.u8("data_coding")?.into(),
                c.tlvs()?
                    .into_iter()
                    .map(|(t, v)| {
                        let (tag, value) = raw(t, v);
                        MessageSubmissionRequestTlvValue::Other { tag, value }
                    })
                    .collect(),
            )
            .into(),
            CommandId::SubmitMulti => {
                let st = service_type(&mut c)?;
                let ston = c.u8("source_addr_ton")?.into();
                let snpi = c.u8("source_addr_npi")?.into();
                let src = c.c("source_addr")?;
                let n = c.u8("number_of_dests")?;
                let mut dests = Vec::new();
                for _ in 0..n {
                    match c.u8("dest_flag")? {
                        1 => dests.push(DestAddress::SmeAddress(SmeAddress::new(
                            c.u8("dest_addr_ton")?.into(),
                            c.u8("dest_addr_npi")?.into(),
                            c.c("destination_addr")?,
                        ))),
                        2 => dests.push(DestAddress::DistributionListName(
                            DistributionListName::new(c.c("dl_name")?),
                        )),
                        flag => return Err(format!("dest_flag {flag}")),
                    }
                }
                SubmitMulti::new(
                    st,
                    ston,
                    snpi,
                    src,
                    dests,
                    c.u8("esm_class")?.into(),
                    c.u8("protocol_id")?,
                    c.u8("priority_flag")?.into(),
                    c.time("schedule_delivery_time")?,
                    c.time("validity_period")?,
                    c.u8("registered_delivery")?.into(),
                    c.u8("replace_if_present_flag")?.into(),
                    c.u8("data_coding")?.into(),
                    c.u8("sm_default_msg_id")?,
                    c.short_message()?,
                    c.tlvs()?
                        .into_iter()
                        .map(|(t, v)| {
                            let (tag, value) = raw(t, v);
                            MessageSubmissionRequestTlvValue::Other { tag, value }
                        })
                        .collect(),
                )
                .into()
            }
            CommandId::SubmitMultiResp => {
                let message_id = c.c("message_id")?;
                let n = c.u8("no_unsuccess")?;
                let mut smes = Vec::new();
                for _ in 0..n {
                    smes.push(UnsuccessSme::new(
                        c.u8("dest_addr_ton")?.into(),
                        c.u8("dest_addr_npi")?.into(),
                        c.c("destination_addr")?,
                        CommandStatus::from(c.int("error_status_code")?),
                    ));
                }
                SubmitMultiResp::new(
                    message_id,
                    smes,
                    c.tlvs()?
                        .into_iter()
                        .map(|(t, v)| {
                            let (tag, value) = raw(t, v);
                            MessageSubmissionResponseTlvValue::Other { tag, value }
                        })
                        .collect(),
                )
                .into()
            }
            CommandId::QuerySm => QuerySm::new(
                c.c("message_id")?,
                c.u8("source_addr_ton")?.into(),
                c.u8("source_addr_npi")?.into(),
                c.c("source_addr")?,
            )
            .into(),
            CommandId::QuerySmResp => QuerySmResp::new(
                c.c("message_id")?,
                c.time("final_date")?,
                c.u8("message_state")?.into(),
                c.u8("error_code")?,
            )
            .into(),
            CommandId::CancelSm => CancelSm::new(
                service_type(&mut c)?,
                c.c("message_id")?,
                c.u8("source_addr_ton")?.into(),
                c.u8("source_addr_npi")?.into(),
                c.c("source_addr")?,
                c.u8("dest_addr_ton")?.into(),
                c.u8("dest_addr_npi")?.into(),
                c.c("destination_addr")?,
            )
            .into(),
            CommandId::ReplaceSm => {
                let message_id = c.c("message_id")?;
                let ton = c.u8("source_addr_ton")?.into();
                let npi = c.u8("source_addr_npi")?.into();
                let src = c.c("source_addr")?;
                let sched = c.time("schedule_delivery_time")?;
                let validity = c.time("validity_period")?;
                let rd = c.u8("registered_delivery")?.into();
                let def = c.u8("sm_default_msg_id")?;
                let sm = c.short_message()?;
                let payload = match c.tlvs()?.as_slice() {
                    [] => None,
                    [(0x0424, v)] => Some(MessagePayload::new(AnyOctetString::from_slice(v))),
                    more => {
                        return Err(format!(
                            "rusmpp replace_sm holds only message_payload, not {more:?}"
                        ))
                    }
                };
                ReplaceSm::new(
                    message_id, ton, npi, src, sched, validity, rd, def, sm, payload,
                )
                .into()
            }
            CommandId::AlertNotification => {
                let ston = c.u8("source_addr_ton")?.into();
                let snpi = c.u8("source_addr_npi")?.into();
                let src = c.c("source_addr")?;
                let eton = c.u8("esme_addr_ton")?.into();
                let enpi = c.u8("esme_addr_npi")?.into();
                let esme = c.c("esme_addr")?;
                let status_tlv = match c.tlvs()?.as_slice() {
                    [] => None,
                    [(0x0422, v)] if v.len() == 1 => Some(MsAvailabilityStatus::from(v[0])),
                    more => {
                        return Err(format!(
                        "rusmpp alert_notification holds only ms_availability_status, not {more:?}"
                    ))
                    }
                };
                AlertNotification::new(ston, snpi, src, eton, enpi, esme, status_tlv).into()
            }
            CommandId::Unbind => Pdu::Unbind,
            CommandId::UnbindResp => Pdu::UnbindResp,
            CommandId::EnquireLink => Pdu::EnquireLink,
            CommandId::EnquireLinkResp => Pdu::EnquireLinkResp,
            CommandId::GenericNack => Pdu::GenericNack,
            CommandId::CancelSmResp => Pdu::CancelSmResp,
            CommandId::ReplaceSmResp => Pdu::ReplaceSmResp,
            other => Pdu::Other {
                command_id: other,
                body: AnyOctetString::from_vec(c.bytes("body")?),
            },
        };
        c.done()?;
        Ok(Command::new(status, f.seq, pdu))
    }

    /// A response without a body (3.4 §4.4.2: no message_id after an error). rusmpp has no
    /// constructor for it, but decodes it, so take its own decoding of the 16-octet header.
    fn bodiless(status: CommandStatus, seq: u32, id: CommandId) -> Command {
        let mut frame = Vec::with_capacity(16);
        for w in [16, u32::from(id), u32::from(status), seq] {
            frame.extend_from_slice(&w.to_be_bytes());
        }
        match decode(&frame) {
            Ok((c, _)) => c,
            Err(e) => panic!("rusmpp cannot decode a bodiless {id:?}: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Our side: project a `Pdu` onto the flat view.
// ---------------------------------------------------------------------------------------------

fn s(v: &[u8]) -> V {
    V::Str(v.to_vec())
}

fn i(v: impl Into<u32>) -> V {
    V::Int(v.into())
}

/// A TLV as tag + value octets, taken from our own encoding of it.
fn tlv(t: &Tlv) -> V {
    let mut out = Vec::new();
    t.encode(&mut out);
    V::Tlv(t.tag(), out.get(4..).unwrap_or_default().to_vec())
}

fn tlvs(f: &mut Flat, list: &Tlvs) {
    for t in list {
        f.push("tlv", tlv(t));
    }
}

fn flatten(p: &Pdu) -> Flat {
    let mut f = Flat {
        id: p.command_id().0,
        status: p.command_status.0,
        seq: p.sequence_number,
        fields: Vec::new(),
    };
    macro_rules! sm {
        ($b:expr) => {{
            f.push("service_type", s($b.service_type.as_bytes()));
            f.push("source_addr_ton", i($b.source_addr_ton.0));
            f.push("source_addr_npi", i($b.source_addr_npi.0));
            f.push("source_addr", s($b.source_addr.as_bytes()));
            f.push("dest_addr_ton", i($b.dest_addr_ton.0));
            f.push("dest_addr_npi", i($b.dest_addr_npi.0));
            f.push("destination_addr", s($b.destination_addr.as_bytes()));
            f.push("esm_class", i($b.esm_class.0));
            f.push("protocol_id", i($b.protocol_id));
            f.push("priority_flag", i($b.priority_flag.0));
            f.push(
                "schedule_delivery_time",
                s($b.schedule_delivery_time.as_bytes()),
            );
            f.push("validity_period", s($b.validity_period.as_bytes()));
            f.push("registered_delivery", i($b.registered_delivery.0));
            f.push("replace_if_present_flag", i($b.replace_if_present_flag));
            f.push("data_coding", i($b.data_coding.0));
            f.push("sm_default_msg_id", i($b.sm_default_msg_id));
            f.push(
                "short_message",
                V::Oct($b.short_message.as_bytes().to_vec()),
            );
            tlvs(&mut f, &$b.tlvs);
        }};
    }
    match &p.body {
        PduBody::BindTransmitter(b) | PduBody::BindReceiver(b) | PduBody::BindTransceiver(b) => {
            f.push("system_id", s(b.system_id.as_bytes()));
            f.push("password", s(b.password.as_bytes()));
            f.push("system_type", s(b.system_type.as_bytes()));
            f.push("interface_version", i(b.interface_version));
            f.push("addr_ton", i(b.addr_ton.0));
            f.push("addr_npi", i(b.addr_npi.0));
            f.push("address_range", s(b.address_range.as_bytes()));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::BindTransmitterResp(b)
        | PduBody::BindReceiverResp(b)
        | PduBody::BindTransceiverResp(b) => {
            f.push("system_id", s(b.system_id.as_bytes()));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::Outbind(b) => {
            f.push("system_id", s(b.system_id.as_bytes()));
            f.push("password", s(b.password.as_bytes()));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::SubmitSm(b) => sm!(b),
        PduBody::DeliverSm(b) => sm!(b),
        PduBody::SubmitSmResp(b) => {
            f.push("message_id", s(b.message_id.as_bytes()));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::DeliverSmResp(b) => {
            f.push("message_id", s(b.message_id.as_bytes()));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::DataSmResp(b) => {
            f.push("message_id", s(b.message_id.as_bytes()));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::DataSm(b) => {
            f.push("service_type", s(b.service_type.as_bytes()));
            f.push("source_addr_ton", i(b.source_addr_ton.0));
            f.push("source_addr_npi", i(b.source_addr_npi.0));
            f.push("source_addr", s(b.source_addr.as_bytes()));
            f.push("dest_addr_ton", i(b.dest_addr_ton.0));
            f.push("dest_addr_npi", i(b.dest_addr_npi.0));
            f.push("destination_addr", s(b.destination_addr.as_bytes()));
            f.push("esm_class", i(b.esm_class.0));
            f.push("registered_delivery", i(b.registered_delivery.0));
            f.push("data_coding", i(b.data_coding.0));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::SubmitMulti(b) => {
            f.push("service_type", s(b.service_type.as_bytes()));
            f.push("source_addr_ton", i(b.source_addr_ton.0));
            f.push("source_addr_npi", i(b.source_addr_npi.0));
            f.push("source_addr", s(b.source_addr.as_bytes()));
            f.push("number_of_dests", V::Int(b.dest_addresses().len() as u32));
            for d in b.dest_addresses() {
                match d {
                    DestAddress::Sme { ton, npi, address } => {
                        f.push("dest_flag", V::Int(1));
                        f.push("dest_addr_ton", i(ton.0));
                        f.push("dest_addr_npi", i(npi.0));
                        f.push("destination_addr", s(address.as_bytes()));
                    }
                    DestAddress::DistributionList(name) => {
                        f.push("dest_flag", V::Int(2));
                        f.push("dl_name", s(name.as_bytes()));
                    }
                }
            }
            f.push("esm_class", i(b.esm_class.0));
            f.push("protocol_id", i(b.protocol_id));
            f.push("priority_flag", i(b.priority_flag.0));
            f.push(
                "schedule_delivery_time",
                s(b.schedule_delivery_time.as_bytes()),
            );
            f.push("validity_period", s(b.validity_period.as_bytes()));
            f.push("registered_delivery", i(b.registered_delivery.0));
            f.push("replace_if_present_flag", i(b.replace_if_present_flag));
            f.push("data_coding", i(b.data_coding.0));
            f.push("sm_default_msg_id", i(b.sm_default_msg_id));
            f.push("short_message", V::Oct(b.short_message.as_bytes().to_vec()));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::SubmitMultiResp(b) => {
            f.push("message_id", s(b.message_id.as_bytes()));
            f.push("no_unsuccess", V::Int(b.unsuccess_smes().len() as u32));
            for u in b.unsuccess_smes() {
                f.push("dest_addr_ton", i(u.dest_addr_ton.0));
                f.push("dest_addr_npi", i(u.dest_addr_npi.0));
                f.push("destination_addr", s(u.destination_addr.as_bytes()));
                f.push("error_status_code", i(u.error_status_code.0));
            }
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::QuerySm(b) => {
            f.push("message_id", s(b.message_id.as_bytes()));
            f.push("source_addr_ton", i(b.source_addr_ton.0));
            f.push("source_addr_npi", i(b.source_addr_npi.0));
            f.push("source_addr", s(b.source_addr.as_bytes()));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::QuerySmResp(b) => {
            f.push("message_id", s(b.message_id.as_bytes()));
            f.push("final_date", s(b.final_date.as_bytes()));
            f.push("message_state", i(b.message_state.to_u8()));
            f.push("error_code", i(b.error_code));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::CancelSm(b) => {
            f.push("service_type", s(b.service_type.as_bytes()));
            f.push("message_id", s(b.message_id.as_bytes()));
            f.push("source_addr_ton", i(b.source_addr_ton.0));
            f.push("source_addr_npi", i(b.source_addr_npi.0));
            f.push("source_addr", s(b.source_addr.as_bytes()));
            f.push("dest_addr_ton", i(b.dest_addr_ton.0));
            f.push("dest_addr_npi", i(b.dest_addr_npi.0));
            f.push("destination_addr", s(b.destination_addr.as_bytes()));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::ReplaceSm(b) => {
            f.push("message_id", s(b.message_id.as_bytes()));
            f.push("source_addr_ton", i(b.source_addr_ton.0));
            f.push("source_addr_npi", i(b.source_addr_npi.0));
            f.push("source_addr", s(b.source_addr.as_bytes()));
            f.push(
                "schedule_delivery_time",
                s(b.schedule_delivery_time.as_bytes()),
            );
            f.push("validity_period", s(b.validity_period.as_bytes()));
            f.push("registered_delivery", i(b.registered_delivery.0));
            f.push("sm_default_msg_id", i(b.sm_default_msg_id));
            f.push("short_message", V::Oct(b.short_message.as_bytes().to_vec()));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::AlertNotification(b) => {
            f.push("source_addr_ton", i(b.source_addr_ton.0));
            f.push("source_addr_npi", i(b.source_addr_npi.0));
            f.push("source_addr", s(b.source_addr.as_bytes()));
            f.push("esme_addr_ton", i(b.esme_addr_ton.0));
            f.push("esme_addr_npi", i(b.esme_addr_npi.0));
            f.push("esme_addr", s(b.esme_addr.as_bytes()));
            tlvs(&mut f, &b.tlvs);
        }
        PduBody::Other { body, .. } => f.push("body", V::Oct(body.to_vec())),
        PduBody::Unbind
        | PduBody::UnbindResp
        | PduBody::GenericNack
        | PduBody::EnquireLink
        | PduBody::EnquireLinkResp
        | PduBody::CancelSmResp
        | PduBody::ReplaceSmResp => {}
    }
    f
}

// ---------------------------------------------------------------------------------------------
// The differential properties.
// ---------------------------------------------------------------------------------------------

/// Both directions for one PDU; `Err` says which disagreement was found.
fn agree(pdu: &Pdu) -> Result<(), TestCaseError> {
    let ours = pdu.to_vec();
    let flat = flatten(pdu);

    // rusmpp decodes what we encode, to the same field values, consuming the whole frame.
    let decoded = theirs::decode(&ours);
    prop_assert!(
        decoded.is_ok(),
        "rusmpp cannot decode our frame: {:?}",
        decoded
    );
    let (command, consumed) = decoded.unwrap_or_else(|_| unreachable!());
    prop_assert_eq!(
        consumed,
        ours.len(),
        "rusmpp left octets of our frame unread"
    );
    prop_assert_eq!(
        &theirs::flatten(&command),
        &flat,
        "fields differ (ours right)"
    );

    // rusmpp encodes the same values to the same bytes, and we decode them back.
    let built = theirs::build(&flat);
    prop_assert!(built.is_ok(), "rusmpp cannot build the value: {:?}", built);
    let wire = theirs::encode(&built.unwrap_or_else(|_| unreachable!()));
    prop_assert_eq!(&wire, &ours, "rusmpp's encoding differs from ours");
    let back = Pdu::decode(&wire);
    prop_assert_eq!(
        back.as_ref(),
        Ok(pdu),
        "we decode rusmpp's frame differently"
    );
    Ok(())
}

/// One proptest per operation rusmpp models, so each gets its own budget of cases.
macro_rules! differential_tests {
    ($($name:ident = $kind:literal,)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]
            $(
                #[test]
                fn $name(pdu in pdu_of_kind($kind, Domain::Rusmpp)) {
                    prop_assert_eq!(KINDS[$kind], stringify!($name));
                    agree(&pdu)?;
                }
            )*
        }
    };
}

differential_tests! {
    bind_transmitter = 0,
    bind_receiver = 1,
    bind_transceiver = 2,
    bind_transmitter_resp = 3,
    bind_receiver_resp = 4,
    bind_transceiver_resp = 5,
    outbind = 6,
    unbind = 7,
    unbind_resp = 8,
    generic_nack = 9,
    enquire_link = 10,
    enquire_link_resp = 11,
    submit_sm = 12,
    submit_sm_resp = 13,
    deliver_sm = 14,
    deliver_sm_resp = 15,
    data_sm = 16,
    data_sm_resp = 17,
    submit_multi = 18,
    submit_multi_resp = 19,
    query_sm = 20,
    query_sm_resp = 21,
    cancel_sm = 22,
    cancel_sm_resp = 23,
    replace_sm = 24,
    replace_sm_resp = 25,
    alert_notification = 26,
    other = 27,
}

/// Both libraries decode every public vector (cloudhopper, python-smpplib, smpp5, ...) to the
/// same field values. The 16-octet responses without a body (V20, V21) are the one place the
/// models differ in shape: rusmpp has "no PDU", we have an empty message_id.
#[test]
fn public_vectors_decode_the_same_in_both() {
    for (name, h) in VECTORS {
        let frame = hex(h);
        let ours = Pdu::decode(&frame).unwrap_or_else(|e| panic!("{name}: we reject it: {e}"));
        let (command, consumed) =
            theirs::decode(&frame).unwrap_or_else(|e| panic!("{name}: rusmpp rejects it: {e}"));
        assert_eq!(consumed, frame.len(), "{name}: rusmpp left octets unread");
        let mut expected = flatten(&ours);
        if frame.len() == 16 && command.pdu().is_none() {
            assert_eq!(
                expected.fields,
                vec![("message_id", V::Str(Vec::new()))],
                "{name}: a bodiless response reads as an empty message_id"
            );
            expected.fields.clear();
        }
        assert_eq!(theirs::flatten(&command), expected, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Where rusmpp 0.4 and we disagree. Each test pins both behaviours, so a change on either
// side shows up here.
// ---------------------------------------------------------------------------------------------

use smpp::pdu::{AlertNotification, BindResp, DataSm, ReplaceSm, SubmitSm};
use smpp::types::{COctetString, LongAddress, ShortMessage};

fn submit_sm_with(tlv: Tlv) -> Pdu {
    let mut sm = SubmitSm::new(
        COctetString::new(b"12").expect("short"),
        COctetString::new(b"23").expect("short"),
        ShortMessage::new(b"abc").expect("short"),
    );
    sm.tlvs.push(tlv).expect("valid TLV");
    Pdu::new(1, PduBody::SubmitSm(Box::new(sm)))
}

/// rusmpp gives bind_resp, alert_notification and replace_sm a single optional TLV field.
/// A second TLV (5.0 allows e.g. congestion_state on every response; vendors add their own)
/// is silently dropped, and rusmpp's decoder stops before the end of the frame: its tokio
/// codec then reads the leftover octets as the next PDU's command_length, desynchronising
/// the stream. The same happens with a stray octet after a header-only PDU. We keep every
/// TLV (or reject the stray octet) and always consume exactly command_length octets.
#[test]
fn rusmpp_drops_extra_tlvs_and_leaves_octets_unread() {
    let mut bind_resp = BindResp::new(COctetString::new(b"SMSC").expect("short"));
    bind_resp
        .tlvs
        .push(Tlv::CongestionState(40))
        .expect("valid");
    let alert = AlertNotification {
        tlvs: Tlvs::try_from(vec![
            Tlv::MsAvailabilityStatus(1),
            Tlv::Other {
                tag: 0x1401,
                value: vec![1, 2].into(),
            },
        ])
        .expect("valid"),
        ..AlertNotification::default()
    };
    let replace = ReplaceSm {
        tlvs: Tlvs::try_from(vec![
            Tlv::MessagePayload(b"hello".to_vec().into()),
            Tlv::Other {
                tag: 0x1401,
                value: vec![9].into(),
            },
        ])
        .expect("valid"),
        ..ReplaceSm::default()
    };
    let cases = [
        (PduBody::BindTransmitterResp(bind_resp), 5),
        (PduBody::AlertNotification(alert), 6),
        (PduBody::ReplaceSm(Box::new(replace)), 5),
    ];
    for (body, dropped) in cases {
        let pdu = Pdu::new(7, body);
        let wire = pdu.to_vec();
        assert_eq!(Pdu::decode(&wire).as_ref(), Ok(&pdu), "we keep every TLV");
        let (command, consumed) = theirs::decode(&wire).expect("rusmpp decodes a prefix");
        assert_eq!(
            consumed,
            wire.len() - dropped,
            "{:?}: rusmpp stops early",
            pdu.command_id()
        );
        let theirs_flat = theirs::flatten(&command);
        let ours_flat = flatten(&pdu);
        assert_eq!(
            theirs_flat.fields.len() + 1,
            ours_flat.fields.len(),
            "one TLV lost"
        );
        assert_eq!(
            ours_flat.fields[..theirs_flat.fields.len()],
            theirs_flat.fields[..]
        );
    }

    // enquire_link with one stray octet after the header.
    let frame = hex("0000001100000015000000000A342EE700");
    let (command, consumed) = theirs::decode(&frame).expect("rusmpp decodes the header");
    assert_eq!(
        (command.id(), consumed),
        (rusmpp::CommandId::EnquireLink, 16)
    );
    let e = Pdu::decode(&frame).expect_err("we reject the stray octet");
    assert_eq!(
        e.status(),
        smpp::types::CommandStatus::ESME_RINVOPTPARSTREAM
    );
}

/// data_sm's source_addr and destination_addr are C(65) (smpp-reference.md §5.8: data_sm is
/// the packet-data operation and allows long addresses; Kannel and OpenSMPP agree). rusmpp
/// 0.4 declares them C(21) and rejects a longer address.
#[test]
fn rusmpp_limits_data_sm_addresses_to_21_octets() {
    let long = LongAddress::new(&[b'7'; 30]).expect("30 < 65");
    let data_sm = DataSm {
        source_addr: long,
        destination_addr: long,
        ..DataSm::default()
    };
    let pdu = Pdu::new(3, PduBody::DataSm(Box::new(data_sm)));
    let wire = pdu.to_vec();
    assert_eq!(Pdu::decode(&wire).as_ref(), Ok(&pdu));
    let err = theirs::decode(&wire).expect_err("rusmpp rejects a 30-character address");
    assert!(err.contains("COctetStringDecodeError"), "{err}");
}

/// source_telematics_id (0x0010) is one octet in Kannel, OpenSMPP and bulatnig/smpp, two in
/// rusmpp (smpp-reference.md §14 ⚠). We accept both and keep the octets; rusmpp fails on the
/// one-octet form and so loses the whole submit_sm.
#[test]
fn rusmpp_rejects_one_octet_source_telematics_id() {
    let one = submit_sm_with(Tlv::SourceTelematicsId(vec![7].into()));
    let wire = one.to_vec();
    assert_eq!(Pdu::decode(&wire).as_ref(), Ok(&one));
    assert!(theirs::decode(&wire).is_err(), "rusmpp expects two octets");

    // The two-octet form is the one both libraries read alike.
    let two = submit_sm_with(Tlv::SourceTelematicsId(vec![0, 7].into()));
    let (command, _) = theirs::decode(&two.to_vec()).expect("two octets");
    assert_eq!(theirs::flatten(&command), flatten(&two));
}

/// C-Octet Strings are ASCII by definition, and rusmpp enforces that when decoding. We
/// accept any non-NUL octet (peers do send Latin-1 and UTF-8 in system_type, addresses and
/// receipts, smpp-reference.md §3), so this is a difference in leniency rather than a bug on
/// either side: rusmpp refuses a whole bind over one accented character.
#[test]
fn rusmpp_rejects_non_ascii_c_strings_we_accept() {
    let mut bind = smpp::pdu::Bind::new(
        COctetString::new("caf\u{e9}".as_bytes()).expect("short"),
        COctetString::new(b"pw").expect("short"),
    );
    bind.system_type = COctetString::new(b"OTP").expect("short");
    let pdu = Pdu::new(9, PduBody::BindTransceiver(bind));
    let wire = pdu.to_vec();
    assert_eq!(Pdu::decode(&wire).as_ref(), Ok(&pdu));
    let err = theirs::decode(&wire).expect_err("rusmpp requires ASCII");
    assert!(err.contains("NotAscii"), "{err}");
}

/// ms_msg_wait_facilities (0x0030: bit 7 indicator, bits 1–0 type) and
/// callback_num_pres_ind (0x0302: bits 3–2 presentation, 1–0 screening) have reserved bits.
/// rusmpp decodes them into bit-field structs and drops the reserved bits, so relaying a PDU
/// through it changes the value; we keep the octet as sent.
#[test]
fn rusmpp_drops_reserved_bits_of_bit_field_tlvs() {
    for (tlv, rusmpp_reads) in [
        (Tlv::MsMsgWaitFacilities(0x41), vec![0x01]),
        (Tlv::MsMsgWaitFacilities(0xFF), vec![0x83]),
        (Tlv::CallbackNumPresInd(0x41), vec![0x01]),
        (Tlv::CallbackNumPresInd(0xFF), vec![0x0F]),
    ] {
        let tag = tlv.tag();
        let pdu = submit_sm_with(tlv.clone());
        let wire = pdu.to_vec();
        assert_eq!(Pdu::decode(&wire).as_ref(), Ok(&pdu), "we keep {tlv:?}");
        let (command, _) = theirs::decode(&wire).expect("rusmpp decodes it");
        let last = theirs::flatten(&command).fields.pop();
        assert_eq!(last, Some(("tlv", V::Tlv(tag, rusmpp_reads))), "{tlv:?}");
    }
}
