//! Scenario files: a fleet (tenants, projects, groups of identical sites with their gateway and
//! devices, engineers and managers), the hub's own detection settings (`[engine]`, `[[rule]]`,
//! `[[trend]]`, exactly as in `hub.toml`) and a fault schedule. Every mistake is reported with its
//! line, like the hub's config.

use heartline_engine::detection_config::{self, EngineSettings, RuleSettings, TrendSettings};
use heartline_engine::diagnostic::FileError;
use heartline_engine::dispatch::Manager;
use heartline_engine::{Direction, EngineConfig, Level, Ms, Shift};
use heartline_proto::validate_id;
use serde::Deserialize;
use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

type Text = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    /// When virtual time starts (RFC 3339); shifts are read against it.
    start: Option<Text>,
    duration: Text,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    engine: EngineSettings,
    #[serde(default)]
    rule: Vec<RuleSettings>,
    #[serde(default)]
    trend: Vec<TrendSettings>,
    #[serde(default)]
    tenant: Vec<RawTenant>,
    #[serde(default)]
    project: Vec<RawProject>,
    #[serde(default)]
    sites: Vec<RawSites>,
    #[serde(default)]
    engineers: Vec<RawEngineers>,
    #[serde(default)]
    manager: Vec<RawManager>,
    #[serde(default)]
    fault: Vec<RawFault>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    id: Text,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    id: Text,
    tenant: Text,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSites {
    project: Text,
    prefix: Text,
    count: Spanned<usize>,
    #[serde(default)]
    regions: Vec<String>,
    /// Grid cells per region; site `i` lies in cell `{region}-g{n}`.
    #[serde(default)]
    grid_cells: usize,
    /// The site's uplink: every other device of the site reaches the hub through it.
    gateway: Option<RawDevices>,
    #[serde(default)]
    devices: Vec<RawDevices>,
    /// Gateways behind the site's gateway, each with devices of its own behind it (nested
    /// uplinks: a switch on a pole behind the junction's router).
    #[serde(default)]
    branches: Vec<RawBranch>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBranch {
    gateway: RawDevices,
    #[serde(default = "one")]
    count: usize,
    #[serde(default)]
    devices: Vec<RawDevices>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevices {
    kind: Text,
    #[serde(default = "one")]
    count: usize,
    /// Report interval, which the device also declares as its next check-in.
    every: Text,
    /// Healthy metric values reported every time, e.g. `{ disk_used_pct = 40.0 }`.
    #[serde(default)]
    metrics: std::collections::BTreeMap<String, f64>,
    /// Checks reported OK every time.
    #[serde(default)]
    checks: Vec<String>,
}

fn one() -> usize {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEngineers {
    prefix: Text,
    count: usize,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    grid_cells: Vec<String>,
    skills: Vec<String>,
    shifts: Vec<Text>,
    #[serde(default)]
    grid_manager: String,
    /// Think times, each a range "5m..20m" (or one duration): to accept an offer, to travel to
    /// the site, to repair once there.
    accept: Text,
    travel: Text,
    repair: Text,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManager {
    id: Text,
    /// "grid", "district" or "service_leader".
    level: Text,
    #[serde(default)]
    reports_to: String,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    grid_cells: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    kind: Text,
    at: Text,
    /// The starts are spread evenly at random over `[at, at + spread)`.
    spread: Option<Text>,
    count: Option<Spanned<usize>>,
    /// Only devices of this kind (uplink faults: only gateways).
    device_kind: Option<String>,
    project: Option<String>,
    /// The customer reports the problem this long after it began (ground truth for "detected
    /// before the customer").
    customer_after: Option<Text>,
    metric: Option<String>,
    /// `disk_fills`: points per hour up; `battery_drains`: points per hour down.
    rate: Option<f64>,
    /// `overheats`: the value while it lasts.
    value: Option<f64>,
    check: Option<String>,
    lasts: Option<Text>,
    period: Option<Text>,
    down: Option<Text>,
    /// `uplink_down`: this many devices behind the gateway die with it (a power surge) and stay
    /// dead once it is repaired: each is a problem of its own, found when the gateway is back.
    with_devices: Option<Spanned<usize>>,
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub start: Ms,
    pub duration: Ms,
    pub seed: u64,
    /// The hub's detection settings; the roster is added from the fleet.
    pub detection: EngineConfig,
    pub tenants: Vec<String>,
    /// (project, tenant)
    pub projects: Vec<(String, String)>,
    pub sites: Vec<SiteGroup>,
    pub engineers: Vec<EngineerGroup>,
    pub managers: Vec<Manager>,
    pub faults: Vec<FaultSpec>,
    path: PathBuf,
    src: String,
}

#[derive(Debug, Clone)]
pub struct SiteGroup {
    pub project: String,
    pub prefix: String,
    pub count: usize,
    pub regions: Vec<String>,
    pub grid_cells: usize,
    pub gateway: Option<DeviceGroup>,
    pub devices: Vec<DeviceGroup>,
    pub branches: Vec<BranchGroup>,
}

/// `count` gateways behind a site's gateway, each with `devices` behind it.
#[derive(Debug, Clone)]
pub struct BranchGroup {
    pub gateway: DeviceGroup,
    pub count: usize,
    pub devices: Vec<DeviceGroup>,
}

#[derive(Debug, Clone)]
pub struct DeviceGroup {
    pub kind: String,
    pub count: usize,
    pub every: Ms,
    pub metrics: Vec<(String, f64)>,
    pub checks: Vec<String>,
}

/// A range of think times, drawn uniformly.
pub type Think = (Ms, Ms);

#[derive(Debug, Clone)]
pub struct EngineerGroup {
    pub prefix: String,
    pub count: usize,
    pub regions: Vec<String>,
    pub grid_cells: Vec<String>,
    pub skills: Vec<String>,
    pub shifts: Vec<Shift>,
    /// The shifts as written, for an inventory file.
    pub shift_texts: Vec<String>,
    pub grid_manager: String,
    pub accept: Think,
    pub travel: Think,
    pub repair: Think,
}

#[derive(Debug, Clone)]
pub struct FaultSpec {
    pub what: FaultType,
    pub at: Ms,
    pub spread: Ms,
    pub count: usize,
    pub device_kind: Option<String>,
    pub project: Option<String>,
    pub customer_after: Option<Ms>,
    /// Where `count` (or `kind`) is written, for "not enough devices" errors.
    pub span: Range<usize>,
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultType {
    /// Stops reporting without a word.
    Dies,
    /// The connection drops: the broker publishes its last will; no reports after.
    Disconnects,
    /// A site gateway dies: every device behind it falls silent too. One problem; and
    /// `with_devices` devices behind it that die with it, a problem each.
    UplinkDown { with_devices: usize },
    /// `metric` rises by `rate` points per hour from its healthy value.
    DiskFills { metric: String, rate: f64 },
    /// `metric` falls by `rate` points per hour.
    BatteryDrains { metric: String, rate: f64 },
    /// The link drops and returns every `period` for `lasts`.
    Flapping { period: Ms, lasts: Ms },
    /// `metric` reads `value` for `lasts` (until repaired when absent).
    Overheats {
        metric: String,
        value: f64,
        lasts: Option<Ms>,
    },
    /// The check reports CRIT until repaired.
    CheckFails { check: String },
    /// Planned work on a site: announced, the site powered off for `lasts`, no ticket expected.
    Maintenance { lasts: Ms },
    /// The hub stops, is down for `down`, and its engine is rebuilt from what it had committed.
    HubRestart { down: Ms },
}

impl FaultType {
    pub fn name(&self) -> &'static str {
        match self {
            FaultType::Dies => "dies",
            FaultType::Disconnects => "disconnects",
            FaultType::UplinkDown { .. } => "uplink_down",
            FaultType::DiskFills { .. } => "disk_fills",
            FaultType::BatteryDrains { .. } => "battery_drains",
            FaultType::Flapping { .. } => "flapping",
            FaultType::Overheats { .. } => "overheats",
            FaultType::CheckFails { .. } => "check_fails",
            FaultType::Maintenance { .. } => "maintenance",
            FaultType::HubRestart { .. } => "hub_restart",
        }
    }
}

/// Monday 2026-11-23 00:00 UTC, when no `start` is given.
pub const DEFAULT_START: Ms = 1_795_392_000_000;

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, FileError> {
        let src = std::fs::read_to_string(path).map_err(|e| FileError::unreadable(path, &e))?;
        Scenario::parse(path, &src)
    }

    /// Validates scenario text; `path` is only used in error messages.
    pub fn parse(path: &Path, src: &str) -> Result<Scenario, FileError> {
        let raw: RawScenario =
            toml::from_str(src).map_err(|e| FileError::from_toml(path, src, &e))?;
        Checker { path, src }.check(raw)
    }

    /// A mistake found after parsing (e.g. a fault asking for more devices than there are).
    pub fn error_at(&self, span: Range<usize>, msg: impl Into<String>) -> FileError {
        FileError::at(&self.path, &self.src, Some(span), msg)
    }

    /// The same scenario with `factor` times the sites, engineers and faults (each at least
    /// one): tests run the shipped scenarios small.
    pub fn scaled(mut self, factor: f64) -> Scenario {
        let scale = |n: usize| ((n as f64 * factor).round() as usize).max(1);
        for s in &mut self.sites {
            s.count = scale(s.count);
        }
        for e in &mut self.engineers {
            e.count = scale(e.count);
        }
        for f in &mut self.faults {
            if !matches!(f.what, FaultType::HubRestart { .. }) {
                f.count = scale(f.count);
            }
        }
        self
    }
}

struct Checker<'a> {
    path: &'a Path,
    src: &'a str,
}

impl Checker<'_> {
    fn err(&self, span: Range<usize>, msg: impl Into<String>) -> FileError {
        FileError::at(self.path, self.src, Some(span), msg)
    }

    fn duration(&self, d: &Text) -> Result<Ms, FileError> {
        humantime::parse_duration(d.get_ref().trim())
            .map(|d| d.as_millis() as Ms)
            .map_err(|e| {
                self.err(
                    d.span(),
                    format!(
                        "{:?} is not a duration like \"30s\", \"5m\", \"2d 3h\": {e}",
                        d.get_ref()
                    ),
                )
            })
    }

    /// "5m..20m" or a single duration.
    fn think(&self, d: &Text) -> Result<Think, FileError> {
        let (a, b) = d
            .get_ref()
            .split_once("..")
            .unwrap_or((d.get_ref(), d.get_ref()));
        let part = |s: &str| self.duration(&Spanned::new(d.span(), s.to_string()));
        let (a, b) = (part(a)?, part(b)?);
        if b < a {
            return Err(self.err(d.span(), "a range must not end before it starts"));
        }
        Ok((a, b))
    }

    fn id(&self, seen: &mut HashSet<String>, id: &Text, what: &str) -> Result<String, FileError> {
        validate_id(id.get_ref())
            .map_err(|e| self.err(id.span(), format!("{what} id {:?}: {e}", id.get_ref())))?;
        if !seen.insert(id.get_ref().clone()) {
            return Err(self.err(
                id.span(),
                format!("{what} {:?} is declared twice", id.get_ref()),
            ));
        }
        Ok(id.get_ref().clone())
    }

    fn check(&self, raw: RawScenario) -> Result<Scenario, FileError> {
        let start = match &raw.start {
            None => DEFAULT_START,
            Some(s) => humantime::parse_rfc3339_weak(s.get_ref())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as Ms)
                .ok_or_else(|| self.err(s.span(), "not a time like \"2026-11-23T00:00:00Z\""))?,
        };
        let duration = self.duration(&raw.duration)?;
        let detection = detection_config::compile(
            self.path,
            self.src,
            &raw.engine,
            &raw.rule,
            &raw.trend,
            &[],
        )?;

        let mut seen = HashSet::new();
        let tenants = raw
            .tenant
            .iter()
            .map(|t| self.id(&mut seen, &t.id, "tenant"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = HashSet::new();
        let mut projects = Vec::new();
        for p in &raw.project {
            let id = self.id(&mut seen, &p.id, "project")?;
            if !tenants.contains(p.tenant.get_ref()) {
                return Err(self.err(
                    p.tenant.span(),
                    format!("unknown tenant {:?}", p.tenant.get_ref()),
                ));
            }
            projects.push((id, p.tenant.get_ref().clone()));
        }

        let mut prefixes = HashSet::new();
        let mut sites = Vec::new();
        for s in raw.sites {
            if !projects.iter().any(|(p, _)| p == s.project.get_ref()) {
                return Err(self.err(
                    s.project.span(),
                    format!("unknown project {:?}", s.project.get_ref()),
                ));
            }
            let prefix = self.id(&mut prefixes, &s.prefix, "site prefix")?;
            if *s.count.get_ref() == 0 {
                return Err(self.err(s.count.span(), "a site group needs at least one site"));
            }
            let gateway = s.gateway.as_ref().map(|g| self.devices(g)).transpose()?;
            let devices = s
                .devices
                .iter()
                .map(|g| self.devices(g))
                .collect::<Result<Vec<_>, _>>()?;
            if gateway.is_none() && !s.branches.is_empty() {
                return Err(self.err(
                    s.prefix.span(),
                    "`branches` sit behind the site's gateway: give the sites a `gateway`",
                ));
            }
            let branches = s
                .branches
                .iter()
                .map(|b| {
                    Ok(BranchGroup {
                        gateway: self.devices(&b.gateway)?,
                        count: b.count,
                        devices: b.devices.iter().map(|g| self.devices(g)).collect::<Result<
                            Vec<_>,
                            FileError,
                        >>(
                        )?,
                    })
                })
                .collect::<Result<Vec<_>, FileError>>()?;
            sites.push(SiteGroup {
                project: s.project.get_ref().clone(),
                prefix,
                count: *s.count.get_ref(),
                regions: s.regions,
                grid_cells: s.grid_cells,
                gateway,
                devices,
                branches,
            });
        }

        let mut managers = Vec::new();
        let mut seen = HashSet::new();
        for m in raw.manager {
            let id = self.id(&mut seen, &m.id, "manager")?;
            let level = match m.level.get_ref().as_str() {
                "grid" => Level::GridManager,
                "district" => Level::DistrictManager,
                "service_leader" => Level::ServiceLeader,
                other => {
                    return Err(self.err(
                        m.level.span(),
                        format!(
                            "unknown level {other:?}: use \"grid\", \"district\" or \"service_leader\""
                        ),
                    ));
                }
            };
            managers.push(Manager {
                id,
                level,
                reports_to: m.reports_to,
                regions: m.regions,
                grid_cells: m.grid_cells,
            });
        }

        let mut engineers = Vec::new();
        let mut seen = HashSet::new();
        for e in raw.engineers {
            let prefix = self.id(&mut seen, &e.prefix, "engineer prefix")?;
            let shifts = e
                .shifts
                .iter()
                .map(|s| Shift::parse(s.get_ref()).map_err(|m| self.err(s.span(), m)))
                .collect::<Result<Vec<_>, _>>()?;
            engineers.push(EngineerGroup {
                prefix,
                count: e.count,
                regions: e.regions,
                grid_cells: e.grid_cells,
                skills: e.skills,
                shifts,
                shift_texts: e.shifts.iter().map(|s| s.get_ref().clone()).collect(),
                grid_manager: e.grid_manager,
                accept: self.think(&e.accept)?,
                travel: self.think(&e.travel)?,
                repair: self.think(&e.repair)?,
            });
        }

        let faults = raw
            .fault
            .iter()
            .map(|f| self.fault(f, &detection))
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Scenario {
            name: raw.name,
            start,
            duration,
            seed: raw.seed,
            detection,
            tenants,
            projects,
            sites,
            engineers,
            managers,
            faults,
            path: self.path.to_path_buf(),
            src: self.src.to_string(),
        })
    }

    fn devices(&self, g: &RawDevices) -> Result<DeviceGroup, FileError> {
        validate_id(g.kind.get_ref()).map_err(|e| {
            self.err(
                g.kind.span(),
                format!("device kind {:?}: {e}", g.kind.get_ref()),
            )
        })?;
        let every = self.duration(&g.every)?;
        if every < 1_000 || every % 1_000 != 0 {
            return Err(self.err(
                g.every.span(),
                "a report interval is whole seconds, at least 1 s",
            ));
        }
        Ok(DeviceGroup {
            kind: g.kind.get_ref().clone(),
            count: g.count,
            every,
            metrics: g.metrics.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            checks: g.checks.clone(),
        })
    }

    fn fault(&self, f: &RawFault, cfg: &EngineConfig) -> Result<FaultSpec, FileError> {
        let kind = &f.kind;
        let need = |what: &str| {
            self.err(
                kind.span(),
                format!("a {:?} fault needs `{what}`", kind.get_ref()),
            )
        };
        let dur = |d: &Option<Text>| d.as_ref().map(|d| self.duration(d)).transpose();
        let metric = |default: &str| f.metric.clone().unwrap_or_else(|| default.to_string());
        let what = match kind.get_ref().as_str() {
            "dies" => FaultType::Dies,
            "disconnects" => FaultType::Disconnects,
            "uplink_down" => FaultType::UplinkDown {
                with_devices: f.with_devices.as_ref().map_or(0, |n| *n.get_ref()),
            },
            "disk_fills" | "battery_drains" => {
                let fills = kind.get_ref() == "disk_fills";
                let metric = metric(if fills {
                    "disk_used_pct"
                } else {
                    "battery_pct"
                });
                let rate = f.rate.ok_or_else(|| need("rate"))?;
                let dir = if fills {
                    Direction::Above
                } else {
                    Direction::Below
                };
                if !cfg
                    .trends
                    .iter()
                    .any(|t| t.metric == metric && t.direction == dir)
                {
                    return Err(self.err(
                        kind.span(),
                        format!("no [[trend]] watches {metric:?} in that direction: nothing could detect this fault"),
                    ));
                }
                if fills {
                    FaultType::DiskFills { metric, rate }
                } else {
                    FaultType::BatteryDrains { metric, rate }
                }
            }
            "flapping" => FaultType::Flapping {
                period: dur(&f.period)?.ok_or_else(|| need("period"))?,
                lasts: dur(&f.lasts)?.ok_or_else(|| need("lasts"))?,
            },
            "overheats" => {
                let metric = metric("temperature_c");
                let value = f.value.ok_or_else(|| need("value"))?;
                if !cfg
                    .thresholds
                    .iter()
                    .any(|r| r.metric == metric && r.direction.past(value, r.threshold))
                {
                    return Err(self.err(
                        kind.span(),
                        format!("no [[rule]] on {metric:?} is crossed by {value}: nothing could detect this fault"),
                    ));
                }
                FaultType::Overheats {
                    metric,
                    value,
                    lasts: dur(&f.lasts)?,
                }
            }
            "check_fails" => FaultType::CheckFails {
                check: f.check.clone().ok_or_else(|| need("check"))?,
            },
            "maintenance" => FaultType::Maintenance {
                lasts: dur(&f.lasts)?.ok_or_else(|| need("lasts"))?,
            },
            "hub_restart" => FaultType::HubRestart {
                down: dur(&f.down)?.unwrap_or(0),
            },
            other => {
                return Err(self.err(
                    kind.span(),
                    format!(
                        "unknown fault kind {other:?}: use dies, disconnects, uplink_down, \
                         disk_fills, battery_drains, flapping, overheats, check_fails, \
                         maintenance or hub_restart"
                    ),
                ));
            }
        };
        if let (Some(n), false) = (&f.with_devices, kind.get_ref() == "uplink_down") {
            return Err(self.err(n.span(), "`with_devices` is for uplink_down faults"));
        }
        Ok(FaultSpec {
            what,
            at: self.duration(&f.at)?,
            spread: dur(&f.spread)?.unwrap_or(0),
            count: f.count.as_ref().map_or(1, |c| *c.get_ref()),
            device_kind: f.device_kind.clone(),
            project: f.project.clone(),
            customer_after: dur(&f.customer_after)?,
            span: f.count.as_ref().map_or(kind.span(), |c| c.span()),
        })
    }
}
