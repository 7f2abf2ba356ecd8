//! Dispatch: one task per connector owns its queue and its binds' request handles.
//!
//! - Messages arrive from intake (committed) and from the timers (recovery, scheduled) in
//!   batches, and wait in a FIFO. A message is encoded (`sms_text::encode`, the connector's
//!   concatenation method, a random reference) only when it reaches the front, so memory
//!   holds texts, not PDUs.
//! - The task keeps every bound session's window full with `try_send_request` (no task per
//!   request: the response futures are polled together), takes a token per segment from the
//!   connector's bucket (`rate_limit`, shared by all binds), and routes each response
//!   through the [`RetryPolicy`](tuma_domain::RetryPolicy).
//! - `ESME_RTHROTTLED` / `ESME_RMSGQFUL` pause the whole connector; the segment, and any
//!   other that comes back throttled, returns to the front in its original order (segments
//!   carry a sequence number; returned ones wait in an ordered map drawn before the queue).
//!   A segment already in flight when the first throttle answer arrives was judged by the
//!   SMSC on its own; if it is accepted it stays sent (nothing can unsend it).
//! - Temporary errors wait in an in-memory delay queue (the store has the due time too, for
//!   a restart); permanent ones fail the segment with the SMPP status in the error.
//!
//! One more task per bind reads its events: bind state, receipts (to the status writer,
//! answered after commit) and replies (to the MO handler).

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use rand::{Rng, SeedableRng};
use smpp::pdu::{Bind, DataSm, DeliverSm, SubmitSm};
use smpp::tlv::Tlv;
use smpp::types::{Address, DataCoding, EsmClass, RegisteredDelivery, ShortMessage, TimeString};
use smpp::{BindKind, CommandStatus, PduBody, RelativeTime, SessionConfig};
use smpp_tokio::{
    EsmeClient, EsmeConfig, EsmeEvent, EsmeHandle, RequestError, RequestResult, ResponseFuture,
};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tuma_domain::{Decision, MessageId, Msisdn, SenderId, SubmitOutcome, TonNpi};
use tuma_store::{ErrorInfo, SubmitOutcomeRecord, SubmitResult};

use crate::metrics::{ConnectorMetrics, Metrics};
use crate::{
    BindType, ConcatMethod, ConnectorConfig, ConnectorHealth, Engine, EngineError, TlsSettings,
};

/// How long shutdown waits for one session's unbind.
const UNBIND_WAIT: Duration = Duration::from_secs(5);

/// A message waiting for dispatch.
pub(crate) struct OutMsg {
    pub(crate) id: MessageId,
    pub(crate) to: Msisdn,
    pub(crate) from: SenderId,
    pub(crate) text: String,
    pub(crate) expires_at_ms: u64,
    /// When intake accepted it (submit latency is measured from here).
    pub(crate) accepted_at: Instant,
    /// Segments still to send with their failed attempts so far; `None`: all, none failed.
    pub(crate) pending: Option<Vec<(u8, u32)>>,
    /// Segments in the message.
    pub(crate) total: u8,
    /// Not before this time (Unix ms; a recovered retry's backoff).
    pub(crate) due_at_ms: u64,
}

/// What other tasks see of a connector.
pub(crate) struct ConnectorShared {
    pub(crate) index: usize,
    pub(crate) config: ConnectorConfig,
    /// Sessions bound now.
    pub(crate) bound: AtomicUsize,
    /// Segments waiting (queued messages count as their segments once encoded).
    pub(crate) queued: AtomicUsize,
    /// Requests in flight.
    pub(crate) in_flight: AtomicUsize,
    /// Paused by a throttle until (Unix ms, 0: not paused).
    pub(crate) paused_until_ms: AtomicU64,
    work: mpsc::UnboundedSender<Vec<OutMsg>>,
    /// Signalled when a session binds.
    wake: Notify,
    pub(crate) metrics: ConnectorMetrics,
    esme: EsmeConfig,
    dialer: Dialer,
}

#[derive(Clone)]
enum Dialer {
    Tcp(String),
    Tls {
        connector: smpp_tokio::tls::TlsConnector,
        name: rustls::pki_types::ServerName<'static>,
        address: String,
    },
}

