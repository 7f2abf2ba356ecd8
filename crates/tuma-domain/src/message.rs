//! A message request, parsed: [`NewMessage::parse`] turns the raw fields of an API call or a
//! CSV row into domain types, or returns *every* field error at once (the API answers all of
//! them in one response, not one per round trip).
//!
//! The text is measured with [`sms_text::estimate`], the same planner [`sms_text::encode`]
//! runs (so the `encoding` / `segments` the API answers are what will be sent). The bytes
//! themselves are made at dispatch time, because the concatenation reference is chosen per
//! connector then.

use std::fmt;
use std::time::Duration;

use sms_text::Encoding;

use crate::msisdn::{Msisdn, MsisdnError, Region};
use crate::sender::{SenderId, SenderIdError};
use crate::status::MessageStatus;
use crate::validity::{Validity, ValidityError};

/// How far in the past `send_at` may be and still mean "now": clocks of API clients differ.
pub const SEND_AT_GRACE: Duration = Duration::from_secs(60);

/// The fields as received (strings untouched; `send_at` already read from its RFC 3339 form
/// by the HTTP layer, as Unix milliseconds).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawMessage<'a> {
    /// Recipient, any accepted notation.
    pub to: &'a str,
    /// Sender id; `None` uses the account's default.
    pub from: Option<&'a str>,
    /// The text.
    pub text: &'a str,
    /// Validity such as `"2h"`; `None` uses the default.
    pub validity: Option<&'a str>,
    /// When to send, Unix milliseconds; `None` for now.
    pub send_at_ms: Option<u64>,
}

/// Account and gateway settings that fill in and bound a request.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Region for numbers written without a country code.
    pub region: Region,
    /// Sender used when the request names none; `None` makes `from` required.
    pub sender: Option<SenderId>,
    /// Validity when the request gives none.
    pub validity: Validity,
    /// Most SMS segments one message may use.
    pub max_segments: u8,
    /// How text is encoded (transliteration, concatenation method...).
    pub text_options: sms_text::Options,
    /// How far ahead `send_at` may be.
    pub max_schedule_ahead: Duration,
}

impl Defaults {
    /// Defaults for `region`: no default sender, validity 1 day, at most 10 segments, default
    /// text options, scheduling up to 365 days ahead.
    pub fn new(region: Region) -> Self {
        Self {
            region,
            sender: None,
            validity: Validity::ONE_DAY,
            max_segments: 10,
            text_options: sms_text::Options::default(),
            max_schedule_ahead: Duration::from_secs(365 * 86_400),
        }
    }
}

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Recipient.
    pub to: Msisdn,
    /// Sender.
    pub from: SenderId,
    /// The text as given (encoding and transliteration happen at dispatch, with the same
    /// options).
    pub text: String,
    /// The encoding the text will be sent in.
    pub encoding: Encoding,
    /// SMS segments it will use (1..=`max_segments`).
    pub segments: u8,
    /// Validity period.
    pub validity: Validity,
    /// When to send (Unix ms); `None` for now.
    pub send_at_ms: Option<u64>,
}

/// The request field an error is about, named as in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `to`.
    To,
    /// `from`.
    From,
    /// `text`.
    Text,
    /// `validity`.
    Validity,
    /// `send_at`.
    SendAt,
}

impl Field {
    /// The API field name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::To => "to",
            Self::From => "from",
            Self::Text => "text",
            Self::Validity => "validity",
            Self::SendAt => "send_at",
        }
    }
}

/// What was wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldErrorKind {
    /// `to` is not a usable number.
    #[error(transparent)]
    Msisdn(MsisdnError),
    /// `from` is not a usable sender id.
    #[error(transparent)]
    Sender(SenderIdError),
    /// No `from` and no default sender.
    #[error("no sender id given and the account has no default")]
    MissingSender,
    /// Empty or whitespace only.
    #[error("text is empty")]
    EmptyText,
    /// More segments than allowed.
    #[error("text needs {segments} SMS segments ({encoding}), at most {max} are allowed")]
    TooManySegments {
        /// Segments needed.
        segments: usize,
        /// The limit.
        max: u8,
        /// The encoding chosen (UCS-2 texts fit fewer characters per segment).
        encoding: EncodingName,
    },
    /// `validity` refused.
    #[error(transparent)]
    Validity(ValidityError),
    /// `send_at` more than [`SEND_AT_GRACE`] in the past.
    #[error("send_at is {seconds_ago} s in the past")]
    SendAtInPast {
        /// How far in the past, seconds.
        seconds_ago: u64,
    },
    /// `send_at` beyond the scheduling horizon.
    #[error("send_at is more than {max_days} days ahead")]
    SendAtTooFar {
        /// The horizon, days.
        max_days: u64,
    },
}

/// `gsm7` / `ucs2`: the API's names of [`Encoding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodingName(pub Encoding);

impl fmt::Display for EncodingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(encoding_name(self.0))
    }
}

