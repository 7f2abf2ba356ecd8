//! Framing (check, then parse), decode errors, and the byte reader the PDU decoders share.
//!
//! The stream is cut into frames by [`check`]: it reads the 4-octet `command_length` and
//! says whether a whole frame is there (`Ok(Some(len))`), more bytes are needed (`Ok(None)`),
//! or the length is unrecoverable (`Err`, close the session: the stream cannot be
//! re-synchronised). A frame is then decoded with [`crate::pdu::Pdu::decode`]; a malformed body
//! is a [`DecodeError`] that names the field and the status to answer with, and only that PDU
//! is lost.

use crate::types::{COctetString, CommandId, CommandStatus};
use bytes::Bytes;

/// Length of the PDU header (command_length, command_id, command_status, sequence_number).
pub const HEADER_LEN: usize = 16;

/// Default cap on `command_length`: a 65535-octet `message_payload` plus room for the
/// mandatory fields and other TLVs.
pub const DEFAULT_MAX_PDU_SIZE: usize = 70_000;

/// An unrecoverable framing error: the stream can no longer be cut into PDUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// `command_length` is below the 16-octet header.
    #[error("command_length {0} is shorter than the 16-octet header")]
    TooShort(u32),
    /// `command_length` exceeds the configured maximum (a top-bit length lands here too).
    #[error("command_length {length} exceeds the maximum PDU size {max}")]
    TooLong {
        /// The length read from the wire.
        length: u32,
        /// The configured maximum.
        max: usize,
    },
}

impl FrameError {
    /// The status for a generic_nack sent before closing: always ESME_RINVCMDLEN.
    pub const fn status(&self) -> CommandStatus {
        CommandStatus::ESME_RINVCMDLEN
    }
}

/// Checks whether `buf` starts with one whole frame.
///
/// Returns `Ok(Some(command_length))` when the first `command_length` octets of `buf` are a
/// whole frame, `Ok(None)` when more bytes are needed (nothing is consumed), and `Err` when
/// `command_length` is below 16, above `max_pdu_size`, or has its top bit set.
///
/// # Errors
/// [`FrameError`] when the length is unrecoverable; the session must close.
pub fn check(buf: &[u8], max_pdu_size: usize) -> Result<Option<usize>, FrameError> {
    let Some(len_bytes) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let length = u32::from_be_bytes(*len_bytes);
    if (length as usize) < HEADER_LEN {
        return Err(FrameError::TooShort(length));
    }
    // A top-bit length is never sane, whatever cap the caller configured.
    if length & 0x8000_0000 != 0 || length as usize > max_pdu_size {
        return Err(FrameError::TooLong {
            length,
            max: max_pdu_size,
        });
    }
    if buf.len() < length as usize {
        Ok(None)
    } else {
        Ok(Some(length as usize))
    }
}

/// What was wrong with a field of a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The frame is shorter than its header or than its `command_length` says.
    LengthMismatch {
        /// `command_length` from the header (0 if it could not be read).
        command_length: u32,
        /// Octets actually in the frame.
        frame_len: usize,
    },
    /// The body ended before this fixed-size field was complete.
    Truncated {
        /// Octets the field needs.
        needed: usize,
        /// Octets left in the body.
        remaining: usize,
    },
    /// A C-Octet String had no NUL within its maximum length (including the NUL).
    CStringTooLong {
        /// The field's limit, including the NUL.
        max: usize,
    },
    /// A C-Octet String ran to the end of the PDU without its NUL.
    CStringUnterminated,
    /// `sm_length` claims more octets than the PDU holds.
    ShortMessageOverrun {
        /// The declared `sm_length`.
        sm_length: u8,
        /// Octets left in the body.
        remaining: usize,
    },
    /// 1–3 octets follow the last TLV (or the mandatory fields): too few for a TLV header.
    TlvStrayOctets {
        /// How many octets were left.
        count: usize,
    },
    /// A TLV's length runs past the end of the PDU.
    TlvLengthOverrun {
        /// The TLV's tag.
        tag: u16,
        /// The declared length.
        length: u16,
        /// Octets actually left.
        remaining: usize,
    },
    /// A known TLV carries a length its value type does not allow.
    TlvInvalidLength {
        /// The TLV's tag.
        tag: u16,
        /// The declared length.
        length: u16,
    },
    /// A known TLV's value is malformed (e.g. a NUL inside a C-string value).
    TlvInvalidValue {
        /// The TLV's tag.
        tag: u16,
    },
    /// submit_multi `dest_flag` is neither 1 (SME address) nor 2 (distribution list).
    InvalidDestFlag(u8),
}

