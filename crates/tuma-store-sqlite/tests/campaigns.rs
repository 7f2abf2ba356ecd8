//! SQLite-specific campaign behaviour: persistence across reopen, the upgrade of a version-4
//! database, one UTC offset's pages through `recipient_groups`, and campaign references in
//! large mixed batches (multi-row runs, the writer's cache).

use std::sync::Arc;

use tuma_domain::{MessageStatus, Msisdn, SenderId};
use tuma_store::conformance::{id, message};
use tuma_store::{
    AccountId, CampaignId, CampaignRef, CampaignStatus, ClickRecord, ClickTotals, GroupCursor,
    ImportTotals, InsertOutcome, LinkRecord, ListId, ListStatus, NewCampaign, NewList,
    NewMessageRecord, NewRecipient, StoreError, Stores, SubmitOutcomeRecord, SubmitResult,
    UpdateOutcome, WindowSpec,
};
use tuma_store_sqlite::{SqliteConfig, SqliteStore, SCHEMA_VERSION};

const T0: u64 = 1_790_000_000_000;
const ACCOUNT: AccountId = AccountId(1);

fn open(path: &std::path::Path) -> Arc<SqliteStore> {
    SqliteStore::open(SqliteConfig::new(path)).unwrap()
}

fn number(n: u64) -> Msisdn {
    Msisdn::from_e164(&format!("+2547{:08}", n % 100_000_000)).unwrap()
}

fn recipient(seq: u64, utc_offset_min: i16) -> NewRecipient {
    NewRecipient {
        seq,
        line: seq + 1,
        to: number(seq),
        utc_offset_min,
        values: vec![format!("Zoë {seq} 😀"), format!("\"{seq}\",\n\\")],
    }
}

fn new_list(name: &str) -> NewList {
    NewList {
        account: ACCOUNT,
        name: name.into(),
        columns: vec!["name".into(), "note".into()],
        created_at_ms: T0,
    }
}

fn new_campaign(list: ListId) -> NewCampaign {
    NewCampaign {
        account: ACCOUNT,
        name: "Ofa 🐣".into(),
        list,
        from: SenderId::parse("MyShop").unwrap(),
        template: "Hi {{ name }} https://shop.example/".into(),
        track_links: true,
        link_base: Some("https://t.example/l".into()),
        send_at_ms: Some(T0 + 60_000),
        window: Some(WindowSpec {
            start_min: 480,
            end_min: 1200,
            utc_offset_min: None,
        }),
        rate: Some(100),
        status: CampaignStatus::Scheduled,
        cursors: vec![
            GroupCursor {
                utc_offset_min: Some(0),
                last_seq: 0,
                done: false,
            },
            GroupCursor {
                utc_offset_min: Some(180),
                last_seq: 0,
                done: false,
            },
        ],
        created_at_ms: T0,
    }
}

fn tagged(n: u64, campaign: CampaignId, seq: u64) -> NewMessageRecord {
    let mut m = message(n, 1);
    m.campaign = Some(CampaignRef { campaign, seq });
    m
}

async fn seqs(s: &Stores, list: ListId, offset: Option<i16>, after: u64, n: usize) -> Vec<u64> {
    s.campaigns
        .recipients(list, offset, after, n)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.seq)
        .collect()
}

