//! GSM 03.38 (3GPP TS 23.038) default alphabet and its extension table.
//!
//! Two forms are handled:
//! * **unpacked** — one septet per octet (`0x00..=0x7F`), the usual SMPP `short_message`
//!   form for `data_coding` 0x00;
//! * **packed** — septets packed LSB-first into octets, the air-interface form, with the fill
//!   bits needed after a UDH (reference §5.2) and the CR padding rule (§5.3).
//!
//! Lookups go through tables built at compile time from the single [`BASIC`] table below, so
//! the encoder and the decoder cannot drift apart.

use crate::error::DecodeError;

/// The escape septet that announces a character of the extension table.
pub const ESCAPE: u8 = 0x1B;

/// Carriage return: also the padding septet of the CR rule (reference §5.3).
pub const CR: u8 = 0x0D;

/// Placeholder for 0x1B in [`BASIC`]: the escape is not a character. It is never produced by
/// the decoder (an escape is always resolved through the extension table).
const ESC_PLACEHOLDER: char = '\u{1B}';

/// The basic table: `BASIC[septet]` is the character of that septet (reference §1).
pub const BASIC: [char; 128] = [
    '@',
    '£',
    '$',
    '¥',
    'è',
    'é',
    'ù',
    'ì',
    'ò',
    'Ç',
    '\n',
    'Ø',
    'ø',
    '\r',
    'Å',
    'å', //
    'Δ',
    '_',
    'Φ',
    'Γ',
    'Λ',
    'Ω',
    'Π',
    'Ψ',
    'Σ',
    'Θ',
    'Ξ',
    ESC_PLACEHOLDER,
    'Æ',
    'æ',
    'ß',
    'É', //
    ' ',
    '!',
    '"',
    '#',
    '¤',
    '%',
    '&',
    '\'',
    '(',
    ')',
    '*',
    '+',
    ',',
    '-',
    '.',
    '/', //
    '0',
    '1',
    '2',
    '3',
    '4',
    '5',
    '6',
    '7',
    '8',
    '9',
    ':',
    ';',
    '<',
    '=',
    '>',
    '?', //
    '¡',
    'A',
    'B',
    'C',
    'D',
    'E',
    'F',
    'G',
    'H',
    'I',
    'J',
    'K',
    'L',
    'M',
    'N',
    'O', //
    'P',
    'Q',
    'R',
    'S',
    'T',
    'U',
    'V',
    'W',
    'X',
    'Y',
    'Z',
    'Ä',
    'Ö',
    'Ñ',
    'Ü',
    '§', //
    '¿',
    'a',
    'b',
    'c',
    'd',
    'e',
    'f',
    'g',
    'h',
    'i',
    'j',
    'k',
    'l',
    'm',
    'n',
    'o', //
    'p',
    'q',
    'r',
    's',
    't',
    'u',
    'v',
    'w',
    'x',
    'y',
    'z',
    'ä',
    'ö',
    'ñ',
    'ü',
    'à', //
];

/// The extension table: `(second septet, character)`; sent as `0x1B` + septet (reference §2).
pub const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// The GSM-7 code of one character: a basic septet, or an escape sequence of two septets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// One septet of the basic table.
    Basic(u8),
    /// `0x1B` followed by this septet of the extension table.
    Extended(u8),
}

impl Code {
    /// Number of septets this code occupies (1 or 2): what every length limit counts.
    pub const fn septets(self) -> usize {
        match self {
            Code::Basic(_) => 1,
            Code::Extended(_) => 2,
        }
    }
}

// Encoding table for U+0000..=U+00FF, where most GSM characters live. Each entry is
// 0 = not encodable, 0x100 | septet = basic, 0x200 | septet = extended.
const NOT_GSM: u16 = 0;
const BASIC_FLAG: u16 = 0x100;
const EXT_FLAG: u16 = 0x200;

const LOW_TABLE: [u16; 256] = build_low_table();

const fn build_low_table() -> [u16; 256] {
    let mut table = [NOT_GSM; 256];
    let mut i = 0;
    while i < 128 {
        let c = BASIC[i] as u32;
        if i != ESCAPE as usize && c < 256 {
            table[c as usize] = BASIC_FLAG | i as u16;
        }
        i += 1;
    }
    let mut j = 0;
    while j < EXTENSION.len() {
        let (code, ch) = EXTENSION[j];
        if (ch as u32) < 256 {
            table[ch as u32 as usize] = EXT_FLAG | code as u16;
        }
        j += 1;
    }
    table
}

