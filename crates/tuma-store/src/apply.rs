//! How status updates are applied, written once for every backend.
//!
//! A backend implements [`WriteTx`]: a handful of primitive reads and writes inside one of its
//! transactions. The algorithms here (matching receipts by id keys, parking, the segment and
//! message state machines, events, webhooks, the outbox) run on top of it, so the in-memory,
//! SQLite and PostgreSQL backends cannot drift apart in what an update *means*; they differ
//! only in how a row is read or written.

use smpp::{id_keys, IdKey, IdSource};
use tuma_domain::{
    ConnectorId, MessageId, MessageStatus, MultipartPolicy, ReceiptOutcome, SegmentStatus,
    Transition,
};

use crate::error::StoreError;
use crate::records::{
    AccountId, ErrorInfo, InsertOutcome, NewMessageRecord, ReceiptUpdate, SubmitOutcomeRecord,
    SubmitResult, UpdateOutcome,
};

/// What the update algorithms need to know about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMessage {
    /// Id.
    pub id: MessageId,
    /// Owner.
    pub account: AccountId,
    /// Current status.
    pub status: MessageStatus,
    /// Its multipart policy.
    pub multipart: MultipartPolicy,
    /// Webhook target.
    pub callback_url: Option<String>,
    /// Segment statuses by index.
    pub segments: Vec<SegmentStatus>,
}

