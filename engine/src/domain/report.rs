//! Domain form of a verified device report and presence change, converted from the wire types in
//! the hub's ingest. Everything past ingest (the store and the engine) works on these.

use heartline_proto::CheckState;
use serde::{Deserialize, Serialize};

/// A metric sample: `disk_used_pct` on instance `/` is 87.5 (unit `%`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    pub name: String,
    pub instance: String,
    pub value: f64,
    pub unit: String,
}

/// A check result in the Nagios plugin convention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub state: CheckState,
    pub message: String,
}

/// Something that happened on the device, reported after the fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    Reboot,
    WatchdogReset,
    PowerLoss,
    Brownout,
    Crash,
    LinkDown,
    LinkUp,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEvent {
    pub kind: EventKind,
    pub at_ms: i64,
    pub detail: String,
}

/// One committed health report, as stored in the device's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub boot_id: u64,
    pub sequence: u64,
    /// Device clock (0 when it has none).
    pub sent_at_ms: i64,
    /// Hub clock when ingest accepted it.
    pub received_at_ms: i64,
    pub next_checkin_s: u32,
    pub metrics: Vec<MetricValue>,
    pub checks: Vec<CheckResult>,
    pub events: Vec<DeviceEvent>,
}

/// What the state topic says about a device's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Presence {
    #[default]
    Unknown,
    Online,
    /// The last will: the connection was lost.
    Offline,
    /// A clean, planned shutdown.
    Goodbye {
        back_in_s: u32,
    },
}
