//! Golden vectors from `shared/reference/test-vectors.md` (V01–V42, C1, C2, N1–N10): each
//! one is framed with `check`, decoded, its listed fields asserted, and (except the
//! tolerate-on-decode cases V20, V21, V30) re-encoded byte for byte.

use bytes::Bytes;
use smpp::codec::{check, DecodeErrorKind, FrameError, DEFAULT_MAX_PDU_SIZE};
use smpp::pdu::{Pdu, PduBody};
use smpp::tlv::Tlv;
use smpp::types::{CommandId, CommandStatus, DataCoding, EsmClass, Npi, RegisteredDelivery, Ton};
use smpp::MessageState;

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Frames, decodes (both from `&[u8]` and zero-copy from `Bytes`) and returns the PDU.
fn decode(h: &str) -> (Vec<u8>, Pdu) {
    let wire = hex(h);
    assert_eq!(check(&wire, DEFAULT_MAX_PDU_SIZE), Ok(Some(wire.len())));
    let pdu = Pdu::decode(&wire).unwrap_or_else(|e| panic!("decode failed: {e}"));
    let from_bytes = Pdu::decode_bytes(Bytes::from(wire.clone())).expect("decode_bytes");
    assert_eq!(pdu, from_bytes);
    (wire, pdu)
}

/// Decodes and asserts that re-encoding gives the same bytes.
fn round_trip(h: &str) -> Pdu {
    let (wire, pdu) = decode(h);
    assert_eq!(pdu.encoded_len(), wire.len());
    let mut out = Vec::new();
    pdu.encode(&mut out);
    assert_eq!(out, wire, "re-encoding differs");
    pdu
}

fn header(pdu: &Pdu, id: CommandId, status: u32, seq: u32) {
    assert_eq!(pdu.command_id(), id);
    assert_eq!(pdu.command_status, CommandStatus(status));
    assert_eq!(pdu.sequence_number, seq);
}

#[path = "common/golden.rs"]
mod golden;
use golden::*;

#[test]
fn v01_v05_header_only() {
    let p = round_trip(V01);
    header(&p, CommandId::ENQUIRE_LINK, 0, 0x0A34_2EE7);
    assert_eq!(p.body, PduBody::EnquireLink);
    let p = round_trip(V02);
    header(&p, CommandId::ENQUIRE_LINK_RESP, 0, 0x0A34_2EED);
    assert_eq!(p.body, PduBody::EnquireLinkResp);
    let p = round_trip(V03);
    header(&p, CommandId::UNBIND, 0, 1);
    assert_eq!(p.body, PduBody::Unbind);
    let p = round_trip(V04);
    header(&p, CommandId::UNBIND_RESP, 0, 1);
    assert_eq!(p.body, PduBody::UnbindResp);
    let p = round_trip(V05);
    header(&p, CommandId::GENERIC_NACK, 1, 535_159);
    assert_eq!(p.command_status, CommandStatus::ESME_RINVMSGLEN);
    assert_eq!(p.body, PduBody::GenericNack);
}

#[test]
fn v06_v09_binds() {
    let p = round_trip(V06);
    header(&p, CommandId::BIND_TRANSMITTER, 0, 235_871);
    let PduBody::BindTransmitter(b) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(b.system_id, "twitter");
    assert_eq!(b.password, "twitter");
    assert!(b.system_type.is_empty());
    assert_eq!(b.interface_version, 0x34);
    assert_eq!((b.addr_ton, b.addr_npi), (Ton(0), Npi(0)));
    assert!(b.address_range.is_empty());

    let p = round_trip(V07);
    header(&p, CommandId::BIND_RECEIVER, 0, 235_873);
    let PduBody::BindReceiver(b) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(b.system_id, "twitter");
    assert_eq!(b.password, "twitter");

    let p = round_trip(V08);
    header(&p, CommandId::BIND_TRANSCEIVER, 0, 235_857);
    let PduBody::BindTransceiver(b) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(b.system_id, "ALL_TW");
    assert_eq!(b.password, "ALL_TW");
    // NPI 2 is not defined by SMPP: kept as-is, not rejected.
    assert_eq!((b.addr_ton, b.addr_npi), (Ton::INTERNATIONAL, Npi(2)));
    assert_eq!(b.addr_npi.name(), None);

    let p = round_trip(V09);
    header(&p, CommandId::BIND_TRANSMITTER, 0, 1);
    let PduBody::BindTransmitter(b) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(b.system_id, "SMPP3TEST");
    assert_eq!(b.password, "secret08");
    assert_eq!(b.system_type, "SUBMIT1");
    assert_eq!(b.interface_version, 0x50);
    assert_eq!((b.addr_ton, b.addr_npi), (Ton::INTERNATIONAL, Npi::ISDN));
    assert!(b.address_range.is_empty());
}

