//! Campaign reports: counts, funnel, latency, operators, errors, and the per-recipient lines.
//!
//! Everything is computed from the campaign's messages (read page by page by `seq`), so a
//! report is always consistent with `GET /v1/messages/{id}`. A large campaign's numbers are
//! kept for a few times as long as they took to compute; clicks are always read fresh.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tuma_domain::MessageStatus;
use tuma_store::{CampaignMessage, CampaignRecord, CampaignStatus};

use super::{
    CampaignCounts, CampaignError, CampaignReport, Latency, OperatorBreakdown, RecipientRow,
};
use crate::{lock, Engine};

/// Messages read per store call.
const PAGE: usize = 10_000;
/// Reports that took less than this are never cached.
const CACHE_ABOVE: Duration = Duration::from_millis(50);

/// The numbers of a report (without clicks, which are read each time).
#[derive(Debug, Clone, Default)]
pub(crate) struct Numbers {
    counts: CampaignCounts,
    latency: Latency,
    operators: Vec<OperatorBreakdown>,
    errors: Vec<(String, u64)>,
}

/// A cached report.
pub(crate) struct Cached {
    at: Instant,
    took: Duration,
    numbers: Arc<Numbers>,
}

/// The operator of a number: the longest configured prefix, else `+<country code>`.
fn operator_of(engine: &Engine, e164: &str, country: u16) -> String {
    engine
        .inner
        .config
        .campaigns
        .operators
        .iter()
        .filter(|(_, prefix)| e164.starts_with(prefix.as_str()))
        .max_by_key(|(_, prefix)| prefix.len())
        .map_or_else(|| format!("+{country}"), |(name, _)| name.clone())
}

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

async fn compute(engine: &Engine, campaign: &CampaignRecord) -> Result<Numbers, CampaignError> {
    let store = &engine.inner.stores.campaigns;
    let list = store.get_list(campaign.list).await?;
    let mut counts = CampaignCounts::default();
    if let Some(l) = &list {
        counts.total = l.totals.rows;
        counts.invalid = l.totals.rejected;
        counts.duplicates = l.totals.duplicates;
        counts.recipients = l.totals.accepted;
    }
    let mut latencies = Vec::new();
    let mut operators: HashMap<String, OperatorBreakdown> = HashMap::new();
    let mut errors: HashMap<String, u64> = HashMap::new();
    let mut messages = 0u64;
    let mut after = 0;
    loop {
        let page = store.campaign_messages(campaign.id, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for m in &page {
            messages += 1;
            tally(
                engine,
                m,
                &mut counts,
                &mut latencies,
                &mut operators,
                &mut errors,
            );
        }
        if page.len() < PAGE {
            break;
        }
    }
    let not_sent = counts.recipients.saturating_sub(messages);
    match campaign.status {
        CampaignStatus::Cancelled => counts.cancelled = not_sent,
        // Completed: every recipient was handed over; the ones with no message could not be
        // rendered or were refused by the intake.
        CampaignStatus::Completed => counts.rejected += not_sent,
        _ => counts.pending = not_sent,
    }
    latencies.sort_unstable();
    let latency = Latency {
        p50: percentile(&latencies, 50.0),
        p90: percentile(&latencies, 90.0),
        p99: percentile(&latencies, 99.0),
    };
    let mut operators: Vec<_> = operators.into_values().collect();
    operators.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then(a.operator.cmp(&b.operator))
    });
    let mut errors: Vec<_> = errors.into_iter().collect();
    errors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(Numbers {
        counts,
        latency,
        operators,
        errors,
    })
}

fn tally(
    engine: &Engine,
    m: &CampaignMessage,
    counts: &mut CampaignCounts,
    latencies: &mut Vec<u64>,
    operators: &mut HashMap<String, OperatorBreakdown>,
    errors: &mut HashMap<String, u64>,
) {
    if m.status == MessageStatus::Suppressed {
        counts.suppressed += 1;
        return;
    }
    counts.accepted += 1;
    counts.segments += u64::from(m.segments);
    let submitted = m.submitted_at_ms.is_some()
        || matches!(
            m.status,
            MessageStatus::Submitted | MessageStatus::Delivered
        );
    if submitted {
        counts.submitted += 1;
    }
    match m.status {
        MessageStatus::Delivered => {
            counts.delivered += 1;
            if let Some(at) = m.finished_at_ms {
                latencies.push(at.saturating_sub(m.created_at_ms));
            }
        }
        MessageStatus::Failed => counts.failed += 1,
        MessageStatus::Expired => counts.expired += 1,
        MessageStatus::Rejected => counts.rejected += 1,
        _ => {}
    }
    if let Some(code) = &m.error_code {
        if m.status == MessageStatus::Failed || m.status == MessageStatus::Rejected {
            *errors.entry(code.clone()).or_default() += 1;
        }
    }
    let e164 = m.to.as_e164();
    let name = operator_of(engine, &e164, m.to.country_code());
    let o = operators
        .entry(name.clone())
        .or_insert_with(|| OperatorBreakdown {
            operator: name,
            messages: 0,
            delivered: 0,
            failed: 0,
            expired: 0,
        });
    o.messages += 1;
    match m.status {
        MessageStatus::Delivered => o.delivered += 1,
        MessageStatus::Failed => o.failed += 1,
        MessageStatus::Expired => o.expired += 1,
        _ => {}
    }
}

