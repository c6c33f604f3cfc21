//! The detection engine in virtual time: every rule of the fault and ticket issue, with its edge
//! cases, driven through `handle(now, input)` and `next_deadline()` only. Detection: heartbeat,
//! thresholds, checks, events, trends, flapping, reopening, maintenance (`tickets.rs`: topology,
//! the ticket lifecycle, time and restarts).

mod common;

use common::*;
use heartline_engine::*;
use heartline_proto::{CheckState, DeviceStatus, Severity};

// ---- heartbeat ----------------------------------------------------------------------------

#[test]
fn silence_past_declared_checkin_plus_grace_opens_one_ticket() {
    let mut s = Sim::one(cfg());
    s.send("d", report(60));
    let deadline = T0 + 60 * SECOND + 30 * SECOND;
    s.to(deadline);
    assert!(
        s.tickets().is_empty(),
        "exactly at the deadline is not late"
    );
    s.to(deadline + 1);
    let t = s.only();
    assert_eq!(t.root, FaultKind::Silent);
    assert_eq!(
        t.opened_at,
        deadline + 1,
        "detected 1 ms after the deadline"
    );
    assert_eq!(t.severity, Severity::Major);
    assert_eq!(s.engine.status("d", s.now), DeviceStatus::Down);
    s.by(HOUR);
    assert_eq!(s.tickets().len(), 1, "still one ticket an hour later");
}

/// The simulator's way in: a report by device handle, and no device memories in the changes;
/// the same detection, the same tickets and outputs.
#[test]
fn a_report_by_handle_and_no_device_changes_detect_the_same() {
    let mut s = Sim::one(cfg());
    s.engine.skip_device_changes();
    let d = s.engine.device_ref("d").expect("a known device");
    assert_eq!(s.engine.device_ref("nobody"), None);
    let r = report(60);
    s.input(Input::ReportRef {
        device: d,
        report: &r,
    });
    assert_eq!(
        s.engine.device_memory("d").and_then(|m| m.last_report_at),
        Some(T0)
    );
    let deadline = T0 + 90 * SECOND;
    s.to(deadline + 1);
    assert_eq!(s.only().opened_at, deadline + 1);
    let changes = s.engine.take_changes();
    assert!(changes.devices.is_empty());
    assert_eq!(changes.tickets.len(), 1);
    assert!(changes.outputs.contains(&Output::TicketOpened(1)));
}

#[test]
fn a_report_exactly_at_the_deadline_is_in_time() {
    let mut s = Sim::one(cfg());
    s.send("d", report(60));
    s.to(T0 + 90 * SECOND);
    s.send("d", report(60));
    s.by(90 * SECOND);
    assert!(s.tickets().is_empty());
}

#[test]
fn sleepy_devices_declare_long_checkins_and_raise_no_false_alarm() {
    let mut s = Sim::one(cfg());
    s.send("d", report(6 * 3600));
    s.by(6 * HOUR);
    assert!(s.tickets().is_empty());
    s.by(31 * SECOND);
    assert_eq!(s.only().root, FaultKind::Silent);
}

#[test]
fn project_grace_overrides_the_default() {
    let mut c = cfg();
    c.project_grace.insert("p".into(), 5 * MINUTE);
    let mut s = Sim::one(c);
    s.send("d", report(60));
    s.by(MINUTE + 5 * MINUTE);
    assert!(s.tickets().is_empty());
    s.by(1);
    assert_eq!(s.tickets().len(), 1);
}

#[test]
fn a_last_will_opens_a_ticket_after_its_hold_unless_the_device_is_back() {
    let mut s = Sim::one(cfg());
    s.send("d", report(600));
    s.input(Input::Offline { device: "d" });
    s.by(5 * SECOND);
    s.input(Input::Online { device: "d" });
    s.by(MINUTE);
    assert!(
        s.tickets().is_empty(),
        "a reconnect inside the hold is not a fault"
    );
    s.input(Input::Offline { device: "d" });
    s.by(10 * SECOND);
    assert_eq!(s.only().root, FaultKind::Offline);
}

