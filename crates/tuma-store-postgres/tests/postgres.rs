//! PostgreSQL-specific behaviour: several stores (nodes) on one database, migrations.
//! Needs `TUMA_TEST_DATABASE_URL`; without it every test says it skipped.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use tuma_domain::{ConnectorId, MessageStatus};
use tuma_store::conformance::{id, message};
use tuma_store::{
    Idempotency, InsertOutcome, MessageStore, SubmitOutcomeRecord, SubmitResult, WebhookStore,
};
use tuma_store_postgres::{PostgresConfig, PostgresStore, SCHEMA_VERSION};

const T0: u64 = 1_790_000_000_000;

/// Two nodes claim webhook deliveries at the same time, in small pages, until none is left:
/// every delivery is handed out exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_never_claim_the_same_webhook() {
    let Some(url) = common::database_url() else {
        return;
    };
    let (a, guard) = common::fresh_store(&url).await;
    let b = common::store_on(&guard).await;

    const N: u64 = 300;
    let batch: Vec<_> = (1..=N)
        .map(|n| {
            let mut m = message(n, 1);
            m.callback_url = Some(format!("https://example.com/{n}"));
            m
        })
        .collect();
    let out = a.insert_batch(batch).await.unwrap();
    assert!(out.iter().all(|o| *o == InsertOutcome::Inserted));
    // Each submit result makes the message `submitted`: one webhook delivery each.
    let results: Vec<_> = (1..=N)
        .map(|n| SubmitResult {
            message: id(n),
            segment: 0,
            connector: ConnectorId::parse("smsc-a").unwrap(),
            at_ms: T0 + 1_000,
            outcome: SubmitOutcomeRecord::Accepted {
                smsc_id: format!("x{n}"),
            },
        })
        .collect();
    a.record_submit_results(results).await.unwrap();

    // A lease far longer than the test: a delivery claimed twice is a double claim, not a
    // lapsed lease.
    let claim_all = |store: Arc<PostgresStore>| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..1_000 {
                let page = store
                    .claim_due_webhooks(T0 + 5_000, 3_600_000, 7)
                    .await
                    .unwrap();
                if page.is_empty() {
                    break;
                }
                got.extend(page.into_iter().map(|w| w.id));
            }
            got
        })
    };
    let (got_a, got_b) = tokio::join!(claim_all(a.clone()), claim_all(b.clone()));
    let (got_a, got_b) = (got_a.unwrap(), got_b.unwrap());
    let mut seen = HashSet::new();
    for w in got_a.iter().chain(&got_b) {
        assert!(seen.insert(*w), "delivery {w} claimed twice");
    }
    assert_eq!(seen.len() as u64, N, "every delivery claimed once");
    // Both nodes did take part (otherwise the test proved nothing about concurrency).
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "a: {}, b: {}",
        got_a.len(),
        got_b.len()
    );
    drop((a, b));
}

/// Two nodes releasing scheduled messages at once release each message once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_release_each_scheduled_message_once() {
    let Some(url) = common::database_url() else {
        return;
    };
    let (a, guard) = common::fresh_store(&url).await;
    let b = common::store_on(&guard).await;
    const N: u64 = 200;
    let batch: Vec<_> = (1..=N)
        .map(|n| {
            let mut m = message(n, 1);
            m.status = MessageStatus::Scheduled;
            m.send_at_ms = Some(T0 + 10_000 + n);
            m
        })
        .collect();
    a.insert_batch(batch).await.unwrap();
    let release_all = |store: Arc<PostgresStore>| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..1_000 {
                let page = store.due_scheduled(T0 + 20_000, 5).await.unwrap();
                if page.is_empty() {
                    break;
                }
                got.extend(page.into_iter().map(|e| e.message.id));
            }
            got
        })
    };
    let (got_a, got_b) = tokio::join!(release_all(a.clone()), release_all(b.clone()));
    let mut seen = HashSet::new();
    for m in got_a.unwrap().into_iter().chain(got_b.unwrap()) {
        assert!(seen.insert(m), "{m:?} released twice");
    }
    assert_eq!(seen.len() as u64, N);
    // One `accepted` event each, whichever node released it.
    for n in [1, N / 2, N] {
        let m = a
            .get(tuma_store::AccountId(1), id(n))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            m.events.iter().map(|e| e.status).collect::<Vec<_>>(),
            [MessageStatus::Scheduled, MessageStatus::Accepted]
        );
    }
}

/// Two nodes storing requests with the same idempotency keys at once: one message per key,
/// every other request gets `Duplicate` of it (not an error, not a second message).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_idempotent_inserts_store_one_message_per_key() {
    let Some(url) = common::database_url() else {
        return;
    };
    let (a, guard) = common::fresh_store(&url).await;
    let b = common::store_on(&guard).await;
    const KEYS: u64 = 20;
    const ROUNDS: u64 = 4;
    let node = |store: Arc<PostgresStore>, base: u64| {
        tokio::spawn(async move {
            let mut out = Vec::new();
            for round in 0..ROUNDS {
                let batch: Vec<_> = (0..KEYS)
                    .map(|k| {
                        let mut m = message(base + round * 100 + k + 1, 1);
                        m.idempotency = Some(Idempotency {
                            key: format!("key-{k}"),
                            body_hash: [1; 32],
                        });
                        m
                    })
                    .collect();
                out.extend(store.insert_batch(batch).await.unwrap());
            }
            out
        })
    };
    let (out_a, out_b) = tokio::join!(node(a.clone(), 0), node(b.clone(), 10_000));
    let all: Vec<_> = out_a.unwrap().into_iter().chain(out_b.unwrap()).collect();
    let inserted = all
        .iter()
        .filter(|o| **o == InsertOutcome::Inserted)
        .count();
    let duplicates = all
        .iter()
        .filter(|o| matches!(o, InsertOutcome::Duplicate { .. }))
        .count();
    assert_eq!(inserted as u64, KEYS, "{all:?}");
    assert_eq!(duplicates as u64, KEYS * (2 * ROUNDS - 1));
    let outbox = a.pending_outbox(None, None, 1_000).await.unwrap();
    assert_eq!(outbox.len() as u64, KEYS);
}

