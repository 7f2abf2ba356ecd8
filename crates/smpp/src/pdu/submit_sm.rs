//! submit_sm (ESME→MC) and submit_sm_resp (smpp-reference §5.5, §5.6).

use crate::pdu::{message_id_resp, short_message_pdu};

short_message_pdu! {
    /// submit_sm: one short message from the ESME to one destination.
    ///
    /// Build with [`SubmitSm::new`] or `SubmitSm { .., ..Default::default() }`; put content
    /// longer than 255 octets in a `message_payload` TLV (with an empty `short_message`).
    SubmitSm
}

message_id_resp! {
    /// submit_sm_resp: the MC's `message_id` for the submission. On decode a missing body
    /// (16-octet PDU, as sent after errors) reads as an empty `message_id`.
    SubmitSmResp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::DecodeErrorKind;
    use crate::pdu::{Pdu, PduBody};
    use crate::tlv::Tlv;
    use crate::types::{CommandStatus, EsmClass, ShortMessage};

    fn sample() -> SubmitSm {
        let mut sm = SubmitSm::new(
            "Acme".parse().unwrap(),
            "447700900123".parse().unwrap(),
            ShortMessage::new(b"hello").unwrap(),
        );
        sm.esm_class = EsmClass::DEFAULT.with_udhi(false);
        sm
    }

    #[test]
    fn round_trips_with_tlvs() {
        let mut sm = sample();
        sm.tlvs.push(Tlv::UserMessageReference(42)).unwrap();
        sm.tlvs
            .push(Tlv::Other {
                tag: 0x1500,
                value: bytes::Bytes::from_static(b"v"),
            })
            .unwrap();
        let pdu = Pdu::new(9, PduBody::SubmitSm(Box::new(sm)));
        let wire = pdu.to_vec();
        assert_eq!(wire.len(), pdu.encoded_len());
        assert_eq!(Pdu::decode(&wire).unwrap(), pdu);
        assert_eq!(Pdu::decode_bytes(wire.into()).unwrap(), pdu);
    }

    #[test]
    fn message_prefers_short_message_then_payload() {
        let mut sm = sample();
        assert_eq!(sm.message(), b"hello");
        sm.short_message = ShortMessage::empty();
        sm.tlvs
            .push(Tlv::MessagePayload(bytes::Bytes::from_static(b"long")))
            .unwrap();
        assert_eq!(sm.message(), b"long");
        assert_eq!(sm.message_payload().map(|b| &b[..]), Some(&b"long"[..]));
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let mut sm = sample();
        sm.tlvs.push(Tlv::SarMsgRefNum(1)).unwrap();
        let wire = Pdu::new(1, PduBody::SubmitSm(Box::new(sm))).to_vec();
        // Cutting the whole 6-octet TLV leaves a valid PDU without TLVs.
        let without_tlvs = wire.len() - 6;
        for cut in (16..wire.len()).filter(|&c| c != without_tlvs) {
            let mut frame = wire[..cut].to_vec();
            frame[..4].copy_from_slice(&(cut as u32).to_be_bytes());
            let e = Pdu::decode(&frame).unwrap_err();
            assert_eq!(e.sequence_number, 1);
            assert_eq!(e.command_id, crate::types::CommandId::SUBMIT_SM);
            assert_ne!(e.status(), CommandStatus::ESME_ROK, "cut at {cut}: {e}");
        }
        let mut frame = wire[..without_tlvs].to_vec();
        frame[..4].copy_from_slice(&(without_tlvs as u32).to_be_bytes());
        let PduBody::SubmitSm(sm) = Pdu::decode(&frame).unwrap().body else {
            panic!("not a submit_sm")
        };
        assert!(sm.tlvs.is_empty());
    }

    #[test]
    fn stray_octet_after_body_is_invalid_tlv_stream() {
        let mut wire = Pdu::new(1, PduBody::SubmitSm(Box::new(sample()))).to_vec();
        wire.push(0x7F);
        let len = wire.len() as u32;
        wire[..4].copy_from_slice(&len.to_be_bytes());
        let e = Pdu::decode(&wire).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::TlvStrayOctets { count: 1 });
        assert_eq!(e.status(), CommandStatus::ESME_RINVOPTPARSTREAM);
    }

    #[test]
    fn sm_length_overrun_is_invalid_message_length() {
        let mut wire = Pdu::new(1, PduBody::SubmitSm(Box::new(sample()))).to_vec();
        // sm_length is the octet before the 5-octet text.
        let at = wire.len() - 6;
        wire[at] = 6;
        let e = Pdu::decode(&wire).unwrap_err();
        assert_eq!(e.field, "short_message");
        assert_eq!(
            e.kind,
            DecodeErrorKind::ShortMessageOverrun {
                sm_length: 6,
                remaining: 5
            }
        );
        assert_eq!(e.status(), CommandStatus::ESME_RINVMSGLEN);
    }
}
