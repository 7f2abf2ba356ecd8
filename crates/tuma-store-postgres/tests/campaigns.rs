//! PostgreSQL-specific campaign behaviour: several stores (nodes) on one database, what
//! PostgreSQL text cannot hold, and the plans of the paged reads. Needs
//! `TUMA_TEST_DATABASE_URL`; without it every test says it skipped.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Barrier;
use tuma_domain::{Msisdn, SenderId};
use tuma_store::campaigns::{
    CampaignId, CampaignRef, CampaignStatus, CampaignStore, GroupCursor, ImportTotals, ListId,
    NewCampaign, NewList, NewRecipient,
};
use tuma_store::conformance::{id, message};
use tuma_store::{AccountId, InsertOutcome, MessageStore, StoreError};
use tuma_store_postgres::PostgresStore;

const T0: u64 = 1_790_000_000_000;
/// The account of `conformance::message`.
const ACCOUNT: AccountId = AccountId(1);

fn number(n: u64) -> Msisdn {
    Msisdn::from_e164(&format!("+2547{:08}", n % 100_000_000)).unwrap()
}

async fn ready_list(store: &PostgresStore, n: u64) -> ListId {
    let list = store
        .create_list(NewList {
            account: ACCOUNT,
            name: "customers".into(),
            columns: vec!["name".into()],
            created_at_ms: T0,
        })
        .await
        .unwrap();
    store
        .insert_recipients(
            list.id,
            (1..=n)
                .map(|seq| NewRecipient {
                    seq,
                    line: seq + 1,
                    to: number(seq),
                    utc_offset_min: 180,
                    values: vec![format!("name {seq}")],
                })
                .collect(),
        )
        .await
        .unwrap();
    store
        .finish_list(
            list.id,
            ImportTotals {
                rows: n,
                accepted: n,
                ..ImportTotals::default()
            },
            vec![(180, n)],
        )
        .await
        .unwrap();
    list.id
}

async fn running_campaign(store: &PostgresStore, list: ListId) -> CampaignId {
    store
        .create_campaign(NewCampaign {
            account: ACCOUNT,
            name: "sale".into(),
            list,
            from: SenderId::parse("MyShop").unwrap(),
            template: "Hi {{ name }}".into(),
            track_links: false,
            link_base: None,
            send_at_ms: None,
            window: None,
            rate: None,
            status: CampaignStatus::Running,
            cursors: vec![GroupCursor {
                utc_offset_min: None,
                last_seq: 0,
                done: false,
            }],
            created_at_ms: T0,
        })
        .await
        .unwrap()
        .id
}

/// Two nodes move the same campaigns out of `running` at the same moment (one pauses, one
/// cancels): for every campaign exactly one of them moves it, and the stored status is that
/// one's. A read-then-write without the condition in the UPDATE fails this.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_status_changes_move_each_campaign_once() {
    let Some(url) = common::database_url() else {
        return;
    };
    let (a, guard) = common::fresh_store(&url).await;
    let b = common::store_on(&guard).await;
    let list = ready_list(&a, 3).await;
    const N: usize = 40;
    let mut campaigns = Vec::with_capacity(N);
    for _ in 0..N {
        campaigns.push(running_campaign(&a, list).await);
    }
    let campaigns = Arc::new(campaigns);
    let barrier = Arc::new(Barrier::new(2));
    let node = |store: Arc<PostgresStore>, to: CampaignStatus| {
        let campaigns = campaigns.clone();
        let barrier = barrier.clone();
        tokio::spawn(async move {
            let mut moved = Vec::with_capacity(N);
            for (i, c) in campaigns.iter().enumerate() {
                // Start each round together, so the two updates overlap.
                barrier.wait().await;
                let (record, did) = store
                    .set_campaign_status(*c, &[CampaignStatus::Running], to, T0 + i as u64)
                    .await
                    .unwrap();
                moved.push((did, record.status));
            }
            moved
        })
    };
    let (pa, pb) = tokio::join!(
        node(a.clone(), CampaignStatus::Paused),
        node(b.clone(), CampaignStatus::Cancelled)
    );
    let (pa, pb) = (pa.unwrap(), pb.unwrap());
    let mut wins = (0, 0);
    for (i, c) in campaigns.iter().enumerate() {
        let ((a_moved, a_status), (b_moved, b_status)) = (pa[i], pb[i]);
        assert!(
            a_moved != b_moved,
            "campaign {c}: a moved {a_moved}, b moved {b_moved}"
        );
        let winner = if a_moved {
            wins.0 += 1;
            CampaignStatus::Paused
        } else {
            wins.1 += 1;
            CampaignStatus::Cancelled
        };
        // The loser saw the winner's committed status, and so does a later read.
        assert_eq!((a_status, b_status), (winner, winner), "campaign {c}");
        let stored = a.get_campaign(*c).await.unwrap().unwrap();
        assert_eq!(stored.status, winner, "campaign {c}");
    }
    assert_eq!(wins.0 + wins.1, N);
}

