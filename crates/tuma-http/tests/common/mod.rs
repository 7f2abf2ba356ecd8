//! The API under test: `router(state)` over a real `Engine` and a fresh store, driven with
//! `tower::ServiceExt::oneshot`.
#![allow(dead_code)] // each test binary uses a part of it

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use smsc_sim::config::{AccountConfig, BindType as SimBind};
use smsc_sim::{ServerOptions, Sim, SimConfig, SimServer};
use tower::ServiceExt;
use tuma_domain::{ConnectorId, Defaults, MultipartPolicy, Region, RetryPolicy, SenderId};
use tuma_engine::{
    Clock, ConnectorConfig, Engine, EngineConfig, EngineCounts, InboundConfig, WebhookConfig,
};
use tuma_http::{bootstrap, hash_key, ApiSettings, AppState};
use tuma_store::{AccountId, Stores};
use tuma_store_sqlite::{SqliteConfig, SqliteStore};

/// Upper bound for anything a test waits for: a stall detector, not a timing.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The admin key given as `TUMA_API_KEY`.
pub const ADMIN_KEY: &str = "tuma_AdminKeyForTests000000000000000";

/// Where the engine's connector points.
pub enum Smsc {
    /// A simulator started in-process (messages are really sent).
    Sim,
    /// A closed port: messages stay queued in memory (nothing leaves; for intake-only tests).
    Down,
}

/// One API instance with two customer accounts.
pub struct TestApp {
    /// The router.
    pub router: Router,
    /// Its state.
    pub state: AppState,
    /// The stores behind the engine.
    pub stores: Stores,
    /// Operator key.
    pub admin: String,
    /// Key of account "acme".
    pub key: String,
    /// Account "acme".
    pub account: AccountId,
    /// Key of account "globex".
    pub other_key: String,
    /// Account "globex".
    pub other: AccountId,
    /// The simulator, when there is one.
    pub sim: Option<SimServer>,
    /// The database's directory (deleted on drop).
    pub db_dir: Option<tempfile::TempDir>,
}

/// Knobs of [`app_with`].
pub struct Options {
    /// The SMSC.
    pub smsc: Smsc,
    /// Engine's `max_queued`.
    pub max_queued: usize,
    /// API settings changes.
    pub settings: fn(&mut ApiSettings),
}

impl Default for Options {
    fn default() -> Self {
        Self {
            smsc: Smsc::Down,
            max_queued: 1_000_000,
            settings: |_| {},
        }
    }
}

fn region() -> Region {
    Region::parse("KE").expect("KE")
}

/// Starts a simulator with account tuma/secret on loopback port 0.
pub async fn start_sim() -> SimServer {
    let config = SimConfig {
        accounts: vec![AccountConfig {
            system_id: "tuma".into(),
            password: "secret".into(),
            bind_types: vec![
                SimBind::Transmitter,
                SimBind::Receiver,
                SimBind::Transceiver,
            ],
            max_binds: 16,
            max_tps: 0,
            short_codes: vec!["5000".into()],
        }],
        ..SimConfig::default()
    };
    let sim = Sim::new(smsc_sim::Engine::new(config).expect("valid sim config"));
    let options = ServerOptions::new("127.0.0.1:0".parse().expect("address"));
    SimServer::start_with(sim, options)
        .await
        .expect("simulator starts")
}

/// An app with the default options (connector down).
pub async fn app() -> TestApp {
    app_with(Options::default()).await
}

/// An engine over `stores` whose one connector is the simulator or a closed port.
pub async fn start_engine(
    stores: Stores,
    smsc: Smsc,
    max_queued: usize,
) -> (Engine, Option<SimServer>) {
    let (sim, address) = match smsc {
        Smsc::Sim => {
            let sim = start_sim().await;
            let address = sim.smpp_addr().to_string();
            (Some(sim), address)
        }
        // Port 9 (discard) on loopback: nothing listens there in a test environment, so the
        // connector keeps retrying and messages stay queued.
        Smsc::Down => (None, "127.0.0.1:9".to_owned()),
    };
    let mut defaults = Defaults::new(region());
    defaults.sender = Some(SenderId::parse("TUMA").expect("sender"));
    let mut connector = ConnectorConfig::new(
        ConnectorId::parse("sim").expect("connector id"),
        address,
        "tuma",
        "secret",
    );
    connector.window = 100;
    let config = EngineConfig {
        defaults,
        connectors: vec![connector],
        routes: Vec::new(),
        retry: RetryPolicy::default(),
        multipart: MultipartPolicy::default(),
        expiry_grace: Duration::from_secs(60),
        tick: Duration::from_millis(200),
        webhooks: WebhookConfig {
            secret: "test-secret".into(),
            ..WebhookConfig::default()
        },
        inbound: InboundConfig::default(),
        max_queued,
        campaigns: Default::default(),
    };
    let engine = Engine::start(config, stores, Clock::system())
        .await
        .expect("engine starts");
    (engine, sim)
}

