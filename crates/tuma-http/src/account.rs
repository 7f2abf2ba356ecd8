//! The caller's account: settings, suppression list, replies, webhook failures; and the
//! operator's endpoints: accounts and keys.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Deserializer, Serialize};
use tuma_domain::{MessageId, Msisdn};
use tuma_store::{Account, AccountId, AccountSettings, ApiKey, WebhookDelivery, WebhookEvent};

use crate::auth::{generate_key, hash_key, Admin, Caller};
use crate::error::ApiError;
use crate::json::{self, ACCOUNT_CREATE_FIELDS, ACCOUNT_PATCH_FIELDS, KEY_CREATE_FIELDS};
use crate::time::Rfc3339;
use crate::urls::check_url;
use crate::AppState;

/// Default page size of lists.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page size of lists.
pub const MAX_LIMIT: usize = 1000;
/// Longest account name and key label.
pub const MAX_NAME: usize = 64;

#[derive(Serialize)]
struct AccountOut<'a> {
    id: u64,
    name: &'a str,
    created_at: Rfc3339,
    callback_url: Option<&'a str>,
    mo_url: Option<&'a str>,
}

fn account_out(a: &Account) -> AccountOut<'_> {
    AccountOut {
        id: a.id.0,
        name: &a.name,
        created_at: Rfc3339(a.created_at_ms),
        callback_url: a.settings.callback_url.as_deref(),
        mo_url: a.settings.mo_url.as_deref(),
    }
}

/// `GET /v1/account`.
pub async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let account = state
        .account(caller.account)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    Ok(Json(account_out(&account)).into_response())
}

/// Absent stays absent (`None`), `null` becomes `Some(None)`: PATCH tells "leave" from
/// "clear".
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountPatch {
    #[serde(default, deserialize_with = "present")]
    callback_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    mo_url: Option<Option<String>>,
}

fn patched_url(
    current: Option<String>,
    patch: Option<Option<String>>,
    field: &'static str,
) -> Result<Option<String>, ApiError> {
    match patch {
        None => Ok(current),
        Some(None) => Ok(None),
        Some(Some(s)) if s.is_empty() => Ok(None),
        Some(Some(s)) => {
            check_url(&s)
                .map_err(|e| ApiError::invalid("invalid_url", field, format!("{field}: {e}")))?;
            Ok(Some(s))
        }
    }
}

/// `PATCH /v1/account`: `callback_url` / `mo_url` set (a URL), cleared (`null` or `""`) or
/// left alone (absent).
pub async fn patch_account(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json::body_bytes(body, state.settings().max_body_bytes)?;
    let patch: AccountPatch = json::parse_body(&body, ACCOUNT_PATCH_FIELDS)?;
    let account = state
        .account(caller.account)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    let settings = AccountSettings {
        callback_url: patched_url(
            account.settings.callback_url,
            patch.callback_url,
            "callback_url",
        )?,
        mo_url: patched_url(account.settings.mo_url, patch.mo_url, "mo_url")?,
    };
    let updated = state
        .update_account_settings(caller.account, settings)
        .await?;
    Ok(Json(account_out(&updated)).into_response())
}

#[derive(Serialize)]
struct SuppressionOut {
    number: String,
    suppressed: bool,
    changed: bool,
}

fn parse_number(state: &AppState, number: &str) -> Result<Msisdn, ApiError> {
    Msisdn::parse(number, state.settings().region)
        .map_err(|e| ApiError::invalid("invalid_msisdn", "number", e.to_string()))
}

/// `GET /v1/suppressions/{number}`.
pub async fn get_suppression(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let number = parse_number(&state, &number)?;
    let found = state
        .engine
        .stores()
        .suppression
        .suppressed_among(caller.account, &[number])
        .await?;
    Ok(Json(SuppressionOut {
        number: number.as_e164(),
        suppressed: found.contains(&number),
        changed: false,
    })
    .into_response())
}