impl ConnectorShared {
    /// Checks the connector's settings and prepares its sessions' configuration.
    pub(crate) fn new(
        index: usize,
        config: ConnectorConfig,
        metrics: &Metrics,
    ) -> Result<(Arc<Self>, mpsc::UnboundedReceiver<Vec<OutMsg>>), EngineError> {
        let name = config.id.as_str().to_owned();
        let bad = |what: &str| EngineError::Config(format!("connector {name:?}: {what}"));
        if config.binds == 0 {
            return Err(bad("binds must be at least 1"));
        }
        if config.window == 0 || config.window > smpp::session::MAX_WINDOW {
            return Err(bad("window must be between 1 and 65536"));
        }
        if config.rate_limit == Some(0) {
            return Err(bad("rate_limit must be at least 1 segment per second"));
        }
        let bind = Bind {
            system_id: config
                .system_id
                .parse()
                .map_err(|e| bad(&format!("system_id: {e}")))?,
            password: config
                .password
                .parse()
                .map_err(|e| bad(&format!("password: {e}")))?,
            system_type: config
                .system_type
                .parse()
                .map_err(|e| bad(&format!("system_type: {e}")))?,
            ..Bind::default()
        };
        let kind = match config.bind_type {
            BindType::Transceiver => BindKind::Transceiver,
            BindType::Transmitter => BindKind::Transmitter,
        };
        let mut esme = EsmeConfig::new(kind, bind);
        esme.session = SessionConfig {
            window: config.window,
            response_timeout: config.response_timeout,
            enquire_link_interval: Some(config.enquire_link),
            ..SessionConfig::default()
        };
        esme.event_capacity = 4096;
        let dialer = match &config.tls {
            None => Dialer::Tcp(config.address.clone()),
            Some(tls) => tls_dialer(&config.address, tls).map_err(|e| bad(&e))?,
        };
        let (work, rx) = mpsc::unbounded_channel();
        let metrics = metrics.connector(&name);
        metrics
            .window
            .set(i64::try_from(config.window * config.binds).unwrap_or(i64::MAX));
        Ok((
            Arc::new(Self {
                index,
                config,
                bound: AtomicUsize::new(0),
                queued: AtomicUsize::new(0),
                in_flight: AtomicUsize::new(0),
                paused_until_ms: AtomicU64::new(0),
                work,
                wake: Notify::new(),
                metrics,
                esme,
                dialer,
            }),
            rx,
        ))
    }

    /// Whether at least one session is bound.
    pub(crate) fn is_up(&self) -> bool {
        self.bound.load(Ordering::Relaxed) > 0
    }

    /// Hands committed messages to the dispatcher.
    pub(crate) fn enqueue(&self, messages: Vec<OutMsg>) {
        self.queued.fetch_add(messages.len(), Ordering::Relaxed);
        if self.work.send(messages).is_err() {
            // Only after shutdown: the messages stay in the outbox for the next start.
            tracing::debug!(connector = %self.config.id, "dispatcher stopped; messages left in the outbox");
        }
    }

    pub(crate) fn health(&self, now_ms: u64) -> ConnectorHealth {
        let paused = self.paused_until_ms.load(Ordering::Relaxed);
        ConnectorHealth {
            id: self.config.id.as_str().to_owned(),
            binds: self.config.binds,
            bound: self.bound.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            paused_until_ms: (paused > now_ms).then_some(paused),
        }
    }
}

fn tls_dialer(address: &str, tls: &TlsSettings) -> Result<Dialer, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let mut roots = rustls::RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            let pem =
                std::fs::read(path).map_err(|e| format!("tls.ca_file {}: {e}", path.display()))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| format!("tls.ca_file {}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("tls.ca_file {}: {e}", path.display()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let host = match &tls.server_name {
        Some(name) => name.clone(),
        None => address
            .rsplit_once(':')
            .map_or(address, |(host, _)| host)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    };
    let name =
        ServerName::try_from(host.clone()).map_err(|e| format!("tls.server_name {host:?}: {e}"))?;
    let connector = smpp_tokio::tls::connector(roots).map_err(|e| format!("tls: {e}"))?;
    Ok(Dialer::Tls {
        connector,
        name,
        address: address.to_owned(),
    })
}

fn connect(dialer: &Dialer, config: EsmeConfig) -> EsmeClient {
    match dialer.clone() {
        Dialer::Tcp(address) => EsmeClient::connect_with_reconnect(
            move || smpp_tokio::esme::dial_tcp(address.clone()),
            config,
        ),
        Dialer::Tls {
            connector,
            name,
            address,
        } => EsmeClient::connect_with_reconnect(
            move || smpp_tokio::tls::dial_tls(connector.clone(), name.clone(), address.clone()),
            config,
        ),
    }
}

