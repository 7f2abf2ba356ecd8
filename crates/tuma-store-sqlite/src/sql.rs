//! The SQL: conversions between rows and records, the primitive [`WriteTx`] operations, and
//! the reads. Every statement is prepared once per connection (`prepare_cached`).

use std::collections::{BTreeSet, HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension, Row};
use smpp::MessageState;
use tuma_domain::{encoding_name, ConnectorId, MessageId, MessageStatus, SegmentStatus, SenderId};
use tuma_store::apply::{self, LiveMessage, WriteTx};
pub(crate) use tuma_store::columns::{
    connector_from, error_info, id_from, int, message_status, msisdn_from, segment_status, uint,
};
use tuma_store::records::{encoding_from_name, multipart_from_name, multipart_name};
use tuma_store::{
    AccountId, ErrorInfo, InboundRecord, InsertOutcome, MessageRecord, NewMessageRecord,
    ReceiptUpdate, SegmentRecord, StatusEvent, StoreError, WebhookDelivery, WebhookState,
};

/// Maps a rusqlite error to [`StoreError::Backend`] for `operation`.
pub(crate) fn backend(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::Backend {
        operation,
        message: e.to_string(),
    }
}

/// Whether `e` is a UNIQUE / PRIMARY KEY violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

pub(crate) fn id_blob(id: MessageId) -> [u8; 16] {
    id.to_bytes()
}

/// A read error with its operation.
fn rd(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    backend(operation)
}

// ---------------------------------------------------------------------------------------------
// Inserts

/// Inserts one message (segments, first event, outbox entry) or says why not.
pub(crate) fn insert_message(
    conn: &Connection,
    m: &NewMessageRecord,
) -> Result<InsertOutcome, StoreError> {
    if let Err(invalid) = apply::validate_new(m) {
        return Ok(invalid);
    }
    let id = id_blob(m.id);
    if let Some(idem) = &m.idempotency {
        let existing: Option<(Vec<u8>, Option<Vec<u8>>)> = conn
            .prepare_cached(
                "SELECT id, idem_hash FROM messages WHERE account_id = ?1 AND idem_key = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![int(m.account.0), idem.key], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
            })
            .map_err(rd("idempotency lookup"))?;
        if let Some((existing, hash)) = existing {
            let existing = id_from(&existing, "messages.id")?;
            return Ok(if hash.as_deref() == Some(&idem.body_hash[..]) {
                InsertOutcome::Duplicate { existing }
            } else {
                InsertOutcome::IdempotencyConflict { existing }
            });
        }
    }
    let inserted = conn.prepare_cached(INSERT_MESSAGE).and_then(|mut s| {
        s.execute(params![
            id,
            int(m.account.0),
            int(m.to.as_u64()),
            m.from.address(),
            m.text,
            encoding_name(m.encoding),
            m.status.as_str(),
            m.segments,
            m.connector.as_str(),
            multipart_name(m.multipart),
            m.reference,
            m.callback_url,
            m.idempotency.as_ref().map(|i| i.key.as_str()),
            m.idempotency.as_ref().map(|i| &i.body_hash[..]),
            int(m.created_at_ms),
            m.send_at_ms.map(int),
            int(m.expires_at_ms),
        ])
    });
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Ok(InsertOutcome::IdTaken),
        Err(e) => return Err(backend("insert message")(e)),
    }
    // No segment rows and no event row: see the schema (absent segment = pending; the first
    // event is the message's initial status).
    if let Some(due) = apply::initial_outbox_due(m) {
        conn.prepare_cached(
            "INSERT INTO outbox (message_id, connector, due_at_ms) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![id, m.connector.as_str(), int(due)]))
        .map_err(backend("insert outbox"))?;
    }
    Ok(InsertOutcome::Inserted)
}

// ---------------------------------------------------------------------------------------------
// Reads

