//! Dispatch wired into the engine, in virtual time: tickets go to engineers by load, a decline or
//! a lapsed offer goes to the next one, nobody eligible goes to the grid manager and is retried,
//! the repair clock climbs the ladder level by level, a resolved ticket stops the clocks and a
//! failure during verification restarts them; every step is a timeline entry and a notice.

use heartline_engine::dispatch::{Engineer, Manager, Roster, SiteArea};
use heartline_engine::*;
use heartline_proto::CheckState;
use std::collections::HashMap;

/// Monday 2026-11-23 10:00 UTC.
const MON_10: Ms = 1_795_428_000_000;

fn dev(id: &str) -> DeviceInfo {
    DeviceInfo {
        id: id.into(),
        tenant: "t".into(),
        project: "p".into(),
        site: "s".into(),
        kind: "camera".into(),
        uplink: None,
    }
}

fn check(state: CheckState) -> Report {
    Report {
        boot_id: 1,
        sequence: 1,
        sent_at_ms: 0,
        received_at_ms: 0,
        next_checkin_s: 86_400,
        metrics: vec![],
        checks: vec![CheckResult {
            name: "rtsp".into(),
            state,
            message: "stream".into(),
        }],
        events: vec![],
    }
}

fn engineer(id: &str, shifts: Vec<Shift>) -> Engineer {
    Engineer {
        id: id.into(),
        regions: vec![],
        grid_cells: vec!["G7".into()],
        skills: vec!["camera".into()],
        shifts,
        location: None,
    }
}

fn manager(id: &str, level: Level, reports_to: &str) -> Manager {
    Manager {
        id: id.into(),
        level,
        reports_to: reports_to.into(),
        regions: vec![],
        grid_cells: if level == Level::GridManager {
            vec!["G7".into()]
        } else {
            vec![]
        },
    }
}

fn roster(engineers: Vec<Engineer>) -> Roster {
    Roster {
        grid_manager_of: engineers
            .iter()
            .map(|e| (e.id.clone(), "gm".to_string()))
            .collect(),
        engineers,
        managers: vec![
            manager("gm", Level::GridManager, "dm"),
            manager("dm", Level::DistrictManager, "sl"),
            manager("sl", Level::ServiceLeader, ""),
        ],
        sites: HashMap::from([(
            "s".to_string(),
            SiteArea {
                region: "north".into(),
                grid_cell: "G7".into(),
                location: None,
            },
        )]),
    }
}

fn three() -> Roster {
    roster(vec![
        engineer("a", vec![Shift::ALWAYS]),
        engineer("b", vec![Shift::ALWAYS]),
        engineer("c", vec![Shift::ALWAYS]),
    ])
}

struct Sim {
    engine: Engine,
    now: Ms,
    notices: Vec<Notice>,
}

impl Sim {
    fn new(roster: Roster, devices: usize) -> Sim {
        let cfg = EngineConfig {
            roster,
            ..EngineConfig::default()
        };
        let devices = (0..devices).map(|i| dev(&format!("d{i}"))).collect();
        Sim {
            engine: Engine::new(cfg, devices),
            now: MON_10,
            notices: Vec::new(),
        }
    }

    fn collect(&mut self) {
        for o in self.engine.take_changes().outputs {
            if let Output::Notify(n) = o {
                self.notices.push(n);
            }
        }
    }

    fn send(&mut self, device: &str, state: CheckState) {
        let r = check(state);
        self.engine
            .handle(self.now, Input::Report { device, report: &r })
            .unwrap();
        self.collect();
    }

    fn act(&mut self, id: TicketId, who: &str, action: TicketAction) -> Result<(), TicketError> {
        let actor = Actor::Engineer(who.into());
        let r = self
            .engine
            .handle(self.now, Input::Ticket { id, action, actor });
        self.collect();
        r
    }

    /// Steps virtual time to `t`, ticking at every deadline the engine asks for.
    fn to(&mut self, t: Ms) {
        while self.engine.next_deadline() <= t {
            self.now = self.engine.next_deadline().max(self.now);
            self.engine.handle(self.now, Input::Tick).unwrap();
            self.collect();
        }
        self.now = t;
    }

    fn ticket(&self, id: TicketId) -> Ticket {
        self.engine.ticket(id).unwrap().clone()
    }

