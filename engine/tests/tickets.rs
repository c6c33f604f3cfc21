//! The detection engine in virtual time, continued from `engine.rs`: topology (one ticket per
//! failed uplink, waits and probes), the ticket lifecycle with closed-loop verification, the
//! clock and hub restarts, and regressions found in review.

mod common;

use common::*;
use heartline_engine::*;
use heartline_proto::{CheckState, DeviceStatus, Severity};

// ---- topology ------------------------------------------------------------------------------

#[test]
fn a_gateway_storm_is_one_ticket_with_every_device_behind_it_affected() {
    let mut devices = vec![dev("gw", None, "gateway")];
    for i in 0..500 {
        devices.push(dev(&format!("cam-{i}"), Some("gw"), "camera"));
    }
    let mut s = Sim::new(cfg(), devices);
    // Children report on different schedules, some faster than the gateway.
    s.send("gw", report(60));
    for i in 0..500 {
        s.send(&format!("cam-{i}"), report(10 + (i % 7) * 20));
    }
    s.by(20 * MINUTE);
    let tickets = s.unfinished();
    assert_eq!(
        tickets.len(),
        1,
        "one ticket for the root cause: {:?}",
        tickets.iter().map(|t| &t.title).collect::<Vec<_>>()
    );
    assert_eq!(tickets[0].device, "gw");
    assert_eq!(tickets[0].affected.len(), 500);
    assert_eq!(
        s.engine.tickets().count(),
        1,
        "no child ticket was even opened and merged"
    );
    assert_eq!(s.engine.status("cam-3", s.now), DeviceStatus::Affected);
}

#[test]
fn when_the_uplink_recovers_a_child_still_down_gets_its_own_ticket() {
    let devices = vec![
        dev("gw", None, "gateway"),
        dev("a", Some("gw"), "camera"),
        dev("b", Some("gw"), "camera"),
    ];
    let mut s = Sim::new(cfg(), devices);
    for d in ["gw", "a", "b"] {
        s.send(d, report(60));
    }
    s.by(5 * MINUTE);
    assert_eq!(s.only().affected, vec!["a".to_string(), "b".to_string()]);
    // The gateway and a come back; b does not.
    s.send("gw", report(60));
    s.send("a", report(60));
    for _ in 0..6 {
        s.by(MINUTE);
        s.send("gw", report(60));
        s.send("a", report(60));
    }
    let open: Vec<Ticket> = s.unfinished();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0].device, "b");
    assert_eq!(open[0].root, FaultKind::Silent);
    assert_eq!(
        s.engine.ticket(1).unwrap().state,
        TicketState::AutoRecovered
    );
}

#[test]
fn a_child_silent_before_its_uplink_waits_one_probe_timeout_for_the_uplink() {
    let devices = vec![dev("gw", None, "gateway"), dev("a", Some("gw"), "camera")];
    let mut s = Sim::new(cfg(), devices);
    s.send("gw", report(300));
    s.send("a", report(10));
    // a is late after 40 s; gw is not due before 330 s, but it does not answer the probe.
    let deadline = T0 + 40 * SECOND;
    s.to(deadline + cfg().probe_timeout);
    assert!(s.tickets().is_empty(), "a waits for its uplink's verdict");
    s.to(deadline + 1 + cfg().probe_timeout);
    let t = s.only();
    assert_eq!(
        (t.device.as_str(), t.affected.clone()),
        ("gw", vec!["a".to_string()])
    );
}

#[test]
fn a_waiting_child_asks_its_uplink_and_gets_its_own_ticket_one_round_trip_later() {
    let devices = vec![dev("gw", None, "gateway"), dev("a", Some("gw"), "camera")];
    let mut s = Sim::new(cfg(), devices);
    s.send("gw", report(300));
    s.send("a", report(10));
    assert!(s.engine.take_probes().is_empty());
    // a's deadline: 10 s check-in + 30 s grace. It waits, and the hub asks gw for a report.
    let deadline = T0 + 40 * SECOND;
    s.to(deadline + 1);
    assert!(s.tickets().is_empty(), "a waits for its uplink's verdict");
    assert_eq!(s.engine.take_probes(), vec!["gw".to_string()]);
    // Still unanswered a second later: not asked again yet.
    s.by(SECOND);
    assert!(s.engine.take_probes().is_empty());
    // gw answers: the path is up, so a's silence is its own.
    s.send("gw", report(300));
    let t = s.only();
    assert_eq!((t.device.as_str(), t.root), ("a", FaultKind::Silent));
    assert_eq!(t.opened_at, s.now);
    assert!(t.affected.is_empty());
}

