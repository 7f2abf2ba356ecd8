//! Round-trip property tests for every PDU type (all 27 operations and `Other`).
//!
//! For arbitrary valid values (strings up to their limits, typed and unknown TLVs,
//! short_message up to 255 octets, message_payload, any sequence number and status):
//! `encode` → `check` frames exactly that many octets → `decode` gives the same value,
//! through both `decode` and the zero-copy `decode_bytes`, and re-encoding the decoded value
//! gives the same bytes.

mod common;

use bytes::Bytes;
use common::strategies::{any_pdu, pdu_of_kind, Domain, KINDS};
use proptest::prelude::*;
use smpp::codec::{self, DEFAULT_MAX_PDU_SIZE};
use smpp::pdu::Pdu;

/// Checks every round-trip property for one PDU; `Err` describes the first that failed.
fn round_trip(pdu: &Pdu) -> Result<(), TestCaseError> {
    let mut wire = Vec::new();
    pdu.encode(&mut wire);
    prop_assert_eq!(wire.len(), pdu.encoded_len(), "encoded_len");
    prop_assert_eq!(&pdu.to_vec(), &wire, "to_vec");
    prop_assert_eq!(
        u32::from_be_bytes([wire[0], wire[1], wire[2], wire[3]]) as usize,
        wire.len(),
        "command_length"
    );
    prop_assert_eq!(
        u32::from_be_bytes([wire[4], wire[5], wire[6], wire[7]]),
        pdu.command_id().0,
        "command_id on the wire"
    );
    prop_assert_eq!(
        codec::check(&wire, DEFAULT_MAX_PDU_SIZE),
        Ok(Some(wire.len())),
        "check frames the whole encoding"
    );

    let decoded = Pdu::decode(&wire);
    prop_assert!(decoded.is_ok(), "decode failed: {:?}", decoded);
    let decoded = decoded.unwrap_or_else(|_| unreachable!());
    prop_assert_eq!(&decoded, pdu, "decode(encode(x)) != x");

    let zero_copy = Pdu::decode_bytes(Bytes::from(wire.clone()));
    prop_assert_eq!(zero_copy.as_ref(), Ok(pdu), "decode_bytes(encode(x)) != x");

    let mut again = Vec::new();
    decoded.encode(&mut again);
    prop_assert_eq!(again, wire, "encode(decode(encode(x))) != encode(x)");
    Ok(())
}

/// One proptest per kind, so a failure names the operation and each kind gets its own
/// full budget of cases.
macro_rules! round_trip_tests {
    ($($name:ident = $kind:literal,)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]
            $(
                #[test]
                fn $name(pdu in pdu_of_kind($kind, Domain::Full)) {
                    prop_assert_eq!(KINDS[$kind], stringify!($name));
                    round_trip(&pdu)?;
                }
            )*
        }
    };
}

round_trip_tests! {
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

#[test]
fn every_kind_has_a_round_trip_test() {
    // The macro above lists 28 tests; this keeps KINDS and the contract's 27 + Other in step.
    assert_eq!(KINDS.len(), 28);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A stream of several PDUs is cut back into the same PDUs by `check` + `decode`.
    #[test]
    fn a_stream_of_pdus_splits_back(pdus in prop::collection::vec(any_pdu(Domain::Full), 1..6)) {
        let mut stream = Vec::new();
        for p in &pdus {
            p.encode(&mut stream);
        }
        let mut rest = &stream[..];
        let mut out = Vec::new();
        while !rest.is_empty() {
            let n = match codec::check(rest, DEFAULT_MAX_PDU_SIZE) {
                Ok(Some(n)) => n,
                other => return Err(TestCaseError::fail(format!("check: {other:?}"))),
            };
            let (frame, tail) = rest.split_at(n);
            let decoded = Pdu::decode(frame);
            prop_assert!(decoded.is_ok(), "decode: {:?}", decoded);
            out.extend(decoded.ok());
            rest = tail;
        }
        prop_assert_eq!(out, pdus);
    }

    /// The largest legal message_payload (65535 octets) still frames and round-trips under
    /// the default maximum PDU size.
    #[test]
    fn maximal_message_payload_round_trips(fill in any::<u8>(), seq in any::<u32>()) {
        use smpp::pdu::{DataSm, PduBody};
        use smpp::tlv::{Tlv, Tlvs};
        let tlvs = Tlvs::new()
            .with(Tlv::MessagePayload(Bytes::from(vec![fill; 65_535])))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let body = DataSm { tlvs, ..DataSm::default() };
        round_trip(&Pdu::new(seq, PduBody::DataSm(Box::new(body))))?;
    }
}
