//! SMPP time strings (`schedule_delivery_time`, `validity_period`, `final_date`), SMPP 3.4
//! §7.1.1.
//!
//! A time field is either NULL (empty, "absent": the MC default / immediately) or 16 ASCII
//! characters:
//!
//! - absolute `YYMMDDhhmmsstnnp`: a local date and time, tenths of a second `t`, and the offset
//!   of that local time from UTC in quarter hours `nn` (00-48), `p` = `+` (ahead of UTC) or `-`
//!   (behind UTC). Example: `150203040506708+` = 2015-02-03 04:05:06.7 at UTC+02:00.
//! - relative `YYMMDDhhmmss000R`: a duration counted from "now" at the MC, in years, months,
//!   days, hours, minutes and seconds. Example: `000001000000000R` = one day.
//!
//! **Two-digit years** are read as 2000-2099 (`00` = 2000, `99` = 2099). SMPP has no century
//! field, and this crate does not handle messages scheduled before 2000; the same pivot is used
//! for the 10- and 12-digit dates in delivery receipts ([`crate::receipt`]).
//!
//! Everything here is a pure function of its arguments: no clock is read. The civil-date
//! arithmetic (proleptic Gregorian calendar) is Howard Hinnant's `days_from_civil` /
//! `civil_from_days`, a dozen lines that do not justify a date-time dependency.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Length of a non-NULL SMPP time string (without its C-string NUL).
pub const TIME_LEN: usize = 16;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// The largest offset from UTC an absolute time may carry: 48 quarter hours = 12 hours.
pub const MAX_OFFSET_QUARTER_HOURS: u8 = 48;

/// A non-NULL SMPP time value. Parse with [`SmppTime::parse`] (which maps the NULL form to
/// `None`) or [`str::parse`]; format with [`fmt::Display`] or [`SmppTime::to_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmppTime {
    /// `YYMMDDhhmmsstnnp` with `p` = `+` or `-`.
    Absolute(AbsoluteTime),
    /// `YYMMDDhhmmss000R`.
    Relative(RelativeTime),
}

/// Which part of a time string (or of a receipt date) a value belongs to; used in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeField {
    /// `YY` (or `YYYY` in 14-digit receipt dates).
    Year,
    /// `MM`.
    Month,
    /// `DD`.
    Day,
    /// `hh`.
    Hour,
    /// `mm`.
    Minute,
    /// `ss`.
    Second,
    /// `t`, tenths of a second.
    Tenths,
    /// `nn`, the UTC offset in quarter hours.
    Offset,
}

impl fmt::Display for TimeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Year => "year",
            Self::Month => "month",
            Self::Day => "day",
            Self::Hour => "hour",
            Self::Minute => "minute",
            Self::Second => "second",
            Self::Tenths => "tenths of a second",
            Self::Offset => "UTC offset (quarter hours)",
        })
    }
}

/// Why a time string could not be parsed, or a time value could not be built or converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// Not 16 characters (and not empty, which is the NULL form).
    #[error("time string must be 16 characters (or empty for NULL), found {len}")]
    WrongLength {
        /// The length found.
        len: usize,
    },
    /// A character that must be a decimal digit is not one.
    #[error("position {position} ({field}): expected a digit, found {}", show_byte(*found))]
    NotADigit {
        /// 0-based index in the string.
        position: usize,
        /// The field the character belongs to.
        field: TimeField,
        /// The byte found there.
        found: u8,
    },
    /// A field is outside its range (month 13, hour 24, offset 49, 30 February...).
    #[error("{field} {value} out of range {min}..={max}")]
    OutOfRange {
        /// The field.
        field: TimeField,
        /// The value found.
        value: u32,
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value (for the day: the length of that month).
        max: u32,
    },
    /// The 16th character is not `+`, `-` or `R`.
    #[error("position 15: expected '+', '-' or 'R', found {}", show_byte(*found))]
    BadFinalChar {
        /// The byte found.
        found: u8,
    },
    /// A relative time whose `tnn` part (positions 12-14) is not `000`.
    #[error("position {position}: a relative time must have \"000\" at positions 12-14, found {}", show_byte(*found))]
    RelativeNotZero {
        /// 0-based index of the first offending character.
        position: usize,
        /// The byte found.
        found: u8,
    },
    /// A Unix time whose local year is outside 2000-2099 cannot be written with a 2-digit year.
    #[error("year {year} cannot be written as an SMPP time (2-digit years cover 2000-2099)")]
    YearNotRepresentable {
        /// The (local) year that was computed.
        year: i64,
    },
    /// Adding a relative time to a base overflowed the Unix-seconds range.
    #[error("adding the relative time to Unix time {base} overflows")]
    Overflow {
        /// The base Unix time.
        base: i64,
    },
    /// A duration longer than a relative time can express (99 days 23:59:59 without using
    /// calendar years or months, whose length varies).
    #[error("duration of {seconds} s is longer than a relative SMPP time can express (99 days 23:59:59)")]
    DurationTooLong {
        /// Whole seconds of the duration.
        seconds: u64,
    },
}

