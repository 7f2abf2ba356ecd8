//! Replies (MO messages): reassembly, storage, the account's MO webhook, STOP / START.
//!
//! The connector calls [`MoHandler::on_deliver_sm`] for every deliver_sm that is not a
//! delivery receipt, and answers the SMSC after it returns `Ok` (so a stored reply is
//! acknowledged, and one that could not be stored is redelivered).
//!
//! What happens to one reply:
//! 1. The sender (`source_addr`) must be a valid number, read as international digits (`+`
//!    optional). A reply from anything else (an alphanumeric sender, a malformed number) is
//!    logged and acknowledged without being stored: it can be neither answered nor
//!    suppressed, and redelivering it would not change that.
//! 2. Parts of a concatenated reply (UDH with an 8- or 16-bit reference, or the SAR TLVs) are
//!    kept in memory, per (connector, sender, destination, reference, total), until every
//!    part is there; then the whole text is decoded at once (so an escape or a surrogate
//!    pair split across parts survives) and stored as one reply. Parts of a reply that never
//!    completes are dropped [`REASSEMBLY_TIMEOUT`] after its first part; at most
//!    [`MAX_PENDING_PARTS`] parts wait at once (the oldest reply goes first).
//! 3. The text is decoded by `data_coding` (GSM-7 unpacked, IA5/ASCII, Latin-1, UCS-2). SMSCs
//!    that put Latin-1 bytes under `data_coding` 0 are common enough that invalid GSM-7 is
//!    read as Latin-1 rather than lost; any other undecodable reply is logged and dropped.
//! 4. The destination address picks the account ([`InboundConfig::numbers`]; anything
//!    unlisted belongs to the operator account, id 1). STOP-type keywords put the sender on
//!    that account's suppression list, START takes it off; either may produce a
//!    [`Confirmation`] for the engine to send.
//! 5. The reply is stored with the account's `mo_url`; the store queues the MO webhook in the
//!    same transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use smpp::pdu::DeliverSm;
use sms_text::{udh, Fragment, ReassemblyError, SarInfo};
use tuma_domain::{classify_mo, ConnectorId, IdGenerator, MoKeyword, Msisdn};
use tuma_store::{AccountId, InboundRecord, StoreError, Stores};

use crate::{Clock, Engine, InboundConfig};

/// Parts of an incomplete concatenated reply are dropped this long after its first part.
pub(crate) const REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Most parts (of all incomplete replies together) kept in memory.
pub(crate) const MAX_PENDING_PARTS: usize = 20_000;
/// How often (at most) the incomplete replies are swept for expired ones.
const SWEEP_EVERY_MS: u64 = 60_000;
/// The account of replies to numbers that [`InboundConfig::numbers`] does not list.
pub(crate) const OPERATOR_ACCOUNT: AccountId = AccountId(1);
/// Reason recorded on the suppression list for opt-outs by reply.
const STOP_REASON: &str = "STOP";

/// A message the engine should send back after a STOP / START reply.
///
/// The engine must send it even though (after STOP) the recipient is now suppressed: it is
/// the one message the opt-out rules expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Confirmation {
    /// The account the reply belongs to (the confirmation is sent on its behalf).
    pub account: AccountId,
    /// The handset, E.164 (`+2547...`).
    pub to: String,
    /// The address the reply was sent to (short code, long number or sender id), as
    /// received: the confirmation comes from where the person wrote to.
    pub from: String,
    /// The configured confirmation text.
    pub text: String,
}

/// Handles replies for every connector.
pub(crate) struct MoHandler {
    stores: Stores,
    config: InboundConfig,
    clock: Clock,
    /// [`InboundConfig::numbers`] by normalised address.
    numbers: HashMap<String, String>,
    state: Mutex<State>,
}

/// Mutable state; the lock is never held across an `.await`.
#[derive(Default)]
struct State {
    ids: IdGenerator,
    /// Account name -> id (ids never change; names are looked up again on a miss).
    accounts: HashMap<String, AccountId>,
    pending: HashMap<PartKey, Pending>,
    pending_parts: usize,
    last_sweep_ms: u64,
}

