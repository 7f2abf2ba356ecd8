//! The campaign runner: one task per running campaign hands its recipients to the intake page
//! by page.
//!
//! Exactly once: each message carries its [`CampaignRef`], which the store keeps unique, and
//! the cursors are saved after each page is stored. A crash between the two makes the next
//! runner repeat at most one page, whose messages the store answers as duplicates.
//!
//! Per page: read the campaign (a pause or cancel takes effect within one page), wait while
//! the dispatch queues are full (the campaign never sits in memory), pick a group of
//! recipients whose local time is inside the window, render on a blocking thread, store the
//! tracked links, submit, save the cursor.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::SeedableRng;
use tuma_campaign::{
    personalize_in, Columns, Contact, LinkRewriter, SendWindow, TimeOfDay, UtcOffset,
};
use tuma_store::{
    CampaignId, CampaignRecord, CampaignRef, CampaignStatus, GroupCursor, LinkRecord, StoreError,
    WindowSpec,
};

use super::{compile, Compiled};
use tokio::sync::mpsc;

use crate::{lock, Engine, EngineError, SubmitRequest};

/// Runs campaign `id` until it is paused, cancelled or completed, or the engine stops.
pub(crate) async fn run(engine: Engine, id: CampaignId) {
    loop {
        let result = run_inner(&engine, id).await;
        if let Err(e) = &result {
            tracing::warn!(campaign = id.0, error = %e, "campaign runner stopped");
        }
        lock(&engine.inner.campaign_runners).remove(&id);
        if *engine.inner.shutdown.borrow() {
            return;
        }
        if result.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // A resume that came while this runner was stopping found it still registered and
        // started none: look again.
        let status = engine
            .inner
            .stores
            .campaigns
            .get_campaign(id)
            .await
            .ok()
            .flatten()
            .map(|c| c.status);
        let again = matches!(
            status,
            Some(CampaignStatus::Running | CampaignStatus::Scheduled)
        );
        if !again || !lock(&engine.inner.campaign_runners).insert(id) {
            return;
        }
    }
}

/// Why a runner stopped early.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
}

/// What to do next.
enum Next {
    /// Send a page of this group.
    Group(usize),
    /// Nothing may be sent before this time (quiet hours everywhere).
    WaitUntil(u64),
    /// Every group is done.
    Done,
}

fn window_of(spec: &WindowSpec) -> Option<SendWindow> {
    let t = |m: u16| TimeOfDay::new((m / 60) as u8, (m % 60) as u8);
    Some(SendWindow {
        start: t(spec.start_min)?,
        end: t(spec.end_min)?,
    })
}

