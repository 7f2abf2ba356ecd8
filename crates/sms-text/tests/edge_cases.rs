//! Boundary cases of the segmenter, the encoding choice, transliteration, decoding and
//! reassembly.

use sms_text::gsm7;
use sms_text::{
    decode, encode, estimate, reassemble, Concat, DecodeError, EncodedMessage, Encoding,
    ForcedChar, Fragment, Gsm7Form, Options, ReassemblyError, SarInfo, TextError,
};

fn fragments(msg: &EncodedMessage) -> Vec<Fragment<'_>> {
    msg.parts
        .iter()
        .map(|p| Fragment {
            data_coding: msg.data_coding,
            udhi: p.udhi,
            short_message: &p.short_message,
            sar: p.sar,
        })
        .collect()
}

fn with_udh(data_coding: u8, short_message: &[u8]) -> Fragment<'_> {
    Fragment {
        data_coding,
        udhi: true,
        short_message,
        sar: None,
    }
}

fn units(msg: &EncodedMessage) -> Vec<usize> {
    msg.parts.iter().map(|p| p.units).collect()
}

#[test]
fn exactly_160_and_161_gsm_characters() {
    let o = Options::default();
    let m = encode(&"a".repeat(160), &o).unwrap();
    assert_eq!(units(&m), [160]);
    assert!(!m.parts[0].udhi);
    let e = estimate(&"a".repeat(160), &o);
    assert_eq!((e.segments, e.per_segment_limit, e.remaining), (1, 160, 0));

    let m = encode(&"a".repeat(161), &o).unwrap();
    assert_eq!(units(&m), [153, 8]);
    let e = estimate(&"a".repeat(161), &o);
    assert_eq!(
        (e.segments, e.per_segment_limit, e.remaining),
        (2, 153, 145)
    );
}

#[test]
fn exactly_70_and_71_ucs2_units() {
    let o = Options::default();
    let m = encode(&"ж".repeat(70), &o).unwrap();
    assert_eq!(m.encoding, Encoding::Ucs2);
    assert_eq!(units(&m), [70]);
    assert_eq!(m.parts[0].short_message.len(), 140);
    let m = encode(&"ж".repeat(71), &o).unwrap();
    assert_eq!(units(&m), [67, 4]);
    assert_eq!(m.parts[0].short_message.len(), 6 + 134);
}

#[test]
fn emoji_straddling_the_67_unit_boundary() {
    let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(5));
    let m = encode(&text, &Options::default()).unwrap();
    assert_eq!(units(&m), [66, 7]);
    // Each part is valid UTF-16 on its own: the pair was not split.
    for p in &m.parts {
        sms_text::ucs2::decode(&p.short_message[6..]).unwrap();
    }
    // With a 16-bit reference the boundary is at 66: the emoji at units 65-66 straddles it.
    let text = format!("{}😀{}", "ж".repeat(65), "ж".repeat(5));
    let o = Options {
        concat: Concat::Udh16 { reference: 0x1234 },
        ..Options::default()
    };
    let m = encode(&text, &o).unwrap();
    assert_eq!(units(&m), [65, 7]);
    assert_eq!(m.parts[0].short_message[..7], [6, 8, 4, 0x12, 0x34, 2, 1]);
    assert_eq!(estimate(&text, &o).segments, 2);
}

#[test]
fn euro_at_the_153_septet_boundary() {
    // '€' takes septets 152-153: fits exactly.
    let text = format!("{}€{}", "a".repeat(151), "b".repeat(20));
    assert_eq!(
        units(&encode(&text, &Options::default()).unwrap()),
        [153, 20]
    );
    // '€' would take septets 153-154: it moves whole to part 2 (S2).
    let text = format!("{}€{}", "a".repeat(152), "b".repeat(20));
    let m = encode(&text, &Options::default()).unwrap();
    assert_eq!(units(&m), [152, 22]);
    assert_eq!(*m.parts[0].short_message.last().unwrap(), b'a');
}

#[test]
fn empty_text_is_one_empty_part() {
    let e = estimate("", &Options::default());
    assert_eq!(
        (e.encoding, e.characters, e.units, e.segments, e.remaining),
        (Encoding::Gsm7, 0, 0, 1, 160)
    );
    let m = encode("", &Options::default()).unwrap();
    assert_eq!(m.parts.len(), 1);
    assert!(m.parts[0].short_message.is_empty());
    assert_eq!(reassemble(&fragments(&m)).unwrap(), "");
}

