//! Message and segment statuses, the transitions between them, the multipart policy and the
//! delivery-receipt mapping.
//!
//! # Segment life
//! ```text
//!  pending ──submit_sm_resp OK──▶ submitted ──receipt──▶ delivered | failed | expired | rejected
//!     │                                                        ▲
//!     └── permanent submit error / validity over ──▶ failed | rejected | expired
//!     └── receipt before the response was stored ─────────────┘
//! ```
//! `delivered`, `failed` and `rejected` are final. `expired` is final except for one case: a
//! late `DELIVRD` receipt after the gateway (or the SMSC) declared the segment expired
//! becomes `delivered`, because the handset did get it and reports must say so. Any status
//! applied twice is a [`Transition::Repeat`] (receipts and responses are retried by peers), not
//! an error.
//!
//! # Message life
//! `accepted` (stored, queued) or `scheduled` (waiting for `send_at`), then `submitted`, then a
//! final status derived from its segments by a [`MultipartPolicy`]; or `suppressed` (the
//! recipient opted out: never sent) and `rejected` / `failed` before any part was sent.

use serde::{Deserialize, Serialize};
use smpp::MessageState;

/// Whether a status change moved anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Transition {
    /// The status changes: store it and notify.
    Changed,
    /// Already in that status (a repeated response or receipt): nothing to do.
    Repeat,
}

/// A status change that is not allowed; the caller keeps the current status and logs this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("illegal status change from {from} to {to}")]
pub struct IllegalTransition<S: std::fmt::Display + std::fmt::Debug> {
    /// The current status.
    pub from: S,
    /// The status asked for.
    pub to: S,
}

/// The status of one message as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Stored and queued for sending.
    Accepted,
    /// Stored, waiting for its `send_at` time.
    Scheduled,
    /// Every part accepted by the SMSC; waiting for receipts.
    Submitted,
    /// Delivered to the handset (by the multipart policy).
    Delivered,
    /// Could not be delivered (submit error, or a failure receipt).
    Failed,
    /// The validity period ran out before delivery.
    Expired,
    /// Refused by the SMSC or the operator network.
    Rejected,
    /// Not sent: the recipient is on the suppression list.
    Suppressed,
}

impl MessageStatus {
    /// Every status, in declaration order.
    pub const ALL: [Self; 8] = [
        Self::Accepted,
        Self::Scheduled,
        Self::Submitted,
        Self::Delivered,
        Self::Failed,
        Self::Expired,
        Self::Rejected,
        Self::Suppressed,
    ];

    /// The lower-case name used in the API and in storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Scheduled => "scheduled",
            Self::Submitted => "submitted",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
            Self::Suppressed => "suppressed",
        }
    }

    /// Parses the lower-case name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether nothing more will happen to the message. `expired` counts as final even though
    /// a late receipt may still turn it into `delivered` (see the module documentation).
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::Failed | Self::Expired | Self::Rejected | Self::Suppressed
        )
    }

    /// Checks a change of status. See the module documentation for the rules.
    pub fn transition(self, to: Self) -> Result<Transition, IllegalTransition<Self>> {
        use MessageStatus::*;
        if self == to {
            return Ok(Transition::Repeat);
        }
        let legal = match (self, to) {
            // Scheduled messages become queued when due; both may be cancelled by opt-out,
            // fail or be rejected before sending, or run out of validity in the queue.
            (Scheduled, Accepted) => true,
            (Accepted | Scheduled, Submitted | Failed | Rejected | Expired | Suppressed) => true,
            // Receipts for a single-part message can overtake the stored response.
            (Accepted | Scheduled, Delivered) => true,
            (Submitted, Delivered | Failed | Expired | Rejected) => true,
            // A late delivery receipt corrects an expiry.
            (Expired, Delivered) => true,
            _ => false,
        };
        if legal {
            Ok(Transition::Changed)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }
}

impl std::fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of one SMS part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentStatus {
    /// Not yet accepted by the SMSC.
    Pending,
    /// Accepted by the SMSC (we hold its message id); waiting for a receipt.
    Submitted,
    /// Delivered to the handset.
    Delivered,
    /// Undeliverable, deleted, or refused permanently at submission.
    Failed,
    /// Validity ran out.
    Expired,
    /// Rejected by the SMSC or network.
    Rejected,
}

