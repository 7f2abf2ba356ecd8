//! The SMS text engine: which encoding a text needs, what it costs, and the exact bytes of each
//! part; and the way back, from received parts to the text a handset shows.
//!
//! Pure functions, no I/O and no dependency on the SMPP codec (the gateway glues the two).
//!
//! # Layout
//! * [`estimate`] — the calculator for the API and the dashboard: encoding, characters, units,
//!   segments, what is left in the last segment, which characters forced UCS-2, what was
//!   transliterated.
//! * [`encode`] — the segmenter: the bytes for `short_message` (or `message_payload`) of every
//!   part, whether UDHI must be set, the `data_coding`, SAR values.
//! * [`decode()`] / [`reassemble`] — received bytes back to text.
//! * [`gsm7`], [`ucs2`], [`udh`], [`translit`], [`segment`] — the building blocks.
//!
//! Both [`estimate`] and [`encode`] run the same preparation (NFC, transliteration, encoding
//! choice) and the same part planner, so what the dashboard shows is what is sent.
//!
//! Counting conventions: `characters` counts Unicode scalar values (not grapheme clusters: a
//! flag emoji is 2, a family emoji joined with ZWJ is several); `units` counts septets for
//! GSM-7 (extension characters 2) and UTF-16 code units for UCS-2 (non-BMP characters 2).
//!
//! # Example
//! ```
//! use sms_text::{encode, estimate, reassemble, Concat, Encoding, Fragment, Options};
//!
//! let text = "Price: 10€ ".repeat(15); // 165 characters, 180 septets ('€' counts 2)
//! let options = Options { concat: Concat::Udh8 { reference: 7 }, ..Options::default() };
//!
//! let cost = estimate(&text, &options);
//! assert_eq!((cost.encoding, cost.units, cost.segments), (Encoding::Gsm7, 180, 2));
//!
//! let msg = encode(&text, &options).unwrap();
//! assert_eq!(msg.parts.len(), 2);
//! assert!(msg.parts[0].udhi); // esm_class |= 0x40
//! assert_eq!(&msg.parts[0].short_message[..6], &[0x05, 0x00, 0x03, 7, 2, 1]);
//!
//! // A handset puts the parts back together, in any order.
//! let fragments: Vec<Fragment<'_>> = msg.parts.iter().rev().map(|p| Fragment {
//!     data_coding: msg.data_coding,
//!     udhi: p.udhi,
//!     short_message: &p.short_message,
//!     sar: p.sar,
//! }).collect();
//! assert_eq!(reassemble(&fragments).unwrap(), text);
//! ```
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

mod decode;
mod error;
pub mod gsm7;
pub mod segment;
pub mod translit;
pub mod ucs2;
pub mod udh;

pub use decode::{alphabet, decode, reassemble, Alphabet, Fragment};
pub use error::{DecodeError, ReassemblyError, TextError};
pub use segment::Limits;

/// The alphabet a message is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GSM 03.38 default alphabet with its extension table.
    Gsm7,
    /// UCS-2, sent as UTF-16BE so characters outside the BMP survive as surrogate pairs.
    Ucs2,
}

impl Encoding {
    /// The SMPP `data_coding` value: 0x00 (SMSC default alphabet) or 0x08 (UCS-2).
    pub const fn data_coding(self) -> u8 {
        match self {
            Encoding::Gsm7 => 0x00,
            Encoding::Ucs2 => 0x08,
        }
    }
}

