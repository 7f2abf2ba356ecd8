//! Recovery at start and the periodic timers.
//!
//! - **Recovery**: the outbox holds every accepted message not yet fully submitted. At start
//!   it is read page by page (`pending_outbox`) into the connectors' queues. Only messages
//!   accepted before this start are read (message ids sort by creation time): newer ones
//!   went to the queues from intake directly, and reading them too would send them twice.
//! - **Timers** (every `config.tick`): due scheduled messages are released to the queues,
//!   messages past their validity plus the grace period expire, old parked receipts go.
//!
//! Recovery holds the timers' lock, so a timer run (or `run_timers_now`) never releases a
//! scheduled message that recovery would then read again from the outbox.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tuma_domain::{MessageId, SegmentStatus};
use tuma_store::OutboxEntry;

use crate::dispatch::OutMsg;
use crate::metrics::Tally;
use crate::{Engine, EngineError};

/// Rows per store call.
const PAGE: usize = 1000;
/// Parked receipts older than this are dropped: their submission never came back.
const PARKED_RECEIPT_TTL: Duration = Duration::from_secs(3600);

/// The timer task: recovery first, then a run every tick until shutdown.
pub(crate) async fn run(engine: Engine, started_ms: u64) {
    let inner = engine.inner();
    let mut shutdown = inner.shutdown_rx();
    tokio::select! {
        result = recover(&engine, started_ms) => {
            if let Err(error) = result {
                tracing::error!(%error, "outbox recovery failed; unsent messages wait for the next start");
            }
        }
        () = crate::stopped(&mut shutdown) => return,
    }
    let mut tick = tokio::time::interval(inner.config().tick.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(error) = run_once(&engine).await {
                    tracing::warn!(%error, "timer run failed");
                }
            }
            () = crate::stopped(&mut shutdown) => return,
        }
    }
}

async fn recover(engine: &Engine, started_ms: u64) -> Result<(), EngineError> {
    let inner = engine.inner();
    let _exclusive = inner.timers_lock().lock().await;
    // Ids made from this start on are at or above this one.
    let boundary = MessageId::from_u128(u128::from(started_ms) << 80);
    let mut after = None;
    let mut recovered = 0usize;
    loop {
        // Do not fill memory beyond what intake would accept.
        while inner.queued().load(Ordering::Relaxed) >= inner.config().max_queued {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let page = inner
            .stores()
            .messages
            .pending_outbox(None, after, PAGE)
            .await?;
        let full = page.len() == PAGE;
        after = page.last().map(|e| e.message.id);
        let before = page.len();
        let page: Vec<_> = page
            .into_iter()
            .take_while(|e| e.message.id < boundary)
            .collect();
        let done = page.len() < before || !full;
        recovered += page.len();
        dispatch_entries(engine, page);
        if done {
            break;
        }
    }
    if recovered > 0 {
        tracing::info!(messages = recovered, "outbox recovered for dispatch");
    }
    Ok(())
}

/// One run of every timer.
pub(crate) async fn run_once(engine: &Engine) -> Result<(), EngineError> {
    let inner = engine.inner();
    let _exclusive = inner.timers_lock().lock().await;
    let stores = inner.stores();
    let now = inner.clock().now_ms();
    loop {
        let due = stores.messages.due_scheduled(now, PAGE).await?;
        let more = due.len() == PAGE;
        dispatch_entries(engine, due);
        if !more {
            break;
        }
    }
    let grace = u64::try_from(inner.config().expiry_grace.as_millis()).unwrap_or(u64::MAX);
    let cutoff = now.saturating_sub(grace);
    loop {
        let expired = stores.messages.expire_overdue(cutoff, now, PAGE).await?;
        let n = expired.len();
        Tally::add(&inner.tally().expired, n as u64);
        inner.metrics().expired.inc_by(n as u64);
        if n < PAGE {
            break;
        }
    }
    let ttl = PARKED_RECEIPT_TTL.as_millis() as u64;
    stores
        .messages
        .drop_parked_receipts(now.saturating_sub(ttl))
        .await?;
    Ok(())
}

/// Queues outbox entries on their connectors (routing again when the stored connector is
/// no longer configured).
fn dispatch_entries(engine: &Engine, entries: Vec<OutboxEntry>) {
    if entries.is_empty() {
        return;
    }
    let inner = engine.inner();
    let connectors = inner.connectors();
    let mut queues: Vec<Vec<OutMsg>> = (0..connectors.len()).map(|_| Vec::new()).collect();
    let now = Instant::now();
    for entry in entries {
        let m = entry.message;
        let Some(index) = engine
            .connector_index(&m.connector)
            .or_else(|| engine.route(&m.to, 0))
        else {
            tracing::warn!(message = %m.id, connector = %m.connector, "no connector for a stored message; it stays in the outbox");
            continue;
        };
        let pending: Vec<(u8, u32)> = m
            .segments
            .iter()
            .filter(|s| s.status == SegmentStatus::Pending)
            .map(|s| (s.index, s.failed_attempts))
            .collect();
        if pending.is_empty() {
            continue;
        }
        let total = u8::try_from(m.segments.len()).unwrap_or(u8::MAX);
        queues[index].push(OutMsg {
            id: m.id,
            to: m.to,
            from: m.from,
            text: m.text,
            expires_at_ms: m.expires_at_ms,
            accepted_at: now,
            pending: (pending.len() != m.segments.len() || pending.iter().any(|(_, a)| *a > 0))
                .then_some(pending),
            total,
            due_at_ms: entry.due_at_ms,
        });
    }
    for (index, queue) in queues.into_iter().enumerate() {
        if !queue.is_empty() {
            inner.queued().fetch_add(queue.len(), Ordering::Relaxed);
            connectors[index].enqueue(queue);
        }
    }
}