impl SegmentStatus {
    /// Every status, in declaration order.
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Submitted,
        Self::Delivered,
        Self::Failed,
        Self::Expired,
        Self::Rejected,
    ];

    /// The lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Submitted => "submitted",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
        }
    }

    /// Whether the segment has an outcome (`expired` included; see the module docs).
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::Failed | Self::Expired | Self::Rejected
        )
    }

    /// Whether this is a failure outcome.
    pub const fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Expired | Self::Rejected)
    }

    /// Checks a change of status. See the module documentation for the rules.
    pub fn transition(self, to: Self) -> Result<Transition, IllegalTransition<Self>> {
        use SegmentStatus::*;
        if self == to {
            return Ok(Transition::Repeat);
        }
        // Pending may go anywhere (a receipt can overtake the stored response); a late
        // delivery receipt corrects an expiry.
        let legal = matches!(
            (self, to),
            (Pending, _)
                | (Submitted, Delivered | Failed | Expired | Rejected)
                | (Expired, Delivered)
        );
        if legal {
            Ok(Transition::Changed)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }
}

impl std::fmt::Display for SegmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a delivery receipt means for its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptEffect {
    /// The segment reached an outcome.
    Final(SegmentStatus),
    /// Progress only (`ENROUTE`, `ACCEPTD`, `SCHEDULED`, unknown values): record it, change
    /// nothing.
    Intermediate,
}

/// Maps a receipt's `message_state` (TLV or the `stat:` word) to its effect on the segment.
///
/// `ACCEPTD` is final in SMPP (read on the subscriber's behalf) but says nothing about the
/// handset, and several SMSCs send it as a progress report, so it does not finalise.
/// `UNKNOWN` is SMPP's "invalid state": final, reported as `failed`. `DELETED` (cancelled in
/// the MC) and `SKIPPED` are `failed`; values outside the specification are intermediate, so
/// a vendor's odd state never ends a message by accident.
pub const fn receipt_effect(state: MessageState) -> ReceiptEffect {
    match state {
        MessageState::Delivered => ReceiptEffect::Final(SegmentStatus::Delivered),
        MessageState::Expired => ReceiptEffect::Final(SegmentStatus::Expired),
        MessageState::Rejected => ReceiptEffect::Final(SegmentStatus::Rejected),
        MessageState::Undeliverable
        | MessageState::Deleted
        | MessageState::Unknown
        | MessageState::Skipped => ReceiptEffect::Final(SegmentStatus::Failed),
        MessageState::Enroute
        | MessageState::Accepted
        | MessageState::Scheduled
        | MessageState::Other(_) => ReceiptEffect::Intermediate,
    }
}

/// What to do with a receipt for a segment in a given status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// Store the new status (and recompute the message's).
    Advance(SegmentStatus),
    /// The segment already has this status: a repeated receipt.
    Repeat,
    /// A progress report: record it, the status stays.
    Intermediate,
    /// A receipt that contradicts a final status (e.g. `UNDELIV` after `DELIVRD`): keep the
    /// first outcome, log this one.
    Ignored(IllegalTransition<SegmentStatus>),
}

impl SegmentStatus {
    /// Combines [`receipt_effect`] and [`SegmentStatus::transition`]: what a receipt with
    /// `state` does to a segment that is in `self`.
    pub fn on_receipt(self, state: MessageState) -> ReceiptOutcome {
        match receipt_effect(state) {
            ReceiptEffect::Intermediate => ReceiptOutcome::Intermediate,
            ReceiptEffect::Final(to) => match self.transition(to) {
                Ok(Transition::Changed) => ReceiptOutcome::Advance(to),
                Ok(Transition::Repeat) => ReceiptOutcome::Repeat,
                Err(illegal) => ReceiptOutcome::Ignored(illegal),
            },
        }
    }
}

/// How a multipart message's final status follows from its parts' statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultipartPolicy {
    /// Delivered when every part is delivered; failed (or rejected) as soon as any part is;
    /// expired once every part has an outcome and one expired.
    #[default]
    AllDelivered,
    /// Delivered as soon as any part is delivered; a failure when every part failed (reported
    /// as `expired` if any part expired, since a late receipt may still deliver it).
    AnyDelivered,
    /// The first part's outcome decides (some SMSCs only report it).
    FirstPart,
}

