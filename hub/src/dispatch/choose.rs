//! Choosing an engineer: on duty now, covering the site's region or grid cell, skilled for the
//! device kind, least open work first, then nearest when locations are known. The reason for the
//! choice is written out for the ticket's timeline.

use crate::engine::Ms;

/// A weekly on-duty window in UTC: `weekdays` bit 0 = Monday … bit 6 = Sunday; minutes of the
/// day; an end before the start runs past midnight into the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shift {
    pub weekdays: u8,
    pub start_min: u16,
    pub end_min: u16,
}

impl Shift {
    pub const ALWAYS: Shift = Shift {
        weekdays: 0x7f,
        start_min: 0,
        end_min: 24 * 60,
    };

    /// Parses `"mon-fri 08:00-18:00"`, `"sat,sun 09:00-13:00"`, `"daily 22:00-06:00"` (an end
    /// before the start runs past midnight) or `"always"`.
    pub fn parse(text: &str) -> Result<Shift, String> {
        const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let usage = "a shift is \"mon-fri 08:00-18:00\", \"sat,sun 09:00-13:00\", \"daily 22:00-06:00\" or \"always\"";
        let text = text.trim().to_ascii_lowercase();
        if text == "always" {
            return Ok(Shift::ALWAYS);
        }
        let (days, hours) = text.split_once(' ').ok_or(usage)?;
        let day = |d: &str| {
            DAYS.iter()
                .position(|x| *x == d.trim())
                .ok_or_else(|| format!("unknown day {d:?}: use mon, tue, wed, thu, fri, sat, sun"))
        };
        let mut weekdays = 0u8;
        if days == "daily" {
            weekdays = 0x7f;
        } else {
            for part in days.split(',') {
                match part.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (day(a)?, day(b)?);
                        let mut d = a;
                        loop {
                            weekdays |= 1 << d;
                            if d == b {
                                break;
                            }
                            d = (d + 1) % 7;
                        }
                    }
                    None => weekdays |= 1 << day(part)?,
                }
            }
        }
        let minute = |t: &str| -> Result<u16, String> {
            let (h, m) = t.trim().split_once(':').ok_or(usage)?;
            match (h.parse::<u16>(), m.parse::<u16>()) {
                (Ok(h), Ok(m)) if (h < 24 && m < 60) || (h == 24 && m == 0) => Ok(h * 60 + m),
                _ => Err(format!("{t:?} is not a time of day (HH:MM)")),
            }
        };
        let (start, end) = hours.trim().split_once('-').ok_or(usage)?;
        let (start_min, end_min) = (minute(start)?, minute(end)?);
        if start_min == end_min {
            return Err("a shift must not start and end at the same time".into());
        }
        Ok(Shift {
            weekdays,
            start_min,
            end_min,
        })
    }

    pub fn covers(&self, now: Ms) -> bool {
        let minutes = now.div_euclid(60_000);
        let minute_of_day = (minutes.rem_euclid(24 * 60)) as u16;
        // 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
        let day = ((minutes.div_euclid(24 * 60) + 3).rem_euclid(7)) as u8;
        let on = |d: u8| self.weekdays & (1 << d) != 0;
        if self.start_min <= self.end_min {
            on(day) && (self.start_min..self.end_min).contains(&minute_of_day)
        } else {
            // Overnight: the evening part belongs to today's shift, the morning part to yesterday's.
            (on(day) && minute_of_day >= self.start_min)
                || (on((day + 6) % 7) && minute_of_day < self.end_min)
        }
    }
}

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
        reason: String,
    },
    /// Nobody eligible: the ticket is unassigned and goes to the grid manager.
    Nobody {
        reason: String,
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
                format!("grid {}", job.grid_cell)
            } else {
                format!("region {}", job.region)
            };
            let near = distance.map_or(String::new(), |d| format!(", {d:.1} km away"));
            Choice::Engineer {
                id: e.id.clone(),
                reason: format!(
                    "chosen: {} — covers {area}, skill {}, {open} open ticket{}{near}",
                    e.id,
                    job.kind,
                    if *open == 1 { "" } else { "s" }
                ),
            }
        }
        None => Choice::Nobody {
            reason: format!(
                "unassigned: no on-duty engineer covers grid {} / region {} with skill {}",
                job.grid_cell, job.region, job.kind
            ),
        },
    }
}
