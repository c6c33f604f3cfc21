//! Prometheus metrics of the hub: what ingest accepted, refused (per reason) and how long commits
//! take. Counted in the same place the event is logged.

use crate::ingest::RejectReason;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: RejectReason,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum AuthResult {
    Accepted,
    Refused,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuthLabel {
    pub result: AuthResult,
}

/// Every counter the hub exports. Cheap to share: the metric types are atomics behind `Arc`s.
pub struct Metrics {
    registry: Registry,
    pub reports_committed: Counter,
    pub states_committed: Counter,
    pub rejected: Family<ReasonLabel, Counter>,
    /// Reports whose sequence skipped ahead (the device dropped some, or the broker lost some).
    pub sequence_gaps: Counter,
    pub batches: Counter,
    pub commit_seconds: Histogram,
    pub store_errors: Counter,
    pub tickets_opened: Counter,
    pub auth: Family<AuthLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("heartline");
        let m = Metrics {
            reports_committed: Counter::default(),
            states_committed: Counter::default(),
            rejected: Family::default(),
            sequence_gaps: Counter::default(),
            batches: Counter::default(),
            commit_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 16)),
            store_errors: Counter::default(),
            tickets_opened: Counter::default(),
            auth: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "ingest_reports_committed",
            "Reports committed to the store",
            m.reports_committed.clone(),
        );
        registry.register(
            "ingest_states_committed",
            "Presence changes committed to the store",
            m.states_committed.clone(),
        );
        registry.register(
            "ingest_rejected",
            "Messages refused by ingest, by reason",
            m.rejected.clone(),
        );
        registry.register(
            "ingest_sequence_gaps",
            "Reports whose sequence skipped ahead",
            m.sequence_gaps.clone(),
        );
        registry.register(
            "ingest_batches",
            "Store transactions committed by ingest",
            m.batches.clone(),
        );
        registry.register(
            "ingest_commit_seconds",
            "Time to commit one ingest batch",
            m.commit_seconds.clone(),
        );
        registry.register(
            "store_errors",
            "Store transactions that failed (nothing acknowledged)",
            m.store_errors.clone(),
        );
        registry.register(
            "mqtt_auth",
            "Device connection attempts, by result",
            m.auth.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// How many messages were refused for `reason` so far.
    pub fn rejected(&self, reason: RejectReason) -> u64 {
        self.rejected.get_or_create(&ReasonLabel { reason }).get()
    }

    pub fn auth_count(&self, result: AuthResult) -> u64 {
        self.auth.get_or_create(&AuthLabel { result }).get()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