/// Primitive operations inside one backend transaction. Errors abort the whole call.
pub trait WriteTx {
    /// The message's live state.
    fn load(&mut self, id: MessageId) -> Result<Option<LiveMessage>, StoreError>;
    /// Sets a segment's status.
    fn set_segment_status(
        &mut self,
        id: MessageId,
        segment: u8,
        status: SegmentStatus,
    ) -> Result<(), StoreError>;
    /// Sets a segment's SMSC id.
    fn set_segment_smsc_id(
        &mut self,
        id: MessageId,
        segment: u8,
        smsc_id: &str,
    ) -> Result<(), StoreError>;
    /// Adds one to a segment's failed attempts.
    fn add_failed_attempt(&mut self, id: MessageId, segment: u8) -> Result<(), StoreError>;
    /// Sets the message's status and appends the event.
    fn set_message_status(
        &mut self,
        id: MessageId,
        status: MessageStatus,
        at_ms: u64,
        detail: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Sets the message's error unless it has one (the first cause is reported).
    fn set_error_if_none(&mut self, id: MessageId, error: &ErrorInfo) -> Result<(), StoreError>;
    /// Queues a webhook delivery due at `at_ms`.
    fn enqueue_webhook(
        &mut self,
        account: AccountId,
        id: MessageId,
        url: &str,
        status: MessageStatus,
        at_ms: u64,
    ) -> Result<(), StoreError>;
    /// Sets the outbox entry's due time (if the entry exists).
    fn set_outbox_due(&mut self, id: MessageId, due_at_ms: u64) -> Result<(), StoreError>;
    /// Removes the outbox entry (if any).
    fn delete_outbox(&mut self, id: MessageId) -> Result<(), StoreError>;
    /// Indexes `(connector, key)` to a segment; a later submission with the same key
    /// replaces an older one (SMSCs reuse ids after a wrap; the newest is the live one).
    fn index_smsc_key(
        &mut self,
        connector: &ConnectorId,
        key: &str,
        id: MessageId,
        segment: u8,
    ) -> Result<(), StoreError>;
    /// The segment indexed under `(connector, key)`.
    fn lookup_smsc_key(
        &mut self,
        connector: &ConnectorId,
        key: &str,
    ) -> Result<Option<(MessageId, u8)>, StoreError>;
    /// Keeps an unmatched receipt under its lookup keys.
    fn park(&mut self, receipt: &ReceiptUpdate, keys: &[String]) -> Result<(), StoreError>;
    /// Removes and returns the parked receipts of `connector` under any of `keys`, oldest
    /// first.
    fn take_parked(
        &mut self,
        connector: &ConnectorId,
        keys: &[String],
    ) -> Result<Vec<ReceiptUpdate>, StoreError>;
}

/// The storage form of one id key: `s:<normalised>` or `n:<decimal value>`. The prefixes keep
/// the two kinds apart (`s:10` is the id "10"; `n:16` is the number 0x10).
pub fn key_string(key: &IdKey) -> String {
    // Built by hand: `format!` was ~2,500 instructions a key, 3-4 keys per message, on the
    // writer thread (callgrind, `chain_bench`).
    match key {
        IdKey::Normalised(s) => {
            let mut out = String::with_capacity(2 + s.len());
            out.push_str("s:");
            out.push_str(s);
            out
        }
        IdKey::Number(n) => {
            let mut digits = itoa::Buffer::new();
            let digits = digits.format(*n);
            let mut out = String::with_capacity(2 + digits.len());
            out.push_str("n:");
            out.push_str(digits);
            out
        }
    }
}

/// The keys a `submit_sm_resp` id is indexed under.
pub fn submit_keys(smsc_id: &str) -> Vec<String> {
    id_keys(smsc_id, IdSource::Protocol)
        .iter()
        .map(key_string)
        .collect()
}

/// The keys a receipt is looked up under, in the order to try: the exact (normalised) forms
/// of the TLV and text ids before their numeric forms (see [`smpp::id_keys`]).
pub fn receipt_keys(receipt: &ReceiptUpdate) -> Vec<String> {
    let tlv = receipt
        .protocol_id
        .as_deref()
        .map(|id| id_keys(id, IdSource::Protocol));
    let text = receipt
        .text_id
        .as_deref()
        .map(|id| id_keys(id, IdSource::ReceiptText));
    let mut keys: Vec<String> = Vec::with_capacity(4);
    let ids = [tlv.as_ref(), text.as_ref()];
    for k in ids.iter().flatten().map(|k| k.normalised()) {
        keys.push(key_string(k));
    }
    for k in ids.iter().flatten().filter_map(|k| k.number()) {
        keys.push(key_string(k));
    }
    // At most four keys: a linear check beats hashing (this runs for every receipt).
    let mut unique: Vec<String> = Vec::with_capacity(keys.len());
    for k in keys {
        if !unique.contains(&k) {
            unique.push(k);
        }
    }
    unique
}

/// Checks what every backend checks before storing a message.
pub fn validate_new(record: &NewMessageRecord) -> Result<(), InsertOutcome> {
    if record.segments == 0 {
        return Err(InsertOutcome::Invalid {
            field: "segments",
            reason: "a message has at least one segment".into(),
        });
    }
    if !matches!(
        record.status,
        MessageStatus::Accepted | MessageStatus::Scheduled | MessageStatus::Suppressed
    ) {
        return Err(InsertOutcome::Invalid {
            field: "status",
            reason: format!(
                "a new message is accepted, scheduled or suppressed, not {}",
                record.status
            ),
        });
    }
    if record.status == MessageStatus::Scheduled && record.send_at_ms.is_none() {
        return Err(InsertOutcome::Invalid {
            field: "send_at_ms",
            reason: "a scheduled message needs a send time".into(),
        });
    }
    Ok(())
}

/// The outbox due time of a new message, or `None` when it gets no outbox entry.
pub fn initial_outbox_due(record: &NewMessageRecord) -> Option<u64> {
    match record.status {
        MessageStatus::Suppressed => None,
        _ => Some(record.send_at_ms.unwrap_or(record.created_at_ms)),
    }
}

/// Changes the message's status, with its event and webhook.
fn change_message_status<T: WriteTx + ?Sized>(
    tx: &mut T,
    msg: &mut LiveMessage,
    status: MessageStatus,
    at_ms: u64,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    tx.set_message_status(msg.id, status, at_ms, detail)?;
    if let Some(url) = &msg.callback_url {
        tx.enqueue_webhook(msg.account, msg.id, url, status, at_ms)?;
    }
    msg.status = status;
    Ok(())
}

/// Moves segment `segment` of `msg` to `to` (already checked legal), then the message by its
/// policy; clears the outbox once nothing is left to send.
fn advance_segment<T: WriteTx + ?Sized>(
    tx: &mut T,
    msg: &mut LiveMessage,
    segment: u8,
    to: SegmentStatus,
    at_ms: u64,
    detail: Option<&str>,
    error: Option<&ErrorInfo>,
) -> Result<UpdateOutcome, StoreError> {
    tx.set_segment_status(msg.id, segment, to)?;
    if let Some(slot) = msg.segments.get_mut(usize::from(segment)) {
        *slot = to;
    }
    if let (true, Some(error)) = (to.is_failure(), error) {
        tx.set_error_if_none(msg.id, error)?;
    }
    let next = msg.multipart.next_status(msg.status, &msg.segments);
    if let Some(status) = next {
        change_message_status(tx, msg, status, at_ms, detail)?;
    }
    if msg.status.is_final() || !msg.segments.contains(&SegmentStatus::Pending) {
        tx.delete_outbox(msg.id)?;
    }
    Ok(UpdateOutcome::Changed {
        message: msg.id,
        segment,
        message_status: next,
    })
}

/// Applies submission results in order.
pub fn submit_results<T: WriteTx + ?Sized>(
    tx: &mut T,
    results: &[SubmitResult],
) -> Result<Vec<UpdateOutcome>, StoreError> {
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        out.push(submit_result(tx, r)?);
    }
    Ok(out)
}