/// Starts a connector: its sessions, their event tasks and the dispatcher.
pub(crate) fn start(
    engine: Engine,
    shared: Arc<ConnectorShared>,
    work: mpsc::UnboundedReceiver<Vec<OutMsg>>,
) -> (JoinHandle<()>, Vec<JoinHandle<()>>) {
    let mut handles = Vec::with_capacity(shared.config.binds);
    let mut tasks = Vec::new();
    for _ in 0..shared.config.binds {
        let (handle, events) = connect(&shared.dialer, shared.esme.clone()).into_parts();
        handles.push(handle);
        tasks.push(tokio::spawn(read_events(
            engine.clone(),
            shared.clone(),
            events,
        )));
    }
    if shared.config.bind_type == BindType::Transmitter {
        // Receipts and replies come on a receiver session.
        let mut config = shared.esme.clone();
        config.kind = BindKind::Receiver;
        let (handle, events) = connect(&shared.dialer, config).into_parts();
        tasks.push(tokio::spawn(read_events_keep(
            engine.clone(),
            shared.clone(),
            events,
            handle,
        )));
    }
    let dispatcher = Dispatcher::new(engine, shared, handles, work);
    (tokio::spawn(dispatcher.run()), tasks)
}

/// Keeps a receive-only session's handle alive (dropping every handle ends the client).
async fn read_events_keep(
    engine: Engine,
    shared: Arc<ConnectorShared>,
    events: mpsc::Receiver<EsmeEvent>,
    handle: EsmeHandle,
) {
    let mut shutdown = engine.inner().shutdown_rx();
    let reader = read_events(engine, shared, events);
    tokio::pin!(reader);
    tokio::select! {
        () = &mut reader => {}
        () = crate::stopped(&mut shutdown) => {
            let _ = tokio::time::timeout(UNBIND_WAIT, handle.unbind()).await;
            let _ = tokio::time::timeout(UNBIND_WAIT, reader).await;
        }
    }
}

/// One session's events: bind state, receipts, replies.
async fn read_events(
    engine: Engine,
    shared: Arc<ConnectorShared>,
    mut events: mpsc::Receiver<EsmeEvent>,
) {
    let mut bound = false;
    let connector = &shared.config.id;
    while let Some(event) = events.recv().await {
        match event {
            EsmeEvent::Bound { kind, .. } => {
                tracing::info!(%connector, ?kind, "bound");
                if kind != BindKind::Receiver && !bound {
                    bound = true;
                    let n = shared.bound.fetch_add(1, Ordering::AcqRel) + 1;
                    shared.metrics.bound.set(n as i64);
                }
                shared.wake.notify_one();
            }
            EsmeEvent::Disconnected { reason } => {
                // Our own unbind (shutdown) is not worth a warning.
                if matches!(reason, smpp::session::CloseReason::Unbound) {
                    tracing::info!(%connector, "session unbound");
                } else {
                    tracing::warn!(%connector, ?reason, "session lost");
                }
                if bound {
                    bound = false;
                    let n = shared
                        .bound
                        .fetch_sub(1, Ordering::AcqRel)
                        .saturating_sub(1);
                    shared.metrics.bound.set(n as i64);
                }
            }
            EsmeEvent::BindFailed { failure } => {
                tracing::warn!(%connector, ?failure, "bind failed");
            }
            EsmeEvent::ConnectFailed { error } => {
                tracing::debug!(%connector, %error, "connect failed");
            }
            EsmeEvent::GaveUp { status, refusals } => {
                tracing::error!(%connector, ?status, refusals, "the SMSC refuses our credentials; this connector stays down");
            }
            EsmeEvent::Request(request) => on_request(&engine, &shared, request).await,
            EsmeEvent::Closed => break,
            _ => {}
        }
    }
    if bound {
        let n = shared
            .bound
            .fetch_sub(1, Ordering::AcqRel)
            .saturating_sub(1);
        shared.metrics.bound.set(n as i64);
    }
}

