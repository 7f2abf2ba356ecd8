//! SQLite-specific behaviour: persistence across reopen, migrations, group commit, and a
//! failing job that must not take the others of its group down.

use std::sync::Arc;

use tuma_store::conformance::{id, message};
use tuma_store::{AccountId, InsertOutcome, StoreError};
use tuma_store_sqlite::{SqliteConfig, SqliteStore, SCHEMA_VERSION};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let store = SqliteStore::open(SqliteConfig::new(&path)).unwrap();
        let s = store.stores();
        let out = s
            .messages
            .insert_batch(vec![message(1, 2), message(2, 1)])
            .await
            .unwrap();
        assert_eq!(out, [InsertOutcome::Inserted, InsertOutcome::Inserted]);
        s.accounts.create_account("acme", 5).await.unwrap();
    }
    // Reopening runs the migrations again: they must be a no-op on a current database.
    let store = SqliteStore::open(SqliteConfig::new(&path)).unwrap();
    let s = store.stores();
    let m = s.messages.get(AccountId(1), id(1)).await.unwrap().unwrap();
    assert_eq!(m.segments.len(), 2);
    assert_eq!(s.accounts.list_accounts().await.unwrap()[0].name, "acme");
    let version: u32 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(SqliteStore::open(SqliteConfig::new(&path)).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
    let err = SqliteStore::open(SqliteConfig::new(&path)).unwrap_err();
    assert_eq!(
        err,
        StoreError::Backend {
            operation: "migrate",
            message: format!(
                "database schema version {} is newer than this build's {SCHEMA_VERSION}",
                SCHEMA_VERSION + 1
            ),
        }
    );
}

/// Concurrent callers share commits: fewer commits than calls, and every call answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteConfig::new(dir.path().join("t.db"))).unwrap();
    let before = store.writer_stats();
    let tasks: Vec<_> = (0..64u64)
        .map(|t| {
            let s = store.stores();
            tokio::spawn(async move {
                for i in 0..10u64 {
                    let out = s
                        .messages
                        .insert_batch(vec![message(t * 100 + i + 1, 1)])
                        .await
                        .unwrap();
                    assert_eq!(out, [InsertOutcome::Inserted]);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let after = store.writer_stats();
    let (jobs, commits) = (after.jobs - before.jobs, after.commits - before.commits);
    assert_eq!(jobs, 640);
    // With 64 callers waiting on each fsync, commits must carry many jobs each.
    assert!(commits * 4 <= jobs, "{commits} commits for {jobs} jobs");
}

/// A job that fails rolls back to its savepoint; the other jobs of the same commit persist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_call_does_not_undo_its_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<SqliteStore> =
        SqliteStore::open(SqliteConfig::new(dir.path().join("t.db"))).unwrap();
    let s = store.stores();
    s.accounts.create_account("acme", 1).await.unwrap();
    let (dup, ok) = tokio::join!(
        s.accounts.create_account("acme", 2),
        s.messages.insert_batch(vec![message(1, 1)]),
    );
    assert!(matches!(dup, Err(StoreError::AlreadyExists { .. })));
    assert_eq!(ok.unwrap(), [InsertOutcome::Inserted]);
    assert!(s.messages.get(AccountId(1), id(1)).await.unwrap().is_some());
    assert_eq!(s.accounts.list_accounts().await.unwrap().len(), 1);
}

/// The writer merges the writes to one segment row and keeps the messages it loaded for the
/// rest of the call (see `sql::SqlTx`). One call that retries, submits and moves between
/// segments and messages must leave exactly what one statement per write would, on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_segment_writes_and_cached_messages_reach_the_disk() {
    use smpp::MessageState;
    use tuma_domain::{ConnectorId, MessageStatus, SegmentStatus};
    use tuma_store::{ReceiptUpdate, SubmitOutcomeRecord, SubmitResult, UpdateOutcome};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let connector = ConnectorId::parse("smsc-a").unwrap();
    let result = |n: u64, segment: u8, outcome: SubmitOutcomeRecord| SubmitResult {
        message: id(n),
        segment,
        connector: connector.clone(),
        at_ms: 7,
        outcome,
    };
    let accepted = |smsc_id: &str| SubmitOutcomeRecord::Accepted {
        smsc_id: smsc_id.into(),
    };
    let retry = SubmitOutcomeRecord::Retry { retry_at_ms: 99 };
    {
        let store = SqliteStore::open(SqliteConfig::new(&path)).unwrap();
        let s = store.stores();
        s.messages
            .insert_batch(vec![message(1, 2), message(2, 1)])
            .await
            .unwrap();
        let out = s
            .messages
            .record_submit_results(vec![
                result(1, 0, retry.clone()),
                result(1, 0, retry),
                result(1, 0, accepted("a1")),
                result(2, 0, accepted("c3")),
                result(1, 1, accepted("b2")),
            ])
            .await
            .unwrap();
        // Message 1 becomes `submitted` with its last segment (the first still leaves one
        // pending, so its status must come from the cached message, not a stale read).
        assert_eq!(
            out[4],
            UpdateOutcome::Changed {
                message: id(1),
                segment: 1,
                message_status: Some(MessageStatus::Submitted)
            }
        );
        let receipt = |smsc_id: &str| ReceiptUpdate {
            connector: connector.clone(),
            protocol_id: Some(smsc_id.into()),
            text_id: None,
            state: MessageState::Delivered,
            detail: None,
            error: None,
            at_ms: 8,
        };
        let out = s
            .messages
            .record_receipts(vec![receipt("a1"), receipt("b2"), receipt("b2")])
            .await
            .unwrap();
        assert_eq!(
            out[1],
            UpdateOutcome::Changed {
                message: id(1),
                segment: 1,
                message_status: Some(MessageStatus::Delivered)
            }
        );
        assert_eq!(
            out[2],
            UpdateOutcome::Unchanged {
                message: id(1),
                segment: 1
            }
        );
    }
    // Reopened: only what was committed counts.
    let store = SqliteStore::open(SqliteConfig::new(&path)).unwrap();
    let s = store.stores();
    let m = s.messages.get(AccountId(1), id(1)).await.unwrap().unwrap();
    let segments: Vec<_> = m
        .segments
        .iter()
        .map(|g| (g.status, g.smsc_id.as_deref(), g.failed_attempts))
        .collect();
    assert_eq!(
        segments,
        [
            (SegmentStatus::Delivered, Some("a1"), 2),
            (SegmentStatus::Delivered, Some("b2"), 0)
        ]
    );
    let events: Vec<_> = m.events.iter().map(|e| (e.status, e.at_ms)).collect();
    assert_eq!(
        events,
        [
            (MessageStatus::Accepted, m.created_at_ms),
            (MessageStatus::Submitted, 7),
            (MessageStatus::Delivered, 8)
        ]
    );
    let other = s.messages.get(AccountId(1), id(2)).await.unwrap().unwrap();
    assert_eq!(other.status, MessageStatus::Submitted);
    assert_eq!(other.segments[0].smsc_id.as_deref(), Some("c3"));
    assert!(s
        .messages
        .pending_outbox(None, None, 10)
        .await
        .unwrap()
        .is_empty());
}
