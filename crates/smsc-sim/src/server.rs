//! The simulator on real sockets: an SMPP listener (`smpp-tokio`'s MC side with the
//! [`Engine`] as handler) and the HTTP control API, started and stopped together.
//!
//! ```text
//! ESME ──TCP──▶ McListener ── on_bind ──────────▶ Engine::bind
//!                 │ session ── on_request ──────▶ Engine::submit / query / ... (under the mutex)
//!                 │ pusher task ◀── take_outbound ─ receipts + MO, window-limited deliver_sm
//! timer task ── advance(now) at next_deadline ──▶ handsets, receipts; notifies the pushers
//! HTTP ──────── router(SharedSim) ─────────────▶ inboxes, MO, stats
//! ```
//!
//! Requests are answered synchronously inside the connection task under a short lock: no
//! channel hop per PDU. Deliveries and expiries are run by one timer task that sleeps until
//! [`Engine::next_deadline`] and is woken early when a submission makes an earlier deadline;
//! it runs at most once per millisecond (the engine's resolution), so a burst of instant
//! deliveries is handled in batches. Each receiver or transceiver bind has a pusher task that
//! keeps its deliver_sm window full from the account's queue; a deliver_sm that is refused,
//! times out or is cut off by a lost connection goes back to the front of the queue
//! ([`Engine::return_outbound`]), so no receipt or MO message is lost.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use smpp::pdu::{DataSmResp, DeliverSm, SubmitSmResp};
use smpp::session::CloseReason;
use smpp::types::SystemId;
use smpp::{BindKind, CommandStatus, Pdu, PduBody};
use smpp_tokio::{
    BindRequest, McConfig, McHandle, McHandler, McListener, McSession, Reply, ResponseFuture,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use crate::config::{ConfigError, SimConfig};
use crate::engine::{AccountId, BindHandle, Engine};
use crate::http::{router, SharedSim, Sim};

/// How the server listens and behaves; [`ServerOptions::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Where the SMPP listener binds (port 0 picks a free port).
    pub smpp_addr: SocketAddr,
    /// Where the HTTP control API listens; `None` to serve no HTTP (an embedding application
    /// can mount [`router`] on [`SimServer::sim`] itself).
    pub http_addr: Option<SocketAddr>,
    /// Settings of every SMPP session. `session.window` is how many deliver_sm (receipts,
    /// MO) each bind may have awaiting deliver_sm_resp.
    pub mc: McConfig,
    /// How long a bind's pusher waits before sending again after the ESME refused a
    /// deliver_sm (e.g. ESME_RX_T_APPN, ESME_RTHROTTLED) or did not answer it in time. The
    /// refused message goes back to the front of the account's queue meanwhile.
    pub deliver_retry_delay: Duration,
}

