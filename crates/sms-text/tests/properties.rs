//! Property tests: split then reassemble gives the text back, no part exceeds its limit, parts
//! are filled greedily without splitting escapes or surrogate pairs, the calculator agrees with
//! the segmenter, packing round-trips, and decoding never panics.

use proptest::prelude::*;
use sms_text::gsm7::{self, Padding};
use sms_text::{
    decode, encode, estimate, reassemble, udh, Concat, EncodedMessage, Encoding, Fragment,
    Gsm7Form, Options,
};
use unicode_normalization::UnicodeNormalization;

/// Any Unicode text, up to ~600 scalar values (several parts in UCS-2).
fn any_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..600).prop_map(|v| v.into_iter().collect())
}

/// Mostly GSM-7 text (basic and extension characters) with an occasional emoji or other
/// character, up to 800 characters, so GSM-7 multi-part boundaries are exercised.
fn gsmish_text() -> impl Strategy<Value = String> {
    let basic = proptest::sample::select(
        gsm7::BASIC
            .iter()
            .copied()
            .filter(|&c| c != '\u{1B}')
            .collect::<Vec<_>>(),
    );
    let ext = proptest::sample::select(gsm7::EXTENSION.iter().map(|e| e.1).collect::<Vec<_>>());
    let other = proptest::sample::select(vec!['😀', 'ж', '\u{2019}', '中', '\u{1F1F0}']);
    let ch = prop_oneof![90 => basic, 15 => ext, 1 => other];
    proptest::collection::vec(ch, 0..800).prop_map(|v| v.into_iter().collect())
}

fn concat_modes() -> impl Strategy<Value = Concat> {
    prop_oneof![
        any::<u8>().prop_map(|reference| Concat::Udh8 { reference }),
        any::<u16>().prop_map(|reference| Concat::Udh16 { reference }),
        any::<u16>().prop_map(|reference| Concat::Sar { reference }),
    ]
}

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

fn cost(encoding: Encoding, c: char) -> usize {
    match encoding {
        Encoding::Gsm7 => gsm7::code_of(c).map_or(usize::MAX, gsm7::Code::septets),
        Encoding::Ucs2 => c.len_utf16(),
    }
}

/// Checks everything about one encoding of `sent` (the text as it should arrive).
fn check_message(sent: &str, options: &Options) -> Result<(), TestCaseError> {
    let msg = encode(sent, options).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let est = estimate(sent, options);
    let limits = options.concat.limits(msg.encoding);

    // Reassembly gives the text back.
    prop_assert_eq!(reassemble(&fragments(&msg)).unwrap(), sent);

    // The calculator agrees with the segmenter.
    prop_assert_eq!(est.encoding, msg.encoding);
    prop_assert_eq!(est.segments, msg.parts.len());
    prop_assert_eq!(est.units, msg.parts.iter().map(|p| p.units).sum::<usize>());
    prop_assert_eq!(est.characters, sent.chars().count());
    let last = msg.parts.last().unwrap();
    prop_assert_eq!(est.remaining, est.per_segment_limit - last.units);

    let single = msg.parts.len() == 1;
    let limit = if single {
        limits.single
    } else {
        limits.per_part
    };
    prop_assert_eq!(est.per_segment_limit, limit);

    // Reassemble the text part by part to check boundaries.
    let mut chars = sent.chars().peekable();
    for (i, p) in msg.parts.iter().enumerate() {
        prop_assert!(
            p.units <= limit,
            "part {} has {} units > {}",
            i,
            p.units,
            limit
        );
        let (udh_len, text_bytes): (usize, &[u8]) = if p.udhi {
            let (h, rest) = udh::parse(&p.short_message).unwrap();
            let c = h.concatenation().unwrap().unwrap();
            prop_assert_eq!(usize::from(c.sequence), i + 1);
            prop_assert_eq!(usize::from(c.total), msg.parts.len());
            (h.len(), rest)
        } else {
            (0, &p.short_message)
        };
        prop_assert_eq!(
            p.udhi,
            !single && matches!(options.concat, Concat::Udh8 { .. } | Concat::Udh16 { .. })
        );
        prop_assert_eq!(
            p.sar.is_some(),
            !single && matches!(options.concat, Concat::Sar { .. })
        );
        // Each part decodes on its own: no escape or surrogate pair was split.
        let part_text = decode(msg.data_coding, text_bytes).unwrap();
        let byte_len = match msg.encoding {
            Encoding::Gsm7 => p.units,
            Encoding::Ucs2 => 2 * p.units,
        };
        prop_assert_eq!(text_bytes.len(), byte_len);
        prop_assert!(udh_len + byte_len <= 160, "short_message too long");
        for expected in part_text.chars() {
            prop_assert_eq!(Some(expected), chars.next());
        }
        // Greedy: a non-final part was closed only because the next character did not fit.
        if i + 1 < msg.parts.len() {
            let next = *chars.peek().unwrap();
            prop_assert!(p.units + cost(msg.encoding, next) > limit);
        }
    }
    prop_assert!(chars.next().is_none());
    Ok(())
}

