//! Delivery receipts read straight out of decoded `deliver_sm` PDUs (the vectors of
//! test-vectors.md): text form, TLV form, and the hex/decimal id quirk.

use smpp::pdu::{Pdu, PduBody};
use smpp::receipt::{Origin, PduReceiptError};
use smpp::MessageState;

fn deliver(h: &str) -> Box<smpp::pdu::DeliverSm> {
    let bytes: Vec<u8> = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect();
    match Pdu::decode(&bytes).expect("vector decodes").body {
        PduBody::DeliverSm(d) => d,
        other => panic!("not a deliver_sm: {other:?}"),
    }
}

#[rustfmt::skip]
const V22: &str = concat!(
    "0000004000000005000000000000000300020138373635343332310004093430",
    "34303400000000000000000000084024232125262F3A000E0001010006000101",
);
#[rustfmt::skip]
const V23: &str = concat!(
    "000000BA00000005000000000000000200010134343935313336313932300001",
    "013430343034000400000000000000006E69643A303035393131333937382073",
    "75623A30303120646C7672643A303031207375626D697420646174653A313030",
    "3231303137333020646F6E6520646174653A3130303231303137333120737461",
    "743A44454C49565244206572723A30303020746578743A4024232125262F3A00",
    "0E0001010006000101001E000833383630316661000427000102",
);
#[rustfmt::skip]
const V24: &str = concat!(
    "000000A2000000050000000000116AD500010134343935313336313932303537",
    "000501475442616E6B000400000000010000006E69643A393432353134333039",
    "3233207375623A30303120646C7672643A303031207375626D69742064617465",
    "3A3039313130343031323420646F6E6520646174653A30393131303430313234",
    "20737461743A41434345505444206572723A31303720746578743A2032364631",
    "3032",
);
#[rustfmt::skip]
const V41: &str = concat!(
    "000000CB00000005000000000000000100010133313630303030303030300005",
    "0058585820595959590004000000000000000000000E0001010006000101001E",
    "000931643330356234630004270001020424007269643A303438393730383336",
    "34207375623A30303120646C7672643A303031207375626D697420646174653A",
    "3138313031353139303720646F6E6520646174653A3138313031353139303720",
    "737461743A44454C49565244206572723A30303020746578743A041F04400438",
    "0432043504420426000101",
);

#[test]
fn v23_prefers_the_tlv_and_matches_the_hex_submit_id() {
    let info = deliver(V23)
        .receipt()
        .expect("is a receipt")
        .expect("parses");
    let (id, origin) = info.message_id();
    assert_eq!((id.as_str(), origin), ("38601fa", Origin::Tlv));
    assert_eq!(info.state(), Some((MessageState::Delivered, Origin::Tlv)));
    assert_eq!(info.text().expect("text form").id.as_str(), "0059113978");
    // The gateway stored the submit_sm_resp id in hex; the text says it in decimal.
    assert!(info.match_submitted_id("38601fa").is_some());
    assert!(info.match_submitted_id("38601fb").is_none());
}

#[test]
fn v24_text_only_receipt() {
    let info = deliver(V24)
        .receipt()
        .expect("is a receipt")
        .expect("parses");
    let (id, origin) = info.message_id();
    assert_eq!((id.as_str(), origin), ("94251430923", Origin::Text));
    assert_eq!(info.state(), Some((MessageState::Accepted, Origin::Text)));
    assert_eq!(info.text_error().map(|e| e.value()), Some(107));
}

#[test]
fn v41_receipt_in_message_payload() {
    let d = deliver(V41);
    assert!(d.short_message.is_empty());
    let info = d.receipt().expect("is a receipt").expect("parses");
    assert_eq!(info.message_id().0.as_str(), "1d305b4c");
    assert_eq!(info.text().expect("text form").id.as_str(), "0489708364");
    assert!(info.match_submitted_id("1D305B4C").is_some());
}

#[test]
fn mo_message_is_not_a_receipt() {
    assert!(deliver(V22).receipt().is_none());
}

#[test]
fn receipt_without_id_anywhere_is_an_error() {
    let mut d = deliver(V24);
    d.short_message = smpp::types::ShortMessage::new(b"stat:DELIVRD err:000").expect("short");
    assert!(matches!(d.receipt(), Some(Err(PduReceiptError::Text(_)))));
}
