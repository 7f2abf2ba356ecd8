//! Header values (command ids, statuses) and the field types of SMPP 3.4 with their wire limits.
//!
//! Every integer field is a small `Copy` newtype over its wire value: unknown values are kept
//! verbatim (a peer's vendor value must survive decode → encode), and the associated constants
//! name the values the specification defines. Strings are [`COctetString`] (NUL-terminated on
//! the wire, stored inline so decoding does not allocate) and [`ShortMessage`].

use std::fmt;

/// Why a value could not be turned into a field: the field's wire limits were exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The value is longer than the field allows (`max` counts octets of content, without a
    /// NUL terminator).
    #[error("value is {len} octets long, the field allows at most {max}")]
    TooLong {
        /// Octets in the rejected value.
        len: usize,
        /// Largest content length the field allows.
        max: usize,
    },
    /// A C-Octet String value contains a NUL octet, which would end it early on the wire.
    #[error("value contains a NUL octet at index {index}")]
    InteriorNul {
        /// Index of the first NUL octet.
        index: usize,
    },
}

/// A [`ValueError`] with the name of the field it was meant for (from the `try_new`
/// constructors that take plain strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {error}")]
pub struct FieldValueError {
    /// The wire name of the field.
    pub field: &'static str,
    /// What was wrong with the value.
    pub error: ValueError,
}

impl ValueError {
    /// Names the field this value was meant for.
    pub const fn in_field(self, field: &'static str) -> FieldValueError {
        FieldValueError { field, error: self }
    }
}

/// A C-Octet String whose wire form (content + terminating NUL) is at most `MAX` octets.
///
/// `MAX` is the limit as written in the SMPP tables, *including* the NUL: `COctetString<16>`
/// holds up to 15 octets. The content never contains a NUL. The value is stored inline (a
/// fixed array and a length), so decoding and cloning never allocate; `MAX` must be in
/// `1..=256` (checked at compile time).
#[derive(Clone, Copy)]
pub struct COctetString<const MAX: usize> {
    // Invariant: `len < MAX` and `buf[..len]` has no NUL. Octets past `len` are ignored
    // (equality and hashing look at `as_bytes()` only), so overwriting needs no clearing.
    buf: [u8; MAX],
    len: u8,
}

impl<const MAX: usize> COctetString<MAX> {
    // Evaluated whenever a value is built: rejects `MAX` outside 1..=256 at compile time so
    // that `len` always fits the `u8`.
    const VALID_MAX: () = assert!(MAX >= 1 && MAX <= 256, "COctetString MAX must be 1..=256");

    /// Largest content length (octets, without the NUL).
    pub const MAX_CONTENT: usize = MAX - 1;

    /// The empty (NULL) value: a single 0x00 on the wire.
    pub const fn empty() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID_MAX;
        Self {
            buf: [0; MAX],
            len: 0,
        }
    }

    /// Builds a value from raw octets (without the NUL).
    ///
    /// # Errors
    /// [`ValueError::TooLong`] past `MAX - 1` octets, [`ValueError::InteriorNul`] if `bytes`
    /// contains 0x00.
    pub fn new(bytes: &[u8]) -> Result<Self, ValueError> {
        if bytes.len() > Self::MAX_CONTENT {
            return Err(ValueError::TooLong {
                len: bytes.len(),
                max: Self::MAX_CONTENT,
            });
        }
        if let Some(index) = crate::codec::find_nul(bytes) {
            return Err(ValueError::InteriorNul { index });
        }
        Ok(Self::from_checked(bytes))
    }

    /// Builds a value from octets already known to be NUL-free and at most `MAX - 1` long
    /// (the decoder checks both before calling).
    pub(crate) fn from_checked(bytes: &[u8]) -> Self {
        let mut s = Self::empty();
        s.set_checked(bytes);
        s
    }

    /// Overwrites the value in place with octets already known to be NUL-free and at most
    /// `MAX - 1` long (longer input is cut, never a panic). In place, so that decoding into a
    /// boxed PDU does not move the whole struct.
    pub(crate) fn set_checked(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(Self::MAX_CONTENT);
        // `n < MAX <= 256`, so both slices and the cast are in range.
        if let (Some(dst), Some(src)) = (self.buf.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.len = n as u8;
    }

    /// Overwrites the value with the first `len` octets of `window`, which the decoder found
    /// NUL-free (and `len < MAX`: `window[len]` is the NUL). The whole window is copied
    /// because a constant-length copy is a few register moves, while a `len`-octet one is a
    /// call to memcpy; the octets past `len` are ignored by the invariant.
    #[inline]
    pub(crate) fn set_from_window(&mut self, window: &[u8; MAX], len: usize) {
        self.buf = *window;
        // `len < MAX <= 256`; `min` keeps the invariant even if a caller were wrong.
        self.len = len.min(Self::MAX_CONTENT) as u8;
    }

    /// The content octets (without the NUL).
    pub fn as_bytes(&self) -> &[u8] {
        // `len < MAX` by the invariant, so this never falls back.
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The content as `&str` if it is valid UTF-8 (SMPP says ASCII; peers sometimes differ).
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()).ok()
    }

    /// The content as text, replacing invalid UTF-8 (for logs and displays).
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }

    /// Content length in octets (without the NUL).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for the NULL value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Octets on the wire: content plus the NUL.
    pub fn encoded_len(&self) -> usize {
        usize::from(self.len) + 1
    }

    /// Writes the content and the terminating NUL.
    pub fn encode(&self, out: &mut impl bytes::BufMut) {
        out.put_slice(self.as_bytes());
        out.put_u8(0);
    }
}