/// `"gsm7"` or `"ucs2"`, as the API reports an encoding.
pub const fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Gsm7 => "gsm7",
        Encoding::Ucs2 => "ucs2",
    }
}

/// One field's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}", field.as_str())]
pub struct FieldError {
    /// The field.
    pub field: Field,
    /// What was wrong.
    pub kind: FieldErrorKind,
}

impl FieldError {
    /// The stable API error code.
    pub const fn code(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Msisdn(_) => "invalid_msisdn",
            FieldErrorKind::Sender(_) => "invalid_sender_id",
            FieldErrorKind::MissingSender => "missing_sender_id",
            FieldErrorKind::EmptyText => "empty_text",
            // The API answers this one with 413 (the others with 422).
            FieldErrorKind::TooManySegments { .. } => "text_too_long",
            FieldErrorKind::Validity(_) => "invalid_validity",
            FieldErrorKind::SendAtInPast { .. } => "send_at_in_past",
            FieldErrorKind::SendAtTooFar { .. } => "send_at_too_far",
        }
    }
}

/// Every field error of one request, in field order; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageErrors(pub Vec<FieldError>);

impl fmt::Display for MessageErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MessageErrors {}

impl NewMessage {
    /// Checks every field of `raw` against `defaults` at `now_ms` (Unix milliseconds).
    pub fn parse(
        raw: &RawMessage<'_>,
        defaults: &Defaults,
        now_ms: u64,
    ) -> Result<Self, MessageErrors> {
        let mut errors = Vec::new();
        let mut fail = |field, kind| errors.push(FieldError { field, kind });

        let to = Msisdn::parse(raw.to, defaults.region)
            .map_err(|e| fail(Field::To, FieldErrorKind::Msisdn(e)))
            .ok();

        let from = match raw.from {
            Some(s) => SenderId::parse(s)
                .map_err(|e| fail(Field::From, FieldErrorKind::Sender(e)))
                .ok(),
            None => {
                if defaults.sender.is_none() {
                    fail(Field::From, FieldErrorKind::MissingSender);
                }
                defaults.sender.clone()
            }
        };

        let text = if raw.text.trim().is_empty() {
            fail(Field::Text, FieldErrorKind::EmptyText);
            None
        } else {
            let estimate = sms_text::estimate(raw.text, &defaults.text_options);
            match u8::try_from(estimate.segments) {
                Ok(n) if n <= defaults.max_segments => Some((estimate.encoding, n)),
                _ => {
                    fail(
                        Field::Text,
                        FieldErrorKind::TooManySegments {
                            segments: estimate.segments,
                            max: defaults.max_segments,
                            encoding: EncodingName(estimate.encoding),
                        },
                    );
                    None
                }
            }
        };

        let validity = match raw.validity {
            Some(s) => Validity::parse(s)
                .map_err(|e| fail(Field::Validity, FieldErrorKind::Validity(e)))
                .ok(),
            None => Some(defaults.validity),
        };

        let send_at_ms = match raw.send_at_ms {
            None => Some(None),
            Some(at) => {
                let grace = SEND_AT_GRACE.as_millis() as u64;
                let horizon =
                    u64::try_from(defaults.max_schedule_ahead.as_millis()).unwrap_or(u64::MAX);
                if at.saturating_add(grace) < now_ms {
                    fail(
                        Field::SendAt,
                        FieldErrorKind::SendAtInPast {
                            // `at + grace < now_ms`, so `at < now_ms`: no underflow.
                            seconds_ago: now_ms.saturating_sub(at) / 1000,
                        },
                    );
                    None
                } else if at > now_ms.saturating_add(horizon) {
                    fail(
                        Field::SendAt,
                        FieldErrorKind::SendAtTooFar {
                            max_days: defaults.max_schedule_ahead.as_secs() / 86_400,
                        },
                    );
                    None
                } else {
                    // A time within the grace period, or now, means "send now".
                    Some((at > now_ms).then_some(at))
                }
            }
        };

        match (to, from, text, validity, send_at_ms) {
            (
                Some(to),
                Some(from),
                Some((encoding, segments)),
                Some(validity),
                Some(send_at_ms),
            ) if errors.is_empty() => Ok(Self {
                to,
                from,
                text: raw.text.to_owned(),
                encoding,
                segments,
                validity,
                send_at_ms,
            }),
            _ => Err(MessageErrors(errors)),
        }
    }

    /// `scheduled` when `send_at` is set (in the future at parse time), else `accepted`.
    pub const fn initial_status(&self) -> MessageStatus {
        if self.send_at_ms.is_some() {
            MessageStatus::Scheduled
        } else {
            MessageStatus::Accepted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: u64 = 1_790_000_000_000;

    fn defaults() -> Defaults {
        Defaults::new(Region::parse("KE").unwrap())
    }

    fn raw<'a>(to: &'a str, from: Option<&'a str>, text: &'a str) -> RawMessage<'a> {
        RawMessage {
            to,
            from,
            text,
            ..RawMessage::default()
        }
    }

