//! Quiet hours: send only inside a window of the recipient's local time (`08:00-20:00`).
//!
//! # Time zones
//! The recipient's UTC offset comes from the number's country calling code through a fixed
//! table ([`country_offset`]), or from an override (a campaign setting, or a zone the caller
//! knows better). The table holds *standard* time and ignores daylight saving time: exact for
//! almost all of Africa (no DST; Egypt, which reinstated DST in 2023, and Morocco, which moves
//! back one hour during Ramadan, are the exceptions), off by one hour in summer in Europe,
//! North America and parts of the Middle East and Oceania. Countries spanning several zones
//! get the zone of their capital or largest population: +1 (NANP: the US, Canada and the
//! Caribbean) is US Eastern, +7 is Moscow, +55 Brasília, +61 Sydney, +62 Jakarta, +243
//! Kinshasa. A calling code not in the table is read as UTC. The override exists for all of
//! these.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tuma_domain::Msisdn;

const DAY: i64 = 86_400;

/// A fixed offset from UTC, in minutes (-12:00 to +14:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtcOffset(i16);

impl UtcOffset {
    /// UTC itself.
    pub const UTC: Self = Self(0);

    /// An offset of `minutes` east of UTC, if within -12:00..=+14:00.
    pub const fn from_minutes(minutes: i16) -> Option<Self> {
        if minutes >= -12 * 60 && minutes <= 14 * 60 {
            Some(Self(minutes))
        } else {
            None
        }
    }

    /// Minutes east of UTC.
    pub const fn minutes(self) -> i16 {
        self.0
    }
}

impl fmt::Display for UtcOffset {
    /// `+03:00`, `-05:00`, `+05:45`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let m = self.0.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
    }
}

impl FromStr for UtcOffset {
    type Err = WindowError;

    /// `+03:00`, `-0530`, `+3`, `UTC`, `Z`.
    fn from_str(s: &str) -> Result<Self, WindowError> {
        let bad = || WindowError::BadOffset(s.to_owned());
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") {
            return Ok(Self::UTC);
        }
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1i16, t.get(1..).ok_or_else(bad)?),
            Some(b'-') => (-1i16, t.get(1..).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        let (h, m) = match rest.split_once(':') {
            Some((h, m)) => (h, m),
            None if rest.len() == 4 => rest.split_at(2),
            None => (rest, "0"),
        };
        let digits = |x: &str| {
            (!x.is_empty() && x.len() <= 2 && x.bytes().all(|b| b.is_ascii_digit()))
                .then(|| x.parse::<i16>().ok())
                .flatten()
        };
        let (h, m) = (digits(h).ok_or_else(bad)?, digits(m).ok_or_else(bad)?);
        if m >= 60 {
            return Err(bad());
        }
        Self::from_minutes(sign * (h * 60 + m)).ok_or_else(bad)
    }
}

/// A time of day, to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// `hour` 0-23, `minute` 0-59.
    pub const fn new(hour: u8, minute: u8) -> Option<Self> {
        if hour < 24 && minute < 60 {
            Some(Self(hour as u16 * 60 + minute as u16))
        } else {
            None
        }
    }

    /// Minutes since midnight.
    pub const fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl FromStr for TimeOfDay {
    type Err = WindowError;

    /// `08:00`, `8:30`, `20:00`; `24:00` is not a time of day (use `00:00`).
    fn from_str(s: &str) -> Result<Self, WindowError> {
        let bad = || WindowError::BadTime(s.to_owned());
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let ok = |x: &str, max: usize| {
            !x.is_empty() && x.len() <= max && x.bytes().all(|b| b.is_ascii_digit())
        };
        if !(ok(h, 2) && m.len() == 2 && ok(m, 2)) {
            return Err(bad());
        }
        let (h, m) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        Self::new(h, m).ok_or_else(bad)
    }
}

/// A bad window, time or offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WindowError {
    /// Not `HH:MM`.
    #[error("{0:?} is not a time of day: expected HH:MM, 00:00 to 23:59")]
    BadTime(String),
    /// Not `START-END`.
    #[error("{0:?} is not a sending window: expected HH:MM-HH:MM, such as 08:00-20:00")]
    BadWindow(String),
    /// Not `+HH:MM`.
    #[error("{0:?} is not a UTC offset: expected +HH:MM or -HH:MM, -12:00 to +14:00")]
    BadOffset(String),
}

