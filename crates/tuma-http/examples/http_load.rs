//! Single-message requests per second through the whole gateway: HTTP API + engine +
//! durable SQLite + SMPP to the in-process simulator, all on this machine.
//!
//! `cargo run --release -p tuma-http --example http_load -- [requests] [connections] [mode]`
//! (defaults 200000, 64, `messages`). Mode `estimate` posts the same bodies to
//! `/v1/estimate` instead: authentication, JSON and the response without the engine, i.e. the
//! HTTP layer's own ceiling. Mode `engine` calls `Engine::submit` directly from as many
//! tasks (one message per call), without HTTP: the engine's own ceiling. `TUMA_SYNC=normal` runs SQLite with `synchronous=NORMAL`. The client is a minimal keep-alive HTTP/1.1 loop on the same
//! runtime, so it competes with the gateway for the same cores, as a local client would.

use std::time::{Duration, Instant};

use smsc_sim::config::{AccountConfig, BindType as SimBind};
use smsc_sim::{ServerOptions, Sim, SimConfig, SimServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tuma_domain::{ConnectorId, Defaults, MultipartPolicy, Region, RetryPolicy, SenderId};
use tuma_engine::{Clock, ConnectorConfig, Engine, EngineConfig, InboundConfig, WebhookConfig};
use tuma_http::{bootstrap, ApiSettings, AppState};
use tuma_store_sqlite::{SqliteConfig, SqliteStore};

const KEY: &str = "tuma_LoadTestAdminKey000000000000000";

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let connections: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let mode = args.next().unwrap_or_default();
    let estimate = mode == "estimate";
    let direct = mode == "engine";

    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = SqliteConfig::new(dir.path().join("tuma.db"));
    if std::env::var("TUMA_SYNC").is_ok_and(|v| v == "normal") {
        db.synchronous = tuma_store_sqlite::Synchronous::Normal;
    }
    let store = SqliteStore::open(db).expect("db");
    let stores = store.stores();
    let sim = start_sim().await;

    let region = Region::parse("KE").expect("region");
    let mut defaults = Defaults::new(region);
    defaults.sender = Some(SenderId::parse("TUMA").expect("sender"));
    let mut connector = ConnectorConfig::new(
        ConnectorId::parse("sim").expect("id"),
        sim.smpp_addr().to_string(),
        "tuma",
        "secret",
    );
    connector.window = 1000;
    connector.binds = 2;
    let config = EngineConfig {
        defaults,
        connectors: vec![connector],
        routes: Vec::new(),
        retry: RetryPolicy::default(),
        multipart: MultipartPolicy::default(),
        expiry_grace: Duration::from_secs(60),
        tick: Duration::from_millis(200),
        webhooks: WebhookConfig::default(),
        inbound: InboundConfig::default(),
        max_queued: 1_000_000,
        campaigns: Default::default(),
    };
    let clock = Clock::system();
    let now = clock.now_ms();
    let engine = Engine::start(config, stores.clone(), clock)
        .await
        .expect("engine");
    bootstrap(&stores, dir.path(), Some(KEY.into()), now)
        .await
        .expect("bootstrap");
    let app = tuma_http::router(AppState::new(engine.clone(), ApiSettings::new(region)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let per_conn = total / connections;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        if direct {
            tasks.push(tokio::spawn(direct_client(engine.clone(), c, per_conn)));
        } else {
            tasks.push(tokio::spawn(client(addr, c, per_conn, estimate)));
        }
    }
    let mut ok = 0;
    let mut latencies = Vec::with_capacity(total);
    for t in tasks {
        let (n, mut l) = t.await.expect("client");
        ok += n;
        latencies.append(&mut l);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{ok} accepted in {:.2} s: {:.0} requests/s over {connections} connections; \
         latency p50 {:?} p99 {:?}",
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
    );
    let counts = engine.counts();
    println!("engine: {counts:?}");
    engine.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
}

async fn client(
    addr: std::net::SocketAddr,
    c: usize,
    n: usize,
    estimate: bool,
) -> (usize, Vec<Duration>) {
    let (path, expect) = if estimate {
        ("/v1/estimate", "HTTP/1.1 200")
    } else {
        ("/v1/messages", "HTTP/1.1 202")
    };
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut buf = vec![0u8; 8192];
    let mut ok = 0;
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let body = if estimate {
            format!(r#"{{"text":"load test {c}/{i}"}}"#)
        } else {
            format!(
                r#"{{"to":"+2547000001{:02}","text":"load test {c}/{i}"}}"#,
                i % 100
            )
        };
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let t = Instant::now();
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut filled = 0;
        loop {
            let r = stream.read(&mut buf[filled..]).await.expect("read");
            assert!(r > 0, "connection closed");
            filled += r;
            if let Some(end) = find(&buf[..filled], b"\r\n\r\n") {
                let head = std::str::from_utf8(&buf[..end]).expect("utf8");
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if filled >= end + 4 + len {
                    if head.starts_with(expect) {
                        ok += 1;
                    } else if i == 0 {
                        eprintln!("{}", String::from_utf8_lossy(&buf[..filled]));
                    }
                    break;
                }
            }
        }
        latencies.push(t.elapsed());
    }
    (ok, latencies)
}

async fn direct_client(engine: Engine, c: usize, n: usize) -> (usize, Vec<Duration>) {
    let mut ok = 0;
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let request = tuma_engine::SubmitRequest {
            to: format!("+2547000001{:02}", i % 100),
            text: format!("load test {c}/{i}"),
            ..Default::default()
        };
        let t = Instant::now();
        let result = engine.submit(tuma_store::AccountId(1), vec![request]).await;
        if matches!(result.as_deref(), Ok([Ok(_)])) {
            ok += 1;
        }
        latencies.push(t.elapsed());
    }
    (ok, latencies)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn start_sim() -> SimServer {
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
    let sim = Sim::new(smsc_sim::Engine::new(config).expect("sim config"));
    SimServer::start_with(
        sim,
        ServerOptions::new("127.0.0.1:0".parse().expect("address")),
    )
    .await
    .expect("sim")
}