fn raw(concat: Concat) -> Options {
    Options {
        normalize: false,
        concat,
        ..Options::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_unicode_text_round_trips(text in any_text(), concat in concat_modes()) {
        check_message(&text, &raw(concat))?;
    }

    #[test]
    fn gsm7_text_round_trips(text in gsmish_text(), concat in concat_modes()) {
        check_message(&text, &raw(concat))?;
    }

    #[test]
    fn forced_ucs2_round_trips(text in gsmish_text(), concat in concat_modes()) {
        let options = Options { force_ucs2: true, ..raw(concat) };
        check_message(&text, &options)?;
    }

    #[test]
    fn normalised_text_round_trips_to_its_nfc(text in any_text(), concat in concat_modes()) {
        let options = Options { concat, ..Options::default() };
        let msg = encode(&text, &options).unwrap();
        let nfc: String = text.nfc().collect();
        prop_assert_eq!(reassemble(&fragments(&msg)).unwrap(), nfc.as_str());
        // And the NFC text itself passes every check with normalisation on.
        check_message(&nfc, &options)?;
    }

    #[test]
    fn transliterated_text_is_consistent(text in gsmish_text().prop_map(|t| t.replace('😀', "\u{201C}"))) {
        let options = Options { transliterate: true, normalize: false, ..Options::default() };
        let est = estimate(&text, &options);
        let msg = encode(&text, &options).unwrap();
        let out = reassemble(&fragments(&msg)).unwrap();
        prop_assert_eq!(est.transliterations, msg.transliterations.clone());
        if msg.encoding == Encoding::Gsm7 {
            prop_assert!(gsm7::is_gsm7(&out));
        } else {
            prop_assert_eq!(&out, &text);
        }
        check_message(&out, &options)?;
    }

    #[test]
    fn payload_is_one_part_holding_everything(text in gsmish_text()) {
        let options = raw(Concat::Payload);
        let msg = encode(&text, &options).unwrap();
        prop_assert_eq!(msg.parts.len(), 1);
        prop_assert_eq!(decode(msg.data_coding, &msg.parts[0].short_message).unwrap(), text.as_str());
        // The segment count is what an SMSC splitting with 8-bit references makes.
        let udh8 = encode(&text, &raw(Concat::Udh8 { reference: 1 })).unwrap();
        prop_assert_eq!(estimate(&text, &options).segments, udh8.parts.len());
        prop_assert_eq!(msg.message_payload, udh8.parts.len() > 1);
    }

    #[test]
    fn packed_parts_unpack_to_the_same_septets(text in gsmish_text(), reference in any::<u8>()) {
        let unpacked = encode(&text, &raw(Concat::Udh8 { reference })).unwrap();
        let packed = encode(&text, &Options { gsm7_form: Gsm7Form::Packed, ..raw(Concat::Udh8 { reference }) }).unwrap();
        prop_assert_eq!(unpacked.parts.len(), packed.parts.len());
        for (u, p) in unpacked.parts.iter().zip(&packed.parts) {
            prop_assert!(p.short_message.len() <= 140 || unpacked.encoding == Encoding::Ucs2);
            if unpacked.encoding == Encoding::Ucs2 {
                prop_assert_eq!(&u.short_message, &p.short_message);
                continue;
            }
            let udh_len = if p.udhi { udh::parse(&p.short_message).unwrap().0.len() } else { 0 };
            prop_assert_eq!(&p.short_message[..udh_len], &u.short_message[..udh_len]);
            let septets = gsm7::unpack(&p.short_message[udh_len..], gsm7::fill_bits(udh_len), p.units).unwrap();
            prop_assert_eq!(&septets[..], &u.short_message[udh_len..]);
        }
    }

    #[test]
    fn estimate_agrees_with_encode_for_any_options(
        text in prop_oneof![any_text(), gsmish_text()],
        transliterate in any::<bool>(),
        force_ucs2 in any::<bool>(),
        normalize in any::<bool>(),
        packed in any::<bool>(),
        max_parts in any::<u8>(),
        concat in prop_oneof![concat_modes(), Just(Concat::Payload)],
    ) {
        let options = Options {
            transliterate,
            force_ucs2,
            normalize,
            concat,
            gsm7_form: if packed { Gsm7Form::Packed } else { Gsm7Form::Unpacked },
            max_parts,
        };
        let est = estimate(&text, &options);
        match encode(&text, &options) {
            Ok(msg) => {
                prop_assert!(max_parts > 0 && est.segments <= usize::from(max_parts));
                prop_assert_eq!(est.encoding, msg.encoding);
                prop_assert_eq!(&est.transliterations, &msg.transliterations);
                prop_assert_eq!(est.units, msg.parts.iter().map(|p| p.units).sum::<usize>());
                if concat != Concat::Payload {
                    prop_assert_eq!(est.segments, msg.parts.len());
                }
                if force_ucs2 {
                    prop_assert_eq!(msg.encoding, Encoding::Ucs2);
                }
                if msg.encoding == Encoding::Ucs2 && !force_ucs2 {
                    prop_assert!(!est.ucs2_characters.is_empty());
                }
            }
            Err(sms_text::TextError::TooManyParts { parts, max }) => {
                prop_assert_eq!(parts, est.segments);
                prop_assert_eq!(max, max_parts);
                prop_assert!(parts > usize::from(max_parts));
            }
            Err(sms_text::TextError::ZeroMaxParts) => prop_assert_eq!(max_parts, 0),
            Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e}"))),
        }
    }

    #[test]
    fn pack_then_unpack_is_identity(septets in proptest::collection::vec(0u8..0x80, 0..400), fill in 0u8..7) {
        for padding in [Padding::Zero, Padding::Cr] {
            let packed = gsm7::pack(&septets, fill, padding);
            prop_assert_eq!(packed.len(), gsm7::packed_len(septets.len(), fill));
            prop_assert_eq!(gsm7::unpack(&packed, fill, septets.len()).unwrap(), septets.clone());
        }
        // Without the count, CR padding makes the length recoverable, except for the one case
        // the 3GPP rule leaves ambiguous: a real CR as the last septet on an octet boundary.
        let ambiguous = septets.last() == Some(&gsm7::CR) && (usize::from(fill) + 7 * septets.len()) % 8 == 0;
        if !ambiguous {
            prop_assert_eq!(gsm7::unpack_all(&gsm7::pack(&septets, fill, Padding::Cr), fill), septets);
        }
    }

    #[test]
    fn decoding_never_panics(dcs in any::<u8>(), bytes in proptest::collection::vec(any::<u8>(), 0..300), fill in any::<u8>(), count in 0usize..400) {
        let _ = decode(dcs, &bytes);
        let _ = gsm7::decode_unpacked(&bytes);
        let _ = gsm7::unpack(&bytes, fill, count);
        let _ = gsm7::unpack_all(&bytes, fill);
        let _ = sms_text::ucs2::decode(&bytes);
        let _ = sms_text::ucs2::decode_lossy(&bytes);
        if let Ok((h, _)) = udh::parse(&bytes) {
            let _ = h.concatenation();
            let _ = h.ports();
        }
        let half = bytes.len() / 2;
        let frags = [
            Fragment { data_coding: dcs, udhi: true, short_message: &bytes[..half], sar: None },
            Fragment { data_coding: dcs, udhi: fill % 2 == 0, short_message: &bytes[half..], sar: None },
        ];
        let _ = reassemble(&frags);
        let _ = reassemble(&frags[..1]);
    }
}
