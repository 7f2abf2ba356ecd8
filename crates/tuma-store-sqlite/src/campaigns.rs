//! The SQLite backend's [`CampaignStore`]: contact lists, recipients, campaigns, tracked
//! links and clicks (migration 0005).
//!
//! Writes go through the writer thread like every other write (none touches what its cache
//! mirrors, so they use [`crate::writer::Writer::write`]); reads run on the read pool.
//! Campaign messages themselves are ordinary messages (`sql::insert_messages` stores their
//! reference); [`CampaignStore::campaign_messages`] reads them back through the partial
//! index `messages_campaign`.
//!
//! The bulk paths are built for a million-row import and a million-message campaign:
//! - `insert_recipients` encodes the rows (values as a JSON array) in the caller's task,
//!   then the writer inserts them with multi-row `INSERT`s of up to [`BULK_CHUNKS`]`[0]`
//!   rows (cached statements), all in the call's one savepoint or transaction, and adds
//!   their seqs to `recipient_groups` (a few rows per call; see migration 0005);
//! - `insert_links` likewise;
//! - `recipients` and `campaign_messages` read each page through index range scans, never
//!   a full scan (the tests check the query plans): the primary key of `recipients`, the
//!   range of one offset's `recipient_groups` buckets, the partial index
//!   `messages_campaign`.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use tuma_domain::{MessageStatus, SenderId};
use tuma_store::campaigns::{
    CampaignId, CampaignMessage, CampaignRecord, CampaignStatus, CampaignStore, ClickRecord,
    ClickTotals, GroupCursor, ImportTotals, LinkRecord, ListId, ListRecord, ListStatus,
    NewCampaign, NewList, NewRecipient, RecipientRecord, WindowSpec,
};
use tuma_store::{AccountId, StoreError};

use crate::sql::{
    backend, deferred_submit, id_blob, id_from, int, is_unique_violation, may_defer,
    message_status, msisdn_from, multi_row_sql_cached, parse_event_log, uint,
};
use crate::{collect, limit, SqliteStore};

/// Rows per multi-row statement of the bulk inserts (recipients, links): calls are cut into
/// chunks of these sizes, so each statement has at most five forms in the statement cache.
/// 256 rows of 5 or 6 parameters stay far below SQLite's 32,766 parameters per statement;
/// larger chunks measured no faster.
pub(crate) const BULK_CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];

/// The columns [`list_row`] reads, in order.
const LIST_COLUMNS: &str = "id, account_id, name, columns, status, rows_read, accepted, \
     rejected, duplicates, offsets, created_at_ms";

/// The columns [`campaign_row`] reads, in order.
const CAMPAIGN_COLUMNS: &str = "id, account_id, name, list_id, sender, template, track_links, \
     link_base, send_at_ms, window_start_min, window_end_min, window_offset_min, rate, status, \
     cursors, created_at_ms, updated_at_ms";

const LINK_COLUMNS: &str = "code, account_id, campaign_id, seq, target, created_at_ms";

const INSERT_RECIPIENTS_HEAD: &str =
    "INSERT INTO recipients (list_id, seq, line, number, utc_offset_min, vals) VALUES ";
/// One recipient's row in a multi-row insert: the list is `?1`, bound once per statement.
const RECIPIENT_TUPLE: &str = "(?1, ?, ?, ?, ?, ?)";
/// Parameters per recipient (after `?1`).
const RECIPIENT_WIDTH: usize = 5;

/// A seq is `bucket << GROUP_BITS | low` in `recipient_groups` (see migration 0005).
const GROUP_BITS: u32 = 12;
const GROUP_LOW: i64 = (1 << GROUP_BITS) - 1;

const READ_GROUP: &str = "SELECT seqs FROM recipient_groups \
     WHERE list_id = ?1 AND utc_offset_min = ?2 AND bucket = ?3";
const WRITE_GROUP: &str = "INSERT OR REPLACE INTO recipient_groups \
     (list_id, utc_offset_min, bucket, seqs) VALUES (?1, ?2, ?3, ?4)";

/// One offset's buckets from the one holding `after_seq`, by bucket: a range scan of the
/// primary key of `recipient_groups`.
pub(crate) const GROUP_PAGE: &str = "SELECT bucket, seqs FROM recipient_groups \
     WHERE list_id = ?1 AND utc_offset_min = ?2 AND bucket >= ?3 ORDER BY bucket";

/// One recipient by its primary key.
pub(crate) const RECIPIENT_BY_SEQ: &str =
    "SELECT seq, line, number, utc_offset_min, vals FROM recipients \
     WHERE list_id = ?1 AND seq = ?2";

/// One offset's recipients in a seq range: a range scan of the primary key, for a page
/// whose recipients are at least a quarter of the range (see [`offset_page`]).
pub(crate) const RECIPIENTS_OFFSET_RANGE: &str =
    "SELECT seq, line, number, utc_offset_min, vals FROM recipients \
     WHERE list_id = ?1 AND seq >= ?2 AND seq <= ?3 AND utc_offset_min = ?4 ORDER BY seq";

const INSERT_LINKS_HEAD: &str =
    "INSERT INTO links (code, account_id, campaign_id, seq, target, created_at_ms) VALUES ";
const LINK_WIDTH: usize = 6;

/// A page of a list's recipients by `seq`: a range scan of the primary key.
pub(crate) const RECIPIENTS_PAGE: &str =
    "SELECT seq, line, number, utc_offset_min, vals FROM recipients \
     WHERE list_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";