/// How a long message is split and tied together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Concat {
    /// Concatenation UDH with an 8-bit reference (6 octets: 153 septets / 67 units per part).
    Udh8 {
        /// Same in every part; should differ between concurrent long messages to one number.
        reference: u8,
    },
    /// Concatenation UDH with a 16-bit reference (7 octets: 152 septets / 66 units per part).
    Udh16 {
        /// Same in every part.
        reference: u16,
    },
    /// No UDH; the caller sends the returned [`SarInfo`] as the `sar_msg_ref_num`,
    /// `sar_total_segments` and `sar_segment_seqnum` TLVs and the SMSC builds the UDH
    /// (assumed 8-bit: 153 / 67 per part).
    Sar {
        /// `sar_msg_ref_num`.
        reference: u16,
    },
    /// One part holding the whole text, for the `message_payload` TLV; the SMSC splits it (the
    /// segment count assumes it uses 8-bit references). A text that fits one SMS is returned as
    /// a normal `short_message`.
    Payload,
}

impl Default for Concat {
    fn default() -> Self {
        Concat::Udh8 { reference: 0 }
    }
}

impl Concat {
    /// Units per SMS for `encoding` under this method.
    pub const fn limits(self, encoding: Encoding) -> Limits {
        let wide = matches!(self, Concat::Udh16 { .. });
        match (encoding, wide) {
            (Encoding::Gsm7, false) => Limits {
                single: 160,
                per_part: 153,
            },
            (Encoding::Gsm7, true) => Limits {
                single: 160,
                per_part: 152,
            },
            (Encoding::Ucs2, false) => Limits {
                single: 70,
                per_part: 67,
            },
            (Encoding::Ucs2, true) => Limits {
                single: 70,
                per_part: 66,
            },
        }
    }
}

/// How GSM-7 is laid out in the bytes returned by [`encode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Gsm7Form {
    /// One septet per octet: what SMPP `data_coding` 0x00 normally carries.
    #[default]
    Unpacked,
    /// Septets packed 8 into 7 octets (air-interface form, for SMSCs configured that way),
    /// with fill bits after the UDH and CR padding.
    Packed,
}

/// Choices that change what is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Options {
    /// Replace typographic characters (smart quotes, dashes, odd spaces, accents GSM-7 lacks,
    /// ...) by GSM-7 look-alikes, but only when that makes the whole message GSM-7.
    pub transliterate: bool,
    /// Send UCS-2 even if the text fits GSM-7.
    pub force_ucs2: bool,
    /// Normalise to NFC first (reference §8), so `e` + combining acute counts as the GSM-7
    /// `é`. NFC only changes the code points, not what a phone shows.
    pub normalize: bool,
    /// How long messages are split (also decides the per-part limit of [`estimate`]).
    pub concat: Concat,
    /// Layout of GSM-7 bytes.
    pub gsm7_form: Gsm7Form,
    /// Most parts allowed, 1..=255 (the UDH total is one octet); operators often cap lower.
    pub max_parts: u8,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            transliterate: false,
            force_ucs2: false,
            normalize: true,
            concat: Concat::default(),
            gsm7_form: Gsm7Form::default(),
            max_parts: 255,
        }
    }
}

/// A character that has no GSM-7 form and so made the message UCS-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForcedChar {
    /// The character.
    pub character: char,
    /// Index of its first occurrence, in Unicode scalar values of the (normalised) text.
    pub first_index: usize,
    /// How many times it occurs.
    pub count: usize,
}

/// One kind of substitution made by transliteration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Replacement {
    /// The character replaced.
    pub from: char,
    /// What was put instead (possibly empty, for invisible characters).
    pub to: String,
    /// Index of its first occurrence, in Unicode scalar values of the (normalised) text.
    pub first_index: usize,
    /// How many times it was replaced.
    pub count: usize,
}

/// What a text costs, as [`encode`] would send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// The encoding chosen.
    pub encoding: Encoding,
    /// Unicode scalar values of the text as sent (after NFC and transliteration).
    pub characters: usize,
    /// Septets (GSM-7, extension characters 2) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// SMS segments on the air (for [`Concat::Payload`], the ones the SMSC will make).
    pub segments: usize,
    /// Units each segment may carry: the single-SMS limit when `segments` is 1, else per part.
    pub per_segment_limit: usize,
    /// Units still free in the last segment.
    pub remaining: usize,
    /// The characters that forced UCS-2, in order of first appearance (empty for GSM-7, and
    /// when UCS-2 was forced by [`Options::force_ucs2`]).
    pub ucs2_characters: Vec<ForcedChar>,
    /// The substitutions made (empty unless transliteration made the message GSM-7).
    pub transliterations: Vec<Replacement>,
}