/// Lists, recipients (both read paths), campaigns, links, clicks and campaign messages are
/// all there after the store is closed and opened again, and ids keep increasing (a deleted
/// list's id is not given again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let recipients: Vec<_> = (1..=10)
        .map(|seq| recipient(seq, if seq % 3 == 0 { 0 } else { 180 }))
        .collect();
    let (list, campaign, link, deleted) = {
        let store = open(&path);
        let s = store.stores();
        let list = s.campaigns.create_list(new_list("wateja")).await.unwrap();
        s.campaigns
            .insert_recipients(list.id, recipients.clone())
            .await
            .unwrap();
        let list = s
            .campaigns
            .finish_list(
                list.id,
                ImportTotals {
                    rows: 12,
                    accepted: 10,
                    rejected: 1,
                    duplicates: 1,
                },
                vec![(0, 3), (180, 7)],
            )
            .await
            .unwrap();
        let campaign = s
            .campaigns
            .create_campaign(new_campaign(list.id))
            .await
            .unwrap();
        let (campaign, moved) = s
            .campaigns
            .set_campaign_status(
                campaign.id,
                &[CampaignStatus::Scheduled],
                CampaignStatus::Running,
                T0 + 60_000,
            )
            .await
            .unwrap();
        assert!(moved);
        let cursors = vec![
            GroupCursor {
                utc_offset_min: Some(0),
                last_seq: 3,
                done: false,
            },
            GroupCursor {
                utc_offset_min: Some(180),
                last_seq: 2,
                done: false,
            },
        ];
        s.campaigns
            .save_cursors(campaign.id, cursors.clone())
            .await
            .unwrap();
        let campaign = tuma_store::CampaignRecord {
            cursors,
            ..campaign
        };
        let link = LinkRecord {
            code: "aB3xY9kQ".into(),
            account: ACCOUNT,
            campaign: campaign.id,
            seq: 2,
            target: "https://shop.example/é".into(),
            created_at_ms: T0 + 61_000,
        };
        s.campaigns.insert_links(vec![link.clone()]).await.unwrap();
        s.campaigns
            .record_click(ClickRecord {
                code: link.code.clone(),
                campaign: campaign.id,
                seq: 2,
                at_ms: T0 + 70_000,
                user_agent: Some("Mozilla/5.0".into()),
            })
            .await
            .unwrap();
        let out = s
            .messages
            .insert_batch(vec![
                tagged(1, campaign.id, 1),
                tagged(2, campaign.id, 2),
                tagged(3, campaign.id, 3),
            ])
            .await
            .unwrap();
        assert_eq!(out, vec![InsertOutcome::Inserted; 3]);
        let deleted = s.campaigns.create_list(new_list("broken")).await.unwrap();
        s.campaigns
            .insert_recipients(deleted.id, vec![recipient(1, 0)])
            .await
            .unwrap();
        assert!(s.campaigns.delete_list(deleted.id).await.unwrap());
        (list, campaign, link, deleted)
    };

    let store = open(&path);
    let s = store.stores();
    assert_eq!(
        s.campaigns.get_list(list.id).await.unwrap().as_ref(),
        Some(&list)
    );
    assert_eq!(list.status, ListStatus::Ready);
    assert_eq!(
        s.campaigns.recipients(list.id, None, 0, 100).await.unwrap(),
        recipients
    );
    assert_eq!(seqs(&s, list.id, Some(0), 3, 100).await, [6, 9]);
    assert_eq!(seqs(&s, list.id, Some(180), 2, 3).await, [4, 5, 7]);
    assert_eq!(
        s.campaigns
            .get_campaign(campaign.id)
            .await
            .unwrap()
            .as_ref(),
        Some(&campaign)
    );
    assert_eq!(
        s.campaigns
            .campaigns_with_status(&[CampaignStatus::Running])
            .await
            .unwrap(),
        std::slice::from_ref(&campaign)
    );
    assert_eq!(
        s.campaigns.find_link(&link.code).await.unwrap().as_ref(),
        Some(&link)
    );
    assert_eq!(
        s.campaigns.click_totals(campaign.id).await.unwrap(),
        ClickTotals {
            clicks: 1,
            unique_recipients: 1
        }
    );
    let sent = s
        .campaigns
        .campaign_messages(campaign.id, 0, 10)
        .await
        .unwrap();
    assert_eq!(
        sent.iter().map(|m| (m.seq, m.id)).collect::<Vec<_>>(),
        [(1, id(1)), (2, id(2)), (3, id(3))]
    );
    assert_eq!(
        s.messages
            .get(ACCOUNT, id(2))
            .await
            .unwrap()
            .unwrap()
            .campaign,
        Some(CampaignRef {
            campaign: campaign.id,
            seq: 2
        })
    );
    // The unique reference is enforced by the database, not only by the writer's memory.
    let out = s
        .messages
        .insert_batch(vec![tagged(9, campaign.id, 3)])
        .await
        .unwrap();
    assert_eq!(out, [InsertOutcome::Duplicate { existing: id(3) }]);
    assert_eq!(s.campaigns.get_list(deleted.id).await.unwrap(), None);
    let next = s.campaigns.create_list(new_list("next")).await.unwrap();
    assert!(next.id > deleted.id, "{:?} after {:?}", next.id, deleted.id);
    let next_campaign = s
        .campaigns
        .create_campaign(new_campaign(list.id))
        .await
        .unwrap();
    assert!(next_campaign.id > campaign.id);
    drop(s);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let groups: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM recipient_groups WHERE list_id = ?1",
            [deleted.id.0 as i64],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(groups, 0, "a deleted list's groups go with it");
}