#[test]
fn goodbye_is_planned_downtime() {
    let mut s = Sim::one(cfg());
    s.send("d", report(60));
    s.input(Input::Goodbye {
        device: "d",
        back_in_s: 600,
    });
    s.input(Input::Offline { device: "d" });
    s.by(10 * MINUTE + 30 * SECOND);
    assert!(
        s.tickets().is_empty(),
        "no ticket during announced downtime"
    );
    assert_eq!(s.engine.status("d", s.now), DeviceStatus::Ok);
    s.by(SECOND);
    assert_eq!(
        s.only().root,
        FaultKind::Silent,
        "not back when it said: a fault"
    );

    let mut s = Sim::one(cfg());
    s.send("d", report(60));
    s.input(Input::Goodbye {
        device: "d",
        back_in_s: 0,
    });
    s.by(30 * 24 * HOUR);
    assert!(s.tickets().is_empty(), "open-ended goodbye: no ticket");
}

// ---- thresholds, checks, events, trends ---------------------------------------------------------

fn cpu_rule() -> ThresholdRule {
    ThresholdRule {
        name: "cpu-high".into(),
        metric: "cpu_pct".into(),
        instance: String::new(),
        direction: Direction::Above,
        threshold: 95.0,
        clear: 90.0,
        hold: 5 * MINUTE,
        severity: Severity::Major,
        kinds: vec!["camera".into()],
        projects: vec![],
    }
}

#[test]
fn threshold_needs_its_hold_and_clears_with_hysteresis() {
    let mut c = cfg();
    c.thresholds.push(cpu_rule());
    let mut s = Sim::one(c);
    // Over for 4 minutes only: nothing.
    s.send("d", metric("cpu_pct", "", 97.0));
    s.keep(
        "d",
        &metric("cpu_pct", "", 97.0),
        30 * SECOND,
        T0 + 4 * MINUTE,
    );
    s.send("d", metric("cpu_pct", "", 50.0));
    s.by(10 * MINUTE);
    assert!(s.tickets().is_empty(), "shorter than the hold");
    // Over for 5 minutes: a ticket.
    let start = s.now;
    s.send("d", metric("cpu_pct", "", 97.0));
    s.keep(
        "d",
        &metric("cpu_pct", "", 97.0),
        30 * SECOND,
        start + 5 * MINUTE,
    );
    let t = s.only();
    assert!(matches!(t.root, FaultKind::Threshold { ref rule, .. } if rule == "cpu-high"));
    assert_eq!(t.opened_at, start + 5 * MINUTE);
    // 92 is under the threshold but above the clear level: still failing.
    s.send("d", metric("cpu_pct", "", 92.0));
    s.by(10 * MINUTE);
    assert_eq!(s.only().state, TicketState::Open);
    // Below 90 for the recovery confirmation: auto-recovered.
    s.send("d", metric("cpu_pct", "", 85.0));
    s.by(2 * MINUTE);
    assert_eq!(s.only().state, TicketState::AutoRecovered);
}

#[test]
fn threshold_rules_apply_to_their_device_kinds_and_instances() {
    let mut c = cfg();
    c.thresholds.push(cpu_rule());
    c.thresholds.push(ThresholdRule {
        name: "root-full".into(),
        metric: "disk_used_pct".into(),
        instance: "/".into(),
        threshold: 90.0,
        clear: 85.0,
        hold: 0,
        kinds: vec![],
        ..cpu_rule()
    });
    let mut s = Sim::new(
        c,
        vec![dev("cam", None, "camera"), dev("gw", None, "gateway")],
    );
    s.send("gw", metric("cpu_pct", "", 99.0));
    s.send("gw", metric("disk_used_pct", "/data", 99.0));
    s.by(10 * MINUTE);
    assert!(
        s.tickets().is_empty(),
        "cpu rule is for cameras; disk rule is for / only"
    );
    s.send("gw", metric("disk_used_pct", "/", 95.0));
    s.by(SECOND);
    assert_eq!(s.only().device, "gw");
}