impl ServerOptions {
    /// Defaults: a deliver_sm window of 64, a retry delay of one second, no HTTP.
    pub fn new(smpp_addr: SocketAddr) -> Self {
        let mut mc = McConfig::default();
        // Receipts can come as fast as submissions go; a window of 10 (the session default)
        // would cap them at 10 per round trip.
        mc.session.window = 64;
        Self {
            smpp_addr,
            http_addr: None,
            mc,
            deliver_retry_delay: Duration::from_secs(1),
        }
    }
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The simulator configuration is invalid.
    #[error("invalid simulator configuration: {0}")]
    Config(#[from] ConfigError),
    /// A listening socket could not be opened.
    #[error("cannot listen for {what} on {addr}: {source}")]
    Listen {
        /// `"SMPP"` or `"HTTP"`.
        what: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
}

/// A running simulator. Dropping it stops accepting connections but leaves open sessions to
/// their peers; call [`SimServer::shutdown`] for a clean stop.
pub struct SimServer {
    sim: SharedSim,
    shared: Arc<Shared>,
    smpp_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
    timer: JoinHandle<()>,
    http: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("smpp_addr", &self.smpp_addr)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

impl SimServer {
    /// Starts a simulator with `config` on `smpp_addr` and, if given, the HTTP API on
    /// `http_addr`, with the system clock and default [`ServerOptions`].
    ///
    /// # Errors
    /// An invalid configuration, or an address that cannot be listened on.
    pub async fn start(
        config: SimConfig,
        smpp_addr: SocketAddr,
        http_addr: Option<SocketAddr>,
    ) -> Result<SimServer, ServerError> {
        let sim = Sim::new(Engine::new(config)?);
        let mut options = ServerOptions::new(smpp_addr);
        options.http_addr = http_addr;
        Self::start_with(sim, options).await
    }

    /// Starts serving an existing [`Sim`] (e.g. one with a test clock, or one whose router an
    /// application also mounts) with `options`.
    ///
    /// # Errors
    /// An address that cannot be listened on.
    pub async fn start_with(
        sim: SharedSim,
        options: ServerOptions,
    ) -> Result<SimServer, ServerError> {
        let listener = McListener::bind(options.smpp_addr)
            .await
            .map_err(|source| ServerError::Listen {
                what: "SMPP",
                addr: options.smpp_addr,
                source,
            })?;
        let smpp_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Listen {
                what: "SMPP",
                addr: options.smpp_addr,
                source,
            })?;
        let http_listener = match options.http_addr {
            Some(addr) => {
                let l = TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::Listen {
                        what: "HTTP",
                        addr,
                        source,
                    })?;
                let local = l.local_addr().map_err(|source| ServerError::Listen {
                    what: "HTTP",
                    addr,
                    source,
                })?;
                Some((l, local))
            }
            None => None,
        };

        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            sim: sim.clone(),
            timer_wake: Notify::new(),
            timer_armed: AtomicU64::new(u64::MAX),
            sessions: Mutex::new(Sessions::default()),
            window: options.mc.session.window.max(1),
            retry_delay: options.deliver_retry_delay,
        });
        let timer = tokio::spawn(run_timer(shared.clone()));
        let handler = Arc::new(SimHandler {
            shared: shared.clone(),
        });
        let accept = tokio::spawn(listener.serve(handler, options.mc.clone()));
        tracing::info!(%smpp_addr, "SMPP listening");

        let (http, http_addr) = match http_listener {
            Some((l, local)) => {
                let app = router(sim.clone());
                let mut stop_rx = stop_rx.clone();
                let task = tokio::spawn(async move {
                    let serve = axum::serve(l, app).with_graceful_shutdown(async move {
                        let _ = stop_rx.wait_for(|stopped| *stopped).await;
                    });
                    if let Err(error) = serve.await {
                        tracing::error!(%error, "HTTP server failed");
                    }
                });
                tracing::info!(http_addr = %local, "HTTP control API listening");
                (Some(task), Some(local))
            }
            None => (None, None),
        };
        Ok(SimServer {
            sim,
            shared,
            smpp_addr,
            http_addr,
            stop,
            accept,
            timer,
            http,
        })
    }

    /// The SMPP address actually listened on (the real port when 0 was asked for).
    pub fn smpp_addr(&self) -> SocketAddr {
        self.smpp_addr
    }

    /// The HTTP address actually listened on, if HTTP was asked for.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The shared engine (for [`router`], stats, or direct inspection in tests).
    pub fn sim(&self) -> &SharedSim {
        &self.sim
    }

    /// SMPP sessions bound now.
    pub fn bound_sessions(&self) -> usize {
        self.shared.sessions().handles.len()
    }

    /// Stops cleanly: stops accepting, unbinds every bound session (each waits for its
    /// deliver_sm in flight, bounded by the session's unbind timeout), stops the HTTP server
    /// after its requests in progress, then the timer.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.accept.abort();
        let handles: Vec<McHandle> = self.shared.sessions().handles.values().cloned().collect();
        let count = handles.len();
        let unbinds: Vec<_> = handles
            .into_iter()
            .map(|h| tokio::spawn(async move { h.unbind().await }))
            .collect();
        for u in unbinds {
            let _ = u.await;
        }
        if let Some(http) = self.http.take() {
            let _ = http.await;
        }
        self.timer.abort();
        tracing::info!(unbound = count, "simulator stopped");
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        // After `shutdown` these are finished already; otherwise stop accepting and serving.
        let _ = self.stop.send(true);
        self.accept.abort();
        self.timer.abort();
    }
}

