//! The detection part of `hub.toml` (`[engine]`, `[[rule]]`, `[[trend]]`, `[[maintenance]]`),
//! validated with the line of each mistake and turned into [`EngineConfig`].

use crate::diagnostic::FileError;
use crate::domain::{Maintenance, Ms};
use crate::rules::{Direction, EngineConfig, ThresholdRule, TrendRule};
use heartline_proto::Severity;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use toml::Spanned;

type Duration = Spanned<String>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    pub heartbeat_grace: Option<Duration>,
    pub offline_hold: Option<Duration>,
    pub recovery_confirm: Option<Duration>,
    pub flap_window: Option<Duration>,
    pub flap_count: Option<usize>,
    pub reopen_window: Option<Duration>,
    pub verify: Option<Duration>,
    pub topology_wait_max: Option<Duration>,
    pub probe_uplinks: Option<bool>,
    pub probe_timeout: Option<Duration>,
    pub stall_threshold: Option<Duration>,
    pub down_severity: Option<Severity>,
    pub check_warn_severity: Option<Severity>,
    pub check_crit_severity: Option<Severity>,
    pub event_severity: Option<Severity>,
    #[serde(default)]
    pub project_grace: BTreeMap<String, Duration>,
    #[serde(default)]
    pub down_severity_by_kind: BTreeMap<String, Severity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    pub name: Spanned<String>,
    pub metric: String,
    #[serde(default)]
    pub instance: String,
    pub above: Option<Spanned<f64>>,
    pub below: Option<Spanned<f64>>,
    /// Hysteresis: the level the value must get back past; default the threshold itself.
    pub clear: Option<Spanned<f64>>,
    #[serde(rename = "for")]
    pub hold: Option<Duration>,
    pub severity: Severity,
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub projects: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendSettings {
    pub name: Spanned<String>,
    pub metric: String,
    #[serde(default)]
    pub instance: String,
    /// The limit the metric is heading up to, or down to.
    pub above: Option<Spanned<f64>>,
    pub below: Option<Spanned<f64>>,
    pub horizon: Duration,
    pub window: Duration,
    #[serde(default = "default_min_samples")]
    pub min_samples: usize,
    pub severity: Severity,
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub projects: Vec<String>,
}

