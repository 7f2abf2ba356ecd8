//! Webhooks: the worker that POSTs queued deliveries, and the signature helpers receivers
//! use to check them.
//!
//! The store queues a delivery in the same transaction as the status change (or the reply)
//! it reports; `Engine::start` spawns the worker once. The worker claims due deliveries
//! (each claim is a lease of twice the request timeout, so a crashed worker's deliveries are
//! retried after it lapses and never sent twice at once), POSTs up to
//! [`WebhookConfig::concurrency`] of them at a time with one reused HTTP client, and records
//! the results in batches.
//!
//! # Requests
//! `POST <url>` with a JSON body (see `docs/webhooks.md` for the fields) and the headers
//! - `Content-Type: application/json`
//! - `Tuma-Event-Id: <delivery id>`: the same on every retry of one delivery, so receivers
//!   can drop repeats;
//! - `Tuma-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
//!   ([`sign`]; receivers check it with [`verify`] or the few lines in the docs).
//!
//! # Outcome
//! Any 2xx answer delivers. Anything else (another status, including redirects, which are
//! not followed; a timeout; a refused connection) is retried after `min(base_delay *
//! 2^attempts, max_delay)`, less up to 10% of jitter (so receivers that came back are not
//! hit by every queued delivery in the same millisecond), for as long as the status change
//! is younger than [`WebhookConfig::retry_for`]; the first failure after that gives up. A URL
//! that cannot be parsed gives up at once: no retry can fix it.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use prometheus_client::metrics::counter::Counter;
use sha2::Sha256;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tuma_domain::MessageStatus;
use tuma_store::{
    StoreError, Stores, WebhookAttempt, WebhookAttemptResult, WebhookDelivery, WebhookEvent,
};

use crate::{Clock, WebhookConfig};

/// Name of the header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Tuma-Signature";
/// Name of the header carrying the delivery id (stable across retries).
pub const EVENT_ID_HEADER: &str = "Tuma-Event-Id";

/// How long the worker waits between looks at an empty queue. Deliveries are queued by other
/// tasks through the store, so the worker polls; 200 ms keeps a webhook's latency low while
/// an idle gateway makes five cheap queries a second.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// First wait after a store error; doubles up to [`MAX_ERROR_BACKOFF`].
const ERROR_BACKOFF: Duration = Duration::from_millis(500);
const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(30);
/// At most this much of a receiver's answer is read (to let the connection be reused); the
/// rest is dropped with the connection.
const MAX_RESPONSE_DRAIN: usize = 64 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// The `Tuma-Signature` header value for `body` sent at `t` (Unix seconds):
/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
///
/// Signing the timestamp with the body lets a receiver refuse replays of an old request
/// ([`verify`]'s tolerance).
pub fn sign(secret: &[u8], t: u64, body: &[u8]) -> String {
    let tag = mac(secret, t, body).finalize().into_bytes();
    format!("t={t},v1={}", hex::encode(tag))
}

/// Checks a `Tuma-Signature` header: true when one of its `v1` values is the HMAC-SHA256 of
/// `"<t>.<body>"` under `secret` (compared in constant time) and `t` is within `tolerance_s`
/// seconds of `now_s` (either way, to allow for clock skew).
///
/// The header's parts may come in any order and unknown parts are ignored, so a later
/// signature scheme can be added next to `v1` without breaking receivers.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now_s: u64, tolerance_s: u64) -> bool {
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => match value.parse::<u64>() {
                Ok(v) if t.is_none() => t = Some(v),
                // A second or unparsable timestamp: refuse rather than guess which one.
                _ => return false,
            },
            Some(("v1", value)) => candidates.push(value),
            _ => {}
        }
    }
    let Some(t) = t else {
        return false;
    };
    if t.abs_diff(now_s) > tolerance_s {
        return false;
    }
    candidates.into_iter().any(|candidate| {
        hex::decode(candidate).is_ok_and(|tag| mac(secret, t, body).verify_slice(&tag).is_ok())
    })
}

fn mac(secret: &[u8], t: u64, body: &[u8]) -> HmacSha256 {
    // HMAC is defined for keys of any length (long ones are hashed first), so this cannot
    // fail; `new_from_slice` only returns a Result because the trait is shared with MACs
    // that have fixed key sizes.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Counters the metrics endpoint shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct WebhookCounters {
    /// Deliveries answered 2xx.
    pub(crate) delivered: Counter,
    /// Attempts that failed (to be retried).
    pub(crate) failed_attempts: Counter,
    /// Deliveries given up after the retry period.
    pub(crate) given_up: Counter,
}

