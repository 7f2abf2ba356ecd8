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

/// A version-1 database (before account settings and reply webhooks) is upgraded in place:
/// its rows read back with the new fields empty and its queued status webhooks intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../src/migrations/0001_initial.sql"))
            .unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (1);
             INSERT INTO accounts (id, name, created_at_ms) VALUES (1, 'acme', 5);
             INSERT INTO inbound (id, account_id, sender, recipient, body, connector,
                 received_at_ms) VALUES (x'00000000000000000000000000000007', 1, 254700000001,
                 '22384', 'hi', 'smsc-a', 9);
             INSERT INTO webhooks (account_id, message_id, url, status, status_at_ms,
                 next_at_ms, state) VALUES (1, x'00000000000000000000000000000007',
                 'https://example.com/a', 'delivered', 10, 10, 'pending');",
        )
        .unwrap();
    }
    let store = SqliteStore::open(SqliteConfig::new(&path)).unwrap();
    let s = store.stores();
    let account = s.accounts.get_account(AccountId(1)).await.unwrap().unwrap();
    assert_eq!(account.settings, tuma_store::AccountSettings::default());
    let reply = s
        .inbound
        .get_inbound(AccountId(1), tuma_domain::MessageId::from_u128(7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((reply.text.as_str(), reply.webhook_url), ("hi", None));
    let hooks = s.webhooks.claim_due_webhooks(10, 1_000, 10).await.unwrap();
    assert_eq!(
        hooks.iter().map(|h| h.event).collect::<Vec<_>>(),
        [tuma_store::WebhookEvent::Status(
            tuma_domain::MessageStatus::Delivered
        )]
    );
}

/// The writer's cache (messages, SMSC id keys) is only a shortcut: after a restart, with
/// an empty cache, receipts still find their messages through the database, by the TLV id
/// or by the decimal text id (the `n:` key this backend derives from the `s:` row), and
/// the events go on from where they were, details intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_after_a_restart_find_their_messages_in_the_database() {
    use smpp::MessageState;
    use tuma_domain::{ConnectorId, MessageStatus, SegmentStatus};
    use tuma_store::{ReceiptUpdate, SubmitOutcomeRecord, SubmitResult, UpdateOutcome};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let connector = ConnectorId::parse("smsc-a").unwrap();
    {
        let store = SqliteStore::open(SqliteConfig::new(&path)).unwrap();
        let s = store.stores();
        s.messages
            .insert_batch(vec![message(1, 1), message(2, 2), message(3, 1)])
            .await
            .unwrap();
        let submit = |n: u64, segment: u8, smsc_id: &str| SubmitResult {
            message: id(n),
            segment,
            connector: connector.clone(),
            at_ms: 7,
            outcome: SubmitOutcomeRecord::Accepted {
                smsc_id: smsc_id.into(),
            },
        };
        s.messages
            .record_submit_results(vec![
                // 0x38601fa = 59113978: hex with a letter, so also keyed by its value.
                submit(1, 0, "038601FA"),
                submit(2, 0, "b0"),
                submit(2, 1, "b1"),
                // All digits: no numeric key.
                submit(3, 0, "10"),
            ])
            .await
            .unwrap();
    }
    let store = SqliteStore::open(SqliteConfig::new(&path)).unwrap();
    let s = store.stores();
    let receipt = |protocol: Option<&str>, text: Option<&str>, detail: &str| ReceiptUpdate {
        connector: connector.clone(),
        protocol_id: protocol.map(Into::into),
        text_id: text.map(Into::into),
        state: MessageState::Delivered,
        detail: Some(detail.into()),
        error: None,
        at_ms: 9,
    };
    let out = s
        .messages
        .record_receipts(vec![
            // Text id only, in decimal: found through the numeric key.
            receipt(None, Some("0059113978"), "a\\b\nc\r"),
            receipt(Some("B1"), None, "x"),
            // 16 is 0x10, but "10" was an all-digit id: no numeric match, parked.
            receipt(None, Some("16"), "y"),
        ])
        .await
        .unwrap();
    assert_eq!(
        out,
        [
            UpdateOutcome::Changed {
                message: id(1),
                segment: 0,
                message_status: Some(MessageStatus::Delivered)
            },
            UpdateOutcome::Changed {
                message: id(2),
                segment: 1,
                message_status: None
            },
            UpdateOutcome::Parked,
        ]
    );
    let m = s.messages.get(AccountId(1), id(1)).await.unwrap().unwrap();
    assert_eq!(
        m.events
            .iter()
            .map(|e| (e.status, e.detail.as_deref()))
            .collect::<Vec<_>>(),
        [
            (MessageStatus::Accepted, None),
            (MessageStatus::Submitted, None),
            (MessageStatus::Delivered, Some("a\\b\nc\r")),
        ]
    );
    assert_eq!(
        (m.segments[0].status, m.segments[0].smsc_id.as_deref()),
        (SegmentStatus::Delivered, Some("038601FA"))
    );
    let two = s.messages.get(AccountId(1), id(2)).await.unwrap().unwrap();
    assert_eq!(
        two.segments.iter().map(|g| g.status).collect::<Vec<_>>(),
        [SegmentStatus::Submitted, SegmentStatus::Delivered]
    );
    assert_eq!(two.status, MessageStatus::Submitted);
}

