//! Delivery receipts: the de-facto text form, the TLV form, and matching receipt ids to the
//! ids returned by `submit_sm_resp`.
//!
//! A receipt is a `deliver_sm` / `data_sm` whose short message (or `message_payload`) carries
//!
//! ```text
//! id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:EEE text:...
//! ```
//!
//! and, often, the TLVs `receipted_message_id`, `message_state` and `network_error_code`, which
//! carry the same facts in a structured way and are preferred when present (SMPP 3.4 Appendix
//! B; `smpp-reference.md` §13).
//!
//! - [`TextReceipt`] is the typed text form: [`TextReceipt::parse`] and [`TextReceipt::to_text`].
//! - [`ReceiptInfo`] combines the text form with the TLVs ([`ReceiptTlvs`]), TLVs first.
//! - [`id_keys`] / [`IdKeys`] give the lookup keys under which a store indexes the id from
//!   `submit_sm_resp` and looks up the ids seen in a receipt (case, leading zeros, and the
//!   "hex in the TLV, decimal in the text" pattern seen in real receipts).
//!
//! # Parsing rules (text form)
//! - Keys are matched case-insensitively (`Text:`, `ID:`), at the start of the text or after
//!   whitespace; `submit date` / `done date` may have several spaces between the words.
//! - Fields may come in any order and any field but `id` may be missing. Unknown `key:value`
//!   tokens (and stray words) are skipped. A field given twice is an error.
//! - Values other than `text` are one whitespace-free token; whitespace directly after the colon
//!   is skipped (`stat: DELIVRD`) unless what follows is another key, in which case the value
//!   is empty and the field counts as missing (`err: text:`).
//! - `text:` takes the rest of the message as raw bytes (it may hold UCS-2, spaces, colons),
//!   **except** when the rest ends with one or more complete fields that have not appeared yet,
//!   in which case the text stops before them (cloudhopper's `... text: stat:DELIVRD`). Those
//!   trailing fields must be well-formed and must not include unknown keys, so an ordinary text
//!   is never cut short by accident.
//! - Dates keep their form (10, 12 or 14 digits); 2-digit years are 2000-2099, see
//!   [`crate::time`]. They are MC local time: the receipt does not say which zone.

use std::fmt;

use crate::message_state::{MessageState, NetworkErrorCode};
use crate::time::{self, check_date_time, TimeError, TimeField};

/// Longest message id SMPP allows (`message_id` / `receipted_message_id` are C-strings of at
/// most 65 octets including the NUL).
pub const MAX_MESSAGE_ID_LEN: usize = 64;

// ---------------------------------------------------------------------------------------------
// Message ids

/// A message id as the MC reports it: 1-64 printable ASCII characters without spaces, kept
/// exactly as received (case and leading zeros included). Use [`id_keys`] to compare ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

/// Why a message id or a `stat:` word was rejected (the caller's error says which).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The value is empty.
    #[error("empty")]
    Empty,
    /// The value is too long.
    #[error("{len} characters long, at most {max} allowed")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A byte that is not printable ASCII (or is a space).
    #[error("byte {position} is {}, expected printable ASCII without spaces", time::show_byte(*found))]
    BadByte {
        /// 0-based index of the byte.
        position: usize,
        /// The byte.
        found: u8,
    },
}

/// Checks that `bytes` is 1..=`max` printable ASCII characters and returns them as a string.
fn printable_token(bytes: &[u8], max: usize) -> Result<String, TokenError> {
    if bytes.is_empty() {
        return Err(TokenError::Empty);
    }
    if bytes.len() > max {
        return Err(TokenError::TooLong {
            len: bytes.len(),
            max,
        });
    }
    if let Some(position) = bytes.iter().position(|b| !b.is_ascii_graphic()) {
        return Err(TokenError::BadByte {
            position,
            found: bytes[position], // `position` comes from `position()`, so it is in bounds
        });
    }
    // All bytes are printable ASCII (checked above), hence valid UTF-8 one char each.
    Ok(bytes.iter().map(|&b| char::from(b)).collect())
}

/// Longest `stat:` word accepted (the standard ones have 7 letters; full names up to 13).
pub const MAX_STAT_LEN: usize = 32;

impl MessageId {
    /// Validates `id`.
    pub fn new(id: &str) -> Result<Self, TokenError> {
        Self::from_bytes(id.as_bytes())
    }

    /// Validates an id given as bytes (as found in a PDU, without the NUL).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenError> {
        printable_token(bytes, MAX_MESSAGE_ID_LEN).map(Self)
    }

    /// The id as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lookup keys of this id; see [`id_keys`].
    pub fn keys(&self, source: IdSource) -> IdKeys {
        id_keys(&self.0, source)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an id came from, which decides how its digits may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdSource {
    /// A protocol field: `submit_sm_resp.message_id` or the `receipted_message_id` TLV. Real
    /// MCs often write these in hexadecimal.
    Protocol,
    /// The `id:` field of a text receipt. Real MCs often write it in (zero-padded) decimal.
    ReceiptText,
}

/// One lookup key of a message id. Two ids denote the same message when they share a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdKey {
    /// The id in lower case without leading zeros (`"0"` if it was all zeros).
    Normalised(String),
    /// The numeric value of the id: hexadecimal for a [`IdSource::Protocol`] id that contains a
    /// hex letter, decimal for an all-digit [`IdSource::ReceiptText`] id.
    Number(u128),
}

/// The lookup keys of one id (one or two), most specific first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdKeys {
    normalised: IdKey,
    number: Option<IdKey>,
}

impl IdKeys {
    /// The keys, most specific ([`IdKey::Normalised`]) first.
    pub fn iter(&self) -> impl Iterator<Item = &IdKey> + '_ {
        std::iter::once(&self.normalised).chain(self.number.as_ref())
    }

    /// The [`IdKey::Normalised`] key (always present).
    pub fn normalised(&self) -> &IdKey {
        &self.normalised
    }

    /// The [`IdKey::Number`] key, if the id has one.
    pub fn number(&self) -> Option<&IdKey> {
        self.number.as_ref()
    }

    /// Whether the two ids share a key, i.e. denote the same message.
    pub fn matches(&self, other: &IdKeys) -> bool {
        self.iter().any(|k| other.iter().any(|o| o == k))
    }
}

/// The lookup keys of `id`, for matching receipts to submissions (§13).
///
/// A store indexes the `submit_sm_resp` id under `id_keys(id, IdSource::Protocol)` and looks a
/// receipt up under the keys of its `receipted_message_id` (also `Protocol`) and of its text
/// `id:` (`ReceiptText`), trying [`IdKey::Normalised`] keys before [`IdKey::Number`] keys.
///
/// - Case and leading zeros never matter: `00AbC` and `abc` share `Normalised("abc")`.
/// - The real-world pattern "TLV / `submit_sm_resp` id in hex, text id in zero-padded decimal"
///   (V23 `38601fa` ↔ `0059113978`, V41 `1d305b4c` ↔ `0489708364`, R6 `16fee0e525` ↔
///   `98765432101`) is covered by [`IdKey::Number`]: hexadecimal for protocol ids, decimal for
///   text ids. Other pairings of bases are deliberately **not** keyed, since they would make
///   ids of different messages collide.
/// - A protocol id made only of decimal digits gets no numeric key: `10` could be hex (16) or
///   decimal (10), and guessing hex would let the receipt of message `16` match message `10`.
///   The cost: a hex id that happens to have no letter (about 2 % of random 8-digit ids) is
///   matched through the TLV only, not through a decimal text id.
/// - Ids too long for 128 bits get no numeric key.
pub fn id_keys(id: &str, source: IdSource) -> IdKeys {
    let trimmed = id.trim_start_matches('0');
    let normalised = if trimmed.is_empty() && !id.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_ascii_lowercase()
    };
    // Digits without leading zeros (so that zero padding does not count against 128 bits).
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    let number = match source {
        IdSource::Protocol
            if !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_hexdigit())
                && id.bytes().any(|b| b.is_ascii_alphabetic()) =>
        {
            u128::from_str_radix(digits, 16).ok()
        }
        IdSource::ReceiptText if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse::<u128>().ok()
        }
        _ => None,
    };
    IdKeys {
        normalised: IdKey::Normalised(normalised),
        number: number.map(IdKey::Number),
    }
}

/// Whether two ids denote the same message (they share a key of [`id_keys`]).
pub fn ids_match(a: &str, a_source: IdSource, b: &str, b_source: IdSource) -> bool {
    id_keys(a, a_source).matches(&id_keys(b, b_source))
}

// ---------------------------------------------------------------------------------------------
// Field values

/// A field of the text receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptField {
    /// `id:`
    Id,
    /// `sub:`
    Sub,
    /// `dlvrd:`
    Dlvrd,
    /// `submit date:`
    SubmitDate,
    /// `done date:`
    DoneDate,
    /// `stat:`
    Stat,
    /// `err:`
    Err,
    /// `text:`
    Text,
}