#[test]
fn a_ticket_carries_its_project_sla_for_its_severity() {
    let mut c = cfg();
    let policy = SlaPolicy {
        minor: SlaTimes {
            respond: 30 * MINUTE,
            repair: 2 * HOUR,
        },
        ..SlaPolicy::default()
    };
    c.sla.insert("p".into(), policy);
    let mut s = Sim::one(c);
    s.send("d", check("rtsp", CheckState::Warn));
    let t = s.only();
    assert_eq!(t.sla, policy.minor);
    assert_eq!(
        (t.respond_by, t.repair_by),
        (t.opened_at + 30 * MINUTE, t.opened_at + 2 * HOUR)
    );
}

#[test]
fn failing_checks_open_tickets_with_their_severity() {
    let mut s = Sim::one(cfg());
    s.send("d", check("rtsp", CheckState::Ok));
    s.send("d", check("rtsp", CheckState::Unknown));
    assert!(
        s.tickets().is_empty(),
        "UNKNOWN says nothing about the service"
    );
    s.send("d", check("rtsp", CheckState::Warn));
    assert_eq!(s.only().severity, Severity::Minor);
    s.send("d", check("rtsp", CheckState::Crit));
    let t = s.only();
    assert!(matches!(t.root, FaultKind::Check { ref name } if name == "rtsp"));
    assert_eq!(s.engine.status("d", s.now), DeviceStatus::Warning);
}

#[test]
fn device_events_are_latched_until_resolved_and_verified() {
    let mut s = Sim::one(cfg());
    s.send("d", event(EventKind::Reboot));
    assert!(s.tickets().is_empty(), "a plain reboot is no fault");
    s.send("d", event(EventKind::WatchdogReset));
    let t = s.only();
    assert_eq!(
        t.root,
        FaultKind::Event {
            kind: EventKind::WatchdogReset
        }
    );
    s.keep("d", &report(60), MINUTE, s.now + HOUR);
    assert_eq!(
        s.only().state,
        TicketState::Open,
        "latched: the cause is not known to be gone"
    );
    s.act(
        t.id,
        TicketAction::Dispatch {
            engineer: "e".into(),
        },
    )
    .unwrap();
    s.act(t.id, TicketAction::Accept).unwrap();
    s.act(
        t.id,
        TicketAction::Resolve {
            note: "replaced PSU".into(),
        },
    )
    .unwrap();
    // Another watchdog reset during verification: back to work.
    s.by(MINUTE);
    s.send("d", event(EventKind::WatchdogReset));
    assert_eq!(s.only().state, TicketState::Accepted);
    s.act(
        t.id,
        TicketAction::Resolve {
            note: "replaced board".into(),
        },
    )
    .unwrap();
    s.keep("d", &report(60), MINUTE, s.now + 10 * MINUTE);
    assert_eq!(s.only().state, TicketState::Closed);
}

#[test]
fn a_trend_opens_a_preventive_ticket_with_the_predicted_failure_time() {
    let mut c = cfg();
    c.trends.push(TrendRule {
        name: "disk-filling".into(),
        metric: "disk_used_pct".into(),
        instance: "/".into(),
        direction: Direction::Above,
        limit: 100.0,
        horizon: 72 * HOUR,
        window: 12 * HOUR,
        min_samples: 6,
        severity: Severity::Minor,
        kinds: vec![],
        projects: vec![],
    });
    let mut s = Sim::one(c.clone());
    // 1 % per hour from 10 %: full in 90 h, outside the 72 h horizon at first.
    for h in 0..6 {
        s.send("d", metric("disk_used_pct", "/", 10.0 + h as f64));
        s.by(HOUR);
    }
    assert!(s.tickets().is_empty(), "90 h away is beyond the horizon");
    for h in 6..20 {
        s.send("d", metric("disk_used_pct", "/", 10.0 + h as f64));
        if !s.tickets().is_empty() {
            break;
        }
        s.by(HOUR);
    }
    let t = s.only();
    assert!(t.title.starts_with("[preventive]"));
    let predicted = t.predicted_failure_at.expect("predicted time");
    let expected = T0 + 90 * HOUR;
    assert!(
        (predicted - expected).abs() < HOUR,
        "predicted {} h after start",
        (predicted - T0) / HOUR
    );
    assert!(predicted - t.opened_at <= 72 * HOUR);

    // A flat disk never opens one.
    let mut s = Sim::one(c);
    for _ in 0..48 {
        s.send("d", metric("disk_used_pct", "/", 95.0));
        s.by(HOUR);
    }
    assert!(s.tickets().is_empty());
}

