//! Embedded, numbered migrations and the `schema_version` table.
//!
//! Migration `n` (1-based) is `MIGRATIONS[n - 1]`; each runs in its own transaction together
//! with the version bump (PostgreSQL DDL is transactional), so a failed migration leaves the
//! previous version intact. Never edit a released migration: add the next one.

use tuma_store::StoreError;

use crate::pool::Pool;
use crate::sql::get;

/// The migrations, in order.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_settings_inbound_webhooks.sql"),
    include_str!("migrations/0003_campaigns.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Any fixed number: the key of the advisory lock that makes nodes starting together
/// migrate one after the other instead of racing to create the same tables.
const MIGRATION_LOCK: i64 = 0x7475_6d61_5f6d_6967; // "tuma_mig"

/// Brings the database (the first schema of the search path) to [`SCHEMA_VERSION`];
/// refuses a database from a newer build.
pub(crate) async fn migrate(pool: &Pool) -> Result<u32, StoreError> {
    for version in 1..=SCHEMA_VERSION {
        let applied = pool
            .run(move |tx| {
                tx.query(
                    "migrate",
                    "SELECT pg_advisory_xact_lock($1)",
                    &[&MIGRATION_LOCK],
                )?;
                tx.batch(
                    "create schema_version",
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                )?;
                let rows = tx.query(
                    "read schema_version",
                    "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                    &[],
                )?;
                let current: i32 = match rows.first() {
                    Some(row) => get(row, 0, "schema_version.version")?,
                    None => 0,
                };
                let current = u32::try_from(current).unwrap_or(0);
                if current > SCHEMA_VERSION {
                    return Err(StoreError::Backend {
                        operation: "migrate",
                        message: format!(
                            "database schema version {current} is newer than this build's \
                             {SCHEMA_VERSION}"
                        ),
                    });
                }
                if current >= version {
                    return Ok(false);
                }
                // `version` is 1-based and at most MIGRATIONS.len().
                let sql = MIGRATIONS
                    .get(version as usize - 1)
                    .copied()
                    .unwrap_or_default();
                tx.batch("migrate", sql).map_err(|e| StoreError::Backend {
                    operation: "migrate",
                    message: format!("migration {version}: {e}"),
                })?;
                let v = i32::try_from(version).unwrap_or(i32::MAX);
                tx.execute(
                    "migrate",
                    "INSERT INTO schema_version (version) VALUES ($1)",
                    &[&v],
                )?;
                Ok(true)
            })
            .await?;
        if applied {
            tracing::info!(version, "applied postgres migration");
        }
    }
    Ok(SCHEMA_VERSION)
}
