//! Decoding is total: any bytes give a value or an error, never a panic.
//!
//! A fuzz-style test that runs on stable in `cargo test`: well over a million frames per run,
//! drawn from random bytes, public test vectors and structure-aware synthetic PDUs (every
//! operation, with plausible field layouts so the decoder gets deep into bodies), then
//! mutated (bit flips, truncation, command_length / sm_length / TLV length / count changes,
//! bytes inserted or removed). Each is fed to `codec::check` and `Pdu::decode`. A panic
//! anywhere fails the test; on top of that, real properties are asserted for every input:
//!
//! * `check` never reports a frame longer than the buffer, and agrees with the header;
//! * a successful decode keeps the header (id, status, sequence) and re-encodes to a frame
//!   whose command_length equals `encoded_len()` and its real length, and that frame decodes
//!   to the same PDU again;
//! * a decode error carries the header's command_id and sequence_number and an error status.
//!
//! The PRNG is seeded: the seed is printed, and `TUMA_FUZZ_SEED=<n>` (plus optionally
//! `TUMA_FUZZ_ITERS=<n>`) replays or extends a run.

mod common;

use common::{hex, XorShift, VECTORS};
use smpp::codec::{self, DEFAULT_MAX_PDU_SIZE};
use smpp::pdu::Pdu;
use smpp::types::{CommandId, CommandStatus};

/// Default seed: any fixed value gives a reproducible run.
const DEFAULT_SEED: u64 = 0x7475_6D61_5F73_6D70; // "tuma_smp"
/// Mutated frames per run (each is also fed to `decode` unframed, so the decoder sees
/// about twice as many inputs).
const DEFAULT_ITERS: usize = 2_000_000;

/// One field of a synthetic PDU body, as laid out in smpp-reference.md §5.
#[derive(Clone, Copy)]
enum Field {
    /// C-Octet String with this maximum size (NUL included).
    C(usize),
    /// One-octet integer.
    I1,
    /// SMPP time: NULL or 16 characters + NUL.
    Time,
    /// sm_length followed by short_message.
    Sm,
    /// number_of_dests followed by dest_address entries (submit_multi).
    Dests,
    /// no_unsuccess followed by unsuccess_sme entries (submit_multi_resp).
    Unsuccess,
    /// Zero or more TLVs up to the end of the PDU.
    Tlvs,
}

use Field::{Dests, Sm, Time, Tlvs, Unsuccess, C, I1};

const BIND: &[Field] = &[C(16), C(9), C(13), I1, I1, I1, C(41)];
const BIND_RESP: &[Field] = &[C(16), Tlvs];
const SM: &[Field] = &[
    C(6),
    I1,
    I1,
    C(21),
    I1,
    I1,
    C(21),
    I1,
    I1,
    I1,
    Time,
    Time,
    I1,
    I1,
    I1,
    I1,
    Sm,
    Tlvs,
];
const SM_RESP: &[Field] = &[C(65), Tlvs];

/// Body layout of each operation; header-only operations have an empty layout.
const LAYOUTS: &[(u32, &[Field])] = &[
    (0x0000_0001, BIND),
    (0x0000_0002, BIND),
    (0x0000_0009, BIND),
    (0x8000_0001, BIND_RESP),
    (0x8000_0002, BIND_RESP),
    (0x8000_0009, BIND_RESP),
    (0x0000_000B, &[C(16), C(9)]),
    (0x0000_0006, &[]),
    (0x8000_0006, &[]),
    (0x0000_0015, &[]),
    (0x8000_0015, &[]),
    (0x8000_0000, &[]),
    (0x8000_0008, &[]),
    (0x8000_0007, &[]),
    (0x0000_0004, SM),
    (0x0000_0005, SM),
    (0x8000_0004, SM_RESP),
    (0x8000_0005, SM_RESP),
    (0x8000_0103, SM_RESP),
    (
        0x0000_0021,
        &[
            C(6),
            I1,
            I1,
            C(21),
            Dests,
            I1,
            I1,
            I1,
            Time,
            Time,
            I1,
            I1,
            I1,
            I1,
            Sm,
            Tlvs,
        ],
    ),
    (0x8000_0021, &[C(65), Unsuccess, Tlvs]),
    (
        0x0000_0103,
        &[C(6), I1, I1, C(65), I1, I1, C(65), I1, I1, I1, Tlvs],
    ),
    (0x0000_0003, &[C(65), I1, I1, C(21)]),
    (0x8000_0003, &[C(65), Time, I1, I1]),
    (0x0000_0008, &[C(6), C(65), I1, I1, C(21), I1, I1, C(21)]),
    (
        0x0000_0007,
        &[C(65), I1, I1, C(21), Time, Time, I1, I1, Sm, Tlvs],
    ),
    (0x0000_0102, &[I1, I1, C(65), I1, I1, C(65), Tlvs]),
];

