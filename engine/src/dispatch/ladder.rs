//! SLA clocks of one ticket and the escalation ladder, as a state machine over time.
//!
//! A dispatch not accepted by respond-by is offered to the next engineer (the miss is recorded).
//! When the repair clock is at risk (80 % used) and again at each breach point, the ticket climbs
//! one level: engineer → grid manager → district manager → service leader. The clocks' data is
//! a domain type (`domain::sla`), stored with its ticket; this is what moves them.

use crate::domain::{Clocks, Escalation, Level, Ms, Ticket};

/// Who sits above the engineers of an area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managers {
    pub grid_manager: String,
    pub district_manager: String,
    pub service_leader: String,
}

impl Managers {
    pub fn at(&self, level: Level) -> Option<&str> {
        match level {
            Level::Engineer => None,
            Level::GridManager => Some(&self.grid_manager),
            Level::DistrictManager => Some(&self.district_manager),
            Level::ServiceLeader => Some(&self.service_leader),
        }
    }
}

/// What the clocks ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Respond-by passed without an accept: offer the ticket to the next engineer.
    Reoffer { missed_by: String },
    /// Climb to `level`; notify `to`.
    Escalate {
        level: Level,
        to: String,
        why: Escalation,
    },
}

impl Clocks {
    pub fn new(opened_at: Ms, respond_by: Ms, repair_by: Ms) -> Clocks {
        Clocks {
            opened_at,
            respond_by,
            repair_by,
            offered: None,
            accepted: false,
            stopped: false,
            level: Level::Engineer,
            offer_window: (respond_by - opened_at).max(1),
        }
    }

    /// The escalation points of the repair clock: 80 % used, the breach, then every further
    /// 50 % of the repair time.
    fn ladder_points(&self) -> [Ms; 3] {
        let span = (self.repair_by - self.opened_at).max(1);
        [
            self.opened_at + span * 8 / 10,
            self.repair_by,
            self.repair_by + span / 2,
        ]
    }

    /// When the clocks next need a look.
    pub fn next_deadline(&self) -> Option<Ms> {
        if self.stopped {
            return None;
        }
        let offer = self
            .offered
            .as_ref()
            .filter(|_| !self.accepted)
            .map(|(_, at)| at + self.offer_window);
        let climb = self
            .level
            .next()
            .map(|_| self.ladder_points()[self.level as usize]);
        [offer, climb].into_iter().flatten().min()
    }

    /// Advances to `now`; returns what is due, in order.
    pub fn tick(&mut self, now: Ms, managers: &Managers) -> Vec<Action> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        if let Some((who, at)) = self.offered.clone() {
            if !self.accepted && now >= at + self.offer_window {
                self.offered = None;
                out.push(Action::Reoffer { missed_by: who });
            }
        }
        while let Some(next) = self.level.next() {
            let point = self.ladder_points()[self.level as usize];
            if now < point {
                break;
            }
            self.level = next;
            let why = match next {
                Level::GridManager => Escalation::RepairTimeMostlyUsed,
                Level::DistrictManager => Escalation::RepairByBreached,
                Level::ServiceLeader => Escalation::BreachedFurther,
                Level::Engineer => unreachable!("the ladder only climbs"),
            };
            let to = managers.at(next).unwrap_or_default().to_string();
            out.push(Action::Escalate {
                level: next,
                to,
                why,
            });
        }
        out
    }
}

/// When a ticket's clocks (or its unassigned retry) next need a look.
pub fn next_clock(t: &Ticket) -> Option<Ms> {
    if t.state.is_terminal() {
        return None;
    }
    let clocks = t.dispatch.clocks.as_ref().and_then(Clocks::next_deadline);
    let retry = t.dispatch.retry_at.filter(|_| t.dispatch.unassigned);
    [clocks, retry].into_iter().flatten().min()
}
