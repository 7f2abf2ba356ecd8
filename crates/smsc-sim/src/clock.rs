//! Time helpers: the engine counts Unix milliseconds handed in by the caller; these turn them
//! into the civil forms it writes (receipt dates, RFC 3339, SMPP absolute times).

use smpp::receipt::{DateForm, ReceiptDate};
use smpp::time::AbsoluteTime;

/// Civil date and time (UTC unless an offset was added first) of a Unix time in seconds:
/// `(year, month, day, hour, minute, second)`. Howard Hinnant's `civil_from_days`.
pub(crate) fn civil(unix_s: i64) -> (i64, u8, u8, u8, u8, u8) {
    let days = unix_s.div_euclid(86_400);
    let secs = unix_s.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Every part is range-bounded by the arithmetic above (day 1..=31, month 1..=12,
    // secs 0..86_400), so the narrowing casts are exact.
    (
        year,
        month as u8,
        day as u8,
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
    )
}

/// RFC 3339 in UTC with milliseconds: `2026-11-26T10:43:13.123Z`.
pub fn rfc3339(unix_ms: u64) -> String {
    let s = i64::try_from(unix_ms / 1000).unwrap_or(i64::MAX / 2);
    let (y, mo, d, h, mi, se) = civil(s);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}.{:03}Z",
        unix_ms % 1000
    )
}

/// A receipt date (`YYMMDDhhmm`) in the MC's local time; `None` outside 2000-2099.
pub(crate) fn receipt_date(unix_ms: u64, utc_offset_minutes: i32) -> Option<ReceiptDate> {
    let s = i64::try_from(unix_ms / 1000).ok()? + i64::from(utc_offset_minutes) * 60;
    let (y, mo, d, h, mi, _) = civil(s);
    ReceiptDate::new(DateForm::Minutes, u16::try_from(y).ok()?, mo, d, h, mi, 0).ok()
}

/// An SMPP absolute time (UTC, `00+`) for `final_date`; `None` outside 2000-2099.
pub(crate) fn smpp_time(unix_ms: u64) -> Option<AbsoluteTime> {
    AbsoluteTime::from_unix_utc(i64::try_from(unix_ms / 1000).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        // 2024-02-29T23:59:59Z (leap day).
        assert_eq!(civil(1_709_251_199), (2024, 2, 29, 23, 59, 59));
        assert_eq!(rfc3339(1_709_251_199_007), "2024-02-29T23:59:59.007Z");
        let d = receipt_date(1_709_251_199_000, 180).unwrap();
        assert_eq!(d.to_string(), "2403010259");
        assert_eq!(
            smpp_time(1_709_251_199_000).unwrap().to_string(),
            "240229235959000+"
        );
    }
}
