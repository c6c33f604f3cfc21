//! Probes to uplinks and what their silence proves: an uplink that does not answer within
//! `probe_timeout` is taken as down at once (its silence fault is raised from the probe), and one
//! that turns out alive after all has its ticket withdrawn as a false alarm, the devices behind it
//! placed again on their own.

use super::{Engine, PROBE_RETRY};
use crate::domain::{FaultKind, Ms, TicketId, TicketState, What};

impl Engine {
    /// Asks device `u` for a report now, unless a probe to it is still unanswered and recent.
    pub(crate) fn probe(&mut self, now: Ms, u: u32) {
        if !self.cfg.probe_uplinks {
            return;
        }
        // Asking again before the timeout would only move the verdict further off.
        let patience = PROBE_RETRY.max(self.cfg.probe_timeout);
        let s = &mut self.slots[u as usize];
        let answered = |t: Ms| s.mem.last_report_at.is_some_and(|r| r >= t);
        if s.probed_at
            .is_some_and(|t| now - t < patience && !answered(t))
        {
            return;
        }
        s.probed_at = Some(now);
        self.probes.push(s.info.id.clone());
        // The timeout is a deadline of the uplink's own.
        self.arm(u, now);
    }

    /// When the probe to `d` went out, if it is unanswered past `probe_timeout` at `now`:
    /// nothing came from `d` since, nor from any device behind it (their reports cross it).
    pub(crate) fn unanswered_probe(&self, now: Ms, d: u32) -> Option<Ms> {
        let s = &self.slots[d as usize];
        let sent = s.probed_at?;
        let answered = s.mem.last_report_at.is_some_and(|r| r >= sent);
        if answered || now < sent + self.cfg.probe_timeout || self.heard_through(d, d, sent) {
            return None;
        }
        Some(sent)
    }

    /// When the probe to `d` times out, if one is outstanding: a deadline of the device's own.
    pub(crate) fn probe_wake(&self, d: u32) -> Option<Ms> {
        let s = &self.slots[d as usize];
        let sent = s.probed_at?;
        let answered = s.mem.last_report_at.is_some_and(|r| r >= sent);
        (self.cfg.probe_uplinks && !answered).then_some(sent + self.cfg.probe_timeout)
    }

    /// The device's silence was raised by an unanswered probe, before its own deadline: its
    /// silence fault started before the deadline it would otherwise have started at.
    pub(crate) fn silenced_by_probe(&self, d: u32) -> bool {
        let mem = &self.slots[d as usize].mem;
        let since = mem
            .faults
            .iter()
            .find(|f| f.kind == FaultKind::Silent)
            .and_then(|f| f.raw_since);
        matches!((since, mem.deadline), (Some(s), Some(dl)) if s < dl)
    }

    /// A report from `d` proves `d` alive, and every uplink above it up when it was `sent` (hub
    /// clock).
    /// For one down by an unanswered probe (or `d` itself), its own deadline not yet passed and
    /// nothing else against it, that is either a false alarm (it was alive: the devices behind
    /// it died on their own) or the end of a real outage (the devices behind it are back, or an
    /// engineer worked the ticket).
    /// Cheap when no uplink is down by a probe, which is nearly always.
    pub(crate) fn probe_refuted(&mut self, now: Ms, d: u32, sent: Ms, deadline_before: Option<Ms>) {
        if self.probe_down.is_empty() {
            return;
        }
        let mut at = Some(d);
        for _ in 0..self.slots.len() {
            let Some(u) = at else { break };
            at = self.slots[u as usize].uplink;
            // The uplink's own report answers its probe; traffic from behind it proves the path
            // only if it was sent after the probe went out (a report a slow link delivered late
            // was on its way before).
            let probe_sent = self.slots[u as usize]
                .mem
                .faults
                .iter()
                .find(|f| f.kind == FaultKind::Silent)
                .and_then(|f| f.raw_since);
            let late = u != d && probe_sent.is_some_and(|p| sent < p);
            if late || !self.probe_down.remove(&u) {
                continue;
            }
            // The device's own report carries its new deadline already; the one that counts is
            // the deadline it had before.
            let dl = if u == d {
                deadline_before
            } else {
                self.slots[u as usize].mem.deadline
            };
            // A will (or the deadline passed meanwhile) is evidence of its own: then the ticket
            // was not the probe's alone, and recovery takes its usual course.
            let mem = &self.slots[u as usize].mem;
            let other_evidence = mem
                .faults
                .iter()
                .any(|f| f.kind.is_down() && f.kind != FaultKind::Silent && f.active);
            if dl.is_none_or(|dl| now > dl) || other_evidence {
                continue;
            }
            let ticket = mem
                .faults
                .iter()
                .find(|f| f.kind == FaultKind::Silent)
                .and_then(|f| f.ticket);
            let worked = ticket.is_some_and(|t| {
                self.tickets.get(&t).is_some_and(|tk| {
                    !(tk.state.is_unworked() || tk.state == TicketState::Dispatched)
                })
            });
            let back = ticket.is_some_and(|t| {
                self.slots[d as usize]
                    .mem
                    .faults
                    .iter()
                    .any(|f| f.affected_by == Some(t))
            });
            if ticket.is_none() || worked || back {
                // A real outage, over now: the path carried this report.
                self.path_up(u);
            } else {
                self.withdraw(now, u);
            }
        }
    }