/// `PUT /v1/suppressions/{number}`: later messages to the number end as `suppressed`.
pub async fn put_suppression(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let number = parse_number(&state, &number)?;
    let now = state.engine.clock().now_ms();
    let changed = state
        .engine
        .stores()
        .suppression
        .suppress(caller.account, number, "api", now)
        .await?;
    Ok(Json(SuppressionOut {
        number: number.as_e164(),
        suppressed: true,
        changed,
    })
    .into_response())
}

/// `DELETE /v1/suppressions/{number}`.
pub async fn delete_suppression(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let number = parse_number(&state, &number)?;
    let changed = state
        .engine
        .stores()
        .suppression
        .unsuppress(caller.account, number)
        .await?;
    Ok(Json(SuppressionOut {
        number: number.as_e164(),
        suppressed: false,
        changed,
    })
    .into_response())
}

/// Query of lists.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

fn query_error(message: String, field: &'static str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).with_field(field)
}

fn limit_of(raw: Option<&str>) -> Result<usize, ApiError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(query_error(
                format!("limit must be a number from 1 to {MAX_LIMIT}"),
                "limit",
            )),
        },
    }
}

fn query(q: Result<Query<ListQuery>, QueryRejection>) -> Result<ListQuery, ApiError> {
    q.map(|Query(q)| q).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("bad query string: {}", e.body_text()),
        )
    })
}

#[derive(Serialize)]
struct InboundList<'a> {
    messages: Vec<InboundOut<'a>>,
    /// Pass as `before` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<MessageId>,
}

#[derive(Serialize)]
struct InboundOut<'a> {
    id: MessageId,
    from: String,
    to: &'a str,
    text: &'a str,
    connector: &'a str,
    received_at: Rfc3339,
}

/// `GET /v1/inbound?before=&limit=`: replies, newest first.
pub async fn list_inbound(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let limit = limit_of(q.limit.as_deref())?;
    let before = match q.before.as_deref() {
        None | Some("") => None,
        Some(s) => {
            Some(MessageId::parse(s).map_err(|e| query_error(format!("before: {e}"), "before"))?)
        }
    };
    let rows = state
        .engine
        .stores()
        .inbound
        .list_inbound(caller.account, before, limit)
        .await?;
    let next_before = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(Json(InboundList {
        messages: rows
            .iter()
            .map(|r| InboundOut {
                id: r.id,
                from: r.from.as_e164(),
                to: &r.to,
                text: &r.text,
                connector: r.connector.as_str(),
                received_at: Rfc3339(r.received_at_ms),
            })
            .collect(),
        next_before,
    })
    .into_response())
}

#[derive(Serialize)]
struct FailureList<'a> {
    failures: Vec<FailureOut<'a>>,
}

#[derive(Serialize)]
struct FailureOut<'a> {
    id: u64,
    message: MessageId,
    url: &'a str,
    event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    status_at: Rfc3339,
    attempts: u32,
    next_at: Rfc3339,
    last_error: Option<&'a str>,
    state: &'static str,
}

fn failure_out(d: &WebhookDelivery) -> FailureOut<'_> {
    let (event, status) = match d.event {
        WebhookEvent::Status(s) => ("status", Some(s.as_str())),
        WebhookEvent::Inbound => ("inbound", None),
    };
    FailureOut {
        id: d.id,
        message: d.message,
        url: &d.url,
        event,
        status,
        status_at: Rfc3339(d.status_at_ms),
        attempts: d.attempts,
        next_at: Rfc3339(d.next_at_ms),
        last_error: d.last_error.as_deref(),
        state: d.state.as_str(),
    }
}