/// TLV tags worth hitting, with the value length the reference gives them (None = variable).
const TLV_TAGS: &[(u16, Option<usize>)] = &[
    (0x0005, Some(1)),
    (0x0006, Some(1)),
    (0x0007, Some(1)),
    (0x0008, Some(2)),
    (0x000D, Some(1)),
    (0x000E, Some(1)),
    (0x000F, Some(1)),
    (0x0010, Some(1)),
    (0x0010, Some(2)),
    (0x0017, Some(4)),
    (0x0019, Some(1)),
    (0x001D, None),
    (0x001E, None),
    (0x0030, Some(1)),
    (0x0201, Some(1)),
    (0x0202, None),
    (0x0203, None),
    (0x0204, Some(2)),
    (0x0205, Some(1)),
    (0x020A, Some(2)),
    (0x020B, Some(2)),
    (0x020C, Some(2)),
    (0x020D, Some(1)),
    (0x020E, Some(1)),
    (0x020F, Some(1)),
    (0x0210, Some(1)),
    (0x0302, Some(1)),
    (0x0303, None),
    (0x0304, Some(1)),
    (0x0381, None),
    (0x0420, Some(1)),
    (0x0421, Some(1)),
    (0x0422, Some(1)),
    (0x0423, Some(3)),
    (0x0424, None),
    (0x0425, Some(1)),
    (0x0426, Some(1)),
    (0x0427, Some(1)),
    (0x0428, Some(1)),
    (0x0501, Some(1)),
    (0x1201, Some(1)),
    (0x1203, Some(2)),
    (0x1204, Some(1)),
    (0x130C, Some(0)),
    (0x1380, Some(1)),
    (0x1383, Some(2)),
    (0x1402, None),
    (0x1403, None),
    (0x8081, None),
];

/// A synthetic frame plus the offsets of its length-like fields, so mutations can target them.
struct Synth {
    bytes: Vec<u8>,
    /// Offsets of one-octet counts/lengths (sm_length, number_of_dests, no_unsuccess).
    u8_lengths: Vec<usize>,
    /// Offsets of two-octet TLV length fields.
    u16_lengths: Vec<usize>,
}

fn push_cstring(rng: &mut XorShift, out: &mut Vec<u8>, max: usize) {
    // Mostly valid (0..max-1 characters), sometimes too long or printable-but-odd.
    let len = if rng.one_in(16) {
        max + rng.below(4)
    } else {
        rng.below(max)
    };
    for _ in 0..len {
        let c = if rng.one_in(32) {
            rng.byte() | 1 // any non-NUL octet, including non-ASCII
        } else {
            b' ' + (rng.below(95) as u8)
        };
        out.push(c);
    }
    if !rng.one_in(64) {
        out.push(0);
    }
}

fn push_time(rng: &mut XorShift, out: &mut Vec<u8>) {
    match rng.below(4) {
        0 | 1 => out.push(0),
        2 => {
            for _ in 0..15 {
                out.push(b'0' + rng.below(10) as u8);
            }
            out.push(*[b'R', b'+', b'-'].get(rng.below(3)).unwrap_or(&b'R'));
            out.push(0);
        }
        _ => push_cstring(rng, out, 19),
    }
}

fn push_tlvs(rng: &mut XorShift, s: &mut Synth) {
    for _ in 0..rng.below(5) {
        let (tag, len) = if rng.one_in(8) {
            (rng.next_u64() as u16, None)
        } else {
            TLV_TAGS[rng.below(TLV_TAGS.len())]
        };
        let len = match len {
            Some(n) if !rng.one_in(8) => n,
            _ => {
                if rng.one_in(4) {
                    rng.below(300)
                } else {
                    rng.below(24)
                }
            }
        };
        s.bytes.extend_from_slice(&tag.to_be_bytes());
        s.u16_lengths.push(s.bytes.len());
        s.bytes.extend_from_slice(&(len as u16).to_be_bytes());
        // String-like TLVs usually end in NUL; give the decoder both shapes.
        for i in 0..len {
            let b = if i + 1 == len && rng.one_in(2) {
                0
            } else {
                rng.byte()
            };
            s.bytes.push(b);
        }
    }
}

