//! Handsets: an inbox per number that shows messages the way a phone does, putting
//! concatenated parts (UDH 8/16-bit reference, or SAR TLVs) back together in any order and
//! decoding GSM-7, UCS-2, Latin-1 and ASCII.

use std::collections::VecDeque;

use serde::Serialize;
use sms_text::{udh, Fragment, SarInfo};

/// One message as the handset shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxMessage {
    /// Sender (short code, sender id or number) as delivered.
    pub from: String,
    /// The text as shown; empty when it could not be decoded (see `error`).
    pub text: String,
    /// Number of SMS parts it arrived in.
    pub parts: u8,
    /// When the last part arrived (Unix milliseconds).
    #[serde(skip)]
    pub received_at_ms: u64,
    /// `data_coding` of the parts.
    pub data_coding: u8,
    /// Why the text could not be shown (binary data, malformed bytes); absent when shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Identifies one concatenated message being collected: sender, reference kind and value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PartialKey {
    from: Box<str>,
    // 0 = 8-bit UDH, 1 = 16-bit UDH, 2 = SAR.
    kind: u8,
    reference: u16,
    total: u8,
}

#[derive(Debug)]
struct Partial {
    key: PartialKey,
    data_coding: u8,
    first_ms: u64,
    // (sequence, raw short_message as received, udhi, sar)
    parts: Vec<(u8, Vec<u8>, bool, Option<SarInfo>)>,
}

/// One received SMS part.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received<'a> {
    pub from: &'a str,
    pub data_coding: u8,
    pub udhi: bool,
    pub bytes: &'a [u8],
    pub sar: Option<SarInfo>,
    /// Parts this payload stands for (a `message_payload` the SMSC splits on the air).
    pub air_parts: u8,
}

/// A handset's inbox and its incomplete concatenations.
#[derive(Debug, Default)]
pub(crate) struct Handset {
    inbox: VecDeque<InboxMessage>,
    partials: Vec<Partial>,
}

/// What happened to a received part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReceiveOutcome {
    /// A whole message is now in the inbox.
    pub completed: bool,
    /// Incomplete concatenations dropped because their parts took too long.
    pub timed_out: usize,
    /// Oldest inbox messages dropped to keep the inbox within its limit.
    pub dropped: usize,
}

fn decode_whole(fragments: &[Fragment<'_>]) -> (String, Option<String>) {
    match sms_text::reassemble(fragments) {
        Ok(text) => (text, None),
        Err(e) => (String::new(), Some(e.to_string())),
    }
}

impl Handset {
    /// Takes one part; `now_ms` also ages out incomplete concatenations older than
    /// `timeout_ms`. Keeps at most `limit` messages.
    pub(crate) fn receive(
        &mut self,
        now_ms: u64,
        part: Received<'_>,
        timeout_ms: u64,
        limit: usize,
    ) -> ReceiveOutcome {
        let before = self.partials.len();
        self.partials
            .retain(|p| now_ms.saturating_sub(p.first_ms) <= timeout_ms);
        let timed_out = before - self.partials.len();
        let concat = concat_of(part);
        let Some((kind, reference, total, sequence)) = concat else {
            let fragment = Fragment {
                data_coding: part.data_coding,
                udhi: part.udhi,
                short_message: part.bytes,
                sar: None,
            };
            let (text, error) = decode_whole(&[fragment]);
            let dropped = self.push(
                InboxMessage {
                    from: part.from.to_owned(),
                    text,
                    parts: part.air_parts.max(1),
                    received_at_ms: now_ms,
                    data_coding: part.data_coding,
                    error,
                },
                limit,
            );
            return ReceiveOutcome {
                completed: true,
                timed_out,
                dropped,
            };
        };
        let key = PartialKey {
            from: part.from.into(),
            kind,
            reference,
            total,
        };
        let index = match self.partials.iter().position(|p| p.key == key) {
            Some(i) => i,
            None => {
                self.partials.push(Partial {
                    key,
                    data_coding: part.data_coding,
                    first_ms: now_ms,
                    parts: Vec::with_capacity(usize::from(total)),
                });
                self.partials.len() - 1
            }
        };
        let Some(partial) = self.partials.get_mut(index) else {
            return ReceiveOutcome {
                completed: false,
                timed_out,
                dropped: 0,
            };
        };
        // A phone ignores a repeated part (same sequence number).
        if !partial.parts.iter().any(|p| p.0 == sequence) {
            partial
                .parts
                .push((sequence, part.bytes.to_vec(), part.udhi, part.sar));
        }
        if partial.parts.len() < usize::from(total) {
            return ReceiveOutcome {
                completed: false,
                timed_out,
                dropped: 0,
            };
        }
        let partial = self.partials.swap_remove(index);
        let fragments: Vec<Fragment<'_>> = partial
            .parts
            .iter()
            .map(|(_, bytes, udhi, sar)| Fragment {
                data_coding: partial.data_coding,
                udhi: *udhi,
                short_message: bytes,
                sar: *sar,
            })
            .collect();
        let (text, error) = decode_whole(&fragments);
        let dropped = self.push(
            InboxMessage {
                from: partial.key.from.into(),
                text,
                parts: total,
                received_at_ms: now_ms,
                data_coding: partial.data_coding,
                error,
            },
            limit,
        );
        ReceiveOutcome {
            completed: true,
            timed_out,
            dropped,
        }
    }

    /// Appends `message`, first dropping the oldest messages so that at most `limit` remain
    /// (a number that receives all day must not grow without bound; a phone's storage fills
    /// too). A `limit` of 0 counts as 1: the message just received is always shown. Returns
    /// how many were dropped.
    fn push(&mut self, message: InboxMessage, limit: usize) -> usize {
        // Most numbers of a bulk run receive one message: room for exactly one, rather than
        // the default first growth to four (~300 bytes saved per handset).
        if self.inbox.capacity() == 0 {
            self.inbox.reserve_exact(1);
        }
        let mut dropped = 0;
        while self.inbox.len() >= limit.max(1) && self.inbox.pop_front().is_some() {
            dropped += 1;
        }
        self.inbox.push_back(message);
        dropped
    }

    /// The inbox, oldest first.
    pub(crate) fn messages(&self) -> impl Iterator<Item = &InboxMessage> {
        self.inbox.iter()
    }

    /// Incomplete concatenations waiting for parts.
    pub(crate) fn pending_parts(&self) -> usize {
        self.partials.len()
    }
}

/// `(kind, reference, total, sequence)` of a concatenated part; `None` for a single SMS or a
/// part whose UDH cannot be read (then shown on its own, as a phone would).
fn concat_of(part: Received<'_>) -> Option<(u8, u16, u8, u8)> {
    if part.udhi {
        if let Ok((header, _)) = udh::parse(part.bytes) {
            if let Ok(Some(c)) = header.concatenation() {
                let kind = match c.reference {
                    udh::Reference::Eight(_) => 0,
                    udh::Reference::Sixteen(_) => 1,
                };
                return (c.total > 1).then_some((kind, c.reference.value(), c.total, c.sequence));
            }
        }
        return None;
    }
    let sar = part.sar?;
    (sar.total > 1 && sar.sequence >= 1 && sar.sequence <= sar.total).then_some((
        2,
        sar.reference,
        sar.total,
        sar.sequence,
    ))
}
