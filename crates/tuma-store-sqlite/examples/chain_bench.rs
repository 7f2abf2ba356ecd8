//! Measures the SQLite chain the gateway runs for every single-segment message: intake,
//! submit result, delivery receipt, and reports messages/s and the writer's time per message.
//!
//! ```text
//! cargo run --release -p tuma-store-sqlite --example chain_bench -- [messages] [full|normal] [dir]
//! ```
//!
//! For every 1,000 messages: `insert_batch` (1,000), `record_submit_results` (2 x 500,
//! accepted, hex SMSC ids as the simulator gives), `record_receipts` (2 x 500, `DELIVRD`,
//! TLV id in hex and text id in decimal, as the simulator sends them). Two runs on fresh
//! databases:
//! - **sequential**: the calls one after another (one commit each), so the writer's time
//!   is attributed to each call type;
//! - **pipelined**: three tasks (intake, submit results, receipts) connected by channels, as
//!   the gateway's intake, dispatcher and receipt handler run: calls overlap and share
//!   commits.
//!
//! Two writer times per message: **CPU**, the writer thread's own CPU time (from
//! `/proc/self/task/<tid>/schedstat`; what competes with the gateway and the simulator for
//! the cores), and **busy**, [`tuma_store_sqlite::WriterStats::busy_micros`], the wall time
//! the writer spent inside transactions, fsync waits included (what bounds one writer's
//! throughput at a given group size). Pipelined, each stage keeps up to `CHAIN_IN_FLIGHT`
//! calls (default 2) in flight, as the gateway's concurrent sessions do.
//! `CHAIN_CALLBACK=1` gives every message a `callback_url` (two status webhooks each).
//! `CHAIN_CAMPAIGN=1` makes every message a campaign message (recipient `n` of campaign 1):
//! the campaign runner's intake, with its unique reference.

use std::time::Instant;

use smpp::MessageState;
use tokio::sync::mpsc;
use tuma_domain::ConnectorId;
use tuma_store::conformance::{id, message};
use tuma_store::{
    NewMessageRecord, ReceiptUpdate, Stores, SubmitOutcomeRecord, SubmitResult, UpdateOutcome,
};
use tuma_store_sqlite::{SqliteConfig, SqliteStore, Synchronous, WriterStats};

const INTAKE: u64 = 1_000;
const UPDATES: u64 = 500;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let total: u64 = match args.next() {
        Some(n) => n.parse()?,
        None => 200_000,
    };
    let total = total.div_ceil(INTAKE) * INTAKE;
    let sync = match args.next().as_deref() {
        None | Some("full") => Synchronous::Full,
        Some("normal") => Synchronous::Normal,
        Some(other) => return Err(format!("unknown synchronous mode {other:?}").into()),
    };
    let parent = args.next();
    let callback = std::env::var_os("CHAIN_CALLBACK").is_some();
    println!(
        "chain: {total} single-segment messages, synchronous={sync:?}, callback_url={callback}, \
         campaign={}",
        campaign()
    );
    for mode in ["sequential", "pipelined"] {
        let dir = match &parent {
            Some(d) => tempfile::tempdir_in(d)?,
            None => tempfile::tempdir()?,
        };
        let mut config = SqliteConfig::new(dir.path().join("chain.db"));
        config.synchronous = sync;
        let store = SqliteStore::open(config)?;
        let s = store.stores();
        let before = store.writer_stats();
        let cpu_before = writer_cpu_ns();
        let start = Instant::now();
        if mode == "sequential" {
            sequential(&store, &s, total, callback).await?;
        } else {
            pipelined(&s, total, callback).await?;
        }
        let secs = start.elapsed().as_secs_f64();
        let used = delta(before, store.writer_stats());
        let cpu = writer_cpu_ns().saturating_sub(cpu_before);
        println!(
            "{mode}: {total} messages in {secs:.2} s = {:.0} messages/s end to end; \
             writer CPU {:.2} us/message, busy {:.2} us/message ({} commits, {:.1} calls/commit)",
            total as f64 / secs,
            cpu as f64 / 1_000.0 / total as f64,
            used.busy_micros as f64 / total as f64,
            used.commits,
            used.jobs as f64 / used.commits.max(1) as f64,
        );
        check(&s, total).await?;
        drop(s);
        drop(store);
    }
    Ok(())
}