/// A deliver_sm or data_sm: a receipt goes to the status writer (answered after commit),
/// anything else to the MO handler.
async fn on_request(
    engine: &Engine,
    shared: &ConnectorShared,
    mut request: smpp_tokio::IncomingRequest,
) {
    let Some(pdu) = request.take_pdu() else {
        return;
    };
    let inner = engine.inner();
    let now = inner.clock().now_ms();
    let sm: DeliverSm = match pdu.body {
        PduBody::DeliverSm(sm) => {
            if let Some(receipt) = sm.receipt() {
                return on_receipt(engine, shared, receipt, request, now).await;
            }
            *sm
        }
        PduBody::DataSm(sm) => {
            if let Some(receipt) = sm.receipt() {
                return on_receipt(engine, shared, receipt, request, now).await;
            }
            match deliver_from_data(*sm) {
                Some(sm) => sm,
                None => {
                    let _ = request.respond_status(CommandStatus::ESME_RINVSRCADR);
                    return;
                }
            }
        }
        // Anything else is answered by dropping the request (ESME_RX_T_APPN).
        _ => return,
    };
    let status = match inner
        .mo()
        .on_deliver_sm(engine, &shared.config.id, sm)
        .await
    {
        Ok(outcome) => {
            crate::send_confirmation(engine, outcome).await;
            CommandStatus::ESME_ROK
        }
        Err(error) => {
            tracing::warn!(connector = %shared.config.id, %error, "reply not stored; the SMSC will resend it");
            CommandStatus::ESME_RX_T_APPN
        }
    };
    let _ = request.respond_status(status);
}

async fn on_receipt(
    engine: &Engine,
    shared: &ConnectorShared,
    receipt: Result<smpp::ReceiptInfo, smpp::receipt::PduReceiptError>,
    request: smpp_tokio::IncomingRequest,
    now: u64,
) {
    match receipt {
        Ok(info) => {
            let update = crate::status::receipt_update(&shared.config.id, &info, now);
            engine
                .inner()
                .status()
                .receipt(update, shared.index, Some(request))
                .await;
        }
        Err(error) => {
            // Answering an error would make the SMSC resend it for ever: acknowledge it.
            tracing::debug!(connector = %shared.config.id, %error, "unreadable receipt dropped");
            engine.inner().metrics().receipts_unreadable.inc();
            let _ = request.ack();
        }
    }
}

/// A data_sm reply as the deliver_sm the MO handler takes (content in `message_payload`).
fn deliver_from_data(sm: DataSm) -> Option<DeliverSm> {
    Some(DeliverSm {
        service_type: sm.service_type,
        source_addr_ton: sm.source_addr_ton,
        source_addr_npi: sm.source_addr_npi,
        source_addr: Address::new(sm.source_addr.as_bytes()).ok()?,
        dest_addr_ton: sm.dest_addr_ton,
        dest_addr_npi: sm.dest_addr_npi,
        destination_addr: Address::new(sm.destination_addr.as_bytes()).ok()?,
        esm_class: sm.esm_class,
        data_coding: sm.data_coding,
        tlvs: sm.tlvs,
        ..DeliverSm::default()
    })
}

/// One segment ready to send.
struct Seg {
    id: MessageId,
    index: u8,
    /// Segments this submission stands for (more than one for a `message_payload` text).
    covers: u8,
    /// Order of first dispatch on this connector.
    seq: u64,
    /// This attempt's number (1 for the first).
    attempt: u32,
    accepted_at: Instant,
    sm: Box<SubmitSm>,
}

struct BindSlot {
    handle: EsmeHandle,
    in_flight: usize,
}

/// Token bucket in segments per second; the burst is a tenth of a second's worth (at least
/// one), so an SMSC counting per second never sees more than its limit.
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate);
        let burst = (rate / 10.0).max(1.0);
        Self {
            rate,
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
    }

    /// When the next token is there.
    fn next_token(&self) -> Instant {
        let missing = (1.0 - self.tokens).max(0.0);
        self.at + Duration::from_secs_f64(missing / self.rate)
    }
}

struct Dispatcher {
    engine: Engine,
    shared: Arc<ConnectorShared>,
    binds: Vec<BindSlot>,
    next_bind: usize,
    work: mpsc::UnboundedReceiver<Vec<OutMsg>>,
    messages: VecDeque<OutMsg>,
    ready: VecDeque<Seg>,
    /// Throttled or not sent: back first, in original order.
    returned: BTreeMap<u64, Seg>,
    /// Temporary errors (and recovered backoffs) by due time.
    delayed: BTreeMap<(Instant, u64), Seg>,
    /// Recovered messages whose backoff has not run out, by due time.
    later: BTreeMap<(u64, u64), OutMsg>,
    seq: u64,
    bucket: Option<Bucket>,
    paused_until: Option<Instant>,
    rng: rand::rngs::StdRng,
    text_options: sms_text::Options,
}