/// The report of `campaign`.
pub(crate) async fn build(
    engine: &Engine,
    campaign: CampaignRecord,
) -> Result<CampaignReport, CampaignError> {
    let cached = lock(&engine.inner.campaign_reports)
        .get(&campaign.id)
        .filter(|c| c.at.elapsed() < (c.took * 4).max(Duration::from_secs(1)))
        .map(|c| c.numbers.clone());
    let numbers = match cached {
        Some(n) => n,
        None => {
            let started = Instant::now();
            let n = Arc::new(compute(engine, &campaign).await?);
            let took = started.elapsed();
            let mut cache = lock(&engine.inner.campaign_reports);
            if took >= CACHE_ABOVE {
                cache.insert(
                    campaign.id,
                    Cached {
                        at: Instant::now(),
                        took,
                        numbers: n.clone(),
                    },
                );
            } else {
                cache.remove(&campaign.id);
            }
            n
        }
    };
    let clicks = engine
        .inner
        .stores
        .campaigns
        .click_totals(campaign.id)
        .await?;
    let mut counts = numbers.counts;
    counts.clicks = clicks.clicks;
    counts.unique_clicks = clicks.unique_recipients;
    let delivery_rate =
        (counts.accepted > 0).then(|| counts.delivered as f64 / counts.accepted as f64);
    let click_through_rate = (campaign.track_links && counts.delivered > 0)
        .then(|| counts.unique_clicks as f64 / counts.delivered as f64);
    Ok(CampaignReport {
        campaign,
        counts,
        delivery_rate,
        click_through_rate,
        latency: numbers.latency,
        operators: numbers.operators.clone(),
        errors: numbers.errors.clone(),
    })
}

/// One page of `recipients.csv`.
pub(crate) async fn recipient_rows(
    engine: &Engine,
    campaign: &CampaignRecord,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<RecipientRow>, CampaignError> {
    let store = &engine.inner.stores.campaigns;
    let limit = limit.clamp(1, PAGE);
    let recipients = store
        .recipients(campaign.list, None, after_seq, limit)
        .await?;
    let Some(last) = recipients.last().map(|r| r.seq) else {
        return Ok(Vec::new());
    };
    // At most one message per recipient: the first `limit` messages after `after_seq` cover
    // every recipient of the page.
    let messages: HashMap<u64, CampaignMessage> = store
        .campaign_messages(campaign.id, after_seq, limit)
        .await?
        .into_iter()
        .filter(|m| m.seq <= last)
        .map(|m| (m.seq, m))
        .collect();
    let clicks: HashMap<u64, u64> = store
        .clicks_by_recipient(campaign.id, after_seq, limit)
        .await?
        .into_iter()
        .collect();
    let unsent = match campaign.status {
        CampaignStatus::Cancelled => "cancelled",
        CampaignStatus::Completed => "not_sent",
        _ => "pending",
    };
    Ok(recipients
        .into_iter()
        .map(|r| {
            let m = messages.get(&r.seq);
            RecipientRow {
                seq: r.seq,
                line: r.line,
                to: r.to.as_e164(),
                status: m.map_or(unsent, |m| m.status.as_str()).to_owned(),
                message_id: m.map(|m| m.id.to_string()),
                error: m.and_then(|m| m.error_code.clone()),
                segments: m.map(|m| m.segments),
                submitted_at_ms: m.and_then(|m| m.submitted_at_ms),
                delivered_at_ms: m
                    .filter(|m| m.status == MessageStatus::Delivered)
                    .and_then(|m| m.finished_at_ms),
                clicks: clicks.get(&r.seq).copied().unwrap_or(0),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 90.0), Some(90));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
