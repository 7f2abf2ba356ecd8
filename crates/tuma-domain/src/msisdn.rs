//! Mobile numbers in E.164 form.
//!
//! Every number that enters the gateway (HTTP `to`, CSV import, an MO `source_addr`) becomes a
//! [`Msisdn`] here, once; inner layers never re-check it.
//!
//! # What is accepted
//! Digits with the usual separators (spaces, tabs, `-`, `.`, `(`, `)`), written
//! - internationally: a leading `+`, or a leading `00` (the common international prefix; a
//!   region's own prefix such as `000` in Kenya or `011` in the US also works, through the
//!   national path), or
//! - nationally: read in the caller's default region (`0712 345 678` in KE is +254712345678).
//!
//! Letters are rejected (no vanity numbers: a gateway should not guess `1-800-FLOWERS`). The
//! number must be *valid* in its numbering plan as the `phonenumber` crate (libphonenumber's
//! metadata) sees it: any number type is accepted, not only mobile ones, because many plans
//! (the US among them) cannot tell mobile from fixed line by the number.
//!
//! # Why a fast path
//! `phonenumber::parse` runs a general-purpose parser (RFC 3966, IDD and national prefix
//! handling, several regular expressions) before validation. CSV imports are usually already
//! E.164 (`+254712345678`), so [`Msisdn::parse`] handles `+digits` itself: it splits the
//! country code with the metadata table and runs the same validity check `phonenumber` runs,
//! with its own lock-free copy of the patterns (see `numbering.rs` for why). Property tests
//! check that both paths agree on random and on near-valid numbers.

use std::fmt;
use std::str::FromStr;

use phonenumber::metadata::{Metadata, DATABASE};

use crate::numbering::{self, Lookup};

/// E.164 allows at most 15 digits, country code included.
pub const MAX_E164_DIGITS: usize = 15;

/// Fewer digits than this cannot be any number, in any plan, written in any way.
const MIN_INPUT_DIGITS: usize = 3;

/// More digits than this cannot be a number even with an international prefix in front
/// (the longest prefixes have 4 or 5 digits, plus 15).
const MAX_INPUT_DIGITS: usize = 20;

/// A region (ISO 3166-1 alpha-2 code, as in libphonenumber's metadata) used to read numbers
/// written without a country code. Comes from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region(phonenumber::country::Id);

impl Region {
    /// Parses a region code such as `KE` (case-insensitive).
    pub fn parse(code: &str) -> Result<Self, UnknownRegion> {
        let upper = code.trim().to_ascii_uppercase();
        // Only regions with numbering metadata are useful: a code the database does not know
        // could never validate a national number.
        match upper.parse::<phonenumber::country::Id>() {
            Ok(id) if DATABASE.by_id(id.as_ref()).is_some() => Ok(Self(id)),
            _ => Err(UnknownRegion {
                code: code.to_owned(),
            }),
        }
    }

    /// The two-letter code, upper case.
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    /// The country calling code of this region (254 for KE).
    pub fn country_code(&self) -> u16 {
        DATABASE
            .by_id(self.0.as_ref())
            .map(Metadata::country_code)
            // `Region::parse` only builds regions the database knows.
            .unwrap_or(0)
    }
}

impl FromStr for Region {
    type Err = UnknownRegion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_ref())
    }
}

impl serde::Serialize for Region {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Region {
    /// From configuration: `default_region = "KE"`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Region::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A region code the numbering metadata does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region {code:?}: expected an ISO 3166-1 alpha-2 code such as \"KE\"")]
pub struct UnknownRegion {
    /// The code given.
    pub code: String,
}

/// Why a string is not a usable phone number. The API maps every variant to the code
/// `invalid_msisdn` and uses the `Display` text as the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MsisdnError {
    /// Nothing but whitespace.
    #[error("phone number is empty")]
    Empty,
    /// A character that is not a digit or an accepted separator (or a `+` not in front).
    #[error(
        "character {character:?} at position {position} is not allowed in a phone number \
         (only digits, spaces, '-', '.', '(', ')' and a leading '+')"
    )]
    InvalidCharacter {
        /// The character found.
        character: char,
        /// Its index, in characters, in the input.
        position: usize,
    },
    /// Too few digits (for the input as a whole, or for the national part of its country).
    #[error("phone number is too short: {digits} digits{}", for_country(*country_code))]
    TooShort {
        /// Digits counted (of the national part when the country is known).
        digits: usize,
        /// The country calling code, when known.
        country_code: Option<u16>,
    },
    /// Too many digits (more than E.164's 15, or than the country's plan allows).
    #[error("phone number is too long: {digits} digits{}", for_country(*country_code))]
    TooLong {
        /// Digits counted (of the national part when the country is known).
        digits: usize,
        /// The country calling code, when known.
        country_code: Option<u16>,
    },
    /// The digits after `+` do not start with any country calling code.
    #[error("no country uses the calling code at the start of +{digits}")]
    UnknownCountryCode {
        /// The international digits given.
        digits: String,
    },
    /// Well formed, but not a number of its country's numbering plan.
    #[error(
        "+{digits} is not a valid number in the numbering plan of country code {country_code}"
    )]
    NotValid {
        /// E.164 digits, without `+`.
        digits: String,
        /// The country calling code.
        country_code: u16,
    },
}