/// `GET /v1/webhooks/failures?limit=`: deliveries whose last attempt failed, newest first.
pub async fn list_webhook_failures(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    if q.before.is_some() {
        return Err(query_error(
            "this list has no paging; use limit".into(),
            "before",
        ));
    }
    let limit = limit_of(q.limit.as_deref())?;
    let rows = state
        .engine
        .stores()
        .webhooks
        .webhook_failures(caller.account, limit)
        .await?;
    Ok(Json(FailureList {
        failures: rows.iter().map(failure_out).collect(),
    })
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountCreate {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyCreate {
    #[serde(default)]
    label: Option<String>,
}

#[derive(Serialize)]
struct KeyOut<'a> {
    id: u64,
    account: u64,
    label: &'a str,
    created_at: Rfc3339,
    /// The key in clear: shown in this answer only.
    key: &'a str,
}

fn key_out<'a>(k: &'a ApiKey, clear: &'a str) -> KeyOut<'a> {
    KeyOut {
        id: k.id,
        account: k.account.0,
        label: &k.label,
        created_at: Rfc3339(k.created_at_ms),
        key: clear,
    }
}

#[derive(Serialize)]
struct CreatedAccount<'a> {
    account: AccountOut<'a>,
    key: KeyOut<'a>,
}

fn check_name(value: &str, field: &'static str) -> Result<(), ApiError> {
    let n = value.chars().count();
    if value.trim().is_empty() || n > MAX_NAME || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            format!("invalid_{field}"),
            field,
            format!("{field} must be 1 to {MAX_NAME} characters, not blank, no control characters"),
        ));
    }
    Ok(())
}

/// `POST /v1/accounts` (operator): a new account and its first key (shown once).
pub async fn create_account(
    State(state): State<AppState>,
    _admin: Admin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json::body_bytes(body, state.settings().max_body_bytes)?;
    let input: AccountCreate = json::parse_body(&body, ACCOUNT_CREATE_FIELDS)?;
    check_name(&input.name, "name")?;
    let now = state.engine.clock().now_ms();
    let accounts = &state.engine.stores().accounts;
    let account = accounts
        .create_account(&input.name, now)
        .await
        .map_err(|e| ApiError::from(e).with_field("name"))?;
    let clear = generate_key();
    let key = accounts
        .add_api_key(account.id, "first key", hash_key(&clear), now)
        .await?;
    let out = CreatedAccount {
        account: account_out(&account),
        key: key_out(&key, &clear),
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[derive(Serialize)]
struct AccountList<'a> {
    accounts: Vec<AccountOut<'a>>,
}

/// `GET /v1/accounts` (operator).
pub async fn list_accounts(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Response, ApiError> {
    let accounts = state.engine.stores().accounts.list_accounts().await?;
    Ok(Json(AccountList {
        accounts: accounts.iter().map(account_out).collect(),
    })
    .into_response())
}

fn id_param(p: Result<Path<String>, PathRejection>, what: &str) -> Result<u64, ApiError> {
    p.ok()
        .and_then(|Path(s)| s.parse::<u64>().ok())
        .ok_or_else(|| ApiError::not_found(what))
}

/// `POST /v1/accounts/{id}/keys` (operator): a new key (shown once).
pub async fn create_key(
    State(state): State<AppState>,
    _admin: Admin,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let account = AccountId(id_param(id, "account")?);
    let body = json::body_bytes(body, state.settings().max_body_bytes)?;
    // An empty body means "no label".
    let input: KeyCreate = if body.iter().all(u8::is_ascii_whitespace) {
        KeyCreate { label: None }
    } else {
        json::parse_body(&body, KEY_CREATE_FIELDS)?
    };
    let label = input.label.unwrap_or_default();
    if !label.is_empty() {
        check_name(&label, "label")?;
    }
    let clear = generate_key();
    let now = state.engine.clock().now_ms();
    let key = state
        .engine
        .stores()
        .accounts
        .add_api_key(account, &label, hash_key(&clear), now)
        .await?;
    Ok((StatusCode::CREATED, Json(key_out(&key, &clear))).into_response())
}

/// `DELETE /v1/keys/{id}` (operator): revokes a key; it stops working on this node at once
/// (other nodes: within the key cache TTL).
pub async fn delete_key(
    State(state): State<AppState>,
    _admin: Admin,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = id_param(id, "key")?;
    let revoked = state.engine.stores().accounts.revoke_api_key(id).await?;
    // Forget it even if the store had no such key: a cached entry must not outlive a
    // revocation another node already made.
    state.inner.keys.forget(id);
    if revoked {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found("key"))
    }
}