/// A page of a campaign's messages by `seq`: a range scan of the partial index
/// `messages_campaign` (`campaign_id = ?1` implies its condition). `seg0_status` tells
/// whether a row may have a deferred submit (migration 0006), looked up only then.
pub(crate) const CAMPAIGN_MESSAGES_PAGE: &str =
    "SELECT campaign_seq, id, recipient, status, segment_count, error_code, created_at_ms, \
     initial_status, event_log, seg0_status FROM messages \
     WHERE campaign_id = ?1 AND campaign_seq > ?2 ORDER BY campaign_seq LIMIT ?3";

/// Clicks in all and recipients who clicked: one pass over the campaign's range of
/// `clicks_campaign`, grouped in index order (no temporary table, unlike `COUNT(DISTINCT)`).
pub(crate) const CLICK_TOTALS: &str = "SELECT COALESCE(SUM(n), 0), COUNT(*) FROM \
     (SELECT COUNT(*) AS n FROM clicks WHERE campaign_id = ?1 GROUP BY seq)";

/// Clicks per recipient, by `seq`: a range scan of `clicks_campaign`.
pub(crate) const CLICKS_BY_RECIPIENT: &str = "SELECT seq, COUNT(*) FROM clicks \
     WHERE campaign_id = ?1 AND seq > ?2 GROUP BY seq ORDER BY seq LIMIT ?3";

// ---------------------------------------------------------------------------------------------
// Encodings (JSON in one TEXT column, see migration 0005)

fn encode<T: serde::Serialize + ?Sized>(
    value: &T,
    what: &'static str,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend {
        operation: what,
        message: e.to_string(),
    })
}

fn decode<T: serde::de::DeserializeOwned>(text: &str, what: &'static str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what,
        detail: format!("{e} in {text:?}"),
    })
}

/// A cursor as stored: `[utc_offset_min or null, last_seq, done]`.
type StoredCursor = (Option<i16>, u64, bool);

fn encode_cursors(cursors: &[GroupCursor]) -> Result<String, StoreError> {
    let stored: Vec<StoredCursor> = cursors
        .iter()
        .map(|c| (c.utc_offset_min, c.last_seq, c.done))
        .collect();
    encode(&stored, "encode campaign cursors")
}

fn decode_cursors(text: &str) -> Result<Vec<GroupCursor>, StoreError> {
    let stored: Vec<StoredCursor> = decode(text, "campaigns.cursors")?;
    Ok(stored
        .into_iter()
        .map(|(utc_offset_min, last_seq, done)| GroupCursor {
            utc_offset_min,
            last_seq,
            done,
        })
        .collect())
}

/// A stored integer that must fit a narrower type.
fn narrow<T: TryFrom<i64>>(v: i64, what: &'static str) -> Result<T, StoreError> {
    T::try_from(v).map_err(|_| StoreError::Corrupt {
        what,
        detail: format!("{v} is out of range"),
    })
}

// ---------------------------------------------------------------------------------------------
// Rows

fn list_row(r: &Row<'_>) -> Result<ListRecord, StoreError> {
    let get = backend("read list");
    let columns: String = r.get(3).map_err(&get)?;
    let status: String = r.get(4).map_err(&get)?;
    let offsets: String = r.get(9).map_err(&get)?;
    Ok(ListRecord {
        id: ListId(uint(r.get(0).map_err(&get)?, "lists.id")?),
        account: AccountId(uint(r.get(1).map_err(&get)?, "lists.account_id")?),
        name: r.get(2).map_err(&get)?,
        columns: decode(&columns, "lists.columns")?,
        status: ListStatus::from_name(&status).ok_or_else(|| StoreError::Corrupt {
            what: "lists.status",
            detail: format!("unknown status {status:?}"),
        })?,
        totals: ImportTotals {
            rows: uint(r.get(5).map_err(&get)?, "lists.rows_read")?,
            accepted: uint(r.get(6).map_err(&get)?, "lists.accepted")?,
            rejected: uint(r.get(7).map_err(&get)?, "lists.rejected")?,
            duplicates: uint(r.get(8).map_err(&get)?, "lists.duplicates")?,
        },
        offsets: decode(&offsets, "lists.offsets")?,
        created_at_ms: uint(r.get(10).map_err(&get)?, "lists.created_at_ms")?,
    })
}

fn campaign_row(r: &Row<'_>) -> Result<CampaignRecord, StoreError> {
    let get = backend("read campaign");
    let sender: String = r.get(4).map_err(&get)?;
    let track_links: i64 = r.get(6).map_err(&get)?;
    let window = match (
        r.get::<_, Option<i64>>(9).map_err(&get)?,
        r.get::<_, Option<i64>>(10).map_err(&get)?,
        r.get::<_, Option<i64>>(11).map_err(&get)?,
    ) {
        (None, None, None) => None,
        (Some(start), Some(end), offset) => Some(WindowSpec {
            start_min: narrow(start, "campaigns.window_start_min")?,
            end_min: narrow(end, "campaigns.window_end_min")?,
            utc_offset_min: offset
                .map(|o| narrow(o, "campaigns.window_offset_min"))
                .transpose()?,
        }),
        (start, end, _) => {
            return Err(StoreError::Corrupt {
                what: "campaigns.window_start_min",
                detail: format!("window start {start:?} with end {end:?}: both or neither"),
            })
        }
    };
    let status: String = r.get(13).map_err(&get)?;
    let cursors: String = r.get(14).map_err(&get)?;
    Ok(CampaignRecord {
        id: CampaignId(uint(r.get(0).map_err(&get)?, "campaigns.id")?),
        account: AccountId(uint(r.get(1).map_err(&get)?, "campaigns.account_id")?),
        name: r.get(2).map_err(&get)?,
        list: ListId(uint(r.get(3).map_err(&get)?, "campaigns.list_id")?),
        from: SenderId::parse(&sender).map_err(|e| StoreError::Corrupt {
            what: "campaigns.sender",
            detail: e.to_string(),
        })?,
        template: r.get(5).map_err(&get)?,
        track_links: track_links != 0,
        link_base: r.get(7).map_err(&get)?,
        send_at_ms: r
            .get::<_, Option<i64>>(8)
            .map_err(&get)?
            .map(|v| uint(v, "campaigns.send_at_ms"))
            .transpose()?,
        window,
        rate: r
            .get::<_, Option<i64>>(12)
            .map_err(&get)?
            .map(|v| narrow(v, "campaigns.rate"))
            .transpose()?,
        status: CampaignStatus::from_name(&status).ok_or_else(|| StoreError::Corrupt {
            what: "campaigns.status",
            detail: format!("unknown status {status:?}"),
        })?,
        cursors: decode_cursors(&cursors)?,
        created_at_ms: uint(r.get(15).map_err(&get)?, "campaigns.created_at_ms")?,
        updated_at_ms: uint(r.get(16).map_err(&get)?, "campaigns.updated_at_ms")?,
    })
}

