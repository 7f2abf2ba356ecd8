//! The SQL: rows <-> records, the primitive [`WriteTx`] operations, intake and the reads.
//! Everything runs on a [`PgTx`] (one transaction, see `pool`).

use std::collections::{HashMap, HashSet};

use smpp::MessageState;
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;
use tuma_domain::{encoding_name, ConnectorId, MessageId, MessageStatus, SegmentStatus, SenderId};
use tuma_store::apply::{self, LiveMessage, WriteTx};
use tuma_store::campaigns::{CampaignId, CampaignRef};
pub(crate) use tuma_store::columns::{
    connector_from, error_info, id_from, int, message_status, msisdn_from, segment_status, uint,
    webhook_event, webhook_event_name,
};
use tuma_store::records::{encoding_from_name, multipart_from_name, multipart_name};
use tuma_store::{
    AccountId, ErrorInfo, InboundRecord, InsertOutcome, MessageRecord, NewMessageRecord,
    OutboxEntry, ReceiptUpdate, SegmentRecord, StatusEvent, StoreError, WebhookDelivery,
    WebhookEvent, WebhookState,
};

use crate::pool::{Param, PgTx};

/// An owned parameter of a deferred write.
fn p<T: tokio_postgres::types::ToSql + Sync + Send + 'static>(v: T) -> Param {
    Box::new(v)
}

/// A `LIMIT` value.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn id_bytes(id: MessageId) -> Vec<u8> {
    id.to_bytes().to_vec()
}

