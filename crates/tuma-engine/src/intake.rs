//! Intake: parse and route in the caller's task, then store in groups.
//!
//! Parsing and routing are pure and run in the calling task, in parallel across callers.
//! Storing goes through one intake task that drains every waiting call (up to
//! [`MAX_GROUP`] messages) and makes ONE suppression look-up per account and ONE
//! `insert_batch` for the whole group, then answers each caller. A single-message request
//! therefore costs a share of a commit, not a commit: that is what lets thousands of
//! concurrent single requests per second through a durable store.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tuma_domain::{IdGenerator, MessageStatus, Msisdn, NewMessage, RawMessage, SenderId};
use tuma_store::{AccountId, Idempotency, InsertOutcome, NewMessageRecord, StoreError};

use crate::dispatch::OutMsg;
use crate::metrics::Tally;
use crate::{Accepted, Engine, EngineError, Rejection, RejectionKind, SubmitRequest};

/// Calls waiting for the intake task before senders wait (back-pressure).
pub(crate) const QUEUE: usize = 4096;
/// Most messages stored by one `insert_batch` when several calls are grouped (a single call
/// with more is stored alone, in one batch).
const MAX_GROUP: usize = 2000;
/// Groups being stored at once.
const GROUPS_IN_FLIGHT: usize = 4;
/// Groups at least this large are stored alone.
const LARGE_GROUP: usize = 500;

/// One `submit` call, parsed and routed.
pub(crate) struct IntakeJob {
    pub(crate) account: AccountId,
    pub(crate) items: Vec<Item>,
    pub(crate) check_suppression: bool,
    pub(crate) reply: oneshot::Sender<Result<Vec<Result<Accepted, Rejection>>, EngineError>>,
}

/// One request of a call.
pub(crate) enum Item {
    /// Refused before storage.
    Rejected(Rejection),
    /// Ready to store.
    Ready(Box<Prepared>),
}

/// A parsed, routed request.
pub(crate) struct Prepared {
    msg: NewMessage,
    connector: usize,
    callback_url: Option<String>,
    reference: Option<String>,
    idempotency: Option<Idempotency>,
    campaign: Option<tuma_store::CampaignRef>,
}

/// Parses and routes every request of one call (in the caller's task).
pub(crate) fn prepare(
    engine: &Engine,
    requests: Vec<SubmitRequest>,
    default_callback: Option<&str>,
    now_ms: u64,
) -> Vec<Item> {
    let inner = engine.inner();
    let defaults = &inner.config().defaults;
    let mut rejected = 0u64;
    let items = requests
        .into_iter()
        .map(|r| {
            let raw = RawMessage {
                to: &r.to,
                from: r.from.as_deref(),
                text: &r.text,
                validity: r.validity.as_deref(),
                send_at_ms: r.send_at_ms,
            };
            let mut msg = match NewMessage::parse(&raw, defaults, now_ms) {
                Ok(msg) => msg,
                Err(errors) => {
                    rejected += 1;
                    let first = errors.0.first();
                    let code = first.map_or("invalid_message", |e| e.code());
                    inner.metrics().rejected(code);
                    return Item::Rejected(Rejection {
                        kind: RejectionKind::Invalid,
                        code: code.to_owned(),
                        message: errors.to_string(),
                        field: first.map(|e| e.field.as_str().to_owned()),
                    });
                }
            };
            let counter = inner.next_route_counter();
            let Some(connector) = engine.route(&msg.to, counter) else {
                rejected += 1;
                inner.metrics().rejected("no_route");
                return Item::Rejected(Rejection {
                    kind: RejectionKind::NoRoute,
                    code: "no_route".to_owned(),
                    message: format!("no connector serves {}", msg.to),
                    field: Some("to".to_owned()),
                });
            };
            // The segment count is the one the chosen connector will send: a UDH16 or SAR
            // connector fits fewer characters per part than the default UDH8.
            let concat = inner.connectors[connector].config.concat;
            if concat != crate::ConcatMethod::Udh8 {
                let options = sms_text::Options {
                    concat: match concat {
                        crate::ConcatMethod::Udh16 => sms_text::Concat::Udh16 { reference: 0 },
                        crate::ConcatMethod::Sar => sms_text::Concat::Sar { reference: 0 },
                        _ => defaults.text_options.concat,
                    },
                    max_parts: 255,
                    ..defaults.text_options
                };
                let segments = sms_text::estimate(&msg.text, &options).segments;
                if segments > usize::from(defaults.max_segments) {
                    rejected += 1;
                    inner.metrics().rejected("text_too_long");
                    return Item::Rejected(Rejection {
                        kind: RejectionKind::Invalid,
                        code: "text_too_long".to_owned(),
                        message: format!(
                            "the text needs {segments} segments on connector {}; at most {} are allowed",
                            inner.connectors[connector].config.id,
                            defaults.max_segments
                        ),
                        field: Some("text".to_owned()),
                    });
                }
                msg.segments = segments.max(1) as u8;
            }
            Item::Ready(Box::new(Prepared {
                msg,
                connector,
                callback_url: r
                    .callback_url
                    .or_else(|| default_callback.map(str::to_owned)),
                reference: r.reference,
                idempotency: r.idempotency,
                campaign: r.campaign,
            }))
        })
        .collect();
    Tally::add(&inner.tally().rejected, rejected);
    items
}

