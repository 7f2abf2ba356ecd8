//! A single-segment message's submit result stored on its key row alone (migration 0006):
//! the rows really are written that way, and every reader sees the message `submitted`,
//! before and after a reopen (the writer's cache gone), through the receipt, expiry, an SMSC
//! reusing the id, and recovery, which must not send it again.

use std::path::Path;

use rusqlite::Connection;
use smpp::MessageState;
use tuma_domain::{ConnectorId, MessageStatus, SegmentStatus};
use tuma_store::conformance::{id, message};
use tuma_store::{
    AccountId, InsertOutcome, ReceiptUpdate, StatusEvent, Stores, SubmitOutcomeRecord,
    SubmitResult, UpdateOutcome,
};
use tuma_store_sqlite::{SqliteConfig, SqliteStore};

/// `tuma_store::conformance`'s account and time origin.
const ACCOUNT: AccountId = AccountId(1);
const T0: u64 = 1_790_000_000_000;

fn connector() -> ConnectorId {
    ConnectorId::parse("smsc-a").unwrap()
}

fn accepted(n: u64, smsc_id: &str, at: u64) -> SubmitResult {
    SubmitResult {
        message: id(n),
        segment: 0,
        connector: connector(),
        at_ms: T0 + at,
        outcome: SubmitOutcomeRecord::Accepted {
            smsc_id: smsc_id.into(),
        },
    }
}

fn delivered(smsc_id: &str, at: u64) -> ReceiptUpdate {
    ReceiptUpdate {
        connector: connector(),
        protocol_id: Some(smsc_id.into()),
        text_id: None,
        state: MessageState::Delivered,
        detail: Some("stat:DELIVRD".into()),
        error: None,
        at_ms: T0 + at,
    }
}

fn open(path: &Path) -> (std::sync::Arc<SqliteStore>, Stores) {
    let store = SqliteStore::open(SqliteConfig::new(path)).unwrap();
    let stores = store.stores();
    (store, stores)
}

async fn insert(s: &Stores, batch: Vec<tuma_store::NewMessageRecord>) {
    let n = batch.len();
    let out = s.messages.insert_batch(batch).await.unwrap();
    assert_eq!(out, vec![InsertOutcome::Inserted; n]);
}