/// What the listener, the sessions, the pushers and the timer share.
struct Shared {
    sim: SharedSim,
    /// Wakes the timer task when a submission made an earlier deadline.
    timer_wake: Notify,
    /// The deadline (Unix ms) the timer sleeps until; `u64::MAX` when none.
    timer_armed: AtomicU64,
    sessions: Mutex<Sessions>,
    /// deliver_sm each bind may have in flight.
    window: usize,
    retry_delay: Duration,
}

#[derive(Default)]
struct Sessions {
    next_id: u64,
    /// Bound sessions, for [`SimServer::shutdown`].
    handles: HashMap<u64, McHandle>,
}

impl Shared {
    fn sessions(&self) -> MutexGuard<'_, Sessions> {
        // The map stays consistent whatever panicked while it was held.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the timer if the engine's next deadline is earlier than the one it sleeps for.
    /// Call with the engine lock held (see [`run_timer`]).
    fn check_deadline(&self, next: Option<u64>) {
        if let Some(next) = next {
            if next < self.timer_armed.load(Ordering::Acquire) {
                // Lower the mark now, so the following submissions of a burst do not each
                // notify; the timer re-arms from the engine when it runs.
                self.timer_armed.store(next, Ordering::Release);
                self.timer_wake.notify_one();
            }
        }
    }
}

/// The timer task: runs due deliveries and expiries, at most once per millisecond.
///
/// `timer_armed` always holds when the timer will next look at the engine, and is only
/// written under the engine lock (here and in [`Shared::check_deadline`]), so a submission
/// that makes an earlier deadline either sees the new mark and wakes the timer, or was
/// already counted by the timer's own `next_deadline`.
async fn run_timer(shared: Arc<Shared>) {
    let mut last_run = 0u64;
    loop {
        let wake = shared.timer_wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let now = shared.sim.now_ms();
        let (finished, sleep_until) = {
            let mut engine = shared.sim.lock();
            // `!=` rather than `>`: after the system clock steps back, run at once rather
            // than wait for it to catch up.
            if now != last_run {
                last_run = now;
                let finished = engine.advance(now);
                let next = engine.next_deadline();
                shared
                    .timer_armed
                    .store(next.unwrap_or(u64::MAX), Ordering::Release);
                (finished, next)
            } else {
                // Already ran in this millisecond: it runs again in the next one whatever is
                // submitted meanwhile, so nobody needs to wake it (mark 0).
                shared.timer_armed.store(0, Ordering::Release);
                (0, Some(now + 1))
            }
        };
        if finished > 0 {
            shared.sim.outbound_ready().notify_waiters();
        }
        match sleep_until {
            Some(at) => {
                let delay = Duration::from_millis(at.saturating_sub(now).max(1));
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = &mut wake => {}
                }
            }
            None => wake.await,
        }
    }
}

/// The [`McHandler`]: binds against the engine's accounts.
struct SimHandler {
    shared: Arc<Shared>,
}

impl McHandler for SimHandler {
    type Session = SimSession;

    fn on_bind(
        &self,
        request: &BindRequest,
        handle: McHandle,
    ) -> Result<(SystemId, SimSession), CommandStatus> {
        let system_id = request.bind.system_id.as_bytes();
        let password = request.bind.password.as_bytes();
        // Non-UTF-8 credentials cannot match a configured account (TOML strings are UTF-8);
        // the lossy form still binds in open mode and reads well in the log.
        let system_id = String::from_utf8_lossy(system_id);
        let password = String::from_utf8_lossy(password);
        let (bind, our_id) = {
            let mut engine = self.shared.sim.lock();
            let bind = engine.bind(&system_id, &password, request.kind)?;
            (bind, engine.config().system_id.clone())
        };
        // `validate` limits system_id to 15 characters, so this cannot fail; an empty
        // system_id in the bind_resp would still be a valid answer.
        let our_id = our_id.parse::<SystemId>().unwrap_or_default();
        let id = {
            let mut sessions = self.shared.sessions();
            sessions.next_id += 1;
            let id = sessions.next_id;
            sessions.handles.insert(id, handle.clone());
            id
        };
        tracing::info!(%system_id, kind = ?request.kind, peer = ?request.peer, "bound");
        if matches!(request.kind, BindKind::Receiver | BindKind::Transceiver) {
            tokio::spawn(push_outbound(self.shared.clone(), bind.account, handle));
        }
        Ok((
            our_id,
            SimSession {
                shared: self.shared.clone(),
                bind,
                id,
                open: true,
            },
        ))
    }
}

