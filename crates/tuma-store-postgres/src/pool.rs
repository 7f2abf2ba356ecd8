//! A small pool of `tokio_postgres` clients and the transaction runner every call goes
//! through.
//!
//! The shared update algorithms (`tuma_store::apply`) are synchronous: they call
//! [`tuma_store::apply::WriteTx`] primitives one after another. So a call takes a pooled
//! client into `spawn_blocking`, opens a transaction and drives each statement with
//! `Handle::block_on`, while the client's connection task keeps running on the runtime.
//! A call that hits a deadlock or serialization failure (possible with several nodes on one
//! database) is rolled back and run again, a few times at most.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, Row, Statement, Transaction};
use tuma_store::StoreError;

/// How often a call is run when the database reports a deadlock or serialization failure.
const MAX_ATTEMPTS: u32 = 5;

/// Maps a driver error to [`StoreError::Backend`], with the server's message and SQLSTATE
/// when there is one (the driver's own `Display` says only "db error").
pub(crate) fn backend(operation: &'static str, e: &tokio_postgres::Error) -> StoreError {
    let message = match e.as_db_error() {
        Some(db) => format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => e.to_string(),
    };
    StoreError::Backend { operation, message }
}

/// Deadlocks and serialization failures: the transaction may succeed when run again.
fn is_retriable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

/// One connection and the statements prepared on it (named statements outlive
/// transactions, so each SQL text is parsed once per connection).
pub(crate) struct PgConn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

struct Shared {
    config: Config,
    /// Set on every new connection (tests: a schema of their own).
    search_path: Option<String>,
    idle: Mutex<Vec<PgConn>>,
    permits: Arc<Semaphore>,
}

/// At most `size` connections, opened on demand and kept while healthy.
#[derive(Clone)]
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

/// A client taken from the pool; it goes back when dropped unless its connection closed.
pub(crate) struct Pooled {
    conn: Option<PgConn>,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !conn.client.is_closed() {
                self.shared
                    .idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(conn);
            }
        }
    }
}

impl Pool {
    pub(crate) fn new(config: Config, size: usize, search_path: Option<String>) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                search_path,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(size.max(1))),
            }),
        }
    }

    async fn open(&self) -> Result<PgConn, StoreError> {
        let (client, connection) = self
            .shared
            .config
            .connect(NoTls)
            .await
            .map_err(|e| backend("connect", &e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "postgres connection ended");
            }
        });
        if let Some(path) = &self.shared.search_path {
            client
                .batch_execute(&format!("SET search_path TO {}", quote_ident(path)))
                .await
                .map_err(|e| backend("set search_path", &e))?;
        }
        Ok(PgConn {
            client,
            statements: HashMap::new(),
        })
    }

    /// A healthy client (waits while `size` are in use).
    pub(crate) async fn get(&self) -> Result<Pooled, StoreError> {
        let permit = self
            .shared
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let reused = loop {
            let next = self
                .shared
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop();
            match next {
                Some(c) if c.client.is_closed() => continue,
                other => break other,
            }
        };
        let conn = match reused {
            Some(c) => c,
            None => self.open().await?,
        };
        Ok(Pooled {
            conn: Some(conn),
            shared: self.shared.clone(),
            _permit: permit,
        })
    }

    /// Runs `f` in one transaction on a pooled client (see the module comment), committing
    /// when it returns `Ok`. `f` may run more than once (deadlock or serialization failure).
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut PgTx<'_, '_>) -> Result<T, StoreError> + Send + 'static,
    {
        let mut pooled = self.get().await?;
        let rt = Handle::current();
        let mut f = f;
        tokio::task::spawn_blocking(move || {
            let Some(conn) = pooled.conn.as_mut() else {
                return Err(StoreError::Closed);
            };
            let mut attempt = 0;
            loop {
                attempt += 1;
                let PgConn { client, statements } = &mut *conn;
                let tx = rt
                    .block_on(client.transaction())
                    .map_err(|e| backend("begin", &e))?;
                let mut ptx = PgTx {
                    tx: &tx,
                    statements,
                    rt: &rt,
                    retriable: false,
                    any_parked: None,
                    deferred: Vec::new(),
                };
                let result = f(&mut ptx).and_then(|v| ptx.flush().map(|()| v));
                let retriable = ptx.retriable;
                match result {
                    Ok(v) => match rt.block_on(tx.commit()) {
                        Ok(()) => return Ok(v),
                        Err(e) if is_retriable(&e) && attempt < MAX_ATTEMPTS => {}
                        Err(e) => return Err(backend("commit", &e)),
                    },
                    Err(e) => {
                        // A failed rollback leaves the connection broken; the driver then
                        // reports it closed and the pool drops it.
                        let _ = rt.block_on(tx.rollback());
                        if !(retriable && attempt < MAX_ATTEMPTS) {
                            return Err(e);
                        }
                    }
                }
                tracing::debug!(attempt, "postgres transaction retried");
            }
        })
        .await
        .map_err(|e| StoreError::Backend {
            operation: "run transaction",
            message: format!("blocking task failed: {e}"),
        })?
    }
}

