//! Why ingest refuses a message, and the log that says so once instead of once per message.

use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Every reason a message is refused. Refused messages are counted, logged and dropped; the
/// device keeps an unacknowledged report and sends it again.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum RejectReason {
    /// Larger than `ingest.max_report_bytes`.
    Oversized,
    /// Not `hl/v1/{tenant}/{device}/{channel}`.
    BadTopic,
    /// No such device, or the device belongs to another tenant than the topic says.
    UnknownDevice,
    /// Not a signed envelope, or the body is not the expected message.
    Malformed,
    /// An envelope without a MAC.
    Unsigned,
    /// The MAC does not verify with the key of the device the topic names.
    BadSignature,
    /// Correctly signed, but the body names another device than the topic.
    DeviceMismatch,
    /// The sequence was already committed (a re-send or a replay); acknowledged again.
    Duplicate,
    /// More new reports or presence changes than `ingest.max_reports_per_minute` and
    /// `report_burst` allow this device, or a report behind one refused so; not acknowledged,
    /// so the device sends it again (from its outbox, when it reconnects).
    RateLimited,
    /// A presence change the hub already knows to be over: older than the last one, a will of
    /// another connection than the one online, or an `online` of a connection whose will or
    /// goodbye was already applied (a replayed retained copy). Changes nothing.
    StalePresence,
}

impl RejectReason {
    pub const ALL: [RejectReason; 10] = [
        RejectReason::Oversized,
        RejectReason::BadTopic,
        RejectReason::UnknownDevice,
        RejectReason::Malformed,
        RejectReason::Unsigned,
        RejectReason::BadSignature,
        RejectReason::DeviceMismatch,
        RejectReason::Duplicate,
        RejectReason::RateLimited,
        RejectReason::StalePresence,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Oversized => "oversized",
            RejectReason::BadTopic => "bad_topic",
            RejectReason::UnknownDevice => "unknown_device",
            RejectReason::Malformed => "malformed",
            RejectReason::Unsigned => "unsigned",
            RejectReason::BadSignature => "bad_signature",
            RejectReason::DeviceMismatch => "device_mismatch",
            RejectReason::Duplicate => "duplicate",
            RejectReason::RateLimited => "rate_limited",
            RejectReason::StalePresence => "stale_presence",
        }
    }
}

impl EncodeLabelValue for RejectReason {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

/// Logs a refusal once per (device, reason) and quiet period; repeats inside the period are only
/// counted, and the next line says how many were held back. One noisy device cannot flood the log.
/// Generic over the reason, so the broker's refusals use it too.
pub struct RejectLog<R = RejectReason> {
    quiet: Duration,
    last: HashMap<(String, R), (Instant, u64)>,
}

/// Entries kept before the log forgets old (device, reason) pairs.
const MAX_ENTRIES: usize = 10_000;

impl<R: Copy + Eq + std::hash::Hash> RejectLog<R> {
    pub fn new(quiet: Duration) -> Self {
        RejectLog {
            quiet,
            last: HashMap::new(),
        }
    }

    /// Records a refusal; returns how many were held back before it when it should be logged now.
    pub fn note(&mut self, now: Instant, device: &str, reason: R) -> Option<u64> {
        if self.last.len() >= MAX_ENTRIES {
            let quiet = self.quiet;
            self.last
                .retain(|_, (at, _)| now.duration_since(*at) < quiet);
        }
        match self.last.get_mut(&(device.to_string(), reason)) {
            Some((at, held)) if now.duration_since(*at) < self.quiet => {
                *held += 1;
                None
            }
            Some((at, held)) => {
                let before = *held;
                *at = now;
                *held = 0;
                Some(before)
            }
            None => {
                self.last.insert((device.to_string(), reason), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_once_per_quiet_period() {
        let mut log = RejectLog::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(log.note(t0, "a", RejectReason::BadSignature), Some(0));
        assert_eq!(log.note(t0, "a", RejectReason::BadSignature), None);
        assert_eq!(log.note(t0, "a", RejectReason::Malformed), Some(0));
        assert_eq!(log.note(t0, "b", RejectReason::BadSignature), Some(0));
        let later = t0 + Duration::from_secs(61);
        assert_eq!(log.note(later, "a", RejectReason::BadSignature), Some(1));
    }
}