/// Column `idx` of `row`, or which column could not be read.
pub(crate) fn get<'r, T: FromSql<'r>>(
    row: &'r Row,
    idx: usize,
    what: &'static str,
) -> Result<T, StoreError> {
    row.try_get(idx).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

fn small(v: i32, what: &'static str) -> Result<u8, StoreError> {
    u8::try_from(v).map_err(|_| StoreError::Corrupt {
        what,
        detail: format!("{v} is not in 0..=255"),
    })
}

/// A campaign reference stored as `(campaign_id, campaign_seq)`.
pub(crate) fn campaign_ref(campaign: i64, seq: i64) -> Result<CampaignRef, StoreError> {
    Ok(CampaignRef {
        campaign: CampaignId(uint(campaign, "messages.campaign_id")?),
        seq: uint(seq, "messages.campaign_seq")?,
    })
}

fn multipart(name: &str) -> Result<tuma_domain::MultipartPolicy, StoreError> {
    multipart_from_name(name).ok_or_else(|| StoreError::Corrupt {
        what: "messages.multipart",
        detail: format!("unknown policy {name:?}"),
    })
}

// ---------------------------------------------------------------------------------------------
// Intake

/// (account, idempotency key) -> (message id, body hash): stored and earlier in the batch.
type Keyed = HashMap<(i64, String), (MessageId, Option<Vec<u8>>)>;

/// Campaign reference -> the message that has it: stored and earlier in the batch.
type Referenced = HashMap<CampaignRef, MessageId>;

/// Where a message of the batch stands while the batch is resolved.
enum Plan {
    Done(InsertOutcome),
    Insert,
}

/// Inserts a batch with one multi-row statement per table (UNNEST of arrays): one round
/// trip for the messages and one for the outbox, whatever the batch size.
///
/// Outcomes are decided first from what is stored (one lookup of the batch's idempotency
/// keys, one of its campaign references, one of its ids) and from the batch's own earlier
/// items, in order, as the port requires: idempotency key first, then campaign reference
/// (a runner repeating a page gets `Duplicate` with the first message), then id. The insert then says `ON CONFLICT DO NOTHING`: a row another node inserted
/// meanwhile is simply not returned, and that message's outcome is decided again from the
/// now-committed row.
pub(crate) fn insert_batch(
    tx: &mut PgTx<'_, '_>,
    batch: &[NewMessageRecord],
) -> Result<Vec<InsertOutcome>, StoreError> {
    let mut plans: Vec<Plan> = batch
        .iter()
        .map(|m| match apply::validate_new(m) {
            Ok(()) => Plan::Insert,
            Err(invalid) => Plan::Done(invalid),
        })
        .collect();

    // What is stored already.
    let (accounts, keys): (Vec<i64>, Vec<&str>) = batch
        .iter()
        .zip(&plans)
        .filter(|(_, p)| matches!(p, Plan::Insert))
        .filter_map(|(m, _)| {
            m.idempotency
                .as_ref()
                .map(|i| (int(m.account.0), i.key.as_str()))
        })
        .unzip();
    let mut keyed: Keyed = HashMap::new();
    if !keys.is_empty() {
        for row in tx.query(
            "idempotency lookup",
            "SELECT m.account_id, m.idem_key, m.id, m.idem_hash FROM messages m \
             JOIN UNNEST($1::int8[], $2::text[]) AS k(account_id, idem_key) \
             ON m.account_id = k.account_id AND m.idem_key = k.idem_key",
            &[&accounts, &keys],
        )? {
            let id: Vec<u8> = get(&row, 2, "messages.id")?;
            keyed.insert(
                (
                    get(&row, 0, "messages.account_id")?,
                    get(&row, 1, "messages.idem_key")?,
                ),
                (
                    id_from(&id, "messages.id")?,
                    get(&row, 3, "messages.idem_hash")?,
                ),
            );
        }
    }
    let (campaigns, seqs): (Vec<i64>, Vec<i64>) = batch
        .iter()
        .zip(&plans)
        .filter(|(_, p)| matches!(p, Plan::Insert))
        .filter_map(|(m, _)| m.campaign.map(|c| (int(c.campaign.0), int(c.seq))))
        .unzip();
    let mut referenced: Referenced = HashMap::new();
    if !campaigns.is_empty() {
        for row in tx.query(
            "campaign reference lookup",
            "SELECT m.campaign_id, m.campaign_seq, m.id FROM messages m \
             JOIN UNNEST($1::int8[], $2::int8[]) AS k(campaign_id, campaign_seq) \
             ON m.campaign_id = k.campaign_id AND m.campaign_seq = k.campaign_seq",
            &[&campaigns, &seqs],
        )? {
            let id: Vec<u8> = get(&row, 2, "messages.id")?;
            referenced.insert(
                campaign_ref(
                    get(&row, 0, "messages.campaign_id")?,
                    get(&row, 1, "messages.campaign_seq")?,
                )?,
                id_from(&id, "messages.id")?,
            );
        }
    }
    let ids: Vec<Vec<u8>> = batch.iter().map(|m| id_bytes(m.id)).collect();
    let mut taken: HashSet<Vec<u8>> = HashSet::new();
    for row in tx.query(
        "id lookup",
        "SELECT id FROM messages WHERE id = ANY($1::bytea[])",
        &[&ids],
    )? {
        taken.insert(get(&row, 0, "messages.id")?);
    }

    // Decide in order; later items see earlier ones.
    for ((m, plan), id) in batch.iter().zip(plans.iter_mut()).zip(&ids) {
        if matches!(plan, Plan::Done(_)) {
            continue;
        }
        if let Some(idem) = &m.idempotency {
            if let Some((existing, hash)) = keyed.get(&(int(m.account.0), idem.key.clone())) {
                *plan = Plan::Done(if hash.as_deref() == Some(&idem.body_hash[..]) {
                    InsertOutcome::Duplicate {
                        existing: *existing,
                    }
                } else {
                    InsertOutcome::IdempotencyConflict {
                        existing: *existing,
                    }
                });
                continue;
            }
        }
        if let Some(existing) = m.campaign.and_then(|c| referenced.get(&c)) {
            *plan = Plan::Done(InsertOutcome::Duplicate {
                existing: *existing,
            });
            continue;
        }
        if !taken.insert(id.clone()) {
            *plan = Plan::Done(InsertOutcome::IdTaken);
            continue;
        }
        if let Some(idem) = &m.idempotency {
            keyed.insert(
                (int(m.account.0), idem.key.clone()),
                (m.id, Some(idem.body_hash.to_vec())),
            );
        }
        if let Some(c) = m.campaign {
            referenced.insert(c, m.id);
        }
    }

    let new: Vec<&NewMessageRecord> = batch
        .iter()
        .zip(&plans)
        .filter(|(_, p)| matches!(p, Plan::Insert))
        .map(|(m, _)| m)
        .collect();
    let inserted = insert_rows(tx, &new)?;
    insert_outbox(tx, new.iter().copied().filter(|m| inserted.contains(&m.id)))?;

    let mut out = Vec::with_capacity(batch.len());
    for (m, plan) in batch.iter().zip(plans) {
        out.push(match plan {
            Plan::Done(outcome) => outcome,
            Plan::Insert if inserted.contains(&m.id) => InsertOutcome::Inserted,
            Plan::Insert => lost_race(tx, m)?,
        });
    }
    Ok(out)
}

/// The outcome of a message whose insert hit a row committed by another node meanwhile.
fn lost_race(tx: &mut PgTx<'_, '_>, m: &NewMessageRecord) -> Result<InsertOutcome, StoreError> {
    if let Some(idem) = &m.idempotency {
        let rows = tx.query(
            "idempotency lookup",
            "SELECT id, idem_hash FROM messages WHERE account_id = $1 AND idem_key = $2",
            &[&int(m.account.0), &idem.key],
        )?;
        if let Some(row) = rows.first() {
            let id: Vec<u8> = get(row, 0, "messages.id")?;
            let existing = id_from(&id, "messages.id")?;
            let hash: Option<Vec<u8>> = get(row, 1, "messages.idem_hash")?;
            return Ok(if hash.as_deref() == Some(&idem.body_hash[..]) {
                InsertOutcome::Duplicate { existing }
            } else {
                InsertOutcome::IdempotencyConflict { existing }
            });
        }
    }
    if let Some(c) = m.campaign {
        let rows = tx.query(
            "campaign reference lookup",
            "SELECT id FROM messages WHERE campaign_id = $1 AND campaign_seq = $2",
            &[&int(c.campaign.0), &int(c.seq)],
        )?;
        if let Some(row) = rows.first() {
            let id: Vec<u8> = get(row, 0, "messages.id")?;
            return Ok(InsertOutcome::Duplicate {
                existing: id_from(&id, "messages.id")?,
            });
        }
    }
    let rows = tx.query(
        "id lookup",
        "SELECT 1 FROM messages WHERE id = $1",
        &[&id_bytes(m.id)],
    )?;
    if rows.is_empty() {
        // The conflicting row was rolled back after all: run the whole call again.
        tx.retry_later();
        return Err(StoreError::Backend {
            operation: "insert message",
            message: "a concurrent insert conflicted and then vanished".into(),
        });
    }
    Ok(InsertOutcome::IdTaken)
}

/// Inserts the message rows; returns the ids actually inserted.
fn insert_rows(
    tx: &mut PgTx<'_, '_>,
    new: &[&NewMessageRecord],
) -> Result<HashSet<MessageId>, StoreError> {
    if new.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Vec<u8>> = new.iter().map(|m| id_bytes(m.id)).collect();
    let accounts: Vec<i64> = new.iter().map(|m| int(m.account.0)).collect();
    let recipients: Vec<i64> = new.iter().map(|m| int(m.to.as_u64())).collect();
    let senders: Vec<String> = new.iter().map(|m| m.from.address()).collect();
    let bodies: Vec<&str> = new.iter().map(|m| m.text.as_str()).collect();
    let encodings: Vec<&str> = new.iter().map(|m| encoding_name(m.encoding)).collect();
    let statuses: Vec<&str> = new.iter().map(|m| m.status.as_str()).collect();
    let counts: Vec<i32> = new.iter().map(|m| i32::from(m.segments)).collect();
    let connectors: Vec<&str> = new.iter().map(|m| m.connector.as_str()).collect();
    let policies: Vec<&str> = new.iter().map(|m| multipart_name(m.multipart)).collect();
    let references: Vec<Option<&str>> = new.iter().map(|m| m.reference.as_deref()).collect();
    let callbacks: Vec<Option<&str>> = new.iter().map(|m| m.callback_url.as_deref()).collect();
    let idem_keys: Vec<Option<&str>> = new
        .iter()
        .map(|m| m.idempotency.as_ref().map(|i| i.key.as_str()))
        .collect();
    let idem_hashes: Vec<Option<&[u8]>> = new
        .iter()
        .map(|m| m.idempotency.as_ref().map(|i| &i.body_hash[..]))
        .collect();
    let created: Vec<i64> = new.iter().map(|m| int(m.created_at_ms)).collect();
    let send_at: Vec<Option<i64>> = new.iter().map(|m| m.send_at_ms.map(int)).collect();
    let expires: Vec<i64> = new.iter().map(|m| int(m.expires_at_ms)).collect();
    let campaigns: Vec<Option<i64>> = new
        .iter()
        .map(|m| m.campaign.map(|c| int(c.campaign.0)))
        .collect();
    let seqs: Vec<Option<i64>> = new.iter().map(|m| m.campaign.map(|c| int(c.seq))).collect();
    let rows = tx.query(
        "insert messages",
        "INSERT INTO messages (id, account_id, recipient, sender, body, encoding, status, \
         initial_status, segment_count, connector, multipart, reference, callback_url, \
         idem_key, idem_hash, created_at_ms, send_at_ms, expires_at_ms, campaign_id, \
         campaign_seq) \
         SELECT id, account_id, recipient, sender, body, encoding, status, status, \
         segment_count, connector, multipart, reference, callback_url, idem_key, idem_hash, \
         created_at_ms, send_at_ms, expires_at_ms, campaign_id, campaign_seq \
         FROM UNNEST($1::bytea[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::int4[], $9::text[], $10::text[], $11::text[], $12::text[], \
         $13::text[], $14::bytea[], $15::int8[], $16::int8[], $17::int8[], $18::int8[], \
         $19::int8[]) \
         AS n(id, account_id, recipient, sender, body, encoding, status, segment_count, \
         connector, multipart, reference, callback_url, idem_key, idem_hash, created_at_ms, \
         send_at_ms, expires_at_ms, campaign_id, campaign_seq) \
         ON CONFLICT DO NOTHING RETURNING id",
        &[
            &ids,
            &accounts,
            &recipients,
            &senders,
            &bodies,
            &encodings,
            &statuses,
            &counts,
            &connectors,
            &policies,
            &references,
            &callbacks,
            &idem_keys,
            &idem_hashes,
            &created,
            &send_at,
            &expires,
            &campaigns,
            &seqs,
        ],
    )?;
    rows.iter()
        .map(|r| {
            let id: Vec<u8> = get(r, 0, "messages.id")?;
            id_from(&id, "messages.id")
        })
        .collect()
}

/// The outbox rows of freshly inserted messages (suppressed ones get none).
fn insert_outbox<'m>(
    tx: &mut PgTx<'_, '_>,
    inserted: impl Iterator<Item = &'m NewMessageRecord>,
) -> Result<(), StoreError> {
    let mut ids = Vec::new();
    let mut connectors = Vec::new();
    let mut due = Vec::new();
    for m in inserted {
        if let Some(at) = apply::initial_outbox_due(m) {
            ids.push(id_bytes(m.id));
            connectors.push(m.connector.as_str());
            due.push(int(at));
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    tx.execute(
        "insert outbox",
        "INSERT INTO outbox (message_id, connector, due_at_ms) \
         SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::int8[])",
        &[&ids, &connectors, &due],
    )
    .map(drop)
}

// ---------------------------------------------------------------------------------------------
// Reads

/// The full message, if it exists (and belongs to `account`, when given).
pub(crate) fn load_message(
    tx: &mut PgTx<'_, '_>,
    id: MessageId,
    account: Option<AccountId>,
) -> Result<Option<MessageRecord>, StoreError> {
    let key = id_bytes(id);
    let rows = tx.query(
        "read message",
        "SELECT account_id, recipient, sender, body, encoding, status, connector, multipart, \
         reference, callback_url, idem_key, created_at_ms, send_at_ms, expires_at_ms, \
         error_code, error_message, initial_status, segment_count, campaign_id, campaign_seq \
         FROM messages WHERE id = $1",
        &[&key],
    )?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let owner = AccountId(uint(
        get(row, 0, "messages.account_id")?,
        "messages.account_id",
    )?);
    if account.is_some_and(|a| a != owner) {
        return Ok(None);
    }
    let count = small(
        get(row, 17, "messages.segment_count")?,
        "messages.segment_count",
    )?;
    let mut segments: Vec<SegmentRecord> = (0..count)
        .map(|index| SegmentRecord {
            index,
            status: SegmentStatus::Pending,
            smsc_id: None,
            failed_attempts: 0,
        })
        .collect();
    for r in tx.query(
        "read segments",
        "SELECT idx, status, smsc_id, failed_attempts FROM segments \
         WHERE message_id = $1 ORDER BY idx",
        &[&key],
    )? {
        let index = small(get(&r, 0, "segments.idx")?, "segments.idx")?;
        let slot = segments
            .get_mut(usize::from(index))
            .ok_or_else(|| StoreError::Corrupt {
                what: "segments.idx",
                detail: format!("segment {index} of a {count}-segment message"),
            })?;
        slot.status = segment_status(get(&r, 1, "segments.status")?)?;
        slot.smsc_id = get(&r, 2, "segments.smsc_id")?;
        let attempts: i32 = get(&r, 3, "segments.failed_attempts")?;
        slot.failed_attempts = u32::try_from(attempts).unwrap_or(0);
    }
    let created_at_ms = uint(
        get(row, 11, "messages.created_at_ms")?,
        "messages.created_at_ms",
    )?;
    let mut events = vec![StatusEvent {
        status: message_status(
            get(row, 16, "messages.initial_status")?,
            "messages.initial_status",
        )?,
        at_ms: created_at_ms,
        detail: None,
    }];
    for r in tx.query(
        "read events",
        "SELECT status, at_ms, detail FROM events WHERE message_id = $1 ORDER BY seq",
        &[&key],
    )? {
        events.push(StatusEvent {
            status: message_status(get(&r, 0, "events.status")?, "events.status")?,
            at_ms: uint(get(&r, 1, "events.at_ms")?, "events.at_ms")?,
            detail: get(&r, 2, "events.detail")?,
        });
    }
    let sender: String = get(row, 2, "messages.sender")?;
    let encoding: String = get(row, 4, "messages.encoding")?;
    let connector: String = get(row, 6, "messages.connector")?;
    let policy: String = get(row, 7, "messages.multipart")?;
    let send_at: Option<i64> = get(row, 12, "messages.send_at_ms")?;
    Ok(Some(MessageRecord {
        id,
        account: owner,
        to: msisdn_from(get(row, 1, "messages.recipient")?, "messages.recipient")?,
        from: SenderId::parse(&sender).map_err(|e| StoreError::Corrupt {
            what: "messages.sender",
            detail: e.to_string(),
        })?,
        text: get(row, 3, "messages.body")?,
        encoding: encoding_from_name(&encoding).ok_or_else(|| StoreError::Corrupt {
            what: "messages.encoding",
            detail: format!("unknown encoding {encoding:?}"),
        })?,
        status: message_status(get(row, 5, "messages.status")?, "messages.status")?,
        connector: connector_from(&connector, "messages.connector")?,
        multipart: multipart(&policy)?,
        reference: get(row, 8, "messages.reference")?,
        callback_url: get(row, 9, "messages.callback_url")?,
        idempotency_key: get(row, 10, "messages.idem_key")?,
        campaign: match (
            get::<Option<i64>>(row, 18, "messages.campaign_id")?,
            get::<Option<i64>>(row, 19, "messages.campaign_seq")?,
        ) {
            (Some(campaign), Some(seq)) => Some(campaign_ref(campaign, seq)?),
            _ => None,
        },
        created_at_ms,
        send_at_ms: send_at
            .map(|v| uint(v, "messages.send_at_ms"))
            .transpose()?,
        expires_at_ms: uint(
            get(row, 13, "messages.expires_at_ms")?,
            "messages.expires_at_ms",
        )?,
        segments,
        events,
        error: error_info(
            get(row, 14, "messages.error_code")?,
            get(row, 15, "messages.error_message")?,
        ),
    }))
}

/// Outbox entries for `(id, due)` pairs, in that order.
pub(crate) fn entries(
    tx: &mut PgTx<'_, '_>,
    ids: Vec<(MessageId, u64)>,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for (id, due_at_ms) in ids {
        if let Some(message) = load_message(tx, id, None)? {
            out.push(OutboxEntry { message, due_at_ms });
        }
    }
    Ok(out)
}

/// Reads an inbound row selected with `inbound_columns!()`.
pub(crate) fn inbound_row(r: &Row) -> Result<InboundRecord, StoreError> {
    let id: Vec<u8> = get(r, 0, "inbound.id")?;
    let connector: String = get(r, 5, "inbound.connector")?;
    Ok(InboundRecord {
        id: id_from(&id, "inbound.id")?,
        account: AccountId(uint(
            get(r, 1, "inbound.account_id")?,
            "inbound.account_id",
        )?),
        from: msisdn_from(get(r, 2, "inbound.sender")?, "inbound.sender")?,
        to: get(r, 3, "inbound.recipient")?,
        text: get(r, 4, "inbound.body")?,
        connector: connector_from(&connector, "inbound.connector")?,
        received_at_ms: uint(
            get(r, 6, "inbound.received_at_ms")?,
            "inbound.received_at_ms",
        )?,
        webhook_url: get(r, 7, "inbound.webhook_url")?,
    })
}

/// Reads a webhook row selected with `webhook_columns!()`.
pub(crate) fn webhook_row(r: &Row) -> Result<WebhookDelivery, StoreError> {
    let message: Vec<u8> = get(r, 2, "webhooks.message_id")?;
    let state: String = get(r, 9, "webhooks.state")?;
    let attempts: i32 = get(r, 6, "webhooks.attempts")?;
    Ok(WebhookDelivery {
        id: uint(get(r, 0, "webhooks.id")?, "webhooks.id")?,
        account: AccountId(uint(
            get(r, 1, "webhooks.account_id")?,
            "webhooks.account_id",
        )?),
        message: id_from(&message, "webhooks.message_id")?,
        url: get(r, 3, "webhooks.url")?,
        event: webhook_event(get(r, 4, "webhooks.event")?, "webhooks.event")?,
        status_at_ms: uint(get(r, 5, "webhooks.status_at_ms")?, "webhooks.status_at_ms")?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_at_ms: uint(get(r, 7, "webhooks.next_at_ms")?, "webhooks.next_at_ms")?,
        last_error: get(r, 8, "webhooks.last_error")?,
        state: WebhookState::from_name(&state).ok_or_else(|| StoreError::Corrupt {
            what: "webhooks.state",
            detail: format!("unknown state {state:?}"),
        })?,
    })
}

// ---------------------------------------------------------------------------------------------
// The primitive operations of the shared update algorithms

impl WriteTx for PgTx<'_, '_> {
    fn load(&mut self, id: MessageId) -> Result<Option<LiveMessage>, StoreError> {
        let key = id_bytes(id);
        // FOR UPDATE: with several nodes, two updates of one message take turns instead of
        // both deciding from the same old state.
        let rows = self.query(
            "load message",
            "SELECT account_id, status, multipart, callback_url, segment_count \
             FROM messages WHERE id = $1 FOR UPDATE",
            &[&key],
        )?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let count = small(
            get(row, 4, "messages.segment_count")?,
            "messages.segment_count",
        )?;
        let mut segments = vec![SegmentStatus::Pending; usize::from(count)];
        for r in self.query(
            "load segments",
            "SELECT idx, status FROM segments WHERE message_id = $1",
            &[&key],
        )? {
            let index = small(get(&r, 0, "segments.idx")?, "segments.idx")?;
            let slot = segments
                .get_mut(usize::from(index))
                .ok_or_else(|| StoreError::Corrupt {
                    what: "segments.idx",
                    detail: format!("segment {index} of a {count}-segment message"),
                })?;
            *slot = segment_status(get(&r, 1, "segments.status")?)?;
        }
        let policy: String = get(row, 2, "messages.multipart")?;
        Ok(Some(LiveMessage {
            id,
            account: AccountId(uint(
                get(row, 0, "messages.account_id")?,
                "messages.account_id",
            )?),
            status: message_status(get(row, 1, "messages.status")?, "messages.status")?,
            multipart: multipart(&policy)?,
            callback_url: get(row, 3, "messages.callback_url")?,
            segments,
        }))
    }

    fn set_segment_status(
        &mut self,
        id: MessageId,
        segment: u8,
        status: SegmentStatus,
    ) -> Result<(), StoreError> {
        self.defer(
            "update segment",
            "INSERT INTO segments (message_id, idx, status) VALUES ($1, $2, $3) \
             ON CONFLICT (message_id, idx) DO UPDATE SET status = excluded.status",
            vec![p(id_bytes(id)), p(i32::from(segment)), p(status.as_str())],
        );
        Ok(())
    }

    fn set_segment_smsc_id(
        &mut self,
        id: MessageId,
        segment: u8,
        smsc_id: &str,
    ) -> Result<(), StoreError> {
        self.defer(
            "update segment",
            "INSERT INTO segments (message_id, idx, status, smsc_id) \
             VALUES ($1, $2, 'pending', $3) \
             ON CONFLICT (message_id, idx) DO UPDATE SET smsc_id = excluded.smsc_id",
            vec![
                p(id_bytes(id)),
                p(i32::from(segment)),
                p(smsc_id.to_owned()),
            ],
        );
        Ok(())
    }

    fn add_failed_attempt(&mut self, id: MessageId, segment: u8) -> Result<(), StoreError> {
        self.defer(
            "update segment",
            "INSERT INTO segments (message_id, idx, status, failed_attempts) \
             VALUES ($1, $2, 'pending', 1) ON CONFLICT (message_id, idx) \
             DO UPDATE SET failed_attempts = segments.failed_attempts + 1",
            vec![p(id_bytes(id)), p(i32::from(segment))],
        );
        Ok(())
    }

    fn set_message_status(
        &mut self,
        id: MessageId,
        status: MessageStatus,
        at_ms: u64,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        let key = id_bytes(id);
        // One statement: the status update and the event (numbered after the last one; the
        // message row is locked by `load`, so the numbers cannot collide).
        self.defer(
            "update message",
            "WITH upd AS (UPDATE messages SET status = $2 WHERE id = $1) \
             INSERT INTO events (message_id, seq, status, at_ms, detail) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM events WHERE message_id = $1",
            vec![
                p(key),
                p(webhook_event_name(WebhookEvent::Status(status))),
                p(int(at_ms)),
                p(detail.map(str::to_owned)),
            ],
        );
        Ok(())
    }

    fn set_error_if_none(&mut self, id: MessageId, error: &ErrorInfo) -> Result<(), StoreError> {
        self.defer(
            "update message",
            "UPDATE messages SET error_code = $2, error_message = $3 \
             WHERE id = $1 AND error_code IS NULL",
            vec![
                p(id_bytes(id)),
                p(error.code.clone()),
                p(error.message.clone()),
            ],
        );
        Ok(())
    }

    fn enqueue_webhook(
        &mut self,
        account: AccountId,
        id: MessageId,
        url: &str,
        status: MessageStatus,
        at_ms: u64,
    ) -> Result<(), StoreError> {
        self.defer(
            "queue webhook",
            "INSERT INTO webhooks (account_id, message_id, url, event, status_at_ms, \
             next_at_ms, state) VALUES ($1, $2, $3, $4, $5, $5, 'pending')",
            vec![
                p(int(account.0)),
                p(id_bytes(id)),
                p(url.to_owned()),
                p(webhook_event_name(WebhookEvent::Status(status))),
                p(int(at_ms)),
            ],
        );
        Ok(())
    }

    fn set_outbox_due(&mut self, id: MessageId, due_at_ms: u64) -> Result<(), StoreError> {
        self.defer(
            "update outbox",
            "UPDATE outbox SET due_at_ms = $2 WHERE message_id = $1",
            vec![p(id_bytes(id)), p(int(due_at_ms))],
        );
        Ok(())
    }

    fn delete_outbox(&mut self, id: MessageId) -> Result<(), StoreError> {
        self.defer(
            "delete outbox",
            "DELETE FROM outbox WHERE message_id = $1",
            vec![p(id_bytes(id))],
        );
        Ok(())
    }

    fn index_smsc_key(
        &mut self,
        connector: &ConnectorId,
        key: &str,
        id: MessageId,
        segment: u8,
    ) -> Result<(), StoreError> {
        self.defer(
            "index smsc id",
            "INSERT INTO smsc_keys (connector, key, message_id, idx) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (connector, key) DO UPDATE \
             SET message_id = excluded.message_id, idx = excluded.idx",
            vec![
                p(connector.as_str().to_owned()),
                p(key.to_owned()),
                p(id_bytes(id)),
                p(i32::from(segment)),
            ],
        );
        Ok(())
    }

    fn lookup_smsc_key(
        &mut self,
        connector: &ConnectorId,
        key: &str,
    ) -> Result<Option<(MessageId, u8)>, StoreError> {
        let rows = self.query(
            "look up smsc id",
            "SELECT message_id, idx FROM smsc_keys WHERE connector = $1 AND key = $2",
            &[&connector.as_str(), &key],
        )?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let id: Vec<u8> = get(row, 0, "smsc_keys.message_id")?;
        Ok(Some((
            id_from(&id, "smsc_keys.message_id")?,
            small(get(row, 1, "smsc_keys.idx")?, "smsc_keys.idx")?,
        )))
    }

    fn park(&mut self, receipt: &ReceiptUpdate, keys: &[String]) -> Result<(), StoreError> {
        let rows = self.query(
            "park receipt",
            "INSERT INTO parked_receipts (connector, protocol_id, text_id, state, detail, \
             error_code, error_message, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING id",
            &[
                &receipt.connector.as_str(),
                &receipt.protocol_id,
                &receipt.text_id,
                &i32::from(receipt.state.to_u8()),
                &receipt.detail,
                &receipt.error.as_ref().map(|e| e.code.as_str()),
                &receipt.error.as_ref().map(|e| e.message.as_str()),
                &int(receipt.at_ms),
            ],
        )?;
        let parked: i64 = match rows.first() {
            Some(row) => get(row, 0, "parked_receipts.id")?,
            None => {
                return Err(StoreError::Backend {
                    operation: "park receipt",
                    message: "INSERT ... RETURNING returned no row".into(),
                })
            }
        };
        self.any_parked = Some(true);
        self.defer(
            "park receipt",
            "INSERT INTO parked_keys (connector, key, parked_id) \
             SELECT $1, k, $3 FROM UNNEST($2::text[]) AS k ON CONFLICT DO NOTHING",
            vec![
                p(receipt.connector.as_str().to_owned()),
                p(keys.to_vec()),
                p(parked),
            ],
        );
        Ok(())
    }

    fn take_parked(
        &mut self,
        connector: &ConnectorId,
        keys: &[String],
    ) -> Result<Vec<ReceiptUpdate>, StoreError> {
        // Almost always nothing is parked: asked once per call, then a call's thousands of
        // submit results skip the lookups.
        let any = match self.any_parked {
            Some(any) => any,
            None => {
                let rows = self.query(
                    "find parked receipts",
                    "SELECT EXISTS (SELECT 1 FROM parked_keys)",
                    &[],
                )?;
                let any = match rows.first() {
                    Some(row) => get(row, 0, "parked_keys")?,
                    None => false,
                };
                self.any_parked = Some(any);
                any
            }
        };
        if !any {
            return Ok(Vec::new());
        }
        // One statement finds, removes (keys go by ON DELETE CASCADE) and returns them.
        let rows = self.query(
            "unpark receipts",
            "DELETE FROM parked_receipts WHERE id IN (SELECT parked_id FROM parked_keys \
             WHERE connector = $1 AND key = ANY($2::text[])) \
             RETURNING id, connector, protocol_id, text_id, state, detail, error_code, \
             error_message, at_ms",
            &[&connector.as_str(), &keys],
        )?;
        let mut found = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = get(r, 0, "parked_receipts.id")?;
            let conn: String = get(r, 1, "parked_receipts.connector")?;
            let state: i32 = get(r, 4, "parked_receipts.state")?;
            found.push((
                id,
                ReceiptUpdate {
                    connector: connector_from(&conn, "parked_receipts.connector")?,
                    protocol_id: get(r, 2, "parked_receipts.protocol_id")?,
                    text_id: get(r, 3, "parked_receipts.text_id")?,
                    state: MessageState::from_u8(small(state, "parked_receipts.state")?),
                    detail: get(r, 5, "parked_receipts.detail")?,
                    error: error_info(
                        get(r, 6, "parked_receipts.error_code")?,
                        get(r, 7, "parked_receipts.error_message")?,
                    ),
                    at_ms: uint(get(r, 8, "parked_receipts.at_ms")?, "parked_receipts.at_ms")?,
                },
            ));
        }
        // Oldest first: ids are assigned in arrival order.
        found.sort_by_key(|(id, _)| *id);
        Ok(found.into_iter().map(|(_, r)| r).collect())
    }
}
