//! tuma's scale-out storage backend: PostgreSQL, for several `tuma serve` processes sharing
//! one database.
//!
//! # Layout
//! - [`PostgresStore`]: connects (and migrates), implements every `tuma-store` port.
//! - `pool`: a small pool of `tokio_postgres` clients and the transaction runner (each call
//!   is one transaction, retried on deadlock / serialization failure).
//! - `sql`: rows <-> records, batched intake (UNNEST), and the primitive operations of
//!   `tuma_store::apply`, so the update algorithms are the very ones SQLite runs.
//! - `schema`: embedded numbered migrations and `schema_version`.
//! - `campaigns`: the `CampaignStore` port (lists, recipients streamed in with binary
//!   `COPY`, campaigns with a compare-and-set status, tracked links, clicks, reports).
//!
//! # Several nodes
//! Webhook claims, scheduled releases and expiry select their rows `FOR UPDATE SKIP
//! LOCKED`, so two nodes never take the same rows; every status update locks its message
//! row (`FOR UPDATE`) before deciding, so concurrent receipts for one message take turns.
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), tuma_store::StoreError> {
//! use tuma_store_postgres::PostgresStore;
//! let store = PostgresStore::connect("postgres://tuma@127.0.0.1/tuma").await?;
//! let accounts = store.stores().accounts.list_accounts().await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

/// The columns `sql::inbound_row` reads, in order (macros: statements are `&'static str`,
/// built with `concat!`).
macro_rules! inbound_columns {
    () => {
        "id, account_id, sender, recipient, body, connector, received_at_ms, webhook_url"
    };
}

/// The columns `sql::webhook_row` reads, in order.
macro_rules! webhook_columns {
    () => {
        "id, account_id, message_id, url, event, status_at_ms, attempts, next_at_ms, \
         last_error, state"
    };
}

mod campaigns;
mod pool;
mod schema;
mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use tuma_domain::{ConnectorId, MessageId, Msisdn};
use tuma_store::apply;
use tuma_store::{
    Account, AccountId, AccountSettings, AccountStore, ApiKey, ApiKeyHash, InboundRecord,
    InboundStore, InsertOutcome, MessageRecord, MessageStore, NewMessageRecord, OutboxEntry,
    ReceiptUpdate, StoreError, Stores, SubmitResult, SuppressionStore, UpdateOutcome,
    WebhookAttempt, WebhookDelivery, WebhookStore,
};

use pool::{quote_ident, Pool};
pub use schema::SCHEMA_VERSION;
use sql::{get, id_bytes, id_from, int, limit, uint};

/// How to connect.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// A libpq-style URL or key=value string (`postgres://user@host:5432/db`).
    pub url: String,
    /// Most connections open at once (calls wait for a free one).
    pub pool_size: usize,
    /// A schema to use instead of the server's default search path: created if missing,
    /// and set as `search_path` on every connection. Letters, digits and `_` only.
    pub schema: Option<String>,
}

impl PostgresConfig {
    /// Defaults for `url`: 8 connections, the server's default search path.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 8,
            schema: None,
        }
    }
}

/// The PostgreSQL backend. Cheap to share (`Arc`); connections close when it is dropped.
pub struct PostgresStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: not printed.
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects with [`PostgresConfig::new`] defaults and migrates the schema.
    pub async fn connect(url: &str) -> Result<Arc<Self>, StoreError> {
        Self::connect_with(PostgresConfig::new(url)).await
    }

    /// Connects and migrates (creating `config.schema` first, when given).
    pub async fn connect_with(config: PostgresConfig) -> Result<Arc<Self>, StoreError> {
        let pg: tokio_postgres::Config =
            config
                .url
                .parse()
                .map_err(|e: tokio_postgres::Error| StoreError::Backend {
                    operation: "parse url",
                    message: e.to_string(),
                })?;
        if let Some(schema) = &config.schema {
            let valid = !schema.is_empty()
                && schema.len() <= 63
                && schema
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(StoreError::Backend {
                    operation: "connect",
                    message: format!(
                        "schema name {schema:?} must be 1-63 ASCII letters, digits or '_'"
                    ),
                });
            }
            // On a connection without the search path: the schema must exist before
            // connections that use it do anything.
            let setup = Pool::new(pg.clone(), 1, None);
            let create = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema));
            setup
                .run(move |tx| tx.batch("create schema", &create))
                .await?;
        }
        let pool = Pool::new(pg, config.pool_size, config.schema);
        schema::migrate(&pool).await?;
        Ok(Arc::new(Self { pool }))
    }

    /// All six ports of this backend.
    pub fn stores(self: &Arc<Self>) -> Stores {
        Stores::from_backend(self.clone())
    }
}