/// Shows a byte in an error message: printable ASCII as `'c'`, anything else as hex.
pub(crate) fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        format!("'{}'", char::from(b))
    } else {
        format!("0x{b:02X}")
    }
}

/// Whether the local time is ahead of UTC (`+`) or behind it (`-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OffsetSign {
    /// `+`: local time is ahead of UTC (east of Greenwich).
    Ahead,
    /// `-`: local time is behind UTC.
    Behind,
}

/// The UTC offset of an absolute time, in quarter hours (0-48) with its sign.
///
/// The sign is kept even for a zero offset, so that `…000-` (legal, if odd) formats back
/// exactly as it was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UtcOffset {
    quarter_hours: u8,
    sign: OffsetSign,
}

impl UtcOffset {
    /// UTC itself, written `00+`.
    pub const UTC: Self = Self {
        quarter_hours: 0,
        sign: OffsetSign::Ahead,
    };

    /// An offset of `quarter_hours` (0-48) in the direction `sign`.
    pub fn new(quarter_hours: u8, sign: OffsetSign) -> Result<Self, TimeError> {
        if quarter_hours > MAX_OFFSET_QUARTER_HOURS {
            return Err(TimeError::OutOfRange {
                field: TimeField::Offset,
                value: u32::from(quarter_hours),
                min: 0,
                max: u32::from(MAX_OFFSET_QUARTER_HOURS),
            });
        }
        Ok(Self {
            quarter_hours,
            sign,
        })
    }

    /// An offset given as signed quarter hours (-48..=48); positive is ahead of UTC.
    pub fn from_quarter_hours(quarter_hours: i8) -> Result<Self, TimeError> {
        let sign = if quarter_hours < 0 {
            OffsetSign::Behind
        } else {
            OffsetSign::Ahead
        };
        Self::new(quarter_hours.unsigned_abs(), sign)
    }

    /// The number of quarter hours (0-48), without sign.
    pub const fn quarter_hours(self) -> u8 {
        self.quarter_hours
    }

    /// The direction of the offset.
    pub const fn sign(self) -> OffsetSign {
        self.sign
    }

    /// The offset in seconds, positive when local time is ahead of UTC.
    pub const fn seconds(self) -> i32 {
        let s = self.quarter_hours as i32 * 900;
        match self.sign {
            OffsetSign::Ahead => s,
            OffsetSign::Behind => -s,
        }
    }
}

/// An absolute SMPP time: a local date and time with tenths of a second and a UTC offset.
///
/// Always a real calendar date in 2000-2099 (so it converts to Unix time without failing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbsoluteTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    tenths: u8,
    offset: UtcOffset,
}

/// A relative SMPP time: a duration in calendar units, each 0-99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RelativeTime {
    years: u8,
    months: u8,
    days: u8,
    hours: u8,
    minutes: u8,
    seconds: u8,
}

// ---------------------------------------------------------------------------------------------
// Civil-date arithmetic (proleptic Gregorian), shared with `receipt`.