/// `"name"` with inner quotes doubled: an identifier that cannot inject SQL.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A statement whose result nobody reads, sent with the next round trip.
struct Deferred {
    operation: &'static str,
    sql: &'static str,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

/// An owned statement parameter, for [`PgTx::defer`].
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// One transaction, driven synchronously from a blocking thread: what the shared update
/// algorithms and every other call of this backend run on.
///
/// Writes whose result is not needed ([`PgTx::defer`]) are held back and sent together with
/// the next query, in order, in one pipelined round trip (tokio-postgres sends a request
/// when its future is first polled, and the server runs them in that order). A status
/// update thus costs about one round trip per read instead of one per statement.
pub(crate) struct PgTx<'a, 't> {
    tx: &'a Transaction<'t>,
    statements: &'a mut HashMap<&'static str, Statement>,
    rt: &'a Handle,
    /// Set when a statement failed with a deadlock or serialization failure.
    retriable: bool,
    /// Whether any receipt is parked, once asked (see `take_parked`).
    pub(crate) any_parked: Option<bool>,
    deferred: Vec<Deferred>,
}

/// What one pipelined statement gave.
enum Answer {
    Rows(Vec<Row>),
    Count(u64),
}

impl PgTx<'_, '_> {
    fn fail(&mut self, operation: &'static str, e: &tokio_postgres::Error) -> StoreError {
        if is_retriable(e) {
            self.retriable = true;
        }
        backend(operation, e)
    }

    /// Marks the transaction to be run again (a concurrent writer changed what it read).
    pub(crate) fn retry_later(&mut self) {
        self.retriable = true;
    }

    /// Queues a write whose result is not needed; it is sent with the next query (or at
    /// commit). Its error, if any, fails that query.
    pub(crate) fn defer(&mut self, operation: &'static str, sql: &'static str, params: Vec<Param>) {
        self.deferred.push(Deferred {
            operation,
            sql,
            params,
        });
    }

    /// Sends the deferred writes now.
    pub(crate) fn flush(&mut self) -> Result<(), StoreError> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        self.pipeline(None, false).map(drop)
    }

    /// Sends the deferred writes, then `last` (as a query when `rows`, else as an execute),
    /// in one pipelined round trip; returns `last`'s answer.
    fn pipeline(
        &mut self,
        last: Option<(&'static str, &'static str, &[&(dyn ToSql + Sync)])>,
        rows: bool,
    ) -> Result<Option<Answer>, StoreError> {
        let deferred = std::mem::take(&mut self.deferred);
        let tx = self.tx;
        let statements = &mut *self.statements;
        let operations: Vec<&'static str> = deferred
            .iter()
            .map(|d| d.operation)
            .chain(last.iter().map(|l| l.0))
            .collect();
        let result = self.rt.block_on(async {
            // Prepare first (once per connection), so that each statement's future sends
            // its request at its first poll, in order.
            let mut prepared = Vec::with_capacity(operations.len());
            for (i, sql) in deferred
                .iter()
                .map(|d| d.sql)
                .chain(last.iter().map(|l| l.1))
                .enumerate()
            {
                let statement = match statements.get(sql) {
                    Some(s) => s.clone(),
                    None => {
                        let s = tx.prepare(sql).await.map_err(|e| (i, e))?;
                        statements.insert(sql, s.clone());
                        s
                    }
                };
                prepared.push(statement);
            }
            let mut futures: Vec<PipelineFuture<'_>> = Vec::with_capacity(prepared.len());
            for (d, statement) in deferred.iter().zip(&prepared) {
                let params: Vec<&(dyn ToSql + Sync)> = d
                    .params
                    .iter()
                    .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                futures.push(Box::pin(async move {
                    tx.execute(statement, &params).await.map(Answer::Count)
                }));
            }
            if let (Some((_, _, params)), Some(statement)) = (last, prepared.last()) {
                futures.push(if rows {
                    Box::pin(async move { tx.query(statement, params).await.map(Answer::Rows) })
                } else {
                    Box::pin(async move { tx.execute(statement, params).await.map(Answer::Count) })
                });
            }
            let answers = run_in_order(futures).await;
            let mut final_answer = None;
            for (i, answer) in answers.into_iter().enumerate() {
                // The first error is the cause; later statements then fail only because
                // the transaction is aborted.
                final_answer = Some(answer.map_err(|e| (i, e))?);
            }
            Ok(final_answer)
        });
        match result {
            Ok(answer) => Ok(if last.is_some() { answer } else { None }),
            Err((i, e)) => {
                let operation = operations.get(i).copied().unwrap_or("pipeline");
                Err(self.fail(operation, &e))
            }
        }
    }

