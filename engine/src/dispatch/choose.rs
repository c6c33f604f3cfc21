//! Choosing an engineer: on duty now, covering the site's region or grid cell, skilled for the
//! device kind, least open work first, then nearest when locations are known. The reason for the
//! choice is written out for the ticket's timeline.

use crate::domain::{Area, Ms, Pick, Shift, What};

#[derive(Debug, Clone, PartialEq)]
pub struct Engineer {
    pub id: String,
    pub regions: Vec<String>,
    pub grid_cells: Vec<String>,
    /// Device kinds the engineer can repair.
    pub skills: Vec<String>,
    pub shifts: Vec<Shift>,
    /// Latitude, longitude in degrees, when known.
    pub location: Option<(f64, f64)>,
}

/// What needs an engineer.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub region: String,
    pub grid_cell: String,
    pub kind: String,
    pub location: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    Engineer {
        id: String,
        reason: What,
    },
    /// Nobody eligible: the ticket is unassigned and goes to the grid manager.
    Nobody {
        reason: What,
    },
}

/// Great-circle distance in km (haversine).
fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6_371.0 * h.sqrt().asin()
}

/// Picks the engineer for `job` at `now`. `load` gives each engineer's open tickets; `exclude`
/// lists engineers who declined or let the offer lapse.
pub fn choose(
    now: Ms,
    job: &Job,
    roster: &[Engineer],
    load: &dyn Fn(&str) -> usize,
    exclude: &[String],
) -> Choice {
    let covers = |e: &Engineer| {
        (!job.grid_cell.is_empty() && e.grid_cells.contains(&job.grid_cell))
            || (!job.region.is_empty() && e.regions.contains(&job.region))
    };
    let mut eligible: Vec<(&Engineer, usize, Option<f64>)> = roster
        .iter()
        .filter(|e| !exclude.contains(&e.id))
        .filter(|e| {
            covers(e) && e.skills.contains(&job.kind) && e.shifts.iter().any(|s| s.covers(now))
        })
        .map(|e| {
            (
                e,
                load(&e.id),
                e.location.zip(job.location).map(|(a, b)| km(a, b)),
            )
        })
        .collect();
    eligible.sort_by(|a, b| {
        a.1.cmp(&b.1)
            .then(a.2.unwrap_or(f64::MAX).total_cmp(&b.2.unwrap_or(f64::MAX)))
            .then(a.0.id.cmp(&b.0.id))
    });
    match eligible.first() {
        Some((e, open, distance)) => {
            let area = if !job.grid_cell.is_empty() && e.grid_cells.contains(&job.grid_cell) {
                Area::Grid(job.grid_cell.clone())
            } else {
                Area::Region(job.region.clone())
            };
            Choice::Engineer {
                id: e.id.clone(),
                reason: What::Chosen(Pick {
                    engineer: e.id.clone(),
                    area,
                    skill: job.kind.clone(),
                    open: *open as u32,
                    km_tenths: distance.map(|d| (d * 10.0).round() as u32),
                }),
            }
        }
        None => Choice::Nobody {
            reason: What::NobodyEligible {
                grid_cell: job.grid_cell.clone(),
                region: job.region.clone(),
                skill: job.kind.clone(),
            },
        },
    }
}
