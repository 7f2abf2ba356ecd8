//! The `tuma` binary: the command-line entry point of the gateway.
//!
//! - `tuma estimate`: the segment calculator of the text engine;
//! - `tuma smsc`: the simulated operator network (SMPP listener + HTTP control API);
//! - `tuma bench smsc`: throughput of the simulator over loopback, with our ESME client;
//! - `tuma serve`: the gateway (and, with no SMSC configured, the simulator in-process);
//! - `tuma send` / `tuma message` / `tuma campaign`: clients of the gateway's HTTP API;
//! - `tuma bench gateway`: the whole chain's throughput and latency;
//! - `tuma bench campaign`: a campaign of a million recipients through `tuma serve`.
#![forbid(unsafe_code)]

// The gateway allocates many short-lived buffers across threads (JSON, PDUs, store rows);
// glibc's allocator spent about a quarter of the chain's CPU in malloc/free/consolidate in
// `perf` profiles of `tuma bench gateway`; mimalloc is built for this pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench_campaign;
mod bench_gateway;
mod campaign_cli;
mod client;
mod config;
mod serve;

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use smpp::pdu::{Bind, SubmitSm};
use smpp::types::{Npi, RegisteredDelivery, Ton};
use smpp::{BindKind, PduBody};
use smpp_tokio::{EsmeClient, EsmeConfig, EsmeEvent};
use smsc_sim::{Engine, ServerOptions, Sim, SimConfig, SimServer};

