//! Unanswered probes as evidence: an uplink that does not answer within `probe_timeout` is down
//! at once; one that reports after all has its ticket withdrawn as a false alarm and the devices
//! behind it placed on their own; nested uplinks, nearest first; a hub restart during the wait.

mod common;

use common::*;
use heartline_engine::*;

fn timeout() -> Ms {
    cfg().probe_timeout
}

/// gw reports every 10 min; the cameras behind it every 30 s.
fn slow_site(cameras: usize) -> Sim {
    let mut devices = vec![dev("gw", None, "gateway")];
    for i in 0..cameras {
        devices.push(dev(&format!("cam{i}"), Some("gw"), "camera"));
    }
    let mut s = Sim::new(cfg(), devices);
    s.send("gw", report(600));
    for i in 0..cameras {
        s.send(&format!("cam{i}"), report(30));
    }
    s
}

#[test]
fn an_uplink_that_reports_after_all_was_a_false_alarm_and_the_devices_get_their_own_tickets() {
    let mut s = slow_site(2);
    // Both cameras die; gw is alive but does not answer the probe (an older agent, say).
    let deadline = T0 + 60 * SECOND;
    s.to(deadline + 1 + timeout());
    let gw = s.only();
    assert_eq!(gw.device, "gw");
    assert_eq!(gw.affected.len(), 2);
    // gw reports on its own schedule, long before its own deadline: it was alive.
    s.engine.take_probes();
    s.by(2 * MINUTE);
    s.send("gw", report(600));
    let withdrawn = s.now;
    let gw = s.engine.ticket(gw.id).unwrap().clone();
    assert_eq!(gw.state, TicketState::Cancelled);
    let last = gw.timeline.last().unwrap();
    assert_eq!(
        last.what,
        What::FalseAlarm {
            uplink: "gw".into(),
            behind: 2
        },
        "{last:?}"
    );
    // The cameras are asked themselves (one might only be reconnecting); neither answers.
    let mut asked = s.engine.take_probes();
    asked.sort();
    assert_eq!(asked, vec!["cam0".to_string(), "cam1".to_string()]);
    s.to(withdrawn + timeout());
    assert!(s.unfinished().is_empty());
    s.to(withdrawn + timeout() + 1);
    let mut own: Vec<(String, FaultKind)> = s
        .unfinished()
        .into_iter()
        .map(|t| (t.device, t.root))
        .collect();
    own.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        own,
        vec![
            ("cam0".to_string(), FaultKind::Silent),
            ("cam1".to_string(), FaultKind::Silent)
        ]
    );
    assert!(s.unfinished().iter().all(|t| t.opened_at == s.now));
    // The withdrawn ticket is not reopened when gw really dies later: a new ticket.
    s.by(20 * MINUTE);
    let ids: Vec<TicketId> = s
        .unfinished()
        .iter()
        .filter(|t| t.device == "gw")
        .map(|t| t.id)
        .collect();
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0], gw.id);
}

#[test]
fn a_report_from_behind_the_uplink_answers_for_it() {
    let mut s = slow_site(2);
    // cam0 dies; cam1 keeps reporting through gw, which does not answer the probe itself.
    let deadline = T0 + 60 * SECOND;
    s.to(deadline + 1);
    assert_eq!(s.engine.take_probes(), vec!["gw".to_string()]);
    s.by(SECOND);
    s.send("cam1", report(30));
    s.to(deadline + 1 + timeout() + 1);
    let t = s.only();
    assert_eq!((t.device.as_str(), t.root), ("cam0", FaultKind::Silent));
}

#[test]
fn a_device_reporting_behind_an_uplink_down_by_a_probe_withdraws_its_ticket() {
    let mut s = slow_site(2);
    // cam0 dies; cam1 is slow to send (its next report is still inside its own grace).
    s.by(30 * SECOND);
    s.send("cam1", report(30));
    s.to(T0 + 60 * SECOND + 1 + timeout());
    let t = s.only();
    assert_eq!(t.device, "gw");
    // cam1's report crossed gw: the path is up. cam1 was never attached (still inside its
    // grace), so gw was simply slow to answer: a false alarm.
    s.by(10 * SECOND);
    s.send("cam1", report(30));
    assert_eq!(s.engine.ticket(t.id).unwrap().state, TicketState::Cancelled);
    s.by(timeout() + 1);
    let open = s.unfinished();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0].device, "cam0");
}

