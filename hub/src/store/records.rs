//! The records the store keeps, serialized with postcard. Changing a record's shape changes
//! [`super::SCHEMA_VERSION`].

use crate::i18n::Lang;
use heartline_engine::{CheckResult, DeviceInfo, Level, Presence, Shift, SlaPolicy};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub id: String,
    pub name: String,
    /// IANA name of the tenant's time zone (pages, exports, KPI days).
    pub time_zone: String,
    /// The language of the tenant's notices.
    pub language: Lang,
    /// The contacts who get the repair notices by mail.
    pub email: Vec<String>,
}

/// Where a tenant's customer notices are POSTed (inventory `webhook` and `webhook_secret`).
/// The secret signs each body; it never appears in a log line or a `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantWebhook {
    pub tenant: String,
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for TenantWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantWebhook")
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub sla: SlaPolicy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteRecord {
    pub id: String,
    pub tenant: String,
    pub project: String,
    pub name: String,
    pub region: String,
    pub grid_cell: String,
    /// Latitude, longitude in degrees, when known.
    pub location: Option<(f64, f64)>,
}

/// A device's credentials. Never logged (no `Debug` of the bytes), never returned by a read API.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSecrets {
    /// HMAC key for signed payloads.
    pub key: [u8; 32],
    /// SHA-256 of the device's MQTT password (token); the token itself is never stored.
    pub token_sha256: [u8; 32],
}

impl std::fmt::Debug for DeviceSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceSecrets(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub info: DeviceInfo,
    pub secrets: DeviceSecrets,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineerRecord {
    pub id: String,
    pub name: String,
    pub contact: String,
    pub regions: Vec<String>,
    pub grid_cells: Vec<String>,
    /// Device kinds the engineer can repair.
    pub skills: Vec<String>,
    pub shifts: Vec<Shift>,
    pub location: Option<(f64, f64)>,
    /// The engineer's grid manager (first rung of the escalation ladder); may be empty.
    pub grid_manager: String,
    /// SHA-256 of the engineer's API token; `None`: the engineer cannot log in.
    pub token_sha256: Option<[u8; 32]>,
}

/// A manager on the escalation ladder (grid manager, district manager, service leader).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerRecord {
    pub id: String,
    pub name: String,
    pub contact: String,
    pub level: Level,
    pub reports_to: String,
    pub regions: Vec<String>,
    pub grid_cells: Vec<String>,
}

/// Replay protection for one boot of a device: the highest committed sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootCursor {
    pub boot_id: u64,
    pub committed: u64,
}

/// What the hub knows about a device right now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceStateRecord {
    /// Most recent boot first; bounded (see `ingest::dedupe`).
    pub boots: Vec<BootCursor>,
    pub last_report_at_ms: i64,
    pub next_checkin_s: u32,
    pub presence: Presence,
    pub presence_at_ms: i64,
    /// Session of the connection that last said it was online.
    pub presence_session: u64,
    /// Latest result of each check the device reports.
    pub checks: Vec<CheckResult>,
    /// Total reports committed; also the key of the next history entry.
    pub reports: u64,
}

/// What a person may see and do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// The operator's staff: every tenant, the KPI board.
    Operator,
    /// An enterprise customer: one tenant's projects, devices and tickets.
    Customer { tenant: String },
    /// A field engineer: their own queue and the tickets dispatched to them.
    Engineer { engineer: String },
}

/// A person who logs in to the web view or calls the API.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// Argon2id PHC string; empty: no password login.
    pub password_hash: String,
    /// SHA-256 of the user's API tokens.
    pub tokens_sha256: Vec<[u8; 32]>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}
