//! Engine behaviour with explicit times: accounts, validation, store and forward, receipts,
//! handsets, MO, determinism and the reserved test ranges.

use bytes::Bytes;
use smpp::pdu::{
    CancelSm, DataSm, DeliverSm, DestAddress, QuerySm, ReplaceSm, SubmitMulti, SubmitSm,
};
use smpp::receipt::IdSource;
use smpp::tlv::Tlv;
use smpp::types::{
    Address, DataCoding, EsmClass, MessageId, Npi, PriorityFlag, RegisteredDelivery, Ton,
};
use smpp::{BindKind, CommandStatus, MessageState};
use smsc_sim::config::{AccountConfig, BindType, IdFormat};
use smsc_sim::{BindHandle, Engine, MoError, SimConfig};

/// 2026-11-26T10:00:00Z.
const T0: u64 = 1_795_687_200_000;
const SEC: u64 = 1000;

fn open_engine() -> (Engine, BindHandle) {
    let mut e = Engine::new(SimConfig::default()).unwrap();
    let b = e.bind("acme", "any", BindKind::Transceiver).unwrap();
    (e, b)
}

fn sm(dest: &str, text: &[u8]) -> SubmitSm {
    let mut s = SubmitSm::try_new("Acme", dest, text).unwrap();
    s.source_addr_ton = Ton::ALPHANUMERIC;
    s.dest_addr_ton = Ton::INTERNATIONAL;
    s.dest_addr_npi = Npi::ISDN;
    s
}

fn with_receipt(mut s: SubmitSm, rd: u8) -> SubmitSm {
    s.registered_delivery = RegisteredDelivery(rd);
    s
}

/// Reserved ranges of the default config (docs/simulator.md).
const INSTANT: &str = "254700000100";
const FAIL: &str = "254700000200";
const NEVER: &str = "254700000300";
const DELAY: &str = "254700000400";
const ABSENT: &str = "254700000500";
const THROTTLE: &str = "254700000600";
const BAD_DEST: &str = "254700000700";
const UNKNOWN: &str = "254700000800";
const REJECT: &str = "254700000900";

fn receipt_of(d: &DeliverSm) -> smpp::ReceiptInfo {
    assert!(d.is_delivery_receipt(), "not a receipt: {d:?}");
    d.receipt().expect("receipt").expect("parses")
}

#[test]
fn open_mode_binds_anyone_and_configured_accounts_check_everything() {
    let mut e = Engine::new(SimConfig::default()).unwrap();
    assert!(e.bind("whoever", "x", BindKind::Transmitter).is_ok());
    assert_eq!(
        e.bind("", "x", BindKind::Transmitter),
        Err(CommandStatus::ESME_RINVSYSID)
    );

    let mut config = SimConfig::default();
    config.accounts.push(AccountConfig {
        system_id: "acme".into(),
        password: "secret".into(),
        bind_types: vec![BindType::Transmitter, BindType::Receiver],
        max_binds: 2,
        max_tps: 0,
        short_codes: vec![],
    });
    let mut e = Engine::new(config).unwrap();
    assert_eq!(
        e.bind("nobody", "secret", BindKind::Transmitter),
        Err(CommandStatus::ESME_RINVSYSID)
    );
    assert_eq!(
        e.bind("acme", "wrong", BindKind::Transmitter),
        Err(CommandStatus::ESME_RINVPASWD)
    );
    assert_eq!(
        e.bind("acme", "secret", BindKind::Transceiver),
        Err(CommandStatus::ESME_RBINDFAIL)
    );
    let b1 = e.bind("acme", "secret", BindKind::Transmitter).unwrap();
    let _b2 = e.bind("acme", "secret", BindKind::Receiver).unwrap();
    assert_eq!(
        e.bind("acme", "secret", BindKind::Transmitter),
        Err(CommandStatus::ESME_RBINDFAIL),
        "max_binds 2"
    );
    e.unbind(b1);
    assert!(e.bind("acme", "secret", BindKind::Transmitter).is_ok());
    let s = e.stats();
    assert_eq!((s.binds, s.bind_failures, s.bound), (3, 4, 2));
}

#[test]
fn rate_limit_answers_throttled_and_refills() {
    let mut config = SimConfig::default();
    config.accounts.push(AccountConfig {
        system_id: "acme".into(),
        password: "pw".into(),
        bind_types: vec![BindType::Transceiver],
        max_binds: 1,
        max_tps: 5,
        short_codes: vec![],
    });
    let mut e = Engine::new(config).unwrap();
    let b = e.bind("acme", "pw", BindKind::Transceiver).unwrap();
    for _ in 0..5 {
        e.submit(T0, b, &sm(INSTANT, b"hi")).unwrap();
    }
    assert_eq!(
        e.submit(T0 + 199, b, &sm(INSTANT, b"hi")),
        Err(CommandStatus::ESME_RTHROTTLED)
    );
    // 200 ms at 5/s is one more submission.
    assert!(e.submit(T0 + 200, b, &sm(INSTANT, b"hi")).is_ok());
    assert_eq!(
        e.submit(T0 + 200, b, &sm(INSTANT, b"hi")),
        Err(CommandStatus::ESME_RTHROTTLED)
    );
    let s = e.stats();
    assert_eq!((s.submit_sm, s.accepted, s.throttled), (8, 6, 2));
}

#[test]
fn receivers_cannot_submit() {
    let mut e = Engine::new(SimConfig::default()).unwrap();
    let b = e.bind("acme", "", BindKind::Receiver).unwrap();
    assert_eq!(
        e.submit(T0, b, &sm(INSTANT, b"hi")),
        Err(CommandStatus::ESME_RINVBNDSTS)
    );
}

