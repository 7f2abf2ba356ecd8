//! `tuma serve`: the gateway (HTTP API + engine + storage), and in demo mode the simulated
//! operator network in the same process.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use smsc_sim::{ServerOptions, Sim, SimConfig, SimServer};
use tokio::net::TcpListener;
use tuma_domain::ConnectorId;
use tuma_engine::{Clock, ConnectorConfig, Engine, EngineConfig};
use tuma_store::Stores;

use crate::config::FileConfig;

/// Flags of `tuma serve` (they win over the file and the environment).
#[derive(Debug, Clone, Default)]
pub struct ServeArgs {
    pub http: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database: Option<String>,
    pub config: Option<PathBuf>,
}

/// A started gateway: what tests and `tuma bench` drive in-process.
pub struct Gateway {
    pub engine: Engine,
    pub http_addr: SocketAddr,
    /// The admin key when this start generated or was given one (printed once).
    pub admin_key: Option<String>,
    /// The in-process simulator (demo mode).
    pub sim: Option<SimServer>,
    shutdown_grace: Duration,
    state: tuma_http::AppState,
    stop_http: tokio::sync::watch::Sender<bool>,
    http_task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    /// Opens the store, starts the simulator when no connector is configured, the engine and
    /// the HTTP server (the configuration comes from [`load_config`]).
    pub async fn start_with(file: FileConfig, env_key: Option<String>) -> anyhow::Result<Self> {
        Self::start_with_demo(file, env_key, DemoNetwork::default()).await
    }

    /// Like [`Gateway::start_with`], with the demo connector's binds and window.
    pub async fn start_with_demo(
        file: FileConfig,
        env_key: Option<String>,
        demo: DemoNetwork,
    ) -> anyhow::Result<Self> {
        let data_dir = file.server.data_dir.clone();
        if !data_dir.exists() {
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
            // Messages, replies and key hashes live here: readable by the gateway's user only.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("restricting {}", data_dir.display()))?;
            }
        }
        let stores = open_stores(&file, &data_dir).await?;
        let secret = match &file.webhooks.secret {
            Some(s) => s.clone(),
            None => read_or_create_secret(&data_dir.join("webhook-secret"))?,
        };
        let mut engine_config = file.engine_config(secret)?;

        let sim = if engine_config.connectors.is_empty() {
            Some(start_demo_network(&mut engine_config, demo).await?)
        } else {
            None
        };

        // Bound before the engine starts: without `links.base_url`, short links point at the
        // address really bound (port 0 picks one).
        let listener = TcpListener::bind(file.server.http)
            .await
            .with_context(|| format!("listening for HTTP on {}", file.server.http))?;
        let http_addr = listener.local_addr()?;
        if file.links.base_url.is_none() {
            engine_config.campaigns.link_base = crate::config::default_link_base(http_addr);
        }

        let clock = Clock::system();
        let bootstrap = tuma_http::bootstrap(&stores, &data_dir, env_key, clock.now_ms())
            .await
            .context("creating the operator account and admin key")?;
        let engine = Engine::start(engine_config.clone(), stores, clock)
            .await
            .context("starting the engine")?;
        let settings = tuma_http::ApiSettings {
            region: engine_config.defaults.region,
            ..tuma_http::ApiSettings::default()
        };
        let state = tuma_http::AppState::new(engine.clone(), settings);
        let mut app = tuma_http::router(state.clone());
        if let Some(sim) = &sim {
            app = app.nest("/sim", smsc_sim::http::router(sim.sim().clone()));
        }
        app = app.route("/", axum::routing::get(dashboard));
        let (stop_http, mut stop_rx) = tokio::sync::watch::channel(false);
        let http_task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.wait_for(|s| *s).await;
                })
                .await
        });

        if let Some(sim) = &sim {
            tracing::info!(
                smsc = %sim.smpp_addr(),
                "demo mode: no [[connectors]] configured, so the simulated operator network runs \
                 in this process and the gateway binds to it over SMPP; its control API is at \
                 http://{http_addr}/sim (handset inboxes: /sim/v1/handsets/{{msisdn}}/messages). \
                 Configure a real SMSC with a [[connectors]] section in tuma.toml (see \
                 docs/configuration.md)"
            );
        }
        Ok(Self {
            engine,
            http_addr,
            admin_key: bootstrap.generated_key(),
            sim,
            shutdown_grace: file.server.shutdown_grace,
            state,
            stop_http,
            http_task,
        })
    }

    /// Stops intake (HTTP first), lets the engine finish or persist in-flight work, unbinds,
    /// stops the simulator.
    pub async fn shutdown(self) {
        // Health checks fail first, so a load balancer drains this node.
        self.state.begin_shutdown();
        let _ = self.stop_http.send(true);
        if let Err(e) = self.http_task.await {
            tracing::warn!(error = %e, "HTTP server task ended badly");
        }
        self.engine.shutdown(self.shutdown_grace).await;
        if let Some(sim) = self.sim {
            sim.shutdown().await;
        }
    }
}

/// The dashboard: one static page that reads `/healthz` and `/metrics` and uses the API with
/// a key the user types (kept in the browser's local storage).
async fn dashboard() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("dashboard.html"))
}

