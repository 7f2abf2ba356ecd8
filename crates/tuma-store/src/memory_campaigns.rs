//! The in-memory backend's [`CampaignStore`]: lists, recipients, campaigns, links and clicks
//! kept in [`CampaignState`], inside the same mutex-guarded state as the messages, so each
//! call is atomic like a transaction.
//!
//! Campaign messages are ordinary messages; `campaign_messages` reads them through the
//! `(campaign, seq) -> message` index that `insert_batch` keeps.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use async_trait::async_trait;

use crate::campaigns::{
    message_times, CampaignId, CampaignMessage, CampaignRecord, CampaignRef, CampaignStatus,
    CampaignStore, ClickRecord, ClickTotals, GroupCursor, ImportTotals, LinkRecord, ListId,
    ListRecord, ListStatus, NewCampaign, NewList, NewRecipient, RecipientRecord,
};
use crate::error::StoreError;
use crate::memory::MemoryStore;
use crate::records::{AccountId, MessageRecord};

/// The campaign side of the memory backend's state.
#[derive(Debug, Default)]
pub(crate) struct CampaignState {
    lists: BTreeMap<ListId, ListRecord>,
    /// By (list, seq).
    recipients: BTreeMap<(ListId, u64), RecipientRecord>,
    /// The last list id handed out (ids are never reused, even after a delete).
    last_list: u64,
    campaigns: BTreeMap<CampaignId, CampaignRecord>,
    last_campaign: u64,
    links: BTreeMap<String, LinkRecord>,
    /// Clicks per (campaign, seq).
    clicks: BTreeMap<(CampaignId, u64), u64>,
}

impl CampaignState {
    fn list_mut(&mut self, id: ListId) -> Result<&mut ListRecord, StoreError> {
        self.lists.get_mut(&id).ok_or_else(|| list_not_found(id))
    }

    fn campaign_mut(&mut self, id: CampaignId) -> Result<&mut CampaignRecord, StoreError> {
        self.campaigns
            .get_mut(&id)
            .ok_or_else(|| campaign_not_found(id))
    }
}

fn list_not_found(id: ListId) -> StoreError {
    StoreError::NotFound {
        what: "list",
        value: id.to_string(),
    }
}

fn campaign_not_found(id: CampaignId) -> StoreError {
    StoreError::NotFound {
        what: "campaign",
        value: id.to_string(),
    }
}

fn campaign_message(seq: u64, m: &MessageRecord) -> CampaignMessage {
    let (submitted_at_ms, finished_at_ms) =
        message_times(m.events.iter().map(|e| (e.status, e.at_ms)), m.status);
    CampaignMessage {
        seq,
        id: m.id,
        to: m.to,
        status: m.status,
        // A message has at most 255 parts (the concatenation reference's limit).
        segments: u8::try_from(m.segments.len()).unwrap_or(u8::MAX),
        error_code: m.error.as_ref().map(|e| e.code.clone()),
        created_at_ms: m.created_at_ms,
        submitted_at_ms,
        finished_at_ms,
    }
}

#[async_trait]
impl CampaignStore for MemoryStore {
    async fn create_list(&self, list: NewList) -> Result<ListRecord, StoreError> {
        let mut st = self.lock();
        let c = &mut st.campaigns;
        c.last_list += 1;
        let record = ListRecord {
            id: ListId(c.last_list),
            account: list.account,
            name: list.name,
            columns: list.columns,
            status: ListStatus::Importing,
            totals: ImportTotals::default(),
            offsets: Vec::new(),
            created_at_ms: list.created_at_ms,
        };
        c.lists.insert(record.id, record.clone());
        Ok(record)
    }