/// The message row's status and event log, and the submit time on its key rows, as stored.
fn raw(path: &Path, n: u64) -> (String, Option<String>, Vec<Option<i64>>) {
    let c = Connection::open(path).unwrap();
    let blob = id(n).to_bytes();
    let (status, log) = c
        .query_row(
            "SELECT status, event_log FROM messages WHERE id = ?1",
            [&blob[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut s = c
        .prepare("SELECT submitted_at_ms FROM smsc_keys WHERE message_id = ?1 ORDER BY key")
        .unwrap();
    let keys = s
        .query_map([&blob[..]], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (status, log, keys)
}

/// Message `n`'s row holds both events, written by the receipt's one `UPDATE`.
fn assert_delivered_row(path: &Path, n: u64, submitted: u64, delivered: u64) {
    let (status, log, _) = raw(path, n);
    assert_eq!(status, "delivered");
    assert_eq!(
        log,
        Some(format!(
            "1 submitted {} -\n2 delivered {} +stat:DELIVRD\n",
            T0 + submitted,
            T0 + delivered
        ))
    );
}

fn events(m: &tuma_store::MessageRecord) -> Vec<(MessageStatus, u64)> {
    m.events.iter().map(|e| (e.status, e.at_ms - T0)).collect()
}

/// Message `n` was accepted, submitted at `submitted` and expired at 20 s, one event each.
async fn assert_expired_after_submit(
    s: &Stores,
    n: u64,
    submitted: u64,
) -> tuma_store::MessageRecord {
    let m = s.messages.get(ACCOUNT, id(n)).await.unwrap().unwrap();
    assert_eq!(
        events(&m),
        [
            (MessageStatus::Accepted, n),
            (MessageStatus::Submitted, submitted),
            (MessageStatus::Expired, 20_000)
        ],
        "message {n}"
    );
    m
}

async fn submit(s: &Stores, results: Vec<SubmitResult>) -> Vec<UpdateOutcome> {
    s.messages.record_submit_results(results).await.unwrap()
}

async fn receive(s: &Stores, receipts: Vec<ReceiptUpdate>) -> Vec<UpdateOutcome> {
    s.messages.record_receipts(receipts).await.unwrap()
}

async fn outbox(s: &Stores) -> Vec<tuma_domain::MessageId> {
    s.messages
        .pending_outbox(None, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.message.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_lives_on_the_key_row_until_the_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (store, s) = open(&path);
    insert(&s, vec![message(1, 1), message(2, 1), message(3, 2)]).await;
    let out = submit(
        &s,
        vec![
            // An SMSC writing ids in upper case with zeros in front: kept as written.
            accepted(1, "00AB12", 1_000),
            accepted(2, "cd34", 1_100),
            accepted(3, "ef56", 1_200),
            SubmitResult {
                segment: 1,
                ..accepted(3, "ef57", 1_300)
            },
        ],
    )
    .await;
    assert!(out
        .iter()
        .all(|o| matches!(o, UpdateOutcome::Changed { .. })));

    // Stored on the key rows alone: the message rows are untouched.
    assert_eq!(
        raw(&path, 1),
        ("accepted".into(), None, vec![Some(T0 as i64 + 1_000)])
    );
    assert_eq!(
        raw(&path, 2),
        ("accepted".into(), None, vec![Some(T0 as i64 + 1_100)])
    );
    // A multipart message is written as before.
    let (status, log, keys) = raw(&path, 3);
    assert_eq!((status.as_str(), keys), ("submitted", vec![None, None]));
    assert!(log.unwrap().contains(" submitted "));

    // Read as submitted, with the SMSC id as the SMSC wrote it and the event.
    let m = s.messages.get(ACCOUNT, id(1)).await.unwrap().unwrap();
    assert_eq!(m.status, MessageStatus::Submitted);
    assert_eq!(m.segments[0].status, SegmentStatus::Submitted);
    assert_eq!(m.segments[0].smsc_id.as_deref(), Some("00AB12"));
    assert_eq!(
        m.events.last(),
        Some(&StatusEvent {
            status: MessageStatus::Submitted,
            at_ms: T0 + 1_000,
            detail: None
        })
    );
    // Nothing of it is pending: recovery must not send it again.
    assert!(outbox(&s).await.is_empty());
    drop(s);
    drop(store);

    // After a restart (the writer's cache is empty): the same, and the receipt (matched by
    // the id in lower case without the zeros) writes both events onto the row.
    let (_store, s) = open(&path);
    assert!(outbox(&s).await.is_empty());
    let m = s.messages.get(ACCOUNT, id(2)).await.unwrap().unwrap();
    assert_eq!(m.status, MessageStatus::Submitted);
    assert_eq!(m.segments[0].smsc_id.as_deref(), Some("cd34"));
    let out = receive(&s, vec![delivered("ab12", 2_000), delivered("cd34", 2_100)]).await;
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
                segment: 0,
                message_status: Some(MessageStatus::Delivered)
            },
        ]
    );
    let m = s.messages.get(ACCOUNT, id(1)).await.unwrap().unwrap();
    assert_eq!(m.status, MessageStatus::Delivered);
    assert_eq!(m.segments[0].status, SegmentStatus::Delivered);
    assert_eq!(m.segments[0].smsc_id.as_deref(), Some("00AB12"));
    assert_eq!(
        events(&m),
        [
            (MessageStatus::Accepted, 1),
            (MessageStatus::Submitted, 1_000),
            (MessageStatus::Delivered, 2_000)
        ]
    );
    assert_delivered_row(&path, 1, 1_000, 2_000);
}

/// In one writer life, the receipt finds the deferred submit in the cache: the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_in_the_same_run_writes_both_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (_store, s) = open(&path);
    insert(&s, vec![message(1, 1)]).await;
    submit(&s, vec![accepted(1, "a1", 1_000)]).await;
    assert_eq!(raw(&path, 1).0, "accepted");
    // An intermediate receipt changes nothing: still deferred.
    let mut enroute = delivered("a1", 1_500);
    enroute.state = MessageState::Enroute;
    receive(&s, vec![enroute]).await;
    assert_eq!(raw(&path, 1).0, "accepted");
    receive(&s, vec![delivered("a1", 2_000)]).await;
    assert_delivered_row(&path, 1, 1_000, 2_000);
}

/// Expiry of a message whose submit is deferred, in the same run and after a reopen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_keeps_the_submitted_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (store, s) = open(&path);
    let mut batch = vec![message(1, 1), message(2, 1)];
    for m in &mut batch {
        m.expires_at_ms = T0 + 10_000;
    }
    insert(&s, batch).await;
    submit(&s, vec![accepted(1, "a1", 1_000), accepted(2, "a2", 1_000)]).await;
    let expired = s
        .messages
        .expire_overdue(T0 + 10_000, T0 + 20_000, 1)
        .await
        .unwrap();
    assert_eq!(expired, [id(1)]);
    drop(s);
    drop(store);
    let (_store, s) = open(&path);
    let expired = s
        .messages
        .expire_overdue(T0 + 10_000, T0 + 20_000, 10)
        .await
        .unwrap();
    assert_eq!(expired, [id(2)]);
    for n in [1, 2] {
        let m = assert_expired_after_submit(&s, n, 1_000).await;
        assert_eq!(m.status, MessageStatus::Expired);
        assert_eq!(m.segments[0].status, SegmentStatus::Expired);
        assert_eq!(m.segments[0].smsc_id.as_deref(), Some(&*format!("a{n}")));
    }
}

