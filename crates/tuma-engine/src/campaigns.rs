//! Campaigns: contact lists imported from CSV, one personalized message per recipient, tracked
//! links, quiet hours, pause / resume / cancel, reports.
//!
//! - **Import** ([`Engine::import_list`], and [`Engine::create_campaign`] with a CSV): a
//!   blocking thread reads the CSV with `tuma_campaign::ContactImporter` (checking the template
//!   against the header before any row is stored, and rendering every contact into the
//!   preview); the rows go to the store in chunks while the file is still arriving.
//! - **Runner** (`runner`): one task per running campaign hands recipients to
//!   [`Engine::submit`] page by page; see there for exactly-once and quiet hours.
//! - **Reports** (`report`): counts, funnel, latency, operators and errors, computed from the
//!   campaign's messages; `recipients.csv` lines.

mod report;
mod runner;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;
use tuma_campaign::{
    Columns, Contact, ContactImporter, ImportOptions, LinkRewriter, Preview, Previewer, RowError,
    SendWindow, Template, TimeOfDay, UtcOffset,
};
use tuma_domain::SenderId;
use tuma_store::{
    AccountId, CampaignId, CampaignRecord, CampaignStatus, ClickRecord, GroupCursor, ImportTotals,
    ListId, ListRecord, ListStatus, NewCampaign, NewList, NewRecipient, StoreError, WindowSpec,
};

pub(crate) use report::Cached as CachedReport;

use crate::{lock, Engine, EngineError};

/// Campaign settings from the gateway's configuration.
#[derive(Debug, Clone)]
pub struct CampaignConfig {
    /// Base of tracked short links, without a trailing slash (`https://t.example/l`); the
    /// code is appended after a `/`.
    pub link_base: String,
    /// Operators by number prefix, as `(name, prefix)` pairs (prefix in E.164 with `+`,
    /// `("Safaricom", "+25470")`), for the per-operator report; the longest prefix wins. Numbers matching none are reported under their country code.
    pub operators: Vec<(String, String)>,
    /// Recipients per page the runner reads, renders and submits at once.
    pub page: usize,
    /// The runner waits while more than this many messages wait in memory for dispatch
    /// (all connectors), so a million-recipient campaign never sits in memory.
    pub max_queued: usize,
    /// The runner also waits while more than this many messages submitted since it started
    /// have no final status yet (all campaigns and API traffic of this process): the store
    /// keeps a small record of each in memory until its receipt comes. If none finishes for
    /// 10 s (receipts switched off), it goes on.
    pub max_unfinished: usize,
    /// Sample messages in a new campaign's preview.
    pub preview: usize,
}

impl Default for CampaignConfig {
    fn default() -> Self {
        Self {
            link_base: "http://127.0.0.1:8080/l".into(),
            operators: Vec::new(),
            page: 2000,
            max_queued: 20_000,
            max_unfinished: 100_000,
            preview: 5,
        }
    }
}

/// Where a campaign's recipients come from.
pub enum Contacts {
    /// A CSV file, read as it arrives (the engine reads it on a blocking thread).
    Csv(Box<dyn Read + Send>),
    /// A list imported earlier.
    List(ListId),
}

impl std::fmt::Debug for Contacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Csv(_) => f.write_str("Contacts::Csv(..)"),
            Self::List(id) => f.debug_tuple("Contacts::List").field(id).finish(),
        }
    }
}

/// Quiet hours as the API gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRequest {
    /// Opening, local time (`"08:00"`).
    pub start: String,
    /// Closing, local time (`"20:00"`).
    pub end: String,
    /// One UTC offset for every recipient (`"+03:00"`, `"-05:30"`, `"UTC"`) instead of each
    /// number's country's.
    pub timezone: Option<String>,
}

/// A campaign to create, as the API gives it.
#[derive(Debug)]
pub struct CampaignRequest {
    /// Name.
    pub name: String,
    /// Sender id; the default sender when absent.
    pub from: Option<String>,
    /// Template source (`Hi {{ name | default("there") }}`).
    pub template: String,
    /// The recipients.
    pub contacts: Contacts,
    /// Replace URLs by tracked short links.
    pub track_links: bool,
    /// Start later (Unix ms).
    pub send_at_ms: Option<u64>,
    /// Quiet hours.
    pub window: Option<WindowRequest>,
    /// Most messages per second.
    pub rate: Option<u32>,
}

