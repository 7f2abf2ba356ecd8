//! The values the store keeps and the updates it applies: plain structs of domain types.
//!
//! Times are Unix milliseconds (`u64`, suffix `_ms`) given by the caller: the store never
//! reads a clock, so every backend behaves the same under a test's fake clock.

use std::fmt;

use smpp::MessageState;
use sms_text::Encoding;

use crate::campaigns::CampaignRef;
use tuma_domain::{
    ConnectorId, MessageId, MessageStatus, Msisdn, MultipartPolicy, SegmentStatus, SenderId,
};

/// An account (tenant): owns API keys, messages, inbound messages and a suppression list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub u64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Assigned by the store, increasing.
    pub id: AccountId,
    /// Unique name.
    pub name: String,
    /// Creation time.
    pub created_at_ms: u64,
    /// Settings the account's owner can change.
    pub settings: AccountSettings,
}

/// An account's own settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountSettings {
    /// Where status changes of messages sent without a `callback_url` are POSTed.
    pub callback_url: Option<String>,
    /// Where replies (MO messages) are POSTed.
    pub mo_url: Option<String>,
}

/// A hash of an API key (the HTTP layer hashes; the store never sees a key in clear).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiKeyHash(pub [u8; 32]);

impl fmt::Debug for ApiKeyHash {
    // Even a hash is not worth printing in full in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeyHash({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

/// An API key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Assigned by the store.
    pub id: u64,
    /// The account the key acts for.
    pub account: AccountId,
    /// A name for people ("ci", "shop backend").
    pub label: String,
    /// The key's hash.
    pub hash: ApiKeyHash,
    /// Creation time.
    pub created_at_ms: u64,
}

/// The `Idempotency-Key` of a request and a hash of its body: the same key with the same body
/// returns the first message; with another body it is a conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// The header's value (unique per account).
    pub key: String,
    /// A hash of the request body.
    pub body_hash: [u8; 32],
}

/// A message to store at intake, with its segments (all `pending`) and, unless it is
/// `suppressed`, its outbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessageRecord {
    /// Time-sortable id (the intake makes it).
    pub id: MessageId,
    /// Owner.
    pub account: AccountId,
    /// Recipient.
    pub to: Msisdn,
    /// Sender.
    pub from: SenderId,
    /// The text as given; the segments' bytes are rebuilt from it (and `encoding`) at
    /// dispatch, where the concatenation reference is chosen per connector.
    pub text: String,
    /// The encoding the text is sent in.
    pub encoding: Encoding,
    /// Number of SMS segments (1..=255).
    pub segments: u8,
    /// `accepted`, `scheduled` or `suppressed`.
    pub status: MessageStatus,
    /// The connector the route chose.
    pub connector: ConnectorId,
    /// How the segments' outcomes make the message's.
    pub multipart: MultipartPolicy,
    /// The client's own reference.
    pub reference: Option<String>,
    /// Where status changes are POSTed.
    pub callback_url: Option<String>,
    /// The request's idempotency key.
    pub idempotency: Option<Idempotency>,
    /// The campaign recipient this message is for: unique among messages (a second message
    /// with the same reference is [`InsertOutcome::Duplicate`] and is not stored).
    pub campaign: Option<CampaignRef>,
    /// Acceptance time.
    pub created_at_ms: u64,
    /// When to send (for `scheduled`).
    pub send_at_ms: Option<u64>,
    /// When the validity runs out (send time + validity).
    pub expires_at_ms: u64,
}

/// One SMS part as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRecord {
    /// 0-based position in the message.
    pub index: u8,
    /// Its status.
    pub status: SegmentStatus,
    /// The SMSC's message id from `submit_sm_resp`, exactly as received.
    pub smsc_id: Option<String>,
    /// Submission attempts that ended in a temporary error.
    pub failed_attempts: u32,
}

/// One status change of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEvent {
    /// The new status.
    pub status: MessageStatus,
    /// When.
    pub at_ms: u64,
    /// What caused it, for people (`"stat:DELIVRD err:000"`).
    pub detail: Option<String>,
}

