//! `tuma bench campaign`: a campaign of N recipients (1,000,000 by default) through real
//! processes, as an operator would run one.
//!
//! 1. Writes a CSV (`phone,name,balance`, unique Kenyan numbers, some Unicode and some empty
//!    names) into a temporary directory.
//! 2. Starts the simulator (`tuma smsc`, every `2547...` number delivered at once) and the
//!    gateway (`tuma serve`, durable SQLite in the temporary directory, that simulator as its
//!    connector) as child processes of this one.
//! 3. Uploads the campaign as `multipart/form-data` (the CSV streamed from the file), with
//!    `track_links: true` and a personalized template with a link.
//! 4. Measures: the import (upload start to the 201 answer) and rows/s; the time to the last
//!    delivered status (the gateway's `/metrics` counters, polled every 100 ms) and
//!    delivered/s; each process's peak RSS (`VmHWM` of `/proc/<pid>/status`) and CPU time;
//!    then the report (`GET /v1/campaigns/{id}`) and the recipients.csv download.
//!
//! The last line is `RESULT {json}`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::client::ApiTarget;

/// The template of the benchmark's campaign.
pub const TEMPLATE: &str = "Hi {{ name | default(\"there\") }}, your balance is {{ balance }}. \
                            Offer: https://shop.example/offer";

/// Settings of one run (the flags of `tuma bench campaign`).
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Recipients in the generated CSV.
    #[arg(long, default_value_t = 1_000_000)]
    pub recipients: usize,
    /// SMPP sessions from the gateway to the simulator.
    #[arg(long, default_value_t = 4)]
    pub binds: usize,
    /// deliver_sm (receipts) the simulator keeps in flight per session (`tuma smsc
    /// --window`); the gateway answers each after its commit, so binds x this bounds the
    /// receipts per commit round trip. Same default as `tuma bench gateway --sim-window`.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65535))]
    pub sim_window: u32,
    /// submit_sm in flight per session.
    #[arg(long, default_value_t = 256)]
    pub window: usize,
    /// The gateway's `campaigns.page` (default: the gateway's).
    #[arg(long)]
    pub page: Option<usize>,
    /// The gateway's `campaigns.max_queued` (default: the gateway's).
    #[arg(long)]
    pub max_queued: Option<usize>,
    /// The gateway's `campaigns.max_unfinished` (default: the gateway's).
    #[arg(long)]
    pub max_unfinished: Option<usize>,
    /// Parent of the temporary directory (CSV, gateway data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Send without tracked links (the link stays as written), to see what tracking costs.
    #[arg(long)]
    pub no_links: bool,
    /// Give up waiting for the last delivered status after this many seconds.
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
}

/// A child process killed (SIGKILL) and reaped when dropped, whatever happens.
struct ChildProc {
    name: &'static str,
    child: Child,
}

