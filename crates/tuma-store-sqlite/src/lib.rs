//! tuma's embedded default storage backend: SQLite in WAL mode behind one group-committing
//! writer thread and a small pool of read connections.
//!
//! # Layout
//! - [`SqliteStore`]: opens (and migrates) the database, implements every `tuma-store` port.
//! - `writer`: the single writer thread and its group commit (see `docs/storage.md`).
//! - `sql`: rows <-> records and the primitive operations of `tuma_store::apply`.
//! - `campaigns`: the `CampaignStore` port (lists, recipients, campaigns, links, clicks).
//! - `schema`: embedded numbered migrations and `schema_version`.
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), tuma_store::StoreError> {
//! use tuma_store_sqlite::{SqliteConfig, SqliteStore};
//! let store = SqliteStore::open(SqliteConfig::new("/var/lib/tuma/tuma.db"))?;
//! let stores = store.stores();
//! let accounts = stores.accounts.list_accounts().await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod campaigns;
mod checkpoint;
mod hot;
mod schema;
mod sql;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use tuma_domain::{ConnectorId, MessageId, Msisdn};
use tuma_store::apply::{self};
use tuma_store::{
    Account, AccountId, AccountSettings, AccountStore, ApiKey, ApiKeyHash, InboundRecord,
    InboundStore, InsertOutcome, MessageRecord, MessageStore, NewMessageRecord, OutboxEntry,
    ReceiptUpdate, StoreError, Stores, SubmitResult, SuppressionStore, UpdateOutcome,
    WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookStore,
};

pub use schema::SCHEMA_VERSION;
use sql::{backend, id_blob, id_from, int, is_unique_violation, uint, webhook_event_name, SqlTx};
use writer::Writer;
pub use writer::WriterStats;

/// SQLite's `synchronous` setting for the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync the WAL at every commit: a commit survives power loss. Batched, it costs little
    /// (see `docs/benchmarks.md`), hence the default.
    #[default]
    Full,
    /// fsync only at checkpoints: a commit survives a process crash (kill -9) but the last
    /// commits may be lost on power loss.
    Normal,
}

/// How to open the database.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// The database file (created if missing, with its `-wal` and `-shm` files beside it).
    pub path: PathBuf,
    /// Durability of each commit.
    pub synchronous: Synchronous,
    /// Jobs that may wait for the writer before callers wait to enqueue (back-pressure).
    pub queue_capacity: usize,
    /// Most jobs (calls) merged into one transaction.
    pub max_jobs_per_commit: usize,
    /// Read connections kept open.
    pub readers: usize,
    /// How long a write that finds the writer idle waits for others to share its commit
    /// (`Duration::ZERO`, the default: not at all). A writer with work queued never waits.
    /// It trades up to this much latency per write for fewer commits (each one an fsync):
    /// with hundreds of concurrent clients that lowered the chain's latency, with a few
    /// clients that each wait for their answer it halved their throughput (docs/benchmarks.md,
    /// "An Intel instance, and a commit delay tried"). See the writer's `run`.
    pub commit_delay: Duration,
}

impl SqliteConfig {
    /// Defaults for `path`: `synchronous=FULL`, a queue of 4,096 jobs, up to 1,024 jobs per
    /// commit, 4 read connections, no commit delay.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synchronous: Synchronous::Full,
            queue_capacity: 4096,
            max_jobs_per_commit: 1024,
            readers: 4,
            commit_delay: Duration::ZERO,
        }
    }
}

/// The SQLite backend. Dropping the last handle finishes queued writes and closes the file.
pub struct SqliteStore {
    // Dropped first: the writer then finishes its queue and closes the database.
    _checkpointer: checkpoint::Checkpointer,
    writer: Writer,
    readers: ReadPool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.readers.path)
            .finish_non_exhaustive()
    }
}