/// Which concatenated reply a part belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PartKey {
    connector: ConnectorId,
    source: String,
    destination: String,
    /// The reference with its kind folded in (8-bit, 16-bit and SAR references are
    /// different messages even with the same number).
    reference: u32,
    total: u8,
}

/// The parts received so far of one concatenated reply.
struct Pending {
    first_ms: u64,
    parts: BTreeMap<u8, StoredPart>,
}

/// One received part, owned (a [`Fragment`] borrows).
struct StoredPart {
    data_coding: u8,
    udhi: bool,
    bytes: Vec<u8>,
    sar: Option<SarInfo>,
}

impl StoredPart {
    fn fragment(&self, data_coding: u8) -> Fragment<'_> {
        Fragment {
            data_coding,
            udhi: self.udhi,
            short_message: &self.bytes,
            sar: self.sar,
        }
    }
}

/// What the destination and the reply's parts say, before the text is decoded.
enum Assembly {
    /// A whole reply: these parts (one, or all of a concatenated one), in order.
    Whole(Vec<StoredPart>, Option<(PartKey, u64)>),
    /// A part of a reply that is not complete yet.
    Incomplete,
}

impl MoHandler {
    pub(crate) fn new(stores: Stores, config: InboundConfig, clock: Clock) -> Self {
        let numbers = config
            .numbers
            .iter()
            .map(|(address, account)| (normalise_address(address), account.clone()))
            .collect();
        Self {
            stores,
            config,
            clock,
            numbers,
            state: Mutex::new(State::default()),
        }
    }

    /// One deliver_sm (not a receipt) from `connector`. Parts of a concatenated reply are
    /// kept until the reply is whole. Returns the STOP / START confirmation to send, if one
    /// is configured. `engine` is not needed (the caller sends the confirmation); the
    /// parameter stays for the engine core's call site.
    pub(crate) async fn on_deliver_sm(
        &self,
        engine: &Engine,
        connector: &ConnectorId,
        sm: DeliverSm,
    ) -> Result<Option<Confirmation>, StoreError> {
        let _ = engine;
        self.handle(connector, sm).await
    }

    /// [`Self::on_deliver_sm`] without the engine (what the tests call).
    async fn handle(
        &self,
        connector: &ConnectorId,
        sm: DeliverSm,
    ) -> Result<Option<Confirmation>, StoreError> {
        let now = self.clock.now_ms();
        let source = sm.source_addr.to_string_lossy().into_owned();
        let destination = sm.destination_addr.to_string_lossy().into_owned();
        let Some(from) = sender_number(&source) else {
            tracing::warn!(
                connector = connector.as_str(),
                source_addr = %source,
                "reply from a sender that is not a valid number: acknowledged, not stored"
            );
            return Ok(None);
        };
        let (parts, key) = match self.assemble(connector, &source, &destination, &sm, now) {
            Some(Assembly::Whole(parts, key)) => (parts, key),
            Some(Assembly::Incomplete) | None => return Ok(None),
        };
        let Some(text) = decode_parts(&parts, connector, &source) else {
            return Ok(None);
        };
        match self.store(connector, from, &destination, text, now).await {
            Ok(confirmation) => Ok(confirmation),
            Err(e) => {
                // The SMSC will redeliver the last part; the others were acknowledged
                // already, so keep them for it.
                if let Some((key, first_ms)) = key {
                    self.restore(key, first_ms, parts);
                }
                Err(e)
            }
        }
    }