impl Dispatcher {
    fn new(
        engine: Engine,
        shared: Arc<ConnectorShared>,
        handles: Vec<EsmeHandle>,
        work: mpsc::UnboundedReceiver<Vec<OutMsg>>,
    ) -> Self {
        let text_options = engine.inner().config().defaults.text_options;
        Self {
            bucket: shared.config.rate_limit.map(Bucket::new),
            binds: handles
                .into_iter()
                .map(|handle| BindSlot {
                    handle,
                    in_flight: 0,
                })
                .collect(),
            next_bind: 0,
            work,
            messages: VecDeque::new(),
            ready: VecDeque::new(),
            returned: BTreeMap::new(),
            delayed: BTreeMap::new(),
            later: BTreeMap::new(),
            seq: 0,
            paused_until: None,
            rng: rand::rngs::StdRng::from_os_rng(),
            text_options,
            engine,
            shared,
        }
    }

    async fn run(mut self) {
        let mut in_flight = FuturesUnordered::new();
        let mut shutdown = self.engine.inner().shutdown_rx();
        let mut stopping = false;
        let mut work_open = true;
        loop {
            let now = Instant::now();
            let mut retry_soon = false;
            if !stopping {
                self.release_due(now);
                if self.paused_until.is_some_and(|p| p <= now) {
                    self.paused_until = None;
                    self.shared.paused_until_ms.store(0, Ordering::Relaxed);
                }
                if self.paused_until.is_none() {
                    retry_soon = self.fill(now, &mut in_flight).await;
                }
            }
            self.publish(in_flight.len());
            if stopping && in_flight.is_empty() {
                break;
            }
            let wake_at = self.next_wake(now, retry_soon);
            tokio::select! {
                Some((seg, bind, result)) = in_flight.next(), if !in_flight.is_empty() => {
                    self.on_result(seg, bind, result).await;
                    // Take every other response that is already there before refilling.
                    while let Some(Some((seg, bind, result))) = futures_util::FutureExt::now_or_never(in_flight.next()) {
                        self.on_result(seg, bind, result).await;
                    }
                }
                batch = self.work.recv(), if work_open && !stopping => match batch {
                    Some(batch) => {
                        self.messages.extend(batch);
                        while let Ok(batch) = self.work.try_recv() {
                            self.messages.extend(batch);
                        }
                    }
                    None => work_open = false,
                },
                () = self.shared.wake.notified() => {}
                () = sleep_until(wake_at), if wake_at.is_some() => {}
                () = crate::stopped(&mut shutdown), if !stopping => stopping = true,
            }
        }
        // Unsent messages stay in the outbox for the next start.
        // A session that is dialling or binding right now may take a while to notice.
        for bind in &self.binds {
            let _ = tokio::time::timeout(UNBIND_WAIT, bind.handle.unbind()).await;
        }
        self.shared.in_flight.store(0, Ordering::Relaxed);
    }

    fn publish(&self, in_flight: usize) {
        let waiting = self.ready.len()
            + self.returned.len()
            + self.delayed.len()
            + self.messages.len()
            + self.later.len();
        self.shared.queued.store(waiting, Ordering::Relaxed);
        self.shared.in_flight.store(in_flight, Ordering::Relaxed);
        self.shared.metrics.queued.set(waiting as i64);
        self.shared.metrics.in_flight.set(in_flight as i64);
    }