/// tuma: bulk SMS gateway with a simulated operator network.
#[derive(Debug, Parser)]
#[command(name = "tuma", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: HTTP API, engine, storage (SQLite in the data directory by default).
    /// With no [[connectors]] configured, the simulated operator network runs in-process and
    /// its control API is mounted under /sim. Logs go to stderr (RUST_LOG, default `info`).
    Serve {
        /// HTTP address (default 127.0.0.1:8080, or `server.http` in the config).
        #[arg(long)]
        http: Option<SocketAddr>,
        /// Data directory: SQLite database, admin key, webhook secret (default ./tuma-data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// `postgres://user@host/db` to use PostgreSQL instead of SQLite.
        #[arg(long)]
        database: Option<String>,
        /// Configuration file (TOML); TUMA_* environment variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Send one message through a running gateway (TUMA_URL, TUMA_API_KEY).
    Send {
        /// Recipient (E.164, or national with the gateway's default region).
        #[arg(long)]
        to: String,
        /// Sender id (the gateway's default when absent).
        #[arg(long)]
        from: Option<String>,
        /// Where status changes are POSTed.
        #[arg(long)]
        callback_url: Option<String>,
        /// Your own reference, returned in status calls and webhooks.
        #[arg(long)]
        reference: Option<String>,
        /// Send later (RFC 3339).
        #[arg(long)]
        send_at: Option<String>,
        /// Validity (e.g. 2h).
        #[arg(long)]
        validity: Option<String>,
        /// Idempotency key: sending again with the same key and body sends nothing new.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Gateway URL (default TUMA_URL or http://127.0.0.1:8080).
        #[arg(long)]
        url: Option<String>,
        /// API key (default TUMA_API_KEY, or ./tuma-data/admin-key).
        #[arg(long)]
        api_key: Option<String>,
        /// Print the JSON answer instead of the id.
        #[arg(long)]
        json: bool,
        /// The text; read from standard input when absent.
        text: Option<String>,
    },
    /// Show a message's status and events.
    Message {
        /// The message id.
        id: String,
        /// Gateway URL (default TUMA_URL or http://127.0.0.1:8080).
        #[arg(long)]
        url: Option<String>,
        /// API key (default TUMA_API_KEY, or ./tuma-data/admin-key).
        #[arg(long)]
        api_key: Option<String>,
        /// Print the JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Campaigns through a running gateway: create (CSV upload), status, pause, resume,
    /// cancel, report, list, recipients (TUMA_URL, TUMA_API_KEY).
    Campaign(campaign_cli::CampaignArgs),
    /// Show how a text will be sent: encoding, characters, segments, and what forced UCS-2.
    Estimate {
        /// The message text; read from standard input when absent.
        text: Option<String>,
        /// Replace word-processor look-alikes (smart quotes, dashes, ...) with GSM-7 forms.
        #[arg(long)]
        transliterate: bool,
    },
    /// Run the simulated operator network: an SMPP listener and the HTTP control API, until
    /// Ctrl-C or SIGTERM. Logs go to stderr (filter with RUST_LOG, default `info`).
    Smsc {
        /// SMPP address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:2775")]
        listen: SocketAddr,
        /// HTTP control API address (inboxes, MO, stats, metrics).
        #[arg(long, default_value = "127.0.0.1:2776")]
        http: SocketAddr,
        /// Simulator configuration (TOML); the built-in Kenyan default when absent.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Seed of the simulated outcomes (overrides the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// deliver_sm (receipts, MO) each bind may have awaiting deliver_sm_resp. An ESME
        /// that answers each receipt after storing it carries at most this many per commit.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=65535))]
        window: u32,
    },
    /// Measure throughput.
    Bench {
        #[command(subcommand)]
        target: BenchTarget,
    },
}

#[derive(Debug, Subcommand)]
enum BenchTarget {
    /// The whole chain: a gateway (durable SQLite) and the simulator in this process, driven
    /// over loopback HTTP. Prints a `RESULT {json}` line last. Build with --release.
    Gateway(bench_gateway::Options),
    /// A campaign through real processes: generates a CSV of N recipients, starts `tuma smsc`
    /// and `tuma serve` (durable SQLite) as children, uploads the campaign with tracked links
    /// and measures the import, the time to the last delivered status and each process's
    /// peak RSS. Prints a `RESULT {json}` line last. Build with --release.
    Campaign(bench_campaign::Options),
    /// The simulator over loopback: starts it in-process on port 0, binds our ESME client(s)
    /// and pushes submit_sm as fast as the window allows. Build with --release.
    Smsc {
        /// submit_sm to send in total.
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
        /// Requests in flight per bind.
        #[arg(long, default_value_t = 1000)]
        window: usize,
        /// Client binds, sharing the messages.
        #[arg(long, default_value_t = 1)]
        binds: usize,
        /// Ask for receipts and also measure messages fully acknowledged (every receipt
        /// received and answered).
        #[arg(long)]
        receipts: bool,
        /// deliver_sm the simulator keeps in flight per receiving bind.
        #[arg(long, default_value_t = 64)]
        sim_window: usize,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            http,
            data_dir,
            database,
            config,
        } => {
            init_logging("info");
            let file = serve::load_config(serve::ServeArgs {
                http,
                data_dir,
                database,
                config,
            })?;
            let rt = runtime_beside_writer(serve::uses_sqlite(&file))?;
            let result = rt.block_on(serve::serve(file));
            rt.shutdown_timeout(Duration::from_millis(500));
            result?;
        }
        Command::Send {
            to,
            from,
            callback_url,
            reference,
            send_at,
            validity,
            idempotency_key,
            url,
            api_key,
            json,
            text,
        } => {
            let text = match text {
                Some(t) => t,
                None => read_stdin()?.trim_end_matches('\n').to_owned(),
            };
            let target = client::ApiTarget::resolve(url, api_key)?;
            let args = client::SendArgs {
                to,
                from,
                text,
                callback_url,
                reference,
                send_at,
                validity,
                idempotency_key,
            };
            let answer = runtime()?.block_on(client::send(&target, &args))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                println!(
                    "{} {} ({}, {} segment(s))",
                    answer["id"].as_str().unwrap_or("?"),
                    answer["status"].as_str().unwrap_or("?"),
                    answer["encoding"].as_str().unwrap_or("?"),
                    answer["segments"].as_u64().unwrap_or(0)
                );
            }
        }
        Command::Message {
            id,
            url,
            api_key,
            json,
        } => {
            let target = client::ApiTarget::resolve(url, api_key)?;
            let answer = runtime()?.block_on(client::message(&target, &id))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                print!("{}", client::render_message(&answer));
            }
        }
        Command::Bench {
            target: BenchTarget::Gateway(options),
        } => {
            init_logging("warn");
            let report = runtime_beside_writer(true)?.block_on(bench_gateway::run(options))?;
            print!("{report}");
        }
        Command::Campaign(args) => {
            runtime()?.block_on(campaign_cli::run(args))?;
        }
        Command::Bench {
            target: BenchTarget::Campaign(options),
        } => {
            init_logging("warn");
            let report = runtime()?.block_on(bench_campaign::run(options))?;
            print!("{report}");
        }
        Command::Estimate {
            text,
            transliterate,
        } => {
            let text = match text {
                Some(text) => text,
                None => read_stdin()?,
            };
            print!("{}", render_estimate(&text, transliterate));
        }
        Command::Smsc {
            listen,
            http,
            config,
            seed,
            window,
        } => {
            init_logging("info");
            let mut sim_config = match &config {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    SimConfig::from_toml(&text).with_context(|| format!("in {}", path.display()))?
                }
                None => SimConfig::default(),
            };
            if let Some(seed) = seed {
                sim_config.seed = seed;
            }
            let rt = runtime()?;
            let result = rt.block_on(run_smsc(sim_config, listen, http, window as usize));
            // Everything was stopped by `run_smsc`; do not wait for idle runtime threads.
            rt.shutdown_timeout(Duration::from_millis(200));
            result?;
        }
        Command::Bench {
            target:
                BenchTarget::Smsc {
                    messages,
                    window,
                    binds,
                    receipts,
                    sim_window,
                },
        } => {
            init_logging("warn");
            anyhow::ensure!(messages > 0, "--messages must be at least 1");
            anyhow::ensure!(binds > 0, "--binds must be at least 1");
            anyhow::ensure!(window > 0, "--window must be at least 1");
            anyhow::ensure!(sim_window > 0, "--sim-window must be at least 1");
            let report = runtime()?.block_on(bench_smsc(BenchOptions {
                messages,
                window,
                binds,
                receipts,
                sim_window,
            }))?;
            print!("{report}");
        }
    }
    Ok(())
}