impl ReceiptField {
    /// All fields, in canonical order.
    pub const ALL: [Self; 8] = [
        Self::Id,
        Self::Sub,
        Self::Dlvrd,
        Self::SubmitDate,
        Self::DoneDate,
        Self::Stat,
        Self::Err,
        Self::Text,
    ];

    /// The key as written in a canonical receipt, without the colon.
    pub const fn key(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Sub => "sub",
            Self::Dlvrd => "dlvrd",
            Self::SubmitDate => "submit date",
            Self::DoneDate => "done date",
            Self::Stat => "stat",
            Self::Err => "err",
            Self::Text => "text",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ReceiptField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// How many digits a receipt date had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateForm {
    /// `YYMMDDhhmm` (10 digits, the SMPP 3.4 appendix form): no seconds.
    Minutes,
    /// `YYMMDDhhmmss` (12 digits).
    Seconds,
    /// `YYYYMMDDhhmmss` (14 digits, 4-digit year).
    FullYear,
}

impl DateForm {
    /// Number of digits of this form.
    pub const fn digits(self) -> usize {
        match self {
            Self::Minutes => 10,
            Self::Seconds => 12,
            Self::FullYear => 14,
        }
    }
}

/// A `submit date` / `done date` value: a calendar date and time (MC local time, zone
/// unknown) that remembers its written form, so that it formats back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptDate {
    form: DateForm,
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

/// Why a receipt date was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateError {
    /// Not 10, 12 or 14 characters.
    #[error("expected 10, 12 or 14 digits, found {len} characters")]
    WrongLength {
        /// The length found.
        len: usize,
    },
    /// A character that is not a digit.
    #[error("position {position}: expected a digit, found {}", time::show_byte(*found))]
    NotADigit {
        /// 0-based index in the value.
        position: usize,
        /// The byte found.
        found: u8,
    },
    /// A field out of range (month 13, 30 February, year outside the form's range, seconds in
    /// a 10-digit date...).
    #[error("{0}")]
    OutOfRange(TimeError),
}

impl ReceiptDate {
    /// Builds a date. For the 2-digit-year forms the year must be 2000-2099; for
    /// [`DateForm::FullYear`] 0-9999. A [`DateForm::Minutes`] date has no seconds, so `second`
    /// must be 0.
    pub fn new(
        form: DateForm,
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, DateError> {
        let (min_year, max_year) = match form {
            DateForm::Minutes | DateForm::Seconds => (2000, 2099),
            DateForm::FullYear => (0, 9999),
        };
        let range = |field, value: u32, min: u32, max: u32| {
            DateError::OutOfRange(TimeError::OutOfRange {
                field,
                value,
                min,
                max,
            })
        };
        if !(min_year..=max_year).contains(&year) {
            return Err(range(
                TimeField::Year,
                year.into(),
                min_year.into(),
                max_year.into(),
            ));
        }
        check_date_time(i64::from(year), month, day, hour, minute, second)
            .map_err(DateError::OutOfRange)?;
        if form == DateForm::Minutes && second != 0 {
            return Err(range(TimeField::Second, second.into(), 0, 0));
        }
        Ok(Self {
            form,
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// Parses 10, 12 or 14 ASCII digits.
    pub fn parse(value: &[u8]) -> Result<Self, DateError> {
        let form = match value.len() {
            10 => DateForm::Minutes,
            12 => DateForm::Seconds,
            14 => DateForm::FullYear,
            len => return Err(DateError::WrongLength { len }),
        };
        if let Some(position) = value.iter().position(|b| !b.is_ascii_digit()) {
            return Err(DateError::NotADigit {
                position,
                found: value[position],
            });
        }
        // All bytes are digits (checked above); `n` reads `count` of them from `at`.
        let n = |at: usize, count: usize| -> u16 {
            value
                .iter()
                .skip(at)
                .take(count)
                .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'))
        };
        let (year, rest) = match form {
            DateForm::FullYear => (n(0, 4), 4),
            DateForm::Minutes | DateForm::Seconds => (2000 + n(0, 2), 2),
        };
        // Two digits are at most 99, so the narrowing casts are exact.
        let two = |i: usize| n(rest + 2 * i, 2) as u8;
        let second = if form == DateForm::Minutes { 0 } else { two(4) };
        Self::new(form, year, two(0), two(1), two(2), two(3), second)
    }

    /// The form (number of digits) the date is written in.
    pub const fn form(&self) -> DateForm {
        self.form
    }
    /// Year (2000-2099 for the 2-digit forms).
    pub const fn year(&self) -> u16 {
        self.year
    }
    /// Month, 1-12.
    pub const fn month(&self) -> u8 {
        self.month
    }
    /// Day, 1-31.
    pub const fn day(&self) -> u8 {
        self.day
    }
    /// Hour, 0-23.
    pub const fn hour(&self) -> u8 {
        self.hour
    }
    /// Minute, 0-59.
    pub const fn minute(&self) -> u8 {
        self.minute
    }
    /// Second, 0-59 (always 0 for [`DateForm::Minutes`]).
    pub const fn second(&self) -> u8 {
        self.second
    }

    /// The instant in Unix seconds, given the MC's offset from UTC in seconds (positive east
    /// of Greenwich). Receipts do not carry a zone; pass 0 if the MC reports UTC.
    pub fn to_unix_seconds(&self, mc_utc_offset_seconds: i32) -> i64 {
        let days = time::days_from_civil(i64::from(self.year), self.month, self.day);
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(mc_utc_offset_seconds)
    }
}

impl fmt::Display for ReceiptDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.form {
            DateForm::FullYear => write!(f, "{:04}", self.year)?,
            // 2-digit forms hold 2000-2099 by construction.
            DateForm::Minutes | DateForm::Seconds => write!(f, "{:02}", self.year % 100)?,
        }
        write!(
            f,
            "{:02}{:02}{:02}{:02}",
            self.month, self.day, self.hour, self.minute
        )?;
        if self.form != DateForm::Minutes {
            write!(f, "{:02}", self.second)?;
        }
        Ok(())
    }
}

/// The `stat:` word and the state it stands for. The word is kept as received, so an unknown
/// word (mapped to [`MessageState::Unknown`]) can still be logged and formatted back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReceiptStat {
    state: MessageState,
    word: String,
}

/// The 7-letter words of §13 and the 3.4 state names some MCs write in full.
const STAT_WORDS: [(&str, MessageState); 12] = [
    ("DELIVRD", MessageState::Delivered),
    ("EXPIRED", MessageState::Expired),
    ("DELETED", MessageState::Deleted),
    ("UNDELIV", MessageState::Undeliverable),
    ("ACCEPTD", MessageState::Accepted),
    ("UNKNOWN", MessageState::Unknown),
    ("REJECTD", MessageState::Rejected),
    ("ENROUTE", MessageState::Enroute),
    ("DELIVERED", MessageState::Delivered),
    ("UNDELIVERABLE", MessageState::Undeliverable),
    ("ACCEPTED", MessageState::Accepted),
    ("REJECTED", MessageState::Rejected),
];

impl ReceiptStat {
    /// The canonical word for `state`; `None` for states that have no receipt word
    /// (SCHEDULED, SKIPPED and unassigned values).
    pub fn from_state(state: MessageState) -> Option<Self> {
        STAT_WORDS
            .iter()
            .take(8) // the canonical 7-letter words come first
            .find(|(_, s)| *s == state)
            .map(|(w, s)| Self {
                state: *s,
                word: (*w).to_owned(),
            })
    }

    /// Reads a `stat:` value: case-insensitive, one token of printable ASCII. Words other than
    /// the §13 ones (and the full 3.4 names DELIVERED, UNDELIVERABLE, ACCEPTED, REJECTED) give
    /// [`MessageState::Unknown`], keeping the word.
    pub fn parse(word: &[u8]) -> Result<Self, TokenError> {
        let word = printable_token(word, MAX_STAT_LEN)?;
        let state = STAT_WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(&word))
            .map_or(MessageState::Unknown, |(_, s)| *s);
        Ok(Self { state, word })
    }

    /// The state the word stands for.
    pub const fn state(&self) -> MessageState {
        self.state
    }

    /// The word as received (or the canonical word).
    pub fn word(&self) -> &str {
        &self.word
    }

    /// Whether the word is one this parser knows (`false`: mapped to UNKNOWN, log the word).
    pub fn is_recognised(&self) -> bool {
        STAT_WORDS
            .iter()
            .any(|(w, _)| w.eq_ignore_ascii_case(&self.word))
    }
}

/// The `err:` value: the digits as received (`0`, `000`, `107`) and their value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReceiptErr {
    raw: String,
    value: u32,
}

