//! The ticket lifecycle: states, the transitions allowed between them, and the timeline.
//!
//! Open → Dispatched → Accepted → OnSite → Resolved (awaiting verification) → Closed, plus
//! AutoRecovered (the device healed before anyone was sent), Reopened (a recurrence within the
//! reopen window) and Cancelled. Pure data and rules: the engine decides when.

use super::fault::FaultKind;
use super::sla::{Clocks, SlaTimes};
use super::timeline::{TimelineEntry, What};
use super::units::{Ms, TicketId};
use heartline_proto::Severity;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TicketState {
    Open,
    Dispatched,
    Accepted,
    OnSite,
    /// The engineer says it is fixed; the device's own health must confirm it.
    Resolved,
    Closed,
    AutoRecovered,
    Reopened,
    Cancelled,
}

impl TicketState {
    pub const ALL: [TicketState; 9] = [
        TicketState::Open,
        TicketState::Dispatched,
        TicketState::Accepted,
        TicketState::OnSite,
        TicketState::Resolved,
        TicketState::Closed,
        TicketState::AutoRecovered,
        TicketState::Reopened,
        TicketState::Cancelled,
    ];

    /// No further work: a recurrence reopens (within the window) or opens a new ticket.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TicketState::Closed | TicketState::AutoRecovered | TicketState::Cancelled
        )
    }

    /// Nobody has been sent yet.
    pub fn is_unworked(self) -> bool {
        matches!(self, TicketState::Open | TicketState::Reopened)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Open => "open",
            TicketState::Dispatched => "dispatched",
            TicketState::Accepted => "accepted",
            TicketState::OnSite => "on site",
            TicketState::Resolved => "resolved, awaiting verification",
            TicketState::Closed => "closed",
            TicketState::AutoRecovered => "auto-recovered",
            TicketState::Reopened => "reopened",
            TicketState::Cancelled => "cancelled",
        }
    }
}

/// Who did something to a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    Device(String),
    System,
    Engineer(String),
    Customer(String),
    Operator(String),
}

/// What a person (or dispatch) asks of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketAction {
    Dispatch {
        engineer: String,
    },
    /// The engineer declines; the ticket waits for the next dispatch.
    Decline {
        reason: String,
    },
    Accept,
    OnSite,
    Note {
        text: String,
    },
    Resolve {
        note: String,
    },
    Cancel {
        reason: String,
    },
    /// The engineer passes the ticket to a colleague, who must accept it.
    Handover {
        to: String,
    },
    /// The customer rates a finished ticket, 1 to 5 stars.
    Rate {
        stars: u8,
        comment: String,
    },
}

impl TicketAction {
    pub fn name(&self) -> &'static str {
        match self {
            TicketAction::Dispatch { .. } => "dispatch",
            TicketAction::Decline { .. } => "decline",
            TicketAction::Accept => "accept",
            TicketAction::OnSite => "on site",
            TicketAction::Note { .. } => "note",
            TicketAction::Resolve { .. } => "resolve",
            TicketAction::Cancel { .. } => "cancel",
            TicketAction::Handover { .. } => "hand over",
            TicketAction::Rate { .. } => "rate",
        }
    }
}

/// Why a ticket action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("ticket {0} does not exist")]
    NoSuchTicket(TicketId),
    #[error("device {0} does not exist")]
    NoSuchDevice(String),
    #[error("ticket {id} is not dispatched to {engineer}")]
    NotYours { id: TicketId, engineer: String },
    #[error("cannot {action} ticket {id}: it is {}; {}", state.as_str(), hint.as_str())]
    InvalidTransition {
        id: TicketId,
        action: &'static str,
        state: TicketState,
        hint: Refusal,
    },
}

/// Why the lifecycle refuses an action, and what to do instead (the hub says it in the reader's
/// language; `as_str` is the English of logs and the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    OnlyCustomerRates,
    StarsOutOfRange,
    RateWhenClosed,
    Finished,
    AlreadyWorked,
    OnlyDispatchedDeclined,
    OnlyDispatchedAccepted,
    AcceptFirst,
    AwaitingVerification,
    AlreadyTheirs,
    OnlyWorkedHandedOver,
}

