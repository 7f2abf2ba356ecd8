//! tuma's HTTP API (axum): `pub fn router(state) -> Router`.
//!
//! # Layout
//! - [`routes`]: the one list of routes (method, path, handler); the router, the request
//!   counters and the OpenAPI coverage test are built from it.
//! - `auth`: keys (`tuma_` + 32 base62), SHA-256 hashes, the in-memory key cache and the
//!   [`Caller`] / [`Admin`] extractors.
//! - `messages`: intake (single and batch), message status, estimate.
//! - `account`: the caller's account, suppression list, replies, webhook failures; the
//!   operator's accounts and keys.
//! - `campaigns`: contact lists and campaigns (CSV uploads streamed into the engine, reports,
//!   `recipients.csv` streamed out page by page, pause / resume / cancel).
//! - `links`: `GET /l/{code}`, the tracked-link redirector (no key).
//! - `ops`: `/healthz`, `/metrics`, `/openapi.json`.
//! - `bootstrap`: the operator account and admin key on first start.
//! - `json`, `time`, `urls`: body parsing with field-naming errors, RFC 3339, URL checks.
//!
//! Handlers stay lean for the hot path (`POST /v1/messages`): authentication is a hash and a
//! read-locked map lookup, the body is deserialized straight from the bytes, nothing is
//! logged above debug level per request.
#![forbid(unsafe_code)]

mod account;
mod auth;
mod bootstrap;
mod campaigns;
mod error;
mod json;
mod links;
mod messages;
mod ops;
pub mod time;
mod urls;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode};
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Router;
use tuma_domain::Region;
use tuma_engine::{Accepted, Engine, EngineError, Rejection, SubmitRequest};
use tuma_store::{Account, AccountId, AccountSettings, StoreError};

pub use auth::{generate_key, hash_key, Admin, Caller, KeyCache, KEY_PREFIX, OPERATOR};
pub use bootstrap::{
    bootstrap, BootstrapError, BootstrapOutcome, ADMIN_KEY_FILE, ENV_KEY_LABEL, OPERATOR_NAME,
};
pub use error::{ApiError, ErrorBody};
pub use ops::{HttpMetrics, OPENAPI};
pub use urls::{check_url, UrlError};

/// Limits and defaults of the API.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Region for numbers written without a country code (suppression endpoints; the
    /// engine has its own for messages, normally the same).
    pub region: Region,
    /// Text options `POST /v1/estimate` measures with (the engine's, normally).
    pub text_options: sms_text::Options,
    /// Largest body of every route but the batch and the CSV uploads (64 KiB).
    pub max_body_bytes: usize,
    /// Largest batch body (16 MiB).
    pub max_batch_body_bytes: usize,
    /// Most messages per batch (10,000).
    pub max_batch_messages: usize,
    /// Largest JSON body of `POST /v1/campaigns` (64 MiB: `contacts_csv` holds a whole CSV).
    pub max_campaign_json_bytes: usize,
    /// Largest CSV upload (`text/csv` or multipart body of `POST /v1/lists` and `POST
    /// /v1/campaigns`; 4 GiB). Uploads are streamed into the engine: memory does not grow
    /// with this limit.
    pub max_upload_bytes: usize,
    /// How long an authenticated key is trusted without reading the store again (60 s): the
    /// longest a key revoked on another node keeps working here.
    pub key_cache_ttl: Duration,
}

impl ApiSettings {
    /// The defaults above, for `region`.
    pub fn new(region: Region) -> Self {
        Self {
            region,
            text_options: sms_text::Options::default(),
            max_body_bytes: 64 * 1024,
            max_batch_body_bytes: 16 * 1024 * 1024,
            max_batch_messages: 10_000,
            max_campaign_json_bytes: 64 * 1024 * 1024,
            max_upload_bytes: usize::try_from(4_u64 << 30).unwrap_or(usize::MAX),
            key_cache_ttl: Duration::from_secs(60),
        }
    }
}

impl Default for ApiSettings {
    /// The defaults with region KE (the configuration's default region).
    fn default() -> Self {
        // A constant, not input: "KE" is in the numbering metadata compiled into the build.
        #[allow(clippy::expect_used)]
        let region = Region::parse("KE").expect("KE is a known region");
        Self::new(region)
    }
}

