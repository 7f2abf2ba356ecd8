//! Contact lists and campaigns: `POST|GET /v1/lists`, `GET /v1/lists/{id}`, `POST|GET
//! /v1/campaigns`, `GET /v1/campaigns/{id}`, `GET /v1/campaigns/{id}/recipients.csv`, `POST
//! /v1/campaigns/{id}/{pause,resume,cancel}`.
//!
//! # Uploads are streamed
//! A CSV sent as a `text/csv` body or as a multipart file part is never held whole: an async
//! pump forwards the body's chunks through a bounded channel ([`UPLOAD_CHANNEL`] chunks) to
//! an [`UploadReader`], the blocking [`Read`] the engine consumes on its blocking thread while
//! the upload is still arriving. Memory stays at a few chunks whatever the file's size; a
//! slow importer slows the upload down (back-pressure) instead of buffering it.
//!
//! The reader only reports the end of the file after the pump saw the body's real end: a
//! body that fails or stops half-way (client gone, size limit) is an I/O error for the
//! importer, never a shorter file that looks complete.
//!
//! # Reports are streamed
//! `recipients.csv` is written page by page ([`RECIPIENT_PAGE`] rows per
//! `Engine::recipient_rows` call) as the client reads it; the first page is read before the
//! answer starts, so an unknown campaign is still a proper 404.

use std::fmt::Write as _;
use std::future::Future;
use std::io::{self, Cursor, Read};

use axum::body::{Body, Bytes};
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, StreamExt};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use tuma_campaign::{PreviewFailure, PreviewMessage};
use tuma_domain::SenderId;
use tuma_engine::{
    CampaignCounts, CampaignError, CampaignReport, CampaignRequest, Contacts, Engine, ImportReport,
    Latency, OperatorBreakdown, RecipientRow, WindowRequest,
};
use tuma_store::{AccountId, CampaignId, CampaignRecord, ListId, ListRecord, WindowSpec};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::time::{parse_rfc3339, Rfc3339};
use crate::AppState;

/// Default page size of `GET /v1/lists` and `GET /v1/campaigns`.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page size of `GET /v1/lists` and `GET /v1/campaigns`.
pub const MAX_LIMIT: usize = 500;
/// Longest list or campaign name, in characters.
pub const MAX_NAME: usize = 128;
/// Recipients per `Engine::recipient_rows` call while writing `recipients.csv`.
pub const RECIPIENT_PAGE: usize = 5_000;
/// Upload chunks buffered between the HTTP body and the engine's reader.
pub const UPLOAD_CHANNEL: usize = 8;
/// The columns of `recipients.csv`.
pub const RECIPIENTS_HEADER: [&str; 10] = [
    "seq",
    "line",
    "to",
    "status",
    "message_id",
    "error",
    "segments",
    "submitted_at",
    "delivered_at",
    "clicks",
];

// ---------------------------------------------------------------------------------------
// Streaming uploads

/// What the pump hands the reader.
enum Chunk {
    /// Bytes of the file.
    Data(Bytes),
    /// The body ended normally: the file is complete.
    End,
    /// The body failed (the message says why); the file is incomplete.
    Failed(String),
}

/// A blocking [`Read`] over chunks an async pump sends while the upload arrives. Must be read
/// outside the async runtime's worker threads (the engine reads on a blocking thread).
struct UploadReader {
    rx: mpsc::Receiver<Chunk>,
    current: Bytes,
    ended: bool,
    failed: Option<String>,
}

impl UploadReader {
    fn new(rx: mpsc::Receiver<Chunk>) -> Self {
        Self {
            rx,
            current: Bytes::new(),
            ended: false,
            failed: None,
        }
    }
}

impl Read for UploadReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            if let Some(why) = &self.failed {
                return Err(io::Error::other(why.clone()));
            }
            match self.rx.blocking_recv() {
                Some(Chunk::Data(bytes)) => self.current = bytes,
                Some(Chunk::End) => self.ended = true,
                Some(Chunk::Failed(why)) => self.failed = Some(why),
                // The pump went away without saying the body ended: the request was
                // dropped (client gone). Never report that as the end of the file.
                None => {
                    self.failed = Some("the upload stopped before its end".to_owned());
                }
            }
        }
        let n = buf.len().min(self.current.len());
        let head = self.current.split_to(n);
        buf[..n].copy_from_slice(&head);
        Ok(n)
    }
}

/// A new reader and the sender its pump feeds.
fn upload_channel() -> (mpsc::Sender<Chunk>, UploadReader) {
    let (tx, rx) = mpsc::channel(UPLOAD_CHANNEL);
    (tx, UploadReader::new(rx))
}

/// Counts and forwards one chunk. `Ok(false)`: the reader is gone (the engine stopped
/// reading), stop pumping.
async fn forward(
    tx: &mpsc::Sender<Chunk>,
    data: Bytes,
    total: &mut usize,
    limit: usize,
) -> Result<bool, ApiError> {
    *total = total.saturating_add(data.len());
    if *total > limit {
        let err = ApiError::payload_too_large(limit);
        let _ = tx.send(Chunk::Failed(err.message.clone())).await;
        return Err(err);
    }
    if data.is_empty() {
        return Ok(true);
    }
    Ok(tx.send(Chunk::Data(data)).await.is_ok())
}

