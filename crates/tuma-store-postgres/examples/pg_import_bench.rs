//! Measures the PostgreSQL campaign store: recipients imported and read back per second.
//!
//! ```text
//! TUMA_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo run --release -p tuma-store-postgres --example pg_import_bench
//! ```
//!
//! 1. `insert_recipients` of `PG_BENCH_RECIPIENTS` recipients (default 1,000,000) in
//!    chunks of 5,000 (the engine's import chunk), three values each (a name with accents
//!    and an emoji, a balance, a city), one call at a time.
//! 2. `recipients` by pages of 1,000, all of them, then one UTC offset's group (a quarter).
//! 3. `insert_batch` of `PG_BENCH_MESSAGES` messages (default 100,000) in batches of 1,000,
//!    first without a campaign reference, then with one each (the cost of the reference
//!    lookup and its unique index), then `campaign_messages` by pages of 1,000 (after a
//!    submit result for each, so every message has an event).
//!
//! Everything goes in a fresh schema, dropped at the end.

use std::time::Instant;

use tuma_domain::{ConnectorId, Msisdn, SenderId};
use tuma_store::campaigns::{
    CampaignRef, CampaignStatus, CampaignStore, GroupCursor, ImportTotals, NewCampaign, NewList,
    NewRecipient,
};
use tuma_store::conformance::{id, message};
use tuma_store::{AccountId, InsertOutcome, MessageStore, SubmitOutcomeRecord, SubmitResult};
use tuma_store_postgres::{PostgresConfig, PostgresStore};

const CHUNK: u64 = 5_000;
const PAGE: usize = 1_000;
const OFFSETS: [i16; 4] = [-300, 0, 180, 330];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("TUMA_TEST_DATABASE_URL")
        .map_err(|_| "set TUMA_TEST_DATABASE_URL to a database the bench may write to")?;
    let total = env_or("PG_BENCH_RECIPIENTS", 1_000_000);
    let messages = env_or("PG_BENCH_MESSAGES", 100_000);
    let schema = format!("tuma_import_bench_{}", std::process::id());
    let mut config = PostgresConfig::new(&url);
    config.schema = Some(schema.clone());
    let store = PostgresStore::connect_with(config).await?;
    let result = run(&store, total, messages).await;
    drop(store);
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await?;
    drop(client);
    let _ = driver.await;
    result
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn recipient(seq: u64) -> Result<NewRecipient, Box<dyn std::error::Error>> {
    Ok(NewRecipient {
        seq,
        line: seq + 1,
        to: Msisdn::from_e164(&format!("+2547{:08}", seq % 100_000_000))?,
        utc_offset_min: OFFSETS[(seq % 4) as usize],
        values: vec![
            format!("Zoë Wanjikũ {seq} 😀"),
            format!("{}.50", seq % 10_000),
            "Nairobi".to_owned(),
        ],
    })
}

async fn run(
    store: &PostgresStore,
    total: u64,
    messages: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let list = store
        .create_list(NewList {
            account: AccountId(1),
            name: "bench".into(),
            columns: vec!["name".into(), "balance".into(), "city".into()],
            created_at_ms: 0,
        })
        .await?;

    // 1. Import. Rows are built before the clock starts: only the store is measured.
    let mut chunks = Vec::new();
    let mut seq = 1;
    while seq <= total {
        let end = (seq + CHUNK - 1).min(total);
        chunks.push((seq..=end).map(recipient).collect::<Result<Vec<_>, _>>()?);
        seq = end + 1;
    }
    let start = Instant::now();
    for chunk in chunks {
        store.insert_recipients(list.id, chunk).await?;
    }
    let took = start.elapsed();
    println!(
        "import: {total} recipients in {:.2} s: {:.0} recipients/s ({CHUNK} per call)",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    let quarter = total / 4;
    store
        .finish_list(
            list.id,
            ImportTotals {
                rows: total,
                accepted: total,
                ..ImportTotals::default()
            },
            OFFSETS.iter().map(|o| (*o, quarter)).collect(),
        )
        .await?;

    // 2. Read back by pages.
    for group in [None, Some(180)] {
        let start = Instant::now();
        let mut after = 0;
        let mut read = 0u64;
        loop {
            let page = store.recipients(list.id, group, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            read += page.len() as u64;
        }
        let took = start.elapsed();
        println!(
            "read {}: {read} recipients in {:.2} s: {:.0} recipients/s ({PAGE} per page)",
            group.map_or_else(|| "all".to_owned(), |o| format!("offset {o}")),
            took.as_secs_f64(),
            read as f64 / took.as_secs_f64()
        );
    }

    // 3. Campaign messages.
    let campaign = store
        .create_campaign(NewCampaign {
            account: AccountId(1),
            name: "bench".into(),
            list: list.id,
            from: SenderId::parse("MyShop")?,
            template: "Hi {{ name }}".into(),
            track_links: false,
            link_base: None,
            send_at_ms: None,
            window: None,
            rate: None,
            status: CampaignStatus::Running,
            cursors: vec![GroupCursor {
                utc_offset_min: None,
                last_seq: 0,
                done: false,
            }],
            created_at_ms: 0,
        })
        .await?
        .id;
    for tagged in [false, true] {
        let base = if tagged { 10_000_000 } else { 0 };
        let batches: Vec<Vec<_>> = (0..messages.div_ceil(1_000))
            .map(|b| {
                (b * 1_000 + 1..=((b + 1) * 1_000).min(messages))
                    .map(|n| {
                        let mut m = message(base + n, 1);
                        if tagged {
                            m.campaign = Some(CampaignRef { campaign, seq: n });
                        }
                        m
                    })
                    .collect()
            })
            .collect();
        let start = Instant::now();
        for batch in batches {
            let out = store.insert_batch(batch).await?;
            if out.iter().any(|o| *o != InsertOutcome::Inserted) {
                return Err("a message was not inserted".into());
            }
        }
        let took = start.elapsed();
        println!(
            "insert_batch {}: {messages} messages in {:.2} s: {:.0} messages/s (1000 per call)",
            if tagged {
                "with campaign reference"
            } else {
                "plain"
            },
            took.as_secs_f64(),
            messages as f64 / took.as_secs_f64()
        );
    }
    let connector = ConnectorId::parse("smsc-a")?;
    for b in 0..messages.div_ceil(1_000) {
        let results = (b * 1_000 + 1..=((b + 1) * 1_000).min(messages))
            .map(|n| SubmitResult {
                message: id(10_000_000 + n),
                segment: 0,
                connector: connector.clone(),
                at_ms: 1_000,
                outcome: SubmitOutcomeRecord::Accepted {
                    smsc_id: format!("b{n}"),
                },
            })
            .collect();
        store.record_submit_results(results).await?;
    }
    let start = Instant::now();
    let mut after = 0;
    let mut read = 0u64;
    loop {
        let page = store.campaign_messages(campaign, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        read += page.len() as u64;
    }
    let took = start.elapsed();
    println!(
        "campaign_messages: {read} messages in {:.2} s: {:.0} messages/s ({PAGE} per page)",
        took.as_secs_f64(),
        read as f64 / took.as_secs_f64()
    );
    Ok(())
}
