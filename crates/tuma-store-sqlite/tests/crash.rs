//! Durability under `kill -9`: a child process (this test binary, re-executed) inserts batches
//! and prints every acknowledged id; the parent kills it with SIGKILL mid-stream, reopens the
//! database and checks that every acknowledged message is there and the file is sound.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tuma_domain::MessageId;
use tuma_store::conformance::{id, message};
use tuma_store::{AccountId, InsertOutcome};
use tuma_store_sqlite::{SqliteConfig, SqliteStore};

const DB_ENV: &str = "TUMA_CRASH_CHILD_DB";
/// The parent kills the child after this many acknowledged messages.
const KILL_AFTER: usize = 3_000;

/// The child: runs only when re-executed by `acknowledged_messages_survive_sigkill` (it is
/// `#[ignore]`d so a normal test run skips it, and it refuses to run without its database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of acknowledged_messages_survive_sigkill"]
async fn crash_child() {
    let path = std::env::var(DB_ENV).expect("run by the parent test with TUMA_CRASH_CHILD_DB");
    let store = SqliteStore::open(SqliteConfig::new(path)).expect("open");
    let stores = store.stores();
    // Several concurrent writers, so that commits group work from many callers.
    let tasks: Vec<_> = (0..4u64)
        .map(|t| {
            let stores = stores.clone();
            tokio::spawn(async move {
                for batch in 0u64.. {
                    let first = (batch * 4 + t) * 50 + 1;
                    let records: Vec<_> = (first..first + 50)
                        .map(|n| message(n, (n % 3 + 1) as u8))
                        .collect();
                    let out = stores.messages.insert_batch(records).await.expect("insert");
                    assert!(out.iter().all(|o| *o == InsertOutcome::Inserted));
                    // One line per acknowledged batch: its first and last number.
                    println!("ack {first} {}", first + 49);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("crash.db");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked: Vec<(u64, u64)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.len() * 50 < KILL_AFTER {
        assert!(
            Instant::now() < deadline,
            "child too slow: {} acks",
            acked.len()
        );
        let line = lines
            .next()
            .expect("child ended before being killed")
            .expect("read child stdout");
        if let Some(rest) = line.strip_prefix("ack ") {
            let mut parts = rest.split(' ').map(|p| p.parse::<u64>().expect("number"));
            acked.push((parts.next().expect("first"), parts.next().expect("last")));
        }
    }
    // SIGKILL while it is still writing.
    child.kill().expect("kill child");
    // Acknowledgements already written to the pipe count too.
    for line in lines.map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("ack ") {
            let mut parts = rest.split(' ').map(|p| p.parse::<u64>().expect("number"));
            acked.push((parts.next().expect("first"), parts.next().expect("last")));
        }
    }
    let status = child.wait().expect("wait child");
    assert!(!status.success(), "the child must have been killed");

    let store = SqliteStore::open(SqliteConfig::new(&db)).expect("reopen after crash");
    store.check_integrity().await.expect("integrity");
    let stores = store.stores();
    let mut missing: Vec<MessageId> = Vec::new();
    let mut checked = 0;
    for (first, last) in &acked {
        for n in *first..=*last {
            let m = stores
                .messages
                .get(AccountId(1), id(n))
                .await
                .expect("read");
            match m {
                Some(m) => assert_eq!(m.segments.len(), (n % 3 + 1) as usize),
                None => missing.push(id(n)),
            }
            checked += 1;
        }
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged messages lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(checked >= KILL_AFTER);
    // Every acknowledged message is also in the outbox for recovery.
    let mut outbox = 0;
    let mut after = None;
    loop {
        let page = stores
            .messages
            .pending_outbox(None, after, 1000)
            .await
            .expect("outbox");
        let Some(last) = page.last() else { break };
        after = Some(last.message.id);
        outbox += page.len();
    }
    assert!(
        outbox >= checked,
        "outbox {outbox} < acknowledged {checked}"
    );
}
