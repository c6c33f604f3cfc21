//! Detection settings in domain form (milliseconds, compiled rules), built from `hub.toml` or a
//! scenario by `detection_config`, or directly by tests.

use crate::dispatch::Roster;
use crate::domain::{HOUR, MINUTE, Maintenance, Ms, SECOND, SlaPolicy};
use heartline_proto::Severity;
use std::collections::HashMap;

/// `metric{instance} > above` (or `< below`) held for `hold`, cleared past `clear`.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdRule {
    pub name: String,
    pub metric: String,
    /// Empty: any instance (each instance is its own fault).
    pub instance: String,
    pub direction: Direction,
    pub threshold: f64,
    /// Hysteresis: the fault clears only once the value is back past this.
    pub clear: f64,
    pub hold: Ms,
    pub severity: Severity,
    /// Empty: every device kind.
    pub kinds: Vec<String>,
    /// Empty: every project.
    pub projects: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Above,
    Below,
}

impl Direction {
    pub fn past(self, value: f64, limit: f64) -> bool {
        match self {
            Direction::Above => value > limit,
            Direction::Below => value < limit,
        }
    }
}

/// A metric heading for `limit`: a preventive fault when the predicted time to reach it is inside
/// `horizon`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendRule {
    pub name: String,
    pub metric: String,
    pub instance: String,
    pub direction: Direction,
    pub limit: f64,
    pub horizon: Ms,
    /// Samples older than this are not used for the fit.
    pub window: Ms,
    pub min_samples: usize,
    pub severity: Severity,
    pub kinds: Vec<String>,
    pub projects: Vec<String>,
}

/// Which devices a rule applies to.
pub fn applies(kinds: &[String], projects: &[String], kind: &str, project: &str) -> bool {
    (kinds.is_empty() || kinds.iter().any(|k| k == kind))
        && (projects.is_empty() || projects.iter().any(|p| p == project))
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Each project's SLA (from the inventory); projects not listed get the default policy.
    pub sla: HashMap<String, SlaPolicy>,
    /// Added to a device's declared check-in before it counts as silent.
    pub heartbeat_grace: Ms,
    pub project_grace: HashMap<String, Ms>,
    /// A lost connection (last will) opens a fault after this, unless the device is back.
    pub offline_hold: Ms,
    pub down_severity: Severity,
    pub down_severity_by_kind: HashMap<String, Severity>,
    pub check_warn_severity: Severity,
    pub check_crit_severity: Severity,
    pub event_severity: Severity,
    pub thresholds: Vec<ThresholdRule>,
    pub trends: Vec<TrendRule>,
    /// A fault clears after its condition stayed false this long (auto-recovery confirmation).
    pub recovery_confirm: Ms,
    /// `flap_count` activations within `flap_window` mark a fault flapping; it then clears only
    /// after a whole window of quiet.
    pub flap_window: Ms,
    pub flap_count: usize,
    /// A recurrence within this time after a ticket finished reopens it.
    pub reopen_window: Ms,
    /// After "resolved", the device must stay healthy this long for the ticket to close.
    pub verify: Ms,
    /// Longest a silent device waits for its uplink's verdict before it gets its own ticket.
    pub topology_wait_max: Ms,
    /// Ask a waiting device's uplink for a report at once (a signed probe the agent answers)
    /// instead of waiting for its next scheduled one: a device that died on its own behind a
    /// healthy gateway gets its ticket at its own deadline plus one round trip.
    pub probe_uplinks: bool,
    /// An uplink that has not answered a probe within this is taken as down at once: one ticket
    /// for it with the silent devices behind it attached, instead of each of them waiting out
    /// `topology_wait_max`. Should it report after all, the devices get their own tickets and its
    /// ticket is withdrawn as a false alarm.
    pub probe_timeout: Ms,
    /// A gap between two inputs longer than this means the hub itself stalled (or was down):
    /// devices get a fresh grace instead of a flood of heartbeat tickets.
    pub stall_threshold: Ms,
    pub maintenance: Vec<Maintenance>,
    /// Engineers, managers and site areas (from the inventory); empty: no dispatch.
    pub roster: Roster,
    /// How long an unassigned ticket waits before dispatch is tried again.
    pub unassigned_retry: Ms,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            sla: HashMap::new(),
            heartbeat_grace: 30 * SECOND,
            project_grace: HashMap::new(),
            offline_hold: 10 * SECOND,
            down_severity: Severity::Major,
            down_severity_by_kind: HashMap::new(),
            check_warn_severity: Severity::Minor,
            check_crit_severity: Severity::Major,
            event_severity: Severity::Minor,
            thresholds: Vec::new(),
            trends: Vec::new(),
            recovery_confirm: 2 * MINUTE,
            flap_window: 10 * MINUTE,
            flap_count: 3,
            reopen_window: 24 * HOUR,
            verify: 10 * MINUTE,
            topology_wait_max: 5 * MINUTE,
            probe_uplinks: true,
            probe_timeout: 5 * SECOND,
            stall_threshold: 30 * SECOND,
            maintenance: Vec::new(),
            roster: Roster::default(),
            unassigned_retry: 5 * MINUTE,
        }
    }
}
