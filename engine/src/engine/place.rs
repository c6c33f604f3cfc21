//! Where an active fault goes: its own ticket, the ticket of a failed uplink (as *affected*),
//! nowhere yet during maintenance or planned downtime, or a wait for the uplink's verdict
//! (with a probe to the uplink) before a silent device behind it gets a ticket of its own.

use super::{Engine, TICK};
use crate::domain::{FaultKind, Ms, Ticket, TicketId, TicketState, What};

impl Engine {
    /// Decides where an active fault belongs. Idempotent: called again whenever that may change.
    pub(crate) fn place(&mut self, now: Ms, d: u32, i: usize) {
        let kind = self.slots[d as usize].mem.faults[i].kind.clone();
        let planned = self.slots[d as usize]
            .mem
            .planned_until
            .is_some_and(|p| now <= p);
        if self.in_maintenance(d, now) || (kind.is_down() && planned) {
            self.slots[d as usize].mem.faults[i].suppressed = true;
            return;
        }
        self.slots[d as usize].mem.faults[i].suppressed = false;
        if kind.is_down() {
            if let Some(t) = self.uplink_down_ticket(d) {
                self.attach_affected(now, d, i, t);
                return;
            }
            if self.topology_wait(now, d, i).is_some() {
                // Ask first: the wait ends with the probes' timeout, not the uplinks' deadlines.
                for u in self.uplinks_to_probe(d, i) {
                    self.probe(now, u);
                }
                if let Some(wait) = self.topology_wait(now, d, i) {
                    self.slots[d as usize].mem.faults[i].topology_wait_until = Some(wait);
                    self.mark_waiting(d);
                    return;
                }
            }
        }
        self.slots[d as usize].mem.faults[i].topology_wait_until = None;
        let t = self.open_or_attach(now, d, i);
        if kind.is_down() {
            self.adopt_children(now, d, t);
        }
    }

    /// The ticket of the nearest uplink (up the chain) whose device is down, if any.
    fn uplink_down_ticket(&self, d: u32) -> Option<TicketId> {
        let mut at = self.slots[d as usize].uplink;
        for _ in 0..self.slots.len() {
            let u = at?;
            let down = self.slots[u as usize]
                .mem
                .faults
                .iter()
                .find(|f| f.active && f.kind.is_down());
            if let Some(f) = down {
                // Not a ticket that is over (one the uplink's fault still names while it clears).
                let unfinished = |t: &TicketId| {
                    self.tickets
                        .get(t)
                        .is_some_and(|tk| !tk.state.is_terminal())
                };
                if let Some(t) = f.ticket.or(f.affected_by).filter(unfinished) {
                    return Some(t);
                }
            }
            at = self.slots[u as usize].uplink;
        }
        None
    }

    /// A silent device behind an uplink waits until the uplink's own deadline has passed, so
    /// that a gateway going down yields one ticket, not one per device behind it. No wait once
    /// the nearest uplink was heard from after the device was *due* (its last report plus its
    /// declared check-in, or the probe it did not answer): the path carried traffic when the
    /// device's report should have crossed it, so the device itself is at fault. An uplink
    /// further up heard from proves the path above it only; the nearer ones still decide.
    ///
    /// Hearing the uplink after the device's last report is not enough: the uplink may have died
    /// between that and the device's due time, and a device due a few seconds after its gateway
    /// died would get its own ticket, merged into the gateway's moments later (the partition test
    /// and the simulator's storm showed exactly that). A gateway that reports less often than
    /// the grace period would leave the device waiting for its next report; so every uplink on
    /// the path, unless failing already, is probed at once (`uplinks_to_probe`), and one that
    /// does not answer within `probe_timeout` is down (`probe`): the wait ends one probe
    /// timeout after the device's deadline, not at `topology_wait_max`.
    fn topology_wait(&self, now: Ms, d: u32, i: usize) -> Option<Ms> {
        let f = &self.slots[d as usize].mem.faults[i];
        if f.kind != FaultKind::Silent {
            return None;
        }
        let limit = f.active_since + self.cfg.topology_wait_max;
        let mut wait: Option<Ms> = None;
        for u in self.path_in_question(d, i) {
            let up = &self.slots[u as usize].mem;
            let verdict = if self.uplink_failing(now, u) {
                // A failing uplink not yet placed is re-checked each tick, not each millisecond.
                now + TICK
            } else {
                let probed = self.probe_wake(u).map(|p| p + 1);
                let own = up.deadline.map(|dl| dl + 1);
                match (probed, own) {
                    (Some(p), Some(o)) => p.min(o),
                    (Some(p), None) | (None, Some(p)) => p,
                    // Not heard from since the hub knew it (a new gateway, say): no deadline of
                    // its own, so only a probe can tell; the caller sends one.
                    (None, None) if self.cfg.probe_uplinks => now + self.cfg.probe_timeout + 1,
                    (None, None) => now,
                }
            };
            if verdict > now {
                wait = Some(wait.map_or(verdict, |w| w.max(verdict)));
            }
        }
        wait.map(|w| w.min(limit)).filter(|&w| w > now)
    }