/// What an import did (serialized as the API's `import` object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The list the rows went to.
    pub list_id: u64,
    /// Data rows read.
    pub rows: u64,
    /// Recipients stored.
    pub accepted: u64,
    /// The first rejected rows (line and reason); `rejected_count` counts them all.
    pub rejected: Vec<RowError>,
    /// Rows rejected in all.
    pub rejected_count: u64,
    /// Rows dropped as duplicates.
    pub duplicates: u64,
    /// Rows of empty cells skipped.
    pub blank_rows: u64,
    /// Template variables (every column but the phone).
    pub columns: Vec<String>,
    /// The delimiter found (`","`, `";"` or `"\t"`).
    pub delimiter: String,
}

/// A created campaign.
#[derive(Debug, Clone)]
pub struct CampaignCreated {
    /// As stored.
    pub campaign: CampaignRecord,
    /// Sample messages and total segments.
    pub preview: Preview,
    /// The import, when the request carried a CSV.
    pub import: Option<ImportReport>,
}

/// Why a campaign request failed.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// A field is invalid (HTTP 422 or 400): the template names a column the CSV lacks, the
    /// CSV has no phone column, the window is malformed...
    #[error("{message}")]
    Invalid {
        /// Stable snake_case code (`unknown_column`, `invalid_template`, `invalid_csv`,
        /// `invalid_window`, `invalid_sender`, `no_recipients`, ...).
        code: &'static str,
        /// The request field at fault.
        field: &'static str,
        /// For people.
        message: String,
    },
    /// No such campaign or list for this account (404).
    #[error("{what} {id} not found")]
    NotFound {
        /// `"campaign"` or `"list"`.
        what: &'static str,
        /// The id.
        id: u64,
    },
    /// The campaign's status does not allow this (409): resuming a completed campaign.
    #[error("campaign {id} is {status}: cannot {action}")]
    Conflict {
        /// The campaign.
        id: u64,
        /// Its status.
        status: &'static str,
        /// What was asked.
        action: &'static str,
    },
    /// The engine failed (overload, shutdown, store).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<StoreError> for CampaignError {
    fn from(e: StoreError) -> Self {
        Self::Engine(EngineError::Store(e))
    }
}

/// Counts of a campaign's recipients (the funnel is total -> accepted -> submitted ->
/// delivered -> clicked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CampaignCounts {
    /// CSV data rows (valid or not).
    pub total: u64,
    /// Rows rejected at import.
    pub invalid: u64,
    /// Rows dropped as duplicates.
    pub duplicates: u64,
    /// Recipients in the list.
    pub recipients: u64,
    /// Recipients not yet handed to the gateway (waiting, paused, quiet hours).
    pub pending: u64,
    /// Recipients skipped because they opted out.
    pub suppressed: u64,
    /// Recipients whose message the gateway accepted (stored).
    pub accepted: u64,
    /// Messages the SMSC accepted (every segment).
    pub submitted: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages failed.
    pub failed: u64,
    /// Messages expired with no final receipt.
    pub expired: u64,
    /// Messages the gateway refused (e.g. a text too long after rendering), and, once the
    /// campaign completed, recipients whose message could not be rendered.
    pub rejected: u64,
    /// Recipients never handed over because the campaign was cancelled.
    pub cancelled: u64,
    /// SMS segments of the accepted messages.
    pub segments: u64,
    /// Link clicks.
    pub clicks: u64,
    /// Recipients who clicked.
    pub unique_clicks: u64,
}

/// Accept-to-delivered latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: Option<u64>,
    /// 90th percentile.
    pub p90: Option<u64>,
    /// 99th percentile.
    pub p99: Option<u64>,
}

/// One operator's line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorBreakdown {
    /// Operator name (from the prefix table) or `"+<country code>"`.
    pub operator: String,
    /// Messages.
    pub messages: u64,
    /// Delivered.
    pub delivered: u64,
    /// Failed.
    pub failed: u64,
    /// Expired.
    pub expired: u64,
}

/// A campaign with its counts: what `GET /v1/campaigns/{id}` shows.
#[derive(Debug, Clone)]
pub struct CampaignReport {
    /// As stored.
    pub campaign: CampaignRecord,
    /// Counts.
    pub counts: CampaignCounts,
    /// delivered / accepted (`None` before anything was accepted).
    pub delivery_rate: Option<f64>,
    /// unique clicks / delivered (`None` without tracked links or deliveries).
    pub click_through_rate: Option<f64>,
    /// Accept to delivered.
    pub latency: Latency,
    /// Per operator, most messages first.
    pub operators: Vec<OperatorBreakdown>,
    /// Failed messages by error code, most first.
    pub errors: Vec<(String, u64)>,
}

