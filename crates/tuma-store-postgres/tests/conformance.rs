//! The shared conformance suite against PostgreSQL, one fresh schema per test. Needs
//! `TUMA_TEST_DATABASE_URL`; without it every test says it skipped and passes vacuously.

mod common;

use tuma_store::conformance::Fixture;

async fn fixture() -> Option<Fixture> {
    let url = common::database_url()?;
    let (store, guard) = common::fresh_store(&url).await;
    // The guard drops the schema after the store (and its connections) went.
    Some(Fixture::with_guard(store.stores(), guard))
}

tuma_store::conformance_tests!(fixture);