/// Tells the reader the body failed, and returns the error for the answer.
async fn fail(tx: &mpsc::Sender<Chunk>, err: ApiError) -> Result<(), ApiError> {
    let _ = tx.send(Chunk::Failed(err.message.clone())).await;
    Err(err)
}

/// Pumps a raw request body (`text/csv`) into `tx`, at most `limit` bytes.
async fn pump_body(mut body: Body, tx: mpsc::Sender<Chunk>, limit: usize) -> Result<(), ApiError> {
    let mut total = 0usize;
    loop {
        match body.frame().await {
            None => {
                let _ = tx.send(Chunk::End).await;
                return Ok(());
            }
            Some(Ok(frame)) => {
                // Trailers carry no data.
                if let Ok(data) = frame.into_data() {
                    if !forward(&tx, data, &mut total, limit).await? {
                        return Ok(());
                    }
                }
            }
            Some(Err(e)) => {
                let err = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    format!("the upload could not be read: {e}"),
                );
                return fail(&tx, err).await;
            }
        }
    }
}

/// Pumps a multipart file part into `tx`, at most `limit` bytes.
async fn pump_field(
    field: &mut Field<'_>,
    tx: mpsc::Sender<Chunk>,
    limit: usize,
) -> Result<(), ApiError> {
    let mut total = 0usize;
    loop {
        match field.chunk().await {
            Ok(None) => {
                let _ = tx.send(Chunk::End).await;
                return Ok(());
            }
            Ok(Some(data)) => {
                if !forward(&tx, data, &mut total, limit).await? {
                    return Ok(());
                }
            }
            Err(e) => return fail(&tx, multipart_error(&e, limit)).await,
        }
    }
}

/// Runs the engine's `work` while `pump` feeds it. When the work fails after the upload
/// failed, the upload's error is the answer (a 413 rather than the importer's "could not
/// read" error).
async fn drive<T>(
    work: impl Future<Output = Result<T, CampaignError>>,
    pump: impl Future<Output = Result<(), ApiError>>,
) -> Result<T, ApiError> {
    tokio::pin!(work);
    tokio::pin!(pump);
    let mut pumped: Option<Result<(), ApiError>> = None;
    loop {
        tokio::select! {
            result = &mut work => {
                return match (result, pumped) {
                    (Ok(v), _) => Ok(v),
                    (Err(_), Some(Err(upload))) => Err(upload),
                    (Err(e), _) => Err(e.into()),
                };
            }
            result = &mut pump, if pumped.is_none() => pumped = Some(result),
        }
    }
}

fn multipart_error(e: &MultipartError, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(limit)
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("the multipart body could not be read: {}", e.body_text()),
        )
    }
}

/// A small multipart part (JSON, a name) read whole, at most `limit` bytes.
async fn small_part(
    field: &mut Field<'_>,
    name: &'static str,
    limit: usize,
    upload_limit: usize,
) -> Result<Bytes, ApiError> {
    let mut out = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| multipart_error(&e, upload_limit))?
    {
        if out.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the {name} part is larger than {limit} bytes"),
            )
            .with_field(name));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.into())
}

/// How a body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// `application/json` (or no `Content-Type`, as on the rest of the API).
    Json,
    /// `text/csv`, `application/csv` or `text/plain`.
    Csv,
    /// `multipart/form-data`.
    Multipart,
    /// Anything else.
    Other,
}

fn body_kind(headers: &HeaderMap) -> BodyKind {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return BodyKind::Json;
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => BodyKind::Json,
        "text/csv" | "application/csv" | "text/plain" => BodyKind::Csv,
        "multipart/form-data" => BodyKind::Multipart,
        e if e.ends_with("+json") => BodyKind::Json,
        _ => BodyKind::Other,
    }
}

fn unsupported(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        message,
    )
    .with_field("Content-Type")
}

async fn multipart(req: Request, state: &AppState) -> Result<Multipart, ApiError> {
    Multipart::from_request(req, state).await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("the multipart body could not be read: {}", e.body_text()),
        )
        .with_field("Content-Type")
    })
}

/// A whole body of at most `limit` bytes (413 above).
async fn whole_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::payload_too_large(limit))
        }
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("the request body could not be read: {e}"),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Request checks

/// A list or campaign name: trimmed, 1 to [`MAX_NAME`] characters, no control characters.
fn check_name(name: &str, field: &'static str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid(
            "invalid_name",
            field,
            format!("{field} must not be empty"),
        ));
    }
    if name.chars().count() > MAX_NAME {
        return Err(ApiError::invalid(
            "invalid_name",
            field,
            format!("{field} is longer than {MAX_NAME} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "invalid_name",
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(name.to_owned())
}

fn query_error(message: String, field: &'static str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).with_field(field)
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("bad query string: {}", e.body_text()),
        )
    })
}

/// `?before=ID&limit=N` of the list endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

impl PageQuery {
    /// `(before, limit)`, checked.
    fn parse(&self) -> Result<(Option<u64>, usize), ApiError> {
        let limit = match self.limit.as_deref() {
            None | Some("") => DEFAULT_LIMIT,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(query_error(
                        format!("limit must be a number from 1 to {MAX_LIMIT}, not {s:?}"),
                        "limit",
                    ))
                }
            },
        };
        let before = match self.before.as_deref() {
            None | Some("") => None,
            Some(s) => Some(s.parse::<u64>().map_err(|_| {
                query_error(
                    format!("before must be an id (a whole number), not {s:?}"),
                    "before",
                )
            })?),
        };
        Ok((before, limit))
    }
}