#[test]
fn v10_outbind() {
    let p = round_trip(V10);
    header(&p, CommandId::OUTBIND, 0, 1);
    let PduBody::Outbind(o) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(o.system_id, "SMPP3TEST");
    assert_eq!(o.password, "secret08");
}

#[test]
fn v11_v15_bind_responses() {
    let p = round_trip(V11);
    header(&p, CommandId::BIND_TRANSCEIVER_RESP, 0, 235_857);
    let PduBody::BindTransceiverResp(r) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(r.system_id, "Smsc Simulator");
    assert_eq!(r.sc_interface_version(), None);

    let p = round_trip(V12);
    header(&p, CommandId::BIND_TRANSCEIVER_RESP, 0x0E, 19_891);
    assert_eq!(p.command_status, CommandStatus::ESME_RINVPASWD);
    let PduBody::BindTransceiverResp(r) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(r.system_id, "SMSC");

    let p = round_trip(V13);
    header(&p, CommandId::BIND_TRANSCEIVER_RESP, 0, 235_843);
    let PduBody::BindTransceiverResp(r) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(r.system_id, "Smsc GW");
    assert_eq!(r.sc_interface_version(), Some(0x34));
    assert_eq!(r.tlvs.len(), 1, "only sc_interface_version: {:?}", r.tlvs);

    let p = round_trip(V14);
    header(&p, CommandId::BIND_TRANSMITTER_RESP, 0, 235_871);
    let PduBody::BindTransmitterResp(r) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(r.system_id, "TWITTER");
    assert_eq!(r.sc_interface_version(), Some(0x34));

    let p = round_trip(V15);
    header(&p, CommandId::BIND_RECEIVER_RESP, 0, 235_874);
    let PduBody::BindReceiverResp(r) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(r.system_id, "twitter");
    assert_eq!(r.sc_interface_version(), Some(0x34));
}

#[test]
fn bind_resp_without_body_is_tolerated() {
    // A failed bind answered with a bare header (status ESME_RBINDFAIL).
    let (_, p) = decode("00000010800000020000000D00000007");
    header(&p, CommandId::BIND_TRANSMITTER_RESP, 0x0D, 7);
    let PduBody::BindTransmitterResp(r) = &p.body else {
        panic!("{p:?}")
    };
    assert!(r.system_id.is_empty());
    assert_eq!(r.sc_interface_version(), None);
}

#[test]
fn v16_v17_submit_sm() {
    let p = round_trip(V16);
    header(&p, CommandId::SUBMIT_SM, 0, 20_456);
    let PduBody::SubmitSm(s) = &p.body else {
        panic!("{p:?}")
    };
    assert!(s.service_type.is_empty());
    assert_eq!((s.source_addr_ton, s.source_addr_npi), (Ton(1), Npi(1)));
    assert_eq!(s.source_addr, "40404");
    assert_eq!((s.dest_addr_ton, s.dest_addr_npi), (Ton(1), Npi(1)));
    assert_eq!(s.destination_addr, "44951361920");
    assert_eq!(s.esm_class, EsmClass::DEFAULT);
    assert_eq!(s.protocol_id, 0);
    assert_eq!(s.priority_flag.0, 0);
    assert!(s.schedule_delivery_time.is_empty());
    assert!(s.validity_period.is_empty());
    assert_eq!(s.registered_delivery, RegisteredDelivery::RECEIPT);
    assert_eq!(s.replace_if_present_flag, 0);
    assert_eq!(s.data_coding, DataCoding::DEFAULT);
    assert_eq!(s.sm_default_msg_id, 0);
    assert_eq!(s.short_message.as_bytes(), b"@$#!%&/:");
    assert!(s.tlvs.is_empty());

    let p = round_trip(V17);
    header(&p, CommandId::SUBMIT_SM, 0, 20_456);
    let PduBody::SubmitSm(s) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(s.short_message.len(), 255);
    assert!(s
        .short_message
        .as_bytes()
        .starts_with(b"Lorem ipsum dolor sit amet, "));
    assert!(s.short_message.as_bytes().ends_with(b"ante turpis duis."));
}

