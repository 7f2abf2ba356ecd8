//! The engine's whole chain on one machine: batch intake -> SQLite (durable) -> SMPP to the
//! in-process simulator -> receipts stored. Prints rates; asserts nothing (figures, not tests).
//!
//! `cargo bench -p tuma-engine --bench chain -- [messages] [batch] [binds] [window] [clients]`
//! (defaults 200000, 1000, 2, 1000, 2; `-- 100000 1 2 1000 64` for single-message requests). Memory store instead of SQLite: `TUMA_BENCH_MEMORY=1`;
//! the simulator's deliver_sm window per bind: `TUMA_BENCH_SIM_WINDOW` (default 1000).

use std::time::{Duration, Instant};

use smsc_sim::{Engine as SimEngine, ServerOptions, Sim, SimConfig, SimServer};
use tuma_domain::{ConnectorId, Defaults, Region, RetryPolicy, SenderId};
use tuma_engine::{Clock, ConnectorConfig, Engine, EngineConfig, InboundConfig, SubmitRequest};

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .filter(|a| !a.starts_with('-'))
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let total = arg(1, 200_000);
    let batch = arg(2, 1000).max(1);
    let binds = arg(3, 2).max(1);
    let window = arg(4, 1000).max(1);
    let clients = arg(5, 2).max(1);

    let sim = Sim::new(SimEngine::new(SimConfig::default()).expect("simulator config"));
    let mut options = ServerOptions::new("127.0.0.1:0".parse().expect("address"));
    // deliver_sm the simulator may have awaiting our answer, per bind (its default is 64).
    options.mc.session.window = std::env::var("TUMA_BENCH_SIM_WINDOW")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1000);
    let server = SimServer::start_with(sim, options)
        .await
        .expect("simulator");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut sqlite = None;
    let stores = if std::env::var_os("TUMA_BENCH_MEMORY").is_some() {
        tuma_store::MemoryStore::stores()
    } else {
        let store = tuma_store_sqlite::SqliteStore::open(tuma_store_sqlite::SqliteConfig::new(
            dir.path().join("bench.db"),
        ))
        .expect("sqlite");
        let stores = store.stores();
        sqlite = Some(store);
        stores
    };
    let account = stores
        .accounts
        .create_account("bench", 0)
        .await
        .expect("account")
        .id;
    let mut connector = ConnectorConfig::new(
        ConnectorId::parse("sim").expect("name"),
        server.smpp_addr().to_string(),
        "bench",
        "bench",
    );
    connector.binds = binds;
    connector.window = window;
    let mut defaults = Defaults::new(Region::parse("KE").expect("region"));
    defaults.sender = Some(SenderId::parse("BENCH").expect("sender"));
    let config = EngineConfig {
        defaults,
        connectors: vec![connector],
        routes: Vec::new(),
        retry: RetryPolicy::default(),
        multipart: Default::default(),
        expiry_grace: Duration::from_secs(3600),
        tick: Duration::from_secs(1),
        webhooks: Default::default(),
        inbound: InboundConfig::default(),
        max_queued: std::env::var("TUMA_BENCH_MAX_QUEUED")
            .ok()
            .and_then(|w| w.parse().ok())
            .unwrap_or(2_000_000),
        campaigns: Default::default(),
    };
    let engine = Engine::start(config, stores, Clock::system())
        .await
        .expect("engine");
    while engine.health()[0].bound < binds {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let started = Instant::now();
    let mut sent = 0;
    let mut producers = Vec::new();
    // Concurrent clients, as an HTTP front end would have (batch 1: single-message requests).
    for client in 0..clients {
        let engine = engine.clone();
        let share = total / clients + if client == 0 { total % clients } else { 0 };
        sent += share;
        producers.push(tokio::spawn(async move {
            let mut done = 0;
            while done < share {
                let n = batch.min(share - done);
                let requests = (0..n)
                    .map(|i| SubmitRequest {
                        // 1xx: delivered at once with a receipt.
                        to: format!("+2547000001{:02}", (done + i) % 100),
                        text: format!("Bench message {client}-{}", done + i),
                        ..SubmitRequest::default()
                    })
                    .collect();
                match engine.submit(account, requests).await {
                    Ok(_) => done += n,
                    Err(tuma_engine::EngineError::Overloaded { .. }) => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(e) => panic!("submit failed: {e}"),
                }
            }
        }));
    }
    for p in producers {
        p.await.expect("producer");
    }
    let accepted_in = started.elapsed();
    let mut submitted_at = None;
    loop {
        let c = engine.counts();
        if submitted_at.is_none() && c.queued == 0 && c.in_flight == 0 {
            submitted_at = Some(started.elapsed());
        }
        if c.delivered as usize >= sent {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            eprintln!("stalled: {c:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered_in = started.elapsed();
    let rate = |d: Duration| sent as f64 / d.as_secs_f64();
    println!(
        "{sent} messages, {clients} clients x batch {batch}, {binds} binds x window {window}: accepted {:.0}/s, submitted {:.0}/s, delivered (stored) {:.0}/s",
        rate(accepted_in),
        submitted_at.map_or(0.0, rate),
        rate(delivered_in)
    );
    println!("counts: {:?}", engine.counts());
    for line in engine.render_metrics().lines() {
        if line.starts_with("tuma_receipts_parked_total") || line.starts_with("tuma_throttle") {
            println!("{line}");
        }
    }
    if let Some(store) = &sqlite {
        let w = store.writer_stats();
        println!(
            "sqlite writer: {} commits, {:.1} jobs/commit, busy {:.0}% of the run",
            w.commits,
            w.jobs as f64 / w.commits.max(1) as f64,
            w.busy_micros as f64 / 1e4 / delivered_in.as_secs_f64()
        );
    }
    engine.shutdown(Duration::from_secs(5)).await;
    server.shutdown().await;
}