/// The intake task: groups waiting calls and stores each group with one `insert_batch`.
///
/// Up to [`GROUPS_IN_FLIGHT`] small groups are stored at once: with one, single-message
/// requests from a few dozen clients made groups of a few dozen messages that waited for each
/// other's commit (`tuma bench gateway --mode single --concurrency 32`: 15.7-16.2k requests/s
/// with one group in flight, 16.5-17.7k with four); the store's own group commit merges them
/// while the next group gathers. Large groups go alone (see below).
pub(crate) async fn run(engine: Engine, mut rx: mpsc::Receiver<IntakeJob>) {
    let generator = Arc::new(Mutex::new((
        IdGenerator::new(),
        rand::rngs::StdRng::from_os_rng(),
    )));
    let permits = Arc::new(Semaphore::new(GROUPS_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Waiting for a free slot lets more calls gather into this group.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let mut count = first.items.len();
        let mut jobs = vec![first];
        while count < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.items.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        // A large group is throughput-bound: storing it beside others only makes the
        // writer's transactions bigger and starves the status writes (batch intake measured
        // 58-64k delivered/s with 4 large groups in flight, 66-70k with one). So it waits for
        // the groups in flight and goes alone.
        let rest = if count >= LARGE_GROUP {
            permits
                .clone()
                .acquire_many_owned((GROUPS_IN_FLIGHT - 1) as u32)
                .await
                .ok()
        } else {
            None
        };
        let (engine, generator) = (engine.clone(), generator.clone());
        tokio::spawn(async move {
            store_group(&engine, &generator, jobs, count).await;
            drop((permit, rest));
        });
    }
    // Intake ends only when every group it started is stored and answered.
    let _ = permits.acquire_many(GROUPS_IN_FLIGHT as u32).await;
}

/// What intake remembers about one record while the store works.
struct Meta {
    job: usize,
    slot: usize,
    connector: usize,
    status: MessageStatus,
    segments: u8,
    encoding: sms_text::Encoding,
    /// For messages to dispatch now: what the connector needs.
    send: Option<(Msisdn, SenderId, String)>,
    expires_at_ms: u64,
}

async fn store_group(
    engine: &Engine,
    generator: &Mutex<(IdGenerator, rand::rngs::StdRng)>,
    jobs: Vec<IntakeJob>,
    count: usize,
) {
    let inner = engine.inner();
    let stores = inner.stores();

    // One suppression look-up per account in the group.
    let mut numbers: HashMap<AccountId, Vec<Msisdn>> = HashMap::new();
    for job in jobs.iter().filter(|j| j.check_suppression) {
        let list = numbers.entry(job.account).or_default();
        for item in &job.items {
            if let Item::Ready(p) = item {
                list.push(p.msg.to);
            }
        }
    }
    let mut suppressed: HashMap<AccountId, HashSet<Msisdn>> = HashMap::new();
    for (account, list) in numbers {
        if list.is_empty() {
            continue;
        }
        match stores.suppression.suppressed_among(account, &list).await {
            Ok(found) if !found.is_empty() => {
                suppressed.insert(account, found.into_iter().collect());
            }
            Ok(_) => {}
            Err(e) => return fail_all(jobs, e),
        }
    }

    let now = inner.clock().now_ms();
    let accepted_at = Instant::now();
    let multipart = inner.config().multipart;
    let mut records = Vec::with_capacity(count);
    let mut metas = Vec::with_capacity(count);
    let mut results: Vec<Vec<Option<Result<Accepted, Rejection>>>> = Vec::with_capacity(jobs.len());
    let mut jobs_meta = Vec::with_capacity(jobs.len());
    for (j, job) in jobs.into_iter().enumerate() {
        let mut slots = Vec::with_capacity(job.items.len());
        for (slot, item) in job.items.into_iter().enumerate() {
            let p = match item {
                Item::Rejected(r) => {
                    slots.push(Some(Err(r)));
                    continue;
                }
                Item::Ready(p) => p,
            };
            slots.push(None);
            let Prepared {
                msg,
                connector,
                callback_url,
                reference,
                idempotency,
                campaign,
            } = *p;
            let next = {
                let mut g = generator.lock().unwrap_or_else(|e| e.into_inner());
                let random = g.1.random::<u128>();
                g.0.next_id(now, random)
            };
            let id = match next {
                Ok(id) => id,
                Err(e) => {
                    slots[slot] = Some(Err(Rejection {
                        kind: RejectionKind::Invalid,
                        code: "internal_error".to_owned(),
                        message: e.to_string(),
                        field: None,
                    }));
                    continue;
                }
            };
            let is_suppressed = suppressed
                .get(&job.account)
                .is_some_and(|s| s.contains(&msg.to));
            let status = if is_suppressed {
                MessageStatus::Suppressed
            } else {
                msg.initial_status()
            };
            let validity_ms =
                u64::try_from(msg.validity.duration().as_millis()).unwrap_or(u64::MAX);
            let expires_at_ms = msg.send_at_ms.unwrap_or(now).saturating_add(validity_ms);
            let send = (status == MessageStatus::Accepted)
                .then(|| (msg.to, msg.from.clone(), msg.text.clone()));
            metas.push(Meta {
                job: j,
                slot,
                connector,
                status,
                segments: msg.segments,
                encoding: msg.encoding,
                send,
                expires_at_ms,
            });
            records.push(NewMessageRecord {
                id,
                account: job.account,
                to: msg.to,
                from: msg.from,
                text: msg.text,
                encoding: msg.encoding,
                segments: msg.segments,
                status,
                connector: inner.connectors()[connector].config.id.clone(),
                multipart,
                reference,
                callback_url,
                idempotency,
                campaign,
                created_at_ms: now,
                send_at_ms: msg.send_at_ms,
                expires_at_ms,
            });
        }
        results.push(slots);
        jobs_meta.push((job.account, job.reply));
    }

    let ids_of: Vec<_> = records.iter().map(|r| r.id).collect();
    let outcomes = if records.is_empty() {
        Ok(Vec::new())
    } else {
        stores.messages.insert_batch(records).await
    };
    let outcomes = match outcomes {
        Ok(o) => o,
        Err(e) => {
            for (_, reply) in jobs_meta {
                let _ = reply.send(Err(EngineError::Store(e.clone())));
            }
            return;
        }
    };

    let connectors = inner.connectors();
    let mut queues: Vec<Vec<OutMsg>> = (0..connectors.len()).map(|_| Vec::new()).collect();
    let (mut accepted, mut suppressed_n, mut rejected) = (0u64, 0u64, 0u64);
    for ((meta, outcome), id) in metas.into_iter().zip(outcomes).zip(ids_of) {
        let account = jobs_meta[meta.job].0;
        let result = match outcome {
            InsertOutcome::Inserted => {
                match meta.status {
                    MessageStatus::Suppressed => {
                        suppressed_n += 1;
                        inner.metrics().suppressed.inc();
                    }
                    _ => {
                        accepted += 1;
                        connectors[meta.connector].metrics.accepted.inc();
                    }
                }
                if let Some((to, from, text)) = meta.send {
                    queues[meta.connector].push(OutMsg {
                        id,
                        to,
                        from,
                        text,
                        expires_at_ms: meta.expires_at_ms,
                        accepted_at,
                        pending: None,
                        total: meta.segments,
                        due_at_ms: 0,
                    });
                }
                Ok(Accepted {
                    id,
                    status: meta.status,
                    encoding: meta.encoding,
                    segments: meta.segments,
                    existing: false,
                })
            }
            InsertOutcome::Duplicate { existing } => {
                match stores.messages.get(account, existing).await {
                    Ok(Some(m)) => Ok(Accepted {
                        id: m.id,
                        status: m.status,
                        encoding: m.encoding,
                        segments: u8::try_from(m.segments.len()).unwrap_or(u8::MAX),
                        existing: true,
                    }),
                    Ok(None) => Err(conflict(existing)),
                    Err(e) => {
                        tracing::warn!(error = %e, "reading an idempotent repeat failed");
                        Err(Rejection {
                            kind: RejectionKind::Invalid,
                            code: "internal_error".to_owned(),
                            message: format!(
                                "the stored message {existing} could not be read: {e}"
                            ),
                            field: None,
                        })
                    }
                }
            }
            InsertOutcome::IdempotencyConflict { existing } => {
                rejected += 1;
                inner.metrics().rejected("idempotency_conflict");
                Err(conflict(existing))
            }
            InsertOutcome::IdTaken => {
                rejected += 1;
                Err(Rejection {
                    kind: RejectionKind::Invalid,
                    code: "internal_error".to_owned(),
                    message: format!("message id {id} is taken"),
                    field: None,
                })
            }
            InsertOutcome::Invalid { field, reason } => {
                rejected += 1;
                inner.metrics().rejected("invalid_message");
                Err(Rejection {
                    kind: RejectionKind::Invalid,
                    code: "invalid_message".to_owned(),
                    message: reason,
                    field: Some(field.to_owned()),
                })
            }
        };
        results[meta.job][meta.slot] = Some(result);
    }
    let tally = inner.tally();
    Tally::add(&tally.accepted, accepted);
    Tally::add(&tally.suppressed, suppressed_n);
    Tally::add(&tally.rejected, rejected);

    // Committed: hand the messages to their connectors before answering, so a caller that
    // sees its ids also sees them queued.
    for (index, queue) in queues.into_iter().enumerate() {
        if !queue.is_empty() {
            inner.queued().fetch_add(queue.len(), Ordering::Relaxed);
            connectors[index].enqueue(queue);
        }
    }
    for (slots, (_, reply)) in results.into_iter().zip(jobs_meta) {
        let answers = slots
            .into_iter()
            .map(|s| {
                s.unwrap_or_else(|| {
                    Err(Rejection {
                        kind: RejectionKind::Invalid,
                        code: "internal_error".to_owned(),
                        message: "no outcome from the store".to_owned(),
                        field: None,
                    })
                })
            })
            .collect();
        let _ = reply.send(Ok(answers));
    }
}

fn conflict(existing: tuma_domain::MessageId) -> Rejection {
    Rejection {
        kind: RejectionKind::Conflict,
        code: "idempotency_conflict".to_owned(),
        message: format!(
            "the Idempotency-Key was used for message {existing} with a different request body"
        ),
        field: None,
    }
}

fn fail_all(jobs: Vec<IntakeJob>, error: StoreError) {
    for job in jobs {
        let _ = job.reply.send(Err(EngineError::Store(error.clone())));
    }
}
