//! The PostgreSQL [`CampaignStore`]: lists and their recipients, campaigns, tracked links
//! and clicks (schema: `migrations/0003_campaigns.sql`).
//!
//! - Recipients arrive in chunks of thousands: each call streams its chunk with one binary
//!   `COPY` (no per-row statement, no text parsing of the values), in one transaction with a
//!   `FOR KEY SHARE` lock on the list row, so a concurrent `delete_list` waits for it (the
//!   table has no foreign key, which would cost a check per row). A taken `seq` aborts the
//!   `COPY`, and with it the call.
//! - Values are a `TEXT[]` per recipient: exact Unicode round trip, except U+0000, which
//!   PostgreSQL text cannot hold (refused with the recipient and column named).
//! - Paged reads (`recipients`, `clicks_by_recipient`, `campaign_messages`) are range scans
//!   of an index that starts with the list or campaign and ends with `seq`. One UTC offset's
//!   group of recipients is read from the primary key too, skipping the other groups' rows:
//!   a second index on the offset would halve the import's speed (see the migration).
//! - `set_campaign_status` is one `UPDATE ... WHERE status = ANY(from)`: under READ
//!   COMMITTED a concurrent update of the same row waits, then re-checks the condition
//!   against the committed row, so of two callers moving it from the same status exactly one
//!   does.

use std::collections::HashSet;

use async_trait::async_trait;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;
use tuma_domain::SenderId;
use tuma_store::campaigns::{
    CampaignId, CampaignMessage, CampaignRecord, CampaignStatus, CampaignStore, ClickRecord,
    ClickTotals, GroupCursor, ImportTotals, LinkRecord, ListId, ListRecord, ListStatus,
    NewCampaign, NewList, NewRecipient, RecipientRecord, WindowSpec,
};
use tuma_store::{AccountId, StoreError};

use crate::pool::PgTx;
use crate::sql::{get, id_from, int, limit, message_status, msisdn_from, uint};
use crate::PostgresStore;

/// The columns [`list_row`] reads, in order (macros: statements are `&'static str`, built
/// with `concat!`).
macro_rules! list_columns {
    () => {
        "id, account_id, name, columns, status, rows_read, accepted, rejected, duplicates, \
         offset_mins, offset_counts, created_at_ms"
    };
}

/// The columns [`campaign_row`] reads, in order.
macro_rules! campaign_columns {
    () => {
        "id, account_id, name, list_id, sender, template, track_links, link_base, send_at_ms, \
         window_start_min, window_end_min, window_offset_min, rate, status, cursor_offsets, \
         cursor_last_seqs, cursor_done, created_at_ms, updated_at_ms"
    };
}

/// The columns [`link_row`] reads, in order.
macro_rules! link_columns {
    () => {
        "code, account_id, campaign_id, seq, target, created_at_ms"
    };
}

/// The columns [`recipient_row`] reads, in order.
macro_rules! recipient_columns {
    () => {
        "seq, line, number, utc_offset_min, vals"
    };
}

/// A list id as stored.
fn list_key(list: ListId) -> i64 {
    int(list.0)
}

/// A campaign id as stored.
fn campaign_key(id: CampaignId) -> i64 {
    int(id.0)
}

fn not_found_list(list: ListId) -> StoreError {
    StoreError::NotFound {
        what: "list",
        value: list.to_string(),
    }
}

fn not_found_campaign(id: CampaignId) -> StoreError {
    StoreError::NotFound {
        what: "campaign",
        value: id.to_string(),
    }
}