/// Message ids from the first column of `rows`.
fn ids_of(rows: &[tokio_postgres::Row], what: &'static str) -> Result<Vec<MessageId>, StoreError> {
    rows.iter()
        .map(|r| {
            let id: Vec<u8> = get(r, 0, what)?;
            id_from(&id, what)
        })
        .collect()
}

#[async_trait]
impl MessageStore for PostgresStore {
    async fn insert_batch(
        &self,
        batch: Vec<NewMessageRecord>,
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        self.pool.run(move |tx| sql::insert_batch(tx, &batch)).await
    }

    async fn get(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError> {
        self.pool
            .run(move |tx| sql::load_message(tx, id, Some(account)))
            .await
    }

    async fn pending_outbox(
        &self,
        connector: Option<&ConnectorId>,
        after: Option<MessageId>,
        limit_n: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        // A plain read: recovery hands entries to this node's dispatcher without claiming
        // them (the port has no claim), so nodes should recover their own connectors.
        let connector = connector.map(|c| c.as_str().to_owned());
        self.pool
            .run(move |tx| {
                // Id 0 sorts before every id and is itself excluded by `>` (ids are never 0).
                let after = after.map(id_bytes).unwrap_or_else(|| vec![0; 16]);
                let rows = tx.query(
                    "read outbox",
                    "SELECT o.message_id, o.due_at_ms FROM outbox o \
                     JOIN messages m ON m.id = o.message_id \
                     WHERE o.message_id > $1 AND m.status = 'accepted' \
                     AND ($2::text IS NULL OR o.connector = $2) \
                     ORDER BY o.message_id LIMIT $3",
                    &[&after, &connector, &limit(limit_n)],
                )?;
                let mut ids = Vec::with_capacity(rows.len());
                for r in &rows {
                    let id: Vec<u8> = get(r, 0, "outbox.message_id")?;
                    ids.push((
                        id_from(&id, "outbox.message_id")?,
                        uint(get(r, 1, "outbox.due_at_ms")?, "outbox.due_at_ms")?,
                    ));
                }
                sql::entries(tx, ids)
            })
            .await
    }

    async fn due_scheduled(
        &self,
        now_ms: u64,
        limit_n: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.pool
            .run(move |tx| {
                // SKIP LOCKED: another node releasing scheduled messages right now takes
                // other rows; neither waits for the other nor releases a message twice.
                let rows = tx.query(
                    "find scheduled",
                    "SELECT id FROM messages WHERE status = 'scheduled' AND send_at_ms <= $1 \
                     ORDER BY send_at_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED",
                    &[&int(now_ms), &limit(limit_n)],
                )?;
                let mut released = Vec::with_capacity(rows.len());
                for id in ids_of(&rows, "messages.id")? {
                    if apply::release_scheduled(tx, id, now_ms)? {
                        let due = tx.query(
                            "read outbox",
                            "SELECT due_at_ms FROM outbox WHERE message_id = $1",
                            &[&id_bytes(id)],
                        )?;
                        let at = match due.first() {
                            Some(r) => uint(get(r, 0, "outbox.due_at_ms")?, "outbox.due_at_ms")?,
                            None => now_ms,
                        };
                        released.push((id, at));
                    }
                }
                sql::entries(tx, released)
            })
            .await
    }

    async fn record_submit_results(
        &self,
        results: Vec<SubmitResult>,
    ) -> Result<Vec<UpdateOutcome>, StoreError> {
        self.pool
            .run(move |tx| {
                lock_status_path(tx, results.iter().map(|r| &r.connector))?;
                apply::submit_results(tx, &results)
            })
            .await
    }

    async fn record_receipts(
        &self,
        receipts: Vec<ReceiptUpdate>,
    ) -> Result<Vec<UpdateOutcome>, StoreError> {
        self.pool
            .run(move |tx| {
                lock_status_path(tx, receipts.iter().map(|r| &r.connector))?;
                apply::receipts(tx, &receipts)
            })
            .await
    }

    async fn drop_parked_receipts(&self, before_ms: u64) -> Result<u64, StoreError> {
        self.pool
            .run(move |tx| {
                // Their keys go too (ON DELETE CASCADE).
                tx.execute(
                    "drop parked receipts",
                    "DELETE FROM parked_receipts WHERE at_ms < $1",
                    &[&int(before_ms)],
                )
            })
            .await
    }

    async fn expire_overdue(
        &self,
        cutoff_ms: u64,
        now_ms: u64,
        limit_n: usize,
    ) -> Result<Vec<MessageId>, StoreError> {
        self.pool
            .run(move |tx| {
                let rows = tx.query(
                    "find overdue",
                    "SELECT id FROM messages \
                     WHERE status IN ('accepted', 'scheduled', 'submitted') \
                     AND expires_at_ms <= $1 ORDER BY expires_at_ms LIMIT $2 \
                     FOR UPDATE SKIP LOCKED",
                    &[&int(cutoff_ms), &limit(limit_n)],
                )?;
                let mut out = Vec::with_capacity(rows.len());
                for id in ids_of(&rows, "messages.id")? {
                    if apply::expire(tx, id, now_ms)? {
                        out.push(id);
                    }
                }
                Ok(out)
            })
            .await
    }
}

/// The columns [`account_row`] reads, in order (a macro: statements are `&'static str`,
/// built with `concat!`).
macro_rules! account_columns {
    () => {
        "id, name, created_at_ms, callback_url, mo_url"
    };
}

/// Reads an account row selected with `account_columns!()`.
fn account_row(r: &tokio_postgres::Row) -> Result<Account, StoreError> {
    Ok(Account {
        id: AccountId(uint(get(r, 0, "accounts.id")?, "accounts.id")?),
        name: get(r, 1, "accounts.name")?,
        created_at_ms: uint(
            get(r, 2, "accounts.created_at_ms")?,
            "accounts.created_at_ms",
        )?,
        settings: AccountSettings {
            callback_url: get(r, 3, "accounts.callback_url")?,
            mo_url: get(r, 4, "accounts.mo_url")?,
        },
    })
}

fn api_key_row(r: &tokio_postgres::Row) -> Result<ApiKey, StoreError> {
    let hash: Vec<u8> = get(r, 3, "api_keys.hash")?;
    Ok(ApiKey {
        id: uint(get(r, 0, "api_keys.id")?, "api_keys.id")?,
        account: AccountId(uint(
            get(r, 1, "api_keys.account_id")?,
            "api_keys.account_id",
        )?),
        label: get(r, 2, "api_keys.label")?,
        hash: ApiKeyHash(
            hash.as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt {
                    what: "api_keys.hash",
                    detail: format!("{} bytes, expected 32", hash.len()),
                })?,
        ),
        created_at_ms: uint(
            get(r, 4, "api_keys.created_at_ms")?,
            "api_keys.created_at_ms",
        )?,
    })
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn create_account(&self, name: &str, now_ms: u64) -> Result<Account, StoreError> {
        let name = name.to_owned();
        self.pool
            .run(move |tx| {
                // ON CONFLICT instead of catching the unique violation: an error would abort
                // the transaction.
                let rows = tx.query(
                    "create account",
                    "INSERT INTO accounts (name, created_at_ms) VALUES ($1, $2) \
                     ON CONFLICT (name) DO NOTHING RETURNING id",
                    &[&name, &int(now_ms)],
                )?;
                let Some(row) = rows.first() else {
                    return Err(StoreError::AlreadyExists {
                        what: "account",
                        value: name.clone(),
                    });
                };
                Ok(Account {
                    id: AccountId(uint(get(row, 0, "accounts.id")?, "accounts.id")?),
                    name: name.clone(),
                    created_at_ms: now_ms,
                    settings: AccountSettings::default(),
                })
            })
            .await
    }