/// One bound session.
struct SimSession {
    shared: Arc<Shared>,
    bind: BindHandle,
    id: u64,
    /// Still counted in the engine's binds (released exactly once).
    open: bool,
}

impl SimSession {
    fn release(&mut self) {
        if std::mem::take(&mut self.open) {
            self.shared.sim.lock().unbind(self.bind);
            self.shared.sessions().handles.remove(&self.id);
        }
    }
}

impl McSession for SimSession {
    fn on_request(&mut self, request: Pdu) -> Reply {
        let command_id = request.command_id();
        let now = self.shared.sim.now_ms();
        let mut engine = self.shared.sim.lock();
        let bind = self.bind;
        let reply = match request.body {
            PduBody::SubmitSm(sm) => match engine.submit(now, bind, &sm) {
                Ok(id) => Reply::ok(PduBody::SubmitSmResp(SubmitSmResp::new(id))),
                Err(status) => Reply::error(command_id, status),
            },
            PduBody::DataSm(sm) => match engine.submit_data(now, bind, &sm) {
                Ok(id) => Reply::ok(PduBody::DataSmResp(DataSmResp::new(id))),
                Err(status) => Reply::error(command_id, status),
            },
            PduBody::SubmitMulti(sm) => match engine.submit_multi(now, bind, &sm) {
                Ok(resp) => Reply::ok(PduBody::SubmitMultiResp(resp)),
                Err(status) => Reply::error(command_id, status),
            },
            PduBody::QuerySm(q) => match engine.query(bind, &q) {
                Ok(resp) => Reply::ok(PduBody::QuerySmResp(resp)),
                Err(status) => Reply::error(command_id, status),
            },
            PduBody::CancelSm(c) => match engine.cancel(now, bind, &c) {
                Ok(()) => Reply::ok(PduBody::CancelSmResp),
                Err(status) => Reply::error(command_id, status),
            },
            PduBody::ReplaceSm(r) => match engine.replace(now, bind, &r) {
                Ok(()) => Reply::ok(PduBody::ReplaceSmResp),
                Err(status) => Reply::error(command_id, status),
            },
            // The session only hands over requests an ESME may send; anything else (vendor
            // operations) is not one this SMSC offers.
            _ => Reply::error(command_id, CommandStatus::ESME_RINVCMDID),
        };
        // Under the lock, so the timer's mark cannot change in between (see `run_timer`).
        self.shared.check_deadline(engine.next_deadline());
        drop(engine);
        reply
    }

    fn on_closed(&mut self, reason: CloseReason) {
        tracing::debug!(?reason, "session closed");
        self.release();
    }
}

impl Drop for SimSession {
    fn drop(&mut self) {
        // The connection task can also end without a Closed event (runtime shutdown).
        self.release();
    }
}

/// A deliver_sm on the wire and the copy to put back if it fails.
type InFlight = (DeliverSm, ResponseFuture);

/// What a bind's pusher and its reaper share.
struct Pipe {
    /// deliver_sm sent and not yet resolved by the reaper (never below the session's own
    /// count: raised before sending, lowered after the outcome is known).
    in_flight: AtomicUsize,
    /// The reaper resolved one: a window slot may be free.
    slot_freed: Notify,
    /// Not before this instant (Unix ms): set by the reaper after a refusal.
    hold_until: AtomicU64,
}

