//! What the store tests share: one camera, reports carrying one check, and a ticket that opens
//! and auto-recovers, all in the engine's own types and at the caller's times.

use heartline_engine::{CheckResult, DeviceInfo, Engine, Input, Ms, Report};
use heartline_proto::CheckState;

/// Monday 2026-11-23 10:00 UTC.
pub const MON_10: Ms = 1_795_428_000_000;

/// The one device of these tests, `d0`.
pub fn camera() -> DeviceInfo {
    DeviceInfo {
        id: "d0".into(),
        tenant: "t".into(),
        project: "p".into(),
        site: "s".into(),
        kind: "camera".into(),
        uplink: None,
    }
}

/// A report with one check in `state`, declaring its next check-in in a year (so silence never
/// opens a ticket here).
pub fn check(name: &str, state: CheckState) -> Report {
    Report {
        boot_id: 1,
        sequence: 0,
        sent_at_ms: 0,
        received_at_ms: 0,
        next_checkin_s: 365 * 86_400,
        metrics: Vec::new(),
        checks: vec![CheckResult {
            name: name.into(),
            state,
            message: "m".into(),
        }],
        events: Vec::new(),
    }
}

/// `d0` reports `r` at `at`.
pub fn send(engine: &mut Engine, at: Ms, r: &Report) {
    engine
        .handle(
            at,
            Input::Report {
                device: "d0",
                report: r,
            },
        )
        .unwrap();
}

/// `d0`'s `rtsp` check fails at `at` and passes every minute for half an hour after: one ticket,
/// auto-recovered.
pub fn blip(engine: &mut Engine, at: Ms) {
    send(engine, at, &check("rtsp", CheckState::Crit));
    for m in 1..=30 {
        send(engine, at + m * 60_000, &check("rtsp", CheckState::Ok));
    }
}