/// A version-2 database's status-path rows (segment 0 in `segments`, events in `events`,
/// both id keys in `smsc_keys`, the expiry index on `status`) move to the version-3 layout:
/// the message reads back the same, a receipt by the decimal text id finds it, events go on
/// numbering after the old ones, and expiry still finds unfinished messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_status_path_is_upgraded() {
    use smpp::MessageState;
    use tuma_domain::{ConnectorId, MessageStatus, SegmentStatus};
    use tuma_store::ReceiptUpdate;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        // Version 2 exactly as earlier builds left it, written through them: the two
        // messages are inserted by version-2 SQL, their status rows by hand.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../src/migrations/0001_initial.sql"))
            .unwrap();
        conn.execute_batch(include_str!(
            "../src/migrations/0002_settings_inbound_webhooks.sql"
        ))
        .unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (1), (2);",
        )
        .unwrap();
        for (n, status) in [(1u64, "submitted"), (2, "accepted")] {
            let m = message(n, 1);
            conn.execute(
                "INSERT INTO messages (id, account_id, recipient, sender, body, encoding, \
                 status, initial_status, segment_count, connector, multipart, created_at_ms, \
                 expires_at_ms) VALUES (?1, 1, ?2, 'MyShop', 'hi', 'gsm7', ?3, 'accepted', 1, \
                 'smsc-a', 'all_delivered', ?4, ?5)",
                rusqlite::params![
                    &m.id.to_bytes()[..],
                    m.to.as_u64() as i64,
                    status,
                    m.created_at_ms as i64,
                    m.expires_at_ms as i64
                ],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO segments (message_id, idx, status, smsc_id) \
             VALUES (?1, 0, 'submitted', '038601FA')",
            [&id(1).to_bytes()[..]],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO events (message_id, seq, status, at_ms) VALUES (?1, 1, 'submitted', 7)",
            [&id(1).to_bytes()[..]],
        )
        .unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO smsc_keys (connector, key, message_id, idx) VALUES \
             ('smsc-a', 's:38601fa', x'{hex}', 0), ('smsc-a', 'n:59113978', x'{hex}', 0);",
            hex = id(1)
                .to_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ))
        .unwrap();
    }
    let store = SqliteStore::open(SqliteConfig::new(&path)).unwrap();
    let s = store.stores();
    let m = s.messages.get(AccountId(1), id(1)).await.unwrap().unwrap();
    assert_eq!(
        (
            m.status,
            m.segments[0].status,
            m.segments[0].smsc_id.as_deref()
        ),
        (
            MessageStatus::Submitted,
            SegmentStatus::Submitted,
            Some("038601FA")
        )
    );
    let out = s
        .messages
        .record_receipts(vec![ReceiptUpdate {
            connector: ConnectorId::parse("smsc-a").unwrap(),
            protocol_id: None,
            text_id: Some("0059113978".into()),
            state: MessageState::Delivered,
            detail: None,
            error: None,
            at_ms: 9,
        }])
        .await
        .unwrap();
    assert!(
        matches!(out[0], tuma_store::UpdateOutcome::Changed { .. }),
        "{out:?}"
    );
    let m = s.messages.get(AccountId(1), id(1)).await.unwrap().unwrap();
    assert_eq!(
        m.events
            .iter()
            .map(|e| (e.status, e.at_ms))
            .collect::<Vec<_>>(),
        [
            (MessageStatus::Accepted, m.created_at_ms),
            (MessageStatus::Submitted, 7),
            (MessageStatus::Delivered, 9)
        ]
    );
    // Message 2 is still accepted, hence unfinished: expiry finds it.
    let expired = s
        .messages
        .expire_overdue(u64::MAX / 2, 10, 10)
        .await
        .unwrap();
    assert_eq!(expired, [id(2)]);
}

