//! A fault: one condition on one device (silent, offline, a threshold, a failing check, an event,
//! a trend), from its first sign through hold, activity, flapping and recovery.

use super::report::EventKind;
use super::units::{Ms, TicketId};
use heartline_proto::Severity;
use serde::{Deserialize, Serialize};

/// What is wrong. With the device id it is the root-cause key a ticket deduplicates on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FaultKind {
    /// No report by the device's own declared next check-in plus grace.
    Silent,
    /// The broker published the device's last will: the connection is gone.
    Offline,
    Threshold {
        rule: String,
        instance: String,
    },
    Check {
        name: String,
    },
    /// Latched until a person resolves the ticket: the event is over, its cause may not be.
    Event {
        kind: EventKind,
    },
    /// A metric heading for its limit: a preventive ticket before anything breaks.
    Trend {
        rule: String,
        instance: String,
    },
    /// A customer said something is wrong and no ticket was open for the device: the one kind
    /// of ticket a person, not the device, opens.
    Reported,
}

impl FaultKind {
    /// The device is unreachable: what a failed uplink explains.
    pub fn is_down(&self) -> bool {
        matches!(self, FaultKind::Silent | FaultKind::Offline)
    }

    /// The key tickets deduplicate on: a silent device and a lost connection are one problem
    /// (the device is unreachable), whichever was noticed first.
    pub fn root(&self) -> FaultKind {
        if self.is_down() {
            FaultKind::Silent
        } else {
            self.clone()
        }
    }

    pub fn describe(&self) -> String {
        match self {
            FaultKind::Silent => "no report since its declared check-in".into(),
            FaultKind::Offline => "connection lost".into(),
            FaultKind::Threshold { rule, instance } if instance.is_empty() => {
                format!("threshold {rule}")
            }
            FaultKind::Threshold { rule, instance } => format!("threshold {rule} on {instance}"),
            FaultKind::Check { name } => format!("check {name} failing"),
            FaultKind::Event { kind } => format!("device event {kind:?}"),
            FaultKind::Trend { rule, instance } if instance.is_empty() => format!("trend {rule}"),
            FaultKind::Trend { rule, instance } => format!("trend {rule} on {instance}"),
            FaultKind::Reported => "reported by the customer".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub kind: FaultKind,
    pub severity: Severity,
    /// The condition holds now, and has since then (raw, before hold).
    pub raw_since: Option<Ms>,
    /// Confirmed: held for its hold duration.
    pub active: bool,
    pub active_since: Ms,
    /// The condition stopped while active; cleared for good once quiet long enough.
    pub clearing_since: Option<Ms>,
    /// Activations inside the flapping window.
    pub toggles: Vec<Ms>,
    pub flapping: bool,
    pub ticket: Option<TicketId>,
    /// Down because the uplink is down: covered by that ticket.
    pub affected_by: Option<TicketId>,
    /// Active inside a maintenance window or planned downtime: no ticket (yet).
    pub suppressed: bool,
    /// A silent device behind an uplink waits until the uplink's own deadline has passed.
    pub topology_wait_until: Option<Ms>,
    pub detail: String,
    pub predicted_at: Option<Ms>,
}

impl Fault {
    pub fn new(kind: FaultKind, severity: Severity) -> Fault {
        Fault {
            kind,
            severity,
            raw_since: None,
            active: false,
            active_since: 0,
            clearing_since: None,
            toggles: Vec::new(),
            flapping: false,
            ticket: None,
            affected_by: None,
            suppressed: false,
            topology_wait_until: None,
            detail: String::new(),
            predicted_at: None,
        }
    }

    /// Nothing left to remember: inactive, condition false, no open link.
    pub fn is_idle(&self) -> bool {
        !self.active && self.raw_since.is_none()
    }
}
