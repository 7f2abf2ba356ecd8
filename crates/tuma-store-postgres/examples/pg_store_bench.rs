//! Measures the PostgreSQL backend: committed messages per second.
//!
//! ```text
//! TUMA_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo run --release -p tuma-store-postgres --example pg_store_bench
//! ```
//!
//! 1. `insert_batch` of 1,000 messages (1-3 segments each, an outbox entry each), 50 times
//!    (`PG_BENCH_BATCHES` to change).
//! 2. 64 tasks each inserting ONE message per call for 3 s (a commit per call; the pool's
//!    8 connections bound the concurrency).
//! 3. Status updates: `record_submit_results` then `record_receipts`, 1,000 per call, for
//!    the messages of step 1 (segment by segment).
//!
//! Everything goes in a fresh schema, dropped at the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smpp::MessageState;
use tuma_domain::ConnectorId;
use tuma_store::conformance::{id, message};
use tuma_store::{MessageStore, ReceiptUpdate, SubmitOutcomeRecord, SubmitResult};
use tuma_store_postgres::{PostgresConfig, PostgresStore};

const BATCH: u64 = 1_000;

fn segments_of(n: u64) -> u8 {
    (n % 3 + 1) as u8
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("TUMA_TEST_DATABASE_URL")
        .map_err(|_| "set TUMA_TEST_DATABASE_URL to a database the bench may write to")?;
    let batches: u64 = std::env::var("PG_BENCH_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let schema = format!("tuma_bench_{}", std::process::id());
    let mut config = PostgresConfig::new(&url);
    config.schema = Some(schema.clone());
    let store = PostgresStore::connect_with(config).await?;
    let result = run(&store, batches).await;
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

async fn run(store: &Arc<PostgresStore>, batches: u64) -> Result<(), Box<dyn std::error::Error>> {
    // 1. Batches of 1,000.
    let start = Instant::now();
    for b in 0..batches {
        let batch = (b * BATCH + 1..=(b + 1) * BATCH)
            .map(|n| message(n, segments_of(n)))
            .collect();
        store.insert_batch(batch).await?;
    }
    let secs = start.elapsed().as_secs_f64();
    let total = batches * BATCH;
    println!(
        "insert_batch x{BATCH}: {total} messages in {secs:.2} s = {:.0} messages/s",
        total as f64 / secs
    );

    // 2. One message per call, 64 tasks.
    let done = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(10_000_000));
    let until = Instant::now() + Duration::from_secs(3);
    let start = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let store = store.clone();
            let done = done.clone();
            let next = next.clone();
            tokio::spawn(async move {
                while Instant::now() < until {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if store.insert_batch(vec![message(n, 1)]).await.is_ok() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    let n = done.load(Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "64 tasks x 1 message/call: {n} messages in {secs:.2} s = {:.0} messages/s",
        n as f64 / secs
    );

    // 3. Status updates for the messages of step 1, 1,000 per call.
    let connector = ConnectorId::parse("smsc-a")?;
    let segments: Vec<(u64, u8)> = (1..=total)
        .flat_map(|n| (0..segments_of(n)).map(move |g| (n, g)))
        .collect();
    let start = Instant::now();
    for chunk in segments.chunks(BATCH as usize) {
        let results = chunk
            .iter()
            .map(|&(n, g)| SubmitResult {
                message: id(n),
                segment: g,
                connector: connector.clone(),
                at_ms: 1,
                outcome: SubmitOutcomeRecord::Accepted {
                    smsc_id: format!("{n:x}a{g}"),
                },
            })
            .collect();
        store.record_submit_results(results).await?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "record_submit_results x{BATCH}: {} segments in {secs:.2} s = {:.0} segments/s",
        segments.len(),
        segments.len() as f64 / secs
    );
    let start = Instant::now();
    for chunk in segments.chunks(BATCH as usize) {
        let receipts = chunk
            .iter()
            .map(|&(n, g)| ReceiptUpdate {
                connector: connector.clone(),
                protocol_id: Some(format!("{n:x}a{g}")),
                text_id: None,
                state: MessageState::Delivered,
                detail: None,
                error: None,
                at_ms: 2,
            })
            .collect();
        store.record_receipts(receipts).await?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "record_receipts x{BATCH}: {} receipts in {secs:.2} s = {:.0} receipts/s",
        segments.len(),
        segments.len() as f64 / secs
    );
    Ok(())
}