/// The writer remembers which keys receipts are parked under (so submit results need not
/// ask the table): a receipt parked after that memory was loaded is still found by its
/// submit result, and so is one parked before a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_receipts_are_found_after_the_parked_keys_were_loaded_and_after_a_restart() {
    use smpp::MessageState;
    use tuma_domain::{ConnectorId, MessageStatus};
    use tuma_store::{ReceiptUpdate, SubmitOutcomeRecord, SubmitResult, UpdateOutcome};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let connector = ConnectorId::parse("smsc-a").unwrap();
    let submit = |n: u64, smsc_id: &str| SubmitResult {
        message: id(n),
        segment: 0,
        connector: connector.clone(),
        at_ms: 7,
        outcome: SubmitOutcomeRecord::Accepted {
            smsc_id: smsc_id.into(),
        },
    };
    let receipt = |smsc_id: &str| ReceiptUpdate {
        connector: connector.clone(),
        protocol_id: Some(smsc_id.into()),
        text_id: None,
        state: MessageState::Delivered,
        detail: None,
        error: None,
        at_ms: 9,
    };
    let delivered = |n: u64| UpdateOutcome::Changed {
        message: id(n),
        segment: 0,
        message_status: Some(MessageStatus::Delivered),
    };
    {
        let store = SqliteStore::open(SqliteConfig::new(&path)).unwrap();
        let s = store.stores();
        s.messages
            .insert_batch(vec![message(1, 1), message(2, 1), message(3, 1)])
            .await
            .unwrap();
        // Loads the (empty) parked keys.
        s.messages
            .record_submit_results(vec![submit(1, "a1")])
            .await
            .unwrap();
        // Parked after the load, then matched.
        let out = s
            .messages
            .record_receipts(vec![receipt("b2")])
            .await
            .unwrap();
        assert_eq!(out, [UpdateOutcome::Parked]);
        let out = s
            .messages
            .record_submit_results(vec![submit(2, "b2")])
            .await
            .unwrap();
        assert_eq!(out, [delivered(2)]);
        // Parked, then the store closes.
        let out = s
            .messages
            .record_receipts(vec![receipt("c3")])
            .await
            .unwrap();
        assert_eq!(out, [UpdateOutcome::Parked]);
    }
    let store = SqliteStore::open(SqliteConfig::new(&path)).unwrap();
    let s = store.stores();
    let out = s
        .messages
        .record_submit_results(vec![submit(3, "c3")])
        .await
        .unwrap();
    assert_eq!(out, [delivered(3)]);
}

/// A version-3 database (with `outbox` rows) is upgraded: the outbox table goes, a retry's
/// due time moves onto its message row, and recovery still finds exactly the accepted
/// messages with a pending segment (segment 0 on the row, others in `segments`), with the
/// due times the rows had; a scheduled message is released with its send time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_3_outbox_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let hex = |n: u64| {
        id(n)
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../src/migrations/0001_initial.sql"),
            include_str!("../src/migrations/0002_settings_inbound_webhooks.sql"),
            include_str!("../src/migrations/0003_message_row_status.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (1), (2), (3);",
        )
        .unwrap();
        // 1: accepted, segment 0 pending, retried (due 500). 2: accepted, two segments,
        // segment 0 submitted and segment 1 pending after a retry (explicit row). 3:
        // submitted, nothing pending, no outbox row. 4: scheduled, due at its send time.
        for (n, status, segs, seg0, send_at) in [
            (1u64, "accepted", 1u8, None, None),
            (2, "accepted", 2, Some("submitted"), None),
            (3, "submitted", 1, Some("submitted"), None),
            (4, "scheduled", 1, None, Some(300i64)),
        ] {
            let m = message(n, segs);
            conn.execute(
                "INSERT INTO messages (id, account_id, recipient, sender, body, encoding, \
                 status, initial_status, segment_count, connector, multipart, created_at_ms, \
                 send_at_ms, expires_at_ms, unfinished, seg0_status) VALUES (?1, 1, ?2, \
                 'MyShop', 'hi', 'gsm7', ?3, ?3, ?4, 'smsc-a', 'all_delivered', ?5, ?6, ?7, 1, \
                 ?8)",
                rusqlite::params![
                    &m.id.to_bytes()[..],
                    m.to.as_u64() as i64,
                    status,
                    segs,
                    m.created_at_ms as i64,
                    send_at,
                    m.expires_at_ms as i64,
                    seg0,
                ],
            )
            .unwrap();
        }
        conn.execute_batch(&format!(
            "INSERT INTO segments (message_id, idx, status, failed_attempts) \
                 VALUES (x'{h2}', 1, 'pending', 1);
             INSERT INTO outbox (message_id, connector, due_at_ms) VALUES
                 (x'{h1}', 'smsc-a', 500), (x'{h2}', 'smsc-a', {c2}), (x'{h4}', 'smsc-a', 300);",
            h1 = hex(1),
            h2 = hex(2),
            h4 = hex(4),
            c2 = message(2, 2).created_at_ms,
        ))
        .unwrap();
    }
    let store = SqliteStore::open(SqliteConfig::new(&path)).unwrap();
    let s = store.stores();
    let pending = s.messages.pending_outbox(None, None, 10).await.unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|e| (e.message.id, e.due_at_ms))
            .collect::<Vec<_>>(),
        [(id(1), 500), (id(2), message(2, 2).created_at_ms)]
    );
    let released = s.messages.due_scheduled(1_000, 10).await.unwrap();
    assert_eq!(
        released
            .iter()
            .map(|e| (e.message.id, e.due_at_ms))
            .collect::<Vec<_>>(),
        [(id(4), 300)]
    );
    let pending = s
        .messages
        .pending_outbox(None, Some(id(1)), 10)
        .await
        .unwrap();
    assert_eq!(
        pending.iter().map(|e| e.message.id).collect::<Vec<_>>(),
        [id(2), id(4)]
    );
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let outbox: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'outbox'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(outbox, 0);
}
