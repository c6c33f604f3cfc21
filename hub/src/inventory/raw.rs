//! The inventory file as written: one serde shape per table, each value with its place in the
//! file, so that `Checker` can point at the line of a mistake.

use serde::Deserialize;
use std::collections::HashMap;
use toml::Spanned;

pub(super) type Id = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInventory {
    #[serde(default)]
    pub(super) tenant: Vec<RawTenant>,
    #[serde(default)]
    pub(super) project: Vec<RawProject>,
    #[serde(default)]
    pub(super) site: Vec<RawSite>,
    #[serde(default)]
    pub(super) device: Vec<RawDevice>,
    #[serde(default)]
    pub(super) engineer: Vec<RawEngineer>,
    #[serde(default)]
    pub(super) manager: Vec<RawManager>,
    #[serde(default)]
    pub(super) user: Vec<RawUser>,
    #[serde(default)]
    pub(super) user_token: Vec<RawUserToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUser {
    pub(super) id: Id,
    pub(super) name: String,
    /// "operator", "customer" (with `tenant`) or "engineer" (with `engineer`).
    pub(super) role: Spanned<String>,
    pub(super) tenant: Option<Id>,
    pub(super) engineer: Option<Id>,
    /// Argon2id PHC string, as `heartline-hub user add` writes it.
    pub(super) password_hash: Option<Spanned<String>>,
}

/// An API token of a user, by its SHA-256 (`heartline-hub user token` appends these).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUserToken {
    pub(super) user: Id,
    pub(super) token_sha256: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTenant {
    pub(super) id: Id,
    pub(super) name: String,
    /// IANA time zone of the tenant's pages, exports and KPI days; `Asia/Shanghai` if absent.
    #[serde(default)]
    pub(super) time_zone: Option<Spanned<String>>,
    /// Language of the tenant's notices: `zh-CN` (default) or `en`.
    #[serde(default)]
    pub(super) language: Option<Spanned<String>>,
    /// Where the tenant's contacts get the repair notices by mail.
    #[serde(default)]
    pub(super) email: Vec<Spanned<String>>,
    /// Where the tenant's repair notices are POSTed as JSON (http:// or https://).
    #[serde(default)]
    pub(super) webhook: Option<Spanned<String>>,
    /// The HMAC-SHA256 secret that signs each POST to `webhook`; never logged.
    #[serde(default)]
    pub(super) webhook_secret: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProject {
    pub(super) id: Id,
    pub(super) tenant: Id,
    pub(super) name: String,
    /// Per severity, "respond/repair", e.g. `critical = "15m/4h"`; unlisted severities keep
    /// the defaults.
    #[serde(default)]
    pub(super) sla: HashMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    pub(super) id: Id,
    pub(super) project: Id,
    pub(super) name: String,
    #[serde(default)]
    pub(super) region: String,
    #[serde(default)]
    pub(super) grid_cell: String,
    /// `[latitude, longitude]` in degrees.
    pub(super) location: Option<Spanned<Vec<f64>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDevice {
    pub(super) id: Id,
    pub(super) site: Id,
    pub(super) kind: Id,
    pub(super) uplink: Option<Id>,
    /// 64 hex digits: the HMAC key the device signs with.
    pub(super) key: Spanned<String>,
    /// The MQTT password in clear; only its SHA-256 is stored.
    pub(super) token: Option<Spanned<String>>,
    /// Or the SHA-256 of the token, so the file need not hold the token at all.
    pub(super) token_sha256: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEngineer {
    pub(super) id: Id,
    pub(super) name: String,
    #[serde(default)]
    pub(super) contact: String,
    #[serde(default)]
    pub(super) regions: Vec<String>,
    #[serde(default)]
    pub(super) grid_cells: Vec<String>,
    #[serde(default)]
    pub(super) skills: Vec<String>,
    /// E.g. `["mon-fri 08:00-18:00"]` (UTC); none: never on duty.
    #[serde(default)]
    pub(super) shifts: Vec<Spanned<String>>,
    pub(super) location: Option<Spanned<Vec<f64>>>,
    pub(super) grid_manager: Option<Id>,
    /// The engineer's API token in clear (only its SHA-256 is stored), or its SHA-256.
    pub(super) token: Option<Spanned<String>>,
    pub(super) token_sha256: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawManager {
    pub(super) id: Id,
    pub(super) name: String,
    #[serde(default)]
    pub(super) contact: String,
    /// "grid", "district" or "service_leader".
    pub(super) level: Spanned<String>,
    pub(super) reports_to: Option<Id>,
    #[serde(default)]
    pub(super) regions: Vec<String>,
    #[serde(default)]
    pub(super) grid_cells: Vec<String>,
}