    fn next_wake(&self, now: Instant, retry_soon: bool) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut consider = |t: Instant| at = Some(at.map_or(t, |a| a.min(t)));
        if let Some(p) = self.paused_until {
            consider(p);
        }
        if let Some(((due, _), _)) = self.delayed.first_key_value() {
            consider(*due);
        }
        if let Some(((due_ms, _), _)) = self.later.first_key_value() {
            let wait = due_ms.saturating_sub(self.engine.inner().clock().now_ms());
            consider(now + Duration::from_millis(wait));
        }
        if retry_soon {
            consider(now + Duration::from_millis(1));
        }
        if let Some(bucket) = &self.bucket {
            if bucket.tokens < 1.0 && self.has_work() {
                consider(bucket.next_token());
            }
        }
        if self.has_work() && !self.binds.iter().any(|b| b.handle.is_bound()) {
            // Not bound: the event task wakes us on bind; poll too, in case a wake-up was
            // consumed before the work arrived.
            consider(now + Duration::from_millis(200));
        }
        at
    }

    fn has_work(&self) -> bool {
        !self.returned.is_empty() || !self.ready.is_empty() || !self.messages.is_empty()
    }

    /// Moves segments and messages whose delay has run out to the queue.
    fn release_due(&mut self, now: Instant) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let seg = entry.remove();
            self.returned.insert(seg.seq, seg);
        }
        let now_ms = self.engine.inner().clock().now_ms();
        while let Some(entry) = self.later.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            let msg = entry.remove();
            self.messages.push_front(msg);
        }
    }

    /// Sends while a bind has room, a token is there and work is waiting. Returns whether a
    /// window looked full although our own count had room (its slot is freed a moment after
    /// the response arrives): then the caller retries shortly.
    async fn fill(&mut self, now: Instant, in_flight: &mut FuturesUnordered<Tracked>) -> bool {
        let window = self.shared.config.window;
        let binds = self.binds.len();
        let mut retry_soon = false;
        let mut skip = vec![false; 0];
        loop {
            if let Some(bucket) = &mut self.bucket {
                bucket.refill(now);
                if bucket.tokens < 1.0 {
                    return retry_soon;
                }
            }
            // The next bind with room, round-robin.
            let mut chosen = None;
            for step in 0..binds {
                let b = (self.next_bind + step) % binds;
                if skip.get(b).copied().unwrap_or(false) {
                    continue;
                }
                let slot = &self.binds[b];
                if slot.in_flight < window && slot.handle.is_bound() {
                    chosen = Some(b);
                    break;
                }
            }
            let Some(b) = chosen else {
                return retry_soon;
            };
            let Some(seg) = self.next_seg().await else {
                return retry_soon;
            };
            match self.binds[b]
                .handle
                .try_send_request(PduBody::SubmitSm(seg.sm.clone()))
            {
                Ok(response) => {
                    self.binds[b].in_flight += 1;
                    self.next_bind = (b + 1) % binds;
                    if let Some(bucket) = &mut self.bucket {
                        bucket.tokens -= 1.0;
                    }
                    in_flight.push(track(seg, b, response));
                }
                Err(error) => {
                    if matches!(error, RequestError::WindowFull { .. }) {
                        retry_soon = true;
                    }
                    if error.is_not_sent() {
                        self.returned.insert(seg.seq, seg);
                        if skip.is_empty() {
                            skip = vec![false; binds];
                        }
                        skip[b] = true;
                    } else {
                        self.finish(
                            &seg,
                            SubmitOutcomeRecord::Failed {
                                error: ErrorInfo {
                                    code: "smpp_not_sendable".to_owned(),
                                    message: error.to_string(),
                                },
                            },
                        )
                        .await;
                    }
                }
            }
        }
    }

    /// The next segment: returned ones first, then the current message's, then the next
    /// message (encoded now).
    async fn next_seg(&mut self) -> Option<Seg> {
        if let Some((_, seg)) = self.returned.pop_first() {
            return Some(seg);
        }
        if let Some(seg) = self.ready.pop_front() {
            return Some(seg);
        }
        while let Some(msg) = self.messages.pop_front() {
            let inner = self.engine.inner();
            inner.queued().fetch_sub(1, Ordering::Relaxed);
            let now_ms = inner.clock().now_ms();
            if msg.due_at_ms > now_ms {
                let seq = self.bump();
                self.later.insert((msg.due_at_ms, seq), msg);
                continue;
            }
            match self.encode(&msg, now_ms) {
                Ok(segs) => self.ready.extend(segs),
                Err(Some(error)) => {
                    let indexes: Vec<u8> = pending(&msg).map(|(i, _)| i).collect();
                    for index in indexes {
                        let result = SubmitResult {
                            message: msg.id,
                            segment: index,
                            connector: self.shared.config.id.clone(),
                            at_ms: now_ms,
                            outcome: SubmitOutcomeRecord::Failed {
                                error: error.clone(),
                            },
                        };
                        self.engine
                            .inner()
                            .status()
                            .submit(result, self.shared.index)
                            .await;
                    }
                }
                // Validity over: the expiry timer ends it.
                Err(None) => {}
            }
            if let Some(seg) = self.ready.pop_front() {
                return Some(seg);
            }
        }
        None
    }

    fn bump(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The message's pending segments as submit_sm. `Err(None)`: its validity is over.
    fn encode(&mut self, msg: &OutMsg, now_ms: u64) -> Result<Vec<Seg>, Option<ErrorInfo>> {
        let config = &self.shared.config;
        let remaining = msg.expires_at_ms.saturating_sub(now_ms);
        if remaining < 1000 {
            return Err(None);
        }
        let reference: u16 = self.rng.random();
        let concat = match config.concat {
            ConcatMethod::Udh8 => sms_text::Concat::Udh8 {
                reference: reference as u8,
            },
            ConcatMethod::Udh16 => sms_text::Concat::Udh16 { reference },
            ConcatMethod::Sar => sms_text::Concat::Sar { reference },
            ConcatMethod::Payload => sms_text::Concat::Payload,
        };
        let options = sms_text::Options {
            concat,
            max_parts: 255,
            ..self.text_options
        };
        let encoded = sms_text::encode(&msg.text, &options).map_err(|e| {
            Some(ErrorInfo {
                code: "encoding_failed".to_owned(),
                message: e.to_string(),
            })
        })?;
        let payload = encoded.message_payload;
        if !payload && encoded.parts.len() != usize::from(msg.total) {
            return Err(Some(ErrorInfo {
                code: "segment_count_changed".to_owned(),
                message: format!(
                    "the text now needs {} segments on connector {}, {} were stored",
                    encoded.parts.len(),
                    config.id,
                    msg.total
                ),
            }));
        }
        let invalid = |what: &str, e: &dyn std::fmt::Display| {
            Some(ErrorInfo {
                code: "invalid_address".to_owned(),
                message: format!("{what}: {e}"),
            })
        };
        let source = match &msg.from {
            SenderId::International(_) => config.source_ton_npi,
            other => other.ton_npi(TonNpi::SHORT_CODE_DEFAULT),
        };
        let validity = RelativeTime::from_duration(Duration::from_millis(remaining))
            .ok()
            .and_then(|t| TimeString::new(&t.to_bytes()).ok())
            .unwrap_or_default();
        let mut base = SubmitSm {
            source_addr_ton: source.ton,
            source_addr_npi: source.npi,
            source_addr: msg
                .from
                .address()
                .parse()
                .map_err(|e| invalid("source_addr", &e))?,
            dest_addr_ton: config.dest_ton_npi.ton,
            dest_addr_npi: config.dest_ton_npi.npi,
            destination_addr: msg
                .to
                .digits()
                .parse()
                .map_err(|e| invalid("destination_addr", &e))?,
            data_coding: DataCoding(encoded.data_coding),
            registered_delivery: RegisteredDelivery(u8::from(config.registered_delivery)),
            validity_period: validity,
            ..SubmitSm::default()
        };
        let mut segs = Vec::with_capacity(encoded.parts.len());
        if payload {
            // One submission carries the whole text; it stands for every stored segment.
            let Some(part) = encoded.parts.first() else {
                return Err(Some(ErrorInfo {
                    code: "encoding_failed".to_owned(),
                    message: "no part".to_owned(),
                }));
            };
            base.tlvs
                .push(Tlv::MessagePayload(bytes::Bytes::copy_from_slice(
                    &part.short_message,
                )))
                .map_err(|e| invalid("message_payload", &e))?;
            let attempt = pending(msg).next().map_or(1, |(_, a)| a + 1);
            let seq = self.bump();
            segs.push(Seg {
                id: msg.id,
                index: 0,
                covers: msg.total,
                seq,
                attempt,
                accepted_at: msg.accepted_at,
                sm: Box::new(base),
            });
            return Ok(segs);
        }
        for (index, failed) in pending(msg) {
            let Some(part) = encoded.parts.get(usize::from(index)) else {
                continue;
            };
            let mut sm = base.clone();
            sm.esm_class = EsmClass::DEFAULT.with_udhi(part.udhi);
            sm.short_message =
                ShortMessage::new(&part.short_message).map_err(|e| invalid("short_message", &e))?;
            if let Some(sar) = part.sar {
                for tlv in [
                    Tlv::SarMsgRefNum(sar.reference),
                    Tlv::SarTotalSegments(sar.total),
                    Tlv::SarSegmentSeqnum(sar.sequence),
                ] {
                    sm.tlvs.push(tlv).map_err(|e| invalid("sar", &e))?;
                }
            }
            let seq = self.bump();
            segs.push(Seg {
                id: msg.id,
                index,
                covers: 1,
                seq,
                attempt: failed + 1,
                accepted_at: msg.accepted_at,
                sm: Box::new(sm),
            });
        }
        Ok(segs)
    }

    async fn on_result(&mut self, seg: Seg, bind: usize, result: RequestResult) {
        if let Some(slot) = self.binds.get_mut(bind) {
            slot.in_flight = slot.in_flight.saturating_sub(1);
        }
        let (outcome, smsc_id) = match result {
            Ok(pdu) => {
                let id = match &pdu.body {
                    PduBody::SubmitSmResp(r) => r.message_id.to_string_lossy().into_owned(),
                    _ => String::new(),
                };
                (SubmitOutcome::Status(pdu.command_status), id)
            }
            Err(error) if error.is_not_sent() => {
                // Nothing reached the SMSC: send it again, in its place.
                self.returned.insert(seg.seq, seg);
                return;
            }
            Err(RequestError::GenericNack { status, .. })
            | Err(RequestError::UndecodableResponse { status, .. }) => {
                (SubmitOutcome::Status(status), String::new())
            }
            Err(RequestError::TimedOut { .. }) => (SubmitOutcome::Timeout, String::new()),
            Err(_) => (SubmitOutcome::ConnectionLost, String::new()),
        };
        let inner = self.engine.inner();
        match inner.config().retry.decide(outcome, seg.attempt) {
            Decision::Submitted => {
                self.shared
                    .metrics
                    .submit_latency
                    .observe(seg.accepted_at.elapsed().as_secs_f64());
                self.finish(&seg, SubmitOutcomeRecord::Accepted { smsc_id })
                    .await;
            }
            Decision::Pause { duration } => {
                self.shared.metrics.throttles.inc();
                let until = Instant::now() + duration;
                if self.paused_until.is_none_or(|p| p < until) {
                    self.paused_until = Some(until);
                    let ms = inner.clock().now_ms() + duration.as_millis() as u64;
                    self.shared.paused_until_ms.store(ms, Ordering::Relaxed);
                    tracing::debug!(connector = %self.shared.config.id, ?duration, "throttled: connector paused");
                }
                self.returned.insert(seg.seq, seg);
            }
            Decision::Retry { after } => {
                self.shared.metrics.retries.inc();
                let retry_at_ms = inner.clock().now_ms() + after.as_millis() as u64;
                self.finish(&seg, SubmitOutcomeRecord::Retry { retry_at_ms })
                    .await;
                let mut seg = seg;
                seg.attempt += 1;
                self.delayed.insert((Instant::now() + after, seg.seq), seg);
            }
            Decision::Fail { code, message } => {
                self.finish(
                    &seg,
                    SubmitOutcomeRecord::Failed {
                        error: ErrorInfo { code, message },
                    },
                )
                .await;
            }
        }
    }

    /// Records a segment's outcome (every stored segment it stands for).
    async fn finish(&self, seg: &Seg, outcome: SubmitOutcomeRecord) {
        let inner = self.engine.inner();
        let at_ms = inner.clock().now_ms();
        for offset in 1..seg.covers {
            let result = SubmitResult {
                message: seg.id,
                segment: seg.index + offset,
                connector: self.shared.config.id.clone(),
                at_ms,
                outcome: outcome.clone(),
            };
            inner.status().submit(result, self.shared.index).await;
        }
        let result = SubmitResult {
            message: seg.id,
            segment: seg.index,
            connector: self.shared.config.id.clone(),
            at_ms,
            outcome,
        };
        inner.status().submit(result, self.shared.index).await;
    }
}

/// The pending segments of a message with their failed attempts.
fn pending(msg: &OutMsg) -> impl Iterator<Item = (u8, u32)> + Send + '_ {
    let all = msg
        .pending
        .is_none()
        .then(|| (0..msg.total).map(|i| (i, 0)));
    all.into_iter()
        .flatten()
        .chain(msg.pending.iter().flatten().copied())
}

/// A request in flight with its segment: a named future, so that the dispatcher's set of
/// them has one concrete type and no box per request.
struct Tracked {
    seg: Option<Seg>,
    bind: usize,
    response: ResponseFuture,
}

impl Future for Tracked {
    type Output = (Seg, usize, RequestResult);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let result = std::task::ready!(Pin::new(&mut this.response).poll(cx));
        match this.seg.take() {
            Some(seg) => Poll::Ready((seg, this.bind, result)),
            // Polled again after completing: FuturesUnordered never does this.
            None => Poll::Pending,
        }
    }
}

fn track(seg: Seg, bind: usize, response: ResponseFuture) -> Tracked {
    Tracked {
        seg: Some(seg),
        bind,
        response,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