    #[test]
    fn a_good_request() {
        let m = NewMessage::parse(
            &raw("0712 345 678", Some("MyShop"), "Hello"),
            &defaults(),
            NOW,
        )
        .unwrap();
        assert_eq!(m.to.as_e164(), "+254712345678");
        assert_eq!(m.from, SenderId::Alphanumeric("MyShop".into()));
        assert_eq!((m.encoding, m.segments), (Encoding::Gsm7, 1));
        assert_eq!(m.validity.duration(), Duration::from_secs(86_400));
        assert_eq!(m.initial_status(), MessageStatus::Accepted);
    }

    #[test]
    fn encoding_and_segments() {
        let d = defaults();
        let long = "a".repeat(161);
        let m = NewMessage::parse(&raw("+254712345678", Some("X1"), &long), &d, NOW).unwrap();
        assert_eq!((m.encoding, m.segments), (Encoding::Gsm7, 2));
        let emoji = "Hi 😀".repeat(20); // 100 UTF-16 units: UCS-2, 2 parts of 67
        let m = NewMessage::parse(&raw("+254712345678", Some("X1"), &emoji), &d, NOW).unwrap();
        assert_eq!((encoding_name(m.encoding), m.segments), ("ucs2", 2));
    }

    #[test]
    fn every_field_error_at_once() {
        let r = RawMessage {
            to: "07x",
            from: Some("ThisIsWayTooLong"),
            text: "  ",
            validity: Some("2w"),
            send_at_ms: Some(NOW - 120_000),
        };
        let errs = NewMessage::parse(&r, &defaults(), NOW).unwrap_err();
        let got: Vec<(&str, &str)> = errs
            .0
            .iter()
            .map(|e| (e.field.as_str(), e.code()))
            .collect();
        assert_eq!(
            got,
            [
                ("to", "invalid_msisdn"),
                ("from", "invalid_sender_id"),
                ("text", "empty_text"),
                ("validity", "invalid_validity"),
                ("send_at", "send_at_in_past"),
            ]
        );
        assert!(
            errs.to_string()
                .starts_with("to: character 'x' at position 2"),
            "{errs}"
        );
        assert_eq!(
            errs.0[4].to_string(),
            "send_at: send_at is 120 s in the past"
        );
    }

    #[test]
    fn too_long_and_missing_sender() {
        let mut d = defaults();
        d.max_segments = 2;
        let text = "€".repeat(100); // 200 septets: 2 parts
        assert!(NewMessage::parse(&raw("+254712345678", Some("A1"), &text), &d, NOW).is_ok());
        let text = "ж".repeat(135); // UCS-2: 135 units, 3 parts of 67
        let errs = NewMessage::parse(&raw("+254712345678", None, &text), &d, NOW).unwrap_err();
        assert_eq!(errs.0.len(), 2);
        assert_eq!(errs.0[0].code(), "missing_sender_id");
        assert_eq!(
            errs.0[1].kind,
            FieldErrorKind::TooManySegments {
                segments: 3,
                max: 2,
                encoding: EncodingName(Encoding::Ucs2)
            }
        );
        assert_eq!(
            errs.0[1].to_string(),
            "text: text needs 3 SMS segments (ucs2), at most 2 are allowed"
        );
        // A default sender fills in.
        d.sender = Some(SenderId::parse("Default").unwrap());
        let m = NewMessage::parse(&raw("+254712345678", None, "hi"), &d, NOW).unwrap();
        assert_eq!(m.from.to_string(), "Default");
    }

    #[test]
    fn send_at_rules() {
        let d = defaults();
        let at = |ms| RawMessage {
            send_at_ms: Some(ms),
            ..raw("+254712345678", Some("A1"), "hi")
        };
        let m = NewMessage::parse(&at(NOW + 3_600_000), &d, NOW).unwrap();
        assert_eq!(
            (m.send_at_ms, m.initial_status()),
            (Some(NOW + 3_600_000), MessageStatus::Scheduled)
        );
        // Within the grace period: now.
        let m = NewMessage::parse(&at(NOW - 30_000), &d, NOW).unwrap();
        assert_eq!(m.send_at_ms, None);
        let errs = NewMessage::parse(&at(NOW + 400 * 86_400_000), &d, NOW).unwrap_err();
        assert_eq!(
            errs.0[0].kind,
            FieldErrorKind::SendAtTooFar { max_days: 365 }
        );
    }

    proptest! {
        /// Whatever the input, parse either succeeds or names at least one field, and the
        /// segment count it reports never exceeds the limit.
        #[test]
        fn total_and_bounded(to in "\\PC{0,16}", from in "\\PC{0,14}", text in "\\PC{0,400}", send in any::<Option<u64>>()) {
            let r = RawMessage { to: &to, from: Some(&from), text: &text, validity: None, send_at_ms: send };
            match NewMessage::parse(&r, &defaults(), NOW) {
                Ok(m) => prop_assert!(m.segments >= 1 && m.segments <= 10),
                Err(e) => prop_assert!(!e.0.is_empty()),
            }
        }
    }
}