/// Whether `year` is a Gregorian leap year.
pub(crate) const fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Number of days in `month` (1-12) of `year`; 0 for a month outside 1-12.
pub(crate) const fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of the civil date `year-month-day` (month 1-12, day 1-31).
pub(crate) const fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    // Count years from March so that the leap day is the last day of the "year".
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = (month as i64 + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + day as i64 - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of `days` since 1970-01-01 (inverse of
/// [`days_from_civil`]). Valid for any `days` within ±2^60.
pub(crate) const fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
                                  // Invariants above: day is in 1..=31 and month in 1..=12, so the casts cannot truncate.
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

/// Splits Unix seconds into a civil date and the seconds into that day.
pub(crate) const fn civil_from_unix(secs: i64) -> (i64, u8, u8, i64) {
    let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
    (y, m, d, secs.rem_euclid(DAY))
}

/// Checks `value` against `min..=max`.
fn check_range(field: TimeField, value: u8, min: u8, max: u8) -> Result<u8, TimeError> {
    if value < min || value > max {
        return Err(TimeError::OutOfRange {
            field,
            value: u32::from(value),
            min: u32::from(min),
            max: u32::from(max),
        });
    }
    Ok(value)
}

/// Checks a calendar date with hour, minute and second; used by both time strings and
/// receipt dates. The year must already be in range.
pub(crate) fn check_date_time(
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
) -> Result<(), TimeError> {
    check_range(TimeField::Month, month, 1, 12)?;
    check_range(TimeField::Day, day, 1, days_in_month(year, month))?;
    check_range(TimeField::Hour, hour, 0, 23)?;
    check_range(TimeField::Minute, minute, 0, 59)?;
    check_range(TimeField::Second, second, 0, 59)?;
    Ok(())
}

/// Reads two ASCII digits at `pos` as a number 0-99.
fn two_digits(bytes: &[u8; TIME_LEN], pos: usize, field: TimeField) -> Result<u8, TimeError> {
    let mut value = 0u8;
    for position in pos..pos + 2 {
        // `pos` is at most 12 at every call site, so `position` < TIME_LEN.
        let b = bytes.get(position).copied().unwrap_or(0);
        if !b.is_ascii_digit() {
            return Err(TimeError::NotADigit {
                position,
                field,
                found: b,
            });
        }
        value = value * 10 + (b - b'0');
    }
    Ok(value)
}

/// Writes `value` (0-99) as two ASCII digits.
fn put_two(out: &mut [u8; TIME_LEN], pos: usize, value: u8) {
    if let Some(slot) = out.get_mut(pos..pos + 2) {
        slot.copy_from_slice(&[b'0' + value / 10 % 10, b'0' + value % 10]);
    }
}

// ---------------------------------------------------------------------------------------------

impl SmppTime {
    /// Parses a time field as it appears in a PDU (without the C-string NUL). The empty string
    /// is the NULL form and gives `Ok(None)`.
    ///
    /// Checks are made in reading order after the length and the final character, so the first
    /// error reported is the leftmost one of its kind.
    pub fn parse(bytes: &[u8]) -> Result<Option<Self>, TimeError> {
        if bytes.is_empty() {
            return Ok(None);
        }
        let bytes: &[u8; TIME_LEN] = bytes
            .try_into()
            .map_err(|_| TimeError::WrongLength { len: bytes.len() })?;
        let last = bytes[TIME_LEN - 1];
        let sign = match last {
            b'+' => OffsetSign::Ahead,
            b'-' => OffsetSign::Behind,
            b'R' => return RelativeTime::parse_fixed(bytes).map(|r| Some(Self::Relative(r))),
            found => return Err(TimeError::BadFinalChar { found }),
        };
        AbsoluteTime::parse_fixed(bytes, sign).map(|a| Some(Self::Absolute(a)))
    }

    /// The 16 ASCII characters of this time (add the NUL when writing a C-string).
    pub fn to_bytes(&self) -> [u8; TIME_LEN] {
        match self {
            Self::Absolute(a) => a.to_bytes(),
            Self::Relative(r) => r.to_bytes(),
        }
    }

    /// The Unix time this value designates: an absolute time ignores `now_unix`; a relative
    /// one is added to it (see [`RelativeTime::add_to_unix`]).
    pub fn resolve(&self, now_unix: i64) -> Result<i64, TimeError> {
        match self {
            Self::Absolute(a) => Ok(a.to_unix_seconds()),
            Self::Relative(r) => r.add_to_unix(now_unix),
        }
    }
}

impl fmt::Display for SmppTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absolute(a) => a.fmt(f),
            Self::Relative(r) => r.fmt(f),
        }
    }
}

impl FromStr for SmppTime {
    type Err = TimeError;

    /// Parses a non-NULL time string; the empty string is [`TimeError::WrongLength`] here
    /// (use [`SmppTime::parse`] to accept NULL).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.as_bytes())?.ok_or(TimeError::WrongLength { len: 0 })
    }
}

/// Writes 16 ASCII bytes (always ASCII by construction) to a formatter.
fn write_ascii(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for &b in bytes {
        fmt::Write::write_char(f, char::from(b))?;
    }
    Ok(())
}