/// `?name=N` of `POST /v1/lists`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListNameQuery {
    #[serde(default)]
    name: Option<String>,
}

/// An id in a path; anything but a whole number is 404 like an unknown id.
fn path_id(raw: &str, what: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>().map_err(|_| ApiError::not_found(what))
}

// ---------------------------------------------------------------------------------------
// Campaign request bodies

/// `POST /v1/campaigns` as JSON (and the multipart `campaign` part).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignIn {
    name: String,
    #[serde(default)]
    from: Option<String>,
    template: String,
    #[serde(default)]
    contacts_csv: Option<String>,
    #[serde(default)]
    list_id: Option<u64>,
    #[serde(default)]
    track_links: Option<bool>,
    #[serde(default)]
    send_at: Option<String>,
    #[serde(default)]
    window: Option<WindowIn>,
    #[serde(default)]
    rate: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowIn {
    start: String,
    end: String,
    #[serde(default)]
    timezone: Option<String>,
}

/// The JSON type of a field, for error diagnosis (`crate::json` knows strings and arrays
/// only; a campaign also has numbers, a boolean and an object).
#[derive(Debug, Clone, Copy)]
enum Ty {
    Str,
    /// A whole number from 0 to `max`.
    Int(u64),
    Bool,
    /// The `window` object.
    Window,
}

#[derive(Debug, Clone, Copy)]
struct Spec {
    name: &'static str,
    ty: Ty,
    required: bool,
}

const fn spec(name: &'static str, ty: Ty, required: bool) -> Spec {
    Spec { name, ty, required }
}

const CAMPAIGN_FIELDS: &[Spec] = &[
    spec("name", Ty::Str, true),
    spec("from", Ty::Str, false),
    spec("template", Ty::Str, true),
    spec("contacts_csv", Ty::Str, false),
    spec("list_id", Ty::Int(u64::MAX), false),
    spec("track_links", Ty::Bool, false),
    spec("send_at", Ty::Str, false),
    spec("window", Ty::Window, false),
    spec("rate", Ty::Int(u32::MAX as u64), false),
];

const WINDOW_FIELDS: &[Spec] = &[
    spec("start", Ty::Str, true),
    spec("end", Ty::Str, true),
    spec("timezone", Ty::Str, false),
];

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The first thing wrong with `value` as an object of `fields` (names prefixed with
/// `prefix`, `window.` for the window's): unknown field 400, missing or mistyped 422.
fn diagnose(value: &Value, fields: &[Spec], prefix: &str) -> Option<ApiError> {
    let Some(object) = value.as_object() else {
        let what = if prefix.is_empty() {
            "the body".to_owned()
        } else {
            prefix.trim_end_matches('.').to_owned()
        };
        let err = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
            format!("{what} must be a JSON object, found {}", type_name(value)),
        );
        return Some(if prefix.is_empty() {
            err
        } else {
            err.with_field(what)
        });
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| !fields.iter().any(|f| f.name == k.as_str()))
    {
        let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
        return Some(
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_field",
                format!(
                    "unknown field {:?}; the fields are {}",
                    format!("{prefix}{unknown}"),
                    known.join(", ")
                ),
            )
            .with_field(format!("{prefix}{unknown}")),
        );
    }
    for f in fields {
        let name = format!("{prefix}{}", f.name);
        match object.get(f.name) {
            None | Some(Value::Null) if f.required => {
                return Some(ApiError::invalid(
                    "missing_field",
                    name.clone(),
                    format!("{name} is required"),
                ));
            }
            None | Some(Value::Null) => {}
            Some(v) => {
                let problem = match f.ty {
                    Ty::Str => (!v.is_string()).then(|| "a string".to_owned()),
                    Ty::Bool => (!v.is_boolean()).then(|| "true or false".to_owned()),
                    Ty::Int(max) => v
                        .as_u64()
                        .is_none_or(|n| n > max)
                        .then(|| format!("a whole number from 0 to {max}")),
                    Ty::Window => {
                        if v.is_object() {
                            if let Some(e) = diagnose(v, WINDOW_FIELDS, "window.") {
                                return Some(e);
                            }
                            None
                        } else {
                            Some(
                                "an object such as {\"start\": \"08:00\", \"end\": \"20:00\"}"
                                    .to_owned(),
                            )
                        }
                    }
                };
                if let Some(expected) = problem {
                    let found = match v {
                        Value::Number(n) => format!("{n}"),
                        other => type_name(other).to_owned(),
                    };
                    return Some(ApiError::invalid(
                        "invalid_type",
                        name.clone(),
                        format!("{name} must be {expected}, found {found}"),
                    ));
                }
            }
        }
    }
    None
}

