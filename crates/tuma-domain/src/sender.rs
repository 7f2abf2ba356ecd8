//! Sender ids: who a message appears to come from.
//!
//! Three forms, each with the SMPP `source_addr_ton` / `source_addr_npi` it implies:
//!
//! | form | example | TON / NPI |
//! |---|---|---|
//! | alphanumeric: ASCII GSM-7 characters, 1-11 septets, at least one letter | `MyShop` | 5 / 0 |
//! | short code, 3-8 digits | `22384` | 3 / 0 by default (operators differ: configurable) |
//! | international number, `+` and/or 9-15 digits, valid E.164 | `+254712345678` | 1 / 1 |
//!
//! Why 11: the alphanumeric originating address of GSM 03.40 holds 11 septets. Extension
//! characters (`€`, `[`...) take two septets each and count double. Why "at least one
//! letter" for alphanumeric: an all-digit sender is a number and must be sent as one.

use std::fmt;

use smpp::types::{Npi, Ton};

use crate::msisdn::{Msisdn, MsisdnError};

/// Most septets in an alphanumeric sender id.
pub const MAX_ALPHANUMERIC_SEPTETS: usize = 11;
/// Fewest digits in a short code.
pub const MIN_SHORT_CODE_DIGITS: usize = 3;
/// Most digits in a short code; longer all-digit senders are read as international numbers.
pub const MAX_SHORT_CODE_DIGITS: usize = 8;

/// A source TON and NPI pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TonNpi {
    /// `source_addr_ton`.
    pub ton: Ton,
    /// `source_addr_npi`.
    pub npi: Npi,
}

impl TonNpi {
    /// Alphanumeric: TON 5, NPI 0.
    pub const ALPHANUMERIC: Self = Self {
        ton: Ton::ALPHANUMERIC,
        npi: Npi::UNKNOWN,
    };
    /// International E.164: TON 1, NPI 1.
    pub const INTERNATIONAL: Self = Self {
        ton: Ton::INTERNATIONAL,
        npi: Npi::ISDN,
    };
    /// The usual choice for short codes: TON 3 (network specific), NPI 0.
    pub const SHORT_CODE_DEFAULT: Self = Self {
        ton: Ton::NETWORK_SPECIFIC,
        npi: Npi::UNKNOWN,
    };
}

/// A checked sender id.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SenderId {
    /// A name such as `MyShop`: ASCII GSM-7 characters, 1-11 septets, at least one letter.
    Alphanumeric(String),
    /// A short code such as `22384` (3-8 digits).
    ShortCode(String),
    /// A full international number.
    International(Msisdn),
}

/// Why a sender id was refused. The API maps every variant to `invalid_sender_id`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SenderIdError {
    /// Nothing but whitespace.
    #[error("sender id is empty")]
    Empty,
    /// A character outside ASCII, one the GSM-7 alphabet cannot carry, or a control character.
    #[error("character {character:?} at position {position} is not allowed in an alphanumeric sender id (printable ASCII that GSM-7 can carry only)")]
    InvalidCharacter {
        /// The character.
        character: char,
        /// Its index in characters (after trimming surrounding whitespace).
        position: usize,
    },
    /// An alphanumeric sender id longer than 11 septets.
    #[error("alphanumeric sender id is {septets} GSM-7 septets long, at most {MAX_ALPHANUMERIC_SEPTETS} are allowed")]
    TooLong {
        /// Septets needed (extension characters count 2).
        septets: usize,
    },
    /// An all-digit sender shorter than a short code may be.
    #[error(
        "numeric sender id has {digits} digits; short codes have at least {MIN_SHORT_CODE_DIGITS}"
    )]
    TooShortNumeric {
        /// Digits given.
        digits: usize,
    },
    /// A numeric sender too long for a short code that is not a valid international number.
    #[error("numeric sender id is not a valid international number: {0}")]
    InvalidNumber(MsisdnError),
}

