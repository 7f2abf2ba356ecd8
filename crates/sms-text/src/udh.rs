//! User Data Header: building the concatenation header and parsing received headers.
//!
//! Layout (reference §4): `UDHL | IEI | IEDL | data | IEI | IEDL | data ...`, where UDHL counts
//! the octets after itself. Concatenation uses IEI 0x00 (8-bit reference, 3 data octets) or
//! IEI 0x08 (16-bit reference, 4 data octets). Other elements (ports, shift tables, ...) are
//! kept as they are so nothing is lost.

use crate::error::DecodeError;

/// IEI of the concatenated-SM element with an 8-bit reference.
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI of the concatenated-SM element with a 16-bit reference.
pub const IEI_CONCAT_16: u8 = 0x08;
/// IEI of application port addressing with 8-bit ports.
pub const IEI_PORTS_8: u8 = 0x04;
/// IEI of application port addressing with 16-bit ports.
pub const IEI_PORTS_16: u8 = 0x05;

/// The reference number of a concatenated message, with its width on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reference {
    /// IEI 0x00: one octet.
    Eight(u8),
    /// IEI 0x08: two octets, big-endian.
    Sixteen(u16),
}

impl Reference {
    /// The numeric value, whatever the width.
    pub fn value(self) -> u16 {
        match self {
            Reference::Eight(r) => u16::from(r),
            Reference::Sixteen(r) => r,
        }
    }
}

/// One concatenation element: which message, how many parts, which part this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concatenation {
    /// Same in every part of one message.
    pub reference: Reference,
    /// Total number of parts, 1..=255.
    pub total: u8,
    /// This part's number, 1..=total.
    pub sequence: u8,
}

impl Concatenation {
    /// Length in octets of the whole UDH (UDHL included) holding only this element: 6 or 7.
    pub fn udh_len(&self) -> usize {
        match self.reference {
            Reference::Eight(_) => 6,
            Reference::Sixteen(_) => 7,
        }
    }

    /// Appends the information element alone (`IEI IEDL data`, no UDHL).
    pub fn write_ie(&self, out: &mut Vec<u8>) {
        match self.reference {
            Reference::Eight(r) => out.extend_from_slice(&[IEI_CONCAT_8, 3, r]),
            Reference::Sixteen(r) => {
                let [hi, lo] = r.to_be_bytes();
                out.extend_from_slice(&[IEI_CONCAT_16, 4, hi, lo]);
            }
        }
        out.push(self.total);
        out.push(self.sequence);
    }

    /// Appends a complete UDH (UDHL + this element): `05 00 03 RR TT SS` or
    /// `06 08 04 RR RR TT SS`.
    pub fn write_udh(&self, out: &mut Vec<u8>) {
        // UDHL counts the octets after itself; udh_len() is 6 or 7, so this fits in a u8.
        out.push((self.udh_len() - 1) as u8);
        self.write_ie(out);
    }

    /// Parses the data of a concatenation element given its IEI; `None` if `iei` is not a
    /// concatenation element.
    pub fn from_ie(iei: u8, data: &[u8]) -> Option<Result<Concatenation, DecodeError>> {
        let (reference, rest) = match (iei, data) {
            (IEI_CONCAT_8, [r, rest @ ..]) if data.len() == 3 => (Reference::Eight(*r), rest),
            (IEI_CONCAT_16, [hi, lo, rest @ ..]) if data.len() == 4 => {
                (Reference::Sixteen(u16::from_be_bytes([*hi, *lo])), rest)
            }
            (IEI_CONCAT_8 | IEI_CONCAT_16, _) => {
                return Some(Err(DecodeError::IeLength {
                    iei,
                    length: len_u8(data),
                    expected: if iei == IEI_CONCAT_8 { 3 } else { 4 },
                }))
            }
            _ => return None,
        };
        let &[total, sequence] = rest else {
            // Unreachable: the length was checked above.
            return Some(Err(DecodeError::IeLength {
                iei,
                length: len_u8(data),
                expected: if iei == IEI_CONCAT_8 { 3 } else { 4 },
            }));
        };
        if total == 0 || sequence == 0 || sequence > total {
            return Some(Err(DecodeError::InvalidConcatenation { total, sequence }));
        }
        Some(Ok(Concatenation {
            reference,
            total,
            sequence,
        }))
    }
}

/// Application port addressing (IEI 0x04 or 0x05).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ports {
    /// Destination port.
    pub destination: u16,
    /// Originator port.
    pub originator: u16,
    /// Whether the element used 16-bit ports (IEI 0x05).
    pub wide: bool,
}

impl Ports {
    /// Parses the data of a port element; `None` if `iei` is not one.
    pub fn from_ie(iei: u8, data: &[u8]) -> Option<Result<Ports, DecodeError>> {
        match (iei, data) {
            (IEI_PORTS_8, &[d, o]) => Some(Ok(Ports {
                destination: u16::from(d),
                originator: u16::from(o),
                wide: false,
            })),
            (IEI_PORTS_16, &[d1, d2, o1, o2]) => Some(Ok(Ports {
                destination: u16::from_be_bytes([d1, d2]),
                originator: u16::from_be_bytes([o1, o2]),
                wide: true,
            })),
            (IEI_PORTS_8 | IEI_PORTS_16, _) => Some(Err(DecodeError::IeLength {
                iei,
                length: len_u8(data),
                expected: if iei == IEI_PORTS_8 { 2 } else { 4 },
            })),
            _ => None,
        }
    }
}

