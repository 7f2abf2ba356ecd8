//! The conformance suite: every backend runs these, through [`crate::conformance_tests!`].
//!
//! Each test is a `pub async fn(&Stores)` on a fresh, empty backend. A backend's test file
//! writes a factory returning a [`Fixture`] (the stores plus whatever must live as long as
//! they do, such as a temporary directory) and mounts the whole suite:
//!
//! ```ignore
//! async fn fixture() -> tuma_store::conformance::Fixture { /* open a fresh backend */ }
//! tuma_store::conformance_tests!(fixture);
//! ```
//!
//! Tests panic on failure (they are tests); this module is compiled only for tests and with
//! the `conformance` feature.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::any::Any;

use smpp::MessageState;
use sms_text::Encoding;
use tuma_domain::{
    ConnectorId, MessageId, MessageStatus, Msisdn, MultipartPolicy, SegmentStatus, SenderId,
};

use crate::ports::Stores;
use crate::records::{
    AccountId, AccountSettings, ApiKeyHash, ErrorInfo, Idempotency, InboundRecord, InsertOutcome,
    NewMessageRecord, ReceiptUpdate, SubmitOutcomeRecord, SubmitResult, UpdateOutcome,
    WebhookAttempt, WebhookAttemptResult, WebhookEvent, WebhookState,
};
use crate::StoreError;

/// A fresh backend for one test, and what must outlive it.
pub struct Fixture {
    /// The backend's stores.
    pub stores: Stores,
    _guard: Option<Box<dyn Any + Send>>,
}

impl Fixture {
    /// Stores that need nothing else alive.
    pub fn new(stores: Stores) -> Self {
        Self {
            stores,
            _guard: None,
        }
    }

    /// Stores that need `guard` (e.g. a `TempDir`) alive; it is dropped after them.
    pub fn with_guard(stores: Stores, guard: impl Any + Send) -> Self {
        Self {
            stores,
            _guard: Some(Box::new(guard)),
        }
    }
}

/// What a backend's factory returns: a [`Fixture`], or `Option<Fixture>` where `None` skips
/// the test (a backend that needs an external server which is not configured).
pub trait IntoFixture {
    /// The fixture, or `None` to skip.
    fn into_fixture(self) -> Option<Fixture>;
}

impl IntoFixture for Fixture {
    fn into_fixture(self) -> Option<Fixture> {
        Some(self)
    }
}

impl IntoFixture for Option<Fixture> {
    fn into_fixture(self) -> Option<Fixture> {
        self
    }
}

/// Mounts every conformance test as a `#[tokio::test]` for the backend made by `$factory`
/// (an `async fn() -> Fixture`, or `-> Option<Fixture>` to allow skipping). The using crate
/// needs `tokio` with `macros` and `rt`.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:path) => {
        $crate::conformance_tests!(@each $factory, conformance;
            insert_and_get,
            idempotency,
            invalid_and_taken_ids,
            outbox_recovery,
            scheduled_release,
            submit_results,
            retry_and_permanent_failure,
            receipt_hex_and_decimal_ids,
            receipt_before_submit_is_parked,
            receipts_are_per_connector,
            repeated_and_contradicting_receipts,
            multipart_policies,
            expiry,
            drop_parked,
            webhook_queue,
            suppression,
            inbound,
            inbound_webhooks,
            get_inbound,
            accounts_and_keys,
            account_settings,
            concurrent_inserts,
        );
        $crate::conformance_tests!(@each $factory, conformance_campaigns;
            list_lifecycle,
            list_listing,
            recipients_paging_and_offsets,
            recipient_seq_taken,
            unknown_list,
            recipient_values_round_trip,
            campaign_create_and_get,
            campaign_listing,
            campaign_status_compare_and_set,
            campaign_cursors,
            links_insert_and_find,
            clicks_and_totals,
            campaign_message_references,
            campaign_messages_report,
        );
    };
    (@each $factory:path, $module:ident; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                // A factory may return `Option<Fixture>`: `None` skips (no database set up).
                let Some(fixture) =
                    $crate::conformance::IntoFixture::into_fixture($factory().await)
                else {
                    return;
                };
                $crate::$module::$name(&fixture.stores).await;
                drop(fixture);
            }
        )*
    };
}

pub(crate) const T0: u64 = 1_790_000_000_000;
pub(crate) const ACCOUNT: AccountId = AccountId(1);
pub(crate) const OTHER: AccountId = AccountId(2);

/// An id created at `T0 + n` ms, so ids sort like `n`.
pub fn id(n: u64) -> MessageId {
    MessageId::from_u128((u128::from(T0 + n) << 80) | u128::from(n))
}

pub(crate) fn connector(name: &str) -> ConnectorId {
    ConnectorId::parse(name).unwrap()
}

pub(crate) fn number(n: u64) -> Msisdn {
    Msisdn::from_e164(&format!("+2547{:08}", n % 100_000_000)).unwrap()
}

/// A message of `segments` parts to `number(n)` with id `id(n)`, accepted at `T0 + n`.
pub fn message(n: u64, segments: u8) -> NewMessageRecord {
    NewMessageRecord {
        id: id(n),
        account: ACCOUNT,
        to: number(n),
        from: SenderId::parse("MyShop").unwrap(),
        text: format!("message {n}"),
        encoding: Encoding::Gsm7,
        segments,
        status: MessageStatus::Accepted,
        connector: connector("smsc-a"),
        multipart: MultipartPolicy::AllDelivered,
        reference: None,
        callback_url: None,
        idempotency: None,
        campaign: None,
        created_at_ms: T0 + n,
        send_at_ms: None,
        expires_at_ms: T0 + n + 86_400_000,
    }
}