#[test]
fn v18_v21_submit_sm_resp() {
    let p = round_trip(V18);
    header(&p, CommandId::SUBMIT_SM_RESP, 0, 171_192_033);
    let PduBody::SubmitSmResp(r) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(r.message_id, "94258431594");

    let p = round_trip(V19);
    header(&p, CommandId::SUBMIT_SM_RESP, 0, 171_192_033);
    let PduBody::SubmitSmResp(r) = &p.body else {
        panic!("{p:?}")
    };
    assert!(r.message_id.is_empty());

    // Tolerate on decode: no body at all.
    for (h, status) in [(V20, 0), (V21, 0x30)] {
        let (_, p) = decode(h);
        header(&p, CommandId::SUBMIT_SM_RESP, status, 171_192_033);
        let PduBody::SubmitSmResp(r) = &p.body else {
            panic!("{p:?}")
        };
        assert!(r.message_id.is_empty());
        assert!(r.tlvs.is_empty());
    }
    assert_eq!(CommandStatus(0x30).name(), None);
}

#[test]
fn v22_deliver_sm_mo() {
    let p = round_trip(V22);
    header(&p, CommandId::DELIVER_SM, 0, 3);
    let PduBody::DeliverSm(d) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(
        (d.source_addr_ton, d.source_addr_npi),
        (Ton::NATIONAL, Npi::ISDN)
    );
    assert_eq!(d.source_addr, "87654321");
    assert_eq!(
        (d.dest_addr_ton, d.dest_addr_npi),
        (Ton::SUBSCRIBER_NUMBER, Npi::PRIVATE)
    );
    assert_eq!(d.destination_addr, "40404");
    assert!(!d.is_delivery_receipt());
    assert_eq!(d.short_message.as_bytes(), b"@$#!%&/:");
    assert_eq!(
        d.tlvs.as_slice(),
        &[Tlv::SourceNetworkType(1), Tlv::DestNetworkType(1)]
    );
}

#[test]
fn v23_receipt_with_tlvs() {
    let p = round_trip(V23);
    header(&p, CommandId::DELIVER_SM, 0, 2);
    let PduBody::DeliverSm(d) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(d.source_addr, "44951361920");
    assert_eq!(d.destination_addr, "40404");
    assert_eq!(d.esm_class, EsmClass::DELIVERY_RECEIPT);
    assert!(d.is_delivery_receipt());
    assert_eq!(d.short_message.len(), 110);
    assert!(d
        .short_message
        .as_bytes()
        .starts_with(b"id:0059113978 sub:001"));
    assert_eq!(d.tlvs.len(), 4);
    assert_eq!(d.tlvs.receipted_message_id().unwrap(), "38601fa");
    assert_eq!(d.tlvs.message_state(), Some(MessageState::Delivered));
}

#[test]
fn v24_receipt_without_tlvs() {
    let p = round_trip(V24);
    header(&p, CommandId::DELIVER_SM, 0, 1_141_461);
    let PduBody::DeliverSm(d) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(d.source_addr, "4495136192057");
    assert_eq!(
        (d.dest_addr_ton, d.dest_addr_npi),
        (Ton::ALPHANUMERIC, Npi::ISDN)
    );
    assert_eq!(d.destination_addr, "GTBank");
    assert!(d.is_delivery_receipt());
    assert_eq!(d.registered_delivery, RegisteredDelivery::RECEIPT);
    assert_eq!(d.short_message.len(), 110);
    assert!(d
        .short_message
        .as_bytes()
        .ends_with(b"stat:ACCEPTD err:107 text: 26F102"));
    assert!(d.tlvs.is_empty());
    assert_eq!(d.tlvs.receipted_message_id(), None);
}

