//! Codec throughput: decode and encode of the PDUs a bulk gateway handles most (submit_sm,
//! submit_sm_resp, a deliver_sm receipt), and rusmpp's decode of the same submit_sm for
//! comparison. Run with `cargo bench -p smpp --bench codec`; figures go to
//! `docs/benchmarks.md`.
//!
//! The frames are written out field by field here (not produced by our encoder) so that the
//! benchmark also checks, before measuring, that our decoder and encoder agree with an
//! independent description of the bytes.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rusmpp::decode::DecodeWithLength;
use smpp::pdu::{Pdu, PduBody};

/// Appends a C-Octet String (the text and its NUL).
fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// Prefixes `body` with a 16-octet header whose command_length is the real length.
fn frame(command_id: u32, status: u32, seq: u32, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(16 + body.len()).expect("bench frames are small");
    let mut out = Vec::with_capacity(16 + body.len());
    for word in [len, command_id, status, seq] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// A typical one-part OTP submit_sm: alphanumeric sender, international MSISDN, receipt
/// requested, 61 GSM-7 characters (unpacked), no TLVs: 113 octets on the wire.
fn submit_sm_113() -> Vec<u8> {
    let text = "Your Tuma code is 483921. It expires in 10 minutes. Thank you";
    let mut b = Vec::new();
    cstr(&mut b, ""); // service_type
    b.extend_from_slice(&[0x05, 0x00]); // source ton (alphanumeric), npi
    cstr(&mut b, "TumaSMS");
    b.extend_from_slice(&[0x01, 0x01]); // dest ton (international), npi (ISDN)
    cstr(&mut b, "254712345678");
    b.extend_from_slice(&[0x00, 0x00, 0x00]); // esm_class, protocol_id, priority_flag
    cstr(&mut b, ""); // schedule_delivery_time
    cstr(&mut b, ""); // validity_period
    b.extend_from_slice(&[0x01, 0x00, 0x00, 0x00]); // registered_delivery .. sm_default_msg_id
    b.push(u8::try_from(text.len()).expect("short text"));
    b.extend_from_slice(text.as_bytes());
    frame(0x0000_0004, 0, 0x0001_2345, &b)
}

/// submit_sm_resp with a UUID-style message id (what many SMSCs return).
fn submit_sm_resp() -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, "3f2c9a4e-8b1d-4c6f-9e2a-7d5b1c0e4f83");
    frame(0x8000_0004, 0, 0x0001_2345, &b)
}

/// A delivery receipt as most SMSCs send it: receipt text in short_message plus the
/// receipted_message_id and message_state TLVs.
fn deliver_sm_receipt() -> Vec<u8> {
    let text = "id:3f2c9a4e sub:001 dlvrd:001 submit date:2611261015 \
                done date:2611261016 stat:DELIVRD err:000 text:Your Tuma code is 4";
    let mut b = Vec::new();
    cstr(&mut b, "");
    b.extend_from_slice(&[0x01, 0x01]);
    cstr(&mut b, "254712345678");
    b.extend_from_slice(&[0x05, 0x00]);
    cstr(&mut b, "TumaSMS");
    b.extend_from_slice(&[0x04, 0x00, 0x00]); // esm_class = delivery receipt
    cstr(&mut b, "");
    cstr(&mut b, "");
    b.extend_from_slice(&[0x00, 0x00, 0x00, 0x00]);
    b.push(u8::try_from(text.len()).expect("short text"));
    b.extend_from_slice(text.as_bytes());
    b.extend_from_slice(&[0x00, 0x1E, 0x00, 0x09]); // receipted_message_id, 9 octets
    cstr(&mut b, "3f2c9a4e");
    b.extend_from_slice(&[0x04, 0x27, 0x00, 0x01, 0x02]); // message_state = DELIVERED
    frame(0x0000_0005, 0, 0x0000_0777, &b)
}

/// Decodes `bytes` with our codec and checks that it re-encodes to the same bytes, so every
/// benchmark below measures a correct round trip, not an error path.
fn checked_decode(name: &str, bytes: &[u8]) -> Pdu {
    let pdu = Pdu::decode(bytes).unwrap_or_else(|e| panic!("{name}: our decode failed: {e:?}"));
    let mut out = Vec::new();
    pdu.encode(&mut out);
    assert_eq!(out, bytes, "{name}: re-encoding differs");
    assert_eq!(pdu.encoded_len(), bytes.len(), "{name}: encoded_len");
    pdu
}

fn rusmpp_decode(body: &mut BytesMut, len: usize) -> rusmpp::Command {
    match rusmpp::Command::decode(body, len) {
        Ok((command, _)) => command,
        Err(e) => panic!("rusmpp decode failed: {e:?}"),
    }
}

fn bench_codec(c: &mut Criterion) {
    let submit = submit_sm_113();
    assert_eq!(submit.len(), 113, "the typical submit_sm is 113 octets");
    let receipt = deliver_sm_receipt();
    assert_eq!(
        receipt.len(),
        189,
        "the receipt documented in docs/benchmarks.md"
    );
    let cases = [
        ("submit_sm_113", submit.clone()),
        ("submit_sm_resp", submit_sm_resp()),
        ("deliver_sm_receipt", receipt),
    ];

    let mut group = c.benchmark_group("smpp");
    group.throughput(Throughput::Elements(1));
    for (name, bytes) in &cases {
        let pdu = checked_decode(name, bytes);
        let expected_kind = matches!(
            (&pdu.body, *name),
            (PduBody::SubmitSm(_), "submit_sm_113")
                | (PduBody::SubmitSmResp(_), "submit_sm_resp")
                | (PduBody::DeliverSm(_), "deliver_sm_receipt")
        );
        assert!(expected_kind, "{name} decoded to the wrong operation");

        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| Pdu::decode(black_box(bytes.as_slice())))
        });
        // The output buffer is reused, as a session's transmit buffer would be; clearing
        // it keeps the measurement to one frame per iteration.
        let mut out: Vec<u8> = Vec::with_capacity(512);
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                out.clear();
                black_box(&pdu).encode(&mut out);
                black_box(out.len())
            })
        });
    }

    // rusmpp decodes from a `BytesMut` holding the frame after its 4-octet length (that is
    // how its tokio codec calls it). Building that buffer is done outside the measured part;
    // dropping the decoded command is inside it, as it is for ours (`iter` drops each
    // decoded `Pdu` within the timed loop), so both rates are decode + drop.
    let body_len = submit.len() - 4;
    let check = rusmpp_decode(&mut BytesMut::from(&submit[4..]), body_len);
    assert!(
        matches!(check.pdu(), Some(rusmpp::Pdu::SubmitSm(_))),
        "rusmpp decodes the same frame as a submit_sm"
    );
    group.bench_function("rusmpp_decode/submit_sm_113", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&submit[4..]),
            |buf| {
                black_box(rusmpp_decode(buf, body_len));
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_codec);
criterion_main!(benches);