/// Parses a campaign object, naming the field at fault on failure.
fn parse_campaign(bytes: &[u8]) -> Result<CampaignIn, ApiError> {
    let malformed = |e: &serde_json::Error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )
    };
    // serde's derived structs also take a JSON array (fields by position): objects only.
    let is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_object {
        match serde_json::from_slice::<CampaignIn>(bytes) {
            Ok(c) => return Ok(c),
            Err(e) if !e.is_data() => return Err(malformed(&e)),
            Err(_) => {}
        }
    }
    // The cold path: parse again as a tree and say what is wrong.
    let value: Value = serde_json::from_slice(bytes).map_err(|e| malformed(&e))?;
    let err = diagnose(&value, CAMPAIGN_FIELDS, "").unwrap_or_else(|| {
        // The diagnosis found nothing: serde refused something the specs do not describe.
        match serde_json::from_value::<CampaignIn>(value) {
            Err(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_type",
                e.to_string(),
            ),
            Ok(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_type",
                "expected a JSON object",
            ),
        }
    });
    Err(err)
}

fn invalid_contacts(message: &str) -> ApiError {
    ApiError::invalid("invalid_contacts", "contacts_csv", message)
}

/// The engine's request from a checked body and its contacts.
fn campaign_request(c: CampaignIn, contacts: Contacts) -> Result<CampaignRequest, ApiError> {
    let name = check_name(&c.name, "name")?;
    let send_at_ms = match c.send_at.as_deref() {
        None => None,
        Some(s) => Some(parse_rfc3339(s).map_err(|e| {
            ApiError::invalid("invalid_send_at", "send_at", format!("send_at: {e}"))
        })?),
    };
    if c.rate == Some(0) {
        return Err(ApiError::invalid(
            "invalid_rate",
            "rate",
            "rate must be at least 1 message per second (leave it out for no campaign limit)",
        ));
    }
    Ok(CampaignRequest {
        name,
        from: c.from,
        template: c.template,
        contacts,
        track_links: c.track_links.unwrap_or(false),
        send_at_ms,
        window: c.window.map(|w| WindowRequest {
            start: w.start,
            end: w.end,
            timezone: w.timezone,
        }),
        rate: c.rate,
    })
}

// ---------------------------------------------------------------------------------------
// Answers

#[derive(Serialize)]
struct ListOut<'a> {
    id: u64,
    name: &'a str,
    status: &'static str,
    columns: &'a [String],
    recipients: u64,
    rows: u64,
    rejected: u64,
    duplicates: u64,
    created_at: Rfc3339,
}

fn list_out(l: &ListRecord) -> ListOut<'_> {
    ListOut {
        id: l.id.0,
        name: &l.name,
        status: l.status.as_str(),
        columns: &l.columns,
        recipients: l.totals.accepted,
        rows: l.totals.rows,
        rejected: l.totals.rejected,
        duplicates: l.totals.duplicates,
        created_at: Rfc3339(l.created_at_ms),
    }
}

#[derive(Serialize)]
struct ListCreatedOut<'a> {
    #[serde(flatten)]
    list: ListOut<'a>,
    import: &'a ImportReport,
}

#[derive(Serialize)]
struct ListsOut<'a> {
    lists: Vec<ListOut<'a>>,
    /// Pass as `before` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<u64>,
}

#[derive(Serialize)]
struct WindowOut {
    start: String,
    end: String,
    timezone: Option<String>,
}

fn hh_mm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `+03:00`, `-05:30`, `+00:00`.
fn utc_offset(minutes: i16) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

fn window_out(w: &WindowSpec) -> WindowOut {
    WindowOut {
        start: hh_mm(w.start_min),
        end: hh_mm(w.end_min),
        timezone: w.utc_offset_min.map(utc_offset),
    }
}

#[derive(Serialize)]
struct SummaryOut<'a> {
    id: u64,
    name: &'a str,
    status: &'static str,
    list_id: u64,
    from: &'a SenderId,
    track_links: bool,
    send_at: Option<Rfc3339>,
    window: Option<WindowOut>,
    rate: Option<u32>,
    created_at: Rfc3339,
    updated_at: Rfc3339,
}

fn summary_out(c: &CampaignRecord) -> SummaryOut<'_> {
    SummaryOut {
        id: c.id.0,
        name: &c.name,
        status: c.status.as_str(),
        list_id: c.list.0,
        from: &c.from,
        track_links: c.track_links,
        send_at: c.send_at_ms.map(Rfc3339),
        window: c.window.as_ref().map(window_out),
        rate: c.rate,
        created_at: Rfc3339(c.created_at_ms),
        updated_at: Rfc3339(c.updated_at_ms),
    }
}

#[derive(Serialize)]
struct CampaignsOut<'a> {
    campaigns: Vec<SummaryOut<'a>>,
    /// Pass as `before` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<u64>,
}

#[derive(Serialize)]
struct EstimateOut<'a> {
    recipients: u64,
    total_segments: u64,
    ucs2_messages: u64,
    failed: u64,
    failures: &'a [PreviewFailure],
}

#[derive(Serialize)]
struct CreatedOut<'a> {
    id: u64,
    name: &'a str,
    status: &'static str,
    list_id: u64,
    preview: &'a [PreviewMessage],
    estimate: EstimateOut<'a>,
    import: Option<&'a ImportReport>,
}

#[derive(Serialize)]
struct FunnelStage {
    stage: &'static str,
    count: u64,
}

#[derive(Serialize)]
struct ErrorCount<'a> {
    code: &'a str,
    count: u64,
}