/// The full message, if it exists (and belongs to `account`, when given).
pub(crate) fn load_message(
    conn: &Connection,
    id: MessageId,
    account: Option<AccountId>,
) -> Result<Option<MessageRecord>, StoreError> {
    let blob = id_blob(id);
    let row = conn
        .prepare_cached(
            "SELECT account_id, recipient, sender, body, encoding, status, connector, multipart, \
             reference, callback_url, idem_key, created_at_ms, send_at_ms, expires_at_ms, \
             error_code, error_message, initial_status, segment_count \
             FROM messages WHERE id = ?1",
        )
        .and_then(|mut s| s.query_row([&blob], message_row).optional())
        .map_err(rd("read message"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let owner = AccountId(uint(row.account, "messages.account_id")?);
    if account.is_some_and(|a| a != owner) {
        return Ok(None);
    }
    let mut segments: Vec<SegmentRecord> = (0..row.segment_count)
        .map(|index| SegmentRecord {
            index,
            status: SegmentStatus::Pending,
            smsc_id: None,
            failed_attempts: 0,
        })
        .collect();
    {
        let mut s = conn
            .prepare_cached(
                "SELECT idx, status, smsc_id, failed_attempts FROM segments \
                 WHERE message_id = ?1 ORDER BY idx",
            )
            .map_err(rd("read segments"))?;
        let mut rows = s.query([&blob]).map_err(rd("read segments"))?;
        while let Some(r) = rows.next().map_err(rd("read segments"))? {
            let index: u8 = r.get(0).map_err(rd("read segments"))?;
            let status: String = r.get(1).map_err(rd("read segments"))?;
            let attempts: i64 = r.get(3).map_err(rd("read segments"))?;
            let slot = segments
                .get_mut(usize::from(index))
                .ok_or_else(|| StoreError::Corrupt {
                    what: "segments.idx",
                    detail: format!("segment {index} of a {}-segment message", row.segment_count),
                })?;
            slot.status = segment_status(&status)?;
            slot.smsc_id = r.get(2).map_err(rd("read segments"))?;
            slot.failed_attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
        }
    }
    let mut events = vec![StatusEvent {
        status: message_status(&row.initial_status, "messages.initial_status")?,
        at_ms: uint(row.created_at_ms, "messages.created_at_ms")?,
        detail: None,
    }];
    {
        let mut s = conn
            .prepare_cached(
                "SELECT status, at_ms, detail FROM events WHERE message_id = ?1 ORDER BY seq",
            )
            .map_err(rd("read events"))?;
        let mut rows = s.query([&blob]).map_err(rd("read events"))?;
        while let Some(r) = rows.next().map_err(rd("read events"))? {
            let status: String = r.get(0).map_err(rd("read events"))?;
            events.push(StatusEvent {
                status: message_status(&status, "events.status")?,
                at_ms: uint(r.get(1).map_err(rd("read events"))?, "events.at_ms")?,
                detail: r.get(2).map_err(rd("read events"))?,
            });
        }
    }
    Ok(Some(MessageRecord {
        id,
        account: owner,
        to: msisdn_from(row.recipient, "messages.recipient")?,
        from: SenderId::parse(&row.sender).map_err(|e| StoreError::Corrupt {
            what: "messages.sender",
            detail: e.to_string(),
        })?,
        text: row.body,
        encoding: encoding_from_name(&row.encoding).ok_or_else(|| StoreError::Corrupt {
            what: "messages.encoding",
            detail: format!("unknown encoding {:?}", row.encoding),
        })?,
        status: message_status(&row.status, "messages.status")?,
        connector: connector_from(&row.connector, "messages.connector")?,
        multipart: multipart_from_name(&row.multipart).ok_or_else(|| StoreError::Corrupt {
            what: "messages.multipart",
            detail: format!("unknown policy {:?}", row.multipart),
        })?,
        reference: row.reference,
        callback_url: row.callback_url,
        idempotency_key: row.idem_key,
        created_at_ms: uint(row.created_at_ms, "messages.created_at_ms")?,
        send_at_ms: row
            .send_at_ms
            .map(|v| uint(v, "messages.send_at_ms"))
            .transpose()?,
        expires_at_ms: uint(row.expires_at_ms, "messages.expires_at_ms")?,
        segments,
        events,
        error: error_info(row.error_code, row.error_message),
    }))
}

struct MessageRow {
    account: i64,
    recipient: i64,
    sender: String,
    body: String,
    encoding: String,
    status: String,
    connector: String,
    multipart: String,
    reference: Option<String>,
    callback_url: Option<String>,
    idem_key: Option<String>,
    created_at_ms: i64,
    send_at_ms: Option<i64>,
    expires_at_ms: i64,
    error_code: Option<String>,
    error_message: Option<String>,
    initial_status: String,
    segment_count: u8,
}

fn message_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        account: r.get(0)?,
        recipient: r.get(1)?,
        sender: r.get(2)?,
        body: r.get(3)?,
        encoding: r.get(4)?,
        status: r.get(5)?,
        connector: r.get(6)?,
        multipart: r.get(7)?,
        reference: r.get(8)?,
        callback_url: r.get(9)?,
        idem_key: r.get(10)?,
        created_at_ms: r.get(11)?,
        send_at_ms: r.get(12)?,
        expires_at_ms: r.get(13)?,
        error_code: r.get(14)?,
        error_message: r.get(15)?,
        initial_status: r.get(16)?,
        segment_count: r.get(17)?,
    })
}