fn submit_result<T: WriteTx + ?Sized>(
    tx: &mut T,
    r: &SubmitResult,
) -> Result<UpdateOutcome, StoreError> {
    let Some(mut msg) = tx.load(r.message)? else {
        return Ok(UpdateOutcome::NotFound);
    };
    let Some(&current) = msg.segments.get(usize::from(r.segment)) else {
        return Ok(UpdateOutcome::NotFound);
    };
    let unchanged = UpdateOutcome::Unchanged {
        message: msg.id,
        segment: r.segment,
    };
    match &r.outcome {
        SubmitOutcomeRecord::Accepted { smsc_id } => {
            let keys = submit_keys(smsc_id);
            tx.set_segment_smsc_id(msg.id, r.segment, smsc_id)?;
            for key in &keys {
                tx.index_smsc_key(&r.connector, key, msg.id, r.segment)?;
            }
            let first = match current.transition(SegmentStatus::Submitted) {
                Ok(Transition::Changed) => advance_segment(
                    tx,
                    &mut msg,
                    r.segment,
                    SegmentStatus::Submitted,
                    r.at_ms,
                    None,
                    None,
                )?,
                Ok(Transition::Repeat) => unchanged,
                Err(_) => UpdateOutcome::Ignored {
                    message: msg.id,
                    segment: r.segment,
                    kept: current,
                },
            };
            let (mut changed, mut latest) = match first {
                UpdateOutcome::Changed { message_status, .. } => (true, message_status),
                _ => (false, None),
            };
            // Receipts that overtook this response now have their segment.
            for parked in tx.take_parked(&r.connector, &keys)? {
                if let ApplyOne::Changed(status) =
                    apply_receipt_to(tx, &mut msg, r.segment, &parked)?
                {
                    changed = true;
                    latest = status.or(latest);
                }
            }
            Ok(if changed {
                UpdateOutcome::Changed {
                    message: msg.id,
                    segment: r.segment,
                    message_status: latest,
                }
            } else {
                first
            })
        }
        SubmitOutcomeRecord::Retry { retry_at_ms } => {
            if current != SegmentStatus::Pending {
                // A late temporary error for a segment that has moved on: nothing to retry.
                return Ok(unchanged);
            }
            tx.add_failed_attempt(msg.id, r.segment)?;
            tx.set_outbox_due(msg.id, *retry_at_ms)?;
            Ok(unchanged)
        }
        SubmitOutcomeRecord::Failed { error } => match current.transition(SegmentStatus::Failed) {
            Ok(Transition::Changed) => advance_segment(
                tx,
                &mut msg,
                r.segment,
                SegmentStatus::Failed,
                r.at_ms,
                Some(&error.message),
                Some(error),
            ),
            Ok(Transition::Repeat) => Ok(unchanged),
            Err(_) => Ok(UpdateOutcome::Ignored {
                message: msg.id,
                segment: r.segment,
                kept: current,
            }),
        },
    }
}

/// What one receipt did to its segment.
enum ApplyOne {
    /// Changed; the message's new status if it changed.
    Changed(Option<MessageStatus>),
    Unchanged,
    Ignored(SegmentStatus),
}

fn apply_receipt_to<T: WriteTx + ?Sized>(
    tx: &mut T,
    msg: &mut LiveMessage,
    segment: u8,
    receipt: &ReceiptUpdate,
) -> Result<ApplyOne, StoreError> {
    let Some(&current) = msg.segments.get(usize::from(segment)) else {
        return Ok(ApplyOne::Unchanged);
    };
    match current.on_receipt(receipt.state) {
        ReceiptOutcome::Advance(to) => {
            let outcome = advance_segment(
                tx,
                msg,
                segment,
                to,
                receipt.at_ms,
                receipt.detail.as_deref(),
                receipt.error.as_ref(),
            )?;
            Ok(match outcome {
                UpdateOutcome::Changed { message_status, .. } => ApplyOne::Changed(message_status),
                _ => ApplyOne::Unchanged,
            })
        }
        ReceiptOutcome::Repeat | ReceiptOutcome::Intermediate => Ok(ApplyOne::Unchanged),
        ReceiptOutcome::Ignored(_) => Ok(ApplyOne::Ignored(current)),
    }
}

