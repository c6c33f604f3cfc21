//! What each input says about a device's conditions: reports (heartbeat, thresholds, checks,
//! events, trends), wills, goodbyes, and the passage of time.

use super::Engine;
use crate::domain::{EventKind, Fault, FaultKind, Ms, Report, Series};
use crate::rules::{Direction, applies};
use heartline_proto::{CheckState, Severity};

/// Points kept per trend series; samples closer together than `window / MAX_POINTS` are skipped,
/// which keeps the fit cheap and the persisted memory small whatever the report rate.
const MAX_POINTS: usize = 32;

impl Engine {
    /// The fault of `kind` on device `d`, created if absent.
    pub(crate) fn fault_mut(&mut self, d: u32, kind: &FaultKind, severity: Severity) -> &mut Fault {
        let faults = &mut self.slots[d as usize].mem.faults;
        match faults.iter().position(|f| &f.kind == kind) {
            Some(i) => &mut faults[i],
            None => {
                faults.push(Fault::new(kind.clone(), severity));
                faults.last_mut().expect("just pushed")
            }
        }
    }

    /// Sets whether a condition holds now; `since` is when it started when it was not yet known.
    fn set_raw(
        &mut self,
        d: u32,
        kind: FaultKind,
        severity: Severity,
        holds: bool,
        since: Ms,
        detail: String,
    ) {
        if !holds
            && !self.slots[d as usize]
                .mem
                .faults
                .iter()
                .any(|f| f.kind == kind)
        {
            return;
        }
        let f = self.fault_mut(d, &kind, severity);
        if holds {
            f.raw_since.get_or_insert(since);
            f.detail = detail;
            f.severity = f.severity.max(severity);
        } else {
            f.raw_since = None;
        }
    }

    pub(crate) fn on_report(&mut self, now: Ms, d: u32, report: &Report) {
        let grace = self.grace(d);
        let deadline_before = self.slots[d as usize].mem.deadline;
        let sent = {
            let mem = &mut self.slots[d as usize].mem;
            mem.last_report_at = Some(now);
            mem.checkin = report.next_checkin_s as Ms * 1_000;
            mem.deadline = Some(now + mem.checkin + grace);
            mem.planned_until = None;
            mem.sent(now, report.boot_id, report.sent_at_ms)
        };
        // A report proves the device is alive and connected.
        self.set_raw(
            d,
            FaultKind::Offline,
            self.cfg.down_severity,
            false,
            now,
            String::new(),
        );
        self.thresholds(now, d, report);
        self.checks(now, d, report);
        self.events(now, d, report);
        self.trends(now, d, report);
        self.probe_refuted(now, d, sent, deadline_before);
        self.uplink_heard(now, d);
    }

    /// Devices behind `d` waiting to know whether `d` is down get their answer now: the path
    /// is up, so their silence is their own (placed at once rather than at the wait's end).
    fn uplink_heard(&mut self, now: Ms, d: u32) {
        if !std::mem::take(&mut self.slots[d as usize].waiting_below) {
            return;
        }
        let mut stack = self.children[d as usize].clone();
        while let Some(c) = stack.pop() {
            stack.extend(self.children[c as usize].iter().copied());
            let mut waiting = false;
            for f in &mut self.slots[c as usize].mem.faults {
                if f.topology_wait_until.is_some_and(|w| w > now) {
                    f.topology_wait_until = Some(now);
                    waiting = true;
                }
            }
            if waiting {
                self.touch(now, c);
            }
        }
    }

    pub(crate) fn on_online(&mut self, now: Ms, d: u32) {
        // Back from a goodbye or a long absence: expect a report within its check-in from now.
        self.slots[d as usize].mem.planned_until = None;
        self.fresh_grace(d, now);
        self.set_raw(
            d,
            FaultKind::Offline,
            self.cfg.down_severity,
            false,
            now,
            String::new(),
        );
    }

    pub(crate) fn on_offline(&mut self, now: Ms, d: u32) {
        if self.slots[d as usize]
            .mem
            .planned_until
            .is_some_and(|p| p > now)
        {
            return; // the will of a device that said goodbye
        }
        let sev = self.down_severity(d);
        self.set_raw(
            d,
            FaultKind::Offline,
            sev,
            true,
            now,
            "the broker published the device's last will".into(),
        );
    }