    /// The uplinks above silent device `d` (fault `i`) that could explain its silence: up the
    /// chain, nearest first, until one that was heard from (or through) after `d` was due.
    /// Traffic from an uplink proves the path from it up, not the uplinks between it and `d`.
    fn path_in_question(&self, d: u32, i: usize) -> Vec<u32> {
        let f = &self.slots[d as usize].mem.faults[i];
        let mem = &self.slots[d as usize].mem;
        let due = mem
            .last_report_at
            .map_or(Ms::MIN, |t| t.saturating_add(mem.checkin));
        // Silent by an unanswered probe: it was due to answer then.
        let due = f.raw_since.map_or(due, |s| due.min(s));
        let mut out = Vec::new();
        let mut at = self.slots[d as usize].uplink;
        for _ in 0..self.slots.len() {
            let Some(u) = at else { break };
            let up = &self.slots[u as usize].mem;
            if up.last_report_at.is_some_and(|t| t > due) || self.heard_through(u, d, due) {
                break;
            }
            out.push(u);
            at = self.slots[u as usize].uplink;
        }
        out
    }

    /// Whether uplink `u` is failing already (a down condition holds) or past its deadline and
    /// not yet marked silent (the same tick may handle it next).
    fn uplink_failing(&self, now: Ms, u: u32) -> bool {
        let up = &self.slots[u as usize].mem;
        up.faults
            .iter()
            .any(|f| f.kind.is_down() && f.raw_since.is_some())
            || up.deadline.is_some_and(|dl| dl < now)
    }

    /// The uplinks to ask for a report now for waiting device `d` (fault `i`): every one in
    /// question, so that nested uplinks get their verdicts in one probe timeout (the nearest
    /// failing one then takes the ticket); not those failing already, nor those heard from.
    pub(crate) fn uplinks_to_probe(&self, d: u32, i: usize) -> Vec<u32> {
        let now = self.last_now();
        let mut out = self.path_in_question(d, i);
        out.retain(|&u| !self.uplink_failing(now, u));
        out
    }

    /// Flags every uplink above `d`: a report from any of them may answer `d`'s wait.
    pub(crate) fn mark_waiting(&mut self, d: u32) {
        let mut at = self.slots[d as usize].uplink;
        for _ in 0..self.slots.len() {
            let Some(u) = at else { break };
            self.slots[u as usize].waiting_below = true;
            at = self.slots[u as usize].uplink;
        }
    }

    /// Whether another device behind `u` (not `d`) sent a report after `due` that arrived: it
    /// crossed `u` then, so the path through `u` was up. (A report sent before and delivered
    /// late by a slow link proves nothing about `u` after `due`.)
    pub(crate) fn heard_through(&self, u: u32, d: u32, due: Ms) -> bool {
        let mut stack = self.children[u as usize].clone();
        while let Some(c) = stack.pop() {
            if c != d
                && self.slots[c as usize]
                    .mem
                    .heard_sent()
                    .is_some_and(|t| t > due)
            {
                return true;
            }
            stack.extend(self.children[c as usize].iter().copied());
        }
        false
    }

    fn attach_affected(&mut self, now: Ms, d: u32, i: usize, t: TicketId) {
        let id = self.slots[d as usize].info.id.clone();
        // A ticket raised by an unanswered probe says so: nobody knows yet that it is dead.
        let how = match self
            .tickets
            .get(&t)
            .and_then(|tk| self.device_index(&tk.device))
        {
            Some(u) if self.silenced_by_probe(u) => "uplink not answering",
            _ => "uplink down",
        };
        let f = &mut self.slots[d as usize].mem.faults[i];
        f.affected_by = Some(t);
        f.topology_wait_until = None;
        self.with_ticket(t, |tk| {
            if !tk.affected.contains(&id) {
                tk.affected.push(id);
                tk.updated_at = now;
                if tk.root.is_down() {
                    // Says what the problem is: one unreachable uplink, not one device.
                    tk.title = format!(
                        "{}: {how}, {} device(s) behind it unreachable",
                        tk.device,
                        tk.affected.len()
                    );
                }
            }
        });
    }

    /// Devices below `d` that are down and not yet explained by it are attached to its ticket;
    /// their own not-yet-worked tickets are merged into it.
    fn adopt_children(&mut self, now: Ms, d: u32, t: TicketId) {
        let mut stack = self.children[d as usize].clone();
        while let Some(c) = stack.pop() {
            stack.extend(self.children[c as usize].iter().copied());
            let n = self.slots[c as usize].mem.faults.len();
            for i in 0..n {
                let f = &self.slots[c as usize].mem.faults[i];
                // Attached to a ticket that is over: a nearer uplink's, merged into this one
                // just now (the property test found grandchildren left on it).
                let orphaned = f
                    .affected_by
                    .is_some_and(|a| self.tickets.get(&a).is_none_or(|tk| tk.state.is_terminal()));
                if !(f.active && f.kind.is_down() && (f.affected_by.is_none() || orphaned)) {
                    continue;
                }
                if let Some(own) = f.ticket {
                    let unaccepted =
                        |tk: &Ticket| tk.state.is_unworked() || tk.state == TicketState::Dispatched;
                    if !self.tickets.get(&own).is_some_and(unaccepted) {
                        continue;
                    }
                    let up = self.slots[d as usize].info.id.clone();
                    self.finish(
                        now,
                        own,
                        TicketState::Cancelled,
                        What::Merged {
                            into: t,
                            uplink: up,
                        },
                    );
                    self.slots[c as usize].mem.faults[i].ticket = None;
                }
                self.attach_affected(now, c, i, t);
                self.dirty_device(c);
            }
        }
    }
}