fn open_err(e: rusqlite::Error) -> StoreError {
    backend("open")(e)
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database, then starts the writer thread.
    /// Blocking: call it at start-up (or in `spawn_blocking`).
    pub fn open(config: SqliteConfig) -> Result<Arc<Self>, StoreError> {
        let mut conn = Connection::open(&config.path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend {
                operation: "open",
                message: format!("could not switch to WAL mode (journal_mode is {mode})"),
            });
        }
        let sync = match config.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        // A call grouped with others runs in a savepoint (see `writer`); SQLite keeps the
        // pages a savepoint may have to restore in a statement journal, a temporary file
        // unless temp_store is MEMORY. In memory it is a page copy instead of a write
        // syscall per page.
        // Checkpoints run on their own thread (see `checkpoint`); the writer's automatic
        // checkpoint is only a backstop.
        conn.execute_batch(&format!(
            "PRAGMA synchronous={sync}; PRAGMA temp_store=MEMORY; \
             PRAGMA wal_autocheckpoint={};",
            checkpoint::WRITER_BACKSTOP_PAGES
        ))
        .map_err(open_err)?;
        // Multi-row statements come in a few sizes each (see `sql::CHUNKS`).
        conn.set_prepared_statement_cache_capacity(128);
        schema::migrate(&mut conn)?;
        let writer = Writer::start(
            conn,
            config.queue_capacity,
            config.max_jobs_per_commit,
            config.commit_delay,
        )?;
        let checkpointer = checkpoint::Checkpointer::start(&config.path, sync)?;
        Ok(Arc::new(Self {
            _checkpointer: checkpointer,
            writer,
            readers: ReadPool {
                path: config.path,
                idle: Mutex::new(Vec::new()),
                keep: config.readers.max(1),
            },
        }))
    }

    /// All six ports of this backend.
    pub fn stores(self: &Arc<Self>) -> Stores {
        Stores::from_backend(self.clone())
    }

    /// What the writer has committed so far (group commit sizes).
    pub fn writer_stats(&self) -> WriterStats {
        self.writer.stats()
    }

    /// `PRAGMA integrity_check` on a read connection: `Ok(())` when the database is sound.
    pub async fn check_integrity(&self) -> Result<(), StoreError> {
        let report: String = self
            .readers
            .read(|c| {
                c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
                    .map_err(backend("integrity check"))
            })
            .await?;
        if report == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                what: "database",
                detail: report,
            })
        }
    }
}

/// Read-only connections, opened on demand and kept for reuse. Each read runs in
/// `spawn_blocking` inside one read transaction, so it sees one committed snapshot (WAL lets it
/// run while the writer writes).
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    keep: usize,
}

impl ReadPool {
    fn open(path: &Path) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        Ok(conn)
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let path = self.path.clone();
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let conn = match taken {
                Some(c) => c,
                None => match Self::open(&path) {
                    Ok(c) => c,
                    Err(e) => return (None, Err(e)),
                },
            };
            let result = (|| {
                let tx = conn
                    .unchecked_transaction()
                    .map_err(backend("begin read"))?;
                let v = f(&tx)?;
                tx.finish().map_err(backend("end read"))?;
                Ok(v)
            })();
            (Some(conn), result)
        })
        .await
        .map_err(|e| StoreError::Backend {
            operation: "read",
            message: format!("read task failed: {e}"),
        })?;
        if let Some(conn) = conn {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.keep {
                idle.push(conn);
            }
        }
        result
    }
}