/// Reads an inbound row (columns: id, account_id, sender, recipient, body, connector,
/// received_at_ms).
pub(crate) fn inbound_row(r: &Row<'_>) -> Result<InboundRecord, StoreError> {
    let get = rd("read inbound");
    let id: Vec<u8> = r.get(0).map_err(&get)?;
    let connector: String = r.get(5).map_err(&get)?;
    Ok(InboundRecord {
        id: id_from(&id, "inbound.id")?,
        account: AccountId(uint(r.get(1).map_err(&get)?, "inbound.account_id")?),
        from: msisdn_from(r.get(2).map_err(&get)?, "inbound.sender")?,
        to: r.get(3).map_err(&get)?,
        text: r.get(4).map_err(&get)?,
        connector: connector_from(&connector, "inbound.connector")?,
        received_at_ms: uint(r.get(6).map_err(&get)?, "inbound.received_at_ms")?,
    })
}

/// The columns [`webhook_row`] reads, in order.
pub(crate) const WEBHOOK_COLUMNS: &str =
    "id, account_id, message_id, url, status, status_at_ms, attempts, next_at_ms, last_error, state";

/// Reads a webhook row selected with [`WEBHOOK_COLUMNS`].
pub(crate) fn webhook_row(r: &Row<'_>) -> Result<WebhookDelivery, StoreError> {
    let get = rd("read webhook");
    let message: Vec<u8> = r.get(2).map_err(&get)?;
    let status: String = r.get(4).map_err(&get)?;
    let state: String = r.get(9).map_err(&get)?;
    let attempts: i64 = r.get(6).map_err(&get)?;
    Ok(WebhookDelivery {
        id: uint(r.get(0).map_err(&get)?, "webhooks.id")?,
        account: AccountId(uint(r.get(1).map_err(&get)?, "webhooks.account_id")?),
        message: id_from(&message, "webhooks.message_id")?,
        url: r.get(3).map_err(&get)?,
        status: message_status(&status, "webhooks.status")?,
        status_at_ms: uint(r.get(5).map_err(&get)?, "webhooks.status_at_ms")?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_at_ms: uint(r.get(7).map_err(&get)?, "webhooks.next_at_ms")?,
        last_error: r.get(8).map_err(&get)?,
        state: WebhookState::from_name(&state).ok_or_else(|| StoreError::Corrupt {
            what: "webhooks.state",
            detail: format!("unknown state {state:?}"),
        })?,
    })
}