impl std::fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::LengthMismatch {
                command_length,
                frame_len,
            } => write!(
                f,
                "command_length {command_length} does not match the {frame_len}-octet frame"
            ),
            Self::Truncated { needed, remaining } => write!(
                f,
                "needs {needed} octet(s) but the body has {remaining} left"
            ),
            Self::CStringTooLong { max } => {
                write!(f, "C-Octet String has no NUL within its {max}-octet limit")
            }
            Self::CStringUnterminated => {
                f.write_str("C-Octet String runs to the end of the PDU without a NUL")
            }
            Self::ShortMessageOverrun {
                sm_length,
                remaining,
            } => write!(
                f,
                "sm_length {sm_length} exceeds the {remaining} octet(s) left in the PDU"
            ),
            Self::TlvStrayOctets { count } => write!(
                f,
                "{count} stray octet(s) after the last TLV (a TLV header needs 4)"
            ),
            Self::TlvLengthOverrun {
                tag,
                length,
                remaining,
            } => write!(
                f,
                "TLV {tag:#06x} declares length {length} but only {remaining} octet(s) remain"
            ),
            Self::TlvInvalidLength { tag, length } => {
                write!(f, "TLV {tag:#06x} cannot have length {length}")
            }
            Self::TlvInvalidValue { tag } => write!(
                f,
                "TLV {tag:#06x} holds a C-Octet String with a NUL before its end"
            ),
            Self::InvalidDestFlag(flag) => write!(
                f,
                "dest_flag {flag} is neither 1 (SME address) nor 2 (distribution list)"
            ),
        }
    }
}

/// A frame that could not be decoded. The header is always known (the frame passed
/// [`check`]), so the caller can answer with the right `sequence_number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {command_id:?} (sequence {sequence_number}): field `{field}`: {kind}")]
pub struct DecodeError {
    /// The PDU's command_id.
    pub command_id: CommandId,
    /// The PDU's sequence_number (0 if the header itself was short).
    pub sequence_number: u32,
    /// The wire name of the offending field (`"short_message"`, `"tlv"`, ...).
    pub field: &'static str,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// The status to answer with (in the request's `*_resp`, or a generic_nack).
    pub fn status(&self) -> CommandStatus {
        use DecodeErrorKind as K;
        match self.kind {
            K::LengthMismatch { .. } | K::Truncated { .. } => CommandStatus::ESME_RINVCMDLEN,
            K::CStringTooLong { .. } | K::CStringUnterminated => field_status(self.field),
            K::ShortMessageOverrun { .. } => CommandStatus::ESME_RINVMSGLEN,
            K::TlvStrayOctets { .. } | K::TlvLengthOverrun { .. } => {
                CommandStatus::ESME_RINVOPTPARSTREAM
            }
            K::TlvInvalidLength { .. } => CommandStatus::ESME_RINVPARLEN,
            K::TlvInvalidValue { .. } => CommandStatus::ESME_RINVOPTPARAMVAL,
            K::InvalidDestFlag(_) => CommandStatus::ESME_RINVDESTFLAG,
        }
    }
}

/// The field-specific status for a malformed C-Octet String field.
fn field_status(field: &str) -> CommandStatus {
    match field {
        "system_id" => CommandStatus::ESME_RINVSYSID,
        "password" => CommandStatus::ESME_RINVPASWD,
        "system_type" => CommandStatus::ESME_RINVSYSTYP,
        "service_type" => CommandStatus::ESME_RINVSERTYP,
        "source_addr" | "address_range" => CommandStatus::ESME_RINVSRCADR,
        "destination_addr" | "esme_addr" => CommandStatus::ESME_RINVDSTADR,
        "message_id" => CommandStatus::ESME_RINVMSGID,
        "schedule_delivery_time" => CommandStatus::ESME_RINVSCHED,
        "validity_period" => CommandStatus::ESME_RINVEXPIRY,
        "dl_name" => CommandStatus::ESME_RINVDLNAME,
        // final_date and anything else: the body is structurally wrong.
        _ => CommandStatus::ESME_RINVCMDLEN,
    }
}