/// A structurally plausible frame for a random operation (or an unknown one).
fn synth(rng: &mut XorShift) -> Synth {
    let mut s = Synth {
        bytes: vec![0; 16],
        u8_lengths: Vec::new(),
        u16_lengths: Vec::new(),
    };
    let (command_id, layout): (u32, &[Field]) = if rng.one_in(20) {
        (rng.next_u64() as u32 & 0x8000_01FF, &[])
    } else {
        LAYOUTS[rng.below(LAYOUTS.len())]
    };
    for field in layout {
        match *field {
            C(max) => push_cstring(rng, &mut s.bytes, max),
            I1 => s.bytes.push(rng.byte()),
            Time => push_time(rng, &mut s.bytes),
            Sm => {
                let len = if rng.one_in(3) { 0 } else { rng.below(256) };
                s.u8_lengths.push(s.bytes.len());
                s.bytes.push(len as u8);
                s.bytes.extend((0..len).map(|_| rng.byte()));
            }
            Dests => {
                let n = rng.below(6);
                s.u8_lengths.push(s.bytes.len());
                s.bytes.push(n as u8);
                for _ in 0..n {
                    let flag = if rng.one_in(10) {
                        rng.byte()
                    } else {
                        1 + rng.below(2) as u8
                    };
                    s.bytes.push(flag);
                    if flag == 1 {
                        s.bytes.extend_from_slice(&[rng.byte(), rng.byte()]);
                    }
                    push_cstring(rng, &mut s.bytes, 21);
                }
            }
            Unsuccess => {
                let n = rng.below(5);
                s.u8_lengths.push(s.bytes.len());
                s.bytes.push(n as u8);
                for _ in 0..n {
                    s.bytes.extend_from_slice(&[rng.byte(), rng.byte()]);
                    push_cstring(rng, &mut s.bytes, 21);
                    s.bytes
                        .extend_from_slice(&(rng.next_u64() as u32).to_be_bytes());
                }
            }
            Tlvs => push_tlvs(rng, &mut s),
        }
    }
    if layout.is_empty() && command_id & 0x8000_0000 == 0 && rng.one_in(2) {
        // Unknown operations (and junk after header-only ones) carry an opaque body.
        s.bytes.extend((0..rng.below(40)).map(|_| rng.byte()));
    }
    let status = if rng.one_in(2) {
        0
    } else {
        rng.next_u64() as u32
    };
    let seq = rng.next_u64() as u32;
    let len = s.bytes.len() as u32;
    s.bytes[0..4].copy_from_slice(&len.to_be_bytes());
    s.bytes[4..8].copy_from_slice(&command_id.to_be_bytes());
    s.bytes[8..12].copy_from_slice(&status.to_be_bytes());
    s.bytes[12..16].copy_from_slice(&seq.to_be_bytes());
    s
}

fn set_command_length(buf: &mut [u8], len: u32) {
    if let Some(head) = buf.get_mut(0..4) {
        head.copy_from_slice(&len.to_be_bytes());
    }
}

/// Applies 1..=3 random mutations; afterwards command_length is usually fixed up to the new
/// size so the mutated body reaches the decoder instead of stopping at framing.
fn mutate(rng: &mut XorShift, s: &mut Synth) {
    let buf = &mut s.bytes;
    let mut fix_length = !rng.one_in(4);
    for _ in 0..1 + rng.below(3) {
        match rng.below(9) {
            0 | 1 if !buf.is_empty() => {
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(buf.len());
                    buf[i] ^= 1 << rng.below(8);
                }
            }
            2 if !buf.is_empty() => {
                let cut = rng.below(buf.len());
                buf.truncate(cut);
            }
            3 => {
                let cur = buf.len() as u32;
                let len = match rng.below(6) {
                    0 => 0,
                    1 => u32::MAX,
                    2 => rng.next_u64() as u32,
                    3 => 16 + rng.below(8) as u32,
                    4 => DEFAULT_MAX_PDU_SIZE as u32 + rng.below(3) as u32 - 1,
                    _ => cur.wrapping_add(rng.below(9) as u32).wrapping_sub(4),
                };
                set_command_length(buf, len);
                fix_length = false;
            }
            4 if !s.u8_lengths.is_empty() => {
                let at = s.u8_lengths[rng.below(s.u8_lengths.len())];
                if let Some(b) = buf.get_mut(at) {
                    *b = match rng.below(3) {
                        0 => b.wrapping_add(1 + rng.below(3) as u8),
                        1 => b.wrapping_sub(1 + rng.below(3) as u8),
                        _ => rng.byte(),
                    };
                }
            }
            5 if !s.u16_lengths.is_empty() => {
                let at = s.u16_lengths[rng.below(s.u16_lengths.len())];
                if let Some(field) = buf.get_mut(at..at + 2) {
                    let old = u16::from_be_bytes([field[0], field[1]]);
                    let new = match rng.below(3) {
                        0 => old.wrapping_add(1 + rng.below(4) as u16),
                        1 => old.wrapping_sub(1 + rng.below(4) as u16),
                        _ => rng.next_u64() as u16,
                    };
                    field.copy_from_slice(&new.to_be_bytes());
                }
            }
            6 => {
                let at = rng.below(buf.len() + 1);
                let n = 1 + rng.below(8);
                let ins: Vec<u8> = (0..n)
                    .map(|_| if rng.one_in(2) { 0 } else { rng.byte() })
                    .collect();
                buf.splice(at..at, ins);
            }
            7 if !buf.is_empty() => {
                let at = rng.below(buf.len());
                let end = (at + 1 + rng.below(8)).min(buf.len());
                buf.drain(at..end);
            }
            _ => {
                // Overwrite the command_id with a neighbouring or random one: bodies decoded
                // under the wrong layout are a classic source of out-of-bounds reads.
                let id = if rng.one_in(2) {
                    LAYOUTS[rng.below(LAYOUTS.len())].0
                } else {
                    rng.next_u64() as u32
                };
                if let Some(field) = buf.get_mut(4..8) {
                    field.copy_from_slice(&id.to_be_bytes());
                }
            }
        }
    }
    if fix_length {
        let len = buf.len() as u32;
        set_command_length(buf, len);
    }
}

