//! The simulated SMSC: accounts and binds, validation, store and forward, networks and
//! handsets, receipts and MO. Synchronous and clock-free: every call takes `now_ms` (Unix
//! milliseconds), so the socket layer drives it under a mutex and tests drive it with
//! explicit times.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use bytes::Bytes;
use serde::Serialize;
use smpp::pdu::{
    CancelSm, DataSm, DeliverSm, DestAddress, QuerySm, QuerySmResp, ReplaceSm, SubmitMulti,
    SubmitMultiResp, SubmitSm, UnsuccessSme,
};
use smpp::receipt::{MessageId as ReceiptId, ReceiptErr, ReceiptStat, TextReceipt};
use smpp::tlv::{Tlv, Tlvs};
use smpp::types::{
    Address, DataCoding, EsmClass, MessageId, Npi, RegisteredDelivery, ShortMessage, Ton,
};
use smpp::{BindKind, CommandStatus, MessageState, NetworkErrorCode, SmppTime};
use sms_text::SarInfo;

use crate::clock;
use crate::config::{Behaviour, BindType, IdFormat, NetworkConfig, SimConfig, TestRange};
use crate::handset::{Handset, InboxMessage, Received};
use crate::rng;

/// A multiplicative hash for the engine's own integer keys (message ids, numbers as
/// integers). SipHash, the std default, cost a third of a submission; these keys are ours
/// (sequential ids) or numbers a client could at worst make collide in its own simulator.
#[derive(Default)]
struct IntHasher(u64);

impl Hasher for IntHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let h = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // Fold the well-mixed high half into the low bits, which pick the bucket.
        self.0 = h ^ (h >> 32);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type IntMap<V> = HashMap<u64, V, BuildHasherDefault<IntHasher>>;

/// Store keys are `message id << DEST_BITS | destination index`: a submit_multi has one
/// message id for up to 255 destinations, each stored (and receipted) on its own.
const DEST_BITS: u32 = 8;
/// Largest message id: ids wrap to 0 after it, so keys never overflow.
const MAX_ID: u64 = u64::MAX >> DEST_BITS;

/// An account (index into the engine's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountId(pub u32);

/// A successful bind: which account, which type. Hand it back to [`Engine::unbind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BindHandle {
    /// The account.
    pub account: AccountId,
    /// The bind type.
    pub kind: BindKind,
}

/// Counters (and two gauges) of the simulator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Successful binds since start.
    pub binds: u64,
    /// Refused binds.
    pub bind_failures: u64,
    /// Binds open now.
    pub bound: u64,
    /// submit_sm / data_sm received (accepted or not).
    pub submit_sm: u64,
    /// Submissions accepted.
    pub accepted: u64,
    /// Submissions refused by validation or a test range (throttling counted apart).
    pub rejected: u64,
    /// Submissions refused with ESME_RTHROTTLED.
    pub throttled: u64,
    /// Messages delivered to a handset.
    pub delivered: u64,
    /// Messages that ended UNDELIV or REJECTD.
    pub failed: u64,
    /// Messages that ended EXPIRED.
    pub expired: u64,
    /// Messages cancelled by cancel_sm.
    pub cancelled: u64,
    /// Receipts handed to the socket layer by [`Engine::take_outbound`].
    pub receipts_sent: u64,
    /// MO messages accepted from handsets.
    pub mo: u64,
    /// MO deliver_sm parts handed to the socket layer.
    pub mo_parts_sent: u64,
    /// Incomplete concatenations dropped by handsets after the reassembly timeout.
    pub reassembly_timeouts: u64,
    /// Delivered messages dropped from full handset inboxes (oldest first, over
    /// `inbox_limit`): still delivered and receipted, just no longer listed.
    pub inbox_dropped: u64,
    /// Messages stored and not yet final (gauge).
    pub queued: u64,
    /// deliver_sm waiting for a receiver bind (gauge).
    pub outbound_pending: u64,
}

/// Why an MO message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoError {
    /// The handset number is not 7-15 digits.
    #[error("`from` must be an international number of 7 to 15 digits, got {0:?}")]
    InvalidFrom(String),
    /// The destination is empty or too long for an SMPP address.
    #[error("`to` must be 1 to 20 characters, got {0:?}")]
    InvalidTo(String),
    /// No account owns the destination (no short code configured and nobody sent from it).
    #[error("no account receives messages sent to {0:?}")]
    NoRoute(String),
    /// The text could not be split into SMS parts.
    #[error("`text` cannot be sent: {0}")]
    Text(String),
}

/// An accepted MO message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoAccepted {
    /// The account it was routed to.
    pub account: AccountId,
    /// deliver_sm parts queued.
    pub parts: usize,
}

/// An SMPP address stored inline (TON, NPI, up to 20 octets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Addr {
    ton: u8,
    npi: u8,
    len: u8,
    buf: [u8; 20],
}

impl Addr {
    fn new(ton: u8, npi: u8, bytes: &[u8]) -> Option<Self> {
        let mut buf = [0u8; 20];
        buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Self {
            ton,
            npi,
            len: bytes.len() as u8, // <= 20, checked by the `get_mut` above
            buf,
        })
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    fn str(&self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    fn address(&self) -> Address {
        // NUL-free and at most 20 octets (checked on the way in), so this cannot fail.
        Address::new(self.bytes()).unwrap_or_default()
    }
}

/// What the outcome model decided for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Deliver,
    Fail(u16),
    Reject(u16),
    Expire(u16),
}

/// One stored message (one segment as submitted). Kept small: ~1M of them must fit.
struct Msg {
    account: u32,
    state: MessageState,
    fate: Fate,
    registered_delivery: u8,
    data_coding: u8,
    esm_class: u8,
    err: u16,
    sar: Option<(u16, u8, u8)>,
    source: Addr,
    dest: Addr,
    submit_ms: u64,
    due_ms: u64,
    expire_ms: u64,
    final_ms: u64,
    payload: Box<[u8]>,
}

/// The messages by id: a dense slab of messages and an id → slot index. A hash map of whole
/// messages doubles its table (at ~140 bytes a bucket) as it grows; here only the small
/// index doubles, and freed slots are reused.
#[derive(Default)]
struct Store {
    index: IntMap<u32>,
    slots: Vec<Option<Msg>>,
    free: Vec<u32>,
}

impl Store {
    fn len(&self) -> usize {
        self.index.len()
    }

    fn insert(&mut self, id: u64, msg: Msg) {
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(s) = self.slots.get_mut(slot as usize) {
                    *s = Some(msg);
                }
                slot
            }
            None => {
                self.slots.push(Some(msg));
                // At most `max_queued + retain_finished` slots, far below u32::MAX.
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.index.insert(id, slot);
    }

    fn get(&self, id: &u64) -> Option<&Msg> {
        let slot = *self.index.get(id)?;
        self.slots.get(slot as usize)?.as_ref()
    }