/// Everything an attempt needs, shared by the worker's tasks.
struct Worker {
    stores: Stores,
    config: WebhookConfig,
    clock: Clock,
    counters: WebhookCounters,
    client: reqwest::Client,
}

/// Runs until `shutdown` becomes true (or its sender is dropped). In-flight requests are
/// finished (each is bounded by the timeout) and their results recorded before it returns.
pub(crate) async fn run(
    stores: Stores,
    config: WebhookConfig,
    clock: Clock,
    counters: WebhookCounters,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(config.timeout)
        // A redirected POST may turn into a GET, or leave for another host: a receiver
        // that moved should be configured with its new URL.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tuma-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhook worker cannot start its HTTP client: no webhooks will be sent");
            let _ = shutdown.wait_for(|stop| *stop).await;
            return;
        }
    };
    let concurrency = config.concurrency.max(1);
    let lease_ms = duration_ms(config.timeout).saturating_mul(2).max(1_000);
    let worker = Arc::new(Worker {
        stores,
        config,
        clock,
        counters,
        client,
    });
    let mut in_flight: JoinSet<WebhookAttempt> = JoinSet::new();
    let mut done: Vec<WebhookAttempt> = Vec::new();
    // After a store error the worker pauses (no busy loop), for a wait that doubles while
    // the errors go on.
    let mut backoff: Option<Duration> = None;
    let mut pause = false;
    let mut stop = *shutdown.borrow();
    loop {
        if stop && in_flight.is_empty() {
            if !done.is_empty() {
                let count = done.len();
                if let Err(error) = worker.stores.webhooks.record_webhook_attempts(done).await {
                    // Their leases lapse and the next start sends them again.
                    tracing::warn!(%error, count, "webhook results not recorded at shutdown");
                }
            }
            break;
        }
        if !pause && !done.is_empty() {
            let batch = std::mem::take(&mut done);
            match worker
                .stores
                .webhooks
                .record_webhook_attempts(batch.clone())
                .await
            {
                Ok(()) => backoff = None,
                Err(error) => {
                    tracing::warn!(%error, "recording webhook results failed; will retry");
                    done = batch;
                    backoff = Some(next_backoff(backoff));
                    pause = true;
                }
            }
        }
        // Claim only while results are recorded (a failing store stops the intake of new
        // work) and there is room.
        let room = concurrency.saturating_sub(in_flight.len());
        if !stop && !pause && done.is_empty() && room > 0 {
            let now = worker.clock.now_ms();
            match worker
                .stores
                .webhooks
                .claim_due_webhooks(now, lease_ms, room)
                .await
            {
                Ok(batch) => {
                    backoff = None;
                    for delivery in batch {
                        let w = worker.clone();
                        in_flight.spawn(async move { w.attempt(delivery).await });
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "claiming webhook deliveries failed");
                    backoff = Some(next_backoff(backoff));
                    pause = true;
                }
            }
        }
        let wait = match backoff {
            Some(b) if pause => b,
            _ => IDLE_POLL,
        };
        tokio::select! {
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                collect(joined, &mut done);
                // Take every other finished one too, to record them in one batch.
                while let Some(joined) = in_flight.try_join_next() {
                    collect(joined, &mut done);
                }
            }
            () = tokio::time::sleep(wait) => pause = false,
            changed = shutdown.changed(), if !stop => {
                stop = changed.is_err() || *shutdown.borrow();
            }
        }
    }
}

fn collect(joined: Result<WebhookAttempt, tokio::task::JoinError>, done: &mut Vec<WebhookAttempt>) {
    match joined {
        Ok(attempt) => done.push(attempt),
        // Only a bug panics an attempt; its lease lapses and the delivery is tried again.
        Err(error) => tracing::error!(%error, "webhook attempt task failed"),
    }
}