    pub(crate) fn on_goodbye(&mut self, now: Ms, d: u32, back_in_s: u32) {
        let until = if back_in_s == 0 {
            Ms::MAX
        } else {
            now + back_in_s as Ms * 1_000 + self.grace(d)
        };
        let mem = &mut self.slots[d as usize].mem;
        mem.planned_until = Some(until);
        // Expect it back by then; silence after that is a fault again.
        if until != Ms::MAX {
            mem.deadline = Some(until);
        }
        self.set_raw(
            d,
            FaultKind::Offline,
            self.cfg.down_severity,
            false,
            now,
            String::new(),
        );
    }

    pub(crate) fn down_severity(&self, d: u32) -> Severity {
        let kind = &self.slots[d as usize].info.kind;
        self.cfg
            .down_severity_by_kind
            .get(kind)
            .copied()
            .unwrap_or(self.cfg.down_severity)
    }

    fn thresholds(&mut self, now: Ms, d: u32, report: &Report) {
        for m in &report.metrics {
            for k in self.thresholds_by_metric.get(&m.name) {
                let r = self.thresholds_by_metric.rule(k);
                let rule = &self.cfg.thresholds[r];
                let info = &self.slots[d as usize].info;
                if !applies(&rule.kinds, &rule.projects, &info.kind, &info.project)
                    || !(rule.instance.is_empty() || rule.instance == m.instance)
                {
                    continue;
                }
                let existing = self.slots[d as usize].mem.faults.iter().find(|f| {
                    matches!(&f.kind, FaultKind::Threshold { rule: name, instance } if *name == rule.name && *instance == m.instance)
                });
                // Hysteresis: once over the threshold, it holds until the value is past `clear`.
                let holding = existing.is_some_and(|f| f.raw_since.is_some());
                let limit = if holding { rule.clear } else { rule.threshold };
                let holds = rule.direction.past(m.value, limit);
                if !holds && existing.is_none() {
                    continue; // the common case: healthy, nothing to remember
                }
                let key = FaultKind::Threshold {
                    rule: rule.name.clone(),
                    instance: m.instance.clone(),
                };
                let op = if rule.direction == Direction::Above {
                    ">"
                } else {
                    "<"
                };
                let detail = if holds {
                    format!(
                        "{} = {} {} ({op} {})",
                        m.name, m.value, m.unit, rule.threshold
                    )
                } else {
                    String::new()
                };
                let severity = rule.severity;
                self.set_raw(d, key, severity, holds, now, detail);
            }
        }
    }

    fn checks(&mut self, now: Ms, d: u32, report: &Report) {
        for c in &report.checks {
            let severity = match c.state {
                CheckState::Ok => self.cfg.check_warn_severity,
                CheckState::Warn => self.cfg.check_warn_severity,
                CheckState::Crit => self.cfg.check_crit_severity,
                // The check could not run: no news about what it watches.
                CheckState::Unknown => continue,
            };
            let key = FaultKind::Check {
                name: c.name.clone(),
            };
            let detail = format!("{} {}: {}", c.name, c.state.as_str(), c.message);
            self.set_raw(d, key, severity, c.state.is_failing(), now, detail);
        }
    }

    fn events(&mut self, now: Ms, d: u32, report: &Report) {
        for e in &report.events {
            let worth_a_ticket = matches!(
                e.kind,
                EventKind::WatchdogReset
                    | EventKind::PowerLoss
                    | EventKind::Brownout
                    | EventKind::Crash
            );
            if !worth_a_ticket || self.in_maintenance(d, now) {
                continue;
            }
            let detail = if e.detail.is_empty() {
                format!("{:?}", e.kind)
            } else {
                format!("{:?}: {}", e.kind, e.detail)
            };
            // Latched: it stays until a person resolves the ticket.
            self.set_raw(
                d,
                FaultKind::Event { kind: e.kind },
                self.cfg.event_severity,
                true,
                now,
                detail,
            );
        }
    }

