//! The detection engine in virtual time: every rule of the fault and ticket issue, with its edge
//! cases, driven through `handle(now, input)` and `next_deadline()` only.

use heartline_hub::engine::rules::{HOUR, MINUTE, SECOND};
use heartline_hub::engine::*;
use heartline_hub::report::{CheckResult, DeviceEvent, EventKind, MetricValue, Report};
use heartline_hub::store::DeviceInfo;
use heartline_proto::{CheckState, DeviceStatus, Severity};
use std::collections::HashMap;

const T0: Ms = 1_790_000_000_000;

struct Sim {
    engine: Engine,
    now: Ms,
    devices: Vec<DeviceInfo>,
    cfg: EngineConfig,
}

fn dev(id: &str, uplink: Option<&str>, kind: &str) -> DeviceInfo {
    DeviceInfo {
        id: id.into(),
        tenant: "t".into(),
        project: "p".into(),
        site: "s".into(),
        kind: kind.into(),
        uplink: uplink.map(Into::into),
    }
}

fn report(checkin_s: u32) -> Report {
    Report {
        boot_id: 1,
        sequence: 1,
        sent_at_ms: 0,
        received_at_ms: 0,
        next_checkin_s: checkin_s,
        metrics: vec![],
        checks: vec![],
        events: vec![],
    }
}

/// Reports that are not about the heartbeat declare a day's check-in, so silence plays no part.
const DAY_S: u32 = 86_400;

fn metric(name: &str, instance: &str, value: f64) -> Report {
    let mut r = report(DAY_S);
    r.metrics.push(MetricValue {
        name: name.into(),
        instance: instance.into(),
        value,
        unit: "%".into(),
    });
    r
}

fn check(name: &str, state: CheckState) -> Report {
    let mut r = report(DAY_S);
    r.checks.push(CheckResult {
        name: name.into(),
        state,
        message: "m".into(),
    });
    r
}

fn event(kind: EventKind) -> Report {
    let mut r = report(DAY_S);
    r.events.push(DeviceEvent {
        kind,
        at_ms: 0,
        detail: String::new(),
    });
    r
}

impl Sim {
    fn new(cfg: EngineConfig, devices: Vec<DeviceInfo>) -> Sim {
        Sim {
            engine: Engine::new(cfg.clone(), devices.clone()),
            now: T0,
            devices,
            cfg,
        }
    }

    fn one(cfg: EngineConfig) -> Sim {
        Sim::new(cfg, vec![dev("d", None, "camera")])
    }

    fn send(&mut self, device: &str, r: Report) {
        self.engine
            .handle(self.now, Input::Report { device, report: &r })
            .unwrap();
    }

    fn input(&mut self, input: Input<'_>) {
        self.engine.handle(self.now, input).unwrap();
    }

    /// The operator dispatches and cancels; everything else is the engineer's own action.
    fn act(&mut self, id: TicketId, action: TicketAction) -> Result<(), TicketError> {
        let actor = match action {
            TicketAction::Dispatch { .. } | TicketAction::Cancel { .. } => {
                Actor::Operator("ops".into())
            }
            _ => Actor::Engineer("e".into()),
        };
        self.act_as(id, action, actor)
    }

    fn act_as(
        &mut self,
        id: TicketId,
        action: TicketAction,
        actor: Actor,
    ) -> Result<(), TicketError> {
        self.engine
            .handle(self.now, Input::Ticket { id, action, actor })
    }

    /// Steps virtual time to `t`, ticking at every deadline the engine asks for.
    fn to(&mut self, t: Ms) {
        while self.engine.next_deadline() <= t {
            self.now = self.engine.next_deadline().max(self.now);
            self.engine.handle(self.now, Input::Tick).unwrap();
        }
        self.now = t;
        self.engine.handle(self.now, Input::Tick).unwrap();
    }

    fn by(&mut self, dt: Ms) {
        self.to(self.now + dt);
    }

    /// Keeps `device` reporting `r` every `every` until `until`.
    fn keep(&mut self, device: &str, r: &Report, every: Ms, until: Ms) {
        while self.now + every <= until {
            self.by(every);
            self.send(device, r.clone());
        }
        self.to(until);
    }

    fn tickets(&self) -> Vec<Ticket> {
        self.engine.tickets().cloned().collect()
    }

    fn unfinished(&self) -> Vec<Ticket> {
        self.engine
            .tickets()
            .filter(|t| !t.state.is_terminal())
            .cloned()
            .collect()
    }

    fn only(&self) -> Ticket {
        let all = self.tickets();
        assert_eq!(all.len(), 1, "expected one ticket: {all:#?}");
        all[0].clone()
    }

    /// Simulates a hub restart: everything the engine handed out is all that survives.
    fn restart(
        &mut self,
        persisted: &mut (
            HashMap<String, DeviceMemory>,
            HashMap<TicketId, Ticket>,
            TicketId,
        ),
    ) {
        let changes = self.engine.take_changes();
        persisted.0.extend(changes.devices);
        persisted
            .1
            .extend(changes.tickets.into_iter().map(|t| (t.id, t)));
        persisted.2 = changes.next_ticket;
        self.engine = Engine::restore(
            self.cfg.clone(),
            self.devices.clone(),
            persisted.0.clone(),
            persisted.1.values().cloned().collect(),
            persisted.2,
            self.now,
        );
    }
}

fn cfg() -> EngineConfig {
    EngineConfig::default()
}

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
fn a_child_silent_before_its_uplink_waits_for_the_uplink() {
    let devices = vec![dev("gw", None, "gateway"), dev("a", Some("gw"), "camera")];
    let mut s = Sim::new(cfg(), devices);
    s.send("gw", report(300));
    s.send("a", report(10));
    // a is late after 40 s, but gw is not due before 330 s.
    s.by(MINUTE);
    assert!(s.tickets().is_empty(), "a waits for its uplink's verdict");
    s.by(5 * MINUTE);
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
fn an_unanswered_probe_changes_nothing_the_dead_uplink_still_gets_the_one_ticket() {
    let devices = vec![
        dev("gw", None, "gateway"),
        dev("a", Some("gw"), "camera"),
        dev("b", Some("gw"), "camera"),
    ];
    let mut s = Sim::new(cfg(), devices);
    s.send("gw", report(300));
    s.send("a", report(10));
    s.by(5 * SECOND);
    s.send("b", report(10));
    // Both go quiet with the gateway. a asks at its deadline; b, due 5 s later, asks again
    // (the first probe is unanswered and old enough).
    s.to(T0 + 41 * SECOND);
    assert_eq!(s.engine.take_probes(), vec!["gw".to_string()]);
    s.to(T0 + 46 * SECOND);
    assert_eq!(s.engine.take_probes(), vec!["gw".to_string()]);
    assert!(s.tickets().is_empty());
    s.to(T0 + 331 * SECOND);
    let t = s.only();
    let mut affected = t.affected.clone();
    affected.sort();
    assert_eq!(
        (t.device.as_str(), affected),
        ("gw", vec!["a".to_string(), "b".to_string()])
    );
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
    let steps: Vec<&str> = t.timeline.iter().map(|e| e.what.as_str()).collect();
    assert!(
        steps.iter().any(|w| w.contains("verification failed")),
        "{steps:#?}"
    );
    assert!(steps.last().unwrap().contains("verified"), "{steps:#?}");
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