/// Collects rows mapped by a fallible function.
fn collect<T>(
    stmt: &mut rusqlite::Statement<'_>,
    p: impl rusqlite::Params,
    operation: &'static str,
    mut f: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut rows = stmt.query(p).map_err(backend(operation))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(backend(operation))? {
        out.push(f(r)?);
    }
    Ok(out)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Loads outbox entries for `(id, due)` pairs.
fn entries(conn: &Connection, ids: Vec<(MessageId, u64)>) -> Result<Vec<OutboxEntry>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for (id, due_at_ms) in ids {
        if let Some(message) = sql::load_message(conn, id, None)? {
            out.push(OutboxEntry { message, due_at_ms });
        }
    }
    Ok(out)
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn insert_batch(
        &self,
        batch: Vec<NewMessageRecord>,
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        self.writer
            .write_hot(move |conn, hot| sql::insert_messages(conn, hot, &batch))
            .await
    }

    async fn get(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError> {
        self.readers
            .read(move |c| sql::load_message(c, id, Some(account)))
            .await
    }

    async fn pending_outbox(
        &self,
        connector: Option<&ConnectorId>,
        after: Option<MessageId>,
        limit_n: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let connector = connector.map(|c| c.as_str().to_owned());
        self.readers
            .read(move |c| {
                let after = match after {
                    Some(after) => id_blob(after),
                    // The first page starts just before the oldest unfinished message:
                    // older ones are all final (see sql::PENDING_OUTBOX).
                    None => {
                        let oldest: Option<Vec<u8>> = c
                            .prepare_cached(sql::OLDEST_UNFINISHED)
                            .and_then(|mut s| s.query_row([], |r| r.get(0)))
                            .map_err(backend("read outbox"))?;
                        let Some(oldest) = oldest else {
                            return Ok(Vec::new());
                        };
                        let oldest = id_from(&oldest, "messages.id")?.as_u128();
                        id_blob(MessageId::from_u128(oldest.saturating_sub(1)))
                    }
                };
                let mut s = c
                    .prepare_cached(sql::PENDING_OUTBOX)
                    .map_err(backend("read outbox"))?;
                let ids = collect(
                    &mut s,
                    params![&after[..], connector, limit(limit_n)],
                    "read outbox",
                    |r| {
                        let blob: Vec<u8> = r.get(0).map_err(backend("read outbox"))?;
                        let due: i64 = r.get(1).map_err(backend("read outbox"))?;
                        Ok((
                            id_from(&blob, "messages.id")?,
                            uint(due, "messages.due_at_ms")?,
                        ))
                    },
                )?;
                entries(c, ids)
            })
            .await
    }

    async fn due_scheduled(
        &self,
        now_ms: u64,
        limit_n: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.writer
            .write_hot(move |c, hot| {
                let due = {
                    let mut s = c
                        .prepare_cached(
                            "SELECT id FROM messages WHERE status = 'scheduled' \
                             AND send_at_ms <= ?1 ORDER BY send_at_ms, id LIMIT ?2",
                        )
                        .map_err(backend("find scheduled"))?;
                    collect(
                        &mut s,
                        params![int(now_ms), limit(limit_n)],
                        "find scheduled",
                        |r| {
                            let blob: Vec<u8> = r.get(0).map_err(backend("find scheduled"))?;
                            id_from(&blob, "messages.id")
                        },
                    )?
                };
                let mut released = Vec::with_capacity(due.len());
                for id in due {
                    if SqlTx::run(c, hot, |tx| apply::release_scheduled(tx, id, now_ms))? {
                        let at: Option<i64> = c
                            .prepare_cached(sql::OUTBOX_DUE)
                            .and_then(|mut s| s.query_row([&id_blob(id)], |r| r.get(0)).optional())
                            .map_err(backend("read outbox"))?;
                        let at = at.map(|v| uint(v, "messages.due_at_ms")).transpose()?;
                        released.push((id, at.unwrap_or(now_ms)));
                    }
                }
                entries(c, released)
            })
            .await
    }

    async fn record_submit_results(
        &self,
        results: Vec<SubmitResult>,
    ) -> Result<Vec<UpdateOutcome>, StoreError> {
        self.writer
            .write_hot(move |c, hot| SqlTx::run(c, hot, |tx| apply::submit_results(tx, &results)))
            .await
    }

    async fn record_receipts(
        &self,
        receipts: Vec<ReceiptUpdate>,
    ) -> Result<Vec<UpdateOutcome>, StoreError> {
        self.writer
            .write_hot(move |c, hot| SqlTx::run(c, hot, |tx| apply::receipts(tx, &receipts)))
            .await
    }

    async fn drop_parked_receipts(&self, before_ms: u64) -> Result<u64, StoreError> {
        self.writer
            .write_hot(move |c, hot| {
                // Which keys are left is read again when next needed.
                hot.parked = hot::ParkedKeys::Unknown;
                c.execute(
                    "DELETE FROM parked_keys WHERE parked_id IN \
                     (SELECT id FROM parked_receipts WHERE at_ms < ?1)",
                    [int(before_ms)],
                )
                .map_err(backend("drop parked receipts"))?;
                let n = c
                    .execute(
                        "DELETE FROM parked_receipts WHERE at_ms < ?1",
                        [int(before_ms)],
                    )
                    .map_err(backend("drop parked receipts"))?;
                Ok(n as u64)
            })
            .await
    }

    async fn expire_overdue(
        &self,
        cutoff_ms: u64,
        now_ms: u64,
        limit_n: usize,
    ) -> Result<Vec<MessageId>, StoreError> {
        self.writer
            .write_hot(move |c, hot| {
                let overdue = {
                    let mut s = c
                        .prepare_cached(sql::FIND_OVERDUE)
                        .map_err(backend("find overdue"))?;
                    collect(
                        &mut s,
                        params![int(cutoff_ms), limit(limit_n)],
                        "find overdue",
                        |r| {
                            let blob: Vec<u8> = r.get(0).map_err(backend("find overdue"))?;
                            id_from(&blob, "messages.id")
                        },
                    )?
                };
                let mut out = Vec::with_capacity(overdue.len());
                for id in overdue {
                    if SqlTx::run(c, hot, |tx| apply::expire(tx, id, now_ms))? {
                        out.push(id);
                    }
                }
                Ok(out)
            })
            .await
    }
}

/// The columns [`account_row`] reads, in order.
const ACCOUNT_COLUMNS: &str = "id, name, created_at_ms, callback_url, mo_url";

/// Reads an account row selected with [`ACCOUNT_COLUMNS`].
fn account_row(r: &rusqlite::Row<'_>) -> Result<Account, StoreError> {
    let get = backend("read account");
    Ok(Account {
        id: AccountId(uint(r.get(0).map_err(&get)?, "accounts.id")?),
        name: r.get(1).map_err(&get)?,
        created_at_ms: uint(r.get(2).map_err(&get)?, "accounts.created_at_ms")?,
        settings: AccountSettings {
            callback_url: r.get(3).map_err(&get)?,
            mo_url: r.get(4).map_err(&get)?,
        },
    })
}

fn api_key_row(r: &rusqlite::Row<'_>) -> Result<ApiKey, StoreError> {
    let get = backend("read api key");
    let hash: Vec<u8> = r.get(3).map_err(&get)?;
    Ok(ApiKey {
        id: uint(r.get(0).map_err(&get)?, "api_keys.id")?,
        account: AccountId(uint(r.get(1).map_err(&get)?, "api_keys.account_id")?),
        label: r.get(2).map_err(&get)?,
        hash: ApiKeyHash(
            hash.as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt {
                    what: "api_keys.hash",
                    detail: format!("{} bytes, expected 32", hash.len()),
                })?,
        ),
        created_at_ms: uint(r.get(4).map_err(&get)?, "api_keys.created_at_ms")?,
    })
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, name: &str, now_ms: u64) -> Result<Account, StoreError> {
        let name = name.to_owned();
        self.writer
            .write(move |c| {
                match c.execute(
                    "INSERT INTO accounts (name, created_at_ms) VALUES (?1, ?2)",
                    params![name, int(now_ms)],
                ) {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => {
                        return Err(StoreError::AlreadyExists {
                            what: "account",
                            value: name,
                        })
                    }
                    Err(e) => return Err(backend("create account")(e)),
                }
                Ok(Account {
                    id: AccountId(uint(c.last_insert_rowid(), "accounts.id")?),
                    name,
                    created_at_ms: now_ms,
                    settings: AccountSettings::default(),
                })
            })
            .await
    }

    async fn get_account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"
                    ))
                    .map_err(backend("read account"))?;
                Ok(collect(&mut s, [int(id.0)], "read account", account_row)?
                    .into_iter()
                    .next())
            })
            .await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.readers
            .read(|c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id"
                    ))
                    .map_err(backend("list accounts"))?;
                collect(&mut s, [], "list accounts", account_row)
            })
            .await
    }

    async fn update_account_settings(
        &self,
        id: AccountId,
        settings: AccountSettings,
    ) -> Result<Account, StoreError> {
        self.writer
            .write(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "UPDATE accounts SET callback_url = ?2, mo_url = ?3 WHERE id = ?1 \
                         RETURNING {ACCOUNT_COLUMNS}"
                    ))
                    .map_err(backend("update account settings"))?;
                collect(
                    &mut s,
                    params![int(id.0), settings.callback_url, settings.mo_url],
                    "update account settings",
                    account_row,
                )?
                .into_iter()
                .next()
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
        self.writer
            .write(move |c| {
                let exists: Option<i64> = c
                    .query_row(
                        "SELECT id FROM accounts WHERE id = ?1",
                        [int(account.0)],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(backend("add api key"))?;
                if exists.is_none() {
                    return Err(StoreError::NotFound {
                        what: "account",
                        value: account.to_string(),
                    });
                }
                match c.execute(
                    "INSERT INTO api_keys (account_id, label, hash, created_at_ms) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![int(account.0), label, &hash.0[..], int(now_ms)],
                ) {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => {
                        return Err(StoreError::AlreadyExists {
                            what: "api key",
                            value: label,
                        })
                    }
                    Err(e) => return Err(backend("add api key")(e)),
                }
                Ok(ApiKey {
                    id: uint(c.last_insert_rowid(), "api_keys.id")?,
                    account,
                    label,
                    hash,
                    created_at_ms: now_ms,
                })
            })
            .await
    }

    async fn find_api_key(&self, hash: ApiKeyHash) -> Result<Option<ApiKey>, StoreError> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT id, account_id, label, hash, created_at_ms FROM api_keys \
                         WHERE hash = ?1",
                    )
                    .map_err(backend("find api key"))?;
                Ok(collect(&mut s, [&hash.0[..]], "find api key", api_key_row)?
                    .into_iter()
                    .next())
            })
            .await
    }

    async fn revoke_api_key(&self, id: u64) -> Result<bool, StoreError> {
        self.writer
            .write(move |c| {
                // Revoked keys are deleted: only live keys are ever looked up.
                c.execute("DELETE FROM api_keys WHERE id = ?1", [int(id)])
                    .map(|n| n > 0)
                    .map_err(backend("revoke api key"))
            })
            .await
    }
}