    /// The uplink's silence raised by a probe ends: traffic crossed it. Recovery (confirmation,
    /// the ticket, the devices behind) takes its usual course from here.
    fn path_up(&mut self, u: u32) {
        self.slots[u as usize].probed_at = None;
        if let Some(f) = self.slots[u as usize]
            .mem
            .faults
            .iter_mut()
            .find(|f| f.kind == FaultKind::Silent)
        {
            f.raw_since = None;
        }
        self.dirty_device(u);
    }

    /// Withdraws the ticket of uplink `u` as a false alarm. The devices attached to it are asked
    /// for a report themselves (one may only now be reconnecting): those that do not answer
    /// within the probe timeout are placed again, nearest first, and get their own tickets (or
    /// a nearer uplink's).
    fn withdraw(&mut self, now: Ms, u: u32) {
        self.probe_down.remove(&u);
        self.slots[u as usize].probed_at = None;
        // The devices behind now wait for their own probes, not for this uplink's report.
        self.slots[u as usize].waiting_below = false;
        let Some(i) = self.slots[u as usize]
            .mem
            .faults
            .iter()
            .position(|f| f.kind == FaultKind::Silent)
        else {
            return;
        };
        let f = &mut self.slots[u as usize].mem.faults[i];
        let ticket = f.ticket.take();
        f.raw_since = None;
        f.active = false;
        f.clearing_since = None;
        f.affected_by = None;
        f.topology_wait_until = None;
        self.dirty_device(u);
        let Some(t) = ticket else {
            return;
        };
        let behind = self.release_attached(u, t);
        let id = self.slots[u as usize].info.id.clone();
        let n = behind.len();
        self.finish(
            now,
            t,
            TicketState::Cancelled,
            What::FalseAlarm {
                uplink: id,
                behind: n as u32,
            },
        );
        // A later outage of the uplink is a new problem, not this withdrawn ticket reopened.
        let key = (u, FaultKind::Silent.root());
        if self.last_by_root.get(&key) == Some(&t) {
            self.last_by_root.remove(&key);
        }
        let verdict = now + self.cfg.probe_timeout + 1;
        for &(c, k) in &behind {
            let f = &mut self.slots[c as usize].mem.faults[k];
            if !(f.active && f.ticket.is_none() && f.affected_by.is_none()) {
                continue;
            }
            if f.kind == FaultKind::Silent && self.cfg.probe_uplinks {
                f.topology_wait_until = Some(verdict);
                self.probe(now, c);
            } else {
                self.place(now, c, k);
            }
        }
        // Only now: a touch may drop a device's idle faults and move the indexes above.
        let mut devices: Vec<u32> = behind.iter().map(|&(c, _)| c).collect();
        devices.dedup();
        for c in devices {
            self.touch(now, c);
        }
    }

    /// Detaches every fault below `u` covered by ticket `t`; returns them nearest first.
    fn release_attached(&mut self, u: u32, t: TicketId) -> Vec<(u32, usize)> {
        let mut out = Vec::new();
        let mut queue = std::collections::VecDeque::from(self.children[u as usize].clone());
        while let Some(c) = queue.pop_front() {
            queue.extend(self.children[c as usize].iter().copied());
            for (k, f) in self.slots[c as usize].mem.faults.iter_mut().enumerate() {
                if f.affected_by == Some(t) {
                    f.affected_by = None;
                    out.push((c, k));
                }
            }
        }
        out
    }
}
