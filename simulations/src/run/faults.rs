//! What faults do to devices: when a problem starts and ends, what a faulty device reports, and
//! when the hub should have noticed (the problem's `due`).

use super::{BEHIND, DEAD, Event, FLAP, NONE, OFF, RECONNECT, World};
use crate::scenario::FaultType;
use heartline_engine::{HOUR, Input, Ms, Report, applies};
use rand::Rng;

impl World<'_> {
    /// What a device with problem `p` says now, and whether it shows the problem.
    pub(super) fn faulty_report(&self, d: u32, p: usize) -> (Report, bool) {
        let template = &self.fleet.templates[self.fleet.template[d as usize] as usize];
        let mut r = template.report.clone();
        let problem = &self.problems[p];
        let hours = (self.now - problem.start) as f64 / HOUR as f64;
        let bad = crate::symptoms::apply(&mut r, &problem.fault, hours);
        (r, bad)
    }

    /// The hold of the rule a threshold or check problem trips (0 for checks).
    pub(super) fn hold(&self, d: u32, p: usize) -> Option<Ms> {
        crate::symptoms::hold(
            &self.cfg,
            &self.fleet.infos[d as usize],
            &self.problems[p].fault,
        )
    }

    /// When the hub should find device `d` silent if it reports no more: its last report plus
    /// its declared check-in plus grace, pushed to a fresh grace by every restart the deadline
    /// had not passed before (the hub does not count silence it did not witness).
    pub(super) fn silence_due(&self, d: u32) -> Option<Ms> {
        let last = self.last_report[d as usize];
        if last == Ms::MIN {
            return None;
        }
        let span = self.fleet.every(d) + self.grace(d);
        let mut due = last + span;
        for r in &self.restarts {
            let up = r.at + r.down;
            if up <= self.now && r.at <= due && up > last && due <= up + self.reconnect_window(d) {
                due = due.max(up + span);
            }
        }
        Some(due)
    }

    pub(super) fn start(&mut self, p: usize) {
        let d = self.problems[p].device;
        let i = d as usize;
        self.active_at.insert(d, p as u32);
        let last = (self.last_report[i] != Ms::MIN).then_some(self.last_report[i]);
        let deadline = |w: &Self, d: u32| w.silence_due(d);
        let fault = self.problems[p].fault.clone();
        match &fault {
            FaultType::Dies => {
                self.flags[i] |= DEAD;
                self.problems[p].by_silence = true;
                // Dead with its uplink: nobody can tell until the uplink is back (see `finish`).
                if !self.problems[p].with_uplink {
                    self.problems[p].due = last.and(deadline(self, d));
                }
            }
            FaultType::Disconnects => {
                self.flags[i] |= DEAD;
                let id = self.device_id(d);
                if self.handle(Input::Offline { device: &id }) {
                    self.collect();
                    self.problems[p].due = Some(self.now + self.cfg.offline_hold);
                } else {
                    // The will went to a hub that was down: only the silence can tell.
                    self.problems[p].by_silence = true;
                    self.problems[p].due = deadline(self, d);
                }
            }
            FaultType::UplinkDown { .. } => {
                self.flags[i] |= DEAD;
                self.problems[p].by_silence = true;
                for &c in &self.problems[p].devices[1..] {
                    self.flags[c as usize] |= BEHIND;
                }
                self.problems[p].due = deadline(self, d);
                self.problems[p].first_due = self.problems[p]
                    .devices
                    .iter()
                    .filter_map(|&c| deadline(self, c))
                    .min();
            }
            FaultType::DiskFills { metric, rate } | FaultType::BatteryDrains { metric, rate } => {
                self.fault_of[i] = p as u32;
                let info = &self.fleet.infos[i];
                let limit = self
                    .cfg
                    .trends
                    .iter()
                    .find(|t| {
                        &t.metric == metric
                            && applies(&t.kinds, &t.projects, &info.kind, &info.project)
                    })
                    .map(|t| t.limit);
                let from = self.fleet.healthy(d, metric);
                if let (Some(limit), Some(from)) = (limit, from) {
                    let hours = (limit - from).abs() / rate.abs().max(f64::EPSILON);
                    self.problems[p].fail_at = Some(self.now + (hours * HOUR as f64) as Ms);
                }
            }
            FaultType::Overheats { lasts, .. } => {
                self.fault_of[i] = p as u32;
                if let Some(l) = lasts {
                    self.schedule(self.now + l, Event::End(p as u32));
                }
            }
            FaultType::CheckFails { .. } => self.fault_of[i] = p as u32,
            FaultType::Flapping { lasts, .. } => {
                self.schedule(self.now + lasts, Event::End(p as u32));
                self.flap(p, true);
            }
            FaultType::Maintenance { lasts } => {
                for c in self.problems[p].devices.clone() {
                    self.flags[c as usize] |= OFF;
                }
                self.schedule(self.now + lasts, Event::End(p as u32));
            }
            FaultType::HubRestart { .. } => unreachable!("not a problem"),
        }
    }

    pub(super) fn flap(&mut self, p: usize, down: bool) {
        if self.problems[p].end.is_some() {
            return;
        }
        let FaultType::Flapping { period, .. } = self.problems[p].fault else {
            return;
        };
        let d = self.problems[p].device;
        let id = self.device_id(d);
        if down {
            self.flags[d as usize] |= FLAP;
            self.handle(Input::Offline { device: &id });
            if self.problems[p].due.is_none() {
                self.problems[p].due = Some(self.now + self.cfg.offline_hold);
            }
        } else {
            self.flags[d as usize] &= !FLAP;
            self.handle(Input::Online { device: &id });
            self.wake(d, self.now);
        }
        self.collect();
        self.schedule(self.now + period / 2, Event::Flap(p as u32, !down));
    }

    /// The problem is over: repaired by an engineer, or ended by itself.
    pub(super) fn finish(&mut self, p: usize, repaired: bool) {
        if self.problems[p].end.is_some() {
            return;
        }
        let now = self.now;
        let problem = &mut self.problems[p];
        problem.end = Some(now);
        problem.repaired = repaired;
        let d = problem.device;
        let devices = problem.devices.clone();
        let fault = problem.fault.clone();
        self.active_at.remove(&d);
        self.fault_of[d as usize] = NONE;
        match fault {
            FaultType::Dies | FaultType::Disconnects | FaultType::Flapping { .. } => {
                let was_off = self.flags[d as usize] != 0;
                self.flags[d as usize] &= !(DEAD | FLAP);
                if was_off {
                    let id = self.device_id(d);
                    self.handle(Input::Online { device: &id });
                    self.collect();
                    self.wake(d, now);
                }
            }
            FaultType::UplinkDown { .. } => {
                self.flags[d as usize] &= !DEAD;
                self.wake(d, now);
                for c in devices[1..].iter().copied() {
                    self.flags[c as usize] &= !BEHIND;
                    let back = now + self.rng.random_range(1..RECONNECT);
                    self.wake(c, back);
                    // A device that died with the uplink: the hub confirms the uplink's recovery
                    // (its first report now, plus `recovery_confirm`), then gives the device
                    // behind it a fresh check-in and grace, then finds it silent.
                    let dead = self.active_at.get(&c).copied();
                    if let Some(q) = dead.filter(|&q| self.problems[q as usize].with_uplink) {
                        let span = self.fleet.every(c) + self.grace(c);
                        self.problems[q as usize].due =
                            Some(now + self.cfg.recovery_confirm + span);
                    }
                }
            }
            FaultType::Maintenance { .. } => {
                for c in devices {
                    self.flags[c as usize] &= !OFF;
                    let back = now + self.rng.random_range(1..RECONNECT);
                    self.wake(c, back);
                }
            }
            _ => {}
        }
    }
}
