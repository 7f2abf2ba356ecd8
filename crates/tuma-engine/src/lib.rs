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
//!
//! # Layout
//! - `intake`: parsing and routing in the caller's task; one intake task groups concurrent
//!   calls into one suppression look-up per account and one `insert_batch`.
//! - `dispatch`: per connector, the dispatcher task (queue, window, rate limit, throttle
//!   pause, retries) and one event task per session (bind state, receipts, replies).
//! - `status`: the status writer (submit results and receipts in batches; receipts are
//!   answered after their batch is committed).
//! - `timers`: outbox recovery at start, scheduled release, expiry, parked receipt cleanup.
//! - `metrics`: one Prometheus registry per engine.
//! - `mo`, [`webhooks`]: replies and opt-outs; signed status callbacks.
//!
//! Tasks hold the engine: dropping every [`Engine`] handle does not stop it; call
//! [`Engine::shutdown`].
#![forbid(unsafe_code)]

mod campaigns;
mod dispatch;
mod intake;
mod metrics;
mod mo;
mod status;
mod timers;
pub mod webhooks;

pub use campaigns::{
    CampaignConfig, CampaignCounts, CampaignCreated, CampaignError, CampaignReport,
    CampaignRequest, Contacts, ImportReport, Latency, OperatorBreakdown, RecipientRow,
    WindowRequest,
};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sms_text::Encoding;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tuma_domain::{
    ConnectorId, Defaults, MessageId, MessageStatus, Msisdn, MultipartPolicy, RetryPolicy,
    RouteError, RouteSpec, RouteTable, TonNpi,
};
use tuma_store::{
    Account, AccountId, AccountSettings, Idempotency, MessageRecord, StoreError, Stores,
};

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
    pub fn new(
        id: ConnectorId,
        address: impl Into<String>,
        system_id: &str,
        password: &str,
    ) -> Self {
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
    /// Campaigns (link base, operator prefixes, runner pacing).
    pub campaigns: CampaignConfig,
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
    /// The campaign recipient (campaign runner only): a second message for the same one is
    /// not stored; the first is returned with `existing`.
    pub campaign: Option<tuma_store::CampaignRef>,
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

/// Engine-wide counters, for `tuma bench` and the dashboard (plain numbers, cheap to read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineCounts {
    /// Messages stored as `accepted` or `scheduled`.
    pub accepted: u64,
    /// Messages whose every segment the SMSC accepted.
    pub submitted: u64,
    /// Messages delivered (final receipt).
    pub delivered: u64,
    /// Messages failed (refused at submit, failed receipt, retries exhausted).
    pub failed: u64,
    /// Messages expired with no final receipt.
    pub expired: u64,
    /// Messages stored as `suppressed` (opted-out numbers).
    pub suppressed: u64,
    /// Requests refused at intake (invalid, no route, idempotency conflict).
    pub rejected: u64,
    /// Messages waiting in memory for dispatch.
    pub queued: u64,
    /// submit_sm awaiting their response, all connectors.
    pub in_flight: u64,
}

/// The running engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    stores: Stores,
    clock: Clock,
    config: EngineConfig,
    routing: Routing,
    connectors: Vec<Arc<dispatch::ConnectorShared>>,
    intake: mpsc::Sender<intake::IntakeJob>,
    /// Accounts by id, read through: intake needs each account's default callback URL and
    /// must not ask the database for it per request.
    accounts: RwLock<HashMap<AccountId, Account>>,
    tally: metrics::Tally,
    metrics: metrics::Metrics,
    /// Messages handed to connectors and not yet taken out of their queues.
    queued: AtomicUsize,
    /// Cleared by `shutdown`: submit answers `ShuttingDown`.
    accepting: AtomicBool,
    /// `submit` calls running now (shutdown waits for them).
    submitting: AtomicUsize,
    status: status::StatusSender,
    shutdown: watch::Sender<bool>,
    /// Timer runs are exclusive (the periodic task and `run_timers_now`).
    timers: tokio::sync::Mutex<()>,
    tasks: Mutex<Tasks>,
    mo: mo::MoHandler,
    /// Spreads messages over a route's connectors (weighted round-robin).
    route_counter: AtomicU64,
    /// Campaigns whose runner task is alive (at most one each).
    campaign_runners: Mutex<std::collections::HashSet<tuma_store::CampaignId>>,
    /// Campaigns this process paused or cancelled (their runners stop at the next page).
    campaign_stops: Mutex<std::collections::HashSet<tuma_store::CampaignId>>,
    /// Per campaign, held while a page is handed over (pause and cancel wait for it).
    campaign_pages: Mutex<HashMap<tuma_store::CampaignId, Arc<tokio::sync::Semaphore>>>,
    /// Reports of large campaigns, reused for a moment.
    campaign_reports: Mutex<HashMap<tuma_store::CampaignId, campaigns::CachedReport>>,
}