    async fn get_account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        self.pool
            .run(move |tx| {
                let rows = tx.query(
                    "read account",
                    concat!(
                        "SELECT ",
                        account_columns!(),
                        " FROM accounts WHERE id = $1"
                    ),
                    &[&int(id.0)],
                )?;
                rows.first().map(account_row).transpose()
            })
            .await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.pool
            .run(|tx| {
                tx.query(
                    "list accounts",
                    concat!("SELECT ", account_columns!(), " FROM accounts ORDER BY id"),
                    &[],
                )?
                .iter()
                .map(account_row)
                .collect()
            })
            .await
    }

    async fn update_account_settings(
        &self,
        id: AccountId,
        settings: AccountSettings,
    ) -> Result<Account, StoreError> {
        self.pool
            .run(move |tx| {
                let rows = tx.query(
                    "update account settings",
                    concat!(
                        "UPDATE accounts SET callback_url = $2, mo_url = $3 WHERE id = $1 \
                         RETURNING ",
                        account_columns!()
                    ),
                    &[&int(id.0), &settings.callback_url, &settings.mo_url],
                )?;
                rows.first()
                    .map(account_row)
                    .transpose()?
                    .ok_or_else(|| StoreError::NotFound {
                        what: "account",
                        value: id.to_string(),
                    })
            })
            .await
    }

    async fn add_api_key(
        &self,
        account: AccountId,
        label: &str,
        hash: ApiKeyHash,
        now_ms: u64,
    ) -> Result<ApiKey, StoreError> {
        let label = label.to_owned();
        self.pool
            .run(move |tx| {
                // FOR SHARE: the account cannot go away before the key is committed.
                let found = tx.query(
                    "add api key",
                    "SELECT 1 FROM accounts WHERE id = $1 FOR SHARE",
                    &[&int(account.0)],
                )?;
                if found.is_empty() {
                    return Err(StoreError::NotFound {
                        what: "account",
                        value: account.to_string(),
                    });
                }
                let rows = tx.query(
                    "add api key",
                    "INSERT INTO api_keys (account_id, label, hash, created_at_ms) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING RETURNING id",
                    &[&int(account.0), &label, &&hash.0[..], &int(now_ms)],
                )?;
                let Some(row) = rows.first() else {
                    return Err(StoreError::AlreadyExists {
                        what: "api key",
                        value: label.clone(),
                    });
                };
                Ok(ApiKey {
                    id: uint(get(row, 0, "api_keys.id")?, "api_keys.id")?,
                    account,
                    label: label.clone(),
                    hash,
                    created_at_ms: now_ms,
                })
            })
            .await
    }

    async fn find_api_key(&self, hash: ApiKeyHash) -> Result<Option<ApiKey>, StoreError> {
        self.pool
            .run(move |tx| {
                let rows = tx.query(
                    "find api key",
                    "SELECT id, account_id, label, hash, created_at_ms FROM api_keys \
                     WHERE hash = $1",
                    &[&&hash.0[..]],
                )?;
                rows.first().map(api_key_row).transpose()
            })
            .await
    }

    async fn revoke_api_key(&self, id: u64) -> Result<bool, StoreError> {
        self.pool
            .run(move |tx| {
                // Revoked keys are deleted: only live keys are ever looked up.
                tx.execute(
                    "revoke api key",
                    "DELETE FROM api_keys WHERE id = $1",
                    &[&int(id)],
                )
                .map(|n| n > 0)
            })
            .await
    }
}

