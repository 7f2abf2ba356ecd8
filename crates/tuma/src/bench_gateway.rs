//! `tuma bench gateway`: the whole chain on this machine: a gateway (SQLite, durable) with
//! the simulated operator network in the same process, driven over loopback HTTP by a load
//! generator in the same process, exactly as a client would drive it.
//!
//! Reports accepted/s (202s received), submitted/s (submit_sm_resp stored), delivered/s
//! (receipt matched and `delivered` stored), latency percentiles accept -> submitted and
//! accept -> delivered from the stored events of a sample of messages, CPU and peak RSS.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tuma_domain::{MessageId, MessageStatus};

use crate::config::FileConfig;
use crate::serve::Gateway;

/// How the load is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// `POST /v1/messages/batch` with `--batch-size` messages each.
    Batch,
    /// `POST /v1/messages`, one message per request.
    Single,
}

/// Settings of one run (the flags of `tuma bench gateway`).
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Messages to send.
    #[arg(long, default_value_t = 200_000)]
    pub messages: usize,
    /// batch: POST /v1/messages/batch; single: one POST /v1/messages per message.
    #[arg(long, value_enum, default_value = "batch")]
    pub mode: Mode,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Messages per batch request.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// SMPP sessions to the simulator.
    #[arg(long, default_value_t = 1)]
    pub binds: usize,
    /// submit_sm in flight per session.
    #[arg(long, default_value_t = 512)]
    pub window: usize,
    /// Parent of the temporary data directory (default: the system's temp dir).
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Messages whose stored events give the latency percentiles.
    #[arg(long, default_value_t = 2000)]
    pub sample: usize,
    /// deliver_sm (receipts) the simulator keeps in flight per session; receipts are
    /// answered after their commit, so this bounds receipts per commit round trip.
    #[arg(long, default_value_t = 1024)]
    pub sim_window: usize,
    /// The SQLite writer's commit delay (`server.commit_delay`; `0s`: none). Default: the
    /// server's.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub commit_delay: Option<Duration>,
}