impl ReceiptErr {
    /// The canonical 3-digit (at least) form of `value`, as in `err:%03d`.
    pub fn new(value: u32) -> Self {
        Self {
            raw: format!("{value:03}"),
            value,
        }
    }

    /// Reads an `err:` value: one or more ASCII digits whose value fits in a `u32`.
    pub fn parse(digits: &[u8]) -> Result<Self, NumberError> {
        if digits.is_empty() {
            return Err(NumberError::Empty);
        }
        let value = parse_u32(digits)?;
        // `parse_u32` accepted only ASCII digits, so each byte is one char.
        let raw = digits.iter().map(|&b| char::from(b)).collect();
        Ok(Self { raw, value })
    }

    /// The digits as received.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The numeric value (meaning is MC-specific; 0 = no error).
    pub const fn value(&self) -> u32 {
        self.value
    }
}

/// Why a number (`sub`, `dlvrd`, `err`) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    /// No digits at all.
    #[error("no digits")]
    Empty,
    /// A non-digit character.
    #[error("position {position}: expected a digit, found {}", time::show_byte(*found))]
    NotADigit {
        /// 0-based index in the value.
        position: usize,
        /// The byte found.
        found: u8,
    },
    /// The value exceeds `u32::MAX`.
    #[error("{digits} digits: value larger than {}", u32::MAX)]
    TooLarge {
        /// Number of digits in the value.
        digits: usize,
    },
}

fn parse_u32(value: &[u8]) -> Result<u32, NumberError> {
    let mut n = 0u32;
    for (position, &b) in value.iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(NumberError::NotADigit { position, found: b });
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u32::from(b - b'0')))
            .ok_or(NumberError::TooLarge {
                digits: value.len(),
            })?;
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// The text receipt

/// A parsed text delivery receipt. Every field but `id` is optional because real MCs omit
/// them. Formatting ([`TextReceipt::to_text`]) writes the canonical form, omitting absent
/// fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TextReceipt {
    /// `id:` — the MC message id (compare with [`id_keys`], source [`IdSource::ReceiptText`]).
    pub id: MessageId,
    /// `sub:` — number of messages originally submitted.
    pub sub: Option<u32>,
    /// `dlvrd:` — number delivered.
    pub dlvrd: Option<u32>,
    /// `submit date:`.
    pub submit_date: Option<ReceiptDate>,
    /// `done date:`.
    pub done_date: Option<ReceiptDate>,
    /// `stat:`.
    pub stat: Option<ReceiptStat>,
    /// `err:`.
    pub err: Option<ReceiptErr>,
    /// `text:` — raw bytes (the MC's copy of the start of the message, in whatever encoding);
    /// `None` when there is no `text:` field, `Some(empty)` for `text:` with nothing after it.
    pub text: Option<Vec<u8>>,
}

/// Why a text receipt could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptParseError {
    /// No `id:` field (or an empty one).
    #[error("missing id")]
    MissingId,
    /// A field appears twice.
    #[error("duplicate field \"{field}\"")]
    DuplicateField {
        /// The field.
        field: ReceiptField,
    },
    /// The `id:` value is not a valid message id.
    #[error("bad id: {0}")]
    BadId(TokenError),
    /// `sub`, `dlvrd` or `err` is not a number.
    #[error("bad number in \"{field}\": {problem}")]
    BadNumber {
        /// The field.
        field: ReceiptField,
        /// What was wrong.
        problem: NumberError,
    },
    /// `submit date` or `done date` is not a valid date.
    #[error("bad date in \"{field}\": {problem}")]
    BadDate {
        /// The field.
        field: ReceiptField,
        /// What was wrong.
        problem: DateError,
    },
    /// The `stat:` word is not printable ASCII (or too long).
    #[error("bad stat: {0}")]
    BadStat(TokenError),
}

/// Why a receipt cannot be written in the text form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptFormatError {
    /// The text ends with what reads as a field that the receipt does not have (for example
    /// the text `" stat:DELIVRD"` in a receipt without `stat`): parsing the output would give
    /// that field a value instead of keeping it in the text. Cannot happen when every field is
    /// present.
    #[error("the text would be read back as a \"{field}\" field, which this receipt lacks")]
    AmbiguousText {
        /// The field the text would be read as.
        field: ReceiptField,
    },
}

const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_space(input: &[u8], mut pos: usize) -> usize {
    while input.get(pos).is_some_and(|&b| is_space(b)) {
        pos += 1;
    }
    pos
}

fn token_end(input: &[u8], mut pos: usize) -> usize {
    while input.get(pos).is_some_and(|&b| !is_space(b)) {
        pos += 1;
    }
    pos
}

/// If a known key (with its colon) starts at `pos`, the field and the position after the colon.
fn match_key(input: &[u8], pos: usize) -> Option<(ReceiptField, usize)> {
    ReceiptField::ALL.iter().find_map(|&field| {
        let mut at = pos;
        for &k in field.key().as_bytes().iter().chain(b":") {
            if k == b' ' {
                // One or more whitespace characters between the words of a two-word key.
                let after = skip_space(input, at);
                if after == at {
                    return None;
                }
                at = after;
            } else if input.get(at).is_some_and(|b| b.eq_ignore_ascii_case(&k)) {
                at += 1;
            } else {
                return None;
            }
        }
        Some((field, at))
    })
}

/// The value of a non-text field whose colon ends at `after`: its byte range.
fn value_range(input: &[u8], after: usize) -> (usize, usize) {
    let mut start = after;
    if input.get(after).is_some_and(|&b| is_space(b)) {
        let next = skip_space(input, after);
        if match_key(input, next).is_some() || next == input.len() {
            // `err: text:` or `err:` at the end: the value is empty.
            return (after, after);
        }
        start = next;
    }
    (start, token_end(input, start))
}

/// Fields collected while parsing.
#[derive(Default)]
struct Fields {
    seen: [bool; 8],
    id: Option<MessageId>,
    sub: Option<u32>,
    dlvrd: Option<u32>,
    submit_date: Option<ReceiptDate>,
    done_date: Option<ReceiptDate>,
    stat: Option<ReceiptStat>,
    err: Option<ReceiptErr>,
}

impl Fields {
    /// Records a non-text field; an empty value leaves it absent.
    fn set(&mut self, field: ReceiptField, value: &[u8]) -> Result<(), ReceiptParseError> {
        let seen = &mut self.seen[field.index()]; // index() < 8 = seen.len()
        if *seen {
            return Err(ReceiptParseError::DuplicateField { field });
        }
        *seen = true;
        if value.is_empty() {
            return Ok(());
        }
        let number = |value| {
            parse_u32(value).map_err(|problem| ReceiptParseError::BadNumber { field, problem })
        };
        let date = |value| {
            ReceiptDate::parse(value)
                .map_err(|problem| ReceiptParseError::BadDate { field, problem })
        };
        match field {
            ReceiptField::Id => {
                self.id = Some(MessageId::from_bytes(value).map_err(ReceiptParseError::BadId)?)
            }
            ReceiptField::Sub => self.sub = Some(number(value)?),
            ReceiptField::Dlvrd => self.dlvrd = Some(number(value)?),
            ReceiptField::SubmitDate => self.submit_date = Some(date(value)?),
            ReceiptField::DoneDate => self.done_date = Some(date(value)?),
            ReceiptField::Stat => {
                self.stat = Some(ReceiptStat::parse(value).map_err(ReceiptParseError::BadStat)?)
            }
            ReceiptField::Err => {
                self.err = Some(
                    ReceiptErr::parse(value)
                        .map_err(|problem| ReceiptParseError::BadNumber { field, problem })?,
                )
            }
            // The caller handles `text:` itself.
            ReceiptField::Text => {}
        }
        Ok(())
    }
}

/// Where the text value ends when the rest of the message (`rest`, after `text:`) ends with
/// complete fields not yet seen: the earliest position (0 or after whitespace) from which the
/// remainder parses as such fields, each well-formed, with nothing else. The returned position
/// is where the trailing fields begin.
fn trailing_fields_start(rest: &[u8], seen: &[bool; 8]) -> Option<usize> {
    let candidates = std::iter::once(0)
        .chain((1..rest.len()).filter(|&i| is_space(rest[i - 1]) && !is_space(rest[i])));
    candidates.into_iter().find(|&start| {
        let mut fields = Fields {
            seen: *seen,
            ..Fields::default()
        };
        let mut pos = skip_space(rest, start);
        if pos == rest.len() {
            return false; // nothing but spaces: that is text
        }
        while pos < rest.len() {
            let Some((field, after)) = match_key(rest, pos) else {
                return false;
            };
            if field == ReceiptField::Text {
                return false;
            }
            let (v0, v1) = value_range(rest, after);
            // `value_range` returns an in-bounds, ordered range.
            if v0 == v1 || fields.set(field, &rest[v0..v1]).is_err() {
                return false;
            }
            pos = skip_space(rest, v1);
        }
        true
    })
}