impl SenderId {
    /// Parses a sender id (surrounding whitespace is ignored).
    pub fn parse(input: &str) -> Result<Self, SenderIdError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(SenderIdError::Empty);
        }
        let (plus, digits) = match s.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if !plus && digits.len() <= MAX_SHORT_CODE_DIGITS {
                if digits.len() < MIN_SHORT_CODE_DIGITS {
                    return Err(SenderIdError::TooShortNumeric {
                        digits: digits.len(),
                    });
                }
                return Ok(Self::ShortCode(digits.to_owned()));
            }
            // Written without `+`, a long numeric sender is still international (SMPP's
            // TON 1 form has no `+`).
            return Msisdn::from_e164(&format!("+{digits}"))
                .map(Self::International)
                .map_err(SenderIdError::InvalidNumber);
        }
        Self::parse_alphanumeric(s)
    }

    fn parse_alphanumeric(s: &str) -> Result<Self, SenderIdError> {
        let mut septets = 0;
        let mut letter = false;
        for (position, character) in s.chars().enumerate() {
            // SMPP addresses are ASCII (IRA) C-strings, so a GSM-7 letter outside ASCII (é)
            // would reach the SMSC in some charset it may not expect. Control characters (CR,
            // LF, ESC...) are GSM-7 codes but make no sense in a name.
            let code = (character.is_ascii() && !character.is_ascii_control())
                .then(|| sms_text::gsm7::code_of(character))
                .flatten()
                .ok_or(SenderIdError::InvalidCharacter {
                    character,
                    position,
                })?;
            septets += code.septets();
            letter |= character.is_alphabetic();
        }
        if septets > MAX_ALPHANUMERIC_SEPTETS {
            return Err(SenderIdError::TooLong { septets });
        }
        if !letter {
            // Digits mixed with separators only ("+254 712", "12-34"): a number written
            // loosely. Refuse rather than send digits as a name.
            let position = s
                .chars()
                .position(|c| !c.is_ascii_digit())
                .unwrap_or_default();
            let character = s.chars().nth(position).unwrap_or(' ');
            return Err(SenderIdError::InvalidCharacter {
                character,
                position,
            });
        }
        Ok(Self::Alphanumeric(s.to_owned()))
    }

    /// The `source_addr` value: the name, the short code, or the E.164 digits without `+`.
    pub fn address(&self) -> String {
        match self {
            Self::Alphanumeric(s) | Self::ShortCode(s) => s.clone(),
            Self::International(m) => m.digits(),
        }
    }

    /// The source TON / NPI this sender implies; `short_code` is the configured pair for
    /// short codes (operators disagree: [`TonNpi::SHORT_CODE_DEFAULT`] is the common one).
    pub fn ton_npi(&self, short_code: TonNpi) -> TonNpi {
        match self {
            Self::Alphanumeric(_) => TonNpi::ALPHANUMERIC,
            Self::ShortCode(_) => short_code,
            Self::International(_) => TonNpi::INTERNATIONAL,
        }
    }
}

impl fmt::Display for SenderId {
    /// The form the API shows and [`SenderId::parse`] reads back (`+` for numbers).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Alphanumeric(s) | Self::ShortCode(s) => f.write_str(s),
            Self::International(m) => fmt::Display::fmt(m, f),
        }
    }
}

impl fmt::Debug for SenderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Alphanumeric(s) => write!(f, "Alphanumeric({s:?})"),
            Self::ShortCode(s) => write!(f, "ShortCode({s:?})"),
            Self::International(m) => write!(f, "International({m})"),
        }
    }
}

impl serde::Serialize for SenderId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SenderId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        SenderId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn three_forms_and_their_ton_npi() {
        let a = SenderId::parse(" MyShop ").unwrap();
        assert_eq!(a, SenderId::Alphanumeric("MyShop".into()));
        assert_eq!(a.ton_npi(TonNpi::SHORT_CODE_DEFAULT), TonNpi::ALPHANUMERIC);
        assert_eq!(a.ton_npi(TonNpi::SHORT_CODE_DEFAULT).ton.0, 5);

