//! The status writer: submit results and receipts, written in batches.
//!
//! Dispatchers and bind tasks send items over a bounded channel; one task takes whatever is
//! waiting (up to [`BATCH`]), lingers up to [`LINGER`] for company while fewer than
//! [`ENOUGH`] are there (never when the batch holds receipts, whose SMSC waits for our
//! answer), and writes each batch with one `record_submit_results` and one
//! `record_receipts` call, run together. What arrives during a commit forms the next batch,
//! so batches grow with the load (group commit).
//! Never one store call per PDU.
//!
//! A receipt's `deliver_sm` is answered only after the batch holding it is committed, so a
//! crash cannot lose a receipt the SMSC believes delivered: an unanswered one is resent.

use std::time::Duration;

use smpp::{CommandStatus, MessageState};
use smpp_tokio::IncomingRequest;
use tokio::sync::{mpsc, oneshot};
use tuma_domain::{receipt_effect, MessageStatus, ReceiptEffect};
use tuma_store::{
    ErrorInfo, ReceiptUpdate, StoreError, SubmitOutcomeRecord, SubmitResult, UpdateOutcome,
};

use crate::metrics::Tally;
use crate::Engine;

/// Items written per batch (at most).
const BATCH: usize = 4096;
/// Flush when this many are waiting, without lingering.
const ENOUGH: usize = 500;
/// How long the first item of a batch may wait for company (not when it holds receipts).
const LINGER: Duration = Duration::from_millis(2);

// Boxing the receipt would cost an allocation per receipt; the larger slots only cost the
// channel's fixed buffer.
#[allow(clippy::large_enum_variant)]
pub(crate) enum StatusItem {
    Submit {
        result: SubmitResult,
        connector: usize,
    },
    Receipt {
        update: ReceiptUpdate,
        connector: usize,
        answer: Option<IncomingRequest>,
    },
    Flush(oneshot::Sender<()>),
}

/// The writer's input.
#[derive(Clone)]
pub(crate) struct StatusSender(mpsc::Sender<StatusItem>);

pub(crate) fn channel() -> (StatusSender, mpsc::Receiver<StatusItem>) {
    let (tx, rx) = mpsc::channel(16 * 1024);
    (StatusSender(tx), rx)
}

impl StatusSender {
    pub(crate) async fn submit(&self, result: SubmitResult, connector: usize) {
        if self
            .0
            .send(StatusItem::Submit { result, connector })
            .await
            .is_err()
        {
            tracing::warn!("status writer gone: a submit result was not recorded");
        }
    }

    pub(crate) async fn receipt(
        &self,
        update: ReceiptUpdate,
        connector: usize,
        answer: Option<IncomingRequest>,
    ) {
        // If the writer is gone the request is dropped unanswered, which answers
        // ESME_RX_T_APPN: the SMSC sends the receipt again later.
        let _ = self
            .0
            .send(StatusItem::Receipt {
                update,
                connector,
                answer,
            })
            .await;
    }

    /// Waits until everything sent before this call is written.
    pub(crate) async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.0.send(StatusItem::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

#[derive(Default)]
struct Batch {
    submits: Vec<SubmitResult>,
    /// Per submit result: its connector, and whether the SMSC accepted the segment.
    submit_connectors: Vec<(usize, bool)>,
    receipts: Vec<ReceiptUpdate>,
    receipt_connectors: Vec<usize>,
    answers: Vec<IncomingRequest>,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn len(&self) -> usize {
        self.submits.len() + self.receipts.len()
    }

    fn push(&mut self, item: StatusItem) {
        match item {
            StatusItem::Submit { result, connector } => {
                let accepted = matches!(result.outcome, SubmitOutcomeRecord::Accepted { .. });
                self.submits.push(result);
                self.submit_connectors.push((connector, accepted));
            }
            StatusItem::Receipt {
                update,
                connector,
                answer,
            } => {
                self.receipts.push(update);
                self.receipt_connectors.push(connector);
                self.answers.extend(answer);
            }
            StatusItem::Flush(tx) => self.flushes.push(tx),
        }
    }
}

/// The writer task.
pub(crate) async fn run(engine: Engine, mut rx: mpsc::Receiver<StatusItem>) {
    let mut batch = Batch::default();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // Receipts wait for this batch to be answered, and the SMSC sends no
                    // more than its window meanwhile: lingering would only stall them.
                    if batch.len() >= ENOUGH
                        || !batch.flushes.is_empty()
                        || !batch.answers.is_empty()
                    {
                        break;
                    }
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(item)) => batch.push(item),
                        _ => break,
                    }
                }
            }
        }
        write(&engine, &mut batch).await;
    }
}

