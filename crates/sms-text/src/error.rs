//! Error types, one per direction: encoding a text, decoding received bytes, reassembling parts.

/// Why a text could not be encoded into SMS parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// The text needs more parts than allowed (255 at most: the UDH total is one octet; an
    /// operator may cap lower through [`crate::Options::max_parts`]).
    #[error("text needs {parts} parts but at most {max} are allowed")]
    TooManyParts {
        /// Parts the text would need.
        parts: usize,
        /// The limit in force.
        max: u8,
    },
    /// `max_parts` was set to 0, which no message can satisfy.
    #[error("options.max_parts is 0: at least one part must be allowed")]
    ZeroMaxParts,
}

/// Why received bytes could not be decoded into text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// An unpacked GSM-7 octet above 0x7F.
    #[error("octet 0x{value:02X} at offset {offset} is not a GSM-7 septet (above 0x7F)")]
    InvalidSeptet {
        /// Offset of the octet.
        offset: usize,
        /// Its value.
        value: u8,
    },
    /// A GSM-7 escape (0x1B) with nothing after it.
    #[error("GSM-7 escape 0x1B at offset {offset} is the last septet (no character follows)")]
    DanglingEscape {
        /// Offset of the escape.
        offset: usize,
    },
    /// Packed data shorter than the stated septet count needs.
    #[error("{septets} packed septets need {needed} octets but only {available} are present")]
    PackedTooShort {
        /// Septets asked for.
        septets: usize,
        /// Octets they need.
        needed: usize,
        /// Octets present.
        available: usize,
    },
    /// UCS-2 / UTF-16BE data of odd length.
    #[error("UCS-2 data has odd length {len} (UTF-16 code units are 2 octets)")]
    OddUcs2Length {
        /// The length in octets.
        len: usize,
    },
    /// A UTF-16 surrogate without its partner.
    #[error("unpaired UTF-16 surrogate 0x{unit:04X} at octet offset {offset}")]
    UnpairedSurrogate {
        /// Octet offset of the unit.
        offset: usize,
        /// The code unit.
        unit: u16,
    },
    /// An octet above 0x7F in IA5/ASCII data (data_coding 0x01).
    #[error("octet 0x{value:02X} at offset {offset} is not ASCII (data_coding 0x01)")]
    NonAscii {
        /// Offset of the octet.
        offset: usize,
        /// Its value.
        value: u8,
    },
    /// A data_coding value whose alphabet is not text this crate decodes (binary, Japanese
    /// and Korean sets, compressed text, ...).
    #[error("data_coding 0x{data_coding:02X} is not a supported text alphabet")]
    UnsupportedDataCoding {
        /// The value.
        data_coding: u8,
    },
    /// UDHI set but the data is empty.
    #[error("UDHI is set but the user data is empty (no UDHL octet)")]
    MissingUdh,
    /// UDHL says the header is longer than the data.
    #[error("UDHL {udhl} needs {} octets but the user data has only {available}", *.udhl as usize + 1)]
    UdhTooLong {
        /// The UDH length octet.
        udhl: u8,
        /// Octets in the user data.
        available: usize,
    },
    /// An information element runs past the end of the header.
    #[error("UDH information element 0x{iei:02X} at header offset {offset} has length {length} which runs past the header end")]
    IeOverrun {
        /// The IE identifier.
        iei: u8,
        /// Offset of the IEI octet within the UDH (UDHL is offset 0).
        offset: usize,
        /// Its declared data length.
        length: u8,
    },
    /// A concatenation or port IE whose data length is wrong for its identifier.
    #[error("UDH information element 0x{iei:02X} has length {length}, expected {expected}")]
    IeLength {
        /// The IE identifier.
        iei: u8,
        /// Its declared data length.
        length: u8,
        /// The length its identifier requires.
        expected: u8,
    },
    /// A concatenation IE whose numbers are not usable (total 0, sequence 0 or above total).
    #[error(
        "concatenation IE has sequence {sequence} of total {total}: need 1 <= sequence <= total"
    )]
    InvalidConcatenation {
        /// Total parts.
        total: u8,
        /// This part's sequence number.
        sequence: u8,
    },
}

/// Why a set of received parts could not be put back together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReassemblyError {
    /// No parts were given.
    #[error("no parts to reassemble")]
    Empty,
    /// One part could not be decoded.
    #[error("part {index}: {source}")]
    Part {
        /// Index of the part in the given slice.
        index: usize,
        /// What was wrong with it.
        source: DecodeError,
    },
    /// The reassembled payload could not be decoded.
    #[error("reassembled payload: {0}")]
    Payload(DecodeError),
    /// Several parts were given but one carries no concatenation information (neither a
    /// concatenation IE nor SAR values).
    #[error("part {index} of {count} carries no concatenation information")]
    NotConcatenated {
        /// Index of the part in the given slice.
        index: usize,
        /// Number of parts given.
        count: usize,
    },
    /// The parts disagree about something that must be the same for all of them.
    #[error("part {index}: {field} is {found} but part 0 has {expected}")]
    Mismatch {
        /// Index of the part in the given slice.
        index: usize,
        /// Which field ("reference", "total", "data_coding").
        field: &'static str,
        /// Value in part 0.
        expected: u32,
        /// Value in this part.
        found: u32,
    },
    /// Two parts have the same sequence number.
    #[error("sequence number {sequence} appears twice")]
    DuplicatePart {
        /// The repeated sequence number.
        sequence: u8,
    },
    /// A sequence number between 1 and the total is absent.
    #[error("part {sequence} of {total} is missing")]
    MissingPart {
        /// The absent sequence number.
        sequence: u8,
        /// The total announced.
        total: u8,
    },
}