/// When messages may be sent, in the recipient's local time: from `start` (included) to
/// `end` (excluded). A window whose end is before its start wraps midnight (`22:00-06:00`);
/// one whose start equals its end is always open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendWindow {
    /// First minute allowed.
    pub start: TimeOfDay,
    /// First minute not allowed.
    pub end: TimeOfDay,
}

impl FromStr for SendWindow {
    type Err = WindowError;

    /// `08:00-20:00`.
    fn from_str(s: &str) -> Result<Self, WindowError> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| WindowError::BadWindow(s.to_owned()))?;
        Ok(Self {
            start: a.parse()?,
            end: b.parse()?,
        })
    }
}

impl fmt::Display for SendWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl SendWindow {
    /// Whether `time` (local) is inside the window.
    pub fn contains(&self, time: TimeOfDay) -> bool {
        let (s, e, t) = (self.start.0, self.end.0, time.0);
        match s.cmp(&e) {
            std::cmp::Ordering::Equal => true,
            std::cmp::Ordering::Less => s <= t && t < e,
            std::cmp::Ordering::Greater => t >= s || t < e,
        }
    }

    /// The recipient's offset: `tz_override`, else the table, else UTC.
    pub fn offset_for(msisdn: &Msisdn, tz_override: Option<UtcOffset>) -> UtcOffset {
        tz_override
            .or_else(|| country_offset(msisdn.country_code()))
            .unwrap_or(UtcOffset::UTC)
    }

    /// The earliest moment at or after `now` when a message to `msisdn` may go: `now` itself
    /// inside the window, else the next start of the window in the recipient's time.
    pub fn next_allowed(
        &self,
        now: SystemTime,
        msisdn: &Msisdn,
        tz_override: Option<UtcOffset>,
    ) -> SystemTime {
        self.next_allowed_at_offset(now, Self::offset_for(msisdn, tz_override))
    }

    /// [`SendWindow::next_allowed`] for a known offset.
    pub fn next_allowed_at_offset(&self, now: SystemTime, offset: UtcOffset) -> SystemTime {
        let secs = unix_seconds(now);
        let local = secs + i64::from(offset.0) * 60;
        let second_of_day = local.rem_euclid(DAY);
        // In 0..1440: `rem_euclid` is never negative and below a day.
        let minute = u16::try_from(second_of_day / 60).unwrap_or(0);
        if self.contains(TimeOfDay(minute)) {
            return now;
        }
        let wait = (i64::from(self.start.0) * 60 - second_of_day).rem_euclid(DAY);
        // Out of `SystemTime`'s range only for instants billions of years away.
        from_unix_seconds(secs + wait).unwrap_or(now)
    }
}

/// Whole seconds since the Unix epoch (negative before it), rounded down.
fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2);
            -whole - i64::from(d.subsec_nanos() > 0)
        }
    }
}

fn from_unix_seconds(s: i64) -> Option<SystemTime> {
    let magnitude = Duration::from_secs(s.unsigned_abs());
    if s >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    }
}