#[test]
fn only_extension_characters() {
    let o = Options::default();
    assert_eq!(units(&encode(&"€".repeat(80), &o).unwrap()), [160]);
    // 81 x 2 = 162 septets: 76 euros (152) fit in part 1, the 77th would need 154.
    let m = encode(&"€".repeat(81), &o).unwrap();
    assert_eq!(units(&m), [152, 10]);
    assert_eq!(reassemble(&fragments(&m)).unwrap(), "€".repeat(81));
    let e = estimate(&"€".repeat(81), &o);
    assert_eq!((e.characters, e.units, e.segments), (81, 162, 2));
}

#[test]
fn at_sign_at_the_end_in_packed_form() {
    let o = Options {
        gsm7_form: Gsm7Form::Packed,
        ..Options::default()
    };
    // 8 septets ending in '@' (0x00): no spare bits, and the '@' survives.
    let m = encode("1234567@", &o).unwrap();
    assert_eq!(
        m.parts[0].short_message,
        [0x31, 0xD9, 0x8C, 0x56, 0xB3, 0xDD, 0x00]
    );
    let s = gsm7::unpack_all(&m.parts[0].short_message, 0);
    assert_eq!(gsm7::decode_unpacked(&s).unwrap(), "1234567@");
    // 7 septets ending in '@': CR padding keeps the receiver from seeing a second '@'.
    let m = encode("123456@", &o).unwrap();
    assert_eq!(m.parts[0].short_message.last(), Some(&0x1A));
    let s = gsm7::unpack_all(&m.parts[0].short_message, 0);
    assert_eq!(gsm7::decode_unpacked(&s).unwrap(), "123456@");
    // A lone '@' is one octet 00.
    assert_eq!(encode("@", &o).unwrap().parts[0].short_message, [0x00]);
}

#[test]
fn cr_fill_in_packed_parts() {
    let o = Options {
        gsm7_form: Gsm7Form::Packed,
        ..Options::default()
    };
    assert_eq!(
        encode("1234567", &o).unwrap().parts[0].short_message,
        [0x31, 0xD9, 0x8C, 0x56, 0xB3, 0xDD, 0x1A]
    );
    // Part 2 of a packed message: 6-octet UDH, 1 fill bit, then 8 septets = 57 bits, so the
    // last octet has 7 spare bits and gets CR (as in vector F2).
    let text = format!("{}23456789", "1".repeat(153));
    let m = encode(&text, &o).unwrap();
    assert_eq!(units(&m), [153, 8]);
    assert_eq!(
        m.parts[1].short_message[6..],
        [0x64, 0x33, 0x5A, 0xCD, 0x76, 0xC3, 0xE5, 0x1A]
    );
    // Every packed part fits the 140-octet TP-UD.
    assert!(m.parts.iter().all(|p| p.short_message.len() <= 140));
}

#[test]
fn too_many_parts_is_an_error() {
    let text = "a".repeat(153 * 255 + 1);
    assert_eq!(
        encode(&text, &Options::default()),
        Err(TextError::TooManyParts {
            parts: 256,
            max: 255
        })
    );
    assert_eq!(estimate(&text, &Options::default()).segments, 256);
    assert_eq!(
        encode(&"a".repeat(153 * 255), &Options::default())
            .unwrap()
            .parts
            .len(),
        255
    );
    let capped = Options {
        max_parts: 3,
        ..Options::default()
    };
    assert_eq!(
        encode(&"a".repeat(153 * 3 + 1), &capped),
        Err(TextError::TooManyParts { parts: 4, max: 3 })
    );
    let zero = Options {
        max_parts: 0,
        ..Options::default()
    };
    assert_eq!(encode("a", &zero), Err(TextError::ZeroMaxParts));
}

#[test]
fn reports_the_characters_that_forced_ucs2() {
    let e = estimate("Hi 😀 wörld — ok 😀", &Options::default());
    assert_eq!(e.encoding, Encoding::Ucs2);
    assert_eq!(
        e.ucs2_characters,
        [
            ForcedChar {
                character: '😀',
                first_index: 3,
                count: 2
            },
            ForcedChar {
                character: '—',
                first_index: 11,
                count: 1
            },
        ]
    );
    // Many distinct characters (beyond the linear-search threshold) are still tallied right.
    let text: String = ('А'..='я').chain('А'..='я').collect();
    let e = estimate(&text, &Options::default());
    assert_eq!(e.ucs2_characters.len(), 64);
    assert!(e.ucs2_characters.iter().all(|f| f.count == 2));
    assert_eq!(e.ucs2_characters[10].first_index, 10);
}

