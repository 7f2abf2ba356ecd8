//! A fresh schema per test on the server named by `TUMA_TEST_DATABASE_URL`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tuma_store_postgres::{PostgresConfig, PostgresStore};

/// The test server's URL, or `None` (and a note) when the variable is unset.
pub fn database_url() -> Option<String> {
    match std::env::var("TUMA_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: TUMA_TEST_DATABASE_URL not set");
            None
        }
    }
}

/// A schema name no other test (or test run) uses.
pub fn unique_schema() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "tuma_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000
    )
}

/// Drops its schema (and everything in it) when dropped.
pub struct SchemaGuard {
    pub url: String,
    pub schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread with a
        // runtime of its own does the cleanup, and the test waits for it.
        let url = self.url.clone();
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("cleanup connection");
                let driver = tokio::spawn(conn);
                client.batch_execute(&sql).await.expect("drop test schema");
                drop(client);
                let _ = driver.await;
            });
        });
        if done.join().is_err() && !std::thread::panicking() {
            panic!("dropping schema {} failed", self.schema);
        }
    }
}

/// A store on a fresh schema, and the guard that drops the schema.
pub async fn fresh_store(url: &str) -> (Arc<PostgresStore>, SchemaGuard) {
    let schema = unique_schema();
    let guard = SchemaGuard {
        url: url.to_owned(),
        schema: schema.clone(),
    };
    let mut config = PostgresConfig::new(url);
    config.schema = Some(schema);
    let store = PostgresStore::connect_with(config).await.expect("connect");
    (store, guard)
}

/// A second store on the same schema (another node).
pub async fn store_on(guard: &SchemaGuard) -> Arc<PostgresStore> {
    let mut config = PostgresConfig::new(&guard.url);
    config.schema = Some(guard.schema.clone());
    PostgresStore::connect_with(config).await.expect("connect")
}