#[test]
fn an_unanswered_probe_takes_the_uplink_down_with_every_waiting_device_attached() {
    let devices = vec![
        dev("gw", None, "gateway"),
        dev("a", Some("gw"), "camera"),
        dev("b", Some("gw"), "camera"),
    ];
    let mut s = Sim::new(cfg(), devices);
    s.send("gw", report(300));
    s.send("a", report(10));
    s.by(3 * SECOND);
    s.send("b", report(10));
    // Both go quiet with the gateway. a asks at its deadline; b, due 3 s later, finds the
    // probe outstanding and waits for the same verdict.
    s.to(T0 + 41 * SECOND);
    assert_eq!(s.engine.take_probes(), vec!["gw".to_string()]);
    s.to(T0 + 44 * SECOND);
    assert!(s.engine.take_probes().is_empty());
    assert!(s.tickets().is_empty());
    // No answer within the probe timeout: gw is down now, 285 s before its own deadline.
    s.to(T0 + 40 * SECOND + 1 + cfg().probe_timeout);
    let t = s.only();
    let mut affected = t.affected.clone();
    affected.sort();
    assert_eq!(
        (t.device.as_str(), t.root.clone(), affected),
        (
            "gw",
            FaultKind::Silent,
            vec!["a".to_string(), "b".to_string()]
        )
    );
    assert_eq!(
        t.title,
        "gw: uplink not answering, 2 device(s) behind it unreachable"
    );
    // Its own deadline passing changes nothing: still the one ticket.
    s.to(T0 + 400 * SECOND);
    assert_eq!(s.only().id, t.id);
}

#[test]
fn with_probes_off_nothing_is_asked() {
    let devices = vec![dev("gw", None, "gateway"), dev("a", Some("gw"), "camera")];
    let mut s = Sim::new(
        EngineConfig {
            probe_uplinks: false,
            ..cfg()
        },
        devices,
    );
    s.send("gw", report(300));
    s.send("a", report(10));
    s.by(MINUTE);
    assert!(s.engine.take_probes().is_empty());
    assert!(
        s.tickets().is_empty(),
        "a still waits for its uplink's verdict"
    );
}

// ---- ticket lifecycle ------------------------------------------------------------------------

#[test]
fn closed_loop_resolved_closes_only_after_the_device_stays_healthy() {
    let mut s = Sim::one(cfg());
    s.send("d", check("rtsp", CheckState::Crit));
    let id = s.only().id;
    s.act(
        id,
        TicketAction::Dispatch {
            engineer: "e".into(),
        },
    )
    .unwrap();
    s.act(id, TicketAction::Accept).unwrap();
    s.act(id, TicketAction::OnSite).unwrap();
    s.act(
        id,
        TicketAction::Resolve {
            note: "restarted".into(),
        },
    )
    .unwrap();
    // The device still fails: the ticket cannot close.
    s.keep("d", &check("rtsp", CheckState::Crit), MINUTE, s.now + HOUR);
    assert_eq!(s.only().state, TicketState::Resolved);
    // Healthy, then failing again inside the verification period: back to work.
    s.send("d", check("rtsp", CheckState::Ok));
    s.by(5 * MINUTE);
    s.send("d", check("rtsp", CheckState::Crit));
    assert_eq!(s.only().state, TicketState::Accepted);
    s.act(
        id,
        TicketAction::Resolve {
            note: "replaced cable".into(),
        },
    )
    .unwrap();
    s.send("d", check("rtsp", CheckState::Ok));
    s.keep(
        "d",
        &check("rtsp", CheckState::Ok),
        MINUTE,
        s.now + 10 * MINUTE,
    );
    let t = s.only();
    assert_eq!(t.state, TicketState::Closed);
    let steps: Vec<&What> = t.timeline.iter().map(|e| &e.what).collect();
    assert!(
        steps
            .iter()
            .any(|w| matches!(w, What::VerificationFailed { .. })),
        "{steps:#?}"
    );
    assert_eq!(steps.last(), Some(&&What::Verified), "{steps:#?}");
    assert!(
        t.timeline
            .iter()
            .any(|e| e.actor == Actor::Engineer("e".into()))
    );
    assert!(t.timeline.iter().any(|e| e.actor == Actor::System));
}

