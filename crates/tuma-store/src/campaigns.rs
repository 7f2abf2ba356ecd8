//! Campaigns: contact lists, campaigns, tracked links and clicks, and the port that stores
//! them ([`CampaignStore`]).
//!
//! A campaign sends one template to every recipient of a contact list. A list is imported
//! once (from CSV) and can be used by several campaigns. A campaign's messages are ordinary
//! messages ([`crate::MessageStore`]) that carry a [`CampaignRef`]: the pair (campaign,
//! recipient sequence number) is unique, so a campaign can never send one recipient two
//! messages, even when its runner repeats a page after a crash.
//!
//! Recipients are numbered 1, 2, 3... in file order within their list (`seq`). Each carries
//! its number's UTC offset, so a sending window in the recipient's local time can be kept by
//! sending group by group (one cursor per offset, [`GroupCursor`]).

use std::fmt;

use async_trait::async_trait;
use tuma_domain::{MessageId, MessageStatus, Msisdn, SenderId};

use crate::error::StoreError;
use crate::records::AccountId;

/// A contact list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListId(pub u64);

/// A campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CampaignId(pub u64);

impl fmt::Display for ListId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The campaign recipient a message was sent to: unique among messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CampaignRef {
    /// The campaign.
    pub campaign: CampaignId,
    /// The recipient's `seq` in the campaign's list.
    pub seq: u64,
}

/// Where a list is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListStatus {
    /// Rows are being stored; not usable yet. A list left in this state by a crash is
    /// deleted at the next start.
    Importing,
    /// Imported; campaigns can use it.
    Ready,
}

impl ListStatus {
    /// Storage name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Importing => "importing",
            Self::Ready => "ready",
        }
    }

    /// Parses [`ListStatus::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Importing, Self::Ready]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// What an import counted (the rejected rows themselves are not stored; the import's
/// response lists the first ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportTotals {
    /// Data rows read.
    pub rows: u64,
    /// Recipients stored.
    pub accepted: u64,
    /// Rows rejected (invalid number, missing phone, wrong column count...).
    pub rejected: u64,
    /// Rows dropped because an earlier row had the same number.
    pub duplicates: u64,
}

/// A list to create (status [`ListStatus::Importing`], no recipients yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewList {
    /// Owner.
    pub account: AccountId,
    /// A name for people (need not be unique).
    pub name: String,
    /// The template variables, in column order (the phone column is not one).
    pub columns: Vec<String>,
    /// Creation time.
    pub created_at_ms: u64,
}

/// A contact list as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRecord {
    /// Assigned by the store, increasing.
    pub id: ListId,
    /// Owner.
    pub account: AccountId,
    /// Name.
    pub name: String,
    /// Variables, in column order.
    pub columns: Vec<String>,
    /// Where it is.
    pub status: ListStatus,
    /// What the import counted (zero while importing).
    pub totals: ImportTotals,
    /// Recipients per UTC offset in minutes, by offset (empty while importing).
    pub offsets: Vec<(i16, u64)>,
    /// Creation time.
    pub created_at_ms: u64,
}

/// One recipient to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecipient {
    /// 1, 2, 3... in file order, unique in the list.
    pub seq: u64,
    /// The CSV line it came from.
    pub line: u64,
    /// The number.
    pub to: Msisdn,
    /// The UTC offset of the number's country, in minutes (0 when unknown).
    pub utc_offset_min: i16,
    /// The variables' values, in the list's column order (same length as its columns).
    pub values: Vec<String>,
}

/// A stored recipient (the same fields as [`NewRecipient`]).
pub type RecipientRecord = NewRecipient;

/// Where a campaign is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CampaignStatus {
    /// Waiting for its `send_at`.
    Scheduled,
    /// Sending.
    Running,
    /// Stopped by its owner; resumes where it stopped.
    Paused,
    /// Every recipient was handed to the gateway (their messages may still be on their way).
    Completed,
    /// Stopped for good by its owner; recipients not yet handed over are never sent.
    Cancelled,
}

impl CampaignStatus {
    /// Every status.
    pub const ALL: [Self; 5] = [
        Self::Scheduled,
        Self::Running,
        Self::Paused,
        Self::Completed,
        Self::Cancelled,
    ];

    /// Storage and API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses [`CampaignStatus::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Completed or cancelled: nothing more will be sent.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

/// A sending window in the recipients' local time: minutes after local midnight. `start`
/// after `end` spans midnight (22:00-06:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// Opening, minutes after midnight (0..1440).
    pub start_min: u16,
    /// Closing, minutes after midnight (0..1440).
    pub end_min: u16,
    /// One UTC offset (minutes) for every recipient, instead of each number's country's.
    pub utc_offset_min: Option<i16>,
}