/// The message text when it is not an argument.
fn read_stdin() -> anyhow::Result<String> {
    let mut buf = String::new();
    std::io::stdin()
        .read_to_string(&mut buf)
        .context("reading the message text from standard input")?;
    Ok(buf)
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// The gateway's runtime. With SQLite, every write goes through one writer thread (a plain OS
/// thread), and in a saturated batch run that thread is the limit; in single-message runs the
/// async side is (HTTP, SMPP, the load generator of `tuma bench`).
///
/// So the runtime gets a worker per core, and its threads run at a lower scheduling priority
/// (nice + [`WORKER_NICE`]) than the writer: when the writer has work it gets its core, and
/// when it has none the workers use both. Measured on a 2-core AMD EPYC instance (2026-11-27,
/// 4 alternating rounds, docs/benchmarks.md "Async threads below the writer"): single requests
/// with 256 clients, median 15.2k -> 19.6k/s; batch 48.4k -> 49.3k delivered/s. Before, the
/// runtime had cores - 1 workers at the same priority as the writer (73-75k against 63-71k
/// delivered/s with `cores` workers on an Intel instance, but half a core idle in
/// single-request runs).
/// `TOKIO_WORKER_THREADS` still overrides the worker count (the priority stays lowered).
fn runtime_beside_writer(sqlite: bool) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    #[cfg(unix)]
    if sqlite && std::thread::available_parallelism().map_or(1, usize::from) > 1 {
        // Absolute, not relative: a thread inherits the priority of the thread that spawned
        // it, and tokio's blocking pool may spawn from a worker.
        let base = rustix::process::getpriority_process(None).unwrap_or(0);
        let lowered = (base + WORKER_NICE).min(19);
        builder.on_thread_start(move || {
            if let Err(e) = rustix::process::setpriority_process(None, lowered) {
                tracing::debug!(error = %e, "could not lower an async worker's priority");
            }
        });
    }
    #[cfg(not(unix))]
    let _ = sqlite;
    builder
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// How much lower than the SQLite writer the async threads run (a `nice` increment; Linux
/// weighs nice 5 at about a third of nice 0). Measured against 2, 10 and 19 on 2 cores: 2 gave
/// the writer too little (batch 52-53k against 55k), 10 and 19 starved the workers (single
/// 15-19k, batch 45-53k; more CPU per message).
#[cfg(unix)]
const WORKER_NICE: i32 = 5;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `tuma smsc`: serves until Ctrl-C or SIGTERM, then unbinds every session.
async fn run_smsc(
    config: SimConfig,
    listen: SocketAddr,
    http: SocketAddr,
    window: usize,
) -> anyhow::Result<()> {
    let mut options = ServerOptions::new(listen);
    options.http_addr = Some(http);
    options.mc.session.window = window;
    let server = SimServer::start_with(Sim::new(Engine::new(config)?), options).await?;
    tracing::info!(
        smpp = %server.smpp_addr(),
        http = ?server.http_addr(),
        "simulator running; Ctrl-C or SIGTERM to stop"
    );
    shutdown_signal().await?;
    tracing::info!("stopping");
    server.shutdown().await;
    Ok(())
}

pub(crate) async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}

/// The settings of `tuma bench smsc`.
#[derive(Debug, Clone, Copy)]
struct BenchOptions {
    messages: usize,
    window: usize,
    binds: usize,
    receipts: bool,
    sim_window: usize,
}