impl Estimate {
    /// Whether transliteration changed the text.
    pub fn transliterated(&self) -> bool {
        !self.transliterations.is_empty()
    }
}

/// The SAR TLV values of one part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SarInfo {
    /// `sar_msg_ref_num`: same in every part.
    pub reference: u16,
    /// `sar_total_segments`.
    pub total: u8,
    /// `sar_segment_seqnum`, 1..=total.
    pub sequence: u8,
}

/// One part, ready for a `submit_sm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The bytes: UDH (when `udhi`) followed by the text, for `short_message` — or for the
    /// `message_payload` TLV when [`EncodedMessage::message_payload`] is set.
    pub short_message: Vec<u8>,
    /// Whether `esm_class` must have UDHI (0x40) set.
    pub udhi: bool,
    /// The SAR TLV values, with [`Concat::Sar`] on a multi-part message.
    pub sar: Option<SarInfo>,
    /// Text units in this part (septets or UTF-16 units, UDH excluded): the septet count a
    /// packed part needs to be decoded exactly.
    pub units: usize,
}

/// A text encoded into parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedMessage {
    /// The encoding chosen.
    pub encoding: Encoding,
    /// The `data_coding` to send: 0x00 or 0x08.
    pub data_coding: u8,
    /// The parts in order; never empty.
    pub parts: Vec<Part>,
    /// Whether the single part's bytes go in the `message_payload` TLV (with `sm_length` 0)
    /// rather than in `short_message`.
    pub message_payload: bool,
    /// The substitutions transliteration made.
    pub transliterations: Vec<Replacement>,
}

/// Counts distinct characters in order of first appearance. Linear search while few (the
/// usual case: a handful of emoji or quotes), with a hash index once there are many (a long
/// text in a non-Latin script), so the cost stays linear in the text.
#[derive(Default)]
struct Tally {
    items: Vec<(char, usize, usize)>,
    index: Option<HashMap<char, usize, BuildHasherDefault<CharHasher>>>,
}

/// A multiplicative hash for `char` keys: SipHash (the std default) costs more than the rest
/// of the tally; the keys are at most a message's distinct characters.
#[derive(Default)]
struct CharHasher(u64);

