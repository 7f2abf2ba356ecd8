//! UCS-2 as SMSCs really use it: UTF-16 big-endian, with surrogate pairs for characters outside
//! the Basic Multilingual Plane (most emoji). Lengths count UTF-16 code units.

use crate::error::DecodeError;

/// Number of UTF-16 code units of `text` (a non-BMP character counts 2).
pub fn unit_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Appends the UTF-16BE octets of `c` to `out`.
#[inline]
pub fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u16; 2];
    for unit in c.encode_utf16(&mut buf) {
        out.extend_from_slice(&unit.to_be_bytes());
    }
}

/// Encodes `text` as UTF-16BE (data_coding 0x08).
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for c in text.chars() {
        push_char(&mut out, c);
    }
    out
}

/// Decodes UTF-16BE strictly: an odd length or an unpaired surrogate is an error giving the
/// octet offset.
pub fn decode(bytes: &[u8]) -> Result<String, DecodeError> {
    if bytes.len() % 2 != 0 {
        return Err(DecodeError::OddUcs2Length { len: bytes.len() });
    }
    // `chunks_exact(2)` only yields 2-octet slices, so the indexing below cannot fail.
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    let mut out = String::with_capacity(bytes.len());
    for (i, r) in char::decode_utf16(units).enumerate() {
        match r {
            Ok(c) => out.push(c),
            Err(e) => {
                // `decode_utf16` yields one item per unit except for pairs; locate the bad unit
                // by re-scanning, which only happens on the error path.
                let unit = e.unpaired_surrogate();
                let offset = locate_unpaired(bytes, i).unwrap_or(0);
                return Err(DecodeError::UnpairedSurrogate { offset, unit });
            }
        }
    }
    Ok(out)
}

/// Octet offset of the unit that produced the `item`-th item of `decode_utf16`.
fn locate_unpaired(bytes: &[u8], item: usize) -> Option<usize> {
    // 2-octet chunks, as above.
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    let mut unit_index = 0;
    for (i, r) in char::decode_utf16(units.iter().copied()).enumerate() {
        if i == item {
            return Some(unit_index * 2);
        }
        unit_index += r.map_or(1, char::len_utf16);
    }
    None
}

/// Decodes UTF-16BE as a handset would display it: an unpaired surrogate becomes U+FFFD and a
/// trailing odd octet is dropped.
pub fn decode_lossy(bytes: &[u8]) -> String {
    // 2-octet chunks, as above.
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpaired_surrogates_are_located() {
        // 'A', lone high surrogate, 'B'
        let bytes = [0x00, 0x41, 0xD8, 0x3D, 0x00, 0x42];
        assert_eq!(
            decode(&bytes),
            Err(DecodeError::UnpairedSurrogate {
                offset: 2,
                unit: 0xD83D
            })
        );
        assert_eq!(decode_lossy(&bytes), "A\u{FFFD}B");
        // a lone low surrogate after a valid pair
        let bytes = [0xD8, 0x3D, 0xDE, 0x00, 0xDE, 0x00];
        assert_eq!(
            decode(&bytes),
            Err(DecodeError::UnpairedSurrogate {
                offset: 4,
                unit: 0xDE00
            })
        );
    }

    #[test]
    fn odd_length_is_an_error() {
        assert_eq!(decode(&[0x00]), Err(DecodeError::OddUcs2Length { len: 1 }));
    }

    #[test]
    fn counts_surrogate_pairs_as_two_units() {
        assert_eq!(unit_len("Hi 😀"), 5);
        assert_eq!(
            encode("Hi 😀"),
            [0, 0x48, 0, 0x69, 0, 0x20, 0xD8, 0x3D, 0xDE, 0x00]
        );
    }
}
