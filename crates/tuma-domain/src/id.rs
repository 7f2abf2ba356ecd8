//! Message ids: 128-bit, time-sortable, unique (the ULID layout).
//!
//! `48 bits of Unix milliseconds | 80 random bits`, written as 26 Crockford base32 characters
//! (`01JD3Q0E5XK3M4ZB9N6Q2R7T8V`). Ids sort by creation time both as integers and as strings,
//! which keeps B-tree inserts (SQLite, PostgreSQL) at the right edge of the index instead of
//! scattered over it.
//!
//! [`IdGenerator`] is pure: the caller passes the current time and fresh randomness. Within
//! one millisecond (or if the clock steps back) it increments the previous id's random part,
//! so ids from one generator are strictly increasing; if those 80 bits would overflow, it
//! borrows the next millisecond rather than fail.

use std::fmt;
use std::str::FromStr;

/// Largest timestamp 48 bits can hold (year 10889).
pub const MAX_TIMESTAMP_MS: u64 = (1 << 48) - 1;
const RANDOM_BITS: u32 = 80;
const RANDOM_MASK: u128 = (1 << RANDOM_BITS) - 1;
/// Crockford's base32 alphabet (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in the text form.
pub const ID_LEN: usize = 26;

/// A message id. `Ord` is creation order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(u128);

impl MessageId {
    /// The id with these 128 bits (as stored in a 16-byte column).
    pub const fn from_u128(value: u128) -> Self {
        Self(value)
    }

    /// The 128 bits.
    pub const fn as_u128(&self) -> u128 {
        self.0
    }

    /// The big-endian bytes (sort like the id).
    pub const fn to_bytes(&self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// The creation time, Unix milliseconds.
    pub const fn timestamp_ms(&self) -> u64 {
        (self.0 >> RANDOM_BITS) as u64
    }

    /// Parses the 26-character form; case-insensitive, and Crockford's look-alikes are read
    /// as digits (`I`/`L` as 1, `O` as 0).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.len() != ID_LEN {
            return Err(IdError::WrongLength { len: s.len() });
        }
        let mut value: u128 = 0;
        for (position, c) in s.chars().enumerate() {
            let digit = decode_char(c).ok_or(IdError::InvalidCharacter {
                character: c,
                position,
            })?;
            // 26 * 5 = 130 bits: the first character carries only 3, so it must be <= 7.
            if position == 0 && digit > 7 {
                return Err(IdError::Overflow);
            }
            value = (value << 5) | u128::from(digit);
        }
        Ok(Self(value))
    }
}

fn decode_char(c: char) -> Option<u8> {
    let c = c.to_ascii_uppercase();
    let c = match c {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .map(|p| p as u8)
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; ID_LEN];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (ID_LEN - 1 - i);
            // A 5-bit value always indexes the 32-entry alphabet.
            *slot = ALPHABET[((self.0 >> shift) & 0x1F) as usize];
        }
        // Every byte comes from the ASCII alphabet.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

impl FromStr for MessageId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for MessageId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MessageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        MessageId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Why an id could not be parsed or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Not 26 characters.
    #[error("message id must be {ID_LEN} characters, found {len}")]
    WrongLength {
        /// Bytes found.
        len: usize,
    },
    /// A character outside Crockford's base32.
    #[error("character {character:?} at position {position} is not Crockford base32")]
    InvalidCharacter {
        /// The character.
        character: char,
        /// Its index.
        position: usize,
    },
    /// The first character is above `7` (more than 128 bits).
    #[error("message id is larger than 128 bits (first character above '7')")]
    Overflow,
    /// A timestamp past 48 bits.
    #[error("timestamp {ms} ms does not fit in 48 bits")]
    TimestampTooLarge {
        /// The timestamp given.
        ms: u64,
    },
}

/// Makes strictly increasing ids from the caller's clock and randomness.
#[derive(Debug, Clone, Default)]
pub struct IdGenerator {
    last: Option<MessageId>,
}

impl IdGenerator {
    /// A generator that has made no id yet.
    pub const fn new() -> Self {
        Self { last: None }
    }