    /// Puts a part where it belongs; `None` when the part is malformed (logged; acknowledged
    /// and dropped, since a redelivery would be just as malformed).
    fn assemble(
        &self,
        connector: &ConnectorId,
        source: &str,
        destination: &str,
        sm: &DeliverSm,
        now: u64,
    ) -> Option<Assembly> {
        let udhi = sm.esm_class.udhi();
        let bytes = sm.message();
        let sar = sm.tlvs().sar();
        let concat = if udhi {
            match udh::parse(bytes).and_then(|(h, _)| h.concatenation()) {
                Ok(c) => c.map(|c| {
                    let reference = match c.reference {
                        udh::Reference::Eight(r) => u32::from(r),
                        udh::Reference::Sixteen(r) => 0x1_0000 | u32::from(r),
                    };
                    (reference, c.total, c.sequence)
                }),
                Err(error) => {
                    tracing::warn!(
                        connector = connector.as_str(),
                        source_addr = %source,
                        %error,
                        "reply with a malformed user data header: dropped"
                    );
                    return None;
                }
            }
        } else {
            None
        };
        let concat =
            concat.or_else(|| sar.map(|(r, total, seq)| (0x2_0000 | u32::from(r), total, seq)));
        let part = StoredPart {
            data_coding: sm.data_coding.0,
            udhi,
            bytes: bytes.to_vec(),
            sar: sar.map(|(reference, total, sequence)| SarInfo {
                reference,
                total,
                sequence,
            }),
        };
        let Some((reference, total, sequence)) = concat.filter(|c| c.1 > 1) else {
            return Some(Assembly::Whole(vec![part], None));
        };
        if sequence == 0 || sequence > total {
            tracing::warn!(
                connector = connector.as_str(),
                source_addr = %source,
                sequence,
                total,
                "reply part with an impossible sequence number: dropped"
            );
            return None;
        }
        let key = PartKey {
            connector: connector.clone(),
            source: source.to_owned(),
            destination: destination.to_owned(),
            reference,
            total,
        };
        let mut st = self.lock();
        st.sweep(now);
        let pending = st.pending.entry(key.clone()).or_insert_with(|| Pending {
            first_ms: now,
            parts: BTreeMap::new(),
        });
        // A redelivered part replaces the copy we had.
        let added = pending.parts.insert(sequence, part).is_none();
        let first_ms = pending.first_ms;
        let complete = pending.parts.len() == usize::from(total);
        if added {
            st.pending_parts += 1;
        }
        if complete {
            let pending = st.pending.remove(&key)?;
            st.pending_parts = st.pending_parts.saturating_sub(pending.parts.len());
            let parts = pending.parts.into_values().collect();
            return Some(Assembly::Whole(parts, Some((key, first_ms))));
        }
        st.evict_over_limit();
        Some(Assembly::Incomplete)
    }

    /// Puts back the parts of a reply whose storing failed.
    fn restore(&self, key: PartKey, first_ms: u64, parts: Vec<StoredPart>) {
        let mut st = self.lock();
        let mut map = BTreeMap::new();
        for (i, part) in parts.into_iter().enumerate() {
            // The parts came out in sequence order, 1..=total.
            let sequence = u8::try_from(i + 1).unwrap_or(u8::MAX);
            map.insert(sequence, part);
        }
        st.pending_parts += map.len();
        if let Some(old) = st.pending.insert(
            key,
            Pending {
                first_ms,
                parts: map,
            },
        ) {
            st.pending_parts = st.pending_parts.saturating_sub(old.parts.len());
        }
        st.evict_over_limit();
    }