/// Connecting again does not migrate again; a database from a newer build is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_once_and_newer_schemas_are_refused() {
    let Some(url) = common::database_url() else {
        return;
    };
    let (a, guard) = common::fresh_store(&url).await;
    a.insert_batch(vec![message(1, 1)]).await.unwrap();
    // A second node: the data is still there (no migration re-ran over it).
    let b = common::store_on(&guard).await;
    assert!(b
        .get(tuma_store::AccountId(1), id(1))
        .await
        .unwrap()
        .is_some());

    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    let versions: Vec<i32> = client
        .query(
            &format!("SELECT version FROM \"{}\".schema_version", guard.schema),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Each migration recorded once, in order.
    assert_eq!(versions, (1..=SCHEMA_VERSION as i32).collect::<Vec<_>>());
    client
        .batch_execute(&format!(
            "INSERT INTO \"{}\".schema_version (version) VALUES ({})",
            guard.schema,
            SCHEMA_VERSION + 1
        ))
        .await
        .unwrap();
    drop(client);
    let _ = driver.await;
    let mut config = PostgresConfig::new(&url);
    config.schema = Some(guard.schema.clone());
    let err = PostgresStore::connect_with(config).await.unwrap_err();
    assert!(err.to_string().contains("newer than this build"), "{err}");
}

/// A schema name that could inject SQL is refused before anything is sent.
#[tokio::test]
async fn unsafe_schema_names_are_refused() {
    let mut config = PostgresConfig::new("postgres://nobody@127.0.0.1:1/none");
    config.schema = Some("x; DROP TABLE messages".into());
    let err = PostgresStore::connect_with(config).await.unwrap_err();
    assert!(err.to_string().contains("schema name"), "{err}");
}

/// A deferred write that fails (here: its table is gone) fails the whole call with that
/// write's operation named, and nothing of the call is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_deferred_write_fails_the_call_and_commits_nothing() {
    let Some(url) = common::database_url() else {
        return;
    };
    let (store, guard) = common::fresh_store(&url).await;
    store.insert_batch(vec![message(1, 1)]).await.unwrap();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP TABLE \"{}\".events", guard.schema))
        .await
        .unwrap();
    drop(client);
    let _ = driver.await;

    let err = store
        .record_submit_results(vec![SubmitResult {
            message: id(1),
            segment: 0,
            connector: ConnectorId::parse("smsc-a").unwrap(),
            at_ms: T0 + 1_000,
            outcome: SubmitOutcomeRecord::Accepted {
                smsc_id: "abc".into(),
            },
        }])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, tuma_store::StoreError::Backend { operation: "update message", message }
            if message.contains("events")),
        "{err:?}"
    );
    // Nothing of the call stayed: no segment row (its SMSC id was written before the
    // failing event), the outbox entry is still there (it would have gone with `submitted`).
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    let count = |table: &str| format!("SELECT count(*) FROM \"{}\".{table}", guard.schema);
    let segments: i64 = client
        .query_one(&count("segments"), &[])
        .await
        .unwrap()
        .get(0);
    let outbox: i64 = client
        .query_one(&count("outbox"), &[])
        .await
        .unwrap()
        .get(0);
    let keys: i64 = client
        .query_one(&count("smsc_keys"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!((segments, keys, outbox), (0, 0, 1));
    drop(client);
    let _ = driver.await;
}

/// A receipt and its submit result recorded at the same moment on two nodes (or two
/// connections of one node, as the engine's status writer does) never leave the receipt
/// parked: every message ends `delivered`, whichever transaction goes first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_receipt_and_submit_result_never_strand_the_receipt() {
    use smpp::MessageState;
    use tuma_store::{MessageStore, ReceiptUpdate};
    let Some(url) = common::database_url() else {
        return;
    };
    let (a, guard) = common::fresh_store(&url).await;
    let b = common::store_on(&guard).await;
    const N: u64 = 200;
    let out = a
        .insert_batch((1..=N).map(|n| message(n, 1)).collect())
        .await
        .unwrap();
    assert!(out.iter().all(|o| *o == InsertOutcome::Inserted));
    let connector = ConnectorId::parse("smsc-a").unwrap();
    // Two long transactions that overlap: all submit results in one call, all receipts in
    // another, at the same time.
    let submit = a.record_submit_results(
        (1..=N)
            .map(|n| SubmitResult {
                message: id(n),
                segment: 0,
                connector: connector.clone(),
                at_ms: T0 + 1_000,
                outcome: SubmitOutcomeRecord::Accepted {
                    smsc_id: format!("r{n}"),
                },
            })
            .collect(),
    );
    let receipts = b.record_receipts(
        (1..=N)
            .map(|n| ReceiptUpdate {
                connector: connector.clone(),
                protocol_id: Some(format!("r{n}")),
                text_id: None,
                state: MessageState::Delivered,
                detail: None,
                error: None,
                at_ms: T0 + 1_001,
            })
            .collect(),
    );
    let (s, r) = tokio::join!(submit, receipts);
    s.unwrap();
    r.unwrap();
    for n in 1..=N {
        let m = a.get(message(n, 1).account, id(n)).await.unwrap().unwrap();
        assert_eq!(m.status, MessageStatus::Delivered, "message {n}");
    }
}
