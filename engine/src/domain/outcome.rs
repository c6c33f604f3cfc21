//! What the engine hands back: the changes to commit with the input that caused them, and what
//! to tell the world (logs, live views, notices to people).

use super::device::{DeviceMemory, Maintenance};
use super::ticket::Ticket;
use super::timeline::What;
use super::units::{Ms, TicketId};
use serde::{Deserialize, Serialize};

/// Something worth telling the outside world (logs, live views, notifications).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    TicketOpened(TicketId),
    TicketChanged(TicketId),
    /// The hub did not run for `gap` ms; devices got a fresh grace period.
    Stalled {
        gap: Ms,
    },
    /// Someone must be told (a dispatch, an escalation): delivered by the hub's notifiers.
    Notify(Notice),
}

/// Someone to tell about a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub ticket: TicketId,
    pub at: Ms,
    /// An engineer or manager id.
    pub to: String,
    pub kind: NoticeKind,
    /// What happened, rendered in the reader's language by whoever delivers the notice.
    pub what: What,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoticeKind {
    /// A ticket offered to an engineer.
    Dispatched,
    /// An offer taken back (lapsed, or the ticket finished before anyone went).
    Withdrawn,
    /// The ticket climbed to this person's level of the ladder.
    Escalated,
    /// Nobody eligible: the grid manager must find someone.
    Unassigned,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Dispatched => "dispatched",
            NoticeKind::Withdrawn => "withdrawn",
            NoticeKind::Escalated => "escalated",
            NoticeKind::Unassigned => "unassigned",
        }
    }
}

/// What changed since the last `take_changes`: to be committed with the input that caused it.
#[derive(Debug, Default)]
pub struct Changes {
    pub devices: Vec<(String, DeviceMemory)>,
    pub tickets: Vec<Ticket>,
    /// Maintenance windows added by input (not from the config): kept across restarts.
    pub maintenance: Vec<Maintenance>,
    pub outputs: Vec<Output>,
    /// Uplinks to ask for a report now (see `EngineConfig::probe_uplinks`); not stored.
    pub probes: Vec<String>,
    pub next_ticket: TicketId,
}
