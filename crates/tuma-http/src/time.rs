//! RFC 3339 timestamps both ways, in Unix milliseconds.
//!
//! Written here rather than taken from `humantime`, whose parser only accepts UTC (`Z`):
//! clients send local offsets (`2026-11-26T15:00:00+03:00`), and the API must take them.

use std::fmt;

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not of the form `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    #[error("expected an RFC 3339 timestamp such as 2026-11-26T15:00:00+03:00 ({0})")]
    Syntax(&'static str),
    /// A field out of its range (month 13, 31 February, minute 61...).
    #[error("{0} is out of range")]
    Range(&'static str),
    /// Before 1970-01-01T00:00:00Z.
    #[error("timestamps before 1970 are not accepted")]
    BeforeEpoch,
}

/// Parses an RFC 3339 date-time (`T`, `t` or a space between date and time; `Z`, `z` or a
/// numeric offset; any number of fraction digits, kept to the millisecond) into Unix ms.
/// Leap seconds (`:60`) are refused: no clock of ours would ever produce one.
pub fn parse_rfc3339(input: &str) -> Result<u64, TimeError> {
    let b = input.as_bytes();
    if b.len() < 20 {
        return Err(TimeError::Syntax("too short"));
    }
    let year = digits(b, 0, 4, "year")?;
    expect(b, 4, b'-', "'-' after the year")?;
    let month = digits(b, 5, 2, "month")?;
    expect(b, 7, b'-', "'-' after the month")?;
    let day = digits(b, 8, 2, "day")?;
    if !matches!(b[10], b'T' | b't' | b' ') {
        return Err(TimeError::Syntax("'T' between date and time"));
    }
    let hour = digits(b, 11, 2, "hour")?;
    expect(b, 13, b':', "':' after the hour")?;
    let minute = digits(b, 14, 2, "minute")?;
    expect(b, 16, b':', "':' after the minutes")?;
    let second = digits(b, 17, 2, "second")?;

    let mut pos = 19;
    let mut millis = 0u64;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            // Only the first three digits count; the rest is below our resolution.
            if pos - start < 3 {
                millis = millis * 10 + u64::from(b[pos] - b'0');
            }
            pos += 1;
        }
        if pos == start {
            return Err(TimeError::Syntax("digits after '.'"));
        }
        for _ in (pos - start)..3 {
            millis *= 10;
        }
    }
    let offset_minutes: i64 = match b.get(pos) {
        Some(b'Z' | b'z') if pos + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if pos + 6 == b.len() => {
            let oh = digits(b, pos + 1, 2, "offset hours")?;
            expect(b, pos + 3, b':', "':' in the offset")?;
            let om = digits(b, pos + 4, 2, "offset minutes")?;
            if oh > 23 {
                return Err(TimeError::Range("offset hours"));
            }
            if om > 59 {
                return Err(TimeError::Range("offset minutes"));
            }
            let total = (oh * 60 + om) as i64;
            if sign == b'+' {
                total
            } else {
                -total
            }
        }
        _ => return Err(TimeError::Syntax("a 'Z' or '+HH:MM' offset at the end")),
    };

    if !(1..=12).contains(&month) {
        return Err(TimeError::Range("month"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(TimeError::Range("day"));
    }
    if hour > 23 {
        return Err(TimeError::Range("hour"));
    }
    if minute > 59 {
        return Err(TimeError::Range("minute"));
    }
    if second > 59 {
        return Err(TimeError::Range("second"));
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)
        - offset_minutes * 60;
    if secs < 0 {
        return Err(TimeError::BeforeEpoch);
    }
    Ok(secs as u64 * 1000 + millis)
}

/// Unix milliseconds as RFC 3339 in UTC with milliseconds: `2026-11-26T12:48:46.123Z`.
pub fn format_rfc3339(ms: u64) -> String {
    Rfc3339(ms).to_string()
}

/// `Display` form of [`format_rfc3339`], for writing without an intermediate `String`.
#[derive(Debug, Clone, Copy)]
pub struct Rfc3339(pub u64);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        let secs = (ms / 1000) as i64;
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
            ms % 1000
        )
    }
}

impl serde::Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn digits(b: &[u8], at: usize, n: usize, what: &'static str) -> Result<u32, TimeError> {
    let slice = b.get(at..at + n).ok_or(TimeError::Syntax(what))?;
    let mut v = 0u32;
    for &c in slice {
        if !c.is_ascii_digit() {
            return Err(TimeError::Syntax(what));
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Ok(v)
}

fn expect(b: &[u8], at: usize, c: u8, what: &'static str) -> Result<(), TimeError> {
    if b.get(at) == Some(&c) {
        Ok(())
    } else {
        Err(TimeError::Syntax(what))
    }
}

fn is_leap(y: u32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        // 2026-11-26T12:00:00Z = 1_795_694_400 s (checked with `date -u -d ... +%s`).
        assert_eq!(parse_rfc3339("2026-11-26T12:00:00Z"), Ok(1_795_694_400_000));
        assert_eq!(
            parse_rfc3339("2026-11-26T15:00:00+03:00"),
            Ok(1_795_694_400_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-26T06:30:00-05:30"),
            Ok(1_795_694_400_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-26t12:00:00.5z"),
            Ok(1_795_694_400_500)
        );
        assert_eq!(
            parse_rfc3339("2026-11-26 12:00:00.123456789Z"),
            Ok(1_795_694_400_123)
        );
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
    }

    #[test]
    fn refuses_malformed_and_out_of_range() {
        for bad in [
            "",
            "2026-11-26",
            "2026-11-26T12:00:00",
            "2026-11-26T12:00Z",
            "2026/11/26T12:00:00Z",
            "2026-11-26T12:00:00.Z",
            "2026-11-26T12:00:00+0300",
            "2026-11-26T12:00:00+03:00 ",
            "2026-11-26T12:00:00ZZ",
            "2026-1-26T12:00:00Z",
        ] {
            assert!(
                matches!(parse_rfc3339(bad), Err(TimeError::Syntax(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_rfc3339("2026-13-01T00:00:00Z"),
            Err(TimeError::Range("month"))
        );
        assert_eq!(
            parse_rfc3339("2025-02-29T00:00:00Z"),
            Err(TimeError::Range("day"))
        );
        assert_eq!(
            parse_rfc3339("2026-11-26T24:00:00Z"),
            Err(TimeError::Range("hour"))
        );
        assert_eq!(
            parse_rfc3339("2026-11-26T23:59:60Z"),
            Err(TimeError::Range("second"))
        );
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:00+01:00"),
            Err(TimeError::BeforeEpoch)
        );
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339(1_795_694_400_123),
            "2026-11-26T12:00:00.123Z"
        );
        assert_eq!(
            format_rfc3339(1_709_164_800_000),
            "2024-02-29T00:00:00.000Z"
        );
        // Every day over several leap cycles, at an odd time of day.
        let mut ms = 0u64;
        while ms < 4_200_000_000_000 {
            assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Ok(ms));
            ms += 86_400_000 + 3_723_456;
        }
    }
}