/// An element's data length as its IEDL octet (saturating: a parsed element is never longer
/// than 255 octets, but `from_ie` is public and may be handed anything).
fn len_u8(data: &[u8]) -> u8 {
    u8::try_from(data.len()).unwrap_or(u8::MAX)
}

/// One information element, borrowed from the received data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InformationElement<'a> {
    /// Identifier.
    pub iei: u8,
    /// Data (IEDL octets).
    pub data: &'a [u8],
}

/// A parsed UDH: every element in order, borrowed from the received data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Udh<'a> {
    /// The whole header as received, UDHL included (to pass it on unchanged).
    pub raw: &'a [u8],
    /// The elements in order of appearance.
    pub elements: Vec<InformationElement<'a>>,
}

impl<'a> Udh<'a> {
    /// The concatenation element, if any. When several are present the last one counts
    /// (3GPP TS 23.040: a repeated element overrides the earlier one). A malformed one is an
    /// error rather than silently ignored, so a reassembler can say which part was bad.
    pub fn concatenation(&self) -> Result<Option<Concatenation>, DecodeError> {
        self.last_of(Concatenation::from_ie)
    }

    /// The application port element, if any (the last one counts).
    pub fn ports(&self) -> Result<Option<Ports>, DecodeError> {
        self.last_of(Ports::from_ie)
    }

    fn last_of<T>(
        &self,
        parse: impl Fn(u8, &[u8]) -> Option<Result<T, DecodeError>>,
    ) -> Result<Option<T>, DecodeError> {
        self.elements
            .iter()
            .rev()
            .find_map(|ie| parse(ie.iei, ie.data))
            .transpose()
    }

    /// Length of the header in octets, UDHL included.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the header is empty (never true for a parsed header: UDHL is always there).
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

/// Splits user data whose UDHI bit is set into its header and the payload after it.
///
/// Checks that UDHL fits in the data and that every element fits in the header; unknown
/// elements are kept, not rejected.
pub fn parse(user_data: &[u8]) -> Result<(Udh<'_>, &[u8]), DecodeError> {
    let Some((&udhl, _)) = user_data.split_first() else {
        return Err(DecodeError::MissingUdh);
    };
    let header_len = usize::from(udhl) + 1;
    if header_len > user_data.len() {
        return Err(DecodeError::UdhTooLong {
            udhl,
            available: user_data.len(),
        });
    }
    let (raw, payload) = user_data.split_at(header_len);
    let mut elements = Vec::new();
    let mut offset = 1;
    while offset < header_len {
        let (iei, length) = match raw.get(offset..offset + 2) {
            Some(&[iei, length]) => (iei, length),
            _ => {
                // A lone IEI octet with no length: the element cannot fit.
                let iei = raw.get(offset).copied().unwrap_or(0);
                return Err(DecodeError::IeOverrun {
                    iei,
                    offset,
                    length: 0,
                });
            }
        };
        let start = offset + 2;
        let end = start + usize::from(length);
        let Some(data) = raw.get(start..end) else {
            return Err(DecodeError::IeOverrun {
                iei,
                offset,
                length,
            });
        };
        elements.push(InformationElement { iei, data });
        offset = end;
    }
    Ok((Udh { raw, elements }, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unknown_elements_and_finds_concatenation() {
        // ports (8-bit) then concat 8-bit, then payload "AB"
        let data = [
            0x09, 0x04, 0x02, 0x64, 0x32, 0x00, 0x03, 0x17, 0x03, 0x01, b'A', b'B',
        ];
        let (udh, payload) = parse(&data).unwrap();
        assert_eq!(payload, b"AB");
        assert_eq!(udh.len(), 10);
        assert_eq!(udh.elements.len(), 2);
        assert_eq!(
            udh.concatenation().unwrap(),
            Some(Concatenation {
                reference: Reference::Eight(23),
                total: 3,
                sequence: 1
            })
        );
        assert_eq!(
            udh.ports().unwrap(),
            Some(Ports {
                destination: 100,
                originator: 50,
                wide: false
            })
        );
    }

    #[test]
    fn malformed_headers_are_precise_errors() {
        assert_eq!(parse(&[]).unwrap_err(), DecodeError::MissingUdh);
        assert_eq!(
            parse(&[0x05, 0x00, 0x03]).unwrap_err(),
            DecodeError::UdhTooLong {
                udhl: 5,
                available: 3
            }
        );
        assert_eq!(
            parse(&[0x03, 0x00, 0x03, 0x01]).unwrap_err(),
            DecodeError::IeOverrun {
                iei: 0,
                offset: 1,
                length: 3
            }
        );
        let (udh, _) = parse(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x03]).unwrap();
        assert_eq!(
            udh.concatenation(),
            Err(DecodeError::InvalidConcatenation {
                total: 2,
                sequence: 3
            })
        );
        let (udh, _) = parse(&[0x04, 0x00, 0x02, 0x01, 0x02]).unwrap();
        assert_eq!(
            udh.concatenation(),
            Err(DecodeError::IeLength {
                iei: 0,
                length: 2,
                expected: 3
            })
        );
    }
}