#[derive(Default)]
struct Tasks {
    dispatchers: Vec<JoinHandle<()>>,
    others: Vec<JoinHandle<()>>,
    webhooks: Option<JoinHandle<()>>,
    status: Option<JoinHandle<()>>,
}

/// How a message finds its connector.
enum Routing {
    /// No routes configured: the first connector, failing over to the others in order.
    Ordered,
    /// The configured table.
    Table(RouteTable),
}

impl Engine {
    /// Starts every service: connectors (binding in the background: a down SMSC does not stop
    /// the start), recovery of the outbox, timers, the webhook worker.
    pub async fn start(
        config: EngineConfig,
        stores: Stores,
        clock: Clock,
    ) -> Result<Self, EngineError> {
        let routing = build_routing(&config)?;
        let counters = webhooks::WebhookCounters::default();
        let metrics = metrics::Metrics::new(&counters);
        let (shutdown, _) = watch::channel(false);
        let (status, status_rx) = status::channel();
        let (intake_tx, intake_rx) = mpsc::channel(intake::QUEUE);
        let started_ms = clock.now_ms();

        let mut connectors = Vec::with_capacity(config.connectors.len());
        let mut work_rxs = Vec::with_capacity(config.connectors.len());
        for (index, c) in config.connectors.iter().enumerate() {
            if config.connectors[..index].iter().any(|o| o.id == c.id) {
                return Err(EngineError::Config(format!(
                    "connectors: {:?} is configured twice",
                    c.id.as_str()
                )));
            }
            let (shared, rx) = dispatch::ConnectorShared::new(index, c.clone(), &metrics)?;
            connectors.push(shared);
            work_rxs.push(rx);
        }

        let inner = Arc::new(Inner {
            mo: mo::MoHandler::new(stores.clone(), config.inbound.clone(), clock.clone()),
            stores,
            clock,
            routing,
            connectors,
            intake: intake_tx,
            accounts: RwLock::new(HashMap::new()),
            tally: metrics::Tally::default(),
            metrics,
            queued: AtomicUsize::new(0),
            accepting: AtomicBool::new(true),
            submitting: AtomicUsize::new(0),
            status,
            shutdown,
            timers: tokio::sync::Mutex::new(()),
            tasks: Mutex::new(Tasks::default()),
            route_counter: AtomicU64::new(0),
            campaign_runners: Mutex::new(Default::default()),
            campaign_stops: Mutex::new(Default::default()),
            campaign_pages: Mutex::new(HashMap::new()),
            campaign_reports: Mutex::new(HashMap::new()),
            config,
        });
        let engine = Self { inner };

        let mut tasks = Tasks {
            status: Some(tokio::spawn(status::run(engine.clone(), status_rx))),
            ..Tasks::default()
        };
        tasks
            .others
            .push(tokio::spawn(intake::run(engine.clone(), intake_rx)));
        for (shared, rx) in engine.inner.connectors.iter().zip(work_rxs) {
            let (dispatcher, bind_tasks) = dispatch::start(engine.clone(), shared.clone(), rx);
            tasks.dispatchers.push(dispatcher);
            tasks.others.extend(bind_tasks);
        }
        tasks
            .others
            .push(tokio::spawn(timers::run(engine.clone(), started_ms)));
        tasks.webhooks = Some(tokio::spawn(webhooks::run(
            engine.inner.stores.clone(),
            engine.inner.config.webhooks.clone(),
            engine.inner.clock.clone(),
            counters,
            engine.inner.shutdown.subscribe(),
        )));
        *lock(&engine.inner.tasks) = tasks;
        // Runners are tasks of their own (they stop at shutdown); they start once the
        // outbox recovery above has its head start.
        let recovering = engine.clone();
        tokio::spawn(async move { recovering.recover_campaigns().await });
        Ok(engine)
    }

    /// Validates, routes, suppresses, stores (one store call, durable when it returns) and
    /// queues for dispatch. One result per request, in order; `Err` only when nothing could
    /// be accepted (overload, shutdown, store failure).
    ///
    /// Concurrent calls are grouped: one intake task stores whatever calls are waiting in
    /// one `insert_batch` (one suppression look-up per account), so single-message requests
    /// share commits.
    pub async fn submit(
        &self,
        account: AccountId,
        requests: Vec<SubmitRequest>,
    ) -> Result<Vec<Result<Accepted, Rejection>>, EngineError> {
        self.submit_inner(account, requests, true).await
    }