#[async_trait]
impl SuppressionStore for PostgresStore {
    async fn suppress(
        &self,
        account: AccountId,
        number: Msisdn,
        reason: &str,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let reason = reason.to_owned();
        self.pool
            .run(move |tx| {
                tx.execute(
                    "suppress",
                    "INSERT INTO suppressions (account_id, number, reason, created_at_ms) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[
                        &int(account.0),
                        &int(number.as_u64()),
                        &reason,
                        &int(now_ms),
                    ],
                )
                .map(|n| n > 0)
            })
            .await
    }

    async fn unsuppress(&self, account: AccountId, number: Msisdn) -> Result<bool, StoreError> {
        self.pool
            .run(move |tx| {
                tx.execute(
                    "unsuppress",
                    "DELETE FROM suppressions WHERE account_id = $1 AND number = $2",
                    &[&int(account.0), &int(number.as_u64())],
                )
                .map(|n| n > 0)
            })
            .await
    }

    async fn suppressed_among(
        &self,
        account: AccountId,
        numbers: &[Msisdn],
    ) -> Result<Vec<Msisdn>, StoreError> {
        let numbers = numbers.to_vec();
        self.pool
            .run(move |tx| {
                // One query for the whole intake batch; the answer keeps input order (and
                // repeats) by filtering the input.
                let wanted: Vec<i64> = numbers.iter().map(|n| int(n.as_u64())).collect();
                let rows = tx.query(
                    "read suppressions",
                    "SELECT number FROM suppressions \
                     WHERE account_id = $1 AND number = ANY($2::int8[])",
                    &[&int(account.0), &wanted],
                )?;
                let listed = rows
                    .iter()
                    .map(|r| get::<i64>(r, 0, "suppressions.number"))
                    .collect::<Result<std::collections::HashSet<i64>, _>>()?;
                Ok(numbers
                    .iter()
                    .copied()
                    .filter(|n| listed.contains(&int(n.as_u64())))
                    .collect())
            })
            .await
    }
}