fn next_backoff(current: Option<Duration>) -> Duration {
    current.map_or(ERROR_BACKOFF, |b| (b * 2).min(MAX_ERROR_BACKOFF))
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Worker {
    async fn attempt(&self, delivery: WebhookDelivery) -> WebhookAttempt {
        let result = match self.send(&delivery).await {
            Ok(()) => {
                self.counters.delivered.inc();
                WebhookAttemptResult::Delivered
            }
            Err(Failure::Permanent(error)) => {
                self.counters.given_up.inc();
                tracing::warn!(delivery = delivery.id, %error, "webhook given up");
                WebhookAttemptResult::GiveUp { error }
            }
            Err(Failure::Temporary(error)) => self.retry_or_give_up(&delivery, error),
        };
        WebhookAttempt {
            id: delivery.id,
            result,
        }
    }

    fn retry_or_give_up(&self, d: &WebhookDelivery, error: String) -> WebhookAttemptResult {
        let now = self.clock.now_ms();
        if now.saturating_sub(d.status_at_ms) < duration_ms(self.config.retry_for) {
            self.counters.failed_attempts.inc();
            tracing::debug!(delivery = d.id, attempts = d.attempts + 1, %error, "webhook attempt failed");
            let delay = retry_delay(&self.config, d.attempts, rand::random::<u64>());
            WebhookAttemptResult::Retry {
                next_at_ms: now.saturating_add(delay),
                error,
            }
        } else {
            self.counters.given_up.inc();
            tracing::warn!(
                delivery = d.id,
                attempts = d.attempts + 1,
                %error,
                "webhook given up after the retry period"
            );
            WebhookAttemptResult::GiveUp { error }
        }
    }

    async fn send(&self, d: &WebhookDelivery) -> Result<(), Failure> {
        let url = reqwest::Url::parse(&d.url)
            .map_err(|e| Failure::Permanent(format!("invalid URL: {e}")))?;
        let body = payload(&self.stores, d).await.map_err(|e| {
            Failure::Temporary(format!("could not load what the webhook reports: {e}"))
        })?;
        let t = self.clock.now_ms() / 1000;
        let signature = sign(self.config.secret.as_bytes(), t, &body);
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, d.id.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::Temporary(describe(&e, self.config.timeout)))?;
        let status = response.status();
        drain(response).await;
        if status.is_success() {
            Ok(())
        } else {
            Err(Failure::Temporary(format!("HTTP {status}")))
        }
    }
}

enum Failure {
    /// Worth retrying.
    Temporary(String),
    /// No retry can help.
    Permanent(String),
}

/// The wait before the next attempt, in ms, after `attempts` earlier attempts failed (this
/// one included is `attempts + 1`): `min(base * 2^attempts, max)` less up to 10% (from
/// `random`).
fn retry_delay(config: &WebhookConfig, attempts: u32, random: u64) -> u64 {
    let base = duration_ms(config.base_delay).max(1);
    let max = duration_ms(config.max_delay).max(base);
    let factor = 1u64.checked_shl(attempts.min(63)).unwrap_or(u64::MAX);
    let delay = base.saturating_mul(factor).min(max);
    let jitter = delay / 10;
    delay - random % (jitter + 1)
}

/// A reqwest error in words, with its causes (reqwest's own text alone is "error sending
/// request"), and without the URL (it may carry a token).
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("timed out after {}", humantime::format_duration(timeout));
    }
    let mut text = if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn drain(mut response: reqwest::Response) {
    let mut read = 0;
    while read < MAX_RESPONSE_DRAIN {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            _ => break,
        }
    }
}

/// The JSON body of a delivery (see `docs/webhooks.md`).
async fn payload(stores: &Stores, d: &WebhookDelivery) -> Result<Vec<u8>, StoreError> {
    let value = match d.event {
        WebhookEvent::Status(status) => {
            let message = stores.messages.get(d.account, d.message).await?;
            status_payload(d, status, message.as_ref())
        }
        WebhookEvent::Inbound => {
            let reply = stores.inbound.get_inbound(d.account, d.message).await?;
            inbound_payload(d, reply.as_ref())
        }
    };
    // Serialising a `Value` to a Vec cannot fail (string keys only, no I/O).
    Ok(serde_json::to_vec(&value).unwrap_or_default())
}

