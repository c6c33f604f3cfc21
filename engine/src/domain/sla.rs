//! Service levels: a project's respond-by and repair-by times per severity, and the SLA clocks
//! a ticket carries with its level on the escalation ladder. The ladder that moves the clocks is
//! `dispatch::ladder`; here is what is stored with the ticket.

use super::units::{HOUR, MINUTE, Ms};
use heartline_proto::Severity;

/// How fast a ticket of one severity must be accepted and repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlaTimes {
    pub respond: Ms,
    pub repair: Ms,
}

/// A project's service-level agreement: respond-by and repair-by per severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlaPolicy {
    pub critical: SlaTimes,
    pub major: SlaTimes,
    pub minor: SlaTimes,
    pub info: SlaTimes,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        let t = |respond, repair| SlaTimes { respond, repair };
        SlaPolicy {
            critical: t(15 * MINUTE, 4 * HOUR),
            major: t(HOUR, 8 * HOUR),
            minor: t(4 * HOUR, 24 * HOUR),
            info: t(24 * HOUR, 72 * HOUR),
        }
    }
}

impl SlaPolicy {
    pub fn times(&self, severity: Severity) -> SlaTimes {
        match severity {
            Severity::Critical => self.critical,
            Severity::Major => self.major,
            Severity::Minor => self.minor,
            Severity::Info => self.info,
        }
    }
}

/// A rung of the escalation ladder.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Level {
    Engineer,
    GridManager,
    DistrictManager,
    ServiceLeader,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Engineer => "engineer",
            Level::GridManager => "grid manager",
            Level::DistrictManager => "district manager",
            Level::ServiceLeader => "service leader",
        }
    }

    /// The rung above, if any.
    pub fn next(self) -> Option<Level> {
        match self {
            Level::Engineer => Some(Level::GridManager),
            Level::GridManager => Some(Level::DistrictManager),
            Level::DistrictManager => Some(Level::ServiceLeader),
            Level::ServiceLeader => None,
        }
    }
}

/// The SLA clocks of one ticket.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Clocks {
    pub opened_at: Ms,
    pub respond_by: Ms,
    pub repair_by: Ms,
    /// The engineer currently offered the ticket, and since when.
    pub offered: Option<(String, Ms)>,
    pub accepted: bool,
    /// Resolved: the clocks stop.
    pub stopped: bool,
    pub level: Level,
    /// How long an offer may wait for an accept before it goes to the next engineer.
    pub offer_window: Ms,
}