/// One line of `recipients.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientRow {
    /// The recipient's `seq` (file order).
    pub seq: u64,
    /// The CSV line.
    pub line: u64,
    /// The number (E.164).
    pub to: String,
    /// The message's status, or `pending` (not handed over yet) or `cancelled` (never will
    /// be).
    pub status: String,
    /// The message id.
    pub message_id: Option<String>,
    /// The error code when it failed.
    pub error: Option<String>,
    /// Segments.
    pub segments: Option<u8>,
    /// When the SMSC accepted it (Unix ms).
    pub submitted_at_ms: Option<u64>,
    /// When it was delivered (Unix ms).
    pub delivered_at_ms: Option<u64>,
    /// Link clicks.
    pub clicks: u64,
}

/// Rows per chunk handed from the CSV reader to the store.
const IMPORT_CHUNK: usize = 5_000;
/// Chunks in flight between the reader thread and the store.
const IMPORT_CHUNKS_QUEUED: usize = 4;
/// Lists left importing by a crash are deleted at start once this old (another process on
/// the same PostgreSQL database may be importing one right now).
const STALE_IMPORT_MS: u64 = 3_600_000;
/// Longest campaign or list name.
const MAX_NAME: usize = 200;

/// What the reader thread sends to the task that stores.
enum ImportEvent {
    /// The header was read (and the template, if any, fits its columns).
    Header { columns: Vec<String> },
    /// Recipients to store.
    Chunk(Vec<NewRecipient>),
    /// The end of the file.
    Done(Box<ImportDone>),
    /// The file cannot be imported.
    Failed(CampaignError),
}

struct ImportDone {
    summary: tuma_campaign::ImportSummary,
    delimiter: u8,
    offsets: Vec<(i16, u64)>,
    preview: Option<Preview>,
    columns: Vec<String>,
}

/// A campaign's template and links, compiled once for preview and for sending.
struct Compiled {
    template: Template,
    links: Option<LinkRewriter>,
}

fn invalid(code: &'static str, field: &'static str, message: impl Into<String>) -> CampaignError {
    CampaignError::Invalid {
        code,
        field,
        message: message.into(),
    }
}

fn compile(
    source: &str,
    columns: &[String],
    links: Option<&LinkRewriter>,
) -> Result<Compiled, CampaignError> {
    let template = Template::compile(source, columns).map_err(|e| {
        let code = match e {
            tuma_campaign::TemplateError::UnknownColumns { .. } => "unknown_column",
            _ => "invalid_template",
        };
        invalid(code, "template", e.to_string())
    })?;
    Ok(Compiled {
        template,
        links: links.cloned(),
    })
}

fn import_error(e: tuma_campaign::ImportError) -> CampaignError {
    invalid("invalid_csv", "contacts", e.to_string())
}

/// Checks a name.
fn check_name(name: &str, field: &'static str) -> Result<String, CampaignError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid(
            "invalid_name",
            field,
            format!("{field} must not be empty"),
        ));
    }
    if name.chars().count() > MAX_NAME {
        return Err(invalid(
            "invalid_name",
            field,
            format!("{field} is longer than {MAX_NAME} characters"),
        ));
    }
    Ok(name.to_owned())
}

/// Parses the API's window.
fn parse_window(w: &WindowRequest) -> Result<WindowSpec, CampaignError> {
    let start: TimeOfDay = w.start.parse().map_err(|e: tuma_campaign::WindowError| {
        invalid("invalid_window", "window.start", e.to_string())
    })?;
    let end: TimeOfDay = w.end.parse().map_err(|e: tuma_campaign::WindowError| {
        invalid("invalid_window", "window.end", e.to_string())
    })?;
    let utc_offset_min = match &w.timezone {
        None => None,
        Some(tz) => Some(
            tz.parse::<UtcOffset>()
                .map_err(|e| invalid("invalid_window", "window.timezone", e.to_string()))?
                .minutes(),
        ),
    };
    Ok(WindowSpec {
        start_min: start.minutes(),
        end_min: end.minutes(),
        utc_offset_min,
    })
}