    /// Whether the ticket's timeline has an entry for which `what` holds.
    fn said(&self, id: TicketId, what: impl Fn(&What) -> bool) -> bool {
        self.ticket(id).timeline.iter().any(|e| what(&e.what))
    }

    /// (kind, to) of every notice so far.
    fn sent(&self) -> Vec<(NoticeKind, &str)> {
        self.notices
            .iter()
            .map(|n| (n.kind, n.to.as_str()))
            .collect()
    }
}

/// "chosen: {engineer} — covers grid G7, skill camera, {open} open tickets".
fn chosen_g7(engineer: &'static str, open: u32) -> impl Fn(&What) -> bool {
    move |w| {
        *w == What::Chosen(Pick {
            engineer: engineer.into(),
            area: Area::Grid("G7".into()),
            skill: "camera".into(),
            open,
            km_tenths: None,
        })
    }
}

fn escalated(level: Level, to: &'static str) -> impl Fn(&What) -> bool {
    move |w| matches!(w, What::Escalated { level: l, to: t, .. } if *l == level && t == to)
}

fn decline(reason: &str) -> TicketAction {
    TicketAction::Decline {
        reason: reason.into(),
    }
}

#[test]
fn ten_tickets_are_spread_by_open_work() {
    let mut s = Sim::new(three(), 10);
    for i in 0..10 {
        s.send(&format!("d{i}"), CheckState::Crit);
    }
    let mut load: HashMap<String, usize> = HashMap::new();
    for t in s.engine.tickets() {
        assert_eq!(t.state, TicketState::Dispatched);
        *load.entry(t.engineer.clone().unwrap()).or_default() += 1;
    }
    assert_eq!(
        load,
        HashMap::from([("a".into(), 4), ("b".into(), 3), ("c".into(), 3)])
    );
    assert!(s.said(1, chosen_g7("a", 0)));
    assert!(s.said(4, chosen_g7("a", 1)));
    assert!(s.said(10, chosen_g7("a", 3)));
    let dispatched = s
        .notices
        .iter()
        .filter(|n| n.kind == NoticeKind::Dispatched)
        .count();
    assert_eq!(dispatched, 10, "each engineer is told of each ticket");
}

#[test]
fn a_decline_goes_to_the_next_engineer_and_the_last_one_to_the_grid_manager() {
    let mut s = Sim::new(three(), 1);
    s.send("d0", CheckState::Crit);
    assert_eq!(s.ticket(1).engineer.as_deref(), Some("a"));
    s.act(1, "a", decline("no ladder for the mast")).unwrap();
    assert_eq!(s.ticket(1).engineer.as_deref(), Some("b"));
    assert!(s.said(1, |w| *w
        == What::Declined {
            by: "a".into(),
            reason: "no ladder for the mast".into()
        }));
    s.act(1, "b", decline("on leave")).unwrap();
    assert_eq!(s.ticket(1).engineer.as_deref(), Some("c"));
    s.act(1, "c", decline("wrong district")).unwrap();
    let t = s.ticket(1);
    assert_eq!((t.state, t.engineer.clone()), (TicketState::Open, None));
    assert!(t.dispatch.unassigned);
    assert!(s.said(1, |w| *w
        == What::AllPassed {
            engineers: vec!["a".into(), "b".into(), "c".into()]
        }));
    assert!(s.said(1, |w| *w
        == What::Escalated {
            level: Level::GridManager,
            to: "gm".into(),
            why: Escalation::NobodyEligible
        }));
    assert_eq!(
        s.sent().last().copied(),
        Some((NoticeKind::Unassigned, "gm"))
    );
    // After the retry period everyone is asked again, from the top.
    s.to(MON_10 + 5 * MINUTE);
    assert_eq!(s.ticket(1).engineer.as_deref(), Some("a"));
    assert!(!s.ticket(1).dispatch.unassigned);
}