#[test]
fn validation_gives_the_status_of_each_rule() {
    type Change = fn(&mut SubmitSm);
    let cases: Vec<(&str, Change, CommandStatus)> = vec![
        (
            "source TON 7",
            |s| s.source_addr_ton = Ton(7),
            CommandStatus::ESME_RINVSRCTON,
        ),
        (
            "source NPI 2",
            |s| s.source_addr_npi = Npi(2),
            CommandStatus::ESME_RINVSRCNPI,
        ),
        (
            "alphanumeric sender of 12",
            |s| s.source_addr = "ABCDEFGHIJKL".parse().unwrap(),
            CommandStatus::ESME_RINVSRCADR,
        ),
        (
            "empty sender",
            |s| s.source_addr = Address::empty(),
            CommandStatus::ESME_RINVSRCADR,
        ),
        (
            "international sender with letters",
            |s| {
                s.source_addr_ton = Ton::INTERNATIONAL;
                s.source_addr = "2547x".parse().unwrap()
            },
            CommandStatus::ESME_RINVSRCADR,
        ),
        (
            "dest TON alphanumeric",
            |s| s.dest_addr_ton = Ton::ALPHANUMERIC,
            CommandStatus::ESME_RINVDSTTON,
        ),
        (
            "dest NPI 9",
            |s| s.dest_addr_npi = Npi(9),
            CommandStatus::ESME_RINVDSTNPI,
        ),
        (
            "dest with '+'",
            |s| s.destination_addr = "+254712345678".parse().unwrap(),
            CommandStatus::ESME_RINVDSTADR,
        ),
        (
            "dest too short",
            |s| s.destination_addr = "254712".parse().unwrap(),
            CommandStatus::ESME_RINVDSTADR,
        ),
        (
            "dest of 16 digits",
            |s| s.destination_addr = "2547123456789012".parse().unwrap(),
            CommandStatus::ESME_RINVDSTADR,
        ),
        (
            "receipt esm_class",
            |s| s.esm_class = EsmClass::DELIVERY_RECEIPT,
            CommandStatus::ESME_RINVESMCLASS,
        ),
        (
            "UDHI with UDHL past the data",
            |s| {
                s.esm_class = EsmClass::UDHI;
                s.short_message = smpp::types::ShortMessage::new(&[9, 0, 3]).unwrap()
            },
            CommandStatus::ESME_RINVESMCLASS,
        ),
        (
            "priority 4",
            |s| s.priority_flag = PriorityFlag(4),
            CommandStatus::ESME_RINVPRTFLG,
        ),
        (
            "registered_delivery bit 5",
            |s| s.registered_delivery = RegisteredDelivery(0x21),
            CommandStatus::ESME_RINVREGDLVFLG,
        ),
        (
            "replace_if_present 2",
            |s| s.replace_if_present_flag = 2,
            CommandStatus::ESME_RINVREPFLAG,
        ),
        (
            "canned message",
            |s| s.sm_default_msg_id = 1,
            CommandStatus::ESME_RINVDFTMSGID,
        ),
        (
            "reserved data_coding 0x0B",
            |s| s.data_coding = DataCoding(0x0B),
            CommandStatus::ESME_RINVDCS,
        ),
        (
            "GSM-7 octet above 0x7F",
            |s| s.short_message = smpp::types::ShortMessage::new(&[0x41, 0x80]).unwrap(),
            CommandStatus::ESME_RINVDCS,
        ),
        (
            "161 GSM-7 septets",
            |s| s.short_message = smpp::types::ShortMessage::new(&[0x41; 161]).unwrap(),
            CommandStatus::ESME_RINVMSGLEN,
        ),
        (
            "155 septets after a 6-octet UDH",
            |s| {
                s.esm_class = EsmClass::UDHI;
                let mut m = vec![5, 0, 3, 1, 2, 1];
                m.extend([0x41; 155]);
                s.short_message = smpp::types::ShortMessage::new(&m).unwrap()
            },
            CommandStatus::ESME_RINVMSGLEN,
        ),
        (
            "odd UCS-2 length",
            |s| {
                s.data_coding = DataCoding::UCS2;
                s.short_message = smpp::types::ShortMessage::new(&[0, 0x41, 0]).unwrap()
            },
            CommandStatus::ESME_RINVMSGLEN,
        ),
        (
            "141 UCS-2 octets",
            |s| {
                s.data_coding = DataCoding::UCS2;
                s.short_message = smpp::types::ShortMessage::new(&[0; 142]).unwrap()
            },
            CommandStatus::ESME_RINVMSGLEN,
        ),
        (
            "short_message and message_payload",
            |s| {
                s.tlvs
                    .push(Tlv::MessagePayload(Bytes::from_static(b"x")))
                    .unwrap()
            },
            CommandStatus::ESME_ROPTPARNOTALLWD,
        ),
        (
            "SAR without total",
            |s| s.tlvs.push(Tlv::SarMsgRefNum(1)).unwrap(),
            CommandStatus::ESME_RMISSINGOPTPARAM,
        ),
        (
            "SAR seqnum above total",
            |s| {
                s.tlvs.push(Tlv::SarMsgRefNum(1)).unwrap();
                s.tlvs.push(Tlv::SarTotalSegments(2)).unwrap();
                s.tlvs.push(Tlv::SarSegmentSeqnum(3)).unwrap()
            },
            CommandStatus::ESME_RINVOPTPARAMVAL,
        ),
        (
            "bad schedule",
            |s| s.schedule_delivery_time = "261301000000000+".parse().unwrap(),
            CommandStatus::ESME_RINVSCHED,
        ),
        (
            "bad validity",
            |s| s.validity_period = "2611260000000".parse().unwrap(),
            CommandStatus::ESME_RINVEXPIRY,
        ),
        (
            "validity in the past",
            |s| s.validity_period = "250101000000000+".parse().unwrap(),
            CommandStatus::ESME_RINVEXPIRY,
        ),
        (
            "schedule after validity",
            |s| {
                s.schedule_delivery_time = "000001000000000R".parse().unwrap();
                s.validity_period = "000000010000000R".parse().unwrap()
            },
            CommandStatus::ESME_RINVSCHED,
        ),
        (
            "throttle test range",
            |s| s.destination_addr = THROTTLE.parse().unwrap(),
            CommandStatus::ESME_RTHROTTLED,
        ),
        (
            "invalid-destination test range",
            |s| s.destination_addr = BAD_DEST.parse().unwrap(),
            CommandStatus::ESME_RINVDSTADR,
        ),
    ];
    let (mut e, b) = open_engine();
    for (name, change, status) in cases {
        let mut s = sm("254712345678", b"hello");
        change(&mut s);
        assert_eq!(e.submit(T0, b, &s), Err(status), "{name}");
    }
    // The same message untouched is accepted, and a national number is made international.
    assert!(e.submit(T0, b, &sm("254712345678", b"hello")).is_ok());
    let mut national = sm("0700000100", b"national");
    national.dest_addr_ton = Ton::NATIONAL;
    assert!(e.submit(T0, b, &national).is_ok());
    e.advance(T0);
    assert_eq!(e.inbox(INSTANT)[0].text, "national");
    assert_eq!(e.stats().throttled, 1);
}

