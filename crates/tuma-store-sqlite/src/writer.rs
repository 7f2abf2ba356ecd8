//! The single writer: one thread owns the read-write connection and commits work in groups.
//!
//! Callers send a job over a bounded channel and wait on a oneshot. The thread takes the first
//! job, drains whatever else is queued (up to `max_jobs_per_commit`), runs every job in its own
//! savepoint inside ONE transaction, commits once, and only then answers every waiter. Idle, a
//! commit holds one job (low latency); under load it holds hundreds (one fsync for all).
//! A job that fails rolls back to its savepoint: its partial writes vanish, the others commit.
//! A job alone in its transaction runs without a savepoint (a savepoint makes SQLite copy
//! each page the job modifies first); if it fails, the transaction is rolled back instead.
//! The thread also owns the writer's cache ([`Hot`]), which a failed job touching what it
//! mirrors, or a failed commit, clears.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};
use tuma_store::StoreError;

use crate::hot::Hot;
use crate::sql::backend;

/// Runs in the writer thread (in a savepoint of its own if the flag says so); returns what
/// to do once the commit's outcome is known, and whether the job succeeded.
type Job = Box<dyn FnOnce(&Connection, &mut Hot, bool) -> (Reply, bool) + Send>;
/// Called with the commit's outcome.
type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Counters of the writer's work (monotonic since open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: u64,
    /// Jobs (store calls) committed; `jobs / commits` is the average group size.
    pub jobs: u64,
    /// Time the writer thread spent in transactions (from `BEGIN` to the end of `COMMIT`,
    /// fsync included), in microseconds: the writer's load, whatever the callers' latency.
    pub busy_micros: u64,
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    jobs: AtomicU64,
    busy_micros: AtomicU64,
}

/// The sending side, held by the store.
pub(crate) struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(crate) fn start(
        conn: Connection,
        queue_capacity: usize,
        max_jobs_per_commit: usize,
    ) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel(queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("tuma-sqlite-writer".into())
            .spawn(move || run(conn, rx, max_jobs_per_commit.max(1), &thread_counters))
            .map_err(|e| StoreError::Backend {
                operation: "start writer thread",
                message: e.to_string(),
            })?;
        Ok(Self {
            jobs: Some(tx),
            thread: Some(thread),
            counters,
        })
    }

    /// What the writer has committed so far.
    pub(crate) fn stats(&self) -> WriterStats {
        WriterStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            jobs: self.counters.jobs.load(Ordering::Relaxed),
            busy_micros: self.counters.busy_micros.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` in the next group transaction; answers after the commit. For work that
    /// touches none of the tables the writer's cache mirrors (messages, segments,
    /// key index, parked receipts): its failure leaves the cache alone.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(false, move |conn, _| f(conn)).await
    }

    /// Like [`Writer::write`], with the writer's cache of live messages and SMSC id keys
    /// (see [`Hot`]): what changes messages, segments or the key index goes through here.
    /// If it fails, the cache is cleared (its writes are rolled back).
    pub(crate) async fn write_hot<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Hot) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(true, f).await
    }

    async fn submit<T, F>(&self, touches_hot: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Hot) -> Result<T, StoreError> + Send + 'static,
    {
        let (done, wait) = oneshot::channel();
        let job: Job = Box::new(move |conn: &Connection, hot: &mut Hot, savepoint: bool| {
            let result = if savepoint {
                in_savepoint(conn, hot, f)
            } else {
                // Alone: if it fails, the writer rolls the whole transaction back (`run`).
                f(conn, hot)
            };
            if result.is_err() && touches_hot {
                // The cache may hold what the rolled-back writes did: forget it all (it is
                // only a shortcut; the database is the truth).
                hot.clear();
            }
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit: Result<(), StoreError>| {
                // The waiter may have gone away (request cancelled); nothing to do then.
                let _ = done.send(commit.and(result));
            });
            (reply, ok)
        });
        let jobs = self.jobs.as_ref().ok_or(StoreError::Closed)?;
        jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        // A dropped reply means the writer thread ended (it panicked or could not begin a
        // transaction, which it logs).
        wait.await.map_err(|_| StoreError::Closed)?
    }
}

impl Drop for Writer {
    /// Closes the queue and waits for the thread to commit what it holds and close the
    /// connection, so a reopened database sees everything.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("sqlite writer thread panicked");
            }
        }
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    hot: &mut Hot,
    f: impl FnOnce(&Connection, &mut Hot) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    exec(conn, "SAVEPOINT job", "savepoint")?;
    match f(conn, hot) {
        Ok(v) => {
            exec(conn, "RELEASE job", "release savepoint")?;
            Ok(v)
        }
        Err(e) => {
            // The caller clears the cache if the job touched what it mirrors.
            exec(conn, "ROLLBACK TO job", "roll back savepoint")?;
            exec(conn, "RELEASE job", "release savepoint")?;
            Err(e)
        }
    }
}

fn exec(conn: &Connection, sql: &str, operation: &'static str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
        .map_err(backend(operation))
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Job>, max_jobs: usize, counters: &Counters) {
    let mut jobs: Vec<Job> = Vec::with_capacity(max_jobs);
    let mut replies: Vec<Reply> = Vec::with_capacity(max_jobs);
    let mut hot = Hot::default();
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < max_jobs {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        if let Err(e) = exec(&conn, "BEGIN IMMEDIATE", "begin") {
            hot.clear();
            // Dropping the jobs drops their oneshots: every waiter gets `Closed`.
            tracing::error!(error = %e, jobs = jobs.len(), "sqlite writer cannot begin a transaction");
            jobs.clear();
            continue;
        }
        // A job alone in its transaction needs no savepoint: if it fails, the transaction
        // is rolled back instead of committed. (A savepoint makes SQLite copy every page
        // the job modifies to a statement journal first.)
        let alone = jobs.len() == 1;
        let mut all_ok = true;
        for job in jobs.drain(..) {
            let (reply, ok) = job(&conn, &mut hot, !alone);
            all_ok &= ok;
            replies.push(reply);
        }
        if alone && !all_ok {
            // The job's reply carries its error; there is nothing to commit.
            if let Err(e) = exec(&conn, "ROLLBACK", "roll back") {
                tracing::error!(error = %e, "sqlite rollback failed");
            }
            let busy = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            counters.busy_micros.fetch_add(busy, Ordering::Relaxed);
            for reply in replies.drain(..) {
                reply(Ok(()));
            }
            continue;
        }
        let commit = exec(&conn, "COMMIT", "commit");
        let busy = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        counters.busy_micros.fetch_add(busy, Ordering::Relaxed);
        match &commit {
            Ok(()) => {
                counters.commits.fetch_add(1, Ordering::Relaxed);
                counters
                    .jobs
                    .fetch_add(replies.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(error = %e, "sqlite commit failed; rolling back");
                hot.clear();
                // After a failed COMMIT the transaction may still be open; nothing counts.
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
        for reply in replies.drain(..) {
            reply(commit.clone());
        }
    }
}
