//! Devices as the engine sees them: who they are and where they sit (from the inventory), what
//! the engine remembers of each, and the windows of planned work that cover them.

use super::fault::Fault;
use super::units::Ms;
use serde::{Deserialize, Serialize};

/// A device as any reader in scope may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub id: String,
    pub tenant: String,
    pub project: String,
    pub site: String,
    pub kind: String,
    /// The device this one reaches the network through (a site gateway), if any.
    pub uplink: Option<String>,
}

/// What the engine remembers of one device; persisted with every change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceMemory {
    pub last_report_at: Option<Ms>,
    /// The device's declared interval between reports.
    pub checkin: Ms,
    /// Silent once `now` is past this (declared check-in + grace).
    pub deadline: Option<Ms>,
    /// After a goodbye: planned downtime until then (`Ms::MAX` when open-ended).
    pub planned_until: Option<Ms>,
    pub faults: Vec<Fault>,
    /// Trend samples per (rule, instance).
    pub series: Vec<Series>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Series {
    pub rule: String,
    pub instance: String,
    pub points: Vec<(Ms, f64)>,
    /// The position in this engine's trend rules of the first rule named `rule`, once known:
    /// finds the series without reading the name (a cache miss per report on a large fleet).
    /// Never persisted, and forgotten by `Engine::restore`: the rules may differ by then.
    #[serde(skip, default = "Series::rule_unknown")]
    pub(crate) rule_index: u32,
}

impl Series {
    pub(crate) const RULE_UNKNOWN: u32 = u32::MAX;

    fn rule_unknown() -> u32 {
        Series::RULE_UNKNOWN
    }
}

/// What is remembered, not how it is found: `rule_index` is left out.
impl PartialEq for Series {
    fn eq(&self, other: &Series) -> bool {
        self.rule == other.rule && self.instance == other.instance && self.points == other.points
    }
}

/// A window of planned work on a device, a site or a project: nothing opens during it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    /// A device, site or project id.
    pub scope: String,
    pub from: Ms,
    pub until: Ms,
    pub reason: String,
}