#[test]
fn invalid_transitions_are_refused_with_a_reason() {
    let mut s = Sim::one(cfg());
    s.send("d", check("rtsp", CheckState::Crit));
    let id = s.only().id;
    let cases: Vec<(TicketAction, &str)> = vec![
        (TicketAction::Accept, "only a dispatched ticket"),
        (TicketAction::OnSite, "accept the ticket first"),
        (
            TicketAction::Resolve {
                note: String::new(),
            },
            "accept the ticket first",
        ),
        (
            TicketAction::Decline {
                reason: String::new(),
            },
            "only a dispatched",
        ),
    ];
    for (action, words) in cases {
        let ops = Actor::Operator("ops".into());
        let err = s.act_as(id, action.clone(), ops).unwrap_err().to_string();
        assert!(err.contains(words), "{action:?}: {err}");
    }
    assert_eq!(
        s.act(99, TicketAction::Accept),
        Err(TicketError::NoSuchTicket(99))
    );
    s.act(
        id,
        TicketAction::Cancel {
            reason: "test".into(),
        },
    )
    .unwrap();
    let err = s
        .act(
            id,
            TicketAction::Dispatch {
                engineer: "e".into(),
            },
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("finished"), "{err}");
    assert_eq!(s.only().state, TicketState::Cancelled);
}

// ---- time and restarts ---------------------------------------------------------------------

#[test]
fn the_clock_stepping_back_or_jumping_ahead_opens_nothing_false() {
    let mut s = Sim::one(cfg());
    s.send("d", report(60));
    // Back by an hour: the engine's time does not go back.
    s.now -= HOUR;
    s.send("d", report(60));
    s.now += HOUR;
    s.by(60 * SECOND);
    assert!(s.tickets().is_empty());
    // Ahead by an hour in one step (the hub stalled): a fresh grace, not a flood.
    s.now += HOUR;
    s.input(Input::Tick);
    assert!(
        s.tickets().is_empty(),
        "silence while the hub was not looking proves nothing"
    );
    assert!(
        s.engine
            .take_changes()
            .outputs
            .iter()
            .any(|o| matches!(o, Output::Stalled { .. }))
    );
    s.by(91 * SECOND);
    assert_eq!(
        s.only().root,
        FaultKind::Silent,
        "still silent after the fresh grace"
    );
}

#[test]
fn a_reboot_restarts_the_sequence_without_a_false_alarm() {
    let mut s = Sim::one(cfg());
    s.send("d", report(60));
    s.by(30 * SECOND);
    let mut r = event(EventKind::Reboot);
    r.boot_id = 2;
    r.sequence = 1;
    s.send("d", r);
    s.keep("d", &report(60), MINUTE, s.now + HOUR);
    assert!(s.tickets().is_empty());
}

