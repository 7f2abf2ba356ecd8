//! `tuma campaign ...`: campaigns through the gateway's HTTP API (docs/api.md), like
//! `tuma send`: `--url` / `TUMA_URL`, `--api-key` / `TUMA_API_KEY` / `./tuma-data/admin-key`.
//!
//! - `create` uploads the contacts CSV as `multipart/form-data`, streamed from the file (a
//!   progress bar of the bytes sent on a terminal, plain lines otherwise), prints the import
//!   report and the preview, and with `--wait` follows the campaign until every message is
//!   final, ending with the campaign's JSON on stdout;
//! - `status` (JSON), `pause`, `resume`, `cancel`, `report` (readable, `--json` raw), `list`,
//!   `recipients` (recipients.csv, streamed to a file or stdout).
//!
//! API errors are printed with their status, code, field and message; the exit status is 1.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::client::{self, ApiTarget};

/// `tuma campaign`: the subcommand and where the gateway is.
#[derive(Debug, clap::Args)]
pub struct CampaignArgs {
    #[command(subcommand)]
    pub command: CampaignCommand,
    /// Gateway URL (default TUMA_URL or http://127.0.0.1:8080).
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// API key (default TUMA_API_KEY, or ./tuma-data/admin-key).
    #[arg(long, global = true)]
    pub api_key: Option<String>,
}