impl Refusal {
    pub const ALL: [Refusal; 11] = [
        Refusal::OnlyCustomerRates,
        Refusal::StarsOutOfRange,
        Refusal::RateWhenClosed,
        Refusal::Finished,
        Refusal::AlreadyWorked,
        Refusal::OnlyDispatchedDeclined,
        Refusal::OnlyDispatchedAccepted,
        Refusal::AcceptFirst,
        Refusal::AwaitingVerification,
        Refusal::AlreadyTheirs,
        Refusal::OnlyWorkedHandedOver,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::OnlyCustomerRates => "only the customer rates a ticket",
            Refusal::StarsOutOfRange => "a rating is 1 to 5 stars",
            Refusal::RateWhenClosed => "a ticket can be rated once it is closed",
            Refusal::Finished => "the ticket is finished",
            Refusal::AlreadyWorked => "an engineer is already working on it; hand it over instead",
            Refusal::OnlyDispatchedDeclined => "only a dispatched ticket can be declined",
            Refusal::OnlyDispatchedAccepted => "only a dispatched ticket can be accepted",
            Refusal::AcceptFirst => "accept the ticket first",
            Refusal::AwaitingVerification => "it is already awaiting the device's verification",
            Refusal::AlreadyTheirs => "it is already theirs",
            Refusal::OnlyWorkedHandedOver => {
                "only a ticket someone is working on can be handed over"
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub tenant: String,
    pub project: String,
    pub site: String,
    /// The device whose fault is the root cause.
    pub device: String,
    pub root: FaultKind,
    pub title: String,
    pub severity: Severity,
    pub state: TicketState,
    pub engineer: Option<String>,
    pub opened_at: Ms,
    pub updated_at: Ms,
    pub closed_at: Option<Ms>,
    /// Devices down because this ticket's device (their uplink) is down.
    pub affected: Vec<String>,
    pub flapping: bool,
    /// For preventive tickets: when the device is predicted to fail.
    pub predicted_failure_at: Option<Ms>,
    /// While Resolved: the device must stay healthy until then for the ticket to close.
    pub verify_until: Option<Ms>,
    /// The project's SLA for this severity, and the clocks it sets from the (re)opening.
    pub sla: SlaTimes,
    pub respond_by: Ms,
    pub repair_by: Ms,
    pub reopened: u32,
    pub timeline: Vec<TimelineEntry>,
    /// Who it is offered to, the SLA clocks and the escalation level.
    pub dispatch: DispatchState,
    /// When a customer first reported this problem (the KPI "detected before the customer").
    pub customer_reported_at: Option<Ms>,
    /// When the fault's condition was first seen (MTTD = opened_at − this).
    pub fault_since: Option<Ms>,
    /// First accept (MTTA = this − opened_at).
    pub accepted_at: Option<Ms>,
    pub rating: Option<Rating>,
}

/// A customer's rating of a finished ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    pub stars: u8,
    pub comment: String,
    pub by: String,
    pub at: Ms,
}

/// Dispatch bookkeeping of one ticket (see `engine::assign`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DispatchState {
    /// The SLA clocks; `None` while the hub has no engineers to dispatch to.
    pub clocks: Option<Clocks>,
    /// Engineers who declined or let the offer lapse: not offered it again before the next retry.
    pub passed_over: Vec<String>,
    /// Nobody was eligible: the grid manager has it, and dispatch is tried again at `retry_at`.
    pub unassigned: bool,
    pub retry_at: Option<Ms>,
    /// Offers that lapsed without an accept (respond-by misses).
    pub offers_missed: u32,
    /// Why the current engineer was chosen (a [`What::Chosen`]), or why nobody was.
    pub reason: Option<What>,
}

impl Ticket {
    pub fn note(&mut self, at: Ms, actor: Actor, what: What) {
        self.updated_at = at;
        self.timeline.push(TimelineEntry {
            at,
            actor,
            change: None,
            what,
        });
    }

    /// Moves to `to`, with a timeline entry saying why.
    pub fn set_state(&mut self, at: Ms, actor: Actor, to: TicketState, why: What) {
        let from = self.state;
        self.state = to;
        if to.is_terminal() {
            self.closed_at = Some(at);
            self.verify_until = None;
        }
        self.updated_at = at;
        self.timeline.push(TimelineEntry {
            at,
            actor,
            change: Some((from, to)),
            what: why,
        });
    }