#[test]
fn v25_receipt_tlvs_in_other_order() {
    let p = round_trip(V25);
    header(&p, CommandId::DELIVER_SM, 0, 1);
    let PduBody::DeliverSm(d) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(d.data_coding, DataCoding::LATIN1);
    assert_eq!(d.short_message.len(), 144);
    assert!(d
        .short_message
        .as_bytes()
        .ends_with(b"Text:Hello               "));
    assert_eq!(d.tlvs[0], Tlv::MessageState(MessageState::Delivered));
    assert_eq!(
        d.tlvs.receipted_message_id().unwrap(),
        "126e85a6edeac1a02020099312479564"
    );
}

#[test]
fn v26_v27_message_payload() {
    let p = round_trip(V26);
    header(&p, CommandId::DELIVER_SM, 0, 346_091);
    let PduBody::DeliverSm(d) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(d.source_addr, "4495136192");
    assert!(d.short_message.is_empty());
    assert_eq!(
        d.message_payload().map(|b| &b[..]),
        Some(&b"@Maidenman664 was it sappy? &Romantic?"[..])
    );
    assert_eq!(d.message(), b"@Maidenman664 was it sappy? &Romantic?");

    let p = round_trip(V27);
    header(&p, CommandId::DELIVER_SM, 0, 6_651_470);
    let PduBody::DeliverSm(d) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(d.message_payload().map(|b| b.len()), Some(0));
    assert_eq!(d.tlvs.len(), 3);
}

#[test]
fn v28_v30_high_sequence_numbers_and_deliver_sm_resp() {
    let p = round_trip(V28);
    header(&p, CommandId::DELIVER_SM, 0, 0xA285_9F22);
    let PduBody::DeliverSm(d) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(d.service_type, "1001");
    assert_eq!(d.destination_addr, "4040404040404040");
    assert_eq!(d.data_coding, DataCoding::UCS2);
    assert!(d.short_message.is_empty());

    let p = round_trip(V29);
    header(&p, CommandId::DELIVER_SM_RESP, 0, 0x806A_179B);
    let PduBody::DeliverSmResp(r) = &p.body else {
        panic!("{p:?}")
    };
    assert!(r.message_id.is_empty());

    // Tolerate on decode: an id in deliver_sm_resp.
    let (_, p) = decode(V30);
    header(&p, CommandId::DELIVER_SM_RESP, 0, 1_141_447);
    let PduBody::DeliverSmResp(r) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(r.message_id, "94258431594");
}

#[test]
fn v31_v32_data_sm() {
    let p = round_trip(V31);
    header(&p, CommandId::DATA_SM, 0, 0);
    let PduBody::DataSm(d) = &p.body else {
        panic!("{p:?}")
    };
    assert!(d.service_type.is_empty());
    assert_eq!((d.source_addr_ton, d.source_addr_npi), (Ton(1), Npi(1)));
    assert_eq!(d.source_addr, "5552710000");
    assert_eq!((d.dest_addr_ton, d.dest_addr_npi), (Ton(0), Npi(1)));
    assert_eq!(d.destination_addr, "9695");
    assert_eq!(d.esm_class, EsmClass::DEFAULT);
    assert_eq!(d.registered_delivery, RegisteredDelivery::RECEIPT);
    assert_eq!(d.data_coding, DataCoding::DEFAULT);
    assert_eq!(d.message_payload().map(|b| &b[..]), Some(&b"Test"[..]));

    let p = round_trip(V32);
    header(&p, CommandId::DATA_SM_RESP, 0, 1_141_447);
    let PduBody::DataSmResp(r) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(r.message_id, "94258431594");
}