/// Runs the benchmark and returns the report (last line `RESULT {json}`).
pub async fn run(options: Options) -> anyhow::Result<String> {
    if options.messages == 0 || options.concurrency == 0 || options.batch_size == 0 {
        bail!("--messages, --concurrency and --batch-size must be at least 1");
    }
    let temp = tempfile::Builder::new()
        .prefix("tuma-bench-")
        .tempdir_in(options.data_dir.clone().unwrap_or_else(std::env::temp_dir))
        .context("creating the benchmark's data directory")?;
    let mut file = FileConfig::default();
    file.server.http = "127.0.0.1:0".parse()?;
    file.server.data_dir = temp.path().to_path_buf();
    file.engine.max_queued = options.messages.max(1_000_000);
    if let Some(delay) = options.commit_delay {
        file.server.commit_delay = delay;
    }
    let key = format!("tuma_bench{}", hex::encode(rand::random::<[u8; 16]>()));
    let demo = crate::serve::DemoNetwork {
        binds: options.binds,
        window: options.window,
        receipt_window: options.sim_window,
    };
    let gateway = Gateway::start_with_demo(file, Some(key.clone()), demo)
        .await
        .context("starting the gateway")?;
    let url = format!("http://{}", gateway.http_addr);
    let engine = gateway.engine.clone();
    // Wait for the SMPP bind so the figures do not include the connection set-up.
    let bound_by = Instant::now() + Duration::from_secs(10);
    while engine.health().iter().all(|c| c.bound == 0) {
        if Instant::now() > bound_by {
            bail!("the gateway did not bind to the simulator within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let before = engine.counts();
    let cpu_before = crate::cpu_seconds();
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..options.concurrency {
        let (next, url, key) = (next.clone(), url.clone(), key.clone());
        let opts = options.clone();
        tasks.push(tokio::spawn(
            async move { drive(opts, next, url, key).await },
        ));
    }
    let mut ids = Vec::new();
    let mut rejected = 0usize;
    let mut round_trips = Vec::new();
    for t in tasks {
        let (mut i, r, mut rt) = t.await.context("load task")??;
        rejected += r;
        ids.append(&mut i);
        round_trips.append(&mut rt);
    }
    let accepted = ids.len();
    let accept_time = started.elapsed();

    // Until every accepted message is final (delivered for this number range).
    let wait_until = Instant::now() + Duration::from_secs(600);
    let (mut submitted_time, mut delivered_time) = (None, None);
    loop {
        let c = engine.counts();
        let submitted = c.submitted.saturating_sub(before.submitted) as usize;
        let finished = (c.delivered + c.failed + c.expired)
            .saturating_sub(before.delivered + before.failed + before.expired)
            as usize;
        if submitted_time.is_none() && submitted >= accepted {
            submitted_time = Some(started.elapsed());
        }
        if finished >= accepted {
            delivered_time = Some(started.elapsed());
            break;
        }
        if Instant::now() > wait_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cpu = cpu_before.zip(crate::cpu_seconds()).map(|(a, b)| b - a);
    let peak_rss_kib = crate::peak_rss_kib();
    let after = engine.counts();

    let mut latencies = sample_latencies(&engine, &ids, options.sample).await?;
    if latencies.is_null() {
        latencies = json!({});
    }
    if let Some(l) = latencies.as_object_mut() {
        // What a client waits for its 202 (one request: a message, or a batch).
        l.insert("request".into(), percentiles_ms(&mut round_trips));
    }
    gateway.shutdown().await;

    let rate = |d: Option<Duration>| d.map(|d| accepted as f64 / d.as_secs_f64().max(1e-9));
    let delivered = after.delivered.saturating_sub(before.delivered);
    let result = json!({
        "mode": match options.mode { Mode::Batch => "batch", Mode::Single => "single" },
        "messages": options.messages,
        "accepted": accepted,
        "rejected": rejected,
        "delivered": delivered,
        "failed": after.failed.saturating_sub(before.failed),
        "concurrency": options.concurrency,
        "batch_size": if options.mode == Mode::Batch { Some(options.batch_size) } else { None },
        "accepted_per_s": rate(Some(accept_time)),
        "submitted_per_s": rate(submitted_time),
        "delivered_per_s": rate(delivered_time),
        "accept_seconds": accept_time.as_secs_f64(),
        "delivered_seconds": delivered_time.map(|d| d.as_secs_f64()),
        "latency_ms": latencies,
        "cpu_seconds": cpu,
        "peak_rss_mib": peak_rss_kib.map(|k| k as f64 / 1024.0),
    });
    let mut out = String::new();
    use std::fmt::Write;
    let fmt_rate = |v: &Value| {
        v.as_f64()
            .map_or("-".to_owned(), |r| format!("{r:>10.0}/s"))
    };
    let _ = writeln!(
        out,
        "mode: {}  messages: {}  concurrency: {}  accepted: {accepted}  rejected: {rejected}",
        result["mode"].as_str().unwrap_or("?"),
        options.messages,
        options.concurrency
    );
    let _ = writeln!(out, "accepted:   {}", fmt_rate(&result["accepted_per_s"]));
    let _ = writeln!(out, "submitted:  {}", fmt_rate(&result["submitted_per_s"]));
    let _ = writeln!(
        out,
        "delivered:  {}  (receipt matched and stored)",
        fmt_rate(&result["delivered_per_s"])
    );
    let _ = writeln!(out, "latency ms: {}", result["latency_ms"]);
    if let Some(cpu) = cpu {
        let _ = writeln!(
            out,
            "CPU:        {cpu:.2} s ({:.1} µs per message; load generator, gateway and simulator)",
            cpu * 1e6 / accepted.max(1) as f64
        );
    }
    if let Some(k) = peak_rss_kib {
        let _ = writeln!(out, "peak RSS:   {:.1} MiB", k as f64 / 1024.0);
    }
    if delivered_time.is_none() {
        let _ = writeln!(
            out,
            "WARNING: not every accepted message was final within 600 s"
        );
    }
    let _ = writeln!(out, "RESULT {result}");
    drop(temp);
    Ok(out)
}

/// One load task: takes message numbers from `next` until `messages` are handed out.
async fn drive(
    options: Options,
    next: Arc<AtomicUsize>,
    url: String,
    key: String,
) -> anyhow::Result<Loaded> {
    // One HTTP/1.1 keep-alive connection per client task, on hyper's connection-level
    // client. The load generator shares the two cores with what it measures; reqwest's
    // pool, URL handling and connector cost about 15 µs of CPU per request (perf: a fifth
    // of a single-request run's CPU), which this avoids. The requests on the wire are the
    // same.
    let (conn, connection) = Conn::open(&url, &key).await?;
    // The connection is driven in this task rather than a task of its own: a request and its
    // answer then cost no wake-up of another task.
    tokio::select! {
        result = requests(options, next, conn) => result,
        closed = connection => match closed {
            Ok(()) => bail!("the gateway closed the connection"),
            Err(e) => Err(e).context("the connection to the gateway"),
        },
    }
}

/// What one load task got: accepted ids, rejected count, each request's round trip (µs).
type Loaded = (Vec<MessageId>, usize, Vec<u64>);

/// Sends requests on `conn` until `messages` are handed out.
async fn requests(
    options: Options,
    next: Arc<AtomicUsize>,
    mut conn: Conn,
) -> anyhow::Result<Loaded> {
    let mut ids = Vec::new();
    let mut rejected = 0;
    let mut round_trips = Vec::new();
    // The load generator shares the machine with what it measures, so it writes its JSON
    // straight into a buffer (no `serde_json::Value` per message) and reads answers into
    // borrowed structs: about 2 µs per message less than building values.
    let message = |out: &mut Vec<u8>, i: usize| {
        use std::io::Write;
        let _ = write!(
            out,
            r#"{{"to":"+2547000001{:02}","from":"ACME","text":"Your order {i} has shipped and will arrive tomorrow. Thank you for shopping with us."}}"#,
            i % 100
        );
    };
    let mut body = Vec::new();
    loop {
        let take = match options.mode {
            Mode::Batch => options.batch_size,
            Mode::Single => 1,
        };
        let start = next.fetch_add(take, Ordering::Relaxed);
        if start >= options.messages {
            break;
        }
        let end = (start + take).min(options.messages);
        body.clear();
        let path = match options.mode {
            Mode::Single => {
                message(&mut body, start);
                "/v1/messages"
            }
            Mode::Batch => {
                body.extend_from_slice(br#"{"messages":["#);
                for i in start..end {
                    if i > start {
                        body.push(b',');
                    }
                    message(&mut body, i);
                }
                body.extend_from_slice(b"]}");
                "/v1/messages/batch"
            }
        };
        // 429 (overload) is retried after a pause: the benchmark measures what is accepted.
        let sent = Instant::now();
        let answer = loop {
            let (status, bytes) = conn.post(path, &body).await?;
            if status == 429 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            if !(200..300).contains(&status) {
                bail!(
                    "the gateway answered {status}: {}",
                    String::from_utf8_lossy(&bytes)
                );
            }
            break bytes;
        };
        // From the first try: a 429's pause and retry are part of what the client waits.
        round_trips.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
        match options.mode {
            Mode::Single => {
                let a: Single<'_> = serde_json::from_slice(&answer)?;
                match MessageId::parse(a.id) {
                    Ok(id) => ids.push(id),
                    Err(_) => rejected += 1,
                }
            }
            Mode::Batch => {
                let a: Batch<'_> = serde_json::from_slice(&answer)?;
                for item in a.accepted {
                    if let Ok(id) = MessageId::parse(item.id) {
                        ids.push(id);
                    }
                }
                rejected += a.rejected.len();
            }
        }
    }
    Ok((ids, rejected, round_trips))
}

type Connection = hyper::client::conn::http1::Connection<
    hyper_util::rt::TokioIo<tokio::net::TcpStream>,
    http_body_util::Full<hyper::body::Bytes>,
>;

/// One client's keep-alive HTTP/1.1 connection to the gateway.
struct Conn {
    send: hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>>,
    host: hyper::header::HeaderValue,
    auth: hyper::header::HeaderValue,
}

impl Conn {
    /// The connection and the future that drives it (it ends when `send` is dropped or the
    /// gateway closes the connection).
    async fn open(url: &str, key: &str) -> anyhow::Result<(Self, Connection)> {
        let host = url
            .strip_prefix("http://")
            .context("the gateway's URL is not http://")?;
        let stream = tokio::net::TcpStream::connect(host)
            .await
            .with_context(|| format!("connecting to {host}"))?;
        stream.set_nodelay(true)?;
        let (send, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .context("HTTP handshake with the gateway")?;
        Ok((
            Self {
                send,
                host: hyper::header::HeaderValue::from_str(host)?,
                auth: hyper::header::HeaderValue::from_str(&format!("Bearer {key}"))?,
            },
            connection,
        ))
    }

    /// POSTs `body` as JSON to `path`; the status and the whole answer.
    async fn post(&mut self, path: &str, body: &[u8]) -> anyhow::Result<(u16, hyper::body::Bytes)> {
        use http_body_util::BodyExt;
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, self.host.clone())
            .header(hyper::header::AUTHORIZATION, self.auth.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(http_body_util::Full::new(
                hyper::body::Bytes::copy_from_slice(body),
            ))?;
        self.send
            .ready()
            .await
            .context("the gateway closed the connection")?;
        let response = self
            .send
            .send_request(request)
            .await
            .context("sending to the gateway")?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .context("reading the gateway's answer")?
            .to_bytes();
        Ok((status, bytes))
    }
}

/// The parts of `POST /v1/messages`'s answer the generator reads.
#[derive(serde::Deserialize)]
struct Single<'a> {
    #[serde(borrow)]
    id: &'a str,
}

/// The parts of `POST /v1/messages/batch`'s answer the generator reads.
#[derive(serde::Deserialize)]
struct Batch<'a> {
    #[serde(borrow)]
    accepted: Vec<Single<'a>>,
    rejected: Vec<serde::de::IgnoredAny>,
}

/// p50/p90/p99 of accept -> submitted and accept -> delivered over an evenly spread sample.
async fn sample_latencies(
    engine: &tuma_engine::Engine,
    ids: &[MessageId],
    sample: usize,
) -> anyhow::Result<Value> {
    if ids.is_empty() || sample == 0 {
        return Ok(Value::Null);
    }
    let account = tuma_store::AccountId(1);
    let step = (ids.len() / sample).max(1);
    let (mut to_submit, mut to_deliver) = (Vec::new(), Vec::new());
    for id in ids.iter().step_by(step) {
        let Some(m) = engine.message(account, *id).await? else {
            continue;
        };
        let at = |s: MessageStatus| m.events.iter().find(|e| e.status == s).map(|e| e.at_ms);
        if let Some(t) = at(MessageStatus::Submitted) {
            to_submit.push(t.saturating_sub(m.created_at_ms));
        }
        if let Some(t) = at(MessageStatus::Delivered) {
            to_deliver.push(t.saturating_sub(m.created_at_ms));
        }
    }
    Ok(json!({
        "sample": ids.len().div_ceil(step),
        "accept_to_submitted": percentiles(&mut to_submit),
        "accept_to_delivered": percentiles(&mut to_deliver),
    }))
}

/// [`percentiles`] of microsecond values, in milliseconds with two decimals.
fn percentiles_ms(micros: &mut [u64]) -> Value {
    let mut p = percentiles(micros);
    if let Some(o) = p.as_object_mut() {
        for value in o.values_mut() {
            if let Some(us) = value.as_u64() {
                *value = json!((us as f64 / 10.0).round() / 100.0);
            }
        }
    }
    p
}

fn percentiles(values: &mut [u64]) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    values.sort_unstable();
    let p = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    json!({ "p50": p(0.5), "p90": p(0.9), "p99": p(0.99), "max": p(1.0) })
}

#[cfg(test)]
mod tests {
    use super::{percentiles, percentiles_ms};

    #[test]
    fn percentiles_pick_ranks() {
        let mut v: Vec<u64> = (1..=100).rev().collect();
        let p = percentiles(&mut v);
        assert_eq!(p["p50"], 51);
        assert_eq!(p["p99"], 99);
        assert_eq!(p["max"], 100);
        assert!(percentiles(&mut []).is_null());
        let ms = percentiles_ms(&mut [1_234, 20_000, 999]);
        assert_eq!(ms["p50"], 1.23);
        assert_eq!(ms["max"], 20.0);
    }
}
