//! Measures the store's side of a CSV import: `insert_recipients` with chunks of 5,000
//! recipients (three short values each, as the importer sends them), then reads the list
//! back page by page, and reports rows/s.
//!
//! ```text
//! cargo run --release -p tuma-store-sqlite --example recipients_bench -- [rows] [full|normal] [dir]
//! ```
//!
//! The rows of a chunk are built before its call (the importer's work, not timed in
//! "store"); "wall" includes building them. Each call is one transaction (one fsync with
//! `synchronous=FULL`, the default). The read-back walks the list with pages of 2,000
//! (the campaign runner's page), all recipients and then one UTC offset's (a third of them).

use std::time::{Duration, Instant};

use tuma_domain::Msisdn;
use tuma_store::{AccountId, CampaignStore, ImportTotals, ListId, NewList, NewRecipient};
use tuma_store_sqlite::{SqliteConfig, SqliteStore, Synchronous};

const CHUNK: u64 = 5_000;
const PAGE: usize = 2_000;
/// UTC offsets the recipients cycle through (so the offset index has three groups).
const OFFSETS: [i16; 3] = [180, 0, -300];

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let total: u64 = match args.next() {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    let sync = match args.next().as_deref() {
        None | Some("full") => Synchronous::Full,
        Some("normal") => Synchronous::Normal,
        Some(other) => return Err(format!("unknown synchronous mode {other:?}").into()),
    };
    let dir = match args.next() {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let path = dir.path().join("recipients.db");
    let mut config = SqliteConfig::new(&path);
    config.synchronous = sync;
    let store = SqliteStore::open(config)?;
    let list = store
        .create_list(NewList {
            account: AccountId(1),
            name: "bench".into(),
            columns: vec!["name".into(), "balance".into(), "city".into()],
            created_at_ms: 1,
        })
        .await?;
    println!("recipients: {total} rows in chunks of {CHUNK}, synchronous={sync:?}");

    let before = store.writer_stats();
    let (cpu_before, waited_before) = writer_schedstat();
    let start = Instant::now();
    let mut in_store = Duration::ZERO;
    let mut slowest = Duration::ZERO;
    let mut seq = 0;
    while seq < total {
        let chunk: Vec<NewRecipient> = (seq + 1..=(seq + CHUNK).min(total))
            .map(recipient)
            .collect::<Result<_, _>>()?;
        seq += chunk.len() as u64;
        let call = Instant::now();
        store.insert_recipients(list.id, chunk).await?;
        let took = call.elapsed();
        in_store += took;
        slowest = slowest.max(took);
    }
    let wall = start.elapsed();
    let used = store.writer_stats();
    let (cpu, waited) = writer_schedstat();
    let (cpu, waited) = (
        cpu.saturating_sub(cpu_before),
        waited.saturating_sub(waited_before),
    );
    // Recipients at OFFSETS[i]: the seqs 1..=total equal to i modulo 3.
    let per_offset = |i: usize| (1..=total).filter(|s| (s % 3) as usize == i).count() as u64;
    store
        .finish_list(
            list.id,
            ImportTotals {
                rows: total,
                accepted: total,
                rejected: 0,
                duplicates: 0,
            },
            OFFSETS
                .iter()
                .enumerate()
                .map(|(i, o)| (*o, per_offset(i)))
                .collect(),
        )
        .await?;
    println!(
        "insert: {:.0} rows/s in the store ({:.2} s), {:.0} rows/s wall ({:.2} s); \
         writer CPU {:.2} us/row, waiting for a CPU {:.2} us/row, busy {:.2} us/row; \
         slowest call {:.1} ms",
        total as f64 / in_store.as_secs_f64(),
        in_store.as_secs_f64(),
        total as f64 / wall.as_secs_f64(),
        wall.as_secs_f64(),
        cpu as f64 / 1_000.0 / total as f64,
        waited as f64 / 1_000.0 / total as f64,
        (used.busy_micros - before.busy_micros) as f64 / total as f64,
        slowest.as_secs_f64() * 1_000.0,
    );

    let (rows, secs) = read_all(&store, list.id, None).await?;
    if rows != total {
        return Err(format!("read back {rows} recipients, stored {total}").into());
    }
    println!(
        "read:   {:.0} rows/s, every recipient by pages of {PAGE} ({secs:.2} s)",
        rows as f64 / secs
    );
    let (rows, secs) = read_all(&store, list.id, Some(OFFSETS[1])).await?;
    if rows != per_offset(1) {
        return Err(format!(
            "read back {rows} recipients at +0, expected {}",
            per_offset(1)
        )
        .into());
    }
    println!(
        "read:   {:.0} rows/s, one UTC offset's by pages of {PAGE} ({secs:.2} s)",
        rows as f64 / secs
    );
    drop(store);
    let size = std::fs::metadata(&path)?.len();
    println!(
        "file: {:.1} MB ({:.0} bytes/recipient)",
        size as f64 / 1e6,
        size as f64 / total as f64
    );
    Ok(())
}

fn recipient(seq: u64) -> Result<NewRecipient, Error> {
    Ok(NewRecipient {
        seq,
        line: seq + 1,
        to: Msisdn::from_e164(&format!("+2547{:08}", seq % 100_000_000))?,
        utc_offset_min: OFFSETS[(seq % 3) as usize],
        values: vec![
            format!("Name {seq}"),
            format!("{}.50", seq % 10_000),
            "Nairobi".into(),
        ],
    })
}

/// The writer thread's CPU time and its time runnable but waiting for a CPU so far, in ns
/// (Linux's schedstat; zeros elsewhere). On a loaded machine the second one is what
/// separates the store's own cost from its neighbours'.
fn writer_schedstat() -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    for task in tasks.flatten() {
        let path = task.path();
        // Thread names are cut to 15 bytes.
        let is_writer = std::fs::read_to_string(path.join("comm"))
            .is_ok_and(|c| c.trim_end() == "tuma-sqlite-wri");
        if is_writer {
            let stat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
            let mut fields = stat.split_whitespace().map(|f| f.parse().unwrap_or(0));
            return (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
        }
    }
    (0, 0)
}

/// Reads every recipient (of one offset) page by page; (rows, seconds).
async fn read_all(
    store: &SqliteStore,
    list: ListId,
    offset: Option<i16>,
) -> Result<(u64, f64), Error> {
    let start = Instant::now();
    let mut after = 0;
    let mut rows = 0;
    loop {
        let page = store.recipients(list, offset, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        rows += page.len() as u64;
    }
    Ok((rows, start.elapsed().as_secs_f64()))
}