// Decoding table for the extension septet: 0 = undefined, else the character's code point.
const EXT_DECODE: [u32; 128] = build_ext_decode();

const fn build_ext_decode() -> [u32; 128] {
    let mut table = [0u32; 128];
    let mut j = 0;
    while j < EXTENSION.len() {
        let (code, ch) = EXTENSION[j];
        table[code as usize] = ch as u32;
        j += 1;
    }
    table
}

/// The GSM-7 code of `c`, or `None` when the default alphabet cannot carry it.
///
/// Strict table: `ç` is *not* mapped to `Ç` (0x09) here, because a phone would then show a
/// capital letter; that substitution is left to [`crate::translit`], where it is reported.
#[inline]
pub fn code_of(c: char) -> Option<Code> {
    let cp = c as u32;
    if cp < 256 {
        // In range by the check above.
        let entry = LOW_TABLE[cp as usize];
        return match entry & 0x300 {
            BASIC_FLAG => Some(Code::Basic((entry & 0x7F) as u8)),
            EXT_FLAG => Some(Code::Extended((entry & 0x7F) as u8)),
            _ => None,
        };
    }
    // The few characters above U+00FF: Greek capitals and the euro sign.
    let septet = match c {
        'Δ' => 0x10,
        'Φ' => 0x12,
        'Γ' => 0x13,
        'Λ' => 0x14,
        'Ω' => 0x15,
        'Π' => 0x16,
        'Ψ' => 0x17,
        'Σ' => 0x18,
        'Θ' => 0x19,
        'Ξ' => 0x1A,
        '€' => return Some(Code::Extended(0x65)),
        _ => return None,
    };
    Some(Code::Basic(septet))
}

/// Whether every character of `text` is in the default alphabet or its extension table.
pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| code_of(c).is_some())
}

/// Length of `text` in septets (extension characters count 2), or `None` if a character is not
/// GSM-7.
pub fn septet_len(text: &str) -> Option<usize> {
    text.chars()
        .try_fold(0usize, |n, c| code_of(c).map(|code| n + code.septets()))
}

/// Appends the septets of `code` (one per octet) to `out`.
#[inline]
pub fn push_code(out: &mut Vec<u8>, code: Code) {
    match code {
        Code::Basic(s) => out.push(s),
        Code::Extended(s) => {
            out.push(ESCAPE);
            out.push(s);
        }
    }
}

/// Encodes `text` as unpacked septets (one per octet, the SMPP `data_coding` 0 form).
///
/// Fails on the first character the alphabet cannot carry, naming it and its position.
pub fn encode_unpacked(text: &str) -> Result<Vec<u8>, NotGsm7> {
    let mut out = Vec::with_capacity(text.len());
    for (index, c) in text.chars().enumerate() {
        let code = code_of(c).ok_or(NotGsm7 {
            character: c,
            index,
        })?;
        push_code(&mut out, code);
    }
    Ok(out)
}

/// A character that has no GSM-7 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("character {character:?} (U+{:04X}) at index {index} is not in the GSM 03.38 default alphabet or its extension table", *.character as u32)]
pub struct NotGsm7 {
    /// The character.
    pub character: char,
    /// Its index in Unicode scalar values.
    pub index: usize,
}

/// Decodes unpacked septets (one per octet) as a handset would display them.
///
/// * `1B xx` with `xx` defined in the extension table gives that character; with `xx`
///   undefined, the basic character `xx` is shown (3GPP TS 23.038), and `1B 1B` (escape to a
///   further table) is shown as a space.
/// * An octet above 0x7F is not a septet, and a lone `0x1B` at the end is malformed: both are
///   errors that give the offset.
pub fn decode_unpacked(septets: &[u8]) -> Result<String, DecodeError> {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().copied().enumerate();
    while let Some((offset, s)) = iter.next() {
        if s > 0x7F {
            return Err(DecodeError::InvalidSeptet { offset, value: s });
        }
        if s == ESCAPE {
            let Some((next_offset, e)) = iter.next() else {
                return Err(DecodeError::DanglingEscape { offset });
            };
            if e > 0x7F {
                return Err(DecodeError::InvalidSeptet {
                    offset: next_offset,
                    value: e,
                });
            }
            out.push(decode_extended(e));
        } else {
            // `s` <= 0x7F by the check above.
            out.push(BASIC[s as usize]);
        }
    }
    Ok(out)
}