    /// [`Engine::submit`] without the suppression check: for STOP confirmations, which go to
    /// a number that has just opted out.
    pub(crate) async fn submit_unsuppressed(
        &self,
        account: AccountId,
        request: SubmitRequest,
    ) -> Result<Result<Accepted, Rejection>, EngineError> {
        let mut results = self.submit_inner(account, vec![request], false).await?;
        results
            .pop()
            .ok_or_else(|| EngineError::Config("intake answered no result".into()))
    }

    async fn submit_inner(
        &self,
        account: AccountId,
        requests: Vec<SubmitRequest>,
        check_suppression: bool,
    ) -> Result<Vec<Result<Accepted, Rejection>>, EngineError> {
        let inner = &self.inner;
        inner.submitting.fetch_add(1, Ordering::AcqRel);
        let _guard = CountGuard(&inner.submitting);
        if !inner.accepting.load(Ordering::Acquire) {
            return Err(EngineError::ShuttingDown);
        }
        let queued = inner.queued.load(Ordering::Relaxed);
        if queued >= inner.config.max_queued {
            return Err(EngineError::Overloaded { queued });
        }
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let default_callback = self
            .account(account)
            .await?
            .and_then(|a| a.settings.callback_url);
        let now = inner.clock.now_ms();
        let items = intake::prepare(self, requests, default_callback.as_deref(), now);
        let (reply, rx) = oneshot::channel();
        let job = intake::IntakeJob {
            account,
            items,
            check_suppression,
            reply,
        };
        inner
            .intake
            .send(job)
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        rx.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// A message of `account` (with segments and events).
    pub async fn message(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError> {
        self.inner.stores.messages.get(account, id).await
    }

    /// An account, from the engine's cache (read from the store the first time).
    pub async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        if let Some(account) = read(&self.inner.accounts).get(&id) {
            return Ok(Some(account.clone()));
        }
        let account = self.inner.stores.accounts.get_account(id).await?;
        if let Some(a) = &account {
            write(&self.inner.accounts).insert(id, a.clone());
        }
        Ok(account)
    }

    /// Changes an account's settings in the store and in the engine's cache (later
    /// submissions use the new default callback URL).
    pub async fn update_account_settings(
        &self,
        id: AccountId,
        settings: AccountSettings,
    ) -> Result<Account, StoreError> {
        let account = self
            .inner
            .stores
            .accounts
            .update_account_settings(id, settings)
            .await?;
        write(&self.inner.accounts).insert(id, account.clone());
        Ok(account)
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
        let now = self.inner.clock.now_ms();
        self.inner
            .connectors
            .iter()
            .map(|c| c.health(now))
            .collect()
    }

    /// Engine-wide counters.
    pub fn counts(&self) -> EngineCounts {
        let t = &self.inner.tally;
        let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        EngineCounts {
            accepted: get(&t.accepted),
            submitted: get(&t.submitted),
            delivered: get(&t.delivered),
            failed: get(&t.failed),
            expired: get(&t.expired),
            suppressed: get(&t.suppressed),
            rejected: get(&t.rejected),
            queued: self.inner.queued.load(Ordering::Relaxed) as u64,
            in_flight: self
                .inner
                .connectors
                .iter()
                .map(|c| c.in_flight.load(Ordering::Relaxed) as u64)
                .sum(),
        }
    }

    /// Prometheus text exposition of the engine's metrics.
    pub fn render_metrics(&self) -> String {
        self.inner.metrics.render()
    }

    /// Runs the timers once now (scheduled release, expiry, parked receipts), for tests that
    /// moved the clock.
    pub async fn run_timers_now(&self) -> Result<(), EngineError> {
        timers::run_once(self).await
    }

    /// Stops intake, lets in-flight submits finish (up to `grace`; unfinished ones stay in
    /// the outbox for the next start), flushes status writes, unbinds.
    pub async fn shutdown(&self, grace: Duration) {
        let inner = &self.inner;
        let deadline = tokio::time::Instant::now() + grace;
        inner.accepting.store(false, Ordering::Release);
        // Calls already past the check finish storing: their callers get their ids.
        while inner.submitting.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let _ = inner.shutdown.send(true);
        let tasks = std::mem::take(&mut *lock(&inner.tasks));
        // Dispatchers wait for their in-flight submits (bounded by the grace period) and
        // unbind; their results reach the status writer before it is flushed.
        for mut task in tasks.dispatchers {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                // Past the grace period: what is still in flight is settled at the next
                // start (its segments are pending in the outbox).
                task.abort();
            }
        }
        inner.status.flush().await;
        if let Some(task) = tasks.webhooks {
            // The worker finishes its requests in flight (each bounded by its timeout).
            let _ = tokio::time::timeout_at(
                deadline.max(tokio::time::Instant::now() + Duration::from_millis(100)),
                task,
            )
            .await;
        }
        for task in tasks.others {
            task.abort();
        }
        if let Some(task) = tasks.status {
            task.abort();
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Routes `to`: the connector index, or `None` when no route matches.
    pub(crate) fn route(&self, to: &Msisdn, counter: u64) -> Option<usize> {
        let connectors = &self.inner.connectors;
        match &self.inner.routing {
            Routing::Ordered => {
                if connectors.is_empty() {
                    return None;
                }
                // The first connector that is up; when none is, the first one (the message
                // waits in its queue and outbox until it binds).
                Some(connectors.iter().position(|c| c.is_up()).unwrap_or(0))
            }
            Routing::Table(table) => {
                let up = |id: &ConnectorId| {
                    self.connector_index(id)
                        .is_some_and(|i| connectors[i].is_up())
                };
                let chosen = match table.route(to, up, counter) {
                    Ok(id) => id,
                    Err(RouteError::AllDown { .. }) => table.route(to, |_| true, counter).ok()?,
                    Err(_) => return None,
                };
                self.connector_index(&chosen)
            }
        }
    }

    pub(crate) fn connector_index(&self, id: &ConnectorId) -> Option<usize> {
        self.inner
            .connectors
            .iter()
            .position(|c| c.config.id == *id)
    }
}

impl Inner {
    pub(crate) fn stores(&self) -> &Stores {
        &self.stores
    }
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }
    pub(crate) fn config(&self) -> &EngineConfig {
        &self.config
    }
    pub(crate) fn connectors(&self) -> &[Arc<dispatch::ConnectorShared>] {
        &self.connectors
    }
    pub(crate) fn tally(&self) -> &metrics::Tally {
        &self.tally
    }
    pub(crate) fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }
    pub(crate) fn queued(&self) -> &AtomicUsize {
        &self.queued
    }
    pub(crate) fn status(&self) -> &status::StatusSender {
        &self.status
    }
    pub(crate) fn shutdown_rx(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
    pub(crate) fn timers_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.timers
    }
    pub(crate) fn mo(&self) -> &mo::MoHandler {
        &self.mo
    }
    pub(crate) fn next_route_counter(&self) -> u64 {
        self.route_counter.fetch_add(1, Ordering::Relaxed)
    }
}