#[test]
fn v33_v34_query_sm() {
    let p = round_trip(V33);
    header(&p, CommandId::QUERY_SM, 0, 20_456);
    let PduBody::QuerySm(q) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(q.message_id, "12345");
    assert_eq!((q.source_addr_ton, q.source_addr_npi), (Ton(1), Npi(1)));
    assert_eq!(q.source_addr, "40404");

    let p = round_trip(V34);
    header(&p, CommandId::QUERY_SM_RESP, 0, 20_456);
    let PduBody::QuerySmResp(q) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(q.message_id, "12345");
    assert!(q.final_date.is_empty());
    assert_eq!(q.message_state, MessageState::Accepted);
    assert_eq!(q.error_code, 0);
}

#[test]
fn v35_v37_cancel_sm() {
    let p = round_trip(V35);
    header(&p, CommandId::CANCEL_SM, 0, 20_456);
    let PduBody::CancelSm(c) = &p.body else {
        panic!("{p:?}")
    };
    assert!(c.service_type.is_empty());
    assert_eq!(c.message_id, "12345");
    assert_eq!(c.source_addr, "40404");
    assert_eq!((c.dest_addr_ton, c.dest_addr_npi), (Ton(1), Npi(1)));
    assert_eq!(c.destination_addr, "44951361920");

    let p = round_trip(V36);
    header(&p, CommandId::CANCEL_SM_RESP, 0, 20_456);
    assert_eq!(p.body, PduBody::CancelSmResp);
    let p = round_trip(V37);
    header(&p, CommandId::CANCEL_SM_RESP, 0x11, 20_456);
    assert_eq!(p.command_status, CommandStatus::ESME_RCANCELFAIL);
}

#[test]
fn v38_v39_replace_sm() {
    let p = round_trip(V38);
    header(&p, CommandId::REPLACE_SM, 0, 20_456);
    let PduBody::ReplaceSm(r) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(r.message_id, "msg-12345");
    assert_eq!((r.source_addr_ton, r.source_addr_npi), (Ton(1), Npi(1)));
    assert_eq!(r.source_addr, "5552710000");
    assert_eq!(r.schedule_delivery_time, "150203040506708+");
    assert_eq!(r.validity_period, "010203040506000R");
    assert_eq!(r.registered_delivery, RegisteredDelivery::RECEIPT);
    assert_eq!(r.sm_default_msg_id, 2);
    assert_eq!(r.short_message.as_bytes(), b"text");

    let p = round_trip(V39);
    header(&p, CommandId::REPLACE_SM_RESP, 2, 20_456);
    assert_eq!(p.body, PduBody::ReplaceSmResp);
}

#[test]
fn v40_alert_notification() {
    let p = round_trip(V40);
    header(&p, CommandId::ALERT_NOTIFICATION, 2, 20_456);
    let PduBody::AlertNotification(a) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!((a.source_addr_ton, a.source_addr_npi), (Ton(1), Npi(1)));
    assert_eq!(a.source_addr, "5552710000");
    assert_eq!((a.esme_addr_ton, a.esme_addr_npi), (Ton(1), Npi(1)));
    assert_eq!(a.esme_addr, "40404");
    assert_eq!(a.ms_availability_status(), None);
}

#[test]
fn v41_receipt_in_message_payload() {
    let p = round_trip(V41);
    header(&p, CommandId::DELIVER_SM, 0, 1);
    let PduBody::DeliverSm(d) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(d.source_addr, "31600000000");
    assert_eq!(d.dest_addr_ton, Ton::ALPHANUMERIC);
    assert_eq!(d.destination_addr, "XXX YYYY");
    assert_eq!(d.esm_class, EsmClass::DELIVERY_RECEIPT);
    assert_eq!(d.short_message.len(), 0);
    let tags: Vec<u16> = d.tlvs.iter().map(Tlv::tag).collect();
    assert_eq!(tags, [0x000E, 0x0006, 0x001E, 0x0427, 0x0424, 0x0426]);
    assert_eq!(d.tlvs.receipted_message_id().unwrap(), "1d305b4c");
    assert_eq!(d.tlvs.message_state(), Some(MessageState::Delivered));
    assert_eq!(d.tlvs[5], Tlv::MoreMessagesToSend(1));
    let payload = d.message_payload().expect("payload");
    assert_eq!(payload.len(), 114);
    assert!(payload.starts_with(b"id:0489708364 sub:001"));
    // The UCS-2 bytes of the text are carried verbatim.
    assert!(payload
        .ends_with(&[0x04, 0x1F, 0x04, 0x40, 0x04, 0x38, 0x04, 0x32, 0x04, 0x35, 0x04, 0x42]));
    assert_eq!(d.message(), &payload[..]);
}

