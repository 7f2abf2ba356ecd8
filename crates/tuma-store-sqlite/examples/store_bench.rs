//! Measures the SQLite backend: committed messages per second.
//!
//! ```text
//! cargo run --release -p tuma-store-sqlite --example store_bench -- [full|normal] [dir]
//! ```
//!
//! 1. `insert_batch` of 1,000 messages (1-3 segments each; each one row), 100 times.
//! 2. Group commit: 64 tasks each inserting ONE message per call in a loop for 3 s.
//! 3. Status updates: `record_submit_results` then `record_receipts`, 1,000 per call, for
//!    the messages of step 1 (segment by segment).
//!
//! The database goes in a fresh temporary directory (in `dir` if given, to measure a given
//! disk).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smpp::MessageState;
use tuma_domain::ConnectorId;
use tuma_store::conformance::{id, message};
use tuma_store::{ReceiptUpdate, SubmitOutcomeRecord, SubmitResult};
use tuma_store_sqlite::{SqliteConfig, SqliteStore, Synchronous};

const BATCH: u64 = 1_000;
const BATCHES: u64 = 100;

fn segments_of(n: u64) -> u8 {
    (n % 3 + 1) as u8
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let sync = match args.next().as_deref() {
        None | Some("full") => Synchronous::Full,
        Some("normal") => Synchronous::Normal,
        Some(other) => return Err(format!("unknown synchronous mode {other:?}").into()),
    };
    let dir = match args.next() {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let mut config = SqliteConfig::new(dir.path().join("bench.db"));
    config.synchronous = sync;
    let store = SqliteStore::open(config)?;
    let s = store.stores();
    println!("synchronous={sync:?} db={}", dir.path().display());

    // 1. Batches of 1,000.
    let start = Instant::now();
    for b in 0..BATCHES {
        let batch = (b * BATCH + 1..=(b + 1) * BATCH)
            .map(|n| message(n, segments_of(n)))
            .collect();
        s.messages.insert_batch(batch).await?;
    }
    let secs = start.elapsed().as_secs_f64();
    let total = BATCHES * BATCH;
    println!(
        "insert_batch x{BATCH}: {total} messages in {secs:.2} s = {:.0} messages/s",
        total as f64 / secs
    );

    if std::env::var_os("STORE_BENCH_SKIP_GROUP").is_none() {
        group_commit(&store).await?;
    }
    if std::env::var_os("STORE_BENCH_ONLY_GROUP").is_some() {
        return Ok(());
    }
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
        s.messages.record_submit_results(results).await?;
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
        s.messages.record_receipts(receipts).await?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "record_receipts x{BATCH}: {} receipts in {secs:.2} s = {:.0} receipts/s",
        segments.len(),
        segments.len() as f64 / secs
    );
    Ok(())
}

/// 2. Group commit: 64 tasks, one message per call, for 3 s.
async fn group_commit(store: &Arc<SqliteStore>) -> Result<(), Box<dyn std::error::Error>> {
    let s = store.stores();
    let before = store.writer_stats();
    let done = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(10_000_000));
    let until = Instant::now() + Duration::from_secs(3);
    let start = Instant::now();
    let n_tasks: u64 = std::env::var("STORE_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let tasks: Vec<_> = (0..n_tasks)
        .map(|_| {
            let s = s.clone();
            let done = done.clone();
            let next = next.clone();
            tokio::spawn(async move {
                while Instant::now() < until {
                    // One shared increasing counter, as intake's single id generator gives:
                    // concurrent inserts land at the right edge of every index.
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if s.messages.insert_batch(vec![message(n, 1)]).await.is_ok() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    let secs = start.elapsed().as_secs_f64();
    let after = store.writer_stats();
    let (jobs, commits) = (after.jobs - before.jobs, after.commits - before.commits);
    let n = done.load(Ordering::Relaxed);
    println!(
        "{n_tasks} tasks x 1 message/call: {n} messages in {secs:.2} s = {:.0} messages/s \
         ({commits} commits, {:.1} calls/commit)",
        n as f64 / secs,
        jobs as f64 / commits.max(1) as f64
    );

    Ok(())
}