#[test]
fn nobody_on_duty_goes_to_the_grid_manager_until_a_shift_starts() {
    let eleven_to_six = Shift::parse("mon-fri 11:00-18:00").unwrap();
    let mut s = Sim::new(roster(vec![engineer("late", vec![eleven_to_six])]), 1);
    s.send("d0", CheckState::Crit);
    let t = s.ticket(1);
    assert_eq!(t.state, TicketState::Open);
    assert!(t.dispatch.unassigned);
    assert!(s.said(1, |w| *w
        == What::NobodyEligible {
            grid_cell: "G7".into(),
            region: "north".into(),
            skill: "camera".into()
        }));
    assert_eq!(s.sent(), vec![(NoticeKind::Unassigned, "gm")]);
    assert_eq!(
        t.dispatch.clocks.as_ref().map(|c| c.level),
        Some(Level::GridManager),
        "the ladder starts at the grid manager"
    );
    s.to(MON_10 + 59 * MINUTE);
    assert_eq!(s.ticket(1).state, TicketState::Open, "still before 11:00");
    assert_eq!(
        s.sent().len(),
        1,
        "the grid manager is told once, not every retry"
    );
    s.to(MON_10 + HOUR + 5 * MINUTE);
    assert_eq!(s.ticket(1).engineer.as_deref(), Some("late"));
    assert_eq!(
        s.sent().last().copied(),
        Some((NoticeKind::Dispatched, "late"))
    );
}

#[test]
fn an_offer_not_accepted_by_respond_by_goes_to_the_next_engineer() {
    let mut s = Sim::new(three(), 1);
    s.send("d0", CheckState::Crit);
    // Major: respond within 1 h.
    s.to(MON_10 + HOUR - 1);
    assert_eq!(s.ticket(1).engineer.as_deref(), Some("a"));
    s.to(MON_10 + HOUR);
    let t = s.ticket(1);
    assert_eq!(t.engineer.as_deref(), Some("b"));
    assert_eq!(t.dispatch.offers_missed, 1);
    assert!(s.said(1, |w| *w
        == What::OfferLapsed {
            engineer: "a".into(),
            window_min: 60
        }));
    assert!(s.sent().contains(&(NoticeKind::Withdrawn, "a")));
    assert_eq!(
        s.sent().last().copied(),
        Some((NoticeKind::Dispatched, "b"))
    );
    // b accepts in time: no further re-offer.
    s.act(1, "b", TicketAction::Accept).unwrap();
    s.to(MON_10 + 3 * HOUR);
    assert_eq!(s.ticket(1).engineer.as_deref(), Some("b"));
    assert_eq!(s.ticket(1).dispatch.offers_missed, 1);
}

#[test]
fn the_repair_clock_climbs_the_ladder_one_level_at_a_time() {
    let mut s = Sim::new(three(), 1);
    s.send("d0", CheckState::Crit);
    s.act(1, "a", TicketAction::Accept).unwrap();
    s.act(1, "a", TicketAction::OnSite).unwrap();
    let escalations = |s: &Sim| {
        s.notices
            .iter()
            .filter(|n| n.kind == NoticeKind::Escalated)
            .map(|n| (n.to.clone(), n.at - MON_10))
            .collect::<Vec<_>>()
    };
    // Major: repair within 8 h. 80 % = 6 h 24 min.
    s.to(MON_10 + 6 * HOUR + 23 * MINUTE);
    assert!(escalations(&s).is_empty());
    s.to(MON_10 + 24 * HOUR);
    assert_eq!(
        escalations(&s),
        vec![
            ("gm".to_string(), 6 * HOUR + 24 * MINUTE),
            ("dm".to_string(), 8 * HOUR),
            ("sl".to_string(), 12 * HOUR),
        ]
    );
    assert!(s.said(1, |w| *w
        == What::Escalated {
            level: Level::GridManager,
            to: "gm".into(),
            why: Escalation::RepairTimeMostlyUsed
        }));
    assert!(s.said(1, |w| *w
        == What::Escalated {
            level: Level::DistrictManager,
            to: "dm".into(),
            why: Escalation::RepairByBreached
        }));
    assert!(s.said(1, escalated(Level::ServiceLeader, "sl")));
    assert_eq!(
        s.ticket(1).engineer.as_deref(),
        Some("a"),
        "escalation is not reassignment"
    );
}