fn to_system(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The first unfinished group whose recipients' local time is inside the window.
fn next_group(c: &CampaignRecord, cursors: &[GroupCursor], now_ms: u64) -> Next {
    let window = c.window.as_ref().and_then(|w| window_of(w).map(|s| (s, w)));
    let mut earliest: Option<u64> = None;
    for (i, g) in cursors.iter().enumerate() {
        if g.done {
            continue;
        }
        let Some((send_window, spec)) = &window else {
            return Next::Group(i);
        };
        let offset = spec
            .utc_offset_min
            .or(g.utc_offset_min)
            .and_then(UtcOffset::from_minutes)
            .unwrap_or(UtcOffset::UTC);
        let at = to_ms(send_window.next_allowed_at_offset(to_system(now_ms), offset));
        if at <= now_ms {
            return Next::Group(i);
        }
        earliest = Some(earliest.map_or(at, |e| e.min(at)));
    }
    match earliest {
        Some(at) => Next::WaitUntil(at),
        None => Next::Done,
    }
}

/// One page, rendered.
struct Rendered {
    requests: Vec<SubmitRequest>,
    links: Vec<LinkRecord>,
    failed: u64,
}

/// Pages submitted at once: the next page's parsing and routing overlaps the store's
/// commit of the previous one.
pub(crate) const PAGES_IN_FLIGHT: usize = 2;

/// A rendered page on its way from the producer to the submitter.
struct Page {
    /// Index into the cursors.
    group: usize,
    /// The page's highest `seq` (0 for an empty page that only ends its group).
    last_seq: u64,
    /// The group has no recipient after this page.
    group_done: bool,
    /// The messages.
    requests: Vec<SubmitRequest>,
    /// Their links being stored (awaited before the messages are submitted).
    links: Option<tokio::task::JoinHandle<Result<(), StoreError>>>,
}

/// A page being submitted: (group, last seq, group done, the submission).
type InFlight = (
    usize,
    u64,
    bool,
    tokio::task::JoinHandle<Result<(), RunError>>,
);

/// Why the producer stopped.
enum Stop {
    /// Every group is done.
    Finished,
    /// Paused, cancelled, deleted, or the engine is shutting down.
    Halted,
}

/// What the producer needs, shared with its task.
struct Producer {
    engine: Engine,
    id: CampaignId,
    campaign: CampaignRecord,
    list: tuma_store::ListId,
    compiled: Arc<Compiled>,
    columns: Arc<Columns>,
    from: String,
    page_size: usize,
    cursors: Vec<GroupCursor>,
}

async fn run_inner(engine: &Engine, id: CampaignId) -> Result<(), RunError> {
    let inner = &engine.inner;
    let store = inner.stores.campaigns.clone();
    let settings = &inner.config.campaigns;

    let Some(campaign) = store.get_campaign(id).await? else {
        return Err(RunError::Setup(format!("campaign {id} does not exist")));
    };
    if campaign.status.is_final() || campaign.status == CampaignStatus::Paused {
        return Ok(());
    }
    let Some(list) = store.get_list(campaign.list).await? else {
        return Err(RunError::Setup(format!(
            "list {} does not exist",
            campaign.list
        )));
    };
    let base = campaign.link_base.as_deref().unwrap_or(&settings.link_base);
    let links = if campaign.track_links {
        Some(LinkRewriter::new(base).map_err(|e| RunError::Setup(format!("link base: {e}")))?)
    } else {
        None
    };
    let compiled: Arc<Compiled> = Arc::new(
        compile(&campaign.template, &list.columns, links.as_ref())
            .map_err(|e| RunError::Setup(e.to_string()))?,
    );
    let columns = Arc::new(Columns::new(
        list.columns.clone(),
        list.columns.clone(),
        "phone".to_owned(),
    ));
    let page_size = match campaign.rate {
        // About ten pages a second, so the rate is even within the second.
        Some(rate) => settings.page.min((rate as usize / 10).max(1)),
        None => settings.page,
    }
    .max(1);
    let mut cursors = campaign.cursors.clone();
    let rate = campaign.rate;
    let account = campaign.account;

    // The producer reads, renders and stores links up to two pages ahead of the submitter,
    // so the store's writer always has the next page's messages to commit.
    let (tx, mut rx) = mpsc::channel::<Page>(2);
    let producer = Producer {
        engine: engine.clone(),
        id,
        from: campaign.from.address(),
        campaign,
        list: list.id,
        compiled,
        columns,
        page_size,
        cursors: cursors.clone(),
    };
    let producer = tokio::spawn(produce(producer, tx));

    let mut last_save = Instant::now();
    let mut dirty = false;
    let mut next_send = Instant::now();
    let mut halted = false;
    // Pages being submitted, oldest first.
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let permits = engine.campaign_page_permits(id);
    let mut open = true;
    loop {
        if !open && in_flight.is_empty() {
            break;
        }
        let page = tokio::select! {
            biased;
            // The oldest submission settled: its cursor moves.
            result = async {
                match in_flight.front_mut() {
                    Some(front) => (&mut front.3).await,
                    None => std::future::pending().await,
                }
            }, if !in_flight.is_empty() =>
            {
                result.map_err(|e| RunError::Setup(format!("submitting a page failed: {e}")))??;
                if let Some((group, last_seq, done, _)) = in_flight.pop_front() {
                    let c = &mut cursors[group];
                    c.last_seq = c.last_seq.max(last_seq);
                    c.done |= done;
                    dirty = true;
                }
                // Progress is saved about once a second: the unique campaign reference
                // makes a repeated page harmless after a crash, so saving after every page
                // buys nothing.
                if last_save.elapsed() >= Duration::from_secs(1) {
                    store.save_cursors(id, cursors.clone()).await?;
                    last_save = Instant::now();
                    dirty = false;
                }
                continue;
            }
            page = rx.recv(), if open && in_flight.len() < PAGES_IN_FLIGHT => page,
        };
        let Some(page) = page else {
            open = false;
            continue;
        };
        if let Some(rate) = rate {
            let wait = next_send.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            next_send = next_send.max(Instant::now() - Duration::from_millis(100))
                + Duration::from_secs_f64(
                    page.requests.len().max(1) as f64 / f64::from(rate.max(1)),
                );
        }
        // A page goes out holding one of the campaign's page permits, after a look at the
        // stop flag: pause and cancel raise the flag and then take every permit, so once
        // they return nothing more is handed over.
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| RunError::Setup(format!("page permits closed: {e}")))?;
        if engine.campaign_stopped(id) || *inner.shutdown.borrow() {
            halted = true;
            break;
        }
        let submitter = engine.clone();
        let task = tokio::spawn(async move {
            let _permit = permit;
            if let Some(links) = page.links {
                links
                    .await
                    .map_err(|e| RunError::Setup(format!("storing links failed: {e}")))??;
            }
            if !page.requests.is_empty() {
                submit(&submitter, id, account, page.requests).await?;
            }
            Ok(())
        });
        in_flight.push_back((page.group, page.last_seq, page.group_done, task));
    }
    // Submissions already started finish (a pause waits for them too).
    for (group, last_seq, done, task) in in_flight {
        task.await
            .map_err(|e| RunError::Setup(format!("submitting a page failed: {e}")))??;
        let c = &mut cursors[group];
        c.last_seq = c.last_seq.max(last_seq);
        c.done |= done;
        dirty = true;
    }
    drop(rx);
    let stop = producer
        .await
        .map_err(|e| RunError::Setup(format!("campaign producer failed: {e}")))??;
    if dirty {
        store.save_cursors(id, cursors.clone()).await?;
    }
    if halted || !matches!(stop, Stop::Finished) || cursors.iter().any(|c| !c.done) {
        return Ok(());
    }
    let (_, moved) = store
        .set_campaign_status(
            id,
            &[CampaignStatus::Running],
            CampaignStatus::Completed,
            inner.clock.now_ms(),
        )
        .await?;
    if moved {
        tracing::info!(
            campaign = id.0,
            "campaign completed: every recipient handed over"
        );
    }
    Ok(())
}

