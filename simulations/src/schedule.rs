//! The fault schedule made concrete with the seeded RNG: which devices, sites or gateways each
//! fault hits and when. The result is the run's ground truth, one [`Problem`] per real problem
//! (an uplink down with fifty devices behind it is one problem). Each device takes part in at
//! most one problem, so the scoring can attribute every ticket without guessing; the one
//! exception is a device that dies with its uplink (`with_devices`): a problem of its own too,
//! which the hub can only find once the uplink is back, so its ticket comes after the uplink's
//! problem is over and is attributed by time.

use crate::fleet::Fleet;
use crate::scenario::{FaultType, Scenario};
use heartline_engine::diagnostic::FileError;
use heartline_engine::{Ms, applies};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Which kind of ticket a problem should produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// The device is unreachable (silent or its connection lost).
    Down,
    Threshold,
    Check,
    Trend,
    /// Planned work: no ticket is the right answer.
    Planned,
}

/// One real problem and what the hub should make of it.
#[derive(Debug, Clone)]
pub struct Problem {
    pub fault: FaultType,
    pub class: Class,
    /// The root device (the gateway of an uplink fault; the first device of a maintained site).
    pub device: u32,
    /// Every device the problem touches.
    pub devices: Vec<u32>,
    pub start: Ms,
    /// When it was over: repaired, or ended by itself.
    pub end: Option<Ms>,
    pub repaired: bool,
    /// When the hub should have opened its ticket by its own documented rules (the declared
    /// deadline: last report + declared check-in + grace; a will + offline hold; the first bad
    /// report + the rule's hold). `None` where that is not defined (trends, planned work).
    pub due: Option<Ms>,
    /// `due` is a silence deadline (which a hub restart pushes to a fresh grace).
    pub by_silence: bool,
    /// Trends: when the metric reaches the rule's limit.
    pub fail_at: Option<Ms>,
    pub customer_at: Option<Ms>,
    /// The first report that showed the problem (thresholds and checks).
    pub first_bad: Option<Ms>,
    /// A device that died with its uplink: due only once the uplink is back.
    pub with_uplink: bool,
    /// Uplink faults: the earliest declared deadline among the gateway and the devices behind
    /// it, the first moment any system watching them could notice.
    pub first_due: Option<Ms>,
}

impl Problem {
    fn new(
        fault: FaultType,
        class: Class,
        devices: Vec<u32>,
        start: Ms,
        customer_at: Option<Ms>,
    ) -> Problem {
        Problem {
            fault,
            class,
            device: devices[0],
            devices,
            start,
            end: None,
            repaired: false,
            due: None,
            by_silence: false,
            fail_at: None,
            customer_at,
            first_bad: None,
            with_uplink: false,
            first_due: None,
        }
    }

    pub fn expects_ticket(&self) -> bool {
        self.class != Class::Planned
    }
    /// Whether a ticket of this root kind answers this problem.
    pub fn matches(&self, root: &heartline_engine::FaultKind) -> bool {
        use heartline_engine::FaultKind as K;
        match self.class {
            Class::Down | Class::Planned => root.is_down(),
            Class::Threshold => matches!(root, K::Threshold { .. }),
            Class::Check => matches!(root, K::Check { .. }),
            Class::Trend => matches!(root, K::Trend { .. }),
        }
    }
}

/// A hub restart: down at `at` for `down`.
#[derive(Debug, Clone, Copy)]
pub struct Restart {
    pub at: Ms,
    pub down: Ms,
}

pub struct Plan {
    pub problems: Vec<Problem>,
    pub restarts: Vec<Restart>,
}