/// Standard-time UTC offsets by country calling code, in minutes. Sorted by code.
const OFFSETS: &[(u16, i16)] = &[
    (1, -300),  // NANP: US Eastern
    (7, 180),   // Russia: Moscow; Kazakhstan
    (20, 120),  // Egypt (DST since 2023 not applied)
    (27, 120),  // South Africa
    (30, 120),  // Greece
    (31, 60),   // Netherlands
    (32, 60),   // Belgium
    (33, 60),   // France
    (34, 60),   // Spain
    (36, 60),   // Hungary
    (39, 60),   // Italy
    (40, 120),  // Romania
    (41, 60),   // Switzerland
    (43, 60),   // Austria
    (44, 0),    // United Kingdom
    (45, 60),   // Denmark
    (46, 60),   // Sweden
    (47, 60),   // Norway
    (48, 60),   // Poland
    (49, 60),   // Germany
    (51, -300), // Peru
    (52, -360), // Mexico: Mexico City
    (53, -300), // Cuba
    (54, -180), // Argentina
    (55, -180), // Brazil: Brasília
    (56, -240), // Chile
    (57, -300), // Colombia
    (58, -240), // Venezuela
    (60, 480),  // Malaysia
    (61, 600),  // Australia: Sydney
    (62, 420),  // Indonesia: Jakarta
    (63, 480),  // Philippines
    (64, 720),  // New Zealand
    (65, 480),  // Singapore
    (66, 420),  // Thailand
    (81, 540),  // Japan
    (82, 540),  // South Korea
    (84, 420),  // Vietnam
    (86, 480),  // China
    (90, 180),  // Turkey
    (91, 330),  // India
    (92, 300),  // Pakistan
    (93, 270),  // Afghanistan
    (94, 330),  // Sri Lanka
    (95, 390),  // Myanmar
    (98, 210),  // Iran
    (211, 120), // South Sudan
    (212, 60),  // Morocco (UTC+0 during Ramadan)
    (213, 60),  // Algeria
    (216, 60),  // Tunisia
    (218, 120), // Libya
    (220, 0),   // Gambia
    (221, 0),   // Senegal
    (222, 0),   // Mauritania
    (223, 0),   // Mali
    (224, 0),   // Guinea
    (225, 0),   // Côte d'Ivoire
    (226, 0),   // Burkina Faso
    (227, 60),  // Niger
    (228, 0),   // Togo
    (229, 60),  // Benin
    (230, 240), // Mauritius
    (231, 0),   // Liberia
    (232, 0),   // Sierra Leone
    (233, 0),   // Ghana
    (234, 60),  // Nigeria
    (235, 60),  // Chad
    (236, 60),  // Central African Republic
    (237, 60),  // Cameroon
    (238, -60), // Cape Verde
    (239, 0),   // São Tomé and Príncipe
    (240, 60),  // Equatorial Guinea
    (241, 60),  // Gabon
    (242, 60),  // Republic of the Congo
    (243, 60),  // DR Congo: Kinshasa (the east is +2)
    (244, 60),  // Angola
    (245, 0),   // Guinea-Bissau
    (248, 240), // Seychelles
    (249, 120), // Sudan
    (250, 120), // Rwanda
    (251, 180), // Ethiopia
    (252, 180), // Somalia
    (253, 180), // Djibouti
    (254, 180), // Kenya
    (255, 180), // Tanzania
    (256, 180), // Uganda
    (257, 120), // Burundi
    (258, 120), // Mozambique
    (260, 120), // Zambia
    (261, 180), // Madagascar
    (262, 240), // Réunion (Mayotte is +3)
    (263, 120), // Zimbabwe
    (264, 120), // Namibia
    (265, 120), // Malawi
    (266, 120), // Lesotho
    (267, 120), // Botswana
    (268, 120), // Eswatini
    (269, 180), // Comoros
    (290, 0),   // Saint Helena
    (291, 180), // Eritrea
    (351, 0),   // Portugal
    (352, 60),  // Luxembourg
    (353, 0),   // Ireland
    (354, 0),   // Iceland
    (358, 120), // Finland
    (380, 120), // Ukraine
    (420, 60),  // Czechia
    (852, 480), // Hong Kong
    (880, 360), // Bangladesh
    (886, 480), // Taiwan
    (961, 120), // Lebanon
    (962, 180), // Jordan
    (965, 180), // Kuwait
    (966, 180), // Saudi Arabia
    (968, 240), // Oman
    (971, 240), // United Arab Emirates
    (972, 120), // Israel
    (973, 180), // Bahrain
    (974, 180), // Qatar
    (977, 345), // Nepal
];