/// A trend's samples are kept per rule name and instance: across a restart (the series comes
/// back from the store) and when two rules share a name, the samples go on in one series.
#[test]
fn trend_samples_stay_in_one_series_across_a_restart_and_shared_rule_names() {
    let rule = |name: &str, metric: &str| TrendRule {
        name: name.into(),
        metric: metric.into(),
        instance: String::new(),
        direction: Direction::Above,
        limit: 100.0,
        horizon: HOUR,
        window: 12 * HOUR,
        min_samples: 6,
        severity: Severity::Minor,
        kinds: vec![],
        projects: vec![],
    };
    let mut c = cfg();
    c.trends.push(rule("other", "temp"));
    c.trends.push(rule("disk", "disk_used_pct"));
    c.trends.push(rule("disk", "disk_free_pct"));
    let mut s = Sim::one(c);
    let mut persisted = Default::default();
    let series = |s: &Sim| {
        let m = s.engine.device_memory("d").expect("known device");
        m.series
            .iter()
            .map(|x| (x.rule.clone(), x.points.len()))
            .collect::<Vec<_>>()
    };
    for i in 0..3 {
        s.send("d", metric("disk_used_pct", "", 10.0 + i as f64));
        s.by(HOUR);
    }
    assert_eq!(series(&s), vec![("disk".to_string(), 3)]);
    s.restart(&mut persisted);
    s.send("d", metric("disk_used_pct", "", 13.0));
    s.by(HOUR);
    s.send("d", metric("disk_free_pct", "", 86.0));
    s.send("d", metric("temp", "", 40.0));
    assert_eq!(
        series(&s),
        vec![("disk".to_string(), 5), ("other".to_string(), 1)]
    );
}

/// After a restart, a device due while the hub was down (or soon after) gets a fresh grace;
/// one due long after keeps its deadline, so a restart does not put off its ticket.
#[test]
fn a_restart_gives_a_fresh_grace_only_to_what_was_due_around_it() {
    let mut persisted = Default::default();
    let devices = vec![dev("sensor", None, "sensor"), dev("cam", None, "camera")];
    let mut s = Sim::new(cfg(), devices);
    // The sensor declares 6 hours, the camera 1 minute; both die now.
    s.send("sensor", report(6 * 3_600));
    s.send("cam", report(60));
    let grace = cfg().heartbeat_grace;
    let sensor_due = T0 + 6 * HOUR + grace;
    // The hub is down for 5 minutes from T0 + 30 s (the camera fell due meanwhile).
    s.to(T0 + 30 * SECOND);
    s.restart(&mut persisted);
    s.now = T0 + 30 * SECOND + 5 * MINUTE;
    let up = s.now;
    s.restart(&mut persisted);
    s.by(SECOND);
    assert!(s.tickets().is_empty(), "{:#?}", s.tickets());
    // The camera: a fresh grace from the restart (its report may have been sent meanwhile).
    s.to(up + MINUTE + grace);
    assert!(s.tickets().is_empty(), "{:#?}", s.tickets());
    s.to(up + MINUTE + grace + TICK + 1);
    assert_eq!(s.only().device, "cam");
    // The sensor: silent at its own deadline, not six hours after the restart.
    s.to(sensor_due + TICK + 1);
    let mut opened: Vec<(String, Ms)> = s
        .tickets()
        .into_iter()
        .map(|t| (t.device, t.opened_at))
        .collect();
    opened.sort();
    assert_eq!(opened[1].0, "sensor");
    assert!(opened[1].1 <= sensor_due + TICK, "{opened:?}");
}

#[test]
fn a_hub_restart_mid_fault_keeps_the_fault_and_its_one_ticket() {
    let mut persisted = Default::default();
    let mut s = Sim::one(cfg());
    s.send("d", check("rtsp", CheckState::Crit));
    s.send("d", report(60));
    let id = s.only().id;
    s.by(MINUTE);
    s.restart(&mut persisted);
    s.send("d", check("rtsp", CheckState::Crit));
    s.by(MINUTE);
    assert_eq!(s.only().id, id, "no duplicate ticket after the restart");
    s.send("d", check("rtsp", CheckState::Ok));
    s.restart(&mut persisted);
    s.keep(
        "d",
        &check("rtsp", CheckState::Ok),
        MINUTE,
        s.now + 3 * MINUTE,
    );
    assert_eq!(
        s.only().state,
        TicketState::AutoRecovered,
        "the restored fault recovered"
    );
    // A new fault after the restart gets the next id, not a reused one.
    s.send("d", check("ntp", CheckState::Crit));
    s.restart(&mut persisted);
    assert_eq!(s.tickets().iter().map(|t| t.id).max(), Some(id + 1));
}

// ---- regressions found in review ---------------------------------------------------------