/// What `tuma bench smsc` measured.
#[derive(Debug)]
struct BenchReport {
    messages: usize,
    window: usize,
    binds: usize,
    sim_window: usize,
    /// Until the last submit_sm_resp.
    submit_time: Duration,
    /// Until the last receipt was answered (with `--receipts`).
    acknowledged_time: Option<Duration>,
    refused: usize,
    /// CPU seconds used by the whole process (client and simulator) during the run.
    cpu: Option<f64>,
    peak_rss_kib: Option<u64>,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = |d: Duration| self.messages as f64 / d.as_secs_f64().max(1e-9);
        writeln!(
            f,
            "messages: {}  window: {}  binds: {}  simulator deliver_sm window: {}",
            self.messages, self.window, self.binds, self.sim_window
        )?;
        writeln!(
            f,
            "submit_sm:        {:>10.0}/s  ({:.3} s; {} refused)",
            rate(self.submit_time),
            self.submit_time.as_secs_f64(),
            self.refused
        )?;
        if let Some(d) = self.acknowledged_time {
            writeln!(
                f,
                "fully acked:      {:>10.0}/s  ({:.3} s, every receipt received and answered)",
                rate(d),
                d.as_secs_f64()
            )?;
        }
        let wall = self.acknowledged_time.unwrap_or(self.submit_time);
        if let Some(cpu) = self.cpu {
            writeln!(
                f,
                "CPU:              {:>10.2} s  ({:.2} µs per message, {:.2} cores busy on average)",
                cpu,
                cpu * 1e6 / self.messages as f64,
                cpu / wall.as_secs_f64().max(1e-9)
            )?;
        }
        match self.peak_rss_kib {
            Some(k) => writeln!(f, "peak RSS:         {:>10.1} MiB", k as f64 / 1024.0),
            None => writeln!(f, "peak RSS:         unknown (no /proc/self/status)"),
        }
    }
}

/// CPU time (user + system) this process has used so far, from Linux's `/proc/self/stat`
/// (in USER_HZ ticks, which the kernel ABI fixes at 100 per second).
pub(crate) fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name, which may itself contain spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Peak resident set size of this process (client and simulator together), from Linux's
/// `VmHWM`.
pub(crate) fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `tuma bench smsc`: the simulator in-process on loopback port 0 and `binds` ESME clients,
/// each pushing its share of `messages` submit_sm through a window of `window`. Destinations
/// cycle over 254700000100-199 (the range delivered at once), so the simulator delivers every
/// message to a handset inbox while it is being measured.
async fn bench_smsc(options: BenchOptions) -> anyhow::Result<BenchReport> {
    let BenchOptions {
        messages,
        window,
        binds,
        receipts,
        sim_window,
    } = options;
    let mut server_options = ServerOptions::new("127.0.0.1:0".parse()?);
    server_options.mc.session.window = sim_window;
    let sim = Sim::new(Engine::new(SimConfig::default())?);
    let server = SimServer::start_with(sim, server_options).await?;
    let addr = server.smpp_addr().to_string();
    let kind = if receipts {
        BindKind::Transceiver
    } else {
        BindKind::Transmitter
    };
    let mut clients = Vec::with_capacity(binds);
    for _ in 0..binds {
        let mut config = EsmeConfig::new(
            kind,
            Bind {
                system_id: "bench".parse()?,
                password: "bench".parse()?,
                ..Bind::default()
            },
        );
        config.session.window = window;
        config.event_capacity = 64 * 1024;
        clients.push(
            EsmeClient::connect_tcp(&addr, config)
                .await
                .context("binding the bench client")?,
        );
    }

    let text = b"Your order 12345 has shipped. Track: https://t.example/abc";
    let mut template = SubmitSm::try_new("Acme", "254700000100", text)?;
    template.source_addr_ton = Ton::ALPHANUMERIC;
    template.dest_addr_ton = Ton::INTERNATIONAL;
    template.dest_addr_npi = Npi::ISDN;
    template.registered_delivery = RegisteredDelivery(u8::from(receipts));
    let addresses: Vec<_> = (100..200)
        .map(|n| format!("254700000{n}").parse())
        .collect::<Result<_, _>>()?;

    let cpu_before = cpu_seconds();
    let acked = Arc::new(AtomicUsize::new(0));
    let all_acked = Arc::new(tokio::sync::Notify::new());
    let started = Instant::now();
    let mut senders = Vec::with_capacity(binds);
    let mut collectors = Vec::with_capacity(binds);
    let mut ackers = Vec::with_capacity(binds);
    for (b, client) in clients.into_iter().enumerate() {
        let share = messages / binds + usize::from(b < messages % binds);
        let (handle, mut events) = client.into_parts();
        // Receipts may arrive on any bind of the account; every bind answers what it gets.
        let (acked, all_acked) = (acked.clone(), all_acked.clone());
        ackers.push(tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let EsmeEvent::Request(request) = event {
                    let _ = request.ack();
                    if acked.fetch_add(1, Ordering::AcqRel) + 1 == messages {
                        all_acked.notify_one();
                    }
                }
            }
        }));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (h, template, addresses) = (handle.clone(), template.clone(), addresses.clone());
        senders.push(tokio::spawn(async move {
            for i in 0..share {
                let mut sm = Box::new(template.clone());
                if let Some(a) = addresses.get(i % addresses.len()) {
                    sm.destination_addr = *a;
                }
                let response = h.start_request(PduBody::SubmitSm(sm)).await?;
                if tx.send(response).is_err() {
                    break;
                }
            }
            anyhow::Ok(())
        }));
        collectors.push(tokio::spawn(async move {
            let mut refused = 0usize;
            while let Some(response) = rx.recv().await {
                match response.await {
                    Ok(pdu) if pdu.command_status.is_ok() => {}
                    _ => refused += 1,
                }
            }
            (refused, handle)
        }));
    }
    for s in senders {
        s.await.context("sender task")??;
    }
    let mut refused = 0;
    let mut handles = Vec::new();
    for c in collectors {
        let (r, h) = c.await.context("collector task")?;
        refused += r;
        handles.push(h);
    }
    let submit_time = started.elapsed();
    let acknowledged_time = if receipts {
        let wanted = messages - refused;
        let wait = async {
            while acked.load(Ordering::Acquire) < wanted {
                // Woken at the last receipt; the timeout only re-checks when some were refused.
                let _ =
                    tokio::time::timeout(Duration::from_millis(100), all_acked.notified()).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(600), wait)
            .await
            .context("receipts stopped arriving")?;
        Some(started.elapsed())
    } else {
        None
    };
    let peak_rss_kib = peak_rss_kib();
    let cpu = cpu_before.zip(cpu_seconds()).map(|(a, b)| b - a);
    for h in &handles {
        h.unbind().await;
    }
    for a in ackers {
        let _ = a.await;
    }
    server.shutdown().await;
    Ok(BenchReport {
        messages,
        window,
        binds,
        sim_window,
        submit_time,
        acknowledged_time,
        refused,
        cpu,
        peak_rss_kib,
    })
}