impl AbsoluteTime {
    /// Builds an absolute time from its fields; `year` must be 2000-2099 (the 2-digit range),
    /// the date must exist, and `tenths` must be 0-9.
    #[allow(clippy::too_many_arguments)] // one argument per field of the wire format
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        tenths: u8,
        offset: UtcOffset,
    ) -> Result<Self, TimeError> {
        if !(2000..=2099).contains(&year) {
            return Err(TimeError::OutOfRange {
                field: TimeField::Year,
                value: u32::from(year),
                min: 2000,
                max: 2099,
            });
        }
        check_date_time(i64::from(year), month, day, hour, minute, second)?;
        check_range(TimeField::Tenths, tenths, 0, 9)?;
        Ok(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
            tenths,
            offset,
        })
    }

    fn parse_fixed(b: &[u8; TIME_LEN], sign: OffsetSign) -> Result<Self, TimeError> {
        let yy = two_digits(b, 0, TimeField::Year)?;
        let month = two_digits(b, 2, TimeField::Month)?;
        let day = two_digits(b, 4, TimeField::Day)?;
        let hour = two_digits(b, 6, TimeField::Hour)?;
        let minute = two_digits(b, 8, TimeField::Minute)?;
        let second = two_digits(b, 10, TimeField::Second)?;
        let t = b[12];
        if !t.is_ascii_digit() {
            return Err(TimeError::NotADigit {
                position: 12,
                field: TimeField::Tenths,
                found: t,
            });
        }
        let quarters = two_digits(b, 13, TimeField::Offset)?;
        let offset = UtcOffset::new(quarters, sign)?;
        Self::new(
            2000 + u16::from(yy),
            month,
            day,
            hour,
            minute,
            second,
            t - b'0',
            offset,
        )
    }

    /// The 16 ASCII characters `YYMMDDhhmmsstnnp`.
    pub fn to_bytes(&self) -> [u8; TIME_LEN] {
        let mut out = [0u8; TIME_LEN];
        // `year` is 2000-2099 by construction, so `year - 2000` fits two digits.
        put_two(&mut out, 0, (self.year - 2000) as u8);
        put_two(&mut out, 2, self.month);
        put_two(&mut out, 4, self.day);
        put_two(&mut out, 6, self.hour);
        put_two(&mut out, 8, self.minute);
        put_two(&mut out, 10, self.second);
        out[12] = b'0' + self.tenths;
        put_two(&mut out, 13, self.offset.quarter_hours);
        out[15] = match self.offset.sign {
            OffsetSign::Ahead => b'+',
            OffsetSign::Behind => b'-',
        };
        out
    }

    /// The instant in Unix seconds (UTC), honouring the offset; the tenths are dropped
    /// (see [`AbsoluteTime::tenths`]).
    pub fn to_unix_seconds(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        let local = days * DAY
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        // Local time is ahead of UTC by the offset, so UTC = local - offset.
        local - i64::from(self.offset.seconds())
    }

    /// The UTC time `unix_seconds` as an absolute time with offset `00+` and tenths 0.
    pub fn from_unix_utc(unix_seconds: i64) -> Result<Self, TimeError> {
        Self::from_unix_with_offset(unix_seconds, UtcOffset::UTC)
    }

    /// The instant `unix_seconds` expressed as local time at `offset` (tenths 0).
    pub fn from_unix_with_offset(unix_seconds: i64, offset: UtcOffset) -> Result<Self, TimeError> {
        let local = unix_seconds
            .checked_add(i64::from(offset.seconds()))
            .ok_or(TimeError::Overflow { base: unix_seconds })?;
        let (year, month, day, secs) = civil_from_unix(local);
        let year16 = u16::try_from(year)
            .ok()
            .filter(|y| (2000..=2099).contains(y))
            .ok_or(TimeError::YearNotRepresentable { year })?;
        // `secs` is in 0..86_400, so each part fits in a u8.
        let (hour, minute, second) = (
            (secs / 3600) as u8,
            (secs / 60 % 60) as u8,
            (secs % 60) as u8,
        );
        Self::new(year16, month, day, hour, minute, second, 0, offset)
    }

    /// Year, 2000-2099.
    pub const fn year(&self) -> u16 {
        self.year
    }
    /// Month, 1-12.
    pub const fn month(&self) -> u8 {
        self.month
    }
    /// Day of the month, 1-31.
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
    /// Second, 0-59.
    pub const fn second(&self) -> u8 {
        self.second
    }
    /// Tenths of a second, 0-9.
    pub const fn tenths(&self) -> u8 {
        self.tenths
    }
    /// Offset of the local time from UTC.
    pub const fn offset(&self) -> UtcOffset {
        self.offset
    }
}

impl fmt::Display for AbsoluteTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_ascii(f, &self.to_bytes())
    }
}

impl RelativeTime {
    /// Builds a relative time; every part must be 0-99 (two digits).
    pub fn new(
        years: u8,
        months: u8,
        days: u8,
        hours: u8,
        minutes: u8,
        seconds: u8,
    ) -> Result<Self, TimeError> {
        check_range(TimeField::Year, years, 0, 99)?;
        check_range(TimeField::Month, months, 0, 99)?;
        check_range(TimeField::Day, days, 0, 99)?;
        check_range(TimeField::Hour, hours, 0, 99)?;
        check_range(TimeField::Minute, minutes, 0, 99)?;
        check_range(TimeField::Second, seconds, 0, 99)?;
        Ok(Self {
            years,
            months,
            days,
            hours,
            minutes,
            seconds,
        })
    }