fn for_country(code: Option<u16>) -> String {
    code.map(|c| format!(" after country code +{c}"))
        .unwrap_or_default()
}

/// A valid phone number in E.164 form, stored compactly (the digits as one integer and the
/// country code): `Copy`, 16 bytes, cheap to hash and compare. Ordered by the integer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msisdn {
    /// The E.164 digits as an integer. The first digit (of the country code) is never 0, so
    /// the integer keeps every digit.
    value: u64,
    /// The country calling code (1-999).
    country_code: u16,
}

impl Msisdn {
    /// Parses a number as typed by a person or found in a CSV file; numbers without a country
    /// code are read in `default_region`. See the module documentation for the rules.
    pub fn parse(input: &str, default_region: Region) -> Result<Self, MsisdnError> {
        let cleaned = clean(input)?;
        let digits = cleaned.digits.as_str();
        if digits.len() < MIN_INPUT_DIGITS {
            return Err(MsisdnError::TooShort {
                digits: digits.len(),
                country_code: None,
            });
        }
        if digits.len() > MAX_INPUT_DIGITS {
            return Err(MsisdnError::TooLong {
                digits: digits.len(),
                country_code: None,
            });
        }
        if cleaned.plus {
            return Self::from_international_digits(digits);
        }
        // `00` is the international prefix of most of the world. `000...` is left to the
        // national path: it is Kenya's (and a few others') own international prefix.
        if let Some(rest) = digits.strip_prefix("00") {
            if !rest.starts_with('0') {
                return Self::from_international_digits(rest);
            }
        }
        Self::parse_national(digits, default_region)
    }

