//! Closed-loop verification: a resolved ticket closes only once its device stayed healthy for
//! the verification period; a failure meanwhile starts the period over.

use super::Engine;
use crate::domain::{Actor, Ms, Ticket, TicketId, TicketState, What};

impl Engine {
    /// Starts the verification period of a resolved ticket whose device is healthy.
    pub(crate) fn verification_may_start(&mut self, now: Ms, t: TicketId) {
        let Some(tk) = self.tickets.get(&t) else {
            return;
        };
        if tk.state != TicketState::Resolved || tk.verify_until.is_some() || self.root_failing(tk) {
            return;
        }
        let until = now + self.cfg.verify;
        self.with_ticket(t, |tk| {
            tk.verify_until = Some(until);
            let for_ms = until - now;
            tk.note(now, Actor::System, What::Verifying { for_ms });
        });
        self.arm_ticket(t, until);
    }

    /// Whether the ticket's root fault is an active fault right now.
    pub(super) fn root_active(&self, t: TicketId) -> bool {
        let Some(tk) = self.tickets.get(&t) else {
            return false;
        };
        let Some(d) = self.device_index(&tk.device) else {
            return false;
        };
        self.slots[d as usize]
            .mem
            .faults
            .iter()
            .any(|f| f.kind.root() == tk.root.root() && f.active)
    }

    /// Whether the ticket's root fault holds right now.
    fn root_failing(&self, tk: &Ticket) -> bool {
        let Some(d) = self.device_index(&tk.device) else {
            return false;
        };
        self.slots[d as usize]
            .mem
            .faults
            .iter()
            .any(|f| f.kind.root() == tk.root.root() && f.raw_since.is_some())
    }

    pub(crate) fn on_ticket_timer(&mut self, now: Ms, t: TicketId) {
        self.run_clocks(now, t);
        let Some(tk) = self.tickets.get(&t) else {
            return;
        };
        let due = tk.state == TicketState::Resolved && tk.verify_until.is_some_and(|v| v <= now);
        if !due {
            return;
        }
        if self.root_failing(tk) || self.root_active(t) {
            // Not healthy (or not yet confirmed healthy): verification starts over once it is.
            self.with_ticket(t, |tk| tk.verify_until = None);
        } else {
            self.finish(now, t, TicketState::Closed, What::Verified);
        }
    }
}
