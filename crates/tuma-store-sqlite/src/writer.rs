//! The single writer: one thread owns the read-write connection and commits work in groups.
//!
//! Callers send a job over a bounded channel and wait on a oneshot. The thread takes the first
//! job, drains whatever else is queued (up to `max_jobs_per_commit`), runs every job in its own
//! savepoint inside ONE transaction, commits once, and only then answers every waiter. Idle, a
//! commit holds one job (low latency); under load it holds hundreds (one fsync for all).
//! A job that fails rolls back to its savepoint: its partial writes vanish, the others commit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};
use tuma_store::StoreError;

use crate::sql::backend;

/// Runs in the writer thread; returns what to do once the commit's outcome is known.
type Job = Box<dyn FnOnce(&Connection) -> Reply + Send>;
/// Called with the commit's outcome.
type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Counters of the writer's work (monotonic since open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: u64,
    /// Jobs (store calls) committed; `jobs / commits` is the average group size.
    pub jobs: u64,
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    jobs: AtomicU64,
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
        }
    }

    /// Runs `f` in the next group transaction; answers after the commit.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (done, wait) = oneshot::channel();
        let job: Job = Box::new(move |conn: &Connection| -> Reply {
            let result = in_savepoint(conn, f);
            Box::new(move |commit: Result<(), StoreError>| {
                // The waiter may have gone away (request cancelled); nothing to do then.
                let _ = done.send(commit.and(result));
            })
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
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    exec(conn, "SAVEPOINT job", "savepoint")?;
    match f(conn) {
        Ok(v) => {
            exec(conn, "RELEASE job", "release savepoint")?;
            Ok(v)
        }
        Err(e) => {
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
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < max_jobs {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = exec(&conn, "BEGIN IMMEDIATE", "begin") {
            // Dropping the jobs drops their oneshots: every waiter gets `Closed`.
            tracing::error!(error = %e, jobs = jobs.len(), "sqlite writer cannot begin a transaction");
            jobs.clear();
            continue;
        }
        for job in jobs.drain(..) {
            replies.push(job(&conn));
        }
        let commit = exec(&conn, "COMMIT", "commit");
        match &commit {
            Ok(()) => {
                counters.commits.fetch_add(1, Ordering::Relaxed);
                counters
                    .jobs
                    .fetch_add(replies.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(error = %e, "sqlite commit failed; rolling back");
                // After a failed COMMIT the transaction may still be open; nothing counts.
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
        for reply in replies.drain(..) {
            reply(commit.clone());
        }
    }
}