fn recipient_row(r: &Row<'_>) -> Result<RecipientRecord, StoreError> {
    let get = backend("read recipients");
    let vals: String = r.get(4).map_err(&get)?;
    Ok(RecipientRecord {
        seq: uint(r.get(0).map_err(&get)?, "recipients.seq")?,
        line: uint(r.get(1).map_err(&get)?, "recipients.line")?,
        to: msisdn_from(r.get(2).map_err(&get)?, "recipients.number")?,
        utc_offset_min: narrow(r.get(3).map_err(&get)?, "recipients.utc_offset_min")?,
        values: decode(&vals, "recipients.vals")?,
    })
}

fn link_row(r: &Row<'_>) -> Result<LinkRecord, StoreError> {
    let get = backend("read link");
    Ok(LinkRecord {
        code: r.get(0).map_err(&get)?,
        account: AccountId(uint(r.get(1).map_err(&get)?, "links.account_id")?),
        campaign: CampaignId(uint(r.get(2).map_err(&get)?, "links.campaign_id")?),
        seq: uint(r.get(3).map_err(&get)?, "links.seq")?,
        target: r.get(4).map_err(&get)?,
        created_at_ms: uint(r.get(5).map_err(&get)?, "links.created_at_ms")?,
    })
}

fn load_list(conn: &Connection, id: ListId) -> Result<Option<ListRecord>, StoreError> {
    let mut s = conn
        .prepare_cached(&format!("SELECT {LIST_COLUMNS} FROM lists WHERE id = ?1"))
        .map_err(backend("read list"))?;
    Ok(collect(&mut s, [int(id.0)], "read list", list_row)?
        .into_iter()
        .next())
}

fn load_campaign(conn: &Connection, id: CampaignId) -> Result<Option<CampaignRecord>, StoreError> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ?1"
        ))
        .map_err(backend("read campaign"))?;
    Ok(collect(&mut s, [int(id.0)], "read campaign", campaign_row)?
        .into_iter()
        .next())
}

// ---------------------------------------------------------------------------------------------
// Bulk inserts

/// Cuts `total` rows into chunks of [`BULK_CHUNKS`] sizes and runs `insert` on each
/// (its rows' range). On failure: rusqlite's error and the rows of the failed chunk (the
/// chunks before it are in; the job's savepoint or transaction undoes them).
fn in_chunks(
    total: usize,
    mut insert: impl FnMut(Range<usize>) -> rusqlite::Result<()>,
) -> Result<(), (rusqlite::Error, Range<usize>)> {
    let mut done = 0;
    while done < total {
        let left = total - done;
        let rows = BULK_CHUNKS
            .iter()
            .copied()
            .find(|&c| c <= left)
            .unwrap_or(1);
        let chunk = done..done + rows;
        insert(chunk.clone()).map_err(|e| (e, chunk))?;
        done += rows;
    }
    Ok(())
}

/// The multi-row recipient insert for `rows` rows (one of [`BULK_CHUNKS`]), built once.
fn recipients_insert_sql(rows: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        BULK_CHUNKS
            .iter()
            .map(|&n| {
                let mut sql = String::from(INSERT_RECIPIENTS_HEAD);
                for i in 0..n {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(RECIPIENT_TUPLE);
                }
                sql
            })
            .collect()
    });
    BULK_CHUNKS
        .iter()
        .position(|&n| n == rows)
        .and_then(|i| all.get(i))
        .map_or("", String::as_str)
}

/// The first key of `keys` taken twice in the call, else the first key of `failed` (the
/// failed chunk, whose statement was undone) that `stored` finds in the database: which
/// value made a bulk insert fail, for its error.
fn taken_key<K: Eq + std::hash::Hash + Clone>(
    keys: &[K],
    failed: Range<usize>,
    mut stored: impl FnMut(&K) -> Result<bool, StoreError>,
) -> Result<Option<K>, StoreError> {
    let mut seen = HashSet::with_capacity(keys.len());
    if let Some(twice) = keys.iter().find(|k| !seen.insert(*k)) {
        return Ok(Some(twice.clone()));
    }
    for k in keys.get(failed).unwrap_or_default() {
        if stored(k)? {
            return Ok(Some(k.clone()));
        }
    }
    Ok(None)
}

