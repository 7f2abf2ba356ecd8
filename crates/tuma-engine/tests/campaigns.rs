//! Campaigns against the SMSC simulator over real SMPP on loopback: import, personalization,
//! tracked links, opt-out mid-campaign, pause / resume / cancel, scheduling and quiet hours,
//! restart without duplicates. Waits are bounded stall detectors, never timings.

use std::future::Future;
use std::io::Cursor;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smsc_sim::config::{AccountConfig, Behaviour, BindType as SimBindType, TestRange};
use smsc_sim::{Engine as SimEngine, ServerOptions, Sim, SimConfig, SimServer};
use tuma_domain::{ConnectorId, Defaults, Msisdn, Region, SenderId};
use tuma_engine::{
    CampaignError, CampaignRequest, Clock, ConnectorConfig, Contacts, Engine, EngineConfig,
    WindowRequest,
};
use tuma_store::{AccountId, CampaignId, CampaignStatus, MemoryStore, Stores};

const PATIENCE: Duration = Duration::from_secs(30);
const LINK_BASE: &str = "https://t.example/l";

async fn start_sim() -> SimServer {
    let mut config = SimConfig {
        accounts: vec![AccountConfig {
            system_id: "tuma".into(),
            password: "secret".into(),
            bind_types: vec![SimBindType::Transceiver],
            max_binds: 8,
            max_tps: 0,
            short_codes: vec!["5000".into()],
        }],
        ..SimConfig::default()
    };
    // Every other number is delivered at once: these tests are about the campaign, not the
    // network's realistic mix of late and lost receipts.
    config.test_ranges.push(TestRange {
        prefix: "254".into(),
        behaviour: Behaviour::DeliverInstantly,
        err: None,
        delay: None,
        status: None,
    });
    let sim = Sim::new(SimEngine::new(config).expect("simulator config"));
    SimServer::start_with(
        sim,
        ServerOptions::new("127.0.0.1:0".parse().expect("addr")),
    )
    .await
    .expect("simulator starts")
}

fn config(address: String) -> EngineConfig {
    let mut defaults = Defaults::new(Region::parse("KE").expect("region"));
    defaults.sender = Some(SenderId::parse("ACME").expect("sender"));
    let mut connector = ConnectorConfig::new(
        ConnectorId::parse("sim").expect("connector"),
        address,
        "tuma",
        "secret",
    );
    connector.window = 20;
    let mut config = EngineConfig {
        defaults,
        connectors: vec![connector],
        routes: Vec::new(),
        retry: Default::default(),
        multipart: Default::default(),
        expiry_grace: Duration::from_secs(60),
        tick: Duration::from_millis(20),
        webhooks: Default::default(),
        inbound: Default::default(),
        max_queued: 100_000,
        campaigns: Default::default(),
    };
    config.campaigns.link_base = LINK_BASE.into();
    config.campaigns.operators = vec![("Safaricom".into(), "+25470".into())];
    config
}

struct Setup {
    sim: SimServer,
    engine: Engine,
    stores: Stores,
    clock: Clock,
    account: AccountId,
}

async fn setup() -> Setup {
    let sim = start_sim().await;
    let stores = MemoryStore::stores();
    let account = stores
        .accounts
        .create_account("acme", 0)
        .await
        .expect("account")
        .id;
    let clock = Clock::system();
    let engine = Engine::start(
        config(sim.smpp_addr().to_string()),
        stores.clone(),
        clock.clone(),
    )
    .await
    .expect("engine starts");
    Setup {
        sim,
        engine,
        stores,
        clock,
        account,
    }
}

impl Setup {
    async fn stop(self) {
        self.engine.shutdown(Duration::from_secs(5)).await;
        self.sim.shutdown().await;
    }

    fn inbox(&self, msisdn: &str) -> Vec<String> {
        self.sim
            .sim()
            .lock()
            .inbox(msisdn)
            .into_iter()
            .map(|m| m.text)
            .collect()
    }

    async fn create(&self, request: CampaignRequest) -> tuma_engine::CampaignCreated {
        self.engine
            .create_campaign(self.account, request)
            .await
            .expect("campaign created")
    }

    async fn report(&self, id: CampaignId) -> tuma_engine::CampaignReport {
        self.engine
            .campaign(self.account, id)
            .await
            .expect("report")
            .expect("campaign exists")
    }