/// Why a message failed: a stable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// Stable snake_case code, e.g. `smpp_invalid_dest_addr`.
    pub code: String,
    /// Explanation.
    pub message: String,
}

/// A message as stored, with its segments and events (what `GET /v1/messages/{id}` shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Id.
    pub id: MessageId,
    /// Owner.
    pub account: AccountId,
    /// Recipient.
    pub to: Msisdn,
    /// Sender.
    pub from: SenderId,
    /// Text.
    pub text: String,
    /// Encoding.
    pub encoding: Encoding,
    /// Current status.
    pub status: MessageStatus,
    /// Connector chosen at intake.
    pub connector: ConnectorId,
    /// Multipart policy.
    pub multipart: MultipartPolicy,
    /// Client reference.
    pub reference: Option<String>,
    /// Callback URL.
    pub callback_url: Option<String>,
    /// Idempotency key (the body hash is not returned).
    pub idempotency_key: Option<String>,
    /// The campaign recipient it was sent to.
    pub campaign: Option<CampaignRef>,
    /// Acceptance time.
    pub created_at_ms: u64,
    /// Scheduled send time.
    pub send_at_ms: Option<u64>,
    /// Validity end.
    pub expires_at_ms: u64,
    /// The segments, by index.
    pub segments: Vec<SegmentRecord>,
    /// Status changes, oldest first (the first is the initial status).
    pub events: Vec<StatusEvent>,
    /// Why it failed, if it did.
    pub error: Option<ErrorInfo>,
}

/// What happened to one message of [`crate::MessageStore::insert_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored (with segments and outbox entry) and committed.
    Inserted,
    /// The idempotency key was used before with the same body (or the campaign reference
    /// is taken): this is that message.
    Duplicate {
        /// The message stored first.
        existing: MessageId,
    },
    /// The idempotency key was used before with a different body: nothing stored.
    IdempotencyConflict {
        /// The message stored under the key.
        existing: MessageId,
    },
    /// A message with this id exists (an intake bug: ids are unique): nothing stored.
    IdTaken,
    /// The record is unusable (e.g. 0 segments): nothing stored.
    Invalid {
        /// The field.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
}

/// A message waiting in the outbox, for the dispatcher's recovery or the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The message (its `pending` segments are the ones to send).
    pub message: MessageRecord,
    /// Earliest time to send (a retry's backoff or the scheduled time).
    pub due_at_ms: u64,
}

/// The result of one `submit_sm` for one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitResult {
    /// The message.
    pub message: MessageId,
    /// The segment's index.
    pub segment: u8,
    /// The connector that sent it (receipts are matched per connector).
    pub connector: ConnectorId,
    /// When the response (or timeout) came.
    pub at_ms: u64,
    /// What happened.
    pub outcome: SubmitOutcomeRecord,
}

/// What a submission attempt produced, as the retry policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcomeRecord {
    /// `ESME_ROK` with the SMSC's message id.
    Accepted {
        /// `submit_sm_resp.message_id` as received.
        smsc_id: String,
    },
    /// A temporary error: the segment stays pending and is due again at `retry_at_ms`.
    Retry {
        /// When to try again (the segment's `failed_attempts` grows by one).
        retry_at_ms: u64,
    },
    /// A permanent error: the segment failed.
    Failed {
        /// Why (becomes the message's error).
        error: ErrorInfo,
    },
}

/// A delivery receipt to match and apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptUpdate {
    /// The connector it arrived on.
    pub connector: ConnectorId,
    /// The `receipted_message_id` TLV, if present ([`smpp::IdSource::Protocol`]).
    pub protocol_id: Option<String>,
    /// The text's `id:` field, if present ([`smpp::IdSource::ReceiptText`]).
    pub text_id: Option<String>,
    /// The state it reports.
    pub state: MessageState,
    /// For people (`"stat:UNDELIV err:001"`), kept in the event.
    pub detail: Option<String>,
    /// The message's error if this receipt fails the segment.
    pub error: Option<ErrorInfo>,
    /// When it arrived.
    pub at_ms: u64,
}