#[async_trait]
impl SuppressionStore for SqliteStore {
    async fn suppress(
        &self,
        account: AccountId,
        number: Msisdn,
        reason: &str,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let reason = reason.to_owned();
        self.writer
            .write(move |c| {
                c.execute(
                    "INSERT OR IGNORE INTO suppressions (account_id, number, reason, created_at_ms) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![int(account.0), int(number.as_u64()), reason, int(now_ms)],
                )
                .map(|n| n > 0)
                .map_err(backend("suppress"))
            })
            .await
    }

    async fn unsuppress(&self, account: AccountId, number: Msisdn) -> Result<bool, StoreError> {
        self.writer
            .write(move |c| {
                c.execute(
                    "DELETE FROM suppressions WHERE account_id = ?1 AND number = ?2",
                    params![int(account.0), int(number.as_u64())],
                )
                .map(|n| n > 0)
                .map_err(backend("unsuppress"))
            })
            .await
    }

    async fn suppressed_among(
        &self,
        account: AccountId,
        numbers: &[Msisdn],
    ) -> Result<Vec<Msisdn>, StoreError> {
        let numbers = numbers.to_vec();
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT 1 FROM suppressions WHERE account_id = ?1 AND number = ?2",
                    )
                    .map_err(backend("read suppressions"))?;
                let mut out = Vec::new();
                for n in numbers {
                    if s.exists(params![int(account.0), int(n.as_u64())])
                        .map_err(backend("read suppressions"))?
                    {
                        out.push(n);
                    }
                }
                Ok(out)
            })
            .await
    }
}