    fn trends(&mut self, now: Ms, d: u32, report: &Report) {
        for m in &report.metrics {
            for k in self.trends_by_metric.get(&m.name) {
                let r = self.trends_by_metric.rule(k);
                let rule = &self.cfg.trends[r];
                let info = &self.slots[d as usize].info;
                if !applies(&rule.kinds, &rule.projects, &info.kind, &info.project)
                    || !(rule.instance.is_empty() || rule.instance == m.instance)
                {
                    continue;
                }
                // Series are keyed by rule name: rules sharing a name share one.
                let first = self.cfg.trends[..r]
                    .iter()
                    .position(|x| x.name == rule.name)
                    .unwrap_or(r) as u32;
                let series = &mut self.slots[d as usize].mem.series;
                let i = match series.iter().position(|s| {
                    (s.rule_index == first
                        || s.rule_index == Series::RULE_UNKNOWN && s.rule == rule.name)
                        && s.instance == m.instance
                }) {
                    Some(i) => i,
                    None => {
                        series.push(Series {
                            rule: rule.name.clone(),
                            instance: m.instance.clone(),
                            points: Vec::new(),
                            rule_index: first,
                        });
                        series.len() - 1
                    }
                };
                series[i].rule_index = first;
                let points = &mut series[i].points;
                let spacing = rule.window / MAX_POINTS as Ms;
                if points.last().is_some_and(|&(t, _)| now - t < spacing) {
                    continue;
                }
                points.push((now, m.value));
                points.retain(|(t, _)| now - t <= rule.window);
                if points.len() > MAX_POINTS {
                    points.remove(0);
                }
                let eta = predict(points, rule.direction, rule.limit, rule.min_samples);
                let holds = eta.is_some_and(|eta| eta.saturating_sub(now) <= rule.horizon);
                let known = self.slots[d as usize].mem.faults.iter().any(|f| {
                    matches!(&f.kind, FaultKind::Trend { rule: name, instance } if *name == rule.name && *instance == m.instance)
                });
                if !holds && !known {
                    continue; // the common case: nothing heading anywhere
                }
                let key = FaultKind::Trend {
                    rule: rule.name.clone(),
                    instance: m.instance.clone(),
                };
                let detail = format!("{} heading for {} {}", m.name, rule.limit, m.unit);
                let severity = rule.severity;
                self.set_raw(d, key.clone(), severity, holds, now, detail);
                if holds {
                    self.fault_mut(d, &key, severity).predicted_at = eta;
                }
            }
        }
    }

    /// Silence: whether the device is past its deadline (and not in planned downtime), or has
    /// not answered a probe in time. Only a report (or planned downtime) ends a silence: one
    /// raised by a probe holds although the deadline is still ahead.
    fn silence(&mut self, now: Ms, d: u32) {
        let mem = &self.slots[d as usize].mem;
        let planned = mem.planned_until.is_some_and(|p| now <= p);
        let late = mem.deadline.filter(|&dl| now > dl && !planned);
        let silent_since = mem
            .faults
            .iter()
            .find(|f| f.kind == FaultKind::Silent)
            .map(|f| f.raw_since);
        let probed = match (late, planned) {
            (None, false) if self.slots[d as usize].probed_at.is_some() => {
                self.unanswered_probe(now, d)
            }
            _ => None,
        };
        if late.is_none() && probed.is_none() && silent_since.is_none() {
            return;
        }
        let mem = &self.slots[d as usize].mem;
        let sev = self.down_severity(d);
        match (late, probed) {
            (Some(dl), _) => {
                let detail = format!(
                    "no report for {} s (declared check-in {} s)",
                    (now - dl + mem.checkin) / 1_000,
                    mem.checkin / 1_000
                );
                self.set_raw(d, FaultKind::Silent, sev, true, dl, detail);
            }
            (None, Some(sent)) => {
                let detail = format!(
                    "did not answer a probe within {} s (declared check-in {} s)",
                    self.cfg.probe_timeout / 1_000,
                    mem.checkin / 1_000
                );
                self.set_raw(d, FaultKind::Silent, sev, true, sent, detail);
                self.probe_down.insert(d);
            }
            (None, None) => {
                let unanswered = silent_since
                    .flatten()
                    .is_some_and(|s| mem.last_report_at.is_none_or(|r| r < s));
                if planned || !unanswered {
                    self.set_raw(d, FaultKind::Silent, sev, false, now, String::new());
                }
            }
        }
    }