/// Reads a list row selected with `list_columns!()`.
fn list_row(r: &Row) -> Result<ListRecord, StoreError> {
    let status: String = get(r, 4, "lists.status")?;
    let mins: Vec<i16> = get(r, 9, "lists.offset_mins")?;
    let counts: Vec<i64> = get(r, 10, "lists.offset_counts")?;
    if mins.len() != counts.len() {
        return Err(StoreError::Corrupt {
            what: "lists.offset_counts",
            detail: format!("{} counts for {} offsets", counts.len(), mins.len()),
        });
    }
    Ok(ListRecord {
        id: ListId(uint(get(r, 0, "lists.id")?, "lists.id")?),
        account: AccountId(uint(get(r, 1, "lists.account_id")?, "lists.account_id")?),
        name: get(r, 2, "lists.name")?,
        columns: get(r, 3, "lists.columns")?,
        status: ListStatus::from_name(&status).ok_or_else(|| StoreError::Corrupt {
            what: "lists.status",
            detail: format!("unknown status {status:?}"),
        })?,
        totals: ImportTotals {
            rows: uint(get(r, 5, "lists.rows_read")?, "lists.rows_read")?,
            accepted: uint(get(r, 6, "lists.accepted")?, "lists.accepted")?,
            rejected: uint(get(r, 7, "lists.rejected")?, "lists.rejected")?,
            duplicates: uint(get(r, 8, "lists.duplicates")?, "lists.duplicates")?,
        },
        offsets: mins
            .into_iter()
            .zip(counts)
            .map(|(m, c)| Ok((m, uint(c, "lists.offset_counts")?)))
            .collect::<Result<_, StoreError>>()?,
        created_at_ms: uint(get(r, 11, "lists.created_at_ms")?, "lists.created_at_ms")?,
    })
}

/// Reads a recipient row selected with `recipient_columns!()`.
fn recipient_row(r: &Row) -> Result<RecipientRecord, StoreError> {
    Ok(RecipientRecord {
        seq: uint(get(r, 0, "recipients.seq")?, "recipients.seq")?,
        line: uint(get(r, 1, "recipients.line")?, "recipients.line")?,
        to: msisdn_from(get(r, 2, "recipients.number")?, "recipients.number")?,
        utc_offset_min: get(r, 3, "recipients.utc_offset_min")?,
        values: get(r, 4, "recipients.vals")?,
    })
}

