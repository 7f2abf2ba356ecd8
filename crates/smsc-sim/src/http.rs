//! The JSON control API: handset inboxes, MO injection, counters and Prometheus metrics.
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `/v1/handsets/{msisdn}/messages` | the reassembled inbox, oldest first |
//! | POST | `/v1/handsets/{msisdn}/messages` | `{"to", "text"}`: the handset replies (MO) |
//! | GET | `/v1/stats` | counters as JSON |
//! | GET | `/metrics` | the same counters in Prometheus text format |
//!
//! Errors are `{"error": {"code", "message", "field"}}` with a 4xx status.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::engine::{Engine, MoError};

/// The engine shared by the socket layer and the HTTP API.
pub struct Sim {
    engine: Mutex<Engine>,
    outbound_ready: Notify,
    clock: Box<dyn Fn() -> u64 + Send + Sync>,
}

/// What handlers and sessions hold.
pub type SharedSim = Arc<Sim>;

fn system_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Sim {
    /// Shares `engine`, reading the system clock.
    pub fn new(engine: Engine) -> SharedSim {
        Self::with_clock(engine, system_now_ms)
    }

    /// Shares `engine` with a given clock (Unix milliseconds), for tests.
    pub fn with_clock(
        engine: Engine,
        clock: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> SharedSim {
        Arc::new(Self {
            engine: Mutex::new(engine),
            outbound_ready: Notify::new(),
            clock: Box::new(clock),
        })
    }

    /// Locks the engine. Hold it briefly and never across an `.await`. A panic while it was
    /// held does not make it unusable: the engine's state is always consistent between calls.
    pub fn lock(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The clock's current time in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        (self.clock)()
    }

    /// Notified when deliver_sm (receipts, MO) may be waiting: receiver sessions wait on it
    /// and then call [`Engine::take_outbound`].
    pub fn outbound_ready(&self) -> &Notify {
        &self.outbound_ready
    }
}

/// The control API router.
pub fn router(state: SharedSim) -> Router {
    Router::new()
        .route(
            "/v1/handsets/{msisdn}/messages",
            get(get_inbox).post(post_mo),
        )
        .route("/v1/stats", get(get_stats))
        .route("/metrics", get(get_metrics))
        .with_state(state)
}

#[derive(Serialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize)]
struct ErrorDetail {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

fn error(
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<&'static str>,
) -> Response {
    (
        status,
        Json(ErrorBody {
            error: ErrorDetail {
                code,
                message,
                field,
            },
        }),
    )
        .into_response()
}

/// The error response for a path msisdn that is not 7-15 digits, `None` when it is fine.
fn check_msisdn(msisdn: &str) -> Option<Response> {
    let ok = (7..=15).contains(&msisdn.len()) && msisdn.bytes().all(|b| b.is_ascii_digit());
    if ok {
        None
    } else {
        Some(error(
            StatusCode::BAD_REQUEST,
            "invalid_msisdn",
            format!("{msisdn:?} is not an international number of 7 to 15 digits without '+'"),
            Some("msisdn"),
        ))
    }
}

#[derive(Serialize)]
struct InboxEntry {
    from: String,
    text: String,
    parts: u8,
    received_at: String,
    data_coding: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

async fn get_inbox(State(sim): State<SharedSim>, Path(msisdn): Path<String>) -> Response {
    if let Some(r) = check_msisdn(&msisdn) {
        return r;
    }
    let now = sim.now_ms();
    let (messages, finished) = {
        let mut engine = sim.lock();
        // Catch up on deliveries that are due, so the answer reflects `now`.
        let finished = engine.advance(now);
        (engine.inbox(&msisdn), finished)
    };
    if finished > 0 {
        sim.outbound_ready.notify_waiters();
    }
    let body: Vec<InboxEntry> = messages
        .into_iter()
        .map(|m| InboxEntry {
            received_at: crate::clock::rfc3339(m.received_at_ms),
            from: m.from,
            text: m.text,
            parts: m.parts,
            data_coding: m.data_coding,
            error: m.error,
        })
        .collect();
    Json(body).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoRequest {
    to: String,
    text: String,
}

#[derive(Serialize)]
struct MoResponse {
    account: String,
    parts: usize,
}

async fn post_mo(
    State(sim): State<SharedSim>,
    Path(msisdn): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = check_msisdn(&msisdn) {
        return r;
    }
    let request: MoRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("expected {{\"to\": string, \"text\": string}}: {e}"),
                None,
            )
        }
    };
    let result = {
        let mut engine = sim.lock();
        engine.mo(&msisdn, &request.to, &request.text).map(|a| {
            (
                engine.system_id(a.account).unwrap_or_default().to_owned(),
                a.parts,
            )
        })
    };
    match result {
        Ok((account, parts)) => {
            sim.outbound_ready.notify_waiters();
            (StatusCode::ACCEPTED, Json(MoResponse { account, parts })).into_response()
        }
        Err(e @ MoError::InvalidFrom(_)) => error(
            StatusCode::BAD_REQUEST,
            "invalid_msisdn",
            e.to_string(),
            Some("msisdn"),
        ),
        Err(e @ MoError::InvalidTo(_)) => error(
            StatusCode::BAD_REQUEST,
            "invalid_to",
            e.to_string(),
            Some("to"),
        ),
        Err(e @ MoError::Text(_)) => error(
            StatusCode::BAD_REQUEST,
            "invalid_text",
            e.to_string(),
            Some("text"),
        ),
        Err(e @ MoError::NoRoute(_)) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_route",
            e.to_string(),
            Some("to"),
        ),
    }
}