/// One recipient row, encoded in the caller's task (the writer thread is the bottleneck).
struct RecipientParams {
    seq: i64,
    line: i64,
    number: i64,
    utc_offset_min: i64,
    vals: String,
}

fn insert_recipient_rows(
    conn: &Connection,
    list: ListId,
    rows: &[RecipientParams],
) -> Result<(), StoreError> {
    let status: Option<String> = conn
        .prepare_cached("SELECT status FROM lists WHERE id = ?1")
        .and_then(|mut s| s.query_row([int(list.0)], |r| r.get(0)).optional())
        .map_err(backend("insert recipients"))?;
    match status.as_deref() {
        None => {
            return Err(StoreError::NotFound {
                what: "list",
                value: list.to_string(),
            })
        }
        Some(s) if s != ListStatus::Importing.as_str() => {
            // Its totals and offsets are final: adding to it would make them wrong.
            return Err(StoreError::NotFound {
                what: "importing list",
                value: list.to_string(),
            });
        }
        Some(_) => {}
    }
    let list_id = int(list.0);
    let mut p: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(1 + BULK_CHUNKS[0] * RECIPIENT_WIDTH);
    let inserted = in_chunks(rows.len(), |chunk| {
        p.clear();
        p.push(&list_id);
        for r in rows.get(chunk.clone()).unwrap_or_default() {
            p.extend([
                &r.seq as &dyn rusqlite::ToSql,
                &r.line,
                &r.number,
                &r.utc_offset_min,
                &r.vals,
            ]);
        }
        conn.prepare_cached(recipients_insert_sql(chunk.len()))?
            .execute(&p[..])
            .map(drop)
    });
    let Err((e, failed)) = inserted else {
        return add_to_groups(conn, list_id, rows);
    };
    if !is_unique_violation(&e) {
        return Err(backend("insert recipients")(e));
    }
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let taken = taken_key(&seqs, failed, |seq| {
        conn.prepare_cached("SELECT 1 FROM recipients WHERE list_id = ?1 AND seq = ?2")
            .and_then(|mut s| s.exists(params![list_id, seq]))
            .map_err(backend("insert recipients"))
    })?;
    Err(StoreError::AlreadyExists {
        what: "recipient seq",
        value: match taken {
            Some(seq) => format!("{seq} in list {list}"),
            None => format!("one of this call's in list {list}"),
        },
    })
}

/// Adds the seqs of newly inserted recipients to their offsets' buckets in
/// `recipient_groups` (read, append, write: a few buckets per call).
fn add_to_groups(
    conn: &Connection,
    list_id: i64,
    rows: &[RecipientParams],
) -> Result<(), StoreError> {
    let op = "insert recipients";
    let mut groups: BTreeMap<(i64, i64), Vec<u8>> = BTreeMap::new();
    for r in rows {
        // Seqs are not negative (`int` saturates), so the low bits fit 12 bits.
        let low = (r.seq & GROUP_LOW) as u16;
        groups
            .entry((r.utc_offset_min, r.seq >> GROUP_BITS))
            .or_default()
            .extend_from_slice(&low.to_le_bytes());
    }
    let mut read = conn.prepare_cached(READ_GROUP).map_err(backend(op))?;
    let mut write = conn.prepare_cached(WRITE_GROUP).map_err(backend(op))?;
    for ((offset, bucket), added) in groups {
        let stored: Option<Vec<u8>> = read
            .query_row(params![list_id, offset, bucket], |r| r.get(0))
            .optional()
            .map_err(backend(op))?;
        let seqs = match stored {
            Some(mut seqs) => {
                seqs.extend_from_slice(&added);
                seqs
            }
            None => added,
        };
        write
            .execute(params![list_id, offset, bucket, seqs])
            .map_err(backend(op))?;
    }
    Ok(())
}

/// Up to `limit_n` recipients of `list` at `offset` with `seq > after_seq`, by seq: their
/// seqs from `recipient_groups` (a range scan from the bucket of `after_seq`, stopping at
/// the first bucket that fills the page), then their rows through the primary key: one
/// range scan when they are at least a quarter of their seq range (an offset most of the
/// list has), else one lookup each.
fn offset_page(
    conn: &Connection,
    list: ListId,
    offset: i16,
    after_seq: u64,
    limit_n: usize,
) -> Result<Vec<RecipientRecord>, StoreError> {
    let op = "read recipients";
    if limit_n == 0 {
        return Ok(Vec::new());
    }
    let mut seqs: Vec<u64> = Vec::new();
    {
        let mut s = conn.prepare_cached(GROUP_PAGE).map_err(backend(op))?;
        let mut rows = s
            .query(params![int(list.0), offset, int(after_seq >> GROUP_BITS)])
            .map_err(backend(op))?;
        let mut bucket_seqs: Vec<u64> = Vec::new();
        while let Some(r) = rows.next().map_err(backend(op))? {
            let base =
                uint(r.get(0).map_err(backend(op))?, "recipient_groups.bucket")? << GROUP_BITS;
            let blob = r
                .get_ref(1)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(backend(op))?;
            if blob.len() % 2 != 0 {
                return Err(StoreError::Corrupt {
                    what: "recipient_groups.seqs",
                    detail: format!("{} bytes, expected pairs", blob.len()),
                });
            }
            bucket_seqs.clear();
            bucket_seqs.extend(
                blob.chunks_exact(2)
                    .map(|b| base | u64::from(u16::from_le_bytes([b[0], b[1]])))
                    .filter(|&seq| seq > after_seq),
            );
            // In insertion order: sorted unless calls came out of seq order.
            bucket_seqs.sort_unstable();
            let room = limit_n - seqs.len();
            seqs.extend(bucket_seqs.iter().take(room));
            if seqs.len() == limit_n {
                break;
            }
        }
    }
    let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) else {
        return Ok(Vec::new());
    };
    let out = if (seqs.len() as u64).saturating_mul(4) > last - first {
        // Every recipient of the offset in [first, last] is in `seqs` (they are the
        // offset's next ones in order).
        let mut s = conn
            .prepare_cached(RECIPIENTS_OFFSET_RANGE)
            .map_err(backend(op))?;
        collect(
            &mut s,
            params![int(list.0), int(first), int(last), offset],
            op,
            recipient_row,
        )?
    } else {
        let mut s = conn.prepare_cached(RECIPIENT_BY_SEQ).map_err(backend(op))?;
        let mut out = Vec::with_capacity(seqs.len());
        for &seq in &seqs {
            out.extend(collect(
                &mut s,
                params![int(list.0), int(seq)],
                op,
                recipient_row,
            )?);
        }
        out
    };
    if out.len() != seqs.len() || out.iter().zip(&seqs).any(|(r, &seq)| r.seq != seq) {
        return Err(StoreError::Corrupt {
            what: "recipient_groups.seqs",
            detail: format!(
                "list {list} offset {offset}: {} seqs listed after {after_seq}, {} rows found",
                seqs.len(),
                out.len()
            ),
        });
    }
    Ok(out)
}