impl ChildProc {
    fn spawn(name: &'static str, cmd: &mut Command) -> anyhow::Result<Self> {
        let child = cmd
            .spawn()
            .with_context(|| format!("starting the {name} ({cmd:?})"))?;
        Ok(Self { name, child })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the process has exited already.
    fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the {} exited early: {status}", self.name);
        }
        Ok(())
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmHWM` (peak resident set) and `VmRSS` of a process, in KiB.
fn memory_kib(pid: u32) -> (Option<u64>, Option<u64>) {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (None, None);
    };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Names of the generated contacts: mostly ASCII, two that force UCS-2, one empty (the
/// template's default applies).
const NAMES: [&str; 16] = [
    "Amina", "Brian", "Wanjiru", "Otieno", "Zoé", "Kamau", "Achieng", "Mwangi", "", "Njeri",
    "Kiprop", "李", "Faith", "Mutua", "Halima", "Daniel",
];

/// The `i`-th generated number: `+2547DNNNNNNN`, D = 1..9, unique for i < 90,000,000.
pub fn phone(i: usize) -> String {
    format!("+2547{}{:07}", 1 + i % 9, i / 9)
}

/// Writes the benchmark's CSV; returns its size in bytes.
pub fn write_csv(path: &Path, recipients: usize) -> anyhow::Result<u64> {
    if recipients >= 90_000_000 {
        bail!("--recipients: at most 89,999,999 unique numbers are generated");
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    w.write_all(b"phone,name,balance\n")?;
    for i in 0..recipients {
        let name = NAMES[i % NAMES.len()];
        let balance = (i * 7919) % 100_000;
        writeln!(w, "{},{name},{balance}.{:02}", phone(i), i % 100)?;
    }
    w.flush()?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    Ok(file.metadata()?.len())
}

/// Sums every sample of a Prometheus counter family (`tuma_messages_delivered_total{...}`).
fn metric_sum(text: &str, family: &str) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            let base = name.split('{').next()?;
            (base == family).then(|| value.parse::<f64>().ok())?
        })
        .map(|v| v as u64)
        .sum()
}

/// Runs the benchmark and returns the report (last line `RESULT {json}`).
pub async fn run(options: Options) -> anyhow::Result<String> {
    if options.recipients == 0 || options.binds == 0 || options.window == 0 {
        bail!("--recipients, --binds and --window must be at least 1");
    }
    let exe = std::env::current_exe().context("finding the tuma binary")?;
    let temp = tempfile::Builder::new()
        .prefix("tuma-bench-campaign-")
        .tempdir_in(options.data_dir.clone().unwrap_or_else(std::env::temp_dir))
        .context("creating the benchmark's directory")?;
    let dir = temp.path();

    let csv = dir.join("contacts.csv");
    let generated = Instant::now();
    let csv_bytes = write_csv(&csv, options.recipients)?;
    eprintln!(
        "wrote {} recipients ({:.1} MiB) in {:.1} s",
        options.recipients,
        csv_bytes as f64 / 1048576.0,
        generated.elapsed().as_secs_f64()
    );

    // The simulator: every 2547... number delivered at once, one message per handset kept.
    let sim_config = dir.join("sim.toml");
    std::fs::write(
        &sim_config,
        "inbox_limit = 1\n[[test_ranges]]\nprefix = \"2547\"\nbehaviour = \"deliver_instantly\"\n",
    )?;
    let (smpp_port, sim_http_port, http_port) = (free_port()?, free_port()?, free_port()?);
    let mut sim = ChildProc::spawn(
        "simulator",
        Command::new(&exe)
            .args([
                "smsc",
                "--listen",
                &format!("127.0.0.1:{smpp_port}"),
                "--http",
                &format!("127.0.0.1:{sim_http_port}"),
                "--window",
                &options.sim_window.to_string(),
                "--config",
            ])
            .arg(&sim_config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    )?;

    let mut gateway_config = format!(
        "[server]\nhttp = \"127.0.0.1:{http_port}\"\ndata_dir = {data:?}\n\
         [engine]\nmax_queued = 2000000\n\
         [[operators]]\nname = \"Safaricom\"\nprefixes = [\"+25470\", \"+25471\", \"+25472\", \"+25474\", \"+25479\"]\n\
         [[operators]]\nname = \"Airtel\"\nprefixes = [\"+25473\", \"+25478\"]\n\
         [[operators]]\nname = \"Telkom\"\nprefixes = [\"+25477\"]\n\
         [[connectors]]\nname = \"sim\"\nhost = \"127.0.0.1\"\nport = {smpp_port}\n\
         system_id = \"tuma\"\npassword = \"tuma\"\nbinds = {binds}\nwindow = {window}\n",
        data = dir.join("data").to_string_lossy(),
        binds = options.binds,
        window = options.window,
    );
    if options.page.is_some() || options.max_queued.is_some() || options.max_unfinished.is_some() {
        gateway_config.push_str("[campaigns]\n");
        if let Some(p) = options.page {
            gateway_config.push_str(&format!("page = {p}\n"));
        }
        if let Some(m) = options.max_queued {
            gateway_config.push_str(&format!("max_queued = {m}\n"));
        }
        if let Some(m) = options.max_unfinished {
            gateway_config.push_str(&format!("max_unfinished = {m}\n"));
        }
    }
    let config_path = dir.join("tuma.toml");
    std::fs::write(&config_path, &gateway_config)?;
    let key = format!("tuma_bench{}", hex::encode(rand::random::<[u8; 16]>()));
    let mut gateway = ChildProc::spawn(
        "gateway",
        Command::new(&exe)
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .env("TUMA_API_KEY", &key)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    )?;

    let url = format!("http://127.0.0.1:{http_port}");
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()?;
    wait_bound(&http, &url, &mut gateway, &mut sim).await?;
    let target = ApiTarget {
        url: url.clone(),
        key: key.clone(),
    };

    // The campaign.
    let body = json!({
        "name": format!("bench {} recipients", options.recipients),
        "from": "ACME",
        "template": TEMPLATE,
        "track_links": !options.no_links,
    });
    let (gw_cpu0, sim_cpu0) = (cpu_seconds_of(gateway.pid()), cpu_seconds_of(sim.pid()));
    let started = Instant::now();
    let created = crate::campaign_cli::upload(&target, &http, &body, &csv, false)
        .await
        .context("creating the campaign")?;
    let import_time = started.elapsed();
    let id = created["id"].clone();
    let id_text = match &id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let import = &created["import"];
    let rows = import["rows"].as_u64().unwrap_or(0);
    let accepted_rows = import["accepted"].as_u64().unwrap_or(0);
    eprintln!(
        "campaign {id_text}: {rows} rows imported in {:.2} s ({:.0} rows/s), {accepted_rows} recipients",
        import_time.as_secs_f64(),
        rows as f64 / import_time.as_secs_f64().max(1e-9)
    );

    // Until every recipient's message is final, from the gateway's counters.
    let metrics_url = format!("{url}/metrics");
    let deadline = Instant::now() + Duration::from_secs(options.timeout);
    let mut first_delivered: Option<Duration> = None;
    let (mut handed_over_at, mut submitted_at): (Option<Duration>, Option<Duration>) = (None, None);
    let mut last_change = (0u64, started.elapsed());
    let mut last_print = Instant::now();
    // (seconds since the upload started, messages accepted, submitted, final, gateway RSS).
    let mut timeline: Vec<Value> = Vec::new();
    let (delivered, finished) = loop {
        let text = http
            .get(&metrics_url)
            .send()
            .await
            .context("reading the gateway's /metrics")?
            .text()
            .await?;
        let delivered = metric_sum(&text, "tuma_messages_delivered_total");
        let finished = delivered
            + metric_sum(&text, "tuma_messages_failed_total")
            + metric_sum(&text, "tuma_messages_expired_total");
        let accepted = metric_sum(&text, "tuma_messages_accepted_total");
        let submitted = metric_sum(&text, "tuma_messages_submitted_total");
        let now = started.elapsed();
        if delivered > 0 && first_delivered.is_none() {
            first_delivered = Some(now);
        }
        if handed_over_at.is_none() && accepted >= accepted_rows {
            handed_over_at = Some(now);
        }
        if submitted_at.is_none() && submitted >= accepted_rows {
            submitted_at = Some(now);
        }
        if finished != last_change.0 {
            last_change = (finished, now);
        }
        if finished >= accepted_rows {
            break (delivered, finished);
        }
        if Instant::now() > deadline {
            eprintln!("WARNING: only {finished} of {accepted_rows} messages final in time");
            break (delivered, finished);
        }
        if last_print.elapsed() >= Duration::from_secs(5) {
            let rss = memory_kib(gateway.pid()).1.map(|k| k / 1024);
            eprintln!(
                "{:>6.1} s: accepted {accepted}, submitted {submitted}, final {finished} of \
                 {accepted_rows} ({delivered} delivered); gateway RSS {} MiB",
                now.as_secs_f64(),
                rss.map_or("?".to_owned(), |r| r.to_string())
            );
            timeline.push(json!([
                (now.as_secs_f64() * 10.0).round() / 10.0,
                accepted,
                submitted,
                finished,
                rss
            ]));
            last_print = Instant::now();
        }
        gateway.check_running()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let done_at = last_change.1;
    let (gw_hwm, gw_rss) = memory_kib(gateway.pid());
    let (sim_hwm, _) = memory_kib(sim.pid());
    let gw_cpu = gw_cpu0
        .zip(cpu_seconds_of(gateway.pid()))
        .map(|(a, b)| b - a);
    let sim_cpu = sim_cpu0.zip(cpu_seconds_of(sim.pid())).map(|(a, b)| b - a);

    // The report and the per-recipient CSV, timed (after the memory figures above).
    let report_started = Instant::now();
    let report = target
        .get(&http, &format!("/v1/campaigns/{id_text}"))
        .await
        .context("reading the campaign's report")?;
    let report_time = report_started.elapsed();
    let download_started = Instant::now();
    let mut lines = LineCounter::default();
    let csv_out = target
        .download(
            &http,
            &format!("/v1/campaigns/{id_text}/recipients.csv"),
            &mut lines,
        )
        .await
        .context("downloading recipients.csv")?;
    let download_time = download_started.elapsed();
    let (gw_hwm_after, _) = memory_kib(gateway.pid());
    drop(gateway);
    drop(sim);

    let secs = |d: Duration| d.as_secs_f64().max(1e-9);
    let sending = done_at.saturating_sub(import_time);
    let result = json!({
        "recipients": options.recipients,
        "csv_bytes": csv_bytes,
        "binds": options.binds,
        "window": options.window,
        "sim_window": options.sim_window,
        "campaign": id,
        "rows": rows,
        "accepted_rows": accepted_rows,
        "rejected_rows": import["rejected_count"],
        "duplicates": import["duplicates"],
        "total_segments": created["estimate"]["total_segments"],
        "ucs2_messages": created["estimate"]["ucs2_messages"],
        "import_seconds": import_time.as_secs_f64(),
        "import_rows_per_s": rows as f64 / secs(import_time),
        "first_delivered_seconds": first_delivered.map(|d| d.as_secs_f64()),
        "all_accepted_seconds": handed_over_at.map(|d| d.as_secs_f64()),
        "all_submitted_seconds": submitted_at.map(|d| d.as_secs_f64()),
        "last_final_seconds": done_at.as_secs_f64(),
        "sending_seconds": sending.as_secs_f64(),
        "delivered": delivered,
        "final": finished,
        "delivered_per_s": delivered as f64 / secs(sending),
        "delivered_per_s_from_upload": delivered as f64 / secs(done_at),
        "gateway_peak_rss_mib": gw_hwm.map(|k| k as f64 / 1024.0),
        "gateway_rss_at_end_mib": gw_rss.map(|k| k as f64 / 1024.0),
        "gateway_peak_rss_after_report_mib": gw_hwm_after.map(|k| k as f64 / 1024.0),
        "simulator_peak_rss_mib": sim_hwm.map(|k| k as f64 / 1024.0),
        "gateway_cpu_seconds": gw_cpu,
        "simulator_cpu_seconds": sim_cpu,
        "report_seconds": report_time.as_secs_f64(),
        "report_counts": report["counts"],
        "report_latency_ms": report["latency"],
        "recipients_csv_seconds": download_time.as_secs_f64(),
        "recipients_csv_bytes": csv_out,
        "recipients_csv_lines": lines.lines,
        "timeline": timeline,
    });

    let mut out = String::new();
    use std::fmt::Write;
    let mib =
        |k: Option<u64>| k.map_or("?".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    let _ = writeln!(
        out,
        "recipients: {}  CSV: {:.1} MiB  binds: {}  window: {}  simulator window: {}",
        options.recipients,
        csv_bytes as f64 / 1048576.0,
        options.binds,
        options.window,
        options.sim_window
    );
    let _ = writeln!(
        out,
        "import:     {:>10.0} rows/s  ({rows} rows in {:.2} s, upload start to 201)",
        rows as f64 / secs(import_time),
        import_time.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "delivered:  {:>10.0}/s  ({delivered} delivered, {finished} final; last {:.2} s after the 201, {:.2} s after the upload started)",
        delivered as f64 / secs(sending),
        sending.as_secs_f64(),
        done_at.as_secs_f64()
    );
    let at =
        |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()));
    let _ = writeln!(
        out,
        "handed over: every message accepted (stored) at {}, submitted at {}, final at {:.2} s (from the upload start)",
        at(handed_over_at),
        at(submitted_at),
        done_at.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "peak RSS:   gateway {} (at the end {}; {} after report and download), simulator {}",
        mib(gw_hwm),
        mib(gw_rss),
        mib(gw_hwm_after),
        mib(sim_hwm)
    );
    if let (Some(g), Some(s)) = (gw_cpu, sim_cpu) {
        let _ = writeln!(
            out,
            "CPU:        gateway {g:.1} s ({:.1} µs per recipient), simulator {s:.1} s",
            g * 1e6 / options.recipients as f64
        );
    }
    let _ = writeln!(
        out,
        "report:     {:.2} s; recipients.csv {} lines in {:.2} s; latency {}",
        report_time.as_secs_f64(),
        lines.lines,
        download_time.as_secs_f64(),
        report["latency"]
    );
    if finished < accepted_rows {
        let _ = writeln!(out, "WARNING: not every message was final in time");
    }
    let _ = writeln!(out, "RESULT {result}");
    drop(temp);
    Ok(out)
}

/// Waits until the gateway answers `/healthz` with a bound connector.
async fn wait_bound(
    http: &reqwest::Client,
    url: &str,
    gateway: &mut ChildProc,
    sim: &mut ChildProc,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        gateway.check_running()?;
        sim.check_running()?;
        if let Ok(r) = http.get(format!("{url}/healthz")).send().await {
            if r.status().is_success() {
                let v: Value = r.json().await.unwrap_or(Value::Null);
                let bound: u64 = v["connectors"].as_array().map_or(0, |c| {
                    c.iter().map(|c| c["bound"].as_u64().unwrap_or(0)).sum()
                });
                if bound > 0 {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            bail!("the gateway was not up and bound to the simulator within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Counts the lines of a download without keeping it.
#[derive(Debug, Default)]
struct LineCounter {
    lines: u64,
}

impl std::io::Write for LineCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_numbers_are_unique_valid_and_kenyan() {
        let mut seen = std::collections::HashSet::new();
        for i in (0..2_000_000).step_by(7).chain([89_999_999]) {
            let p = phone(i);
            assert_eq!(p.len(), 13, "{p}");
            assert!(p.starts_with("+2547"), "{p}");
            assert!(seen.insert(p));
        }
        assert_eq!(phone(0), "+254710000000");
        assert_eq!(phone(9), "+254710000001");
        assert_eq!(phone(8), "+254790000000");
    }

    #[test]
    fn csv_has_a_header_unicode_and_empty_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        let bytes = write_csv(&path, 40).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(bytes as usize, text.len());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 41);
        assert_eq!(lines[0], "phone,name,balance");
        assert_eq!(lines[1], "+254710000000,Amina,0.00");
        assert!(text.contains(",Zoé,") && text.contains(",李,"));
        assert!(lines.iter().any(|l| l.contains(",,")), "an empty name");
        assert!(lines.iter().skip(1).all(|l| l.split(',').count() == 3));
    }

    #[test]
    fn metric_sums_add_every_label_set() {
        let text = "# HELP tuma_messages_delivered Messages delivered\n\
                    # TYPE tuma_messages_delivered counter\n\
                    tuma_messages_delivered_total{connector=\"a\"} 10\n\
                    tuma_messages_delivered_total{connector=\"b\"} 5\n\
                    tuma_messages_delivered_totally 99\n\
                    tuma_messages_failed_total{connector=\"a\"} 2\n";
        assert_eq!(metric_sum(text, "tuma_messages_delivered_total"), 15);
        assert_eq!(metric_sum(text, "tuma_messages_failed_total"), 2);
        assert_eq!(metric_sum(text, "tuma_messages_expired_total"), 0);
    }
}