async fn get_stats(State(sim): State<SharedSim>) -> Response {
    let stats = sim.lock().stats();
    Json(stats).into_response()
}

async fn get_metrics(State(sim): State<SharedSim>) -> Response {
    let s = sim.lock().stats();
    let counters: [(&str, &str, u64); 16] = [
        ("binds_total", "Successful binds.", s.binds),
        ("bind_failures_total", "Refused binds.", s.bind_failures),
        (
            "submit_sm_total",
            "submit_sm and data_sm received.",
            s.submit_sm,
        ),
        ("accepted_total", "Submissions accepted.", s.accepted),
        (
            "rejected_total",
            "Submissions refused (not throttling).",
            s.rejected,
        ),
        (
            "throttled_total",
            "Submissions refused with ESME_RTHROTTLED.",
            s.throttled,
        ),
        (
            "delivered_total",
            "Messages delivered to handsets.",
            s.delivered,
        ),
        ("failed_total", "Messages UNDELIV or REJECTD.", s.failed),
        ("expired_total", "Messages EXPIRED.", s.expired),
        ("cancelled_total", "Messages cancelled.", s.cancelled),
        (
            "receipts_sent_total",
            "Delivery receipts handed to sessions.",
            s.receipts_sent,
        ),
        ("mo_total", "MO messages from handsets.", s.mo),
        (
            "mo_parts_sent_total",
            "MO deliver_sm parts handed to sessions.",
            s.mo_parts_sent,
        ),
        (
            "reassembly_timeouts_total",
            "Incomplete concatenations dropped by handsets.",
            s.reassembly_timeouts,
        ),
        (
            "inbox_dropped_total",
            "Oldest inbox messages dropped at the inbox limit.",
            s.inbox_dropped,
        ),
        ("bound", "Binds open now.", s.bound),
    ];
    let mut out = String::new();
    for (name, help, value) in counters {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        out += &format!("# HELP smsc_sim_{name} {help}\n# TYPE smsc_sim_{name} {kind}\nsmsc_sim_{name} {value}\n");
    }
    for (name, help, value) in [
        ("queued", "Messages stored and not yet final.", s.queued),
        (
            "outbound_pending",
            "deliver_sm waiting for a receiver bind.",
            s.outbound_pending,
        ),
    ] {
        out += &format!("# HELP smsc_sim_{name} {help}\n# TYPE smsc_sim_{name} gauge\nsmsc_sim_{name} {value}\n");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