/// Matches and applies receipts in order; unmatched ones are parked.
pub fn receipts<T: WriteTx + ?Sized>(
    tx: &mut T,
    receipts: &[ReceiptUpdate],
) -> Result<Vec<UpdateOutcome>, StoreError> {
    let mut out = Vec::with_capacity(receipts.len());
    for r in receipts {
        let keys = receipt_keys(r);
        let mut hit = None;
        for key in &keys {
            if let Some(found) = tx.lookup_smsc_key(&r.connector, key)? {
                hit = Some(found);
                break;
            }
        }
        let loaded = match hit {
            Some((id, segment)) => tx.load(id)?.map(|m| (m, segment)),
            None => None,
        };
        let Some((mut msg, segment)) = loaded else {
            if !keys.is_empty() {
                tx.park(r, &keys)?;
            }
            out.push(UpdateOutcome::Parked);
            continue;
        };
        out.push(match apply_receipt_to(tx, &mut msg, segment, r)? {
            ApplyOne::Changed(message_status) => UpdateOutcome::Changed {
                message: msg.id,
                segment,
                message_status,
            },
            ApplyOne::Unchanged => UpdateOutcome::Unchanged {
                message: msg.id,
                segment,
            },
            ApplyOne::Ignored(kept) => UpdateOutcome::Ignored {
                message: msg.id,
                segment,
                kept,
            },
        });
    }
    Ok(out)
}

/// Expires one message found overdue by the backend: unfinished segments and the message
/// become `expired`. Returns whether it changed (a final message is left alone).
pub fn expire<T: WriteTx + ?Sized>(
    tx: &mut T,
    id: MessageId,
    now_ms: u64,
) -> Result<bool, StoreError> {
    let Some(mut msg) = tx.load(id)? else {
        return Ok(false);
    };
    if msg.status.is_final() {
        return Ok(false);
    }
    for (index, status) in msg.segments.iter_mut().enumerate() {
        if !status.is_final() {
            *status = SegmentStatus::Expired;
            // Segment counts fit in u8 (NewMessageRecord::segments).
            let index = u8::try_from(index).unwrap_or(u8::MAX);
            tx.set_segment_status(id, index, SegmentStatus::Expired)?;
        }
    }
    tx.delete_outbox(id)?;
    if msg.status.transition(MessageStatus::Expired).is_ok() {
        change_message_status(
            tx,
            &mut msg,
            MessageStatus::Expired,
            now_ms,
            Some("validity period ended"),
        )?;
    }
    Ok(true)
}

/// Releases one due scheduled message: `scheduled` -> `accepted`. Returns whether it changed.
pub fn release_scheduled<T: WriteTx + ?Sized>(
    tx: &mut T,
    id: MessageId,
    now_ms: u64,
) -> Result<bool, StoreError> {
    let Some(mut msg) = tx.load(id)? else {
        return Ok(false);
    };
    if msg.status != MessageStatus::Scheduled {
        return Ok(false);
    }
    change_message_status(
        tx,
        &mut msg,
        MessageStatus::Accepted,
        now_ms,
        Some("send time reached"),
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smpp::MessageState;

    fn receipt(protocol: Option<&str>, text: Option<&str>) -> ReceiptUpdate {
        ReceiptUpdate {
            connector: ConnectorId::parse("c").unwrap(),
            protocol_id: protocol.map(Into::into),
            text_id: text.map(Into::into),
            state: MessageState::Delivered,
            detail: None,
            error: None,
            at_ms: 0,
        }
    }

    #[test]
    fn submit_keys_of_hex_and_decimal_ids() {
        // 0x38601fa = 59113978.
        assert_eq!(submit_keys("038601FA"), ["s:38601fa", "n:59113978"]);
        // All digits: no numeric key (it could be hex or decimal).
        assert_eq!(submit_keys("0010"), ["s:10"]);
        assert_eq!(submit_keys("000"), ["s:0"]);
    }

    #[test]
    fn key_strings_are_the_formatted_keys() {
        for n in [
            0u128,
            9,
            10,
            2748,
            59_113_978,
            u128::from(u64::MAX) + 1,
            u128::MAX,
        ] {
            assert_eq!(key_string(&IdKey::Number(n)), format!("n:{n}"));
        }
        for s in ["0", "38601fa", "abc-def"] {
            assert_eq!(key_string(&IdKey::Normalised(s.into())), format!("s:{s}"));
        }
    }

    #[test]
    fn receipt_keys_try_exact_forms_first_and_drop_repeats() {
        assert_eq!(
            receipt_keys(&receipt(Some("38601fa"), Some("0059113978"))),
            ["s:38601fa", "s:59113978", "n:59113978"]
        );
        // The same id in both places gives its keys once.
        assert_eq!(
            receipt_keys(&receipt(Some("abc"), Some("ABC"))),
            ["s:abc", "n:2748"]
        );
        assert!(receipt_keys(&receipt(None, None)).is_empty());
    }
}