#[async_trait]
impl InboundStore for PostgresStore {
    async fn insert_inbound(&self, batch: Vec<InboundRecord>) -> Result<u64, StoreError> {
        self.pool
            .run(move |tx| {
                let ids: Vec<Vec<u8>> = batch.iter().map(|r| id_bytes(r.id)).collect();
                let accounts: Vec<i64> = batch.iter().map(|r| int(r.account.0)).collect();
                let senders: Vec<i64> = batch.iter().map(|r| int(r.from.as_u64())).collect();
                let recipients: Vec<&str> = batch.iter().map(|r| r.to.as_str()).collect();
                let bodies: Vec<&str> = batch.iter().map(|r| r.text.as_str()).collect();
                let connectors: Vec<&str> = batch.iter().map(|r| r.connector.as_str()).collect();
                let at: Vec<i64> = batch.iter().map(|r| int(r.received_at_ms)).collect();
                let urls: Vec<Option<&str>> =
                    batch.iter().map(|r| r.webhook_url.as_deref()).collect();
                // A redelivered deliver_sm (a taken id) is skipped, and so is its webhook:
                // only rows this statement inserted are RETURNed to the webhook insert.
                let rows = tx.query(
                    "insert inbound",
                    "WITH stored AS (INSERT INTO inbound (id, account_id, sender, recipient, \
                     body, connector, received_at_ms, webhook_url) \
                     SELECT * FROM UNNEST($1::bytea[], $2::int8[], $3::int8[], $4::text[], \
                     $5::text[], $6::text[], $7::int8[], $8::text[]) ON CONFLICT DO NOTHING \
                     RETURNING id, account_id, received_at_ms, webhook_url), \
                     hooks AS (INSERT INTO webhooks (account_id, message_id, url, event, \
                     status_at_ms, next_at_ms, state) SELECT account_id, id, webhook_url, \
                     'inbound', received_at_ms, received_at_ms, 'pending' FROM stored \
                     WHERE webhook_url IS NOT NULL ORDER BY id) \
                     SELECT count(*) FROM stored",
                    &[
                        &ids,
                        &accounts,
                        &senders,
                        &recipients,
                        &bodies,
                        &connectors,
                        &at,
                        &urls,
                    ],
                )?;
                let stored: i64 = match rows.first() {
                    Some(row) => get(row, 0, "inbound count")?,
                    None => 0,
                };
                uint(stored, "inbound count")
            })
            .await
    }