impl Hasher for CharHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        let h = (self.0 ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // Fold the well-mixed high half into the low bits, which pick the bucket.
        self.0 = h ^ (h >> 32);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Tally {
    const LINEAR_MAX: usize = 16;

    fn add(&mut self, c: char, position: usize) {
        let found = match &self.index {
            Some(map) => map.get(&c).copied(),
            None => self.items.iter().position(|it| it.0 == c),
        };
        if let Some(slot) = found.and_then(|i| self.items.get_mut(i)) {
            slot.2 += 1;
            return;
        }
        self.items.push((c, position, 1));
        if let Some(map) = &mut self.index {
            map.insert(c, self.items.len() - 1);
        } else if self.items.len() > Self::LINEAR_MAX {
            self.index = Some(
                self.items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| (it.0, i))
                    .collect(),
            );
        }
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The text as it will be sent, with the encoding decision and its reasons.
struct Prepared<'a> {
    text: Cow<'a, str>,
    encoding: Encoding,
    forced: Vec<ForcedChar>,
    transliterations: Vec<Replacement>,
}

/// Characters that are starters (combining class 0) with NFC quick-check Yes, in ranges common
/// in messages (Latin, Cyrillic, CJK ideographs, emoji). The library's per-character table
/// lookups cost more than everything else in a UCS-2 estimate, and ASCII is its only fast path.
/// Verified character by character by the test `nfc_fast_ranges_are_starters`.
#[inline]
fn trivially_nfc(c: char) -> bool {
    matches!(c as u32, 0..=0x2FF | 0x400..=0x482 | 0x48A..=0x52F | 0x4E00..=0x9FFF | 0x1F000..=0x1FAFF)
}

/// Whether `text` is certainly NFC. A character of [`trivially_nfc`] affects the quick check
/// exactly as an ASCII letter does (starter, Yes), so it is replaced by one to hit the
/// library's fast path; the answer is unchanged.
fn surely_nfc(text: &str) -> bool {
    let mapped = text.chars().map(|c| if trivially_nfc(c) { 'a' } else { c });
    is_nfc_quick(mapped) == IsNormalized::Yes
}

/// Decides the text to send and its encoding. `report` asks for the list of characters that
/// forced UCS-2 (the calculator wants it; the encoder does not, and skips the tally).
fn prepare<'a>(text: &'a str, options: &Options, report: bool) -> Prepared<'a> {
    // Fast path for the common case. Text made only of GSM-7 characters is already NFC (the
    // alphabet has no combining marks and no pair of its characters composes; checked by a
    // unit test), so neither normalisation nor a tally is needed.
    if text.chars().all(|c| gsm7::code_of(c).is_some()) {
        return Prepared {
            text: Cow::Borrowed(text),
            encoding: if options.force_ucs2 {
                Encoding::Ucs2
            } else {
                Encoding::Gsm7
            },
            forced: Vec::new(),
            transliterations: Vec::new(),
        };
    }
    let text: Cow<'a, str> = if options.normalize && !surely_nfc(text) {
        Cow::Owned(text.nfc().collect())
    } else {
        Cow::Borrowed(text)
    };
    let ucs2 = |text, forced| Prepared {
        text,
        encoding: Encoding::Ucs2,
        forced,
        transliterations: Vec::new(),
    };
    if options.force_ucs2 {
        return ucs2(text, Vec::new());
    }
    if !report && !options.transliterate {
        // Normalisation may have produced GSM-7 text (e + combining acute -> é).
        if text.chars().all(|c| gsm7::code_of(c).is_some()) {
            return Prepared {
                text,
                encoding: Encoding::Gsm7,
                forced: Vec::new(),
                transliterations: Vec::new(),
            };
        }
        return ucs2(text, Vec::new());
    }
    let mut not_gsm = Tally::default();
    for (i, c) in text.chars().enumerate() {
        if gsm7::code_of(c).is_none() {
            not_gsm.add(c, i);
        }
    }
    if not_gsm.is_empty() {
        return Prepared {
            text,
            encoding: Encoding::Gsm7,
            forced: Vec::new(),
            transliterations: Vec::new(),
        };
    }
    let forced = |items: Vec<(char, usize, usize)>| -> Vec<ForcedChar> {
        items
            .into_iter()
            .map(|(character, first_index, count)| ForcedChar {
                character,
                first_index,
                count,
            })
            .collect()
    };
    if options.transliterate {
        // Find a replacement for every offending character; if any has none, UCS-2 is needed
        // anyway and the text is left exactly as written.
        let mut replacements: Vec<Replacement> = Vec::with_capacity(not_gsm.items.len());
        let mut blocking = Vec::new();
        for &(c, first_index, count) in &not_gsm.items {
            match translit::transliterate(c) {
                Some(to) => replacements.push(Replacement {
                    from: c,
                    to,
                    first_index,
                    count,
                }),
                None => blocking.push((c, first_index, count)),
            }
        }
        if blocking.is_empty() {
            let mut out = String::with_capacity(text.len());
            for c in text.chars() {
                // Every non-GSM character was found transliterable above, and the mapping is
                // a pure function, so this reproduces the reported replacements.
                if gsm7::code_of(c).is_some() || !translit::transliterate_char(c, &mut out) {
                    out.push(c);
                }
            }
            return Prepared {
                text: Cow::Owned(out),
                encoding: Encoding::Gsm7,
                forced: Vec::new(),
                transliterations: replacements,
            };
        }
        return ucs2(text, forced(blocking));
    }
    ucs2(text, forced(not_gsm.items))
}

