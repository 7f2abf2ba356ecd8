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

/// V01 enquire_link
const V01: &str = "0000001000000015000000000A342EE7";
/// V02 enquire_link_resp
const V02: &str = "0000001080000015000000000A342EED";
/// V03 unbind
const V03: &str = "00000010000000060000000000000001";
/// V04 unbind_resp
const V04: &str = "00000010800000060000000000000001";
/// V05 generic_nack ESME_RINVMSGLEN
const V05: &str = "00000010800000000000000100082A77";
/// V06 bind_transmitter (cloudhopper)
const V06: &str = concat!(
    "0000002500000002000000000003995F74776974746572007477697474657200",
    "0034000000",
);
/// V07 bind_receiver (cloudhopper)
const V07: &str = concat!(
    "0000002500000001000000000003996174776974746572007477697474657200",
    "0034000000",
);
/// V08 bind_transceiver ton=1 npi=2 (cloudhopper)
const V08: &str = concat!(
    "00000023000000090000000000039951414C4C5F545700414C4C5F5457000034",
    "010200",
);
/// V09 bind_transmitter v5.0 spec example (smpp5 / Rusmpp doc)
const V09: &str = concat!(
    "0000002F000000020000000000000001534D5050335445535400736563726574",
    "3038005355424D4954310050010100",
);
/// V10 outbind (smpp5)
const V10: &str = concat!(
    "000000230000000B0000000000000001534D5050335445535400736563726574",
    "303800",
);
/// V11 bind_transceiver_resp
const V11: &str = "0000001F800000090000000000039951536D73632053696D756C61746F7200";
/// V12 bind_transceiver_resp status=0x0E (RINVPASWD) with system_id
const V12: &str = "00000015800000090000000E00004DB3534D534300";
/// V13 bind_transceiver_resp + sc_interface_version TLV
const V13: &str = "0000001D800000090000000000039943536D7363204757000210000134";
/// V14 bind_transmitter_resp + sc_interface_version TLV
const V14: &str = "0000001D80000002000000000003995F54574954544552000210000134";
/// V15 bind_receiver_resp + sc_interface_version TLV
const V15: &str = "0000001D80000001000000000003996274776974746572000210000134";
/// V16 submit_sm (registered_delivery=1)
const V16: &str = concat!(
    "00000039000000040000000000004FE800010134303430340001013434393531",
    "33363139323000000000000001000000084024232125262F3A",
);
/// V17 submit_sm 255-octet short_message
const V17: &str = concat!(
    "00000130000000040000000000004FE800010134303430340001013434393531",
    "33363139323000000000000001000000FF4C6F72656D20697073756D20646F6C",
    "6F722073697420616D65742C20636F6E73656374657475722061646970697363",
    "696E6720656C69742E20566573746962756C756D20696E206F726369206D6167",
    "6E612E20457469616D20617563746F7220756C747269636573206C6163757320",
    "76656C2073757363697069742E204D616563656E617320656765742066617563",
    "696275732070757275732E20457469616D20616C6971756574206D6F6C6C6973",
    "206665726D656E74756D2E2050726F696E2076656C2061756775652061726375",
    "2E205072616573656E742076656E656E61746973207472697374697175652061",
    "6E74652074757270697320647569732E",
);
/// V18 submit_sm_resp
const V18: &str = "0000001C80000004000000000A342EE1393432353834333135393400";
/// V19 submit_sm_resp, empty message_id
const V19: &str = "0000001180000004000000000A342EE100";
/// V20 submit_sm_resp, NO body at all (tolerate)
const V20: &str = "0000001080000004000000000A342EE1";
/// V21 submit_sm_resp error 0x30, no body
const V21: &str = "0000001080000004000000300A342EE1";
/// V22 deliver_sm (MO, with source/dest network type TLVs)
const V22: &str = concat!(
    "0000004000000005000000000000000300020138373635343332310004093430",
    "34303400000000000000000000084024232125262F3A000E0001010006000101",
);
/// V23 deliver_sm delivery receipt (short_message text + receipted_message_id + message_state)
const V23: &str = concat!(
    "000000BA00000005000000000000000200010134343935313336313932300001",
    "013430343034000400000000000000006E69643A303035393131333937382073",
    "75623A30303120646C7672643A303031207375626D697420646174653A313030",
    "3231303137333020646F6E6520646174653A3130303231303137333120737461",
    "743A44454C49565244206572723A30303020746578743A4024232125262F3A00",
    "0E0001010006000101001E000833383630316661000427000102",
);
/// V24 deliver_sm DLR stat:ACCEPTD err:107, no TLVs, alphanumeric dest (TON 5)
const V24: &str = concat!(
    "000000A2000000050000000000116AD500010134343935313336313932303537",
    "000501475442616E6B000400000000010000006E69643A393432353134333039",
    "3233207375623A30303120646C7672643A303031207375626D69742064617465",
    "3A3039313130343031323420646F6E6520646174653A30393131303430313234",
    "20737461743A41434345505444206572723A31303720746578743A2032364631",
    "3032",
);
/// V25 deliver_sm DLR data_coding=3, 'Text:' capitalised, TLVs
const V25: &str = concat!(
    "000000EB00000005000000000000000100010134343935313336313932300000",
    "013430343034000400000000000003009069643A313236653835613665646561",
    "6331613032303230303939333132343739353634207375623A30303120646C76",
    "72643A303031207375626D697420646174653A3130303231393136333020646F",
    "6E6520646174653A3130303231393136333020737461743A44454C4956524420",
    "6572723A30303020546578743A48656C6C6F2020202020202020202020202020",
    "200427000102001E002131323665383561366564656163316130323032303039",
    "3933313234373935363400",
);
/// V26 deliver_sm with message_payload TLV (sm_length 0)
const V26: &str = concat!(
    "000000640000000500000000000547EB00020134343935313336313932000409",
    "34303430340000000000000000000000000E000101000600010104240026404D",
    "616964656E6D616E363634207761732069742073617070793F2026526F6D616E",
    "7469633F",
);
/// V27 deliver_sm message_payload length 0
const V27: &str = concat!(
    "0000003E000000050000000000657E4E00020134343935313336313932000409",
    "34303430340000000000000000000000000E000101000600010104240000",
);
/// V28 deliver_sm seq 0xA2859F22 (>0x7FFFFFFF), service_type '1001', dcs 8, empty sm
const V28: &str = concat!(
    "000000400000000500000000A2859F2231303031000101343439353133363139",
    "3230000001343034303430343034303430343034300000000000000000080000",
);
/// V29 deliver_sm_resp echoing seq 0x806A179B
const V29: &str = "000000118000000500000000806A179B00";
/// V30 deliver_sm_resp carrying a message_id (non-standard, tolerate)
const V30: &str = "0000001C800000050000000000116AC7393432353834333135393400";
/// V31 data_sm with message_payload 'Test'
const V31: &str = concat!(
    "0000003000000103000000000000000000010135353532373130303030000001",
    "39363935000001000424000454657374",
);
/// V32 data_sm_resp
const V32: &str = "0000001C800001030000000000116AC7393432353834333135393400";
/// V33 query_sm
const V33: &str = "0000001E000000030000000000004FE83132333435000101343034303400";
/// V34 query_sm_resp (state 6 ACCEPTED)
const V34: &str = "00000019800000030000000000004FE8313233343500000600";
/// V35 cancel_sm
const V35: &str = concat!(
    "0000002D000000080000000000004FE800313233343500010134303430340001",
    "01343439353133363139323000",
);
/// V36 cancel_sm_resp
const V36: &str = "00000010800000080000000000004FE8";
/// V37 cancel_sm_resp ESME_RCANCELFAIL
const V37: &str = "00000010800000080000001100004FE8";
/// V38 replace_sm (absolute + relative time strings)
const V38: &str = concat!(
    "00000050000000070000000000004FE86D73672D313233343500010135353532",
    "373130303030003135303230333034303530363730382B003031303230333034",
    "30353036303030520001020474657874",
);
/// V39 replace_sm_resp status 2
const V39: &str = "00000010800000070000000200004FE8";
/// V40 alert_notification
const V40: &str = concat!(
    "00000025000001020000000200004FE801013535353237313030303000010134",
    "3034303400",
);
/// V41 deliver_sm DLR in message_payload + UCS2 text (python-smpplib)
const V41: &str = concat!(
    "000000CB00000005000000000000000100010133313630303030303030300005",
    "0058585820595959590004000000000000000000000E0001010006000101001E",
    "000931643330356234630004270001020424007269643A303438393730383336",
    "34207375623A30303120646C7672643A303031207375626D697420646174653A",
    "3138313031353139303720646F6E6520646174653A3138313031353139303720",
    "737461743A44454C49565244206572723A30303020746578743A041F04400438",
    "0432043504420426000101",
);
/// V42 deliver_sm DLR with vendor TLVs 0x1403/0x1402 (python-smpplib)
const V42: &str = concat!(
    "000000A800000005000000002F70C69A00000032323534393930393032380001",
    "00000400000000000000006969643A373935393230303236207375623A303031",
    "20646C7672643A303031207375626D697420646174653A323030333139313331",
    "39313320646F6E6520646174653A32303033313931333139313320737461743A",
    "44454C49565244206572723A30303020746578743A14030007286E756C6C2900",
    "1402000436313200",
);
/// C1 part 1/2 — submit_sm, GSM-7 unpacked, UDH concat ref 0x42, alphanumeric sender
const C1_1: &str = concat!(
    "000000D000000004000000000000000100050041636D65000101343437373030",
    "393030313233004000000000010000009F050003420201303132333435363738",
    "3930313233343536373839303132333435363738393031323334353637383930",
    "3132333435363738393031323334353637383930313233343536373839303132",
    "3334353637383930313233343536373839303132333435363738393031323334",
    "3536373839303132333435363738393031323334353637383930313233343536",
    "37383930313233343536373839303132",
);
/// C1 part 2/2 — submit_sm, GSM-7 unpacked, UDH concat ref 0x42, alphanumeric sender
const C1_2: &str = concat!(
    "0000004800000004000000000000000200050041636D65000101343437373030",
    "3930303132330040000000000100000017050003420202333435363738393031",
    "3233343536373839",
);
/// C2 — submit_sm, data_coding 0x08, text "Hi 😀" as UTF-16BE (surrogate pair D83D DE00)
const C2: &str = concat!(
    "0000003B00000004000000000000000700050041636D65000101343437373030",
    "393030313233000000000000010008000A004800690020D83DDE00",
);

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