#[test]
fn a_resolved_ticket_stops_the_clocks() {
    let mut s = Sim::new(three(), 1);
    s.send("d0", CheckState::Crit);
    s.act(1, "a", TicketAction::Accept).unwrap();
    s.to(MON_10 + HOUR);
    s.send("d0", CheckState::Ok);
    s.act(
        1,
        "a",
        TicketAction::Resolve {
            note: "replaced the PoE injector".into(),
        },
    )
    .unwrap();
    s.to(MON_10 + 2 * HOUR);
    s.send("d0", CheckState::Ok);
    // Past the whole ladder (12 h), before the device's declared day-long check-in runs out.
    s.to(MON_10 + 20 * HOUR);
    assert_eq!(s.ticket(1).state, TicketState::Closed);
    assert!(
        !s.sent().iter().any(|(k, _)| *k == NoticeKind::Escalated),
        "{:?}",
        s.sent()
    );
}

#[test]
fn a_failure_during_verification_restarts_work_and_the_clocks() {
    let mut s = Sim::new(three(), 1);
    s.send("d0", CheckState::Crit);
    s.act(1, "a", TicketAction::Accept).unwrap();
    s.to(MON_10 + HOUR);
    s.send("d0", CheckState::Ok);
    s.to(MON_10 + HOUR + 5 * MINUTE);
    s.act(
        1,
        "a",
        TicketAction::Resolve {
            note: "rebooted".into(),
        },
    )
    .unwrap();
    assert_eq!(s.ticket(1).state, TicketState::Resolved);
    s.to(MON_10 + HOUR + 8 * MINUTE);
    s.send("d0", CheckState::Crit);
    let t = s.ticket(1);
    assert_eq!(t.state, TicketState::Accepted, "back to the engineer");
    assert!(s.said(1, |w| matches!(w, What::VerificationFailed { .. })));
    s.to(MON_10 + 7 * HOUR);
    assert!(
        s.sent().contains(&(NoticeKind::Escalated, "gm")),
        "the clocks run again: {:?}",
        s.sent()
    );
}

#[test]
fn engineers_act_only_on_their_own_tickets_and_hand_over() {
    let mut s = Sim::new(three(), 1);
    s.send("d0", CheckState::Crit);
    assert_eq!(
        s.act(1, "b", TicketAction::Accept),
        Err(TicketError::NotYours {
            id: 1,
            engineer: "b".into()
        })
    );
    s.act(1, "a", TicketAction::Accept).unwrap();
    s.act(1, "a", TicketAction::Handover { to: "c".into() })
        .unwrap();
    let t = s.ticket(1);
    assert_eq!(
        (t.state, t.engineer.as_deref()),
        (TicketState::Dispatched, Some("c"))
    );
    assert!(s.said(1, |w| *w
        == What::HandedOver {
            from: "a".into(),
            to: "c".into()
        }));
    assert_eq!(
        s.sent().last().copied(),
        Some((NoticeKind::Dispatched, "c"))
    );
    assert!(s.act(1, "a", TicketAction::OnSite).is_err());
    s.act(1, "c", TicketAction::Accept).unwrap();
    s.act(1, "c", TicketAction::OnSite).unwrap();
}

#[test]
fn a_device_that_heals_before_the_accept_withdraws_the_offer() {
    let mut s = Sim::new(three(), 1);
    s.send("d0", CheckState::Crit);
    s.to(MON_10 + MINUTE);
    s.send("d0", CheckState::Ok);
    s.to(MON_10 + 10 * MINUTE);
    s.send("d0", CheckState::Ok);
    let t = s.ticket(1);
    assert_eq!(t.state, TicketState::AutoRecovered);
    assert!(s.said(1, |w| *w == What::RecoveredBeforeAccept));
    assert!(s.sent().contains(&(NoticeKind::Withdrawn, "a")));
}

#[test]
fn the_clocks_survive_a_restart() {
    let mut s = Sim::new(three(), 1);
    s.send("d0", CheckState::Crit);
    s.to(MON_10 + 30 * MINUTE);
    let tickets: Vec<Ticket> = s.engine.tickets().cloned().collect();
    let memory = HashMap::from([(
        "d0".to_string(),
        s.engine.device_memory("d0").unwrap().clone(),
    )]);
    let cfg = EngineConfig {
        roster: three(),
        ..EngineConfig::default()
    };
    let engine = Engine::restore(cfg, vec![dev("d0")], memory, tickets, 2, s.now);
    let mut s = Sim {
        engine,
        now: s.now,
        notices: Vec::new(),
    };
    s.to(MON_10 + HOUR);
    assert_eq!(
        s.ticket(1).engineer.as_deref(),
        Some("b"),
        "the offer to a lapsed at respond-by, restart or not"
    );
}
