//! The engine's Prometheus metrics: one [`Registry`] per engine (no global recorder), so two
//! engines in one process (tests, `tuma bench`) never mix their figures.
//!
//! Hot paths never look a label up: every per-connector handle is resolved once at start
//! ([`ConnectorMetrics`]) and cloned into the task that updates it (a counter is an `Arc`ed
//! atomic). Labels are low-cardinality only: connector names and stable error codes.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::webhooks::WebhookCounters;

type ConnectorLabel = [(&'static str, String); 1];
type CodeLabel = [(&'static str, String); 1];

fn latency_histogram() -> Histogram {
    // 1 ms .. ~65 s: from a loopback SMSC to a congested operator.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Every metric of one engine.
pub(crate) struct Metrics {
    registry: Registry,
    accepted: Family<ConnectorLabel, Counter>,
    submitted: Family<ConnectorLabel, Counter>,
    delivered: Family<ConnectorLabel, Counter>,
    failed: Family<ConnectorLabel, Counter>,
    submit_latency: Family<ConnectorLabel, Histogram, fn() -> Histogram>,
    in_flight: Family<ConnectorLabel, Gauge>,
    window: Family<ConnectorLabel, Gauge>,
    queued: Family<ConnectorLabel, Gauge>,
    bound: Family<ConnectorLabel, Gauge>,
    throttles: Family<ConnectorLabel, Counter>,
    retries: Family<ConnectorLabel, Counter>,
    receipts: Family<ConnectorLabel, Counter>,
    receipts_parked: Family<ConnectorLabel, Counter>,
    rejected: Family<CodeLabel, Counter>,
    /// Messages expired (by an EXPIRED receipt or the expiry timer, which does not say on
    /// which connector: so no connector label).
    pub(crate) expired: Counter,
    /// Messages stored as `suppressed`.
    pub(crate) suppressed: Counter,
    /// Receipts that could not be read (answered anyway, so the SMSC does not resend them).
    pub(crate) receipts_unreadable: Counter,
}

/// One connector's handles.
#[derive(Clone)]
pub(crate) struct ConnectorMetrics {
    pub(crate) accepted: Counter,
    pub(crate) submitted: Counter,
    pub(crate) delivered: Counter,
    pub(crate) failed: Counter,
    pub(crate) submit_latency: Histogram,
    pub(crate) in_flight: Gauge,
    pub(crate) window: Gauge,
    pub(crate) queued: Gauge,
    pub(crate) bound: Gauge,
    pub(crate) throttles: Counter,
    pub(crate) retries: Counter,
    pub(crate) receipts: Counter,
    pub(crate) receipts_parked: Counter,
}

impl Metrics {
    pub(crate) fn new(webhooks: &WebhookCounters) -> Self {
        let mut registry = Registry::with_prefix("tuma");
        let metrics = Self {
            accepted: Family::default(),
            submitted: Family::default(),
            delivered: Family::default(),
            failed: Family::default(),
            submit_latency: Family::new_with_constructor(latency_histogram),
            in_flight: Family::default(),
            window: Family::default(),
            queued: Family::default(),
            bound: Family::default(),
            throttles: Family::default(),
            retries: Family::default(),
            receipts: Family::default(),
            receipts_parked: Family::default(),
            rejected: Family::default(),
            expired: Counter::default(),
            suppressed: Counter::default(),
            receipts_unreadable: Counter::default(),
            registry: Registry::default(),
        };
        let m = &metrics;
        registry.register(
            "messages_accepted",
            "Messages accepted for sending (stored), by connector",
            m.accepted.clone(),
        );
        registry.register(
            "messages_submitted",
            "Messages whose every segment the SMSC accepted",
            m.submitted.clone(),
        );
        registry.register(
            "messages_delivered",
            "Messages delivered (final receipt)",
            m.delivered.clone(),
        );
        registry.register(
            "messages_failed",
            "Messages failed (refused at submit or failed receipt)",
            m.failed.clone(),
        );
        registry.register(
            "messages_expired",
            "Messages expired (EXPIRED receipt, or no final receipt within validity + grace)",
            m.expired.clone(),
        );
        registry.register(
            "messages_suppressed",
            "Messages not sent because the number opted out",
            m.suppressed.clone(),
        );
        registry.register(
            "messages_rejected",
            "Messages refused at intake, by error code",
            m.rejected.clone(),
        );
        registry.register(
            "submit_latency_seconds",
            "From acceptance to submit_sm_resp, per segment",
            m.submit_latency.clone(),
        );
        registry.register(
            "connector_in_flight",
            "submit_sm awaiting their response",
            m.in_flight.clone(),
        );
        registry.register(
            "connector_window",
            "submit_sm that may be in flight (binds x window)",
            m.window.clone(),
        );
        registry.register(
            "connector_queued",
            "Segments waiting in memory for dispatch",
            m.queued.clone(),
        );
        registry.register(
            "connector_bound",
            "SMPP sessions bound now",
            m.bound.clone(),
        );
        registry.register(
            "throttle_events",
            "ESME_RTHROTTLED / ESME_RMSGQFUL answers (each pauses the connector)",
            m.throttles.clone(),
        );
        registry.register(
            "submit_retries",
            "Segments rescheduled after a temporary error",
            m.retries.clone(),
        );
        registry.register("receipts", "Delivery receipts received", m.receipts.clone());
        registry.register(
            "receipts_parked",
            "Receipts that arrived before their submit result (kept until it comes)",
            m.receipts_parked.clone(),
        );
        registry.register(
            "receipts_unreadable",
            "Receipts that could not be parsed (acknowledged and dropped)",
            m.receipts_unreadable.clone(),
        );
        registry.register(
            "webhooks_delivered",
            "Webhook deliveries answered 2xx",
            webhooks.delivered.clone(),
        );
        registry.register(
            "webhooks_failed_attempts",
            "Webhook attempts that failed (retried later)",
            webhooks.failed_attempts.clone(),
        );
        registry.register(
            "webhooks_given_up",
            "Webhook deliveries abandoned after the retry period",
            webhooks.given_up.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// The handles of connector `name`.
    pub(crate) fn connector(&self, name: &str) -> ConnectorMetrics {
        let l: ConnectorLabel = [("connector", name.to_owned())];
        ConnectorMetrics {
            accepted: self.accepted.get_or_create(&l).clone(),
            submitted: self.submitted.get_or_create(&l).clone(),
            delivered: self.delivered.get_or_create(&l).clone(),
            failed: self.failed.get_or_create(&l).clone(),
            submit_latency: self.submit_latency.get_or_create(&l).clone(),
            in_flight: self.in_flight.get_or_create(&l).clone(),
            window: self.window.get_or_create(&l).clone(),
            queued: self.queued.get_or_create(&l).clone(),
            bound: self.bound.get_or_create(&l).clone(),
            throttles: self.throttles.get_or_create(&l).clone(),
            retries: self.retries.get_or_create(&l).clone(),
            receipts: self.receipts.get_or_create(&l).clone(),
            receipts_parked: self.receipts_parked.get_or_create(&l).clone(),
        }
    }

    /// Counts one refused message (codes are a small fixed set).
    pub(crate) fn rejected(&self, code: &str) {
        self.rejected
            .get_or_create(&[("code", code.to_owned())])
            .inc();
    }

    /// The text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        if let Err(error) = encode(&mut out, &self.registry) {
            tracing::warn!(%error, "metrics encoding failed");
        }
        out
    }
}

/// Plain counters for [`crate::Engine::counts`]: cheaper to read than the registry, and
/// engine-wide rather than per connector.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) accepted: AtomicU64,
    pub(crate) submitted: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) expired: AtomicU64,
    pub(crate) suppressed: AtomicU64,
    pub(crate) rejected: AtomicU64,
}

impl Tally {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }
}
