//! The inventory file: the tenants, projects, sites, devices and engineers the hub serves.
//!
//! Applied idempotently at start-up and by `heartline-hub inventory apply FILE`. Every mistake
//! (a typo in a key, a device on an unknown site, a malformed key) is reported with its line.
//! `raw` is the file's shape as serde reads it; `Checker` here turns it into store records.

mod raw;

use crate::store::records::{
    DeviceRecord, DeviceSecrets, EngineerRecord, ManagerRecord, ProjectRecord, Role, SiteRecord,
    TenantRecord, TenantWebhook, UserRecord,
};
use heartline_engine::diagnostic::FileError;
use heartline_engine::{DeviceInfo, Level, Shift, SlaPolicy, SlaTimes};
use heartline_proto::validate_id;
use raw::{Id, RawInventory, RawUser, RawUserToken};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use toml::Spanned;

/// A validated inventory, ready for [`crate::store::Store::apply_inventory`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Inventory {
    pub tenants: Vec<TenantRecord>,
    pub projects: Vec<ProjectRecord>,
    pub sites: Vec<SiteRecord>,
    pub devices: Vec<DeviceRecord>,
    pub engineers: Vec<EngineerRecord>,
    pub managers: Vec<ManagerRecord>,
    pub users: Vec<UserRecord>,
    /// The tenants' webhooks for customer notices.
    pub tenant_webhooks: Vec<TenantWebhook>,
}

/// Shortest webhook secret accepted: shorter ones are guessable.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 16;

/// Shortest device token accepted in clear: shorter ones are guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// Hashes a device token the way the store keeps it.
pub fn token_sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl Inventory {
    /// Reads and validates an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, FileError> {
        let src = std::fs::read_to_string(path).map_err(|e| FileError::unreadable(path, &e))?;
        Inventory::parse(path, &src)
    }

    /// Validates inventory text; `path` is only used in error messages.
    pub fn parse(path: &Path, src: &str) -> Result<Inventory, FileError> {
        let raw: RawInventory =
            toml::from_str(src).map_err(|e| FileError::from_toml(path, src, &e))?;
        Checker { path, src }.check(raw)
    }
}

struct Checker<'a> {
    path: &'a Path,
    src: &'a str,
}

