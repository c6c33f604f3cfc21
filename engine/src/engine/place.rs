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
            if let Some((wait, ask)) = self.topology_wait(now, d, i) {
                self.slots[d as usize].mem.faults[i].topology_wait_until = Some(wait);
                self.mark_waiting(d);
                if let Some(u) = ask {
                    self.probe(now, u);
                }
                return;
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
                if let Some(t) = f.ticket.or(f.affected_by) {
                    return Some(t);
                }
            }
            at = self.slots[u as usize].uplink;
        }
        None
    }

    /// A silent device behind an uplink waits until the uplink's own deadline has passed, so
    /// that a gateway going down yields one ticket, not one per device behind it. No wait once an
    /// uplink was heard from after the device was *due* (its last report plus its declared
    /// check-in): the path carried traffic when the device's report should have crossed it, so
    /// the device itself is at fault.
    ///
    /// Hearing the uplink after the device's last report is not enough: the uplink may have died
    /// between that and the device's due time, and a device due a few seconds after its gateway
    /// died would get its own ticket, merged into the gateway's moments later (the partition test
    /// and the simulator's storm showed exactly that). The price: a death behind a gateway that
    /// reports less often than the grace period would wait for the gateway's next report (at
    /// most `topology_wait_max`); so the nearest uplink, unless it is failing already, is also
    /// returned to be probed for a report now.
    fn topology_wait(&self, now: Ms, d: u32, i: usize) -> Option<(Ms, Option<u32>)> {
        let f = &self.slots[d as usize].mem.faults[i];
        if f.kind != FaultKind::Silent {
            return None;
        }
        let mem = &self.slots[d as usize].mem;
        let due = mem
            .last_report_at
            .map_or(Ms::MIN, |t| t.saturating_add(mem.checkin));
        let limit = f.active_since + self.cfg.topology_wait_max;
        let mut wait: Option<Ms> = None;
        let mut ask = None;
        let mut at = self.slots[d as usize].uplink;
        for _ in 0..self.slots.len() {
            let Some(u) = at else { break };
            let up = &self.slots[u as usize].mem;
            if up.last_report_at.is_some_and(|t| t > due) || self.heard_through(u, d, due) {
                return None;
            }
            let failing = up
                .faults
                .iter()
                .any(|f| f.kind.is_down() && f.raw_since.is_some());
            // Past its deadline but not yet marked silent: the same tick may handle it next.
            let overdue = up.deadline.is_some_and(|dl| dl < now);
            // A failing uplink not yet placed is re-checked each tick, not each millisecond.
            let verdict = if failing || overdue {
                now + TICK
            } else {
                up.deadline.map_or(now, |dl| dl + 1)
            };
            if verdict > now {
                wait = Some(wait.map_or(verdict, |w| w.max(verdict)));
            }
            if Some(u) == self.slots[d as usize].uplink && !failing && !overdue {
                ask = Some(u);
            }
            at = self.slots[u as usize].uplink;
        }
        wait.map(|w| w.min(limit))
            .filter(|&w| w > now)
            .map(|w| (w, ask))
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

    /// Whether another device behind `u` (not `d`) was heard after `due`: its reports crossed
    /// `u`, so the path through `u` is up.
    fn heard_through(&self, u: u32, d: u32, due: Ms) -> bool {
        let mut stack = self.children[u as usize].clone();
        while let Some(c) = stack.pop() {
            if c != d
                && self.slots[c as usize]
                    .mem
                    .last_report_at
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
                        "{}: uplink down, {} device(s) behind it unreachable",
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
                if !(f.active && f.kind.is_down() && f.affected_by.is_none()) {
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