fn delta(a: WriterStats, b: WriterStats) -> WriterStats {
    WriterStats {
        commits: b.commits - a.commits,
        jobs: b.jobs - a.jobs,
        busy_micros: b.busy_micros - a.busy_micros,
    }
}

fn new_message(n: u64, callback: bool) -> NewMessageRecord {
    let mut m = message(n, 1);
    if callback {
        m.callback_url = Some("https://example.com/status".into());
    }
    if campaign() {
        m.campaign = Some(tuma_store::CampaignRef {
            campaign: tuma_store::CampaignId(1),
            seq: n,
        });
    }
    m
}

/// `CHAIN_CAMPAIGN` is set (read once).
fn campaign() -> bool {
    static CAMPAIGN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CAMPAIGN.get_or_init(|| std::env::var_os("CHAIN_CAMPAIGN").is_some())
}

fn connector() -> ConnectorId {
    ConnectorId::parse("smsc-a").unwrap_or_else(|_| unreachable!("a valid connector name"))
}

/// The simulator's ids: lower-case hex of a counter (offset so they all contain a letter,
/// which gives them a second, numeric key), decimal in the receipt text.
fn smsc_id(n: u64) -> u64 {
    0xa000_0000 + n
}

fn submit_results(range: std::ops::Range<u64>) -> Vec<SubmitResult> {
    range
        .map(|n| SubmitResult {
            message: id(n),
            segment: 0,
            connector: connector(),
            at_ms: 1_790_000_000_000 + n + 100,
            outcome: SubmitOutcomeRecord::Accepted {
                smsc_id: format!("{:x}", smsc_id(n)),
            },
        })
        .collect()
}

fn receipts(range: std::ops::Range<u64>) -> Vec<ReceiptUpdate> {
    range
        .map(|n| ReceiptUpdate {
            connector: connector(),
            protocol_id: Some(format!("{:x}", smsc_id(n))),
            text_id: Some(format!("{:010}", smsc_id(n))),
            state: MessageState::Delivered,
            detail: None,
            error: None,
            at_ms: 1_790_000_000_000 + n + 2_000,
        })
        .collect()
}

fn expect_changed(out: &[UpdateOutcome], what: &str) -> Result<(), Error> {
    match out
        .iter()
        .find(|o| !matches!(o, UpdateOutcome::Changed { .. }))
    {
        Some(o) => Err(format!("{what}: unexpected outcome {o:?}").into()),
        None => Ok(()),
    }
}

async fn sequential(
    store: &SqliteStore,
    s: &Stores,
    total: u64,
    callback: bool,
) -> Result<(), Error> {
    let mut phases = [WriterStats::default(); 3];
    let mut cpu = [0u64; 3];
    for first in (1..=total).step_by(INTAKE as usize) {
        let c0 = writer_cpu_ns();
        let w0 = store.writer_stats();
        let batch = (first..first + INTAKE)
            .map(|n| new_message(n, callback))
            .collect();
        s.messages.insert_batch(batch).await?;
        let w1 = store.writer_stats();
        let c1 = writer_cpu_ns();
        for part in (first..first + INTAKE).step_by(UPDATES as usize) {
            let out = s
                .messages
                .record_submit_results(submit_results(part..part + UPDATES))
                .await?;
            expect_changed(&out, "submit result")?;
        }
        let w2 = store.writer_stats();
        let c2 = writer_cpu_ns();
        for part in (first..first + INTAKE).step_by(UPDATES as usize) {
            let out = s
                .messages
                .record_receipts(receipts(part..part + UPDATES))
                .await?;
            expect_changed(&out, "receipt")?;
        }
        let w3 = store.writer_stats();
        let c3 = writer_cpu_ns();
        for (slot, (a, b)) in cpu.iter_mut().zip([(c0, c1), (c1, c2), (c2, c3)]) {
            *slot += b.saturating_sub(a);
        }
        for (phase, (a, b)) in phases.iter_mut().zip([(w0, w1), (w1, w2), (w2, w3)]) {
            let d = delta(a, b);
            phase.busy_micros += d.busy_micros;
            phase.commits += d.commits;
        }
    }
    for ((name, p), cpu) in ["insert_batch", "record_submit_results", "record_receipts"]
        .iter()
        .zip(phases)
        .zip(cpu)
    {
        println!(
            "  {name:<22} writer CPU {:.2} us/message, busy {:.2} us/message ({} commits)",
            cpu as f64 / 1_000.0 / total as f64,
            p.busy_micros as f64 / total as f64,
            p.commits
        );
    }
    Ok(())
}