impl Checker<'_> {
    fn err(&self, at: &Spanned<String>, msg: impl Into<String>) -> FileError {
        FileError::at(self.path, self.src, Some(at.span()), msg)
    }

    /// As [`Checker::err`], at a line that holds a secret: the excerpt does not show it.
    fn secret_err(&self, at: &Spanned<String>, msg: impl Into<String>) -> FileError {
        let mut e = self.err(at, msg);
        e.excerpt = e.excerpt.replace(at.get_ref().as_str(), "(hidden)");
        e
    }

    /// Checks the id rules and uniqueness within one kind of object.
    fn new_id(&self, seen: &mut HashSet<String>, id: &Id, what: &str) -> Result<String, FileError> {
        validate_id(id.get_ref())
            .map_err(|e| self.err(id, format!("{what} id {:?}: {e}", id.get_ref())))?;
        if !seen.insert(id.get_ref().clone()) {
            return Err(self.err(id, format!("{what} {:?} is declared twice", id.get_ref())));
        }
        Ok(id.get_ref().clone())
    }

    fn check(&self, raw: RawInventory) -> Result<Inventory, FileError> {
        let mut inv = Inventory::default();

        let mut seen = HashSet::new();
        for t in raw.tenant {
            let id = self.new_id(&mut seen, &t.id, "tenant")?;
            let time_zone = match &t.time_zone {
                Some(z) => {
                    crate::localtime::Zone::parse(z.get_ref()).map_err(|e| self.err(z, e))?;
                    z.get_ref().clone()
                }
                None => crate::localtime::DEFAULT_ZONE.to_string(),
            };
            let language = match &t.language {
                Some(l) => crate::i18n::Lang::parse(l.get_ref()).ok_or_else(|| {
                    self.err(l, format!("language {:?}: zh-CN or en", l.get_ref()))
                })?,
                None => crate::i18n::Lang::default(),
            };
            let mut email = Vec::new();
            for address in &t.email {
                address.get_ref().parse::<lettre::Address>().map_err(|e| {
                    self.err(address, format!("email {:?}: {e}", address.get_ref()))
                })?;
                email.push(address.get_ref().clone());
            }
            if let Some(hook) = self.tenant_webhook(&id, &t.webhook, &t.webhook_secret)? {
                inv.tenant_webhooks.push(hook);
            }
            inv.tenants.push(TenantRecord {
                id,
                name: t.name,
                time_zone,
                language,
                email,
            });
        }

        let mut project_tenant = HashMap::new();
        let mut seen = HashSet::new();
        for p in raw.project {
            let id = self.new_id(&mut seen, &p.id, "project")?;
            if !inv.tenants.iter().any(|t| &t.id == p.tenant.get_ref()) {
                return Err(self.err(
                    &p.tenant,
                    format!(
                        "project {id:?} names tenant {:?}, which is not declared",
                        p.tenant.get_ref()
                    ),
                ));
            }
            project_tenant.insert(id.clone(), p.tenant.get_ref().clone());
            let sla = self.sla(&p.sla)?;
            inv.projects.push(ProjectRecord {
                id,
                tenant: p.tenant.into_inner(),
                name: p.name,
                sla,
            });
        }

        let mut site_owner = HashMap::new();
        let mut seen = HashSet::new();
        for s in raw.site {
            let id = self.new_id(&mut seen, &s.id, "site")?;
            let Some(tenant) = project_tenant.get(s.project.get_ref()) else {
                return Err(self.err(
                    &s.project,
                    format!(
                        "site {id:?} names project {:?}, which is not declared",
                        s.project.get_ref()
                    ),
                ));
            };
            site_owner.insert(id.clone(), (tenant.clone(), s.project.get_ref().clone()));
            let location = self.location(s.location.as_ref())?;
            inv.sites.push(SiteRecord {
                id,
                tenant: tenant.clone(),
                project: s.project.into_inner(),
                name: s.name,
                region: s.region,
                grid_cell: s.grid_cell,
                location,
            });
        }

        let mut seen = HashSet::new();
        let mut uplinks = Vec::new();
        for d in raw.device {
            let id = self.new_id(&mut seen, &d.id, "device")?;
            validate_id(d.kind.get_ref()).map_err(|e| {
                self.err(&d.kind, format!("device kind {:?}: {e}", d.kind.get_ref()))
            })?;
            let Some((tenant, project)) = site_owner.get(d.site.get_ref()) else {
                return Err(self.err(
                    &d.site,
                    format!(
                        "device {id:?} names site {:?}, which is not declared",
                        d.site.get_ref()
                    ),
                ));
            };
            let key = hex32(d.key.get_ref()).ok_or_else(|| {
                self.err(&d.key, "key must be 64 hexadecimal digits (32 bytes); `heartline-hub device new` makes one")
            })?;
            let Some(token_sha256) = self.token(d.token.as_ref(), d.token_sha256.as_ref())? else {
                return Err(self.err(
                    &d.id,
                    format!("device {id:?} has neither token nor token_sha256"),
                ));
            };
            if let Some(up) = &d.uplink {
                uplinks.push((id.clone(), up.clone()));
            }
            inv.devices.push(DeviceRecord {
                info: DeviceInfo {
                    id,
                    tenant: tenant.clone(),
                    project: project.clone(),
                    site: d.site.into_inner(),
                    kind: d.kind.into_inner(),
                    uplink: d.uplink.map(Spanned::into_inner),
                },
                secrets: DeviceSecrets { key, token_sha256 },
            });
        }
        self.check_uplinks(&inv, &uplinks)?;

        let mut seen = HashSet::new();
        for m in &raw.manager {
            let id = self.new_id(&mut seen, &m.id, "manager")?;
            let level = match m.level.get_ref().as_str() {
                "grid" => Level::GridManager,
                "district" => Level::DistrictManager,
                "service_leader" => Level::ServiceLeader,
                other => {
                    return Err(self.err(
                        &m.level,
                        format!(
                            "unknown manager level {other:?}: use grid, district or service_leader"
                        ),
                    ));
                }
            };
            inv.managers.push(ManagerRecord {
                id,
                name: m.name.clone(),
                contact: m.contact.clone(),
                level,
                reports_to: m
                    .reports_to
                    .as_ref()
                    .map(|r| r.get_ref().clone())
                    .unwrap_or_default(),
                regions: m.regions.clone(),
                grid_cells: m.grid_cells.clone(),
            });
        }
        let level_of: HashMap<&str, Level> = inv
            .managers
            .iter()
            .map(|m| (m.id.as_str(), m.level))
            .collect();
        for m in &raw.manager {
            let Some(up) = &m.reports_to else { continue };
            let (mine, theirs) = (
                level_of[m.id.get_ref().as_str()],
                level_of.get(up.get_ref().as_str()),
            );
            match theirs {
                None => {
                    return Err(self.err(
                        up,
                        format!(
                            "manager {:?} reports to {:?}, which is not a declared manager",
                            m.id.get_ref(),
                            up.get_ref()
                        ),
                    ));
                }
                Some(l) if *l <= mine => {
                    return Err(self.err(up, format!("manager {:?} must report to someone higher on the ladder (grid → district → service_leader), not to the {} {:?}", m.id.get_ref(), l.as_str(), up.get_ref())));
                }
                Some(_) => {}
            }
        }

        let mut seen = HashSet::new();
        let mut tokens = HashSet::new();
        for e in raw.engineer {
            let id = self.new_id(&mut seen, &e.id, "engineer")?;
            let shifts = e
                .shifts
                .iter()
                .map(|s| Shift::parse(s.get_ref()).map_err(|msg| self.err(s, msg)))
                .collect::<Result<Vec<_>, _>>()?;
            let grid_manager = match &e.grid_manager {
                Some(g) if level_of.get(g.get_ref().as_str()) == Some(&Level::GridManager) => {
                    g.get_ref().clone()
                }
                Some(g) => {
                    return Err(self.err(g, format!("engineer {id:?} names grid manager {:?}, which is not a declared manager with level = \"grid\"", g.get_ref())));
                }
                None => String::new(),
            };
            let token_sha256 = self.token(e.token.as_ref(), e.token_sha256.as_ref())?;
            if let (Some(hash), Some(at)) =
                (token_sha256, e.token.as_ref().or(e.token_sha256.as_ref()))
            {
                if !tokens.insert(hash) {
                    return Err(self.err(
                        at,
                        format!("engineer {id:?} has the same token as another engineer"),
                    ));
                }
            }
            let location = self.location(e.location.as_ref())?;
            inv.engineers.push(EngineerRecord {
                id,
                name: e.name,
                contact: e.contact,
                regions: e.regions,
                grid_cells: e.grid_cells,
                skills: e.skills,
                shifts,
                location,
                grid_manager,
                token_sha256,
            });
        }
        self.users(&mut inv, raw.user, raw.user_token, &mut tokens)?;
        Ok(inv)
    }

    /// People's accounts: a role that names an existing tenant or engineer, a parseable password
    /// hash, and API tokens no one else holds.
    fn users(
        &self,
        inv: &mut Inventory,
        users: Vec<RawUser>,
        user_tokens: Vec<RawUserToken>,
        tokens: &mut HashSet<[u8; 32]>,
    ) -> Result<(), FileError> {
        let mut seen = HashSet::new();
        for u in users {
            let id = self.new_id(&mut seen, &u.id, "user")?;
            let role = match (u.role.get_ref().as_str(), &u.tenant, &u.engineer) {
                ("operator", None, None) => Role::Operator,
                ("customer", Some(t), None) => {
                    if !inv.tenants.iter().any(|x| &x.id == t.get_ref()) {
                        return Err(self.err(
                            t,
                            format!(
                                "user {id:?} names tenant {:?}, which is not declared",
                                t.get_ref()
                            ),
                        ));
                    }
                    Role::Customer {
                        tenant: t.get_ref().clone(),
                    }
                }
                ("engineer", None, Some(e)) => {
                    if !inv.engineers.iter().any(|x| &x.id == e.get_ref()) {
                        return Err(self.err(
                            e,
                            format!(
                                "user {id:?} names engineer {:?}, which is not declared",
                                e.get_ref()
                            ),
                        ));
                    }
                    Role::Engineer {
                        engineer: e.get_ref().clone(),
                    }
                }
                _ => {
                    return Err(self.err(&u.role, "role is \"operator\", \"customer\" with tenant = \"…\", or \"engineer\" with engineer = \"…\""));
                }
            };
            let password_hash = match &u.password_hash {
                Some(h) => {
                    argon2::PasswordHash::new(h.get_ref()).map_err(|e| {
                        self.err(h, format!("password_hash is not an Argon2 hash ({e}); `heartline-hub user add` writes one"))
                    })?;
                    h.get_ref().clone()
                }
                None => String::new(),
            };
            inv.users.push(UserRecord {
                id,
                name: u.name,
                role,
                password_hash,
                tokens_sha256: Vec::new(),
            });
        }
        for t in user_tokens {
            let hash = hex32(t.token_sha256.get_ref()).ok_or_else(|| {
                self.err(
                    &t.token_sha256,
                    "token_sha256 must be 64 hexadecimal digits",
                )
            })?;
            if !tokens.insert(hash) {
                return Err(self.err(&t.token_sha256, "this token is already someone else's"));
            }
            let Some(user) = inv.users.iter_mut().find(|u| &u.id == t.user.get_ref()) else {
                return Err(self.err(
                    &t.user,
                    format!(
                        "user_token names user {:?}, which is not declared",
                        t.user.get_ref()
                    ),
                ));
            };
            user.tokens_sha256.push(hash);
        }
        Ok(())
    }

    /// `token` (in clear, long enough) or `token_sha256` (64 hex digits), not both.
    fn token(
        &self,
        token: Option<&Spanned<String>>,
        hash: Option<&Spanned<String>>,
    ) -> Result<Option<[u8; 32]>, FileError> {
        match (token, hash) {
            (Some(token), None) if token.get_ref().len() >= MIN_TOKEN_LEN => {
                Ok(Some(token_sha256(token.get_ref())))
            }
            (Some(token), None) => Err(self.err(
                token,
                format!("token is shorter than {MIN_TOKEN_LEN} characters"),
            )),
            (None, Some(hash)) => hex32(hash.get_ref())
                .map(Some)
                .ok_or_else(|| self.err(hash, "token_sha256 must be 64 hexadecimal digits")),
            (Some(token), Some(_)) => {
                Err(self.err(token, "give either token or token_sha256, not both"))
            }
            (None, None) => Ok(None),
        }
    }

    /// `[latitude, longitude]` in degrees.
    /// A tenant's `webhook` and `webhook_secret`: both or neither, an http(s) URL with a host,
    /// a secret of at least [`MIN_WEBHOOK_SECRET_LEN`] characters (its value is never in an
    /// error).
    fn tenant_webhook(
        &self,
        tenant: &str,
        url: &Option<Spanned<String>>,
        secret: &Option<Spanned<String>>,
    ) -> Result<Option<TenantWebhook>, FileError> {
        let (url, secret) = match (url, secret) {
            (None, None) => return Ok(None),
            (Some(url), None) => {
                return Err(self.err(
                    url,
                    format!("tenant {tenant:?}: webhook needs webhook_secret, the secret that signs each POST"),
                ));
            }
            (None, Some(secret)) => {
                return Err(self.secret_err(
                    secret,
                    format!("tenant {tenant:?}: webhook_secret without webhook"),
                ));
            }
            (Some(url), Some(secret)) => (url, secret),
        };
        let text = url.get_ref();
        let uri = text.parse::<ureq::http::Uri>().ok();
        let scheme_ok = uri
            .as_ref()
            .and_then(|u| u.scheme_str())
            .is_some_and(|s| s == "http" || s == "https");
        let host_ok = uri
            .as_ref()
            .and_then(|u| u.host())
            .is_some_and(|h| !h.is_empty());
        if !scheme_ok || !host_ok {
            return Err(self.err(
                url,
                format!("webhook {text:?}: an http:// or https:// URL with a host"),
            ));
        }
        if secret.get_ref().chars().count() < MIN_WEBHOOK_SECRET_LEN {
            return Err(self.secret_err(
                secret,
                format!(
                    "tenant {tenant:?}: webhook_secret is shorter than {MIN_WEBHOOK_SECRET_LEN} characters"
                ),
            ));
        }
        Ok(Some(TenantWebhook {
            tenant: tenant.to_string(),
            url: text.clone(),
            secret: secret.get_ref().clone(),
        }))
    }

    fn location(&self, raw: Option<&Spanned<Vec<f64>>>) -> Result<Option<(f64, f64)>, FileError> {
        let Some(raw) = raw else { return Ok(None) };
        match raw.get_ref().as_slice() {
            [lat, lon] if (-90.0..=90.0).contains(lat) && (-180.0..=180.0).contains(lon) => {
                Ok(Some((*lat, *lon)))
            }
            _ => Err(FileError::at(
                self.path,
                self.src,
                Some(raw.span()),
                "location is [latitude, longitude] in degrees, e.g. [31.23, 121.47]",
            )),
        }
    }

    /// `{ critical = "15m/4h", ... }` → an SLA policy.
    fn sla(&self, raw: &HashMap<String, Spanned<String>>) -> Result<SlaPolicy, FileError> {
        let mut policy = SlaPolicy::default();
        for (severity, times) in raw {
            let slot =
                match severity.as_str() {
                    "critical" => &mut policy.critical,
                    "major" => &mut policy.major,
                    "minor" => &mut policy.minor,
                    "info" => &mut policy.info,
                    other => return Err(self.err(
                        times,
                        format!(
                            "unknown severity {other:?} in sla: use critical, major, minor or info"
                        ),
                    )),
                };
            let parse = |s: &str| humantime::parse_duration(s.trim()).map(|d| d.as_millis() as i64);
            let parsed = times
                .get_ref()
                .split_once('/')
                .map(|(a, b)| (parse(a), parse(b)));
            match parsed {
                Some((Ok(respond), Ok(repair))) if respond <= repair => *slot = SlaTimes { respond, repair },
                _ => return Err(self.err(times, "sla times are \"respond/repair\", e.g. \"15m/4h\", with respond no longer than repair")),
            }
        }
        Ok(policy)
    }

    /// An uplink must be another declared device of the same tenant, without cycles.
    fn check_uplinks(&self, inv: &Inventory, uplinks: &[(String, Id)]) -> Result<(), FileError> {
        let tenant_of: HashMap<&str, &str> = inv
            .devices
            .iter()
            .map(|d| (d.info.id.as_str(), d.info.tenant.as_str()))
            .collect();
        let parent: HashMap<&str, &str> = uplinks
            .iter()
            .map(|(c, p)| (c.as_str(), p.get_ref().as_str()))
            .collect();
        for (child, up) in uplinks {
            match tenant_of.get(up.get_ref().as_str()) {
                None => {
                    return Err(self.err(
                        up,
                        format!(
                            "device {child:?} names uplink {:?}, which is not a declared device",
                            up.get_ref()
                        ),
                    ));
                }
                Some(t) if Some(t) != tenant_of.get(child.as_str()) => {
                    return Err(self.err(
                        up,
                        format!(
                            "device {child:?} and its uplink {:?} belong to different tenants",
                            up.get_ref()
                        ),
                    ));
                }
                Some(_) => {}
            }
            let mut at = up.get_ref().as_str();
            for _ in 0..=parent.len() {
                if at == child {
                    return Err(self.err(
                        up,
                        format!("uplink of device {child:?} leads back to itself"),
                    ));
                }
                match parent.get(at) {
                    Some(next) => at = next,
                    None => break,
                }
            }
        }
        Ok(())
    }
}