/// An SMSC reuses an id while the previous message with it waits for its receipt: the key
/// goes to the newer message (as before), and the older one keeps its submit, written onto
/// its row by the migration's trigger; the writer does not write it a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_id_does_not_lose_the_older_submit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (_store, s) = open(&path);
    let mut batch = vec![message(1, 1), message(2, 1), message(3, 1), message(4, 1)];
    for m in &mut batch {
        m.expires_at_ms = T0 + 10_000;
    }
    insert(&s, batch).await;
    submit(&s, vec![accepted(1, "77", 1_000)]).await;
    // In a later call, and twice within one call.
    submit(&s, vec![accepted(2, "77", 1_100)]).await;
    submit(&s, vec![accepted(3, "88", 1_200), accepted(4, "88", 1_300)]).await;
    for (n, at) in [(1, 1_000), (3, 1_200)] {
        let (status, log, _) = raw(&path, n);
        assert_eq!(status, "submitted", "message {n}");
        assert_eq!(
            log.as_deref(),
            Some(&*format!("1 submitted {} -\n", T0 + at)),
            "message {n}"
        );
    }
    // The receipts go to the newest submissions.
    let out = receive(&s, vec![delivered("77", 2_000), delivered("88", 2_000)]).await;
    assert_eq!(
        out.iter()
            .map(|o| match o {
                UpdateOutcome::Changed { message, .. } => Some(*message),
                _ => None,
            })
            .collect::<Vec<_>>(),
        [Some(id(2)), Some(id(4))]
    );
    // The older ones expire with one submitted event each.
    let mut expired = s
        .messages
        .expire_overdue(T0 + 10_000, T0 + 20_000, 10)
        .await
        .unwrap();
    expired.sort();
    assert_eq!(expired, [id(1), id(3)]);
    for (n, at) in [(1, 1_000), (3, 1_200)] {
        assert_expired_after_submit(&s, n, at).await;
    }
}

/// A second submit result for a message whose submit is deferred (a resend) writes the row,
/// with the first submit's event and the newer SMSC id, and is not deferred again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubmission_writes_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (_store, s) = open(&path);
    insert(&s, vec![message(1, 1)]).await;
    submit(&s, vec![accepted(1, "a1", 1_000)]).await;
    submit(&s, vec![accepted(1, "b2", 1_500)]).await;
    let (status, log, keys) = raw(&path, 1);
    assert_eq!(status, "submitted");
    assert_eq!(log, Some(format!("1 submitted {} -\n", T0 + 1_000)));
    assert_eq!(keys, [Some(T0 as i64 + 1_000), None]);
    let m = s.messages.get(ACCOUNT, id(1)).await.unwrap().unwrap();
    assert_eq!(m.segments[0].smsc_id.as_deref(), Some("b2"));
    assert_eq!(
        events(&m),
        [
            (MessageStatus::Accepted, 1),
            (MessageStatus::Submitted, 1_000)
        ]
    );
    // Either id's receipt finds it.
    receive(&s, vec![delivered("a1", 2_000)]).await;
    assert_eq!(
        s.messages
            .get(ACCOUNT, id(1))
            .await
            .unwrap()
            .unwrap()
            .status,
        MessageStatus::Delivered
    );
}
