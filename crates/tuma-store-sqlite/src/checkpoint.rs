//! WAL checkpoints on a thread of their own, so the writer thread only writes.
//!
//! SQLite's automatic checkpoint runs on the connection that commits, after the commit:
//! copying WAL pages into the database file and (with `synchronous` FULL or NORMAL)
//! fsyncing it, on the writer thread, between two groups of jobs. This thread does it
//! instead, every [`INTERVAL`], with `PRAGMA wal_checkpoint(PASSIVE)` on its own
//! connection: a passive checkpoint copies what no reader still needs and never blocks the
//! writer. The writer keeps an automatic checkpoint at a much larger size
//! ([`WRITER_BACKSTOP_PAGES`]) in case this thread falls behind.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use tuma_store::StoreError;

use crate::sql::backend;

/// How often the thread checkpoints.
const INTERVAL: Duration = Duration::from_millis(100);

/// The writer's own automatic checkpoint threshold, in WAL pages (4 KiB each: 64 MiB):
/// only reached if this thread cannot keep up.
pub(crate) const WRITER_BACKSTOP_PAGES: u32 = 16_384;

/// The checkpoint thread; dropping it stops the thread (after a last checkpoint).
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a connection to `path` with the writer's `synchronous` setting (a checkpoint
    /// must sync the database file before the WAL can be reused) and starts the thread.
    pub(crate) fn start(path: &Path, synchronous: &str) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(backend("open checkpointer"))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(backend("open checkpointer"))?;
        conn.execute_batch(&format!("PRAGMA synchronous={synchronous};"))
            .map_err(backend("open checkpointer"))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tuma-sqlite-checkpoint".into())
            .spawn(move || loop {
                let last = !matches!(
                    stopped.recv_timeout(INTERVAL),
                    Err(mpsc::RecvTimeoutError::Timeout)
                );
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "sqlite checkpoint failed");
                }
                if last {
                    break;
                }
            })
            .map_err(|e| StoreError::Backend {
                operation: "start checkpoint thread",
                message: e.to_string(),
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("sqlite checkpoint thread panicked");
            }
        }
    }
}