/// A version-4 database is upgraded: its messages read back (no campaign), recovery still
/// finds them, and campaign messages can be stored next to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_4_database_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../src/migrations/0001_initial.sql"),
            include_str!("../src/migrations/0002_settings_inbound_webhooks.sql"),
            include_str!("../src/migrations/0003_message_row_status.sql"),
            include_str!("../src/migrations/0004_outbox_on_message_row.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (1), (2), (3), (4);",
        )
        .unwrap();
        // 1: accepted (in the outbox). 2: delivered, with its events in the log.
        for (n, status, seg0, log) in [
            (1u64, "accepted", None, None),
            (
                2,
                "delivered",
                Some("delivered"),
                Some(format!(
                    "1 submitted {} -\n2 delivered {} +stat:DELIVRD\n",
                    T0 + 100,
                    T0 + 200
                )),
            ),
        ] {
            let m = message(n, 1);
            conn.execute(
                "INSERT INTO messages (id, account_id, recipient, sender, body, encoding, \
                 status, initial_status, segment_count, connector, multipart, created_at_ms, \
                 expires_at_ms, unfinished, seg0_status, event_log) VALUES (?1, 1, ?2, \
                 'MyShop', ?3, 'gsm7', ?4, 'accepted', 1, 'smsc-a', 'all_delivered', ?5, ?6, \
                 ?7, ?8, ?9)",
                rusqlite::params![
                    &m.id.to_bytes()[..],
                    m.to.as_u64() as i64,
                    m.text,
                    status,
                    m.created_at_ms as i64,
                    m.expires_at_ms as i64,
                    (status == "accepted").then_some(1i64),
                    seg0,
                    log,
                ],
            )
            .unwrap();
        }
    }
    let store = open(&path);
    let s = store.stores();
    let old = s.messages.get(ACCOUNT, id(2)).await.unwrap().unwrap();
    assert_eq!(
        (
            old.status,
            old.text.as_str(),
            old.campaign,
            old.events.len(),
            old.events.last().map(|e| e.detail.clone())
        ),
        (
            MessageStatus::Delivered,
            "message 2",
            None,
            3,
            Some(Some("stat:DELIVRD".to_owned()))
        )
    );
    let pending = s.messages.pending_outbox(None, None, 10).await.unwrap();
    assert_eq!(
        pending.iter().map(|e| e.message.id).collect::<Vec<_>>(),
        [id(1)]
    );
    assert_eq!(pending[0].message.campaign, None);

    let list = s.campaigns.create_list(new_list("after")).await.unwrap();
    s.campaigns
        .insert_recipients(list.id, vec![recipient(1, 0)])
        .await
        .unwrap();
    s.campaigns
        .finish_list(list.id, ImportTotals::default(), vec![(0, 1)])
        .await
        .unwrap();
    let c = s
        .campaigns
        .create_campaign(new_campaign(list.id))
        .await
        .unwrap();
    let out = s
        .messages
        .insert_batch(vec![tagged(3, c.id, 1), tagged(4, c.id, 1), message(5, 1)])
        .await
        .unwrap();
    assert_eq!(
        out,
        [
            InsertOutcome::Inserted,
            InsertOutcome::Duplicate { existing: id(3) },
            InsertOutcome::Inserted
        ]
    );
    drop(s);
    drop(store);
    let version: u32 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!((version, SCHEMA_VERSION), (6, 6));
}

