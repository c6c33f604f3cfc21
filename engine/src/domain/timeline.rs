//! A ticket's timeline: what happened, as a kind with its parameters rather than a sentence, so
//! that the hub renders each entry in the reader's language (its message catalogue) and a
//! progress view can find the steps without parsing text. Free text that people typed (a note,
//! a decline reason, a customer's report) stays as they typed it.

use super::fault::FaultKind;
use super::sla::Level;
use super::ticket::{Actor, TicketState};
use super::units::{Ms, TicketId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Ms,
    pub actor: Actor,
    /// The state change this entry records, if any: (from, to).
    pub change: Option<(TicketState, TicketState)>,
    pub what: What,
}

/// What happened to a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum What {
    /// A state change with nothing to add (accepted, on site).
    Moved,
    /// The ticket opened for this fault; `predicted_at` for a preventive ticket.
    Opened {
        fault: FaultKind,
        detail: Detail,
        predicted_at: Option<Ms>,
    },
    /// A recurrence within the reopen window brought the ticket back.
    FaultBack {
        detail: Detail,
    },
    CustomerReport {
        text: String,
    },
    /// Dispatch chose this engineer, and why.
    Chosen(Pick),
    /// Nobody on duty covers the site with the skill.
    NobodyEligible {
        grid_cell: String,
        region: String,
        skill: String,
    },
    /// Everyone eligible declined or let the offer lapse.
    AllPassed {
        engineers: Vec<String>,
    },
    Dispatched {
        engineer: String,
    },
    Declined {
        by: String,
        reason: String,
    },
    /// The engineer's resolve note (may be empty).
    Resolved {
        note: String,
    },
    Cancelled {
        reason: String,
    },
    HandedOver {
        from: String,
        to: String,
    },
    /// The offer was not accepted within the window (respond-by missed).
    OfferLapsed {
        engineer: String,
        window_min: i64,
    },
    /// The ticket climbed a rung of the ladder; `to` is empty when nobody is configured there.
    Escalated {
        level: Level,
        to: String,
        why: Escalation,
    },
    Flapping {
        changes: u32,
        window_min: i64,
    },
    /// A resolved ticket's fault came back during verification.
    VerificationFailed {
        fault: FaultKind,
    },
    /// The device must stay healthy this long for the ticket to close.
    Verifying {
        for_ms: Ms,
    },
    /// The device stayed healthy through verification: closed.
    Verified,
    RecoveredBeforeDispatch,
    RecoveredBeforeAccept,
    /// Declined after the device had healed.
    AlreadyRecovered,
    /// The device is behind the failed uplink of ticket `into` (`uplink` empty when unnamed).
    Merged {
        into: TicketId,
        uplink: String,
    },
    DeviceHealthy,
    /// The uplink did not answer a probe but reported after all: the ticket raised on its
    /// silence is withdrawn, and the `behind` devices waiting on it are down on their own.
    FalseAlarm {
        uplink: String,
        behind: u32,
    },
    Note {
        text: String,
    },
    Rated {
        stars: u8,
        comment: String,
    },
    /// An entry of a store written before timelines were structured: its English sentence.
    Legacy {
        text: String,
    },
}

/// What the fault looked like when the ticket opened or came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Detail {
    /// The device's own words and figures (`cpu_pct = 97 % (> 95)`, a check's message).
    Text(String),
    /// Silent this many seconds, against the device's declared check-in.
    Silent { for_s: i64, checkin_s: i64 },
    /// A customer reported it.
    ReportedBy { user: String },
}

/// Why dispatch chose an engineer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pick {
    pub engineer: String,
    /// The grid cell that matched, or else the region.
    pub area: Area,
    pub skill: String,
    /// The engineer's open tickets before this one.
    pub open: u32,
    /// Distance to the site in tenths of a km, when both locations are known.
    pub km_tenths: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Area {
    Grid(String),
    Region(String),
}

/// Why a ticket climbed the escalation ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Escalation {
    /// 80 % of the repair time used.
    RepairTimeMostlyUsed,
    RepairByBreached,
    /// Breached by half the repair time again.
    BreachedFurther,
    /// Nobody eligible: the grid manager must find someone.
    NobodyEligible,
}
