//! A person's action on a ticket (through the lifecycle's rules), what it releases (a latched
//! event, a declined ticket whose fault is back), and finishing a ticket.

use super::Engine;
use crate::domain::{
    Actor, FaultKind, Ms, Output, Ticket, TicketAction, TicketError, TicketId, TicketState, What,
};

impl Engine {
    pub(crate) fn on_ticket_action(
        &mut self,
        now: Ms,
        t: TicketId,
        action: TicketAction,
        actor: Actor,
    ) -> Result<(), TicketError> {
        let tk = self
            .tickets
            .get_mut(&t)
            .ok_or(TicketError::NoSuchTicket(t))?;
        let before = (tk.state, tk.engineer.clone());
        tk.apply(now, actor, &action)?;
        if matches!(action, TicketAction::Rate { .. }) {
            self.mark_ticket(t);
            self.emit(Output::TicketChanged(t));
            return Ok(());
        }
        let (state, device, root) = (tk.state, tk.device.clone(), tk.root.clone());
        self.mark_ticket(t);
        self.emit(Output::TicketChanged(t));
        // A latched event is over once a person resolves or cancels its ticket; a recurrence
        // during verification sends a resolved ticket back to work.
        let releases = matches!(action, TicketAction::Resolve { .. }) || state.is_terminal();
        if let (true, FaultKind::Event { .. }, Some(d)) =
            (releases, &root, self.device_index(&device))
        {
            if let Some(f) = self.slots[d as usize]
                .mem
                .faults
                .iter_mut()
                .find(|f| f.kind == root)
            {
                f.raw_since = None;
                if state.is_terminal() {
                    f.ticket = None;
                }
            }
        }
        match action {
            TicketAction::Resolve { .. } => {
                if let (FaultKind::Event { .. }, Some(d)) = (&root, self.device_index(&device)) {
                    self.touch(now, d);
                }
                self.verification_may_start(now, t);
            }
            _ if state.is_terminal() => {
                self.finished(t);
                if let (FaultKind::Event { .. }, Some(d)) = (&root, self.device_index(&device)) {
                    self.touch(now, d);
                }
            }
            // Declined while the fault is back (a new occurrence, not yet linked): it is this
            // ticket's again, unless the device's uplink explains it now.
            TicketAction::Decline { .. } if self.root_active(t) => {
                if let Some(d) = self.device_index(&device) {
                    let key = root.root();
                    let faults = &mut self.slots[d as usize].mem.faults;
                    let covering = faults
                        .iter()
                        .find(|f| f.active && f.kind.root() == key)
                        .and_then(|f| f.affected_by);
                    match covering {
                        Some(up) => {
                            self.finish(
                                now,
                                t,
                                TicketState::Cancelled,
                                What::Merged {
                                    into: up,
                                    uplink: String::new(),
                                },
                            );
                        }
                        None => {
                            if let Some(f) =
                                faults.iter_mut().find(|f| f.active && f.kind.root() == key)
                            {
                                f.ticket.get_or_insert(t);
                                f.suppressed = false;
                                f.topology_wait_until = None;
                            }
                        }
                    }
                    self.dirty_device(d);
                }
            }
            // Declined after the device healed: nobody needs to go any more.
            TicketAction::Decline { .. } => {
                self.finish(now, t, TicketState::AutoRecovered, What::AlreadyRecovered);
            }
            _ => {}
        }
        self.clocks_after_action(now, t, &action, before);
        Ok(())
    }

    /// Moves a ticket to a terminal state.
    pub(super) fn finish(&mut self, now: Ms, t: TicketId, to: TicketState, why: What) {
        self.clocks_stop(now, t, &why);
        self.with_ticket(t, |tk| tk.set_state(now, Actor::System, to, why));
        self.emit(Output::TicketChanged(t));
        self.finished(t);
    }

    /// Bookkeeping once a ticket reached a terminal state.
    fn finished(&mut self, t: TicketId) {
        let Some(tk) = self.tickets.get(&t) else {
            return;
        };
        let Some(d) = self.device_index(&tk.device) else {
            return;
        };
        let key = (d, tk.root.root());
        if self.open_by_root.get(&key) == Some(&t) {
            self.open_by_root.remove(&key);
        }
        self.last_by_root.insert(key, t);
    }

    pub(crate) fn with_ticket(&mut self, t: TicketId, f: impl FnOnce(&mut Ticket)) {
        if let Some(tk) = self.tickets.get_mut(&t) {
            f(tk);
            self.mark_ticket(t);
        }
    }
}