    /// Opt-out / opt-in, then the reply itself (in that order: suppression is idempotent, so
    /// a redelivery after a failed insert repeats it harmlessly, and a failed suppression
    /// stores nothing).
    async fn store(
        &self,
        connector: &ConnectorId,
        from: Msisdn,
        destination: &str,
        text: String,
        now: u64,
    ) -> Result<Option<Confirmation>, StoreError> {
        let id = {
            let mut st = self.lock();
            match st.ids.next_id(now, rand::random::<u128>()) {
                Ok(id) => id,
                Err(error) => {
                    // Only a clock past the year 10889 gets here.
                    tracing::error!(%error, "no id for a reply: dropped");
                    return Ok(None);
                }
            }
        };
        let account = self.account_for(destination).await?;
        let keyword = classify_mo(&text);
        let reply = match keyword {
            Some(MoKeyword::OptOut) => {
                self.stores
                    .suppression
                    .suppress(account, from, STOP_REASON, now)
                    .await?;
                self.config.stop_reply.as_ref()
            }
            Some(MoKeyword::OptIn) => {
                self.stores.suppression.unsuppress(account, from).await?;
                self.config.start_reply.as_ref()
            }
            None => None,
        };
        let webhook_url = self
            .stores
            .accounts
            .get_account(account)
            .await?
            .and_then(|a| a.settings.mo_url);
        self.stores
            .inbound
            .insert_inbound(vec![InboundRecord {
                id,
                account,
                from,
                to: destination.to_owned(),
                text: text.clone(),
                connector: connector.clone(),
                received_at_ms: now,
                webhook_url,
            }])
            .await?;
        tracing::debug!(
            connector = connector.as_str(),
            %id,
            %account,
            keyword = ?keyword,
            "reply stored"
        );
        Ok(reply.map(|text| Confirmation {
            account,
            to: from.as_e164(),
            from: destination.to_owned(),
            text: text.clone(),
        }))
    }