/// The human-readable report of `tuma estimate`.
fn render_estimate(text: &str, transliterate: bool) -> String {
    use std::fmt::Write;
    let options = sms_text::Options {
        transliterate,
        ..sms_text::Options::default()
    };
    let e = sms_text::estimate(text, &options);
    let encoding = match e.encoding {
        sms_text::Encoding::Gsm7 => "GSM-7",
        sms_text::Encoding::Ucs2 => "UCS-2",
    };
    let unit = match e.encoding {
        sms_text::Encoding::Gsm7 => "septets",
        sms_text::Encoding::Ucs2 => "UTF-16 units",
    };
    let mut out = String::new();
    let _ = writeln!(out, "encoding:   {encoding}");
    let _ = writeln!(out, "characters: {}", e.characters);
    let _ = writeln!(out, "units:      {} {unit}", e.units);
    let _ = writeln!(
        out,
        "segments:   {} ({} {unit} each, {} left in the last)",
        e.segments, e.per_segment_limit, e.remaining
    );
    for forced in &e.ucs2_characters {
        let _ = writeln!(
            out,
            "forces UCS-2: {:?} (U+{:04X}) x{} first at {}",
            forced.character, forced.character as u32, forced.count, forced.first_index
        );
    }
    for r in &e.transliterations {
        let _ = writeln!(out, "replaced:   {:?} -> {:?} x{}", r.from, r.to, r.count);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_reports_encoding_segments_and_culprits() {
        let gsm = render_estimate(&"a".repeat(161), false);
        assert!(gsm.contains("GSM-7"), "{gsm}");
        assert!(gsm.contains("segments:   2 (153 septets each"), "{gsm}");

        let ucs2 = render_estimate("Hi 😀 “there”", false);
        assert!(ucs2.contains("UCS-2"), "{ucs2}");
        assert!(ucs2.contains("'😀' (U+1F600)"), "{ucs2}");

        let fixed = render_estimate("“quoted” — text", true);
        assert!(fixed.contains("GSM-7"), "{fixed}");
        assert!(fixed.contains("replaced:"), "{fixed}");
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