fn insert_link_rows(conn: &Connection, links: &[LinkRecord]) -> Result<(), StoreError> {
    let ints: Vec<[i64; 4]> = links
        .iter()
        .map(|l| {
            [
                int(l.account.0),
                int(l.campaign.0),
                int(l.seq),
                int(l.created_at_ms),
            ]
        })
        .collect();
    let mut p: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(links.len() * LINK_WIDTH);
    for (l, n) in links.iter().zip(&ints) {
        p.extend([
            &l.code as &dyn rusqlite::ToSql,
            &n[0],
            &n[1],
            &n[2],
            &l.target,
            &n[3],
        ]);
    }
    let inserted = in_chunks(links.len(), |chunk| {
        let sql = multi_row_sql_cached(INSERT_LINKS_HEAD, LINK_WIDTH, chunk.len(), "");
        let params = p
            .get(chunk.start * LINK_WIDTH..chunk.end * LINK_WIDTH)
            .unwrap_or_default();
        conn.prepare_cached(&sql)?.execute(params).map(drop)
    });
    let Err((e, failed)) = inserted else {
        return Ok(());
    };
    if !is_unique_violation(&e) {
        return Err(backend("insert links")(e));
    }
    let codes: Vec<&str> = links.iter().map(|l| l.code.as_str()).collect();
    let taken = taken_key(&codes, failed, |code| {
        conn.prepare_cached("SELECT 1 FROM links WHERE code = ?1")
            .and_then(|mut s| s.exists([code]))
            .map_err(backend("insert links"))
    })?;
    Err(StoreError::AlreadyExists {
        what: "link code",
        value: taken.unwrap_or("(one of this call's)").to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Campaign messages

/// Whether the `events` table (rows written before migration 0003) has any row: campaign
/// messages are newer and never have one, so a page reads it only if someone does.
fn old_events_exist(conn: &Connection) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM events)")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(backend("read campaign messages"))
}

fn campaign_messages_page(
    conn: &Connection,
    campaign: CampaignId,
    after_seq: u64,
    limit_n: usize,
) -> Result<Vec<CampaignMessage>, StoreError> {
    let op = "read campaign messages";
    let with_old_events = old_events_exist(conn)?;
    let mut s = conn
        .prepare_cached(CAMPAIGN_MESSAGES_PAGE)
        .map_err(backend(op))?;
    let mut rows = s
        .query(params![int(campaign.0), int(after_seq), limit(limit_n)])
        .map_err(backend(op))?;
    let mut out = Vec::new();
    // (status, at) of each event of one message, in order; reused.
    let mut events: Vec<(MessageStatus, u64)> = Vec::new();
    while let Some(r) = rows.next().map_err(backend(op))? {
        let get = backend(op);
        let blob: Vec<u8> = r.get(1).map_err(&get)?;
        let id = id_from(&blob, "messages.id")?;
        let status_name: String = r.get(3).map_err(&get)?;
        let mut status = message_status(&status_name, "messages.status")?;
        let segments: u8 = r.get(4).map_err(&get)?;
        let seg0: Option<String> = r.get(9).map_err(&get)?;
        let deferred = if may_defer(&status_name, segments, seg0.as_deref()) {
            deferred_submit(conn, &id_blob(id))?
        } else {
            None
        };
        let created_at_ms = uint(r.get(6).map_err(&get)?, "messages.created_at_ms")?;
        let initial: String = r.get(7).map_err(&get)?;
        let log: Option<String> = r.get(8).map_err(&get)?;
        events.clear();
        events.push((
            message_status(&initial, "messages.initial_status")?,
            created_at_ms,
        ));
        if with_old_events {
            let mut e = conn
                .prepare_cached(
                    "SELECT status, at_ms FROM events WHERE message_id = ?1 ORDER BY seq",
                )
                .map_err(backend(op))?;
            let mut found = e.query([&blob]).map_err(backend(op))?;
            while let Some(ev) = found.next().map_err(backend(op))? {
                let name: String = ev.get(0).map_err(backend(op))?;
                events.push((
                    message_status(&name, "events.status")?,
                    uint(ev.get(1).map_err(backend(op))?, "events.at_ms")?,
                ));
            }
        }
        if let Some(log) = &log {
            events.extend(
                parse_event_log(log)?
                    .into_iter()
                    .map(|(_, e)| (e.status, e.at_ms)),
            );
        }
        if let Some((at, _)) = deferred {
            status = MessageStatus::Submitted;
            events.push((status, at));
        }
        let (submitted_at_ms, finished_at_ms) =
            tuma_store::campaigns::message_times(events.iter().copied(), status);
        out.push(CampaignMessage {
            seq: uint(r.get(0).map_err(&get)?, "messages.campaign_seq")?,
            id,
            to: msisdn_from(r.get(2).map_err(&get)?, "messages.recipient")?,
            status,
            segments,
            error_code: r.get(5).map_err(&get)?,
            created_at_ms,
            submitted_at_ms,
            finished_at_ms,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The port

#[async_trait]
impl CampaignStore for SqliteStore {
    async fn create_list(&self, list: NewList) -> Result<ListRecord, StoreError> {
        let columns = encode(&list.columns, "encode list columns")?;
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO lists (account_id, name, columns, status, created_at_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        int(list.account.0),
                        list.name,
                        columns,
                        ListStatus::Importing.as_str(),
                        int(list.created_at_ms),
                    ])
                })
                .map_err(backend("create list"))?;
                Ok(ListRecord {
                    id: ListId(uint(c.last_insert_rowid(), "lists.id")?),
                    account: list.account,
                    name: list.name,
                    columns: list.columns,
                    status: ListStatus::Importing,
                    totals: ImportTotals::default(),
                    offsets: Vec::new(),
                    created_at_ms: list.created_at_ms,
                })
            })
            .await
    }

    async fn insert_recipients(
        &self,
        list: ListId,
        recipients: Vec<NewRecipient>,
    ) -> Result<(), StoreError> {
        let rows = recipients
            .iter()
            .map(|r| {
                Ok(RecipientParams {
                    seq: int(r.seq),
                    line: int(r.line),
                    number: int(r.to.as_u64()),
                    utc_offset_min: i64::from(r.utc_offset_min),
                    vals: encode(&r.values, "encode recipient values")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        drop(recipients);
        self.writer
            .write(move |c| insert_recipient_rows(c, list, &rows))
            .await
    }

    async fn finish_list(
        &self,
        list: ListId,
        totals: ImportTotals,
        offsets: Vec<(i16, u64)>,
    ) -> Result<ListRecord, StoreError> {
        let encoded = encode(&offsets, "encode list offsets")?;
        self.writer
            .write(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "UPDATE lists SET status = ?2, rows_read = ?3, accepted = ?4, \
                         rejected = ?5, duplicates = ?6, offsets = ?7 WHERE id = ?1 \
                         RETURNING {LIST_COLUMNS}"
                    ))
                    .map_err(backend("finish list"))?;
                collect(
                    &mut s,
                    params![
                        int(list.0),
                        ListStatus::Ready.as_str(),
                        int(totals.rows),
                        int(totals.accepted),
                        int(totals.rejected),
                        int(totals.duplicates),
                        encoded,
                    ],
                    "finish list",
                    list_row,
                )?
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::NotFound {
                    what: "list",
                    value: list.to_string(),
                })
            })
            .await
    }

    async fn delete_list(&self, list: ListId) -> Result<bool, StoreError> {
        self.writer
            .write(move |c| {
                for sql in [
                    "DELETE FROM recipients WHERE list_id = ?1",
                    "DELETE FROM recipient_groups WHERE list_id = ?1",
                ] {
                    c.prepare_cached(sql)
                        .and_then(|mut s| s.execute([int(list.0)]))
                        .map_err(backend("delete list"))?;
                }
                c.prepare_cached("DELETE FROM lists WHERE id = ?1")
                    .and_then(|mut s| s.execute([int(list.0)]))
                    .map(|n| n > 0)
                    .map_err(backend("delete list"))
            })
            .await
    }

    async fn get_list(&self, list: ListId) -> Result<Option<ListRecord>, StoreError> {
        self.readers.read(move |c| load_list(c, list)).await
    }

    async fn list_lists(
        &self,
        account: AccountId,
        before: Option<ListId>,
        limit_n: usize,
    ) -> Result<Vec<ListRecord>, StoreError> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {LIST_COLUMNS} FROM lists WHERE account_id = ?1 AND id < ?2 \
                         ORDER BY id DESC LIMIT ?3"
                    ))
                    .map_err(backend("list lists"))?;
                collect(
                    &mut s,
                    params![
                        int(account.0),
                        before.map_or(i64::MAX, |b| int(b.0)),
                        limit(limit_n)
                    ],
                    "list lists",
                    list_row,
                )
            })
            .await
    }

    async fn lists_with_status(&self, status: ListStatus) -> Result<Vec<ListRecord>, StoreError> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {LIST_COLUMNS} FROM lists WHERE status = ?1 ORDER BY id"
                    ))
                    .map_err(backend("list lists"))?;
                collect(&mut s, [status.as_str()], "list lists", list_row)
            })
            .await
    }

    async fn recipients(
        &self,
        list: ListId,
        utc_offset_min: Option<i16>,
        after_seq: u64,
        limit_n: usize,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        self.readers
            .read(move |c| {
                let op = "read recipients";
                match utc_offset_min {
                    None => {
                        let mut s = c.prepare_cached(RECIPIENTS_PAGE).map_err(backend(op))?;
                        collect(
                            &mut s,
                            params![int(list.0), int(after_seq), limit(limit_n)],
                            op,
                            recipient_row,
                        )
                    }
                    Some(offset) => offset_page(c, list, offset, after_seq, limit_n),
                }
            })
            .await
    }

    async fn create_campaign(&self, campaign: NewCampaign) -> Result<CampaignRecord, StoreError> {
        let cursors = encode_cursors(&campaign.cursors)?;
        self.writer
            .write(move |c| {
                let owner: Option<i64> = c
                    .prepare_cached("SELECT account_id FROM lists WHERE id = ?1")
                    .and_then(|mut s| s.query_row([int(campaign.list.0)], |r| r.get(0)).optional())
                    .map_err(backend("create campaign"))?;
                // Another account's list is not this account's to use: as unknown.
                if owner != Some(int(campaign.account.0)) {
                    return Err(StoreError::NotFound {
                        what: "list",
                        value: campaign.list.to_string(),
                    });
                }
                let w = campaign.window;
                c.prepare_cached(
                    "INSERT INTO campaigns (account_id, name, list_id, sender, template, \
                     track_links, link_base, send_at_ms, window_start_min, window_end_min, \
                     window_offset_min, rate, status, cursors, created_at_ms, updated_at_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
                     ?15)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        int(campaign.account.0),
                        campaign.name,
                        int(campaign.list.0),
                        // The form `SenderId::parse` reads back (`+` for numbers).
                        campaign.from.to_string(),
                        campaign.template,
                        campaign.track_links,
                        campaign.link_base,
                        campaign.send_at_ms.map(int),
                        w.map(|w| w.start_min),
                        w.map(|w| w.end_min),
                        w.and_then(|w| w.utc_offset_min),
                        campaign.rate,
                        campaign.status.as_str(),
                        cursors,
                        int(campaign.created_at_ms),
                    ])
                })
                .map_err(backend("create campaign"))?;
                Ok(CampaignRecord {
                    id: CampaignId(uint(c.last_insert_rowid(), "campaigns.id")?),
                    account: campaign.account,
                    name: campaign.name,
                    list: campaign.list,
                    from: campaign.from,
                    template: campaign.template,
                    track_links: campaign.track_links,
                    link_base: campaign.link_base,
                    send_at_ms: campaign.send_at_ms,
                    window: campaign.window,
                    rate: campaign.rate,
                    status: campaign.status,
                    cursors: campaign.cursors,
                    created_at_ms: campaign.created_at_ms,
                    updated_at_ms: campaign.created_at_ms,
                })
            })
            .await
    }

    async fn get_campaign(&self, id: CampaignId) -> Result<Option<CampaignRecord>, StoreError> {
        self.readers.read(move |c| load_campaign(c, id)).await
    }

    async fn list_campaigns(
        &self,
        account: AccountId,
        before: Option<CampaignId>,
        limit_n: usize,
    ) -> Result<Vec<CampaignRecord>, StoreError> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE account_id = ?1 \
                         AND id < ?2 ORDER BY id DESC LIMIT ?3"
                    ))
                    .map_err(backend("list campaigns"))?;
                collect(
                    &mut s,
                    params![
                        int(account.0),
                        before.map_or(i64::MAX, |b| int(b.0)),
                        limit(limit_n)
                    ],
                    "list campaigns",
                    campaign_row,
                )
            })
            .await
    }

    async fn campaigns_with_status(
        &self,
        statuses: &[CampaignStatus],
    ) -> Result<Vec<CampaignRecord>, StoreError> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
        self.readers
            .read(move |c| {
                let marks = vec!["?"; names.len()].join(", ");
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE status IN ({marks}) \
                         ORDER BY id"
                    ))
                    .map_err(backend("list campaigns"))?;
                collect(
                    &mut s,
                    rusqlite::params_from_iter(&names),
                    "list campaigns",
                    campaign_row,
                )
            })
            .await
    }

    async fn set_campaign_status(
        &self,
        id: CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        now_ms: u64,
    ) -> Result<(CampaignRecord, bool), StoreError> {
        let from = from.to_vec();
        self.writer
            .write(move |c| {
                let mut campaign = load_campaign(c, id)?.ok_or_else(|| StoreError::NotFound {
                    what: "campaign",
                    value: id.to_string(),
                })?;
                if !from.contains(&campaign.status) {
                    return Ok((campaign, false));
                }
                c.prepare_cached(
                    "UPDATE campaigns SET status = ?2, updated_at_ms = ?3 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![int(id.0), to.as_str(), int(now_ms)]))
                .map_err(backend("set campaign status"))?;
                campaign.status = to;
                campaign.updated_at_ms = now_ms;
                Ok((campaign, true))
            })
            .await
    }

    async fn save_cursors(
        &self,
        id: CampaignId,
        cursors: Vec<GroupCursor>,
    ) -> Result<(), StoreError> {
        let encoded = encode_cursors(&cursors)?;
        self.writer
            .write(move |c| {
                let n = c
                    .prepare_cached("UPDATE campaigns SET cursors = ?2 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![int(id.0), encoded]))
                    .map_err(backend("save cursors"))?;
                if n == 0 {
                    return Err(StoreError::NotFound {
                        what: "campaign",
                        value: id.to_string(),
                    });
                }
                Ok(())
            })
            .await
    }

    async fn insert_links(&self, links: Vec<LinkRecord>) -> Result<(), StoreError> {
        if links.is_empty() {
            return Ok(());
        }
        self.writer
            .write(move |c| insert_link_rows(c, &links))
            .await
    }

    async fn find_link(&self, code: &str) -> Result<Option<LinkRecord>, StoreError> {
        let code = code.to_owned();
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!("SELECT {LINK_COLUMNS} FROM links WHERE code = ?1"))
                    .map_err(backend("read link"))?;
                Ok(collect(&mut s, [&code], "read link", link_row)?
                    .into_iter()
                    .next())
            })
            .await
    }

    async fn record_click(&self, click: ClickRecord) -> Result<(), StoreError> {
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO clicks (code, campaign_id, seq, at_ms, user_agent) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        click.code,
                        int(click.campaign.0),
                        int(click.seq),
                        int(click.at_ms),
                        click.user_agent,
                    ])
                })
                .map(drop)
                .map_err(backend("record click"))
            })
            .await
    }

    async fn click_totals(&self, campaign: CampaignId) -> Result<ClickTotals, StoreError> {
        self.readers
            .read(move |c| {
                let (clicks, unique): (i64, i64) = c
                    .prepare_cached(CLICK_TOTALS)
                    .and_then(|mut s| {
                        s.query_row([int(campaign.0)], |r| Ok((r.get(0)?, r.get(1)?)))
                    })
                    .map_err(backend("count clicks"))?;
                Ok(ClickTotals {
                    clicks: uint(clicks, "clicks")?,
                    unique_recipients: uint(unique, "clicks.seq")?,
                })
            })
            .await
    }

    async fn clicks_by_recipient(
        &self,
        campaign: CampaignId,
        after_seq: u64,
        limit_n: usize,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(CLICKS_BY_RECIPIENT)
                    .map_err(backend("count clicks"))?;
                collect(
                    &mut s,
                    params![int(campaign.0), int(after_seq), limit(limit_n)],
                    "count clicks",
                    |r| {
                        let get = backend("count clicks");
                        Ok((
                            uint(r.get(0).map_err(&get)?, "clicks.seq")?,
                            uint(r.get(1).map_err(&get)?, "clicks")?,
                        ))
                    },
                )
            })
            .await
    }

    async fn campaign_messages(
        &self,
        campaign: CampaignId,
        after_seq: u64,
        limit_n: usize,
    ) -> Result<Vec<CampaignMessage>, StoreError> {
        self.readers
            .read(move |c| campaign_messages_page(c, campaign, after_seq, limit_n))
            .await
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

    /// `EXPLAIN QUERY PLAN` details of `sql` (parameters unbound).
    fn plan(conn: &Connection, sql: &str) -> Vec<String> {
        let mut s = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let mut rows = s.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            out.push(r.get::<_, String>(3).unwrap());
        }
        out
    }

    /// Every page is one index range scan: no full scan, no sort, no temporary table.
    #[test]
    fn pages_are_index_range_scans() {
        let conn = migrated();
        for (sql, index) in [
            (RECIPIENTS_PAGE, "PRIMARY KEY (list_id=? AND seq>?)"),
            (
                GROUP_PAGE,
                "PRIMARY KEY (list_id=? AND utc_offset_min=? AND bucket>?)",
            ),
            (RECIPIENT_BY_SEQ, "PRIMARY KEY (list_id=? AND seq=?)"),
            (
                RECIPIENTS_OFFSET_RANGE,
                "PRIMARY KEY (list_id=? AND seq>? AND seq<?)",
            ),
            (
                CAMPAIGN_MESSAGES_PAGE,
                "INDEX messages_campaign (campaign_id=? AND campaign_seq>?)",
            ),
            (
                CLICKS_BY_RECIPIENT,
                "INDEX clicks_campaign (campaign_id=? AND seq>?)",
            ),
            (CLICK_TOTALS, "INDEX clicks_campaign (campaign_id=?)"),
            (
                crate::sql::FIND_CAMPAIGN_MESSAGE,
                "INDEX messages_campaign (campaign_id=? AND campaign_seq=?)",
            ),
        ] {
            let p = plan(&conn, sql);
            assert!(p.iter().any(|l| l.ends_with(index)), "{sql}: {p:?}");
            assert!(
                !p.iter()
                    .any(|l| l.starts_with("SCAN") && !l.starts_with("SCAN (subquery")),
                "{sql}: {p:?}"
            );
            assert!(!p.iter().any(|l| l.contains("TEMP B-TREE")), "{sql}: {p:?}");
        }
    }

    #[test]
    fn cursors_round_trip_through_their_encoding() {
        let cursors = vec![
            GroupCursor {
                utc_offset_min: None,
                last_seq: u64::MAX,
                done: true,
            },
            GroupCursor {
                utc_offset_min: Some(i16::MIN),
                last_seq: 0,
                done: false,
            },
        ];
        let text = encode_cursors(&cursors).unwrap();
        assert_eq!(text, "[[null,18446744073709551615,true],[-32768,0,false]]");
        assert_eq!(decode_cursors(&text).unwrap(), cursors);
        assert!(matches!(
            decode_cursors("[[1,2]]"),
            Err(StoreError::Corrupt {
                what: "campaigns.cursors",
                ..
            })
        ));
    }

    #[test]
    fn taken_key_names_a_duplicate_in_the_call_or_in_the_failed_chunk() {
        let keys = [1, 2, 3, 2];
        assert_eq!(taken_key(&keys, 0..4, |_| Ok(false)).unwrap(), Some(2));
        let keys = [1, 2, 3, 4];
        assert_eq!(taken_key(&keys, 2..4, |k| Ok(*k >= 2)).unwrap(), Some(3));
        assert_eq!(taken_key(&keys, 0..4, |_| Ok(false)).unwrap(), None);
    }
}