#[test]
fn v42_vendor_tlvs_are_kept() {
    let p = round_trip(V42);
    header(&p, CommandId::DELIVER_SM, 0, 0x2F70_C69A);
    let PduBody::DeliverSm(d) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(d.source_addr, "22549909028");
    assert_eq!(d.esm_class, EsmClass::DELIVERY_RECEIPT);
    assert_eq!(d.short_message.len(), 105);
    assert_eq!(
        d.tlvs.as_slice(),
        &[
            Tlv::Other {
                tag: 0x1403,
                value: Bytes::from_static(b"(null)\0")
            },
            Tlv::Other {
                tag: 0x1402,
                value: Bytes::from_static(b"612\0")
            },
        ]
    );
}

#[test]
fn c1_c2_constructed_submits() {
    let udh = [0x05, 0x00, 0x03, 0x42, 0x02];
    for (h, seq, part, len) in [(C1_1, 1, 1u8, 159), (C1_2, 2, 2, 23)] {
        let p = round_trip(h);
        header(&p, CommandId::SUBMIT_SM, 0, seq);
        let PduBody::SubmitSm(s) = &p.body else {
            panic!("{p:?}")
        };
        assert_eq!(
            (s.source_addr_ton, s.source_addr_npi),
            (Ton::ALPHANUMERIC, Npi::UNKNOWN)
        );
        assert_eq!(s.source_addr, "Acme");
        assert_eq!(
            (s.dest_addr_ton, s.dest_addr_npi),
            (Ton::INTERNATIONAL, Npi::ISDN)
        );
        assert_eq!(s.destination_addr, "447700900123");
        assert!(s.esm_class.udhi());
        assert_eq!(s.registered_delivery, RegisteredDelivery::RECEIPT);
        assert_eq!(s.short_message.len(), len);
        assert_eq!(&s.short_message.as_bytes()[..5], &udh);
        assert_eq!(s.short_message.as_bytes()[5], part);
    }
    let p = round_trip(C2);
    header(&p, CommandId::SUBMIT_SM, 0, 7);
    let PduBody::SubmitSm(s) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(s.data_coding, DataCoding::UCS2);
    assert!(!s.esm_class.udhi());
    assert_eq!(s.short_message.as_bytes(), &hex("004800690020D83DDE00")[..]);
}

#[test]
fn c1_is_what_the_builder_produces() {
    // Build part 2 of C1 from typed values and compare with the golden bytes.
    let mut text = vec![0x05, 0x00, 0x03, 0x42, 0x02, 0x02];
    text.extend_from_slice(b"34567890123456789");
    let mut sm = smpp::pdu::SubmitSm::new(
        "Acme".parse().unwrap(),
        "447700900123".parse().unwrap(),
        smpp::types::ShortMessage::new(&text).unwrap(),
    );
    sm.source_addr_ton = Ton::ALPHANUMERIC;
    sm.dest_addr_ton = Ton::INTERNATIONAL;
    sm.dest_addr_npi = Npi::ISDN;
    sm.esm_class = EsmClass::UDHI;
    sm.registered_delivery = RegisteredDelivery::RECEIPT;
    let pdu = Pdu::new(2, PduBody::SubmitSm(Box::new(sm)));
    assert_eq!(pdu.to_vec(), hex(C1_2));
}

// ---- Negative vectors (section D) ----

#[test]
fn n1_n3_incomplete_frames_wait() {
    for h in ["000000", "00000010", "0000001000000015000000000a342e"] {
        assert_eq!(check(&hex(h), DEFAULT_MAX_PDU_SIZE), Ok(None), "{h}");
    }
}

