//! `POST /v1/messages`, `POST /v1/messages/batch`, `GET /v1/messages/{id}`, `POST
//! /v1/estimate`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tuma_domain::{encoding_name, MessageId};
use tuma_engine::{Accepted, SubmitRequest};
use tuma_store::{Idempotency, MessageRecord};

use crate::auth::Caller;
use crate::error::{rejection_status, ApiError, ErrorBody};
use crate::json::{self, BATCH_FIELDS, ESTIMATE_FIELDS, MESSAGE_FIELDS};
use crate::time::{parse_rfc3339, Rfc3339};
use crate::urls::check_url;
use crate::AppState;

/// Longest `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Longest `reference`.
pub const MAX_REFERENCE: usize = 256;

/// One message as the API takes it. Strings are owned: the engine keeps them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageIn {
    to: String,
    #[serde(default)]
    from: Option<String>,
    text: String,
    #[serde(default)]
    callback_url: Option<String>,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    send_at: Option<String>,
    #[serde(default)]
    validity: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchIn<'a> {
    #[serde(borrow)]
    messages: Vec<&'a RawValue>,
}

#[derive(Serialize)]
struct AcceptedOut {
    id: MessageId,
    status: &'static str,
    encoding: &'static str,
    segments: u8,
}

impl From<&Accepted> for AcceptedOut {
    fn from(a: &Accepted) -> Self {
        Self {
            id: a.id,
            status: a.status.as_str(),
            encoding: encoding_name(a.encoding),
            segments: a.segments,
        }
    }
}

/// Checks what the engine does not: `send_at`'s syntax, the URL, the reference's length.
fn into_request(m: MessageIn, idempotency: Option<Idempotency>) -> Result<SubmitRequest, ApiError> {
    let send_at_ms = match m.send_at.as_deref() {
        None => None,
        Some(s) => Some(parse_rfc3339(s).map_err(|e| {
            ApiError::invalid("invalid_send_at", "send_at", format!("send_at: {e}"))
        })?),
    };
    if let Some(url) = m.callback_url.as_deref() {
        check_url(url).map_err(|e| {
            ApiError::invalid("invalid_url", "callback_url", format!("callback_url: {e}"))
        })?;
    }
    if let Some(r) = m.reference.as_deref() {
        if r.chars().count() > MAX_REFERENCE {
            return Err(ApiError::invalid(
                "reference_too_long",
                "reference",
                format!("reference is longer than {MAX_REFERENCE} characters"),
            ));
        }
    }
    Ok(SubmitRequest {
        to: m.to,
        from: m.from,
        text: m.text,
        callback_url: m.callback_url,
        reference: m.reference,
        send_at_ms,
        validity: m.validity,
        idempotency,
        campaign: None,
    })
}

/// The `Idempotency-Key` header, checked (visible ASCII, 1..=255 characters). An extractor
/// of its own so handlers do not copy the whole header map per request.
pub struct IdempotencyKey(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let bad = || {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                format!(
                    "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
                ),
            )
            .with_field("Idempotency-Key")
        };
        let key = value.to_str().map_err(|_| bad())?.trim();
        if key.is_empty()
            || key.len() > MAX_IDEMPOTENCY_KEY
            || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(bad());
        }
        Ok(Self(Some(key.to_owned())))
    }
}

/// `POST /v1/messages`.
pub async fn post_message(
    State(state): State<AppState>,
    caller: Caller,
    IdempotencyKey(key): IdempotencyKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json::body_bytes(body, state.settings().max_body_bytes)?;
    let idempotency = key.map(|key| Idempotency {
        key,
        body_hash: Sha256::digest(&body).into(),
    });
    let message: MessageIn = json::parse_borrowed(&body, MESSAGE_FIELDS)?;
    let request = into_request(message, idempotency)?;
    let mut results = state.submit(caller.account, vec![request]).await?;
    let result = results.pop().ok_or_else(|| {
        ApiError::internal(
            "engine answered no result",
            &"submit returned an empty list",
        )
    })?;
    match result {
        Ok(accepted) => {
            let status = if accepted.existing {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            Ok((status, Json(AcceptedOut::from(&accepted))).into_response())
        }
        Err(rejection) => Err(rejection.into()),
    }
}

#[derive(Serialize)]
struct BatchOut {
    accepted: Vec<BatchAccepted>,
    rejected: Vec<BatchRejected>,
}

#[derive(Serialize)]
struct BatchAccepted {
    index: usize,
    id: MessageId,
    status: &'static str,
    encoding: &'static str,
    segments: u8,
}

#[derive(Serialize)]
struct BatchRejected {
    index: usize,
    status: u16,
    error: ErrorBody,
}

/// `POST /v1/messages/batch`: items are checked one by one; a bad one is rejected alone.
/// With an `Idempotency-Key`, item `i` gets the key `<key>/<i>` and the whole body's hash,
/// so a retried batch returns the same ids and a changed one conflicts item by item.
pub async fn post_batch(
    State(state): State<AppState>,
    caller: Caller,
    IdempotencyKey(key): IdempotencyKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let settings = state.settings();
    let body = json::body_bytes(body, settings.max_batch_body_bytes)?;
    let key = key.as_deref();
    let body_hash: Option<[u8; 32]> = key.map(|_| Sha256::digest(&body).into());
    let batch: BatchIn<'_> = json::parse_borrowed(&body, BATCH_FIELDS)?;
    let count = batch.messages.len();
    if count == 0 {
        return Err(ApiError::invalid(
            "empty_batch",
            "messages",
            "messages must hold at least one message",
        ));
    }
    if count > settings.max_batch_messages {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_messages",
            format!(
                "a batch holds at most {} messages, this one has {count}",
                settings.max_batch_messages
            ),
        )
        .with_field("messages"));
    }

    let mut rejected = Vec::new();
    let mut requests = Vec::with_capacity(count);
    let mut indexes = Vec::with_capacity(count);
    for (index, raw) in batch.messages.iter().enumerate() {
        let idempotency = match (key, body_hash) {
            (Some(k), Some(h)) => Some(Idempotency {
                key: format!("{k}/{index}"),
                body_hash: h,
            }),
            _ => None,
        };
        let parsed = json::parse_borrowed::<MessageIn>(raw.get().as_bytes(), MESSAGE_FIELDS)
            .and_then(|m| into_request(m, idempotency));
        match parsed {
            Ok(r) => {
                requests.push(r);
                indexes.push(index);
            }
            Err(e) => rejected.push(BatchRejected {
                index,
                status: e.status.as_u16(),
                error: e.body(),
            }),
        }
    }

    let mut accepted = Vec::with_capacity(requests.len());
    if !requests.is_empty() {
        let results = state.submit(caller.account, requests).await?;
        if results.len() != indexes.len() {
            return Err(ApiError::internal(
                "engine answered a wrong number of results",
                &format!("{} for {}", results.len(), indexes.len()),
            ));
        }
        for (index, result) in indexes.into_iter().zip(results) {
            match result {
                Ok(a) => accepted.push(BatchAccepted {
                    index,
                    id: a.id,
                    status: a.status.as_str(),
                    encoding: encoding_name(a.encoding),
                    segments: a.segments,
                }),
                Err(r) => rejected.push(BatchRejected {
                    index,
                    status: rejection_status(&r).as_u16(),
                    error: ErrorBody {
                        code: r.code.into(),
                        message: r.message,
                        field: r.field.map(Into::into),
                    },
                }),
            }
        }
        rejected.sort_unstable_by_key(|r| r.index);
    }
    Ok((StatusCode::ACCEPTED, Json(BatchOut { accepted, rejected })).into_response())
}