#[derive(Serialize)]
struct ReportOut<'a> {
    #[serde(flatten)]
    summary: SummaryOut<'a>,
    template: &'a str,
    counts: &'a CampaignCounts,
    delivery_rate: Option<f64>,
    click_through_rate: Option<f64>,
    latency: &'a Latency,
    funnel: [FunnelStage; 5],
    operators: &'a [OperatorBreakdown],
    errors: Vec<ErrorCount<'a>>,
}

fn report_out(r: &CampaignReport) -> ReportOut<'_> {
    let c = &r.counts;
    let stage = |stage, count| FunnelStage { stage, count };
    ReportOut {
        summary: summary_out(&r.campaign),
        template: &r.campaign.template,
        counts: c,
        // serde_json writes a non-finite number as null; keep it explicit.
        delivery_rate: r.delivery_rate.filter(|x| x.is_finite()),
        click_through_rate: r.click_through_rate.filter(|x| x.is_finite()),
        latency: &r.latency,
        funnel: [
            stage("total", c.total),
            stage("accepted", c.accepted),
            stage("submitted", c.submitted),
            stage("delivered", c.delivered),
            stage("clicked", c.unique_clicks),
        ],
        operators: &r.operators,
        errors: r
            .errors
            .iter()
            .map(|(code, count)| ErrorCount {
                code,
                count: *count,
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Lists

/// `POST /v1/lists?name=N`: the CSV as a `text/csv` body, or `multipart/form-data` with an
/// optional `name` part followed by a `file` part. Streamed into the engine.
pub async fn post_list(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<ListNameQuery>, QueryRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let limit = state.settings().max_upload_bytes;
    let (list, report) = match body_kind(req.headers()) {
        BodyKind::Csv => {
            let name = match q.name.as_deref() {
                Some(n) => check_name(n, "name")?,
                None => return Err(missing_list_name()),
            };
            let (tx, reader) = upload_channel();
            let work = state
                .engine
                .import_list(caller.account, name, Box::new(reader));
            drive(work, pump_body(req.into_body(), tx, limit)).await?
        }
        BodyKind::Multipart => {
            let mut parts = multipart(req, &state).await?;
            let mut name = match q.name.as_deref() {
                Some(n) => Some(check_name(n, "name")?),
                None => None,
            };
            loop {
                let Some(mut field) = parts
                    .next_field()
                    .await
                    .map_err(|e| multipart_error(&e, limit))?
                else {
                    return Err(ApiError::invalid(
                        "missing_field",
                        "file",
                        "the multipart body has no file part (the CSV, in a part named \"file\")",
                    ));
                };
                match field.name() {
                    Some("name") => {
                        let bytes = small_part(&mut field, "name", 4 * MAX_NAME, limit).await?;
                        let text = std::str::from_utf8(&bytes).map_err(|_| {
                            ApiError::invalid("invalid_name", "name", "name must be UTF-8 text")
                        })?;
                        name = Some(check_name(text, "name")?);
                    }
                    Some("file") => {
                        let Some(name) = name.take() else {
                            return Err(missing_list_name());
                        };
                        let (tx, reader) = upload_channel();
                        let work = state
                            .engine
                            .import_list(caller.account, name, Box::new(reader));
                        break drive(work, pump_field(&mut field, tx, limit)).await?;
                    }
                    other => return Err(unknown_part(other, &["name", "file"])),
                }
            }
        }
        BodyKind::Json | BodyKind::Other => {
            return Err(unsupported(
                "send the CSV as a text/csv body or as multipart/form-data with a file part",
            ))
        }
    };
    let out = ListCreatedOut {
        list: list_out(&list),
        import: &report,
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

fn missing_list_name() -> ApiError {
    ApiError::invalid(
        "missing_field",
        "name",
        "a list needs a name: ?name=... in the URL, or a name part before the file part",
    )
}

fn unknown_part(name: Option<&str>, known: &[&str]) -> ApiError {
    let name = name.unwrap_or("");
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "unknown_field",
        format!(
            "unknown multipart part {name:?}; the parts are {}",
            known.join(", ")
        ),
    )
    .with_field(name.to_owned())
}

/// `GET /v1/lists?before=&limit=`: newest first.
pub async fn list_lists(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (before, limit) = query(q)?.parse()?;
    let lists = state
        .engine
        .lists(caller.account, before.map(ListId), limit)
        .await?;
    let next_before = (lists.len() == limit)
        .then(|| lists.last().map(|l| l.id.0))
        .flatten();
    Ok(Json(ListsOut {
        lists: lists.iter().map(list_out).collect(),
        next_before,
    })
    .into_response())
}

/// `GET /v1/lists/{id}`: another account's list is 404.
pub async fn get_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "list")?;
    match state.engine.list(caller.account, ListId(id)).await? {
        Some(list) => Ok(Json(list_out(&list)).into_response()),
        None => Err(ApiError::not_found("list")),
    }
}

// ---------------------------------------------------------------------------------------
// Campaigns

/// `POST /v1/campaigns`: JSON (with `contacts_csv` or `list_id`), or `multipart/form-data`
/// with a `campaign` part (the JSON) followed by a `contacts` file part, streamed.
pub async fn post_campaign(
    State(state): State<AppState>,
    caller: Caller,
    req: Request,
) -> Result<Response, ApiError> {
    let settings = state.settings();
    let created =
        match body_kind(req.headers()) {
            BodyKind::Json | BodyKind::Other => {
                let bytes = whole_body(req.into_body(), settings.max_campaign_json_bytes).await?;
                let campaign = parse_campaign(&bytes)?;
                drop(bytes);
                let contacts = match (campaign.contacts_csv.is_some(), campaign.list_id) {
                    (true, None) => None,
                    (false, Some(id)) => Some(Contacts::List(ListId(id))),
                    (true, Some(_)) => {
                        return Err(invalid_contacts(
                            "give either contacts_csv or list_id, not both",
                        ))
                    }
                    (false, None) => {
                        return Err(invalid_contacts(
                            "give the recipients: contacts_csv (CSV text) or list_id (a list)",
                        ))
                    }
                };
                let mut campaign = campaign;
                let contacts = match contacts {
                    Some(c) => c,
                    None => {
                        let csv = campaign.contacts_csv.take().unwrap_or_default();
                        Contacts::Csv(Box::new(Cursor::new(csv.into_bytes())))
                    }
                };
                let request = campaign_request(campaign, contacts)?;
                state
                    .engine
                    .create_campaign(caller.account, request)
                    .await?
            }
            BodyKind::Multipart => multipart_campaign(&state, caller.account, req).await?,
            BodyKind::Csv => return Err(unsupported(
                "a campaign is JSON, or multipart/form-data with a campaign part and a contacts \
                 part (the CSV)",
            )),
        };
    let p = &created.preview;
    let c = &created.campaign;
    let out = CreatedOut {
        id: c.id.0,
        name: &c.name,
        status: c.status.as_str(),
        list_id: c.list.0,
        preview: &p.messages,
        estimate: EstimateOut {
            recipients: p.recipients,
            total_segments: p.total_segments,
            ucs2_messages: p.ucs2_messages,
            failed: p.failed,
            failures: &p.failures,
        },
        import: created.import.as_ref(),
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn multipart_campaign(
    state: &AppState,
    account: AccountId,
    req: Request,
) -> Result<tuma_engine::CampaignCreated, ApiError> {
    let settings = state.settings();
    let limit = settings.max_upload_bytes;
    let mut parts = multipart(req, state).await?;
    let mut campaign: Option<CampaignIn> = None;
    while let Some(mut field) = parts
        .next_field()
        .await
        .map_err(|e| multipart_error(&e, limit))?
    {
        match field.name() {
            Some("campaign") => {
                if campaign.is_some() {
                    return Err(ApiError::invalid(
                        "duplicate_part",
                        "campaign",
                        "the campaign part appears twice",
                    ));
                }
                let bytes =
                    small_part(&mut field, "campaign", settings.max_body_bytes, limit).await?;
                let c = parse_campaign(&bytes)?;
                if c.contacts_csv.is_some() {
                    return Err(invalid_contacts(
                        "a multipart request carries the CSV in its contacts part, not in \
                         contacts_csv",
                    ));
                }
                campaign = Some(c);
            }
            Some("contacts") => {
                let Some(c) = campaign.take() else {
                    return Err(ApiError::invalid(
                        "missing_field",
                        "campaign",
                        "the campaign part (the JSON) must come before the contacts part",
                    ));
                };
                if c.list_id.is_some() {
                    return Err(invalid_contacts(
                        "give either a contacts part or list_id, not both",
                    ));
                }
                let (tx, reader) = upload_channel();
                let request = campaign_request(c, Contacts::Csv(Box::new(reader)))?;
                let work = state.engine.create_campaign(account, request);
                return drive(work, pump_field(&mut field, tx, limit)).await;
            }
            other => return Err(unknown_part(other, &["campaign", "contacts"])),
        }
    }
    match campaign {
        Some(c) => match c.list_id {
            Some(id) => {
                let request = campaign_request(c, Contacts::List(ListId(id)))?;
                Ok(state.engine.create_campaign(account, request).await?)
            }
            None => Err(invalid_contacts(
                "give the recipients: a contacts part (the CSV) or list_id in the campaign part",
            )),
        },
        None => Err(ApiError::invalid(
            "missing_field",
            "campaign",
            "the multipart body has no campaign part (the campaign's JSON)",
        )),
    }
}

/// `GET /v1/campaigns?before=&limit=`: newest first.
pub async fn list_campaigns(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (before, limit) = query(q)?.parse()?;
    let campaigns = state
        .engine
        .campaigns(caller.account, before.map(CampaignId), limit)
        .await?;
    let next_before = (campaigns.len() == limit)
        .then(|| campaigns.last().map(|c| c.id.0))
        .flatten();
    Ok(Json(CampaignsOut {
        campaigns: campaigns.iter().map(summary_out).collect(),
        next_before,
    })
    .into_response())
}

/// `GET /v1/campaigns/{id}`: the summary, counts and report.
pub async fn get_campaign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "campaign")?;
    match state
        .engine
        .campaign(caller.account, CampaignId(id))
        .await?
    {
        Some(report) => Ok(Json(report_out(&report)).into_response()),
        None => Err(ApiError::not_found("campaign")),
    }
}

async fn change(
    state: &AppState,
    caller: Caller,
    id: &str,
    action: fn(&Engine, AccountId, CampaignId) -> ChangeFuture<'_>,
) -> Result<Response, ApiError> {
    let id = CampaignId(path_id(id, "campaign")?);
    let campaign = action(&state.engine, caller.account, id).await?;
    Ok(Json(summary_out(&campaign)).into_response())
}

type ChangeFuture<'a> =
    std::pin::Pin<Box<dyn Future<Output = Result<CampaignRecord, CampaignError>> + Send + 'a>>;

/// `POST /v1/campaigns/{id}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    change(&state, caller, &id, |e, a, id| {
        Box::pin(e.pause_campaign(a, id))
    })
    .await
}