    async fn insert_recipients(
        &self,
        list: ListId,
        recipients: Vec<NewRecipient>,
    ) -> Result<(), StoreError> {
        let mut st = self.lock();
        let c = &mut st.campaigns;
        if !c.lists.contains_key(&list) {
            return Err(list_not_found(list));
        }
        // Check the whole call first: nothing is stored if one `seq` is taken.
        let mut seen = BTreeSet::new();
        for r in &recipients {
            if c.recipients.contains_key(&(list, r.seq)) || !seen.insert(r.seq) {
                return Err(StoreError::AlreadyExists {
                    what: "recipient seq",
                    value: format!("list {list} seq {}", r.seq),
                });
            }
        }
        c.recipients
            .extend(recipients.into_iter().map(|r| ((list, r.seq), r)));
        Ok(())
    }

    async fn finish_list(
        &self,
        list: ListId,
        totals: ImportTotals,
        mut offsets: Vec<(i16, u64)>,
    ) -> Result<ListRecord, StoreError> {
        let mut st = self.lock();
        let record = st.campaigns.list_mut(list)?;
        offsets.sort_unstable();
        record.status = ListStatus::Ready;
        record.totals = totals;
        record.offsets = offsets;
        Ok(record.clone())
    }

    async fn delete_list(&self, list: ListId) -> Result<bool, StoreError> {
        let mut st = self.lock();
        let c = &mut st.campaigns;
        if c.lists.remove(&list).is_none() {
            return Ok(false);
        }
        let seqs: Vec<u64> = c
            .recipients
            .range((list, 0)..=(list, u64::MAX))
            .map(|(&(_, seq), _)| seq)
            .collect();
        for seq in seqs {
            c.recipients.remove(&(list, seq));
        }
        Ok(true)
    }

    async fn get_list(&self, list: ListId) -> Result<Option<ListRecord>, StoreError> {
        Ok(self.lock().campaigns.lists.get(&list).cloned())
    }