/// Draws the schedule. Errors point at a fault that asks for more devices than fit it.
pub fn plan(s: &Scenario, fleet: &Fleet, rng: &mut ChaCha8Rng) -> Result<Plan, FileError> {
    let mut reserved = vec![false; fleet.len()];
    let mut plan = Plan {
        problems: Vec::new(),
        restarts: Vec::new(),
    };
    for spec in &s.faults {
        let draw_start = |rng: &mut ChaCha8Rng| {
            s.start
                + spec.at
                + if spec.spread > 0 {
                    rng.random_range(0..spec.spread)
                } else {
                    0
                }
        };
        if let FaultType::HubRestart { down } = spec.what {
            for _ in 0..spec.count {
                plan.restarts.push(Restart {
                    at: draw_start(rng),
                    down,
                });
            }
            continue;
        }
        let wanted = |d: u32| {
            let info = &fleet.infos[d as usize];
            spec.device_kind.as_ref().is_none_or(|k| *k == info.kind)
                && spec.project.as_ref().is_none_or(|p| *p == info.project)
        };
        // Candidate groups of devices: the first is the root.
        let candidates: Vec<Vec<u32>> = match &spec.what {
            FaultType::UplinkDown { with_devices } => (0..fleet.len() as u32)
                .filter(|&d| fleet.is_gateway(d) && wanted(d))
                .map(|d| {
                    let mut all = vec![d];
                    all.extend(fleet.behind(d));
                    all
                })
                .filter(|all| {
                    let leaves = all[1..].iter().filter(|&&c| !fleet.is_gateway(c)).count();
                    leaves >= *with_devices
                })
                .collect(),
            FaultType::Maintenance { .. } => fleet
                .sites
                .iter()
                .filter(|site| site.devices.first().is_some_and(|&d| wanted(d)))
                .map(|site| site.devices.clone())
                .collect(),
            what => (0..fleet.len() as u32)
                .filter(|&d| !fleet.is_gateway(d) && wanted(d) && fits(s, fleet, d, what))
                .map(|d| vec![d])
                .collect(),
        };
        let mut free: Vec<Vec<u32>> = candidates
            .into_iter()
            .filter(|g| g.iter().all(|&d| !reserved[d as usize]))
            .collect();
        if free.len() < spec.count {
            return Err(s.error_at(
                spec.span.clone(),
                format!(
                    "{} {} fault(s) asked for, but only {} free {} fit (each device takes part in one problem)",
                    spec.count,
                    spec.what.name(),
                    free.len(),
                    if matches!(spec.what, FaultType::Maintenance { .. }) {
                        "sites"
                    } else {
                        "devices"
                    }
                ),
            ));
        }
        for _ in 0..spec.count {
            let group = free.swap_remove(rng.random_range(0..free.len()));
            for &d in &group {
                reserved[d as usize] = true;
            }
            let start = draw_start(rng);
            let class = match spec.what {
                FaultType::Dies
                | FaultType::Disconnects
                | FaultType::UplinkDown { .. }
                | FaultType::Flapping { .. } => Class::Down,
                FaultType::DiskFills { .. } | FaultType::BatteryDrains { .. } => Class::Trend,
                FaultType::Overheats { .. } => Class::Threshold,
                FaultType::CheckFails { .. } => Class::Check,
                FaultType::Maintenance { .. } => Class::Planned,
                FaultType::HubRestart { .. } => unreachable!("handled above"),
            };
            if let FaultType::UplinkDown { with_devices } = spec.what {
                let mut leaves: Vec<u32> = group[1..]
                    .iter()
                    .copied()
                    .filter(|&c| !fleet.is_gateway(c))
                    .collect();
                for _ in 0..with_devices {
                    let c = leaves.swap_remove(rng.random_range(0..leaves.len()));
                    plan.problems.push(Problem {
                        with_uplink: true,
                        ..Problem::new(FaultType::Dies, Class::Down, vec![c], start, None)
                    });
                }
            }
            let customer_at = spec.customer_after.map(|c| start + c);
            plan.problems.push(Problem::new(
                spec.what.clone(),
                class,
                group,
                start,
                customer_at,
            ));
        }
    }
    plan.problems.sort_by_key(|p| p.start);
    plan.restarts.sort_by_key(|r| r.at);
    Ok(plan)
}

/// Whether a device fault can happen to `d` and be seen: it reports the metric (or check) and a
/// rule on that metric applies to its kind and project.
fn fits(s: &Scenario, fleet: &Fleet, d: u32, what: &FaultType) -> bool {
    let info = &fleet.infos[d as usize];
    let cfg = &s.detection;
    match what {
        FaultType::DiskFills { metric, .. } | FaultType::BatteryDrains { metric, .. } => {
            fleet.healthy(d, metric).is_some()
                && cfg.trends.iter().any(|t| {
                    &t.metric == metric && applies(&t.kinds, &t.projects, &info.kind, &info.project)
                })
        }
        FaultType::Overheats { metric, value, .. } => {
            fleet.healthy(d, metric).is_some()
                && cfg.thresholds.iter().any(|r| {
                    &r.metric == metric
                        && r.direction.past(*value, r.threshold)
                        && applies(&r.kinds, &r.projects, &info.kind, &info.project)
                })
        }
        FaultType::CheckFails { check } => fleet.templates[fleet.template[d as usize] as usize]
            .report
            .checks
            .iter()
            .any(|c| &c.name == check),
        _ => true,
    }
}