async fn pipelined(s: &Stores, total: u64, callback: bool) -> Result<(), Error> {
    let in_flight: usize = std::env::var("CHAIN_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let (to_submit, submits) = mpsc::channel::<u64>(64);
    let (to_receipt, receipts_rx) = mpsc::channel::<u64>(64);
    let (firsts_tx, firsts) = mpsc::channel::<u64>(1);
    let feeder = tokio::spawn(async move {
        for first in (1..=total).step_by(INTAKE as usize) {
            if firsts_tx.send(first).await.is_err() {
                break;
            }
        }
    });
    let intake = stage(firsts, in_flight, {
        let s = s.clone();
        move |first| {
            let s = s.clone();
            let to_submit = to_submit.clone();
            async move {
                let batch = (first..first + INTAKE)
                    .map(|n| new_message(n, callback))
                    .collect();
                s.messages.insert_batch(batch).await?;
                for part in (first..first + INTAKE).step_by(UPDATES as usize) {
                    to_submit.send(part).await?;
                }
                Ok(())
            }
        }
    });
    let submit = stage(submits, in_flight, {
        let s = s.clone();
        move |part| {
            let s = s.clone();
            let to_receipt = to_receipt.clone();
            async move {
                let out = s
                    .messages
                    .record_submit_results(submit_results(part..part + UPDATES))
                    .await?;
                expect_changed(&out, "submit result")?;
                to_receipt.send(part).await?;
                Ok(())
            }
        }
    });
    let receipt = stage(receipts_rx, in_flight, {
        let s = s.clone();
        move |part| {
            let s = s.clone();
            async move {
                let out = s
                    .messages
                    .record_receipts(receipts(part..part + UPDATES))
                    .await?;
                expect_changed(&out, "receipt")
            }
        }
    });
    feeder.await?;
    intake.await??;
    submit.await??;
    receipt.await??;
    Ok(())
}

/// Runs `call` for every item of `rx`, at most `in_flight` at once; ends when `rx` closes
/// and every call is done (dropping `call`, and with it the next stage's sender).
fn stage<F, Fut>(
    mut rx: mpsc::Receiver<u64>,
    in_flight: usize,
    call: F,
) -> tokio::task::JoinHandle<Result<(), Error>>
where
    F: Fn(u64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut running = tokio::task::JoinSet::new();
        while let Some(item) = rx.recv().await {
            while running.len() >= in_flight.max(1) {
                if let Some(done) = running.join_next().await {
                    done??;
                }
            }
            running.spawn(call(item));
        }
        drop(call);
        while let Some(done) = running.join_next().await {
            done??;
        }
        Ok(())
    })
}

/// The writer thread's CPU time so far, in ns (Linux: `schedstat`'s first field), or 0.
fn writer_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    for task in tasks.flatten() {
        let path = task.path();
        // Thread names are cut to 15 bytes.
        let is_writer = std::fs::read_to_string(path.join("comm"))
            .is_ok_and(|c| c.trim_end() == "tuma-sqlite-wri");
        if is_writer {
            return std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
        }
    }
    0
}

/// A few messages read back `delivered`, with an empty outbox: the bench measured the real
/// thing.
async fn check(s: &Stores, total: u64) -> Result<(), Error> {
    for n in [1, total / 2, total] {
        let m = s
            .messages
            .get(tuma_store::AccountId(1), id(n))
            .await?
            .ok_or_else(|| format!("message {n} missing"))?;
        if m.status != tuma_domain::MessageStatus::Delivered {
            return Err(format!("message {n} is {}, not delivered", m.status).into());
        }
    }
    if !s.messages.pending_outbox(None, None, 1).await?.is_empty() {
        return Err("the outbox is not empty".into());
    }
    Ok(())
}