        let s = SenderId::parse("22384").unwrap();
        assert_eq!(s, SenderId::ShortCode("22384".into()));
        assert_eq!(
            (
                s.ton_npi(TonNpi::SHORT_CODE_DEFAULT).ton.0,
                s.ton_npi(TonNpi::SHORT_CODE_DEFAULT).npi.0
            ),
            (3, 0)
        );
        let configured = TonNpi {
            ton: Ton::NATIONAL,
            npi: Npi::ISDN,
        };
        assert_eq!(s.ton_npi(configured), configured);

        for input in ["+254712345678", "254712345678"] {
            let i = SenderId::parse(input).unwrap();
            assert_eq!(i.address(), "254712345678");
            assert_eq!(i.to_string(), "+254712345678");
            let tn = i.ton_npi(TonNpi::SHORT_CODE_DEFAULT);
            assert_eq!((tn.ton.0, tn.npi.0), (1, 1));
        }
    }

    #[test]
    fn alphanumeric_limits_count_septets() {
        assert!(SenderId::parse("ABCDEFGHIJK").is_ok()); // 11
        assert_eq!(
            SenderId::parse("ABCDEFGHIJKL"),
            Err(SenderIdError::TooLong { septets: 12 })
        );
        // '[' is an extension character: 10 + 2 = 12 septets.
        assert_eq!(
            SenderId::parse("ABCDEFGHIJ["),
            Err(SenderIdError::TooLong { septets: 12 })
        );
        assert!(SenderId::parse("My Shop 24").is_ok());
        // é is GSM-7 but not ASCII; '`' is ASCII but not GSM-7.
        assert_eq!(
            SenderId::parse("Café"),
            Err(SenderIdError::InvalidCharacter {
                character: 'é',
                position: 3
            })
        );
        assert_eq!(
            SenderId::parse("a`b"),
            Err(SenderIdError::InvalidCharacter {
                character: '`',
                position: 1
            })
        );
    }

    #[test]
    fn refusals_name_the_problem() {
        assert_eq!(SenderId::parse("   "), Err(SenderIdError::Empty));
        assert_eq!(
            SenderId::parse("Shop😀"),
            Err(SenderIdError::InvalidCharacter {
                character: '😀',
                position: 4
            })
        );
        assert_eq!(
            SenderId::parse("12"),
            Err(SenderIdError::TooShortNumeric { digits: 2 })
        );
        assert!(matches!(
            SenderId::parse("+999123456789"),
            Err(SenderIdError::InvalidNumber(
                MsisdnError::UnknownCountryCode { .. }
            ))
        ));
        // A loosely written number is not a name.
        assert_eq!(
            SenderId::parse("0712-345"),
            Err(SenderIdError::InvalidCharacter {
                character: '-',
                position: 4
            })
        );
        assert!(matches!(
            SenderId::parse("A\nB"),
            Err(SenderIdError::InvalidCharacter {
                character: '\n',
                ..
            })
        ));
    }

    proptest! {
        /// Whatever is accepted prints back to a string that parses to the same sender, and
        /// its address fits SMPP's 21-octet source_addr.
        #[test]
        fn accepted_senders_round_trip(input in "\\PC{0,16}") {
            if let Ok(sender) = SenderId::parse(&input) {
                prop_assert_eq!(SenderId::parse(&sender.to_string()), Ok(sender.clone()));
                prop_assert!(sender.address().len() <= 20);
            }
        }

        /// Any 1-11 character name of GSM basic letters and digits with a letter is accepted.
        #[test]
        fn plain_names_accepted(name in "[A-Za-z][A-Za-z0-9 ]{0,9}[A-Za-z0-9]") {
            prop_assert_eq!(SenderId::parse(&name), Ok(SenderId::Alphanumeric(name.clone())));
        }
    }
}