/// The campaign operations.
#[derive(Debug, clap::Subcommand)]
pub enum CampaignCommand {
    /// Create a campaign from a CSV file (uploaded streamed) or an imported list, and print
    /// the import report and a preview. With --wait, follow it until every message is final
    /// and print the campaign's JSON summary on stdout (the rest goes to stderr then).
    Create(CreateArgs),
    /// Print a campaign with its counts (JSON).
    Status {
        /// The campaign id.
        id: String,
    },
    /// Pause a scheduled or running campaign (it resumes where it stopped).
    Pause {
        /// The campaign id.
        id: String,
    },
    /// Resume a paused campaign.
    Resume {
        /// The campaign id.
        id: String,
    },
    /// Cancel a campaign: recipients not handed over yet are never sent.
    Cancel {
        /// The campaign id.
        id: String,
    },
    /// The campaign's report: funnel, operators, latency, errors.
    Report {
        /// The campaign id.
        id: String,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// The account's campaigns, newest first.
    List {
        /// Only campaigns with a smaller id (paging).
        #[arg(long)]
        before: Option<u64>,
        /// How many (at most 500).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download the per-recipient report (recipients.csv), streamed.
    Recipients {
        /// The campaign id.
        id: String,
        /// Write to this file instead of standard output.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
}

/// The flags of `tuma campaign create`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("contacts").required(true).args(["csv", "list"])))]
pub struct CreateArgs {
    /// Campaign name.
    #[arg(long)]
    pub name: String,
    /// Sender id (the gateway's default when absent).
    #[arg(long)]
    pub from: Option<String>,
    /// Message template, e.g. 'Hi {{ name | default("there") }}'; CSV columns are variables.
    #[arg(long)]
    pub template: String,
    /// Contacts CSV (a `phone` column, any others become variables).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// An imported list instead of a CSV.
    #[arg(long, value_name = "ID")]
    pub list: Option<u64>,
    /// Replace every URL by a short link unique to the recipient, and count clicks.
    #[arg(long)]
    pub track_links: bool,
    /// Start later (RFC 3339, e.g. 2026-11-26T15:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub send_at: Option<String>,
    /// Send only in this window of the recipient's local time.
    #[arg(long, value_name = "HH:MM-HH:MM")]
    pub window: Option<String>,
    /// One UTC offset for the window instead of each number's country's (+03:00, UTC).
    #[arg(long, requires = "window")]
    pub timezone: Option<String>,
    /// Most messages per second.
    #[arg(long)]
    pub rate: Option<u32>,
    /// Follow the campaign until every message is final; print its JSON summary at the end.
    #[arg(long)]
    pub wait: bool,
    /// Print the creation answer as JSON instead of the readable summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs one `tuma campaign` command.
pub async fn run(args: CampaignArgs) -> anyhow::Result<()> {
    let target = ApiTarget::resolve(args.url, args.api_key)?;
    let http = client::http_client()?;
    match args.command {
        CampaignCommand::Create(create) => run_create(&target, &http, create).await,
        CampaignCommand::Status { id } => {
            let v = target.get(&http, &campaign_path(&id)?).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
        CampaignCommand::Pause { id } => change(&target, &http, &id, "pause").await,
        CampaignCommand::Resume { id } => change(&target, &http, &id, "resume").await,
        CampaignCommand::Cancel { id } => change(&target, &http, &id, "cancel").await,
        CampaignCommand::Report { id, json } => {
            let v = target.get(&http, &campaign_path(&id)?).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", render_report(&v));
            }
            Ok(())
        }
        CampaignCommand::List {
            before,
            limit,
            json,
        } => {
            let mut path = format!("/v1/campaigns?limit={limit}");
            if let Some(b) = before {
                let _ = write!(path, "&before={b}");
            }
            let v = target.get(&http, &path).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", render_list(&v));
            }
            Ok(())
        }
        CampaignCommand::Recipients { id, output } => {
            let path = format!("{}/recipients.csv", campaign_path(&id)?);
            match output {
                Some(file) => {
                    // Written next to the target and renamed, so a failed download never
                    // leaves a truncated file under the name asked for.
                    let dir = file
                        .parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or(Path::new("."));
                    let mut tmp = tempfile::NamedTempFile::new_in(dir)
                        .with_context(|| format!("creating a file in {}", dir.display()))?;
                    let bytes = {
                        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
                        target.download(&http, &path, &mut w).await?
                    };
                    tmp.persist(&file)
                        .with_context(|| format!("writing {}", file.display()))?;
                    eprintln!("wrote {} ({})", file.display(), human_bytes(bytes));
                }
                None => {
                    let mut out = std::io::BufWriter::new(std::io::stdout());
                    target.download(&http, &path, &mut out).await?;
                }
            }
            Ok(())
        }
    }
}

/// `/v1/campaigns/{id}`, refusing ids that would change the path.
fn campaign_path(id: &str) -> anyhow::Result<String> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bail!("campaign id {id:?}: expected the number printed by `tuma campaign create`");
    }
    Ok(format!("/v1/campaigns/{id}"))
}

/// `pause`, `resume`, `cancel`.
async fn change(
    target: &ApiTarget,
    http: &reqwest::Client,
    id: &str,
    action: &str,
) -> anyhow::Result<()> {
    let v = target
        .post(http, &format!("{}/{action}", campaign_path(id)?), None)
        .await?;
    println!(
        "campaign {}: {}",
        id_of(&v).unwrap_or_else(|| id.to_owned()),
        v["status"].as_str().unwrap_or("?")
    );
    Ok(())
}

/// The campaign's id as text, whether the API gives a number or a string.
fn id_of(v: &Value) -> Option<String> {
    match &v["id"] {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The JSON part of the request (without the contacts).
fn campaign_body(args: &CreateArgs) -> anyhow::Result<Value> {
    let mut body = json!({
        "name": args.name,
        "template": args.template,
        "track_links": args.track_links,
    });
    if let Some(from) = &args.from {
        body["from"] = json!(from);
    }
    if let Some(list) = args.list {
        body["list_id"] = json!(list);
    }
    if let Some(at) = &args.send_at {
        body["send_at"] = json!(at);
    }
    if let Some(window) = &args.window {
        body["window"] = parse_window(window, args.timezone.as_deref())?;
    }
    if let Some(rate) = args.rate {
        if rate == 0 {
            bail!("--rate must be at least 1 message per second");
        }
        body["rate"] = json!(rate);
    }
    Ok(body)
}

/// `08:00-20:00` (and an optional time zone) as the API's `window` object. The gateway
/// checks the times; this only splits them.
fn parse_window(window: &str, timezone: Option<&str>) -> anyhow::Result<Value> {
    let Some((start, end)) = window.split_once('-') else {
        bail!("--window {window:?}: expected START-END in local time, e.g. 08:00-20:00");
    };
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() || end.is_empty() || end.contains('-') {
        bail!("--window {window:?}: expected START-END in local time, e.g. 08:00-20:00");
    }
    let mut v = json!({ "start": start, "end": end });
    if let Some(tz) = timezone {
        v["timezone"] = json!(tz);
    }
    Ok(v)
}

async fn run_create(
    target: &ApiTarget,
    http: &reqwest::Client,
    args: CreateArgs,
) -> anyhow::Result<()> {
    let body = campaign_body(&args)?;
    let created = match &args.csv {
        Some(csv) => upload(target, http, &body, csv, true).await?,
        None => target.post(http, "/v1/campaigns", Some(&body)).await?,
    };
    let id = id_of(&created).context("the gateway's answer has no campaign id")?;
    if args.json && !args.wait {
        println!("{}", serde_json::to_string_pretty(&created)?);
        return Ok(());
    }
    let readable = render_created(&created);
    if !args.wait {
        print!("{readable}");
        return Ok(());
    }
    // stdout carries only the final JSON with --wait.
    eprint!("{readable}");
    let summary = wait_until_final(target, http, &id).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// `POST /v1/campaigns` as multipart: the `campaign` JSON part, then the `contacts` file
/// part streamed from disk, with (when `show_progress`) a progress display on stderr of the
/// bytes handed to the connection. Returns the 201 answer.
pub(crate) async fn upload(
    target: &ApiTarget,
    http: &reqwest::Client,
    body: &Value,
    csv: &Path,
    show_progress: bool,
) -> anyhow::Result<Value> {
    use tokio::io::AsyncReadExt;

    let file = tokio::fs::File::open(csv)
        .await
        .with_context(|| format!("opening {}", csv.display()))?;
    let len = file
        .metadata()
        .await
        .with_context(|| format!("reading the size of {}", csv.display()))?
        .len();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let chunks = futures_util::stream::unfold(Some(file), move |state| {
        let counter = counter.clone();
        async move {
            let mut file = state?;
            let mut buf = vec![0u8; 64 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                    Some((Ok(buf), Some(file)))
                }
                // The error ends the stream (and the request).
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    let file_name = csv.file_name().map_or_else(
        || "contacts.csv".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let form = reqwest::multipart::Form::new()
        .part(
            "campaign",
            reqwest::multipart::Part::text(body.to_string()).mime_str("application/json")?,
        )
        .part(
            "contacts",
            reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(chunks), len)
                .file_name(file_name.clone())
                .mime_str("text/csv")?,
        );

    let progress = show_progress.then(|| UploadProgress::start(file_name, len, sent));
    let started = Instant::now();
    let result = http
        .post(target.endpoint("/v1/campaigns"))
        .bearer_auth(&target.key)
        .multipart(form)
        .send()
        .await
        .with_context(|| format!("uploading {} to {}", csv.display(), target.url));
    let outcome = match result {
        Ok(response) => client::read(response).await,
        Err(e) => Err(e),
    };
    if let Some(progress) = progress {
        progress.finish(started.elapsed(), outcome.is_ok()).await;
    }
    outcome
}

/// The upload's progress: an indicatif bar on a terminal, a line every few seconds
/// otherwise (logs, CI).
struct UploadProgress {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    bar: Option<indicatif::ProgressBar>,
    name: String,
    len: u64,
}

impl UploadProgress {
    fn start(name: String, len: u64, sent: Arc<AtomicU64>) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(len);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(format!("uploading {name}"));
            bar
        });
        let task_bar = bar.clone();
        let task_name = name.clone();
        let task = tokio::spawn(async move {
            let period = if task_bar.is_some() {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(3)
            };
            let mut waiting_said = false;
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(period) => {}
                }
                let n = sent.load(Ordering::Relaxed);
                match &task_bar {
                    Some(bar) => {
                        bar.set_position(n);
                        if n >= len && !waiting_said {
                            bar.set_message("sent; the gateway is finishing the import");
                            waiting_said = true;
                        }
                    }
                    None => {
                        if n >= len {
                            if !waiting_said {
                                eprintln!(
                                    "uploaded {task_name}: {}; the gateway is finishing the \
                                     import",
                                    human_bytes(len)
                                );
                                waiting_said = true;
                            }
                        } else {
                            eprintln!(
                                "uploading {task_name}: {} of {} ({:.0}%)",
                                human_bytes(n),
                                human_bytes(len),
                                percent(n, len).unwrap_or(0.0)
                            );
                        }
                    }
                }
            }
        });
        Self {
            stop,
            task,
            bar,
            name,
            len,
        }
    }

    async fn finish(self, elapsed: Duration, ok: bool) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        if let Some(bar) = &self.bar {
            if ok {
                bar.set_position(self.len);
            }
            bar.finish_and_clear();
        }
        if ok {
            eprintln!(
                "uploaded and imported {} ({}) in {:.1} s",
                self.name,
                human_bytes(self.len),
                elapsed.as_secs_f64()
            );
        }
    }
}

/// Polls `GET /v1/campaigns/{id}` every second until the campaign is completed or cancelled
/// and no message is on its way (accepted = delivered + failed + expired + rejected;
/// suppressed recipients are never accepted). Returns the last answer.
async fn wait_until_final(
    target: &ApiTarget,
    http: &reqwest::Client,
    id: &str,
) -> anyhow::Result<Value> {
    let path = campaign_path(id)?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("[{bar:30}] {pos}/{len} final  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    });
    let mut last_line: Option<Instant> = None;
    let mut unreachable_since: Option<Instant> = None;
    loop {
        let v = match target.get(http, &path).await {
            Ok(v) => {
                unreachable_since = None;
                v
            }
            // The gateway restarting (or briefly overloaded) is waited for, not fatal.
            Err(e) if is_transport_error(&e) => {
                let since = *unreachable_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_secs(120) {
                    return Err(e.context("the gateway has been unreachable for 2 minutes"));
                }
                eprintln!("gateway unreachable ({e:#}); retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let progress = WaitProgress::of(&v);
        match &bar {
            Some(bar) => {
                bar.set_length(progress.recipients);
                bar.set_position(progress.finished() + progress.suppressed);
                bar.set_message(progress.line());
            }
            None => {
                if last_line.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                    eprintln!("{}", progress.line());
                    last_line = Some(Instant::now());
                }
            }
        }
        if progress.is_done() {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            eprintln!("{}", progress.line());
            return Ok(v);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Whether an error is the connection's (refused, reset, timed out), not an API answer.
fn is_transport_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<reqwest::Error>()
            .is_some_and(|r| r.is_connect() || r.is_request() || r.is_timeout() || r.is_body())
    })
}

/// What `--wait` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct WaitProgress {
    status: String,
    recipients: u64,
    pending: u64,
    suppressed: u64,
    accepted: u64,
    delivered: u64,
    failed: u64,
    expired: u64,
    rejected: u64,
}

impl WaitProgress {
    fn of(v: &Value) -> Self {
        let c = &v["counts"];
        let n = |k: &str| c[k].as_u64().unwrap_or(0);
        Self {
            status: v["status"].as_str().unwrap_or("?").to_owned(),
            recipients: n("recipients"),
            pending: n("pending"),
            suppressed: n("suppressed"),
            accepted: n("accepted"),
            delivered: n("delivered"),
            failed: n("failed"),
            expired: n("expired"),
            rejected: n("rejected"),
        }
    }

    /// Messages with a final status.
    fn finished(&self) -> u64 {
        self.delivered + self.failed + self.expired + self.rejected
    }

    /// Completed or cancelled, and no accepted message still on its way.
    fn is_done(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "cancelled")
            && self.finished() >= self.accepted
    }

    fn line(&self) -> String {
        let mut s = format!(
            "{}: handed over {}/{}, delivered {}, failed {}",
            self.status,
            thousands(self.accepted),
            thousands(self.recipients),
            thousands(self.delivered),
            thousands(self.failed + self.rejected),
        );
        if self.expired > 0 {
            let _ = write!(s, ", expired {}", thousands(self.expired));
        }
        if self.suppressed > 0 {
            let _ = write!(s, ", suppressed {}", thousands(self.suppressed));
        }
        let on_the_way = self.accepted.saturating_sub(self.finished());
        let _ = write!(s, ", on the way {}", thousands(on_the_way));
        if self.pending > 0 {
            let _ = write!(s, ", pending {}", thousands(self.pending));
        }
        s
    }
}

/// The creation answer as people read it.
fn render_created(v: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "campaign {} {:?}: {} (list {})",
        id_of(v).unwrap_or_else(|| "?".into()),
        v["name"].as_str().unwrap_or(""),
        v["status"].as_str().unwrap_or("?"),
        v["list_id"]
    );
    let import = &v["import"];
    if import.is_object() {
        let n = |k: &str| thousands(import[k].as_u64().unwrap_or(0));
        let _ = writeln!(
            out,
            "import: {} rows, {} accepted, {} rejected, {} duplicates, {} blank",
            n("rows"),
            n("accepted"),
            n("rejected_count"),
            n("duplicates"),
            n("blank_rows")
        );
        let columns: Vec<&str> = import["columns"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  columns: {}; delimiter {:?}",
            if columns.is_empty() {
                "(none)".to_owned()
            } else {
                columns.join(", ")
            },
            import["delimiter"].as_str().unwrap_or("?")
        );
        let rejected = import["rejected"].as_array().cloned().unwrap_or_default();
        for r in rejected.iter().take(10) {
            let _ = writeln!(
                out,
                "  rejected line {}: {} ({})",
                r["line"],
                r["reason"].as_str().unwrap_or("?"),
                r["code"].as_str().unwrap_or("?")
            );
        }
        let total = import["rejected_count"].as_u64().unwrap_or(0);
        let shown = rejected.len().min(10) as u64;
        if total > shown {
            let _ = writeln!(out, "  ... and {} more", thousands(total - shown));
        }
    }
    let e = &v["estimate"];
    if e.is_object() {
        let n = |k: &str| thousands(e[k].as_u64().unwrap_or(0));
        let _ = writeln!(
            out,
            "estimate: {} recipients, {} segments ({} UCS-2 messages), {} failed to render",
            n("recipients"),
            n("total_segments"),
            n("ucs2_messages"),
            n("failed")
        );
        for f in e["failures"].as_array().into_iter().flatten().take(10) {
            let _ = writeln!(
                out,
                "  line {} ({}): {}",
                f["line"],
                f["to"].as_str().unwrap_or("?"),
                f["error"].as_str().unwrap_or("?")
            );
        }
    }
    if let Some(preview) = v["preview"].as_array().filter(|p| !p.is_empty()) {
        let _ = writeln!(out, "preview:");
        for p in preview {
            let segments = p["segments"].as_u64().unwrap_or(0);
            let _ = writeln!(
                out,
                "  {} (line {}, {}, {} segment{}): {}",
                p["to"].as_str().unwrap_or("?"),
                p["line"],
                p["encoding"].as_str().unwrap_or("?"),
                segments,
                if segments == 1 { "" } else { "s" },
                p["text"].as_str().unwrap_or("")
            );
        }
    }
    out
}

/// `GET /v1/campaigns/{id}` as a report: funnel with percentages, counts, per operator,
/// latency, errors by code.
fn render_report(v: &Value) -> String {
    let mut out = String::new();
    let c = &v["counts"];
    let n = |k: &str| c[k].as_u64().unwrap_or(0);
    let _ = writeln!(
        out,
        "campaign {} {:?}: {}",
        id_of(v).unwrap_or_else(|| "?".into()),
        v["name"].as_str().unwrap_or(""),
        v["status"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        out,
        "created {}, updated {}, from {}, list {}{}",
        v["created_at"].as_str().unwrap_or("-"),
        v["updated_at"].as_str().unwrap_or("-"),
        v["from"].as_str().unwrap_or("-"),
        v["list_id"],
        if v["track_links"].as_bool() == Some(true) {
            ", tracked links"
        } else {
            ""
        }
    );

    // The funnel: the API's, or built from the counts.
    let funnel: Vec<(String, u64)> = match v["funnel"].as_array() {
        Some(stages) if !stages.is_empty() => stages
            .iter()
            .map(|s| {
                (
                    s["stage"].as_str().unwrap_or("?").to_owned(),
                    s["count"].as_u64().unwrap_or(0),
                )
            })
            .collect(),
        _ => ["total", "accepted", "submitted", "delivered"]
            .iter()
            .map(|k| ((*k).to_owned(), n(k)))
            .chain([("clicked".to_owned(), n("unique_clicks"))])
            .collect(),
    };
    let base = funnel.first().map_or(0, |(_, n)| *n);
    let _ = writeln!(out, "\nfunnel (share of {}):", thousands(base));
    for (stage, count) in &funnel {
        let _ = writeln!(
            out,
            "  {stage:<10} {:>12}  {}",
            thousands(*count),
            fmt_percent(percent(*count, base))
        );
    }

    let _ = writeln!(out, "\nrecipients:");
    let _ = writeln!(
        out,
        "  {} rows: {} invalid, {} duplicates, {} recipients ({} pending, {} suppressed)",
        thousands(n("total")),
        thousands(n("invalid")),
        thousands(n("duplicates")),
        thousands(n("recipients")),
        thousands(n("pending")),
        thousands(n("suppressed"))
    );
    let _ = writeln!(
        out,
        "  messages: {} accepted, {} delivered, {} failed, {} expired, {} rejected; {} segments",
        thousands(n("accepted")),
        thousands(n("delivered")),
        thousands(n("failed")),
        thousands(n("expired")),
        thousands(n("rejected")),
        thousands(n("segments"))
    );
    let _ = writeln!(
        out,
        "  clicks: {} ({} unique)",
        thousands(n("clicks")),
        thousands(n("unique_clicks"))
    );
    let rate = |k: &str| fmt_percent(v[k].as_f64().map(|r| r * 100.0));
    let _ = writeln!(
        out,
        "  delivery rate {}, click-through rate {}",
        rate("delivery_rate"),
        rate("click_through_rate")
    );

    let l = &v["latency"];
    let ms = |k: &str| l[k].as_u64().map_or("-".to_owned(), human_ms);
    let _ = writeln!(
        out,
        "\nlatency, accepted to delivered: p50 {}, p90 {}, p99 {}",
        ms("p50"),
        ms("p90"),
        ms("p99")
    );

    if let Some(ops) = v["operators"].as_array().filter(|o| !o.is_empty()) {
        let _ = writeln!(out, "\nper operator:");
        let _ = writeln!(
            out,
            "  {:<16} {:>12} {:>12} {:>8} {:>10} {:>8}",
            "operator", "messages", "delivered", "rate", "failed", "expired"
        );
        for o in ops {
            let m = o["messages"].as_u64().unwrap_or(0);
            let d = o["delivered"].as_u64().unwrap_or(0);
            let _ = writeln!(
                out,
                "  {:<16} {:>12} {:>12} {:>8} {:>10} {:>8}",
                o["operator"].as_str().unwrap_or("?"),
                thousands(m),
                thousands(d),
                fmt_percent(percent(d, m)),
                thousands(o["failed"].as_u64().unwrap_or(0)),
                thousands(o["expired"].as_u64().unwrap_or(0))
            );
        }
    }
    if let Some(errors) = v["errors"].as_array().filter(|e| !e.is_empty()) {
        let _ = writeln!(out, "\nerrors:");
        for e in errors {
            let _ = writeln!(
                out,
                "  {:<24} {:>10}",
                e["code"].as_str().unwrap_or("?"),
                thousands(e["count"].as_u64().unwrap_or(0))
            );
        }
    }
    out
}

/// `GET /v1/campaigns` as a table.
fn render_list(v: &Value) -> String {
    let mut out = String::new();
    let campaigns = v["campaigns"].as_array().cloned().unwrap_or_default();
    if campaigns.is_empty() {
        out.push_str("no campaigns\n");
        return out;
    }
    let _ = writeln!(out, "{:>8}  {:<10} {:<25} name", "id", "status", "created");
    for c in &campaigns {
        let _ = writeln!(
            out,
            "{:>8}  {:<10} {:<25} {}",
            id_of(c).unwrap_or_else(|| "?".into()),
            c["status"].as_str().unwrap_or("?"),
            c["created_at"].as_str().unwrap_or("-"),
            c["name"].as_str().unwrap_or("")
        );
    }
    out
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

fn fmt_percent(p: Option<f64>) -> String {
    p.map_or("-".to_owned(), |p| format!("{p:.1}%"))
}

/// `1234567` -> `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn human_bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if f >= KIB * KIB * KIB {
        format!("{:.2} GiB", f / (KIB * KIB * KIB))
    } else if f >= KIB * KIB {
        format!("{:.1} MiB", f / (KIB * KIB))
    } else if f >= KIB {
        format!("{:.1} KiB", f / KIB)
    } else {
        format!("{n} B")
    }
}

fn human_ms(ms: u64) -> String {
    if ms >= 10_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{ms} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        campaign: CampaignArgs,
    }