#[test]
fn data_sm_needs_message_payload() {
    let (mut e, b) = open_engine();
    let mut d = DataSm {
        source_addr: "Acme".parse().unwrap(),
        source_addr_ton: Ton::ALPHANUMERIC,
        destination_addr: INSTANT.parse().unwrap(),
        dest_addr_ton: Ton::INTERNATIONAL,
        dest_addr_npi: Npi::ISDN,
        ..DataSm::default()
    };
    assert_eq!(
        e.submit_data(T0, b, &d),
        Err(CommandStatus::ESME_RMISSINGOPTPARAM)
    );
    let long = "x".repeat(200);
    d.tlvs
        .push(Tlv::MessagePayload(Bytes::from(long.clone().into_bytes())))
        .unwrap();
    e.submit_data(T0, b, &d).unwrap();
    e.advance(T0);
    let inbox = e.inbox(INSTANT);
    assert_eq!((inbox[0].text.as_str(), inbox[0].parts), (long.as_str(), 2));
}

#[test]
fn message_ids_hex_decimal_and_the_receipt_quirk() {
    for (format, quirk, first, resp, text_id) in [
        (IdFormat::Hex, false, 59_113_978, "38601fa", "38601fa"),
        (IdFormat::Decimal, false, 59_113_978, "59113978", "59113978"),
        (IdFormat::Hex, true, 59_113_978, "38601fa", "0059113978"),
    ] {
        let mut config = SimConfig::default();
        config.message_ids.format = format;
        config.message_ids.first = first;
        config.message_ids.decimal_in_receipt_text = quirk;
        let mut e = Engine::new(config).unwrap();
        let b = e.bind("acme", "", BindKind::Transceiver).unwrap();
        let id = e
            .submit(T0, b, &with_receipt(sm(INSTANT, b"hi"), 1))
            .unwrap();
        assert_eq!(id, resp);
        let id2 = e.submit(T0, b, &sm(INSTANT, b"hi")).unwrap();
        assert_ne!(id, id2);
        e.advance(T0);
        let out = e.take_outbound(b.account, 10);
        assert_eq!(out.len(), 1);
        let r = receipt_of(&out[0]);
        assert_eq!(r.text().unwrap().id.as_str(), text_id);
        assert_eq!(r.tlv_message_id().unwrap().as_str(), resp);
        // The gateway's matcher finds the submitted id from either form.
        assert!(r.match_submitted_id(resp).is_some());
        assert!(smpp::receipt::ids_match(
            text_id,
            IdSource::ReceiptText,
            resp,
            IdSource::Protocol
        ));
    }
}