    fn get_mut(&mut self, id: &u64) -> Option<&mut Msg> {
        let slot = *self.index.get(id)?;
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    fn remove(&mut self, id: &u64) {
        if let Some(slot) = self.index.remove(id) {
            if let Some(s) = self.slots.get_mut(slot as usize) {
                *s = None;
                self.free.push(slot);
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (u64, &Msg)> {
        self.index
            .iter()
            .filter_map(|(id, slot)| Some((*id, self.slots.get(*slot as usize)?.as_ref()?)))
    }
}

/// A deliver_sm waiting for a receiver bind, in compact form.
enum Outbound {
    Receipt(Box<ReceiptItem>),
    Mo(Box<MoPart>),
    Ready(Box<DeliverSm>),
}

struct ReceiptItem {
    id: u64,
    from: Addr,
    to: Addr,
    submit_ms: u64,
    done_ms: u64,
    state: MessageState,
    err: u16,
    snippet: Box<str>,
}

struct MoPart {
    from: Addr,
    to: Addr,
    data_coding: u8,
    udhi: bool,
    bytes: Box<[u8]>,
}

struct Account {
    system_id: String,
    /// `None` in open mode: any password.
    password: Option<String>,
    bind_types: Vec<BindType>,
    max_binds: u32,
    max_tps: u32,
    binds: u32,
    /// Token bucket in thousandths of a submission: capacity `max_tps * 1000`, refilled by
    /// `max_tps` per millisecond, each submission costs 1000. Integer, so deterministic.
    tokens: u64,
    tokens_at_ms: u64,
    outbound: VecDeque<Outbound>,
}

/// The common fields of submit_sm, data_sm and one destination of a submit_multi.
struct Submission<'a> {
    source_ton: Ton,
    source_npi: Npi,
    source: &'a [u8],
    dest_ton: Ton,
    dest_npi: Npi,
    dest: &'a [u8],
    esm_class: EsmClass,
    priority: u8,
    schedule: &'a [u8],
    validity: &'a [u8],
    registered_delivery: RegisteredDelivery,
    replace_if_present: u8,
    data_coding: DataCoding,
    sm_default_msg_id: u8,
    short_message: &'a [u8],
    tlvs: &'a Tlvs,
}

/// What the simulator keeps per destination number, keyed by the number as an integer (`1`
/// followed by its digits, so leading zeros count).
#[derive(Debug, Default)]
struct Phone {
    /// Messages submitted to it so far (the outcome draw's counter).
    submitted: u32,
    handset: Handset,
}

/// The phones: a dense slab and a number -> slot index, like [`Store`]. With two maps (a
/// counter per number, and handsets by value), growing to a million numbers rehashed
/// 64-byte buckets and zeroed fresh pages for them: about a fifth of the simulator's CPU in
/// a 1,000,000-recipient campaign (perf). Here only the 16-byte index rehashes, the slab
/// grows by copying, and one look-up serves both.
#[derive(Debug, Default)]
struct Phones {
    index: IntMap<u32>,
    slots: Vec<Phone>,
}

impl Phones {
    /// The phone of `key`, created on first use.
    fn entry(&mut self, key: u64) -> &mut Phone {
        let next = self.slots.len();
        // Slots are never freed; four billion numbers would exhaust memory long before.
        let slot = *self
            .index
            .entry(key)
            .or_insert_with(|| u32::try_from(next).unwrap_or(u32::MAX)) as usize;
        if slot == self.slots.len() {
            self.slots.push(Phone::default());
        }
        &mut self.slots[slot]
    }

    fn get(&self, key: u64) -> Option<&Phone> {
        self.slots.get(*self.index.get(&key)? as usize)
    }
}

/// The simulator. See the crate documentation for the model.
pub struct Engine {
    config: SimConfig,
    accounts: Vec<Account>,
    account_index: HashMap<String, u32>,
    /// `networks[i]` with its prefixes, for longest-prefix matching.
    network_prefixes: Vec<(Box<str>, usize)>,
    range_prefixes: Vec<(Box<str>, usize)>,
    store: Store,
    finished: VecDeque<u64>,
    timers: BinaryHeap<Reverse<(u64, u64)>>,
    next_id: u64,
    /// Every destination number's submission counter and handset.
    phones: Phones,
    /// The account that last submitted from a source address (MO replies go back to it).
    last_sender: HashMap<Box<[u8]>, u32>,
    mo_reference: u16,
    stats: Stats,
}

fn digits_key(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(1u64, |acc, d| acc * 10 + u64::from(d - b'0')),
    )
}

fn longest_prefix(table: &[(Box<str>, usize)], number: &[u8]) -> Option<usize> {
    table
        .iter()
        .filter(|(p, _)| number.starts_with(p.as_bytes()))
        .max_by_key(|(p, _)| p.len())
        .map(|(_, i)| *i)
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Octets of a UDH (UDHL included) at the start of `bytes`, checked to fit.
fn udh_len(bytes: &[u8]) -> Option<usize> {
    let udhl = usize::from(*bytes.first()?);
    (udhl < bytes.len()).then_some(udhl + 1)
}

/// Whether `data_coding` is 8-bit binary (shown as data, not text).
fn is_binary(dc: u8) -> bool {
    matches!(dc, 0x02 | 0x04 | 0x14..=0x17 | 0xF4..=0xF7)
}

impl Engine {
    /// A simulator with this configuration (checked with [`SimConfig::validate`] first).
    ///
    /// # Errors
    /// The configuration's first bad key.
    pub fn new(config: SimConfig) -> Result<Self, crate::config::ConfigError> {
        config.validate()?;
        let mut accounts = Vec::new();
        let mut account_index = HashMap::new();
        for a in &config.accounts {
            account_index.insert(a.system_id.clone(), accounts.len() as u32);
            accounts.push(Account {
                system_id: a.system_id.clone(),
                password: Some(a.password.clone()),
                bind_types: a.bind_types.clone(),
                max_binds: a.max_binds,
                max_tps: a.max_tps,
                binds: 0,
                tokens: u64::from(a.max_tps) * 1000,
                tokens_at_ms: 0,
                outbound: VecDeque::new(),
            });
        }
        let network_prefixes = config
            .networks
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.prefixes.iter().map(move |p| (p.as_str().into(), i)))
            .collect();
        let range_prefixes = config
            .test_ranges
            .iter()
            .enumerate()
            .map(|(i, r)| (r.prefix.as_str().into(), i))
            .collect();
        Ok(Self {
            next_id: config.message_ids.first & MAX_ID,
            accounts,
            account_index,
            network_prefixes,
            range_prefixes,
            store: Store::default(),
            finished: VecDeque::new(),
            timers: BinaryHeap::new(),
            phones: Phones::default(),
            last_sender: HashMap::new(),
            mo_reference: 0,
            stats: Stats::default(),
            config,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The `system_id` of an account.
    pub fn system_id(&self, account: AccountId) -> Option<&str> {
        self.accounts
            .get(account.0 as usize)
            .map(|a| a.system_id.as_str())
    }

    // -----------------------------------------------------------------------------------
    // Binds

    /// Checks credentials and limits for a bind of type `kind`.
    ///
    /// With accounts configured: unknown `system_id` → ESME_RINVSYSID, wrong password →
    /// ESME_RINVPASWD, bind type not allowed or `max_binds` reached → ESME_RBINDFAIL (the
    /// socket layer then closes the connection). With none configured, any credentials bind.
    ///
    /// # Errors
    /// The bind_resp status.
    pub fn bind(
        &mut self,
        system_id: &str,
        password: &str,
        kind: BindKind,
    ) -> Result<BindHandle, CommandStatus> {
        let result = self.try_bind(system_id, password, kind);
        match result {
            Ok(_) => {
                self.stats.binds += 1;
                self.stats.bound += 1;
            }
            Err(status) => {
                self.stats.bind_failures += 1;
                tracing::info!(system_id, ?kind, ?status, "bind refused");
            }
        }
        result
    }

    fn try_bind(
        &mut self,
        system_id: &str,
        password: &str,
        kind: BindKind,
    ) -> Result<BindHandle, CommandStatus> {
        let index = match self.account_index.get(system_id) {
            Some(&i) => i,
            None if self.config.accounts.is_empty() => {
                if system_id.is_empty() {
                    return Err(CommandStatus::ESME_RINVSYSID);
                }
                tracing::info!(system_id, "open mode: accepting bind without an account");
                let i = self.accounts.len() as u32;
                self.accounts.push(Account {
                    system_id: system_id.to_owned(),
                    password: None,
                    bind_types: vec![
                        BindType::Transmitter,
                        BindType::Receiver,
                        BindType::Transceiver,
                    ],
                    max_binds: u32::MAX,
                    max_tps: 0,
                    binds: 0,
                    tokens: 0,
                    tokens_at_ms: 0,
                    outbound: VecDeque::new(),
                });
                self.account_index.insert(system_id.to_owned(), i);
                i
            }
            None => return Err(CommandStatus::ESME_RINVSYSID),
        };
        let account = self
            .accounts
            .get_mut(index as usize)
            .ok_or(CommandStatus::ESME_RSYSERR)?;
        if let Some(expected) = &account.password {
            if expected != password {
                return Err(CommandStatus::ESME_RINVPASWD);
            }
        }
        if !account.bind_types.contains(&BindType::from(kind)) {
            return Err(CommandStatus::ESME_RBINDFAIL);
        }
        if account.binds >= account.max_binds {
            return Err(CommandStatus::ESME_RBINDFAIL);
        }
        account.binds += 1;
        Ok(BindHandle {
            account: AccountId(index),
            kind,
        })
    }

    /// A bind ended (unbind or connection lost): frees its place under `max_binds`.
    pub fn unbind(&mut self, bind: BindHandle) {
        if let Some(a) = self.accounts.get_mut(bind.account.0 as usize) {
            if a.binds > 0 {
                a.binds -= 1;
                self.stats.bound = self.stats.bound.saturating_sub(1);
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Submissions

    /// submit_sm: validates like a strict SMSC, applies the account's rate limit and the
    /// reserved ranges, stores and schedules the message, and returns its id.
    ///
    /// # Errors
    /// The submit_sm_resp status (see `docs/simulator.md` for the rule behind each).
    pub fn submit(
        &mut self,
        now_ms: u64,
        bind: BindHandle,
        sm: &SubmitSm,
    ) -> Result<MessageId, CommandStatus> {
        let s = Submission {
            source_ton: sm.source_addr_ton,
            source_npi: sm.source_addr_npi,
            source: sm.source_addr.as_bytes(),
            dest_ton: sm.dest_addr_ton,
            dest_npi: sm.dest_addr_npi,
            dest: sm.destination_addr.as_bytes(),
            esm_class: sm.esm_class,
            priority: sm.priority_flag.0,
            schedule: sm.schedule_delivery_time.as_bytes(),
            validity: sm.validity_period.as_bytes(),
            registered_delivery: sm.registered_delivery,
            replace_if_present: sm.replace_if_present_flag,
            data_coding: sm.data_coding,
            sm_default_msg_id: sm.sm_default_msg_id,
            short_message: sm.short_message.as_bytes(),
            tlvs: &sm.tlvs,
        };
        self.accept_one(now_ms, bind, &s)
    }

    /// data_sm: as [`Engine::submit`]; the content must be in `message_payload`
    /// (ESME_RMISSINGOPTPARAM otherwise), addresses at most 20 characters.
    ///
    /// # Errors
    /// The data_sm_resp status.
    pub fn submit_data(
        &mut self,
        now_ms: u64,
        bind: BindHandle,
        sm: &DataSm,
    ) -> Result<MessageId, CommandStatus> {
        if sm.source_addr.len() > 20 {
            self.stats.submit_sm += 1;
            self.stats.rejected += 1;
            return Err(CommandStatus::ESME_RINVSRCADR);
        }
        if sm.destination_addr.len() > 20 {
            self.stats.submit_sm += 1;
            self.stats.rejected += 1;
            return Err(CommandStatus::ESME_RINVDSTADR);
        }
        if sm.message_payload().is_none() {
            self.stats.submit_sm += 1;
            self.stats.rejected += 1;
            return Err(CommandStatus::ESME_RMISSINGOPTPARAM);
        }
        let s = Submission {
            source_ton: sm.source_addr_ton,
            source_npi: sm.source_addr_npi,
            source: sm.source_addr.as_bytes(),
            dest_ton: sm.dest_addr_ton,
            dest_npi: sm.dest_addr_npi,
            dest: sm.destination_addr.as_bytes(),
            esm_class: sm.esm_class,
            priority: 0,
            schedule: b"",
            validity: b"",
            registered_delivery: sm.registered_delivery,
            replace_if_present: 0,
            data_coding: sm.data_coding,
            sm_default_msg_id: 0,
            short_message: b"",
            tlvs: &sm.tlvs,
        };
        self.accept_one(now_ms, bind, &s)
    }

    /// Accepts a one-destination submission under a fresh id.
    /// submit_multi: one message id for every destination; each destination is validated,
    /// stored, delivered and receipted on its own (the receipts all carry the one id). Failed
    /// destinations are listed in the response; if all fail, the first failure is the status.
    /// Distribution lists are not provisioned: each is listed with ESME_RINVDLNAME.
    ///
    /// # Errors
    /// ESME_RINVNUMDESTS without destinations; otherwise the first destination's status when
    /// none was accepted.
    pub fn submit_multi(
        &mut self,
        now_ms: u64,
        bind: BindHandle,
        sm: &SubmitMulti,
    ) -> Result<SubmitMultiResp, CommandStatus> {
        if sm.dest_addresses().is_empty() {
            return Err(CommandStatus::ESME_RINVNUMDESTS);
        }
        let id = self.next_id;
        let mut resp = SubmitMultiResp::new(self.format_id(id));
        let mut index = 0u64;
        let mut first_error = None;
        for dest in sm.dest_addresses() {
            let status = match dest {
                DestAddress::Sme { ton, npi, address } => {
                    let s = Submission {
                        source_ton: sm.source_addr_ton,
                        source_npi: sm.source_addr_npi,
                        source: sm.source_addr.as_bytes(),
                        dest_ton: *ton,
                        dest_npi: *npi,
                        dest: address.as_bytes(),
                        esm_class: sm.esm_class,
                        priority: sm.priority_flag.0,
                        schedule: sm.schedule_delivery_time.as_bytes(),
                        validity: sm.validity_period.as_bytes(),
                        registered_delivery: sm.registered_delivery,
                        replace_if_present: sm.replace_if_present_flag,
                        data_coding: sm.data_coding,
                        sm_default_msg_id: sm.sm_default_msg_id,
                        short_message: sm.short_message.as_bytes(),
                        tlvs: &sm.tlvs,
                    };
                    match self.accept(now_ms, bind, &s, id << DEST_BITS | index) {
                        Ok(()) => {
                            index += 1;
                            continue;
                        }
                        Err(status) => (*ton, *npi, *address, status),
                    }
                }
                DestAddress::DistributionList(name) => (
                    Ton::UNKNOWN,
                    Npi::UNKNOWN,
                    *name,
                    CommandStatus::ESME_RINVDLNAME,
                ),
            };
            let (dest_addr_ton, dest_addr_npi, destination_addr, error_status_code) = status;
            first_error.get_or_insert(error_status_code);
            // At most 255 destinations came in, so at most 255 go out.
            let _ = resp.push_unsuccess(UnsuccessSme {
                dest_addr_ton,
                dest_addr_npi,
                destination_addr,
                error_status_code,
            });
        }
        if index == 0 {
            return Err(first_error.unwrap_or(CommandStatus::ESME_RSUBMITFAIL));
        }
        self.next_id = (id + 1) & MAX_ID;
        Ok(resp)
    }

    /// Accepts a one-destination submission under a fresh id.
    fn accept_one(
        &mut self,
        now_ms: u64,
        bind: BindHandle,
        s: &Submission<'_>,
    ) -> Result<MessageId, CommandStatus> {
        let id = self.next_id;
        self.accept(now_ms, bind, s, id << DEST_BITS)?;
        self.next_id = (id + 1) & MAX_ID;
        Ok(self.format_id(id))
    }

    /// Validates and stores one destination of a submission under the store key `key`.
    fn accept(
        &mut self,
        now_ms: u64,
        bind: BindHandle,
        s: &Submission<'_>,
        key: u64,
    ) -> Result<(), CommandStatus> {
        self.stats.submit_sm += 1;
        let result = self.try_accept(now_ms, bind, s, key);
        match result {
            Ok(_) => self.stats.accepted += 1,
            Err(CommandStatus::ESME_RTHROTTLED) => self.stats.throttled += 1,
            Err(_) => self.stats.rejected += 1,
        }
        result
    }

    fn take_token(&mut self, now_ms: u64, account: u32) -> Result<(), CommandStatus> {
        let a = self
            .accounts
            .get_mut(account as usize)
            .ok_or(CommandStatus::ESME_RINVBNDSTS)?;
        if a.max_tps == 0 {
            return Ok(());
        }
        let rate = u64::from(a.max_tps);
        let capacity = rate * 1000;
        let elapsed = now_ms.saturating_sub(a.tokens_at_ms);
        a.tokens = capacity.min(a.tokens.saturating_add(elapsed.saturating_mul(rate)));
        a.tokens_at_ms = a.tokens_at_ms.max(now_ms);
        if a.tokens < 1000 {
            return Err(CommandStatus::ESME_RTHROTTLED);
        }
        a.tokens -= 1000;
        Ok(())
    }

    /// Resolves an SMPP time field to Unix milliseconds (`None` for NULL).
    fn resolve_time(now_ms: u64, field: &[u8]) -> Result<Option<u64>, ()> {
        let Some(t) = SmppTime::parse(field).map_err(|_| ())? else {
            return Ok(None);
        };
        if let SmppTime::Relative(r) = t {
            if let Some(d) = r.fixed_duration() {
                return Ok(Some(now_ms.saturating_add(ms(d))));
            }
        }
        let now_s = i64::try_from(now_ms / 1000).map_err(|_| ())?;
        let at = t.resolve(now_s).map_err(|_| ())?;
        Ok(Some(u64::try_from(at).unwrap_or(0).saturating_mul(1000)))
    }

    fn try_accept(
        &mut self,
        now_ms: u64,
        bind: BindHandle,
        s: &Submission<'_>,
        id: u64,
    ) -> Result<(), CommandStatus> {
        if !bind.kind.can_transmit() {
            return Err(CommandStatus::ESME_RINVBNDSTS);
        }
        self.take_token(now_ms, bind.account.0)?;
        // -- Source address.
        if s.source_ton.0 > 6 {
            return Err(CommandStatus::ESME_RINVSRCTON);
        }
        if !matches!(s.source_npi.0, 0 | 1 | 3 | 4 | 6 | 8 | 9 | 10 | 14 | 18) {
            return Err(CommandStatus::ESME_RINVSRCNPI);
        }
        let source_ok = match s.source_ton {
            Ton::ALPHANUMERIC => {
                (1..=11).contains(&s.source.len())
                    && s.source.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
            }
            Ton::INTERNATIONAL => {
                (1..=15).contains(&s.source.len()) && s.source.iter().all(u8::is_ascii_digit)
            }
            _ => !s.source.is_empty() && s.source.iter().all(u8::is_ascii_graphic),
        };
        if !source_ok {
            return Err(CommandStatus::ESME_RINVSRCADR);
        }
        // -- Destination: a mobile number, international (or national with a leading 0).
        if !matches!(s.dest_ton.0, 0..=2) {
            return Err(CommandStatus::ESME_RINVDSTTON);
        }
        if !matches!(s.dest_npi.0, 0 | 1) {
            return Err(CommandStatus::ESME_RINVDSTNPI);
        }
        let mut dest_buf = [0u8; 20];
        let dest: &[u8] = match (s.dest_ton, s.dest) {
            (Ton::NATIONAL, [b'0', rest @ ..]) => {
                let cc = self.config.country_code.as_bytes();
                let n = cc.len() + rest.len();
                let slot = dest_buf
                    .get_mut(..n)
                    .ok_or(CommandStatus::ESME_RINVDSTADR)?;
                let (a, b) = slot.split_at_mut(cc.len());
                a.copy_from_slice(cc);
                b.copy_from_slice(rest);
                dest_buf.get(..n).unwrap_or(&[])
            }
            (_, d) => d,
        };
        if !(7..=15).contains(&dest.len()) || !dest.iter().all(u8::is_ascii_digit) {
            return Err(CommandStatus::ESME_RINVDSTADR);
        }
        // -- Flags.
        let esm = s.esm_class;
        if esm.message_type() != 0 {
            // ESMEs may not submit receipts or acknowledgements to handsets here.
            return Err(CommandStatus::ESME_RINVESMCLASS);
        }
        if s.priority > 3 {
            return Err(CommandStatus::ESME_RINVPRTFLG);
        }
        if s.registered_delivery.0 & 0xE0 != 0 {
            return Err(CommandStatus::ESME_RINVREGDLVFLG);
        }
        if s.replace_if_present > 1 {
            return Err(CommandStatus::ESME_RINVREPFLAG);
        }
        if s.sm_default_msg_id != 0 {
            return Err(CommandStatus::ESME_RINVDFTMSGID);
        }
        // -- Content.
        let payload = s.tlvs.message_payload();
        if payload.is_some() && !s.short_message.is_empty() {
            return Err(CommandStatus::ESME_ROPTPARNOTALLWD);
        }
        let content: &[u8] = payload.map_or(s.short_message, |p| &p[..]);
        let dc = s.data_coding.0;
        let alphabet = sms_text::alphabet(dc).ok();
        if alphabet.is_none() && !is_binary(dc) {
            return Err(CommandStatus::ESME_RINVDCS);
        }
        let udh = if esm.udhi() {
            udh_len(content).ok_or(CommandStatus::ESME_RINVESMCLASS)?
        } else {
            0
        };
        let text = content.get(udh..).unwrap_or(&[]);
        // One SMS on the air holds 160 septets (GSM-7; IA5 is carried as GSM-7) or 140
        // octets; a `message_payload` may be longer (the SMSC splits it).
        match alphabet {
            Some(sms_text::Alphabet::Gsm7 | sms_text::Alphabet::Ascii) => {
                if text.iter().any(|&b| b > 0x7F) {
                    return Err(CommandStatus::ESME_RINVDCS);
                }
                // The UDH padded to a septet boundary, then one septet per octet of text.
                if payload.is_none() && (udh * 8).div_ceil(7) + text.len() > 160 {
                    return Err(CommandStatus::ESME_RINVMSGLEN);
                }
            }
            Some(sms_text::Alphabet::Ucs2) if text.len() % 2 != 0 => {
                return Err(CommandStatus::ESME_RINVMSGLEN);
            }
            _ => {
                if payload.is_none() && content.len() > 140 {
                    return Err(CommandStatus::ESME_RINVMSGLEN);
                }
            }
        }
        let sar = s.tlvs.sar();
        let has_sar_part = s.tlvs.iter().any(|t| {
            matches!(
                t,
                Tlv::SarMsgRefNum(_) | Tlv::SarTotalSegments(_) | Tlv::SarSegmentSeqnum(_)
            )
        });
        match sar {
            None if has_sar_part => return Err(CommandStatus::ESME_RMISSINGOPTPARAM),
            Some((_, total, seq)) if total == 0 || seq == 0 || seq > total => {
                return Err(CommandStatus::ESME_RINVOPTPARAMVAL)
            }
            _ => {}
        }
        // -- Times.
        let qos = s.tlvs.iter().find_map(|t| match t {
            Tlv::QosTimeToLive(secs) => Some(u64::from(*secs) * 1000),
            _ => None,
        });
        let schedule =
            Self::resolve_time(now_ms, s.schedule).map_err(|()| CommandStatus::ESME_RINVSCHED)?;
        let start_ms = schedule.map_or(now_ms, |t| t.max(now_ms));
        let max_expire = now_ms.saturating_add(ms(self.config.max_validity));
        let expire_ms = match qos {
            Some(ttl) => now_ms.saturating_add(ttl),
            None => match Self::resolve_time(now_ms, s.validity)
                .map_err(|()| CommandStatus::ESME_RINVEXPIRY)?
            {
                Some(t) if t <= now_ms => return Err(CommandStatus::ESME_RINVEXPIRY),
                Some(t) => t,
                None => now_ms.saturating_add(ms(self.config.default_validity)),
            },
        }
        .min(max_expire);
        if start_ms >= expire_ms {
            return Err(CommandStatus::ESME_RINVSCHED);
        }
        // -- Reserved ranges that refuse at submit.
        let range =
            longest_prefix(&self.range_prefixes, dest).and_then(|i| self.config.test_ranges.get(i));
        if let Some(r) = range.filter(|r| r.behaviour == Behaviour::Reject) {
            return Err(r.reject_status());
        }
        if self.store.len().saturating_sub(self.finished.len()) >= self.config.max_queued {
            return Err(CommandStatus::ESME_RMSGQFUL);
        }
        // -- Accepted: decide the outcome, store, schedule.
        let source = Addr::new(s.source_ton.0, s.source_npi.0, s.source)
            .ok_or(CommandStatus::ESME_RINVSRCADR)?;
        let dest_addr = Addr::new(Ton::INTERNATIONAL.0, Npi::ISDN.0, dest)
            .ok_or(CommandStatus::ESME_RINVDSTADR)?;
        let key = digits_key(dest).ok_or(CommandStatus::ESME_RINVDSTADR)?;
        let counter = &mut self.phones.entry(key).submitted;
        let n = *counter;
        *counter = counter.wrapping_add(1);
        let range = range.cloned();
        let (fate, due_ms) = self.plan(dest, n, start_ms, expire_ms, range.as_ref());
        if self.last_sender.get(s.source).copied() != Some(bind.account.0) {
            self.last_sender.insert(s.source.into(), bind.account.0);
        }
        self.store.insert(
            id,
            Msg {
                account: bind.account.0,
                state: MessageState::Enroute,
                fate,
                registered_delivery: s.registered_delivery.0,
                data_coding: dc,
                esm_class: esm.0,
                err: 0,
                sar,
                source,
                dest: dest_addr,
                submit_ms: now_ms,
                due_ms,
                expire_ms,
                final_ms: 0,
                payload: content.into(),
            },
        );
        self.timers.push(Reverse((due_ms, id)));
        Ok(())
    }

    /// The outcome and its time for the `n`-th message to `dest`, starting at `start_ms`.
    fn plan(
        &self,
        dest: &[u8],
        n: u32,
        start_ms: u64,
        expire_ms: u64,
        range: Option<&TestRange>,
    ) -> (Fate, u64) {
        if let Some(r) = range {
            let err = |default: u16| r.err.unwrap_or(default);
            return match r.behaviour {
                Behaviour::DeliverInstantly => (Fate::Deliver, start_ms),
                Behaviour::Fail => (Fate::Fail(err(34)), start_ms),
                Behaviour::NeverDeliver => (Fate::Expire(err(0)), expire_ms),
                Behaviour::Delay => {
                    let at = start_ms.saturating_add(r.delay.map_or(0, ms));
                    if at > expire_ms {
                        (Fate::Expire(err(0)), expire_ms)
                    } else {
                        (Fate::Deliver, at)
                    }
                }
                Behaviour::Absent => (Fate::Expire(err(27)), expire_ms),
                Behaviour::Unknown => (Fate::Fail(err(1)), start_ms),
                Behaviour::RejectReceipt => (Fate::Reject(err(11)), start_ms),
                // Refused at submit; never stored.
                Behaviour::Reject => (Fate::Reject(err(0)), start_ms),
            };
        }
        let seed = self.config.seed;
        let network =
            longest_prefix(&self.network_prefixes, dest).and_then(|i| self.config.networks.get(i));
        let Some(net) = network else {
            // Validation guarantees a catch-all network; be safe anyway.
            return (Fate::Fail(1), start_ms);
        };
        let latency = Self::latency(
            net,
            rng::unit(rng::hash(seed, rng::LATENCY, dest, u64::from(n))),
        );
        let at = start_ms.saturating_add(latency);
        // The handset's state is a fixed function of (seed, number).
        let h = rng::unit(rng::hash(seed, rng::HANDSET, dest, 0));
        let hs = net.handsets;
        if h < hs.unknown {
            return (Fate::Fail(1), at);
        }
        if h < hs.unknown + hs.absent {
            return (Fate::Expire(27), expire_ms);
        }
        let u = rng::unit(rng::hash(seed, rng::OUTCOME, dest, u64::from(n)));
        let m = net.mix;
        let total = m.delivered + m.failed + m.expired;
        let fate = if u * total < m.delivered {
            Fate::Deliver
        } else if u * total < m.delivered + m.failed {
            Fate::Fail(net.failure_err)
        } else {
            return (Fate::Expire(0), expire_ms);
        };
        let mut at = at;
        if h < hs.unknown + hs.absent + hs.off {
            // Off for `off_for` in every `off_period`, at a phase fixed per number: delivery
            // waits until it is back on.
            let period = ms(hs.off_period).max(1);
            let off_for = ms(hs.off_for);
            let phase = rng::hash(seed, rng::OFF_PHASE, dest, 0) % period;
            let into = at.wrapping_add(period - phase) % period;
            if into < off_for {
                at = at.saturating_add(off_for - into);
            }
        }
        if at > expire_ms {
            return (Fate::Expire(27), expire_ms);
        }
        (fate, at)
    }

    fn latency(net: &NetworkConfig, u: f64) -> u64 {
        let l = net.latency;
        let (min, typical, max) = (ms(l.min), ms(l.typical), ms(l.max));
        let mean = (typical - min) as f64;
        // Exponential tail above the minimum, capped: most deliveries are quick, a few slow.
        let extra = -mean * (1.0 - u).ln();
        let total = min as f64 + extra;
        if total.is_finite() {
            (total as u64).min(max)
        } else {
            max
        }
    }

    fn format_id(&self, id: u64) -> MessageId {
        // Written backwards into a stack buffer: `format!` was 5% of a submission.
        let mut buf = [0u8; 20];
        let mut at = buf.len();
        let mut v = id;
        let radix = match self.config.message_ids.format {
            IdFormat::Hex => 16,
            IdFormat::Decimal => 10,
        };
        loop {
            at -= 1;
            // `at` stays in range: a u64 has at most 20 decimal (16 hex) digits.
            if let Some(slot) = buf.get_mut(at) {
                *slot = b"0123456789abcdef"[(v % radix) as usize];
            }
            v /= radix;
            if v == 0 || at == 0 {
                break;
            }
        }
        // ASCII digits, at most 20: fits C(65), no NUL.
        MessageId::new(buf.get(at..).unwrap_or(&[])).unwrap_or_default()
    }

    fn parse_id(&self, id: &[u8]) -> Option<u64> {
        let s = std::str::from_utf8(id).ok()?;
        match self.config.message_ids.format {
            IdFormat::Hex => u64::from_str_radix(s, 16).ok(),
            IdFormat::Decimal => s.parse().ok(),
        }
        .filter(|id| *id <= MAX_ID)
    }

    fn receipt_text_id(&self, id: u64) -> String {
        if self.config.message_ids.decimal_in_receipt_text {
            format!("{id:010}")
        } else {
            self.format_id(id).to_string()
        }
    }

    // -----------------------------------------------------------------------------------
    // query_sm, cancel_sm, replace_sm

    fn own_message(&self, bind: BindHandle, id: &[u8], source: &Address) -> Option<(u64, &Msg)> {
        let id = self.parse_id(id)? << DEST_BITS;
        let m = self.store.get(&id)?;
        (m.account == bind.account.0 && m.source.bytes() == source.as_bytes()).then_some((id, m))
    }

    /// query_sm: the state of one of this account's messages (the source address must match
    /// the submission's).
    ///
    /// # Errors
    /// ESME_RINVMSGID for an id this SMSC does not know (or no longer keeps).
    pub fn query(&self, bind: BindHandle, q: &QuerySm) -> Result<QuerySmResp, CommandStatus> {
        let (_, m) = self
            .own_message(bind, q.message_id.as_bytes(), &q.source_addr)
            .ok_or(CommandStatus::ESME_RINVMSGID)?;
        let final_date = if m.state.is_final() {
            clock::smpp_time(m.final_ms)
                .and_then(|t| smpp::types::TimeString::new(&t.to_bytes()).ok())
                .unwrap_or_default()
        } else {
            smpp::types::TimeString::empty()
        };
        Ok(QuerySmResp {
            message_id: q.message_id,
            final_date,
            message_state: m.state,
            error_code: u8::try_from(m.err).unwrap_or(u8::MAX),
            tlvs: Tlvs::new(),
        })
    }

    /// cancel_sm: deletes one pending message (by id), or, with an empty id, every pending
    /// message of this account from `source_addr` to `destination_addr`. No receipt is sent.
    ///
    /// # Errors
    /// ESME_RCANCELFAIL when nothing pending matches.
    pub fn cancel(
        &mut self,
        now_ms: u64,
        bind: BindHandle,
        c: &CancelSm,
    ) -> Result<(), CommandStatus> {
        let ids: Vec<u64> = if c.message_id.is_empty() {
            let dest = c.destination_addr.as_bytes();
            self.store
                .iter()
                .filter(|(_, m)| {
                    m.account == bind.account.0
                        && !m.state.is_final()
                        && m.source.bytes() == c.source_addr.as_bytes()
                        && m.dest.bytes() == dest
                })
                .map(|(id, _)| id)
                .collect()
        } else {
            // Every destination of the submission (submit_multi stores one per destination).
            match self.own_message(bind, c.message_id.as_bytes(), &c.source_addr) {
                Some((first, _)) => (first..first + (1 << DEST_BITS))
                    .map_while(|k| self.store.get(&k).map(|m| (k, m)))
                    .filter(|(_, m)| !m.state.is_final())
                    .map(|(k, _)| k)
                    .collect(),
                None => Vec::new(),
            }
        };
        if ids.is_empty() {
            return Err(CommandStatus::ESME_RCANCELFAIL);
        }
        // Map iteration order varies between runs; the finished queue (and so which records
        // are forgotten first) must not.
        let mut ids = ids;
        ids.sort_unstable();
        for id in ids {
            if let Some(m) = self.store.get_mut(&id) {
                m.state = MessageState::Deleted;
                m.final_ms = now_ms;
                m.payload = Box::default();
                self.stats.cancelled += 1;
                self.finished.push_back(id);
            }
        }
        self.trim_finished();
        Ok(())
    }

    /// replace_sm: new content and registered_delivery for a pending message; a new
    /// validity period moves its expiry (a schedule time is not supported here:
    /// ESME_RINVSCHED, so a test notices).
    ///
    /// # Errors
    /// ESME_RREPLACEFAIL when the message is not pending, ESME_RINVMSGID when unknown, and the
    /// content and time statuses of [`Engine::submit`].
    pub fn replace(
        &mut self,
        now_ms: u64,
        bind: BindHandle,
        r: &ReplaceSm,
    ) -> Result<(), CommandStatus> {
        let (id, m) = self
            .own_message(bind, r.message_id.as_bytes(), &r.source_addr)
            .ok_or(CommandStatus::ESME_RINVMSGID)?;
        if m.state.is_final() {
            return Err(CommandStatus::ESME_RREPLACEFAIL);
        }
        if !r.schedule_delivery_time.is_empty() {
            return Err(CommandStatus::ESME_RINVSCHED);
        }
        if r.registered_delivery.0 & 0xE0 != 0 {
            return Err(CommandStatus::ESME_RINVREGDLVFLG);
        }
        let content: &[u8] = match r.tlvs.message_payload() {
            Some(p) if r.short_message.is_empty() => p,
            Some(_) => return Err(CommandStatus::ESME_ROPTPARNOTALLWD),
            None => r.short_message.as_bytes(),
        };
        let gsm = matches!(
            sms_text::alphabet(m.data_coding),
            Ok(sms_text::Alphabet::Gsm7)
        );
        let limit = if gsm { 160 } else { 140 };
        if r.tlvs.message_payload().is_none() && content.len() > limit {
            return Err(CommandStatus::ESME_RINVMSGLEN);
        }
        let expire = Self::resolve_time(now_ms, r.validity_period.as_bytes())
            .map_err(|()| CommandStatus::ESME_RINVEXPIRY)?;
        if matches!(expire, Some(t) if t <= now_ms) {
            return Err(CommandStatus::ESME_RINVEXPIRY);
        }
        let max_expire = now_ms.saturating_add(ms(self.config.max_validity));
        let mut timer = None;
        if let Some(m) = self.store.get_mut(&id) {
            m.payload = content.into();
            m.registered_delivery = r.registered_delivery.0;
            if let Some(t) = expire {
                m.expire_ms = t.min(max_expire);
                if m.due_ms > m.expire_ms || matches!(m.fate, Fate::Expire(_)) {
                    let err = match m.fate {
                        Fate::Expire(e) => e,
                        _ => 0,
                    };
                    m.fate = Fate::Expire(err);
                    m.due_ms = m.expire_ms;
                    timer = Some(m.due_ms);
                }
            }
        }
        if let Some(t) = timer {
            self.timers.push(Reverse((t, id)));
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Time

    /// When [`Engine::advance`] next has work (a delivery or an expiry), if ever.
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Runs every delivery and expiry due at or before `now_ms`: handsets receive, receipts
    /// are queued for the accounts. Returns the number of messages that reached a final state.
    pub fn advance(&mut self, now_ms: u64) -> usize {
        let mut done = 0;
        while let Some(&Reverse((due, id))) = self.timers.peek() {
            if due > now_ms {
                break;
            }
            self.timers.pop();
            let Some(m) = self.store.get(&id) else {
                continue;
            };
            // A stale timer (message cancelled, or rescheduled by replace_sm).
            if m.state.is_final() || m.due_ms != due {
                continue;
            }
            self.finish(id, due);
            done += 1;
        }
        self.stats.queued = (self.store.len().saturating_sub(self.finished.len())) as u64;
        done
    }

    fn finish(&mut self, id: u64, at_ms: u64) {
        let Some(m) = self.store.get_mut(&id) else {
            return;
        };
        let (state, err) = match m.fate {
            Fate::Deliver => (MessageState::Delivered, 0),
            Fate::Fail(e) => (MessageState::Undeliverable, e),
            Fate::Reject(e) => (MessageState::Rejected, e),
            Fate::Expire(e) => (MessageState::Expired, e),
        };
        m.state = state;
        m.err = err;
        m.final_ms = at_ms;
        let payload = std::mem::take(&mut m.payload);
        let (account, source, dest, dc, esm, rd, sar, submit_ms) = (
            m.account,
            m.source,
            m.dest,
            m.data_coding,
            m.esm_class,
            m.registered_delivery,
            m.sar,
            m.submit_ms,
        );
        match state {
            MessageState::Delivered => {
                self.stats.delivered += 1;
                self.deliver_to_handset(at_ms, &source, &dest, dc, esm, sar, &payload);
            }
            MessageState::Expired => self.stats.expired += 1,
            _ => self.stats.failed += 1,
        }
        let wants = match rd & RegisteredDelivery::RECEIPT_MASK {
            1 => true,
            2 => state != MessageState::Delivered,
            3 => state == MessageState::Delivered,
            _ => false,
        };
        if wants {
            let snippet = if self.config.receipts.include_text {
                snippet(dc, esm, &payload)
            } else {
                Box::default()
            };
            if let Some(a) = self.accounts.get_mut(account as usize) {
                a.outbound
                    .push_back(Outbound::Receipt(Box::new(ReceiptItem {
                        id: id >> DEST_BITS,
                        from: dest,
                        to: source,
                        submit_ms,
                        done_ms: at_ms,
                        state,
                        err,
                        snippet,
                    })));
                self.stats.outbound_pending += 1;
            }
        }
        self.finished.push_back(id);
        self.trim_finished();
    }

    fn trim_finished(&mut self) {
        while self.finished.len() > self.config.retain_finished {
            if let Some(old) = self.finished.pop_front() {
                self.store.remove(&old);
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // the fields of one stored message
    fn deliver_to_handset(
        &mut self,
        now_ms: u64,
        source: &Addr,
        dest: &Addr,
        dc: u8,
        esm: u8,
        sar: Option<(u16, u8, u8)>,
        payload: &[u8],
    ) {
        let Some(key) = digits_key(dest.bytes()) else {
            return;
        };
        let from = source.str();
        // A message_payload longer than one SMS goes on the air in several parts.
        let air_parts = air_parts(dc, payload.len());
        let received = Received {
            from: &from,
            data_coding: dc,
            udhi: EsmClass(esm).udhi(),
            bytes: payload,
            sar: sar.map(|(reference, total, sequence)| SarInfo {
                reference,
                total,
                sequence,
            }),
            air_parts,
        };
        let timeout = ms(self.config.reassembly_timeout);
        let limit = self.config.inbox_limit;
        let outcome = self
            .phones
            .entry(key)
            .handset
            .receive(now_ms, received, timeout, limit);
        self.stats.reassembly_timeouts += outcome.timed_out as u64;
        self.stats.inbox_dropped += outcome.dropped as u64;
    }

    // -----------------------------------------------------------------------------------
    // Outbound: receipts and MO

    /// Up to `max` deliver_sm (receipts and MO parts, oldest first) for a receiver or
    /// transceiver bind of `account`. They stay queued while no such bind takes them.
    pub fn take_outbound(&mut self, account: AccountId, max: usize) -> Vec<DeliverSm> {
        let Some(a) = self.accounts.get_mut(account.0 as usize) else {
            return Vec::new();
        };
        let n = max.min(a.outbound.len());
        let items: Vec<Outbound> = a.outbound.drain(..n).collect();
        self.stats.outbound_pending = self.stats.outbound_pending.saturating_sub(n as u64);
        let mut out = Vec::with_capacity(n);
        for item in items {
            match item {
                Outbound::Receipt(r) => {
                    self.stats.receipts_sent += 1;
                    out.push(self.receipt_pdu(&r));
                }
                Outbound::Mo(p) => {
                    self.stats.mo_parts_sent += 1;
                    out.push(mo_pdu(&p));
                }
                Outbound::Ready(d) => out.push(*d),
            }
        }
        out
    }

    /// Puts deliver_sm back at the front of the account's queue (the ESME answered with an
    /// error such as ESME_RX_T_APPN, or the connection dropped before the response).
    pub fn return_outbound(&mut self, account: AccountId, pdus: Vec<DeliverSm>) {
        if let Some(a) = self.accounts.get_mut(account.0 as usize) {
            for d in pdus.into_iter().rev() {
                a.outbound.push_front(Outbound::Ready(Box::new(d)));
                self.stats.outbound_pending += 1;
            }
        }
    }

    /// deliver_sm waiting for `account`.
    pub fn outbound_len(&self, account: AccountId) -> usize {
        self.accounts
            .get(account.0 as usize)
            .map_or(0, |a| a.outbound.len())
    }

    fn receipt_pdu(&self, r: &ReceiptItem) -> DeliverSm {
        let offset = self.config.receipts.utc_offset_minutes;
        let text_id = self.receipt_text_id(r.id);
        // Ids are hex or decimal digits, always a valid receipt id; if that ever failed the
        // receipt would still carry its TLVs.
        let text = match ReceiptId::new(&text_id) {
            Ok(id) => {
                let mut tr = TextReceipt::new(id);
                tr.sub = Some(1);
                tr.dlvrd = Some(u32::from(r.state == MessageState::Delivered));
                tr.submit_date = clock::receipt_date(r.submit_ms, offset);
                tr.done_date = clock::receipt_date(r.done_ms, offset);
                tr.stat = ReceiptStat::from_state(r.state);
                tr.err = Some(ReceiptErr::new(u32::from(r.err)));
                if self.config.receipts.include_text {
                    tr.text = Some(r.snippet.as_bytes().to_vec());
                }
                // A text that would read as receipt fields is refused by `to_text`: drop it.
                tr.to_text()
                    .or_else(|_| {
                        tr.text = None;
                        tr.to_text()
                    })
                    .unwrap_or_default()
            }
            Err(_) => Vec::new(),
        };
        let mut d = DeliverSm::new(
            r.from.address(),
            r.to.address(),
            ShortMessage::new(&text).unwrap_or_default(),
        );
        d.source_addr_ton = Ton(r.from.ton);
        d.source_addr_npi = Npi(r.from.npi);
        d.dest_addr_ton = Ton(r.to.ton);
        d.dest_addr_npi = Npi(r.to.npi);
        d.esm_class = EsmClass::DELIVERY_RECEIPT;
        if self.config.receipts.include_tlvs {
            let id = self.format_id(r.id);
            let mut tlvs = Tlvs::new();
            // Each value fits its tag (an id of at most 20 characters, one state octet, a
            // 3-octet error), so `push` cannot fail; ignoring the Result keeps this total.
            let _ = tlvs.push(Tlv::ReceiptedMessageId(id));
            let _ = tlvs.push(Tlv::MessageState(r.state));
            if r.err != 0 {
                let _ = tlvs.push(Tlv::NetworkErrorCode(NetworkErrorCode {
                    network_type: 3, // GSM
                    error_code: r.err,
                }));
            }
            d.tlvs = tlvs;
        }
        d
    }

    /// An MO message from handset `from` to `to` (a short code or sender id): split into
    /// concatenated parts (8-bit reference UDH) when long, and queued as deliver_sm for the
    /// account that owns `to` (configured `short_codes`), else the account that last sent
    /// from `to`, else the only account.
    ///
    /// # Errors
    /// [`MoError`] naming the bad field, or no route.
    pub fn mo(&mut self, from: &str, to: &str, text: &str) -> Result<MoAccepted, MoError> {
        let fb = from.as_bytes();
        if !(7..=15).contains(&fb.len()) || !fb.iter().all(u8::is_ascii_digit) {
            return Err(MoError::InvalidFrom(from.to_owned()));
        }
        if to.is_empty() || to.len() > 20 || to.contains('\0') {
            return Err(MoError::InvalidTo(to.to_owned()));
        }
        let by_config = self
            .config
            .accounts
            .iter()
            .position(|a| a.short_codes.iter().any(|c| c == to))
            .and_then(|i| {
                self.account_index
                    .get(&self.config.accounts.get(i)?.system_id)
            })
            .copied();
        let account = by_config
            .or_else(|| self.last_sender.get(to.as_bytes()).copied())
            .or_else(|| (self.accounts.len() == 1).then_some(0))
            .ok_or_else(|| MoError::NoRoute(to.to_owned()))?;
        self.mo_reference = self.mo_reference.wrapping_add(1);
        let options = sms_text::Options {
            concat: sms_text::Concat::Udh8 {
                reference: self.mo_reference as u8,
            },
            ..sms_text::Options::default()
        };
        let encoded = sms_text::encode(text, &options).map_err(|e| MoError::Text(e.to_string()))?;
        let from_addr = Addr::new(Ton::INTERNATIONAL.0, Npi::ISDN.0, fb)
            .ok_or_else(|| MoError::InvalidFrom(from.to_owned()))?;
        let to_ton = if to.bytes().all(|b| b.is_ascii_digit()) {
            if to.len() <= 8 {
                Ton::NETWORK_SPECIFIC
            } else {
                Ton::INTERNATIONAL
            }
        } else {
            Ton::ALPHANUMERIC
        };
        let to_npi = if to_ton == Ton::ALPHANUMERIC {
            Npi::UNKNOWN
        } else {
            Npi::ISDN
        };
        let to_addr = Addr::new(to_ton.0, to_npi.0, to.as_bytes())
            .ok_or_else(|| MoError::InvalidTo(to.to_owned()))?;
        let parts = encoded.parts.len();
        let a = self
            .accounts
            .get_mut(account as usize)
            .ok_or_else(|| MoError::NoRoute(to.to_owned()))?;
        for p in encoded.parts {
            a.outbound.push_back(Outbound::Mo(Box::new(MoPart {
                from: from_addr,
                to: to_addr,
                data_coding: encoded.data_coding,
                udhi: p.udhi,
                bytes: p.short_message.into(),
            })));
        }
        self.stats.mo += 1;
        self.stats.outbound_pending += parts as u64;
        Ok(MoAccepted {
            account: AccountId(account),
            parts,
        })
    }

    // -----------------------------------------------------------------------------------
    // Handsets and stats

    /// The reassembled messages of a handset (international digits, no `+`), oldest first.
    pub fn inbox(&self, msisdn: &str) -> Vec<InboxMessage> {
        digits_key(msisdn.as_bytes())
            .and_then(|k| self.phones.get(k))
            .map(|p| p.handset.messages().cloned().collect())
            .unwrap_or_default()
    }

    /// Concatenations a handset is still collecting parts for.
    pub fn pending_parts(&self, msisdn: &str) -> usize {
        digits_key(msisdn.as_bytes())
            .and_then(|k| self.phones.get(k))
            .map_or(0, |p| p.handset.pending_parts())
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.queued = (self.store.len().saturating_sub(self.finished.len())) as u64;
        s
    }

    /// The state of a message by its id as returned from submit (for tests and the HTTP API).
    pub fn message_state(&self, message_id: &str) -> Option<MessageState> {
        let id = self.parse_id(message_id.as_bytes())? << DEST_BITS;
        self.store.get(&id).map(|m| m.state)
    }
}

/// SMS parts a content of `len` octets needs on the air (1 when it fits one SMS).
fn air_parts(dc: u8, len: usize) -> u8 {
    let gsm = matches!(sms_text::alphabet(dc), Ok(sms_text::Alphabet::Gsm7));
    let (single, per) = if gsm { (160, 153) } else { (140, 134) };
    let n = if len <= single { 1 } else { len.div_ceil(per) };
    u8::try_from(n).unwrap_or(u8::MAX)
}

/// The first 20 characters of a message for the receipt `text:`, limited to characters
/// that read the same in ASCII and GSM-7 (the receipt goes out with data_coding 0); others
/// become `?`.
fn snippet(dc: u8, esm: u8, payload: &[u8]) -> Box<str> {
    let body = if EsmClass(esm).udhi() {
        udh_len(payload)
            .and_then(|n| payload.get(n..))
            .unwrap_or(&[])
    } else {
        payload
    };
    let text = sms_text::decode(dc, body).unwrap_or_default();
    text.chars()
        .take(20)
        .map(|c| {
            if c.is_ascii_alphanumeric() || " .,!?'\"()*+-/:;<=>%&#".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect::<String>()
        .into()
}

fn mo_pdu(p: &MoPart) -> DeliverSm {
    let mut d = DeliverSm::new(
        p.from.address(),
        p.to.address(),
        // Parts from `sms_text::encode` with a UDH never exceed 140 octets.
        ShortMessage::new(&p.bytes).unwrap_or_default(),
    );
    if p.bytes.len() > ShortMessage::MAX_LEN {
        d.short_message = ShortMessage::empty();
        let _ = d
            .tlvs
            .push(Tlv::MessagePayload(Bytes::copy_from_slice(&p.bytes)));
    }
    d.source_addr_ton = Ton(p.from.ton);
    d.source_addr_npi = Npi(p.from.npi);
    d.dest_addr_ton = Ton(p.to.ton);
    d.dest_addr_npi = Npi(p.to.npi);
    d.esm_class = EsmClass::DEFAULT.with_udhi(p.udhi);
    d.data_coding = DataCoding(p.data_coding);
    d
}
