//! Prometheus metrics of the hub: what ingest accepted, refused (per reason) and how long commits
//! take. Counted in the same place the event is logged.

use crate::broker::acl::Refusal;
use crate::ingest::reject::RejectReason;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: RejectReason,
}

/// What the broker refused a device (a topic it may not write or read).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabel {
    pub reason: Refusal,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum AuthResult {
    Accepted,
    Refused,
}

impl EncodeLabelValue for AuthResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let text = match self {
            AuthResult::Accepted => "accepted",
            AuthResult::Refused => "refused",
        };
        std::fmt::Write::write_str(encoder, text)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuthLabel {
    pub result: AuthResult,
}

/// A TLS handshake on one of the hub's listeners (`mqtt` or `https`), and whether it completed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TlsLabel {
    pub listener: &'static str,
    pub result: &'static str,
}

/// Every counter the hub exports. Cheap to share: the metric types are atomics behind `Arc`s.
pub struct Metrics {
    registry: Registry,
    pub reports_committed: Counter,
    pub states_committed: Counter,
    pub rejected: Family<ReasonLabel, Counter>,
    /// Reports whose sequence skipped ahead (the device dropped some, or the broker lost some).
    pub sequence_gaps: Counter,
    /// Reports admitted below an already committed sequence, filling a gap.
    pub reports_late: Counter,
    /// Gaps the hub stopped waiting for (the device dropped them, or did not send them again in
    /// time); their ack no longer waits.
    pub gaps_given_up: Counter,
    pub batches: Counter,
    pub commit_seconds: Histogram,
    pub store_errors: Counter,
    pub tickets_opened: Counter,
    /// Uplinks asked for a report because a device behind them went silent.
    pub probes_sent: Counter,
    /// Tickets the detection engine holds in memory: the unfinished ones and those finished
    /// within the reopen window (older ones are in the store only).
    pub engine_tickets: Gauge,
    pub auth: Family<AuthLabel, Counter>,
    pub mqtt_refused: Family<RefusalLabel, Counter>,
    pub tls_handshakes: Family<TlsLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("heartline");
        let m = Metrics {
            reports_committed: Counter::default(),
            states_committed: Counter::default(),
            rejected: Family::default(),
            sequence_gaps: Counter::default(),
            reports_late: Counter::default(),
            gaps_given_up: Counter::default(),
            batches: Counter::default(),
            commit_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 16)),
            store_errors: Counter::default(),
            tickets_opened: Counter::default(),
            probes_sent: Counter::default(),
            engine_tickets: Gauge::default(),
            auth: Family::default(),
            mqtt_refused: Family::default(),
            tls_handshakes: Family::default(),
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
            "ingest_reports_late",
            "Reports committed after a later one of the same boot, filling a gap",
            m.reports_late.clone(),
        );
        registry.register(
            "ingest_gaps_given_up",
            "Sequence gaps no longer waited for; acks cover them",
            m.gaps_given_up.clone(),
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
            "engine_tickets",
            "Tickets held in the engine's memory (unfinished, or finished within the reopen window)",
            m.engine_tickets.clone(),
        );
        registry.register(
            "store_errors",
            "Store transactions that failed (nothing acknowledged)",
            m.store_errors.clone(),
        );
        registry.register(
            "engine_tickets_opened",
            "Tickets opened by the detection engine",
            m.tickets_opened.clone(),
        );
        registry.register(
            "engine_probes_sent",
            "Uplinks asked for a report at once because a device behind them went silent",
            m.probes_sent.clone(),
        );
        registry.register(
            "mqtt_auth",
            "Device connection attempts, by result",
            m.auth.clone(),
        );
        registry.register(
            "mqtt_refused",
            "Publishes, subscriptions and last wills the broker refused a device, by reason",
            m.mqtt_refused.clone(),
        );
        registry.register(
            "tls_handshakes",
            "TLS handshakes on the MQTT TLS port and the HTTPS port, by listener and result",
            m.tls_handshakes.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// How many times the broker refused a device for `reason` so far.
    pub fn mqtt_refused(&self, reason: Refusal) -> u64 {
        self.mqtt_refused
            .get_or_create(&RefusalLabel { reason })
            .get()
    }

    /// How many messages were refused for `reason` so far.
    pub fn rejected(&self, reason: RejectReason) -> u64 {
        self.rejected.get_or_create(&ReasonLabel { reason }).get()
    }

    pub fn auth_count(&self, result: AuthResult) -> u64 {
        self.auth.get_or_create(&AuthLabel { result }).get()
    }

    /// Counts one TLS handshake on `listener` (`mqtt` or `https`).
    pub fn tls_handshake(&self, listener: &'static str, completed: bool) {
        let result = if completed { "completed" } else { "failed" };
        self.tls_handshakes
            .get_or_create(&TlsLabel { listener, result })
            .inc();
    }

    /// TLS handshakes on `listener` so far that completed (`true`) or failed.
    pub fn tls_handshakes(&self, listener: &'static str, completed: bool) -> u64 {
        let result = if completed { "completed" } else { "failed" };
        self.tls_handshakes
            .get_or_create(&TlsLabel { listener, result })
            .get()
    }

    /// Every metric the hub exports, as named in the exposition (a test keeps `render` in step).
    pub const NAMES: [&'static str; 14] = [
        "heartline_ingest_reports_committed_total",
        "heartline_ingest_states_committed_total",
        "heartline_ingest_rejected_total",
        "heartline_ingest_sequence_gaps_total",
        "heartline_ingest_reports_late_total",
        "heartline_ingest_gaps_given_up_total",
        "heartline_ingest_batches_total",
        "heartline_ingest_commit_seconds",
        "heartline_store_errors_total",
        "heartline_engine_tickets_opened_total",
        "heartline_engine_probes_sent_total",
        "heartline_mqtt_auth_total",
        "heartline_mqtt_refused_total",
        "heartline_tls_handshakes_total",
    ];

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exported() {
        let m = Metrics::default();
        m.rejected
            .get_or_create(&ReasonLabel {
                reason: RejectReason::Malformed,
            })
            .inc();
        m.auth
            .get_or_create(&AuthLabel {
                result: AuthResult::Refused,
            })
            .inc();
        m.tls_handshake("mqtt", false);
        m.mqtt_refused
            .get_or_create(&RefusalLabel {
                reason: Refusal::SubscribeForeignTopic,
            })
            .inc();
        let text = m.render();
        for name in Metrics::NAMES {
            assert!(text.contains(name), "{name} missing from /metrics:\n{text}");
        }
        assert!(
            text.contains("heartline_ingest_rejected_total{reason=\"malformed\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("heartline_mqtt_refused_total{reason=\"subscribe_foreign_topic\"} 1"),
            "{text}"
        );
    }
}