/// Reads a CSV on a blocking thread and sends what it finds to `tx`. With `compiled`, the
/// template is checked against the header before any row is sent, and every contact is
/// rendered into the preview.
fn read_csv(
    reader: Box<dyn Read + Send>,
    options: ImportOptions,
    template: Option<(String, Option<LinkRewriter>)>,
    text_options: sms_text::Options,
    sample: usize,
    tx: mpsc::Sender<ImportEvent>,
) {
    let fail = |e: CampaignError| {
        let _ = tx.blocking_send(ImportEvent::Failed(e));
    };
    let mut importer = match ContactImporter::new(reader, options) {
        Ok(i) => i,
        Err(e) => return fail(import_error(e)),
    };
    let columns = importer.columns().names().to_vec();
    let compiled = match template {
        Some((source, links)) => match compile(&source, &columns, links.as_ref()) {
            Ok(c) => Some(c),
            Err(e) => return fail(e),
        },
        None => None,
    };
    if tx
        .blocking_send(ImportEvent::Header {
            columns: columns.clone(),
        })
        .is_err()
    {
        return;
    }
    // Rendering every message for the preview costs about as much as parsing the file, so it
    // runs on a thread of its own, fed contacts (shared, cheap to pass) in chunks: measured
    // on 1M rows, one thread for both gave 107k rows/s.
    let previewer = compiled.map(|c| {
        let (ptx, prx) = std::sync::mpsc::sync_channel::<Vec<Contact>>(IMPORT_CHUNKS_QUEUED);
        let thread = std::thread::Builder::new()
            .name("tuma-preview".into())
            .spawn(move || {
                let mut p = Previewer::new(&c.template, c.links.as_ref(), text_options, sample);
                for chunk in prx {
                    for contact in &chunk {
                        p.push(contact);
                    }
                }
                p.finish()
            });
        (ptx, thread)
    });
    let (preview_tx, preview_thread) = match previewer {
        Some((ptx, Ok(thread))) => (Some(ptx), Some(thread)),
        Some((_, Err(e))) => {
            return fail(invalid(
                "internal_error",
                "template",
                format!("starting the preview thread failed: {e}"),
            ))
        }
        None => (None, None),
    };
    let mut preview_chunk: Vec<Contact> = Vec::new();
    let mut offsets: BTreeMap<i16, u64> = BTreeMap::new();
    let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
    let mut seq = 0u64;
    loop {
        let contact = match importer.next_contact() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => return fail(import_error(e)),
        };
        if let Some(ptx) = &preview_tx {
            preview_chunk.push(contact.clone());
            if preview_chunk.len() == IMPORT_CHUNK {
                let full = std::mem::replace(&mut preview_chunk, Vec::with_capacity(IMPORT_CHUNK));
                if ptx.send(full).is_err() {
                    return fail(invalid(
                        "internal_error",
                        "template",
                        "the preview thread stopped",
                    ));
                }
            }
        }
        seq += 1;
        let to = contact.msisdn();
        let offset = SendWindow::offset_for(&to, None).minutes();
        *offsets.entry(offset).or_default() += 1;
        chunk.push(NewRecipient {
            seq,
            line: contact.line(),
            to,
            utc_offset_min: offset,
            // NUL cannot be stored by PostgreSQL and never belongs in an SMS: dropped.
            values: (0..columns.len())
                .map(|i| {
                    let v = contact.value_at(i).unwrap_or_default();
                    if v.contains('\0') {
                        v.replace('\0', "")
                    } else {
                        v.to_owned()
                    }
                })
                .collect(),
        });
        if chunk.len() == IMPORT_CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(IMPORT_CHUNK));
            if tx.blocking_send(ImportEvent::Chunk(full)).is_err() {
                return;
            }
        }
    }
    if !chunk.is_empty() && tx.blocking_send(ImportEvent::Chunk(chunk)).is_err() {
        return;
    }
    let delimiter = importer.delimiter();
    if let Some(ptx) = preview_tx {
        if !preview_chunk.is_empty() && ptx.send(preview_chunk).is_err() {
            return fail(invalid(
                "internal_error",
                "template",
                "the preview thread stopped",
            ));
        }
    }
    let preview = match preview_thread.map(std::thread::JoinHandle::join) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => {
            return fail(invalid(
                "internal_error",
                "template",
                "the preview thread panicked",
            ))
        }
    };
    let done = ImportDone {
        summary: importer.into_summary(),
        delimiter,
        offsets: offsets.into_iter().collect(),
        preview,
        columns,
    };
    let _ = tx.blocking_send(ImportEvent::Done(Box::new(done)));
}