fn be32(buf: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&buf[at..at + 4]);
    u32::from_be_bytes(word)
}

#[derive(Default)]
struct Stats {
    fed: usize,
    framed: usize,
    decoded: usize,
    rejected: usize,
    /// Successful decodes per command_id, to show every operation's decoder was reached.
    decoded_ids: std::collections::HashMap<u32, usize>,
}

/// Feeds one buffer through `check`, then `decode`, asserting the properties listed at the
/// top of the file. `what` describes the input for failure messages.
fn feed(buf: &[u8], stats: &mut Stats, what: &dyn Fn() -> String) {
    stats.fed += 1;
    // The decoder is total even on buffers `check` would not hand it.
    let _ = Pdu::decode(buf);

    let checked = codec::check(buf, DEFAULT_MAX_PDU_SIZE);
    let header_len = (buf.len() >= 4).then(|| be32(buf, 0));
    match checked {
        Ok(None) => {
            if let Some(len) = header_len {
                assert!(
                    (len as usize) > buf.len() && (16..=DEFAULT_MAX_PDU_SIZE).contains(&(len as usize)),
                    "check asked for more bytes although command_length {len} is complete or invalid \
                     in a {}-octet buffer: {}",
                    buf.len(),
                    what()
                );
            }
        }
        Err(_) => {
            let len = header_len.unwrap_or_else(|| panic!("check failed on <4 octets: {}", what()));
            assert!(
                len < 16 || len as usize > DEFAULT_MAX_PDU_SIZE,
                "check rejected a sane command_length {len}: {}",
                what()
            );
        }
        Ok(Some(n)) => {
            stats.framed += 1;
            assert!(
                n <= buf.len(),
                "check returned {n} > buffer {}: {}",
                buf.len(),
                what()
            );
            assert!(
                n >= 16,
                "check returned a frame of {n} < 16 octets: {}",
                what()
            );
            assert_eq!(
                Some(n as u32),
                header_len,
                "check disagrees with the header: {}",
                what()
            );
            decode_frame(&buf[..n], stats, what);
        }
    }
}

