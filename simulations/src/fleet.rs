//! A scenario's fleet laid out: every device with its site, uplink and report template, the
//! dispatch roster, and engineers with their think times.

use crate::scenario::{DeviceGroup, Scenario, Think};
use heartline_engine::dispatch::{Engineer, Roster, SiteArea};
use heartline_engine::{CheckResult, DeviceInfo, MetricValue, Ms, Report};
use heartline_proto::CheckState;
use std::collections::HashMap;

/// Devices of one group share a healthy report: the simulator mutates a copy only while a fault
/// changes what the device says.
#[derive(Debug, Clone)]
pub struct Template {
    pub kind: String,
    pub every: Ms,
    pub report: Report,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub id: String,
    pub project: String,
    /// Device indexes: the gateway (if any) first.
    pub devices: Vec<u32>,
    pub gateway: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct SimEngineer {
    pub id: String,
    pub accept: Think,
    pub travel: Think,
    pub repair: Think,
}

pub struct Fleet {
    pub infos: Vec<DeviceInfo>,
    pub template: Vec<u16>,
    pub templates: Vec<Template>,
    pub site_of: Vec<u32>,
    pub sites: Vec<Site>,
    /// Devices directly behind each gateway (empty for everything else).
    pub children: Vec<Vec<u32>>,
    pub index: HashMap<String, u32>,
    pub roster: Roster,
    pub engineers: Vec<SimEngineer>,
    pub engineer_index: HashMap<String, u16>,
}

fn template(g: &DeviceGroup) -> Template {
    Template {
        kind: g.kind.clone(),
        every: g.every,
        report: Report {
            boot_id: 1,
            sequence: 0,
            sent_at_ms: 0,
            received_at_ms: 0,
            next_checkin_s: (g.every / 1_000) as u32,
            metrics: g
                .metrics
                .iter()
                .map(|(name, value)| MetricValue {
                    name: name.clone(),
                    instance: String::new(),
                    value: *value,
                    unit: String::new(),
                })
                .collect(),
            checks: g
                .checks
                .iter()
                .map(|c| CheckResult {
                    name: c.clone(),
                    state: CheckState::Ok,
                    message: "ok".into(),
                })
                .collect(),
            events: Vec::new(),
        },
    }
}

impl Fleet {
    pub fn build(s: &Scenario) -> Fleet {
        let mut f = Fleet {
            infos: Vec::new(),
            template: Vec::new(),
            templates: Vec::new(),
            site_of: Vec::new(),
            sites: Vec::new(),
            children: Vec::new(),
            index: HashMap::new(),
            roster: Roster::default(),
            engineers: Vec::new(),
            engineer_index: HashMap::new(),
        };
        let tenant_of: HashMap<&str, &str> = s
            .projects
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        for group in &s.sites {
            let gw_template = group.gateway.as_ref().map(|g| {
                f.templates.push(template(g));
                f.templates.len() as u16 - 1
            });
            let first = f.templates.len() as u16;
            f.templates.extend(group.devices.iter().map(template));
            // Per branch group: its gateway's template, then its devices'.
            let branch_templates: Vec<u16> = group
                .branches
                .iter()
                .map(|b| {
                    let at = f.templates.len() as u16;
                    f.templates.push(template(&b.gateway));
                    f.templates.extend(b.devices.iter().map(template));
                    at
                })
                .collect();
            for i in 0..group.count {
                let site_id = format!("{}-{i:04}", group.prefix);
                let region = if group.regions.is_empty() {
                    String::new()
                } else {
                    group.regions[i % group.regions.len()].clone()
                };
                let grid_cell = if group.grid_cells == 0 || region.is_empty() {
                    String::new()
                } else {
                    let n = (i / group.regions.len()) % group.grid_cells;
                    format!("{region}-g{n}")
                };
                f.roster.sites.insert(
                    site_id.clone(),
                    SiteArea {
                        region,
                        grid_cell,
                        location: None,
                    },
                );
                let site_idx = f.sites.len() as u32;
                let mut site = Site {
                    id: site_id.clone(),
                    project: group.project.clone(),
                    devices: Vec::new(),
                    gateway: None,
                };
                let add = |f: &mut Fleet, id: String, t: u16, uplink: Option<u32>| -> u32 {
                    let d = f.infos.len() as u32;
                    f.infos.push(DeviceInfo {
                        id: id.clone(),
                        tenant: tenant_of[group.project.as_str()].to_string(),
                        project: group.project.clone(),
                        site: site_id.clone(),
                        kind: f.templates[t as usize].kind.clone(),
                        uplink: uplink.map(|u| f.infos[u as usize].id.clone()),
                    });
                    f.template.push(t);
                    f.site_of.push(site_idx);
                    f.children.push(Vec::new());
                    if let Some(u) = uplink {
                        f.children[u as usize].push(d);
                    }
                    f.index.insert(id, d);
                    d
                };
                let gw = gw_template.map(|t| add(&mut f, format!("{site_id}-gw"), t, None));
                site.gateway = gw;
                site.devices.extend(gw);
                for (j, g) in group.devices.iter().enumerate() {
                    for n in 0..g.count {
                        let id = format!("{site_id}-{}{n}", g.kind);
                        site.devices.push(add(&mut f, id, first + j as u16, gw));
                    }
                }
                for (b, at) in group.branches.iter().zip(&branch_templates) {
                    for n in 0..b.count {
                        let bid = format!("{site_id}-{}{n}", b.gateway.kind);
                        let bgw = add(&mut f, bid.clone(), *at, gw);
                        site.devices.push(bgw);
                        for (j, g) in b.devices.iter().enumerate() {
                            for k in 0..g.count {
                                let id = format!("{bid}-{}{k}", g.kind);
                                let t = at + 1 + j as u16;
                                site.devices.push(add(&mut f, id, t, Some(bgw)));
                            }
                        }
                    }
                }
                f.sites.push(site);
            }
        }
        for g in &s.engineers {
            for i in 0..g.count {
                let id = format!("{}-{i:02}", g.prefix);
                f.engineer_index
                    .insert(id.clone(), f.engineers.len() as u16);
                f.engineers.push(SimEngineer {
                    id: id.clone(),
                    accept: g.accept,
                    travel: g.travel,
                    repair: g.repair,
                });
                if !g.grid_manager.is_empty() {
                    f.roster
                        .grid_manager_of
                        .insert(id.clone(), g.grid_manager.clone());
                }
                f.roster.engineers.push(Engineer {
                    id,
                    regions: g.regions.clone(),
                    grid_cells: g.grid_cells.clone(),
                    skills: g.skills.clone(),
                    shifts: g.shifts.clone(),
                    location: None,
                });
            }
        }
        f.roster.managers = s.managers.clone();
        f
    }

    pub fn len(&self) -> usize {
        self.infos.len()
    }

    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }

    pub fn is_gateway(&self, d: u32) -> bool {
        !self.children[d as usize].is_empty()
    }

    /// Every device behind `d`, nearest first.
    pub fn behind(&self, d: u32) -> Vec<u32> {
        let mut out = self.children[d as usize].clone();
        let mut i = 0;
        while i < out.len() {
            out.extend_from_slice(&self.children[out[i] as usize]);
            i += 1;
        }
        out
    }

    pub fn every(&self, d: u32) -> Ms {
        self.templates[self.template[d as usize] as usize].every
    }

    pub fn kind(&self, d: u32) -> &str {
        &self.infos[d as usize].kind
    }

    /// The healthy value of `metric` in the device's reports, if it reports it.
    pub fn healthy(&self, d: u32, metric: &str) -> Option<f64> {
        self.templates[self.template[d as usize] as usize]
            .report
            .metrics
            .iter()
            .find(|m| m.name == metric)
            .map(|m| m.value)
    }
}