/// core → edge → cam: the cameras are behind two uplinks.
fn nested() -> Sim {
    let devices = vec![
        dev("core", None, "gateway"),
        dev("edge", Some("core"), "gateway"),
        dev("cam", Some("edge"), "camera"),
    ];
    let mut s = Sim::new(cfg(), devices);
    s.send("core", report(600));
    s.send("edge", report(480));
    s.send("cam", report(30));
    s
}

#[test]
fn nested_uplinks_are_probed_together_and_the_nearest_dead_one_takes_the_ticket() {
    // core dies: nothing behind it answers.
    let mut s = nested();
    let deadline = T0 + 60 * SECOND;
    s.to(deadline + 1);
    let mut asked = s.engine.take_probes();
    asked.sort();
    assert_eq!(asked, vec!["core".to_string(), "edge".to_string()]);
    s.to(deadline + 1 + timeout() + cfg().heartbeat_grace.min(SECOND));
    let t = s.only();
    let mut affected = t.affected.clone();
    affected.sort();
    assert_eq!(
        (t.device.as_str(), affected),
        ("core", vec!["cam".to_string(), "edge".to_string()])
    );

    // Only edge dies: core answers, edge takes the ticket.
    let mut s = nested();
    s.to(deadline + 1);
    s.engine.take_probes();
    s.by(SECOND);
    s.send("core", report(600));
    s.to(deadline + 1 + timeout() + SECOND);
    let t = s.only();
    assert_eq!(
        (t.device.as_str(), t.affected.clone()),
        ("edge", vec!["cam".to_string()])
    );
}

#[test]
fn a_hub_restart_during_the_wait_asks_the_uplink_again() {
    let mut persisted = Default::default();
    let mut s = slow_site(1);
    let deadline = T0 + 60 * SECOND;
    s.to(deadline + 1);
    assert_eq!(s.engine.take_probes(), vec!["gw".to_string()]);
    // The hub stops before the timeout; the probe's answer, if any, was lost with it.
    s.by(SECOND);
    s.restart(&mut persisted);
    assert_eq!(s.engine.take_probes(), vec!["gw".to_string()]);
    let asked = s.now;
    s.to(asked + timeout() - 1);
    assert!(s.tickets().is_empty(), "a fresh timeout from the new probe");
    s.to(asked + timeout());
    assert_eq!(s.only().device, "gw");
    // And once down by a probe, a restart keeps it so: gw's report still withdraws it.
    s.by(SECOND);
    s.restart(&mut persisted);
    s.by(MINUTE);
    assert_eq!(s.only().device, "gw");
    s.send("gw", report(600));
    s.by(timeout() + 1);
    let open = s.unfinished();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0].device, "cam0");
}

#[test]
fn devices_back_behind_an_uplink_end_its_outage_rather_than_call_it_a_false_alarm() {
    let mut s = slow_site(2);
    // gw reboots: both cameras are cut off, the probe goes unanswered.
    s.to(T0 + 60 * SECOND + 1 + timeout());
    let t = s.only();
    assert_eq!((t.device.as_str(), t.affected.len()), ("gw", 2));
    // It is back a minute later: cam0 reconnects first, cam1 a few seconds after it.
    s.by(MINUTE);
    s.send("cam0", report(30));
    s.by(3 * SECOND);
    s.send("cam1", report(600));
    s.by(3 * MINUTE);
    s.send("gw", report(600));
    s.keep("cam0", &report(30), 30 * SECOND, s.now + 5 * MINUTE);
    let gw = s.engine.ticket(t.id).unwrap();
    assert_eq!(gw.state, TicketState::AutoRecovered, "{gw:#?}");
    assert_eq!(
        s.tickets().len(),
        1,
        "no ticket for a camera that came back"
    );
}

#[test]
fn a_device_that_answers_its_own_probe_after_a_false_alarm_gets_no_ticket() {
    let mut s = slow_site(2);
    s.to(T0 + 60 * SECOND + 1 + timeout());
    assert_eq!(s.only().affected.len(), 2);
    s.engine.take_probes();
    // gw reports: a false alarm. cam1 was only slow to reconnect and answers its probe.
    s.by(MINUTE);
    s.send("gw", report(600));
    s.by(SECOND);
    s.send("cam1", report(30));
    s.by(timeout());
    let open = s.unfinished();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0].device, "cam0");
}