fn status_payload(
    d: &WebhookDelivery,
    status: MessageStatus,
    message: Option<&tuma_store::MessageRecord>,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "type": "message.status",
        "id": d.message.to_string(),
        "status": status.as_str(),
        "at": rfc3339(d.status_at_ms),
    });
    // A message deleted since (or never readable) still gets its status reported.
    if let (Some(m), Some(map)) = (message, body.as_object_mut()) {
        let failure = matches!(
            status,
            MessageStatus::Failed | MessageStatus::Expired | MessageStatus::Rejected
        );
        let error = m
            .error
            .as_ref()
            .filter(|_| failure)
            .map(|e| serde_json::json!({"code": e.code, "message": e.message}));
        map.insert("to".into(), m.to.as_e164().into());
        map.insert("from".into(), m.from.to_string().into());
        map.insert("reference".into(), m.reference.clone().into());
        map.insert("segments".into(), m.segments.len().into());
        map.insert("error".into(), error.unwrap_or(serde_json::Value::Null));
    }
    body
}

fn inbound_payload(
    d: &WebhookDelivery,
    reply: Option<&tuma_store::InboundRecord>,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "type": "message.inbound",
        "id": d.message.to_string(),
        "received_at": rfc3339(d.status_at_ms),
    });
    if let (Some(r), Some(map)) = (reply, body.as_object_mut()) {
        map.insert("from".into(), r.from.as_e164().into());
        map.insert("to".into(), r.to.clone().into());
        map.insert("text".into(), r.text.clone().into());
        map.insert("received_at".into(), rfc3339(r.received_at_ms).into());
        map.insert("connector".into(), r.connector.as_str().into());
    }
    body
}

