//! The engine against the SMSC simulator over real SMPP on loopback (port 0): intake,
//! dispatch, receipts, timers, recovery. Waits are bounded stall detectors, never timings.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use smsc_sim::config::{AccountConfig, Behaviour, BindType as SimBindType, TestRange};
use smsc_sim::{Engine as SimEngine, ServerOptions, Sim, SimConfig, SimServer};
use tuma_domain::{ConnectorId, Defaults, MessageId, MessageStatus, Region, RetryPolicy, SenderId};
use tuma_engine::{
    Clock, ConcatMethod, ConnectorConfig, Engine, EngineConfig, EngineError, InboundConfig,
    RejectionKind, SubmitRequest, WebhookConfig,
};
use tuma_store::{
    AccountId, InsertOutcome, MemoryStore, MessageRecord, MessageStore, NewMessageRecord,
    OutboxEntry, ReceiptUpdate, StoreError, Stores, SubmitResult, UpdateOutcome,
};

/// Upper bound for anything a test waits for: a stall detector, not a timing.
const PATIENCE: Duration = Duration::from_secs(30);

fn sim_config(max_tps: u32) -> SimConfig {
    let mut config = SimConfig {
        accounts: vec![AccountConfig {
            system_id: "tuma".into(),
            password: "secret".into(),
            bind_types: vec![
                SimBindType::Transmitter,
                SimBindType::Receiver,
                SimBindType::Transceiver,
            ],
            max_binds: 8,
            max_tps,
            short_codes: vec!["5000".into()],
        }],
        ..SimConfig::default()
    };
    // A temporary refusal (ESME_RSYSERR) for the retry test.
    config.test_ranges.push(TestRange {
        prefix: "2547000010".into(),
        behaviour: Behaviour::Reject,
        err: None,
        delay: None,
        status: Some(0x08),
    });
    config
}

async fn start_sim(max_tps: u32) -> SimServer {
    let sim = Sim::new(SimEngine::new(sim_config(max_tps)).expect("valid simulator config"));
    let options = ServerOptions::new("127.0.0.1:0".parse().expect("address"));
    SimServer::start_with(sim, options)
        .await
        .expect("simulator starts")
}

fn connector(address: String) -> ConnectorConfig {
    let mut c = ConnectorConfig::new(
        ConnectorId::parse("sim").expect("connector name"),
        address,
        "tuma",
        "secret",
    );
    c.window = 20;
    c
}

fn config(connectors: Vec<ConnectorConfig>) -> EngineConfig {
    let mut defaults = Defaults::new(Region::parse("KE").expect("region"));
    defaults.sender = Some(SenderId::parse("ACME").expect("sender"));
    EngineConfig {
        defaults,
        connectors,
        routes: Vec::new(),
        retry: RetryPolicy {
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            max_attempts: 3,
            throttle_pause: Duration::from_millis(100),
            ..RetryPolicy::default()
        },
        multipart: Default::default(),
        expiry_grace: Duration::from_secs(60),
        tick: Duration::from_millis(50),
        webhooks: WebhookConfig {
            secret: "test".into(),
            ..WebhookConfig::default()
        },
        inbound: InboundConfig::default(),
        max_queued: 100_000,
        campaigns: Default::default(),
    }
}

struct Setup {
    sim: SimServer,
    engine: Engine,
    account: AccountId,
}

async fn setup_with(max_tps: u32, adjust: impl FnOnce(&mut EngineConfig)) -> Setup {
    let sim = start_sim(max_tps).await;
    let stores = MemoryStore::stores();
    let account = stores
        .accounts
        .create_account("acme", 0)
        .await
        .expect("account")
        .id;
    let mut config = config(vec![connector(sim.smpp_addr().to_string())]);
    adjust(&mut config);
    let engine = Engine::start(config, stores, Clock::system())
        .await
        .expect("engine starts");
    Setup {
        sim,
        engine,
        account,
    }
}

impl Setup {
    /// Stops the engine (unbinding), then the simulator.
    async fn stop(self) {
        self.engine.shutdown(Duration::from_secs(5)).await;
        self.sim.shutdown().await;
    }
}

