//! The storage ports: object-safe async traits, held as `Arc<dyn ...>`.
//!
//! Every write method takes a batch and commits it in one transaction before it returns:
//! when `insert_batch` answers, the messages survive a crash. Backends may merge the batches
//! of concurrent callers into one commit (group commit); callers see no difference.

use std::sync::Arc;

use async_trait::async_trait;
use tuma_domain::{ConnectorId, MessageId, Msisdn};

use crate::campaigns::CampaignStore;
use crate::error::StoreError;
use crate::records::{
    Account, AccountId, AccountSettings, ApiKey, ApiKeyHash, InboundRecord, InsertOutcome,
    MessageRecord, NewMessageRecord, OutboxEntry, ReceiptUpdate, SubmitResult, UpdateOutcome,
    WebhookAttempt, WebhookDelivery,
};

/// Messages, their segments, outbox, receipts index and events.
///
/// Status changes made here (submit results, receipts, expiry) append a status event and,
/// when the message has a callback URL, queue a webhook delivery in the same transaction, so
/// a crash can lose neither.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores each message with its segments (`pending`), its first status event and, unless
    /// it is `suppressed`, its outbox entry (due at `send_at_ms`, or now). One outcome per
    /// message, in order; an idempotency conflict affects only its own message. Messages
    /// later in the batch see earlier ones (the same key twice gives `Duplicate`).
    async fn insert_batch(
        &self,
        batch: Vec<NewMessageRecord>,
    ) -> Result<Vec<InsertOutcome>, StoreError>;

    /// The message if it exists and belongs to `account`.
    async fn get(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError>;

    /// Outbox entries of `accepted` messages (optionally of one connector) with ids above
    /// `after`, in id order, at most `limit`: the dispatcher's recovery after a restart, page
    /// by page. Scheduled messages are not included until [`MessageStore::due_scheduled`]
    /// releases them.
    async fn pending_outbox(
        &self,
        connector: Option<&ConnectorId>,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Moves up to `limit` `scheduled` messages whose `send_at` is at or before `now_ms` to
    /// `accepted` (an event each) and returns them, oldest `send_at` first. A crash after
    /// this call loses nothing: they are then in [`MessageStore::pending_outbox`].
    async fn due_scheduled(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Applies submission results: stores the SMSC id (indexed under every key of
    /// [`smpp::id_keys`] for that connector), applies receipts parked under those keys,
    /// records retries' due times, fails segments, advances message statuses by their
    /// multipart policy, and removes the outbox entry once no segment is pending.
    async fn record_submit_results(
        &self,
        results: Vec<SubmitResult>,
    ) -> Result<Vec<UpdateOutcome>, StoreError>;

    /// Matches each receipt to a segment by (connector, SMSC id key) and applies it; a
    /// receipt that matches nothing is parked (outcome [`UpdateOutcome::Parked`]).
    async fn record_receipts(
        &self,
        receipts: Vec<ReceiptUpdate>,
    ) -> Result<Vec<UpdateOutcome>, StoreError>;

    /// Deletes parked receipts that arrived before `before_ms` (their submission never came
    /// back with a matching id). Returns how many.
    async fn drop_parked_receipts(&self, before_ms: u64) -> Result<u64, StoreError>;

    /// Expires up to `limit` messages that are not final and whose validity ended at or
    /// before `cutoff_ms` (the caller subtracts its grace period from now): their unfinished
    /// segments and the message become `expired` at `now_ms`, the outbox entry goes.
    async fn expire_overdue(
        &self,
        cutoff_ms: u64,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<MessageId>, StoreError>;
}

/// Accounts and their API keys (stored as hashes).
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates an account; the name must be unused ([`StoreError::AlreadyExists`]).
    async fn create_account(&self, name: &str, now_ms: u64) -> Result<Account, StoreError>;

    /// The account with this id.
    async fn get_account(&self, id: AccountId) -> Result<Option<Account>, StoreError>;

    /// Every account, by id.
    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError>;

    /// Replaces an account's settings and returns the account ([`StoreError::NotFound`] if
    /// there is no such account).
    async fn update_account_settings(
        &self,
        id: AccountId,
        settings: AccountSettings,
    ) -> Result<Account, StoreError>;

    /// Adds a key (by its hash) to an existing account ([`StoreError::NotFound`] otherwise;
    /// [`StoreError::AlreadyExists`] if the hash is already stored).
    async fn add_api_key(
        &self,
        account: AccountId,
        label: &str,
        hash: ApiKeyHash,
        now_ms: u64,
    ) -> Result<ApiKey, StoreError>;

    /// The live key with this hash: how a request authenticates.
    async fn find_api_key(&self, hash: ApiKeyHash) -> Result<Option<ApiKey>, StoreError>;

    /// Revokes a key; `false` if there was no such live key.
    async fn revoke_api_key(&self, id: u64) -> Result<bool, StoreError>;
}

/// Each account's suppression (opt-out) list.
#[async_trait]
pub trait SuppressionStore: Send + Sync {
    /// Puts a number on the list; `false` if it was already there.
    async fn suppress(
        &self,
        account: AccountId,
        number: Msisdn,
        reason: &str,
        now_ms: u64,
    ) -> Result<bool, StoreError>;

    /// Takes a number off the list; `false` if it was not there.
    async fn unsuppress(&self, account: AccountId, number: Msisdn) -> Result<bool, StoreError>;

    /// Which of `numbers` are on the list (one call per intake batch), in input order.
    async fn suppressed_among(
        &self,
        account: AccountId,
        numbers: &[Msisdn],
    ) -> Result<Vec<Msisdn>, StoreError>;
}

/// Replies (MO messages).
#[async_trait]
pub trait InboundStore: Send + Sync {
    /// Stores replies (ids must be new; a taken id is skipped: a redelivered `deliver_sm`
    /// is stored once) and, for each stored one with a `webhook_url`, queues a webhook
    /// delivery (`WebhookEvent::Inbound`, due at once) in the same transaction. Returns how
    /// many were stored.
    async fn insert_inbound(&self, batch: Vec<InboundRecord>) -> Result<u64, StoreError>;

    /// One reply of `account`.
    async fn get_inbound(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<InboundRecord>, StoreError>;

    /// An account's replies, newest first, with ids below `before` (for paging).
    async fn list_inbound(
        &self,
        account: AccountId,
        before: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<InboundRecord>, StoreError>;
}

/// The webhook queue (filled by [`MessageStore`] status changes).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Up to `limit` pending deliveries due at `now_ms`, oldest first; each is claimed until
    /// `now_ms + lease_ms` (its `next_at_ms` moves there), so a crashed worker's deliveries
    /// are retried after the lease and never sent twice concurrently.
    async fn claim_due_webhooks(
        &self,
        now_ms: u64,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;

    /// Records attempts' results (attempts grow by one each).
    async fn record_webhook_attempts(
        &self,
        attempts: Vec<WebhookAttempt>,
    ) -> Result<(), StoreError>;

    /// An account's deliveries whose last attempt failed (retrying or given up), newest
    /// first: what the API shows as webhook failures.
    async fn webhook_failures(
        &self,
        account: AccountId,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;
}

/// One backend's stores, as the engine and HTTP layer hold them.
#[derive(Clone)]
pub struct Stores {
    /// Messages.
    pub messages: Arc<dyn MessageStore>,
    /// Accounts and keys.
    pub accounts: Arc<dyn AccountStore>,
    /// Suppression lists.
    pub suppression: Arc<dyn SuppressionStore>,
    /// Replies.
    pub inbound: Arc<dyn InboundStore>,
    /// Webhook queue.
    pub webhooks: Arc<dyn WebhookStore>,
    /// Lists, campaigns, links and clicks.
    pub campaigns: Arc<dyn CampaignStore>,
}

impl Stores {
    /// All six ports served by one backend value.
    pub fn from_backend<B>(backend: Arc<B>) -> Self
    where
        B: MessageStore
            + AccountStore
            + SuppressionStore
            + InboundStore
            + WebhookStore
            + CampaignStore
            + 'static,
    {
        Self {
            messages: backend.clone(),
            accounts: backend.clone(),
            suppression: backend.clone(),
            inbound: backend.clone(),
            webhooks: backend.clone(),
            campaigns: backend,
        }
    }
}