/// Septet cost of a character already known to be GSM-7. The fallback 1 is never used: every
/// character of a text prepared as GSM-7 has a code (see [`prepare`]).
#[inline]
fn gsm7_cost(c: char) -> usize {
    gsm7::code_of(c).map_or(1, gsm7::Code::septets)
}

/// Runs the part planner over `text`; also returns the number of characters (one pass).
fn plan(text: &str, encoding: Encoding, limits: Limits) -> (segment::Plan, usize) {
    let mut planner = segment::Planner::new(limits.per_part);
    let mut characters = 0;
    for c in text.chars() {
        characters += 1;
        planner.push(match encoding {
            Encoding::Gsm7 => gsm7_cost(c),
            Encoding::Ucs2 => c.len_utf16(),
        });
    }
    (planner.finish(limits), characters)
}

/// What `text` costs under `options`: the calculator behind the API and the dashboard.
///
/// Never fails: a text over [`Options::max_parts`] still gets its true segment count (and
/// [`encode`] then refuses it).
pub fn estimate(text: &str, options: &Options) -> Estimate {
    let prepared = prepare(text, options, true);
    let limits = options.concat.limits(prepared.encoding);
    let (plan, characters) = plan(&prepared.text, prepared.encoding, limits);
    Estimate {
        encoding: prepared.encoding,
        characters,
        units: plan.units,
        segments: plan.parts,
        per_segment_limit: plan.limit,
        remaining: plan.limit.saturating_sub(plan.last_units),
        ucs2_characters: prepared.forced,
        transliterations: prepared.transliterations,
    }
}

/// Encodes `text` into the parts to submit.
///
/// A text that fits one SMS gives one part without UDH or SAR. A longer one is split at the
/// per-part limit of [`Options::concat`], never inside a GSM-7 escape sequence or a UTF-16
/// surrogate pair, and each part carries the concatenation UDH (UDHI set) or SAR values; with
/// [`Concat::Payload`] the whole text is one part for `message_payload`.
///
/// Fails only if the text needs more than [`Options::max_parts`] parts.
pub fn encode(text: &str, options: &Options) -> Result<EncodedMessage, TextError> {
    if options.max_parts == 0 {
        return Err(TextError::ZeroMaxParts);
    }
    let prepared = prepare(text, options, false);
    let encoding = prepared.encoding;
    let limits = options.concat.limits(encoding);
    let (plan, _) = plan(&prepared.text, encoding, limits);
    if plan.parts > usize::from(options.max_parts) {
        return Err(TextError::TooManyParts {
            parts: plan.parts,
            max: options.max_parts,
        });
    }
    // plan.parts <= max_parts <= 255 from here on.
    let total = u8::try_from(plan.parts).unwrap_or(u8::MAX);
    let packed = encoding == Encoding::Gsm7 && options.gsm7_form == Gsm7Form::Packed;
    let single = plan.parts == 1;
    let payload = !single && options.concat == Concat::Payload;

    let mut writer = PartWriter {
        encoding,
        packed,
        concat: options.concat,
        total,
        parts: Vec::with_capacity(plan.parts),
        current: Vec::new(),
        septets: Vec::new(),
        units: 0,
        udh_len: 0,
    };
    let per_part = if single || payload {
        usize::MAX
    } else {
        limits.per_part
    };
    writer.open(!single && !payload);
    for c in prepared.text.chars() {
        let cost = match encoding {
            Encoding::Gsm7 => gsm7_cost(c),
            Encoding::Ucs2 => c.len_utf16(),
        };
        if writer.units > 0 && writer.units + cost > per_part {
            writer.close();
            writer.open(true);
        }
        writer.push(c, cost);
    }
    writer.close();

    Ok(EncodedMessage {
        encoding,
        data_coding: encoding.data_coding(),
        parts: writer.parts,
        message_payload: payload,
        transliterations: prepared.transliterations,
    })
}

