//! The in-memory backend: everything in one `Mutex`-guarded state, for engine and HTTP tests.
//!
//! Each call holds the lock for its whole duration (never across an `.await`), so every call
//! is atomic, as a transaction is in the database backends. Nothing survives the process.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tuma_domain::{ConnectorId, MessageId, MessageStatus, Msisdn, SegmentStatus};

use crate::apply::{self, LiveMessage, WriteTx};
use crate::campaigns::CampaignRef;
use crate::error::StoreError;
use crate::memory_campaigns::CampaignState;
use crate::ports::{
    AccountStore, InboundStore, MessageStore, Stores, SuppressionStore, WebhookStore,
};
use crate::records::{
    Account, AccountId, AccountSettings, ApiKey, ApiKeyHash, ErrorInfo, InboundRecord,
    InsertOutcome, MessageRecord, NewMessageRecord, OutboxEntry, ReceiptUpdate, SegmentRecord,
    StatusEvent, SubmitResult, UpdateOutcome, WebhookAttempt, WebhookAttemptResult,
    WebhookDelivery, WebhookEvent, WebhookState,
};

/// The in-memory backend. Cheap to create; clone the `Arc` to share.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

/// Everything the memory backend holds (shared with `memory_campaigns`).
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) messages: BTreeMap<MessageId, Stored>,
    /// Campaign recipient -> its message (the reference is unique among messages).
    pub(crate) campaign_refs: BTreeMap<CampaignRef, MessageId>,
    /// Lists, recipients, campaigns, links and clicks.
    pub(crate) campaigns: CampaignState,
    idempotency: HashMap<(AccountId, String), MessageId>,
    /// Message id -> due time.
    outbox: BTreeMap<MessageId, u64>,
    smsc_keys: HashMap<(ConnectorId, String), (MessageId, u8)>,
    parked: BTreeMap<u64, (ReceiptUpdate, Vec<String>)>,
    parked_keys: HashMap<(ConnectorId, String), BTreeSet<u64>>,
    next_parked: u64,
    accounts: BTreeMap<AccountId, Account>,
    keys: BTreeMap<u64, ApiKey>,
    suppressed: BTreeSet<(AccountId, u64)>,
    inbound: BTreeMap<MessageId, InboundRecord>,
    webhooks: BTreeMap<u64, WebhookDelivery>,
}

#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) record: MessageRecord,
    body_hash: Option<[u8; 32]>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store behind all five ports.
    pub fn stores() -> Stores {
        Stores::from_backend(Arc::new(Self::new()))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock can only come from a bug in this module; the state
        // is still structurally valid then, so keep serving rather than poison every caller.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn new_record(m: NewMessageRecord) -> (MessageRecord, Option<[u8; 32]>) {
    let body_hash = m.idempotency.as_ref().map(|i| i.body_hash);
    let record = MessageRecord {
        id: m.id,
        account: m.account,
        to: m.to,
        from: m.from,
        text: m.text,
        encoding: m.encoding,
        status: m.status,
        connector: m.connector,
        multipart: m.multipart,
        reference: m.reference,
        callback_url: m.callback_url,
        idempotency_key: m.idempotency.map(|i| i.key),
        campaign: m.campaign,
        created_at_ms: m.created_at_ms,
        send_at_ms: m.send_at_ms,
        expires_at_ms: m.expires_at_ms,
        segments: (0..m.segments)
            .map(|index| SegmentRecord {
                index,
                status: SegmentStatus::Pending,
                smsc_id: None,
                failed_attempts: 0,
            })
            .collect(),
        events: vec![StatusEvent {
            status: m.status,
            at_ms: m.created_at_ms,
            detail: None,
        }],
        error: None,
    };
    (record, body_hash)
}

impl State {
    fn msg(&mut self, id: MessageId) -> Result<&mut MessageRecord, StoreError> {
        self.messages
            .get_mut(&id)
            .map(|s| &mut s.record)
            .ok_or(StoreError::NotFound {
                what: "message",
                value: id.to_string(),
            })
    }