pub(crate) fn accepted(smsc_id: &str, n: u64, segment: u8) -> SubmitResult {
    SubmitResult {
        message: id(n),
        segment,
        connector: connector("smsc-a"),
        at_ms: T0 + 1_000,
        outcome: SubmitOutcomeRecord::Accepted {
            smsc_id: smsc_id.into(),
        },
    }
}

pub(crate) fn receipt(
    protocol: Option<&str>,
    text: Option<&str>,
    state: MessageState,
) -> ReceiptUpdate {
    ReceiptUpdate {
        connector: connector("smsc-a"),
        protocol_id: protocol.map(Into::into),
        text_id: text.map(Into::into),
        state,
        detail: Some(format!("stat:{state:?}")),
        error: None,
        at_ms: T0 + 2_000,
    }
}

pub(crate) async fn insert_ok(s: &Stores, batch: Vec<NewMessageRecord>) {
    let n = batch.len();
    let out = s.messages.insert_batch(batch).await.unwrap();
    assert_eq!(out, vec![InsertOutcome::Inserted; n]);
}

async fn status_of(s: &Stores, n: u64) -> (MessageStatus, Vec<SegmentStatus>) {
    let m = s.messages.get(ACCOUNT, id(n)).await.unwrap().unwrap();
    (m.status, m.segments.iter().map(|g| g.status).collect())
}

async fn outbox_ids(s: &Stores) -> Vec<MessageId> {
    s.messages
        .pending_outbox(None, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.message.id)
        .collect()
}

/// Every field survives the round trip; another account cannot see the message.
pub async fn insert_and_get(s: &Stores) {
    let mut a = message(1, 3);
    a.from = SenderId::parse("22384").unwrap();
    a.encoding = Encoding::Ucs2;
    a.text = "Habari 😀 ✓".into();
    a.multipart = MultipartPolicy::FirstPart;
    a.reference = Some("order-77".into());
    a.callback_url = Some("https://example.com/hook".into());
    a.idempotency = Some(Idempotency {
        key: "k-1".into(),
        body_hash: [7; 32],
    });
    let mut b = message(2, 1);
    b.from = SenderId::parse("+254700000001").unwrap();
    b.status = MessageStatus::Scheduled;
    b.send_at_ms = Some(T0 + 3_600_000);
    insert_ok(s, vec![a.clone(), b.clone()]).await;

    let got = s.messages.get(ACCOUNT, a.id).await.unwrap().unwrap();
    assert_eq!(got.id, a.id);
    assert_eq!(got.account, ACCOUNT);
    assert_eq!(got.to, a.to);
    assert_eq!(got.from, a.from);
    assert_eq!(got.text, a.text);
    assert_eq!(got.encoding, Encoding::Ucs2);
    assert_eq!(got.status, MessageStatus::Accepted);
    assert_eq!(got.connector, a.connector);
    assert_eq!(got.multipart, MultipartPolicy::FirstPart);
    assert_eq!(got.reference.as_deref(), Some("order-77"));
    assert_eq!(got.callback_url, a.callback_url);
    assert_eq!(got.idempotency_key.as_deref(), Some("k-1"));
    assert_eq!(
        (got.created_at_ms, got.send_at_ms, got.expires_at_ms),
        (a.created_at_ms, None, a.expires_at_ms)
    );
    assert_eq!(
        got.segments
            .iter()
            .map(|g| (g.index, g.status, g.smsc_id.clone(), g.failed_attempts))
            .collect::<Vec<_>>(),
        (0..3)
            .map(|i| (i, SegmentStatus::Pending, None, 0))
            .collect::<Vec<_>>()
    );
    assert_eq!(got.events.len(), 1);
    assert_eq!(
        (got.events[0].status, got.events[0].at_ms),
        (MessageStatus::Accepted, a.created_at_ms)
    );
    assert_eq!(got.error, None);

    let got_b = s.messages.get(ACCOUNT, b.id).await.unwrap().unwrap();
    assert_eq!(got_b.from, b.from);
    assert_eq!(
        (got_b.status, got_b.send_at_ms),
        (MessageStatus::Scheduled, Some(T0 + 3_600_000))
    );
    assert_eq!(s.messages.get(OTHER, a.id).await.unwrap(), None);
    assert_eq!(s.messages.get(ACCOUNT, id(99)).await.unwrap(), None);
}

/// The same key and body give the first message; another body is a conflict; keys are per
/// account; a batch sees its own earlier items.
pub async fn idempotency(s: &Stores) {
    let keyed = |n, key: &str, hash: u8, account| {
        let mut m = message(n, 1);
        m.account = account;
        m.idempotency = Some(Idempotency {
            key: key.into(),
            body_hash: [hash; 32],
        });
        m
    };
    insert_ok(s, vec![keyed(1, "k", 1, ACCOUNT)]).await;
    let out = s
        .messages
        .insert_batch(vec![
            keyed(2, "k", 1, ACCOUNT),
            keyed(3, "k", 2, ACCOUNT),
            keyed(4, "k", 1, OTHER),
            keyed(5, "j", 1, ACCOUNT),
            keyed(6, "j", 1, ACCOUNT),
            message(7, 1),
        ])
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            InsertOutcome::Duplicate { existing: id(1) },
            InsertOutcome::IdempotencyConflict { existing: id(1) },
            InsertOutcome::Inserted,
            InsertOutcome::Inserted,
            InsertOutcome::Duplicate { existing: id(5) },
            InsertOutcome::Inserted,
        ]
    );
    // Nothing was stored for the duplicates.
    for n in [2, 3, 6] {
        assert_eq!(s.messages.get(ACCOUNT, id(n)).await.unwrap(), None, "{n}");
    }
    assert!(s.messages.get(OTHER, id(4)).await.unwrap().is_some());
    assert_eq!(outbox_ids(s).await, vec![id(1), id(4), id(5), id(7)]);
}