    fn parse_fixed(b: &[u8; TIME_LEN]) -> Result<Self, TimeError> {
        let years = two_digits(b, 0, TimeField::Year)?;
        let months = two_digits(b, 2, TimeField::Month)?;
        let days = two_digits(b, 4, TimeField::Day)?;
        let hours = two_digits(b, 6, TimeField::Hour)?;
        let minutes = two_digits(b, 8, TimeField::Minute)?;
        let seconds = two_digits(b, 10, TimeField::Second)?;
        if let Some((position, &found)) = b
            .iter()
            .enumerate()
            .skip(12)
            .take(3)
            .find(|(_, &c)| c != b'0')
        {
            return Err(TimeError::RelativeNotZero { position, found });
        }
        // Two digits are at most 99, so every part is in range.
        Ok(Self {
            years,
            months,
            days,
            hours,
            minutes,
            seconds,
        })
    }

    /// The 16 ASCII characters `YYMMDDhhmmss000R`.
    pub fn to_bytes(&self) -> [u8; TIME_LEN] {
        let mut out = *b"000000000000000R";
        put_two(&mut out, 0, self.years);
        put_two(&mut out, 2, self.months);
        put_two(&mut out, 4, self.days);
        put_two(&mut out, 6, self.hours);
        put_two(&mut out, 8, self.minutes);
        put_two(&mut out, 10, self.seconds);
        out
    }

    /// The relative time for `duration`, as days, hours, minutes and seconds (hours < 24,
    /// minutes and seconds < 60; years and months stay 0 because their length varies). The
    /// sub-second part is dropped.
    pub fn from_duration(duration: Duration) -> Result<Self, TimeError> {
        let total = duration.as_secs();
        let days = total / 86_400;
        if days > 99 {
            return Err(TimeError::DurationTooLong { seconds: total });
        }
        // Each part is bounded above (days <= 99, the rest by the modulo), so the casts are exact.
        Ok(Self {
            years: 0,
            months: 0,
            days: days as u8,
            hours: (total / 3600 % 24) as u8,
            minutes: (total / 60 % 60) as u8,
            seconds: (total % 60) as u8,
        })
    }

    /// The length as a [`Duration`] when it does not depend on the calendar (years and months
    /// both 0); `None` otherwise (use [`RelativeTime::add_to_unix`]).
    pub fn fixed_duration(&self) -> Option<Duration> {
        (self.years == 0 && self.months == 0).then(|| Duration::from_secs(self.fixed_seconds()))
    }

    /// Days, hours, minutes and seconds in seconds (at most ~103 days, no overflow).
    fn fixed_seconds(&self) -> u64 {
        u64::from(self.days) * 86_400
            + u64::from(self.hours) * 3600
            + u64::from(self.minutes) * 60
            + u64::from(self.seconds)
    }

    /// `base_unix` (UTC) plus this relative time, calendar-aware: years and months are added
    /// to the UTC civil date first, keeping the time of day; a day that does not exist in the
    /// target month is clamped to its last day (31 January + 1 month = 28 or 29 February).
    /// Then days, hours, minutes and seconds are added as fixed lengths.
    pub fn add_to_unix(&self, base_unix: i64) -> Result<i64, TimeError> {
        let overflow = TimeError::Overflow { base: base_unix };
        let (year, month, day, secs_of_day) = civil_from_unix(base_unix);
        // Months since year 0, then split again; the ranges involved (|year| < 2^49) cannot
        // overflow i64 here.
        let month_index =
            year * 12 + i64::from(month) - 1 + i64::from(self.years) * 12 + i64::from(self.months);
        let new_year = month_index.div_euclid(12);
        // rem_euclid(12) is 0..=11, so the month is 1..=12.
        let new_month = (month_index.rem_euclid(12) + 1) as u8;
        let new_day = day.min(days_in_month(new_year, new_month));
        let shifted = days_from_civil(new_year, new_month, new_day)
            .checked_mul(DAY)
            .and_then(|s| s.checked_add(secs_of_day))
            .ok_or(overflow.clone())?;
        let fixed = i64::try_from(self.fixed_seconds()).map_err(|_| overflow.clone())?;
        shifted.checked_add(fixed).ok_or(overflow)
    }

    /// Years, 0-99.
    pub const fn years(&self) -> u8 {
        self.years
    }
    /// Months, 0-99.
    pub const fn months(&self) -> u8 {
        self.months
    }
    /// Days, 0-99.
    pub const fn days(&self) -> u8 {
        self.days
    }
    /// Hours, 0-99.
    pub const fn hours(&self) -> u8 {
        self.hours
    }
    /// Minutes, 0-99.
    pub const fn minutes(&self) -> u8 {
        self.minutes
    }
    /// Seconds, 0-99.
    pub const fn seconds(&self) -> u8 {
        self.seconds
    }
}