#[derive(Serialize)]
struct MessageOut<'a> {
    id: MessageId,
    to: String,
    from: String,
    text: &'a str,
    status: &'static str,
    encoding: &'static str,
    segments: usize,
    reference: Option<&'a str>,
    callback_url: Option<&'a str>,
    created_at: Rfc3339,
    send_at: Option<Rfc3339>,
    expires_at: Rfc3339,
    events: Vec<EventOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorOut<'a>>,
    parts: Vec<PartOut<'a>>,
}

#[derive(Serialize)]
struct EventOut<'a> {
    status: &'static str,
    at: Rfc3339,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    code: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct PartOut<'a> {
    index: u8,
    status: &'static str,
    smsc_id: Option<&'a str>,
}

fn message_out(m: &MessageRecord) -> MessageOut<'_> {
    MessageOut {
        id: m.id,
        to: m.to.as_e164(),
        from: m.from.to_string(),
        text: &m.text,
        status: m.status.as_str(),
        encoding: encoding_name(m.encoding),
        segments: m.segments.len(),
        reference: m.reference.as_deref(),
        callback_url: m.callback_url.as_deref(),
        created_at: Rfc3339(m.created_at_ms),
        send_at: m.send_at_ms.map(Rfc3339),
        expires_at: Rfc3339(m.expires_at_ms),
        events: m
            .events
            .iter()
            .map(|e| EventOut {
                status: e.status.as_str(),
                at: Rfc3339(e.at_ms),
                detail: e.detail.as_deref(),
            })
            .collect(),
        error: m.error.as_ref().map(|e| ErrorOut {
            code: &e.code,
            message: &e.message,
        }),
        parts: m
            .segments
            .iter()
            .map(|s| PartOut {
                index: s.index,
                status: s.status.as_str(),
                smsc_id: s.smsc_id.as_deref(),
            })
            .collect(),
    }
}

/// `GET /v1/messages/{id}`: another account's message and a malformed id are both 404.
pub async fn get_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Ok(id) = MessageId::parse(&id) else {
        return Err(ApiError::not_found("message"));
    };
    match state.engine.message(caller.account, id).await? {
        Some(m) => Ok(Json(message_out(&m)).into_response()),
        None => Err(ApiError::not_found("message")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EstimateIn<'a> {
    #[serde(borrow)]
    text: std::borrow::Cow<'a, str>,
}

#[derive(Serialize)]
struct EstimateOut {
    encoding: &'static str,
    segments: usize,
    characters: usize,
    units: usize,
    per_segment_limit: usize,
    remaining: usize,
    ucs2_characters: Vec<String>,
}

/// `POST /v1/estimate`: what a text costs, with the gateway's text options.
pub async fn post_estimate(
    State(state): State<AppState>,
    _caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json::body_bytes(body, state.settings().max_body_bytes)?;
    let input: EstimateIn<'_> = json::parse_borrowed(&body, ESTIMATE_FIELDS)?;
    let e = sms_text::estimate(&input.text, &state.settings().text_options);
    Ok(Json(EstimateOut {
        encoding: encoding_name(e.encoding),
        segments: e.segments,
        characters: e.characters,
        units: e.units,
        per_segment_limit: e.per_segment_limit,
        remaining: e.remaining,
        ucs2_characters: e
            .ucs2_characters
            .iter()
            .map(|c| c.character.to_string())
            .collect(),
    })
    .into_response())
}