    /// Parses strict E.164: `+` followed by digits only (what [`Msisdn::as_e164`] produces and
    /// what is stored). Used when reading back stored values.
    pub fn from_e164(input: &str) -> Result<Self, MsisdnError> {
        let Some(digits) = input.strip_prefix('+') else {
            let character = input.chars().next();
            return Err(match character {
                None => MsisdnError::Empty,
                Some(character) => MsisdnError::InvalidCharacter {
                    character,
                    position: 0,
                },
            });
        };
        if let Some((i, character)) = digits.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(MsisdnError::InvalidCharacter {
                character,
                position: i + 1,
            });
        }
        Self::from_international_digits(digits)
    }

    /// Rebuilds a number from its stored integer ([`Msisdn::as_u64`]) without checking it
    /// against the numbering plan again. For values this program validated when it accepted
    /// them: a plan that changed since (new metadata in a later build) must not make stored
    /// messages unreadable, and the plan check (regular expressions) was most of the CPU of
    /// reading a page of campaign recipients. Still checked: 3 to 15 digits and an assigned
    /// country calling code, so a corrupt value is an error, not a wrong number.
    pub fn from_stored(value: u64) -> Result<Self, MsisdnError> {
        let len = decimal_len(value);
        if len < MIN_INPUT_DIGITS {
            return Err(MsisdnError::TooShort {
                digits: len,
                country_code: None,
            });
        }
        if len > MAX_E164_DIGITS {
            return Err(MsisdnError::TooLong {
                digits: len,
                country_code: None,
            });
        }
        // The country code is the one prefix of 1-3 digits that is assigned (E.164 calling
        // codes are a prefix code); the national part needs at least one digit.
        let country_code = (1..=3u32)
            .filter(|&n| (n as usize) < len)
            .map(|n| (value / 10u64.pow(len as u32 - n)) as u16)
            .find(|&cc| !matches!(numbering::lookup(cc), Lookup::Unknown))
            .ok_or_else(|| MsisdnError::UnknownCountryCode {
                digits: value.to_string(),
            })?;
        Ok(Self {
            value,
            country_code,
        })
    }

    /// The digits after an international prefix: country code, then national number.
    fn from_international_digits(digits: &str) -> Result<Self, MsisdnError> {
        if digits.len() < MIN_INPUT_DIGITS {
            return Err(MsisdnError::TooShort {
                digits: digits.len(),
                country_code: None,
            });
        }
        if digits.len() > MAX_E164_DIGITS {
            return Err(MsisdnError::TooLong {
                digits: digits.len(),
                country_code: None,
            });
        }
        // Country calling codes are a prefix code (ITU-T E.164): at most one of the 1-, 2- and
        // 3-digit prefixes is assigned, so the first hit is the only one.
        let split = (1..=3).filter(|&n| n < digits.len()).find_map(|n| {
            // `digits` is ASCII digits only (checked by every caller), so any index is a
            // character boundary and `n < len` keeps `split_at` in range.
            let (cc, national) = digits.split_at(n);
            let cc: u16 = cc.parse().ok()?;
            match numbering::lookup(cc) {
                Lookup::Unknown => None,
                found => Some((cc, national, found)),
            }
        });
        let Some((country_code, national, found)) = split else {
            return Err(MsisdnError::UnknownCountryCode {
                digits: digits.to_owned(),
            });
        };
        let plan = match found {
            Lookup::Plan(plan) if !plan.may_strip_national_prefix(national) => plan,
            // `phonenumber` strips a national prefix even after a country code (`+49 0201...`
            // is read as +49 201...). Rare in real E.164 input; leave it to the general parser
            // so both paths always give the same answer. Same if the plan could not be built.
            _ => return Self::parse_general(None, &format!("+{digits}"), digits.len()),
        };
        check_length(country_code, national, plan.lengths())?;
        if !plan.is_valid(national) {
            return Err(MsisdnError::NotValid {
                digits: digits.to_owned(),
                country_code,
            });
        }
        Self::from_parts(country_code, national)
    }

    /// The general path: `phonenumber` handles national prefixes and regional IDDs.
    fn parse_national(digits: &str, region: Region) -> Result<Self, MsisdnError> {
        Self::parse_general(Some(region), digits, digits.len())
    }

    /// `phonenumber::parse` then `phonenumber::is_valid`; `digit_count` is for errors.
    fn parse_general(
        region: Option<Region>,
        text: &str,
        digit_count: usize,
    ) -> Result<Self, MsisdnError> {
        use phonenumber::ParseError as P;
        let digits = text.trim_start_matches('+');
        let number = phonenumber::parse(region.map(|r| r.0), text).map_err(|e| match e {
            P::NoNumber | P::TooShortAfterIdd | P::TooShortNsn => MsisdnError::TooShort {
                digits: digit_count,
                country_code: None,
            },
            P::InvalidCountryCode => MsisdnError::UnknownCountryCode {
                digits: digits.to_owned(),
            },
            // A malformed integer can only be one too large for u64 (the input is all digits).
            P::TooLong | P::MalformedInteger(_) => MsisdnError::TooLong {
                digits: digit_count,
                country_code: None,
            },
        })?;
        let country_code = number.code().value();
        let national = number.national().to_string();
        let lengths = match numbering::lookup(country_code) {
            Lookup::Plan(plan) => plan.lengths(),
            Lookup::Unknown | Lookup::Unavailable => None,
        };
        check_length(country_code, &national, lengths)?;
        if !phonenumber::is_valid(&number) {
            return Err(MsisdnError::NotValid {
                digits: format!("{country_code}{national}"),
                country_code,
            });
        }
        Self::from_parts(country_code, &national)
    }

    fn from_parts(country_code: u16, national: &str) -> Result<Self, MsisdnError> {
        let cc_digits = decimal_len(u64::from(country_code));
        let total = cc_digits + national.len();
        if total > MAX_E164_DIGITS {
            return Err(MsisdnError::TooLong {
                digits: national.len(),
                country_code: Some(country_code),
            });
        }
        // At most 15 decimal digits: fits u64 without overflow (10^15 < 2^50).
        let value = national.bytes().fold(u64::from(country_code), |acc, b| {
            acc * 10 + u64::from(b.wrapping_sub(b'0'))
        });
        Ok(Self {
            value,
            country_code,
        })
    }

    /// `+254712345678`.
    pub fn as_e164(&self) -> String {
        format!("+{}", self.value)
    }

    /// `254712345678`: the form SMPP (TON 1, NPI 1) and the simulator use.
    pub fn digits(&self) -> String {
        self.value.to_string()
    }

    /// The country calling code (254).
    pub const fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The E.164 digits as an integer (254712345678): a compact key for storage and routing.
    pub const fn as_u64(&self) -> u64 {
        self.value
    }
}