    async fn list_lists(
        &self,
        account: AccountId,
        before: Option<ListId>,
        limit: usize,
    ) -> Result<Vec<ListRecord>, StoreError> {
        let st = self.lock();
        let end = before.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(st
            .campaigns
            .lists
            .range((Bound::Unbounded, end))
            .rev()
            .map(|(_, l)| l)
            .filter(|l| l.account == account)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn lists_with_status(&self, status: ListStatus) -> Result<Vec<ListRecord>, StoreError> {
        let st = self.lock();
        Ok(st
            .campaigns
            .lists
            .values()
            .filter(|l| l.status == status)
            .cloned()
            .collect())
    }

    async fn recipients(
        &self,
        list: ListId,
        utc_offset_min: Option<i16>,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        let st = self.lock();
        Ok(st
            .campaigns
            .recipients
            .range((
                Bound::Excluded((list, after_seq)),
                Bound::Included((list, u64::MAX)),
            ))
            .map(|(_, r)| r)
            .filter(|r| utc_offset_min.is_none_or(|o| r.utc_offset_min == o))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn create_campaign(&self, campaign: NewCampaign) -> Result<CampaignRecord, StoreError> {
        let mut st = self.lock();
        let c = &mut st.campaigns;
        if !c.lists.contains_key(&campaign.list) {
            return Err(list_not_found(campaign.list));
        }
        c.last_campaign += 1;
        let record = CampaignRecord {
            id: CampaignId(c.last_campaign),
            account: campaign.account,
            name: campaign.name,
            list: campaign.list,
            from: campaign.from,
            template: campaign.template,
            track_links: campaign.track_links,
            link_base: campaign.link_base,
            send_at_ms: campaign.send_at_ms,
            window: campaign.window,
            rate: campaign.rate,
            status: campaign.status,
            cursors: campaign.cursors,
            created_at_ms: campaign.created_at_ms,
            updated_at_ms: campaign.created_at_ms,
        };
        c.campaigns.insert(record.id, record.clone());
        Ok(record)
    }

    async fn get_campaign(&self, id: CampaignId) -> Result<Option<CampaignRecord>, StoreError> {
        Ok(self.lock().campaigns.campaigns.get(&id).cloned())
    }

    async fn list_campaigns(
        &self,
        account: AccountId,
        before: Option<CampaignId>,
        limit: usize,
    ) -> Result<Vec<CampaignRecord>, StoreError> {
        let st = self.lock();
        let end = before.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(st
            .campaigns
            .campaigns
            .range((Bound::Unbounded, end))
            .rev()
            .map(|(_, c)| c)
            .filter(|c| c.account == account)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn campaigns_with_status(
        &self,
        statuses: &[CampaignStatus],
    ) -> Result<Vec<CampaignRecord>, StoreError> {
        let st = self.lock();
        Ok(st
            .campaigns
            .campaigns
            .values()
            .filter(|c| statuses.contains(&c.status))
            .cloned()
            .collect())
    }

    async fn set_campaign_status(
        &self,
        id: CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        now_ms: u64,
    ) -> Result<(CampaignRecord, bool), StoreError> {
        let mut st = self.lock();
        let record = st.campaigns.campaign_mut(id)?;
        let moved = from.contains(&record.status);
        if moved {
            record.status = to;
            record.updated_at_ms = now_ms;
        }
        Ok((record.clone(), moved))
    }

    async fn save_cursors(
        &self,
        id: CampaignId,
        cursors: Vec<GroupCursor>,
    ) -> Result<(), StoreError> {
        let mut st = self.lock();
        st.campaigns.campaign_mut(id)?.cursors = cursors;
        Ok(())
    }

    async fn insert_links(&self, links: Vec<LinkRecord>) -> Result<(), StoreError> {
        let mut st = self.lock();
        let c = &mut st.campaigns;
        // Check the whole call first: nothing is stored if one code is taken.
        let mut seen = BTreeSet::new();
        for l in &links {
            if c.links.contains_key(&l.code) || !seen.insert(l.code.as_str()) {
                return Err(StoreError::AlreadyExists {
                    what: "link code",
                    value: l.code.clone(),
                });
            }
        }
        c.links
            .extend(links.into_iter().map(|l| (l.code.clone(), l)));
        Ok(())
    }

    async fn find_link(&self, code: &str) -> Result<Option<LinkRecord>, StoreError> {
        Ok(self.lock().campaigns.links.get(code).cloned())
    }

    async fn record_click(&self, click: ClickRecord) -> Result<(), StoreError> {
        let mut st = self.lock();
        // Only the counts are ever read back (per campaign and recipient).
        let count = st
            .campaigns
            .clicks
            .entry((click.campaign, click.seq))
            .or_default();
        *count = count.saturating_add(1);
        Ok(())
    }

    async fn click_totals(&self, campaign: CampaignId) -> Result<ClickTotals, StoreError> {
        let st = self.lock();
        let mut totals = ClickTotals::default();
        for (_, &n) in st
            .campaigns
            .clicks
            .range((campaign, 0)..=(campaign, u64::MAX))
        {
            totals.clicks += n;
            totals.unique_recipients += 1;
        }
        Ok(totals)
    }

    async fn clicks_by_recipient(
        &self,
        campaign: CampaignId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let st = self.lock();
        Ok(st
            .campaigns
            .clicks
            .range((
                Bound::Excluded((campaign, after_seq)),
                Bound::Included((campaign, u64::MAX)),
            ))
            .map(|(&(_, seq), &n)| (seq, n))
            .take(limit)
            .collect())
    }

    async fn campaign_messages(
        &self,
        campaign: CampaignId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<CampaignMessage>, StoreError> {
        let st = self.lock();
        let from = CampaignRef {
            campaign,
            seq: after_seq,
        };
        let to = CampaignRef {
            campaign,
            seq: u64::MAX,
        };
        Ok(st
            .campaign_refs
            .range((Bound::Excluded(from), Bound::Included(to)))
            .filter_map(|(r, id)| {
                st.messages
                    .get(id)
                    .map(|s| campaign_message(r.seq, &s.record))
            })
            .take(limit)
            .collect())
    }
}