/// One offset's pages (from `recipient_groups`, then the rows by primary key: a range for a
/// dense offset, one lookup each for a sparse one) are exactly the filter of every
/// recipient by offset, whatever the page size, across buckets of 4,096 seqs, with calls
/// stored out of seq order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_pages_are_the_recipients_of_that_offset() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("t.db"));
    let s = store.stores();
    let list = s.campaigns.create_list(new_list("mixed")).await.unwrap();
    // 10,000 recipients over three buckets: most at +3h, a quarter at 0, every 97th at
    // -5h30 (sparse), seq 4096 (a bucket's first) and 8191 (a bucket's last) at +14h.
    let offset_of = |seq: u64| -> i16 {
        match seq {
            4096 | 8191 => 840,
            s if s % 97 == 0 => -330,
            s if s % 4 == 0 => 0,
            _ => 180,
        }
    };
    let all: Vec<NewRecipient> = (1..=10_000)
        .map(|seq| NewRecipient {
            seq,
            line: seq + 1,
            to: number(seq),
            utc_offset_min: offset_of(seq),
            values: vec![format!("r{seq}")],
        })
        .collect();
    // Calls of 1,500 in the order 5, 2, 0, 6, 3, 1, 4 (out of seq order, overlapping
    // buckets), each itself reversed.
    let chunks: Vec<Vec<NewRecipient>> = all.chunks(1_500).map(<[_]>::to_vec).collect();
    for i in [5usize, 2, 0, 6, 3, 1, 4] {
        let mut chunk = chunks[i].clone();
        chunk.reverse();
        s.campaigns.insert_recipients(list.id, chunk).await.unwrap();
    }
    assert_eq!(
        s.campaigns
            .recipients(list.id, None, 0, 20_000)
            .await
            .unwrap(),
        all
    );
    for offset in [180i16, 0, -330, 840, 60] {
        let expected: Vec<&NewRecipient> =
            all.iter().filter(|r| r.utc_offset_min == offset).collect();
        for page in [1usize, 7, 500, 4_096, 20_000] {
            let mut got = Vec::new();
            let mut after = 0;
            loop {
                let rows = s
                    .campaigns
                    .recipients(list.id, Some(offset), after, page)
                    .await
                    .unwrap();
                assert!(rows.len() <= page);
                let Some(last) = rows.last() else { break };
                after = last.seq;
                got.extend(rows);
                if page == 1 && got.len() > 40 {
                    break; // enough of the one-by-one walk
                }
            }
            let want: Vec<NewRecipient> = expected
                .iter()
                .take(if page == 1 { got.len() } else { usize::MAX })
                .map(|r| (*r).clone())
                .collect();
            assert_eq!(got, want, "offset {offset}, page {page}");
        }
        // From the middle of a bucket, and past the end.
        let mid: Vec<u64> = expected
            .iter()
            .map(|r| r.seq)
            .filter(|&q| q > 5_000)
            .take(3)
            .collect();
        assert_eq!(seqs(&s, list.id, Some(offset), 5_000, 3).await, mid);
        assert!(seqs(&s, list.id, Some(offset), 10_000, 3).await.is_empty());
        assert!(seqs(&s, list.id, Some(offset), 0, 0).await.is_empty());
    }
    assert_eq!(seqs(&s, list.id, Some(840), 0, 10).await, [4096, 8191]);
    assert!(seqs(&s, ListId(999), Some(180), 0, 10).await.is_empty());
}