impl<const MAX: usize> Default for COctetString<MAX> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const MAX: usize> PartialEq for COctetString<MAX> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const MAX: usize> Eq for COctetString<MAX> {}

impl<const MAX: usize> std::hash::Hash for COctetString<MAX> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl<const MAX: usize> PartialEq<str> for COctetString<MAX> {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const MAX: usize> PartialEq<&str> for COctetString<MAX> {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const MAX: usize> fmt::Debug for COctetString<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

impl<const MAX: usize> fmt::Display for COctetString<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl<const MAX: usize> std::str::FromStr for COctetString<MAX> {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s.as_bytes())
    }
}

impl<const MAX: usize> TryFrom<&str> for COctetString<MAX> {
    type Error = ValueError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s.as_bytes())
    }
}

impl<const MAX: usize> TryFrom<&[u8]> for COctetString<MAX> {
    type Error = ValueError;
    fn try_from(s: &[u8]) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

/// The `short_message` octet string (0..=255 octets: `sm_length` is one octet).
///
/// Stored inline so that a decoded `submit_sm` costs one allocation (its `Box`) whether it was
/// decoded from `&[u8]` or `Bytes`. 3.4 text says 254; 255 is accepted because `sm_length`
/// can express it and real peers send it (cloudhopper accepts 255, rejects 256).
#[derive(Clone)]
pub struct ShortMessage {
    // Octets past `len` are ignored (see `as_bytes`).
    buf: [u8; 255],
    len: u8,
}

impl ShortMessage {
    /// Largest `short_message` length.
    pub const MAX_LEN: usize = 255;

    /// The empty short message (`sm_length` 0).
    pub const fn empty() -> Self {
        Self {
            buf: [0; 255],
            len: 0,
        }
    }

    /// Builds a short message; any octets, including 0x00, are allowed.
    ///
    /// # Errors
    /// [`ValueError::TooLong`] past 255 octets (put longer content in `message_payload`).
    pub fn new(bytes: &[u8]) -> Result<Self, ValueError> {
        if bytes.len() > Self::MAX_LEN {
            return Err(ValueError::TooLong {
                len: bytes.len(),
                max: Self::MAX_LEN,
            });
        }
        let mut s = Self::empty();
        s.set_checked(bytes);
        Ok(s)
    }

    /// Overwrites the content in place; input past 255 octets is cut (callers check first).
    pub(crate) fn set_checked(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(Self::MAX_LEN);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.len = n as u8; // <= 255
    }

    /// The octets.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// `sm_length`.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True when `sm_length` is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes `sm_length` and the octets.
    pub(crate) fn encode(&self, out: &mut impl bytes::BufMut) {
        out.put_u8(self.len);
        out.put_slice(self.as_bytes());
    }
}

impl Default for ShortMessage {
    fn default() -> Self {
        Self::empty()
    }
}

impl PartialEq for ShortMessage {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ShortMessage {}

impl std::hash::Hash for ShortMessage {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq<[u8]> for ShortMessage {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl fmt::Debug for ShortMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.as_bytes()) {
            Ok(s) => fmt::Debug::fmt(s, f),
            Err(_) => write!(f, "0x{}", Hex(self.as_bytes())),
        }
    }
}

impl TryFrom<&[u8]> for ShortMessage {
    type Error = ValueError;
    fn try_from(s: &[u8]) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<&str> for ShortMessage {
    type Error = ValueError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s.as_bytes())
    }
}

