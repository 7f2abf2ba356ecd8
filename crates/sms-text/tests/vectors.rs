//! Golden vectors from /work/shared/reference/test-vectors.md §A (G*, U*, F*, H*) and the
//! constructed segmentation vectors of §F (S1-S6, C1, C2 short_message bytes).

use sms_text::gsm7::{self, Padding};
use sms_text::udh::{self, Concatenation, Ports, Reference};
use sms_text::{encode, estimate, segment, Concat, Encoding, Gsm7Form, Options};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len() % 2 == 0, "odd hex length in test vector");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test vector is hex"))
        .collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Packs `text` (no UDH), checks the hex, then unpacks with the septet count and decodes.
fn check_packed(text: &str, expected: &str, padding: Padding) {
    let septets = gsm7::encode_unpacked(text).unwrap();
    let packed = gsm7::pack(&septets, 0, padding);
    assert_eq!(to_hex(&packed), expected, "pack({text:?})");
    let back = gsm7::unpack(&hex(expected), 0, septets.len()).unwrap();
    assert_eq!(
        gsm7::decode_unpacked(&back).unwrap(),
        text,
        "unpack({expected})"
    );
}

#[test]
fn g1_to_g3_classic_texts() {
    check_packed("hellohello", "E8329BFD4697D9EC37", Padding::Zero);
    check_packed("Hello world", "C8329BFD06DDDF723619", Padding::Zero);
    check_packed("Hello World!", "C8329BFD065DDF72363904", Padding::Zero);
}

#[test]
fn g4_short_digit_strings() {
    check_packed("1", "31", Padding::Cr);
    check_packed("12", "3119", Padding::Cr);
    check_packed("123", "31D90C", Padding::Cr);
}

#[test]
fn g5_g6_seven_septets_zero_and_cr_fill() {
    check_packed("1234567", "31D98C56B3DD00", Padding::Zero);
    check_packed("1234567", "31D98C56B3DD1A", Padding::Cr);
    // The receiving side of the CR rule: the padding CR is dropped, a zero fill reads as '@'.
    let s = gsm7::unpack_all(&hex("31D98C56B3DD1A"), 0);
    assert_eq!(gsm7::decode_unpacked(&s).unwrap(), "1234567");
    let s = gsm7::unpack_all(&hex("31D98C56B3DD00"), 0);
    assert_eq!(gsm7::decode_unpacked(&s).unwrap(), "1234567@");
}

#[test]
fn g7_g8_octet_boundaries() {
    check_packed("12345678", "31D98C56B3DD70", Padding::Cr);
    check_packed("123456789", "31D98C56B3DD7039", Padding::Cr);
}

#[test]
fn g9_to_g11_extension_characters() {
    check_packed(
        "^{}\\[~]|€",
        "1BCA06B5496D5E1BDEA6B7F16D809B32",
        Padding::Cr,
    );
    check_packed("[{abc}]~", "1BDE0615168F37A98D6FD303", Padding::Cr);
    check_packed("a[]{}€", "E10D6FE3DBA036A94D19", Padding::Cr);
}

/// The basic table in order without LF, CR and ESC, typed from the reference table (§1), not
/// derived from the crate's own table.
const FULL_TABLE: &str = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

#[test]
fn g12_whole_basic_table_packed() {
    assert_eq!(FULL_TABLE.chars().count(), 125);
    let septets = gsm7::encode_unpacked(FULL_TABLE).unwrap();
    let packed = to_hex(&gsm7::pack(&septets, 0, Padding::Zero));
    assert!(packed.starts_with("808060402818"), "{packed}");
    assert!(packed.ends_with("7EDFFF07"), "{packed}");
    assert_eq!(packed.len() / 2, (125 * 7usize).div_ceil(8));
    let back = gsm7::unpack(&hex(&packed), 0, 125).unwrap();
    assert_eq!(gsm7::decode_unpacked(&back).unwrap(), FULL_TABLE);
}

#[test]
fn u1_to_u4_unpacked() {
    for (text, expected) in [
        ("12345[6", "31323334351B3C36"),
        ("^{}\\[~]|€", "1B141B281B291B2F1B3C1B3D1B3E1B401B65"),
        ("\u{0C}", "1B0A"),
        ("@", "00"),
        ("^", "1B14"),
    ] {
        let bytes = gsm7::encode_unpacked(text).unwrap();
        assert_eq!(to_hex(&bytes), expected, "{text:?}");
        assert_eq!(gsm7::decode_unpacked(&bytes).unwrap(), text);
        assert_eq!(sms_text::decode(0x00, &bytes).unwrap(), text);
    }
}