#[async_trait]
impl InboundStore for SqliteStore {
    async fn insert_inbound(&self, batch: Vec<InboundRecord>) -> Result<u64, StoreError> {
        self.writer
            .write(move |c| {
                let mut s = c
                    .prepare_cached(
                        "INSERT OR IGNORE INTO inbound (id, account_id, sender, recipient, body, \
                         connector, received_at_ms, webhook_url) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )
                    .map_err(backend("insert inbound"))?;
                let mut stored = 0;
                for r in &batch {
                    let new = s
                        .execute(params![
                            id_blob(r.id),
                            int(r.account.0),
                            int(r.from.as_u64()),
                            r.to,
                            r.text,
                            r.connector.as_str(),
                            int(r.received_at_ms),
                            r.webhook_url,
                        ])
                        .map_err(backend("insert inbound"))?
                        > 0;
                    if !new {
                        // A redelivered reply: stored (and announced) the first time.
                        continue;
                    }
                    stored += 1;
                    if let Some(url) = &r.webhook_url {
                        c.prepare_cached(sql::INSERT_WEBHOOK)
                            .and_then(|mut w| {
                                w.execute(params![
                                    int(r.account.0),
                                    id_blob(r.id),
                                    url,
                                    webhook_event_name(WebhookEvent::Inbound),
                                    int(r.received_at_ms),
                                ])
                            })
                            .map_err(backend("queue webhook"))?;
                    }
                }
                Ok(stored)
            })
            .await
    }

    async fn get_inbound(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<InboundRecord>, StoreError> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {} FROM inbound WHERE id = ?1 AND account_id = ?2",
                        sql::INBOUND_COLUMNS
                    ))
                    .map_err(backend("read inbound"))?;
                Ok(collect(
                    &mut s,
                    params![&id_blob(id)[..], int(account.0)],
                    "read inbound",
                    sql::inbound_row,
                )?
                .into_iter()
                .next())
            })
            .await
    }

    async fn list_inbound(
        &self,
        account: AccountId,
        before: Option<MessageId>,
        limit_n: usize,
    ) -> Result<Vec<InboundRecord>, StoreError> {
        self.readers
            .read(move |c| {
                let before = before.map(id_blob).unwrap_or([0xFF; 16]);
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {} FROM inbound WHERE account_id = ?1 AND id < ?2 \
                         ORDER BY id DESC LIMIT ?3",
                        sql::INBOUND_COLUMNS
                    ))
                    .map_err(backend("list inbound"))?;
                collect(
                    &mut s,
                    params![int(account.0), &before[..], limit(limit_n)],
                    "list inbound",
                    sql::inbound_row,
                )
            })
            .await
    }
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn claim_due_webhooks(
        &self,
        now_ms: u64,
        lease_ms: u64,
        limit_n: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        self.writer
            .write(move |c| {
                let mut due = {
                    let mut s = c
                        .prepare_cached(&format!(
                            "SELECT {} FROM webhooks WHERE state = 'pending' AND next_at_ms <= ?1 \
                             ORDER BY id LIMIT ?2",
                            sql::WEBHOOK_COLUMNS
                        ))
                        .map_err(backend("claim webhooks"))?;
                    collect(
                        &mut s,
                        params![int(now_ms), limit(limit_n)],
                        "claim webhooks",
                        sql::webhook_row,
                    )?
                };
                let until = now_ms.saturating_add(lease_ms);
                let mut s = c
                    .prepare_cached("UPDATE webhooks SET next_at_ms = ?2 WHERE id = ?1")
                    .map_err(backend("claim webhooks"))?;
                for w in &mut due {
                    s.execute(params![int(w.id), int(until)])
                        .map_err(backend("claim webhooks"))?;
                    w.next_at_ms = until;
                }
                Ok(due)
            })
            .await
    }

    async fn record_webhook_attempts(
        &self,
        attempts: Vec<WebhookAttempt>,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |c| {
                for a in &attempts {
                    let (state, next, error) =
                        tuma_store::columns::webhook_attempt_columns(&a.result);
                    c.prepare_cached(
                        "UPDATE webhooks SET attempts = attempts + 1, state = ?2, \
                         next_at_ms = COALESCE(?3, next_at_ms), \
                         last_error = COALESCE(?4, last_error) WHERE id = ?1",
                    )
                    .and_then(|mut s| s.execute(params![int(a.id), state, next, error]))
                    .map_err(backend("record webhook attempt"))?;
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
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {} FROM webhooks WHERE account_id = ?1 AND state != 'delivered' \
                         AND last_error IS NOT NULL ORDER BY id DESC LIMIT ?2",
                        sql::WEBHOOK_COLUMNS
                    ))
                    .map_err(backend("list webhook failures"))?;
                collect(
                    &mut s,
                    params![int(account.0), limit(limit_n)],
                    "list webhook failures",
                    sql::webhook_row,
                )
            })
            .await
    }
}