async fn setup() -> Setup {
    setup_with(0, |_| {}).await
}

fn msg(to: &str, text: &str) -> SubmitRequest {
    SubmitRequest {
        to: to.into(),
        from: Some("ACME".into()),
        text: text.into(),
        ..SubmitRequest::default()
    }
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < PATIENCE, "stalled waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn submit_one(s: &Setup, request: SubmitRequest) -> MessageId {
    let mut results = s
        .engine
        .submit(s.account, vec![request])
        .await
        .expect("submit");
    results.remove(0).expect("accepted").id
}

async fn get(s: &Setup, id: MessageId) -> MessageRecord {
    s.engine
        .message(s.account, id)
        .await
        .expect("store")
        .expect("message exists")
}

async fn wait_status(s: &Setup, id: MessageId, status: MessageStatus) -> MessageRecord {
    eventually(&format!("{id} to become {status}"), || async {
        get(s, id).await.status == status
    })
    .await;
    get(s, id).await
}

fn inbox(s: &Setup, msisdn: &str) -> Vec<smsc_sim::InboxMessage> {
    s.sim.sim().lock().inbox(msisdn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_and_batch_reach_the_handset_with_the_exact_text() {
    let s = setup().await;
    let gsm = "Hello, world! {brackets} & €uro";
    let ucs2 = "Habari 😀, karibu Nairobi! Ωμέγα";
    let long = "Tuma long message. ".repeat(20); // 380 GSM-7 characters: 3 parts
    let first = s
        .engine
        .submit(s.account, vec![msg("+254700000100", gsm)])
        .await
        .expect("submit")
        .remove(0)
        .expect("accepted");
    assert_eq!(first.status, MessageStatus::Accepted);
    assert_eq!(first.encoding, sms_text::Encoding::Gsm7);
    assert!(!first.existing);
    let batch = s
        .engine
        .submit(
            s.account,
            vec![
                msg("0700000101", ucs2),
                msg("+254700000102", &long),
                msg("not a number", "x"),
            ],
        )
        .await
        .expect("submit");
    let second = batch[0].clone().expect("accepted");
    let third = batch[1].clone().expect("accepted");
    assert_eq!(second.encoding, sms_text::Encoding::Ucs2);
    assert_eq!(third.segments, 3);
    let bad = batch[2].clone().expect_err("rejected");
    assert_eq!(bad.kind, RejectionKind::Invalid);
    assert_eq!(bad.code, "invalid_msisdn");
    assert_eq!(bad.field.as_deref(), Some("to"));

    for id in [first.id, second.id, third.id] {
        let m = wait_status(&s, id, MessageStatus::Delivered).await;
        assert!(m.segments.iter().all(|seg| seg.smsc_id.is_some()), "{m:?}");
        let statuses: Vec<_> = m.events.iter().map(|e| e.status).collect();
        assert_eq!(
            statuses,
            [
                MessageStatus::Accepted,
                MessageStatus::Submitted,
                MessageStatus::Delivered
            ]
        );
    }
    let got = inbox(&s, "254700000100");
    assert_eq!(
        (got.len(), got[0].text.as_str(), got[0].from.as_str()),
        (1, gsm, "ACME")
    );
    let got = inbox(&s, "254700000101");
    assert_eq!((got.len(), got[0].text.as_str()), (1, ucs2));
    let got = inbox(&s, "254700000102");
    assert_eq!(
        (got.len(), got[0].text.as_str(), got[0].parts),
        (1, long.as_str(), 3)
    );

    let counts = s.engine.counts();
    assert_eq!((counts.accepted, counts.rejected), (3, 1));
    assert_eq!((counts.submitted, counts.delivered), (3, 3));
    let metrics = s.engine.render_metrics();
    assert!(
        metrics.contains("tuma_messages_delivered_total{connector=\"sim\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("tuma_messages_rejected_total{code=\"invalid_msisdn\"} 1"));
    let health = s.engine.health();
    assert_eq!((health[0].binds, health[0].bound), (1, 1));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_fail_and_expiry_ends_messages_without_one() {
    let s = setup().await;
    let failed = submit_one(&s, msg("+254700000200", "will fail")).await;
    let mut never = msg("+254700000300", "never delivered");
    never.validity = Some("2m".into());
    let never = submit_one(&s, never).await;

    let m = wait_status(&s, failed, MessageStatus::Failed).await;
    let error = m.error.expect("an error");
    assert_eq!(error.code, "smsc_undeliv");
    assert!(error.message.contains("034"), "{error:?}");
    assert_eq!(
        m.events.last().and_then(|e| e.detail.as_deref()),
        Some("stat:UNDELIV err:034")
    );

    wait_status(&s, never, MessageStatus::Submitted).await;
    s.engine.run_timers_now().await.expect("timers");
    assert_eq!(get(&s, never).await.status, MessageStatus::Submitted);
    // Past validity (2 min) and grace (1 min).
    s.engine.clock().advance(Duration::from_secs(4 * 60));
    s.engine.run_timers_now().await.expect("timers");
    let m = get(&s, never).await;
    assert_eq!(m.status, MessageStatus::Expired);
    let counts = s.engine.counts();
    assert_eq!((counts.failed, counts.expired), (1, 1));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_pauses_and_keeps_the_order_to_one_handset() {
    // The simulator takes 10 submissions per second; we send 30 as fast as a window of 5
    // allows, so most first attempts come back ESME_RTHROTTLED.
    let s = setup_with(10, |c| c.connectors[0].window = 5).await;
    let texts: Vec<String> = (0..30).map(|i| format!("ordered message {i:02}")).collect();
    let requests = texts.iter().map(|t| msg("+254700000150", t)).collect();
    let results = s.engine.submit(s.account, requests).await.expect("submit");
    let ids: Vec<_> = results
        .into_iter()
        .map(|r| r.expect("accepted").id)
        .collect();
    for id in &ids {
        wait_status(&s, *id, MessageStatus::Delivered).await;
    }
    let got: Vec<String> = inbox(&s, "254700000150")
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(got, texts);
    assert!(
        s.sim.sim().lock().stats().throttled > 0,
        "no throttling happened"
    );
    assert!(!s
        .engine
        .render_metrics()
        .contains("tuma_throttle_events_total{connector=\"sim\"} 0"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_errors_are_retried_and_permanent_ones_fail_with_the_status() {
    let s = setup().await;
    let permanent = submit_one(&s, msg("+254700000700", "bad destination")).await;
    let temporary = submit_one(&s, msg("+254700001000", "system error")).await;

    let m = wait_status(&s, permanent, MessageStatus::Failed).await;
    let error = m.error.expect("error");
    assert_eq!(error.code, "smpp_invalid_dest_addr");
    assert!(error.message.contains("ESME_RINVDSTADR"), "{error:?}");
    assert_eq!(m.segments[0].failed_attempts, 0);

    // max_attempts 3: two retries, then the third failure fails the message.
    let m = wait_status(&s, temporary, MessageStatus::Failed).await;
    let error = m.error.expect("error");
    assert_eq!(error.code, "smpp_system_error");
    assert!(
        error.message.contains("gave up after 3 attempts"),
        "{error:?}"
    );
    assert_eq!(m.segments[0].failed_attempts, 2);
    assert_eq!(s.sim.sim().lock().stats().submit_sm, 4);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppressed_numbers_never_reach_the_simulator() {
    let s = setup().await;
    let number = tuma_domain::Msisdn::from_e164("+254700000104").expect("number");
    s.engine
        .stores()
        .suppression
        .suppress(s.account, number, "STOP", 0)
        .await
        .expect("suppress");
    let results = s
        .engine
        .submit(
            s.account,
            vec![
                msg("+254700000104", "not for you"),
                msg("+254700000105", "for you"),
            ],
        )
        .await
        .expect("submit");
    let blocked = results[0].clone().expect("stored");
    let sent = results[1].clone().expect("stored");
    assert_eq!(blocked.status, MessageStatus::Suppressed);
    wait_status(&s, sent.id, MessageStatus::Delivered).await;
    assert_eq!(get(&s, blocked.id).await.status, MessageStatus::Suppressed);
    assert!(inbox(&s, "254700000104").is_empty());
    assert_eq!(s.sim.sim().lock().stats().submit_sm, 1);
    assert_eq!(s.engine.counts().suppressed, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_messages_go_only_after_their_time() {
    let s = setup().await;
    let mut later = msg("+254700000106", "see you later");
    later.send_at_ms = Some(s.engine.clock().now_ms() + 10 * 60 * 1000);
    let accepted = s
        .engine
        .submit(s.account, vec![later])
        .await
        .expect("submit")
        .remove(0)
        .expect("accepted");
    assert_eq!(accepted.status, MessageStatus::Scheduled);
    s.engine.run_timers_now().await.expect("timers");
    // A message sent now overtakes it: by the time it is delivered, the scheduled one
    // would have been too, had it been released.
    let now = submit_one(&s, msg("+254700000106", "right now")).await;
    wait_status(&s, now, MessageStatus::Delivered).await;
    assert_eq!(get(&s, accepted.id).await.status, MessageStatus::Scheduled);
    assert_eq!(inbox(&s, "254700000106").len(), 1);

    s.engine.clock().advance(Duration::from_secs(11 * 60));
    s.engine.run_timers_now().await.expect("timers");
    wait_status(&s, accepted.id, MessageStatus::Delivered).await;
    let texts: Vec<_> = inbox(&s, "254700000106")
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["right now", "see you later"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_holds_across_two_binds() {
    let s = setup_with(0, |c| {
        c.connectors[0].binds = 2;
        c.connectors[0].rate_limit = Some(40);
    })
    .await;
    eventually("both binds up", || async {
        s.engine.health()[0].bound == 2
    })
    .await;
    let started = Instant::now();
    let requests = (0..60)
        .map(|i| msg("+254700000107", &format!("rate {i}")))
        .collect();
    let results = s.engine.submit(s.account, requests).await.expect("submit");
    for r in results {
        wait_status(&s, r.expect("accepted").id, MessageStatus::Delivered).await;
    }
    // 60 segments at 40/s with a burst of 4: at least (60 - 4) / 40 = 1.4 s.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1400), "{elapsed:?}");
    assert_eq!(s.sim.bound_sessions(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_connectors_means_no_route_and_shutdown_refuses_intake() {
    let stores = MemoryStore::stores();
    let engine = Engine::start(config(Vec::new()), stores, Clock::system())
        .await
        .expect("starts without connectors");
    let results = engine
        .submit(AccountId(1), vec![msg("+254700000100", "hi")])
        .await
        .expect("submit");
    let rejection = results[0].clone().expect_err("no route");
    assert_eq!(
        (rejection.kind, rejection.code.as_str()),
        (RejectionKind::NoRoute, "no_route")
    );
    assert_eq!(engine.counts().rejected, 1);
    engine.shutdown(Duration::from_secs(1)).await;
    assert!(matches!(
        engine
            .submit(AccountId(1), vec![msg("+254700000100", "hi")])
            .await,
        Err(EngineError::ShuttingDown)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_single_requests_share_commits_and_idempotency_holds() {
    let s = setup().await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let engine = s.engine.clone();
        let account = s.account;
        tasks.push(tokio::spawn(async move {
            engine
                .submit(account, vec![msg("+254700000108", &format!("single {i}"))])
                .await
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let mut r = t.await.expect("task").expect("submit");
        ids.push(r.remove(0).expect("accepted").id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200);
    for id in &ids {
        wait_status(&s, *id, MessageStatus::Delivered).await;
    }
    let key = tuma_store::Idempotency {
        key: "k1".into(),
        body_hash: [1; 32],
    };
    let mut first = msg("+254700000109", "once");
    first.idempotency = Some(key.clone());
    let a = submit_one(&s, first.clone()).await;
    let again = s
        .engine
        .submit(s.account, vec![first])
        .await
        .expect("submit");
    let again = again[0].clone().expect("same message");
    assert_eq!((again.id, again.existing), (a, true));
    let mut other = msg("+254700000109", "other body");
    other.idempotency = Some(tuma_store::Idempotency {
        body_hash: [2; 32],
        ..key
    });
    let conflict = s
        .engine
        .submit(s.account, vec![other])
        .await
        .expect("submit");
    assert_eq!(
        conflict[0].clone().expect_err("conflict").kind,
        RejectionKind::Conflict
    );
    s.stop().await;
}

/// A message store whose submit results are written late, so receipts overtake them.
struct SlowSubmitResults(Arc<MemoryStore>);

#[async_trait]
impl MessageStore for SlowSubmitResults {
    async fn insert_batch(
        &self,
        batch: Vec<NewMessageRecord>,
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        self.0.insert_batch(batch).await
    }
    async fn get(&self, a: AccountId, id: MessageId) -> Result<Option<MessageRecord>, StoreError> {
        self.0.get(a, id).await
    }
    async fn pending_outbox(
        &self,
        c: Option<&ConnectorId>,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.0.pending_outbox(c, after, limit).await
    }
    async fn due_scheduled(&self, now: u64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.0.due_scheduled(now, limit).await
    }
    async fn record_submit_results(
        &self,
        results: Vec<SubmitResult>,
    ) -> Result<Vec<UpdateOutcome>, StoreError> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.0.record_submit_results(results).await
    }
    async fn record_receipts(
        &self,
        receipts: Vec<ReceiptUpdate>,
    ) -> Result<Vec<UpdateOutcome>, StoreError> {
        self.0.record_receipts(receipts).await
    }
    async fn drop_parked_receipts(&self, before: u64) -> Result<u64, StoreError> {
        self.0.drop_parked_receipts(before).await
    }
    async fn expire_overdue(
        &self,
        cutoff: u64,
        now: u64,
        limit: usize,
    ) -> Result<Vec<MessageId>, StoreError> {
        self.0.expire_overdue(cutoff, now, limit).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_that_overtake_their_submit_result_are_matched() {
    let sim = start_sim(0).await;
    let memory = Arc::new(MemoryStore::new());
    let mut stores: Stores = Stores::from_backend(memory.clone());
    stores.messages = Arc::new(SlowSubmitResults(memory));
    let account = stores
        .accounts
        .create_account("acme", 0)
        .await
        .expect("account")
        .id;
    let engine = Engine::start(
        config(vec![connector(sim.smpp_addr().to_string())]),
        stores,
        Clock::system(),
    )
    .await
    .expect("engine");
    let s = Setup {
        sim,
        engine,
        account,
    };
    let id = submit_one(&s, msg("+254700000110", "overtaken")).await;
    let m = wait_status(&s, id, MessageStatus::Delivered).await;
    assert_eq!(m.segments[0].status, tuma_domain::SegmentStatus::Delivered);
    assert!(
        s.engine
            .render_metrics()
            .contains("tuma_receipts_parked_total{connector=\"sim\"} 1"),
        "the receipt did not arrive first"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_sends_what_was_accepted_but_not_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tuma.db");
    let open = || {
        tuma_store_sqlite::SqliteStore::open(tuma_store_sqlite::SqliteConfig::new(&path))
            .expect("sqlite opens")
            .stores()
    };
    // First run: the SMSC is unreachable (a closed port), so nothing is sent.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        listener.local_addr().expect("addr").to_string()
    };
    let stores = open();
    let account = stores
        .accounts
        .create_account("acme", 0)
        .await
        .expect("account")
        .id;
    let engine = Engine::start(config(vec![connector(closed)]), stores, Clock::system())
        .await
        .expect("engine");
    let results = engine
        .submit(
            account,
            vec![
                msg("+254700000111", "survives a restart"),
                msg("+254700000112", &"long and durable ".repeat(12)),
            ],
        )
        .await
        .expect("submit");
    let ids: Vec<_> = results
        .into_iter()
        .map(|r| r.expect("accepted").id)
        .collect();
    engine.shutdown(Duration::from_millis(200)).await;
    drop(engine);

    // Second run on the same file, with the SMSC up.
    let sim = start_sim(0).await;
    let engine = Engine::start(
        config(vec![connector(sim.smpp_addr().to_string())]),
        open(),
        Clock::system(),
    )
    .await
    .expect("engine");
    let s = Setup {
        sim,
        engine,
        account,
    };
    for id in &ids {
        wait_status(&s, *id, MessageStatus::Delivered).await;
    }
    assert_eq!(inbox(&s, "254700000111")[0].text, "survives a restart");
    assert_eq!(
        inbox(&s, "254700000112")[0].text,
        "long and durable ".repeat(12)
    );
    // Sent once each (the long one in two parts).
    assert_eq!(s.sim.sim().lock().stats().submit_sm, 3);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transmitter_connector_gets_receipts_on_its_receiver_session() {
    let s = setup_with(0, |c| {
        c.connectors[0].bind_type = tuma_engine::BindType::Transmitter
    })
    .await;
    let id = submit_one(&s, msg("+254700000114", "sent on tx, receipted on rx")).await;
    wait_status(&s, id, MessageStatus::Delivered).await;
    // The transmitter and the receiver.
    assert_eq!(s.sim.bound_sessions(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_by_reply_suppresses_and_confirms_through_the_engine() {
    let s = setup_with(0, |c| {
        c.inbound = InboundConfig {
            numbers: vec![("5000".into(), "acme".into())],
            stop_reply: Some("You will get no more messages".into()),
            start_reply: None,
        };
    })
    .await;
    eventually("bound", || async { s.engine.health()[0].bound == 1 }).await;
    {
        let shared = s.sim.sim();
        shared
            .lock()
            .mo("254700000115", "5000", "STOP")
            .expect("simulator takes the reply");
        shared.outbound_ready().notify_waiters();
    }
    let number = tuma_domain::Msisdn::from_e164("+254700000115").expect("number");
    eventually("the number is suppressed", || async {
        s.engine
            .stores()
            .suppression
            .suppressed_among(s.account, &[number])
            .await
            .expect("store")
            .len()
            == 1
    })
    .await;
    // The confirmation reaches the handset although the number is now suppressed.
    eventually("the confirmation arrives", || async {
        inbox(&s, "254700000115")
            .iter()
            .any(|m| m.text == "You will get no more messages" && m.from == "5000")
    })
    .await;
    let later = s
        .engine
        .submit(s.account, vec![msg("+254700000115", "promo")])
        .await
        .expect("submit")
        .remove(0)
        .expect("stored");
    assert_eq!(later.status, MessageStatus::Suppressed);
    let replies = s
        .engine
        .stores()
        .inbound
        .list_inbound(s.account, None, 10)
        .await
        .expect("inbound");
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].text, "STOP");
    s.stop().await;
}

#[tokio::test]
async fn bad_connector_settings_are_refused_naming_the_field() {
    let mut c = connector("127.0.0.1:1".into());
    c.tls = Some(tuma_engine::TlsSettings {
        server_name: None,
        ca_file: Some("/nonexistent/ca.pem".into()),
    });
    let error = Engine::start(config(vec![c]), MemoryStore::stores(), Clock::system())
        .await
        .err()
        .expect("refused");
    assert!(error.to_string().contains("tls.ca_file"), "{error}");

    let mut c = connector("127.0.0.1:1".into());
    c.binds = 0;
    let error = Engine::start(config(vec![c]), MemoryStore::stores(), Clock::system())
        .await
        .err()
        .expect("refused");
    assert!(error.to_string().contains("binds"), "{error}");

    let mut cfg = config(vec![connector("127.0.0.1:1".into())]);
    cfg.routes = vec![tuma_domain::RouteSpec {
        prefix: "254".into(),
        connectors: vec![tuma_domain::WeightedConnector {
            connector: ConnectorId::parse("elsewhere").expect("name"),
            weight: 1,
        }],
    }];
    let error = Engine::start(cfg, MemoryStore::stores(), Clock::system())
        .await
        .err()
        .expect("refused");
    assert!(error.to_string().contains("elsewhere"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_and_the_accounts_default_callback() {
    // Nothing listens: messages wait in memory, so the second call finds the queue full.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        listener.local_addr().expect("addr").to_string()
    };
    let stores = MemoryStore::stores();
    let account = stores
        .accounts
        .create_account("acme", 0)
        .await
        .expect("account")
        .id;
    let mut cfg = config(vec![connector(closed)]);
    cfg.max_queued = 3;
    let engine = Engine::start(cfg, stores, Clock::system())
        .await
        .expect("engine");
    let settings = tuma_store::AccountSettings {
        callback_url: Some("https://acme.example/status".into()),
        mo_url: None,
    };
    let updated = engine
        .update_account_settings(account, settings.clone())
        .await
        .expect("settings");
    assert_eq!(updated.settings, settings);
    assert_eq!(
        engine
            .account(account)
            .await
            .expect("cached")
            .map(|a| a.settings),
        Some(settings)
    );
    let mut own = msg("+254700000116", "own callback");
    own.callback_url = Some("https://own.example/cb".into());
    let results = engine
        .submit(
            account,
            vec![own, msg("+254700000116", "b"), msg("+254700000116", "c")],
        )
        .await
        .expect("accepted while below the limit");
    let ids: Vec<_> = results
        .into_iter()
        .map(|r| r.expect("accepted").id)
        .collect();
    let callbacks: Vec<_> = {
        let mut v = Vec::new();
        for id in &ids {
            let m = engine
                .message(account, *id)
                .await
                .expect("store")
                .expect("stored");
            v.push(m.callback_url);
        }
        v
    };
    assert_eq!(
        callbacks,
        [
            Some("https://own.example/cb".to_owned()),
            Some("https://acme.example/status".to_owned()),
            Some("https://acme.example/status".to_owned()),
        ]
    );
    assert_eq!(engine.counts().queued, 3);
    assert_eq!(engine.health()[0].bound, 0);
    match engine
        .submit(account, vec![msg("+254700000116", "d")])
        .await
    {
        Err(EngineError::Overloaded { queued }) => assert_eq!(queued, 3),
        other => panic!("expected overload, got {other:?}"),
    }
    engine.shutdown(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_connector_trusts_its_ca_file() {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    // A TLS front for the simulator, with a self-signed certificate for "localhost".
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
    let acceptor = smpp_tokio::tls::acceptor(vec![cert.der().clone()], key).expect("acceptor");
    let sim = start_sim(0).await;
    let backend = sim.smpp_addr();
    let front = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let front_addr = front.local_addr().expect("addr").to_string();
    let proxy = tokio::spawn(async move {
        while let Ok((tcp, _)) = front.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.pem()).expect("write ca");

    let stores = MemoryStore::stores();
    let account = stores
        .accounts
        .create_account("acme", 0)
        .await
        .expect("account")
        .id;
    let mut c = connector(front_addr);
    c.tls = Some(tuma_engine::TlsSettings {
        server_name: Some("localhost".into()),
        ca_file: Some(ca),
    });
    let engine = Engine::start(config(vec![c]), stores, Clock::system())
        .await
        .expect("engine");
    let s = Setup {
        sim,
        engine,
        account,
    };
    let id = submit_one(&s, msg("+254700000117", "over TLS 🔒")).await;
    wait_status(&s, id, MessageStatus::Delivered).await;
    assert_eq!(inbox(&s, "254700000117")[0].text, "over TLS 🔒");
    s.engine.shutdown(Duration::from_secs(5)).await;
    proxy.abort();
    s.sim.shutdown().await;
}

/// Intake counts segments the way the chosen connector splits them: 306 GSM-7 characters are
/// 2 parts with an 8-bit reference UDH (153 each) but 3 with a 16-bit one (152 each), and the
/// message is sent (not failed as "segment count changed").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_are_counted_with_the_connectors_concatenation() {
    let s = setup_with(0, |c| c.connectors[0].concat = ConcatMethod::Udh16).await;
    let text = "x".repeat(306);
    let accepted = s
        .engine
        .submit(s.account, vec![msg("+254700000131", &text)])
        .await
        .expect("submit")
        .remove(0)
        .expect("accepted");
    assert_eq!(accepted.segments, 3);
    let m = wait_status(&s, accepted.id, MessageStatus::Delivered).await;
    assert_eq!(m.segments.len(), 3);
    let got = inbox(&s, "254700000131");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text, text);
    s.stop().await;
}