/// Submits one page, waiting out overload.
async fn submit(
    engine: &Engine,
    id: CampaignId,
    account: tuma_store::AccountId,
    requests: Vec<SubmitRequest>,
) -> Result<(), RunError> {
    loop {
        match engine.submit(account, requests.clone()).await {
            Ok(results) => {
                let rejected: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
                if let Some(first) = rejected.first() {
                    tracing::warn!(
                        campaign = id.0,
                        rejected = rejected.len(),
                        code = %first.code,
                        message = %first.message,
                        "messages refused by the intake"
                    );
                }
                return Ok(());
            }
            Err(EngineError::Overloaded { .. }) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(EngineError::ShuttingDown) => return Ok(()),
            Err(EngineError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(RunError::Setup(e.to_string())),
        }
        if *engine.inner.shutdown.borrow() {
            return Ok(());
        }
    }
}

/// Reads, renders and stores the links of pages, in cursor order, until every group is done
/// or the campaign stops.
async fn produce(mut p: Producer, tx: mpsc::Sender<Page>) -> Result<Stop, RunError> {
    let engine = p.engine.clone();
    let inner = &engine.inner;
    let store = inner.stores.campaigns.clone();
    let tick = inner
        .config
        .tick
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    let id = p.id;
    let mut checked = Instant::now();
    let mut first = true;
    let mut backpressure = Backpressure::new(&engine);
    loop {
        if *inner.shutdown.borrow() || engine.campaign_stopped(id) {
            return Ok(Stop::Halted);
        }
        // The stored status, at start and then about once a second (another process may
        // have paused or cancelled the campaign; this one raises the stop flag at once).
        if first || checked.elapsed() >= Duration::from_secs(1) {
            first = false;
            checked = Instant::now();
            p.campaign = match store.get_campaign(id).await? {
                Some(c) => c,
                None => return Ok(Stop::Halted),
            };
            let now = inner.clock.now_ms();
            match p.campaign.status {
                CampaignStatus::Running => {}
                CampaignStatus::Scheduled => {
                    if p.campaign.send_at_ms.is_none_or(|at| at <= now) {
                        store
                            .set_campaign_status(
                                id,
                                &[CampaignStatus::Scheduled],
                                CampaignStatus::Running,
                                now,
                            )
                            .await?;
                        tracing::info!(campaign = id.0, "campaign started");
                    } else {
                        tokio::time::sleep(tick).await;
                        first = true;
                    }
                    continue;
                }
                _ => return Ok(Stop::Halted),
            }
        }
        // Backpressure: at most `max_queued` messages wait for dispatch and at most
        // `max_unfinished` wait for their final status, so the campaign never sits in
        // memory (the store's writer keeps a small record of every unfinished message).
        if backpressure.wait(&engine, id) {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let now = inner.clock.now_ms();
        let group = match next_group(&p.campaign, &p.cursors, now) {
            Next::Group(i) => i,
            Next::WaitUntil(at) => {
                let wait = Duration::from_millis(at.saturating_sub(now)).min(tick);
                tokio::time::sleep(wait).await;
                continue;
            }
            Next::Done => return Ok(Stop::Finished),
        };
        let cursor = p.cursors[group];
        let offset_filter = match p.campaign.window {
            Some(WindowSpec {
                utc_offset_min: None,
                ..
            }) => cursor.utc_offset_min,
            _ => None,
        };
        let page = store
            .recipients(p.list, offset_filter, cursor.last_seq, p.page_size)
            .await?;
        let group_done = page.len() < p.page_size;
        let last_seq = page.last().map_or(cursor.last_seq, |r| r.seq);
        p.cursors[group].last_seq = last_seq;
        p.cursors[group].done = group_done;
        let rendered = if page.is_empty() {
            Rendered {
                requests: Vec::new(),
                links: Vec::new(),
                failed: 0,
            }
        } else {
            let compiled = p.compiled.clone();
            let columns = p.columns.clone();
            let from = p.from.clone();
            let account = p.campaign.account;
            let now = inner.clock.now_ms();
            tokio::task::spawn_blocking(move || {
                render(&compiled, &columns, &from, account, id, now, page)
            })
            .await
            .map_err(|e| RunError::Setup(format!("rendering failed: {e}")))?
        };
        if rendered.failed > 0 {
            tracing::warn!(
                campaign = id.0,
                failed = rendered.failed,
                "messages that could not be rendered are skipped"
            );
        }
        // The links are stored while the next page is read and rendered; the submitter waits
        // for them before it hands the page over, so no message ever carries a link that
        // does not resolve. Codes are 10 random base62 characters: a collision means a broken
        // RNG, and stops the runner rather than send a wrong link.
        let links = (!rendered.links.is_empty()).then(|| {
            let store = store.clone();
            let links = rendered.links;
            tokio::spawn(async move { store.insert_links(links).await })
        });
        let page = Page {
            group,
            last_seq,
            group_done,
            requests: rendered.requests,
            links,
        };
        let count = page.requests.len() as u64;
        if tx.send(page).await.is_err() {
            return Ok(Stop::Halted);
        }
        backpressure.handed += count;
    }
}

/// How long the unfinished count may stay over the cap with no message finishing before the
/// runner stops waiting for it (see [`Backpressure`]).
const STALL: Duration = Duration::from_secs(10);

/// The runner's backpressure: it waits while more than `max_queued` messages wait in memory
/// for dispatch, or more than `max_unfinished` of the messages it handed over have no final
/// status yet (the store keeps a small record of each until its receipt).
///
/// Its own messages are counted (handed over minus messages finished since it started, all
/// traffic of this process: other traffic finishing only makes it go sooner), so scheduled
/// API messages and an earlier campaign's long tail do not hold it back. When the count stays
/// over the cap for [`STALL`] with no message finishing (receipts switched off, an SMSC that
/// stopped sending them, or only handsets that are off are left), the runner takes the rest
/// as a long tail, forgives it and goes on: slower, never stuck.
struct Backpressure {
    /// Finished messages (this process) when the runner started.
    finished_at_start: u64,
    /// Messages this runner handed over.
    handed: u64,
    /// Unfinished messages given up on after a stall.
    forgiven: u64,
    /// Since when the count is over the cap, and the finished count then.
    over: Option<(Instant, u64)>,
}

/// Messages of this process with a final status.
fn finished(engine: &Engine) -> u64 {
    let c = engine.counts();
    c.delivered + c.failed + c.expired
}

impl Backpressure {
    fn new(engine: &Engine) -> Self {
        Self {
            finished_at_start: finished(engine),
            handed: 0,
            forgiven: 0,
            over: None,
        }
    }

    /// Whether the runner should wait before the next page.
    fn wait(&mut self, engine: &Engine, id: CampaignId) -> bool {
        let settings = &engine.inner.config.campaigns;
        if engine
            .inner
            .queued
            .load(std::sync::atomic::Ordering::Relaxed)
            > settings.max_queued
        {
            return true;
        }
        let done = finished(engine);
        let mine = self
            .handed
            .saturating_sub(done.saturating_sub(self.finished_at_start))
            .saturating_sub(self.forgiven);
        if mine <= settings.max_unfinished as u64 {
            self.over = None;
            return false;
        }
        match self.over {
            Some((_, then)) if done > then => {
                self.over = Some((Instant::now(), done));
                true
            }
            Some((since, _)) if since.elapsed() >= STALL => {
                tracing::warn!(
                    campaign = id.0,
                    unfinished = mine,
                    "no message reached a final status for {} s: going on without waiting for \
                     receipts (are receipts switched off on the connector?)",
                    STALL.as_secs()
                );
                self.forgiven += mine;
                self.over = None;
                false
            }
            Some(_) => true,
            None => {
                self.over = Some((Instant::now(), done));
                true
            }
        }
    }
}

/// Renders one page: the requests to submit and the links to store first.
fn render(
    compiled: &Compiled,
    columns: &Arc<Columns>,
    from: &str,
    account: tuma_store::AccountId,
    campaign: CampaignId,
    now_ms: u64,
    page: Vec<tuma_store::RecipientRecord>,
) -> Rendered {
    let mut rng = rand::rngs::StdRng::from_os_rng();
    // Links made in the same 50 ms share a code prefix (see `LinkRewriter::rewrite_in`).
    let bucket = ((now_ms / 50) % (62 * 62)) as u16;
    let mut out = Rendered {
        requests: Vec::with_capacity(page.len()),
        links: Vec::new(),
        failed: 0,
    };
    for r in page {
        let Some(contact) = Contact::new(r.to, r.line, columns.clone(), &r.values) else {
            out.failed += 1;
            continue;
        };
        let message = match personalize_in(
            &compiled.template,
            compiled.links.as_ref(),
            &contact,
            Some(bucket),
            &mut rng,
        ) {
            Ok(m) => m,
            Err(e) => {
                if out.failed == 0 {
                    tracing::warn!(campaign = campaign.0, seq = r.seq, error = %e, "rendering failed");
                }
                out.failed += 1;
                continue;
            }
        };
        out.links
            .extend(message.links.into_iter().map(|l| LinkRecord {
                code: l.code,
                account,
                campaign,
                seq: r.seq,
                target: l.target,
                created_at_ms: now_ms,
            }));
        out.requests.push(SubmitRequest {
            to: r.to.as_e164(),
            from: Some(from.to_owned()),
            text: message.text,
            campaign: Some(CampaignRef {
                campaign,
                seq: r.seq,
            }),
            ..SubmitRequest::default()
        });
    }
    out
}
