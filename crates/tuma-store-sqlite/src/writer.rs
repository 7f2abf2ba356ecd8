//! The single writer: one thread owns the read-write connection and commits work in groups.
//!
//! Callers send a job over a bounded channel and wait on a oneshot. The thread takes the first
//! job, drains whatever else is queued (up to `max_jobs_per_commit`), runs every job in its own
//! savepoint inside ONE transaction, commits once, and only then answers every waiter. Idle, a
//! commit holds one job (low latency); under load it holds hundreds (one fsync for all).
//! With a `commit_delay` (off by default), a job that finds the writer idle waits that long
//! for company before the transaction begins (see [`run`]); a writer with work queued never
//! waits.
//! A job that fails rolls back to its savepoint: its partial writes vanish, the others commit.
//! The first job of a transaction runs without a savepoint (a savepoint makes SQLite copy
//! each page the job modifies first); if it fails, the transaction is rolled back instead
//! and the jobs behind it go into the next one.
//! The thread also owns the writer's cache ([`Hot`]), which a failed job touching what it
//! mirrors, or a failed commit, clears.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
        commit_delay: Duration,
    ) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel(queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("tuma-sqlite-writer".into())
            .spawn(move || {
                warn_if_deprioritised();
                run(
                    conn,
                    rx,
                    max_jobs_per_commit.max(1),
                    commit_delay,
                    &thread_counters,
                )
            })
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

/// The writer is the serial part of the store: `tuma serve` runs its async threads at a lower
/// priority so that the writer gets a core when it has work. A thread inherits its creator's
/// priority, so a store opened from one of those threads would lose that; say so (on Linux,
/// `PRIO_PROCESS` with the process id reads the main thread's priority).
fn warn_if_deprioritised() {
    #[cfg(unix)]
    {
        use rustix::process::{getpid, getpriority_process};
        if let (Ok(own), Ok(process)) = (
            getpriority_process(None),
            getpriority_process(Some(getpid())),
        ) {
            if own > process {
                tracing::warn!(
                    writer_nice = own,
                    process_nice = process,
                    "the SQLite writer runs at a lower priority than the process: it was opened \
                     from a lowered thread (open the store from the main thread)"
                );
            }
        }
    }
}

/// The writer's loop: one transaction per turn, holding every job queued by then.
///
/// **Commit delay** (off by default). A commit has a fixed cost whatever it holds: the fsync
/// (on a virtual disk, a VM exit that the writer's CPU pays: about 60 µs each in a profile,
/// 2026-11-27), and the WAL frames of the pages every commit dirties again (the right edges
/// of the B-trees). When `commit_delay` is set and a job finds the writer idle (the queue
/// was empty), the writer sleeps that long before it begins and takes whatever has arrived
/// by then into the same transaction. A writer that finds jobs queued (it is the busy part)
/// begins at once. Measured in docs/benchmarks.md ("An Intel instance, and a commit delay
/// tried"): it lowered latency with hundreds of clients and halved the throughput of a few
/// clients that each wait for their answer, hence off by default.
fn run(
    conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    max_jobs: usize,
    commit_delay: Duration,
    counters: &Counters,
) {
    let mut jobs: VecDeque<Job> = VecDeque::with_capacity(max_jobs);
    let mut replies: Vec<Reply> = Vec::with_capacity(max_jobs);
    let mut hot = Hot::default();
    loop {
        // Jobs left over from a transaction rolled back by its first job come first.
        if jobs.is_empty() {
            if let Ok(first) = rx.try_recv() {
                jobs.push_back(first);
            } else {
                // Idle: wait for a job, then for company.
                match rx.blocking_recv() {
                    Some(first) => jobs.push_back(first),
                    None => break,
                }
                if !commit_delay.is_zero() {
                    std::thread::sleep(commit_delay);
                }
            }
        }
        while jobs.len() < max_jobs {
            match rx.try_recv() {
                Ok(job) => jobs.push_back(job),
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
        // The first job of a transaction needs no savepoint: if it fails, nothing else has
        // run yet, so the transaction is rolled back instead and the other jobs wait for the
        // next one. (A savepoint makes SQLite copy every page the job modifies to a
        // statement journal first.) The jobs after it run in savepoints of their own.
        let mut first_failed = false;
        while let Some(job) = jobs.pop_front() {
            let first = replies.is_empty();
            let (reply, ok) = job(&conn, &mut hot, !first);
            replies.push(reply);
            if first && !ok {
                first_failed = true;
                break;
            }
        }
        if first_failed {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (tempfile::TempDir, Writer) {
        writer_with_delay(Duration::ZERO)
    }

    fn writer_with_delay(commit_delay: Duration) -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")
            .unwrap();
        (dir, Writer::start(conn, 64, 64, commit_delay).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_writer_with_a_commit_delay_waits_for_company() {
        let (_dir, w) = writer_with_delay(Duration::from_millis(500));
        let w = Arc::new(w);
        // One write first, and a moment after it, so that the writer thread has started and
        // waits for work (a job it finds queued when it looks is not delayed).
        assert_eq!(w.write(insert(0, false)).await.ok(), Some(0));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let first = {
            let w = w.clone();
            tokio::spawn(async move { w.write(insert(1, false)).await })
        };
        // Sent well within the first job's delay: it shares the first job's commit.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = w.write(insert(2, false)).await;
        assert_eq!(first.await.unwrap().ok(), Some(1));
        assert_eq!(second.ok(), Some(2));
        let stats = w.stats();
        assert_eq!((stats.commits, stats.jobs), (2, 3), "{stats:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_with_jobs_queued_does_not_wait() {
        let delay = Duration::from_secs(2);
        let (_dir, w) = writer_with_delay(delay);
        let w = Arc::new(w);
        // The first job finds the writer idle (it waits `delay`), then holds the writer.
        let (holder, release) = hold_writer(&w).await;
        // Queued while the writer is busy: the next transaction begins without a delay.
        let queued = {
            let w = w.clone();
            tokio::spawn(async move { w.write(insert(7, false)).await })
        };
        while w.jobs.as_ref().unwrap().capacity() == 64 {
            tokio::task::yield_now().await;
        }
        let released = Instant::now();
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap().ok(), Some(7));
        let waited = released.elapsed();
        assert!(waited < delay * 3 / 4, "the queued job waited {waited:?}");
        assert_eq!(w.stats().commits, 2);
    }

    /// Sends a job that holds the writer thread until the returned sender is used, and
    /// returns once the thread is inside it.
    async fn hold_writer(
        w: &Arc<Writer>,
    ) -> (
        tokio::task::JoinHandle<Result<(), StoreError>>,
        std::sync::mpsc::Sender<()>,
    ) {
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (entered, inside) = std::sync::mpsc::channel::<()>();
        let holder = {
            let w = w.clone();
            tokio::spawn(async move {
                w.write(move |_| {
                    entered.send(()).unwrap();
                    hold.recv().unwrap();
                    Ok(())
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || inside.recv().unwrap())
            .await
            .unwrap();
        (holder, release)
    }

    /// A job that inserts `v` and then fails if `fail` (its insert must vanish).
    fn insert(v: i64, fail: bool) -> impl FnOnce(&Connection) -> Result<i64, StoreError> {
        move |c| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map_err(backend("insert"))?;
            if fail {
                return Err(StoreError::Backend {
                    operation: "test",
                    message: format!("job {v} fails"),
                });
            }
            Ok(v)
        }
    }

    /// Queues `jobs` behind a job that holds the writer, so that they share a transaction
    /// (up to the first one's failure), and returns their results and the committed rows.
    async fn grouped(jobs: Vec<(i64, bool)>) -> (Vec<Result<i64, StoreError>>, Vec<i64>) {
        let (_dir, w) = writer();
        let w = Arc::new(w);
        // The writer thread is inside the holding job: what is queued now waits for it.
        let (holder, release) = hold_writer(&w).await;
        let queue = |w: &Writer| w.jobs.as_ref().unwrap().capacity();
        let free = queue(&w);
        let mut waiting = Vec::new();
        for (v, fail) in jobs {
            let w2 = w.clone();
            waiting.push(tokio::spawn(async move { w2.write(insert(v, fail)).await }));
            // Queued in this order: each call is in the queue before the next one starts.
            while queue(&w) + waiting.len() > free {
                tokio::task::yield_now().await;
            }
        }
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        let mut results = Vec::new();
        for t in waiting {
            results.push(t.await.unwrap());
        }
        let rows = w
            .write(|c| {
                let mut s = c.prepare("SELECT v FROM t ORDER BY v").unwrap();
                let rows = s.query_map([], |r| r.get(0)).unwrap();
                Ok(rows.map(Result::unwrap).collect::<Vec<i64>>())
            })
            .await
            .unwrap();
        (results, rows)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_first_job_rolls_back_alone_and_the_others_commit() {
        let (results, rows) = grouped(vec![(1, true), (2, false), (3, false)]).await;
        assert!(results[0].is_err(), "{results:?}");
        assert_eq!(results[1].as_ref().ok(), Some(&2), "{results:?}");
        assert_eq!(results[2].as_ref().ok(), Some(&3), "{results:?}");
        assert_eq!(rows, vec![2, 3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_later_job_rolls_back_to_its_savepoint() {
        let (results, rows) = grouped(vec![(1, false), (2, true), (3, false), (4, true)]).await;
        assert_eq!(results[0].as_ref().ok(), Some(&1), "{results:?}");
        assert!(results[1].is_err(), "{results:?}");
        assert_eq!(results[2].as_ref().ok(), Some(&3), "{results:?}");
        assert!(results[3].is_err(), "{results:?}");
        assert_eq!(rows, vec![1, 3]);
    }
}