/// A body decoding error before the header is attached (see [`DecodeError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: &'static str,
    pub(crate) kind: DecodeErrorKind,
}

impl FieldError {
    pub(crate) const fn new(field: &'static str, kind: DecodeErrorKind) -> Self {
        Self { field, kind }
    }
}

/// Cursor over one PDU body. When the frame came as [`Bytes`], octet strings are sliced out
/// of it without copying.
///
/// Every read has a fast path for the common case (the field and, for C-Octet Strings, its
/// whole `MAX`-octet window are in the body) and falls back to the careful path only to
/// report precisely what is missing; both give the same results.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    src: Option<&'a Bytes>,
    // Offset in `src` of the end of `buf`: the offset of the next octet is `end - buf.len()`,
    // so reads only shrink `buf` and the offset is computed when a `Bytes` slice is made.
    end: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, which starts `base` octets into `src` (when given).
    pub(crate) fn new(buf: &'a [u8], src: Option<&'a Bytes>, base: usize) -> Self {
        Self {
            buf,
            src,
            end: base.saturating_add(buf.len()),
        }
    }

    /// Octets not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The octets not yet read (without consuming them).
    pub(crate) fn as_slice(&self) -> &'a [u8] {
        self.buf
    }

    /// Skips a 4-octet TLV header the caller has already read with [`Reader::as_slice`]
    /// (skips what is left if there were fewer).
    pub(crate) fn skip_header(&mut self) {
        self.buf = self.buf.get(4..).unwrap_or(&[]);
    }

    /// Offset in `src` of the next octet. (`buf` only ever shrinks from the `buf.len()` that
    /// `end` was computed with, so `end >= buf.len()`.)
    fn offset(&self) -> usize {
        self.end - self.buf.len()
    }

    /// `head` (which must be a prefix just split off `buf`) as `Bytes`: a zero-copy slice of
    /// `src` when there is one, a copy otherwise.
    fn to_bytes(src: Option<&Bytes>, start: usize, head: &[u8]) -> Bytes {
        match src {
            Some(src) if start + head.len() <= src.len() => src.slice(start..start + head.len()),
            _ => Bytes::copy_from_slice(head),
        }
    }

    /// Takes `n` octets.
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], FieldError> {
        match self.buf.split_at_checked(n) {
            Some((head, tail)) => {
                self.buf = tail;
                Ok(head)
            }
            None => Err(FieldError::new(
                field,
                DecodeErrorKind::Truncated {
                    needed: n,
                    remaining: self.buf.len(),
                },
            )),
        }
    }

    /// Takes `n` octets as `Bytes`: a zero-copy slice when the frame is `Bytes`, a copy
    /// otherwise.
    pub(crate) fn bytes(&mut self, n: usize, field: &'static str) -> Result<Bytes, FieldError> {
        let start = self.offset();
        let head = self.take(n, field)?;
        Ok(Self::to_bytes(self.src, start, head))
    }

    /// Takes `n <= remaining()` octets (fewer if the caller was wrong) and a closure that
    /// turns them into `Bytes` only if asked, so integer values never allocate.
    pub(crate) fn take_lazy(&mut self, n: usize) -> (&'a [u8], impl FnOnce() -> Bytes + 'a) {
        let start = self.offset();
        let (head, tail) = self.buf.split_at(n.min(self.buf.len()));
        self.buf = tail;
        let src = self.src;
        (head, move || Self::to_bytes(src, start, head))
    }

    /// Takes everything left.
    pub(crate) fn rest(&mut self) -> Bytes {
        // `n == remaining()`, so this cannot fail.
        self.bytes(self.buf.len(), "body").unwrap_or_default()
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, FieldError> {
        match self.buf.split_first() {
            Some((&b, tail)) => {
                self.buf = tail;
                Ok(b)
            }
            None => Err(self.truncated(1, field)),
        }
    }

    /// Reads `N` consecutive one-octet fields with one bounds check; if the body ends
    /// early, the error names the first field that is missing, as `N` single reads would.
    /// (`fields` is a reference to a constant, so nothing is built unless it is needed.)
    pub(crate) fn array<const N: usize>(
        &mut self,
        fields: &'static [&'static str; N],
    ) -> Result<[u8; N], FieldError> {
        match self.buf.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.buf = tail;
                Ok(*head)
            }
            None => Err(FieldError::new(
                // `buf.len() < N` here, so the index is in range.
                fields.get(self.buf.len()).copied().unwrap_or("body"),
                DecodeErrorKind::Truncated {
                    needed: 1,
                    remaining: 0,
                },
            )),
        }
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, FieldError> {
        match self.buf.split_first_chunk::<4>() {
            Some((head, tail)) => {
                self.buf = tail;
                Ok(u32::from_be_bytes(*head))
            }
            None => Err(self.truncated(4, field)),
        }
    }

    #[cold]
    fn truncated(&self, needed: usize, field: &'static str) -> FieldError {
        FieldError::new(
            field,
            DecodeErrorKind::Truncated {
                needed,
                remaining: self.buf.len(),
            },
        )
    }

    /// Reads a C-Octet String of at most `MAX` octets including the NUL.
    pub(crate) fn cstr<const MAX: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<COctetString<MAX>, FieldError> {
        let mut s = COctetString::empty();
        self.cstr_into(&mut s, field)?;
        Ok(s)
    }

    /// Reads a C-Octet String of at most `MAX` octets including the NUL into `dst`, in place.
    #[inline]
    pub(crate) fn cstr_into<const MAX: usize>(
        &mut self,
        dst: &mut COctetString<MAX>,
        field: &'static str,
    ) -> Result<(), FieldError> {
        // Fast path: the whole MAX-octet window is in the body (true of every mandatory
        // string but the last few octets of a PDU), so the copy has a constant length and
        // needs no call to memcpy.
        if let Some(window) = self.buf.first_chunk::<MAX>() {
            return match find_nul(window) {
                Some(nul) => {
                    // `nul < MAX` and `window[..nul]` is NUL-free.
                    dst.set_from_window(window, nul);
                    self.buf = self.buf.get(nul + 1..).unwrap_or(&[]);
                    Ok(())
                }
                None => Err(FieldError::new(
                    field,
                    DecodeErrorKind::CStringTooLong { max: MAX },
                )),
            };
        }
        self.cstr_into_short(dst, field)
    }

    /// [`Reader::cstr_into`] when fewer than `MAX` octets are left: the last field of a
    /// body (a response's `message_id`), or a truncated PDU.
    fn cstr_into_short<const MAX: usize>(
        &mut self,
        dst: &mut COctetString<MAX>,
        field: &'static str,
    ) -> Result<(), FieldError> {
        if self.buf.is_empty() {
            // Nothing at all left: the body is short, not the string malformed.
            return Err(FieldError::new(
                field,
                DecodeErrorKind::Truncated {
                    needed: 1,
                    remaining: 0,
                },
            ));
        }
        // Fewer than MAX octets are left, so a missing NUL means the PDU ended first.
        match find_nul(self.buf).and_then(|nul| self.buf.split_at_checked(nul)) {
            Some((content, tail)) => {
                // `content.len() < buf.len() < MAX` and `content` is NUL-free.
                dst.set_checked(content);
                self.buf = tail.get(1..).unwrap_or(&[]);
                Ok(())
            }
            None => Err(FieldError::new(field, DecodeErrorKind::CStringUnterminated)),
        }
    }
}

