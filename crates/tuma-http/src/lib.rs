//! tuma's HTTP API (axum): `pub fn router(state) -> Router`.
#![forbid(unsafe_code)]

use axum::Router;
use tuma_engine::Engine;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The engine (and through it the stores).
    pub engine: Engine,
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new().with_state(state)
}
