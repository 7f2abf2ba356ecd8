//! Validity periods: how long the SMSC keeps trying to deliver a message.
//!
//! Written as a sum of `<number><unit>` terms with units `s`, `m`, `h`, `d` (`"30m"`, `"2h"`,
//! `"1d"`, `"1h30m"`; spaces between terms allowed). A small parser rather than `humantime`:
//! the accepted language is exactly this, with errors that name the position.
//!
//! Limits: at least 1 minute (SMSCs round to minutes and a shorter period mostly produces
//! expiries) and at most 7 days (the longest period most operators honour; the SMPP relative
//! form could say 99 days, but an SMSC would cut it silently).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use smpp::RelativeTime;

/// Shortest validity accepted.
pub const MIN_VALIDITY: Duration = Duration::from_secs(60);
/// Longest validity accepted.
pub const MAX_VALIDITY: Duration = Duration::from_secs(7 * 86_400);

/// A checked validity period (1 minute to 7 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Validity(Duration);

/// Why a validity string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidityError {
    /// Nothing but whitespace.
    #[error("validity is empty")]
    Empty,
    /// A number without a unit after it.
    #[error("number at position {position} has no unit (use s, m, h or d)")]
    MissingUnit {
        /// Index of the number's first character.
        position: usize,
    },
    /// Something that is neither a digit, a unit nor a space.
    #[error(
        "unexpected {found:?} at position {position} (expected a number followed by s, m, h or d)"
    )]
    Unexpected {
        /// The character.
        found: char,
        /// Its index.
        position: usize,
    },
    /// Shorter than [`MIN_VALIDITY`] (zero included).
    #[error("validity of {seconds} s is shorter than the minimum of 1 minute")]
    TooShort {
        /// The total, in seconds.
        seconds: u64,
    },
    /// Longer than [`MAX_VALIDITY`], or so large it overflowed.
    #[error("validity is longer than the maximum of 7 days")]
    TooLong,
}

impl Validity {
    /// One day, a common default.
    pub const ONE_DAY: Self = Self(Duration::from_secs(86_400));

    /// Parses `"2h"`, `"30m"`, `"1d"`, `"1h30m"`...
    pub fn parse(input: &str) -> Result<Self, ValidityError> {
        if input.trim().is_empty() {
            return Err(ValidityError::Empty);
        }
        let mut total: u64 = 0;
        let mut number: Option<(u64, usize)> = None;
        for (position, c) in input.chars().enumerate() {
            match c {
                '0'..='9' => {
                    let digit = u64::from(c) - u64::from('0');
                    let (value, start) = number.unwrap_or((0, position));
                    let value = value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(digit))
                        .ok_or(ValidityError::TooLong)?;
                    number = Some((value, start));
                }
                's' | 'm' | 'h' | 'd' => {
                    let (value, _) = number
                        .take()
                        .ok_or(ValidityError::Unexpected { found: c, position })?;
                    let unit = match c {
                        's' => 1,
                        'm' => 60,
                        'h' => 3600,
                        _ => 86_400,
                    };
                    total = value
                        .checked_mul(unit)
                        .and_then(|v| total.checked_add(v))
                        .ok_or(ValidityError::TooLong)?;
                }
                c if c.is_whitespace() && number.is_none() => {}
                found => return Err(ValidityError::Unexpected { found, position }),
            }
        }
        if let Some((_, position)) = number {
            return Err(ValidityError::MissingUnit { position });
        }
        Self::from_duration(Duration::from_secs(total))
    }

    /// Checks a duration against the limits.
    pub fn from_duration(duration: Duration) -> Result<Self, ValidityError> {
        if duration < MIN_VALIDITY {
            return Err(ValidityError::TooShort {
                seconds: duration.as_secs(),
            });
        }
        if duration > MAX_VALIDITY {
            return Err(ValidityError::TooLong);
        }
        Ok(Self(duration))
    }

    /// The period.
    pub const fn duration(&self) -> Duration {
        self.0
    }

    /// The SMPP relative time for `validity_period` (`000001000000000R` for a day).
    pub fn to_relative_time(&self) -> RelativeTime {
        // At most 7 days, within the 99 days a relative time can express, so this cannot
        // fail; the fallback keeps the function total anyway.
        RelativeTime::from_duration(self.0).unwrap_or_default()
    }
}

impl fmt::Display for Validity {
    /// The shortest form that parses back: `1d2h`, `90s` → `1m30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0.as_secs();
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            let n = rest / size;
            rest %= size;
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for Validity {
    type Err = ValidityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Validity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Validity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Validity::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_units_and_sums() {
        let secs = |s: &str| Validity::parse(s).map(|v| v.duration().as_secs());
        assert_eq!(secs("2h"), Ok(7200));
        assert_eq!(secs("30m"), Ok(1800));
        assert_eq!(secs("1d"), Ok(86_400));
        assert_eq!(secs(" 1h 30m "), Ok(5400));
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("7d"), Ok(604_800));
    }

    #[test]
    fn precise_errors() {
        assert_eq!(Validity::parse(""), Err(ValidityError::Empty));
        assert_eq!(
            Validity::parse("12"),
            Err(ValidityError::MissingUnit { position: 0 })
        );
        assert_eq!(
            Validity::parse("1h 30"),
            Err(ValidityError::MissingUnit { position: 3 })
        );
        assert_eq!(
            Validity::parse("2w"),
            Err(ValidityError::Unexpected {
                found: 'w',
                position: 1
            })
        );
        assert_eq!(
            Validity::parse("h"),
            Err(ValidityError::Unexpected {
                found: 'h',
                position: 0
            })
        );
        assert_eq!(
            Validity::parse("1 h"),
            Err(ValidityError::Unexpected {
                found: ' ',
                position: 1
            })
        );
        assert_eq!(
            Validity::parse("30s"),
            Err(ValidityError::TooShort { seconds: 30 })
        );
        assert_eq!(
            Validity::parse("0m"),
            Err(ValidityError::TooShort { seconds: 0 })
        );
        assert_eq!(Validity::parse("7d1s"), Err(ValidityError::TooLong));
        assert_eq!(
            Validity::parse("99999999999999999999d"),
            Err(ValidityError::TooLong)
        );
    }

    #[test]
    fn smpp_relative_time() {
        let v = Validity::parse("1d2h3m4s").unwrap();
        assert_eq!(v.to_relative_time().to_string(), "000001020304000R");
        assert_eq!(v.to_string(), "1d2h3m4s");
        assert_eq!(
            Validity::parse("7d")
                .unwrap()
                .to_relative_time()
                .to_string(),
            "000007000000000R"
        );
    }

    proptest! {
        /// Display parses back, and the SMPP form has the same length of time.
        #[test]
        fn round_trips(secs in 60u64..=604_800) {
            let v = Validity::from_duration(Duration::from_secs(secs)).unwrap();
            prop_assert_eq!(Validity::parse(&v.to_string()), Ok(v));
            prop_assert_eq!(v.to_relative_time().fixed_duration(), Some(v.duration()));
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = Validity::parse(&s);
        }
    }
}