    fn segment(&mut self, id: MessageId, segment: u8) -> Result<&mut SegmentRecord, StoreError> {
        self.msg(id)?
            .segments
            .get_mut(usize::from(segment))
            .ok_or(StoreError::NotFound {
                what: "segment",
                value: format!("{id}/{segment}"),
            })
    }

    fn entry(&self, id: MessageId, due_at_ms: u64) -> Option<OutboxEntry> {
        self.messages.get(&id).map(|s| OutboxEntry {
            message: s.record.clone(),
            due_at_ms,
        })
    }
}

impl WriteTx for State {
    fn load(&mut self, id: MessageId) -> Result<Option<LiveMessage>, StoreError> {
        Ok(self.messages.get(&id).map(|s| LiveMessage {
            id,
            account: s.record.account,
            status: s.record.status,
            multipart: s.record.multipart,
            callback_url: s.record.callback_url.clone(),
            segments: s.record.segments.iter().map(|g| g.status).collect(),
        }))
    }

    fn set_segment_status(
        &mut self,
        id: MessageId,
        segment: u8,
        status: SegmentStatus,
    ) -> Result<(), StoreError> {
        self.segment(id, segment)?.status = status;
        Ok(())
    }

    fn set_segment_smsc_id(
        &mut self,
        id: MessageId,
        segment: u8,
        smsc_id: &str,
    ) -> Result<(), StoreError> {
        self.segment(id, segment)?.smsc_id = Some(smsc_id.to_owned());
        Ok(())
    }

    fn add_failed_attempt(&mut self, id: MessageId, segment: u8) -> Result<(), StoreError> {
        let s = self.segment(id, segment)?;
        s.failed_attempts = s.failed_attempts.saturating_add(1);
        Ok(())
    }

    fn set_message_status(
        &mut self,
        id: MessageId,
        status: MessageStatus,
        at_ms: u64,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        let m = self.msg(id)?;
        m.status = status;
        m.events.push(StatusEvent {
            status,
            at_ms,
            detail: detail.map(str::to_owned),
        });
        Ok(())
    }

    fn set_error_if_none(&mut self, id: MessageId, error: &ErrorInfo) -> Result<(), StoreError> {
        let m = self.msg(id)?;
        if m.error.is_none() {
            m.error = Some(error.clone());
        }
        Ok(())
    }

    fn enqueue_webhook(
        &mut self,
        account: AccountId,
        id: MessageId,
        url: &str,
        status: MessageStatus,
        at_ms: u64,
    ) -> Result<(), StoreError> {
        let next = self.webhooks.keys().next_back().map_or(1, |k| k + 1);
        self.webhooks.insert(
            next,
            WebhookDelivery {
                id: next,
                account,
                message: id,
                url: url.to_owned(),
                event: WebhookEvent::Status(status),
                status_at_ms: at_ms,
                attempts: 0,
                next_at_ms: at_ms,
                last_error: None,
                state: WebhookState::Pending,
            },
        );
        Ok(())
    }

    fn set_outbox_due(&mut self, id: MessageId, due_at_ms: u64) -> Result<(), StoreError> {
        if let Some(due) = self.outbox.get_mut(&id) {
            *due = due_at_ms;
        }
        Ok(())
    }

    fn delete_outbox(&mut self, id: MessageId) -> Result<(), StoreError> {
        self.outbox.remove(&id);
        Ok(())
    }

    fn index_smsc_key(
        &mut self,
        connector: &ConnectorId,
        key: &str,
        id: MessageId,
        segment: u8,
    ) -> Result<(), StoreError> {
        self.smsc_keys
            .insert((connector.clone(), key.to_owned()), (id, segment));
        Ok(())
    }

    fn lookup_smsc_key(
        &mut self,
        connector: &ConnectorId,
        key: &str,
    ) -> Result<Option<(MessageId, u8)>, StoreError> {
        Ok(self
            .smsc_keys
            .get(&(connector.clone(), key.to_owned()))
            .copied())
    }

    fn park(&mut self, receipt: &ReceiptUpdate, keys: &[String]) -> Result<(), StoreError> {
        self.next_parked += 1;
        let n = self.next_parked;
        for k in keys {
            self.parked_keys
                .entry((receipt.connector.clone(), k.clone()))
                .or_default()
                .insert(n);
        }
        self.parked.insert(n, (receipt.clone(), keys.to_vec()));
        Ok(())
    }