#[test]
fn transliteration_makes_word_processor_text_gsm7() {
    let text = "\u{201C}Hello\u{201D} \u{2014} it\u{2019}s\u{2026} fa\u{00E7}ade";
    let plain = estimate(text, &Options::default());
    assert_eq!(plain.encoding, Encoding::Ucs2);
    assert!(!plain.transliterated());

    let o = Options {
        transliterate: true,
        ..Options::default()
    };
    let e = estimate(text, &o);
    assert_eq!(e.encoding, Encoding::Gsm7);
    assert!(e.transliterated());
    let replaced: Vec<(char, &str, usize)> = e
        .transliterations
        .iter()
        .map(|r| (r.from, r.to.as_str(), r.count))
        .collect();
    assert_eq!(
        replaced,
        [
            ('\u{201C}', "\"", 1),
            ('\u{201D}', "\"", 1),
            ('\u{2014}', "-", 1),
            ('\u{2019}', "'", 1),
            ('\u{2026}', "...", 1),
            ('ç', "Ç", 1),
        ]
    );
    let m = encode(text, &o).unwrap();
    assert_eq!(m.encoding, Encoding::Gsm7);
    assert_eq!(
        reassemble(&fragments(&m)).unwrap(),
        "\"Hello\" - it's... faÇade"
    );
    assert_eq!(e.characters, "\"Hello\" - it's... faÇade".chars().count());
}

#[test]
fn transliteration_is_skipped_when_ucs2_is_needed_anyway() {
    let o = Options {
        transliterate: true,
        ..Options::default()
    };
    let text = "It\u{2019}s done \u{1F44D}";
    let e = estimate(text, &o);
    assert_eq!(e.encoding, Encoding::Ucs2);
    assert!(e.transliterations.is_empty());
    // Only the emoji is reported: the apostrophe alone would not have forced UCS-2.
    assert_eq!(e.ucs2_characters.len(), 1);
    assert_eq!(e.ucs2_characters[0].character, '\u{1F44D}');
    let m = encode(text, &o).unwrap();
    assert_eq!(reassemble(&fragments(&m)).unwrap(), text);
}

#[test]
fn nfc_normalisation_can_avoid_ucs2() {
    let decomposed = "Cafe\u{0301}";
    let e = estimate(decomposed, &Options::default());
    assert_eq!((e.encoding, e.units, e.characters), (Encoding::Gsm7, 4, 4));
    let raw = Options {
        normalize: false,
        ..Options::default()
    };
    let e = estimate(decomposed, &raw);
    assert_eq!((e.encoding, e.units), (Encoding::Ucs2, 5));
    assert_eq!(e.ucs2_characters[0].character, '\u{0301}');
}

#[test]
fn force_ucs2() {
    let o = Options {
        force_ucs2: true,
        ..Options::default()
    };
    let m = encode("abc", &o).unwrap();
    assert_eq!((m.encoding, m.data_coding), (Encoding::Ucs2, 0x08));
    assert_eq!(m.parts[0].short_message, [0, b'a', 0, b'b', 0, b'c']);
    assert!(estimate("abc", &o).ucs2_characters.is_empty());
}

#[test]
fn sar_parts_have_no_udh_and_carry_the_values() {
    let o = Options {
        concat: Concat::Sar { reference: 777 },
        ..Options::default()
    };
    let text = "b".repeat(200);
    let m = encode(&text, &o).unwrap();
    assert_eq!(units(&m), [153, 47]);
    for (i, p) in m.parts.iter().enumerate() {
        assert!(!p.udhi);
        assert_eq!(
            p.sar,
            Some(SarInfo {
                reference: 777,
                total: 2,
                sequence: i as u8 + 1
            })
        );
        assert!(p.short_message.iter().all(|&b| b == b'b'));
    }
    // A short text has no SAR values.
    assert_eq!(encode("hi", &o).unwrap().parts[0].sar, None);
    assert_eq!(reassemble(&fragments(&m)).unwrap(), text);
}

