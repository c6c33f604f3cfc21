//! Building a `HealthReport` (the micropb type from the shared schema) into fixed capacities:
//! what does not fit is left out and counted, never a panic.

use crate::pb::{Check, CheckStatus, DeviceEvent, EventKind, HealthReport, Metric};

/// What was left out of a report because a capacity was reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overflow(pub u32);

fn text<const N: usize>(s: &str) -> heapless::String<N> {
    let mut out = heapless::String::new();
    // Cut at a character boundary when the text is longer than the field.
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let _ = out.push_str(&s[..end]);
    out
}

/// A report being filled in.
pub struct Draft {
    pub report: HealthReport,
    pub overflow: Overflow,
}

impl Draft {
    pub fn new(
        device_id: &str,
        boot_id: u64,
        sequence: u64,
        sent_at_ms: i64,
        next_checkin_s: u32,
    ) -> Draft {
        let report = HealthReport {
            device_id: text(device_id),
            boot_id,
            sequence,
            sent_at_ms,
            next_checkin_s,
            ..HealthReport::default()
        };
        Draft {
            report,
            overflow: Overflow(0),
        }
    }

    pub fn metric(&mut self, name: &str, value: f64, unit: &str, instance: &str) {
        let m = Metric {
            name: text(name),
            value,
            unit: text(unit),
            instance: text(instance),
        };
        if self.report.metrics.push(m).is_err() {
            self.overflow.0 += 1;
        }
    }

    pub fn check(&mut self, name: &str, status: CheckStatus, message: &str) {
        let c = Check {
            name: text(name),
            status,
            message: text(message),
        };
        if self.report.checks.push(c).is_err() {
            self.overflow.0 += 1;
        }
    }

    pub fn event(&mut self, kind: EventKind, at_ms: i64, detail: &str) {
        let e = DeviceEvent {
            kind,
            at_ms,
            detail: text(detail),
        };
        if self.report.events.push(e).is_err() {
            self.overflow.0 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::seal;
    use heartline_proto::{DeviceKey, wire};

    #[test]
    fn the_hub_decodes_what_the_firmware_builds() {
        let mut d = Draft::new("mcu-0", 42, 7, 1_790_000_000_000, 5);
        d.metric("temperature_c", 71.5, "C", "board");
        d.check("temperature", CheckStatus::Crit, "71.5 C, limit 70.0 C");
        d.event(
            EventKind::WatchdogReset,
            1_789_999_999_000,
            "watchdog reset",
        );
        let key = DeviceKey([9; 32]);
        let mut buf = [0u8; 512];
        let n = seal(&key, &d.report, &mut buf).unwrap();
        let r: wire::HealthReport = heartline_proto::envelope::open(&key, &buf[..n]).unwrap();
        assert_eq!(
            (r.device_id.as_str(), r.boot_id, r.sequence),
            ("mcu-0", 42, 7)
        );
        assert_eq!((r.sent_at_ms, r.next_checkin_s), (1_790_000_000_000, 5));
        assert_eq!(r.metrics[0].name, "temperature_c");
        assert_eq!(r.metrics[0].value, 71.5);
        assert_eq!(r.metrics[0].instance, "board");
        assert_eq!(r.checks[0].status, wire::CheckStatus::Crit as i32);
        assert_eq!(r.checks[0].message, "71.5 C, limit 70.0 C");
        assert_eq!(r.events[0].kind, wire::EventKind::WatchdogReset as i32);
        assert_eq!(r.events[0].at_ms, 1_789_999_999_000);
    }

    #[test]
    fn what_does_not_fit_is_counted_not_fatal() {
        let mut d = Draft::new("mcu-0", 1, 1, 0, 5);
        for _ in 0..10 {
            d.metric("m", 1.0, "", "");
        }
        d.check(
            "a-name-much-longer-than-the-24-bytes-it-may-have",
            CheckStatus::Ok,
            "é",
        );
        assert_eq!(d.report.metrics.len(), d.report.metrics.capacity());
        assert_eq!(d.overflow.0, 10 - d.report.metrics.capacity() as u32);
        assert_eq!(d.report.checks[0].name.len(), 24);
        // A multi-byte character is cut whole, never in the middle.
        assert_eq!(text::<1>("é").as_str(), "");
    }
}