// ---- flapping, dedup, reopen ---------------------------------------------------------------

#[test]
fn a_flapping_fault_is_one_ticket_marked_flapping() {
    let mut s = Sim::one(cfg());
    for _ in 0..10 {
        s.send("d", check("link", CheckState::Crit));
        s.by(30 * SECOND);
        s.send("d", check("link", CheckState::Ok));
        s.by(30 * SECOND);
    }
    let t = s.only();
    assert!(t.flapping, "{t:#?}");
    assert_eq!(t.state, TicketState::Open);
    // Quiet for the whole flap window: recovered.
    s.keep(
        "d",
        &check("link", CheckState::Ok),
        MINUTE,
        s.now + 10 * MINUTE,
    );
    assert_eq!(s.only().state, TicketState::AutoRecovered);
}

#[test]
fn a_recurrence_within_the_reopen_window_reopens_and_later_opens_anew() {
    let mut s = Sim::one(cfg());
    s.send("d", check("rtsp", CheckState::Crit));
    s.send("d", check("rtsp", CheckState::Ok));
    s.by(3 * MINUTE);
    let first = s.only();
    assert_eq!(first.state, TicketState::AutoRecovered);
    s.by(HOUR);
    s.send("d", check("rtsp", CheckState::Crit));
    let again = s.only();
    assert_eq!(
        (again.id, again.state, again.reopened),
        (first.id, TicketState::Reopened, 1)
    );
    s.send("d", check("rtsp", CheckState::Ok));
    s.keep(
        "d",
        &check("rtsp", CheckState::Ok),
        6 * HOUR,
        s.now + 25 * HOUR,
    );
    s.send("d", check("rtsp", CheckState::Crit));
    assert_eq!(
        s.tickets().len(),
        2,
        "after the reopen window: a new ticket"
    );
}

// ---- maintenance ---------------------------------------------------------------------------

#[test]
fn nothing_opens_during_maintenance_and_a_fault_still_there_after_it_does() {
    for scope in ["d", "s", "p"] {
        let mut s = Sim::one(cfg());
        s.send("d", report(60));
        s.input(Input::Maintenance(Maintenance {
            scope: scope.into(),
            from: T0,
            until: T0 + HOUR,
            reason: "upgrade".into(),
        }));
        s.by(59 * MINUTE);
        assert!(
            s.tickets().is_empty(),
            "{scope}: no ticket inside the window"
        );
        assert_eq!(s.engine.status("d", s.now), DeviceStatus::Maintenance);
        s.to(T0 + HOUR);
        let t = s.only();
        assert_eq!(
            t.opened_at,
            T0 + HOUR,
            "{scope}: opened when the window ended"
        );
    }
    // A fault that cleared inside the window opens nothing.
    let mut s = Sim::one(cfg());
    s.input(Input::Maintenance(Maintenance {
        scope: "d".into(),
        from: T0,
        until: T0 + HOUR,
        reason: String::new(),
    }));
    s.send("d", check("rtsp", CheckState::Crit));
    s.by(10 * MINUTE);
    s.send("d", check("rtsp", CheckState::Ok));
    s.by(2 * HOUR);
    assert!(s.tickets().is_empty());
}