#[test]
fn payload_mode_keeps_the_text_whole() {
    let o = Options {
        concat: Concat::Payload,
        ..Options::default()
    };
    let text = "p".repeat(400);
    let m = encode(&text, &o).unwrap();
    assert!(m.message_payload);
    assert_eq!(m.parts.len(), 1);
    assert!(!m.parts[0].udhi);
    assert_eq!(m.parts[0].short_message.len(), 400);
    assert_eq!(estimate(&text, &o).segments, 3);
    let short = encode("hi", &o).unwrap();
    assert!(!short.message_payload);
}

#[test]
fn decode_by_data_coding() {
    assert_eq!(decode(0x00, &[0x48, 0x69, 0x00]).unwrap(), "Hi@");
    assert_eq!(decode(0x01, b"Hi@").unwrap(), "Hi@");
    assert_eq!(
        decode(0x01, &[0x48, 0xE9]),
        Err(DecodeError::NonAscii {
            offset: 1,
            value: 0xE9
        })
    );
    assert_eq!(decode(0x03, &[0x48, 0xE9]).unwrap(), "Hé");
    assert_eq!(
        decode(0x08, &[0x04, 0x1F, 0xD8, 0x3D, 0xDE, 0x00]).unwrap(),
        "П😀"
    );
    assert_eq!(decode(0xF0, &[0x41]).unwrap(), "A");
    assert_eq!(decode(0x18, &[0x00, 0x41]).unwrap(), "A");
    for dcs in [0x02, 0x04, 0x05, 0xF4, 0x24] {
        assert_eq!(
            decode(dcs, b"x"),
            Err(DecodeError::UnsupportedDataCoding { data_coding: dcs })
        );
    }
}

#[test]
fn reassembly_accepts_any_order_and_keeps_other_elements() {
    // Two parts with a port element before the concatenation element, given out of order.
    let p1: &[u8] = &[
        0x0B, 0x05, 0x04, 0x04, 0xD2, 0x14, 0x66, 0x00, 0x03, 0x07, 0x02, 0x01, b'A', b'B',
    ];
    let p2: &[u8] = &[
        0x0B, 0x05, 0x04, 0x04, 0xD2, 0x14, 0x66, 0x00, 0x03, 0x07, 0x02, 0x02, b'C',
    ];
    let f = |sm| with_udh(0, sm);
    assert_eq!(reassemble(&[f(p2), f(p1)]).unwrap(), "ABC");
    assert_eq!(
        reassemble(&[f(p1)]),
        Err(ReassemblyError::MissingPart {
            sequence: 2,
            total: 2
        })
    );
    assert_eq!(
        reassemble(&[f(p1), f(p1)]),
        Err(ReassemblyError::DuplicatePart { sequence: 1 })
    );
    assert_eq!(reassemble(&[]), Err(ReassemblyError::Empty));
}

#[test]
fn reassembly_rejects_mixed_messages() {
    let a = encode(&"a".repeat(200), &Options::default()).unwrap();
    let b = encode(
        &"b".repeat(200),
        &Options {
            concat: Concat::Udh8 { reference: 9 },
            ..Options::default()
        },
    )
    .unwrap();
    let fa = fragments(&a);
    let fb = fragments(&b);
    assert_eq!(
        reassemble(&[fa[0], fb[1]]),
        Err(ReassemblyError::Mismatch {
            index: 1,
            field: "reference",
            expected: 0,
            found: 9
        })
    );
    let plain = Fragment {
        data_coding: 0,
        udhi: false,
        short_message: b"x",
        sar: None,
    };
    assert_eq!(
        reassemble(&[fa[0], plain]),
        Err(ReassemblyError::NotConcatenated { index: 1, count: 2 })
    );
}

#[test]
fn reassembly_joins_a_surrogate_pair_split_by_a_careless_sender() {
    // "😀" split between two parts: D83D | DE00.
    let p1: &[u8] = &[0x05, 0x00, 0x03, 0x01, 0x02, 0x01, 0xD8, 0x3D];
    let p2: &[u8] = &[0x05, 0x00, 0x03, 0x01, 0x02, 0x02, 0xDE, 0x00];
    let f = |sm| with_udh(8, sm);
    assert_eq!(reassemble(&[f(p1), f(p2)]).unwrap(), "😀");
}