/// Bad records and reused ids are refused per item; the rest of the batch is stored.
pub async fn invalid_and_taken_ids(s: &Stores) {
    insert_ok(s, vec![message(1, 1)]).await;
    let mut delivered = message(3, 1);
    delivered.status = MessageStatus::Delivered;
    let mut unscheduled = message(4, 1);
    unscheduled.status = MessageStatus::Scheduled;
    let out = s
        .messages
        .insert_batch(vec![
            message(1, 2),
            message(2, 0),
            delivered,
            unscheduled,
            message(5, 1),
        ])
        .await
        .unwrap();
    assert_eq!(out[0], InsertOutcome::IdTaken);
    for (i, field) in [(1, "segments"), (2, "status"), (3, "send_at_ms")] {
        assert!(
            matches!(&out[i], InsertOutcome::Invalid { field: f, .. } if *f == field),
            "{i}: {:?}",
            out[i]
        );
    }
    assert_eq!(out[4], InsertOutcome::Inserted);
    // The first message kept its single segment.
    assert_eq!(status_of(s, 1).await.1.len(), 1);
    assert_eq!(outbox_ids(s).await, vec![id(1), id(5)]);
}

/// Recovery reads the outbox in id order, by page and by connector; suppressed and scheduled
/// messages are not in it.
pub async fn outbox_recovery(s: &Stores) {
    let mut batch: Vec<_> = (1..=6).map(|n| message(n, 1)).collect();
    batch[1].connector = connector("smsc-b");
    batch[2].status = MessageStatus::Suppressed;
    batch[3].status = MessageStatus::Scheduled;
    batch[3].send_at_ms = Some(T0 + 60_000);
    // Insert out of id order: recovery must still come back sorted.
    batch.reverse();
    insert_ok(s, batch).await;
    assert_eq!(outbox_ids(s).await, vec![id(1), id(2), id(5), id(6)]);
    let page = s.messages.pending_outbox(None, None, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.message.id).collect::<Vec<_>>(),
        [id(1), id(2)]
    );
    assert_eq!(page[0].due_at_ms, T0 + 1);
    let next = s
        .messages
        .pending_outbox(None, Some(id(2)), 2)
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|e| e.message.id).collect::<Vec<_>>(),
        [id(5), id(6)]
    );
    let b = s
        .messages
        .pending_outbox(Some(&connector("smsc-b")), None, 10)
        .await
        .unwrap();
    assert_eq!(b.iter().map(|e| e.message.id).collect::<Vec<_>>(), [id(2)]);
    assert_eq!(b[0].message.segments.len(), 1);
}

