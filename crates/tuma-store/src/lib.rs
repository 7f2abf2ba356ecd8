//! tuma's storage ports: the traits every backend implements, the in-memory backend, and the
//! conformance suite every backend must pass.
//!
//! # Layout
//! - [`records`]: what is stored and the updates applied (plain structs of domain types).
//! - [`ports`]: the object-safe async traits ([`MessageStore`], [`AccountStore`],
//!   [`SuppressionStore`], [`InboundStore`], [`WebhookStore`]) and [`Stores`], the set of
//!   `Arc<dyn ...>` the engine holds.
//! - [`apply`]: the update algorithms (receipt matching and parking, state machines, events,
//!   webhooks, outbox) written once over a backend's primitive [`apply::WriteTx`].
//! - [`campaigns`]: lists, recipients, campaigns, tracked links and clicks, and
//!   [`CampaignStore`].
//! - [`memory`]: [`MemoryStore`], for tests of the layers above.
//! - `conformance` (feature `conformance`): the suite, as async functions plus the
//!   `conformance_tests!` macro that mounts them as `#[tokio::test]`s for one backend.
//!
//! See `docs/storage.md` for the design (group commit, key order, matching rules).
#![forbid(unsafe_code)]

pub mod apply;
pub mod campaigns;
pub mod columns;
pub mod error;
pub mod memory;
mod memory_campaigns;
pub mod ports;
pub mod records;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance_campaigns;

pub use campaigns::{
    CampaignId, CampaignMessage, CampaignRecord, CampaignRef, CampaignStatus, CampaignStore,
    ClickRecord, ClickTotals, GroupCursor, ImportTotals, LinkRecord, ListId, ListRecord,
    ListStatus, NewCampaign, NewList, NewRecipient, RecipientRecord, WindowSpec,
};
pub use error::StoreError;
pub use memory::MemoryStore;
pub use ports::{AccountStore, InboundStore, MessageStore, Stores, SuppressionStore, WebhookStore};
pub use records::{
    Account, AccountId, AccountSettings, ApiKey, ApiKeyHash, ErrorInfo, Idempotency, InboundRecord,
    InsertOutcome, MessageRecord, NewMessageRecord, OutboxEntry, ReceiptUpdate, SegmentRecord,
    StatusEvent, SubmitOutcomeRecord, SubmitResult, UpdateOutcome, WebhookAttempt,
    WebhookAttemptResult, WebhookDelivery, WebhookEvent, WebhookState,
};

#[cfg(test)]
mod memory_conformance {
    async fn fixture() -> crate::conformance::Fixture {
        crate::conformance::Fixture::new(crate::MemoryStore::stores())
    }
    crate::conformance_tests!(fixture);
}
