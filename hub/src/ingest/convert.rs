//! Wire → domain conversion: the only place generated report types are read.

use heartline_engine::{CheckResult, DeviceEvent, EventKind, MetricValue, Presence, Report};
use heartline_proto::CheckState;
use heartline_proto::wire;

pub fn report(r: wire::HealthReport, received_at_ms: i64) -> Report {
    Report {
        boot_id: r.boot_id,
        sequence: r.sequence,
        sent_at_ms: r.sent_at_ms,
        received_at_ms,
        next_checkin_s: r.next_checkin_s,
        metrics: r
            .metrics
            .into_iter()
            .map(|m| MetricValue {
                name: m.name,
                instance: m.instance,
                value: m.value,
                unit: m.unit,
            })
            .collect(),
        checks: r
            .checks
            .into_iter()
            .map(|c| CheckResult {
                name: c.name,
                state: CheckState::from_code(c.status),
                message: c.message,
            })
            .collect(),
        events: r
            .events
            .into_iter()
            .map(|e| DeviceEvent {
                kind: event_kind(e.kind),
                at_ms: e.at_ms,
                detail: e.detail,
            })
            .collect(),
    }
}

fn event_kind(code: i32) -> EventKind {
    match wire::EventKind::try_from(code) {
        Ok(wire::EventKind::Reboot) => EventKind::Reboot,
        Ok(wire::EventKind::WatchdogReset) => EventKind::WatchdogReset,
        Ok(wire::EventKind::PowerLoss) => EventKind::PowerLoss,
        Ok(wire::EventKind::Brownout) => EventKind::Brownout,
        Ok(wire::EventKind::Crash) => EventKind::Crash,
        Ok(wire::EventKind::LinkDown) => EventKind::LinkDown,
        Ok(wire::EventKind::LinkUp) => EventKind::LinkUp,
        Ok(wire::EventKind::Unspecified) | Err(_) => EventKind::Other,
    }
}

/// `None` for a state message that says nothing (unspecified presence).
pub fn presence(s: &wire::StateChange) -> Option<Presence> {
    match wire::Presence::try_from(s.presence) {
        Ok(wire::Presence::Online) => Some(Presence::Online),
        Ok(wire::Presence::Offline) => Some(Presence::Offline),
        Ok(wire::Presence::Goodbye) => Some(Presence::Goodbye {
            back_in_s: s.goodbye.as_ref().map_or(0, |g| g.back_in_s),
        }),
        Ok(wire::Presence::Unspecified) | Err(_) => None,
    }
}