    /// Waits until the campaign has handed every recipient over and every message is final.
    async fn wait_done(&self, id: CampaignId) -> tuma_engine::CampaignReport {
        let start = Instant::now();
        loop {
            let r = self.report(id).await;
            let c = r.counts;
            if r.campaign.status.is_final()
                && c.accepted == c.delivered + c.failed + c.expired + c.rejected
            {
                break;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "stalled waiting for campaign {id} to finish: {:?} {c:?}",
                r.campaign.status
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.report(id).await
    }
}

fn request(template: &str, csv: &str) -> CampaignRequest {
    CampaignRequest {
        name: "test".into(),
        from: Some("ACME".into()),
        template: template.into(),
        contacts: Contacts::Csv(Box::new(Cursor::new(csv.to_owned().into_bytes()))),
        track_links: false,
        send_at_ms: None,
        window: None,
        rate: None,
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
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn numbers(n: u64) -> Vec<String> {
    (0..n).map(|i| format!("+2547100{:05}", i)).collect()
}

fn csv_of(numbers: &[String]) -> String {
    let mut csv = String::from("phone,name\n");
    for (i, n) in numbers.iter().enumerate() {
        csv.push_str(&format!("{n},N{i}\n"));
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_recipient_gets_its_personalized_text_and_own_link() {
    let s = setup().await;
    let csv = "Name;Phone;Offer\n\
               Amina;0700 000 001;10% off\n\
               Zoé;+254700000002;\n\
               Bad;12345;x\n\
               李;0711000003;free delivery\n\
               Amina again;+254700000001;dup\n";
    let mut req = request(
        "Hi {{ name }}, {{ offer | default(\"a gift\") }} at https://shop.example/deal",
        csv,
    );
    req.track_links = true;
    let created = s.create(req).await;
    let import = created.import.clone().expect("import report");
    assert_eq!(
        (
            import.rows,
            import.accepted,
            import.rejected_count,
            import.duplicates
        ),
        (5, 3, 1, 1)
    );
    assert_eq!(import.rejected[0].line, 4);
    assert_eq!(import.delimiter, ";");
    assert_eq!(created.preview.recipients, 3);
    assert_eq!(
        created.preview.messages[0].text,
        format!("Hi Amina, 10% off at {LINK_BASE}/xxxxxxxxxx")
    );

    let id = created.campaign.id;
    let report = s.wait_done(id).await;
    assert_eq!(report.campaign.status, CampaignStatus::Completed);
    assert_eq!(
        (
            report.counts.total,
            report.counts.invalid,
            report.counts.duplicates
        ),
        (5, 1, 1)
    );
    assert_eq!(
        (
            report.counts.accepted,
            report.counts.submitted,
            report.counts.delivered
        ),
        (3, 3, 3)
    );

    let expected = [
        ("254700000001", "Hi Amina, 10% off at "),
        ("254700000002", "Hi Zoé, a gift at "),
        ("254711000003", "Hi 李, free delivery at "),
    ];
    let mut codes = Vec::new();
    for (number, prefix) in expected {
        let inbox = s.inbox(number);
        assert_eq!(inbox.len(), 1, "{number}: {inbox:?}");
        let text = &inbox[0];
        let code = text
            .strip_prefix(&format!("{prefix}{LINK_BASE}/"))
            .unwrap_or_else(|| panic!("{number}: unexpected text {text:?}"));
        assert_eq!(code.len(), 10);
        assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()));
        codes.push(code.to_owned());
    }
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 3, "every recipient has its own code");

    // Following a link redirects to the original URL and counts a click.
    let target = s
        .engine
        .follow_link(&codes[0], Some("test-agent"))
        .await
        .expect("store");
    assert_eq!(target.as_deref(), Some("https://shop.example/deal"));
    s.engine.follow_link(&codes[0], None).await.expect("store");
    assert_eq!(
        s.engine
            .follow_link("unknownCode1", None)
            .await
            .expect("store"),
        None
    );
    assert_eq!(
        s.engine
            .follow_link("../../etc", None)
            .await
            .expect("store"),
        None
    );
    let report = s.report(id).await;
    assert_eq!((report.counts.clicks, report.counts.unique_clicks), (2, 1));
    assert_eq!(report.click_through_rate, Some(1.0 / 3.0));
    assert_eq!(report.delivery_rate, Some(1.0));
    assert!(report.latency.p50.is_some());
    let operators: Vec<_> = report
        .operators
        .iter()
        .map(|o| (o.operator.as_str(), o.messages, o.delivered))
        .collect();
    assert_eq!(operators, [("Safaricom", 2, 2), ("+254", 1, 1)]);

    let rows = s
        .engine
        .recipient_rows(s.account, id, 0, 100)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .all(|r| r.status == "delivered" && r.delivered_at_ms.is_some()));
    assert_eq!(rows.iter().map(|r| r.clicks).sum::<u64>(), 2);
    assert_eq!(rows[1].to, "+254700000002");
    assert_eq!(rows[1].line, 3);
    // Another account sees nothing.
    let other = s
        .stores
        .accounts
        .create_account("other", 0)
        .await
        .expect("account")
        .id;
    assert!(s.engine.campaign(other, id).await.expect("store").is_none());
    assert!(matches!(
        s.engine.recipient_rows(other, id, 0, 10).await,
        Err(CampaignError::NotFound { .. })
    ));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_naming_a_missing_column_is_refused_before_anything_is_stored() {
    let s = setup().await;
    let err = s
        .engine
        .create_campaign(
            s.account,
            request("Hi {{ name }}, {{ balance }}", "phone,name\n0700000001,A\n"),
        )
        .await
        .expect_err("refused");
    match err {
        CampaignError::Invalid {
            code,
            field,
            message,
        } => {
            assert_eq!((code, field), ("unknown_column", "template"));
            assert!(message.contains("\"balance\""), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(s
        .engine
        .lists(s.account, None, 10)
        .await
        .expect("lists")
        .is_empty());
    assert!(s
        .stores
        .campaigns
        .lists_with_status(tuma_store::ListStatus::Importing)
        .await
        .expect("lists")
        .is_empty());
    assert!(s
        .engine
        .campaigns(s.account, None, 10)
        .await
        .expect("campaigns")
        .is_empty());
    let err = s
        .engine
        .create_campaign(s.account, request("Hi", "name\nA\n"))
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err,
            CampaignError::Invalid {
                code: "invalid_csv",
                ..
            }
        ),
        "{err:?}"
    );
    let mut bad_window = request("Hi", "phone\n0700000001\n");
    bad_window.window = Some(WindowRequest {
        start: "25:00".into(),
        end: "20:00".into(),
        timezone: None,
    });
    assert!(matches!(
        s.engine.create_campaign(s.account, bad_window).await,
        Err(CampaignError::Invalid {
            field: "window.start",
            ..
        })
    ));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_reply_mid_campaign_suppresses_the_remaining_message() {
    let s = setup().await;
    let list = numbers(30);
    let mut req = request("Hello {{ name }}", &csv_of(&list));
    req.rate = Some(10);
    let id = s.create(req).await.campaign.id;
    // The last recipient replies STOP (through the simulator, over SMPP) while the first
    // ones are being sent.
    eventually("the first messages", || async {
        !s.inbox(&list[0][1..]).is_empty()
    })
    .await;
    s.sim
        .sim()
        .lock()
        .mo(&list[29][1..], "5000", "stop")
        .expect("the simulator takes the reply");
    let last = Msisdn::from_e164(&list[29]).expect("number");
    eventually("the opt-out to be stored", || async {
        !s.stores
            .suppression
            .suppressed_among(s.account, &[last])
            .await
            .expect("store")
            .is_empty()
    })
    .await;
    assert!(
        s.report(id).await.counts.pending > 0,
        "the opt-out came after the whole campaign was handed over: the test proves nothing"
    );
    let report = s.wait_done(id).await;
    assert_eq!((report.counts.suppressed, report.counts.delivered), (1, 29));
    assert!(s.inbox(&list[29][1..]).is_empty());
    let rows = s
        .engine
        .recipient_rows(s.account, id, 0, 100)
        .await
        .expect("rows");
    assert_eq!(rows[29].status, "suppressed");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_cancel_never_lose_or_duplicate_a_message() {
    let s = setup().await;
    let list = numbers(60);
    let mut req = request("Hello {{ name }}", &csv_of(&list));
    req.rate = Some(40);
    let id = s.create(req).await.campaign.id;
    eventually("some messages", || async {
        s.report(id).await.counts.accepted >= 5
    })
    .await;
    let paused = s.engine.pause_campaign(s.account, id).await.expect("pause");
    assert_eq!(paused.status, CampaignStatus::Paused);
    // Pausing twice is fine; resuming a running one too.
    s.engine
        .pause_campaign(s.account, id)
        .await
        .expect("pause again");
    // At most the page in progress is handed over after the pause.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let handed = s.report(id).await.counts.accepted;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        s.report(id).await.counts.accepted,
        handed,
        "a paused campaign sends nothing"
    );
    assert!(handed < 60);
    let resumed = s
        .engine
        .resume_campaign(s.account, id)
        .await
        .expect("resume");
    assert_eq!(resumed.status, CampaignStatus::Running);
    let report = s.wait_done(id).await;
    assert_eq!((report.counts.accepted, report.counts.delivered), (60, 60));
    for n in &list {
        assert_eq!(s.inbox(&n[1..]).len(), 1, "{n}");
    }
    assert!(matches!(
        s.engine.resume_campaign(s.account, id).await,
        Err(CampaignError::Conflict { .. })
    ));
    assert!(matches!(
        s.engine.cancel_campaign(s.account, id).await,
        Err(CampaignError::Conflict { .. })
    ));

    // Cancel: what was handed over is delivered, the rest never leaves.
    let list2: Vec<String> = (0..60).map(|i| format!("+2547200{:05}", i)).collect();
    let mut req = request("Hi {{ name }}", &csv_of(&list2));
    req.rate = Some(40);
    let id2 = s.create(req).await.campaign.id;
    eventually("some messages", || async {
        s.report(id2).await.counts.accepted >= 5
    })
    .await;
    let cancelled = s
        .engine
        .cancel_campaign(s.account, id2)
        .await
        .expect("cancel");
    assert_eq!(cancelled.status, CampaignStatus::Cancelled);
    let report = s.wait_done(id2).await;
    assert!(report.counts.cancelled > 0, "{:?}", report.counts);
    assert_eq!(report.counts.accepted + report.counts.cancelled, 60);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = s
        .engine
        .recipient_rows(s.account, id2, 0, 100)
        .await
        .expect("rows");
    let mut sent = 0;
    for r in &rows {
        let inbox = s.inbox(&r.to[1..]);
        if r.status == "cancelled" {
            assert!(
                inbox.is_empty(),
                "{} was cancelled but received {inbox:?}",
                r.to
            );
        } else {
            assert_eq!(r.status, "delivered");
            assert_eq!(inbox.len(), 1);
            sent += 1;
        }
    }
    assert_eq!(sent, report.counts.accepted);
    s.stop().await;
}

/// Minutes after UTC midnight now.
fn utc_minute_now() -> u64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    (secs % 86_400) / 60
}

fn hhmm(minute: u64) -> String {
    let m = minute % 1440;
    format!("{:02}:{:02}", m / 60, m % 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_start_and_quiet_hours_follow_the_clock() {
    let s = setup().await;
    // Scheduled an hour ahead: nothing moves until the clock gets there.
    let list = numbers(3);
    let mut req = request("Later {{ name }}", &csv_of(&list));
    req.send_at_ms = Some(s.clock.now_ms() + 3_600_000);
    let id = s.create(req).await.campaign.id;
    assert_eq!(
        s.report(id).await.campaign.status,
        CampaignStatus::Scheduled
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.report(id).await.counts.accepted, 0);
    s.clock.advance(Duration::from_secs(3_601));
    let report = s.wait_done(id).await;
    assert_eq!(report.counts.delivered, 3);

    // Quiet hours: a window opening two hours from now (UTC) holds everything back until the
    // clock reaches it. (The clock was moved an hour ahead above.)
    let now_minute = (utc_minute_now() + 61) % 1440;
    let list2: Vec<String> = (0..3).map(|i| format!("+2547300{:05}", i)).collect();
    let mut req = request("Window {{ name }}", &csv_of(&list2));
    req.window = Some(WindowRequest {
        start: hhmm(now_minute + 120),
        end: hhmm(now_minute + 240),
        timezone: Some("+00:00".into()),
    });
    let id2 = s.create(req).await.campaign.id;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = s.report(id2).await;
    assert_eq!(
        (r.campaign.status, r.counts.accepted, r.counts.pending),
        (CampaignStatus::Running, 0, 3)
    );
    s.clock.advance(Duration::from_secs(121 * 60));
    let report = s.wait_done(id2).await;
    assert_eq!(report.counts.delivered, 3);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_runner_repeats_no_message_and_lists_are_reusable() {
    let s = setup().await;
    let list = numbers(25);
    let (stored, import) = s
        .engine
        .import_list(
            s.account,
            "customers".into(),
            Box::new(Cursor::new(csv_of(&list).into_bytes())),
        )
        .await
        .expect("import");
    assert_eq!((stored.totals.accepted, import.accepted), (25, 25));
    let mut req = request("First {{ name }}", "");
    req.contacts = Contacts::List(stored.id);
    let first = s.create(req).await;
    assert!(first.import.is_none());
    assert_eq!(first.preview.recipients, 25);
    let id = first.campaign.id;
    s.wait_done(id).await;

    // As if a crash had lost the saved progress: the runner starts over, and the store
    // refuses every second message.
    let fresh: Vec<_> = first
        .campaign
        .cursors
        .iter()
        .map(|c| tuma_store::GroupCursor {
            last_seq: 0,
            done: false,
            ..*c
        })
        .collect();
    s.stores
        .campaigns
        .save_cursors(id, fresh)
        .await
        .expect("cursors");
    s.stores
        .campaigns
        .set_campaign_status(id, &[CampaignStatus::Completed], CampaignStatus::Running, 0)
        .await
        .expect("status");
    let sim_addr = s.sim.smpp_addr().to_string();
    s.engine.shutdown(Duration::from_secs(5)).await;
    let engine = Engine::start(config(sim_addr), s.stores.clone(), s.clock.clone())
        .await
        .expect("engine restarts");
    let s = Setup { engine, ..s };
    let report = s.wait_done(id).await;
    assert_eq!(report.campaign.status, CampaignStatus::Completed);
    assert_eq!(report.counts.accepted, 25);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in &list {
        assert_eq!(
            s.inbox(&n[1..]),
            vec![format!("First N{}", n[10..].parse::<u64>().unwrap_or(0))],
            "{n}"
        );
    }

    // The same list again, another template.
    let mut req = request("Second {{ name }}", "");
    req.contacts = Contacts::List(stored.id);
    let second = s.create(req).await.campaign.id;
    s.wait_done(second).await;
    assert_eq!(s.inbox(&list[3][1..]), ["First N3", "Second N3"]);
    s.stop().await;
}

/// Without receipts no message ever finishes: the runner's wait for unfinished messages
/// gives way after a stall instead of holding the campaign forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_without_receipts_does_not_hold_a_campaign_forever() {
    let sim = start_sim().await;
    let stores = MemoryStore::stores();
    let account = stores
        .accounts
        .create_account("acme", 0)
        .await
        .expect("account")
        .id;
    let mut cfg = config(sim.smpp_addr().to_string());
    cfg.connectors[0].registered_delivery = false;
    cfg.campaigns.page = 10;
    cfg.campaigns.max_unfinished = 10;
    let clock = Clock::system();
    let engine = Engine::start(cfg, stores.clone(), clock.clone())
        .await
        .expect("engine starts");
    let s = Setup {
        sim,
        engine,
        stores,
        clock,
        account,
    };
    let list = numbers(30);
    let id = s
        .create(request("No receipt {{ name }}", &csv_of(&list)))
        .await
        .campaign
        .id;
    let started = Instant::now();
    eventually("the campaign to complete", || async {
        s.report(id).await.campaign.status == CampaignStatus::Completed
    })
    .await;
    // It waited (the cap was reached after two pages) before it went on.
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // `completed` means every recipient was handed over; the last page may still be on its
    // way to the SMSC (docs/api.md).
    eventually("the last page to be submitted", || async {
        s.report(id).await.counts.submitted == 30
    })
    .await;
    let report = s.report(id).await;
    assert_eq!(
        (
            report.counts.accepted,
            report.counts.submitted,
            report.counts.delivered
        ),
        (30, 30, 0)
    );
    eventually("every handset to get its message", || async {
        list.iter().all(|n| !s.inbox(&n[1..]).is_empty())
    })
    .await;
    for n in &list {
        assert_eq!(s.inbox(&n[1..]).len(), 1, "{n}");
    }
    s.stop().await;
}