#[test]
fn n4_n5_unknown_command_ids_survive() {
    let wire = hex("0000001000000110000000000a342ee7");
    assert_eq!(check(&wire, DEFAULT_MAX_PDU_SIZE), Ok(Some(16)));
    let p = Pdu::decode(&wire).unwrap();
    assert_eq!(p.sequence_number, 0x0A34_2EE7);
    assert_eq!(
        p.body,
        PduBody::Other {
            command_id: CommandId(0x110),
            body: Bytes::new()
        }
    );
    // A request: the session answers generic_nack ESME_RINVCMDID with the same sequence.
    assert!(!p.command_id().is_response());
    assert_eq!(p.command_id().response_id(), None);
    assert_eq!(p.to_vec(), wire);

    let wire = hex("0000001080000110000000000a342ee7");
    let p = Pdu::decode(&wire).unwrap();
    assert!(
        p.command_id().is_response(),
        "a response: log and drop, never nack"
    );
}

#[test]
fn n6_junk_pdu_is_skipped_whole_then_next_frame_decodes() {
    let stream = hex(concat!(
        "0000001100000110000000000a342ee70F",
        "0000001000000015000000000a342ee7"
    ));
    let first = check(&stream, DEFAULT_MAX_PDU_SIZE).unwrap().unwrap();
    assert_eq!(first, 17);
    let p = Pdu::decode(&stream[..first]).unwrap();
    assert_eq!(
        p.body,
        PduBody::Other {
            command_id: CommandId(0x110),
            body: Bytes::from_static(&[0x0F])
        }
    );
    let rest = &stream[first..];
    let second = check(rest, DEFAULT_MAX_PDU_SIZE).unwrap().unwrap();
    let p = Pdu::decode(&rest[..second]).unwrap();
    assert_eq!(p.body, PduBody::EnquireLink);
    assert_eq!(p.sequence_number, 171_192_039);
}

#[test]
fn n7_top_bit_length_is_unrecoverable() {
    let e = check(
        &hex("F000001100000110000000000a342ee7"),
        DEFAULT_MAX_PDU_SIZE,
    )
    .unwrap_err();
    assert_eq!(
        e,
        FrameError::TooLong {
            length: 0xF000_0011,
            max: DEFAULT_MAX_PDU_SIZE
        }
    );
    assert_eq!(e.status(), CommandStatus::ESME_RINVCMDLEN);
}

#[test]
fn n8_message_id_without_nul() {
    let wire = hex("0000001180000004000000000a342ee139");
    assert_eq!(check(&wire, DEFAULT_MAX_PDU_SIZE), Ok(Some(17)));
    let e = Pdu::decode(&wire).unwrap_err();
    assert_eq!(e.command_id, CommandId::SUBMIT_SM_RESP);
    assert_eq!(e.sequence_number, 0x0A34_2EE1);
    assert_eq!(e.field, "message_id");
    assert_eq!(e.kind, DecodeErrorKind::CStringUnterminated);
    assert_eq!(e.status(), CommandStatus::ESME_RINVMSGID);
}

#[test]
fn n9_short_message_overrun() {
    let wire = hex(concat!(
        "00000039000000050000000000000001000101393939393139393134353933",
        "000000363436340000000000000000080010c1e1e9edf3faf1fc"
    ));
    assert_eq!(check(&wire, DEFAULT_MAX_PDU_SIZE), Ok(Some(wire.len())));
    let e = Pdu::decode(&wire).unwrap_err();
    assert_eq!(e.command_id, CommandId::DELIVER_SM);
    assert_eq!(e.sequence_number, 1);
    assert_eq!(e.field, "short_message");
    assert_eq!(
        e.kind,
        DecodeErrorKind::ShortMessageOverrun {
            sm_length: 16,
            remaining: 8
        }
    );
    assert_eq!(e.status(), CommandStatus::ESME_RINVMSGLEN);
}