/// Keeps one receiver/transceiver bind's deliver_sm window full from its account's queue
/// until the connection closes. It takes from the queue only as many as the window has free
/// slots, so what a slow or stuck ESME cannot take stays available to the account's other
/// binds.
async fn push_outbound(shared: Arc<Shared>, account: AccountId, handle: McHandle) {
    let (to_reaper, reaped) = mpsc::unbounded_channel::<InFlight>();
    let pipe = Arc::new(Pipe {
        in_flight: AtomicUsize::new(0),
        slot_freed: Notify::new(),
        hold_until: AtomicU64::new(0),
    });
    let reaper = tokio::spawn(reap(shared.clone(), account, reaped, pipe.clone()));
    let mut unsent: Vec<DeliverSm> = Vec::new();
    'outer: loop {
        let ready = shared.sim.outbound_ready().notified();
        tokio::pin!(ready);
        // Registered before looking at the queue, so a notify_waiters in between is kept.
        ready.as_mut().enable();
        let now = shared.sim.now_ms();
        let hold_until = pipe.hold_until.load(Ordering::Acquire);
        if hold_until > now {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(hold_until - now)) => continue,
                () = handle.closed() => break,
            }
        }
        let free = shared
            .window
            .saturating_sub(pipe.in_flight.load(Ordering::Acquire));
        if free == 0 {
            tokio::select! {
                () = pipe.slot_freed.notified() => continue,
                () = handle.closed() => break,
            }
        }
        let batch = shared.sim.lock().take_outbound(account, free);
        if batch.is_empty() {
            tokio::select! {
                () = &mut ready => continue,
                () = handle.closed() => break,
            }
        }
        let mut batch = batch.into_iter();
        while let Some(sm) = batch.next() {
            pipe.in_flight.fetch_add(1, Ordering::AcqRel);
            // A slot is free (our count is never below the session's), so this does not
            // wait; it fails only once the session is closing or gone.
            let started = tokio::select! {
                r = handle.start_request(PduBody::DeliverSm(Box::new(sm.clone()))) => r,
                () = handle.closed() => Err(smpp_tokio::RequestError::Closed),
            };
            let sent = match started {
                Ok(response) => to_reaper.send((sm, response)).map_err(|e| e.0 .0),
                Err(_) => Err(sm),
            };
            if let Err(sm) = sent {
                pipe.in_flight.fetch_sub(1, Ordering::AcqRel);
                unsent.push(sm);
                unsent.extend(batch);
                break 'outer;
            }
        }
    }
    if !unsent.is_empty() {
        shared.sim.lock().return_outbound(account, unsent);
        shared.sim.outbound_ready().notify_waiters();
    }
    drop(to_reaper);
    let _ = reaper.await;
}

/// Awaits a bind's deliver_sm responses in send order; puts back every one not accepted.
async fn reap(
    shared: Arc<Shared>,
    account: AccountId,
    mut in_flight: mpsc::UnboundedReceiver<InFlight>,
    pipe: Arc<Pipe>,
) {
    // Failures are put back together, in send order, once no answer is immediately pending
    // (a lost connection fails the whole window at once).
    let mut refused_batch = Vec::new();
    while let Some((sm, response)) = in_flight.recv().await {
        let refused = match response.await {
            Ok(resp) if resp.command_status.is_ok() => None,
            Ok(resp) => Some(format!("{:?}", resp.command_status)),
            Err(error) => Some(error.to_string()),
        };
        if let Some(refused) = refused {
            tracing::debug!(%refused, "deliver_sm not accepted; queued again");
            let delay = u64::try_from(shared.retry_delay.as_millis()).unwrap_or(u64::MAX);
            pipe.hold_until
                .store(shared.sim.now_ms().saturating_add(delay), Ordering::Release);
            refused_batch.push(sm);
        }
        if !refused_batch.is_empty() && in_flight.is_empty() {
            shared
                .sim
                .lock()
                .return_outbound(account, std::mem::take(&mut refused_batch));
            // Another bind of the account may take them at once.
            shared.sim.outbound_ready().notify_waiters();
        }
        pipe.in_flight.fetch_sub(1, Ordering::AcqRel);
        pipe.slot_freed.notify_one();
    }
}