async fn write(engine: &Engine, batch: &mut Batch) {
    let messages = &engine.inner().stores().messages;
    let submits = std::mem::take(&mut batch.submits);
    let receipts = std::mem::take(&mut batch.receipts);
    let (submitted, received) = tokio::join!(
        call_if_any(submits, |b| messages.record_submit_results(b)),
        call_if_any(receipts, |b| messages.record_receipts(b)),
    );
    let inner = engine.inner();
    let connectors = inner.connectors();
    let tally = inner.tally();
    let mut counts = [0u64; 4];
    match submitted {
        Ok(outcomes) => {
            for (outcome, &(c, accepted)) in outcomes.iter().zip(&batch.submit_connectors) {
                let m = &connectors[c].metrics;
                // A receipt that overtook this result may have moved the message past
                // `submitted` in the same update: it was submitted all the same.
                if accepted {
                    if let UpdateOutcome::Changed {
                        message_status: Some(status),
                        ..
                    } = outcome
                    {
                        if *status != MessageStatus::Submitted && status.is_final() {
                            counts[0] += 1;
                            m.submitted.inc();
                        }
                    }
                }
                count(outcome, m, &mut counts);
            }
        }
        Err(error) => {
            // The segments stay pending in the outbox: the next start sends them again.
            tracing::error!(%error, "submit results could not be stored");
        }
    }
    let answer_status = match received {
        Ok(outcomes) => {
            for (outcome, &c) in outcomes.iter().zip(&batch.receipt_connectors) {
                let m = &connectors[c].metrics;
                m.receipts.inc();
                if matches!(outcome, UpdateOutcome::Parked) {
                    m.receipts_parked.inc();
                }
                count(outcome, m, &mut counts);
            }
            CommandStatus::ESME_ROK
        }
        Err(error) => {
            tracing::error!(%error, "receipts could not be stored; the SMSC will resend them");
            CommandStatus::ESME_RX_T_APPN
        }
    };
    Tally::add(&tally.submitted, counts[0]);
    Tally::add(&tally.delivered, counts[1]);
    Tally::add(&tally.failed, counts[2]);
    Tally::add(&tally.expired, counts[3]);
    if counts[3] > 0 {
        inner.metrics().expired.inc_by(counts[3]);
    }
    for request in batch.answers.drain(..) {
        // A closed connection only means the SMSC will resend: nothing to do.
        let _ = request.respond_status(answer_status);
    }
    batch.submit_connectors.clear();
    batch.receipt_connectors.clear();
    for tx in batch.flushes.drain(..) {
        let _ = tx.send(());
    }
}