fn decode_frame(frame: &[u8], stats: &mut Stats, what: &dyn Fn() -> String) {
    let (id, status, seq) = (be32(frame, 4), be32(frame, 8), be32(frame, 12));
    match Pdu::decode(frame) {
        Ok(pdu) => {
            stats.decoded += 1;
            *stats.decoded_ids.entry(id).or_default() += 1;
            assert_eq!(
                pdu.command_id(),
                CommandId(id),
                "command_id lost: {}",
                what()
            );
            assert_eq!(
                pdu.command_status,
                CommandStatus(status),
                "status lost: {}",
                what()
            );
            assert_eq!(pdu.sequence_number, seq, "sequence lost: {}", what());
            let mut out = Vec::with_capacity(frame.len());
            pdu.encode(&mut out);
            assert_eq!(
                out.len(),
                pdu.encoded_len(),
                "encoded_len is wrong: {}",
                what()
            );
            assert!(
                out.len() >= 16,
                "re-encoded frame shorter than a header: {}",
                what()
            );
            assert_eq!(
                be32(&out, 0) as usize,
                out.len(),
                "re-encoded command_length differs from the frame's length: {}",
                what()
            );
            // Re-encoding is canonical, so decoding it again must give the same PDU.
            match Pdu::decode(&out) {
                Ok(again) => assert_eq!(again, pdu, "decode(encode(x)) != x: {}", what()),
                Err(e) => panic!("our own encoding does not decode ({e:?}): {}", what()),
            }
        }
        Err(e) => {
            stats.rejected += 1;
            assert_eq!(
                e.command_id,
                CommandId(id),
                "error lost the command_id: {}",
                what()
            );
            assert_eq!(
                e.sequence_number,
                seq,
                "error lost the sequence_number: {}",
                what()
            );
            assert!(
                !e.status().is_ok(),
                "a decode error maps to ESME_ROK: {e:?}: {}",
                what()
            );
            assert!(
                !e.field.is_empty(),
                "a decode error names no field: {}",
                what()
            );
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

#[test]
fn decoder_never_panics_on_random_and_mutated_frames() {
    let seed = env_u64("TUMA_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let iters = env_u64("TUMA_FUZZ_ITERS").map_or(DEFAULT_ITERS, |n| n as usize);
    println!(
        "never_panics: seed {seed:#x}, {iters} mutated frames (replay: TUMA_FUZZ_SEED={seed:#x})"
    );
    let mut rng = XorShift::new(seed);
    let mut stats = Stats::default();

    let corpus: Vec<Vec<u8>> = VECTORS.iter().map(|(_, h)| hex(h)).collect();
    // Every public vector must decode cleanly before we start breaking them.
    for (bytes, (name, _)) in corpus.iter().zip(VECTORS) {
        feed(bytes, &mut stats, &|| format!("vector {name}"));
        assert!(Pdu::decode(bytes).is_ok(), "vector {name} does not decode");
    }

    for i in 0..iters {
        let mut s = match rng.below(8) {
            // Pure noise, sometimes with a plausible length prefix.
            0 => {
                let n = rng.below(64);
                let mut bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
                if n >= 4 && rng.one_in(2) {
                    set_command_length(&mut bytes, n as u32);
                }
                Synth {
                    bytes,
                    u8_lengths: Vec::new(),
                    u16_lengths: Vec::new(),
                }
            }
            1 | 2 => Synth {
                bytes: corpus[rng.below(corpus.len())].clone(),
                u8_lengths: Vec::new(),
                u16_lengths: Vec::new(),
            },
            _ => synth(&mut rng),
        };
        // One in eight synthetic frames is fed unmutated: it should usually decode.
        if !rng.one_in(8) {
            mutate(&mut rng, &mut s);
        }
        let bytes = &s.bytes;
        feed(bytes, &mut stats, &|| {
            format!(
                "iteration {i} (seed {seed:#x}), input {}",
                bytes.iter().map(|b| format!("{b:02X}")).collect::<String>()
            )
        });
    }

    println!(
        "never_panics: fed {} buffers, {} framed, {} decoded, {} rejected with an error",
        stats.fed, stats.framed, stats.decoded, stats.rejected
    );
    // The generator must actually exercise both paths, or the test proves little.
    assert!(stats.fed > iters, "fewer buffers than iterations");
    assert!(
        stats.decoded > iters / 20,
        "too few inputs decoded: {}",
        stats.decoded
    );
    assert!(
        stats.rejected > iters / 20,
        "too few inputs rejected: {}",
        stats.rejected
    );
    for (id, _) in LAYOUTS {
        let n = stats.decoded_ids.get(id).copied().unwrap_or(0);
        assert!(
            n > iters / 1000,
            "operation {id:#010x} decoded only {n} times"
        );
    }
}

/// Every proper prefix of a valid frame is "incomplete", never an error or a short frame:
/// this is what lets a session read a TCP stream in arbitrary chunks.
#[test]
fn check_reports_incomplete_for_every_prefix() {
    for (name, h) in VECTORS {
        let frame = hex(h);
        for k in 0..frame.len() {
            assert_eq!(
                codec::check(&frame[..k], DEFAULT_MAX_PDU_SIZE).ok(),
                Some(None),
                "{name}: prefix of {k} octets"
            );
        }
        let mut stream = frame.clone();
        stream.extend_from_slice(&frame);
        assert_eq!(
            codec::check(&stream, DEFAULT_MAX_PDU_SIZE).ok(),
            Some(Some(frame.len())),
            "{name}: a frame followed by more data"
        );
    }
}