/// What every handler shares; cheap to clone (two `Arc`s).
#[derive(Clone)]
pub struct AppState {
    /// The engine (and through it the stores).
    pub engine: Engine,
    inner: Arc<Shared>,
}

struct Shared {
    settings: ApiSettings,
    keys: KeyCache,
    http_metrics: HttpMetrics,
    shutting_down: AtomicBool,
}

impl AppState {
    /// State for `engine` with `settings`.
    pub fn new(engine: Engine, settings: ApiSettings) -> Self {
        let route_list: Vec<(Method, &'static str)> = routes()
            .into_iter()
            .chain(link_routes())
            .map(|r| (r.method, r.path))
            .collect();
        Self {
            engine,
            inner: Arc::new(Shared {
                keys: KeyCache::new(settings.key_cache_ttl),
                settings,
                http_metrics: HttpMetrics::new(&route_list),
                shutting_down: AtomicBool::new(false),
            }),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &ApiSettings {
        &self.inner.settings
    }

    /// The key cache (revocations made outside this API can be pushed here with
    /// [`KeyCache::forget`]).
    pub fn key_cache(&self) -> &KeyCache {
        &self.inner.keys
    }

    /// The request counters.
    pub fn http_metrics(&self) -> &HttpMetrics {
        &self.inner.http_metrics
    }

    /// Makes `/healthz` answer 503 so load balancers drain this node; the binary calls it
    /// when shutdown starts. (Also set when the engine answers `ShuttingDown`.)
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::Relaxed);
    }

    /// Whether [`AppState::begin_shutdown`] was called (or the engine said so).
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::Relaxed)
    }

    async fn submit(
        &self,
        account: AccountId,
        requests: Vec<SubmitRequest>,
    ) -> Result<Vec<Result<Accepted, Rejection>>, EngineError> {
        let result = self.engine.submit(account, requests).await;
        if matches!(result, Err(EngineError::ShuttingDown)) {
            self.begin_shutdown();
        }
        result
    }

    // Through the engine, which caches accounts and uses the default callback URL at
    // intake: a PATCH must refresh that cache, so it never goes to the store directly.
    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        self.engine.account(id).await
    }

    async fn update_account_settings(
        &self,
        id: AccountId,
        settings: AccountSettings,
    ) -> Result<Account, StoreError> {
        self.engine.update_account_settings(id, settings).await
    }
}

/// One route of the API.
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path as axum writes it (`/v1/messages/{id}`), also the OpenAPI path.
    pub path: &'static str,
    /// Whether a key is needed.
    pub authenticated: bool,
    body: BodyLimit,
    handler: MethodRouter<AppState>,
}