    pub(crate) fn hold(&self, d: u32, kind: &FaultKind) -> Ms {
        let _ = d;
        match kind {
            FaultKind::Offline => self.cfg.offline_hold,
            FaultKind::Threshold { rule, .. } => self
                .cfg
                .thresholds
                .iter()
                .find(|r| &r.name == rule)
                .map_or(0, |r| r.hold),
            _ => 0,
        }
    }

    /// Re-evaluates every condition of the device at `now`.
    pub(crate) fn step_device(&mut self, now: Ms, d: u32) {
        self.silence(now, d);
        let mut i = 0;
        while i < self.slots[d as usize].mem.faults.len() {
            self.step_fault(now, d, i);
            let f = &self.slots[d as usize].mem.faults[i];
            if f.is_idle() && f.ticket.is_none() && f.affected_by.is_none() {
                let gone = self.slots[d as usize].mem.faults.remove(i);
                // A resolved ticket waiting for this fault to go can start verifying now.
                if let Some(&t) = self.open_by_root.get(&(d, gone.kind.root())) {
                    self.verification_may_start(now, t);
                }
            } else {
                i += 1;
            }
        }
    }

    /// When this device next needs a look, if ever.
    pub(crate) fn device_wake(&self, d: u32, now: Ms) -> Option<Ms> {
        let mem = &self.slots[d as usize].mem;
        let mut wake: Option<Ms> = None;
        let mut at = |t: Ms| {
            if t > now {
                wake = Some(wake.map_or(t, |w: Ms| w.min(t)));
            }
        };
        if let Some(dl) = mem.deadline {
            at(dl.saturating_add(1));
        }
        if let Some(p) = mem.planned_until.filter(|&p| p != Ms::MAX) {
            at(p.saturating_add(1));
        }
        for f in &mem.faults {
            if let (Some(since), false) = (f.raw_since, f.active) {
                at(since + self.hold(d, &f.kind));
            }
            if let Some(c) = f.clearing_since {
                let quiet = if f.flapping {
                    self.cfg.flap_window
                } else {
                    self.cfg.recovery_confirm
                };
                at(c + quiet);
            }
            if let Some(w) = f.topology_wait_until {
                at(w);
            }
        }
        if let Some(p) = self.probe_wake(d) {
            at(p);
        }
        wake
    }
}

/// Least-squares fit of the points; the time the line reaches `limit`, if it is heading there.
pub fn predict(
    points: &[(Ms, f64)],
    direction: Direction,
    limit: f64,
    min_samples: usize,
) -> Option<Ms> {
    if points.len() < min_samples.max(2) {
        return None;
    }
    let n = points.len() as f64;
    let t0 = points[0].0;
    let (mut st, mut sv) = (0.0, 0.0);
    for &(t, v) in points {
        st += (t - t0) as f64;
        sv += v;
    }
    let (mt, mv) = (st / n, sv / n);
    let (mut cov, mut var) = (0.0, 0.0);
    for &(t, v) in points {
        let dt = (t - t0) as f64 - mt;
        cov += dt * (v - mv);
        var += dt * dt;
    }
    if var == 0.0 {
        return None;
    }
    let slope = cov / var; // per ms
    let heading = match direction {
        Direction::Above => slope > 0.0,
        Direction::Below => slope < 0.0,
    };
    if !heading {
        return None;
    }
    let (last_t, _) = *points.last().expect("at least two points");
    // Fitted value at the last point, so one noisy sample does not swing the prediction.
    let fitted = mv + slope * ((last_t - t0) as f64 - mt);
    let remaining = (limit - fitted) / slope;
    Some(last_t.saturating_add(remaining.max(0.0) as Ms))
}