    /// The account owning `destination`.
    async fn account_for(&self, destination: &str) -> Result<AccountId, StoreError> {
        let Some(name) = self.numbers.get(&normalise_address(destination)) else {
            return Ok(OPERATOR_ACCOUNT);
        };
        if let Some(id) = self.lock().accounts.get(name) {
            return Ok(*id);
        }
        // A miss reloads the list: the account may have been created since the last look.
        let accounts = self.stores.accounts.list_accounts().await?;
        let mut st = self.lock();
        st.accounts = accounts.into_iter().map(|a| (a.name, a.id)).collect();
        match st.accounts.get(name) {
            Some(id) => Ok(*id),
            None => {
                tracing::warn!(
                    account = %name,
                    destination,
                    "inbound number mapped to an account that does not exist: replies go to the operator account"
                );
                Ok(OPERATOR_ACCOUNT)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent at every point a panic could happen (plain inserts and
        // removes), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// Drops incomplete replies older than the timeout (at most once a minute: the scan
    /// touches every entry).
    fn sweep(&mut self, now: u64) {
        if now.saturating_sub(self.last_sweep_ms) < SWEEP_EVERY_MS {
            return;
        }
        self.last_sweep_ms = now;
        let timeout = REASSEMBLY_TIMEOUT.as_millis() as u64;
        let mut dropped = 0;
        self.pending.retain(|key, p| {
            let keep = now.saturating_sub(p.first_ms) < timeout;
            if !keep {
                dropped += p.parts.len();
                tracing::info!(
                    connector = key.connector.as_str(),
                    source_addr = %key.source,
                    received = p.parts.len(),
                    total = key.total,
                    "incomplete concatenated reply timed out: dropped"
                );
            }
            keep
        });
        self.pending_parts = self.pending_parts.saturating_sub(dropped);
    }

    /// Drops the oldest incomplete replies while too many parts wait.
    fn evict_over_limit(&mut self) {
        while self.pending_parts > MAX_PENDING_PARTS {
            let Some(oldest) = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.first_ms)
                .map(|(k, _)| k.clone())
            else {
                self.pending_parts = 0;
                return;
            };
            if let Some(p) = self.pending.remove(&oldest) {
                self.pending_parts = self.pending_parts.saturating_sub(p.parts.len());
                tracing::warn!(
                    connector = oldest.connector.as_str(),
                    "too many incomplete concatenated replies: the oldest was dropped"
                );
            }
        }
    }
}

/// The sender as a number: digits (international, `+` optional). `None` otherwise.
fn sender_number(source: &str) -> Option<Msisdn> {
    let source = source.trim();
    let with_plus = if source.starts_with('+') {
        source.to_owned()
    } else {
        format!("+{source}")
    };
    Msisdn::from_e164(&with_plus).ok()
}

/// How addresses are compared with [`InboundConfig::numbers`]: trimmed, without a leading
/// `+` (SMSCs send international numbers with or without it), case-insensitive for sender
/// ids.
fn normalise_address(address: &str) -> String {
    address.trim().trim_start_matches('+').to_ascii_lowercase()
}

/// The text of a whole reply's parts; `None` (logged) when it cannot be decoded.
fn decode_parts(parts: &[StoredPart], connector: &ConnectorId, source: &str) -> Option<String> {
    let data_coding = parts.first().map_or(0, |p| p.data_coding);
    let with = |dc: Option<u8>| -> Result<String, ReassemblyError> {
        let fragments: Vec<Fragment<'_>> = parts
            .iter()
            .map(|p| p.fragment(dc.unwrap_or(p.data_coding)))
            .collect();
        sms_text::reassemble(&fragments)
    };
    match with(None) {
        Ok(text) => Some(text),
        // Many SMSCs send Latin-1 (or UTF-8 read as Latin-1) under "SMSC default"; showing
        // it as Latin-1 keeps the reply rather than losing it.
        Err(ReassemblyError::Payload(_)) if data_coding == 0 => {
            with(Some(0x03)).ok().inspect(|_| {
                tracing::debug!(
                    connector = connector.as_str(),
                    "reply with data_coding 0 is not GSM-7: read as Latin-1"
                );
            })
        }
        Err(error) => {
            tracing::warn!(
                connector = connector.as_str(),
                source_addr = %source,
                data_coding,
                %error,
                "reply could not be decoded: dropped"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smpp::tlv::Tlv;
    use smpp::types::DataCoding;
    use sms_text::{encode, Concat, Options};
    use tuma_store::{AccountSettings, MemoryStore, WebhookEvent};

    const HANDSET: &str = "254712345678";

    struct Fixture {
        stores: Stores,
        clock: Clock,
        mo: MoHandler,
        acme: AccountId,
        connector: ConnectorId,
    }

    /// Accounts `operator` (1) and `acme` (2, with an MO URL); `22333` belongs to acme.
    async fn fixture(config: InboundConfig) -> Fixture {
        let stores = MemoryStore::stores();
        let clock = Clock::system();
        let operator = stores.accounts.create_account("operator", 1).await.unwrap();
        assert_eq!(operator.id, OPERATOR_ACCOUNT);
        let acme = stores.accounts.create_account("acme", 2).await.unwrap().id;
        stores
            .accounts
            .update_account_settings(
                acme,
                AccountSettings {
                    callback_url: None,
                    mo_url: Some("http://127.0.0.1:9/mo".into()),
                },
            )
            .await
            .unwrap();
        let mut config = config;
        config.numbers.push(("22333".into(), "acme".into()));
        let mo = MoHandler::new(stores.clone(), config, clock.clone());
        Fixture {
            stores,
            clock,
            mo,
            acme,
            connector: ConnectorId::parse("smsc1").unwrap(),
        }
    }

    fn sm(source: &str, dest: &str, data_coding: u8, bytes: &[u8]) -> DeliverSm {
        let mut sm = DeliverSm::try_new(source, dest, bytes).unwrap();
        sm.data_coding = DataCoding(data_coding);
        sm
    }

    fn gsm7(text: &str) -> Vec<u8> {
        sms_text::gsm7::encode_unpacked(text).unwrap()
    }

    fn ucs2(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
    }

    impl Fixture {
        async fn inbound(&self, account: AccountId) -> Vec<InboundRecord> {
            self.stores
                .inbound
                .list_inbound(account, None, 100)
                .await
                .unwrap()
        }

        async fn deliver(&self, sm: DeliverSm) -> Option<Confirmation> {
            self.mo.handle(&self.connector, sm).await.unwrap()
        }

        async fn suppressed(&self, account: AccountId) -> bool {
            let n = Msisdn::from_e164(&format!("+{HANDSET}")).unwrap();
            !self
                .stores
                .suppression
                .suppressed_among(account, &[n])
                .await
                .unwrap()
                .is_empty()
        }
    }

    #[tokio::test]
    async fn gsm7_and_ucs2_replies_are_stored_exactly() {
        let f = fixture(InboundConfig::default()).await;
        let gsm_text = "Habari! Bei ni 10€ {ok} @home";
        assert!(f
            .deliver(sm(HANDSET, "22333", 0x00, &gsm7(gsm_text)))
            .await
            .is_none());
        let ucs_text = "Asante 😀 sana — ÄÖÜ";
        assert!(f
            .deliver(sm(HANDSET, "22333", 0x08, &ucs2(ucs_text)))
            .await
            .is_none());
        let latin = f.deliver(sm(HANDSET, "22333", 0x03, b"caf\xe9")).await;
        assert!(latin.is_none());

        let stored = f.inbound(f.acme).await;
        let texts: Vec<&str> = stored.iter().rev().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, [gsm_text, ucs_text, "café"]);
        let first = stored.last().unwrap();
        assert_eq!(first.from.as_e164(), "+254712345678");
        assert_eq!(first.to, "22333");
        assert_eq!(first.connector.as_str(), "smsc1");
        assert_eq!(first.webhook_url.as_deref(), Some("http://127.0.0.1:9/mo"));
        // Ids are time-sortable and distinct.
        assert!(stored[0].id > stored[1].id && stored[1].id > stored[2].id);
    }

    #[tokio::test]
    async fn latin1_under_data_coding_zero_is_kept() {
        let f = fixture(InboundConfig::default()).await;
        f.deliver(sm(HANDSET, "22333", 0x00, b"Ol\xe1 se\xf1or"))
            .await;
        let stored = f.inbound(f.acme).await;
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].text, "Olá señor");
    }

    fn udh_parts(text: &str, options: &Options) -> Vec<DeliverSm> {
        let msg = encode(text, options).unwrap();
        msg.parts
            .iter()
            .map(|p| {
                let mut s = sm(HANDSET, "22333", msg.data_coding, &p.short_message);
                s.esm_class = s.esm_class.with_udhi(p.udhi);
                if let Some(sar) = p.sar {
                    s = s
                        .with_tlv(Tlv::SarMsgRefNum(sar.reference))
                        .unwrap()
                        .with_tlv(Tlv::SarTotalSegments(sar.total))
                        .unwrap()
                        .with_tlv(Tlv::SarSegmentSeqnum(sar.sequence))
                        .unwrap();
                }
                s
            })
            .collect()
    }

    #[tokio::test]
    async fn concatenated_replies_are_stored_once_whole() {
        let f = fixture(InboundConfig::default()).await;
        let long_gsm = "Habari ya leo? ".repeat(12); // 180 septets: 2 parts
        let long_ucs = "Jambo 😀 rafiki! ".repeat(6); // 2 parts in UCS-2
        let cases = [
            (
                long_gsm.as_str(),
                Options {
                    concat: Concat::Udh8 { reference: 42 },
                    ..Options::default()
                },
            ),
            (
                long_ucs.as_str(),
                Options {
                    concat: Concat::Udh16 { reference: 4242 },
                    ..Options::default()
                },
            ),
            (
                long_gsm.as_str(),
                Options {
                    concat: Concat::Sar { reference: 7 },
                    ..Options::default()
                },
            ),
        ];
        let mut expected = Vec::new();
        for (text, options) in cases {
            let parts = udh_parts(text, &options);
            assert_eq!(parts.len(), 2, "{options:?}");
            // Out of order, with the second part redelivered: still one reply.
            let mut iter = parts.into_iter().rev();
            let second = iter.next().unwrap();
            let first = iter.next().unwrap();
            assert!(f.deliver(second.clone()).await.is_none());
            assert!(f.deliver(second).await.is_none());
            assert!(f.inbound(f.acme).await.len() == expected.len());
            assert!(f.deliver(first.clone()).await.is_none());
            assert_eq!(f.inbound(f.acme).await.len(), expected.len() + 1);
            expected.push(text.to_owned());
            // A late duplicate of a part starts a new (incomplete) reply: not stored.
            f.deliver(first).await;
            assert_eq!(f.inbound(f.acme).await.len(), expected.len());
        }
        let stored: Vec<String> = f
            .inbound(f.acme)
            .await
            .into_iter()
            .rev()
            .map(|r| r.text)
            .collect();
        assert_eq!(stored, expected);
    }

    #[tokio::test]
    async fn incomplete_replies_time_out() {
        let f = fixture(InboundConfig::default()).await;
        let parts = udh_parts(
            &"Habari ya leo? ".repeat(12),
            &Options {
                concat: Concat::Udh8 { reference: 9 },
                ..Options::default()
            },
        );
        f.deliver(parts[0].clone()).await;
        assert_eq!(f.mo.lock().pending_parts, 1);
        f.clock
            .advance(REASSEMBLY_TIMEOUT + Duration::from_secs(61));
        // The sweep on the next part drops the first one: the second alone is incomplete.
        f.deliver(parts[1].clone()).await;
        assert!(f.inbound(f.acme).await.is_empty());
        assert_eq!(f.mo.lock().pending_parts, 1);
        assert_eq!(f.mo.lock().pending.len(), 1);
    }

    #[tokio::test]
    async fn pending_parts_are_bounded() {
        let f = fixture(InboundConfig::default()).await;
        let parts = udh_parts(
            &"Habari ya leo? ".repeat(12),
            &Options {
                concat: Concat::Udh16 { reference: 0 },
                ..Options::default()
            },
        );
        // First parts of MAX + 10 different replies (a new 16-bit reference each).
        for r in 0..(MAX_PENDING_PARTS as u16 + 10) {
            let mut p = parts[0].clone();
            let mut bytes = p.short_message.as_bytes().to_vec();
            // UDH16: 06 08 04 RR RR TT SS
            bytes[3..5].copy_from_slice(&r.to_be_bytes());
            p.short_message = smpp::types::ShortMessage::new(&bytes).unwrap();
            f.mo.handle(&f.connector, p).await.unwrap();
        }
        let st = f.mo.lock();
        assert_eq!(st.pending_parts, MAX_PENDING_PARTS);
        assert_eq!(st.pending.len(), MAX_PENDING_PARTS);
    }

    #[tokio::test]
    async fn stop_keywords_suppress_and_start_unsuppresses() {
        let f = fixture(InboundConfig::default()).await;
        for word in ["STOP", "stop", "Unsubscribe", " Quit! "] {
            assert!(f
                .deliver(sm(HANDSET, "22333", 0, &gsm7(word)))
                .await
                .is_none());
            assert!(f.suppressed(f.acme).await, "{word}");
            assert!(
                !f.suppressed(OPERATOR_ACCOUNT).await,
                "only the owning account"
            );
            f.deliver(sm(HANDSET, "22333", 0, &gsm7("start"))).await;
            assert!(!f.suppressed(f.acme).await, "{word} then START");
        }
        // A sentence is just a reply.
        f.deliver(sm(HANDSET, "22333", 0, &gsm7("please stop it")))
            .await;
        assert!(!f.suppressed(f.acme).await);
        // Every reply, keywords included, is stored.
        assert_eq!(f.inbound(f.acme).await.len(), 9);
        // UCS-2 keywords count too.
        f.deliver(sm(HANDSET, "22333", 0x08, &ucs2("Stop"))).await;
        assert!(f.suppressed(f.acme).await);
    }

    #[tokio::test]
    async fn confirmations_when_configured() {
        let f = fixture(InboundConfig {
            numbers: Vec::new(),
            stop_reply: Some("You will get no more messages. Reply START to resume.".into()),
            start_reply: Some("Welcome back.".into()),
        })
        .await;
        let stop = f.deliver(sm(HANDSET, "22333", 0, &gsm7("STOP"))).await;
        assert_eq!(
            stop,
            Some(Confirmation {
                account: f.acme,
                to: "+254712345678".into(),
                from: "22333".into(),
                text: "You will get no more messages. Reply START to resume.".into(),
            })
        );
        let start = f.deliver(sm(HANDSET, "22333", 0, &gsm7("START"))).await;
        assert_eq!(start.map(|c| c.text), Some("Welcome back.".into()));
        assert!(f
            .deliver(sm(HANDSET, "22333", 0, &gsm7("hello")))
            .await
            .is_none());

        // Without replies configured, STOP still suppresses but nothing is sent.
        let quiet = fixture(InboundConfig::default()).await;
        assert!(quiet
            .deliver(sm(HANDSET, "22333", 0, &gsm7("STOP")))
            .await
            .is_none());
        assert!(quiet.suppressed(quiet.acme).await);
    }

    #[tokio::test]
    async fn destinations_map_to_accounts() {
        let mut config = InboundConfig::default();
        config
            .numbers
            .push(("+254700111222".into(), "later".into()));
        config.numbers.push(("ACMEINFO".into(), "acme".into()));
        config.numbers.push(("40404".into(), "nobody".into()));
        let f = fixture(config).await;
        // Unlisted: the operator account; listed with or without '+': its account.
        f.deliver(sm(HANDSET, "99999", 0, &gsm7("a"))).await;
        f.deliver(sm(HANDSET, "acmeinfo", 0, &gsm7("b"))).await;
        f.deliver(sm(HANDSET, "40404", 0, &gsm7("c"))).await; // unknown account name
                                                              // An account created after the handler started is found.
        let later = f
            .stores
            .accounts
            .create_account("later", 3)
            .await
            .unwrap()
            .id;
        f.deliver(sm(&format!("+{HANDSET}"), "254700111222", 0, &gsm7("d")))
            .await;
        let texts = |v: Vec<InboundRecord>| v.into_iter().rev().map(|r| r.text).collect::<Vec<_>>();
        assert_eq!(texts(f.inbound(OPERATOR_ACCOUNT).await), ["a", "c"]);
        assert_eq!(texts(f.inbound(f.acme).await), ["b"]);
        assert_eq!(texts(f.inbound(later).await), ["d"]);
        // The operator account has no MO URL.
        assert!(f.inbound(OPERATOR_ACCOUNT).await[0].webhook_url.is_none());
    }

    #[tokio::test]
    async fn invalid_senders_are_acknowledged_not_stored() {
        let f = fixture(InboundConfig::default()).await;
        for source in ["ACME", "", "12", "+0712345678"] {
            let r =
                f.mo.handle(&f.connector, sm(source, "22333", 0, &gsm7("STOP")))
                    .await;
            assert!(matches!(r, Ok(None)), "{source:?}");
        }
        assert!(f.inbound(f.acme).await.is_empty());
        // Undecodable: binary data coding.
        f.deliver(sm(HANDSET, "22333", 0x04, b"\x01\x02")).await;
        // Odd-length UCS-2.
        f.deliver(sm(HANDSET, "22333", 0x08, b"\x00a\x00")).await;
        assert!(f.inbound(f.acme).await.is_empty());
    }

    #[tokio::test]
    async fn mo_url_queues_exactly_one_inbound_webhook() {
        let f = fixture(InboundConfig::default()).await;
        f.deliver(sm(HANDSET, "22333", 0, &gsm7("Hello there")))
            .await;
        // The operator account has no MO URL: its reply queues nothing.
        f.deliver(sm(HANDSET, "11111", 0, &gsm7("Hello operator")))
            .await;
        let stored = f.inbound(f.acme).await;
        let due = f
            .stores
            .webhooks
            .claim_due_webhooks(f.clock.now_ms() + 1_000, 1_000, 100)
            .await
            .unwrap();
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!(due[0].event, WebhookEvent::Inbound);
        assert_eq!(due[0].account, f.acme);
        assert_eq!(due[0].message, stored[0].id);
        assert_eq!(due[0].url, "http://127.0.0.1:9/mo");
    }
}