impl TextReceipt {
    /// A receipt with only an id; fill in the other fields as needed.
    pub fn new(id: MessageId) -> Self {
        Self {
            id,
            sub: None,
            dlvrd: None,
            submit_date: None,
            done_date: None,
            stat: None,
            err: None,
            text: None,
        }
    }

    /// Parses the text form (see the module documentation for the rules). Total: any bytes
    /// give a receipt or an error.
    pub fn parse(input: &[u8]) -> Result<Self, ReceiptParseError> {
        let mut fields = Fields::default();
        let mut text = None;
        let mut pos = skip_space(input, 0);
        while pos < input.len() {
            match match_key(input, pos) {
                Some((ReceiptField::Text, after)) => {
                    if fields.seen[ReceiptField::Text.index()] {
                        return Err(ReceiptParseError::DuplicateField {
                            field: ReceiptField::Text,
                        });
                    }
                    fields.seen[ReceiptField::Text.index()] = true;
                    let rest = input.get(after..).unwrap_or_default();
                    match trailing_fields_start(rest, &fields.seen) {
                        Some(start) => {
                            // The whitespace before the trailing fields separates them.
                            let mut end = start;
                            while end > 0 && is_space(rest[end - 1]) {
                                end -= 1;
                            }
                            text = Some(rest[..end].to_vec());
                            pos = after + start;
                        }
                        None => {
                            text = Some(rest.to_vec());
                            break;
                        }
                    }
                }
                Some((field, after)) => {
                    let (v0, v1) = value_range(input, after);
                    fields.set(field, &input[v0..v1])?;
                    pos = v1;
                }
                // Unknown `key:value` or stray word: skip it.
                None => pos = token_end(input, pos),
            }
            pos = skip_space(input, pos);
        }
        Ok(Self {
            id: fields.id.ok_or(ReceiptParseError::MissingId)?,
            sub: fields.sub,
            dlvrd: fields.dlvrd,
            submit_date: fields.submit_date,
            done_date: fields.done_date,
            stat: fields.stat,
            err: fields.err,
            text,
        })
    }

    /// Writes the canonical form
    /// `id:%s sub:%03d dlvrd:%03d submit date:%s done date:%s stat:%s err:%s text:%s`, leaving
    /// out absent fields; the text is written as is (truncating it, customarily to 20
    /// characters, is the caller's choice). `parse(to_text(r)) == r` for every receipt this
    /// accepts; see [`ReceiptFormatError`] for the one it refuses.
    pub fn to_text(&self) -> Result<Vec<u8>, ReceiptFormatError> {
        let mut head = format!("id:{}", self.id);
        if let Some(sub) = self.sub {
            head += &format!(" sub:{sub:03}");
        }
        if let Some(dlvrd) = self.dlvrd {
            head += &format!(" dlvrd:{dlvrd:03}");
        }
        if let Some(d) = &self.submit_date {
            head += &format!(" submit date:{d}");
        }
        if let Some(d) = &self.done_date {
            head += &format!(" done date:{d}");
        }
        if let Some(stat) = &self.stat {
            head += &format!(" stat:{}", stat.word);
        }
        if let Some(err) = &self.err {
            head += &format!(" err:{}", err.raw);
        }
        let mut out = head.into_bytes();
        if let Some(text) = &self.text {
            let present = [
                true,
                self.sub.is_some(),
                self.dlvrd.is_some(),
                self.submit_date.is_some(),
                self.done_date.is_some(),
                self.stat.is_some(),
                self.err.is_some(),
                true,
            ];
            if let Some(start) = trailing_fields_start(text, &present) {
                let at = skip_space(text, start);
                let field = match_key(text, at).map_or(ReceiptField::Text, |(f, _)| f);
                return Err(ReceiptFormatError::AmbiguousText { field });
            }
            out.extend_from_slice(b" text:");
            out.extend_from_slice(text);
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Text + TLVs

/// The receipt TLVs of a `deliver_sm` / `data_sm`, as plain values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiptTlvs<'a> {
    /// `receipted_message_id` (0x001E) value; one trailing NUL, if the codec left it, is
    /// ignored, and an empty value counts as absent.
    pub receipted_message_id: Option<&'a [u8]>,
    /// `message_state` (0x0427).
    pub message_state: Option<MessageState>,
    /// `network_error_code` (0x0423).
    pub network_error_code: Option<NetworkErrorCode>,
}

/// Which part of the receipt a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A TLV.
    Tlv,
    /// The text receipt.
    Text,
}

/// Which id of a receipt matched a stored id, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdMatch {
    /// The receipt id that matched.
    pub origin: Origin,
    /// `true` if the ids are byte-for-byte equal; `false` for a normalised match.
    pub exact: bool,
}

/// Why a receipt could not be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptInfoError {
    /// Neither a `receipted_message_id` TLV nor a text receipt.
    #[error("no message id: neither a receipted_message_id TLV nor a text receipt")]
    NoMessageId,
    /// The `receipted_message_id` TLV is not a valid id.
    #[error("bad receipted_message_id: {0}")]
    BadReceiptedMessageId(TokenError),
}

/// A delivery receipt from its text form and TLVs, TLVs preferred (§13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptInfo {
    /// The preferred id (TLV, else text) and where it came from; always present.
    message_id: (MessageId, Origin),
    tlv_message_id: Option<MessageId>,
    tlv_state: Option<MessageState>,
    network_error_code: Option<NetworkErrorCode>,
    text: Option<TextReceipt>,
}

impl ReceiptInfo {
    /// Combines a parsed text receipt (if any) with the TLVs. Needs at least one id.
    pub fn new(text: Option<TextReceipt>, tlvs: ReceiptTlvs<'_>) -> Result<Self, ReceiptInfoError> {
        let tlv_message_id = match tlvs.receipted_message_id {
            Some(raw) => {
                let raw = raw.strip_suffix(b"\0").unwrap_or(raw);
                if raw.is_empty() {
                    None
                } else {
                    Some(
                        MessageId::from_bytes(raw)
                            .map_err(ReceiptInfoError::BadReceiptedMessageId)?,
                    )
                }
            }
            None => None,
        };
        let message_id = match (&tlv_message_id, &text) {
            (Some(id), _) => (id.clone(), Origin::Tlv),
            (None, Some(text)) => (text.id.clone(), Origin::Text),
            (None, None) => return Err(ReceiptInfoError::NoMessageId),
        };
        Ok(Self {
            message_id,
            tlv_message_id,
            tlv_state: tlvs.message_state,
            network_error_code: tlvs.network_error_code,
            text,
        })
    }

    /// The id of the receipted message: the TLV's if present, else the text's.
    pub fn message_id(&self) -> (&MessageId, Origin) {
        (&self.message_id.0, self.message_id.1)
    }

    /// The state: the `message_state` TLV if present, else the text's `stat:`.
    pub fn state(&self) -> Option<(MessageState, Origin)> {
        self.tlv_state.map(|s| (s, Origin::Tlv)).or_else(|| {
            self.text
                .as_ref()
                .and_then(|t| t.stat.as_ref())
                .map(|s| (s.state(), Origin::Text))
        })
    }

    /// The `network_error_code` TLV.
    pub const fn network_error_code(&self) -> Option<NetworkErrorCode> {
        self.network_error_code
    }

    /// The text's `err:` value (MC-specific; there is no TLV equivalent besides
    /// [`ReceiptInfo::network_error_code`]).
    pub fn text_error(&self) -> Option<&ReceiptErr> {
        self.text.as_ref().and_then(|t| t.err.as_ref())
    }

    /// The `receipted_message_id` TLV.
    pub fn tlv_message_id(&self) -> Option<&MessageId> {
        self.tlv_message_id.as_ref()
    }

    /// The text receipt.
    pub fn text(&self) -> Option<&TextReceipt> {
        self.text.as_ref()
    }

    /// `Some(false)` when both the TLV and the text give an id and they do not denote the same
    /// message (by [`id_keys`]); `None` unless both are present.
    pub fn ids_agree(&self) -> Option<bool> {
        let tlv = self.tlv_message_id.as_ref()?;
        let text = self.text.as_ref()?;
        Some(ids_match(
            tlv.as_str(),
            IdSource::Protocol,
            text.id.as_str(),
            IdSource::ReceiptText,
        ))
    }

    /// `Some(false)` when the `message_state` TLV and the text's `stat:` disagree.
    pub fn states_agree(&self) -> Option<bool> {
        let tlv = self.tlv_state?;
        let text = self.text.as_ref()?.stat.as_ref()?;
        Some(tlv == text.state())
    }