/// A batch of several hundred campaign messages with plain ones between them goes in
/// multi-row runs; a reference taken twice in one run, or by a message of an earlier call,
/// or by a message with an idempotency key, is `Duplicate` and leaves nothing behind: not
/// in the database, not in the writer's cache (its submit result finds no message), and
/// the runs around it are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_references_in_large_mixed_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("t.db"));
    let s = store.stores();
    let list = s.campaigns.create_list(new_list("big")).await.unwrap();
    let c = s
        .campaigns
        .create_campaign(new_campaign(list.id))
        .await
        .unwrap();
    let c = c.id;
    // Message n is recipient n of the campaign, except where noted.
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    for n in 1..=300u64 {
        match n {
            // Plain messages between campaign runs.
            50 | 51 | 200 => {
                batch.push(message(n, 1));
                expected.push(InsertOutcome::Inserted);
            }
            // Recipient 10 again, in the same run of 64.
            60 => {
                batch.push(tagged(n, c, 10));
                expected.push(InsertOutcome::Duplicate { existing: id(10) });
            }
            // Recipient 100 again, in a later run.
            250 => {
                batch.push(tagged(n, c, 100));
                expected.push(InsertOutcome::Duplicate { existing: id(100) });
            }
            // An idempotency key and a reference.
            270 => {
                let mut m = tagged(n, c, n);
                m.idempotency = Some(tuma_store::Idempotency {
                    key: "k-270".into(),
                    body_hash: [7; 32],
                });
                batch.push(m);
                expected.push(InsertOutcome::Inserted);
            }
            _ => {
                batch.push(tagged(n, c, n));
                expected.push(InsertOutcome::Inserted);
            }
        }
    }
    assert_eq!(s.messages.insert_batch(batch).await.unwrap(), expected);
    // A later call: recipient 270's reference with another key, recipient 301 new.
    let mut again = tagged(400, c, 270);
    again.idempotency = Some(tuma_store::Idempotency {
        key: "k-400".into(),
        body_hash: [8; 32],
    });
    assert_eq!(
        s.messages
            .insert_batch(vec![again, tagged(401, c, 301)])
            .await
            .unwrap(),
        [
            InsertOutcome::Duplicate { existing: id(270) },
            InsertOutcome::Inserted
        ]
    );
    for n in [60, 250, 400] {
        assert_eq!(s.messages.get(ACCOUNT, id(n)).await.unwrap(), None, "{n}");
    }
    for (n, seq) in [
        (10, Some(10)),
        (50, None),
        (100, Some(100)),
        (299, Some(299)),
    ] {
        assert_eq!(
            s.messages
                .get(ACCOUNT, id(n))
                .await
                .unwrap()
                .unwrap()
                .campaign,
            seq.map(|seq| CampaignRef { campaign: c, seq }),
            "{n}"
        );
    }
    let sent = s.campaigns.campaign_messages(c, 0, 1_000).await.unwrap();
    assert_eq!(sent.len(), 300 - 3 - 2 + 1);
    assert!(sent.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        sent.iter().find(|m| m.seq == 301).map(|m| m.id),
        Some(id(401))
    );

    // The cache knows the stored messages and not the refused ones.
    let submit = |n: u64| SubmitResult {
        message: id(n),
        segment: 0,
        connector: tuma_domain::ConnectorId::parse("smsc-a").unwrap(),
        at_ms: T0 + 1_000,
        outcome: SubmitOutcomeRecord::Accepted {
            smsc_id: format!("id{n}"),
        },
    };
    let out = s
        .messages
        .record_submit_results(vec![submit(10), submit(60), submit(250)])
        .await
        .unwrap();
    assert!(matches!(out[0], UpdateOutcome::Changed { .. }), "{out:?}");
    assert_eq!(out[1..], [UpdateOutcome::NotFound, UpdateOutcome::NotFound]);
}

/// The errors of refused bulk inserts name the value at fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_bulk_inserts_name_the_taken_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("t.db"));
    let s = store.stores();
    let list = s.campaigns.create_list(new_list("a")).await.unwrap();
    // 600 rows: the taken seq is in the third multi-row chunk.
    s.campaigns
        .insert_recipients(list.id, vec![recipient(550, 0)])
        .await
        .unwrap();
    let err = s
        .campaigns
        .insert_recipients(list.id, (1..=600).map(|q| recipient(q, 0)).collect())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::AlreadyExists {
            what: "recipient seq",
            value: format!("550 in list {}", list.id)
        }
    );
    assert_eq!(seqs(&s, list.id, None, 0, 1_000).await, [550]);
    assert_eq!(seqs(&s, list.id, Some(0), 0, 1_000).await, [550]);
    let ready = s
        .campaigns
        .finish_list(list.id, ImportTotals::default(), vec![(0, 1)])
        .await
        .unwrap();
    let err = s
        .campaigns
        .insert_recipients(ready.id, vec![recipient(1, 0)])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::NotFound {
            what: "importing list",
            value: list.id.to_string()
        }
    );

    let c = s
        .campaigns
        .create_campaign(new_campaign(list.id))
        .await
        .unwrap();
    let link = |code: String| LinkRecord {
        code,
        account: ACCOUNT,
        campaign: c.id,
        seq: 1,
        target: "https://a.example/".into(),
        created_at_ms: T0,
    };
    let err = s
        .campaigns
        .insert_links(
            (0..300)
                .map(|i| link(format!("code{i:04}")))
                .chain([link("code0123".into())])
                .collect(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::AlreadyExists {
            what: "link code",
            value: "code0123".into()
        }
    );
    assert_eq!(s.campaigns.find_link("code0000").await.unwrap(), None);
    // Another account's list is not found for this account's campaign.
    let mut theirs = new_campaign(list.id);
    theirs.account = AccountId(2);
    assert!(matches!(
        s.campaigns.create_campaign(theirs).await,
        Err(StoreError::NotFound { what: "list", .. })
    ));
}