fn report_of(list: &ListRecord, done: &ImportDone) -> ImportReport {
    ImportReport {
        list_id: list.id.0,
        rows: done.summary.rows,
        accepted: done.summary.accepted,
        rejected: done.summary.rejections.clone(),
        rejected_count: done.summary.rejected,
        duplicates: done.summary.duplicates,
        blank_rows: done.summary.blank_rows,
        columns: done.columns.clone(),
        delimiter: match done.delimiter {
            b'\t' => "\t".to_owned(),
            d => char::from(d).to_string(),
        },
    }
}

impl Engine {
    /// Imports a CSV into a new list; with `template`, checks it against the header first
    /// and renders every contact into a preview. The list is deleted if anything fails.
    async fn import_csv(
        &self,
        account: AccountId,
        name: String,
        csv: Box<dyn Read + Send>,
        template: Option<(String, Option<LinkRewriter>)>,
    ) -> Result<(ListRecord, ImportReport, Option<Preview>), CampaignError> {
        let store = self.inner.stores.campaigns.clone();
        let defaults = &self.inner.config.defaults;
        let options = ImportOptions::new(defaults.region);
        let (tx, mut rx) = mpsc::channel(IMPORT_CHUNKS_QUEUED);
        let text_options = defaults.text_options;
        let sample = self.inner.config.campaigns.preview;
        let reader = tokio::task::spawn_blocking(move || {
            read_csv(csv, options, template, text_options, sample, tx)
        });
        let mut list: Option<ListRecord> = None;
        let result = async {
            loop {
                match rx.recv().await {
                    Some(ImportEvent::Header { columns }) => {
                        let created = store
                            .create_list(NewList {
                                account,
                                name: name.clone(),
                                columns,
                                created_at_ms: self.inner.clock.now_ms(),
                            })
                            .await?;
                        list = Some(created);
                    }
                    Some(ImportEvent::Chunk(rows)) => {
                        let Some(l) = &list else {
                            return Err(invalid(
                                "invalid_csv",
                                "contacts",
                                "rows before the header",
                            ));
                        };
                        store.insert_recipients(l.id, rows).await?;
                    }
                    Some(ImportEvent::Done(done)) => {
                        let Some(l) = &list else {
                            return Err(invalid("invalid_csv", "contacts", "no header"));
                        };
                        let totals = ImportTotals {
                            rows: done.summary.rows,
                            accepted: done.summary.accepted,
                            rejected: done.summary.rejected,
                            duplicates: done.summary.duplicates,
                        };
                        let finished = store
                            .finish_list(l.id, totals, done.offsets.clone())
                            .await?;
                        let report = report_of(&finished, &done);
                        return Ok((finished, report, done.preview));
                    }
                    Some(ImportEvent::Failed(e)) => return Err(e),
                    None => {
                        return Err(invalid(
                            "invalid_csv",
                            "contacts",
                            "the CSV reader stopped unexpectedly",
                        ))
                    }
                }
            }
        }
        .await;
        // Dropping the receiver stops the reader at its next send.
        drop(rx);
        let _ = reader.await;
        match result {
            Ok(r) => Ok(r),
            Err(e) => {
                if let Some(l) = list {
                    if let Err(d) = store.delete_list(l.id).await {
                        tracing::warn!(list = l.id.0, error = %d, "deleting a failed import");
                    }
                }
                Err(e)
            }
        }
    }

    /// Imports a CSV into a new list (streaming, bounded memory) for later campaigns.
    pub async fn import_list(
        &self,
        account: AccountId,
        name: String,
        csv: Box<dyn Read + Send>,
    ) -> Result<(ListRecord, ImportReport), CampaignError> {
        let name = check_name(&name, "name")?;
        let (list, report, _) = self.import_csv(account, name, csv, None).await?;
        Ok((list, report))
    }

    /// One of the account's lists.
    pub async fn list(
        &self,
        account: AccountId,
        id: ListId,
    ) -> Result<Option<ListRecord>, CampaignError> {
        let list = self.inner.stores.campaigns.get_list(id).await?;
        Ok(list.filter(|l| l.account == account && l.status == ListStatus::Ready))
    }