// ---------------------------------------------------------------------------------------------
// The primitive operations of the shared update algorithms

/// One segment row's merged writes (see [`SqlTx::flush`]).
const UPSERT_SEGMENT: &str = "INSERT INTO segments (message_id, idx, status, smsc_id, \
     failed_attempts) VALUES (?1, ?2, COALESCE(?3, 'pending'), ?4, ?5) \
     ON CONFLICT (message_id, idx) DO UPDATE SET status = COALESCE(?3, status), \
     smsc_id = COALESCE(?4, smsc_id), failed_attempts = failed_attempts + ?5";

/// A message's live state and its segment rows, in one statement.
const LOAD_LIVE: &str = "SELECT m.account_id, m.status, m.multipart, m.callback_url, \
     m.segment_count, s.idx, s.status FROM messages AS m \
     LEFT JOIN segments AS s ON s.message_id = m.id WHERE m.id = ?1";

const SET_MESSAGE_STATUS: &str = "UPDATE messages SET status = ?2 WHERE id = ?1";

/// The next event of a message. `INSERT ... VALUES` with a scalar subquery, not
/// `INSERT ... SELECT FROM events`: reading the table being inserted into makes SQLite copy
/// the result into a temporary table first (`OpenEphemeral`: a B-tree and pager opened and
/// closed per row, visible in `perf` on the status path).
const INSERT_EVENT: &str = "INSERT INTO events (message_id, seq, status, at_ms, detail) \
     VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE message_id = ?1), \
     ?2, ?3, ?4)";

/// Indexes an SMSC id key; the newest submission wins (see [`WriteTx::index_smsc_key`]).
const INDEX_SMSC_KEY: &str = "INSERT OR REPLACE INTO smsc_keys (connector, key, message_id, idx) \
     VALUES (?1, ?2, ?3, ?4)";

const LOOKUP_SMSC_KEY: &str =
    "SELECT message_id, idx FROM smsc_keys WHERE connector = ?1 AND key = ?2";

const DELETE_OUTBOX: &str = "DELETE FROM outbox WHERE message_id = ?1";

/// Unfinished messages whose validity ended, oldest first. The status condition is the
/// `messages_expiry` index's, word for word (see the migration): otherwise SQLite cannot use
/// that partial index and scans every message.
pub(crate) const FIND_OVERDUE: &str = "SELECT id FROM messages \
     WHERE (status = 'accepted' OR status = 'scheduled' OR status = 'submitted') \
     AND expires_at_ms <= ?1 ORDER BY expires_at_ms LIMIT ?2";

/// One new message (intake). Its partial index's condition is evaluated for every row, which
/// is why that condition avoids `IN` (see the migration).
const INSERT_MESSAGE: &str =
    "INSERT INTO messages (id, account_id, recipient, sender, body, encoding, status, \
     initial_status, segment_count, connector, multipart, reference, callback_url, \
     idem_key, idem_hash, created_at_ms, send_at_ms, expires_at_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";

/// The statements every new message, submit result or receipt runs: the tests check that
/// none of them needs a temporary table or a full scan.
#[cfg(test)]
const HOT_STATEMENTS: &[&str] = &[
    INSERT_MESSAGE,
    UPSERT_SEGMENT,
    LOAD_LIVE,
    SET_MESSAGE_STATUS,
    INSERT_EVENT,
    INDEX_SMSC_KEY,
    LOOKUP_SMSC_KEY,
    DELETE_OUTBOX,
];

