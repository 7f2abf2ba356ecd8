//! A probe, not the store: what SQLite alone spends on a single-segment message's status
//! path, as built and in a proposed layout, on tuma's real schema.
//!
//! ```text
//! cargo run --release -p tuma-store-sqlite --example status_layout_probe -- [messages]
//! ```
//!
//! - **current**: the submit result updates the message row (status, segment 0, SMSC id, an
//!   event line) and inserts the `smsc_keys` row; the receipt updates the row again.
//! - **proposed**: the submit result inserts only the `smsc_keys` row, with its time, in a
//!   table indexed by message too (so readers and recovery can find it); the receipt
//!   updates the message row once, with both events.
//!
//! Per transaction (as the writer's group commits): intake of 500 messages, the submit
//! results of the previous 500, the receipts of 500 messages 8 batches older (receipts trail
//! their submit results, as at saturation). The statements are prepared once and run one
//! row at a time in both layouts (the store sends several rows per statement where it can,
//! so the absolute figures are higher than the store's); the message rows are tuma's
//! (`SqliteStore::open` migrates the file first). Reports the thread's CPU per message for
//! each step (Linux `schedstat`).
//! The layouts alternate, twice each. It measures SQLite's part only. The proposed layout
//! was built afterwards (migration 0006, `sql::SqlTx::defer_submits`); the probe keeps the
//! measurement that led to it.

use std::time::Instant;

use rusqlite::{params, Connection};
use tuma_store_sqlite::{SqliteConfig, SqliteStore};

const BATCH: u64 = 500;
const LAG: u64 = 8;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let total: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 200_000,
    };
    let total = total.div_ceil(BATCH) * BATCH;
    println!("{total} single-segment messages, synchronous=FULL, receipts {LAG} batches behind");
    for proposed in [false, true, false, true] {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("probe.db");
        // tuma's schema, migrated by the store itself.
        drop(SqliteStore::open(SqliteConfig::new(&path))?);
        let c = Connection::open(&path)?;
        c.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
        c.execute_batch("PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY;")?;
        // Since migration 0006 the schema has the proposed layout's column and its index
        // (partial: only rows with a submit time), which the current layout's rows leave
        // out, so both layouts run on the same schema.
        let started = Instant::now();
        let cpu = run(&c, total, proposed)?;
        let per = |ns: u64| ns as f64 / 1_000.0 / total as f64;
        println!(
            "{:<8} intake {:.2} µs, submit result {:.2} µs, receipt {:.2} µs: status path \
             {:.2} µs per message ({:.1} s)",
            if proposed { "proposed" } else { "current" },
            per(cpu[0]),
            per(cpu[1]),
            per(cpu[2]),
            per(cpu[1] + cpu[2]),
            started.elapsed().as_secs_f64()
        );
        let delivered: i64 = c.query_row(
            "SELECT COUNT(*) FROM messages WHERE status = 'delivered' AND event_log LIKE '%submitted%'",
            [],
            |r| r.get(0),
        )?;
        if u64::try_from(delivered)? != total {
            return Err(format!("{delivered} of {total} messages delivered").into());
        }
    }
    Ok(())
}

/// Runs the whole load; returns CPU ns for [intake, submit results, receipts].
fn run(c: &Connection, total: u64, proposed: bool) -> Result<[u64; 3], Error> {
    // Prepared once: each row is one `execute` of an already prepared statement.
    let mut intake = c.prepare(
        "INSERT INTO messages (id, account_id, recipient, sender, body, encoding, status, \
         initial_status, segment_count, connector, multipart, created_at_ms, expires_at_ms, \
         unfinished) VALUES (?1, 1, ?2, 'ACME', \
         'Hello from the probe, a sixty-one character GSM-7 text here.', 'gsm7', 'accepted', \
         'accepted', 1, 'sim', 'all_delivered', ?3, ?4, 1)",
    )?;
    let key_sql = if proposed {
        "INSERT OR REPLACE INTO smsc_keys (connector, key, message_id, idx, submitted_at_ms) \
         VALUES ('sim', ?1, ?2, 0, ?3)"
    } else {
        "INSERT OR REPLACE INTO smsc_keys (connector, key, message_id, idx) \
         VALUES ('sim', ?1, ?2, 0)"
    };
    let mut key = c.prepare(key_sql)?;
    let mut submitted = c.prepare(
        "UPDATE messages SET status = 'submitted', seg0_status = 'submitted', \
         seg0_smsc_id = ?2, event_log = COALESCE(event_log, '') || ?3 WHERE id = ?1",
    )?;
    // Proposed: the receipt also writes what the submit result left to it (the SMSC id).
    let mut delivered = c.prepare(if proposed {
        "UPDATE messages SET status = 'delivered', unfinished = NULL, \
         seg0_status = 'delivered', event_log = COALESCE(event_log, '') || ?2, \
         seg0_smsc_id = ?3 WHERE id = ?1"
    } else {
        "UPDATE messages SET status = 'delivered', unfinished = NULL, \
         seg0_status = 'delivered', event_log = COALESCE(event_log, '') || ?2 WHERE id = ?1"
    })?;
    let batches = total / BATCH;
    let mut cpu = [0u64; 3];
    for b in 0..batches + LAG + 1 {
        c.execute_batch("BEGIN IMMEDIATE")?;
        let t0 = cpu_ns();
        if b < batches {
            for n in b * BATCH..(b + 1) * BATCH {
                let at = i64::try_from(n)?;
                intake.execute(params![id(n), 254_700_000_000 + at, at, at + 86_400_000])?;
            }
        }
        let t1 = cpu_ns();
        if let Some(sb) = b.checked_sub(1).filter(|sb| *sb < batches) {
            for n in sb * BATCH..(sb + 1) * BATCH {
                let at = i64::try_from(n)? + 5;
                let k = format!("s:{}", smsc_id(n));
                if proposed {
                    key.execute(params![k, id(n), at])?;
                } else {
                    let line = format!("1 submitted {at} -\n");
                    submitted.execute(params![id(n), smsc_id(n), line])?;
                    key.execute(params![k, id(n)])?;
                }
            }
        }
        let t2 = cpu_ns();
        if let Some(rb) = b.checked_sub(LAG + 1).filter(|rb| *rb < batches) {
            for n in rb * BATCH..(rb + 1) * BATCH {
                let at = i64::try_from(n)?;
                let line = format!("2 delivered {} +stat:DELIVRD err:000\n", at + 9);
                if proposed {
                    let lines = format!("1 submitted {} -\n{line}", at + 5);
                    delivered.execute(params![id(n), lines, smsc_id(n)])?;
                } else {
                    delivered.execute(params![id(n), line])?;
                }
            }
        }
        let t3 = cpu_ns();
        c.execute_batch("COMMIT")?;
        for (slot, (a, z)) in cpu.iter_mut().zip([(t0, t1), (t1, t2), (t2, t3)]) {
            *slot += z.saturating_sub(a);
        }
    }
    Ok(cpu)
}

/// Time-sortable 16-byte ids, as intake's generator makes them.
fn id(n: u64) -> [u8; 16] {
    ((u128::from(1_790_000_000_000 + n) << 80) | u128::from(n)).to_be_bytes()
}

/// A hex SMSC id, as the simulator gives.
fn smsc_id(n: u64) -> String {
    format!("{:x}", 0x1000_0000 + n)
}

/// This thread's CPU time so far in ns (Linux `schedstat`), or 0.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