    /// Runs a query (with the deferred writes before it) and returns its rows.
    pub(crate) fn query(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        match self.pipeline(Some((operation, sql, params)), true)? {
            Some(Answer::Rows(rows)) => Ok(rows),
            _ => Err(StoreError::Backend {
                operation,
                message: "the query gave no rows answer".into(),
            }),
        }
    }

    /// Runs a statement (with the deferred writes before it) and returns how many rows it
    /// changed.
    pub(crate) fn execute(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        match self.pipeline(Some((operation, sql, params)), false)? {
            Some(Answer::Count(n)) => Ok(n),
            _ => Err(StoreError::Backend {
                operation,
                message: "the statement gave no row count".into(),
            }),
        }
    }

    /// Streams `rows` into `COPY ... FROM STDIN (FORMAT binary)` (`sql`), each row with
    /// `types`' values, after the deferred writes; returns how many rows were stored, or
    /// `Ok(Err(detail))` when a row hit a unique index (the server's detail names the key;
    /// the transaction is then aborted, so the caller must fail the call).
    pub(crate) fn copy_in<'v, I>(
        &mut self,
        operation: &'static str,
        sql: &'static str,
        types: &[Type],
        rows: I,
    ) -> Result<Result<u64, String>, StoreError>
    where
        I: IntoIterator<Item = Vec<&'v (dyn ToSql + Sync)>>,
    {
        self.flush()?;
        let tx = self.tx;
        let result = self.rt.block_on(async {
            let sink = tx.copy_in(sql).await?;
            let writer = BinaryCopyInWriter::new(sink, types);
            let mut writer = std::pin::pin!(writer);
            for row in rows {
                if row.len() != types.len() {
                    // `write` would panic: a bug of the caller, reported instead.
                    return Ok(Err(row.len()));
                }
                writer.as_mut().write(&row).await?;
            }
            writer.finish().await.map(Ok)
        });
        match result {
            Ok(Ok(n)) => Ok(Ok(n)),
            Ok(Err(width)) => Err(StoreError::Backend {
                operation,
                message: format!("a row of {width} values for {} columns", types.len()),
            }),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(Err(e
                .as_db_error()
                .and_then(|db| db.detail())
                .unwrap_or("a key is taken")
                .to_owned())),
            Err(e) => Err(self.fail(operation, &e)),
        }
    }

    /// Runs SQL text without parameters (migrations, DDL).
    pub(crate) fn batch(&mut self, operation: &'static str, sql: &str) -> Result<(), StoreError> {
        self.flush()?;
        let tx = self.tx;
        let result = self.rt.block_on(tx.batch_execute(sql));
        result.map_err(|e| self.fail(operation, &e))
    }
}

type PipelineFuture<'f> =
    Pin<Box<dyn Future<Output = Result<Answer, tokio_postgres::Error>> + Send + 'f>>;

/// Polls every future once, in order (each sends its request then), and only then waits
/// for the answers: all requests travel in one round trip.
async fn run_in_order<T>(mut futures: Vec<Pin<Box<dyn Future<Output = T> + Send + '_>>>) -> Vec<T> {
    let mut early: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (future, slot) in futures.iter_mut().zip(early.iter_mut()) {
            if let Poll::Ready(v) = future.as_mut().poll(cx) {
                *slot = Some(v);
            }
        }
        Poll::Ready(())
    })
    .await;
    let mut out = Vec::with_capacity(futures.len());
    for (future, slot) in futures.into_iter().zip(early) {
        out.push(match slot {
            Some(v) => v,
            None => future.await,
        });
    }
    out
}