/// API state over `stores` (connector down), default settings.
pub async fn state_on(stores: Stores) -> AppState {
    let (engine, _) = start_engine(stores, Smsc::Down, 1_000_000).await;
    AppState::new(engine, ApiSettings::new(region()))
}

/// A fresh SQLite store in a temporary directory (kept alive by the returned guard).
pub fn sqlite() -> (Stores, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(SqliteConfig::new(dir.path().join("tuma.db"))).expect("sqlite");
    (store.stores(), dir)
}

/// An app with `options`, on SQLite.
pub async fn app_with(options: Options) -> TestApp {
    let (stores, db_dir) = sqlite();
    let (engine, sim) = start_engine(stores.clone(), options.smsc, options.max_queued).await;
    let now = engine.clock().now_ms();

    let dir = tempfile::tempdir().expect("tempdir");
    bootstrap(&stores, dir.path(), Some(ADMIN_KEY.to_owned()), now)
        .await
        .expect("bootstrap");

    let mut settings = ApiSettings::new(region());
    (options.settings)(&mut settings);
    let state = AppState::new(engine, settings);
    let router = tuma_http::router(state.clone());

    let (account, key) = customer(&stores, "acme", now).await;
    let (other, other_key) = customer(&stores, "globex", now).await;
    TestApp {
        router,
        state,
        stores,
        admin: ADMIN_KEY.to_owned(),
        key,
        account,
        other_key,
        other,
        sim,
        db_dir: Some(db_dir),
    }
}

/// Creates an account with one key, through the store.
pub async fn customer(stores: &Stores, name: &str, now: u64) -> (AccountId, String) {
    let account = stores
        .accounts
        .create_account(name, now)
        .await
        .expect("account");
    let key = tuma_http::generate_key();
    stores
        .accounts
        .add_api_key(account.id, "test", hash_key(&key), now)
        .await
        .expect("key");
    (account.id, key)
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body as JSON (`Value::Null` when empty or not JSON).
    pub json: Value,
    /// Body as text.
    pub text: String,
}

impl Answer {
    /// `error.code`.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    /// `error.field`.
    pub fn field(&self) -> Option<&str> {
        self.json["error"]["field"].as_str()
    }
}

impl TestApp {
    /// An app over existing state, with only an admin key known.
    pub fn bare(state: AppState, stores: Stores, admin: String) -> Self {
        Self {
            router: tuma_http::router(state.clone()),
            state,
            stores,
            admin: admin.clone(),
            key: admin,
            account: AccountId(1),
            other_key: String::new(),
            other: AccountId(1),
            sim: None,
            db_dir: None,
        }
    }

    /// Sends one request.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        self.call_with(method, path, key, body, &[]).await
    }

    /// Sends one request with extra headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            builder = builder.header("authorization", format!("Bearer {k}"));
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Body::from(body.unwrap_or_default().to_owned()))
            .expect("request");
        send(&self.router, request).await
    }

    /// `POST path` with `key` and a JSON body.
    pub async fn post(&self, path: &str, key: &str, body: &str) -> Answer {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// `GET path` with `key`.
    pub async fn get(&self, path: &str, key: &str) -> Answer {
        self.call(Method::GET, path, Some(key), None).await
    }

    /// The engine's counters.
    pub fn counts(&self) -> EngineCounts {
        self.state.engine.counts()
    }
}

/// Sends a request through a router.
pub async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
        text,
    }
}

/// Polls `check` until it gives `Some`, at most [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A message body.
pub fn message(to: &str, text: &str) -> String {
    serde_json::json!({ "to": to, "text": text }).to_string()
}
