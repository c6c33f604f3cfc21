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
