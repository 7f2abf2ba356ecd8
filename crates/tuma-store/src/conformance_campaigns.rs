//! The conformance suite's campaign tests ([`crate::CampaignStore`] and campaign-tagged
//! messages), mounted with the rest by [`crate::conformance_tests!`].
//!
//! Each test is a `pub async fn(&Stores)` on a fresh, empty backend, written from the
//! trait's documentation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use smpp::MessageState;
use tuma_domain::{MessageStatus, SenderId};

use crate::campaigns::{
    CampaignId, CampaignMessage, CampaignRecord, CampaignRef, CampaignStatus, ClickRecord,
    ClickTotals, GroupCursor, ImportTotals, LinkRecord, ListId, ListRecord, ListStatus,
    NewCampaign, NewList, NewRecipient, WindowSpec,
};
use crate::conformance::{accepted, id, insert_ok, message, number, receipt, ACCOUNT, OTHER, T0};
use crate::ports::Stores;
use crate::records::{
    AccountId, ErrorInfo, InsertOutcome, SubmitOutcomeRecord, SubmitResult, UpdateOutcome,
};
use crate::StoreError;

fn new_list(account: AccountId, name: &str, at: u64) -> NewList {
    NewList {
        account,
        name: name.into(),
        columns: vec!["name".into(), "balance".into()],
        created_at_ms: at,
    }
}

/// Recipient `seq` on line `seq + 1`, number `number(seq)`, with two values.
fn recipient(seq: u64, utc_offset_min: i16) -> NewRecipient {
    NewRecipient {
        seq,
        line: seq + 1,
        to: number(seq),
        utc_offset_min,
        values: vec![format!("name {seq}"), format!("{}.50", seq * 10)],
    }
}

async fn seqs(s: &Stores, list: ListId, offset: Option<i16>, after: u64, limit: usize) -> Vec<u64> {
    s.campaigns
        .recipients(list, offset, after, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.seq)
        .collect()
}

/// A ready list with recipients 1..=n at UTC+3.
async fn ready_list(s: &Stores, account: AccountId, n: u64) -> ListRecord {
    let list = s
        .campaigns
        .create_list(new_list(account, "customers", T0))
        .await
        .unwrap();
    s.campaigns
        .insert_recipients(list.id, (1..=n).map(|seq| recipient(seq, 180)).collect())
        .await
        .unwrap();
    let totals = ImportTotals {
        rows: n,
        accepted: n,
        rejected: 0,
        duplicates: 0,
    };
    s.campaigns
        .finish_list(list.id, totals, vec![(180, n)])
        .await
        .unwrap()
}

fn new_campaign(account: AccountId, list: ListId, name: &str, at: u64) -> NewCampaign {
    NewCampaign {
        account,
        name: name.into(),
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
        created_at_ms: at,
    }
}

/// A campaign of `ACCOUNT` over a fresh ready list of `n` recipients.
async fn running_campaign(s: &Stores, n: u64) -> CampaignRecord {
    let list = ready_list(s, ACCOUNT, n).await;
    s.campaigns
        .create_campaign(new_campaign(ACCOUNT, list.id, "spring sale", T0))
        .await
        .unwrap()
}

/// Message `n` (see [`message`]) for recipient `seq` of `campaign`.
fn tagged(n: u64, campaign: CampaignId, seq: u64) -> crate::records::NewMessageRecord {
    let mut m = message(n, 1);
    m.campaign = Some(CampaignRef { campaign, seq });
    m
}