/// How far one group of recipients has been handed to the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCursor {
    /// The recipients' UTC offset in minutes; `None`: every recipient of the list.
    pub utc_offset_min: Option<i16>,
    /// The highest `seq` of the group handed over (0: none yet).
    pub last_seq: u64,
    /// No recipient of the group is left.
    pub done: bool,
}

/// A campaign to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCampaign {
    /// Owner (the list's owner too).
    pub account: AccountId,
    /// Name.
    pub name: String,
    /// The recipients.
    pub list: ListId,
    /// Sender id.
    pub from: SenderId,
    /// The template source (compiled by the engine).
    pub template: String,
    /// Replace URLs by tracked short links.
    pub track_links: bool,
    /// The short links' base (`https://t.example/l`); set when `track_links`.
    pub link_base: Option<String>,
    /// Start time (status `Scheduled` until then).
    pub send_at_ms: Option<u64>,
    /// Quiet hours.
    pub window: Option<WindowSpec>,
    /// Most messages per second.
    pub rate: Option<u32>,
    /// `Scheduled` or `Running`.
    pub status: CampaignStatus,
    /// The groups to send (one with `utc_offset_min: None` without a per-country window).
    pub cursors: Vec<GroupCursor>,
    /// Creation time.
    pub created_at_ms: u64,
}

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRecord {
    /// Assigned by the store, increasing.
    pub id: CampaignId,
    /// Owner.
    pub account: AccountId,
    /// Name.
    pub name: String,
    /// The recipients.
    pub list: ListId,
    /// Sender id.
    pub from: SenderId,
    /// Template source.
    pub template: String,
    /// Tracked links.
    pub track_links: bool,
    /// The short links' base.
    pub link_base: Option<String>,
    /// Start time.
    pub send_at_ms: Option<u64>,
    /// Quiet hours.
    pub window: Option<WindowSpec>,
    /// Most messages per second.
    pub rate: Option<u32>,
    /// Where it is.
    pub status: CampaignStatus,
    /// Progress per group.
    pub cursors: Vec<GroupCursor>,
    /// Creation time.
    pub created_at_ms: u64,
    /// Last status change (creation time at first).
    pub updated_at_ms: u64,
}

/// A tracked link: a short code that redirects to a URL of one sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    /// The code in the short URL (unique).
    pub code: String,
    /// Owner.
    pub account: AccountId,
    /// The campaign.
    pub campaign: CampaignId,
    /// The recipient's `seq`.
    pub seq: u64,
    /// Where it redirects.
    pub target: String,
    /// Creation time.
    pub created_at_ms: u64,
}

/// One click on a tracked link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickRecord {
    /// The link's code.
    pub code: String,
    /// The link's campaign.
    pub campaign: CampaignId,
    /// The link's recipient.
    pub seq: u64,
    /// When.
    pub at_ms: u64,
    /// The `User-Agent` header (cut to 256 bytes by the caller).
    pub user_agent: Option<String>,
}

/// A campaign message's outcome, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignMessage {
    /// The recipient's `seq`.
    pub seq: u64,
    /// The message.
    pub id: MessageId,
    /// The number.
    pub to: Msisdn,
    /// Current status.
    pub status: MessageStatus,
    /// SMS segments.
    pub segments: u8,
    /// The error code if it failed.
    pub error_code: Option<String>,
    /// Acceptance time.
    pub created_at_ms: u64,
    /// Time of the first `submitted` event.
    pub submitted_at_ms: Option<u64>,
    /// Time of the event that set a final status (delivered, failed, expired, rejected,
    /// suppressed).
    pub finished_at_ms: Option<u64>,
}

/// The report times of a message from its events (status and time, oldest first, the
/// initial status included): the first `submitted` event, and, when `status` is final, the
/// last event with it (the one that set it: a message that expired and was delivered late
/// finishes at its delivery). Backends that read events call this so they all agree.
pub fn message_times(
    events: impl DoubleEndedIterator<Item = (MessageStatus, u64)> + Clone,
    status: MessageStatus,
) -> (Option<u64>, Option<u64>) {
    let submitted = events
        .clone()
        .find(|(s, _)| *s == MessageStatus::Submitted)
        .map(|(_, at)| at);
    let finished = if status.is_final() {
        events.rev().find(|(s, _)| *s == status).map(|(_, at)| at)
    } else {
        None
    };
    (submitted, finished)
}

/// Click counts of a campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClickTotals {
    /// Every click.
    pub clicks: u64,
    /// Recipients who clicked at least once.
    pub unique_recipients: u64,
}