    /// The account's lists, newest first.
    pub async fn lists(
        &self,
        account: AccountId,
        before: Option<ListId>,
        limit: usize,
    ) -> Result<Vec<ListRecord>, CampaignError> {
        let mut lists = self
            .inner
            .stores
            .campaigns
            .list_lists(account, before, limit)
            .await?;
        lists.retain(|l| l.status == ListStatus::Ready);
        Ok(lists)
    }

    /// Creates a campaign: imports the CSV (or takes the list), checks the template against
    /// the columns, builds the preview, stores the campaign and starts it (now or at
    /// `send_at`). Nothing is sent when this fails.
    pub async fn create_campaign(
        &self,
        account: AccountId,
        request: CampaignRequest,
    ) -> Result<CampaignCreated, CampaignError> {
        let inner = &self.inner;
        let defaults = &inner.config.defaults;
        let name = check_name(&request.name, "name")?;
        let from = match request.from.as_deref() {
            Some(f) => {
                SenderId::parse(f).map_err(|e| invalid("invalid_sender", "from", e.to_string()))?
            }
            None => defaults.sender.clone().ok_or_else(|| {
                invalid(
                    "missing_sender",
                    "from",
                    "from is required: the gateway has no default sender",
                )
            })?,
        };
        if request.template.trim().is_empty() {
            return Err(invalid(
                "invalid_template",
                "template",
                "template must not be empty",
            ));
        }
        let now = inner.clock.now_ms();
        let ahead = u64::try_from(defaults.max_schedule_ahead.as_millis()).unwrap_or(u64::MAX);
        if let Some(at) = request.send_at_ms {
            if at > now.saturating_add(ahead) {
                return Err(invalid(
                    "invalid_send_at",
                    "send_at",
                    format!("send_at is more than {} days ahead", ahead / 86_400_000),
                ));
            }
        }
        let window = request.window.as_ref().map(parse_window).transpose()?;
        if request.rate == Some(0) {
            return Err(invalid(
                "invalid_rate",
                "rate",
                "rate must be at least 1 message per second",
            ));
        }
        let links = if request.track_links {
            Some(
                LinkRewriter::new(&inner.config.campaigns.link_base).map_err(|e| {
                    invalid(
                        "invalid_link_base",
                        "track_links",
                        format!("links.base_url: {e}"),
                    )
                })?,
            )
        } else {
            None
        };

        let (list, import, preview) = match request.contacts {
            Contacts::Csv(csv) => {
                let (list, report, preview) = self
                    .import_csv(
                        account,
                        name.clone(),
                        csv,
                        Some((request.template.clone(), links.clone())),
                    )
                    .await?;
                (list, Some(report), preview.unwrap_or_default())
            }
            Contacts::List(id) => {
                let list = self
                    .list(account, id)
                    .await?
                    .ok_or(CampaignError::NotFound {
                        what: "list",
                        id: id.0,
                    })?;
                let preview = self
                    .preview_list(&list, &request.template, links.clone())
                    .await?;
                (list, None, preview)
            }
        };
        if list.totals.accepted == 0 {
            return Err(invalid(
                "no_recipients",
                "contacts_csv",
                "the contact list has no valid recipient",
            ));
        }
        let cursors = match window {
            Some(w) if w.utc_offset_min.is_none() => list
                .offsets
                .iter()
                .map(|(offset, _)| GroupCursor {
                    utc_offset_min: Some(*offset),
                    last_seq: 0,
                    done: false,
                })
                .collect(),
            _ => vec![GroupCursor {
                utc_offset_min: None,
                last_seq: 0,
                done: false,
            }],
        };
        let status = match request.send_at_ms {
            Some(at) if at > now => CampaignStatus::Scheduled,
            _ => CampaignStatus::Running,
        };
        let campaign = inner
            .stores
            .campaigns
            .create_campaign(NewCampaign {
                account,
                name,
                list: list.id,
                from,
                template: request.template,
                track_links: request.track_links,
                link_base: links.as_ref().map(|l| l.base_url().to_owned()),
                send_at_ms: request.send_at_ms,
                window,
                rate: request.rate,
                status,
                cursors,
                created_at_ms: now,
            })
            .await?;
        tracing::info!(
            campaign = campaign.id.0,
            list = list.id.0,
            recipients = list.totals.accepted,
            status = campaign.status.as_str(),
            "campaign created"
        );
        self.spawn_runner(campaign.id);
        Ok(CampaignCreated {
            campaign,
            preview,
            import,
        })
    }