/// Unix ms as RFC 3339 UTC with milliseconds (`2026-01-31T09:15:00.123Z`).
fn rfc3339(ms: u64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(ms);
    humantime::format_rfc3339_millis(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use tuma_domain::{ConnectorId, MessageId, Msisdn};
    use tuma_store::{
        AccountId, ErrorInfo, InboundRecord, MemoryStore, SubmitOutcomeRecord, SubmitResult,
        WebhookState, WebhookStore,
    };

    const SECRET: &str = "whsec_test";
    const ACCOUNT: AccountId = AccountId(1);

    /// One request the receiver got.
    #[derive(Debug, Clone)]
    struct Got {
        event_id: String,
        content_type: String,
        signature_ok: bool,
        body: serde_json::Value,
    }

    /// A webhook receiver on 127.0.0.1:0 that checks signatures, records every request, and
    /// answers the scripted statuses first, then 200.
    #[derive(Clone, Default)]
    struct Receiver {
        script: Arc<Mutex<VecDeque<u16>>>,
        got: Arc<Mutex<Vec<Got>>>,
    }

    async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let now_s = now_secs();
        let signature_ok = verify(
            SECRET.as_bytes(),
            &header(SIGNATURE_HEADER),
            &body,
            now_s,
            300,
        );
        r.got.lock().unwrap().push(Got {
            event_id: header(EVENT_ID_HEADER),
            content_type: header("content-type"),
            signature_ok,
            body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        });
        let code = r.script.lock().unwrap().pop_front().unwrap_or(200);
        StatusCode::from_u16(code).unwrap()
    }

    fn now_secs() -> u64 {
        std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    impl Receiver {
        async fn start(script: &[u16]) -> (Self, String) {
            let r = Receiver::default();
            r.script.lock().unwrap().extend(script.iter().copied());
            let app = axum::Router::new()
                .route("/hook", axum::routing::post(hook))
                .with_state(r.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/hook", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await });
            (r, url)
        }

        fn got(&self) -> Vec<Got> {
            self.got.lock().unwrap().clone()
        }
    }

    /// The memory store's webhook queue, recording what the worker writes (the ports have
    /// no "get delivery"), and optionally failing every call.
    struct Recording {
        inner: Arc<dyn WebhookStore>,
        attempts: Mutex<Vec<WebhookAttempt>>,
        fail: bool,
        claims: Mutex<u32>,
    }

    #[async_trait]
    impl WebhookStore for Recording {
        async fn claim_due_webhooks(
            &self,
            now_ms: u64,
            lease_ms: u64,
            limit: usize,
        ) -> Result<Vec<WebhookDelivery>, StoreError> {
            *self.claims.lock().unwrap() += 1;
            if self.fail {
                return Err(StoreError::Closed);
            }
            self.inner.claim_due_webhooks(now_ms, lease_ms, limit).await
        }

        async fn record_webhook_attempts(
            &self,
            attempts: Vec<WebhookAttempt>,
        ) -> Result<(), StoreError> {
            self.attempts
                .lock()
                .unwrap()
                .extend(attempts.iter().cloned());
            self.inner.record_webhook_attempts(attempts).await
        }

        async fn webhook_failures(
            &self,
            account: AccountId,
            limit: usize,
        ) -> Result<Vec<WebhookDelivery>, StoreError> {
            self.inner.webhook_failures(account, limit).await
        }
    }

    struct Fixture {
        stores: Stores,
        recording: Arc<Recording>,
        clock: Clock,
        counters: WebhookCounters,
        stop: watch::Sender<bool>,
        worker: tokio::task::JoinHandle<()>,
    }

    fn config() -> WebhookConfig {
        WebhookConfig {
            secret: SECRET.into(),
            timeout: Duration::from_secs(5),
            retry_for: Duration::from_secs(3600),
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            concurrency: 4,
        }
    }

    fn start(config: WebhookConfig, fail: bool) -> Fixture {
        let memory = MemoryStore::stores();
        let recording = Arc::new(Recording {
            inner: memory.webhooks.clone(),
            attempts: Mutex::new(Vec::new()),
            fail,
            claims: Mutex::new(0),
        });
        let stores = Stores {
            webhooks: recording.clone(),
            ..memory
        };
        let clock = Clock::system();
        let counters = WebhookCounters::default();
        let (stop, rx) = watch::channel(false);
        let worker = tokio::spawn(run(
            stores.clone(),
            config,
            clock.clone(),
            counters.clone(),
            rx,
        ));
        Fixture {
            stores,
            recording,
            clock,
            counters,
            stop,
            worker,
        }
    }

    /// Waits for `f` to give a value: every 10 ms, for at most 10 s (a bound, not a timing
    /// assertion).
    async fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        for _ in 0..1_000 {
            if let Some(v) = f() {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }

    impl Fixture {
        async fn queue_reply(&self, url: &str, text: &str) -> MessageId {
            let now = self.clock.now_ms();
            let id = MessageId::from_u128(u128::from(now) << 80 | 7);
            let stored = self
                .stores
                .inbound
                .insert_inbound(vec![InboundRecord {
                    id,
                    account: ACCOUNT,
                    from: Msisdn::from_e164("+254712345678").unwrap(),
                    to: "22333".into(),
                    text: text.into(),
                    connector: ConnectorId::parse("smsc1").unwrap(),
                    received_at_ms: now,
                    webhook_url: Some(url.into()),
                }])
                .await
                .unwrap();
            assert_eq!(stored, 1);
            id
        }

        fn recorded(&self) -> Vec<WebhookAttemptResult> {
            self.recording
                .attempts
                .lock()
                .unwrap()
                .iter()
                .map(|a| a.result.clone())
                .collect()
        }

        async fn recorded_len(&self, n: usize) -> Vec<WebhookAttemptResult> {
            until(&format!("{n} recorded attempts"), || {
                let r = self.recorded();
                (r.len() >= n).then_some(r)
            })
            .await
        }

        async fn stop(self) {
            self.stop.send(true).unwrap();
            tokio::time::timeout(Duration::from_secs(10), self.worker)
                .await
                .expect("the worker stops")
                .unwrap();
        }
    }

    #[tokio::test]
    async fn delivers_a_signed_inbound_webhook_once() {
        let (receiver, url) = Receiver::start(&[]).await;
        let f = start(config(), false);
        let id = f.queue_reply(&url, "Habari 😀").await;
        let recorded = f.recorded_len(1).await;
        assert_eq!(recorded, [WebhookAttemptResult::Delivered]);
        let got = receiver.got();
        assert_eq!(got.len(), 1);
        let g = &got[0];
        assert!(g.signature_ok);
        assert_eq!(g.event_id, "1");
        assert_eq!(g.content_type, "application/json");
        assert_eq!(g.body["type"], "message.inbound");
        assert_eq!(g.body["id"], id.to_string());
        assert_eq!(g.body["from"], "+254712345678");
        assert_eq!(g.body["to"], "22333");
        assert_eq!(g.body["text"], "Habari 😀");
        assert_eq!(g.body["connector"], "smsc1");
        let received = humantime::parse_rfc3339(g.body["received_at"].as_str().unwrap()).unwrap();
        assert_eq!(
            received.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64,
            id.timestamp_ms()
        );
        assert_eq!(f.counters.delivered.get(), 1);
        // Delivered: no longer pending (nothing to claim even far in the future) and not a
        // failure.
        let later = f.clock.now_ms() + 86_400_000;
        let memory = f.recording.inner.clone();
        assert!(memory
            .claim_due_webhooks(later, 1, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(memory
            .webhook_failures(ACCOUNT, 10)
            .await
            .unwrap()
            .is_empty());
        f.stop().await;
        assert_eq!(receiver.got().len(), 1, "sent once");
    }

    #[tokio::test]
    async fn retries_with_backoff_then_delivers() {
        let (receiver, url) = Receiver::start(&[500, 500]).await;
        let f = start(config(), false);
        f.queue_reply(&url, "hello").await;
        let recorded = f.recorded_len(3).await;
        assert!(
            matches!(
                recorded.as_slice(),
                [
                    WebhookAttemptResult::Retry { error: e1, .. },
                    WebhookAttemptResult::Retry { error: e2, .. },
                    WebhookAttemptResult::Delivered,
                ] if e1 == "HTTP 500 Internal Server Error" && e1 == e2
            ),
            "{recorded:?}"
        );
        let got = receiver.got();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|g| g.signature_ok && g.event_id == "1"));
        assert!(got.iter().all(|g| g.body == got[0].body));
        assert_eq!(f.counters.failed_attempts.get(), 2);
        assert_eq!(f.counters.delivered.get(), 1);
        assert_eq!(f.counters.given_up.get(), 0);
        f.stop().await;
    }

    #[tokio::test]
    async fn gives_up_after_the_retry_period() {
        let (receiver, url) = Receiver::start(&[500; 10]).await;
        // The first retry is due 45-50 minutes later: only the moved clock reaches it.
        let f = start(
            WebhookConfig {
                base_delay: Duration::from_secs(50 * 60),
                max_delay: Duration::from_secs(3600),
                ..config()
            },
            false,
        );
        f.queue_reply(&url, "hello").await;
        let first = f.recorded_len(1).await;
        let now = f.clock.now_ms();
        match &first[0] {
            WebhookAttemptResult::Retry { next_at_ms, .. } => {
                let delay = next_at_ms - now.min(*next_at_ms);
                assert!((2_600_000..=3_000_000).contains(&delay), "{delay}");
            }
            other => panic!("{other:?}"),
        }
        f.clock.advance(Duration::from_secs(2 * 3600));
        let recorded = f.recorded_len(2).await;
        assert_eq!(
            recorded[1],
            WebhookAttemptResult::GiveUp {
                error: "HTTP 500 Internal Server Error".into()
            }
        );
        let failures = f
            .recording
            .inner
            .webhook_failures(ACCOUNT, 10)
            .await
            .unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].state, WebhookState::Failed);
        assert_eq!(failures[0].attempts, 2);
        assert_eq!(receiver.got().len(), 2);
        assert_eq!(f.counters.given_up.get(), 1);
        assert_eq!(f.counters.failed_attempts.get(), 1);
        f.stop().await;
    }

    #[tokio::test]
    async fn failures_are_described() {
        // A port nothing listens on.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let f = start(config(), false);
        f.queue_reply("not a url", "a").await;
        let recorded = f.recorded_len(1).await;
        assert!(
            matches!(&recorded[0], WebhookAttemptResult::GiveUp { error } if error.starts_with("invalid URL")),
            "{recorded:?}"
        );
        f.queue_reply(&format!("http://{closed}/hook"), "b").await;
        let recorded = f.recorded_len(2).await;
        assert!(
            matches!(&recorded[1], WebhookAttemptResult::Retry { error, .. } if error.starts_with("connection failed")),
            "{recorded:?}"
        );
        f.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn store_errors_back_off_instead_of_spinning() {
        let f = start(config(), true);
        tokio::time::sleep(Duration::from_secs(60)).await;
        // 0.5 + 1 + 2 + 4 + 8 + 16 + 30 s: about 8 claims in a minute (a spinning worker
        // would never let this test's timer fire).
        let claims = *f.recording.claims.lock().unwrap();
        assert!((6..=10).contains(&claims), "{claims} claims");
        f.stop().await;
    }

    #[test]
    fn retry_delays_double_up_to_the_cap_with_bounded_jitter() {
        let c = WebhookConfig {
            base_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(3600),
            ..WebhookConfig::default()
        };
        // No jitter drawn: the nominal schedule.
        let nominal: Vec<u64> = (0..10).map(|n| retry_delay(&c, n, 0)).collect();
        assert_eq!(
            nominal,
            [
                10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 1_280_000, 2_560_000,
                3_600_000
            ]
        );
        assert_eq!(retry_delay(&c, 1_000, 0), 3_600_000);
        for r in [1, 999, u64::MAX] {
            let d = retry_delay(&c, 0, r);
            assert!((9_000..=10_000).contains(&d), "{d}");
            let d = retry_delay(&c, 40, r);
            assert!((3_240_000..=3_600_000).contains(&d), "{d}");
        }
        // The default config retries for 25 h: with the 1 h cap that is about 32 attempts.
        let d = WebhookConfig::default();
        let mut at = 0;
        let mut attempts = 0;
        while at < duration_ms(d.retry_for) {
            at += retry_delay(&d, attempts, 0);
            attempts += 1;
        }
        assert!((30..=36).contains(&attempts), "{attempts}");
    }

    fn delivery(event: WebhookEvent, message: MessageId, at_ms: u64) -> WebhookDelivery {
        WebhookDelivery {
            id: 9,
            account: ACCOUNT,
            message,
            url: "http://127.0.0.1:9/".into(),
            event,
            status_at_ms: at_ms,
            attempts: 0,
            next_at_ms: at_ms,
            last_error: None,
            state: WebhookState::Pending,
        }
    }

    #[tokio::test]
    async fn status_payloads() {
        let stores = MemoryStore::stores();
        let mut m = tuma_store::conformance::message(1, 2);
        m.reference = Some("order-17".into());
        m.callback_url = Some("http://127.0.0.1:9/cb".into());
        let id = m.id;
        let to = m.to.as_e164();
        stores.messages.insert_batch(vec![m]).await.unwrap();
        let at_ms = id.timestamp_ms() + 1_500;
        stores
            .messages
            .record_submit_results(vec![SubmitResult {
                message: id,
                segment: 0,
                connector: ConnectorId::parse("smsc-a").unwrap(),
                at_ms,
                outcome: SubmitOutcomeRecord::Failed {
                    error: ErrorInfo {
                        code: "smpp_invalid_dest_addr".into(),
                        message: "invalid destination".into(),
                    },
                },
            }])
            .await
            .unwrap();
        // The store queued the status change; its payload:
        let queued = stores
            .webhooks
            .claim_due_webhooks(at_ms + 1, 1, 10)
            .await
            .unwrap();
        assert_eq!(queued.len(), 1, "{queued:?}");
        let body: serde_json::Value =
            serde_json::from_slice(&payload(&stores, &queued[0]).await.unwrap()).unwrap();
        let WebhookEvent::Status(status) = queued[0].event else {
            panic!("{queued:?}");
        };
        assert_eq!(body["type"], "message.status");
        assert_eq!(body["id"], id.to_string());
        assert_eq!(body["status"], status.as_str());
        assert_eq!(body["at"], rfc3339(at_ms));
        assert_eq!(body["to"], to);
        assert_eq!(body["from"], "MyShop");
        assert_eq!(body["reference"], "order-17");
        assert_eq!(body["segments"], 2);
        // One part failed permanently: the message failed (all-delivered policy).
        assert_eq!(status, MessageStatus::Failed);
        assert_eq!(body["error"]["code"], "smpp_invalid_dest_addr");
        assert_eq!(body["error"]["message"], "invalid destination");

        // A delivered status carries `error: null`, a missing reference `null`.
        let mut plain = tuma_store::conformance::message(2, 1);
        plain.reference = None;
        let plain_id = plain.id;
        stores.messages.insert_batch(vec![plain]).await.unwrap();
        let d = delivery(WebhookEvent::Status(MessageStatus::Delivered), plain_id, 0);
        let body: serde_json::Value =
            serde_json::from_slice(&payload(&stores, &d).await.unwrap()).unwrap();
        assert_eq!(body["status"], "delivered");
        assert_eq!(body["at"], "1970-01-01T00:00:00.000Z");
        assert!(body["error"].is_null() && body["reference"].is_null());
        assert_eq!(body["segments"], 1);

        // A message that is gone still gets id, status and time.
        let gone = MessageId::from_u128(12345);
        let d = delivery(
            WebhookEvent::Status(MessageStatus::Expired),
            gone,
            1_700_000_000_123,
        );
        let body: serde_json::Value =
            serde_json::from_slice(&payload(&stores, &d).await.unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "message.status",
                "id": gone.to_string(),
                "status": "expired",
                "at": "2023-11-14T22:13:20.123Z",
            })
        );
    }
}
