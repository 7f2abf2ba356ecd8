//! Decoding received `short_message` / `message_payload` bytes by `data_coding`, and putting
//! concatenated parts back together, as a handset does.

use crate::error::{DecodeError, ReassemblyError};
use crate::{gsm7, ucs2, udh, SarInfo};

/// The text alphabets this crate decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// GSM 03.38 default alphabet, unpacked (one septet per octet), as SMPP carries it.
    Gsm7,
    /// IA5 / ASCII (SMPP data_coding 0x01).
    Ascii,
    /// ISO-8859-1 (SMPP data_coding 0x03).
    Latin1,
    /// UCS-2 / UTF-16BE (data_coding 0x08).
    Ucs2,
}

/// The alphabet that `data_coding` announces.
///
/// SMPP 3.4 values 0x00-0x0F keep their SMPP meaning (0x00 SMSC default = GSM-7, 0x01 IA5,
/// 0x03 Latin-1, 0x08 UCS-2). From 0x10 on, the GSM 03.38 data coding scheme applies: general
/// data coding 0x10-0x3F (bits 3-2 give the alphabet; compressed text is unsupported), message
/// waiting groups 0xC0-0xDF (GSM-7) and 0xE0-0xEF (UCS-2), and 0xF0-0xFF (bit 2: GSM-7 or
/// 8-bit data). Binary and the national sets (JIS, Cyrillic, Hebrew, KS C 5601, ...) are
/// reported as unsupported.
pub fn alphabet(data_coding: u8) -> Result<Alphabet, DecodeError> {
    let unsupported = Err(DecodeError::UnsupportedDataCoding { data_coding });
    match data_coding {
        0x00 => Ok(Alphabet::Gsm7),
        0x01 => Ok(Alphabet::Ascii),
        0x03 => Ok(Alphabet::Latin1),
        0x08 => Ok(Alphabet::Ucs2),
        0x10..=0x3F => {
            if data_coding & 0x20 != 0 {
                return unsupported; // compressed
            }
            match (data_coding >> 2) & 0x03 {
                0 => Ok(Alphabet::Gsm7),
                2 => Ok(Alphabet::Ucs2),
                _ => unsupported,
            }
        }
        0xC0..=0xDF => Ok(Alphabet::Gsm7),
        0xE0..=0xEF => Ok(Alphabet::Ucs2),
        0xF0..=0xFF if data_coding & 0x04 == 0 => Ok(Alphabet::Gsm7),
        _ => unsupported,
    }
}

/// Decodes `bytes` (user data without UDH) in the alphabet `data_coding` announces.
///
/// GSM-7 is taken as unpacked, the SMPP form (use [`gsm7::unpack`] first for packed data).
/// Decoding is strict: malformed input is an error naming the offset, never a panic.
pub fn decode(data_coding: u8, bytes: &[u8]) -> Result<String, DecodeError> {
    match alphabet(data_coding)? {
        Alphabet::Gsm7 => gsm7::decode_unpacked(bytes),
        Alphabet::Ucs2 => ucs2::decode(bytes),
        Alphabet::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        Alphabet::Ascii => {
            if let Some(offset) = bytes.iter().position(|&b| b > 0x7F) {
                return Err(DecodeError::NonAscii {
                    offset,
                    // In range: `position` returned it.
                    value: bytes.get(offset).copied().unwrap_or(0),
                });
            }
            Ok(bytes.iter().map(|&b| char::from(b)).collect())
        }
    }
}

/// One received part, as a handset or an ESME gets it from `deliver_sm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// The `data_coding` field.
    pub data_coding: u8,
    /// Whether `esm_class` has UDHI (0x40) set: `short_message` then starts with a UDH.
    pub udhi: bool,
    /// The `short_message` (or `message_payload`) bytes.
    pub short_message: &'a [u8],
    /// The `sar_*` TLV values, when concatenation is signalled that way.
    pub sar: Option<SarInfo>,
}