#[test]
fn a_lost_connection_that_becomes_silence_is_one_ticket() {
    let mut s = Sim::one(cfg());
    s.send("d", report(60));
    s.by(5 * SECOND);
    s.input(Input::Offline { device: "d" });
    s.by(HOUR);
    let t = s.only();
    assert_eq!(
        t.root,
        FaultKind::Offline,
        "the first sign names the ticket"
    );
    assert_eq!(t.state, TicketState::Open);
}

#[test]
fn a_cancelled_event_ticket_does_not_swallow_the_next_event() {
    let mut s = Sim::one(cfg());
    s.send("d", event(EventKind::Crash));
    let first = s.only().id;
    s.act(
        first,
        TicketAction::Cancel {
            reason: "known firmware bug".into(),
        },
    )
    .unwrap();
    s.by(MINUTE);
    assert_eq!(
        s.engine.status("d", s.now),
        DeviceStatus::Ok,
        "the latch is released"
    );
    s.keep("d", &report(DAY_S), 6 * HOUR, s.now + 25 * HOUR);
    s.send("d", event(EventKind::Crash));
    assert_eq!(s.unfinished().len(), 1, "a new crash opens a ticket again");
}

#[test]
fn resolving_during_a_hold_still_verifies_and_closes() {
    let mut s = Sim::one(cfg());
    s.send("d", report(600));
    s.input(Input::Offline { device: "d" });
    s.by(10 * SECOND);
    let id = s.only().id;
    s.act(
        id,
        TicketAction::Dispatch {
            engineer: "e".into(),
        },
    )
    .unwrap();
    s.act(id, TicketAction::Accept).unwrap();
    s.input(Input::Online { device: "d" });
    s.by(3 * MINUTE);
    // Another drop, resolved inside its 10 s hold, and back before the hold ends.
    s.input(Input::Offline { device: "d" });
    s.by(SECOND);
    s.act(
        id,
        TicketAction::Resolve {
            note: "replaced switch port".into(),
        },
    )
    .unwrap();
    s.by(SECOND);
    s.input(Input::Online { device: "d" });
    s.keep("d", &report(600), MINUTE, s.now + 15 * MINUTE);
    assert_eq!(s.only().state, TicketState::Closed);
}

#[test]
fn a_hub_restart_does_not_recover_a_silent_device() {
    let mut persisted = Default::default();
    let mut s = Sim::one(cfg());
    s.send("d", report(60));
    s.by(2 * MINUTE);
    assert_eq!(s.only().root, FaultKind::Silent);
    s.restart(&mut persisted);
    s.input(Input::Online { device: "d" });
    s.by(10 * MINUTE);
    assert_eq!(
        s.only().state,
        TicketState::Open,
        "still silent after the restart"
    );
}

#[test]
fn an_uplink_recovery_does_not_reopen_a_child_that_already_reconnected() {
    let devices = vec![dev("gw", None, "gateway"), dev("a", Some("gw"), "camera")];
    let mut s = Sim::new(cfg(), devices);
    s.send("gw", report(60));
    s.send("a", report(600));
    s.input(Input::Offline { device: "gw" });
    s.input(Input::Offline { device: "a" });
    s.by(20 * SECOND);
    assert_eq!(s.only().affected, vec!["a".to_string()]);
    s.input(Input::Online { device: "a" });
    s.send("gw", report(60));
    s.keep("gw", &report(60), 30 * SECOND, s.now + 5 * MINUTE);
    assert!(s.unfinished().is_empty(), "{:#?}", s.unfinished());
}

#[test]
fn a_nearly_flat_trend_does_not_overflow() {
    let mut c = cfg();
    c.trends.push(TrendRule {
        name: "t".into(),
        metric: "m".into(),
        instance: String::new(),
        direction: Direction::Above,
        limit: 90.0,
        horizon: HOUR,
        window: HOUR,
        min_samples: 2,
        severity: Severity::Minor,
        kinds: vec![],
        projects: vec![],
    });
    let mut s = Sim::one(c);
    s.send("d", metric("m", "", 50.0));
    s.by(MINUTE);
    s.send("d", metric("m", "", 50.000_000_000_000_01));
    assert!(s.tickets().is_empty());
}