/// [`WriteTx`] over the writer's connection (inside its transaction), for one call.
///
/// Two things keep the statement count per segment down (the status path is the writer's
/// bottleneck, see `docs/storage.md`):
/// - every [`LiveMessage`] loaded in this call is kept and updated by the writes below, so the
///   second segment (or receipt) of a message in the same call reads nothing;
/// - the writes to one segment row are merged and sent as one upsert when the algorithm moves
///   to another segment or reads, or when the call ends ([`SqlTx::run`]): an accepted submit
///   result stores its SMSC id and its new status in one statement instead of two.
pub(crate) struct SqlTx<'c> {
    conn: &'c Connection,
    /// Whether any receipt is parked, once asked: almost always `false`, and then a call's
    /// thousands of submit results skip the parked-key lookups.
    any_parked: Option<bool>,
    /// Messages loaded in this call, as the writes so far left them.
    live: HashMap<MessageId, LiveMessage>,
    /// The segment row write not yet sent (at most one: see [`SqlTx::segment_write`]).
    pending: Option<SegmentWrite>,
    /// Messages whose outbox entry this call deleted: nothing in [`WriteTx`] re-creates an
    /// entry, so deleting again is a no-op and skipped (every receipt of a message whose
    /// segments were all submitted asks for it).
    outbox_gone: HashSet<MessageId>,
}

/// Changes to one segment row, merged until they are sent.
struct SegmentWrite {
    id: MessageId,
    segment: u8,
    /// The new status, if set.
    status: Option<SegmentStatus>,
    /// The new SMSC id, if set.
    smsc_id: Option<String>,
    /// Failed attempts to add.
    failed_attempts: u32,
}

/// Loaded messages kept per call at most; past this the cache starts afresh, so a huge call
/// cannot grow memory without bound (the cache is only a shortcut, never the truth).
const LIVE_CACHE_MAX: usize = 16_384;

impl<'c> SqlTx<'c> {
    fn new(conn: &'c Connection) -> Self {
        Self {
            conn,
            any_parked: None,
            live: HashMap::new(),
            pending: None,
            outbox_gone: HashSet::new(),
        }
    }