#[test]
fn a_device_starting_to_wait_later_does_not_put_off_a_long_probe_timeout() {
    let long = 20 * SECOND;
    let devices = vec![
        dev("gw", None, "gateway"),
        dev("a", Some("gw"), "camera"),
        dev("b", Some("gw"), "camera"),
    ];
    let mut s = Sim::new(
        EngineConfig {
            probe_timeout: long,
            ..cfg()
        },
        devices,
    );
    s.send("gw", report(600));
    s.send("a", report(30));
    s.by(10 * SECOND);
    s.send("b", report(30));
    // a falls due at 60 s and asks gw; b at 70 s finds the probe outstanding: no second one.
    let asked = T0 + 60 * SECOND + 1;
    s.to(asked);
    assert_eq!(s.engine.take_probes(), vec!["gw".to_string()]);
    s.to(T0 + 71 * SECOND);
    assert!(s.engine.take_probes().is_empty());
    s.to(asked + long);
    let t = s.only();
    assert_eq!((t.device.as_str(), t.affected.len()), ("gw", 2));
}

/// A report as a device with a clock sends it: its clock runs `SKEW` behind the hub's, and the
/// report was sent at hub time `at`.
fn sent_at(checkin_s: u32, at: Ms) -> Report {
    const SKEW: Ms = 3 * 3_600 * SECOND + 123;
    let mut r = report(checkin_s);
    r.sent_at_ms = at - SKEW;
    r
}

/// gw (every 10 min) and two cameras (every 30 s) with clocks, each heard at `T0` after a
/// 20 ms transit; the cameras have reported before, so the hub knows their clocks.
fn clocked_site() -> Sim {
    let mut s = Sim::new(
        cfg(),
        vec![
            dev("gw", None, "gateway"),
            dev("cam0", Some("gw"), "camera"),
            dev("cam1", Some("gw"), "camera"),
        ],
    );
    s.to(T0 - 30 * SECOND);
    for cam in ["cam0", "cam1"] {
        s.send(cam, sent_at(30, s.now - 20));
    }
    s.to(T0);
    s.send("gw", sent_at(600, s.now - 20));
    for cam in ["cam0", "cam1"] {
        s.send(cam, sent_at(30, s.now - 20));
    }
    s
}

#[test]
fn a_report_a_slow_link_delivers_after_the_probe_does_not_answer_for_the_uplink() {
    let mut s = clocked_site();
    // gw dies just after T0, and with it the path of both cameras. A report cam1 sent at
    // T0 + 20 s was stuck in the failing link and arrives only after the probe to gw went out.
    let deadline = T0 + 60 * SECOND;
    s.to(deadline + 1);
    assert_eq!(s.engine.take_probes(), vec!["gw".to_string()]);
    s.by(2 * SECOND);
    s.send("cam1", sent_at(30, T0 + 20 * SECOND));
    // It proves the path up at T0 + 20 s, not after the probe: gw is down at the timeout, with
    // cam0 behind it, and no ticket of cam0's own ever opens.
    s.to(deadline + 1 + timeout());
    let gw = s.only();
    assert_eq!(gw.device, "gw");
    assert_eq!(gw.affected, vec!["cam0".to_string()]);
    // cam1 falls silent a minute after its late report arrived: under gw's ticket too.
    s.by(2 * MINUTE);
    let gw = s.only();
    assert_eq!(gw.device, "gw");
    let mut behind = gw.affected.clone();
    behind.sort();
    assert_eq!(behind, vec!["cam0".to_string(), "cam1".to_string()]);
}