#[test]
fn n10_bare_interface_version_byte_is_a_stray_octet() {
    let wire = hex("0000001B800000020000000000000001534D505033544553540050");
    assert_eq!(check(&wire, DEFAULT_MAX_PDU_SIZE), Ok(Some(27)));
    let e = Pdu::decode(&wire).unwrap_err();
    assert_eq!(e.command_id, CommandId::BIND_TRANSMITTER_RESP);
    assert_eq!(e.kind, DecodeErrorKind::TlvStrayOctets { count: 1 });
    assert_eq!(e.status(), CommandStatus::ESME_RINVOPTPARSTREAM);
}

#[test]
fn frame_length_must_match_command_length() {
    let mut wire = hex(V01);
    wire.push(0);
    let e = Pdu::decode(&wire).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::LengthMismatch {
            command_length: 16,
            frame_len: 17
        }
    );
    assert_eq!(e.status(), CommandStatus::ESME_RINVCMDLEN);
    let e = Pdu::decode(&wire[..10]).unwrap_err();
    assert!(matches!(
        e.kind,
        DecodeErrorKind::LengthMismatch { frame_len: 10, .. }
    ));
}

const ALL: &[&str] = &[
    V01, V02, V03, V04, V05, V06, V07, V08, V09, V10, V11, V12, V13, V14, V15, V16, V17, V18, V19,
    V20, V21, V22, V23, V24, V25, V26, V27, V28, V29, V30, V31, V32, V33, V34, V35, V36, V37, V38,
    V39, V40, V41, V42, C1_1, C1_2, C2,
];

/// Every single-octet mutation of every vector (three replacement values per position)
/// decodes to a value or an error, never a panic; whatever decodes re-encodes to a frame that
/// decodes to the same value.
#[test]
fn mutated_vectors_never_panic_and_stay_stable() {
    let mut decoded = 0;
    let mut rejected = 0;
    for h in ALL {
        let wire = hex(h);
        for i in 0..wire.len() {
            for v in [0x00, 0xFF, wire[i] ^ 0x01] {
                let mut m = wire.clone();
                m[i] = v;
                match Pdu::decode(&m) {
                    Ok(p) => {
                        decoded += 1;
                        let again = Pdu::decode(&p.to_vec()).expect("re-encoded frame decodes");
                        assert_eq!(again, p);
                    }
                    Err(e) => {
                        rejected += 1;
                        assert_ne!(e.status(), CommandStatus::ESME_ROK);
                    }
                }
            }
        }
    }
    // Both outcomes must actually occur, or the test proves nothing.
    assert!(
        decoded > 1000 && rejected > 100,
        "{decoded} decoded, {rejected} rejected"
    );
}

/// Every truncation of every vector (with command_length fixed up) is handled.
#[test]
fn truncated_vectors_never_panic() {
    for h in ALL {
        let wire = hex(h);
        for cut in 16..wire.len() {
            let mut m = wire[..cut].to_vec();
            m[..4].copy_from_slice(&(cut as u32).to_be_bytes());
            if let Ok(p) = Pdu::decode(&m) {
                assert_eq!(Pdu::decode(&p.to_vec()).expect("stable"), p);
            }
        }
    }
}

#[test]
fn kannel_style_long_password_decodes_and_seventeen_octets_do_not() {
    // bind_transmitter with a 16-character password (Kannel's C(17)).
    let bind = smpp::pdu::Bind::new(
        "esme".parse().expect("system_id"),
        "0123456789abcdef".parse().expect("16 characters fit C(17)"),
    );
    let frame = Pdu::new(1, PduBody::BindTransmitter(bind.clone())).to_vec();
    let decoded = Pdu::decode(&frame).expect("16-character password decodes");
    assert_eq!(decoded.body, PduBody::BindTransmitter(bind));
    assert!("0123456789abcdefg"
        .parse::<smpp::types::Password>()
        .is_err());

    // Same frame with a 17th password character and no NUL within C(17): RINVPASWD.
    let mut long = frame.clone();
    let at = 16 + 5 + 16; // header, "esme\0", 16 password characters
    long.insert(at, b'g');
    let len = long.len() as u32;
    long[..4].copy_from_slice(&len.to_be_bytes());
    let err = Pdu::decode(&long).expect_err("17 characters overflow C(17)");
    assert_eq!(err.field, "password");
    assert_eq!(err.status(), CommandStatus::ESME_RINVPASWD);
}
