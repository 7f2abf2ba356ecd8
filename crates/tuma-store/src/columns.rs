//! Stored column values to domain types and back, for the SQL backends: every backend keeps
//! numbers, ids and status names the same way, so the conversions (and their "corrupt row"
//! errors naming the column) live here once.

use tuma_domain::{ConnectorId, MessageId, MessageStatus, Msisdn, SegmentStatus};

use crate::records::{segment_status_from_name, WebhookAttemptResult, WebhookEvent};
use crate::{ErrorInfo, StoreError};

/// SQL integers are signed 64-bit; times and counts beyond `i64::MAX` saturate (only
/// "infinitely far" cutoffs get there, and saturation keeps their comparisons right).
pub fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored integer that must not be negative.
pub fn uint(v: i64, what: &'static str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt {
        what,
        detail: format!("negative value {v}"),
    })
}

/// A message id stored as its 16 big-endian bytes (they sort by creation time).
pub fn id_from(bytes: &[u8], what: &'static str) -> Result<MessageId, StoreError> {
    let bytes: [u8; 16] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        what,
        detail: format!("{} bytes, expected 16", bytes.len()),
    })?;
    Ok(MessageId::from_u128(u128::from_be_bytes(bytes)))
}

/// A number stored as the integer of its E.164 digits.
pub fn msisdn_from(v: i64, what: &'static str) -> Result<Msisdn, StoreError> {
    let value = u64::try_from(v).map_err(|_| StoreError::Corrupt {
        what,
        detail: format!("negative number {v}"),
    })?;
    Msisdn::from_stored(value).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

/// A message status stored by name.
pub fn message_status(name: &str, what: &'static str) -> Result<MessageStatus, StoreError> {
    MessageStatus::from_name(name).ok_or_else(|| StoreError::Corrupt {
        what,
        detail: format!("unknown status {name:?}"),
    })
}

/// A segment status stored by name (`segments.status`).
pub fn segment_status(name: &str) -> Result<SegmentStatus, StoreError> {
    segment_status_from_name(name).ok_or_else(|| StoreError::Corrupt {
        what: "segments.status",
        detail: format!("unknown status {name:?}"),
    })
}

/// A connector stored by name.
pub fn connector_from(name: &str, what: &'static str) -> Result<ConnectorId, StoreError> {
    ConnectorId::parse(name).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

/// The error of a message: both columns or none.
pub fn error_info(code: Option<String>, message: Option<String>) -> Option<ErrorInfo> {
    match (code, message) {
        (Some(code), Some(message)) => Some(ErrorInfo { code, message }),
        _ => None,
    }
}

/// The webhook row's new `state`, `next_at_ms` (None: unchanged) and `last_error` (None:
/// unchanged) after an attempt.
pub fn webhook_attempt_columns(
    result: &WebhookAttemptResult,
) -> (&'static str, Option<i64>, Option<&str>) {
    match result {
        WebhookAttemptResult::Delivered => ("delivered", None, None),
        WebhookAttemptResult::Retry { next_at_ms, error } => {
            ("pending", Some(int(*next_at_ms)), Some(error.as_str()))
        }
        WebhookAttemptResult::GiveUp { error } => ("failed", None, Some(error.as_str())),
    }
}

/// The stored name of a webhook's event: the status's name, or `inbound` for a reply (no
/// status has that name).
pub fn webhook_event_name(event: WebhookEvent) -> &'static str {
    match event {
        WebhookEvent::Status(status) => status.as_str(),
        WebhookEvent::Inbound => "inbound",
    }
}

/// A webhook's event stored by [`webhook_event_name`].
pub fn webhook_event(name: &str, what: &'static str) -> Result<WebhookEvent, StoreError> {
    if name == "inbound" {
        return Ok(WebhookEvent::Inbound);
    }
    message_status(name, what).map(WebhookEvent::Status)
}
