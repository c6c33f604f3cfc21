//! Dispatch applied to tickets: a new or reopened ticket goes to the chosen engineer, a decline or
//! a lapsed offer to the next one, nobody eligible to the grid manager; the SLA clocks climb the
//! escalation ladder. Every step is a timeline entry and a [`Notice`].

use super::Engine;
use crate::dispatch::{Action, Choice, Job, choose, next_clock};
use crate::domain::{
    Actor, Clocks, DispatchState, Escalation, Level, Ms, Notice, NoticeKind, Output, Ticket,
    TicketAction, TicketId, TicketState, What,
};
use std::collections::HashMap;

impl Engine {
    /// A new or reopened ticket: fresh clocks, then an engineer.
    pub(crate) fn start_work(&mut self, now: Ms, t: TicketId) {
        if self.cfg.roster.is_empty() {
            return;
        }
        self.with_ticket(t, |tk| {
            tk.dispatch = DispatchState {
                clocks: Some(Clocks::new(now, tk.respond_by, tk.repair_by)),
                ..DispatchState::default()
            };
        });
        self.dispatch(now, t);
    }

    /// Open tickets per engineer: what "least open work first" counts.
    fn engineer_load(&self) -> HashMap<&str, usize> {
        let mut load = HashMap::new();
        for t in self.open_by_root.values() {
            if let Some(tk) = self.tickets.get(t) {
                if let (Some(e), false) = (&tk.engineer, tk.state.is_terminal()) {
                    *load.entry(e.as_str()).or_default() += 1;
                }
            }
        }
        load
    }

    fn job_of(&self, tk: &Ticket) -> Job {
        let kind = self
            .device_index(&tk.device)
            .map(|d| self.slots[d as usize].info.kind.as_str())
            .unwrap_or_default();
        self.cfg.roster.job(&tk.site, kind)
    }

    /// Offers an unworked ticket to the best eligible engineer, or hands it to the grid manager.
    pub(crate) fn dispatch(&mut self, now: Ms, t: TicketId) {
        let Some(tk) = self.tickets.get(&t) else {
            return;
        };
        if self.cfg.roster.is_empty() || !tk.state.is_unworked() {
            return;
        }
        let job = self.job_of(tk);
        let choice = {
            let load = self.engineer_load();
            let load = |e: &str| load.get(e).copied().unwrap_or(0);
            choose(
                now,
                &job,
                &self.cfg.roster.engineers,
                &load,
                &tk.dispatch.passed_over,
            )
        };
        match choice {
            Choice::Engineer { id, reason } => {
                self.with_ticket(t, |tk| {
                    tk.note(now, Actor::System, reason.clone());
                    let _ = tk.apply(
                        now,
                        Actor::System,
                        &TicketAction::Dispatch {
                            engineer: id.clone(),
                        },
                    );
                    let d = &mut tk.dispatch;
                    d.reason = Some(reason);
                    d.unassigned = false;
                    d.retry_at = None;
                    if let Some(c) = d.clocks.as_mut() {
                        c.offered = Some((id.clone(), now));
                        c.accepted = false;
                    }
                });
                let what = What::Dispatched {
                    engineer: id.clone(),
                };
                self.notify(now, t, id, NoticeKind::Dispatched, what);
            }
            Choice::Nobody { reason } => {
                let reason = if tk.dispatch.passed_over.is_empty() {
                    reason
                } else {
                    What::AllPassed {
                        engineers: tk.dispatch.passed_over.clone(),
                    }
                };
                let first = !tk.dispatch.unassigned;
                let grid = self.cfg.roster.chain(None, &job).grid_manager;
                let retry = now + self.cfg.unassigned_retry;
                self.with_ticket(t, |tk| {
                    let d = &mut tk.dispatch;
                    d.unassigned = true;
                    d.retry_at = Some(retry);
                    // Whoever declined may be the only one: everyone is asked again next time.
                    d.passed_over.clear();
                    if first {
                        if let Some(c) = d.clocks.as_mut() {
                            c.level = c.level.max(Level::GridManager);
                        }
                        tk.note(now, Actor::System, reason.clone());
                        let what = What::Escalated {
                            level: Level::GridManager,
                            to: grid.clone(),
                            why: Escalation::NobodyEligible,
                        };
                        tk.note(now, Actor::System, what);
                    }
                });
                if first {
                    self.notify(now, t, grid, NoticeKind::Unassigned, reason);
                }
            }
        }
        self.emit(Output::TicketChanged(t));
        self.arm_clocks(t);
    }

    pub(crate) fn arm_clocks(&mut self, t: TicketId) {
        if let Some(at) = self.tickets.get(&t).and_then(next_clock) {
            self.arm_ticket(t, at);
        }
    }

    fn notify(&mut self, now: Ms, ticket: TicketId, to: String, kind: NoticeKind, what: What) {
        if to.is_empty() {
            return;
        }
        self.emit(Output::Notify(Notice {
            ticket,
            at: now,
            to,
            kind,
            what,
        }));
    }