#[test]
fn delay_range_schedule_and_validity_with_explicit_times() {
    let (mut e, b) = open_engine();
    // Fixed delay of 30 s.
    e.submit(T0, b, &with_receipt(sm(DELAY, b"later"), 1))
        .unwrap();
    assert_eq!(e.next_deadline(), Some(T0 + 30 * SEC));
    assert_eq!(e.advance(T0 + 30 * SEC - 1), 0);
    assert!(e.inbox(DELAY).is_empty());
    assert_eq!(e.advance(T0 + 30 * SEC), 1);
    assert_eq!(e.inbox(DELAY)[0].received_at_ms, T0 + 30 * SEC);

    // Scheduled one minute ahead (relative time), to an instant number.
    let mut s = with_receipt(sm(INSTANT, b"scheduled"), 1);
    s.schedule_delivery_time = "000000000100000R".parse().unwrap();
    e.submit(T0, b, &s).unwrap();
    e.advance(T0 + 59 * SEC);
    assert!(e.inbox(INSTANT).is_empty());
    e.advance(T0 + 60 * SEC);
    assert_eq!(e.inbox(INSTANT)[0].text, "scheduled");

    // Never delivered: expires at the end of a 10-minute validity period.
    let mut s = with_receipt(sm(NEVER, b"lost"), 1);
    s.validity_period = "000000001000000R".parse().unwrap();
    let id = e.submit(T0, b, &s).unwrap();
    assert_eq!(
        e.message_state(id.as_str().unwrap()),
        Some(MessageState::Enroute)
    );
    e.advance(T0 + 600 * SEC - 1);
    assert_eq!(
        e.message_state(id.as_str().unwrap()),
        Some(MessageState::Enroute)
    );
    e.advance(T0 + 600 * SEC);
    assert_eq!(
        e.message_state(id.as_str().unwrap()),
        Some(MessageState::Expired)
    );

    // A delay longer than the validity period expires instead.
    let mut s = with_receipt(sm(DELAY, b"too late"), 1);
    s.validity_period = "000000000010000R".parse().unwrap(); // 10 s
    e.submit(T0, b, &s).unwrap();
    e.advance(T0 + 10 * SEC);

    let out = e.take_outbound(b.account, 10);
    let stats: Vec<(MessageState, String)> = out
        .iter()
        .map(|d| {
            let r = receipt_of(d);
            (
                r.state().unwrap().0,
                r.text().unwrap().done_date.unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        stats,
        vec![
            (MessageState::Delivered, "2611261000".to_owned()),
            (MessageState::Delivered, "2611261001".to_owned()),
            (MessageState::Expired, "2611261010".to_owned()),
            // Expired at T0 + 10 s, found by the next advance.
            (MessageState::Expired, "2611261000".to_owned()),
        ]
    );
    let s = e.stats();
    assert_eq!((s.delivered, s.expired, s.queued), (2, 2, 0));
}

#[test]
fn receipts_follow_registered_delivery_bits_in_text_and_tlvs() {
    // (registered_delivery, destination, receipt expected)
    let cases = [
        (0x00, INSTANT, false),
        (0x00, FAIL, false),
        (0x01, INSTANT, true),
        (0x01, FAIL, true),
        (0x02, INSTANT, false),
        (0x02, FAIL, true),
        (0x03, INSTANT, true),
        (0x03, FAIL, false),
    ];
    for (rd, dest, expected) in cases {
        let (mut e, b) = open_engine();
        let id = e
            .submit(
                T0,
                b,
                &with_receipt(sm(dest, b"Hello, world! 123456789"), rd),
            )
            .unwrap();
        e.advance(T0);
        let out = e.take_outbound(b.account, 10);
        assert_eq!(out.len(), usize::from(expected), "rd {rd:#x} to {dest}");
        let Some(d) = out.first() else { continue };
        assert_eq!(d.source_addr, dest);
        assert_eq!(d.destination_addr, "Acme");
        assert_eq!(d.dest_addr_ton, Ton::ALPHANUMERIC);
        let r = receipt_of(d);
        let text = r.text().unwrap();
        assert_eq!(text.id.as_str(), id.as_str().unwrap());
        assert_eq!(r.tlv_message_id().unwrap().as_str(), id.as_str().unwrap());
        assert_eq!(text.text.as_deref(), Some(&b"Hello, world! 123456"[..]));
        assert_eq!(text.submit_date.unwrap().to_string(), "2611261000");
        assert_eq!(text.sub, Some(1));
        if dest == INSTANT {
            assert_eq!(text.stat.as_ref().unwrap().word(), "DELIVRD");
            assert_eq!(text.err.as_ref().unwrap().raw(), "000");
            assert_eq!(text.dlvrd, Some(1));
            assert_eq!(d.tlvs.message_state(), Some(MessageState::Delivered));
            assert_eq!(d.tlvs.network_error_code(), None);
        } else {
            assert_eq!(text.stat.as_ref().unwrap().word(), "UNDELIV");
            assert_eq!(text.err.as_ref().unwrap().raw(), "034");
            assert_eq!(text.dlvrd, Some(0));
            assert_eq!(d.tlvs.message_state(), Some(MessageState::Undeliverable));
            assert_eq!(d.tlvs.network_error_code().unwrap().error_code, 34);
        }
        assert_eq!(r.ids_agree(), Some(true));
        assert_eq!(r.states_agree(), Some(true));
        assert_eq!(e.stats().receipts_sent, 1);
    }
}

#[test]
fn every_segment_gets_its_own_receipt() {
    let (mut e, b) = open_engine();
    let text = "A".repeat(200);
    let msg = sms_text::encode(
        &text,
        &sms_text::Options {
            concat: sms_text::Concat::Udh8 { reference: 9 },
            ..Default::default()
        },
    )
    .unwrap();
    let mut ids = Vec::new();
    for p in &msg.parts {
        let mut s = with_receipt(sm(INSTANT, &p.short_message), 1);
        s.esm_class = EsmClass::DEFAULT.with_udhi(p.udhi);
        ids.push(e.submit(T0, b, &s).unwrap().as_str().unwrap().to_owned());
    }
    e.advance(T0);
    let receipted: Vec<String> = e
        .take_outbound(b.account, 10)
        .iter()
        .map(|d| receipt_of(d).message_id().0.as_str().to_owned())
        .collect();
    assert_eq!(receipted, ids);
    let inbox = e.inbox(INSTANT);
    assert_eq!(inbox.len(), 1);
    assert_eq!((inbox[0].text.as_str(), inbox[0].parts), (text.as_str(), 2));
}

fn submit_parts(
    e: &mut Engine,
    b: BindHandle,
    dest: &str,
    text: &str,
    concat: sms_text::Concat,
    order: &[usize],
    at: u64,
) {
    let msg = sms_text::encode(
        text,
        &sms_text::Options {
            concat,
            ..Default::default()
        },
    )
    .unwrap();
    for &i in order {
        let p = &msg.parts[i];
        let mut s = sm(dest, &p.short_message);
        s.esm_class = EsmClass::DEFAULT.with_udhi(p.udhi);
        s.data_coding = DataCoding(msg.data_coding);
        if let Some(sar) = p.sar {
            s.tlvs.push(Tlv::SarMsgRefNum(sar.reference)).unwrap();
            s.tlvs.push(Tlv::SarTotalSegments(sar.total)).unwrap();
            s.tlvs.push(Tlv::SarSegmentSeqnum(sar.sequence)).unwrap();
        }
        e.submit(at, b, &s).unwrap();
    }
    e.advance(at);
}

#[test]
fn inboxes_reassemble_udh8_udh16_and_sar_in_any_order_and_decode_every_alphabet() {
    let (mut e, b) = open_engine();
    let gsm = "Bei {Tumaini} kwa 10€ tu! ".repeat(12); // extension characters, 3 parts
    let ucs2 = "Habari 😀 ".repeat(15); // emoji (surrogate pairs), UCS-2, 3 parts
    submit_parts(
        &mut e,
        b,
        INSTANT,
        &gsm,
        sms_text::Concat::Udh8 { reference: 200 },
        &[2, 0, 1],
        T0,
    );
    submit_parts(
        &mut e,
        b,
        INSTANT,
        &ucs2,
        sms_text::Concat::Udh16 { reference: 0xBEEF },
        &[1, 2, 0],
        T0 + 1,
    );
    submit_parts(
        &mut e,
        b,
        INSTANT,
        &gsm,
        sms_text::Concat::Sar { reference: 77 },
        &[1, 0, 2],
        T0 + 2,
    );
    // Latin-1 (data_coding 3), one part.
    let mut s = sm(INSTANT, &[b'O', b'l', 0xE1, b'!']);
    s.data_coding = DataCoding::LATIN1;
    e.submit(T0 + 3, b, &s).unwrap();
    e.advance(T0 + 3);
    let inbox = e.inbox(INSTANT);
    let got: Vec<(&str, u8, &str)> = inbox
        .iter()
        .map(|m| (m.text.as_str(), m.parts, m.from.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (gsm.as_str(), 3, "Acme"),
            (ucs2.as_str(), 3, "Acme"),
            (gsm.as_str(), 3, "Acme"),
            ("Olá!", 1, "Acme"),
        ]
    );
    assert_eq!(inbox[1].data_coding, 8);
    assert_eq!(e.pending_parts(INSTANT), 0);
}

#[test]
fn a_missing_part_waits_and_times_out() {
    let (mut e, b) = open_engine();
    let text = "z".repeat(300);
    submit_parts(
        &mut e,
        b,
        INSTANT,
        &text,
        sms_text::Concat::Udh8 { reference: 1 },
        &[0],
        T0,
    );
    assert!(e.inbox(INSTANT).is_empty());
    assert_eq!(e.pending_parts(INSTANT), 1);
    // Any later part after the 10-minute timeout ages the incomplete one out.
    submit_parts(
        &mut e,
        b,
        INSTANT,
        "single",
        sms_text::Concat::Udh8 { reference: 2 },
        &[0],
        T0 + 601 * SEC,
    );
    assert_eq!(e.pending_parts(INSTANT), 0);
    assert_eq!(e.stats().reassembly_timeouts, 1);
    assert_eq!(e.inbox(INSTANT).len(), 1);
}

#[test]
fn mo_is_split_concatenated_and_routed_to_the_last_sender() {
    let (mut e, b) = open_engine();
    assert!(matches!(
        e.mo("2547", "Acme", "x"),
        Err(MoError::InvalidFrom(_))
    ));
    assert!(matches!(
        e.mo("254712345678", "", "x"),
        Err(MoError::InvalidTo(_))
    ));
    let mut e2 = Engine::new(SimConfig::default()).unwrap();
    assert!(matches!(
        e2.mo("254712345678", "Acme", "x"),
        Err(MoError::NoRoute(_))
    ));

    e.submit(T0, b, &sm("254712345678", b"Reply YES")).unwrap();
    let reply = "Ndiyo, nataka kujua zaidi kuhusu ofa hii. ".repeat(5); // 210 chars, 2 parts
    let accepted = e.mo("254712345678", "Acme", &reply).unwrap();
    assert_eq!((accepted.account, accepted.parts), (b.account, 2));
    assert_eq!(e.outbound_len(b.account), 2);
    let out = e.take_outbound(b.account, 100);
    assert_eq!(out.len(), 2);
    for d in &out {
        assert!(!d.is_delivery_receipt());
        assert!(d.esm_class.udhi());
        assert_eq!(d.source_addr, "254712345678");
        assert_eq!(d.destination_addr, "Acme");
        assert_eq!(d.source_addr_ton, Ton::INTERNATIONAL);
    }
    let fragments: Vec<sms_text::Fragment<'_>> = out
        .iter()
        .rev()
        .map(|d| sms_text::Fragment {
            data_coding: d.data_coding.0,
            udhi: d.esm_class.udhi(),
            short_message: d.short_message.as_bytes(),
            sar: None,
        })
        .collect();
    assert_eq!(sms_text::reassemble(&fragments).unwrap(), reply);
    let s = e.stats();
    assert_eq!((s.mo, s.mo_parts_sent, s.outbound_pending), (1, 2, 0));
}

#[test]
fn outbound_waits_for_a_receiver_and_can_be_returned() {
    let (mut e, b) = open_engine();
    e.submit(T0, b, &with_receipt(sm(INSTANT, b"a"), 1))
        .unwrap();
    e.submit(T0, b, &with_receipt(sm(INSTANT, b"b"), 1))
        .unwrap();
    e.advance(T0);
    assert_eq!(e.stats().outbound_pending, 2);
    let first = e.take_outbound(b.account, 1);
    assert_eq!(first.len(), 1);
    e.return_outbound(b.account, first.clone());
    let again = e.take_outbound(b.account, 10);
    assert_eq!(again.len(), 2);
    assert_eq!(again[0], first[0]);
}

fn outcomes(
    e: &mut Engine,
    b: BindHandle,
    order: &[(&str, u64)],
) -> Vec<(String, MessageState, u64)> {
    let mut ids = Vec::new();
    for (dest, at) in order {
        let id = e.submit(*at, b, &with_receipt(sm(dest, b"x"), 1)).unwrap();
        ids.push((dest.to_string(), id.as_str().unwrap().to_owned()));
    }
    e.advance(T0 + 100 * 24 * 3600 * SEC);
    let mut receipts: Vec<(String, MessageState, u64)> = e
        .take_outbound(b.account, usize::MAX)
        .iter()
        .map(|d| {
            let r = receipt_of(d);
            let done = r.text().unwrap().done_date.unwrap().to_unix_seconds(0) as u64;
            (d.source_addr.to_string(), r.state().unwrap().0, done)
        })
        .collect();
    receipts.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
    receipts
}

#[test]
fn same_seed_same_outcomes_whatever_the_interleaving() {
    let numbers: Vec<String> = (0..300)
        .map(|i| format!("2547{:08}", 12_345_000 + i * 7919))
        .collect();
    let a_order: Vec<(&str, u64)> = numbers
        .iter()
        .flat_map(|n| [(n.as_str(), T0), (n.as_str(), T0)])
        .collect();
    let b_order: Vec<(&str, u64)> = numbers
        .iter()
        .chain(numbers.iter())
        .rev()
        .map(|n| (n.as_str(), T0))
        .collect();
    let (mut e1, b1) = open_engine();
    let (mut e2, b2) = open_engine();
    let r1 = outcomes(&mut e1, b1, &a_order);
    let r2 = outcomes(&mut e2, b2, &b_order);
    assert_eq!(r1.len(), 600);
    assert_eq!(r1, r2);
    // Some of each outcome with the default mix and handset states.
    for state in [
        MessageState::Delivered,
        MessageState::Undeliverable,
        MessageState::Expired,
    ] {
        assert!(r1.iter().any(|r| r.1 == state), "{state:?}");
    }
    let delivered = r1.iter().filter(|r| r.1 == MessageState::Delivered).count();
    assert!(delivered > 540, "{delivered} of 600 delivered");

    let config = SimConfig {
        seed: 43,
        ..SimConfig::default()
    };
    let mut e3 = Engine::new(config).unwrap();
    let b3 = e3.bind("acme", "", BindKind::Transceiver).unwrap();
    assert_ne!(outcomes(&mut e3, b3, &a_order), r1);
}

#[test]
fn latency_stays_within_the_network_bounds() {
    let (mut e, b) = open_engine();
    for i in 0..200u64 {
        e.submit(T0, b, &sm(&format!("2547220{:05}", i), b"x"))
            .unwrap();
    }
    // Safaricom: min 100 ms, max 20 s (off handsets wait longer).
    assert_eq!(e.advance(T0 + 99), 0);
    assert!(e.next_deadline().unwrap() >= T0 + 100);
    let by_max = e.advance(T0 + 20 * SEC);
    assert!(by_max >= 180, "{by_max}");
}

#[test]
fn every_test_range() {
    let (mut e, b) = open_engine();
    let cases = [
        (INSTANT, T0, MessageState::Delivered, "000"),
        (FAIL, T0, MessageState::Undeliverable, "034"),
        (NEVER, T0 + 48 * 3600 * SEC, MessageState::Expired, "000"),
        (DELAY, T0 + 30 * SEC, MessageState::Delivered, "000"),
        (ABSENT, T0 + 48 * 3600 * SEC, MessageState::Expired, "027"),
        (UNKNOWN, T0, MessageState::Undeliverable, "001"),
        (REJECT, T0, MessageState::Rejected, "011"),
    ];
    for (dest, done, state, err) in cases {
        e.submit(T0, b, &with_receipt(sm(dest, b"x"), 1)).unwrap();
        e.advance(done - 1);
        assert!(e.take_outbound(b.account, 10).is_empty(), "{dest} early");
        e.advance(done);
        let out = e.take_outbound(b.account, 10);
        assert_eq!(out.len(), 1, "{dest}");
        let r = receipt_of(&out[0]);
        assert_eq!(r.state().unwrap().0, state, "{dest}");
        assert_eq!(r.text().unwrap().err.as_ref().unwrap().raw(), err, "{dest}");
    }
    assert_eq!(
        e.submit(T0, b, &sm(THROTTLE, b"x")),
        Err(CommandStatus::ESME_RTHROTTLED)
    );
    assert_eq!(
        e.submit(T0, b, &sm(BAD_DEST, b"x")),
        Err(CommandStatus::ESME_RINVDSTADR)
    );
    assert_eq!(e.inbox(INSTANT).len(), 1);
    assert_eq!(e.inbox(DELAY).len(), 1);
    assert!(e.inbox(FAIL).is_empty());
}

#[test]
fn query_and_cancel() {
    let (mut e, b) = open_engine();
    let id = e.submit(T0, b, &with_receipt(sm(DELAY, b"x"), 1)).unwrap();
    let q = QuerySm {
        message_id: id,
        source_addr: "Acme".parse().unwrap(),
        ..QuerySm::default()
    };
    assert_eq!(e.query(b, &q).unwrap().message_state, MessageState::Enroute);
    assert!(e.query(b, &q).unwrap().final_date.is_empty());
    let wrong_source = QuerySm {
        source_addr: "Other".parse().unwrap(),
        ..q.clone()
    };
    assert_eq!(
        e.query(b, &wrong_source),
        Err(CommandStatus::ESME_RINVMSGID)
    );
    let unknown = QuerySm {
        message_id: MessageId::new(b"ffffffff").unwrap(),
        ..q.clone()
    };
    assert_eq!(e.query(b, &unknown), Err(CommandStatus::ESME_RINVMSGID));

    let c = CancelSm {
        message_id: id,
        source_addr: "Acme".parse().unwrap(),
        ..CancelSm::default()
    };
    e.cancel(T0 + SEC, b, &c).unwrap();
    assert_eq!(
        e.cancel(T0 + SEC, b, &c),
        Err(CommandStatus::ESME_RCANCELFAIL)
    );
    let r = e.query(b, &q).unwrap();
    assert_eq!(r.message_state, MessageState::Deleted);
    assert_eq!(r.final_date, "261126100001000+");
    e.advance(T0 + 60 * SEC);
    assert!(e.inbox(DELAY).is_empty(), "cancelled message delivered");
    assert!(e.take_outbound(b.account, 10).is_empty());

    let id = e.submit(T0, b, &sm(INSTANT, b"y")).unwrap();
    e.advance(T0);
    let q = QuerySm {
        message_id: id,
        ..q
    };
    let r = e.query(b, &q).unwrap();
    assert_eq!(r.message_state, MessageState::Delivered);
    assert_eq!(r.final_date, "261126100000000+");
    assert_eq!(e.stats().cancelled, 1);
}

#[test]
fn bulk_cancel_by_source_and_destination() {
    let (mut e, b) = open_engine();
    e.submit(T0, b, &sm(DELAY, b"1")).unwrap();
    e.submit(T0, b, &sm(DELAY, b"2")).unwrap();
    e.submit(T0, b, &sm(NEVER, b"3")).unwrap();
    let c = CancelSm {
        source_addr: "Acme".parse().unwrap(),
        destination_addr: DELAY.parse().unwrap(),
        ..CancelSm::default()
    };
    e.cancel(T0, b, &c).unwrap();
    assert_eq!(e.stats().cancelled, 2);
    assert_eq!(e.stats().queued, 1);
}

#[test]
fn queue_full_answers_msgqful() {
    let config = SimConfig {
        max_queued: 2,
        ..SimConfig::default()
    };
    let mut e = Engine::new(config).unwrap();
    let b = e.bind("acme", "", BindKind::Transmitter).unwrap();
    e.submit(T0, b, &sm(DELAY, b"1")).unwrap();
    e.submit(T0, b, &sm(DELAY, b"2")).unwrap();
    assert_eq!(
        e.submit(T0, b, &sm(DELAY, b"3")),
        Err(CommandStatus::ESME_RMSGQFUL)
    );
    e.advance(T0 + 30 * SEC);
    assert!(e.submit(T0 + 30 * SEC, b, &sm(DELAY, b"3")).is_ok());
}

#[test]
fn replace_changes_a_pending_message_only() {
    let (mut e, b) = open_engine();
    let id = e.submit(T0, b, &sm(DELAY, b"old text")).unwrap();
    let mut r = ReplaceSm {
        message_id: id,
        source_addr: "Acme".parse().unwrap(),
        short_message: smpp::types::ShortMessage::new(b"new text").unwrap(),
        registered_delivery: RegisteredDelivery::RECEIPT,
        ..ReplaceSm::default()
    };
    e.replace(T0 + SEC, b, &r).unwrap();
    // A shorter validity (10 s) than the 30 s delay: the message now expires.
    let mut shorter = r.clone();
    shorter.validity_period = "000000000010000R".parse().unwrap();
    let id2 = e.submit(T0, b, &sm(DELAY, b"second")).unwrap();
    shorter.message_id = id2;
    e.replace(T0, b, &shorter).unwrap();
    e.advance(T0 + 30 * SEC);
    let inbox = e.inbox(DELAY);
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].text, "new text");
    assert_eq!(
        e.message_state(id2.as_str().unwrap()),
        Some(MessageState::Expired)
    );
    let receipts = e.take_outbound(b.account, 10);
    assert_eq!(receipts.len(), 2, "registered_delivery was replaced too");
    assert_eq!(
        e.replace(T0 + 31 * SEC, b, &r),
        Err(CommandStatus::ESME_RREPLACEFAIL)
    );
    let id3 = e.submit(T0, b, &sm(DELAY, b"third")).unwrap();
    r.message_id = id3;
    r.schedule_delivery_time = "000000000100000R".parse().unwrap();
    assert_eq!(e.replace(T0, b, &r), Err(CommandStatus::ESME_RINVSCHED));
    r.message_id = MessageId::new(b"zz").unwrap();
    assert_eq!(e.replace(T0, b, &r), Err(CommandStatus::ESME_RINVMSGID));
}