/// Checks the national part against the lengths its country's plan allows, to give
/// "too short" / "too long" instead of a bare "not valid".
fn check_length(
    country_code: u16,
    national: &str,
    lengths: Option<(usize, usize)>,
) -> Result<(), MsisdnError> {
    let Some((min, max)) = lengths else {
        return Ok(());
    };
    let len = national.len();
    if len < min {
        return Err(MsisdnError::TooShort {
            digits: len,
            country_code: Some(country_code),
        });
    }
    if len > max {
        return Err(MsisdnError::TooLong {
            digits: len,
            country_code: Some(country_code),
        });
    }
    Ok(())
}

fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

/// The digits of the input and whether it started with `+`.
struct Cleaned {
    plus: bool,
    digits: String,
}

fn clean(input: &str) -> Result<Cleaned, MsisdnError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(MsisdnError::Empty);
    }
    // Positions are reported in the caller's input, so count the leading whitespace.
    let offset = input.chars().take_while(|c| c.is_whitespace()).count();
    let mut digits = String::with_capacity(trimmed.len());
    let mut plus = false;
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            ' ' | '\t' | '-' | '.' | '(' | ')' => {}
            _ => {
                return Err(MsisdnError::InvalidCharacter {
                    character: c,
                    position: offset + i,
                })
            }
        }
    }
    if digits.is_empty() {
        return Err(MsisdnError::TooShort {
            digits: 0,
            country_code: None,
        });
    }
    Ok(Cleaned { plus, digits })
}

impl fmt::Display for Msisdn {
    /// E.164 with the `+`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.value)
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msisdn(+{})", self.value)
    }
}