/// `POST /v1/campaigns/{id}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    change(&state, caller, &id, |e, a, id| {
        Box::pin(e.resume_campaign(a, id))
    })
    .await
}

/// `POST /v1/campaigns/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    change(&state, caller, &id, |e, a, id| {
        Box::pin(e.cancel_campaign(a, id))
    })
    .await
}

// ---------------------------------------------------------------------------------------
// recipients.csv

/// `v` written into `buf` (cleared first), without a new allocation per field.
fn text(buf: &mut String, v: impl std::fmt::Display) -> &[u8] {
    buf.clear();
    let _ = write!(buf, "{v}");
    buf.as_bytes()
}

/// One page of `recipients.csv` (with the header line first when `header`). Fields are
/// quoted by the `csv` crate where needed.
fn csv_page(rows: &[RecipientRow], header: bool) -> Result<Bytes, io::Error> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::with_capacity(rows.len() * 100 + 96));
    if header {
        w.write_record(RECIPIENTS_HEADER)?;
    }
    let mut buf = String::new();
    for r in rows {
        w.write_field(text(&mut buf, r.seq))?;
        w.write_field(text(&mut buf, r.line))?;
        w.write_field(&r.to)?;
        w.write_field(&r.status)?;
        w.write_field(r.message_id.as_deref().unwrap_or(""))?;
        w.write_field(r.error.as_deref().unwrap_or(""))?;
        w.write_field(r.segments.map_or(&b""[..], |s| text(&mut buf, s)))?;
        w.write_field(
            r.submitted_at_ms
                .map_or(&b""[..], |t| text(&mut buf, Rfc3339(t))),
        )?;
        w.write_field(
            r.delivered_at_ms
                .map_or(&b""[..], |t| text(&mut buf, Rfc3339(t))),
        )?;
        w.write_field(text(&mut buf, r.clicks))?;
        // Ends the record.
        w.write_record(None::<&[u8]>)?;
    }
    w.into_inner()
        .map(Bytes::from)
        .map_err(|e| io::Error::other(e.to_string()))
}