#[test]
fn submit_multi_one_id_per_submission_one_receipt_per_destination() {
    let (mut e, b) = open_engine();
    let mut m = SubmitMulti::default();
    m.source_addr = "Acme".parse().unwrap();
    m.source_addr_ton = Ton::ALPHANUMERIC;
    m.registered_delivery = RegisteredDelivery::RECEIPT;
    m.short_message = smpp::types::ShortMessage::new(b"to all").unwrap();
    assert_eq!(
        e.submit_multi(T0, b, &m),
        Err(CommandStatus::ESME_RINVNUMDESTS)
    );
    for dest in [INSTANT, "254700000101", "12", FAIL] {
        m.push_dest(DestAddress::Sme {
            ton: Ton::INTERNATIONAL,
            npi: Npi::ISDN,
            address: dest.parse().unwrap(),
        })
        .unwrap();
    }
    m.push_dest(DestAddress::DistributionList("staff".parse().unwrap()))
        .unwrap();
    let resp = e.submit_multi(T0, b, &m).unwrap();
    let failed: Vec<(String, CommandStatus)> = resp
        .unsuccess_smes()
        .iter()
        .map(|u| (u.destination_addr.to_string(), u.error_status_code))
        .collect();
    assert_eq!(
        failed,
        vec![
            ("12".to_owned(), CommandStatus::ESME_RINVDSTADR),
            ("staff".to_owned(), CommandStatus::ESME_RINVDLNAME),
        ]
    );
    let id = resp.message_id.as_str().unwrap().to_owned();
    e.advance(T0);
    assert_eq!(e.inbox(INSTANT)[0].text, "to all");
    assert_eq!(e.inbox("254700000101")[0].text, "to all");
    let receipts: Vec<(String, String, MessageState)> = e
        .take_outbound(b.account, 10)
        .iter()
        .map(|d| {
            let r = receipt_of(d);
            (
                d.source_addr.to_string(),
                r.message_id().0.as_str().to_owned(),
                r.state().unwrap().0,
            )
        })
        .collect();
    assert_eq!(
        receipts,
        vec![
            (INSTANT.to_owned(), id.clone(), MessageState::Delivered),
            (
                "254700000101".to_owned(),
                id.clone(),
                MessageState::Delivered
            ),
            (FAIL.to_owned(), id.clone(), MessageState::Undeliverable),
        ]
    );
    // The next submission gets the next id; a submit_multi with no good destination none.
    let next = e.submit(T0, b, &sm(INSTANT, b"x")).unwrap();
    assert_eq!(
        u64::from_str_radix(next.as_str().unwrap(), 16).unwrap(),
        u64::from_str_radix(&id, 16).unwrap() + 1
    );
    m.clear_dests();
    m.push_dest(DestAddress::DistributionList("x".parse().unwrap()))
        .unwrap();
    assert_eq!(
        e.submit_multi(T0, b, &m),
        Err(CommandStatus::ESME_RINVDLNAME)
    );
}

