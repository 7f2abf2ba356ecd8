//! The shared conformance suite against SQLite, one fresh database file per test.

use tuma_store::conformance::Fixture;
use tuma_store_sqlite::{SqliteConfig, SqliteStore};

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(SqliteConfig::new(dir.path().join("tuma.db"))).expect("open");
    // The store must close (its writer thread joins) before the directory goes.
    Fixture::with_guard(store.stores(), dir)
}

tuma_store::conformance_tests!(fixture);