    /// The clocks of one ticket at `now`: lapsed offers, ladder steps, unassigned retries.
    pub(crate) fn run_clocks(&mut self, now: Ms, t: TicketId) {
        let Some(tk) = self.tickets.get(&t) else {
            return;
        };
        if tk.state.is_terminal() {
            return;
        }
        let managers = self
            .cfg
            .roster
            .chain(tk.engineer.as_deref(), &self.job_of(tk));
        let (state, engineer) = (tk.state, tk.engineer.clone());
        let mut actions = Vec::new();
        self.with_ticket(t, |tk| {
            if let Some(c) = tk.dispatch.clocks.as_mut() {
                actions = c.tick(now, &managers);
            }
        });
        for action in actions {
            match action {
                Action::Reoffer { missed_by }
                    if state == TicketState::Dispatched
                        && engineer.as_ref() == Some(&missed_by) =>
                {
                    self.with_ticket(t, |tk| {
                        let window = tk.dispatch.clocks.as_ref().map_or(0, |c| c.offer_window);
                        tk.dispatch.offers_missed += 1;
                        tk.dispatch.passed_over.push(missed_by.clone());
                        tk.engineer = None;
                        let back = if tk.reopened > 0 {
                            TicketState::Reopened
                        } else {
                            TicketState::Open
                        };
                        let what = What::OfferLapsed {
                            engineer: missed_by.clone(),
                            window_min: window / 60_000,
                        };
                        tk.set_state(now, Actor::System, back, what);
                    });
                    let what = What::OfferLapsed {
                        engineer: missed_by.clone(),
                        window_min: self
                            .tickets
                            .get(&t)
                            .and_then(|tk| tk.dispatch.clocks.as_ref())
                            .map_or(0, |c| c.offer_window / 60_000),
                    };
                    self.notify(now, t, missed_by, NoticeKind::Withdrawn, what);
                    self.dispatch(now, t);
                }
                Action::Reoffer { .. } => {}
                Action::Escalate { level, to, why } => {
                    let what = What::Escalated {
                        level,
                        to: to.clone(),
                        why,
                    };
                    self.with_ticket(t, |tk| tk.note(now, Actor::System, what.clone()));
                    self.emit(Output::TicketChanged(t));
                    self.notify(now, t, to, NoticeKind::Escalated, what);
                }
            }
        }
        let retry_due = self.tickets.get(&t).is_some_and(|tk| {
            tk.dispatch.unassigned && tk.dispatch.retry_at.is_some_and(|r| r <= now)
        });
        if retry_due {
            self.dispatch(now, t);
        }
        self.arm_clocks(t);
    }

    /// Keeps the clocks in step with a person's action on the ticket; `before` is who had the
    /// ticket, and in which state, before the action.
    pub(crate) fn clocks_after_action(
        &mut self,
        now: Ms,
        t: TicketId,
        action: &TicketAction,
        before: (TicketState, Option<String>),
    ) {
        let Some(tk) = self.tickets.get(&t) else {
            return;
        };
        let (state, engineer) = (tk.state, tk.engineer.clone());
        self.with_ticket(t, |tk| {
            let d = &mut tk.dispatch;
            let Some(c) = d.clocks.as_mut() else { return };
            match action {
                TicketAction::Accept => c.accepted = true,
                TicketAction::Decline { .. } => {
                    if let Some((who, _)) = c.offered.take() {
                        d.passed_over.push(who);
                    }
                }
                TicketAction::Resolve { .. } => c.stopped = true,
                TicketAction::Dispatch { engineer } | TicketAction::Handover { to: engineer } => {
                    c.offered = Some((engineer.clone(), now));
                    c.accepted = false;
                }
                _ => {}
            }
            if state.is_terminal() {
                c.stopped = true;
            }
        });
        match action {
            TicketAction::Dispatch { .. } | TicketAction::Handover { .. } => {
                if let Some(e) = engineer {
                    let what = What::Dispatched {
                        engineer: e.clone(),
                    };
                    self.notify(now, t, e, NoticeKind::Dispatched, what);
                }
            }
            TicketAction::Decline { .. } => self.dispatch(now, t),
            _ => {}
        }
        let was_active = matches!(
            before.0,
            TicketState::Dispatched | TicketState::Accepted | TicketState::OnSite
        );
        let declined = matches!(action, TicketAction::Decline { .. });
        if let (true, true, false, Some(e)) = (state.is_terminal(), was_active, declined, before.1)
        {
            // What finished it: the entry the action just wrote.
            let what = self
                .tickets
                .get(&t)
                .and_then(|tk| tk.timeline.last())
                .map_or(What::Moved, |entry| entry.what.clone());
            self.notify(now, t, e, NoticeKind::Withdrawn, what);
        }
        self.arm_clocks(t);
    }

    /// A resolved ticket's fault came back: the work, and its clocks, resume.
    pub(crate) fn clocks_resume(&mut self, t: TicketId) {
        self.with_ticket(t, |tk| {
            if let Some(c) = tk.dispatch.clocks.as_mut() {
                c.stopped = false;
            }
        });
        self.arm_clocks(t);
    }

    /// The ticket finished: an engineer who still had it offered or in hand is told.
    pub(crate) fn clocks_stop(&mut self, now: Ms, t: TicketId, why: &What) {
        let Some(tk) = self.tickets.get(&t) else {
            return;
        };
        let active = matches!(
            tk.state,
            TicketState::Dispatched | TicketState::Accepted | TicketState::OnSite
        );
        let engineer = tk.engineer.clone().filter(|_| active);
        self.with_ticket(t, |tk| {
            if let Some(c) = tk.dispatch.clocks.as_mut() {
                c.stopped = true;
            }
        });
        if let Some(e) = engineer {
            self.notify(now, t, e, NoticeKind::Withdrawn, why.clone());
        }
    }
}