/// The character a handset shows for `1B e`, `e` <= 0x7F.
fn decode_extended(e: u8) -> char {
    let idx = usize::from(e & 0x7F);
    if e == ESCAPE {
        return ' ';
    }
    match EXT_DECODE[idx] {
        0 => BASIC[idx],
        // Values in EXT_DECODE come from `char`s of EXTENSION, so this cannot fail; the
        // fallback keeps the function total anyway.
        cp => char::from_u32(cp).unwrap_or(' '),
    }
}

/// What fills the spare bits of the last octet of a packed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Padding {
    /// Zero bits everywhere (many older encoders). A receiver that derives the length from the
    /// octet count may show a spurious trailing `@` when 7 bits are spare.
    Zero,
    /// 3GPP TS 23.038: when 7 bits are spare, they carry CR (0x0D), which receivers drop.
    #[default]
    Cr,
}

/// Number of zero fill bits between a UDH of `udh_octets` octets (including UDHL) and the first
/// septet, so that the septets start on a septet boundary of the user data (reference §5.2).
pub const fn fill_bits(udh_octets: usize) -> u8 {
    ((7 - (udh_octets * 8) % 7) % 7) as u8
}

/// Packs septets LSB-first after `fill_bits` zero bits (0..=6; values above 6 are taken
/// modulo 7), as `pack_into` does, returning a new vector.
pub fn pack(septets: &[u8], fill_bits: u8, padding: Padding) -> Vec<u8> {
    let mut out = Vec::with_capacity(packed_len(septets.len(), fill_bits));
    pack_into(&mut out, septets, fill_bits, padding);
    out
}

/// Octets needed for `septets` septets after `fill_bits` fill bits (none for no septets: fill
/// bits only ever precede a septet).
pub const fn packed_len(septets: usize, fill_bits: u8) -> usize {
    if septets == 0 {
        return 0;
    }
    (septets * 7 + (fill_bits % 7) as usize).div_ceil(8)
}

/// Appends the packed form of `septets` to `out`. Only the low 7 bits of each septet are used.
pub fn pack_into(out: &mut Vec<u8>, septets: &[u8], fill_bits: u8, padding: Padding) {
    if septets.is_empty() {
        return;
    }
    let fill = u32::from(fill_bits % 7);
    let mut acc: u32 = 0;
    let mut nbits: u32 = fill;
    for &s in septets {
        acc |= u32::from(s & 0x7F) << nbits;
        nbits += 7;
        // At most 7 + 7 bits are pending here, so the accumulator never overflows.
        while nbits >= 8 {
            out.push((acc & 0xFF) as u8);
            acc >>= 8;
            nbits -= 8;
        }
    }
    if nbits > 0 {
        if nbits == 1 && padding == Padding::Cr {
            // 7 spare bits: fill them with CR so they are not read as '@'.
            acc |= u32::from(CR) << 1;
        }
        out.push((acc & 0xFF) as u8);
    }
}

/// Unpacks exactly `count` septets that follow `fill_bits` fill bits.
///
/// Errors if `packed` is too short to hold them. This is the exact inverse of [`pack`] when the
/// septet count is known (TP-UDL on the air interface, [`crate::Part::units`] here).
pub fn unpack(packed: &[u8], fill_bits: u8, count: usize) -> Result<Vec<u8>, DecodeError> {
    let needed = packed_len(count, fill_bits);
    if packed.len() < needed {
        return Err(DecodeError::PackedTooShort {
            septets: count,
            needed,
            available: packed.len(),
        });
    }
    let mut out = Vec::with_capacity(count);
    let mut acc: u32 = 0;
    let mut nbits: u32 = 0;
    let mut bytes = packed.iter();
    let mut skip = u32::from(fill_bits % 7);
    while out.len() < count {
        while nbits < 7 + skip {
            // `needed` octets are present (checked above), which is enough for `count` septets.
            let Some(&b) = bytes.next() else {
                return Err(DecodeError::PackedTooShort {
                    septets: count,
                    needed,
                    available: packed.len(),
                });
            };
            acc |= u32::from(b) << nbits;
            nbits += 8;
        }
        acc >>= skip;
        nbits -= skip;
        skip = 0;
        out.push((acc & 0x7F) as u8);
        acc >>= 7;
        nbits -= 7;
    }
    Ok(out)
}