impl MultipartPolicy {
    /// The message status implied by the segments' statuses, in segment order.
    ///
    /// While no outcome is decided: `submitted` once every part is at least submitted,
    /// `accepted` before (an empty slice is `accepted`: nothing sent). When several failure
    /// kinds decide the outcome, `rejected` wins over `failed`, which wins over `expired`: the
    /// most specific cause is reported.
    pub fn message_status(self, segments: &[SegmentStatus]) -> MessageStatus {
        let pending = || {
            if !segments.is_empty() && segments.iter().all(|s| *s != SegmentStatus::Pending) {
                MessageStatus::Submitted
            } else {
                MessageStatus::Accepted
            }
        };
        match self {
            Self::AllDelivered => {
                let all_final = !segments.is_empty() && segments.iter().all(|s| s.is_final());
                if segments.contains(&SegmentStatus::Rejected) {
                    MessageStatus::Rejected
                } else if segments.contains(&SegmentStatus::Failed) {
                    MessageStatus::Failed
                } else if !all_final {
                    // An expired part waits for the others: a late receipt may still turn it
                    // into delivered, and the message must not flip from expired back to
                    // accepted meanwhile.
                    pending()
                } else if segments.contains(&SegmentStatus::Expired) {
                    MessageStatus::Expired
                } else {
                    MessageStatus::Delivered
                }
            }
            Self::AnyDelivered => {
                if segments.contains(&SegmentStatus::Delivered) {
                    MessageStatus::Delivered
                } else if !segments.is_empty() && segments.iter().all(|s| s.is_final()) {
                    // An expired part may still be delivered by a late receipt, which turns
                    // this message into `delivered`; `expired` is the one failure status from
                    // which that is a legal change.
                    if segments.contains(&SegmentStatus::Expired) {
                        MessageStatus::Expired
                    } else {
                        worst_failure(segments).unwrap_or(MessageStatus::Failed)
                    }
                } else {
                    pending()
                }
            }
            Self::FirstPart => match segments.first() {
                Some(SegmentStatus::Delivered) => MessageStatus::Delivered,
                Some(s) if s.is_failure() => {
                    worst_failure(std::slice::from_ref(s)).unwrap_or(MessageStatus::Failed)
                }
                Some(SegmentStatus::Submitted) => MessageStatus::Submitted,
                _ => MessageStatus::Accepted,
            },
        }
    }
}

impl MultipartPolicy {
    /// The status the message should move to from `current`, given its segments: `None` when
    /// nothing changes or when the derived status would be an illegal change. The latter
    /// happens when a second part fails differently after the message was already reported
    /// failed (`failed` must not turn into `rejected`): the first reported outcome stands.
    pub fn next_status(
        self,
        current: MessageStatus,
        segments: &[SegmentStatus],
    ) -> Option<MessageStatus> {
        let derived = self.message_status(segments);
        // A suppressed or scheduled message has no segment progress to derive from.
        match current.transition(derived) {
            Ok(Transition::Changed) => Some(derived),
            Ok(Transition::Repeat) | Err(_) => None,
        }
    }
}