/// The standard-time offset of a country calling code, if the table has it (see the module
/// documentation for what it covers and how it simplifies).
pub fn country_offset(country_code: u16) -> Option<UtcOffset> {
    OFFSETS
        .binary_search_by_key(&country_code, |&(cc, _)| cc)
        .ok()
        .and_then(|i| OFFSETS.get(i))
        .map(|&(_, minutes)| UtcOffset(minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-15 00:00:00 UTC.
    const MIDNIGHT: u64 = 1_768_435_200;

    fn at(hh: u64, mm: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(MIDNIGHT + hh * 3600 + mm * 60)
    }

    fn ke() -> Msisdn {
        Msisdn::from_e164("+254712345678").unwrap()
    }

    fn window(s: &str) -> SendWindow {
        s.parse().unwrap()
    }

    #[test]
    fn inside_before_and_after_in_local_time() {
        let w = window("08:00-20:00");
        // Kenya is UTC+3: 06:00 UTC is 09:00 local, inside.
        assert_eq!(w.next_allowed(at(6, 0), &ke(), None), at(6, 0));
        // 04:30 UTC = 07:30 local: wait until 08:00 local = 05:00 UTC.
        assert_eq!(w.next_allowed(at(4, 30), &ke(), None), at(5, 0));
        // 17:00 UTC = 20:00 local, the end is excluded: tomorrow 08:00 local.
        assert_eq!(w.next_allowed(at(17, 0), &ke(), None), at(24 + 5, 0));
        assert_eq!(w.next_allowed(at(16, 59), &ke(), None), at(16, 59));
        // Same instant, a Nigerian number (UTC+1): 17:00 UTC = 18:00 local, inside.
        let ng = Msisdn::from_e164("+2348031234567").unwrap();
        assert_eq!(w.next_allowed(at(17, 0), &ng, None), at(17, 0));
        // The override wins over the table.
        let utc_minus_5 = "-05:00".parse().unwrap();
        assert_eq!(
            w.next_allowed(at(6, 0), &ke(), Some(utc_minus_5)),
            at(13, 0)
        );
    }

    #[test]
    fn windows_that_wrap_midnight() {
        let w = window("22:00-06:00");
        let z = Some(UtcOffset::UTC);
        assert_eq!(w.next_allowed(at(23, 0), &ke(), z), at(23, 0));
        assert_eq!(w.next_allowed(at(3, 0), &ke(), z), at(3, 0));
        assert_eq!(w.next_allowed(at(6, 0), &ke(), z), at(22, 0));
        assert_eq!(w.next_allowed(at(21, 59), &ke(), z), at(22, 0));
        // Kenya: 20:00 UTC is 23:00 local, inside; 04:00 UTC is 07:00 local, until 19:00 UTC.
        assert_eq!(w.next_allowed(at(20, 0), &ke(), None), at(20, 0));
        assert_eq!(w.next_allowed(at(4, 0), &ke(), None), at(19, 0));
    }

    #[test]
    fn seconds_and_half_hour_offsets() {
        let w = window("08:00-20:00");
        let india = Msisdn::from_e164("+919812345678").unwrap();
        // 02:00 UTC = 07:30 IST: 30 minutes to wait, to 02:30 UTC exactly.
        let now = at(2, 0) + Duration::from_millis(12_345);
        assert_eq!(w.next_allowed(now, &india, None), at(2, 30));
        let np: UtcOffset = "+05:45".parse().unwrap();
        assert_eq!(w.next_allowed_at_offset(at(2, 0), np), at(2, 15));
    }

    #[test]
    fn always_open_and_before_the_epoch() {
        let w = window("00:00-00:00");
        assert_eq!(w.next_allowed(at(3, 17), &ke(), None), at(3, 17));
        let w = window("08:00-20:00");
        // 1969-12-31 23:00 UTC: 02:00 in Kenya, wait until 05:00 UTC on 1970-01-01.
        let before = UNIX_EPOCH - Duration::from_secs(3600);
        assert_eq!(
            w.next_allowed(before, &ke(), None),
            UNIX_EPOCH + Duration::from_secs(5 * 3600)
        );
    }

    #[test]
    fn parsing_and_errors() {
        assert_eq!(window("8:30-20:00").to_string(), "08:30-20:00");
        for bad in [
            "",
            "08:00",
            "08:00-24:00",
            "8-20",
            "08:0-20:00",
            "x:00-20:00",
        ] {
            assert!(bad.parse::<SendWindow>().is_err(), "{bad}");
        }
        let e = "08:00-25:00".parse::<SendWindow>().unwrap_err();
        assert_eq!(e, WindowError::BadTime("25:00".into()));
        for (s, m) in [
            ("+03:00", 180),
            ("-0530", -330),
            ("+3", 180),
            ("UTC", 0),
            ("+14:00", 840),
        ] {
            assert_eq!(s.parse::<UtcOffset>().unwrap().minutes(), m, "{s}");
        }
        for bad in ["03:00", "+15:00", "+03:60", "+", "+1:2:3"] {
            assert!(bad.parse::<UtcOffset>().is_err(), "{bad}");
        }
        assert_eq!(UtcOffset::from_minutes(-330).unwrap().to_string(), "-05:30");
    }

    #[test]
    fn table_is_sorted_and_covers_africa() {
        assert!(OFFSETS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(OFFSETS
            .iter()
            .all(|&(_, m)| UtcOffset::from_minutes(m).is_some()));
        // Every African calling code in 211-269 that is assigned to a country (+247 Ascension
        // and +246 Diego Garcia aside: not in Africa's mainland plans).
        for cc in (211..=269).filter(|c| ![214, 215, 217, 219, 246, 247, 259].contains(c)) {
            assert!(country_offset(cc).is_some(), "+{cc}");
        }
        assert_eq!(country_offset(254), UtcOffset::from_minutes(180));
        assert_eq!(country_offset(999), None);
    }
}