    /// The next id at `now_ms` (Unix milliseconds) with `random` (only the low 80 bits are
    /// used). Strictly greater than every id this generator made before.
    pub fn next_id(&mut self, now_ms: u64, random: u128) -> Result<MessageId, IdError> {
        if now_ms > MAX_TIMESTAMP_MS {
            return Err(IdError::TimestampTooLarge { ms: now_ms });
        }
        let fresh = MessageId((u128::from(now_ms) << RANDOM_BITS) | (random & RANDOM_MASK));
        let id = match self.last {
            // Same millisecond, or the clock stepped back: continue from the previous id.
            // Adding 1 carries into the timestamp when the random part is all ones, which is
            // the "borrow the next millisecond" rule; only the all-ones 128-bit id could
            // overflow, and its timestamp is MAX_TIMESTAMP_MS.
            Some(last) if fresh <= last => MessageId(
                last.0
                    .checked_add(1)
                    .ok_or(IdError::TimestampTooLarge { ms: now_ms })?,
            ),
            _ => fresh,
        };
        self.last = Some(id);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_and_text_form() {
        let mut g = IdGenerator::new();
        let id = g.next_id(1_469_918_176_385, 0).unwrap();
        // The ULID specification's example timestamp encodes as 01ARYZ6S41.
        assert_eq!(&id.to_string()[..10], "01ARYZ6S41");
        assert_eq!(id.timestamp_ms(), 1_469_918_176_385);
        assert_eq!(
            MessageId::from_u128(u128::MAX).to_string(),
            "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
        );
        assert_eq!(MessageId::from_u128(0).to_string(), "0".repeat(26));
        assert_eq!(MessageId::parse("01aryz6s41oooooooooooooooo").unwrap(), id);
    }

    #[test]
    fn monotonic_within_a_millisecond_and_when_the_clock_steps_back() {
        let mut g = IdGenerator::new();
        let a = g.next_id(1000, 500).unwrap();
        let b = g.next_id(1000, 7).unwrap(); // smaller randomness, same ms
        assert_eq!(b.as_u128(), a.as_u128() + 1);
        let c = g.next_id(999, u128::MAX).unwrap(); // clock went back
        assert!(c > b);
        assert_eq!(c.timestamp_ms(), 1000);
        // Random part exhausted: carries into the next millisecond.
        let mut g = IdGenerator::new();
        let full = g.next_id(5, RANDOM_MASK).unwrap();
        let next = g.next_id(5, 0).unwrap();
        assert_eq!((full.timestamp_ms(), next.timestamp_ms()), (5, 6));
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            MessageId::parse("01ARYZ"),
            Err(IdError::WrongLength { len: 6 })
        );
        assert_eq!(
            MessageId::parse("01ARYZ6S41UUUUUUUUUUUUUUUU"),
            Err(IdError::InvalidCharacter {
                character: 'U',
                position: 10
            })
        );
        assert_eq!(
            MessageId::parse("80000000000000000000000000"),
            Err(IdError::Overflow)
        );
        assert_eq!(
            IdGenerator::new().next_id(1 << 48, 0),
            Err(IdError::TimestampTooLarge { ms: 1 << 48 })
        );
    }

    proptest! {
        #[test]
        fn text_round_trips_and_sorts_like_the_integer(a in any::<u128>(), b in any::<u128>()) {
            let (x, y) = (MessageId::from_u128(a), MessageId::from_u128(b));
            prop_assert_eq!(MessageId::parse(&x.to_string()), Ok(x));
            prop_assert_eq!(x.to_string().cmp(&y.to_string()), a.cmp(&b));
        }

        /// Any sequence of clock readings (including steps back) yields strictly increasing
        /// ids whose timestamps never lag the latest clock reading seen.
        #[test]
        fn generator_is_strictly_increasing(steps in prop::collection::vec((0u64..5_000, any::<u128>()), 1..200)) {
            let mut g = IdGenerator::new();
            let mut prev: Option<MessageId> = None;
            let mut max_now = 0;
            for (now, r) in steps {
                let id = g.next_id(now, r).unwrap();
                max_now = max_now.max(now);
                prop_assert!(id.timestamp_ms() >= max_now);
                if let Some(p) = prev { prop_assert!(id > p); }
                prev = Some(id);
            }
        }
    }
}
