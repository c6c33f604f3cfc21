//! The people dispatch works with: engineers, the managers above them, and where sites are. Built
//! from the inventory; the engine asks it who can take a ticket and who to escalate to.

use super::choose::{Engineer, Job};
use super::ladder::Managers;
use crate::domain::Level;
use std::collections::HashMap;

/// A manager on the escalation ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Manager {
    pub id: String,
    /// Grid manager, district manager or service leader.
    pub level: Level,
    /// The next manager up the ladder (empty for a service leader).
    pub reports_to: String,
    /// The areas a grid manager answers for: where an unassigned ticket goes.
    pub regions: Vec<String>,
    pub grid_cells: Vec<String>,
}

/// Where a site is, for choosing an engineer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteArea {
    pub region: String,
    pub grid_cell: String,
    pub location: Option<(f64, f64)>,
}

/// Engineers, managers and sites: everything the dispatch policy reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roster {
    pub engineers: Vec<Engineer>,
    /// Each engineer's grid manager, by engineer id.
    pub grid_manager_of: HashMap<String, String>,
    pub managers: Vec<Manager>,
    pub sites: HashMap<String, SiteArea>,
}

impl Roster {
    /// Whether there is anyone to dispatch to at all; a hub without engineers only detects.
    pub fn is_empty(&self) -> bool {
        self.engineers.is_empty()
    }

    /// The job of repairing a device of `kind` at `site`.
    pub fn job(&self, site: &str, kind: &str) -> Job {
        let area = self.sites.get(site).cloned().unwrap_or_default();
        Job {
            region: area.region,
            grid_cell: area.grid_cell,
            kind: kind.to_string(),
            location: area.location,
        }
    }

    fn manager(&self, id: &str) -> Option<&Manager> {
        self.managers.iter().find(|m| m.id == id)
    }

    /// The grid manager answering for the job's area: by grid cell first, then by region.
    fn grid_manager_for(&self, job: &Job) -> Option<&Manager> {
        let grid = self
            .managers
            .iter()
            .filter(|m| m.level == Level::GridManager);
        let by_cell = grid
            .clone()
            .find(|m| !job.grid_cell.is_empty() && m.grid_cells.contains(&job.grid_cell));
        by_cell.or_else(|| {
            grid.clone()
                .find(|m| !job.region.is_empty() && m.regions.contains(&job.region))
        })
    }

    /// The ladder above a ticket: the assigned engineer's own chain, else the chain of the grid
    /// manager covering the area, else the first service leader (so an escalation always reaches
    /// someone). Missing rungs are empty strings.
    pub fn chain(&self, engineer: Option<&str>, job: &Job) -> Managers {
        let start = engineer
            .and_then(|e| self.grid_manager_of.get(e))
            .and_then(|m| self.manager(m))
            .or_else(|| self.grid_manager_for(job));
        let mut chain = Managers {
            grid_manager: String::new(),
            district_manager: String::new(),
            service_leader: String::new(),
        };
        let mut at = start;
        for _ in 0..=self.managers.len() {
            let Some(m) = at else { break };
            match m.level {
                Level::GridManager if chain.grid_manager.is_empty() => {
                    chain.grid_manager = m.id.clone()
                }
                Level::DistrictManager if chain.district_manager.is_empty() => {
                    chain.district_manager = m.id.clone()
                }
                Level::ServiceLeader if chain.service_leader.is_empty() => {
                    chain.service_leader = m.id.clone()
                }
                _ => {}
            }
            at = self.manager(&m.reports_to);
        }
        if chain.service_leader.is_empty() {
            if let Some(m) = self
                .managers
                .iter()
                .find(|m| m.level == Level::ServiceLeader)
            {
                chain.service_leader = m.id.clone();
            }
        }
        chain
    }
}