/// Sends a STOP / START confirmation (skipping the suppression check: after STOP the
/// number is suppressed, and this is the one message it should still get).
pub(crate) async fn send_confirmation(engine: &Engine, confirmation: Option<mo::Confirmation>) {
    let Some(c) = confirmation else {
        return;
    };
    let request = SubmitRequest {
        to: c.to,
        from: Some(c.from),
        text: c.text,
        ..SubmitRequest::default()
    };
    match engine.submit_unsuppressed(c.account, request).await {
        Ok(Ok(_)) => {}
        Ok(Err(rejection)) => {
            tracing::warn!(code = %rejection.code, message = %rejection.message, "opt-out confirmation refused");
        }
        Err(error) => tracing::warn!(%error, "opt-out confirmation not sent"),
    }
}

fn build_routing(config: &EngineConfig) -> Result<Routing, EngineError> {
    if config.routes.is_empty() {
        return Ok(Routing::Ordered);
    }
    for route in &config.routes {
        for c in &route.connectors {
            if !config.connectors.iter().any(|k| k.id == c.connector) {
                return Err(EngineError::Config(format!(
                    "routes: prefix {:?} names connector {:?}, which is not configured",
                    route.prefix,
                    c.connector.as_str()
                )));
            }
        }
    }
    RouteTable::new(config.routes.clone())
        .map(Routing::Table)
        .map_err(|e| EngineError::Config(format!("routes: {e}")))
}

/// Resolves once the shutdown flag is set (or its sender is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Decrements a counter when dropped (also on cancellation).
struct CountGuard<'a>(&'a AtomicUsize);

impl Drop for CountGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Locks ignoring poisoning: the data behind these locks stays consistent at every await-free
/// step, so a panic elsewhere does not make it unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// Which connector names a [`ConnectorId`] list contains (helper for routes).
pub fn connector_names(config: &EngineConfig) -> Vec<ConnectorId> {
    config.connectors.iter().map(|c| c.id.clone()).collect()
}