    /// Applies a person's action if the lifecycle allows it. Verification and auto-recovery are
    /// the engine's, not actions.
    pub fn apply(
        &mut self,
        at: Ms,
        actor: Actor,
        action: &TicketAction,
    ) -> Result<(), TicketError> {
        use TicketState::*;
        let refuse = |hint| TicketError::InvalidTransition {
            id: self.id,
            action: action.name(),
            state: self.state,
            hint,
        };
        if let Actor::Engineer(e) = &actor {
            if self.engineer.as_ref() != Some(e) {
                return Err(TicketError::NotYours {
                    id: self.id,
                    engineer: e.clone(),
                });
            }
        }
        match (action, self.state) {
            (TicketAction::Rate { stars, comment }, Closed | AutoRecovered) => {
                let Actor::Customer(by) = &actor else {
                    return Err(refuse(Refusal::OnlyCustomerRates));
                };
                if !(1..=5).contains(stars) {
                    return Err(refuse(Refusal::StarsOutOfRange));
                }
                self.rating = Some(Rating {
                    stars: *stars,
                    comment: comment.clone(),
                    by: by.clone(),
                    at,
                });
                let what = What::Rated {
                    stars: *stars,
                    comment: comment.clone(),
                };
                self.note(at, actor, what);
                return Ok(());
            }
            (TicketAction::Rate { .. }, _) => {
                return Err(refuse(Refusal::RateWhenClosed));
            }
            (TicketAction::Note { text }, _) => {
                self.note(at, actor, What::Note { text: text.clone() });
                return Ok(());
            }
            (_, s) if s.is_terminal() => return Err(refuse(Refusal::Finished)),
            (TicketAction::Dispatch { engineer }, Open | Reopened | Dispatched) => {
                self.engineer = Some(engineer.clone());
                let what = What::Dispatched {
                    engineer: engineer.clone(),
                };
                self.set_state(at, actor, Dispatched, what);
            }
            (TicketAction::Dispatch { .. }, _) => {
                return Err(refuse(Refusal::AlreadyWorked));
            }
            (TicketAction::Decline { reason }, Dispatched) => {
                let who = self.engineer.take().unwrap_or_default();
                let back = if self.reopened > 0 { Reopened } else { Open };
                let what = What::Declined {
                    by: who,
                    reason: reason.clone(),
                };
                self.set_state(at, actor, back, what);
            }
            (TicketAction::Decline { .. }, _) => {
                return Err(refuse(Refusal::OnlyDispatchedDeclined));
            }
            (TicketAction::Accept, Dispatched) => {
                self.accepted_at.get_or_insert(at);
                self.set_state(at, actor, Accepted, What::Moved);
            }
            (TicketAction::Accept, _) => {
                return Err(refuse(Refusal::OnlyDispatchedAccepted));
            }
            (TicketAction::OnSite, Accepted) => self.set_state(at, actor, OnSite, What::Moved),
            (TicketAction::OnSite, _) => return Err(refuse(Refusal::AcceptFirst)),
            (TicketAction::Resolve { note }, Accepted | OnSite) => {
                let what = What::Resolved { note: note.clone() };
                self.set_state(at, actor, Resolved, what);
            }
            (TicketAction::Resolve { .. }, Resolved) => {
                return Err(refuse(Refusal::AwaitingVerification));
            }
            (TicketAction::Resolve { .. }, _) => return Err(refuse(Refusal::AcceptFirst)),
            (TicketAction::Cancel { reason }, _) => {
                let what = What::Cancelled {
                    reason: reason.clone(),
                };
                self.set_state(at, actor, Cancelled, what);
            }
            (TicketAction::Handover { to }, _) if self.engineer.as_ref() == Some(to) => {
                return Err(refuse(Refusal::AlreadyTheirs));
            }
            (TicketAction::Handover { to }, Dispatched | Accepted | OnSite) => {
                let from = self.engineer.replace(to.clone()).unwrap_or_default();
                let what = What::HandedOver {
                    from,
                    to: to.clone(),
                };
                self.set_state(at, actor, Dispatched, what);
            }
            (TicketAction::Handover { .. }, _) => {
                return Err(refuse(Refusal::OnlyWorkedHandedOver));
            }
        }
        Ok(())
    }
}
