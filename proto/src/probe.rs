//! The probe an ack may carry (`Ack.report_now_at_ms`): when a device answers it with a report.

/// Remembers the last probe answered, so that a replayed ack asks nothing. Starts at "none
/// answered": a plain ack (0) is never a probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeGuard {
    last: i64,
}

impl ProbeGuard {
    /// Whether an ack (already verified as this device's) with this `report_now_at_ms` asks for a
    /// report now; if so it is remembered as answered.
    pub fn asks(&mut self, report_now_at_ms: i64) -> bool {
        let fresh = report_now_at_ms > self.last;
        if fresh {
            self.last = report_now_at_ms;
        }
        fresh
    }

    /// Whether this value is a probe that was already answered (a replay), for a log line.
    pub fn is_replay(&self, report_now_at_ms: i64) -> bool {
        report_now_at_ms != 0 && report_now_at_ms <= self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_ack_never_asks_and_a_probe_asks_once() {
        let mut g = ProbeGuard::default();
        assert!(!g.asks(0), "a plain ack");
        assert!(!g.is_replay(0));
        assert!(g.asks(50));
        assert!(!g.asks(50), "the same probe again");
        assert!(g.is_replay(50));
        assert!(!g.asks(40), "an older probe");
        assert!(g.asks(51));
    }
}