    /// The preview of a campaign over a stored list (rendered on a blocking thread, page by
    /// page).
    async fn preview_list(
        &self,
        list: &ListRecord,
        source: &str,
        links: Option<LinkRewriter>,
    ) -> Result<Preview, CampaignError> {
        let compiled = compile(source, &list.columns, links.as_ref())?;
        let columns = Arc::new(Columns::new(
            list.columns.clone(),
            list.columns.clone(),
            "phone".to_owned(),
        ));
        let store = self.inner.stores.campaigns.clone();
        let text_options = self.inner.config.defaults.text_options;
        let sample = self.inner.config.campaigns.preview;
        let list_id = list.id;
        let handle = tokio::runtime::Handle::current();
        let result = tokio::task::spawn_blocking(move || {
            let mut previewer = Previewer::new(
                &compiled.template,
                compiled.links.as_ref(),
                text_options,
                sample,
            );
            let mut after = 0;
            loop {
                let page = handle.block_on(store.recipients(list_id, None, after, IMPORT_CHUNK))?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for r in &page {
                    if let Some(c) = Contact::new(r.to, r.line, columns.clone(), &r.values) {
                        previewer.push(&c);
                    }
                }
            }
            Ok::<_, StoreError>(previewer.finish())
        })
        .await
        .map_err(|e| invalid("internal_error", "template", format!("preview failed: {e}")))?;
        Ok(result?)
    }

    /// A campaign of `account`.
    async fn owned_campaign(
        &self,
        account: AccountId,
        id: CampaignId,
    ) -> Result<CampaignRecord, CampaignError> {
        match self.inner.stores.campaigns.get_campaign(id).await? {
            Some(c) if c.account == account => Ok(c),
            _ => Err(CampaignError::NotFound {
                what: "campaign",
                id: id.0,
            }),
        }
    }