    async fn get_inbound(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<InboundRecord>, StoreError> {
        self.pool
            .run(move |tx| {
                let rows = tx.query(
                    "read inbound",
                    concat!(
                        "SELECT ",
                        inbound_columns!(),
                        " FROM inbound WHERE id = $1 AND account_id = $2"
                    ),
                    &[&id_bytes(id), &int(account.0)],
                )?;
                rows.first().map(sql::inbound_row).transpose()
            })
            .await
    }

    async fn list_inbound(
        &self,
        account: AccountId,
        before: Option<MessageId>,
        limit_n: usize,
    ) -> Result<Vec<InboundRecord>, StoreError> {
        self.pool
            .run(move |tx| {
                let before = before.map(id_bytes).unwrap_or_else(|| vec![0xFF; 16]);
                tx.query(
                    "list inbound",
                    concat!(
                        "SELECT ",
                        inbound_columns!(),
                        " FROM inbound WHERE account_id = $1 AND id < $2 \
                         ORDER BY id DESC LIMIT $3"
                    ),
                    &[&int(account.0), &before, &limit(limit_n)],
                )?
                .iter()
                .map(sql::inbound_row)
                .collect()
            })
            .await
    }
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn claim_due_webhooks(
        &self,
        now_ms: u64,
        lease_ms: u64,
        limit_n: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let until = int(now_ms.saturating_add(lease_ms));
        self.pool
            .run(move |tx| {
                // Select and lease in one statement; SKIP LOCKED makes concurrent claimers
                // (other nodes) pass over rows being claimed instead of waiting and then
                // handing out the same delivery.
                let rows = tx.query(
                    "claim webhooks",
                    concat!(
                        "UPDATE webhooks SET next_at_ms = $3 WHERE id IN ( \
                     SELECT id FROM webhooks WHERE state = 'pending' AND next_at_ms <= $1 \
                     ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                     RETURNING ",
                        webhook_columns!()
                    ),
                    &[&int(now_ms), &limit(limit_n), &until],
                )?;
                let mut claimed = rows
                    .iter()
                    .map(sql::webhook_row)
                    .collect::<Result<Vec<_>, _>>()?;
                // RETURNING has no order: oldest first, as the port says.
                claimed.sort_by_key(|w| w.id);
                Ok(claimed)
            })
            .await
    }

    async fn record_webhook_attempts(
        &self,
        attempts: Vec<WebhookAttempt>,
    ) -> Result<(), StoreError> {
        self.pool
            .run(move |tx| {
                for a in &attempts {
                    let (state, next, error) =
                        tuma_store::columns::webhook_attempt_columns(&a.result);
                    tx.execute(
                        "record webhook attempt",
                        "UPDATE webhooks SET attempts = attempts + 1, state = $2, \
                         next_at_ms = COALESCE($3, next_at_ms), \
                         last_error = COALESCE($4, last_error) WHERE id = $1",
                        &[&int(a.id), &state, &next, &error],
                    )?;
                }
                Ok(())
            })
            .await
    }

    async fn webhook_failures(
        &self,
        account: AccountId,
        limit_n: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        self.pool
            .run(move |tx| {
                tx.query(
                    "list webhook failures",
                    concat!(
                        "SELECT ",
                        webhook_columns!(),
                        " FROM webhooks WHERE account_id = $1 \
                         AND state != 'delivered' AND last_error IS NOT NULL \
                         ORDER BY id DESC LIMIT $2"
                    ),
                    &[&int(account.0), &limit(limit_n)],
                )?
                .iter()
                .map(sql::webhook_row)
                .collect()
            })
            .await
    }
}

/// First key of the status-path advisory locks ("tuma").
const STATUS_LOCK: i32 = 0x7475_6d61;

/// Serialises submit results and receipts per connector, across connections and nodes.
///
/// Without it, a receipt that overtakes its submit result could be parked by one transaction
/// while another, concurrent one indexes the SMSC id and looks for parked receipts: under READ
/// COMMITTED neither sees the other's uncommitted row, and the receipt stays parked for ever
/// (found by `tuma serve --database postgres://...`, where the engine writes both kinds at
/// once). With the lock the second transaction starts after the first commits and sees its
/// rows. Connectors are locked in name order, so two transactions never deadlock.
fn lock_status_path<'c>(
    tx: &mut pool::PgTx<'_, '_>,
    connectors: impl Iterator<Item = &'c ConnectorId>,
) -> Result<(), StoreError> {
    let mut names: Vec<&str> = connectors.map(ConnectorId::as_str).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        tx.query(
            "lock the status path",
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&STATUS_LOCK, &name],
        )?;
    }
    Ok(())
}