    /// Every lookup key of the receipt's ids, TLV id first and [`IdKey::Normalised`] keys
    /// before [`IdKey::Number`] keys, without duplicates; look them up in this order in an
    /// index built with `id_keys(stored, IdSource::Protocol)`.
    pub fn lookup_keys(&self) -> Vec<IdKey> {
        let mut all = Vec::with_capacity(4);
        let tlv = self
            .tlv_message_id
            .as_ref()
            .map(|id| id.keys(IdSource::Protocol));
        let text = self.text.as_ref().map(|t| t.id.keys(IdSource::ReceiptText));
        for keys in [&tlv, &text].into_iter().flatten() {
            all.push(keys.normalised.clone());
        }
        for keys in [&tlv, &text].into_iter().flatten() {
            all.extend(keys.number.clone());
        }
        let mut unique = Vec::with_capacity(all.len());
        for k in all {
            if !unique.contains(&k) {
                unique.push(k);
            }
        }
        unique
    }

    /// Whether this receipt is for the message the gateway stored under `stored_id` (from
    /// `submit_sm_resp`): the TLV id is tried first, then the text id (§13).
    pub fn match_submitted_id(&self, stored_id: &str) -> Option<IdMatch> {
        let stored = id_keys(stored_id, IdSource::Protocol);
        let tlv = self
            .tlv_message_id
            .as_ref()
            .map(|id| (id, IdSource::Protocol, Origin::Tlv));
        let text = self
            .text
            .as_ref()
            .map(|t| (&t.id, IdSource::ReceiptText, Origin::Text));
        [tlv, text]
            .into_iter()
            .flatten()
            .find(|(id, source, _)| id.keys(*source).matches(&stored))
            .map(|(id, _, origin)| IdMatch {
                origin,
                exact: id.as_str() == stored_id,
            })
    }
}

// ---------------------------------------------------------------------------------------------
// From a PDU