#[test]
fn cancel_by_id_cancels_every_destination_of_a_submit_multi() {
    let (mut e, b) = open_engine();
    let mut m = SubmitMulti::default();
    m.source_addr = "Acme".parse().unwrap();
    m.source_addr_ton = Ton::ALPHANUMERIC;
    m.short_message = smpp::types::ShortMessage::new(b"x").unwrap();
    for dest in [DELAY, "254700000401"] {
        m.push_dest(DestAddress::Sme {
            ton: Ton::INTERNATIONAL,
            npi: Npi::ISDN,
            address: dest.parse().unwrap(),
        })
        .unwrap();
    }
    let other = e.submit(T0, b, &sm(DELAY, b"other")).unwrap();
    let resp = e.submit_multi(T0, b, &m).unwrap();
    let c = CancelSm {
        message_id: resp.message_id,
        source_addr: "Acme".parse().unwrap(),
        ..CancelSm::default()
    };
    e.cancel(T0, b, &c).unwrap();
    assert_eq!(e.stats().cancelled, 2);
    assert_eq!(
        e.message_state(other.as_str().unwrap()),
        Some(MessageState::Enroute)
    );
}

#[test]
fn a_full_inbox_drops_its_oldest_messages_and_counts_them() {
    let config = SimConfig {
        inbox_limit: 3,
        ..SimConfig::default()
    };
    let mut e = Engine::new(config).unwrap();
    let b = e.bind("acme", "any", BindKind::Transceiver).unwrap();
    for i in 0..5 {
        let text = format!("m{i}");
        assert!(e.submit(T0, b, &sm(INSTANT, text.as_bytes())).is_ok());
    }
    // A concatenated message takes one place, not one per part.
    let long = "L".repeat(200);
    submit_parts(
        &mut e,
        b,
        INSTANT,
        &long,
        sms_text::Concat::Udh8 { reference: 9 },
        &[1, 0],
        T0,
    );
    // Another number has its own inbox and limit.
    let other = "254700000101";
    assert!(e.submit(T0, b, &sm(other, b"other")).is_ok());
    e.advance(T0);

    let shown: Vec<String> = e.inbox(INSTANT).into_iter().map(|m| m.text).collect();
    assert_eq!(shown, vec!["m3".to_owned(), "m4".to_owned(), long]);
    assert_eq!(e.inbox(other).len(), 1);
    let stats = e.stats();
    assert_eq!(stats.inbox_dropped, 3);
    // Dropped from the list, not undelivered.
    assert_eq!(stats.delivered, 8);
}
