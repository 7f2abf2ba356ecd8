//! How fast a campaign's CSV goes from bytes to stored recipients (durable SQLite), with the
//! template checked and every contact rendered into the preview.
//!
//! `cargo run --release -p tuma-engine --example campaign_import -- [ROWS]` (default 1,000,000).
//! No SMSC is involved: the campaign is created paused-at-birth (`send_at` a day ahead).

use std::io::Write;
use std::time::{Duration, Instant};

use tuma_domain::{Defaults, Region, SenderId};
use tuma_engine::{CampaignRequest, Clock, Contacts, Engine, EngineConfig};

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(rows));
}

async fn run(rows: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv_path = dir.path().join("contacts.csv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&csv_path).expect("csv"));
        writeln!(f, "phone,name,balance").expect("write");
        for i in 0..rows {
            let name = if i % 10 == 0 { "Zoé" } else { "Amina" };
            writeln!(f, "+2547{:08},{name} {i},{}.{:02}", i, i % 5000, i % 100).expect("write");
        }
    }
    let bytes = std::fs::metadata(&csv_path).expect("metadata").len();
    let store = tuma_store_sqlite::SqliteStore::open(tuma_store_sqlite::SqliteConfig::new(
        dir.path().join("tuma.db"),
    ))
    .expect("sqlite");
    let stores = store.stores();
    let account = stores
        .accounts
        .create_account("bench", 0)
        .await
        .expect("account")
        .id;
    let mut defaults = Defaults::new(Region::parse("KE").expect("region"));
    defaults.sender = Some(SenderId::parse("ACME").expect("sender"));
    let config = EngineConfig {
        defaults,
        connectors: Vec::new(),
        routes: Vec::new(),
        retry: Default::default(),
        multipart: Default::default(),
        expiry_grace: Duration::from_secs(60),
        tick: Duration::from_secs(1),
        webhooks: Default::default(),
        inbound: Default::default(),
        max_queued: 100_000,
        campaigns: Default::default(),
    };
    let engine = Engine::start(config, stores, Clock::system())
        .await
        .expect("engine");

    let started = Instant::now();
    let (_, report) = engine
        .import_list(
            account,
            "plain".into(),
            Box::new(std::fs::File::open(&csv_path).expect("csv")),
        )
        .await
        .expect("import");
    let plain = started.elapsed();
    assert_eq!(report.accepted as usize, rows);

    let started = Instant::now();
    let created = engine
        .create_campaign(
            account,
            CampaignRequest {
                name: "bench".into(),
                from: None,
                template: "Hi {{ name | default(\"there\") }}, your balance is {{ balance }}. \
                           Offer: https://shop.example/offer"
                    .into(),
                contacts: Contacts::Csv(Box::new(std::fs::File::open(&csv_path).expect("csv"))),
                track_links: true,
                send_at_ms: Some(Clock::system().now_ms() + 86_400_000),
                window: None,
                rate: None,
            },
        )
        .await
        .expect("campaign");
    let with_preview = started.elapsed();
    assert_eq!(created.preview.recipients as usize, rows);
    let rate = |d: Duration| rows as f64 / d.as_secs_f64();
    println!(
        "{rows} rows, {:.1} MB: list import {:.2} s ({:.0} rows/s); campaign import with \
         template check and preview of every message {:.2} s ({:.0} rows/s); total segments {}",
        bytes as f64 / 1e6,
        plain.as_secs_f64(),
        rate(plain),
        with_preview.as_secs_f64(),
        rate(with_preview),
        created.preview.total_segments,
    );
    engine.shutdown(Duration::from_secs(5)).await;
}