/// The configuration: file, `TUMA_*` environment, then flags.
pub fn load_config(args: ServeArgs) -> anyhow::Result<FileConfig> {
    let mut file = FileConfig::load(args.config.as_deref(), std::env::vars())?;
    if let Some(http) = args.http {
        file.server.http = http;
    }
    if let Some(dir) = args.data_dir {
        file.server.data_dir = dir;
    }
    if let Some(db) = args.database {
        file.server.database = Some(db);
    }
    Ok(file)
}

/// Whether this configuration stores in SQLite (its writer thread wants a core of its own).
pub fn uses_sqlite(file: &FileConfig) -> bool {
    !file
        .server
        .database
        .as_deref()
        .is_some_and(|d| d.starts_with("postgres://") || d.starts_with("postgresql://"))
}

/// The demo connector's sessions and the simulator's receipt window.
#[derive(Debug, Clone, Copy)]
pub struct DemoNetwork {
    /// SMPP sessions from the gateway to the simulator.
    pub binds: usize,
    /// submit_sm in flight per session.
    pub window: usize,
    /// deliver_sm (receipts, replies) the simulator keeps in flight per session. The gateway
    /// answers a receipt after committing it, so this bounds receipts per commit round trip.
    pub receipt_window: usize,
}

impl Default for DemoNetwork {
    fn default() -> Self {
        Self {
            binds: 1,
            window: 512,
            receipt_window: 1024,
        }
    }
}

/// Runs until SIGINT/SIGTERM.
pub async fn serve(file: FileConfig) -> anyhow::Result<()> {
    let gateway = Gateway::start_with(file, std::env::var("TUMA_API_KEY").ok()).await?;
    if let Some(key) = &gateway.admin_key {
        // Printed once, on stdout (logs go to stderr), so it can be captured.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "admin API key (shown once; also in the data directory's admin-key file): {key}"
        );
    }
    tracing::info!(
        http = %gateway.http_addr,
        "tuma gateway listening: dashboard http://{0}/ , API http://{0}/v1 , metrics http://{0}/metrics",
        gateway.http_addr
    );
    crate::shutdown_signal().await?;
    tracing::info!("shutting down: intake stopped, finishing in-flight submits");
    gateway.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn open_stores(file: &FileConfig, data_dir: &Path) -> anyhow::Result<Stores> {
    match file.server.database.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = tuma_store_postgres::PostgresStore::connect(url)
                .await
                .context("connecting to PostgreSQL")?;
            Ok(store.stores())
        }
        Some(other) if !other.starts_with("sqlite") => anyhow::bail!(
            "server.database: {other:?} is neither a postgres:// URL nor sqlite (the default)"
        ),
        _ => {
            let path = match file.server.database.as_deref() {
                Some(url) => match url.strip_prefix("sqlite://") {
                    Some(p) if !p.is_empty() => PathBuf::from(p),
                    _ => data_dir.join("tuma.db"),
                },
                None => data_dir.join("tuma.db"),
            };
            let mut config = tuma_store_sqlite::SqliteConfig::new(&path);
            config.commit_delay = file.server.commit_delay;
            // Opened on a thread of its own, spawned from here rather than from tokio's
            // blocking pool: the writer thread the store starts inherits the priority of the
            // thread that opens it, and the runtime's threads run below the writer (see
            // `runtime_beside_writer` in main.rs). `serve` runs on the thread that called
            // `block_on`, which keeps the process's priority.
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("tuma-sqlite-open".into())
                .spawn(move || {
                    let _ = tx.send(tuma_store_sqlite::SqliteStore::open(config));
                })
                .context("starting the thread that opens SQLite")?;
            let store = rx
                .await
                .context("opening SQLite")?
                .with_context(|| format!("opening the SQLite database {}", path.display()))?;
            Ok(store.stores())
        }
    }
}

/// The webhook signing secret kept in the data directory (mode 0600), made on first start.
fn read_or_create_secret(path: &Path) -> anyhow::Result<String> {
    if let Ok(s) = std::fs::read_to_string(path) {
        let s = s.trim().to_owned();
        if !s.is_empty() {
            return Ok(s);
        }
    }
    let bytes: [u8; 32] = rand::random();
    let secret = hex::encode(bytes);
    write_private(path, &secret)?;
    Ok(secret)
}

/// Creates `path` readable by its owner only (never world-readable, even briefly).
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}

/// Starts the simulator on an ephemeral loopback port and points one connector at it.
async fn start_demo_network(
    config: &mut EngineConfig,
    demo: DemoNetwork,
) -> anyhow::Result<SimServer> {
    let DemoNetwork {
        binds,
        window,
        receipt_window,
    } = demo;
    let sim = Sim::new(smsc_sim::Engine::new(SimConfig::default())?);
    let mut options = ServerOptions::new(SocketAddr::from(([127, 0, 0, 1], 0)));
    // Receipts come back as fast as submissions go.
    options.mc.session.window = receipt_window.max(1);
    let server = SimServer::start_with(sim, options)
        .await
        .context("starting the simulated operator network")?;
    let mut connector = ConnectorConfig::new(
        ConnectorId::parse("sim").map_err(|e| anyhow::anyhow!("{e}"))?,
        server.smpp_addr().to_string(),
        "tuma",
        "tuma",
    );
    connector.window = window.max(1);
    connector.binds = binds.max(1);
    config.connectors.push(connector);
    config.routes.clear();
    Ok(server)
}