/// Lists, recipients, campaigns, links and clicks.
///
/// Campaign messages themselves are stored through [`crate::MessageStore::insert_batch`]
/// with [`crate::NewMessageRecord::campaign`] set.
#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// Creates a list in status [`ListStatus::Importing`].
    async fn create_list(&self, list: NewList) -> Result<ListRecord, StoreError>;

    /// Adds recipients to an importing list, in one transaction ([`StoreError::NotFound`]
    /// for an unknown list; a `seq` already taken is [`StoreError::AlreadyExists`] and
    /// nothing of the call is stored).
    async fn insert_recipients(
        &self,
        list: ListId,
        recipients: Vec<NewRecipient>,
    ) -> Result<(), StoreError>;

    /// Marks an importing list ready with its totals and its recipients per UTC offset.
    async fn finish_list(
        &self,
        list: ListId,
        totals: ImportTotals,
        offsets: Vec<(i16, u64)>,
    ) -> Result<ListRecord, StoreError>;

    /// Deletes a list and its recipients (an import that failed, or one a crash left
    /// importing). `false` if there was no such list. Lists used by a campaign are never
    /// deleted (the engine only deletes lists in [`ListStatus::Importing`]).
    async fn delete_list(&self, list: ListId) -> Result<bool, StoreError>;

    /// One list.
    async fn get_list(&self, list: ListId) -> Result<Option<ListRecord>, StoreError>;

    /// An account's lists, newest first, with ids below `before`.
    async fn list_lists(
        &self,
        account: AccountId,
        before: Option<ListId>,
        limit: usize,
    ) -> Result<Vec<ListRecord>, StoreError>;

    /// Lists in a status (at start: importing ones left by a crash).
    async fn lists_with_status(&self, status: ListStatus) -> Result<Vec<ListRecord>, StoreError>;

    /// Up to `limit` recipients of `list` with `seq > after_seq` (and, when
    /// `utc_offset_min` is set, that offset), by `seq`.
    async fn recipients(
        &self,
        list: ListId,
        utc_offset_min: Option<i16>,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<RecipientRecord>, StoreError>;

    /// Creates a campaign ([`StoreError::NotFound`] if the list does not exist).
    async fn create_campaign(&self, campaign: NewCampaign) -> Result<CampaignRecord, StoreError>;

    /// One campaign.
    async fn get_campaign(&self, id: CampaignId) -> Result<Option<CampaignRecord>, StoreError>;

    /// An account's campaigns, newest first, with ids below `before`.
    async fn list_campaigns(
        &self,
        account: AccountId,
        before: Option<CampaignId>,
        limit: usize,
    ) -> Result<Vec<CampaignRecord>, StoreError>;

    /// Campaigns in any of `statuses` (at start: the ones to resume), by id.
    async fn campaigns_with_status(
        &self,
        statuses: &[CampaignStatus],
    ) -> Result<Vec<CampaignRecord>, StoreError>;

    /// Moves a campaign to `to` if its status is one of `from` (compare and set), setting
    /// `updated_at_ms`; returns the campaign as it is after the call, and whether it moved.
    /// [`StoreError::NotFound`] for an unknown campaign.
    async fn set_campaign_status(
        &self,
        id: CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        now_ms: u64,
    ) -> Result<(CampaignRecord, bool), StoreError>;

    /// Replaces a campaign's cursors (progress is saved after each page is stored).
    async fn save_cursors(
        &self,
        id: CampaignId,
        cursors: Vec<GroupCursor>,
    ) -> Result<(), StoreError>;

    /// Stores tracked links (codes are unique: a taken code is [`StoreError::AlreadyExists`]
    /// and nothing of the call is stored).
    async fn insert_links(&self, links: Vec<LinkRecord>) -> Result<(), StoreError>;

    /// The link with this code.
    async fn find_link(&self, code: &str) -> Result<Option<LinkRecord>, StoreError>;

    /// Records a click.
    async fn record_click(&self, click: ClickRecord) -> Result<(), StoreError>;

    /// A campaign's clicks in all and the recipients who clicked.
    async fn click_totals(&self, campaign: CampaignId) -> Result<ClickTotals, StoreError>;

    /// Clicks per recipient with `seq > after_seq`, by `seq`, at most `limit` recipients
    /// (only recipients with clicks appear).
    async fn clicks_by_recipient(
        &self,
        campaign: CampaignId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, u64)>, StoreError>;

    /// Up to `limit` of a campaign's messages with `seq > after_seq`, by `seq`.
    async fn campaign_messages(
        &self,
        campaign: CampaignId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<CampaignMessage>, StoreError>;
}