/// Created importing and empty; filled in two calls; finished with its totals and offsets;
/// found by status; a deleted list and its recipients are gone.
pub async fn list_lifecycle(s: &Stores) {
    let created = s
        .campaigns
        .create_list(new_list(ACCOUNT, "customers", T0 + 5))
        .await
        .unwrap();
    assert_eq!(
        (
            created.account,
            created.name.as_str(),
            created.columns.as_slice(),
            created.status,
            created.totals,
            created.offsets.as_slice(),
            created.created_at_ms,
        ),
        (
            ACCOUNT,
            "customers",
            ["name".to_owned(), "balance".to_owned()].as_slice(),
            ListStatus::Importing,
            ImportTotals::default(),
            [].as_slice(),
            T0 + 5,
        )
    );
    assert_eq!(
        s.campaigns.get_list(created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        s.campaigns
            .lists_with_status(ListStatus::Importing)
            .await
            .unwrap(),
        std::slice::from_ref(&created)
    );
    assert!(s
        .campaigns
        .lists_with_status(ListStatus::Ready)
        .await
        .unwrap()
        .is_empty());

    let first: Vec<_> = [(1, 180), (2, 0), (3, 180)]
        .into_iter()
        .map(|(seq, off)| recipient(seq, off))
        .collect();
    let second: Vec<_> = [(4, -300), (5, 180)]
        .into_iter()
        .map(|(seq, off)| recipient(seq, off))
        .collect();
    s.campaigns
        .insert_recipients(created.id, first.clone())
        .await
        .unwrap();
    s.campaigns
        .insert_recipients(created.id, second.clone())
        .await
        .unwrap();
    let all = s
        .campaigns
        .recipients(created.id, None, 0, 100)
        .await
        .unwrap();
    assert_eq!(all, [first, second].concat());

    let totals = ImportTotals {
        rows: 8,
        accepted: 5,
        rejected: 2,
        duplicates: 1,
    };
    let offsets = vec![(-300, 1), (0, 1), (180, 3)];
    let ready = s
        .campaigns
        .finish_list(created.id, totals, offsets.clone())
        .await
        .unwrap();
    let expected = ListRecord {
        status: ListStatus::Ready,
        totals,
        offsets,
        ..created.clone()
    };
    assert_eq!(ready, expected);
    assert_eq!(
        s.campaigns.get_list(created.id).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        s.campaigns
            .lists_with_status(ListStatus::Ready)
            .await
            .unwrap(),
        std::slice::from_ref(&expected)
    );
    assert!(s
        .campaigns
        .lists_with_status(ListStatus::Importing)
        .await
        .unwrap()
        .is_empty());

    // An import that failed half way is deleted with its recipients; others stay.
    let failed = s
        .campaigns
        .create_list(new_list(ACCOUNT, "broken", T0 + 6))
        .await
        .unwrap();
    assert!(failed.id > created.id);
    s.campaigns
        .insert_recipients(failed.id, vec![recipient(1, 0), recipient(2, 0)])
        .await
        .unwrap();
    assert!(s.campaigns.delete_list(failed.id).await.unwrap());
    assert!(!s.campaigns.delete_list(failed.id).await.unwrap());
    assert_eq!(s.campaigns.get_list(failed.id).await.unwrap(), None);
    assert!(seqs(s, failed.id, None, 0, 100).await.is_empty());
    assert!(s
        .campaigns
        .lists_with_status(ListStatus::Importing)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(seqs(s, created.id, None, 0, 100).await, [1, 2, 3, 4, 5]);
    assert_eq!(
        s.campaigns.get_list(created.id).await.unwrap(),
        Some(expected)
    );
}

/// An account's lists come newest first, by page with `before`; other accounts' are not
/// among them.
pub async fn list_listing(s: &Stores) {
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    for i in 0..5u64 {
        let account = if i == 2 { OTHER } else { ACCOUNT };
        let l = s
            .campaigns
            .create_list(new_list(account, &format!("list {i}"), T0 + i))
            .await
            .unwrap();
        if account == ACCOUNT {
            mine.push(l);
        } else {
            theirs.push(l);
        }
    }
    assert!(mine.windows(2).all(|w| w[0].id < w[1].id));
    let newest_first: Vec<_> = mine.iter().rev().cloned().collect();
    assert_eq!(
        s.campaigns.list_lists(ACCOUNT, None, 10).await.unwrap(),
        newest_first
    );
    let page = s.campaigns.list_lists(ACCOUNT, None, 2).await.unwrap();
    assert_eq!(page, newest_first[..2]);
    let next = s
        .campaigns
        .list_lists(ACCOUNT, Some(page[1].id), 2)
        .await
        .unwrap();
    assert_eq!(next, newest_first[2..]);
    assert!(s
        .campaigns
        .list_lists(ACCOUNT, Some(mine[0].id), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.campaigns.list_lists(OTHER, None, 10).await.unwrap(),
        theirs
    );
    assert!(s
        .campaigns
        .list_lists(AccountId(999), None, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Recipients come by `seq` (whatever the insertion order), after `after_seq`, at most
/// `limit`, only from their list, and only at the asked UTC offset when one is given.
pub async fn recipients_paging_and_offsets(s: &Stores) {
    let a = s
        .campaigns
        .create_list(new_list(ACCOUNT, "a", T0))
        .await
        .unwrap();
    let b = s
        .campaigns
        .create_list(new_list(ACCOUNT, "b", T0))
        .await
        .unwrap();
    // Offsets by seq: 1:+3h 2:0 3:-3h30 4:+3h 5:0 6:+3h 7:+3h
    let offsets = [
        (1, 180),
        (2, 0),
        (3, -210),
        (4, 180),
        (5, 0),
        (6, 180),
        (7, 180),
    ];
    let mut batch: Vec<_> = offsets
        .into_iter()
        .map(|(seq, off)| recipient(seq, off))
        .collect();
    batch.reverse();
    s.campaigns.insert_recipients(a.id, batch).await.unwrap();
    s.campaigns
        .insert_recipients(b.id, vec![recipient(1, 180), recipient(8, 180)])
        .await
        .unwrap();

    assert_eq!(seqs(s, a.id, None, 0, 3).await, [1, 2, 3]);
    assert_eq!(seqs(s, a.id, None, 3, 3).await, [4, 5, 6]);
    assert_eq!(seqs(s, a.id, None, 6, 3).await, [7]);
    assert!(seqs(s, a.id, None, 7, 3).await.is_empty());
    assert!(seqs(s, a.id, None, 0, 0).await.is_empty());

    assert_eq!(seqs(s, a.id, Some(180), 0, 2).await, [1, 4]);
    assert_eq!(seqs(s, a.id, Some(180), 4, 2).await, [6, 7]);
    assert!(seqs(s, a.id, Some(180), 7, 2).await.is_empty());
    assert_eq!(seqs(s, a.id, Some(0), 0, 10).await, [2, 5]);
    assert_eq!(seqs(s, a.id, Some(0), 2, 10).await, [5]);
    assert_eq!(seqs(s, a.id, Some(-210), 0, 10).await, [3]);
    assert!(seqs(s, a.id, Some(60), 0, 10).await.is_empty());

    assert_eq!(seqs(s, b.id, None, 0, 10).await, [1, 8]);
    assert_eq!(
        s.campaigns.recipients(a.id, None, 3, 1).await.unwrap(),
        [recipient(4, 180)]
    );
    assert!(seqs(s, ListId(999), None, 0, 10).await.is_empty());
}

/// A `seq` already taken (by an earlier call, or twice in one call) is `AlreadyExists` and
/// nothing of that call is stored; the same `seq` in another list is fine.
pub async fn recipient_seq_taken(s: &Stores) {
    let list = s
        .campaigns
        .create_list(new_list(ACCOUNT, "a", T0))
        .await
        .unwrap();
    s.campaigns
        .insert_recipients(list.id, vec![recipient(1, 0), recipient(2, 0)])
        .await
        .unwrap();
    let taken = s
        .campaigns
        .insert_recipients(list.id, vec![recipient(3, 0), recipient(2, 60)])
        .await;
    assert!(
        matches!(taken, Err(StoreError::AlreadyExists { .. })),
        "{taken:?}"
    );
    let twice = s
        .campaigns
        .insert_recipients(
            list.id,
            vec![recipient(4, 0), recipient(5, 0), recipient(4, 0)],
        )
        .await;
    assert!(
        matches!(twice, Err(StoreError::AlreadyExists { .. })),
        "{twice:?}"
    );
    // Neither call stored anything; the first recipient 2 is intact.
    assert_eq!(
        s.campaigns.recipients(list.id, None, 0, 10).await.unwrap(),
        [recipient(1, 0), recipient(2, 0)]
    );
    // The refused seqs are still free.
    s.campaigns
        .insert_recipients(list.id, vec![recipient(3, 0), recipient(4, 0)])
        .await
        .unwrap();
    assert_eq!(seqs(s, list.id, None, 0, 10).await, [1, 2, 3, 4]);
    let other = s
        .campaigns
        .create_list(new_list(ACCOUNT, "b", T0))
        .await
        .unwrap();
    s.campaigns
        .insert_recipients(other.id, vec![recipient(1, 0)])
        .await
        .unwrap();
    assert_eq!(seqs(s, other.id, None, 0, 10).await, [1]);
}

/// Everything that names a list that does not exist is `NotFound` (or empty, or `false`).
pub async fn unknown_list(s: &Stores) {
    let missing = ListId(999);
    let r = s
        .campaigns
        .insert_recipients(missing, vec![recipient(1, 0)])
        .await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
    let r = s
        .campaigns
        .finish_list(missing, ImportTotals::default(), vec![])
        .await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
    let r = s
        .campaigns
        .create_campaign(new_campaign(ACCOUNT, missing, "orphan", T0))
        .await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
    assert_eq!(s.campaigns.get_list(missing).await.unwrap(), None);
    assert!(!s.campaigns.delete_list(missing).await.unwrap());
    // Nothing was created by the failed calls.
    assert!(s
        .campaigns
        .list_campaigns(ACCOUNT, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .campaigns
        .list_lists(ACCOUNT, None, 10)
        .await
        .unwrap()
        .is_empty());

    // A deleted list is unknown too.
    let gone = s
        .campaigns
        .create_list(new_list(ACCOUNT, "gone", T0))
        .await
        .unwrap();
    assert!(s.campaigns.delete_list(gone.id).await.unwrap());
    let r = s
        .campaigns
        .insert_recipients(gone.id, vec![recipient(1, 0)])
        .await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
}

/// Names, columns and values come back byte for byte: Unicode, empty strings, delimiters,
/// quotes and newlines; lines and extreme offsets too.
pub async fn recipient_values_round_trip(s: &Stores) {
    let list = s
        .campaigns
        .create_list(NewList {
            account: ACCOUNT,
            name: "Wateja wa Nairobi 🇰🇪 « été »".into(),
            columns: vec!["jina".into(), "città".into(), "".into(), "名前".into()],
            created_at_ms: T0,
        })
        .await
        .unwrap();
    let got = s.campaigns.get_list(list.id).await.unwrap().unwrap();
    assert_eq!(got.name, "Wateja wa Nairobi 🇰🇪 « été »");
    assert_eq!(got.columns, ["jina", "città", "", "名前"]);

    let rows = vec![
        NewRecipient {
            seq: 1,
            line: 2,
            to: number(1),
            utc_offset_min: 180,
            values: vec![
                "Zoë 😀".into(),
                "".into(),
                "a,b;\"c\"\n'd'\t\\e".into(),
                "山田 太郎".into(),
            ],
        },
        NewRecipient {
            seq: 2,
            line: 1_000_003,
            to: number(2),
            utc_offset_min: -570,
            values: vec!["".into(), "".into(), "".into(), "".into()],
        },
        NewRecipient {
            seq: 3,
            line: 1_000_004,
            to: number(3),
            utc_offset_min: 840,
            values: vec![
                "  padded  ".into(),
                "NULL".into(),
                "%_".into(),
                "\u{200b}zero\u{feff}width".into(),
            ],
        },
    ];
    s.campaigns
        .insert_recipients(list.id, rows.clone())
        .await
        .unwrap();
    assert_eq!(
        s.campaigns.recipients(list.id, None, 0, 10).await.unwrap(),
        rows
    );
    assert_eq!(
        s.campaigns
            .recipients(list.id, Some(-570), 0, 10)
            .await
            .unwrap(),
        rows[1..2]
    );
}

/// Every setting comes back as given (with and without the optional ones); the first
/// `updated_at_ms` is the creation time; ids increase.
pub async fn campaign_create_and_get(s: &Stores) {
    let list = ready_list(s, ACCOUNT, 3).await;
    let full = NewCampaign {
        account: ACCOUNT,
        name: "Ofa ya Pasaka 🐣".into(),
        list: list.id,
        from: SenderId::parse("22384").unwrap(),
        template: "Hi {{ name | default(\"there\") }}, see https://shop.example/é?a=1&b=2".into(),
        track_links: true,
        link_base: Some("https://t.example/l".into()),
        send_at_ms: Some(T0 + 3_600_000),
        window: Some(WindowSpec {
            start_min: 8 * 60,
            end_min: 20 * 60,
            utc_offset_min: None,
        }),
        rate: Some(250),
        status: CampaignStatus::Scheduled,
        cursors: vec![
            GroupCursor {
                utc_offset_min: Some(-300),
                last_seq: 0,
                done: false,
            },
            GroupCursor {
                utc_offset_min: Some(180),
                last_seq: 0,
                done: false,
            },
        ],
        created_at_ms: T0 + 7,
    };
    let a = s.campaigns.create_campaign(full.clone()).await.unwrap();
    let expected = CampaignRecord {
        id: a.id,
        account: full.account,
        name: full.name.clone(),
        list: full.list,
        from: full.from.clone(),
        template: full.template.clone(),
        track_links: true,
        link_base: full.link_base.clone(),
        send_at_ms: full.send_at_ms,
        window: full.window,
        rate: full.rate,
        status: CampaignStatus::Scheduled,
        cursors: full.cursors.clone(),
        created_at_ms: T0 + 7,
        updated_at_ms: T0 + 7,
    };
    assert_eq!(a, expected);
    assert_eq!(
        s.campaigns.get_campaign(a.id).await.unwrap(),
        Some(expected)
    );

    // Nothing optional; a window across midnight with one offset for everyone.
    let mut bare = new_campaign(ACCOUNT, list.id, "", T0 + 8);
    bare.from = SenderId::parse("+254700000001").unwrap();
    bare.template = String::new();
    bare.window = Some(WindowSpec {
        start_min: 22 * 60,
        end_min: 6 * 60 + 30,
        utc_offset_min: Some(-60),
    });
    let b = s.campaigns.create_campaign(bare.clone()).await.unwrap();
    assert!(b.id > a.id);
    let got = s.campaigns.get_campaign(b.id).await.unwrap().unwrap();
    assert_eq!(got, b);
    assert_eq!(
        (
            got.name.as_str(),
            got.from,
            got.template.as_str(),
            got.track_links,
            got.link_base,
            got.send_at_ms,
            got.window,
            got.rate,
            got.status,
            got.cursors,
            got.updated_at_ms,
        ),
        (
            "",
            bare.from,
            "",
            false,
            None,
            None,
            bare.window,
            None,
            CampaignStatus::Running,
            bare.cursors,
            T0 + 8,
        )
    );
    assert_eq!(
        s.campaigns.get_campaign(CampaignId(999)).await.unwrap(),
        None
    );
}

/// An account's campaigns come newest first, by page with `before`; `campaigns_with_status`
/// finds any of several statuses, by id, across accounts.
pub async fn campaign_listing(s: &Stores) {
    let mine_list = ready_list(s, ACCOUNT, 1).await;
    let their_list = ready_list(s, OTHER, 1).await;
    let statuses = [
        (ACCOUNT, CampaignStatus::Running),
        (OTHER, CampaignStatus::Scheduled),
        (ACCOUNT, CampaignStatus::Scheduled),
        (ACCOUNT, CampaignStatus::Running),
    ];
    let mut created = Vec::new();
    for (i, (account, status)) in statuses.into_iter().enumerate() {
        let list = if account == ACCOUNT {
            mine_list.id
        } else {
            their_list.id
        };
        let mut c = new_campaign(account, list, &format!("c{i}"), T0 + i as u64);
        c.status = status;
        if status == CampaignStatus::Scheduled {
            c.send_at_ms = Some(T0 + 60_000);
        }
        created.push(s.campaigns.create_campaign(c).await.unwrap());
    }
    let (c0, c1, c2, c3) = (&created[0], &created[1], &created[2], &created[3]);
    assert_eq!(
        s.campaigns.list_campaigns(ACCOUNT, None, 10).await.unwrap(),
        [c3.clone(), c2.clone(), c0.clone()]
    );
    assert_eq!(
        s.campaigns.list_campaigns(ACCOUNT, None, 1).await.unwrap(),
        std::slice::from_ref(c3)
    );
    assert_eq!(
        s.campaigns
            .list_campaigns(ACCOUNT, Some(c3.id), 10)
            .await
            .unwrap(),
        [c2.clone(), c0.clone()]
    );
    assert_eq!(
        s.campaigns
            .list_campaigns(ACCOUNT, Some(c2.id), 10)
            .await
            .unwrap(),
        std::slice::from_ref(c0)
    );
    assert_eq!(
        s.campaigns.list_campaigns(OTHER, None, 10).await.unwrap(),
        std::slice::from_ref(c1)
    );

    assert_eq!(
        s.campaigns
            .campaigns_with_status(&[CampaignStatus::Scheduled])
            .await
            .unwrap(),
        [c1.clone(), c2.clone()]
    );
    assert_eq!(
        s.campaigns
            .campaigns_with_status(&[CampaignStatus::Running, CampaignStatus::Scheduled])
            .await
            .unwrap(),
        created
    );
    assert!(s
        .campaigns
        .campaigns_with_status(&[CampaignStatus::Paused, CampaignStatus::Cancelled])
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .campaigns
        .campaigns_with_status(&[])
        .await
        .unwrap()
        .is_empty());
}

/// The status moves only from one of `from`, setting `updated_at_ms`; otherwise nothing
/// changes and the current campaign is returned; an unknown campaign is `NotFound`.
pub async fn campaign_status_compare_and_set(s: &Stores) {
    let c = running_campaign(s, 2).await;
    let (paused, moved) = s
        .campaigns
        .set_campaign_status(
            c.id,
            &[CampaignStatus::Running],
            CampaignStatus::Paused,
            T0 + 5,
        )
        .await
        .unwrap();
    assert!(moved);
    assert_eq!(
        paused,
        CampaignRecord {
            status: CampaignStatus::Paused,
            updated_at_ms: T0 + 5,
            ..c.clone()
        }
    );
    assert_eq!(
        s.campaigns.get_campaign(c.id).await.unwrap(),
        Some(paused.clone())
    );

    // Not running any more: completing it does nothing.
    let (same, moved) = s
        .campaigns
        .set_campaign_status(
            c.id,
            &[CampaignStatus::Running],
            CampaignStatus::Completed,
            T0 + 6,
        )
        .await
        .unwrap();
    assert!(!moved);
    assert_eq!(same, paused);
    assert_eq!(
        s.campaigns.get_campaign(c.id).await.unwrap(),
        Some(paused.clone())
    );
    let (same, moved) = s
        .campaigns
        .set_campaign_status(c.id, &[], CampaignStatus::Running, T0 + 6)
        .await
        .unwrap();
    assert!(!moved);
    assert_eq!(same, paused);

    let (cancelled, moved) = s
        .campaigns
        .set_campaign_status(
            c.id,
            &[
                CampaignStatus::Scheduled,
                CampaignStatus::Running,
                CampaignStatus::Paused,
            ],
            CampaignStatus::Cancelled,
            T0 + 7,
        )
        .await
        .unwrap();
    assert!(moved);
    assert_eq!(
        (
            cancelled.status,
            cancelled.updated_at_ms,
            cancelled.created_at_ms
        ),
        (CampaignStatus::Cancelled, T0 + 7, c.created_at_ms)
    );
    assert_eq!(
        s.campaigns
            .campaigns_with_status(&[CampaignStatus::Cancelled])
            .await
            .unwrap(),
        [cancelled]
    );
    assert!(s
        .campaigns
        .campaigns_with_status(&[CampaignStatus::Running, CampaignStatus::Paused])
        .await
        .unwrap()
        .is_empty());

    let r = s
        .campaigns
        .set_campaign_status(
            CampaignId(999),
            &[CampaignStatus::Running],
            CampaignStatus::Paused,
            T0,
        )
        .await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
}

/// Cursors are replaced whole (per-offset groups, negative offsets, the all-recipients
/// group, done flags); nothing else of the campaign changes.
pub async fn campaign_cursors(s: &Stores) {
    let c = running_campaign(s, 2).await;
    let groups = vec![
        GroupCursor {
            utc_offset_min: Some(-570),
            last_seq: 0,
            done: true,
        },
        GroupCursor {
            utc_offset_min: Some(0),
            last_seq: 41,
            done: false,
        },
        GroupCursor {
            utc_offset_min: Some(345),
            last_seq: 1_000_000,
            done: false,
        },
    ];
    s.campaigns
        .save_cursors(c.id, groups.clone())
        .await
        .unwrap();
    let got = s.campaigns.get_campaign(c.id).await.unwrap().unwrap();
    assert_eq!(
        got,
        CampaignRecord {
            cursors: groups,
            ..c.clone()
        }
    );

    let all = vec![GroupCursor {
        utc_offset_min: None,
        last_seq: u64::from(u32::MAX) + 7,
        done: true,
    }];
    s.campaigns.save_cursors(c.id, all.clone()).await.unwrap();
    assert_eq!(
        s.campaigns
            .get_campaign(c.id)
            .await
            .unwrap()
            .unwrap()
            .cursors,
        all
    );
    s.campaigns.save_cursors(c.id, vec![]).await.unwrap();
    assert!(s
        .campaigns
        .get_campaign(c.id)
        .await
        .unwrap()
        .unwrap()
        .cursors
        .is_empty());
}

fn link(code: &str, campaign: CampaignId, seq: u64, target: &str) -> LinkRecord {
    LinkRecord {
        code: code.into(),
        account: ACCOUNT,
        campaign,
        seq,
        target: target.into(),
        created_at_ms: T0 + seq,
    }
}

/// Links are found by their exact code; a taken code (stored, or twice in one call) is
/// `AlreadyExists` and nothing of that call is stored.
pub async fn links_insert_and_find(s: &Stores) {
    let c = running_campaign(s, 3).await;
    let links = vec![
        link("aB3xY9kQ", c.id, 1, "https://shop.example/sale"),
        link("Zz00aa11", c.id, 2, "https://shop.example/é?q=1&r=ñ#top"),
        link("ab3xy9kq", c.id, 2, "http://other.example/"),
    ];
    s.campaigns.insert_links(links.clone()).await.unwrap();
    for l in &links {
        assert_eq!(
            s.campaigns.find_link(&l.code).await.unwrap().as_ref(),
            Some(l)
        );
    }
    assert_eq!(s.campaigns.find_link("nothere1").await.unwrap(), None);
    assert_eq!(s.campaigns.find_link("").await.unwrap(), None);

    let r = s
        .campaigns
        .insert_links(vec![
            link("fresh001", c.id, 3, "https://a.example/"),
            link("Zz00aa11", c.id, 3, "https://evil.example/"),
        ])
        .await;
    assert!(matches!(r, Err(StoreError::AlreadyExists { .. })), "{r:?}");
    assert_eq!(s.campaigns.find_link("fresh001").await.unwrap(), None);
    assert_eq!(
        s.campaigns.find_link("Zz00aa11").await.unwrap().as_ref(),
        Some(&links[1])
    );
    let r = s
        .campaigns
        .insert_links(vec![
            link("twice001", c.id, 3, "https://a.example/"),
            link("twice001", c.id, 3, "https://b.example/"),
        ])
        .await;
    assert!(matches!(r, Err(StoreError::AlreadyExists { .. })), "{r:?}");
    assert_eq!(s.campaigns.find_link("twice001").await.unwrap(), None);
    s.campaigns
        .insert_links(vec![link("fresh001", c.id, 3, "https://a.example/")])
        .await
        .unwrap();
    assert!(s.campaigns.find_link("fresh001").await.unwrap().is_some());
}

/// Totals count every click and the distinct recipients; per-recipient counts come by
/// `seq`, paged, only for recipients who clicked, per campaign.
pub async fn clicks_and_totals(s: &Stores) {
    let a = running_campaign(s, 10).await;
    let b = running_campaign(s, 10).await;
    s.campaigns
        .insert_links(vec![
            link("a2xxxxxx", a.id, 2, "https://x.example/1"),
            link("a2yyyyyy", a.id, 2, "https://x.example/2"),
            link("a5xxxxxx", a.id, 5, "https://x.example/1"),
            link("a9xxxxxx", a.id, 9, "https://x.example/1"),
            link("b2xxxxxx", b.id, 2, "https://x.example/1"),
        ])
        .await
        .unwrap();
    assert_eq!(
        s.campaigns.click_totals(a.id).await.unwrap(),
        ClickTotals::default()
    );
    let click =
        |code: &str, campaign: CampaignId, seq: u64, at: u64, ua: Option<&str>| ClickRecord {
            code: code.into(),
            campaign,
            seq,
            at_ms: T0 + at,
            user_agent: ua.map(Into::into),
        };
    let clicks = vec![
        click(
            "a2xxxxxx",
            a.id,
            2,
            1,
            Some("Mozilla/5.0 (Linux; Android 14) 😀"),
        ),
        click("a9xxxxxx", a.id, 9, 2, None),
        click("a2yyyyyy", a.id, 2, 3, None),
        click("b2xxxxxx", b.id, 2, 4, Some("curl/8.5")),
        click("a5xxxxxx", a.id, 5, 5, Some("")),
        click("a2xxxxxx", a.id, 2, 6, Some("Mozilla/5.0")),
        click("a9xxxxxx", a.id, 9, 7, None),
    ];
    for c in clicks {
        s.campaigns.record_click(c).await.unwrap();
    }
    assert_eq!(
        s.campaigns.click_totals(a.id).await.unwrap(),
        ClickTotals {
            clicks: 6,
            unique_recipients: 3
        }
    );
    assert_eq!(
        s.campaigns.click_totals(b.id).await.unwrap(),
        ClickTotals {
            clicks: 1,
            unique_recipients: 1
        }
    );
    assert_eq!(
        s.campaigns.click_totals(CampaignId(999)).await.unwrap(),
        ClickTotals::default()
    );
    assert_eq!(
        s.campaigns.clicks_by_recipient(a.id, 0, 2).await.unwrap(),
        [(2, 3), (5, 1)]
    );
    assert_eq!(
        s.campaigns.clicks_by_recipient(a.id, 5, 2).await.unwrap(),
        [(9, 2)]
    );
    assert_eq!(
        s.campaigns.clicks_by_recipient(a.id, 2, 10).await.unwrap(),
        [(5, 1), (9, 2)]
    );
    assert!(s
        .campaigns
        .clicks_by_recipient(a.id, 9, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.campaigns.clicks_by_recipient(b.id, 0, 10).await.unwrap(),
        [(2, 1)]
    );
}

/// A campaign reference is unique among messages: taken by a stored message or earlier in
/// the same batch, it is `Duplicate` with the first message and nothing is stored; `get`
/// returns the reference.
pub async fn campaign_message_references(s: &Stores) {
    let a = running_campaign(s, 5).await;
    let b = running_campaign(s, 5).await;
    insert_ok(
        s,
        vec![
            tagged(1, a.id, 1),
            tagged(2, a.id, 2),
            message(3, 1),
            tagged(4, a.id, 3),
        ],
    )
    .await;
    let got = s.messages.get(ACCOUNT, id(2)).await.unwrap().unwrap();
    assert_eq!(
        got.campaign,
        Some(CampaignRef {
            campaign: a.id,
            seq: 2
        })
    );
    assert_eq!(
        s.messages
            .get(ACCOUNT, id(3))
            .await
            .unwrap()
            .unwrap()
            .campaign,
        None
    );

    // A runner repeating a page (new ids) after a crash, plus a new recipient, and the same
    // seq in another campaign.
    let out = s
        .messages
        .insert_batch(vec![
            tagged(10, a.id, 2),
            tagged(11, a.id, 4),
            tagged(12, a.id, 4),
            tagged(13, b.id, 2),
            tagged(14, a.id, 1),
        ])
        .await
        .unwrap();
    assert_eq!(
        out,
        [
            InsertOutcome::Duplicate { existing: id(2) },
            InsertOutcome::Inserted,
            InsertOutcome::Duplicate { existing: id(11) },
            InsertOutcome::Inserted,
            InsertOutcome::Duplicate { existing: id(1) },
        ]
    );
    for n in [10, 12, 14] {
        assert_eq!(s.messages.get(ACCOUNT, id(n)).await.unwrap(), None, "{n}");
    }
    assert_eq!(
        s.messages
            .get(ACCOUNT, id(13))
            .await
            .unwrap()
            .unwrap()
            .campaign,
        Some(CampaignRef {
            campaign: b.id,
            seq: 2
        })
    );
    let outbox: Vec<_> = s
        .messages
        .pending_outbox(None, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.message.id)
        .collect();
    assert_eq!(outbox, [id(1), id(2), id(3), id(4), id(11), id(13)]);
    assert_eq!(
        s.campaigns
            .campaign_messages(a.id, 0, 100)
            .await
            .unwrap()
            .iter()
            .map(|m| (m.seq, m.id))
            .collect::<Vec<_>>(),
        [(1, id(1)), (2, id(2)), (3, id(4)), (4, id(11))]
    );
}

/// `campaign_messages` pages by `seq` over one campaign's messages and reports the status,
/// segments, error code, and the times of the first `submitted` event and of the event that
/// set the current final status.
pub async fn campaign_messages_report(s: &Stores) {
    let c = running_campaign(s, 10).await;
    let other = running_campaign(s, 10).await;
    // Ids in another order than seqs: the report is by seq.
    let mut two_parts = tagged(1, c.id, 4);
    two_parts.segments = 2;
    let mut expiring = tagged(2, c.id, 5);
    expiring.expires_at_ms = T0 + 40_000;
    let mut suppressed = tagged(6, c.id, 6);
    suppressed.status = MessageStatus::Suppressed;
    insert_ok(
        s,
        vec![
            tagged(5, c.id, 1),
            tagged(4, c.id, 2),
            tagged(3, c.id, 3),
            two_parts,
            expiring,
            suppressed,
            tagged(7, other.id, 1),
            message(8, 1),
        ],
    )
    .await;
    // seq 1 (id 5): submitted at +1000, delivered at +2000.
    // seq 2 (id 4): failed at submission (+1500) with an error code.
    // seq 3 (id 3): submitted only.
    // seq 4 (id 1): one part of two submitted: still accepted.
    // seq 5 (id 2): submitted, expired at +50000, then delivered late at +60000.
    let error = ErrorInfo {
        code: "smpp_invalid_dest_addr".into(),
        message: "ESME_RINVDSTADR (0x0000000B)".into(),
    };
    let out = s
        .messages
        .record_submit_results(vec![
            accepted("c5", 5, 0),
            SubmitResult {
                at_ms: T0 + 1_500,
                outcome: SubmitOutcomeRecord::Failed {
                    error: error.clone(),
                },
                ..accepted("", 4, 0)
            },
            accepted("c3", 3, 0),
            accepted("c1", 1, 0),
            accepted("c2", 2, 0),
            accepted("c7", 7, 0),
        ])
        .await
        .unwrap();
    assert!(
        out.iter()
            .all(|o| matches!(o, UpdateOutcome::Changed { .. })),
        "{out:?}"
    );
    s.messages
        .record_receipts(vec![receipt(Some("c5"), None, MessageState::Delivered)])
        .await
        .unwrap();
    let expired = s
        .messages
        .expire_overdue(T0 + 40_000, T0 + 50_000, 10)
        .await
        .unwrap();
    assert_eq!(expired, [id(2)]);
    let mut late = receipt(Some("c2"), None, MessageState::Delivered);
    late.at_ms = T0 + 60_000;
    s.messages.record_receipts(vec![late]).await.unwrap();

    let row = |seq: u64,
               n: u64,
               status: MessageStatus,
               segments: u8,
               error_code: Option<&str>,
               submitted: Option<u64>,
               finished: Option<u64>| CampaignMessage {
        seq,
        id: id(n),
        to: number(n),
        status,
        segments,
        error_code: error_code.map(Into::into),
        created_at_ms: T0 + n,
        submitted_at_ms: submitted.map(|t| T0 + t),
        finished_at_ms: finished.map(|t| T0 + t),
    };
    let expected = [
        row(
            1,
            5,
            MessageStatus::Delivered,
            1,
            None,
            Some(1_000),
            Some(2_000),
        ),
        row(
            2,
            4,
            MessageStatus::Failed,
            1,
            Some("smpp_invalid_dest_addr"),
            None,
            Some(1_500),
        ),
        row(3, 3, MessageStatus::Submitted, 1, None, Some(1_000), None),
        row(4, 1, MessageStatus::Accepted, 2, None, None, None),
        row(
            5,
            2,
            MessageStatus::Delivered,
            1,
            None,
            Some(1_000),
            Some(60_000),
        ),
        row(6, 6, MessageStatus::Suppressed, 1, None, None, Some(6)),
    ];
    let first = s.campaigns.campaign_messages(c.id, 0, 2).await.unwrap();
    assert_eq!(first, expected[..2]);
    let next = s.campaigns.campaign_messages(c.id, 2, 3).await.unwrap();
    assert_eq!(next, expected[2..5]);
    let rest = s.campaigns.campaign_messages(c.id, 5, 3).await.unwrap();
    assert_eq!(rest, expected[5..]);
    assert!(s
        .campaigns
        .campaign_messages(c.id, 6, 3)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.campaigns
            .campaign_messages(other.id, 0, 10)
            .await
            .unwrap(),
        [row(
            1,
            7,
            MessageStatus::Submitted,
            1,
            None,
            Some(1_000),
            None
        )]
    );
    assert!(s
        .campaigns
        .campaign_messages(CampaignId(999), 0, 10)
        .await
        .unwrap()
        .is_empty());
}