impl fmt::Display for RelativeTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_ascii(f, &self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn abs(s: &str) -> AbsoluteTime {
        match s.parse::<SmppTime>() {
            Ok(SmppTime::Absolute(a)) => a,
            other => panic!("{s}: expected an absolute time, got {other:?}"),
        }
    }

    fn rel(s: &str) -> RelativeTime {
        match s.parse::<SmppTime>() {
            Ok(SmppTime::Relative(r)) => r,
            other => panic!("{s}: expected a relative time, got {other:?}"),
        }
    }

    // Expected Unix times below were computed independently with Python's `datetime`.

    #[test]
    fn vector_c_absolute_with_positive_offset() {
        let a = abs("150203040506708+");
        assert_eq!(
            (
                a.year(),
                a.month(),
                a.day(),
                a.hour(),
                a.minute(),
                a.second()
            ),
            (2015, 2, 3, 4, 5, 6)
        );
        assert_eq!(a.tenths(), 7);
        assert_eq!(a.offset().quarter_hours(), 8);
        assert_eq!(a.offset().sign(), OffsetSign::Ahead);
        assert_eq!(a.offset().seconds(), 7200);
        // 2015-02-03T04:05:06+02:00
        assert_eq!(a.to_unix_seconds(), 1_422_929_106);
        assert_eq!(a.to_string(), "150203040506708+");
    }

    #[test]
    fn vector_c_relative_times() {
        let r = rel("010203040506000R");
        assert_eq!(
            (
                r.years(),
                r.months(),
                r.days(),
                r.hours(),
                r.minutes(),
                r.seconds()
            ),
            (1, 2, 3, 4, 5, 6)
        );
        assert_eq!(r.fixed_duration(), None);
        assert_eq!(r.to_string(), "010203040506000R");

        let day = rel("000001000000000R");
        assert_eq!(day.days(), 1);
        assert_eq!(day.fixed_duration(), Some(Duration::from_secs(86_400)));
        // 2026-11-26T10:00Z + 1 day
        assert_eq!(day.add_to_unix(1_795_687_200), Ok(1_795_773_600));
    }

    #[test]
    fn null_form_is_absent() {
        assert_eq!(SmppTime::parse(b""), Ok(None));
        assert_eq!(
            "".parse::<SmppTime>(),
            Err(TimeError::WrongLength { len: 0 })
        );
    }

    #[test]
    fn negative_offset_and_negative_zero_are_kept() {
        let a = abs("200101000000048-");
        assert_eq!(a.offset().seconds(), -12 * 3600);
        // 2020-01-01T00:00-12:00
        assert_eq!(a.to_unix_seconds(), 1_577_880_000);
        let z = abs("200101000000000-");
        assert_eq!(z.offset().seconds(), 0);
        assert_eq!(z.to_string(), "200101000000000-");
        assert_ne!(z, abs("200101000000000+"));
        assert_eq!(
            z.to_unix_seconds(),
            abs("200101000000000+").to_unix_seconds()
        );
    }

    #[test]
    fn from_unix_utc_and_with_offset() {
        // 2000-01-01T00:00Z and 2099-12-31T23:59:59Z are the ends of the 2-digit range.
        assert_eq!(
            AbsoluteTime::from_unix_utc(946_684_800).map(|a| a.to_string()),
            Ok("000101000000000+".to_owned())
        );
        assert_eq!(
            AbsoluteTime::from_unix_utc(4_102_444_799).map(|a| a.to_string()),
            Ok("991231235959000+".to_owned())
        );
        assert_eq!(
            AbsoluteTime::from_unix_utc(946_684_799),
            Err(TimeError::YearNotRepresentable { year: 1999 })
        );
        assert_eq!(
            AbsoluteTime::from_unix_utc(4_102_444_800),
            Err(TimeError::YearNotRepresentable { year: 2100 })
        );
        let plus2 = UtcOffset::new(8, OffsetSign::Ahead).unwrap();
        assert_eq!(
            AbsoluteTime::from_unix_with_offset(1_422_929_106, plus2).map(|a| a.to_string()),
            Ok("150203040506008+".to_owned())
        );
        // The same instant west of UTC falls on the previous local day.
        let minus5 = UtcOffset::from_quarter_hours(-20).unwrap();
        assert_eq!(
            AbsoluteTime::from_unix_with_offset(946_684_800 + 3600, minus5),
            Err(TimeError::YearNotRepresentable { year: 1999 })
        );
        assert_eq!(
            AbsoluteTime::from_unix_with_offset(1_422_929_106, minus5).map(|a| a.to_string()),
            Ok("150202210506020-".to_owned())
        );
        assert_eq!(
            AbsoluteTime::from_unix_with_offset(i64::MAX, plus2),
            Err(TimeError::Overflow { base: i64::MAX })
        );
    }

    #[test]
    fn relative_is_calendar_aware() {
        // 2024-01-31T08:00Z + 1 month = 2024-02-29T08:00Z (leap year, day clamped).
        let jan31 = 1_706_688_000;
        assert_eq!(
            rel("000100000000000R").add_to_unix(jan31),
            Ok(1_709_193_600)
        );
        // + 1 year 1 month = 2025-02-28 (not a leap year).
        assert_eq!(
            rel("010100000000000R").add_to_unix(jan31),
            Ok(1_740_729_600)
        );
        // + 1 y 2 mo 3 d 04:05:06 = 2025-03-31 + 3 d + 04:05:06 = 2025-04-03T12:05:06Z.
        assert_eq!(
            rel("010203040506000R").add_to_unix(jan31),
            Ok(1_743_681_906)
        );
        // 99 months carries into years: 2024-01 + 99 months = 2032-04, day 30 (clamped from 31).
        let expected = days_from_civil(2032, 4, 30) * DAY + 8 * 3600;
        assert_eq!(rel("009900000000000R").add_to_unix(jan31), Ok(expected));
        // Before 1970 works too (negative Unix time).
        assert_eq!(rel("000000000001000R").add_to_unix(-1), Ok(0));
        assert_eq!(
            rel("000000000001000R").add_to_unix(i64::MAX),
            Err(TimeError::Overflow { base: i64::MAX })
        );
    }

    #[test]
    fn duration_to_relative() {
        let r =
            RelativeTime::from_duration(Duration::from_secs(2 * 86_400 + 3 * 3600 + 4 * 60 + 5))
                .unwrap();
        assert_eq!(r.to_string(), "000002030405000R");
        assert_eq!(
            RelativeTime::from_duration(Duration::from_millis(59_999)).map(|r| r.to_string()),
            Ok("000000000059000R".to_owned())
        );
        let max = Duration::from_secs(100 * 86_400 - 1);
        assert_eq!(
            RelativeTime::from_duration(max).map(|r| r.to_string()),
            Ok("000099235959000R".to_owned())
        );
        assert_eq!(
            RelativeTime::from_duration(max + Duration::from_secs(1)),
            Err(TimeError::DurationTooLong {
                seconds: 100 * 86_400
            })
        );
    }

    #[test]
    fn errors_name_the_position_and_field() {
        let p = |s: &str| SmppTime::parse(s.as_bytes());
        assert_eq!(
            p("15020304050670+"),
            Err(TimeError::WrongLength { len: 15 })
        );
        assert_eq!(
            p("150203040506708+\0"),
            Err(TimeError::WrongLength { len: 17 })
        );
        assert_eq!(
            p("150203040506708X"),
            Err(TimeError::BadFinalChar { found: b'X' })
        );
        assert_eq!(
            p("15A203040506708+"),
            Err(TimeError::NotADigit {
                position: 2,
                field: TimeField::Month,
                found: b'A'
            })
        );
        assert_eq!(
            p("1502030405067x8+"),
            Err(TimeError::NotADigit {
                position: 13,
                field: TimeField::Offset,
                found: b'x'
            })
        );
        assert_eq!(
            p("151303040506708+"),
            Err(TimeError::OutOfRange {
                field: TimeField::Month,
                value: 13,
                min: 1,
                max: 12
            })
        );
        assert_eq!(
            p("150230040506708+"),
            Err(TimeError::OutOfRange {
                field: TimeField::Day,
                value: 30,
                min: 1,
                max: 28
            })
        );
        // 2016 is a leap year, 2100 is out of range anyway.
        assert!(p("160229000000000+").is_ok());
        assert_eq!(
            p("150203240506708+"),
            Err(TimeError::OutOfRange {
                field: TimeField::Hour,
                value: 24,
                min: 0,
                max: 23
            })
        );
        assert_eq!(
            p("150203040506749+"),
            Err(TimeError::OutOfRange {
                field: TimeField::Offset,
                value: 49,
                min: 0,
                max: 48
            })
        );
        assert_eq!(
            p("010203040506100R"),
            Err(TimeError::RelativeNotZero {
                position: 12,
                found: b'1'
            })
        );
        // Relative parts are durations: 99 hours is fine, month 00 is fine.
        assert!(p("000000990000000R").is_ok());
        let msg = p("15A203040506708+").unwrap_err().to_string();
        assert_eq!(msg, "position 2 (month): expected a digit, found 'A'");
        let msg = p("150203040506749+").unwrap_err().to_string();
        assert!(msg.contains("49") && msg.contains("UTC offset"), "{msg}");
    }

    #[test]
    fn constructors_reject_out_of_range() {
        assert!(AbsoluteTime::new(1999, 1, 1, 0, 0, 0, 0, UtcOffset::UTC).is_err());
        assert!(AbsoluteTime::new(2000, 1, 1, 0, 0, 0, 10, UtcOffset::UTC).is_err());
        assert!(AbsoluteTime::new(2023, 2, 29, 0, 0, 0, 0, UtcOffset::UTC).is_err());
        assert!(UtcOffset::new(49, OffsetSign::Ahead).is_err());
        assert!(UtcOffset::from_quarter_hours(-49).is_err());
        assert!(RelativeTime::new(100, 0, 0, 0, 0, 0).is_err());
    }

    #[test]
    fn civil_arithmetic_matches_a_day_by_day_walk() {
        // An independent oracle: walk one day at a time from 1900-01-01 to 2200-12-31 using
        // only the month-length rule, and compare both directions of the closed formulas.
        assert!(is_leap_year(2000) && is_leap_year(2024));
        assert!(!is_leap_year(1900) && !is_leap_year(2100) && !is_leap_year(2023));
        let (mut y, mut m, mut d) = (1900i64, 1u8, 1u8);
        let mut days = days_from_civil(1900, 1, 1);
        assert_eq!(days, -25_567); // 1900-01-01 is 25 567 days before the epoch
        while y <= 2200 {
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
            assert_eq!(civil_from_days(days), (y, m, d));
            days += 1;
            d += 1;
            if d > days_in_month(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }

    fn offset_strategy() -> impl Strategy<Value = UtcOffset> {
        (0u8..=48, any::<bool>()).prop_map(|(q, behind)| {
            let sign = if behind {
                OffsetSign::Behind
            } else {
                OffsetSign::Ahead
            };
            UtcOffset::new(q, sign).unwrap()
        })
    }

    fn absolute_strategy() -> impl Strategy<Value = AbsoluteTime> {
        (
            2000u16..=2099,
            1u8..=12,
            1u8..=31,
            0u8..24,
            0u8..60,
            0u8..60,
            0u8..10,
            offset_strategy(),
        )
            .prop_map(|(y, mo, d, h, mi, s, t, off)| {
                let d = d.min(days_in_month(i64::from(y), mo));
                AbsoluteTime::new(y, mo, d, h, mi, s, t, off).unwrap()
            })
    }

    fn relative_strategy() -> impl Strategy<Value = RelativeTime> {
        (0u8..100, 0u8..100, 0u8..100, 0u8..100, 0u8..100, 0u8..100)
            .prop_map(|(y, mo, d, h, mi, s)| RelativeTime::new(y, mo, d, h, mi, s).unwrap())
    }

    proptest! {
        #[test]
        fn absolute_round_trips(a in absolute_strategy()) {
            let t = SmppTime::Absolute(a);
            prop_assert_eq!(SmppTime::parse(&t.to_bytes()), Ok(Some(t)));
            prop_assert_eq!(t.to_string().parse::<SmppTime>(), Ok(t));
        }

        #[test]
        fn relative_round_trips(r in relative_strategy()) {
            let t = SmppTime::Relative(r);
            prop_assert_eq!(SmppTime::parse(&t.to_bytes()), Ok(Some(t)));
        }

        #[test]
        fn strings_that_parse_format_back_identically(s in "[0-9]{12}[0-9]{3}[-+R]") {
            if let Ok(Some(t)) = SmppTime::parse(s.as_bytes()) {
                prop_assert_eq!(t.to_string(), s);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..20)) {
            let _ = SmppTime::parse(&bytes);
        }

        #[test]
        fn unix_conversion_round_trips(a in absolute_strategy()) {
            let whole = AbsoluteTime::new(
                a.year(), a.month(), a.day(), a.hour(), a.minute(), a.second(), 0, a.offset(),
            ).unwrap();
            prop_assert_eq!(
                AbsoluteTime::from_unix_with_offset(whole.to_unix_seconds(), whole.offset()),
                Ok(whole)
            );
            // The UTC rendering designates the same instant.
            let utc = AbsoluteTime::from_unix_utc(whole.to_unix_seconds());
            if let Ok(utc) = utc {
                prop_assert_eq!(utc.to_unix_seconds(), whole.to_unix_seconds());
                prop_assert_eq!(utc.offset(), UtcOffset::UTC);
            }
        }

        #[test]
        fn duration_round_trips(secs in 0u64..100 * 86_400) {
            let r = RelativeTime::from_duration(Duration::from_secs(secs)).unwrap();
            prop_assert_eq!(r.fixed_duration(), Some(Duration::from_secs(secs)));
            prop_assert_eq!(r.add_to_unix(1_795_687_200), Ok(1_795_687_200 + secs as i64));
        }

        #[test]
        fn adding_months_keeps_time_of_day(base in 946_684_800i64..4_102_444_800, r in relative_strategy()) {
            let end = r.add_to_unix(base).unwrap();
            prop_assert!(end >= base);
            let fixed = i64::from(r.days()) * 86_400 + i64::from(r.hours()) * 3600
                + i64::from(r.minutes()) * 60 + i64::from(r.seconds());
            // After removing the fixed part, only whole days were added and the time of day is kept.
            prop_assert_eq!((end - fixed - base).rem_euclid(86_400), 0);
        }
    }
}