/// Index of the first 0x00 in `s`.
///
/// Looks at 8 octets per step (a "has zero byte" word test) because C-Octet Strings are
/// scanned for every decoded PDU and a byte loop was a visible part of the decode time.
#[inline]
pub(crate) fn find_nul(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Non-zero iff `w` has a zero octet; the lowest set bit is in the first zero octet
    // (borrows only run towards higher octets, so octets below the first zero are exact).
    let zero_octets = |w: u64| w.wrapping_sub(LO) & !w & HI;
    let mut chunks = s.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break; // unreachable: chunks_exact yields 8-octet chunks
        };
        let z = zero_octets(u64::from_le_bytes(word));
        if z != 0 {
            return Some(offset + (z.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let rest = chunks.remainder();
    if rest.is_empty() {
        return None;
    }
    // The octets before `rest` hold no NUL, so the last 8 octets (overlapping them) can be
    // tested as one word when the string is that long.
    if let Some(last) = s.last_chunk::<8>() {
        let z = zero_octets(u64::from_le_bytes(*last));
        return (z != 0).then(|| s.len() - 8 + (z.trailing_zeros() / 8) as usize);
    }
    rest.iter().position(|&b| b == 0).map(|p| offset + p)
}

/// Writes a 16-octet header.
pub(crate) fn put_header(
    out: &mut impl bytes::BufMut,
    command_length: u32,
    command_id: CommandId,
    command_status: CommandStatus,
    sequence_number: u32,
) {
    out.put_u32(command_length);
    out.put_u32(command_id.0);
    out.put_u32(command_status.0);
    out.put_u32(sequence_number);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_waits_for_whole_frames() {
        // N1, N2, N3: incomplete → wait, consume nothing.
        assert_eq!(check(&[0, 0, 0], 100), Ok(None));
        assert_eq!(check(&[0, 0, 0, 0x10], 100), Ok(None));
        let n3 = [0, 0, 0, 0x10, 0, 0, 0, 0x15, 0, 0, 0, 0, 0x0a, 0x34, 0x2e];
        assert_eq!(check(&n3, 100), Ok(None));
        let mut whole = n3.to_vec();
        whole.push(0xe7);
        assert_eq!(check(&whole, 100), Ok(Some(16)));
        whole.extend_from_slice(&[1, 2, 3]);
        assert_eq!(check(&whole, 100), Ok(Some(16)));
    }

    #[test]
    fn check_rejects_unrecoverable_lengths() {
        assert_eq!(check(&[0, 0, 0, 15], 100), Err(FrameError::TooShort(15)));
        assert_eq!(check(&[0, 0, 0, 0], 100), Err(FrameError::TooShort(0)));
        assert_eq!(
            check(&[0, 0, 0, 101], 100),
            Err(FrameError::TooLong {
                length: 101,
                max: 100
            })
        );
        // N7: top bit set, rejected even with an absurd cap.
        assert_eq!(
            check(&[0xF0, 0, 0, 0x11], usize::MAX),
            Err(FrameError::TooLong {
                length: 0xF000_0011,
                max: usize::MAX
            })
        );
        assert_eq!(
            FrameError::TooShort(3).status(),
            CommandStatus::ESME_RINVCMDLEN
        );
    }

    #[test]
    fn reader_c_strings() {
        let mut r = Reader::new(b"abc\0de", None, 0);
        assert_eq!(r.cstr::<4>("f").unwrap(), "abc");
        assert_eq!(
            r.cstr::<4>("source_addr"),
            Err(FieldError::new(
                "source_addr",
                DecodeErrorKind::CStringUnterminated
            ))
        );
        let mut r = Reader::new(b"abcd\0", None, 0);
        assert_eq!(
            r.cstr::<4>("f"),
            Err(FieldError::new(
                "f",
                DecodeErrorKind::CStringTooLong { max: 4 }
            ))
        );
        let mut r = Reader::new(b"\0", None, 0);
        assert!(r.cstr::<1>("f").unwrap().is_empty());
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn find_nul_agrees_with_a_byte_scan() {
        // Every length across the 8-octet steps and every NUL position, next to octets that
        // trip naive word tricks (0x01 borrows after a zero, 0x80 has the high bit set).
        for len in 0..=40usize {
            for fill in [0x01u8, 0x80, 0xFF, b'a'] {
                let base = vec![fill; len];
                assert_eq!(find_nul(&base), None, "len {len} fill {fill:#x}");
                for at in 0..len {
                    let mut s = base.clone();
                    s[at] = 0;
                    assert_eq!(find_nul(&s), Some(at), "len {len} fill {fill:#x} at {at}");
                    // A later NUL never wins over the first.
                    s[len - 1] = 0;
                    assert_eq!(find_nul(&s), Some(at), "len {len} fill {fill:#x} at {at}");
                }
            }
        }
    }

    /// What `cstr::<MAX>` must return for `buf`: the content and the octets left after its
    /// NUL, or the error kind (the definition, as a plain byte scan).
    fn cstr_reference<const MAX: usize>(buf: &[u8]) -> Result<(Vec<u8>, usize), DecodeErrorKind> {
        if buf.is_empty() {
            return Err(DecodeErrorKind::Truncated {
                needed: 1,
                remaining: 0,
            });
        }
        let window = &buf[..buf.len().min(MAX)];
        match window.iter().position(|&b| b == 0) {
            Some(nul) => Ok((window[..nul].to_vec(), buf.len() - nul - 1)),
            None if window.len() < MAX => Err(DecodeErrorKind::CStringUnterminated),
            None => Err(DecodeErrorKind::CStringTooLong { max: MAX }),
        }
    }

    fn check_cstr_paths<const MAX: usize>() {
        // Content lengths up to past the limit, with and without a NUL, followed by 0 to
        // MAX + 2 more octets (the last one a NUL): both the whole-window path and the
        // end-of-body path, and every boundary between them.
        for content in 0..=MAX + 1 {
            for terminated in [true, false] {
                for tail in 0..=MAX + 2 {
                    let mut buf = vec![b'x'; content];
                    if terminated {
                        buf.push(0);
                    }
                    buf.extend(std::iter::repeat_n(b'y', tail));
                    if let Some(last) = buf.last_mut().filter(|_| tail > 0) {
                        *last = 0;
                    }
                    let mut r = Reader::new(&buf, None, 0);
                    let got = r
                        .cstr::<MAX>("f")
                        .map(|s| (s.as_bytes().to_vec(), r.remaining()))
                        .map_err(|e| e.kind);
                    assert_eq!(got, cstr_reference::<MAX>(&buf), "MAX {MAX}, {buf:?}");
                }
            }
        }
    }

    #[test]
    fn c_string_fast_and_short_paths_agree_with_the_definition() {
        check_cstr_paths::<1>();
        check_cstr_paths::<6>();
        check_cstr_paths::<17>();
        check_cstr_paths::<21>();
        check_cstr_paths::<65>();
    }

    #[test]
    fn grouped_octets_name_the_first_missing_field() {
        let mut r = Reader::new(&[1, 2], None, 0);
        assert_eq!(
            r.array(&["a", "b", "c"]),
            Err(FieldError::new(
                "c",
                DecodeErrorKind::Truncated {
                    needed: 1,
                    remaining: 0
                }
            ))
        );
        let mut r = Reader::new(&[], None, 0);
        assert_eq!(r.array(&["a", "b"]).unwrap_err().field, "a");
        let mut r = Reader::new(&[1, 2, 3, 4], None, 0);
        assert_eq!(r.array(&["a", "b", "c"]), Ok([1, 2, 3]));
        assert_eq!(r.remaining(), 1);
    }

    #[test]
    fn reader_slices_bytes_without_copy() {
        let src = Bytes::from_static(b"0123456789");
        let mut r = Reader::new(&src[4..], Some(&src), 4);
        assert_eq!(r.u8("a").unwrap(), b'4');
        let b = r.bytes(3, "b").unwrap();
        assert_eq!(&b[..], b"567");
        // Same allocation: the slice points into `src`.
        assert_eq!(b.as_ptr(), src[5..].as_ptr());
        assert_eq!(r.array(&["c", "d"]).unwrap(), *b"89");
        assert!(r.u8("d").is_err());
    }

    #[test]
    fn errors_display_the_field_and_the_reason() {
        let e = DecodeError {
            command_id: CommandId::DELIVER_SM,
            sequence_number: 7,
            field: "short_message",
            kind: DecodeErrorKind::ShortMessageOverrun {
                sm_length: 16,
                remaining: 8,
            },
        };
        assert_eq!(
            e.to_string(),
            "cannot decode CommandId::DELIVER_SM (sequence 7): field `short_message`: \
             sm_length 16 exceeds the 8 octet(s) left in the PDU"
        );
    }

    #[test]
    fn statuses_name_the_field() {
        let e = |field, kind| DecodeError {
            command_id: CommandId::SUBMIT_SM,
            sequence_number: 1,
            field,
            kind,
        };
        assert_eq!(
            e("destination_addr", DecodeErrorKind::CStringUnterminated).status(),
            CommandStatus::ESME_RINVDSTADR
        );
        assert_eq!(
            e("password", DecodeErrorKind::CStringTooLong { max: 17 }).status(),
            CommandStatus::ESME_RINVPASWD
        );
        assert_eq!(
            e("tlv", DecodeErrorKind::TlvStrayOctets { count: 1 }).status(),
            CommandStatus::ESME_RINVOPTPARSTREAM
        );
        assert_eq!(
            e(
                "short_message",
                DecodeErrorKind::ShortMessageOverrun {
                    sm_length: 16,
                    remaining: 8
                }
            )
            .status(),
            CommandStatus::ESME_RINVMSGLEN
        );
    }
}