/// Upper-case hex of a byte slice, for `Debug` output.
pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// Declares a `Copy` newtype over an integer wire value with named constants and a
/// `name()` lookup; unknown values are simply kept.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident($ty:ty) {
            $( $(#[$cmeta:meta])* $konst:ident = $val:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $ty);

        impl $name {
            $( $(#[$cmeta])* pub const $konst: Self = Self($val); )*

            /// The constant's name for a value the specification defines, `None` otherwise.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some(stringify!($konst)), )*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{}", stringify!($name), n),
                    None => write!(f, "{}({:#x})", stringify!($name), self.0),
                }
            }
        }

        impl From<$ty> for $name {
            fn from(v: $ty) -> Self {
                Self(v)
            }
        }

        impl From<$name> for $ty {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}

wire_enum! {
    /// `command_id`: the operation of a PDU (bit 31 set for responses).
    CommandId(u32) {
        /// generic_nack (response only).
        GENERIC_NACK = 0x8000_0000,
        /// bind_receiver.
        BIND_RECEIVER = 0x0000_0001,
        /// bind_receiver_resp.
        BIND_RECEIVER_RESP = 0x8000_0001,
        /// bind_transmitter.
        BIND_TRANSMITTER = 0x0000_0002,
        /// bind_transmitter_resp.
        BIND_TRANSMITTER_RESP = 0x8000_0002,
        /// query_sm.
        QUERY_SM = 0x0000_0003,
        /// query_sm_resp.
        QUERY_SM_RESP = 0x8000_0003,
        /// submit_sm.
        SUBMIT_SM = 0x0000_0004,
        /// submit_sm_resp.
        SUBMIT_SM_RESP = 0x8000_0004,
        /// deliver_sm.
        DELIVER_SM = 0x0000_0005,
        /// deliver_sm_resp.
        DELIVER_SM_RESP = 0x8000_0005,
        /// unbind.
        UNBIND = 0x0000_0006,
        /// unbind_resp.
        UNBIND_RESP = 0x8000_0006,
        /// replace_sm.
        REPLACE_SM = 0x0000_0007,
        /// replace_sm_resp.
        REPLACE_SM_RESP = 0x8000_0007,
        /// cancel_sm.
        CANCEL_SM = 0x0000_0008,
        /// cancel_sm_resp.
        CANCEL_SM_RESP = 0x8000_0008,
        /// bind_transceiver.
        BIND_TRANSCEIVER = 0x0000_0009,
        /// bind_transceiver_resp.
        BIND_TRANSCEIVER_RESP = 0x8000_0009,
        /// outbind (no response).
        OUTBIND = 0x0000_000B,
        /// enquire_link.
        ENQUIRE_LINK = 0x0000_0015,
        /// enquire_link_resp.
        ENQUIRE_LINK_RESP = 0x8000_0015,
        /// submit_multi.
        SUBMIT_MULTI = 0x0000_0021,
        /// submit_multi_resp.
        SUBMIT_MULTI_RESP = 0x8000_0021,
        /// alert_notification (no response).
        ALERT_NOTIFICATION = 0x0000_0102,
        /// data_sm.
        DATA_SM = 0x0000_0103,
        /// data_sm_resp.
        DATA_SM_RESP = 0x8000_0103,
        /// broadcast_sm (SMPP 5.0; decoded as `PduBody::Other`).
        BROADCAST_SM = 0x0000_0111,
        /// broadcast_sm_resp (SMPP 5.0).
        BROADCAST_SM_RESP = 0x8000_0111,
        /// query_broadcast_sm (SMPP 5.0).
        QUERY_BROADCAST_SM = 0x0000_0112,
        /// query_broadcast_sm_resp (SMPP 5.0).
        QUERY_BROADCAST_SM_RESP = 0x8000_0112,
        /// cancel_broadcast_sm (SMPP 5.0).
        CANCEL_BROADCAST_SM = 0x0000_0113,
        /// cancel_broadcast_sm_resp (SMPP 5.0).
        CANCEL_BROADCAST_SM_RESP = 0x8000_0113,
    }
}

impl CommandId {
    /// Bit 31: set on every response (and on generic_nack).
    pub const RESPONSE_BIT: u32 = 0x8000_0000;

    /// True when bit 31 is set (a response, including generic_nack).
    pub const fn is_response(self) -> bool {
        self.0 & Self::RESPONSE_BIT != 0
    }

    /// The id of this request's response; `None` for responses, generic_nack, outbind and
    /// alert_notification (which have no response) and for unknown requests.
    pub const fn response_id(self) -> Option<CommandId> {
        if self.is_response() {
            return None;
        }
        match self {
            Self::OUTBIND | Self::ALERT_NOTIFICATION => None,
            // Only ids the specification defines: an unknown request is answered with
            // generic_nack, never with a made-up "response".
            _ if self.name().is_some() => Some(CommandId(self.0 | Self::RESPONSE_BIT)),
            _ => None,
        }
    }
}

wire_enum! {
    /// `command_status`: 0 in requests, the result code in responses (smpp-reference §6).
    CommandStatus(u32) {
        /// OK.
        ESME_ROK = 0x00,
        /// Message length invalid.
        ESME_RINVMSGLEN = 0x01,
        /// command_length invalid.
        ESME_RINVCMDLEN = 0x02,
        /// command_id invalid.
        ESME_RINVCMDID = 0x03,
        /// Incorrect bind status for this command.
        ESME_RINVBNDSTS = 0x04,
        /// Already bound.
        ESME_RALYBND = 0x05,
        /// Invalid priority_flag.
        ESME_RINVPRTFLG = 0x06,
        /// Invalid registered_delivery.
        ESME_RINVREGDLVFLG = 0x07,
        /// System error.
        ESME_RSYSERR = 0x08,
        /// Invalid source address.
        ESME_RINVSRCADR = 0x0A,
        /// Invalid destination address.
        ESME_RINVDSTADR = 0x0B,
        /// Invalid message_id.
        ESME_RINVMSGID = 0x0C,
        /// Bind failed.
        ESME_RBINDFAIL = 0x0D,
        /// Invalid password.
        ESME_RINVPASWD = 0x0E,
        /// Invalid system_id.
        ESME_RINVSYSID = 0x0F,
        /// cancel_sm failed.
        ESME_RCANCELFAIL = 0x11,
        /// replace_sm failed.
        ESME_RREPLACEFAIL = 0x13,
        /// Message queue full (temporary).
        ESME_RMSGQFUL = 0x14,
        /// Invalid service_type.
        ESME_RINVSERTYP = 0x15,
        /// Invalid number_of_dests.
        ESME_RINVNUMDESTS = 0x33,
        /// Invalid distribution list name.
        ESME_RINVDLNAME = 0x34,
        /// Invalid dest_flag.
        ESME_RINVDESTFLAG = 0x40,
        /// Submit with replace not allowed.
        ESME_RINVSUBREP = 0x42,
        /// Invalid esm_class.
        ESME_RINVESMCLASS = 0x43,
        /// Cannot submit to distribution list.
        ESME_RCNTSUBDL = 0x44,
        /// submit_sm / submit_multi failed.
        ESME_RSUBMITFAIL = 0x45,
        /// Invalid source TON.
        ESME_RINVSRCTON = 0x48,
        /// Invalid source NPI.
        ESME_RINVSRCNPI = 0x49,
        /// Invalid destination TON.
        ESME_RINVDSTTON = 0x50,
        /// Invalid destination NPI.
        ESME_RINVDSTNPI = 0x51,
        /// Invalid system_type.
        ESME_RINVSYSTYP = 0x53,
        /// Invalid replace_if_present_flag.
        ESME_RINVREPFLAG = 0x54,
        /// Invalid number of messages.
        ESME_RINVNUMMSGS = 0x55,
        /// Throttling error (temporary).
        ESME_RTHROTTLED = 0x58,
        /// Invalid schedule_delivery_time.
        ESME_RINVSCHED = 0x61,
        /// Invalid validity_period.
        ESME_RINVEXPIRY = 0x62,
        /// Invalid sm_default_msg_id.
        ESME_RINVDFTMSGID = 0x63,
        /// ESME receiver temporary error.
        ESME_RX_T_APPN = 0x64,
        /// ESME receiver permanent error.
        ESME_RX_P_APPN = 0x65,
        /// ESME receiver reject message.
        ESME_RX_R_APPN = 0x66,
        /// query_sm failed.
        ESME_RQUERYFAIL = 0x67,
        /// Malformed optional-parameter (TLV) stream.
        ESME_RINVOPTPARSTREAM = 0xC0,
        /// Optional parameter not allowed.
        ESME_ROPTPARNOTALLWD = 0xC1,
        /// Invalid parameter (TLV) length.
        ESME_RINVPARLEN = 0xC2,
        /// Expected optional parameter missing.
        ESME_RMISSINGOPTPARAM = 0xC3,
        /// Invalid optional parameter value.
        ESME_RINVOPTPARAMVAL = 0xC4,
        /// Delivery failure.
        ESME_RDELIVERYFAILURE = 0xFE,
        /// Unknown error.
        ESME_RUNKNOWNERR = 0xFF,
        /// 5.0: not authorised for service_type.
        ESME_RSERTYPUNAUTH = 0x100,
        /// 5.0: operation prohibited.
        ESME_RPROHIBITED = 0x101,
        /// 5.0: service_type unavailable.
        ESME_RSERTYPUNAVAIL = 0x102,
        /// 5.0: service_type denied.
        ESME_RSERTYPDENIED = 0x103,
        /// 5.0: invalid data_coding.
        ESME_RINVDCS = 0x104,
        /// 5.0: invalid source address subunit.
        ESME_RINVSRCADDRSUBUNIT = 0x105,
        /// 5.0: invalid destination address subunit.
        ESME_RINVDSTADDRSUBUNIT = 0x106,
        /// 5.0: invalid broadcast frequency interval.
        ESME_RINVBCASTFREQINT = 0x107,
        /// 5.0: invalid broadcast alias name.
        ESME_RINVBCASTALIAS_NAME = 0x108,
        /// 5.0: invalid broadcast area format.
        ESME_RINVBCASTAREAFMT = 0x109,
        /// 5.0: invalid number of broadcast areas.
        ESME_RINVNUMBCAST_AREAS = 0x10A,
        /// 5.0: invalid broadcast content type.
        ESME_RINVBCASTCNTTYPE = 0x10B,
        /// 5.0: invalid broadcast message class.
        ESME_RINVBCASTMSGCLASS = 0x10C,
        /// 5.0: broadcast_sm failed.
        ESME_RBCASTFAIL = 0x10D,
        /// 5.0: query_broadcast_sm failed.
        ESME_RBCASTQUERYFAIL = 0x10E,
        /// 5.0: cancel_broadcast_sm failed.
        ESME_RBCASTCANCELFAIL = 0x10F,
        /// 5.0: invalid number of broadcast repetitions.
        ESME_RINVBCAST_REP = 0x110,
        /// 5.0: invalid broadcast service group.
        ESME_RINVBCASTSRVGRP = 0x111,
        /// 5.0: invalid broadcast channel indicator.
        ESME_RINVBCASTCHANIND = 0x112,
    }
}

impl CommandStatus {
    /// True for ESME_ROK.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }
}

wire_enum! {
    /// Type of number (`*_ton` fields).
    Ton(u8) {
        /// Unknown.
        UNKNOWN = 0,
        /// International (MSISDN with country code, no '+').
        INTERNATIONAL = 1,
        /// National.
        NATIONAL = 2,
        /// Network specific.
        NETWORK_SPECIFIC = 3,
        /// Subscriber number.
        SUBSCRIBER_NUMBER = 4,
        /// Alphanumeric (sender names).
        ALPHANUMERIC = 5,
        /// Abbreviated.
        ABBREVIATED = 6,
    }
}

wire_enum! {
    /// Numbering plan indicator (`*_npi` fields).
    Npi(u8) {
        /// Unknown.
        UNKNOWN = 0,
        /// ISDN (E.163/E.164).
        ISDN = 1,
        /// Data (X.121).
        DATA = 3,
        /// Telex (F.69).
        TELEX = 4,
        /// Land mobile (E.212).
        LAND_MOBILE = 6,
        /// National.
        NATIONAL = 8,
        /// Private.
        PRIVATE = 9,
        /// ERMES.
        ERMES = 10,
        /// Internet (IP).
        INTERNET = 14,
        /// WAP client id.
        WAP_CLIENT_ID = 18,
    }
}

wire_enum! {
    /// `esm_class`: messaging mode (bits 1–0), message type (bits 5–2) and GSM features
    /// (bits 7–6). The constants are the common single values; use the helpers to test bits.
    EsmClass(u8) {
        /// Default MC mode, normal message, no GSM features.
        DEFAULT = 0x00,
        /// MC delivery receipt (message type 0001, MC→ESME).
        DELIVERY_RECEIPT = 0x04,
        /// UDH indicator: `short_message` starts with a user data header.
        UDHI = 0x40,
        /// Reply path.
        REPLY_PATH = 0x80,
    }
}

impl EsmClass {
    /// Messaging-mode mask (bits 1–0).
    pub const MODE_MASK: u8 = 0x03;
    /// Message-type mask (bits 5–2).
    pub const TYPE_MASK: u8 = 0x3C;
    /// Datagram mode.
    pub const MODE_DATAGRAM: u8 = 0x01;
    /// Forward (transaction) mode.
    pub const MODE_FORWARD: u8 = 0x02;
    /// Store-and-forward mode.
    pub const MODE_STORE_AND_FORWARD: u8 = 0x03;
    /// Message type: SME delivery acknowledgement.
    pub const TYPE_DELIVERY_ACK: u8 = 0x08;
    /// Message type: SME manual/user acknowledgement.
    pub const TYPE_USER_ACK: u8 = 0x10;
    /// Message type: conversation abort (Korean CDMA).
    pub const TYPE_CONVERSATION_ABORT: u8 = 0x18;
    /// Message type: intermediate delivery notification.
    pub const TYPE_INTERMEDIATE_NOTIFICATION: u8 = 0x20;

    /// The message-type bits (5–2).
    pub const fn message_type(self) -> u8 {
        self.0 & Self::TYPE_MASK
    }

    /// True when the message type is "MC delivery receipt" (0x04).
    pub const fn is_delivery_receipt(self) -> bool {
        self.message_type() == Self::DELIVERY_RECEIPT.0
    }

    /// True when the message type is "intermediate delivery notification" (0x20).
    pub const fn is_intermediate_notification(self) -> bool {
        self.message_type() == Self::TYPE_INTERMEDIATE_NOTIFICATION
    }

    /// True when the UDH indicator (0x40) is set.
    pub const fn udhi(self) -> bool {
        self.0 & Self::UDHI.0 != 0
    }

    /// This value with the UDH indicator set or cleared.
    pub const fn with_udhi(self, on: bool) -> Self {
        if on {
            Self(self.0 | Self::UDHI.0)
        } else {
            Self(self.0 & !Self::UDHI.0)
        }
    }

    /// True when the reply-path bit (0x80) is set.
    pub const fn reply_path(self) -> bool {
        self.0 & Self::REPLY_PATH.0 != 0
    }
}

wire_enum! {
    /// `registered_delivery`: which receipts/acknowledgements are requested.
    RegisteredDelivery(u8) {
        /// No receipt.
        NONE = 0x00,
        /// MC receipt on final success or failure.
        RECEIPT = 0x01,
        /// MC receipt on failure only.
        RECEIPT_ON_FAILURE = 0x02,
        /// MC receipt on success only (5.0; reserved in 3.4).
        RECEIPT_ON_SUCCESS = 0x03,
        /// Intermediate notification requested (bit 4).
        INTERMEDIATE = 0x10,
    }
}

impl RegisteredDelivery {
    /// MC receipt bits (1–0).
    pub const RECEIPT_MASK: u8 = 0x03;
    /// SME acknowledgement bits (3–2).
    pub const SME_ACK_MASK: u8 = 0x0C;

    /// True when any MC delivery receipt is requested (bits 1–0 non-zero).
    pub const fn wants_receipt(self) -> bool {
        self.0 & Self::RECEIPT_MASK != 0
    }

    /// The MC receipt bits (0 none, 1 success or failure, 2 failure, 3 success).
    pub const fn receipt_kind(self) -> u8 {
        self.0 & Self::RECEIPT_MASK
    }

    /// True when an intermediate notification is requested (0x10).
    pub const fn wants_intermediate(self) -> bool {
        self.0 & Self::INTERMEDIATE.0 != 0
    }
}

wire_enum! {
    /// `data_coding`: the alphabet of `short_message` / `message_payload`.
    DataCoding(u8) {
        /// MC default alphabet (GSM 03.38 7-bit unpacked on most MCs).
        DEFAULT = 0x00,
        /// IA5 / ASCII.
        IA5 = 0x01,
        /// 8-bit binary (TDMA/CDMA).
        OCTET_UNSPECIFIED_2 = 0x02,
        /// Latin-1.
        LATIN1 = 0x03,
        /// 8-bit binary (GSM).
        BINARY = 0x04,
        /// JIS.
        JIS = 0x05,
        /// Cyrillic (ISO-8859-5).
        CYRILLIC = 0x06,
        /// Latin/Hebrew (ISO-8859-8).
        HEBREW = 0x07,
        /// UCS-2 (UTF-16BE in practice).
        UCS2 = 0x08,
        /// Pictogram.
        PICTOGRAM = 0x09,
        /// ISO-2022-JP (music codes).
        ISO_2022_JP = 0x0A,
        /// Extended Kanji JIS.
        KANJI_JIS = 0x0D,
        /// KS C 5601.
        KSC5601 = 0x0E,
        /// GSM-7, message class 0 ("flash").
        GSM7_FLASH = 0x10,
        /// UCS-2, message class 0 ("flash").
        UCS2_FLASH = 0x18,
    }
}

impl DataCoding {
    /// True for UCS-2: 0x08, and the GSM 23.038 general data coding groups (0x10–0x7F, bits
    /// 3–2 = 10, e.g. 0x18 "UCS-2 flash") that MCs pass through.
    pub const fn is_ucs2(self) -> bool {
        self.0 == 0x08 || (self.0 >= 0x10 && self.0 < 0x80 && self.0 & 0x0C == 0x08)
    }
}

wire_enum! {
    /// `priority_flag` (0–3; GSM: 0 normal, 1–3 priority).
    PriorityFlag(u8) {
        /// Level 0 (lowest / normal).
        LEVEL_0 = 0,
        /// Level 1.
        LEVEL_1 = 1,
        /// Level 2.
        LEVEL_2 = 2,
        /// Level 3 (highest).
        LEVEL_3 = 3,
    }
}

/// `interface_version` values.
pub mod interface_version {
    /// SMPP 3.3 (and earlier use lower values).
    pub const V33: u8 = 0x33;
    /// SMPP 3.4.
    pub const V34: u8 = 0x34;
    /// SMPP 5.0.
    pub const V50: u8 = 0x50;
}

/// Limits (including the NUL) of the C-Octet String fields, as named in smpp-reference §5.
pub mod limits {
    /// service_type.
    pub const SERVICE_TYPE: usize = 6;
    /// system_id.
    pub const SYSTEM_ID: usize = 16;
    /// password. SMPP 3.4 says C(9) (8 characters), but Kannel and several operators use up
    /// to 16; accepting C(17) lets the simulator bind such ESMEs and the gateway use the
    /// password an operator handed out. Whether 9..=16 characters are allowed is then the
    /// MC's decision (it answers ESME_RINVPASWD), not the codec's.
    pub const PASSWORD: usize = 17;
    /// system_type.
    pub const SYSTEM_TYPE: usize = 13;
    /// address_range.
    pub const ADDRESS_RANGE: usize = 41;
    /// source_addr / destination_addr in submit_sm, deliver_sm, submit_multi, query_sm,
    /// cancel_sm, replace_sm.
    pub const ADDR: usize = 21;
    /// source_addr / destination_addr in data_sm, addresses in alert_notification.
    pub const LONG_ADDR: usize = 65;
    /// Time fields (16 characters + NUL).
    pub const TIME: usize = 17;
    /// message_id.
    pub const MESSAGE_ID: usize = 65;
}

/// service_type (C(6)).
pub type ServiceType = COctetString<{ limits::SERVICE_TYPE }>;
/// An address in submit_sm / deliver_sm / submit_multi / query_sm / cancel_sm / replace_sm
/// (C(21)).
pub type Address = COctetString<{ limits::ADDR }>;
/// An address in data_sm / alert_notification (C(65)).
pub type LongAddress = COctetString<{ limits::LONG_ADDR }>;
/// A time field (C(17)): empty, or a 16-character absolute/relative time (see `time`).
pub type TimeString = COctetString<{ limits::TIME }>;
/// message_id (C(65)).
pub type MessageId = COctetString<{ limits::MESSAGE_ID }>;
/// system_id (C(16)).
pub type SystemId = COctetString<{ limits::SYSTEM_ID }>;
/// password (C(17), see [`limits::PASSWORD`]).
pub type Password = COctetString<{ limits::PASSWORD }>;
/// system_type (C(13)).
pub type SystemType = COctetString<{ limits::SYSTEM_TYPE }>;
/// address_range (C(41)).
pub type AddressRange = COctetString<{ limits::ADDRESS_RANGE }>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_octet_string_limits_include_the_nul() {
        assert!(COctetString::<16>::new(b"123456789012345").is_ok());
        assert_eq!(
            COctetString::<16>::new(b"1234567890123456"),
            Err(ValueError::TooLong { len: 16, max: 15 })
        );
        assert_eq!(
            COctetString::<16>::new(b"ab\0c"),
            Err(ValueError::InteriorNul { index: 2 })
        );
        let s: COctetString<6> = "CMT".parse().unwrap();
        assert_eq!(s.as_bytes(), b"CMT");
        assert_eq!(s.encoded_len(), 4);
        let mut out = Vec::new();
        s.encode(&mut out);
        assert_eq!(out, b"CMT\0");
        assert_eq!(COctetString::<1>::new(b""), Ok(COctetString::empty()));
        assert!(COctetString::<1>::new(b"x").is_err());
    }

    #[test]
    fn short_message_accepts_255_rejects_256() {
        assert_eq!(ShortMessage::new(&[7; 255]).unwrap().len(), 255);
        assert_eq!(
            ShortMessage::new(&[7; 256]),
            Err(ValueError::TooLong { len: 256, max: 255 })
        );
        assert_eq!(ShortMessage::new(b"a\0b").unwrap().as_bytes(), b"a\0b");
    }

    #[test]
    fn command_id_helpers() {
        assert!(CommandId::SUBMIT_SM_RESP.is_response());
        assert!(!CommandId::SUBMIT_SM.is_response());
        assert_eq!(
            CommandId::SUBMIT_SM.response_id(),
            Some(CommandId::SUBMIT_SM_RESP)
        );
        assert_eq!(CommandId::GENERIC_NACK.response_id(), None);
        assert_eq!(CommandId::OUTBIND.response_id(), None);
        assert_eq!(CommandId::ALERT_NOTIFICATION.response_id(), None);
        assert_eq!(CommandId::SUBMIT_SM_RESP.response_id(), None);
        assert_eq!(CommandId(0x0000_0110).response_id(), None);
        assert_eq!(CommandId::DATA_SM.name(), Some("DATA_SM"));
        assert_eq!(CommandId(0x0000_0110).name(), None);
        assert_eq!(format!("{:?}", CommandId(0x110)), "CommandId(0x110)");
    }

    #[test]
    fn status_and_flags() {
        assert!(CommandStatus::ESME_ROK.is_ok());
        assert!(!CommandStatus(0x30).is_ok());
        assert_eq!(CommandStatus(0x58).name(), Some("ESME_RTHROTTLED"));
        assert_eq!(CommandStatus(0x30).name(), None);
        assert!(EsmClass(0x04).is_delivery_receipt());
        assert!(EsmClass(0x44).is_delivery_receipt());
        assert!(!EsmClass(0x08).is_delivery_receipt());
        assert!(EsmClass(0x43).udhi());
        assert_eq!(EsmClass::DEFAULT.with_udhi(true), EsmClass(0x40));
        assert_eq!(EsmClass(0x43).with_udhi(false), EsmClass(0x03));
        assert!(RegisteredDelivery(0x11).wants_receipt());
        assert!(RegisteredDelivery(0x11).wants_intermediate());
        assert!(!RegisteredDelivery(0x0C).wants_receipt());
        assert!(DataCoding::UCS2.is_ucs2());
        assert!(DataCoding(0x18).is_ucs2());
        assert!(!DataCoding(0x00).is_ucs2());
        assert!(!DataCoding(0xF4).is_ucs2());
    }
}