/// Two nodes hand the same recipients over at once (a page repeated by two runners): one
/// message per campaign reference is stored, every other request is `Duplicate` of it,
/// never an error (the conflict path of `insert_batch`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inserts_store_one_message_per_campaign_reference() {
    let Some(url) = common::database_url() else {
        return;
    };
    let (a, guard) = common::fresh_store(&url).await;
    let b = common::store_on(&guard).await;
    let list = ready_list(&a, 3).await;
    let campaign = running_campaign(&a, list).await;
    const SEQS: u64 = 50;
    const ROUNDS: u64 = 4;
    let barrier = Arc::new(Barrier::new(2));
    let node = |store: Arc<PostgresStore>, base: u64| {
        let barrier = barrier.clone();
        tokio::spawn(async move {
            let mut out = Vec::new();
            for round in 0..ROUNDS {
                let batch: Vec<_> = (1..=SEQS)
                    .map(|seq| {
                        let mut m = message(base + round * 1_000 + seq, 1);
                        m.campaign = Some(CampaignRef { campaign, seq });
                        m
                    })
                    .collect();
                barrier.wait().await;
                out.extend(store.insert_batch(batch).await.unwrap());
            }
            out
        })
    };
    let (out_a, out_b) = tokio::join!(node(a.clone(), 0), node(b.clone(), 100_000));
    let all: Vec<_> = out_a.unwrap().into_iter().chain(out_b.unwrap()).collect();
    let inserted = all
        .iter()
        .filter(|o| **o == InsertOutcome::Inserted)
        .count();
    assert_eq!(inserted as u64, SEQS, "{all:?}");
    assert!(
        all.iter()
            .all(|o| matches!(o, InsertOutcome::Inserted | InsertOutcome::Duplicate { .. })),
        "{all:?}"
    );
    // Every Duplicate names the message stored for its seq.
    let stored = a.campaign_messages(campaign, 0, 1_000).await.unwrap();
    assert_eq!(
        stored.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=SEQS).collect::<Vec<_>>()
    );
    let by_id: HashMap<_, _> = stored.iter().map(|m| (m.id, m.seq)).collect();
    for o in &all {
        if let InsertOutcome::Duplicate { existing } = o {
            assert!(by_id.contains_key(existing), "{existing:?} is not stored");
        }
    }
    let outbox = a.pending_outbox(None, None, 1_000).await.unwrap();
    assert_eq!(outbox.len() as u64, SEQS);
    // A duplicate left nothing behind: the first round's losers are not stored.
    let mut stored_ids = 0;
    for n in (1..=SEQS).chain(100_001..=100_000 + SEQS) {
        if a.get(ACCOUNT, id(n)).await.unwrap().is_some() {
            stored_ids += 1;
        }
    }
    assert_eq!(stored_ids, SEQS);
}

/// U+0000 cannot be stored in PostgreSQL text: the call is refused, naming the recipient,
/// its line and the column, and nothing of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_character_is_refused_with_the_recipient_named() {
    let Some(url) = common::database_url() else {
        return;
    };
    let (store, _guard) = common::fresh_store(&url).await;
    let list = store
        .create_list(NewList {
            account: ACCOUNT,
            name: "l".into(),
            columns: vec!["name".into(), "city".into()],
            created_at_ms: T0,
        })
        .await
        .unwrap();
    let r = |seq: u64, city: &str| NewRecipient {
        seq,
        line: seq + 1,
        to: number(seq),
        utc_offset_min: 0,
        values: vec!["x".into(), city.into()],
    };
    let err = store
        .insert_recipients(list.id, vec![r(1, "Nairobi"), r(2, "Mom\0basa")])
        .await
        .unwrap_err();
    let StoreError::Backend { message, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        message.contains("recipient 2 (line 3)") && message.contains("\"city\""),
        "{message}"
    );
    assert!(store
        .recipients(list.id, None, 0, 10)
        .await
        .unwrap()
        .is_empty());
}

/// The paged reads are index range scans in `seq` order that stop once `limit` rows are
/// found, whatever the size of the list or campaign (no sort of the whole list or
/// campaign).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paged_reads_are_index_range_scans() {
    let Some(url) = common::database_url() else {
        return;
    };
    let (store, guard) = common::fresh_store(&url).await;
    ready_list(&store, 20).await;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "SET search_path TO \"{}\"; SET enable_seqscan = off; SET plan_cache_mode = \
             force_generic_plan",
            guard.schema
        ))
        .await
        .unwrap();
    // The statements as the store sends them (generic plans: the parameters are unknown).
    let plans = [
        (
            "PREPARE r1(int8, int8, int8) AS SELECT seq FROM recipients \
             WHERE list_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            "EXECUTE r1(1, 0, 10)",
            "recipients_pkey",
        ),
        (
            "PREPARE r2(int8, int2, int8, int8) AS SELECT seq FROM recipients \
             WHERE list_id = $1 AND utc_offset_min = $2 AND seq > $3 ORDER BY seq LIMIT $4",
            "EXECUTE r2(1, 180, 0, 10)",
            "recipients_pkey",
        ),
        (
            "PREPARE m1(int8, int8, int8) AS SELECT m.id FROM messages m \
             WHERE m.campaign_id = $1 AND m.campaign_seq > $2 \
             ORDER BY m.campaign_seq LIMIT $3",
            "EXECUTE m1(1, 0, 10)",
            "messages_campaign",
        ),
        (
            "PREPARE c1(int8, int8, int8) AS SELECT seq, count(*) FROM clicks \
             WHERE campaign_id = $1 AND seq > $2 GROUP BY seq ORDER BY seq LIMIT $3",
            "EXECUTE c1(1, 0, 10)",
            "clicks_campaign",
        ),
    ];
    for (prepare, execute, index) in plans {
        client.batch_execute(prepare).await.unwrap();
        let plan: Vec<String> = client
            .query(&format!("EXPLAIN {execute}"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains(&format!("Index Scan using {index}"))
                || plan.contains(&format!("Index Only Scan using {index}")),
            "{execute}:\n{plan}"
        );
        assert!(!plan.contains("Sort "), "{execute}:\n{plan}");
    }
    drop(client);
    let _ = driver.await;
}