fn default_min_samples() -> usize {
    6
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceSettings {
    pub scope: String,
    pub from: Spanned<String>,
    pub until: Spanned<String>,
    #[serde(default)]
    pub reason: String,
}

/// Checks the detection settings against `src` (for line numbers) and compiles them.
pub fn compile(
    path: &Path,
    src: &str,
    engine: &EngineSettings,
    rules: &[RuleSettings],
    trends: &[TrendSettings],
    maintenance: &[MaintenanceSettings],
) -> Result<EngineConfig, FileError> {
    let err = |span: std::ops::Range<usize>, msg: String| FileError::at(path, src, Some(span), msg);
    let dur = |d: &Duration| -> Result<Ms, FileError> {
        humantime::parse_duration(d.get_ref())
            .map(|d| d.as_millis() as Ms)
            .map_err(|e| {
                err(
                    d.span(),
                    format!(
                        "{:?} is not a duration like \"30s\", \"5m\", \"24h\": {e}",
                        d.get_ref()
                    ),
                )
            })
    };
    let mut c = EngineConfig::default();
    let set = |slot: &mut Ms, d: &Option<Duration>| -> Result<(), FileError> {
        if let Some(d) = d {
            *slot = dur(d)?;
        }
        Ok(())
    };
    set(&mut c.heartbeat_grace, &engine.heartbeat_grace)?;
    set(&mut c.offline_hold, &engine.offline_hold)?;
    set(&mut c.recovery_confirm, &engine.recovery_confirm)?;
    set(&mut c.flap_window, &engine.flap_window)?;
    set(&mut c.reopen_window, &engine.reopen_window)?;
    set(&mut c.verify, &engine.verify)?;
    set(&mut c.topology_wait_max, &engine.topology_wait_max)?;
    set(&mut c.stall_threshold, &engine.stall_threshold)?;
    set(&mut c.probe_timeout, &engine.probe_timeout)?;
    c.probe_uplinks = engine.probe_uplinks.unwrap_or(c.probe_uplinks);
    c.flap_count = engine.flap_count.unwrap_or(c.flap_count).max(2);
    c.down_severity = engine.down_severity.unwrap_or(c.down_severity);
    c.check_warn_severity = engine.check_warn_severity.unwrap_or(c.check_warn_severity);
    c.check_crit_severity = engine.check_crit_severity.unwrap_or(c.check_crit_severity);
    c.event_severity = engine.event_severity.unwrap_or(c.event_severity);
    for (project, d) in &engine.project_grace {
        c.project_grace.insert(project.clone(), dur(d)?);
    }
    c.down_severity_by_kind = engine.down_severity_by_kind.clone().into_iter().collect();

    // Rule and trend names share one namespace; each needs exactly one direction.
    let mut names = HashSet::new();
    let mut header = |what: &str,
                      name: &Spanned<String>,
                      above: &Option<Spanned<f64>>,
                      below: &Option<Spanned<f64>>| {
        if !names.insert(name.get_ref().clone()) {
            return Err(err(
                name.span(),
                format!("rule {:?} is declared twice", name.get_ref()),
            ));
        }
        direction(above, below).ok_or_else(|| {
            err(
                name.span(),
                format!(
                    "{what} {:?} needs exactly one of `above` or `below`",
                    name.get_ref()
                ),
            )
        })
    };
    for r in rules {
        let (direction, threshold) = header("rule", &r.name, &r.above, &r.below)?;
        let clear = r
            .clear
            .as_ref()
            .map_or(*threshold.get_ref(), |c| *c.get_ref());
        let wrong_side = match direction {
            Direction::Above => clear > *threshold.get_ref(),
            Direction::Below => clear < *threshold.get_ref(),
        };
        if wrong_side {
            let span = r.clear.as_ref().map_or(threshold.span(), |c| c.span());
            return Err(err(
                span,
                format!(
                    "`clear` must be on the healthy side of the threshold {}",
                    threshold.get_ref()
                ),
            ));
        }
        c.thresholds.push(ThresholdRule {
            name: r.name.get_ref().clone(),
            metric: r.metric.clone(),
            instance: r.instance.clone(),
            direction,
            threshold: *threshold.get_ref(),
            clear,
            hold: r.hold.as_ref().map(&dur).transpose()?.unwrap_or(0),
            severity: r.severity,
            kinds: r.kinds.clone(),
            projects: r.projects.clone(),
        });
    }
    for t in trends {
        let (direction, limit) = header("trend", &t.name, &t.above, &t.below)?;
        c.trends.push(TrendRule {
            name: t.name.get_ref().clone(),
            metric: t.metric.clone(),
            instance: t.instance.clone(),
            direction,
            limit: *limit.get_ref(),
            horizon: dur(&t.horizon)?,
            window: dur(&t.window)?,
            min_samples: t.min_samples.max(2),
            severity: t.severity,
            kinds: t.kinds.clone(),
            projects: t.projects.clone(),
        });
    }
    for m in maintenance {
        let time = |s: &Spanned<String>| -> Result<Ms, FileError> {
            humantime::parse_rfc3339_weak(s.get_ref())
                .map_err(|e| {
                    err(
                        s.span(),
                        format!(
                            "{:?} is not a time like \"2026-12-01T02:00:00Z\": {e}",
                            s.get_ref()
                        ),
                    )
                })?
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as Ms)
                .map_err(|_| err(s.span(), "times before 1970 are not supported".into()))
        };
        let (from, until) = (time(&m.from)?, time(&m.until)?);
        if until <= from {
            return Err(err(m.until.span(), "`until` must be after `from`".into()));
        }
        c.maintenance.push(Maintenance {
            scope: m.scope.clone(),
            from,
            until,
            reason: m.reason.clone(),
        });
    }
    Ok(c)
}

fn direction(
    above: &Option<Spanned<f64>>,
    below: &Option<Spanned<f64>>,
) -> Option<(Direction, Spanned<f64>)> {
    match (above, below) {
        (Some(a), None) => Some((Direction::Above, a.clone())),
        (None, Some(b)) => Some((Direction::Below, b.clone())),
        _ => None,
    }
}
