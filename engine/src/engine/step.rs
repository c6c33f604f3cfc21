//! One fault's course at `now`: hold, activation, flapping, and recovery, with what recovery
//! does to the fault's ticket and to the devices behind a recovered uplink.

use super::Engine;
use crate::domain::{Actor, FaultKind, Ms, TicketState, What};

impl Engine {
    /// Advances one fault at `now`: hold, activation, flapping, recovery.
    pub(crate) fn step_fault(&mut self, now: Ms, d: u32, i: usize) {
        let hold = self.hold(d, &self.slots[d as usize].mem.faults[i].kind);
        let (flap_window, flap_count, confirm) = (
            self.cfg.flap_window,
            self.cfg.flap_count,
            self.cfg.recovery_confirm,
        );
        let f = &mut self.slots[d as usize].mem.faults[i];
        match (f.raw_since, f.active) {
            (Some(since), false) if now >= since + hold => {
                f.active = true;
                f.active_since = now;
                f.clearing_since = None;
                f.toggles.retain(|&t| now - t < flap_window);
                f.toggles.push(now);
                self.place(now, d, i);
            }
            (Some(_), true) if f.clearing_since.is_some() => {
                // Back before recovery was confirmed: the same fault, one more toggle.
                f.clearing_since = None;
                f.toggles.retain(|&t| now - t < flap_window);
                f.toggles.push(now);
                let became_flapping = !f.flapping && f.toggles.len() >= flap_count;
                f.flapping |= became_flapping;
                let (ticket, kind) = (f.ticket, f.kind.clone());
                if let Some(t) = ticket {
                    if became_flapping {
                        self.with_ticket(t, |tk| {
                            tk.flapping = true;
                            let what = What::Flapping {
                                changes: flap_count as u32,
                                window_min: flap_window / 60_000,
                            };
                            tk.note(now, Actor::System, what);
                        });
                    }
                    self.fault_returned(now, t, &kind);
                }
            }
            (Some(_), true) => {
                // Not placed yet: maintenance may have ended, or the wait for the uplink is over.
                let unplaced = f.ticket.is_none() && f.affected_by.is_none();
                if unplaced && (f.suppressed || f.topology_wait_until.is_none_or(|w| now >= w)) {
                    self.place(now, d, i);
                }
            }
            (None, true) if f.ticket.is_none() && f.affected_by.is_none() => {
                // Never reached anyone (maintenance, planned downtime, waiting for the uplink):
                // nothing to confirm, it is simply over.
                self.recovered(now, d, i);
            }
            (None, true) => {
                let since = *f.clearing_since.get_or_insert(now);
                let quiet = if f.flapping { flap_window } else { confirm };
                if now >= since + quiet {
                    self.recovered(now, d, i);
                } else if since == now {
                    if let Some(t) = f.ticket {
                        self.verification_may_start(now, t);
                    }
                }
            }
            _ => {}
        }
    }

    /// The fault's condition stayed away long enough: the fault is over.
    fn recovered(&mut self, now: Ms, d: u32, i: usize) {
        let f = &mut self.slots[d as usize].mem.faults[i];
        f.active = false;
        f.clearing_since = None;
        f.flapping = false;
        f.suppressed = false;
        f.topology_wait_until = None;
        let (ticket, kind) = (f.ticket.take(), f.kind.clone());
        f.affected_by = None;
        // Another fault of the same root cause still holds (a flapping link is both silent and
        // disconnected): the ticket stays open and goes with it.
        let sibling = self.slots[d as usize].mem.faults.iter().position(|g| {
            g.kind != kind && g.kind.root() == kind.root() && g.active && g.raw_since.is_some()
        });
        if let (Some(t), Some(j)) = (ticket, sibling) {
            self.slots[d as usize].mem.faults[j].ticket.get_or_insert(t);
            return;
        }
        if let Some(t) = ticket {
            let state = self.tickets.get(&t).map(|tk| tk.state);
            match state {
                Some(s) if s.is_unworked() => {
                    self.finish(
                        now,
                        t,
                        TicketState::AutoRecovered,
                        What::RecoveredBeforeDispatch,
                    );
                }
                Some(TicketState::Dispatched) => {
                    self.finish(
                        now,
                        t,
                        TicketState::AutoRecovered,
                        What::RecoveredBeforeAccept,
                    );
                }
                Some(TicketState::Resolved) => self.verification_may_start(now, t),
                Some(s) if !s.is_terminal() => {
                    self.with_ticket(t, |tk| {
                        tk.note(now, Actor::Device(tk.device.clone()), What::DeviceHealthy)
                    });
                }
                _ => {}
            }
        }
        if kind.is_down() {
            self.release_children(now, d);
        }
    }

    /// The uplink is back: devices behind it that are still down get a fair chance to report,
    /// then their own ticket.
    fn release_children(&mut self, now: Ms, d: u32) {
        let mut stack = self.children[d as usize].clone();
        while let Some(c) = stack.pop() {
            // Every device below, not only below those released: a device attached to the
            // uplink's ticket may sit behind one that never went down (the property test).
            stack.extend(self.children[c as usize].iter().copied());
            let grace = self.grace(c);
            let mem = &mut self.slots[c as usize].mem;
            let mut changed = false;
            for f in mem.faults.iter_mut().filter(|f| f.affected_by.is_some()) {
                f.affected_by = None;
                f.active = false;
                f.clearing_since = None;
                // A child still disconnected gets its hold again; one already back stays back.
                f.raw_since = match f.kind {
                    FaultKind::Offline if f.raw_since.is_some() => Some(now),
                    _ => None,
                };
                changed = true;
            }
            if changed {
                if let Some(dl) = mem.deadline.as_mut() {
                    *dl = (*dl).max(now + mem.checkin + grace);
                }
                self.touch(now, c);
            }
        }
    }
}