/// Reads a campaign row selected with `campaign_columns!()`.
fn campaign_row(r: &Row) -> Result<CampaignRecord, StoreError> {
    let sender: String = get(r, 4, "campaigns.sender")?;
    let start: Option<i32> = get(r, 9, "campaigns.window_start_min")?;
    let end: Option<i32> = get(r, 10, "campaigns.window_end_min")?;
    let minutes = |v: i32, what: &'static str| {
        u16::try_from(v).map_err(|_| StoreError::Corrupt {
            what,
            detail: format!("{v} is not a minute of the day"),
        })
    };
    let window = match (start, end) {
        (Some(start), Some(end)) => Some(WindowSpec {
            start_min: minutes(start, "campaigns.window_start_min")?,
            end_min: minutes(end, "campaigns.window_end_min")?,
            utc_offset_min: get(r, 11, "campaigns.window_offset_min")?,
        }),
        _ => None,
    };
    let rate: Option<i64> = get(r, 12, "campaigns.rate")?;
    let status: String = get(r, 13, "campaigns.status")?;
    let offsets: Vec<Option<i16>> = get(r, 14, "campaigns.cursor_offsets")?;
    let last_seqs: Vec<i64> = get(r, 15, "campaigns.cursor_last_seqs")?;
    let done: Vec<bool> = get(r, 16, "campaigns.cursor_done")?;
    if offsets.len() != last_seqs.len() || offsets.len() != done.len() {
        return Err(StoreError::Corrupt {
            what: "campaigns.cursor_offsets",
            detail: format!(
                "{} offsets, {} last seqs, {} done flags",
                offsets.len(),
                last_seqs.len(),
                done.len()
            ),
        });
    }
    let cursors = offsets
        .into_iter()
        .zip(last_seqs)
        .zip(done)
        .map(|((utc_offset_min, last_seq), done)| {
            Ok(GroupCursor {
                utc_offset_min,
                last_seq: uint(last_seq, "campaigns.cursor_last_seqs")?,
                done,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(CampaignRecord {
        id: CampaignId(uint(get(r, 0, "campaigns.id")?, "campaigns.id")?),
        account: AccountId(uint(
            get(r, 1, "campaigns.account_id")?,
            "campaigns.account_id",
        )?),
        name: get(r, 2, "campaigns.name")?,
        list: ListId(uint(get(r, 3, "campaigns.list_id")?, "campaigns.list_id")?),
        from: SenderId::parse(&sender).map_err(|e| StoreError::Corrupt {
            what: "campaigns.sender",
            detail: e.to_string(),
        })?,
        template: get(r, 5, "campaigns.template")?,
        track_links: get(r, 6, "campaigns.track_links")?,
        link_base: get(r, 7, "campaigns.link_base")?,
        send_at_ms: get::<Option<i64>>(r, 8, "campaigns.send_at_ms")?
            .map(|v| uint(v, "campaigns.send_at_ms"))
            .transpose()?,
        window,
        rate: rate
            .map(|v| {
                u32::try_from(v).map_err(|_| StoreError::Corrupt {
                    what: "campaigns.rate",
                    detail: format!("{v} is not in 0..=4294967295"),
                })
            })
            .transpose()?,
        status: CampaignStatus::from_name(&status).ok_or_else(|| StoreError::Corrupt {
            what: "campaigns.status",
            detail: format!("unknown status {status:?}"),
        })?,
        cursors,
        created_at_ms: uint(
            get(r, 17, "campaigns.created_at_ms")?,
            "campaigns.created_at_ms",
        )?,
        updated_at_ms: uint(
            get(r, 18, "campaigns.updated_at_ms")?,
            "campaigns.updated_at_ms",
        )?,
    })
}

/// Reads a link row selected with `link_columns!()`.
fn link_row(r: &Row) -> Result<LinkRecord, StoreError> {
    Ok(LinkRecord {
        code: get(r, 0, "links.code")?,
        account: AccountId(uint(get(r, 1, "links.account_id")?, "links.account_id")?),
        campaign: CampaignId(uint(get(r, 2, "links.campaign_id")?, "links.campaign_id")?),
        seq: uint(get(r, 3, "links.seq")?, "links.seq")?,
        target: get(r, 4, "links.target")?,
        created_at_ms: uint(get(r, 5, "links.created_at_ms")?, "links.created_at_ms")?,
    })
}

/// Cursors as the three parallel array columns.
type CursorColumns = (Vec<Option<i16>>, Vec<i64>, Vec<bool>);

fn cursor_columns(cursors: &[GroupCursor]) -> CursorColumns {
    (
        cursors.iter().map(|c| c.utc_offset_min).collect(),
        cursors.iter().map(|c| int(c.last_seq)).collect(),
        cursors.iter().map(|c| c.done).collect(),
    )
}

/// The seq a unique-violation detail names (`Key (list_id, seq)=(7, 42) already exists.`),
/// when it can be read.
fn seq_in_detail(detail: &str) -> Option<u64> {
    let values = detail.split("=(").nth(1)?;
    let seq = values.split(')').next()?.split(',').nth(1)?;
    seq.trim().parse().ok()
}

/// Inserts one chunk of recipients (see the module comment).
fn insert_recipients(
    tx: &mut PgTx<'_, '_>,
    list: ListId,
    recipients: &[NewRecipient],
) -> Result<(), StoreError> {
    let rows = tx.query(
        "insert recipients",
        "SELECT columns FROM lists WHERE id = $1 FOR KEY SHARE",
        &[&list_key(list)],
    )?;
    let Some(row) = rows.first() else {
        return Err(not_found_list(list));
    };
    let columns: Vec<String> = get(row, 0, "lists.columns")?;
    let mut seen = HashSet::with_capacity(recipients.len());
    for r in recipients {
        if !seen.insert(r.seq) {
            return Err(StoreError::AlreadyExists {
                what: "recipient",
                value: format!("list {list} seq {} (twice in one call)", r.seq),
            });
        }
        if let Some(col) = r.values.iter().position(|v| v.contains('\0')) {
            let name = columns.get(col).map_or("?", String::as_str);
            return Err(StoreError::Backend {
                operation: "insert recipients",
                message: format!(
                    "recipient {} (line {}): the value of column {} ({name:?}) contains \
                     U+0000, which PostgreSQL text cannot store",
                    r.seq,
                    r.line,
                    col + 1
                ),
            });
        }
    }
    if recipients.is_empty() {
        return Ok(());
    }
    let list_id = list_key(list);
    let ints: Vec<(i64, i64, i64)> = recipients
        .iter()
        .map(|r| (int(r.seq), int(r.line), int(r.to.as_u64())))
        .collect();
    let rows = recipients
        .iter()
        .zip(&ints)
        .map(|(r, (seq, line, number))| {
            let row: Vec<&(dyn ToSql + Sync)> =
                vec![&list_id, seq, line, number, &r.utc_offset_min, &r.values];
            row
        });
    let copied = tx.copy_in(
        "insert recipients",
        "COPY recipients (list_id, seq, line, number, utc_offset_min, vals) \
         FROM STDIN (FORMAT binary)",
        &[
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT2,
            Type::TEXT_ARRAY,
        ],
        rows,
    )?;
    match copied {
        Ok(_) => Ok(()),
        Err(detail) => Err(StoreError::AlreadyExists {
            what: "recipient",
            value: match seq_in_detail(&detail) {
                Some(seq) => format!("list {list} seq {seq}"),
                None => format!("list {list}: {detail}"),
            },
        }),
    }
}

#[async_trait]
impl CampaignStore for PostgresStore {
    async fn create_list(&self, list: NewList) -> Result<ListRecord, StoreError> {
        self.pool
            .run(move |tx| {
                let rows = tx.query(
                    "create list",
                    concat!(
                        "INSERT INTO lists (account_id, name, columns, status, created_at_ms) \
                         VALUES ($1, $2, $3, 'importing', $4) RETURNING ",
                        list_columns!()
                    ),
                    &[
                        &int(list.account.0),
                        &list.name,
                        &list.columns,
                        &int(list.created_at_ms),
                    ],
                )?;
                rows.first()
                    .map(list_row)
                    .transpose()?
                    .ok_or_else(|| StoreError::Backend {
                        operation: "create list",
                        message: "INSERT ... RETURNING returned no row".into(),
                    })
            })
            .await
    }

    async fn insert_recipients(
        &self,
        list: ListId,
        recipients: Vec<NewRecipient>,
    ) -> Result<(), StoreError> {
        self.pool
            .run(move |tx| insert_recipients(tx, list, &recipients))
            .await
    }

    async fn finish_list(
        &self,
        list: ListId,
        totals: ImportTotals,
        offsets: Vec<(i16, u64)>,
    ) -> Result<ListRecord, StoreError> {
        let mut offsets = offsets;
        offsets.sort_by_key(|(m, _)| *m);
        let mins: Vec<i16> = offsets.iter().map(|(m, _)| *m).collect();
        let counts: Vec<i64> = offsets.iter().map(|(_, c)| int(*c)).collect();
        self.pool
            .run(move |tx| {
                let rows = tx.query(
                    "finish list",
                    concat!(
                        "UPDATE lists SET status = 'ready', rows_read = $2, accepted = $3, \
                         rejected = $4, duplicates = $5, offset_mins = $6, \
                         offset_counts = $7 WHERE id = $1 RETURNING ",
                        list_columns!()
                    ),
                    &[
                        &list_key(list),
                        &int(totals.rows),
                        &int(totals.accepted),
                        &int(totals.rejected),
                        &int(totals.duplicates),
                        &mins,
                        &counts,
                    ],
                )?;
                rows.first()
                    .map(list_row)
                    .transpose()?
                    .ok_or_else(|| not_found_list(list))
            })
            .await
    }

    async fn delete_list(&self, list: ListId) -> Result<bool, StoreError> {
        self.pool
            .run(move |tx| {
                // The list row first: it waits for a running insert_recipients (which holds
                // FOR KEY SHARE on it), and a list used by a campaign fails here (foreign
                // key) before any recipient is touched.
                let deleted = tx.execute(
                    "delete list",
                    "DELETE FROM lists WHERE id = $1",
                    &[&list_key(list)],
                )?;
                if deleted == 0 {
                    return Ok(false);
                }
                tx.execute(
                    "delete recipients",
                    "DELETE FROM recipients WHERE list_id = $1",
                    &[&list_key(list)],
                )?;
                Ok(true)
            })
            .await
    }

    async fn get_list(&self, list: ListId) -> Result<Option<ListRecord>, StoreError> {
        self.pool
            .run(move |tx| {
                let rows = tx.query(
                    "read list",
                    concat!("SELECT ", list_columns!(), " FROM lists WHERE id = $1"),
                    &[&list_key(list)],
                )?;
                rows.first().map(list_row).transpose()
            })
            .await
    }

    async fn list_lists(
        &self,
        account: AccountId,
        before: Option<ListId>,
        limit_n: usize,
    ) -> Result<Vec<ListRecord>, StoreError> {
        let before = before.map_or(i64::MAX, list_key);
        self.pool
            .run(move |tx| {
                tx.query(
                    "list lists",
                    concat!(
                        "SELECT ",
                        list_columns!(),
                        " FROM lists WHERE account_id = $1 AND id < $2 \
                         ORDER BY id DESC LIMIT $3"
                    ),
                    &[&int(account.0), &before, &limit(limit_n)],
                )?
                .iter()
                .map(list_row)
                .collect()
            })
            .await
    }

    async fn lists_with_status(&self, status: ListStatus) -> Result<Vec<ListRecord>, StoreError> {
        self.pool
            .run(move |tx| {
                tx.query(
                    "list lists",
                    concat!(
                        "SELECT ",
                        list_columns!(),
                        " FROM lists WHERE status = $1 ORDER BY id"
                    ),
                    &[&status.as_str()],
                )?
                .iter()
                .map(list_row)
                .collect()
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
        self.pool
            .run(move |tx| {
                // Both walk the primary key from `after_seq`; a group's page skips the rows
                // of other offsets (no index on the offset: see the migration).
                let rows = match utc_offset_min {
                    None => tx.query(
                        "read recipients",
                        concat!(
                            "SELECT ",
                            recipient_columns!(),
                            " FROM recipients WHERE list_id = $1 AND seq > $2 \
                             ORDER BY seq LIMIT $3"
                        ),
                        &[&list_key(list), &int(after_seq), &limit(limit_n)],
                    )?,
                    Some(offset) => tx.query(
                        "read recipients",
                        concat!(
                            "SELECT ",
                            recipient_columns!(),
                            " FROM recipients WHERE list_id = $1 AND utc_offset_min = $2 \
                             AND seq > $3 ORDER BY seq LIMIT $4"
                        ),
                        &[&list_key(list), &offset, &int(after_seq), &limit(limit_n)],
                    )?,
                };
                rows.iter().map(recipient_row).collect()
            })
            .await
    }

    async fn create_campaign(&self, campaign: NewCampaign) -> Result<CampaignRecord, StoreError> {
        self.pool
            .run(move |tx| {
                // FOR KEY SHARE: the list cannot be deleted before the campaign (which then
                // holds it by foreign key) is committed.
                let rows = tx.query(
                    "create campaign",
                    "SELECT account_id FROM lists WHERE id = $1 FOR KEY SHARE",
                    &[&list_key(campaign.list)],
                )?;
                let owner: Option<i64> = rows
                    .first()
                    .map(|r| get(r, 0, "lists.account_id"))
                    .transpose()?;
                if owner != Some(int(campaign.account.0)) {
                    // Another account's list is as good as missing.
                    return Err(not_found_list(campaign.list));
                }
                let (offsets, last_seqs, done) = cursor_columns(&campaign.cursors);
                let window = campaign.window;
                let rows = tx.query(
                    "create campaign",
                    concat!(
                        "INSERT INTO campaigns (account_id, name, list_id, sender, template, \
                         track_links, link_base, send_at_ms, window_start_min, \
                         window_end_min, window_offset_min, rate, status, cursor_offsets, \
                         cursor_last_seqs, cursor_done, created_at_ms, updated_at_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                         $15, $16, $17, $17) RETURNING ",
                        campaign_columns!()
                    ),
                    &[
                        &int(campaign.account.0),
                        &campaign.name,
                        &list_key(campaign.list),
                        &campaign.from.address(),
                        &campaign.template,
                        &campaign.track_links,
                        &campaign.link_base,
                        &campaign.send_at_ms.map(int),
                        &window.map(|w| i32::from(w.start_min)),
                        &window.map(|w| i32::from(w.end_min)),
                        &window.and_then(|w| w.utc_offset_min),
                        &campaign.rate.map(i64::from),
                        &campaign.status.as_str(),
                        &offsets,
                        &last_seqs,
                        &done,
                        &int(campaign.created_at_ms),
                    ],
                )?;
                rows.first()
                    .map(campaign_row)
                    .transpose()?
                    .ok_or_else(|| StoreError::Backend {
                        operation: "create campaign",
                        message: "INSERT ... RETURNING returned no row".into(),
                    })
            })
            .await
    }

    async fn get_campaign(&self, id: CampaignId) -> Result<Option<CampaignRecord>, StoreError> {
        self.pool
            .run(move |tx| {
                let rows = tx.query(
                    "read campaign",
                    concat!(
                        "SELECT ",
                        campaign_columns!(),
                        " FROM campaigns WHERE id = $1"
                    ),
                    &[&campaign_key(id)],
                )?;
                rows.first().map(campaign_row).transpose()
            })
            .await
    }

    async fn list_campaigns(
        &self,
        account: AccountId,
        before: Option<CampaignId>,
        limit_n: usize,
    ) -> Result<Vec<CampaignRecord>, StoreError> {
        let before = before.map_or(i64::MAX, campaign_key);
        self.pool
            .run(move |tx| {
                tx.query(
                    "list campaigns",
                    concat!(
                        "SELECT ",
                        campaign_columns!(),
                        " FROM campaigns WHERE account_id = $1 AND id < $2 \
                         ORDER BY id DESC LIMIT $3"
                    ),
                    &[&int(account.0), &before, &limit(limit_n)],
                )?
                .iter()
                .map(campaign_row)
                .collect()
            })
            .await
    }

    async fn campaigns_with_status(
        &self,
        statuses: &[CampaignStatus],
    ) -> Result<Vec<CampaignRecord>, StoreError> {
        let names: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
        self.pool
            .run(move |tx| {
                tx.query(
                    "list campaigns",
                    concat!(
                        "SELECT ",
                        campaign_columns!(),
                        " FROM campaigns WHERE status = ANY($1::text[]) ORDER BY id"
                    ),
                    &[&names],
                )?
                .iter()
                .map(campaign_row)
                .collect()
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
        let from: Vec<&'static str> = from.iter().map(|s| s.as_str()).collect();
        self.pool
            .run(move |tx| {
                // Compare and set in one statement (see the module comment).
                let rows = tx.query(
                    "set campaign status",
                    concat!(
                        "UPDATE campaigns SET status = $3, updated_at_ms = $4 \
                         WHERE id = $1 AND status = ANY($2::text[]) RETURNING ",
                        campaign_columns!()
                    ),
                    &[&campaign_key(id), &from, &to.as_str(), &int(now_ms)],
                )?;
                if let Some(row) = rows.first() {
                    return Ok((campaign_row(row)?, true));
                }
                let rows = tx.query(
                    "read campaign",
                    concat!(
                        "SELECT ",
                        campaign_columns!(),
                        " FROM campaigns WHERE id = $1"
                    ),
                    &[&campaign_key(id)],
                )?;
                match rows.first() {
                    Some(row) => Ok((campaign_row(row)?, false)),
                    None => Err(not_found_campaign(id)),
                }
            })
            .await
    }

    async fn save_cursors(
        &self,
        id: CampaignId,
        cursors: Vec<GroupCursor>,
    ) -> Result<(), StoreError> {
        let (offsets, last_seqs, done) = cursor_columns(&cursors);
        self.pool
            .run(move |tx| {
                let changed = tx.execute(
                    "save cursors",
                    "UPDATE campaigns SET cursor_offsets = $2, cursor_last_seqs = $3, \
                     cursor_done = $4 WHERE id = $1",
                    &[&campaign_key(id), &offsets, &last_seqs, &done],
                )?;
                if changed == 0 {
                    return Err(not_found_campaign(id));
                }
                Ok(())
            })
            .await
    }

    async fn insert_links(&self, links: Vec<LinkRecord>) -> Result<(), StoreError> {
        self.pool
            .run(move |tx| {
                let mut codes = HashSet::with_capacity(links.len());
                for l in &links {
                    if !codes.insert(l.code.as_str()) {
                        return Err(StoreError::AlreadyExists {
                            what: "link code",
                            value: l.code.clone(),
                        });
                    }
                }
                if links.is_empty() {
                    return Ok(());
                }
                let code: Vec<&str> = links.iter().map(|l| l.code.as_str()).collect();
                let accounts: Vec<i64> = links.iter().map(|l| int(l.account.0)).collect();
                let campaigns: Vec<i64> = links.iter().map(|l| campaign_key(l.campaign)).collect();
                let seqs: Vec<i64> = links.iter().map(|l| int(l.seq)).collect();
                let targets: Vec<&str> = links.iter().map(|l| l.target.as_str()).collect();
                let at: Vec<i64> = links.iter().map(|l| int(l.created_at_ms)).collect();
                // ON CONFLICT DO NOTHING instead of catching the unique violation (an error
                // would abort the transaction before we learn which code): a taken code is
                // simply not returned, and the call then fails (rolled back whole).
                let rows = tx.query(
                    "insert links",
                    "INSERT INTO links (code, account_id, campaign_id, seq, target, \
                     created_at_ms) \
                     SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::int8[], \
                     $5::text[], $6::int8[]) ON CONFLICT DO NOTHING RETURNING code",
                    &[&code, &accounts, &campaigns, &seqs, &targets, &at],
                )?;
                if rows.len() == links.len() {
                    return Ok(());
                }
                let stored = rows
                    .iter()
                    .map(|r| get::<String>(r, 0, "links.code"))
                    .collect::<Result<HashSet<String>, _>>()?;
                let taken = code
                    .iter()
                    .find(|c| !stored.contains(**c))
                    .map_or_else(String::new, |c| (*c).to_owned());
                Err(StoreError::AlreadyExists {
                    what: "link code",
                    value: taken,
                })
            })
            .await
    }

    async fn find_link(&self, code: &str) -> Result<Option<LinkRecord>, StoreError> {
        let code = code.to_owned();
        self.pool
            .run(move |tx| {
                let rows = tx.query(
                    "find link",
                    concat!("SELECT ", link_columns!(), " FROM links WHERE code = $1"),
                    &[&code],
                )?;
                rows.first().map(link_row).transpose()
            })
            .await
    }

    async fn record_click(&self, click: ClickRecord) -> Result<(), StoreError> {
        self.pool
            .run(move |tx| {
                tx.execute(
                    "record click",
                    "INSERT INTO clicks (code, campaign_id, seq, at_ms, user_agent) \
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &click.code,
                        &campaign_key(click.campaign),
                        &int(click.seq),
                        &int(click.at_ms),
                        &click.user_agent,
                    ],
                )
                .map(drop)
            })
            .await
    }

    async fn click_totals(&self, campaign: CampaignId) -> Result<ClickTotals, StoreError> {
        self.pool
            .run(move |tx| {
                let rows = tx.query(
                    "count clicks",
                    "SELECT count(*), count(DISTINCT seq) FROM clicks WHERE campaign_id = $1",
                    &[&campaign_key(campaign)],
                )?;
                let Some(row) = rows.first() else {
                    return Ok(ClickTotals::default());
                };
                Ok(ClickTotals {
                    clicks: uint(get(row, 0, "clicks count")?, "clicks count")?,
                    unique_recipients: uint(
                        get(row, 1, "clicks distinct seq")?,
                        "clicks distinct seq",
                    )?,
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
        self.pool
            .run(move |tx| {
                tx.query(
                    "count clicks",
                    "SELECT seq, count(*) FROM clicks WHERE campaign_id = $1 AND seq > $2 \
                     GROUP BY seq ORDER BY seq LIMIT $3",
                    &[&campaign_key(campaign), &int(after_seq), &limit(limit_n)],
                )?
                .iter()
                .map(|r| {
                    Ok((
                        uint(get(r, 0, "clicks.seq")?, "clicks.seq")?,
                        uint(get(r, 1, "clicks count")?, "clicks count")?,
                    ))
                })
                .collect()
            })
            .await
    }

    async fn campaign_messages(
        &self,
        campaign: CampaignId,
        after_seq: u64,
        limit_n: usize,
    ) -> Result<Vec<CampaignMessage>, StoreError> {
        self.pool
            .run(move |tx| {
                // A range scan of messages_campaign; for each message one scan of its events
                // (primary key) gives the first `submitted` time and the time of the last
                // event with the current status.
                let rows = tx.query(
                    "read campaign messages",
                    "SELECT m.campaign_seq, m.id, m.recipient, m.status, m.segment_count, \
                     m.error_code, m.created_at_ms, m.initial_status, ev.submitted_at, \
                     ev.status_at \
                     FROM messages m CROSS JOIN LATERAL ( \
                     SELECT (array_agg(e.at_ms ORDER BY e.seq) \
                     FILTER (WHERE e.status = 'submitted'))[1] AS submitted_at, \
                     (array_agg(e.at_ms ORDER BY e.seq DESC) \
                     FILTER (WHERE e.status = m.status))[1] AS status_at \
                     FROM events e WHERE e.message_id = m.id) ev \
                     WHERE m.campaign_id = $1 AND m.campaign_seq > $2 \
                     ORDER BY m.campaign_seq LIMIT $3",
                    &[&campaign_key(campaign), &int(after_seq), &limit(limit_n)],
                )?;
                rows.iter().map(campaign_message_row).collect()
            })
            .await
    }
}

/// Reads a row of `campaign_messages`' query.
fn campaign_message_row(r: &Row) -> Result<CampaignMessage, StoreError> {
    let id: Vec<u8> = get(r, 1, "messages.id")?;
    let status = message_status(get(r, 3, "messages.status")?, "messages.status")?;
    let segments: i32 = get(r, 4, "messages.segment_count")?;
    let created_at_ms = uint(
        get(r, 6, "messages.created_at_ms")?,
        "messages.created_at_ms",
    )?;
    let initial = message_status(
        get(r, 7, "messages.initial_status")?,
        "messages.initial_status",
    )?;
    let submitted: Option<i64> = get(r, 8, "events.at_ms")?;
    let status_at: Option<i64> = get(r, 9, "events.at_ms")?;
    // The event that set the current (final) status: the last one with that status, or the
    // initial status implied by the row (a suppressed message).
    let finished_at_ms = if status.is_final() {
        match status_at {
            Some(at) => Some(uint(at, "events.at_ms")?),
            None if initial == status => Some(created_at_ms),
            None => None,
        }
    } else {
        None
    };
    Ok(CampaignMessage {
        seq: uint(get(r, 0, "messages.campaign_seq")?, "messages.campaign_seq")?,
        id: id_from(&id, "messages.id")?,
        to: msisdn_from(get(r, 2, "messages.recipient")?, "messages.recipient")?,
        status,
        segments: u8::try_from(segments).map_err(|_| StoreError::Corrupt {
            what: "messages.segment_count",
            detail: format!("{segments} is not in 0..=255"),
        })?,
        error_code: get(r, 5, "messages.error_code")?,
        created_at_ms,
        submitted_at_ms: submitted.map(|v| uint(v, "events.at_ms")).transpose()?,
        finished_at_ms,
    })
}