/// Puts the parts of one message back together (in any order) and decodes the text.
///
/// The payloads are joined *before* decoding, so a sender that split an escape sequence or a
/// surrogate pair across parts is still shown correctly. All parts must share the reference,
/// the total and the `data_coding`; every sequence number from 1 to the total must be present
/// exactly once. A single part without concatenation information is simply decoded.
pub fn reassemble(fragments: &[Fragment<'_>]) -> Result<String, ReassemblyError> {
    let first = fragments.first().ok_or(ReassemblyError::Empty)?;
    // (key, total, sequence, payload) per fragment; the key folds the reference width in, so
    // an 8-bit reference 5 and a 16-bit reference 5 are different messages.
    let mut pieces: Vec<(u32, u8, u8, &[u8])> = Vec::with_capacity(fragments.len());
    for (index, f) in fragments.iter().enumerate() {
        let part_err = |source| ReassemblyError::Part { index, source };
        if f.data_coding != first.data_coding {
            return Err(ReassemblyError::Mismatch {
                index,
                field: "data_coding",
                expected: u32::from(first.data_coding),
                found: u32::from(f.data_coding),
            });
        }
        let (concat, payload) = if f.udhi {
            let (header, payload) = udh::parse(f.short_message).map_err(part_err)?;
            let concat = header.concatenation().map_err(part_err)?;
            let key = concat.map(|c| match c.reference {
                udh::Reference::Eight(r) => (u32::from(r), c.total, c.sequence),
                udh::Reference::Sixteen(r) => (0x1_0000 | u32::from(r), c.total, c.sequence),
            });
            (key, payload)
        } else {
            (None, f.short_message)
        };
        let concat = match (concat, f.sar) {
            (Some(c), _) => Some(c),
            (None, Some(sar)) => {
                if sar.total == 0 || sar.sequence == 0 || sar.sequence > sar.total {
                    return Err(part_err(DecodeError::InvalidConcatenation {
                        total: sar.total,
                        sequence: sar.sequence,
                    }));
                }
                Some((0x2_0000 | u32::from(sar.reference), sar.total, sar.sequence))
            }
            (None, None) => None,
        };
        match concat {
            Some((key, total, sequence)) => pieces.push((key, total, sequence, payload)),
            None if fragments.len() == 1 => {
                return decode(f.data_coding, payload).map_err(ReassemblyError::Payload);
            }
            None => {
                return Err(ReassemblyError::NotConcatenated {
                    index,
                    count: fragments.len(),
                })
            }
        }
    }
    let Some(&(key0, total0, _, _)) = pieces.first() else {
        return Err(ReassemblyError::Empty);
    };
    for (index, &(key, total, _, _)) in pieces.iter().enumerate() {
        if key != key0 {
            return Err(ReassemblyError::Mismatch {
                index,
                field: "reference",
                expected: key0 & 0xFFFF,
                found: key & 0xFFFF,
            });
        }
        if total != total0 {
            return Err(ReassemblyError::Mismatch {
                index,
                field: "total",
                expected: u32::from(total0),
                found: u32::from(total),
            });
        }
    }
    pieces.sort_by_key(|p| p.2);
    for pair in pieces.windows(2) {
        if let [a, b] = pair {
            if a.2 == b.2 {
                return Err(ReassemblyError::DuplicatePart { sequence: a.2 });
            }
        }
    }
    // Sorted, unique and each within 1..=total: any gap is a missing part.
    for (expected, piece) in (1..=total0).zip(pieces.iter()) {
        if piece.2 != expected {
            return Err(ReassemblyError::MissingPart {
                sequence: expected,
                total: total0,
            });
        }
    }
    if pieces.len() < usize::from(total0) {
        return Err(ReassemblyError::MissingPart {
            // pieces.len() < total0 <= 255, so this fits.
            sequence: (pieces.len() + 1) as u8,
            total: total0,
        });
    }
    let joined: Vec<u8> = pieces.iter().flat_map(|p| p.3.iter().copied()).collect();
    decode(first.data_coding, &joined).map_err(ReassemblyError::Payload)
}