    fn take_parked(
        &mut self,
        connector: &ConnectorId,
        keys: &[String],
    ) -> Result<Vec<ReceiptUpdate>, StoreError> {
        let mut ids = BTreeSet::new();
        for k in keys {
            if let Some(set) = self.parked_keys.get(&(connector.clone(), k.clone())) {
                ids.extend(set.iter().copied());
            }
        }
        Ok(ids
            .into_iter()
            .filter_map(|n| self.remove_parked(n))
            .collect())
    }
}

impl State {
    /// Removes a parked receipt and its keys.
    fn remove_parked(&mut self, n: u64) -> Option<ReceiptUpdate> {
        let (receipt, keys) = self.parked.remove(&n)?;
        for k in keys {
            let slot = (receipt.connector.clone(), k);
            if let Some(set) = self.parked_keys.get_mut(&slot) {
                set.remove(&n);
                if set.is_empty() {
                    self.parked_keys.remove(&slot);
                }
            }
        }
        Some(receipt)
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn insert_batch(
        &self,
        batch: Vec<NewMessageRecord>,
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        let mut st = self.lock();
        let mut out = Vec::with_capacity(batch.len());
        for m in batch {
            if let Err(invalid) = apply::validate_new(&m) {
                out.push(invalid);
                continue;
            }
            if let Some(idem) = &m.idempotency {
                let slot = (m.account, idem.key.clone());
                if let Some(&existing) = st.idempotency.get(&slot) {
                    let same = st
                        .messages
                        .get(&existing)
                        .is_some_and(|s| s.body_hash == Some(idem.body_hash));
                    out.push(if same {
                        InsertOutcome::Duplicate { existing }
                    } else {
                        InsertOutcome::IdempotencyConflict { existing }
                    });
                    continue;
                }
            }
            // A campaign recipient gets one message, even when its runner repeats a page
            // (with new ids) after a crash.
            if let Some(existing) = m.campaign.and_then(|r| st.campaign_refs.get(&r).copied()) {
                out.push(InsertOutcome::Duplicate { existing });
                continue;
            }
            if st.messages.contains_key(&m.id) {
                out.push(InsertOutcome::IdTaken);
                continue;
            }
            let due = apply::initial_outbox_due(&m);
            let (record, body_hash) = new_record(m);
            let id = record.id;
            if let Some(key) = &record.idempotency_key {
                st.idempotency.insert((record.account, key.clone()), id);
            }
            if let Some(reference) = record.campaign {
                st.campaign_refs.insert(reference, id);
            }
            if let Some(due) = due {
                st.outbox.insert(id, due);
            }
            st.messages.insert(id, Stored { record, body_hash });
            out.push(InsertOutcome::Inserted);
        }
        Ok(out)
    }

    async fn get(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError> {
        let st = self.lock();
        Ok(st
            .messages
            .get(&id)
            .filter(|s| s.record.account == account)
            .map(|s| s.record.clone()))
    }

    async fn pending_outbox(
        &self,
        connector: Option<&ConnectorId>,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let st = self.lock();
        let start = match after {
            Some(a) => std::ops::Bound::Excluded(a),
            None => std::ops::Bound::Unbounded,
        };
        Ok(st
            .outbox
            .range((start, std::ops::Bound::Unbounded))
            .filter_map(|(id, due)| st.entry(*id, *due))
            .filter(|e| e.message.status == MessageStatus::Accepted)
            .filter(|e| connector.is_none_or(|c| &e.message.connector == c))
            .take(limit)
            .collect())
    }

    async fn due_scheduled(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut st = self.lock();
        let mut due: Vec<(u64, MessageId)> = st
            .messages
            .values()
            .filter(|s| s.record.status == MessageStatus::Scheduled)
            .filter_map(|s| s.record.send_at_ms.map(|at| (at, s.record.id)))
            .filter(|(at, _)| *at <= now_ms)
            .collect();
        due.sort();
        due.truncate(limit);
        let mut out = Vec::with_capacity(due.len());
        for (_, id) in due {
            if apply::release_scheduled(&mut *st, id, now_ms)? {
                let at = st.outbox.get(&id).copied().unwrap_or(now_ms);
                out.extend(st.entry(id, at));
            }
        }
        Ok(out)
    }

    async fn record_submit_results(
        &self,
        results: Vec<SubmitResult>,
    ) -> Result<Vec<UpdateOutcome>, StoreError> {
        apply::submit_results(&mut *self.lock(), &results)
    }

    async fn record_receipts(
        &self,
        receipts: Vec<ReceiptUpdate>,
    ) -> Result<Vec<UpdateOutcome>, StoreError> {
        apply::receipts(&mut *self.lock(), &receipts)
    }

    async fn drop_parked_receipts(&self, before_ms: u64) -> Result<u64, StoreError> {
        let mut st = self.lock();
        let old: Vec<u64> = st
            .parked
            .iter()
            .filter(|(_, (r, _))| r.at_ms < before_ms)
            .map(|(n, _)| *n)
            .collect();
        let dropped = old.into_iter().filter_map(|n| st.remove_parked(n)).count();
        Ok(dropped as u64)
    }

    async fn expire_overdue(
        &self,
        cutoff_ms: u64,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<MessageId>, StoreError> {
        let mut st = self.lock();
        let overdue: Vec<MessageId> = st
            .messages
            .values()
            .filter(|s| !s.record.status.is_final() && s.record.expires_at_ms <= cutoff_ms)
            .map(|s| s.record.id)
            .take(limit)
            .collect();
        let mut out = Vec::with_capacity(overdue.len());
        for id in overdue {
            if apply::expire(&mut *st, id, now_ms)? {
                out.push(id);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn create_account(&self, name: &str, now_ms: u64) -> Result<Account, StoreError> {
        let mut st = self.lock();
        if st.accounts.values().any(|a| a.name == name) {
            return Err(StoreError::AlreadyExists {
                what: "account",
                value: name.to_owned(),
            });
        }
        let id = AccountId(st.accounts.keys().next_back().map_or(1, |k| k.0 + 1));
        let account = Account {
            id,
            name: name.to_owned(),
            created_at_ms: now_ms,
            settings: AccountSettings::default(),
        };
        st.accounts.insert(id, account.clone());
        Ok(account)
    }

    async fn get_account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        Ok(self.lock().accounts.get(&id).cloned())
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        Ok(self.lock().accounts.values().cloned().collect())
    }

    async fn update_account_settings(
        &self,
        id: AccountId,
        settings: AccountSettings,
    ) -> Result<Account, StoreError> {
        let mut st = self.lock();
        let account = st
            .accounts
            .get_mut(&id)
            .ok_or_else(|| StoreError::NotFound {
                what: "account",
                value: id.to_string(),
            })?;
        account.settings = settings;
        Ok(account.clone())
    }

    async fn add_api_key(
        &self,
        account: AccountId,
        label: &str,
        hash: ApiKeyHash,
        now_ms: u64,
    ) -> Result<ApiKey, StoreError> {
        let mut st = self.lock();
        if !st.accounts.contains_key(&account) {
            return Err(StoreError::NotFound {
                what: "account",
                value: account.to_string(),
            });
        }
        if st.keys.values().any(|k| k.hash == hash) {
            return Err(StoreError::AlreadyExists {
                what: "api key",
                value: label.to_owned(),
            });
        }
        let id = st.keys.keys().next_back().map_or(1, |k| k + 1);
        let key = ApiKey {
            id,
            account,
            label: label.to_owned(),
            hash,
            created_at_ms: now_ms,
        };
        st.keys.insert(id, key.clone());
        Ok(key)
    }

    async fn find_api_key(&self, hash: ApiKeyHash) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.lock().keys.values().find(|k| k.hash == hash).cloned())
    }

    async fn revoke_api_key(&self, id: u64) -> Result<bool, StoreError> {
        // Revoked keys are deleted: only live keys are ever looked up.
        Ok(self.lock().keys.remove(&id).is_some())
    }
}

#[async_trait]
impl SuppressionStore for MemoryStore {
    async fn suppress(
        &self,
        account: AccountId,
        number: Msisdn,
        _reason: &str,
        _now_ms: u64,
    ) -> Result<bool, StoreError> {
        Ok(self.lock().suppressed.insert((account, number.as_u64())))
    }

    async fn unsuppress(&self, account: AccountId, number: Msisdn) -> Result<bool, StoreError> {
        Ok(self.lock().suppressed.remove(&(account, number.as_u64())))
    }

    async fn suppressed_among(
        &self,
        account: AccountId,
        numbers: &[Msisdn],
    ) -> Result<Vec<Msisdn>, StoreError> {
        let st = self.lock();
        Ok(numbers
            .iter()
            .filter(|n| st.suppressed.contains(&(account, n.as_u64())))
            .copied()
            .collect())
    }
}

#[async_trait]
impl InboundStore for MemoryStore {
    async fn insert_inbound(&self, batch: Vec<InboundRecord>) -> Result<u64, StoreError> {
        let mut st = self.lock();
        let mut stored = 0;
        for r in batch {
            if st.inbound.contains_key(&r.id) {
                continue;
            }
            if let Some(url) = &r.webhook_url {
                let next = st.webhooks.keys().next_back().map_or(1, |k| k + 1);
                st.webhooks.insert(
                    next,
                    WebhookDelivery {
                        id: next,
                        account: r.account,
                        message: r.id,
                        url: url.clone(),
                        event: WebhookEvent::Inbound,
                        status_at_ms: r.received_at_ms,
                        attempts: 0,
                        next_at_ms: r.received_at_ms,
                        last_error: None,
                        state: WebhookState::Pending,
                    },
                );
            }
            st.inbound.insert(r.id, r);
            stored += 1;
        }
        Ok(stored)
    }

    async fn get_inbound(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<InboundRecord>, StoreError> {
        Ok(self
            .lock()
            .inbound
            .get(&id)
            .filter(|r| r.account == account)
            .cloned())
    }

    async fn list_inbound(
        &self,
        account: AccountId,
        before: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<InboundRecord>, StoreError> {
        let st = self.lock();
        let end = match before {
            Some(b) => std::ops::Bound::Excluded(b),
            None => std::ops::Bound::Unbounded,
        };
        Ok(st
            .inbound
            .range((std::ops::Bound::Unbounded, end))
            .rev()
            .map(|(_, r)| r)
            .filter(|r| r.account == account)
            .take(limit)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn claim_due_webhooks(
        &self,
        now_ms: u64,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let mut st = self.lock();
        let mut out = Vec::new();
        for w in st.webhooks.values_mut() {
            if out.len() >= limit {
                break;
            }
            if w.state == WebhookState::Pending && w.next_at_ms <= now_ms {
                w.next_at_ms = now_ms.saturating_add(lease_ms);
                out.push(w.clone());
            }
        }
        Ok(out)
    }

    async fn record_webhook_attempts(
        &self,
        attempts: Vec<WebhookAttempt>,
    ) -> Result<(), StoreError> {
        let mut st = self.lock();
        for a in attempts {
            let Some(w) = st.webhooks.get_mut(&a.id) else {
                continue;
            };
            w.attempts = w.attempts.saturating_add(1);
            match a.result {
                WebhookAttemptResult::Delivered => w.state = WebhookState::Delivered,
                WebhookAttemptResult::Retry { next_at_ms, error } => {
                    w.next_at_ms = next_at_ms;
                    w.last_error = Some(error);
                }
                WebhookAttemptResult::GiveUp { error } => {
                    w.state = WebhookState::Failed;
                    w.last_error = Some(error);
                }
            }
        }
        Ok(())
    }

    async fn webhook_failures(
        &self,
        account: AccountId,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let st = self.lock();
        Ok(st
            .webhooks
            .values()
            .rev()
            .filter(|w| w.account == account)
            .filter(|w| w.state != WebhookState::Delivered && w.last_error.is_some())
            .take(limit)
            .cloned()
            .collect())
    }
}
