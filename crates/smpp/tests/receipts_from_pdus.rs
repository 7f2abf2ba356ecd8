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

#[path = "common/golden.rs"]
mod golden;
use golden::{V22, V23, V24, V41};

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