/// The most specific failure among the segments, if any failed.
fn worst_failure(segments: &[SegmentStatus]) -> Option<MessageStatus> {
    let has = |s| segments.contains(&s);
    if has(SegmentStatus::Rejected) {
        Some(MessageStatus::Rejected)
    } else if has(SegmentStatus::Failed) {
        Some(MessageStatus::Failed)
    } else if has(SegmentStatus::Expired) {
        Some(MessageStatus::Expired)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use MessageStatus as M;
    use SegmentStatus as S;

    #[test]
    fn serde_names_are_lower_case() {
        for s in M::ALL {
            let json = format!("\"{}\"", s.as_str());
            assert_eq!(serde_json_like(s), json);
            assert_eq!(M::from_name(s.as_str()), Some(s));
            assert_eq!(serde_json::from_str::<M>(&json).unwrap(), s);
        }
        assert_eq!(M::from_name("Delivered"), None);
    }

    fn serde_json_like(s: M) -> String {
        serde_json::to_string(&s).unwrap()
    }

    #[test]
    fn message_transitions() {
        assert_eq!(
            M::Accepted.transition(M::Submitted),
            Ok(Transition::Changed)
        );
        assert_eq!(
            M::Scheduled.transition(M::Accepted),
            Ok(Transition::Changed)
        );
        assert_eq!(
            M::Submitted.transition(M::Delivered),
            Ok(Transition::Changed)
        );
        assert_eq!(M::Expired.transition(M::Delivered), Ok(Transition::Changed));
        assert_eq!(
            M::Delivered.transition(M::Delivered),
            Ok(Transition::Repeat)
        );
        assert_eq!(
            M::Delivered.transition(M::Failed),
            Err(IllegalTransition {
                from: M::Delivered,
                to: M::Failed
            })
        );
        assert!(M::Submitted.transition(M::Accepted).is_err());
        assert!(M::Suppressed.transition(M::Submitted).is_err());
        assert!(M::Expired.transition(M::Failed).is_err());
        assert!(M::Submitted.transition(M::Suppressed).is_err());
        assert_eq!(
            M::Delivered.transition(M::Failed).unwrap_err().to_string(),
            "illegal status change from delivered to failed"
        );
    }

    #[test]
    fn segment_transitions() {
        assert_eq!(S::Pending.transition(S::Delivered), Ok(Transition::Changed));
        assert_eq!(
            S::Submitted.transition(S::Submitted),
            Ok(Transition::Repeat)
        );
        assert_eq!(S::Expired.transition(S::Delivered), Ok(Transition::Changed));
        assert!(S::Submitted.transition(S::Pending).is_err());
        assert!(S::Delivered.transition(S::Expired).is_err());
        assert!(S::Rejected.transition(S::Delivered).is_err());
    }

    #[test]
    fn receipt_mapping() {
        use MessageState as Ms;
        assert_eq!(
            receipt_effect(Ms::Delivered),
            ReceiptEffect::Final(S::Delivered)
        );
        assert_eq!(
            receipt_effect(Ms::Undeliverable),
            ReceiptEffect::Final(S::Failed)
        );
        assert_eq!(
            receipt_effect(Ms::Expired),
            ReceiptEffect::Final(S::Expired)
        );
        assert_eq!(
            receipt_effect(Ms::Rejected),
            ReceiptEffect::Final(S::Rejected)
        );
        assert_eq!(receipt_effect(Ms::Deleted), ReceiptEffect::Final(S::Failed));
        assert_eq!(receipt_effect(Ms::Unknown), ReceiptEffect::Final(S::Failed));
        assert_eq!(receipt_effect(Ms::Enroute), ReceiptEffect::Intermediate);
        assert_eq!(receipt_effect(Ms::Accepted), ReceiptEffect::Intermediate);
        assert_eq!(receipt_effect(Ms::Other(42)), ReceiptEffect::Intermediate);
    }

    #[test]
    fn receipts_applied_to_segments() {
        use MessageState as Ms;
        assert_eq!(
            S::Submitted.on_receipt(Ms::Delivered),
            ReceiptOutcome::Advance(S::Delivered)
        );
        // Before the submit response was stored.
        assert_eq!(
            S::Pending.on_receipt(Ms::Undeliverable),
            ReceiptOutcome::Advance(S::Failed)
        );
        assert_eq!(
            S::Delivered.on_receipt(Ms::Delivered),
            ReceiptOutcome::Repeat
        );
        assert_eq!(
            S::Submitted.on_receipt(Ms::Enroute),
            ReceiptOutcome::Intermediate
        );
        // Late delivery after expiry corrects it; a late failure after delivery does not.
        assert_eq!(
            S::Expired.on_receipt(Ms::Delivered),
            ReceiptOutcome::Advance(S::Delivered)
        );
        assert_eq!(
            S::Delivered.on_receipt(Ms::Undeliverable),
            ReceiptOutcome::Ignored(IllegalTransition {
                from: S::Delivered,
                to: S::Failed
            })
        );
    }

    #[test]
    fn multipart_policies() {
        let p = MultipartPolicy::AllDelivered;
        assert_eq!(
            p.message_status(&[S::Delivered, S::Delivered]),
            M::Delivered
        );
        assert_eq!(
            p.message_status(&[S::Delivered, S::Submitted]),
            M::Submitted
        );
        assert_eq!(p.message_status(&[S::Pending, S::Submitted]), M::Accepted);
        assert_eq!(
            p.message_status(&[S::Delivered, S::Failed, S::Pending]),
            M::Failed
        );
        assert_eq!(p.message_status(&[S::Expired, S::Rejected]), M::Rejected);
        assert_eq!(p.message_status(&[S::Expired, S::Submitted]), M::Submitted);
        assert_eq!(p.message_status(&[S::Expired, S::Delivered]), M::Expired);
        assert_eq!(p.message_status(&[]), M::Accepted);

        let p = MultipartPolicy::AnyDelivered;
        assert_eq!(p.message_status(&[S::Failed, S::Delivered]), M::Delivered);
        assert_eq!(p.message_status(&[S::Failed, S::Submitted]), M::Submitted);
        assert_eq!(p.message_status(&[S::Failed, S::Rejected]), M::Rejected);
        assert_eq!(p.message_status(&[S::Failed, S::Expired]), M::Expired);

        let p = MultipartPolicy::FirstPart;
        assert_eq!(p.message_status(&[S::Delivered, S::Failed]), M::Delivered);
        assert_eq!(p.message_status(&[S::Expired, S::Delivered]), M::Expired);
        assert_eq!(p.message_status(&[S::Submitted, S::Pending]), M::Submitted);
        assert_eq!(MultipartPolicy::default(), MultipartPolicy::AllDelivered);

        let p = MultipartPolicy::AllDelivered;
        assert_eq!(
            p.next_status(M::Submitted, &[S::Delivered, S::Delivered]),
            Some(M::Delivered)
        );
        assert_eq!(
            p.next_status(M::Submitted, &[S::Delivered, S::Submitted]),
            None
        );
        // Reported failed; a second part's rejection does not rewrite the outcome.
        assert_eq!(p.message_status(&[S::Failed, S::Rejected]), M::Rejected);
        assert_eq!(p.next_status(M::Failed, &[S::Failed, S::Rejected]), None);
    }

    fn segment() -> impl Strategy<Value = S> {
        prop::sample::select(S::ALL.to_vec())
    }

    proptest! {
        /// Order of parts does not matter to the all/any policies.
        #[test]
        fn all_and_any_ignore_order(mut parts in prop::collection::vec(segment(), 0..8), seed in any::<u64>()) {
            let before: Vec<_> = [MultipartPolicy::AllDelivered, MultipartPolicy::AnyDelivered]
                .iter().map(|p| p.message_status(&parts)).collect();
            // A deterministic shuffle from the seed.
            let n = parts.len();
            for i in (1..n).rev() {
                let j = (seed.wrapping_mul(i as u64 + 1) % (i as u64 + 1)) as usize;
                parts.swap(i, j);
            }
            let after: Vec<_> = [MultipartPolicy::AllDelivered, MultipartPolicy::AnyDelivered]
                .iter().map(|p| p.message_status(&parts)).collect();
            prop_assert_eq!(before, after);
        }

        /// Once a policy yields a final status, legally advancing any part keeps the message
        /// final (apart from the expired -> delivered correction), so a message never reopens.
        #[test]
        fn final_message_status_never_reopens(
            parts in prop::collection::vec(segment(), 1..6),
            which in any::<prop::sample::Index>(),
            to in segment(),
            policy in prop::sample::select(vec![MultipartPolicy::AllDelivered, MultipartPolicy::AnyDelivered, MultipartPolicy::FirstPart]),
        ) {
            let before = policy.message_status(&parts);
            let i = which.index(parts.len());
            let mut after_parts = parts.clone();
            if parts[i].transition(to).is_ok() {
                after_parts[i] = to;
                let after = policy.message_status(&after_parts);
                if before.is_final() {
                    prop_assert!(after.is_final(), "{:?} -> {:?}: {} -> {}", parts, after_parts, before, after);
                }
                // What the engine applies is always a legal change of what it had stored.
                if let Some(next) = policy.next_status(before, &after_parts) {
                    prop_assert_eq!(before.transition(next), Ok(Transition::Changed));
                    prop_assert_eq!(next, after);
                }
            }
        }

        /// Every segment transition is either a repeat, or moves forward: no cycle exists.
        #[test]
        fn segment_transitions_have_no_cycles(a in segment(), b in segment()) {
            if a != b && a.transition(b).is_ok() {
                prop_assert!(b.transition(a).is_err(), "{} <-> {}", a, b);
            }
        }
    }
}
