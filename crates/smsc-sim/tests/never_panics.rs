//! Any submission, however malformed, gives a status or an id, and whatever was accepted is
//! delivered, receipted and shown without a panic.

use proptest::prelude::*;
use smpp::pdu::SubmitSm;
use smpp::tlv::Tlv;
use smpp::types::{
    Address, DataCoding, EsmClass, Npi, PriorityFlag, RegisteredDelivery, ShortMessage, TimeString,
    Ton,
};
use smpp::BindKind;
use smsc_sim::{Engine, SimConfig};

const T0: u64 = 1_795_687_200_000;

fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        2 => "[0-9]{7,15}",
        2 => "2547000[0-9]{5}",
        2 => "[A-Za-z]{1,11}",
        1 => "[0-9]{0,20}",
        1 => "[ -~]{0,20}",
        1 => "0[0-9]{9}",
    ]
    .prop_map(|s| Address::new(s.as_bytes()).unwrap_or_default())
}

fn time() -> impl Strategy<Value = TimeString> {
    prop_oneof![
        12 => Just(String::new()),
        1 => "[0-9]{12}[0-9]{3}[+R-]",
        2 => "00000[01][01][0-9][0-5][0-9][0-5][0-9]000R",
        1 => "[ -~]{0,16}",
    ]
    .prop_map(|s| TimeString::new(s.as_bytes()).unwrap_or_default())
}

/// Usually one of `usual` (valid values, so that many submissions get through), sometimes any.
fn mostly(usual: &'static [u8]) -> impl Strategy<Value = u8> {
    prop_oneof![19 => proptest::sample::select(usual), 1 => any::<u8>()]
}

fn bytes(s: &str) -> Address {
    Address::new(s.as_bytes()).unwrap_or_default()
}

/// (TON, source): usually a coherent pair, sometimes anything.
fn source() -> impl Strategy<Value = (u8, Address)> {
    prop_oneof![
        2 => "[A-Za-z0-9]{1,11}".prop_map(|s| (5, bytes(&s))),
        2 => "[0-9]{7,15}".prop_map(|s| (1, bytes(&s))),
        1 => "[!-~]{1,20}".prop_map(|s| (0, bytes(&s))),
        1 => (0u8..8, address()),
    ]
}

/// (TON, NPI, destination): usually a mobile number, sometimes anything.
fn destination() -> impl Strategy<Value = (u8, u8, Address)> {
    prop_oneof![
        3 => "2547[0-9]{8}".prop_map(|s| (1, 1, bytes(&s))),
        1 => "07[0-9]{8}".prop_map(|s| (2, 1, bytes(&s))),
        1 => (0u8..8, 0u8..3, address()),
    ]
}

/// (data_coding, esm_class, short_message): usually content that fits, sometimes anything.
fn content() -> impl Strategy<Value = (u8, u8, Vec<u8>)> {
    let udh =
        (any::<u8>(), 1u8..4, 1u8..4).prop_map(|(r, total, seq)| vec![5, 0, 3, r, total, seq]);
    prop_oneof![
        3 => "[ -~]{0,160}".prop_map(|s| (0, 0, s.into_bytes())),
        1 => (udh, "[ -~]{0,150}").prop_map(|(mut u, s)| {
            u.extend(s.into_bytes());
            (0, 0x40, u)
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..=140).prop_map(|b| (3, 0, b)),
        1 => proptest::collection::vec(any::<u16>(), 0..=70).prop_map(|u| {
            (8, 0, u.iter().flat_map(|c| c.to_be_bytes()).collect())
        }),
        1 => (any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..=255)),
    ]
}

prop_compose! {
    fn submit_sm()(
        (ton, src) in source(), npi in mostly(&[0, 1]), (dton, dnpi, dst) in destination(),
        (dc, esm, sm) in content(), prio in mostly(&[0, 1]), sched in time(),
        valid in time(), rd in mostly(&[0, 1, 2, 3]), rep in mostly(&[0]), dflt in mostly(&[0]),
        sar in proptest::option::weighted(0.1, (any::<u16>(), 0u8..4, 0u8..4)),
        payload in proptest::option::weighted(0.1, proptest::collection::vec(any::<u8>(), 0..400)),
    ) -> SubmitSm {
        let mut s = SubmitSm::new(src, dst, ShortMessage::new(&sm).unwrap_or_default());
        s.source_addr_ton = Ton(ton);
        s.source_addr_npi = Npi(npi);
        s.dest_addr_ton = Ton(dton);
        s.dest_addr_npi = Npi(dnpi);
        s.esm_class = EsmClass(esm);
        s.priority_flag = PriorityFlag(prio);
        s.schedule_delivery_time = sched;
        s.validity_period = valid;
        s.registered_delivery = RegisteredDelivery(rd);
        s.replace_if_present_flag = rep;
        s.data_coding = DataCoding(dc);
        s.sm_default_msg_id = dflt;
        if let Some((r, total, seq)) = sar {
            s.tlvs.push(Tlv::SarMsgRefNum(r)).unwrap();
            s.tlvs.push(Tlv::SarTotalSegments(total)).unwrap();
            s.tlvs.push(Tlv::SarSegmentSeqnum(seq)).unwrap();
        }
        if let Some(p) = payload {
            s.short_message = ShortMessage::empty();
            s.tlvs.push(Tlv::MessagePayload(p.into())).unwrap();
        }
        s
    }
}

thread_local! {
    /// Submissions accepted by the property on this thread (proptest runs cases on the
    /// calling thread), so the check below counts only its own run.
    static ACCEPTED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn any_submission_is_answered_and_processed(
        batch in proptest::collection::vec((submit_sm(), 0u64..100_000), 1..8),
    ) {
        let mut e = Engine::new(SimConfig::default()).unwrap();
        let b = e.bind("fuzz", "", BindKind::Transceiver).unwrap();
        let mut accepted = 0;
        for (s, dt) in &batch {
            if let Ok(id) = e.submit(T0 + dt, b, s) {
                prop_assert!(!id.is_empty());
                accepted += 1;
            }
        }
        e.advance(T0 + 200 * 24 * 3600 * 1000);
        let stats = e.stats();
        prop_assert_eq!(stats.accepted, accepted);
        prop_assert_eq!(stats.queued, 0);
        prop_assert_eq!(stats.delivered + stats.failed + stats.expired, accepted);
        ACCEPTED.with(|a| a.set(a.get() + accepted));
        for d in e.take_outbound(b.account, usize::MAX) {
            let r = d.receipt().expect("a receipt");
            prop_assert!(r.is_ok(), "{:?}", r);
        }
        for (s, _) in &batch {
            let _ = e.inbox(&s.destination_addr.to_string());
        }
    }
}

#[test]
fn the_generator_gets_submissions_through() {
    // Runs the property above through its own runner and checks that it was not vacuous.
    any_submission_is_answered_and_processed();
    let accepted = ACCEPTED.with(std::cell::Cell::get);
    // Each field is sometimes wrong, so only part of the submissions get through: enough to
    // exercise delivery, receipts and inboxes with varied content.
    assert!(accepted > 1000, "only {accepted} submissions accepted");
}
