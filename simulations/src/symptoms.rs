//! What a faulty device says: its healthy report changed by the fault it has (a metric drifting
//! or stuck past a limit, a check reporting CRIT). Shared by the virtual-time run and real mode.

use crate::scenario::FaultType;
use heartline_engine::{CheckResult, DeviceInfo, EngineConfig, Ms, Report, applies};
use heartline_proto::CheckState;

/// Changes `r` (a healthy report) as `fault` does `hours` after it began; true when the report
/// now shows the problem. Faults that silence a device leave the report as it is.
pub fn apply(r: &mut Report, fault: &FaultType, hours: f64) -> bool {
    let set = |r: &mut Report, metric: &str, f: &dyn Fn(f64) -> f64| {
        for m in r.metrics.iter_mut().filter(|m| m.name == metric) {
            m.value = f(m.value);
        }
    };
    match fault {
        FaultType::DiskFills { metric, rate } => {
            set(r, metric, &|v| (v + rate * hours).min(100.0));
        }
        FaultType::BatteryDrains { metric, rate } => {
            set(r, metric, &|v| (v - rate * hours).max(0.0));
        }
        FaultType::Overheats { metric, value, .. } => set(r, metric, &|_| *value),
        FaultType::CheckFails { check } => {
            r.checks.retain(|c| &c.name != check);
            r.checks.push(CheckResult {
                name: check.clone(),
                state: CheckState::Crit,
                message: "failing (simulated)".into(),
            });
        }
        _ => return false,
    }
    true
}

/// The hold of the rule a threshold or check fault of `device` trips (0 for checks); `None` for
/// faults no rule watches.
pub fn hold(cfg: &EngineConfig, device: &DeviceInfo, fault: &FaultType) -> Option<Ms> {
    match fault {
        FaultType::Overheats { metric, value, .. } => cfg
            .thresholds
            .iter()
            .find(|r| {
                &r.metric == metric
                    && r.direction.past(*value, r.threshold)
                    && applies(&r.kinds, &r.projects, &device.kind, &device.project)
            })
            .map(|r| r.hold),
        FaultType::CheckFails { .. } => Some(0),
        _ => None,
    }
}