#[test]
fn u5_whole_basic_table_unpacked() {
    let expected: Vec<u8> = (0u8..128)
        .filter(|b| ![0x0A, 0x0D, 0x1B].contains(b))
        .collect();
    assert_eq!(gsm7::encode_unpacked(FULL_TABLE).unwrap(), expected);
    assert_eq!(gsm7::decode_unpacked(&expected).unwrap(), FULL_TABLE);
}

#[test]
fn f1_f2_fill_bit_after_six_octet_udh() {
    let fill = gsm7::fill_bits(6);
    assert_eq!(fill, 1);
    let s1 = gsm7::encode_unpacked("12345678901").unwrap();
    assert_eq!(
        to_hex(&gsm7::pack(&s1, fill, Padding::Cr)),
        "62B219AD66BBE172B018"
    );
    let s2 = gsm7::encode_unpacked("23456789").unwrap();
    assert_eq!(
        to_hex(&gsm7::pack(&s2, fill, Padding::Cr)),
        "64335ACD76C3E51A"
    );
    // And back, both with the count and inferring it (the CR padding is dropped).
    assert_eq!(gsm7::unpack(&hex("64335ACD76C3E51A"), fill, 8).unwrap(), s2);
    assert_eq!(gsm7::unpack_all(&hex("64335ACD76C3E51A"), fill), s2);
}

const LOREM: &str = "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.Ut enim ad minim veniam, quinostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.Duis aute irure dolor in reprehenderit in voluptate velit esse cillum doloe eu fugiat nulla pariatur.Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum";

#[test]
fn f3_packed_concatenated_part_is_byte_exact() {
    let options = Options {
        concat: Concat::Udh8 { reference: 0 },
        gsm7_form: Gsm7Form::Packed,
        ..Options::default()
    };
    let msg = encode(LOREM, &options).unwrap();
    assert_eq!(msg.parts.len(), 3);
    let part1 = &msg.parts[0];
    let expected = "050003000301986F79B90D4AC3E7F53688FC66BFE5A0799A0E0AB7CB741668FC76CFCB637A995E9783C2E4343C3D4F8FD3EE33A8CC4ED359A079990C22BF41E5747DDE7E9341F4721BFE9683D2EE719A9C26D7DD74509D0E6287C56F791954A683C86FF65B5E06B5C36777181466A7E3F5B0AB4A0795DDE936284C06B5D3EE741B642FBBD3E1360B14AFA7DD";
    assert_eq!(to_hex(&part1.short_message), expected);
    assert_eq!(part1.short_message.len(), 140);
    assert_eq!(part1.units, 153);
    assert!(part1.udhi);
    // TP-UDL would be 7 UDH septets + 153 = 160 (0xA0).
    assert_eq!(7 + part1.units, 0xA0);
}

#[test]
fn h1_udh_for_ref_0x42_part_1_of_3() {
    let mut out = Vec::new();
    Concatenation {
        reference: Reference::Eight(0x42),
        total: 3,
        sequence: 1,
    }
    .write_udh(&mut out);
    assert_eq!(to_hex(&out), "050003420301");
    // encode() produces the same header for a 3-part message with that reference.
    let text = "x".repeat(153 * 2 + 1);
    let msg = encode(
        &text,
        &Options {
            concat: Concat::Udh8 { reference: 0x42 },
            ..Options::default()
        },
    )
    .unwrap();
    for (i, part) in msg.parts.iter().enumerate() {
        assert_eq!(
            part.short_message[..6],
            hex(&format!("0500034203{:02X}", i + 1))
        );
    }
}

#[test]
fn h2_h3_concatenation_elements() {
    let c8 = Concatenation {
        reference: Reference::Eight(23),
        total: 3,
        sequence: 1,
    };
    let mut out = Vec::new();
    c8.write_ie(&mut out);
    assert_eq!(to_hex(&out), "0003170301");
    let c16 = Concatenation {
        reference: Reference::Sixteen(384),
        total: 4,
        sequence: 2,
    };
    let mut out = Vec::new();
    c16.write_ie(&mut out);
    assert_eq!(to_hex(&out), "080401800402");
    // Parse them back inside a UDH (UDHL prepended).
    for (ie, expected) in [("0003170301", c8), ("080401800402", c16)] {
        let mut data = vec![(ie.len() / 2) as u8];
        data.extend(hex(ie));
        let (parsed, payload) = udh::parse(&data).unwrap();
        assert!(payload.is_empty());
        assert_eq!(parsed.concatenation().unwrap(), Some(expected));
    }
}