    /// Runs `f` (one of the [`apply`] algorithms) on a fresh transaction view of `conn`, then
    /// sends the writes it still holds. The only way to build a [`SqlTx`], so no merged
    /// write can be forgotten.
    pub(crate) fn run<T>(
        conn: &'c Connection,
        f: impl FnOnce(&mut SqlTx<'c>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = SqlTx::new(conn);
        let out = f(&mut tx)?;
        tx.flush()?;
        Ok(out)
    }

    /// The pending write of segment `segment` of `id`, after sending any write to another
    /// segment.
    fn segment_write(
        &mut self,
        id: MessageId,
        segment: u8,
    ) -> Result<&mut SegmentWrite, StoreError> {
        if self
            .pending
            .as_ref()
            .is_some_and(|w| w.id != id || w.segment != segment)
        {
            self.flush()?;
        }
        Ok(self.pending.get_or_insert(SegmentWrite {
            id,
            segment,
            status: None,
            smsc_id: None,
            failed_attempts: 0,
        }))
    }

    /// Sends the pending segment write, if any: one upsert whatever was merged into it. A
    /// new row starts `pending` with no SMSC id and no failed attempts (absent row = pending).
    fn flush(&mut self) -> Result<(), StoreError> {
        let Some(w) = self.pending.take() else {
            return Ok(());
        };
        exec(
            self.conn,
            "update segment",
            UPSERT_SEGMENT,
            params![
                id_blob(w.id),
                w.segment,
                w.status.map(|s| s.as_str()),
                w.smsc_id,
                w.failed_attempts,
            ],
        )
        .map(drop)
    }

    /// Reads the message and its segment rows in one statement.
    fn read_live(&mut self, id: MessageId) -> Result<Option<LiveMessage>, StoreError> {
        // Segment rows may be waiting in `pending`; the read must see them.
        self.flush()?;
        let blob = id_blob(id);
        let mut s = self
            .conn
            .prepare_cached(LOAD_LIVE)
            .map_err(rd("load message"))?;
        let mut rows = s.query([&blob]).map_err(rd("load message"))?;
        let mut live: Option<LiveMessage> = None;
        while let Some(r) = rows.next().map_err(rd("load message"))? {
            let get = rd("load message");
            let msg = match &mut live {
                Some(msg) => msg,
                None => {
                    let account: i64 = r.get(0).map_err(&get)?;
                    let status: String = r.get(1).map_err(&get)?;
                    let multipart: String = r.get(2).map_err(&get)?;
                    let count: u8 = r.get(4).map_err(&get)?;
                    live.insert(LiveMessage {
                        id,
                        account: AccountId(uint(account, "messages.account_id")?),
                        status: message_status(&status, "messages.status")?,
                        multipart: multipart_from_name(&multipart).ok_or_else(|| {
                            StoreError::Corrupt {
                                what: "messages.multipart",
                                detail: format!("unknown policy {multipart:?}"),
                            }
                        })?,
                        callback_url: r.get(3).map_err(&get)?,
                        segments: vec![SegmentStatus::Pending; usize::from(count)],
                    })
                }
            };
            // NULL: the LEFT JOIN found no segment row (every segment still pending).
            let Some(index) = r.get::<_, Option<u8>>(5).map_err(&get)? else {
                continue;
            };
            let name: String = r.get(6).map_err(&get)?;
            let count = msg.segments.len();
            let slot =
                msg.segments
                    .get_mut(usize::from(index))
                    .ok_or_else(|| StoreError::Corrupt {
                        what: "segments.idx",
                        detail: format!("segment {index} of a {count}-segment message"),
                    })?;
            *slot = segment_status(&name)?;
        }
        Ok(live)
    }
}

fn exec(
    conn: &Connection,
    operation: &'static str,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute(p))
        .map_err(backend(operation))
}

impl WriteTx for SqlTx<'_> {
    fn load(&mut self, id: MessageId) -> Result<Option<LiveMessage>, StoreError> {
        if let Some(msg) = self.live.get(&id) {
            return Ok(Some(msg.clone()));
        }
        let Some(msg) = self.read_live(id)? else {
            return Ok(None);
        };
        if self.live.len() >= LIVE_CACHE_MAX {
            self.live.clear();
        }
        self.live.insert(id, msg.clone());
        Ok(Some(msg))
    }

    fn set_segment_status(
        &mut self,
        id: MessageId,
        segment: u8,
        status: SegmentStatus,
    ) -> Result<(), StoreError> {
        if let Some(slot) = self
            .live
            .get_mut(&id)
            .and_then(|m| m.segments.get_mut(usize::from(segment)))
        {
            *slot = status;
        }
        self.segment_write(id, segment)?.status = Some(status);
        Ok(())
    }

    fn set_segment_smsc_id(
        &mut self,
        id: MessageId,
        segment: u8,
        smsc_id: &str,
    ) -> Result<(), StoreError> {
        self.segment_write(id, segment)?.smsc_id = Some(smsc_id.to_owned());
        Ok(())
    }

    fn add_failed_attempt(&mut self, id: MessageId, segment: u8) -> Result<(), StoreError> {
        let w = self.segment_write(id, segment)?;
        w.failed_attempts = w.failed_attempts.saturating_add(1);
        Ok(())
    }

    fn set_message_status(
        &mut self,
        id: MessageId,
        status: MessageStatus,
        at_ms: u64,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        if let Some(msg) = self.live.get_mut(&id) {
            msg.status = status;
        }
        let blob = id_blob(id);
        exec(
            self.conn,
            "update message",
            SET_MESSAGE_STATUS,
            params![blob, status.as_str()],
        )?;
        exec(
            self.conn,
            "insert event",
            INSERT_EVENT,
            params![blob, status.as_str(), int(at_ms), detail],
        )
        .map(drop)
    }