/// Which of the settings' body limits a route gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyLimit {
    /// `max_body_bytes`.
    Small,
    /// `max_batch_body_bytes`.
    Batch,
    /// `max_upload_bytes` (the handler also applies `max_campaign_json_bytes` to JSON).
    Upload,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Every route of the documented API (the single list: router, metrics and docs test use it;
/// the router also serves [`link_routes`]).
pub fn routes() -> Vec<Route> {
    fn r(
        method: Method,
        path: &'static str,
        authenticated: bool,
        handler: MethodRouter<AppState>,
    ) -> Route {
        let body = match path {
            "/v1/messages/batch" => BodyLimit::Batch,
            _ => BodyLimit::Small,
        };
        Route {
            method,
            path,
            authenticated,
            body,
            handler,
        }
    }
    fn upload(path: &'static str, handler: MethodRouter<AppState>) -> Route {
        Route {
            body: BodyLimit::Upload,
            ..r(Method::POST, path, true, handler)
        }
    }
    // Body limits are per route; the batch gets its own, larger one, and the CSV uploads
    // theirs (streamed: they never sit in memory). The handlers read the limit from the
    // settings at run time too, to say it in the 413 message.
    vec![
        r(
            Method::POST,
            "/v1/messages",
            true,
            post(messages::post_message),
        ),
        r(
            Method::POST,
            "/v1/messages/batch",
            true,
            post(messages::post_batch),
        ),
        r(
            Method::GET,
            "/v1/messages/{id}",
            true,
            get(messages::get_message),
        ),
        r(
            Method::POST,
            "/v1/estimate",
            true,
            post(messages::post_estimate),
        ),
        r(Method::GET, "/v1/inbound", true, get(account::list_inbound)),
        r(
            Method::GET,
            "/v1/webhooks/failures",
            true,
            get(account::list_webhook_failures),
        ),
        r(Method::GET, "/v1/account", true, get(account::get_account)),
        r(
            Method::PATCH,
            "/v1/account",
            true,
            patch(account::patch_account),
        ),
        r(
            Method::GET,
            "/v1/suppressions/{number}",
            true,
            get(account::get_suppression),
        ),
        r(
            Method::PUT,
            "/v1/suppressions/{number}",
            true,
            put(account::put_suppression),
        ),
        r(
            Method::DELETE,
            "/v1/suppressions/{number}",
            true,
            delete(account::delete_suppression),
        ),
        r(
            Method::POST,
            "/v1/accounts",
            true,
            post(account::create_account),
        ),
        r(
            Method::GET,
            "/v1/accounts",
            true,
            get(account::list_accounts),
        ),
        r(
            Method::POST,
            "/v1/accounts/{id}/keys",
            true,
            post(account::create_key),
        ),
        r(
            Method::DELETE,
            "/v1/keys/{id}",
            true,
            delete(account::delete_key),
        ),
        upload("/v1/lists", post(campaigns::post_list)),
        r(Method::GET, "/v1/lists", true, get(campaigns::list_lists)),
        r(
            Method::GET,
            "/v1/lists/{id}",
            true,
            get(campaigns::get_list),
        ),
        upload("/v1/campaigns", post(campaigns::post_campaign)),
        r(
            Method::GET,
            "/v1/campaigns",
            true,
            get(campaigns::list_campaigns),
        ),
        r(
            Method::GET,
            "/v1/campaigns/{id}",
            true,
            get(campaigns::get_campaign),
        ),
        r(
            Method::GET,
            "/v1/campaigns/{id}/recipients.csv",
            true,
            get(campaigns::recipients_csv),
        ),
        r(
            Method::POST,
            "/v1/campaigns/{id}/pause",
            true,
            post(campaigns::pause),
        ),
        r(
            Method::POST,
            "/v1/campaigns/{id}/resume",
            true,
            post(campaigns::resume),
        ),
        r(
            Method::POST,
            "/v1/campaigns/{id}/cancel",
            true,
            post(campaigns::cancel),
        ),
        r(Method::GET, "/healthz", false, get(ops::healthz)),
        r(Method::GET, "/metrics", false, get(ops::metrics)),
        r(Method::GET, "/openapi.json", false, get(ops::openapi)),
    ]
}

/// The tracked-link redirector, `GET /l/{code}` (no key, plain-text 404, answers 302).
///
/// Served and counted like [`routes`] but kept out of that list: every route there must be
/// documented in `openapi.json` `paths` with a 2xx answer (the coverage test checks it), and
/// a redirector has none. Its OpenAPI description is `components.pathItems.TrackedLink`.
pub fn link_routes() -> Vec<Route> {
    vec![Route {
        method: Method::GET,
        path: "/l/{code}",
        authenticated: false,
        body: BodyLimit::Small,
        handler: get(links::follow),
    }]
}

/// The API's routes, with JSON 404/405 answers and request counting.
pub fn router(state: AppState) -> Router {
    let settings = state.settings();
    let mut router = Router::new();
    for route in routes().into_iter().chain(link_routes()) {
        let limit = match route.body {
            BodyLimit::Small => settings.max_body_bytes,
            BodyLimit::Batch => settings.max_batch_body_bytes,
            BodyLimit::Upload => settings.max_upload_bytes,
        };
        router = router.route(
            route.path,
            route.handler.layer(DefaultBodyLimit::max(limit)),
        );
    }
    router
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not take that method",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::track,
        ))
        .with_state(state)
}