#[test]
fn h4_h5_port_elements() {
    for (ie, destination, originator, wide) in [
        ("04026432", 100, 50, false),
        ("050404D21466", 1234, 5222, true),
    ] {
        let bytes = hex(ie);
        let mut data = vec![bytes.len() as u8];
        data.extend(&bytes);
        data.extend(b"hi");
        let (parsed, payload) = udh::parse(&data).unwrap();
        assert_eq!(payload, b"hi");
        assert_eq!(
            parsed.ports().unwrap(),
            Some(Ports {
                destination,
                originator,
                wide
            })
        );
        assert_eq!(parsed.concatenation().unwrap(), None);
        // The element is preserved byte for byte.
        assert_eq!(parsed.elements.len(), 1);
        assert_eq!(parsed.elements[0].data, &bytes[2..]);
    }
}

#[test]
fn h6_split_into_two_octet_parts() {
    let text = b"12345";
    let ranges = segment::split(
        text.iter().map(|_| 1),
        segment::Limits {
            single: 2,
            per_part: 2,
        },
    );
    let total = ranges.len() as u8;
    let parts: Vec<String> = ranges
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut out = Vec::new();
            Concatenation {
                reference: Reference::Eight(0x42),
                total,
                sequence: i as u8 + 1,
            }
            .write_udh(&mut out);
            out.extend(&text[r.clone()]);
            to_hex(&out)
        })
        .collect();
    assert_eq!(
        parts,
        ["0500034203013132", "0500034203023334", "05000342030335"]
    );
}

/// C1 part 1 and part 2 `short_message` bytes (S1: "0123456789" x 17, ref 0x42).
const C1_PART1: &str = "050003420201303132333435363738393031323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536373839303132";
const C1_PART2: &str = "0500034202023334353637383930313233343536373839";

#[test]
fn s1_c1_two_part_gsm7_message() {
    let text = "0123456789".repeat(17);
    let options = Options {
        concat: Concat::Udh8 { reference: 0x42 },
        ..Options::default()
    };
    let msg = encode(&text, &options).unwrap();
    assert_eq!(msg.encoding, Encoding::Gsm7);
    assert_eq!(msg.data_coding, 0x00);
    assert_eq!(msg.parts.len(), 2);
    assert_eq!(to_hex(&msg.parts[0].short_message), C1_PART1);
    assert_eq!(to_hex(&msg.parts[1].short_message), C1_PART2);
    assert_eq!(msg.parts[0].short_message.len(), 159);
    assert_eq!(msg.parts[1].short_message.len(), 23);
    assert_eq!([msg.parts[0].units, msg.parts[1].units], [153, 17]);
    assert!(msg.parts.iter().all(|p| p.udhi && p.sar.is_none()));
    let est = estimate(&text, &options);
    assert_eq!((est.segments, est.units, est.remaining), (2, 170, 153 - 17));
}

#[test]
fn s2_euro_moves_to_part_two() {
    let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
    let msg = encode(&text, &Options::default()).unwrap();
    assert_eq!(msg.parts.len(), 2);
    assert_eq!([msg.parts[0].units, msg.parts[1].units], [152, 12]);
    assert_eq!(msg.parts[1].short_message[6..8], [0x1B, 0x65]);
    assert_eq!(estimate(&text, &Options::default()).units, 164);
}

#[test]
fn s3_surrogate_pair_moves_to_part_two() {
    let text = format!("{}😀{}", "a".repeat(66), "b".repeat(10));
    let msg = encode(&text, &Options::default()).unwrap();
    assert_eq!(msg.encoding, Encoding::Ucs2);
    assert_eq!(msg.parts.len(), 2);
    assert_eq!([msg.parts[0].units, msg.parts[1].units], [66, 12]);
    assert_eq!(msg.parts[1].short_message[6..10], [0xD8, 0x3D, 0xDE, 0x00]);
}

#[test]
fn s4_s5_single_limit() {
    let msg = encode(&"x".repeat(160), &Options::default()).unwrap();
    assert_eq!(msg.parts.len(), 1);
    assert!(!msg.parts[0].udhi);
    assert_eq!(msg.parts[0].short_message, vec![b'x'; 160]);
    let text = format!("{}€", "x".repeat(159));
    let msg = encode(&text, &Options::default()).unwrap();
    assert_eq!(msg.parts.len(), 2);
    assert_eq!(estimate(&text, &Options::default()).units, 161);
}

#[test]
fn s6_c2_ucs2_with_surrogate_pair() {
    let msg = encode("Hi 😀", &Options::default()).unwrap();
    assert_eq!(msg.encoding, Encoding::Ucs2);
    assert_eq!(msg.data_coding, 0x08);
    assert_eq!(msg.parts.len(), 1);
    assert_eq!(to_hex(&msg.parts[0].short_message), "004800690020D83DDE00");
    assert!(!msg.parts[0].udhi);
    let est = estimate("Hi 😀", &Options::default());
    assert_eq!((est.units, est.characters, est.remaining), (5, 4, 65));
}