/// What a submit result or receipt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The segment changed; `message_status` is the message's new status if that changed too.
    Changed {
        /// The message.
        message: MessageId,
        /// The segment.
        segment: u8,
        /// The message's new status, when it changed.
        message_status: Option<MessageStatus>,
    },
    /// Nothing changed: a repeat, a progress report, or a retry's bookkeeping only.
    Unchanged {
        /// The message.
        message: MessageId,
        /// The segment.
        segment: u8,
    },
    /// The update contradicts the segment's final status; the first outcome stands.
    Ignored {
        /// The message.
        message: MessageId,
        /// The segment.
        segment: u8,
        /// The segment's status, which was kept.
        kept: SegmentStatus,
    },
    /// A receipt whose id matches no segment yet: kept, and applied when a submit result
    /// with that id is recorded.
    Parked,
    /// A submit result for a message or segment that does not exist.
    NotFound,
}

/// A reply (MO message) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecord {
    /// Time-sortable id (made on arrival).
    pub id: MessageId,
    /// The account the destination number belongs to.
    pub account: AccountId,
    /// The handset.
    pub from: Msisdn,
    /// Our number or short code it was sent to, as received.
    pub to: String,
    /// The text.
    pub text: String,
    /// The connector it arrived on.
    pub connector: ConnectorId,
    /// Arrival time.
    pub received_at_ms: u64,
    /// When set, storing the reply also queues a webhook delivery
    /// ([`WebhookEvent::Inbound`]) to this URL in the same transaction.
    pub webhook_url: Option<String>,
}

/// A webhook call waiting to be made, or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Assigned by the store, increasing.
    pub id: u64,
    /// The message's account.
    pub account: AccountId,
    /// The message (for [`WebhookEvent::Inbound`]: the reply's id).
    pub message: MessageId,
    /// Where to POST.
    pub url: String,
    /// What it reports.
    pub event: WebhookEvent,
    /// When the status changed (or the reply arrived).
    pub status_at_ms: u64,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it is due (or, while claimed, when the claim lapses).
    pub next_at_ms: u64,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Where it is.
    pub state: WebhookState,
}

/// What a webhook delivery reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookEvent {
    /// A message's status changed to this.
    Status(MessageStatus),
    /// A reply arrived (its [`InboundRecord`] has the delivery's `message` id).
    Inbound,
}

/// Where a webhook delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookState {
    /// Waiting for an attempt (first or retry).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up after the retry period.
    Failed,
}

impl WebhookState {
    /// Storage name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Parses the storage name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// The result of one webhook attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// The delivery.
    pub id: u64,
    /// What happened.
    pub result: WebhookAttemptResult,
}

/// What one webhook attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAttemptResult {
    /// 2xx.
    Delivered,
    /// Failed; try again at `next_at_ms`.
    Retry {
        /// When.
        next_at_ms: u64,
        /// What went wrong (status code, timeout...).
        error: String,
    },
    /// Failed for the last time.
    GiveUp {
        /// What went wrong.
        error: String,
    },
}

/// `"gsm7"` / `"ucs2"` back to an [`Encoding`] (storage and API use the same names).
pub fn encoding_from_name(name: &str) -> Option<Encoding> {
    [Encoding::Gsm7, Encoding::Ucs2]
        .into_iter()
        .find(|e| tuma_domain::encoding_name(*e) == name)
}

/// Storage name of a [`MultipartPolicy`].
pub const fn multipart_name(policy: MultipartPolicy) -> &'static str {
    match policy {
        MultipartPolicy::AllDelivered => "all_delivered",
        MultipartPolicy::AnyDelivered => "any_delivered",
        MultipartPolicy::FirstPart => "first_part",
    }
}

/// Parses [`multipart_name`].
pub fn multipart_from_name(name: &str) -> Option<MultipartPolicy> {
    [
        MultipartPolicy::AllDelivered,
        MultipartPolicy::AnyDelivered,
        MultipartPolicy::FirstPart,
    ]
    .into_iter()
    .find(|p| multipart_name(*p) == name)
}

/// Parses a [`SegmentStatus`] storage name.
pub fn segment_status_from_name(name: &str) -> Option<SegmentStatus> {
    SegmentStatus::ALL.into_iter().find(|s| s.as_str() == name)
}
