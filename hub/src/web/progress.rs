//! The service-progress tracker of a ticket, the way a parcel is tracked: detected →
//! dispatched → accepted → on site → repaired → confirmed by the device's own reports → rated,
//! each step with when and who, the SLA clock as a bar, and the escalations. Read from the
//! ticket's structured timeline.

use crate::i18n::{Lang, render, t};
use crate::localtime::Zone;
use heartline_engine::{Actor, Ms, Ticket, TicketState, What};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Step {
    /// Stable id of the step (`detected`, `dispatched`, …), for pages and tests.
    pub step: &'static str,
    pub label: String,
    pub done: bool,
    pub at_ms: Option<Ms>,
    pub at_local: Option<String>,
    /// Who took the step, in words ("工程师 eng-0", "Heartline").
    pub who: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Escalated {
    pub at_ms: Ms,
    pub at_local: String,
    pub text: String,
}

/// The SLA clock: from opening to repair-by; `stopped_ms` once repaired or finished.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SlaClock {
    pub opened_ms: Ms,
    pub respond_by_ms: Ms,
    pub repair_by_ms: Ms,
    pub repair_by_local: String,
    pub stopped_ms: Option<Ms>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Progress {
    pub steps: Vec<Step>,
    pub sla: SlaClock,
    pub escalations: Vec<Escalated>,
    pub time_zone: String,
}

const STEPS: [(&str, &str); 7] = [
    ("detected", "step-detected"),
    ("dispatched", "step-dispatched"),
    ("accepted", "step-accepted"),
    ("on_site", "step-on-site"),
    ("repaired", "step-repaired"),
    ("confirmed", "step-confirmed"),
    ("rated", "step-rated"),
];

fn who(lang: Lang, a: &Actor) -> String {
    match a {
        Actor::System => t(lang, "step-by-system", &[]),
        other => {
            let (kind, id) = render::actor(lang, other);
            format!("{kind} {id}")
        }
    }
}

/// The tracker of `tk` in `lang`, times in `zone`. A step shows its latest occurrence (a
/// reopened ticket is dispatched again); steps after a later step's undoing are pending again.
pub fn of(tk: &Ticket, lang: Lang, zone: &Zone) -> Progress {
    let mut hit: [Option<(Ms, &Actor)>; 7] = [None; 7];
    // Confirmation is the device's own doing (its reports stayed healthy), whoever wrote it down.
    let device = Actor::Device(tk.device.clone());
    let mut escalations = Vec::new();
    for e in &tk.timeline {
        let index = match (&e.what, e.change) {
            (What::Opened { .. }, _) => Some(0),
            (_, Some((_, TicketState::Dispatched))) => Some(1),
            (_, Some((_, TicketState::Accepted))) => Some(2),
            (_, Some((_, TicketState::OnSite))) => Some(3),
            (_, Some((_, TicketState::Resolved))) => Some(4),
            (_, Some((_, TicketState::Closed | TicketState::AutoRecovered))) => Some(5),
            (What::Rated { .. }, _) => Some(6),
            _ => None,
        };
        if let What::Escalated { .. } = e.what {
            escalations.push(Escalated {
                at_ms: e.at,
                at_local: zone.format(e.at),
                text: render::what(lang, zone, &e.what),
            });
        }
        // Back to work (reopened, declined, verification failed): later steps are to do again.
        if let Some((_, to)) = e.change {
            let reset_from = match to {
                TicketState::Open | TicketState::Reopened => Some(1),
                TicketState::Accepted => Some(3),
                _ => None,
            };
            if let Some(from) = reset_from {
                for h in hit.iter_mut().skip(from) {
                    *h = None;
                }
            }
        }
        if let Some(i) = index {
            let by = if i == 5 { &device } else { &e.actor };
            hit[i] = Some((e.at, by));
        }
    }
    let steps = STEPS
        .iter()
        .zip(hit)
        .map(|((step, id), h)| Step {
            step,
            label: t(lang, id, &[]),
            done: h.is_some(),
            at_ms: h.map(|(at, _)| at),
            at_local: h.map(|(at, _)| zone.format(at)),
            who: h.map(|(_, a)| who(lang, a)),
        })
        .collect();
    let stopped = tk.closed_at.or_else(|| {
        tk.timeline
            .iter()
            .rev()
            .find(|e| matches!(e.change, Some((_, TicketState::Resolved))))
            .filter(|_| tk.state == TicketState::Resolved)
            .map(|e| e.at)
    });
    Progress {
        steps,
        sla: SlaClock {
            opened_ms: tk.opened_at,
            respond_by_ms: tk.respond_by,
            repair_by_ms: tk.repair_by,
            repair_by_local: zone.format(tk.repair_by),
            stopped_ms: stopped,
        },
        escalations,
        time_zone: zone.name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketState::*;
    use heartline_engine::{FaultKind, TimelineEntry};

    fn ticket(timeline: Vec<TimelineEntry>, state: TicketState) -> Ticket {
        Ticket {
            device: "cam-1".into(),
            state,
            engineer: Some("e".into()),
            timeline,
            ..crate::sample::ticket(1, "acme")
        }
    }

    fn at(
        at: Ms,
        actor: Actor,
        change: Option<(TicketState, TicketState)>,
        what: What,
    ) -> TimelineEntry {
        TimelineEntry {
            at,
            actor,
            change,
            what,
        }
    }

    fn done(p: &Progress) -> Vec<&str> {
        p.steps.iter().filter(|s| s.done).map(|s| s.step).collect()
    }

    #[test]
    fn steps_follow_the_timeline_and_a_failed_verification_undoes_the_repair() {
        let eng = || Actor::Engineer("e".into());
        let opened = What::Opened {
            fault: FaultKind::Silent,
            detail: heartline_engine::Detail::Text(String::new()),
            predicted_at: None,
        };
        let mut tl = vec![
            at(0, Actor::System, None, opened),
            at(
                1_000,
                Actor::System,
                Some((Open, Dispatched)),
                What::Dispatched {
                    engineer: "e".into(),
                },
            ),
            at(2_000, eng(), Some((Dispatched, Accepted)), What::Moved),
            at(3_000, eng(), Some((Accepted, OnSite)), What::Moved),
            at(
                4_000,
                eng(),
                Some((OnSite, Resolved)),
                What::Resolved {
                    note: String::new(),
                },
            ),
        ];
        let p = of(&ticket(tl.clone(), Resolved), Lang::En, &Zone::default());
        assert_eq!(
            done(&p),
            ["detected", "dispatched", "accepted", "on_site", "repaired"]
        );
        assert_eq!(p.steps[2].who.as_deref(), Some("engineer e"));
        assert_eq!(
            p.steps[0].at_local.as_deref(),
            Some("1970-01-01 08:00:00"),
            "Shanghai time"
        );
        assert_eq!(
            p.sla.stopped_ms,
            Some(4_000),
            "the clock stops at the repair"
        );

        // The fault came back during verification: back to accepted, on site and repair to do.
        tl.push(at(
            5_000,
            Actor::System,
            Some((Resolved, Accepted)),
            What::VerificationFailed {
                fault: FaultKind::Silent,
            },
        ));
        let p = of(&ticket(tl.clone(), Accepted), Lang::En, &Zone::default());
        assert_eq!(done(&p), ["detected", "dispatched", "accepted"]);
        assert_eq!(p.sla.stopped_ms, None);

        // Escalated, then repaired and confirmed by the device, then rated.
        tl.push(at(
            6_000,
            Actor::System,
            None,
            What::Escalated {
                level: heartline_engine::Level::GridManager,
                to: "gm".into(),
                why: heartline_engine::Escalation::RepairTimeMostlyUsed,
            },
        ));
        tl.push(at(
            7_000,
            eng(),
            Some((Accepted, Resolved)),
            What::Resolved {
                note: String::new(),
            },
        ));
        tl.push(at(
            8_000,
            Actor::System,
            Some((Resolved, Closed)),
            What::Verified,
        ));
        tl.push(at(
            9_000,
            Actor::Customer("alice".into()),
            None,
            What::Rated {
                stars: 5,
                comment: String::new(),
            },
        ));
        let p = of(&ticket(tl, Closed), Lang::ZhCn, &Zone::default());
        assert_eq!(
            done(&p),
            [
                "detected",
                "dispatched",
                "accepted",
                "repaired",
                "confirmed",
                "rated"
            ],
            "on site was not repeated"
        );
        assert_eq!(
            p.steps[5].who.as_deref(),
            Some("设备 cam-1"),
            "the device confirmed it"
        );
        assert_eq!(p.escalations.len(), 1);
        assert!(
            p.escalations[0].text.contains("网格经理 gm"),
            "{}",
            p.escalations[0].text
        );
    }
}