#[test]
fn a_report_sent_after_the_probe_answers_for_the_uplink_and_one_delivered_late_keeps_it_down() {
    // Sent after the probe: the path through gw is up, cam0 died on its own.
    let mut s = clocked_site();
    let deadline = T0 + 60 * SECOND;
    s.to(deadline + 1);
    s.engine.take_probes();
    s.by(2 * SECOND);
    s.send("cam1", sent_at(30, s.now - 20));
    s.to(deadline + 1 + timeout() + 1);
    let t = s.only();
    assert_eq!((t.device.as_str(), t.root), ("cam0", FaultKind::Silent));

    // gw down by its unanswered probe with cam0 behind it; cam1 reported at T0 + 30 s, so it
    // is still inside its grace and not attached. A report of cam1's that was on its way before
    // the probe does not withdraw gw's ticket as a false alarm; one sent since does.
    let mut s = clocked_site();
    s.to(T0 + 30 * SECOND);
    s.send("cam1", sent_at(30, s.now - 20));
    s.to(deadline + 1 + timeout());
    let gw = s.only();
    assert_eq!((gw.device.as_str(), gw.affected.len()), ("gw", 1));
    s.by(SECOND);
    s.send("cam1", sent_at(30, T0 + 55 * SECOND));
    assert_ne!(
        s.engine.ticket(gw.id).unwrap().state,
        TicketState::Cancelled,
        "a late delivery is no false alarm"
    );
    s.by(SECOND);
    s.send("cam1", sent_at(30, s.now - 20));
    assert_eq!(
        s.engine.ticket(gw.id).unwrap().state,
        TicketState::Cancelled
    );
}

#[test]
fn a_switch_dying_with_its_cameras_behind_a_healthy_router_takes_one_ticket() {
    let mut cfg = cfg();
    cfg.heartbeat_grace = 2 * SECOND;
    cfg.topology_wait_max = 10 * SECOND;
    cfg.probe_timeout = 2 * SECOND;
    let mut devices = vec![
        dev("router", None, "router"),
        dev("switch", Some("router"), "switch"),
    ];
    let direct: Vec<String> = (0..5).map(|i| format!("cam{i}")).collect();
    let behind: Vec<String> = (0..3).map(|i| format!("sw-cam{i}")).collect();
    for c in &direct {
        devices.push(dev(c, Some("router"), "camera"));
    }
    for c in &behind {
        devices.push(dev(c, Some("switch"), "camera"));
    }
    let mut s = Sim::new(cfg, devices);
    // Every device reports at its own phase: the cameras every 2 s, the switch every 20 s,
    // the router every 30 s. The switch and its cameras die at 41.3 s.
    let death = T0 + 41_300;
    let mut schedule: Vec<(Ms, String, u32)> = Vec::new();
    for (k, c) in direct.iter().chain(&behind).enumerate() {
        let mut t = T0 + 137 * k as Ms;
        while t < T0 + 120 * SECOND {
            schedule.push((t, c.clone(), 2));
            t += 2 * SECOND;
        }
    }
    for (id, every, phase) in [("switch", 20, 5_000), ("router", 30, 900)] {
        let mut t = T0 + phase;
        while t < T0 + 120 * SECOND {
            schedule.push((t, id.to_string(), every));
            t += every as Ms * SECOND;
        }
    }
    schedule.sort();
    let dead = |id: &str| id == "switch" || id.starts_with("sw-cam");
    for (t, id, every) in schedule {
        if dead(&id) && t >= death {
            continue;
        }
        s.to(t);
        s.send(&id, report(every));
        // Probes to live devices are answered at once; the dead ones say nothing.
        for p in s.engine.take_probes() {
            if !dead(&p) {
                let every = if p == "router" { 30 } else { 2 };
                s.send(&p, report(every));
            }
        }
    }
    let tickets = s.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:#?}");
    let mut affected = tickets[0].affected.clone();
    affected.sort();
    assert_eq!((tickets[0].device.as_str(), affected), ("switch", behind));
}

#[test]
fn an_uplink_never_heard_from_is_probed_and_takes_the_ticket_when_it_does_not_answer() {
    // The switch was added but its first report has not come yet; the cameras behind it report.
    let mut s = Sim::new(
        cfg(),
        vec![
            dev("switch", None, "switch"),
            dev("cam0", Some("switch"), "camera"),
            dev("cam1", Some("switch"), "camera"),
        ],
    );
    s.send("cam0", report(30));
    s.send("cam1", report(30));
    // Both cameras fall silent with the switch: they wait for its verdict, which takes a probe.
    let deadline = T0 + 60 * SECOND;
    s.to(deadline + 1);
    assert_eq!(s.engine.take_probes(), vec!["switch".to_string()]);
    assert!(s.tickets().is_empty(), "{:#?}", s.tickets());
    s.to(deadline + 1 + timeout());
    let t = s.only();
    let mut affected = t.affected.clone();
    affected.sort();
    assert_eq!(
        (t.device.as_str(), affected),
        ("switch", vec!["cam0".to_string(), "cam1".to_string()])
    );
}