    /// A campaign with its counts (`None` if the account has no such campaign).
    pub async fn campaign(
        &self,
        account: AccountId,
        id: CampaignId,
    ) -> Result<Option<CampaignReport>, CampaignError> {
        let campaign = match self.owned_campaign(account, id).await {
            Ok(c) => c,
            Err(CampaignError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(report::build(self, campaign).await?))
    }

    /// The account's campaigns, newest first.
    pub async fn campaigns(
        &self,
        account: AccountId,
        before: Option<CampaignId>,
        limit: usize,
    ) -> Result<Vec<CampaignRecord>, CampaignError> {
        Ok(self
            .inner
            .stores
            .campaigns
            .list_campaigns(account, before, limit)
            .await?)
    }

    /// Pauses a scheduled or running campaign (idempotent on a paused one). The pages being
    /// handed over, if any, finish before this returns; nothing more goes after.
    pub async fn pause_campaign(
        &self,
        account: AccountId,
        id: CampaignId,
    ) -> Result<CampaignRecord, CampaignError> {
        self.halt_campaign(
            account,
            id,
            &[CampaignStatus::Scheduled, CampaignStatus::Running],
            CampaignStatus::Paused,
            "pause",
        )
        .await
    }

    /// Moves a campaign from one of `from` to `to` (already there: fine) and stops its
    /// runner.
    async fn halt_campaign(
        &self,
        account: AccountId,
        id: CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        action: &'static str,
    ) -> Result<CampaignRecord, CampaignError> {
        self.owned_campaign(account, id).await?;
        let (c, moved) = self
            .inner
            .stores
            .campaigns
            .set_campaign_status(id, from, to, self.inner.clock.now_ms())
            .await?;
        if moved || c.status == to {
            self.stop_runner(id).await;
            tracing::info!(campaign = id.0, status = to.as_str(), "campaign stopped");
            return Ok(c);
        }
        Err(conflict(&c, action))
    }

    /// Resumes a paused campaign (scheduled again if its `send_at` is still ahead).
    pub async fn resume_campaign(
        &self,
        account: AccountId,
        id: CampaignId,
    ) -> Result<CampaignRecord, CampaignError> {
        let current = self.owned_campaign(account, id).await?;
        if matches!(
            current.status,
            CampaignStatus::Running | CampaignStatus::Scheduled
        ) {
            self.spawn_runner(id);
            return Ok(current);
        }
        let now = self.inner.clock.now_ms();
        let to = match current.send_at_ms {
            Some(at) if at > now => CampaignStatus::Scheduled,
            _ => CampaignStatus::Running,
        };
        let (c, moved) = self
            .inner
            .stores
            .campaigns
            .set_campaign_status(id, &[CampaignStatus::Paused], to, now)
            .await?;
        if !moved {
            return Err(conflict(&c, "resume"));
        }
        tracing::info!(campaign = id.0, "campaign resumed");
        lock(&self.inner.campaign_stops).remove(&id);
        self.spawn_runner(id);
        Ok(c)
    }

    /// Cancels a campaign that is not final; recipients not handed over are never sent.
    pub async fn cancel_campaign(
        &self,
        account: AccountId,
        id: CampaignId,
    ) -> Result<CampaignRecord, CampaignError> {
        self.halt_campaign(
            account,
            id,
            &[
                CampaignStatus::Scheduled,
                CampaignStatus::Running,
                CampaignStatus::Paused,
            ],
            CampaignStatus::Cancelled,
            "cancel",
        )
        .await
    }

    /// Up to `limit` lines of the campaign's recipient report with `seq > after_seq`
    /// (`NotFound` for another account's campaign). An empty page ends the report.
    pub async fn recipient_rows(
        &self,
        account: AccountId,
        id: CampaignId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<RecipientRow>, CampaignError> {
        let campaign = self.owned_campaign(account, id).await?;
        report::recipient_rows(self, &campaign, after_seq, limit).await
    }

    /// A tracked link was followed: records the click and returns the target (`None` for an
    /// unknown code).
    pub async fn follow_link(
        &self,
        code: &str,
        user_agent: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        if !(8..=32).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let store = &self.inner.stores.campaigns;
        let Some(link) = store.find_link(code).await? else {
            return Ok(None);
        };
        let user_agent = user_agent.map(|ua| {
            let mut end = ua.len().min(256);
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua[..end].to_owned()
        });
        store
            .record_click(ClickRecord {
                code: link.code,
                campaign: link.campaign,
                seq: link.seq,
                at_ms: self.inner.clock.now_ms(),
                user_agent,
            })
            .await?;
        Ok(Some(link.target))
    }

    /// At start: deletes lists a crash left importing, resumes running and scheduled
    /// campaigns.
    pub(crate) async fn recover_campaigns(&self) {
        let store = &self.inner.stores.campaigns;
        let now = self.inner.clock.now_ms();
        match store.lists_with_status(ListStatus::Importing).await {
            Ok(lists) => {
                for l in lists {
                    if l.created_at_ms + STALE_IMPORT_MS < now {
                        tracing::info!(list = l.id.0, "deleting a list left importing");
                        if let Err(e) = store.delete_list(l.id).await {
                            tracing::warn!(list = l.id.0, error = %e, "deleting a stale import");
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading importing lists"),
        }
        match store
            .campaigns_with_status(&[CampaignStatus::Running, CampaignStatus::Scheduled])
            .await
        {
            Ok(campaigns) => {
                for c in campaigns {
                    tracing::info!(
                        campaign = c.id.0,
                        status = c.status.as_str(),
                        "resuming campaign"
                    );
                    self.spawn_runner(c.id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading campaigns to resume"),
        }
    }

    /// Raises the campaign's stop flag and waits for the page being handed over, if any.
    async fn stop_runner(&self, id: CampaignId) {
        lock(&self.inner.campaign_stops).insert(id);
        let permits = self.campaign_page_permits(id);
        let all = u32::try_from(runner::PAGES_IN_FLIGHT).unwrap_or(u32::MAX);
        drop(permits.acquire_many(all).await);
    }

    /// Whether this process paused or cancelled the campaign.
    pub(crate) fn campaign_stopped(&self, id: CampaignId) -> bool {
        lock(&self.inner.campaign_stops).contains(&id)
    }

    /// The permits a runner holds while it hands pages over (see `runner`).
    pub(crate) fn campaign_page_permits(&self, id: CampaignId) -> Arc<tokio::sync::Semaphore> {
        lock(&self.inner.campaign_pages)
            .entry(id)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(runner::PAGES_IN_FLIGHT)))
            .clone()
    }

    /// Starts the campaign's runner unless one runs.
    pub(crate) fn spawn_runner(&self, id: CampaignId) {
        if !lock(&self.inner.campaign_runners).insert(id) {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move { runner::run(engine, id).await });
    }
}

fn conflict(c: &CampaignRecord, action: &'static str) -> CampaignError {
    CampaignError::Conflict {
        id: c.id.0,
        status: c.status.as_str(),
        action,
    }
}