async fn call_if_any<T, F, Fut>(items: Vec<T>, call: F) -> Result<Vec<UpdateOutcome>, StoreError>
where
    F: FnOnce(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<UpdateOutcome>, StoreError>>,
{
    if items.is_empty() {
        return Ok(Vec::new());
    }
    call(items).await
}

/// Counts a message status change: [submitted, delivered, failed, expired].
fn count(outcome: &UpdateOutcome, m: &crate::metrics::ConnectorMetrics, counts: &mut [u64; 4]) {
    if let UpdateOutcome::Changed {
        message_status: Some(status),
        ..
    } = outcome
    {
        match status {
            MessageStatus::Submitted => {
                counts[0] += 1;
                m.submitted.inc();
            }
            MessageStatus::Delivered => {
                counts[1] += 1;
                m.delivered.inc();
            }
            MessageStatus::Failed | MessageStatus::Rejected => {
                counts[2] += 1;
                m.failed.inc();
            }
            MessageStatus::Expired => counts[3] += 1,
            _ => {}
        }
    }
}

/// A receipt as the store wants it. `detail` keeps what the SMSC said (`stat:UNDELIV
/// err:034`); a failing state gets the error code `smsc_<stat>` (lower case).
pub(crate) fn receipt_update(
    connector: &tuma_domain::ConnectorId,
    info: &smpp::ReceiptInfo,
    at_ms: u64,
) -> ReceiptUpdate {
    let state = info.state().map_or(MessageState::Unknown, |(s, _)| s);
    let text = info.text();
    let word = text
        .and_then(|t| t.stat.as_ref())
        .map(|s| s.word().to_owned())
        .or_else(|| smpp::receipt::ReceiptStat::from_state(state).map(|s| s.word().to_owned()))
        .unwrap_or_else(|| format!("state{}", state.to_u8()));
    let err = info
        .text_error()
        .map(|e| e.raw().to_owned())
        .or_else(|| {
            info.network_error_code()
                .map(|n| format!("{:03}", n.error_code))
        })
        .unwrap_or_else(|| "000".to_owned());
    let detail = format!("stat:{word} err:{err}");
    let failed = matches!(
        receipt_effect(state),
        ReceiptEffect::Final(s) if s != tuma_domain::SegmentStatus::Delivered
    );
    let error = failed.then(|| ErrorInfo {
        code: format!("smsc_{}", word.to_ascii_lowercase()),
        message: format!("the SMSC reported {word} (err {err})"),
    });
    ReceiptUpdate {
        connector: connector.clone(),
        protocol_id: info.tlv_message_id().map(|id| id.as_str().to_owned()),
        text_id: text.map(|t| t.id.as_str().to_owned()),
        state,
        detail: Some(detail),
        error,
        at_ms,
    }
}

#[cfg(test)]
mod tests {
    use smpp::pdu::DeliverSm;
    use smpp::tlv::Tlv;
    use smpp::types::{EsmClass, ShortMessage};
    use tuma_domain::ConnectorId;

    use super::*;

    fn receipt(text: &str, tlvs: Vec<Tlv>) -> smpp::ReceiptInfo {
        let mut sm = DeliverSm {
            esm_class: EsmClass::DELIVERY_RECEIPT,
            short_message: ShortMessage::new(text.as_bytes()).expect("fits"),
            ..DeliverSm::default()
        };
        for tlv in tlvs {
            sm.tlvs.push(tlv).expect("valid tlv");
        }
        sm.receipt().expect("a receipt").expect("readable")
    }

    #[test]
    fn a_failed_text_receipt_carries_both_ids_and_the_smsc_error() {
        let info = receipt(
            "id:0059113978 sub:001 dlvrd:000 submit date:2611261000 done date:2611261000 stat:UNDELIV err:034 text:Hi",
            vec![Tlv::ReceiptedMessageId("38601fa".parse().expect("id"))],
        );
        let c = ConnectorId::parse("sim").expect("name");
        let u = receipt_update(&c, &info, 7);
        assert_eq!(u.protocol_id.as_deref(), Some("38601fa"));
        assert_eq!(u.text_id.as_deref(), Some("0059113978"));
        assert_eq!(u.state, MessageState::Undeliverable);
        assert_eq!(u.detail.as_deref(), Some("stat:UNDELIV err:034"));
        let error = u.error.expect("a failure has an error");
        assert_eq!(error.code, "smsc_undeliv");
        assert!(error.message.contains("034"));
        assert_eq!((u.at_ms, u.connector), (7, c));
    }

    #[test]
    fn a_delivered_tlv_only_receipt_has_no_error() {
        let info = receipt(
            "",
            vec![
                Tlv::ReceiptedMessageId("abc".parse().expect("id")),
                Tlv::MessageState(MessageState::Delivered),
            ],
        );
        let u = receipt_update(&ConnectorId::parse("sim").expect("name"), &info, 1);
        assert_eq!((u.protocol_id.as_deref(), u.text_id), (Some("abc"), None));
        assert_eq!(u.detail.as_deref(), Some("stat:DELIVRD err:000"));
        assert_eq!(u.error, None);
    }
}
