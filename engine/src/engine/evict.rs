//! Finished tickets leave the engine's memory once they can no longer be reopened; the caller
//! (the hub, which keeps them in its store) hands one back when a person acts on it again.

use super::Engine;
use crate::domain::{Ms, Ticket, TicketId};

impl Engine {
    /// Whether a ticket is finished and past the reopen window at `now`: a recurrence of its
    /// fault opens a new ticket, so the engine no longer needs it.
    pub fn is_settled(&self, t: &Ticket, now: Ms) -> bool {
        t.state.is_terminal()
            && t.closed_at
                .is_some_and(|c| now - c > self.cfg.reopen_window)
    }

    /// Drops settled tickets from memory and returns their ids. Tickets changed since the last
    /// `take_changes` stay until they are taken (and so stored). The engine keeps every ticket
    /// otherwise, so a caller with no store of its own (the simulator, tests) never calls this.
    pub fn evict_settled(&mut self, now: Ms) -> Vec<TicketId> {
        let gone: Vec<TicketId> = self
            .tickets
            .values()
            .filter(|t| self.is_settled(t, now) && !self.dirty_tickets.contains(&t.id))
            .map(|t| t.id)
            .collect();
        for id in &gone {
            self.tickets.remove(id);
        }
        if !gone.is_empty() {
            self.last_by_root
                .retain(|_, id| gone.binary_search(id).is_err());
        }
        gone
    }

    /// Takes back a ticket evicted earlier, so a person's action on it (a late rating) applies.
    /// A ticket the engine still holds is left as it is.
    pub fn readmit(&mut self, t: Ticket) {
        if !self.tickets.contains_key(&t.id) {
            self.adopt_ticket(t);
        }
    }
}
