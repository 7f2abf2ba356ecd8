//! Embedded, numbered migrations and the `schema_version` table.
//!
//! Migration `n` (1-based) is `MIGRATIONS[n - 1]`; each runs in its own transaction together
//! with the version bump, so a crash mid-migration leaves the previous version intact. Never
//! edit a released migration: add the next one.

use rusqlite::{Connection, OptionalExtension};
use tuma_store::StoreError;

use crate::sql::backend;

/// The migrations, in order.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_settings_inbound_webhooks.sql"),
    include_str!("migrations/0003_message_row_status.sql"),
    include_str!("migrations/0004_outbox_on_message_row.sql"),
    include_str!("migrations/0005_campaigns.sql"),
    include_str!("migrations/0006_submit_on_key_row.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database to [`SCHEMA_VERSION`]; refuses a database from a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .map_err(backend("create schema_version"))?;
    let current: u32 = conn
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| {
            r.get::<_, Option<u32>>(0)
        })
        .optional()
        .map_err(backend("read schema_version"))?
        .flatten()
        .unwrap_or(0);
    if current > SCHEMA_VERSION {
        return Err(StoreError::Backend {
            operation: "migrate",
            message: format!(
                "database schema version {current} is newer than this build's {SCHEMA_VERSION}"
            ),
        });
    }
    for (version, sql) in (1u32..).zip(MIGRATIONS).skip(current as usize) {
        let tx = conn.transaction().map_err(backend("migrate"))?;
        tx.execute_batch(sql).map_err(|e| StoreError::Backend {
            operation: "migrate",
            message: format!("migration {version}: {e}"),
        })?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [version],
        )
        .map_err(backend("migrate"))?;
        tx.commit().map_err(backend("migrate"))?;
        tracing::info!(version, "applied sqlite migration");
    }
    Ok(SCHEMA_VERSION)
}