    fn set_error_if_none(&mut self, id: MessageId, error: &ErrorInfo) -> Result<(), StoreError> {
        exec(
            self.conn,
            "update message",
            "UPDATE messages SET error_code = ?2, error_message = ?3 \
             WHERE id = ?1 AND error_code IS NULL",
            params![id_blob(id), error.code, error.message],
        )
        .map(drop)
    }

    fn enqueue_webhook(
        &mut self,
        account: AccountId,
        id: MessageId,
        url: &str,
        status: MessageStatus,
        at_ms: u64,
    ) -> Result<(), StoreError> {
        exec(
            self.conn,
            "queue webhook",
            "INSERT INTO webhooks (account_id, message_id, url, status, status_at_ms, next_at_ms, state) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, 'pending')",
            params![int(account.0), id_blob(id), url, status.as_str(), int(at_ms)],
        )
        .map(drop)
    }

    fn set_outbox_due(&mut self, id: MessageId, due_at_ms: u64) -> Result<(), StoreError> {
        exec(
            self.conn,
            "update outbox",
            "UPDATE outbox SET due_at_ms = ?2 WHERE message_id = ?1",
            params![id_blob(id), int(due_at_ms)],
        )
        .map(drop)
    }

    fn delete_outbox(&mut self, id: MessageId) -> Result<(), StoreError> {
        if !self.outbox_gone.insert(id) {
            return Ok(());
        }
        exec(
            self.conn,
            "delete outbox",
            DELETE_OUTBOX,
            params![id_blob(id)],
        )
        .map(drop)
    }

    fn index_smsc_key(
        &mut self,
        connector: &ConnectorId,
        key: &str,
        id: MessageId,
        segment: u8,
    ) -> Result<(), StoreError> {
        exec(
            self.conn,
            "index smsc id",
            INDEX_SMSC_KEY,
            params![connector.as_str(), key, id_blob(id), segment],
        )
        .map(drop)
    }

    fn lookup_smsc_key(
        &mut self,
        connector: &ConnectorId,
        key: &str,
    ) -> Result<Option<(MessageId, u8)>, StoreError> {
        let row: Option<(Vec<u8>, u8)> = self
            .conn
            .prepare_cached(LOOKUP_SMSC_KEY)
            .and_then(|mut s| {
                s.query_row(params![connector.as_str(), key], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
            })
            .map_err(rd("look up smsc id"))?;
        row.map(|(blob, idx)| Ok((id_from(&blob, "smsc_keys.message_id")?, idx)))
            .transpose()
    }

    fn park(&mut self, receipt: &ReceiptUpdate, keys: &[String]) -> Result<(), StoreError> {
        exec(
            self.conn,
            "park receipt",
            "INSERT INTO parked_receipts (connector, protocol_id, text_id, state, detail, \
             error_code, error_message, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                receipt.connector.as_str(),
                receipt.protocol_id,
                receipt.text_id,
                receipt.state.to_u8(),
                receipt.detail,
                receipt.error.as_ref().map(|e| e.code.as_str()),
                receipt.error.as_ref().map(|e| e.message.as_str()),
                int(receipt.at_ms),
            ],
        )?;
        let parked = self.conn.last_insert_rowid();
        self.any_parked = Some(true);
        for key in keys {
            exec(
                self.conn,
                "park receipt",
                "INSERT OR IGNORE INTO parked_keys (connector, key, parked_id) VALUES (?1, ?2, ?3)",
                params![receipt.connector.as_str(), key, parked],
            )?;
        }
        Ok(())
    }

