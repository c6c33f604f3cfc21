//! Simulated engineers: an offer is accepted after a think time, the engineer travels once the
//! previous job is done, repairs the ticket's device and resolves; the hub verifies the repair
//! from the device's own reports.

use super::{Event, Step, World};
use heartline_engine::{Actor, Input, TicketAction, TicketId, TicketState};

impl World<'_> {
    /// An engineer's next step on a ticket offered to them.
    pub(super) fn engineer(&mut self, t: TicketId, e: u16, step: Step) {
        if !self.hub_up {
            // The API is down with the hub: the engineer tries again when it is back.
            let up = self
                .restarts
                .iter()
                .map(|r| r.at + r.down)
                .find(|&u| u > self.now);
            if let Some(up) = up {
                self.schedule(up, Event::Engineer(t, e, step));
            }
            return;
        }
        let me = self.fleet.engineers[e as usize].clone();
        let actor = Actor::Engineer(me.id.clone());
        let act = |w: &mut Self, action: TicketAction| {
            let ok = w.handle(Input::Ticket {
                id: t,
                action,
                actor: actor.clone(),
            });
            w.collect();
            ok
        };
        match step {
            Step::Accept => {
                if act(self, TicketAction::Accept) {
                    let travel = self.draw(me.travel);
                    let repair = self.draw(me.repair);
                    // One job at a time: the engineer sets off once the previous one is done.
                    let on_site = self.busy[e as usize].max(self.now) + travel;
                    self.busy[e as usize] = on_site + repair;
                    self.schedule(on_site, Event::Engineer(t, e, Step::OnSite));
                    self.schedule(on_site + repair, Event::Engineer(t, e, Step::Repair));
                }
            }
            Step::OnSite => {
                act(self, TicketAction::OnSite);
            }
            Step::Repair => {
                let Some(tk) = self.engine.ticket(t) else {
                    return;
                };
                let mine = tk.engineer.as_deref() == Some(me.id.as_str())
                    && matches!(tk.state, TicketState::Accepted | TicketState::OnSite);
                if !mine {
                    self.stats.actions_refused += 1;
                    return;
                }
                // The engineer fixes whatever is wrong with the ticket's device, which then
                // reports as it comes back; the hub verifies from those reports.
                if let Some(&d) = self.fleet.index.get(&tk.device) {
                    if let Some(&p) = self.active_at.get(&d) {
                        self.finish(p as usize, true);
                    }
                }
                act(
                    self,
                    TicketAction::Resolve {
                        note: "repaired (simulated)".into(),
                    },
                );
            }
        }
    }
}