    fn parse(args: &[&str]) -> Result<CampaignArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("tuma-campaign").chain(args.iter().copied()))
            .map(|c| c.campaign)
    }

    #[test]
    fn create_needs_exactly_one_source_of_contacts() {
        let base = ["create", "--name", "N", "--template", "Hi"];
        let err = parse(&base).unwrap_err();
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::MissingRequiredArgument,
            "{err}"
        );
        let both = [&base[..], &["--csv", "a.csv", "--list", "3"]].concat();
        let err = parse(&both).unwrap_err();
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::ArgumentConflict,
            "{err}"
        );
        let tz_alone = [&base[..], &["--csv", "a.csv", "--timezone", "+03:00"]].concat();
        assert!(parse(&tz_alone).is_err(), "--timezone without --window");
    }

    #[test]
    fn create_body_carries_every_flag() {
        let args = parse(&[
            "create",
            "--name",
            "Spring",
            "--from",
            "ACME",
            "--template",
            "Hi {{ name }}",
            "--list",
            "7",
            "--track-links",
            "--send-at",
            "2026-11-26T15:00:00Z",
            "--window",
            "08:00-20:00",
            "--timezone",
            "+03:00",
            "--rate",
            "50",
            "--url",
            "http://gw:1",
        ])
        .unwrap();
        assert_eq!(args.url.as_deref(), Some("http://gw:1"), "global flag");
        let CampaignCommand::Create(create) = args.command else {
            panic!("not create");
        };
        let body = campaign_body(&create).unwrap();
        assert_eq!(
            body,
            json!({
                "name": "Spring", "from": "ACME", "template": "Hi {{ name }}", "list_id": 7,
                "track_links": true, "send_at": "2026-11-26T15:00:00Z",
                "window": {"start": "08:00", "end": "20:00", "timezone": "+03:00"},
                "rate": 50
            })
        );
        let args = parse(&["create", "--name", "N", "--template", "T", "--csv", "x.csv"]).unwrap();
        let CampaignCommand::Create(create) = args.command else {
            panic!("not create");
        };
        assert_eq!(
            campaign_body(&create).unwrap(),
            json!({"name": "N", "template": "T", "track_links": false}),
            "no contacts_csv in the JSON part: the CSV goes as a file part"
        );
    }

    #[test]
    fn window_and_rate_errors_name_the_flag() {
        let err = parse_window("0800", None).unwrap_err().to_string();
        assert!(err.contains("--window \"0800\""), "{err}");
        assert!(parse_window("08:00-", None).is_err());
        assert!(parse_window("08:00-20:00-21:00", None).is_err());
        assert_eq!(
            parse_window(" 22:00 - 06:00 ", None).unwrap(),
            json!({"start": "22:00", "end": "06:00"})
        );
        let args = parse(&[
            "create",
            "--name",
            "N",
            "--template",
            "T",
            "--csv",
            "x",
            "--rate",
            "0",
        ])
        .unwrap();
        let CampaignCommand::Create(create) = args.command else {
            panic!("not create");
        };
        let err = campaign_body(&create).unwrap_err().to_string();
        assert!(err.contains("--rate"), "{err}");
    }

    #[test]
    fn ids_cannot_change_the_path() {
        assert_eq!(campaign_path("42").unwrap(), "/v1/campaigns/42");
        assert!(campaign_path("../messages").is_err());
        assert!(campaign_path("1?x=2").is_err());
        assert!(campaign_path("").is_err());
    }

    #[test]
    fn waiting_ends_only_when_final_and_nothing_is_on_its_way() {
        let at = |status: &str, accepted: u64, delivered: u64, rejected: u64| {
            WaitProgress::of(&json!({
                "status": status,
                "counts": {"recipients": 10, "accepted": accepted, "delivered": delivered,
                           "failed": 1, "expired": 1, "rejected": rejected, "suppressed": 2}
            }))
        };
        assert!(!at("running", 8, 6, 0).is_done());
        assert!(!at("completed", 8, 5, 0).is_done(), "one still on its way");
        assert!(at("completed", 8, 6, 0).is_done());
        assert!(at("completed", 8, 5, 1).is_done(), "rejected is final");
        assert!(at("cancelled", 3, 1, 0).is_done());
        assert!(!at("paused", 3, 1, 0).is_done());
        let line = at("completed", 8, 5, 1).line();
        assert!(
            line.contains("handed over 8/10")
                && line.contains("delivered 5")
                && line.contains("suppressed 2")
                && line.contains("on the way 0"),
            "{line}"
        );
    }

    #[test]
    fn report_shows_funnel_percentages_operators_latency_and_errors() {
        let v = json!({
            "id": 12, "name": "Spring", "status": "completed", "list_id": 3, "from": "ACME",
            "track_links": true, "created_at": "2026-11-26T15:00:00Z",
            "counts": {"total": 1000, "invalid": 3, "duplicates": 2, "recipients": 995,
                       "pending": 0, "suppressed": 5, "accepted": 990, "submitted": 990,
                       "delivered": 900, "failed": 80, "expired": 10, "rejected": 0,
                       "segments": 1200, "clicks": 130, "unique_clicks": 99},
            "delivery_rate": 0.9090909, "click_through_rate": 0.11,
            "latency": {"p50": 640, "p90": 2100, "p99": 15000},
            "funnel": [{"stage": "total", "count": 1000}, {"stage": "accepted", "count": 990},
                       {"stage": "submitted", "count": 990}, {"stage": "delivered", "count": 900},
                       {"stage": "clicked", "count": 99}],
            "operators": [{"operator": "Safaricom", "messages": 800, "delivered": 760,
                           "failed": 30, "expired": 10},
                          {"operator": "+256", "messages": 190, "delivered": 140,
                           "failed": 50, "expired": 0}],
            "errors": [{"code": "smsc_undeliv", "count": 80}]
        });
        let r = render_report(&v);
        for want in [
            "campaign 12 \"Spring\": completed",
            "accepted            990  99.0%",
            "delivered           900  90.0%",
            "clicked              99  9.9%",
            "delivery rate 90.9%, click-through rate 11.0%",
            "p50 640 ms, p90 2100 ms, p99 15.0 s",
            "Safaricom",
            "95.0%",
            "smsc_undeliv",
            "1,200 segments",
        ] {
            assert!(r.contains(want), "missing {want:?} in\n{r}");
        }
        // Without a funnel from the API it is built from the counts.
        let mut bare = v.clone();
        bare["funnel"] = Value::Null;
        let r = render_report(&bare);
        assert!(r.contains("clicked              99  9.9%"), "{r}");
    }

    #[test]
    fn created_campaign_lists_rejected_rows_and_preview() {
        let v = json!({
            "id": 4, "name": "N", "status": "running", "list_id": 9,
            "preview": [{"to": "+254700000101", "line": 2, "text": "Hi Zoé", "encoding": "ucs2",
                         "segments": 1}],
            "estimate": {"recipients": 3, "total_segments": 4, "ucs2_messages": 1,
                         "failed": 0, "failures": []},
            "import": {"list_id": 9, "rows": 15, "accepted": 3,
                       "rejected": (0..12).map(|i| json!({"line": i + 3, "code": "invalid_msisdn", "reason": "not a number"})).collect::<Vec<_>>(),
                       "rejected_count": 12, "duplicates": 1, "blank_rows": 0,
                       "columns": ["name"], "delimiter": ","}
        });
        let r = render_created(&v);
        for want in [
            "campaign 4 \"N\": running (list 9)",
            "15 rows, 3 accepted, 12 rejected, 1 duplicates",
            "rejected line 3: not a number (invalid_msisdn)",
            "... and 2 more",
            "+254700000101 (line 2, ucs2, 1 segment): Hi Zoé",
            "4 segments (1 UCS-2 messages)",
        ] {
            assert!(r.contains(want), "missing {want:?} in\n{r}");
        }
        assert!(!r.contains("line 14:"), "only 10 rejected rows shown:\n{r}");
    }

    #[test]
    fn number_formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(fmt_percent(percent(1, 3)), "33.3%");
        assert_eq!(fmt_percent(percent(1, 0)), "-");
    }
}