/// Why a receipt could not be read out of a `deliver_sm` / `data_sm`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PduReceiptError {
    /// The receipt text could not be parsed and no `receipted_message_id` TLV stands in for it.
    #[error("receipt text: {0}")]
    Text(#[from] ReceiptParseError),
    /// The TLVs and text do not form a receipt.
    #[error(transparent)]
    Info(#[from] ReceiptInfoError),
}

impl ReceiptInfo {
    /// Reads a receipt from a PDU's message text (`short_message`, or `message_payload`) and its
    /// TLVs. When the TLVs carry the id, a text that does not parse is ignored (TLVs are the
    /// preferred source, §13); without them the text must parse.
    pub fn from_pdu_parts(text: &[u8], tlvs: &crate::tlv::Tlvs) -> Result<Self, PduReceiptError> {
        let receipted = tlvs.receipted_message_id().map(|id| id.as_bytes());
        let has_tlv_id = receipted.is_some_and(|id| !id.is_empty());
        let text = if text.is_empty() {
            None
        } else {
            match TextReceipt::parse(text) {
                Ok(parsed) => Some(parsed),
                Err(_) if has_tlv_id => None,
                Err(e) => return Err(e.into()),
            }
        };
        let tlvs = ReceiptTlvs {
            receipted_message_id: receipted,
            message_state: tlvs.message_state(),
            network_error_code: tlvs.network_error_code(),
        };
        Ok(Self::new(text, tlvs)?)
    }
}

impl crate::pdu::DeliverSm {
    /// The delivery receipt this PDU carries: `None` when `esm_class` does not mark it as one.
    pub fn receipt(&self) -> Option<Result<ReceiptInfo, PduReceiptError>> {
        self.is_delivery_receipt()
            .then(|| ReceiptInfo::from_pdu_parts(self.message(), &self.tlvs))
    }
}

impl crate::pdu::DataSm {
    /// The delivery receipt this PDU carries: `None` when `esm_class` does not mark it as one.
    /// data_sm has no short_message, so the text (if any) is in `message_payload`.
    pub fn receipt(&self) -> Option<Result<ReceiptInfo, PduReceiptError>> {
        self.esm_class.is_delivery_receipt().then(|| {
            let text = self.message_payload().map(|p| &p[..]).unwrap_or(&[]);
            ReceiptInfo::from_pdu_parts(text, &self.tlvs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn parse(s: &str) -> TextReceipt {
        TextReceipt::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn date(s: &str) -> ReceiptDate {
        ReceiptDate::parse(s.as_bytes()).unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    fn ymdhms(d: &ReceiptDate) -> (u16, u8, u8, u8, u8, u8) {
        (
            d.year(),
            d.month(),
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
        )
    }

    const R1: &str = "id:0123456789 sub:002 dlvrd:001 submit date:1005232039 done date:1005242339 stat:DELIVRD err:012 text:This is a sample mes";
    const R3: &str = "id:74e02ee1-4e2f-4a6e-a78b-4b247d756a22 sub:001 dlvrd:001 submit date:110206193041 done date:110206193110 stat:DELIVRD err:000 text:";

    #[test]
    fn r1_parses_and_formats_back() {
        let r = parse(R1);
        assert_eq!(r.id.as_str(), "0123456789");
        assert_eq!((r.sub, r.dlvrd), (Some(2), Some(1)));
        let submit = r.submit_date.unwrap();
        assert_eq!(submit.form(), DateForm::Minutes);
        assert_eq!(ymdhms(&submit), (2010, 5, 23, 20, 39, 0));
        assert_eq!(ymdhms(&r.done_date.unwrap()), (2010, 5, 24, 23, 39, 0));
        let stat = r.stat.as_ref().unwrap();
        assert_eq!(stat.state(), MessageState::Delivered);
        assert!(stat.is_recognised());
        let err = r.err.as_ref().unwrap();
        assert_eq!((err.raw(), err.value()), ("012", 12));
        assert_eq!(r.text.as_deref(), Some(&b"This is a sample mes"[..]));
        assert_eq!(r.to_text().unwrap(), R1.as_bytes());
    }

    #[test]
    fn r2_capitalised_text_key() {
        let r = parse("id:4 sub:001 dlvrd:001 submit date:1006020051 done date:1006020051 stat:DELIVRD err:000 Text:Hello");
        assert_eq!(r.id.as_str(), "4");
        assert_eq!(r.text.as_deref(), Some(&b"Hello"[..]));
        assert_eq!(r.err.as_ref().map(ReceiptErr::value), Some(0));
    }

    #[test]
    fn r3_twelve_digit_dates_and_empty_text() {
        let r = parse(R3);
        assert_eq!(r.id.as_str(), "74e02ee1-4e2f-4a6e-a78b-4b247d756a22");
        let submit = r.submit_date.unwrap();
        assert_eq!(submit.form(), DateForm::Seconds);
        assert_eq!(ymdhms(&submit), (2011, 2, 6, 19, 30, 41));
        assert_eq!(ymdhms(&r.done_date.unwrap()), (2011, 2, 6, 19, 31, 10));
        assert_eq!(r.text, Some(Vec::new()));
        assert_eq!(r.to_text().unwrap(), R3.as_bytes());
    }

    #[test]
    fn r4_out_of_order_equals_r3() {
        let r4 = parse("sub:001 id:74e02ee1-4e2f-4a6e-a78b-4b247d756a22 err:000 dlvrd:001 done date:110206193110 submit date:110206193041 text: stat:DELIVRD");
        assert_eq!(r4, parse(R3));
    }

    #[test]
    fn r5_missing_fields_four_digit_years_short_err() {
        let r = parse("id:2E179B310EDE971B2760C72B7F026E1B submit date:20110314181534 done date:20110314181741 stat:DELIVRD err:0");
        assert_eq!(r.id.as_str(), "2E179B310EDE971B2760C72B7F026E1B");
        assert_eq!((r.sub, r.dlvrd), (None, None));
        let submit = r.submit_date.unwrap();
        assert_eq!(submit.form(), DateForm::FullYear);
        assert_eq!(ymdhms(&submit), (2011, 3, 14, 18, 15, 34));
        // 2011-03-14T18:15:34Z, computed with Python's datetime.
        assert_eq!(submit.to_unix_seconds(0), 1_300_126_534);
        assert_eq!(submit.to_unix_seconds(3600), 1_300_126_534 - 3600);
        assert_eq!(ymdhms(&r.done_date.unwrap()), (2011, 3, 14, 18, 17, 41));
        let err = r.err.as_ref().unwrap();
        assert_eq!((err.raw(), err.value()), ("0", 0));
        assert_eq!(r.text, None);
        // Formats back with the date form and err digits it came with.
        assert_eq!(
            r.to_text().unwrap(),
            b"id:2E179B310EDE971B2760C72B7F026E1B submit date:20110314181534 done date:20110314181741 stat:DELIVRD err:0"
        );
    }

    #[test]
    fn r6_enroute_and_decimal_id_matches_hex_submit_id() {
        let r = parse("id:98765432101 sub:000 dlvrd:000 submit date:1001010000 done date:1001010000 stat:ENROUTE err:000 text:");
        assert_eq!(
            r.stat.as_ref().map(ReceiptStat::state),
            Some(MessageState::Enroute)
        );
        assert!(!MessageState::Enroute.is_final());
        assert_eq!((r.sub, r.dlvrd), (Some(0), Some(0)));
        let info = ReceiptInfo::new(Some(r), ReceiptTlvs::default()).unwrap();
        assert_eq!(
            info.match_submitted_id("16fee0e525"),
            Some(IdMatch {
                origin: Origin::Text,
                exact: false
            })
        );
        assert_eq!(info.match_submitted_id("16fee0e526"), None);
    }

    #[test]
    fn v23_r7_text_and_tlvs() {
        let text = parse("id:0059113978 sub:001 dlvrd:001 submit date:1002101730 done date:1002101731 stat:DELIVRD err:000 text:@$#!%&/:");
        assert_eq!(text.text.as_deref(), Some(&b"@$#!%&/:"[..]));
        assert_eq!(ymdhms(&text.done_date.unwrap()), (2010, 2, 10, 17, 31, 0));
        let info = ReceiptInfo::new(
            Some(text),
            ReceiptTlvs {
                receipted_message_id: Some(b"38601fa\0"),
                message_state: Some(MessageState::Delivered),
                network_error_code: None,
            },
        )
        .unwrap();
        let (id, origin) = info.message_id();
        assert_eq!((id.as_str(), origin), ("38601fa", Origin::Tlv));
        assert_eq!(info.state(), Some((MessageState::Delivered, Origin::Tlv)));
        assert_eq!(info.ids_agree(), Some(true));
        assert_eq!(info.states_agree(), Some(true));
        assert_eq!(
            info.match_submitted_id("38601fa"),
            Some(IdMatch {
                origin: Origin::Tlv,
                exact: true
            })
        );
        assert_eq!(
            info.match_submitted_id("38601FA"),
            Some(IdMatch {
                origin: Origin::Tlv,
                exact: false
            })
        );
        assert_eq!(info.match_submitted_id("38601fb"), None);
    }

    #[test]
    fn v24_r8_accepted_err_107() {
        let r = parse("id:94251430923 sub:001 dlvrd:001 submit date:0911040124 done date:0911040124 stat:ACCEPTD err:107 text: 26F102");
        assert_eq!(r.id.as_str(), "94251430923");
        assert_eq!(
            r.stat.as_ref().map(ReceiptStat::state),
            Some(MessageState::Accepted)
        );
        assert_eq!(r.err.as_ref().map(ReceiptErr::value), Some(107));
        assert_eq!(ymdhms(&r.submit_date.unwrap()), (2009, 11, 4, 1, 24, 0));
        // The text is kept raw, including the space after the colon.
        assert_eq!(r.text.as_deref(), Some(&b" 26F102"[..]));
        let info = ReceiptInfo::new(Some(r), ReceiptTlvs::default()).unwrap();
        assert_eq!(info.state(), Some((MessageState::Accepted, Origin::Text)));
        assert_eq!(info.ids_agree(), None);
    }

    #[test]
    fn v25_capitalised_text_with_padding_and_tlvs() {
        let short_message = hex("69643A3132366538356136656465616331613032303230303939333132343739353634207375623A30303120646C7672643A303031207375626D697420646174653A3130303231393136333020646F6E6520646174653A3130303231393136333020737461743A44454C49565244206572723A30303020546578743A48656C6C6F202020202020202020202020202020");
        let r = TextReceipt::parse(&short_message).unwrap();
        assert_eq!(r.text.as_deref(), Some(&b"Hello               "[..]));
        assert_eq!(ymdhms(&r.submit_date.unwrap()), (2010, 2, 19, 16, 30, 0));
        let info = ReceiptInfo::new(
            Some(r),
            ReceiptTlvs {
                receipted_message_id: Some(b"126e85a6edeac1a02020099312479564"),
                message_state: Some(MessageState::Delivered),
                network_error_code: None,
            },
        )
        .unwrap();
        assert_eq!(info.ids_agree(), Some(true));
        assert!(info
            .match_submitted_id("126E85A6EDEAC1A02020099312479564")
            .is_some());
    }

    #[test]
    fn v41_payload_with_ucs2_text() {
        let payload = hex("69643A30343839373038333634207375623A30303120646C7672643A303031207375626D697420646174653A3138313031353139303720646F6E6520646174653A3138313031353139303720737461743A44454C49565244206572723A30303020746578743A041F04400438043204350442");
        let r = TextReceipt::parse(&payload).unwrap();
        assert_eq!(r.id.as_str(), "0489708364");
        assert_eq!(ymdhms(&r.submit_date.unwrap()), (2018, 10, 15, 19, 7, 0));
        let text = r.text.clone().unwrap();
        let units: Vec<u16> = text
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(String::from_utf16(&units).unwrap(), "Привет");
        // Raw bytes survive formatting.
        assert_eq!(r.to_text().unwrap(), payload);
        let info = ReceiptInfo::new(
            Some(r),
            ReceiptTlvs {
                receipted_message_id: Some(b"1d305b4c"),
                message_state: Some(MessageState::Delivered),
                network_error_code: Some(NetworkErrorCode {
                    network_type: 3,
                    error_code: 0,
                }),
            },
        )
        .unwrap();
        assert_eq!(info.ids_agree(), Some(true));
        assert_eq!(info.network_error_code().map(|n| n.network_type), Some(3));
    }

    #[test]
    fn v42_twelve_digit_dates_empty_text() {
        let r = parse("id:795920026 sub:001 dlvrd:001 submit date:200319131913 done date:200319131913 stat:DELIVRD err:000 text:");
        assert_eq!(r.id.as_str(), "795920026");
        assert_eq!(ymdhms(&r.done_date.unwrap()), (2020, 3, 19, 13, 19, 13));
        assert_eq!(r.text, Some(Vec::new()));
    }

    #[test]
    fn real_world_variants() {
        // Upper-case keys, extra spaces, unknown keys and stray words are tolerated.
        let r = parse(
            "  ID:abc   Sub: 001 foo:bar  SUBMIT   DATE:1005232039 vendor stat: delivrd ERR:5 ",
        );
        assert_eq!(r.id.as_str(), "abc");
        assert_eq!(r.sub, Some(1));
        assert_eq!(ymdhms(&r.submit_date.unwrap()), (2010, 5, 23, 20, 39, 0));
        let stat = r.stat.unwrap();
        assert_eq!(
            (stat.state(), stat.word()),
            (MessageState::Delivered, "delivrd")
        );
        assert_eq!(r.err.map(|e| e.value()), Some(5));
        assert_eq!(r.text, None);

        // Unknown stat words are kept and mean UNKNOWN; full 3.4 names are understood.
        let stat = parse("id:1 stat:FAILED").stat.unwrap();
        assert_eq!(
            (stat.state(), stat.word()),
            (MessageState::Unknown, "FAILED")
        );
        assert!(!stat.is_recognised());
        let stat = parse("id:1 stat:UNDELIVERABLE").stat.unwrap();
        assert_eq!(stat.state(), MessageState::Undeliverable);

        // An empty value is a missing field.
        let r = parse("id:1 err: text:x");
        assert_eq!((r.err, r.text.as_deref()), (None, Some(&b"x"[..])));
    }

    #[test]
    fn text_takes_the_rest_unless_new_fields_follow() {
        // Trailing complete fields not seen yet end the text.
        let r = parse("id:1 text:hello there stat:UNDELIV err:034");
        assert_eq!(r.text.as_deref(), Some(&b"hello there"[..]));
        assert_eq!(r.stat.map(|s| s.state()), Some(MessageState::Undeliverable));
        assert_eq!(r.err.map(|e| e.value()), Some(34));
        // Keys already seen, keys followed by junk, bad values or unknown keys: all text.
        for (input, text) in [
            (
                "id:1 stat:DELIVRD text:see stat:UNDELIV",
                "see stat:UNDELIV",
            ),
            (
                "id:1 text:hi stat:DELIVRD foo:bar",
                "hi stat:DELIVRD foo:bar",
            ),
            ("id:1 text:hi err:x1", "hi err:x1"),
            ("id:1 text:a:b c: text:d", "a:b c: text:d"),
            ("id:1 text:   ", "   "),
        ] {
            let r = parse(input);
            assert_eq!(r.text.as_deref(), Some(text.as_bytes()), "{input}");
        }
        assert_eq!(parse("id:1 text:hi stat:DELIVRD foo:bar").stat, None);
    }

    #[test]
    fn errors_are_precise() {
        let err = |s: &str| TextReceipt::parse(s.as_bytes()).unwrap_err();
        assert_eq!(err("sub:001 stat:DELIVRD"), ReceiptParseError::MissingId);
        assert_eq!(err("hello world"), ReceiptParseError::MissingId);
        assert_eq!(err(""), ReceiptParseError::MissingId);
        assert_eq!(err("id: sub:001"), ReceiptParseError::MissingId);
        let e = err("id:1 done date:1013011200");
        assert_eq!(
            e.to_string(),
            "bad date in \"done date\": month 13 out of range 1..=12"
        );
        assert_eq!(
            err("id:1 submit date:100523203"),
            ReceiptParseError::BadDate {
                field: ReceiptField::SubmitDate,
                problem: DateError::WrongLength { len: 9 }
            }
        );
        assert_eq!(
            err("id:1 submit date:10052x2039"),
            ReceiptParseError::BadDate {
                field: ReceiptField::SubmitDate,
                problem: DateError::NotADigit {
                    position: 5,
                    found: b'x'
                }
            }
        );
        assert_eq!(
            err("id:1 submit date:1002301200").to_string(),
            "bad date in \"submit date\": day 30 out of range 1..=28"
        );
        assert_eq!(
            err("id:1 sub:0x1"),
            ReceiptParseError::BadNumber {
                field: ReceiptField::Sub,
                problem: NumberError::NotADigit {
                    position: 1,
                    found: b'x'
                }
            }
        );
        assert_eq!(
            err("id:1 err:99999999999"),
            ReceiptParseError::BadNumber {
                field: ReceiptField::Err,
                problem: NumberError::TooLarge { digits: 11 }
            }
        );
        assert_eq!(
            err("id:1 ID:2"),
            ReceiptParseError::DuplicateField {
                field: ReceiptField::Id
            }
        );
        assert_eq!(
            err("id:1 stat:DELIVRD stat:UNDELIV"),
            ReceiptParseError::DuplicateField {
                field: ReceiptField::Stat
            }
        );
        assert_eq!(
            err("id:1 stat:DELIV\x01RD").to_string(),
            "bad stat: byte 5 is 0x01, expected printable ASCII without spaces"
        );
        assert_eq!(
            err("id:\x7F").to_string(),
            "bad id: byte 0 is 0x7F, expected printable ASCII without spaces"
        );
        assert_eq!(ReceiptErr::parse(b""), Err(NumberError::Empty));
        let long = format!("id:{}", "9".repeat(65));
        assert_eq!(
            err(&long),
            ReceiptParseError::BadId(TokenError::TooLong { len: 65, max: 64 })
        );
        assert_eq!(
            TextReceipt::parse(b"id:ab\xFFc").unwrap_err(),
            ReceiptParseError::BadId(TokenError::BadByte {
                position: 2,
                found: 0xFF
            })
        );
    }

    #[test]
    fn id_pairs_from_real_receipts_match() {
        use IdSource::{Protocol, ReceiptText};
        for (protocol, text) in [
            ("38601fa", "0059113978"),     // V23 / R7
            ("1d305b4c", "0489708364"),    // V41
            ("16fee0e525", "98765432101"), // R6
        ] {
            assert!(
                ids_match(protocol, Protocol, text, ReceiptText),
                "{protocol} {text}"
            );
            assert!(
                ids_match(text, ReceiptText, protocol, Protocol),
                "symmetric"
            );
            assert_eq!(
                id_keys(protocol, Protocol).number(),
                id_keys(text, ReceiptText).number()
            );
        }
        // Case and leading zeros.
        assert!(ids_match("00AbC-1", Protocol, "abc-1", ReceiptText));
        assert!(ids_match("59113978", Protocol, "0059113978", ReceiptText));
        assert!(ids_match("000", Protocol, "0", Protocol));
    }

    #[test]
    fn ids_that_must_not_match() {
        use IdSource::{Protocol, ReceiptText};
        for (protocol, text) in [
            ("38601fa", "0059113979"), // off by one
            ("38601fa", "38601fb"),
            ("1d305b4c", "489708365"),
            ("16fee0e525", "98765432100"),
            ("10", "16"),  // an all-digit protocol id is not read as hex
            ("123", "7b"), // a text id is never read as hex
            ("abc", "abcd"),
            ("0", ""),
            (
                "74e02ee1-4e2f-4a6e-a78b-4b247d756a22",
                "74e02ee1-4e2f-4a6e-a78b-4b247d756a23",
            ),
        ] {
            assert!(
                !ids_match(protocol, Protocol, text, ReceiptText),
                "{protocol} {text}"
            );
        }
        // Two protocol ids: hex value and spelling agree, so no cross-base match either.
        assert!(!ids_match("10", Protocol, "16", Protocol));
        assert!(!ids_match("1a", Protocol, "26", Protocol));
        // Two text ids.
        assert!(!ids_match("10", ReceiptText, "a", ReceiptText));
        // Numbers beyond 128 bits get no numeric key.
        assert_eq!(id_keys(&"9".repeat(40), ReceiptText).number(), None);
        assert_eq!(id_keys(&"f".repeat(33), Protocol).number(), None);
        // Zero padding does not count against the limit.
        let padded = format!("{}{}", "0".repeat(10), "f".repeat(32));
        assert_eq!(
            id_keys(&padded, Protocol).number(),
            Some(&IdKey::Number(u128::MAX))
        );
    }

    #[test]
    fn a_store_indexed_by_submit_ids_finds_receipts() {
        // Index three submitted ids as a store would, then look receipts up by their keys.
        let submitted = ["38601fa", "1d305b4c", "16fee0e525", "10", "abc-XYZ"];
        let mut index: HashMap<IdKey, &str> = HashMap::new();
        for id in submitted {
            for key in id_keys(id, IdSource::Protocol).iter() {
                assert!(
                    index.insert(key.clone(), id).is_none(),
                    "keys of distinct ids collide"
                );
            }
        }
        let lookup = |info: &ReceiptInfo| {
            info.lookup_keys()
                .iter()
                .find_map(|k| index.get(k).copied())
        };
        let text_only = |t: &str| ReceiptInfo::new(Some(parse(t)), ReceiptTlvs::default()).unwrap();
        assert_eq!(
            lookup(&text_only("id:0059113978 stat:DELIVRD")),
            Some("38601fa")
        );
        assert_eq!(
            lookup(&text_only("id:0489708364 stat:DELIVRD")),
            Some("1d305b4c")
        );
        assert_eq!(
            lookup(&text_only("id:98765432101 stat:ENROUTE")),
            Some("16fee0e525")
        );
        assert_eq!(lookup(&text_only("id:010 stat:DELIVRD")), Some("10"));
        assert_eq!(lookup(&text_only("id:ABC-xyz")), Some("abc-XYZ"));
        // 16 is hex 10, but "10" was not indexed as hex: no false match.
        assert_eq!(lookup(&text_only("id:16 stat:DELIVRD")), None);
        assert_eq!(lookup(&text_only("id:0059113979")), None);
        // TLV only.
        let tlv_only = ReceiptInfo::new(
            None,
            ReceiptTlvs {
                receipted_message_id: Some(b"38601FA\0"),
                ..ReceiptTlvs::default()
            },
        )
        .unwrap();
        assert_eq!(lookup(&tlv_only), Some("38601fa"));
        // Keys come TLV first, normalised before numeric, without duplicates.
        let both = ReceiptInfo::new(
            Some(parse("id:0059113978")),
            ReceiptTlvs {
                receipted_message_id: Some(b"38601fa"),
                ..ReceiptTlvs::default()
            },
        )
        .unwrap();
        assert_eq!(
            both.lookup_keys(),
            vec![
                IdKey::Normalised("38601fa".into()),
                IdKey::Normalised("59113978".into()),
                IdKey::Number(59_113_978),
            ]
        );
    }

    #[test]
    fn tlvs_are_preferred_and_disagreements_visible() {
        let text = parse("id:0059113978 stat:UNDELIV err:001");
        let info = ReceiptInfo::new(
            Some(text.clone()),
            ReceiptTlvs {
                receipted_message_id: Some(b"38601fb"),
                message_state: Some(MessageState::Delivered),
                network_error_code: None,
            },
        )
        .unwrap();
        assert_eq!(info.state(), Some((MessageState::Delivered, Origin::Tlv)));
        assert_eq!(info.states_agree(), Some(false));
        assert_eq!(info.ids_agree(), Some(false));
        assert_eq!(info.text_error().map(ReceiptErr::value), Some(1));
        // The text id still matches when the TLV id does not.
        assert_eq!(
            info.match_submitted_id("38601fa"),
            Some(IdMatch {
                origin: Origin::Text,
                exact: false
            })
        );
        // Without TLVs the text decides.
        let info = ReceiptInfo::new(Some(text.clone()), ReceiptTlvs::default()).unwrap();
        assert_eq!(
            info.state(),
            Some((MessageState::Undeliverable, Origin::Text))
        );
        assert_eq!(info.message_id().1, Origin::Text);
        // An empty TLV id (just the NUL) counts as absent.
        let info = ReceiptInfo::new(
            Some(text),
            ReceiptTlvs {
                receipted_message_id: Some(b"\0"),
                ..ReceiptTlvs::default()
            },
        )
        .unwrap();
        assert_eq!(info.message_id().0.as_str(), "0059113978");
        assert_eq!(
            ReceiptInfo::new(None, ReceiptTlvs::default()),
            Err(ReceiptInfoError::NoMessageId)
        );
        assert_eq!(
            ReceiptInfo::new(
                None,
                ReceiptTlvs {
                    receipted_message_id: Some(b"ab cd"),
                    ..ReceiptTlvs::default()
                }
            ),
            Err(ReceiptInfoError::BadReceiptedMessageId(
                TokenError::BadByte {
                    position: 2,
                    found: b' '
                }
            ))
        );
    }

    #[test]
    fn stat_words_round_trip_through_states() {
        for v in 0..=u8::MAX {
            let state = MessageState::from_u8(v);
            match ReceiptStat::from_state(state) {
                Some(stat) => {
                    assert_eq!(stat.word().len(), 7);
                    assert_eq!(ReceiptStat::parse(stat.word().as_bytes()), Ok(stat.clone()));
                    assert_eq!(stat.state(), state);
                }
                None => assert!(
                    matches!(
                        state,
                        MessageState::Scheduled | MessageState::Skipped | MessageState::Other(_)
                    ),
                    "{state:?} has a receipt word"
                ),
            }
        }
    }

    #[test]
    fn dates_keep_their_form() {
        for s in [
            "1005232039",
            "110206193041",
            "20110314181534",
            "0002290000",
            "99121231235959",
        ] {
            assert_eq!(date(s).to_string(), s);
        }
        assert_eq!(date("99121231235959").year(), 9912);
        assert_eq!(
            ReceiptDate::new(DateForm::Minutes, 2010, 5, 23, 20, 39, 1),
            Err(DateError::OutOfRange(TimeError::OutOfRange {
                field: TimeField::Second,
                value: 1,
                min: 0,
                max: 0
            }))
        );
        assert!(ReceiptDate::new(DateForm::Seconds, 1999, 1, 1, 0, 0, 0).is_err());
        assert!(ReceiptDate::parse(b"1002291200").is_err()); // 2010 is not a leap year
        assert!(ReceiptDate::parse(b"1005232460").is_err());
    }

    #[test]
    fn ambiguous_text_is_refused_when_formatting() {
        let mut r = TextReceipt::new(MessageId::new("7").unwrap());
        r.text = Some(b"ok stat:DELIVRD".to_vec());
        assert_eq!(
            r.to_text(),
            Err(ReceiptFormatError::AmbiguousText {
                field: ReceiptField::Stat
            })
        );
        // With `stat` present the same text is unambiguous.
        r.stat = ReceiptStat::from_state(MessageState::Undeliverable);
        let bytes = r.to_text().unwrap();
        assert_eq!(bytes, b"id:7 stat:UNDELIV text:ok stat:DELIVRD");
        assert_eq!(TextReceipt::parse(&bytes), Ok(r));
    }

    fn id_strategy() -> impl Strategy<Value = MessageId> {
        "[!-~]{1,64}".prop_map(|s| MessageId::new(&s).unwrap())
    }

    fn date_strategy() -> impl Strategy<Value = ReceiptDate> {
        (
            0u8..3,
            0u16..10_000,
            1u8..=12,
            1u8..=31,
            0u8..24,
            0u8..60,
            0u8..60,
        )
            .prop_map(|(form, year, month, day, hour, minute, second)| {
                let (form, year, second) = match form {
                    0 => (DateForm::Minutes, 2000 + year % 100, 0),
                    1 => (DateForm::Seconds, 2000 + year % 100, second),
                    _ => (DateForm::FullYear, year, second),
                };
                let day = day.min(time::days_in_month(i64::from(year), month));
                ReceiptDate::new(form, year, month, day, hour, minute, second).unwrap()
            })
    }

    fn stat_strategy() -> impl Strategy<Value = ReceiptStat> {
        prop_oneof![
            (0u8..10).prop_filter_map("no word", |v| ReceiptStat::from_state(
                MessageState::from_u8(v)
            )),
            "[!-~]{1,12}".prop_map(|w| ReceiptStat::parse(w.as_bytes()).unwrap()),
        ]
    }

    fn err_strategy() -> impl Strategy<Value = ReceiptErr> {
        prop_oneof![
            any::<u32>().prop_map(ReceiptErr::new),
            "[0-9]{1,9}".prop_map(|raw| {
                let value = raw.parse().unwrap();
                ReceiptErr { raw, value }
            }),
        ]
    }

    /// Texts: random bytes mixed with fragments that look like receipt fields.
    fn text_strategy() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..8),
            Just(b" ".to_vec()),
            Just(b" stat:DELIVRD".to_vec()),
            Just(b" err:000".to_vec()),
            Just(b"sub:001 ".to_vec()),
            Just(b" Text:".to_vec()),
            Just(b" id:5".to_vec()),
            Just(b" done date:1005242339".to_vec()),
        ];
        proptest::collection::vec(piece, 0..5).prop_map(|v| v.concat())
    }

    fn receipt_strategy() -> impl Strategy<Value = TextReceipt> {
        (
            id_strategy(),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(date_strategy()),
            proptest::option::of(date_strategy()),
            proptest::option::of(stat_strategy()),
            proptest::option::of(err_strategy()),
            proptest::option::of(text_strategy()),
        )
            .prop_map(
                |(id, sub, dlvrd, submit_date, done_date, stat, err, text)| TextReceipt {
                    id,
                    sub,
                    dlvrd,
                    submit_date,
                    done_date,
                    stat,
                    err,
                    text,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn receipts_round_trip(r in receipt_strategy()) {
            match r.to_text() {
                Ok(bytes) => prop_assert_eq!(TextReceipt::parse(&bytes), Ok(r)),
                Err(ReceiptFormatError::AmbiguousText { field }) => {
                    // Refused only when the field is really absent and its key is in the text.
                    let present = match field {
                        ReceiptField::Sub => r.sub.is_some(),
                        ReceiptField::Dlvrd => r.dlvrd.is_some(),
                        ReceiptField::SubmitDate => r.submit_date.is_some(),
                        ReceiptField::DoneDate => r.done_date.is_some(),
                        ReceiptField::Stat => r.stat.is_some(),
                        ReceiptField::Err => r.err.is_some(),
                        ReceiptField::Id | ReceiptField::Text => true,
                    };
                    prop_assert!(!present, "{field} is present");
                    let text = String::from_utf8_lossy(r.text.as_deref().unwrap_or_default())
                        .to_ascii_lowercase();
                    prop_assert!(text.contains(&format!("{}:", field.key())), "{text:?}");
                }
            }
        }

        #[test]
        fn canonical_receipts_always_format(
            id in id_strategy(), sub in any::<u32>(), dlvrd in any::<u32>(),
            submit in date_strategy(), done in date_strategy(), stat in stat_strategy(),
            err in any::<u32>(), text in text_strategy(),
        ) {
            let r = TextReceipt {
                id, sub: Some(sub), dlvrd: Some(dlvrd), submit_date: Some(submit),
                done_date: Some(done), stat: Some(stat), err: Some(ReceiptErr::new(err)),
                text: Some(text),
            };
            let bytes = r.to_text().unwrap();
            prop_assert_eq!(TextReceipt::parse(&bytes), Ok(r));
        }

        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = TextReceipt::parse(&bytes);
        }

        #[test]
        fn mutated_receipts_never_panic(
            pos in 0usize..200, byte in any::<u8>(), cut in 0usize..200,
        ) {
            let mut bytes = R1.as_bytes().to_vec();
            if let Some(b) = bytes.get_mut(pos % R1.len()) {
                *b = byte;
            }
            bytes.truncate(cut % (R1.len() + 1));
            let _ = TextReceipt::parse(&bytes);
        }

        #[test]
        fn id_keys_agree_with_normalised_equality(a in "[0-9a-fA-F]{1,12}", b in "[0-9a-fA-F]{1,12}") {
            // For two protocol ids, sharing a key is exactly equality up to case and zeros.
            let norm = |s: &str| {
                let t = s.trim_start_matches('0').to_ascii_lowercase();
                if t.is_empty() { "0".to_owned() } else { t }
            };
            prop_assert_eq!(
                ids_match(&a, IdSource::Protocol, &b, IdSource::Protocol),
                norm(&a) == norm(&b)
            );
        }
    }
}