/// Builds parts one character at a time.
struct PartWriter {
    encoding: Encoding,
    packed: bool,
    concat: Concat,
    total: u8,
    parts: Vec<Part>,
    /// Bytes of the part being built (UDH, then text when not packed).
    current: Vec<u8>,
    /// Septets of the part being built, when packing (packed at `close`).
    septets: Vec<u8>,
    units: usize,
    udh_len: usize,
}

impl PartWriter {
    /// Starts the next part; `concatenated` says whether it is one of several.
    fn open(&mut self, concatenated: bool) {
        // parts.len() < total <= 255 while parts are being opened.
        let sequence = u8::try_from(self.parts.len() + 1).unwrap_or(u8::MAX);
        self.current = Vec::with_capacity(160);
        self.septets.clear();
        self.units = 0;
        self.udh_len = 0;
        if !concatenated {
            return;
        }
        let reference = match self.concat {
            Concat::Udh8 { reference } => udh::Reference::Eight(reference),
            Concat::Udh16 { reference } => udh::Reference::Sixteen(reference),
            Concat::Sar { .. } | Concat::Payload => return,
        };
        let header = udh::Concatenation {
            reference,
            total: self.total,
            sequence,
        };
        header.write_udh(&mut self.current);
        self.udh_len = self.current.len();
    }

    #[inline]
    fn push(&mut self, c: char, cost: usize) {
        self.units += cost;
        match self.encoding {
            Encoding::Ucs2 => ucs2::push_char(&mut self.current, c),
            Encoding::Gsm7 => {
                // Every character of a text prepared as GSM-7 has a code; '?' only keeps this
                // total should that invariant ever break.
                let code = gsm7::code_of(c).unwrap_or(gsm7::Code::Basic(0x3F));
                let buf = if self.packed {
                    &mut self.septets
                } else {
                    &mut self.current
                };
                gsm7::push_code(buf, code);
            }
        }
    }

    fn close(&mut self) {
        if self.packed {
            gsm7::pack_into(
                &mut self.current,
                &self.septets,
                gsm7::fill_bits(self.udh_len),
                gsm7::Padding::Cr,
            );
        }
        let sequence = u8::try_from(self.parts.len() + 1).unwrap_or(u8::MAX);
        let sar = match self.concat {
            Concat::Sar { reference } if self.total > 1 => Some(SarInfo {
                reference,
                total: self.total,
                sequence,
            }),
            _ => None,
        };
        self.parts.push(Part {
            short_message: std::mem::take(&mut self.current),
            udhi: self.udh_len > 0,
            sar,
            units: self.units,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::char::canonical_combining_class;

    #[test]
    fn nfc_fast_ranges_are_starters() {
        let mut checked = 0;
        for cp in 0..=0x1F_FFFFu32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            if trivially_nfc(c) {
                assert_eq!(canonical_combining_class(c), 0, "U+{cp:04X}");
                assert_eq!(
                    is_nfc_quick(std::iter::once(c)),
                    IsNormalized::Yes,
                    "U+{cp:04X}"
                );
                checked += 1;
            }
        }
        assert!(checked > 20_000);
    }

    #[test]
    fn surely_nfc_agrees_with_the_library() {
        for text in [
            "abc",
            "Привет 😀",
            "e\u{301}",
            "\u{212B}",
            "中文\u{0300}",
            "A\u{2000}",
        ] {
            assert_eq!(
                surely_nfc(text),
                is_nfc_quick(text.chars()) == IsNormalized::Yes,
                "{text:?}"
            );
        }
    }
}