/// Due scheduled messages become accepted (with an event) and join the outbox.
pub async fn scheduled_release(s: &Stores) {
    let sched = |n, at| {
        let mut m = message(n, 1);
        m.status = MessageStatus::Scheduled;
        m.send_at_ms = Some(at);
        m
    };
    insert_ok(
        s,
        vec![
            sched(1, T0 + 50_000),
            sched(2, T0 + 10_000),
            sched(3, T0 + 90_000),
        ],
    )
    .await;
    assert!(s
        .messages
        .due_scheduled(T0 + 5_000, 10)
        .await
        .unwrap()
        .is_empty());
    let due = s.messages.due_scheduled(T0 + 60_000, 10).await.unwrap();
    // Oldest send time first.
    assert_eq!(
        due.iter().map(|e| e.message.id).collect::<Vec<_>>(),
        [id(2), id(1)]
    );
    assert!(due
        .iter()
        .all(|e| e.message.status == MessageStatus::Accepted));
    assert_eq!(due[0].due_at_ms, T0 + 10_000);
    let m = s.messages.get(ACCOUNT, id(2)).await.unwrap().unwrap();
    assert_eq!(
        m.events
            .iter()
            .map(|e| (e.status, e.at_ms))
            .collect::<Vec<_>>(),
        [
            (MessageStatus::Scheduled, T0 + 2),
            (MessageStatus::Accepted, T0 + 60_000)
        ]
    );
    // Released once only.
    assert!(s
        .messages
        .due_scheduled(T0 + 60_000, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(outbox_ids(s).await, vec![id(1), id(2)]);
    let limited = s.messages.due_scheduled(T0 + 100_000, 0).await.unwrap();
    assert!(limited.is_empty());
    assert_eq!(status_of(s, 3).await.0, MessageStatus::Scheduled);
}

/// Responses store SMSC ids; the message is `submitted` when every part is, and leaves the
/// outbox then.
pub async fn submit_results(s: &Stores) {
    insert_ok(s, vec![message(1, 2)]).await;
    let out = s
        .messages
        .record_submit_results(vec![accepted("a1", 1, 0)])
        .await
        .unwrap();
    assert_eq!(
        out,
        [UpdateOutcome::Changed {
            message: id(1),
            segment: 0,
            message_status: None
        }]
    );
    assert_eq!(
        status_of(s, 1).await,
        (
            MessageStatus::Accepted,
            vec![SegmentStatus::Submitted, SegmentStatus::Pending]
        )
    );
    assert_eq!(outbox_ids(s).await, vec![id(1)]);
    let out = s
        .messages
        .record_submit_results(vec![
            accepted("a2", 1, 1),
            accepted("a2", 1, 1),
            accepted("zz", 1, 5),
            accepted("zz", 9, 0),
        ])
        .await
        .unwrap();
    assert_eq!(
        out,
        [
            UpdateOutcome::Changed {
                message: id(1),
                segment: 1,
                message_status: Some(MessageStatus::Submitted)
            },
            UpdateOutcome::Unchanged {
                message: id(1),
                segment: 1
            },
            UpdateOutcome::NotFound,
            UpdateOutcome::NotFound,
        ]
    );
    let m = s.messages.get(ACCOUNT, id(1)).await.unwrap().unwrap();
    assert_eq!(
        m.segments
            .iter()
            .map(|g| g.smsc_id.as_deref())
            .collect::<Vec<_>>(),
        [Some("a1"), Some("a2")]
    );
    assert_eq!(m.status, MessageStatus::Submitted);
    assert_eq!(m.events.last().map(|e| e.at_ms), Some(T0 + 1_000));
    assert!(outbox_ids(s).await.is_empty());
}

/// A temporary error keeps the segment pending with a later due time; a permanent one fails
/// the message with its error and empties the outbox.
pub async fn retry_and_permanent_failure(s: &Stores) {
    insert_ok(s, vec![message(1, 2), message(2, 1)]).await;
    let retry = SubmitResult {
        outcome: SubmitOutcomeRecord::Retry {
            retry_at_ms: T0 + 30_000,
        },
        ..accepted("", 1, 0)
    };
    let out = s
        .messages
        .record_submit_results(vec![retry.clone(), retry])
        .await
        .unwrap();
    assert!(out.iter().all(|o| *o
        == UpdateOutcome::Unchanged {
            message: id(1),
            segment: 0
        }));
    let entry = s.messages.pending_outbox(None, None, 1).await.unwrap();
    assert_eq!(entry[0].due_at_ms, T0 + 30_000);
    assert_eq!(entry[0].message.segments[0].failed_attempts, 2);
    assert_eq!(entry[0].message.segments[0].status, SegmentStatus::Pending);

    let error = ErrorInfo {
        code: "smpp_invalid_dest_addr".into(),
        message: "ESME_RINVDSTADR (0x0000000B)".into(),
    };
    let fail = SubmitResult {
        outcome: SubmitOutcomeRecord::Failed {
            error: error.clone(),
        },
        ..accepted("", 1, 1)
    };
    let out = s.messages.record_submit_results(vec![fail]).await.unwrap();
    assert_eq!(
        out,
        [UpdateOutcome::Changed {
            message: id(1),
            segment: 1,
            message_status: Some(MessageStatus::Failed)
        }]
    );
    let m = s.messages.get(ACCOUNT, id(1)).await.unwrap().unwrap();
    assert_eq!(m.status, MessageStatus::Failed);
    assert_eq!(m.error, Some(error.clone()));
    let last = m.events.last().unwrap();
    assert_eq!(
        (last.status, last.detail.as_deref()),
        (MessageStatus::Failed, Some(error.message.as_str()))
    );
    // A failed message is not sent any more, even with a part still pending.
    assert_eq!(outbox_ids(s).await, vec![id(2)]);
    // A late success for the failed part is ignored.
    let out = s
        .messages
        .record_submit_results(vec![accepted("late", 1, 1)])
        .await
        .unwrap();
    assert_eq!(
        out,
        [UpdateOutcome::Ignored {
            message: id(1),
            segment: 1,
            kept: SegmentStatus::Failed
        }]
    );
}

/// The TLV in hex and the text id in zero-padded decimal both find the segment; case and
/// leading zeros do not matter.
pub async fn receipt_hex_and_decimal_ids(s: &Stores) {
    insert_ok(s, vec![message(1, 1), message(2, 1), message(3, 1)]).await;
    s.messages
        .record_submit_results(vec![
            accepted("38601fa", 1, 0),
            accepted("1D305B4C", 2, 0),
            accepted("10", 3, 0),
        ])
        .await
        .unwrap();
    let out = s
        .messages
        .record_receipts(vec![
            // V23: text id in decimal only.
            receipt(None, Some("0059113978"), MessageState::Delivered),
            // V41: TLV in lower case (stored upper case).
            receipt(Some("1d305b4c"), None, MessageState::Undeliverable),
            // "16" is 0x10, but an all-digit protocol id has no numeric key: no match.
            receipt(None, Some("16"), MessageState::Delivered),
            // Leading zeros.
            receipt(Some("0010"), Some("0010"), MessageState::Delivered),
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
                segment: 0,
                message_status: Some(MessageStatus::Failed)
            },
            UpdateOutcome::Parked,
            UpdateOutcome::Changed {
                message: id(3),
                segment: 0,
                message_status: Some(MessageStatus::Delivered)
            },
        ]
    );
    let m = s.messages.get(ACCOUNT, id(1)).await.unwrap().unwrap();
    assert_eq!(
        m.events.last().and_then(|e| e.detail.clone()).as_deref(),
        Some("stat:Delivered")
    );
}

/// A receipt that overtakes the stored response is parked, then applied when the response
/// is recorded.
pub async fn receipt_before_submit_is_parked(s: &Stores) {
    insert_ok(s, vec![message(1, 1)]).await;
    let out = s
        .messages
        .record_receipts(vec![receipt(
            Some("16FEE0E525"),
            Some("98765432101"),
            MessageState::Delivered,
        )])
        .await
        .unwrap();
    assert_eq!(out, [UpdateOutcome::Parked]);
    assert_eq!(status_of(s, 1).await.0, MessageStatus::Accepted);
    let out = s
        .messages
        .record_submit_results(vec![accepted("16fee0e525", 1, 0)])
        .await
        .unwrap();
    assert_eq!(
        out,
        [UpdateOutcome::Changed {
            message: id(1),
            segment: 0,
            message_status: Some(MessageStatus::Delivered)
        }]
    );
    let m = s.messages.get(ACCOUNT, id(1)).await.unwrap().unwrap();
    assert_eq!(
        m.events.iter().map(|e| e.status).collect::<Vec<_>>(),
        [
            MessageStatus::Accepted,
            MessageStatus::Submitted,
            MessageStatus::Delivered
        ]
    );
    assert!(outbox_ids(s).await.is_empty());
    // The parked receipt was consumed: nothing left to drop.
    assert_eq!(s.messages.drop_parked_receipts(u64::MAX).await.unwrap(), 0);
}

/// The same SMSC id on another connector is another message.
pub async fn receipts_are_per_connector(s: &Stores) {
    insert_ok(s, vec![message(1, 1)]).await;
    s.messages
        .record_submit_results(vec![accepted("abc1", 1, 0)])
        .await
        .unwrap();
    let mut other = receipt(Some("abc1"), None, MessageState::Delivered);
    other.connector = connector("smsc-b");
    let out = s.messages.record_receipts(vec![other]).await.unwrap();
    assert_eq!(out, [UpdateOutcome::Parked]);
    assert_eq!(status_of(s, 1).await.0, MessageStatus::Submitted);
    // A receipt with no id at all cannot be kept for later either.
    let out = s
        .messages
        .record_receipts(vec![receipt(None, None, MessageState::Delivered)])
        .await
        .unwrap();
    assert_eq!(out, [UpdateOutcome::Parked]);
    assert_eq!(s.messages.drop_parked_receipts(u64::MAX).await.unwrap(), 1);
}

/// Repeats and progress reports change nothing; a contradiction keeps the first outcome; a
/// late delivery corrects an expiry.
pub async fn repeated_and_contradicting_receipts(s: &Stores) {
    let mut m = message(1, 1);
    m.callback_url = Some("https://example.com/h".into());
    insert_ok(s, vec![m]).await;
    s.messages
        .record_submit_results(vec![accepted("c0ffee", 1, 0)])
        .await
        .unwrap();
    let mut fail = receipt(Some("c0ffee"), None, MessageState::Undeliverable);
    fail.error = Some(ErrorInfo {
        code: "undeliverable".into(),
        message: "err:001".into(),
    });
    let out = s
        .messages
        .record_receipts(vec![
            receipt(Some("c0ffee"), None, MessageState::Enroute),
            receipt(Some("c0ffee"), None, MessageState::Delivered),
            receipt(Some("c0ffee"), None, MessageState::Delivered),
            fail,
        ])
        .await
        .unwrap();
    let unchanged = UpdateOutcome::Unchanged {
        message: id(1),
        segment: 0,
    };
    assert_eq!(
        out,
        [
            unchanged.clone(),
            UpdateOutcome::Changed {
                message: id(1),
                segment: 0,
                message_status: Some(MessageStatus::Delivered)
            },
            unchanged,
            UpdateOutcome::Ignored {
                message: id(1),
                segment: 0,
                kept: SegmentStatus::Delivered
            },
        ]
    );
    let got = s.messages.get(ACCOUNT, id(1)).await.unwrap().unwrap();
    assert_eq!(got.error, None);
    assert_eq!(got.events.len(), 3);
    // Exactly one webhook per status change (submitted, delivered).
    let hooks = s
        .webhooks
        .claim_due_webhooks(u64::MAX, 1, 10)
        .await
        .unwrap();
    assert_eq!(
        hooks.iter().map(|h| h.event).collect::<Vec<_>>(),
        [
            WebhookEvent::Status(MessageStatus::Submitted),
            WebhookEvent::Status(MessageStatus::Delivered)
        ]
    );

    // Expired, then a late DELIVRD: delivered.
    insert_ok(s, vec![message(2, 1)]).await;
    s.messages
        .record_submit_results(vec![accepted("beef", 2, 0)])
        .await
        .unwrap();
    let expired = s
        .messages
        .expire_overdue(u64::MAX, T0 + 99_000_000, 10)
        .await
        .unwrap();
    assert_eq!(expired, [id(2)]);
    let out = s
        .messages
        .record_receipts(vec![receipt(Some("beef"), None, MessageState::Delivered)])
        .await
        .unwrap();
    assert_eq!(
        out,
        [UpdateOutcome::Changed {
            message: id(2),
            segment: 0,
            message_status: Some(MessageStatus::Delivered)
        }]
    );
}

/// All-delivered waits for every part; any-delivered finishes with the first; first-part
/// follows part 0.
pub async fn multipart_policies(s: &Stores) {
    let with = |n, policy| {
        let mut m = message(n, 2);
        m.multipart = policy;
        m
    };
    insert_ok(
        s,
        vec![
            with(1, MultipartPolicy::AllDelivered),
            with(2, MultipartPolicy::AnyDelivered),
            with(3, MultipartPolicy::FirstPart),
        ],
    )
    .await;
    let mut subs = Vec::new();
    for n in 1..=3u64 {
        for seg in 0..2u8 {
            subs.push(accepted(&format!("f{n}{seg}"), n, seg));
        }
    }
    s.messages.record_submit_results(subs).await.unwrap();
    let d = |n: u64, seg: u8, state| receipt(Some(&format!("f{n}{seg}")), None, state);
    s.messages
        .record_receipts(vec![
            d(1, 0, MessageState::Delivered),
            d(2, 1, MessageState::Delivered),
            d(3, 1, MessageState::Undeliverable),
        ])
        .await
        .unwrap();
    assert_eq!(status_of(s, 1).await.0, MessageStatus::Submitted);
    assert_eq!(status_of(s, 2).await.0, MessageStatus::Delivered);
    assert_eq!(status_of(s, 3).await.0, MessageStatus::Submitted);
    s.messages
        .record_receipts(vec![
            d(1, 1, MessageState::Delivered),
            d(3, 0, MessageState::Delivered),
        ])
        .await
        .unwrap();
    assert_eq!(
        status_of(s, 1).await,
        (
            MessageStatus::Delivered,
            vec![SegmentStatus::Delivered, SegmentStatus::Delivered]
        )
    );
    assert_eq!(
        status_of(s, 3).await,
        (
            MessageStatus::Delivered,
            vec![SegmentStatus::Delivered, SegmentStatus::Failed]
        )
    );
}

/// Messages past validity + grace expire with their unfinished parts; final ones do not.
pub async fn expiry(s: &Stores) {
    let mut batch: Vec<_> = (1..=4).map(|n| message(n, 2)).collect();
    batch[0].expires_at_ms = T0 + 10_000;
    batch[1].expires_at_ms = T0 + 20_000;
    batch[2].expires_at_ms = T0 + 10_000; // will be delivered first
    batch[3].expires_at_ms = T0 + 90_000;
    insert_ok(s, batch).await;
    s.messages
        .record_submit_results(vec![
            accepted("e10", 1, 0),
            accepted("e30", 3, 0),
            accepted("e31", 3, 1),
        ])
        .await
        .unwrap();
    s.messages
        .record_receipts(vec![
            receipt(Some("e10"), None, MessageState::Delivered),
            receipt(Some("e30"), None, MessageState::Delivered),
            receipt(Some("e31"), None, MessageState::Delivered),
        ])
        .await
        .unwrap();
    let now = T0 + 100_000;
    let out = s
        .messages
        .expire_overdue(T0 + 20_000, now, 10)
        .await
        .unwrap();
    let mut out_sorted = out.clone();
    out_sorted.sort();
    assert_eq!(out_sorted, [id(1), id(2)]);
    assert_eq!(
        status_of(s, 1).await,
        (
            MessageStatus::Expired,
            vec![SegmentStatus::Delivered, SegmentStatus::Expired]
        )
    );
    assert_eq!(status_of(s, 3).await.0, MessageStatus::Delivered);
    assert_eq!(status_of(s, 4).await.0, MessageStatus::Accepted);
    let m = s.messages.get(ACCOUNT, id(2)).await.unwrap().unwrap();
    let last = m.events.last().unwrap();
    assert_eq!((last.status, last.at_ms), (MessageStatus::Expired, now));
    assert_eq!(outbox_ids(s).await, vec![id(4)]);
    // Nothing left to expire at that cutoff.
    assert!(s
        .messages
        .expire_overdue(T0 + 20_000, now, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Old parked receipts are dropped, newer ones kept.
pub async fn drop_parked(s: &Stores) {
    let mut old = receipt(Some("aa1"), None, MessageState::Delivered);
    old.at_ms = T0;
    let mut new = receipt(Some("aa2"), None, MessageState::Delivered);
    new.at_ms = T0 + 10_000;
    s.messages.record_receipts(vec![old, new]).await.unwrap();
    assert_eq!(
        s.messages.drop_parked_receipts(T0 + 5_000).await.unwrap(),
        1
    );
    insert_ok(s, vec![message(1, 1), message(2, 1)]).await;
    s.messages
        .record_submit_results(vec![accepted("aa1", 1, 0), accepted("aa2", 2, 0)])
        .await
        .unwrap();
    assert_eq!(status_of(s, 1).await.0, MessageStatus::Submitted);
    assert_eq!(status_of(s, 2).await.0, MessageStatus::Delivered);
}

/// Status changes of messages with a callback URL are queued, claimed with a lease, retried,
/// given up, and listed as failures.
pub async fn webhook_queue(s: &Stores) {
    let mut hooked = message(1, 1);
    hooked.callback_url = Some("https://example.com/a".into());
    let mut other_account = message(2, 1);
    other_account.account = OTHER;
    other_account.callback_url = Some("https://example.com/b".into());
    insert_ok(s, vec![hooked, other_account, message(3, 1)]).await;
    // Intake itself notifies nobody.
    assert!(s
        .webhooks
        .claim_due_webhooks(u64::MAX, 1, 10)
        .await
        .unwrap()
        .is_empty());
    s.messages
        .record_submit_results(vec![
            accepted("w1", 1, 0),
            SubmitResult {
                at_ms: T0 + 1_500,
                ..accepted("w2", 2, 0)
            },
            accepted("w3", 3, 0),
        ])
        .await
        .unwrap();
    let now = T0 + 5_000;
    let claimed = s
        .webhooks
        .claim_due_webhooks(now, 30_000, 10)
        .await
        .unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|w| (
                w.message,
                w.url.as_str(),
                w.event,
                w.status_at_ms,
                w.attempts
            ))
            .collect::<Vec<_>>(),
        [
            (
                id(1),
                "https://example.com/a",
                WebhookEvent::Status(MessageStatus::Submitted),
                T0 + 1_000,
                0
            ),
            (
                id(2),
                "https://example.com/b",
                WebhookEvent::Status(MessageStatus::Submitted),
                T0 + 1_500,
                0
            ),
        ]
    );
    assert_eq!(claimed[0].next_at_ms, now + 30_000);
    assert_eq!(claimed[1].account, OTHER);
    // Claimed: not handed out again before the lease ends, handed out after.
    assert!(s
        .webhooks
        .claim_due_webhooks(now + 1, 30_000, 10)
        .await
        .unwrap()
        .is_empty());
    let again = s
        .webhooks
        .claim_due_webhooks(now + 30_000, 30_000, 1)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, claimed[0].id);

    s.webhooks
        .record_webhook_attempts(vec![
            WebhookAttempt {
                id: claimed[0].id,
                result: WebhookAttemptResult::Retry {
                    next_at_ms: now + 60_000,
                    error: "HTTP 503".into(),
                },
            },
            WebhookAttempt {
                id: claimed[1].id,
                result: WebhookAttemptResult::Delivered,
            },
        ])
        .await
        .unwrap();
    let failures = s.webhooks.webhook_failures(ACCOUNT, 10).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        (
            failures[0].attempts,
            failures[0].last_error.as_deref(),
            failures[0].state
        ),
        (1, Some("HTTP 503"), WebhookState::Pending)
    );
    assert!(s
        .webhooks
        .webhook_failures(OTHER, 10)
        .await
        .unwrap()
        .is_empty());
    let retry = s
        .webhooks
        .claim_due_webhooks(now + 60_000, 30_000, 10)
        .await
        .unwrap();
    assert_eq!(
        retry.iter().map(|w| w.id).collect::<Vec<_>>(),
        [claimed[0].id]
    );
    s.webhooks
        .record_webhook_attempts(vec![WebhookAttempt {
            id: claimed[0].id,
            result: WebhookAttemptResult::GiveUp {
                error: "HTTP 410".into(),
            },
        }])
        .await
        .unwrap();
    let failures = s.webhooks.webhook_failures(ACCOUNT, 10).await.unwrap();
    assert_eq!(
        (
            failures[0].attempts,
            failures[0].last_error.as_deref(),
            failures[0].state
        ),
        (2, Some("HTTP 410"), WebhookState::Failed)
    );
    // Given up: never claimed again.
    assert!(s
        .webhooks
        .claim_due_webhooks(u64::MAX, 1, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Suppression lists are per account; suppress and unsuppress report whether they changed
/// anything.
pub async fn suppression(s: &Stores) {
    let (a, b, c) = (number(1), number(2), number(3));
    assert!(s
        .suppression
        .suppress(ACCOUNT, a, "STOP", T0)
        .await
        .unwrap());
    assert!(!s
        .suppression
        .suppress(ACCOUNT, a, "STOP", T0)
        .await
        .unwrap());
    assert!(s.suppression.suppress(ACCOUNT, c, "api", T0).await.unwrap());
    assert!(s.suppression.suppress(OTHER, b, "STOP", T0).await.unwrap());
    assert_eq!(
        s.suppression
            .suppressed_among(ACCOUNT, &[c, b, a, a])
            .await
            .unwrap(),
        [c, a, a]
    );
    assert!(s.suppression.unsuppress(ACCOUNT, a).await.unwrap());
    assert!(!s.suppression.unsuppress(ACCOUNT, a).await.unwrap());
    assert_eq!(
        s.suppression
            .suppressed_among(ACCOUNT, &[a, b, c])
            .await
            .unwrap(),
        [c]
    );
    assert_eq!(
        s.suppression
            .suppressed_among(OTHER, &[a, b, c])
            .await
            .unwrap(),
        [b]
    );
}

/// Replies are stored once and listed newest first, per account, by page.
pub async fn inbound(s: &Stores) {
    let mo = |n: u64, account| InboundRecord {
        id: id(n),
        account,
        from: number(n),
        to: "22384".into(),
        text: format!("reply {n} ✓"),
        connector: connector("smsc-a"),
        received_at_ms: T0 + n,
        webhook_url: None,
    };
    let batch = vec![mo(1, ACCOUNT), mo(2, OTHER), mo(3, ACCOUNT), mo(4, ACCOUNT)];
    assert_eq!(s.inbound.insert_inbound(batch.clone()).await.unwrap(), 4);
    // A redelivered deliver_sm is not stored twice.
    assert_eq!(
        s.inbound
            .insert_inbound(vec![mo(3, ACCOUNT), mo(5, ACCOUNT)])
            .await
            .unwrap(),
        1
    );
    let page = s.inbound.list_inbound(ACCOUNT, None, 2).await.unwrap();
    assert_eq!(page, [mo(5, ACCOUNT), mo(4, ACCOUNT)]);
    let next = s
        .inbound
        .list_inbound(ACCOUNT, Some(id(4)), 10)
        .await
        .unwrap();
    assert_eq!(next, [mo(3, ACCOUNT), mo(1, ACCOUNT)]);
    assert_eq!(
        s.inbound.list_inbound(OTHER, None, 10).await.unwrap(),
        [mo(2, OTHER)]
    );
}

fn reply(n: u64, account: AccountId, webhook_url: Option<&str>) -> InboundRecord {
    InboundRecord {
        id: id(n),
        account,
        from: number(n),
        to: "22384".into(),
        text: format!("reply {n}"),
        connector: connector("smsc-a"),
        received_at_ms: T0 + n,
        webhook_url: webhook_url.map(Into::into),
    }
}

/// A stored reply with a `webhook_url` queues one `Inbound` delivery, due when it arrived;
/// one without a URL queues none, and a redelivered reply queues nothing again.
pub async fn inbound_webhooks(s: &Stores) {
    let url = "https://example.com/mo";
    let first = vec![
        reply(10, ACCOUNT, Some(url)),
        reply(20, OTHER, None),
        reply(30, OTHER, Some("https://example.com/other")),
    ];
    assert_eq!(s.inbound.insert_inbound(first).await.unwrap(), 3);
    // Due at the reply's arrival, not before.
    assert!(s
        .webhooks
        .claim_due_webhooks(T0 + 9, 1, 10)
        .await
        .unwrap()
        .is_empty());
    let lease = 60_000;
    let claimed = s
        .webhooks
        .claim_due_webhooks(T0 + 10, lease, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    let hook = &claimed[0];
    assert_eq!(
        (
            hook.account,
            hook.message,
            hook.url.as_str(),
            hook.event,
            hook.status_at_ms,
            hook.attempts,
            hook.next_at_ms,
            hook.state,
        ),
        (
            ACCOUNT,
            id(10),
            url,
            WebhookEvent::Inbound,
            T0 + 10,
            0,
            T0 + 10 + lease,
            WebhookState::Pending,
        )
    );

    // id(10) again (a redelivered deliver_sm) and a new reply: only the new one is stored
    // and announced.
    assert_eq!(
        s.inbound
            .insert_inbound(vec![
                reply(10, ACCOUNT, Some(url)),
                reply(40, ACCOUNT, Some(url))
            ])
            .await
            .unwrap(),
        1
    );
    // Long after every lease: each stored reply with a URL has exactly one delivery.
    let all = s
        .webhooks
        .claim_due_webhooks(T0 + 10_000_000, lease, 100)
        .await
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|w| (w.message, w.event, w.account))
            .collect::<Vec<_>>(),
        [
            (id(10), WebhookEvent::Inbound, ACCOUNT),
            (id(30), WebhookEvent::Inbound, OTHER),
            (id(40), WebhookEvent::Inbound, ACCOUNT),
        ]
    );
    assert_eq!(all[0].id, hook.id);
}

/// One reply by id, only for its own account; its webhook URL is kept.
pub async fn get_inbound(s: &Stores) {
    let mine = reply(1, ACCOUNT, Some("https://example.com/mo"));
    let theirs = reply(2, OTHER, None);
    assert_eq!(
        s.inbound
            .insert_inbound(vec![mine.clone(), theirs.clone()])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.inbound.get_inbound(ACCOUNT, id(1)).await.unwrap(),
        Some(mine)
    );
    assert_eq!(
        s.inbound.get_inbound(OTHER, id(2)).await.unwrap(),
        Some(theirs)
    );
    assert_eq!(s.inbound.get_inbound(OTHER, id(1)).await.unwrap(), None);
    assert_eq!(s.inbound.get_inbound(ACCOUNT, id(2)).await.unwrap(), None);
    assert_eq!(s.inbound.get_inbound(ACCOUNT, id(3)).await.unwrap(), None);
}

/// Settings start empty, are replaced whole and read back everywhere; an unknown account
/// is `NotFound`.
pub async fn account_settings(s: &Stores) {
    let a = s.accounts.create_account("acme", T0).await.unwrap();
    let b = s.accounts.create_account("globex", T0 + 1).await.unwrap();
    assert_eq!(a.settings, AccountSettings::default());
    let both = AccountSettings {
        callback_url: Some("https://acme.example/status".into()),
        mo_url: Some("https://acme.example/mo".into()),
    };
    let updated = s
        .accounts
        .update_account_settings(a.id, both.clone())
        .await
        .unwrap();
    assert_eq!(
        (updated.id, updated.name.as_str(), updated.created_at_ms),
        (a.id, "acme", T0)
    );
    assert_eq!(updated.settings, both);
    assert_eq!(
        s.accounts.get_account(a.id).await.unwrap(),
        Some(updated.clone())
    );
    // The other account is untouched.
    assert_eq!(s.accounts.get_account(b.id).await.unwrap(), Some(b.clone()));
    // Replaced whole: a missing URL clears the stored one.
    let mo_only = AccountSettings {
        callback_url: None,
        mo_url: Some("https://acme.example/mo2".into()),
    };
    let again = s
        .accounts
        .update_account_settings(a.id, mo_only.clone())
        .await
        .unwrap();
    assert_eq!(again.settings, mo_only);
    assert_eq!(
        s.accounts.list_accounts().await.unwrap(),
        [again.clone(), b.clone()]
    );
    assert_eq!(
        s.accounts
            .update_account_settings(AccountId(999), both)
            .await,
        Err(StoreError::NotFound {
            what: "account",
            value: "999".into()
        })
    );
    assert_eq!(s.accounts.get_account(AccountId(999)).await.unwrap(), None);
}

/// Accounts have unique names; keys are found by hash until revoked.
pub async fn accounts_and_keys(s: &Stores) {
    let a = s.accounts.create_account("acme", T0).await.unwrap();
    let b = s.accounts.create_account("globex", T0 + 1).await.unwrap();
    assert!(b.id > a.id);
    assert_eq!((a.name.as_str(), a.created_at_ms), ("acme", T0));
    assert_eq!(
        s.accounts.create_account("acme", T0).await,
        Err(StoreError::AlreadyExists {
            what: "account",
            value: "acme".into()
        })
    );
    assert_eq!(s.accounts.get_account(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(s.accounts.get_account(AccountId(999)).await.unwrap(), None);
    assert_eq!(
        s.accounts.list_accounts().await.unwrap(),
        [a.clone(), b.clone()]
    );

    let h1 = ApiKeyHash([1; 32]);
    let h2 = ApiKeyHash([2; 32]);
    let k1 = s
        .accounts
        .add_api_key(a.id, "ci", h1, T0 + 5)
        .await
        .unwrap();
    let k2 = s
        .accounts
        .add_api_key(b.id, "shop", h2, T0 + 6)
        .await
        .unwrap();
    assert_ne!(k1.id, k2.id);
    assert_eq!(
        (k1.account, k1.label.as_str(), k1.hash, k1.created_at_ms),
        (a.id, "ci", h1, T0 + 5)
    );
    assert!(matches!(
        s.accounts.add_api_key(b.id, "dup", h1, T0).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        s.accounts
            .add_api_key(AccountId(999), "x", ApiKeyHash([3; 32]), T0)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.accounts.find_api_key(h1).await.unwrap(), Some(k1.clone()));
    assert_eq!(
        s.accounts.find_api_key(ApiKeyHash([9; 32])).await.unwrap(),
        None
    );
    assert!(s.accounts.revoke_api_key(k1.id).await.unwrap());
    assert!(!s.accounts.revoke_api_key(k1.id).await.unwrap());
    assert_eq!(s.accounts.find_api_key(h1).await.unwrap(), None);
    assert_eq!(s.accounts.find_api_key(h2).await.unwrap(), Some(k2));
}

/// Many tasks inserting at once: every acknowledged message is readable and in the outbox
/// (this is what group commit must preserve).
pub async fn concurrent_inserts(s: &Stores) {
    let tasks: Vec<_> = (0..32u64)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..20u64 {
                    let n = t * 1000 + i + 1;
                    let out = s.messages.insert_batch(vec![message(n, 1)]).await.unwrap();
                    assert_eq!(out, [InsertOutcome::Inserted]);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let outbox = outbox_ids(s).await;
    assert_eq!(outbox.len(), 640);
    assert!(outbox.windows(2).all(|w| w[0] < w[1]));
    for t in 0..32u64 {
        assert!(s
            .messages
            .get(ACCOUNT, id(t * 1000 + 20))
            .await
            .unwrap()
            .is_some());
    }
}