/// `GET /v1/campaigns/{id}/recipients.csv`: one line per recipient, streamed page by page.
pub async fn recipients_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = CampaignId(path_id(&id, "campaign")?);
    let account = caller.account;
    let first = state
        .engine
        .recipient_rows(account, id, 0, RECIPIENT_PAGE)
        .await?;
    let head = csv_page(&first, true)
        .map_err(|e| ApiError::internal("writing recipients.csv failed", &e))?;
    let next = first.last().map(|r| (state.engine.clone(), r.seq));
    let rest = stream::try_unfold(next, move |next| async move {
        let Some((engine, after)) = next else {
            return Ok(None);
        };
        let rows = engine
            .recipient_rows(account, id, after, RECIPIENT_PAGE)
            .await
            .map_err(|e| {
                tracing::error!(campaign = id.0, error = %e, "recipients.csv: reading a page failed");
                io::Error::other("reading the campaign's recipients failed")
            })?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            return Ok(None);
        };
        let page = csv_page(&rows, false)?;
        Ok(Some((page, Some((engine, last)))))
    });
    let body = Body::from_stream(stream::once(async { Ok::<_, io::Error>(head) }).chain(rest));
    let disposition = format!("attachment; filename=\"campaign-{}-recipients.csv\"", id.0);
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(mut r: impl Read) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_reader_sees_chunks_then_the_end() {
        let (tx, reader) = upload_channel();
        let reading = tokio::task::spawn_blocking(move || read_all(reader));
        for chunk in ["phone,name\n", "+254700000101,", "Amina\n"] {
            tx.send(Chunk::Data(Bytes::from(chunk)))
                .await
                .expect("send");
        }
        tx.send(Chunk::End).await.expect("send");
        let bytes = reading.await.expect("join").expect("read");
        assert_eq!(bytes, b"phone,name\n+254700000101,Amina\n");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_pump_is_an_error_not_the_end_of_the_file() {
        let (tx, reader) = upload_channel();
        let reading = tokio::task::spawn_blocking(move || read_all(reader));
        tx.send(Chunk::Data(Bytes::from("phone\n+254700000101\n")))
            .await
            .expect("send");
        drop(tx);
        let err = reading.await.expect("join").expect_err("must fail");
        assert!(err.to_string().contains("stopped before its end"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_body_over_the_limit_fails_the_reader_and_answers_413() {
        let (tx, reader) = upload_channel();
        let reading = tokio::task::spawn_blocking(move || read_all(reader));
        let body = Body::from("phone\n+254700000101\n+254700000102\n");
        let err = pump_body(body, tx, 10).await.expect_err("over the limit");
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        let read = reading.await.expect("join").expect_err("must fail");
        assert!(read.to_string().contains("larger than 10 bytes"), "{read}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_stays_bounded_while_the_reader_is_slow() {
        // The pump can run ahead of the reader by the channel's capacity only.
        let (tx, mut reader) = upload_channel();
        let chunk = Bytes::from(vec![b'x'; 1024]);
        let pump = tokio::spawn(async move {
            let mut sent = 0usize;
            for _ in 0..1000 {
                if tx.send(Chunk::Data(chunk.clone())).await.is_err() {
                    break;
                }
                sent += 1;
            }
            sent
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!pump.is_finished(), "the pump must wait for the reader");
        let total = tokio::task::spawn_blocking(move || {
            let mut buf = [0u8; 4096];
            let mut total = 0;
            while total < 1000 * 1024 {
                total += reader.read(&mut buf).expect("read");
            }
            total
        })
        .await
        .expect("join");
        assert_eq!(total, 1000 * 1024);
        assert_eq!(pump.await.expect("join"), 1000);
    }

    #[test]
    fn campaign_errors_name_the_field() {
        let e = parse_campaign(br#"{"name":"n","template":"t","colour":1}"#).expect_err("unknown");
        assert_eq!((e.status.as_u16(), &*e.code), (400, "unknown_field"));
        assert_eq!(e.field.as_deref(), Some("colour"));

        let e = parse_campaign(br#"{"name":"n","template":"t","list_id":-1}"#).expect_err("neg");
        assert_eq!((e.status.as_u16(), &*e.code), (422, "invalid_type"));
        assert_eq!(e.field.as_deref(), Some("list_id"));

        let e =
            parse_campaign(br#"{"name":"n","template":"t","rate":5000000000}"#).expect_err("rate");
        assert_eq!(e.field.as_deref(), Some("rate"));
        assert!(e.message.contains("4294967295"), "{}", e.message);

        let e = parse_campaign(br#"{"name":"n","template":"t","track_links":"yes"}"#)
            .expect_err("bool");
        assert_eq!(e.field.as_deref(), Some("track_links"));

        let e = parse_campaign(br#"{"name":"n","template":"t","window":{"start":"08:00"}}"#)
            .expect_err("window");
        assert_eq!((e.status.as_u16(), &*e.code), (422, "missing_field"));
        assert_eq!(e.field.as_deref(), Some("window.end"));

        let e = parse_campaign(
            br#"{"name":"n","template":"t","window":{"start":"08:00","end":"20:00","tz":1}}"#,
        )
        .expect_err("window field");
        assert_eq!((e.status.as_u16(), &*e.code), (400, "unknown_field"));
        assert_eq!(e.field.as_deref(), Some("window.tz"));

        let e = parse_campaign(br#"{"template":"t"}"#).expect_err("name");
        assert_eq!((e.status.as_u16(), &*e.code), (422, "missing_field"));
        assert_eq!(e.field.as_deref(), Some("name"));

        let e = parse_campaign(br#"["n","t"]"#).expect_err("array");
        assert_eq!((e.status.as_u16(), &*e.code), (422, "invalid_type"));

        let e = parse_campaign(b"{\"name\": ").expect_err("syntax");
        assert_eq!((e.status.as_u16(), &*e.code), (400, "invalid_json"));

        let c = parse_campaign(
            br#"{"name":"n","template":"t","list_id":7,"track_links":true,"rate":20,
                 "window":{"start":"08:00","end":"20:00","timezone":"+03:00"}}"#,
        )
        .expect("valid");
        assert_eq!(
            (c.list_id, c.track_links, c.rate),
            (Some(7), Some(true), Some(20))
        );
        assert_eq!(c.window.map(|w| w.timezone), Some(Some("+03:00".into())));
    }

    #[test]
    fn csv_fields_are_escaped() {
        let row = RecipientRow {
            seq: 3,
            line: 4,
            to: "+254700000101".into(),
            status: "failed".into(),
            message_id: Some("m1".into()),
            error: Some("odd,\"code\"".into()),
            segments: Some(2),
            submitted_at_ms: Some(1_795_694_400_123),
            delivered_at_ms: None,
            clicks: 0,
        };
        let page = csv_page(&[row], true).expect("csv");
        let text = std::str::from_utf8(&page).expect("utf-8");
        assert_eq!(
            text,
            "seq,line,to,status,message_id,error,segments,submitted_at,delivered_at,clicks\n\
             3,4,+254700000101,failed,m1,\"odd,\"\"code\"\"\",2,2026-11-26T12:00:00.123Z,,0\n"
        );
    }

    #[test]
    fn windows_and_offsets_are_written_back() {
        let w = WindowSpec {
            start_min: 8 * 60,
            end_min: 20 * 60 + 30,
            utc_offset_min: Some(-330),
        };
        let out = window_out(&w);
        assert_eq!(
            (
                out.start.as_str(),
                out.end.as_str(),
                out.timezone.as_deref()
            ),
            ("08:00", "20:30", Some("-05:30"))
        );
        assert_eq!(utc_offset(180), "+03:00");
        assert_eq!(utc_offset(0), "+00:00");
    }
}