    fn take_parked(
        &mut self,
        connector: &ConnectorId,
        keys: &[String],
    ) -> Result<Vec<ReceiptUpdate>, StoreError> {
        let any = match self.any_parked {
            Some(any) => any,
            None => {
                let any = self
                    .conn
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM parked_keys)")
                    .and_then(|mut s| s.query_row([], |r| r.get::<_, bool>(0)))
                    .map_err(rd("find parked receipts"))?;
                self.any_parked = Some(any);
                any
            }
        };
        if !any {
            return Ok(Vec::new());
        }
        let mut ids = BTreeSet::new();
        {
            let mut s = self
                .conn
                .prepare_cached(
                    "SELECT parked_id FROM parked_keys WHERE connector = ?1 AND key = ?2",
                )
                .map_err(rd("find parked receipts"))?;
            for key in keys {
                let found = s
                    .query_map(params![connector.as_str(), key], |r| r.get::<_, i64>(0))
                    .map_err(rd("find parked receipts"))?;
                for id in found {
                    ids.insert(id.map_err(rd("find parked receipts"))?);
                }
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for parked in ids {
            let row = self
                .conn
                .prepare_cached(
                    "SELECT connector, protocol_id, text_id, state, detail, error_code, \
                     error_message, at_ms FROM parked_receipts WHERE id = ?1",
                )
                .and_then(|mut s| {
                    s.query_row([parked], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, Option<String>>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, u8>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, Option<String>>(5)?,
                            r.get::<_, Option<String>>(6)?,
                            r.get::<_, i64>(7)?,
                        ))
                    })
                    .optional()
                })
                .map_err(rd("read parked receipt"))?;
            exec(
                self.conn,
                "unpark receipt",
                "DELETE FROM parked_keys WHERE parked_id = ?1",
                [parked],
            )?;
            exec(
                self.conn,
                "unpark receipt",
                "DELETE FROM parked_receipts WHERE id = ?1",
                [parked],
            )?;
            if let Some((conn, protocol_id, text_id, state, detail, code, message, at)) = row {
                out.push(ReceiptUpdate {
                    connector: connector_from(&conn, "parked_receipts.connector")?,
                    protocol_id,
                    text_id,
                    state: MessageState::from_u8(state),
                    detail,
                    error: error_info(code, message),
                    at_ms: uint(at, "parked_receipts.at_ms")?,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        conn
    }

    /// Column `col` of every row of `EXPLAIN [QUERY PLAN] sql` (parameters unbound: NULL).
    fn explain(conn: &Connection, prefix: &str, sql: &str, col: usize) -> Vec<String> {
        let mut s = conn.prepare(&format!("{prefix} {sql}")).unwrap();
        let mut rows = s.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            out.push(r.get::<_, String>(col).unwrap());
        }
        out
    }

    /// The opcodes SQLite compiles `sql` to.
    fn opcodes(conn: &Connection, sql: &str) -> Vec<String> {
        explain(conn, "EXPLAIN", sql, 1)
    }

    #[test]
    fn hot_statements_use_no_temporary_table_and_no_scan() {
        let conn = migrated();
        for sql in HOT_STATEMENTS {
            let ops = opcodes(&conn, sql);
            assert!(
                !ops.iter()
                    .any(|o| o == "OpenEphemeral" || o == "SorterOpen"),
                "{sql} needs a temporary table: {ops:?}"
            );
            let plan = explain(&conn, "EXPLAIN QUERY PLAN", sql, 3);
            assert!(
                !plan.iter().any(|p| p.starts_with("SCAN")),
                "{sql} scans: {plan:?}"
            );
        }
    }

    #[test]
    fn overdue_messages_are_found_through_the_partial_index() {
        let conn = migrated();
        let plan = explain(&conn, "EXPLAIN QUERY PLAN", FIND_OVERDUE, 3);
        assert!(
            plan.iter()
                .any(|p| p.contains("USING INDEX messages_expiry")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");
    }

    #[test]
    fn insert_select_from_the_same_table_would_need_a_temporary_table() {
        // The check above can fail: the form INSERT_EVENT replaced is caught by it.
        let conn = migrated();
        let ops = opcodes(
            &conn,
            "INSERT INTO events (message_id, seq, status, at_ms, detail) \
             SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4 FROM events WHERE message_id = ?1",
        );
        assert!(ops.iter().any(|o| o == "OpenEphemeral"));
    }
}