impl serde::Serialize for Msisdn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Msisdn {
    /// Strict E.164 (`+` and digits), validated again: a stored value that no longer
    /// validates (metadata changed) is an error, not a silent pass.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Msisdn::from_e164(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ke() -> Region {
        Region::parse("KE").unwrap()
    }

    #[test]
    fn kenyan_national_number_becomes_e164() {
        let m = Msisdn::parse("0712 345 678", ke()).unwrap();
        assert_eq!(m.as_e164(), "+254712345678");
        assert_eq!(m.digits(), "254712345678");
        assert_eq!(m.country_code(), 254);
        assert_eq!(m.as_u64(), 254_712_345_678);
    }

    #[test]
    fn separators_plus_and_00_prefix_are_accepted() {
        for input in [
            "+254712345678",
            "+254 712-345.678",
            "(0712) 345-678",
            "00254712345678",
            "  +254 (712) 345 678 ",
            "712345678",
            // Kenya's own international prefix, handled by the national path.
            "000254712345678",
            // A trunk 0 after the country code, as people often write it.
            "+254 0712 345 678",
            // The country code without `+` (common in Kenyan CSV files).
            "254712345678",
        ] {
            let m = Msisdn::parse(input, ke()).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(m.as_e164(), "+254712345678", "{input}");
        }
    }

    #[test]
    fn foreign_numbers_keep_their_country() {
        let m = Msisdn::parse("+44 7911 123456", ke()).unwrap();
        assert_eq!(
            (m.country_code(), m.digits().as_str()),
            (44, "447911123456")
        );
        let us = Region::parse("us").unwrap();
        let m = Msisdn::parse("(201) 555-0123", us).unwrap();
        assert_eq!(m.as_e164(), "+12015550123");
        // The US international prefix 011 goes through phonenumber's IDD handling.
        let m = Msisdn::parse("011 254 712 345 678", us).unwrap();
        assert_eq!(m.as_e164(), "+254712345678");
    }

    #[test]
    fn precise_errors() {
        assert_eq!(Msisdn::parse("  ", ke()), Err(MsisdnError::Empty));
        assert_eq!(
            Msisdn::parse(" 0712a45678", ke()),
            Err(MsisdnError::InvalidCharacter {
                character: 'a',
                position: 5
            })
        );
        assert_eq!(
            Msisdn::parse("254+712345678", ke()),
            Err(MsisdnError::InvalidCharacter {
                character: '+',
                position: 3
            })
        );
        assert!(matches!(
            Msisdn::parse("12", ke()),
            Err(MsisdnError::TooShort { digits: 2, .. })
        ));
        assert_eq!(
            Msisdn::parse("+25471", ke()),
            Err(MsisdnError::TooShort {
                digits: 2,
                country_code: Some(254)
            })
        );
        assert_eq!(
            Msisdn::parse("+25471234567890", ke()),
            Err(MsisdnError::TooLong {
                digits: 11,
                country_code: Some(254)
            })
        );
        assert!(matches!(
            Msisdn::parse("+1234567890123456", ke()),
            Err(MsisdnError::TooLong {
                digits: 16,
                country_code: None
            })
        ));
        // +999 is not assigned (nor are 99 and 9 alone).
        assert!(matches!(
            Msisdn::parse("+999123456789", ke()),
            Err(MsisdnError::UnknownCountryCode { .. })
        ));
        // Right length for Kenya, but no Kenyan number starts with 9.
        assert_eq!(
            Msisdn::parse("0912345678", ke()),
            Err(MsisdnError::NotValid {
                digits: "254912345678".into(),
                country_code: 254
            })
        );
        assert!(matches!(
            Msisdn::parse("+254912345678", ke()),
            Err(MsisdnError::NotValid { .. })
        ));
    }

    #[test]
    fn error_messages_name_the_problem() {
        let e = Msisdn::parse("+25471", ke()).unwrap_err().to_string();
        assert_eq!(
            e,
            "phone number is too short: 2 digits after country code +254"
        );
        let e = Msisdn::parse("07x", ke()).unwrap_err().to_string();
        assert!(e.starts_with("character 'x' at position 2"), "{e}");
    }

    #[test]
    fn trunk_prefix_after_country_code_follows_phonenumber() {
        // Found by the agreement property: `phonenumber` drops a German trunk 0 after +49,
        // and so do we (through the general path).
        assert_eq!(
            Msisdn::from_e164("+490201000").unwrap().as_e164(),
            "+49201000"
        );
        // The flip side, inherited: Russia's trunk prefix is 8, so `phonenumber` reads the
        // toll-free +7 800 123 45 67 with the 8 stripped and rejects it. Not a mobile number.
        assert!(Msisdn::from_e164("+78001234567").is_err());
    }

    /// Found by the random agreement test: more than 15 digits is never E.164, even when
    /// `phonenumber` could shorten it by dropping a carrier prefix.
    #[test]
    fn more_than_fifteen_digits_are_too_long() {
        assert!(matches!(
            Msisdn::from_e164("+3521506022000000"),
            Err(MsisdnError::TooLong { digits: 16, .. })
        ));
    }

    #[test]
    fn region_parsing() {
        assert_eq!(ke().as_str(), "KE");
        assert_eq!(ke().country_code(), 254);
        assert_eq!(Region::parse("ke").unwrap(), ke());
        assert!(Region::parse("XX").is_err());
        assert!(Region::parse("").is_err());
        assert_eq!(serde_json::to_string(&ke()).unwrap(), "\"KE\"");
        assert_eq!(serde_json::from_str::<Region>("\"ke\"").unwrap(), ke());
    }

    #[test]
    fn serde_round_trip_is_strict_e164() {
        let m = Msisdn::parse("0712345678", ke()).unwrap();
        assert_eq!(Msisdn::from_e164(&m.as_e164()), Ok(m));
        assert!(Msisdn::from_e164("254712345678").is_err());
        assert!(Msisdn::from_e164("+254 712345678").is_err());
        assert_eq!(Msisdn::from_e164(""), Err(MsisdnError::Empty));
        assert_eq!(
            Msisdn::from_e164("+"),
            Err(MsisdnError::TooShort {
                digits: 0,
                country_code: None
            })
        );
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, "\"+254712345678\"");
        assert_eq!(serde_json::from_str::<Msisdn>(&json).unwrap(), m);
        assert!(serde_json::from_str::<Msisdn>("\"+254912345678\"").is_err());
    }

    /// The reference decision: `phonenumber` alone, on `+digits`, after E.164's own limit of
    /// 15 digits (which we apply first: `phonenumber` would read `+352 15060 22000000` as
    /// +352 22000000 by dropping a Luxembourg carrier prefix, but 16 digits are not E.164).
    fn reference(digits: &str) -> Option<String> {
        if digits.len() > MAX_E164_DIGITS {
            return None;
        }
        let number = phonenumber::parse(None, format!("+{digits}")).ok()?;
        if !phonenumber::is_valid(&number) {
            return None;
        }
        Some(format!("{}{}", number.code().value(), number.national()))
    }

    fn check_agreement(digits: &str) -> Result<(), TestCaseError> {
        let parsed = Msisdn::from_e164(&format!("+{digits}")).ok();
        if let Some(m) = parsed {
            prop_assert_eq!(Msisdn::from_stored(m.as_u64()).ok(), Some(m), "+{}", digits);
        }
        let ours = parsed.map(|m| m.digits());
        let theirs = reference(digits);
        prop_assert_eq!(ours, theirs, "+{}", digits);
        Ok(())
    }

    #[test]
    fn from_stored_rebuilds_without_the_plan_check() {
        for text in [
            "+254712345678",
            "+14155552671",
            "+447911123456",
            "+8613812345678",
        ] {
            let m = Msisdn::from_e164(text).unwrap();
            assert_eq!(Msisdn::from_stored(m.as_u64()).unwrap(), m, "{text}");
        }
        // Not valid in Kenya's plan (9 after the country code), but a stored value is read
        // back as it was written.
        assert!(Msisdn::from_e164("+254912345678").is_err());
        let m = Msisdn::from_stored(254_912_345_678).unwrap();
        assert_eq!(
            (m.country_code(), m.as_e164()),
            (254, "+254912345678".to_owned())
        );
        assert!(matches!(
            Msisdn::from_stored(12),
            Err(MsisdnError::TooShort { digits: 2, .. })
        ));
        assert!(matches!(
            Msisdn::from_stored(1_234_567_890_123_456),
            Err(MsisdnError::TooLong { digits: 16, .. })
        ));
        // 999 and 99 and 9 are unassigned calling codes.
        assert!(matches!(
            Msisdn::from_stored(999_123_456),
            Err(MsisdnError::UnknownCountryCode { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]

        /// Fast path and `phonenumber` agree on random digit strings under real country codes
        /// (mostly invalid numbers, exercising the rejection side).
        #[test]
        fn fast_path_agrees_with_phonenumber_random(
            cc in prop::sample::select(vec!["1", "7", "20", "27", "33", "39", "44", "49", "55",
                "61", "81", "86", "91", "211", "234", "254", "255", "256", "250", "263", "351",
                "352", "376", "599", "672", "800", "870", "882", "979"]),
            national in "[0-9]{1,13}",
        ) {
            check_agreement(&format!("{cc}{national}"))?;
        }

        /// ... and on numbers built from each region's example numbers with the tail varied
        /// (mostly valid numbers, exercising the acceptance side and region selection).
        #[test]
        fn fast_path_agrees_with_phonenumber_near_examples(
            index in any::<prop::sample::Index>(),
            tail in "[0-9]{0,3}",
        ) {
            let examples: Vec<(u16, &str)> = DATABASE.iter().flat_map(|m| {
                let d = m.descriptors();
                [d.mobile(), d.fixed_line(), d.toll_free()].into_iter().flatten()
                    .filter_map(|x| x.example()).map(move |e| (m.country_code(), e))
                    .collect::<Vec<_>>()
            }).collect();
            let (cc, example) = examples[index.index(examples.len())];
            let keep = example.len().saturating_sub(tail.len());
            let national = format!("{}{}", &example[..keep], tail);
            check_agreement(&format!("{cc}{national}"))?;
        }

        /// Any string: parse never panics, and what it accepts prints back to itself.
        #[test]
        fn parse_is_total_and_round_trips(input in "\\PC{0,24}") {
            if let Ok(m) = Msisdn::parse(&input, ke()) {
                prop_assert_eq!(Msisdn::from_e164(&m.as_e164()), Ok(m));
            }
        }
    }
}