/// Unpacks every septet that `packed` holds when the septet count is unknown (as with a packed
/// SMPP `short_message`, whose length is in octets), applying the receiving side of the CR
/// rule: if the last septet ends exactly on an octet boundary and is CR, it is padding and is
/// dropped.
pub fn unpack_all(packed: &[u8], fill_bits: u8) -> Vec<u8> {
    let bits = packed.len() * 8;
    let fill = usize::from(fill_bits % 7);
    let count = bits.saturating_sub(fill) / 7;
    // `count` septets always fit in `packed` by construction of `count`.
    let mut septets = unpack(packed, fill_bits, count).unwrap_or_default();
    if (fill + 7 * count) % 8 == 0 && septets.last() == Some(&CR) {
        septets.pop();
    }
    septets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_inverse() {
        for (i, &c) in BASIC.iter().enumerate() {
            if i == usize::from(ESCAPE) {
                assert_eq!(code_of(c), None, "the escape placeholder must not encode");
                continue;
            }
            assert_eq!(code_of(c), Some(Code::Basic(i as u8)), "{c:?}");
            assert_eq!(decode_unpacked(&[i as u8]).unwrap(), c.to_string());
        }
        for &(e, c) in &EXTENSION {
            assert_eq!(code_of(c), Some(Code::Extended(e)), "{c:?}");
            assert_eq!(decode_unpacked(&[ESCAPE, e]).unwrap(), c.to_string());
        }
    }

    /// `crate::prepare` skips normalisation for all-GSM-7 text; that is sound only if every
    /// such text is already NFC. NFC changes text through non-starters, singletons and
    /// compositions of adjacent characters, so checking every character and every ordered pair
    /// covers all cases.
    #[test]
    fn gsm7_text_is_always_nfc() {
        use unicode_normalization::is_nfc;
        let chars: Vec<char> = BASIC
            .iter()
            .copied()
            .filter(|&c| c != ESC_PLACEHOLDER)
            .chain(EXTENSION.iter().map(|e| e.1))
            .collect();
        let mut pair = String::new();
        for &a in &chars {
            assert!(is_nfc(&a.to_string()), "{a:?}");
            for &b in &chars {
                pair.clear();
                pair.push(a);
                pair.push(b);
                assert!(is_nfc(&pair), "{pair:?}");
            }
        }
    }

    #[test]
    fn undefined_extension_shows_basic_character() {
        // 1B 41 is undefined in the extension table: a handset shows 'A'.
        assert_eq!(decode_unpacked(&[0x1B, 0x41]).unwrap(), "A");
        assert_eq!(decode_unpacked(&[0x1B, 0x1B]).unwrap(), " ");
    }

    #[test]
    fn malformed_unpacked_input_is_an_error() {
        assert_eq!(
            decode_unpacked(&[0x41, 0x1B]),
            Err(DecodeError::DanglingEscape { offset: 1 })
        );
        assert_eq!(
            decode_unpacked(&[0x41, 0x80]),
            Err(DecodeError::InvalidSeptet {
                offset: 1,
                value: 0x80
            })
        );
    }

    #[test]
    fn fill_bits_match_reference_table() {
        assert_eq!(fill_bits(6), 1);
        assert_eq!(fill_bits(7), 0);
        assert_eq!(fill_bits(9), 5);
        assert_eq!(fill_bits(12), 2);
        assert_eq!(fill_bits(0), 0);
    }

    #[test]
    fn unpack_all_drops_cr_padding_only() {
        let s = encode_unpacked("1234567").unwrap();
        let packed = pack(&s, 0, Padding::Cr);
        assert_eq!(unpack_all(&packed, 0), s);
        // With zero padding the 8th septet reads as '@' (0x00): the ambiguity the rule fixes.
        let zero = pack(&s, 0, Padding::Zero);
        assert_eq!(unpack_all(&zero, 0).last(), Some(&0x00));
    }

    #[test]
    fn unpack_reports_short_input() {
        assert_eq!(
            unpack(&[0x31], 0, 2),
            Err(DecodeError::PackedTooShort {
                septets: 2,
                needed: 2,
                available: 1
            })
        );
    }
}
