//! Which ticket a placed fault gets: the unfinished one of its root cause, a recent one
//! reopened within the window, or a new one; a fault back during verification sends the ticket
//! back to work; and a customer's report joins the device's ticket or opens one.

use super::Engine;
use crate::domain::{
    Actor, Detail, Fault, FaultKind, Ms, Output, Ticket, TicketError, TicketId, TicketState, What,
};

impl Engine {
    /// The unfinished ticket of this root cause, a reopened recent one, or a new one.
    pub(super) fn open_or_attach(&mut self, now: Ms, d: u32, i: usize) -> TicketId {
        let f = self.slots[d as usize].mem.faults[i].clone();
        let key = (d, f.kind.root());
        if let Some(&t) = self.open_by_root.get(&key) {
            self.slots[d as usize].mem.faults[i].ticket = Some(t);
            self.fault_returned(now, t, &f.kind);
            return t;
        }
        let recent = self.last_by_root.get(&key).copied().filter(|t| {
            self.tickets
                .get(t)
                .and_then(|tk| tk.closed_at)
                .is_some_and(|c| now - c <= self.cfg.reopen_window)
        });
        let t = match recent {
            Some(t) => {
                let detail = self.detail_of(now, d, &f);
                self.with_ticket(t, |tk| {
                    tk.reopened += 1;
                    tk.closed_at = None;
                    tk.engineer = None;
                    tk.severity = tk.severity.max(f.severity);
                    // New work: the SLA clocks start again.
                    tk.respond_by = now + tk.sla.respond;
                    tk.repair_by = now + tk.sla.repair;
                    tk.set_state(
                        now,
                        Actor::System,
                        TicketState::Reopened,
                        What::FaultBack { detail },
                    );
                });
                self.emit(Output::TicketChanged(t));
                t
            }
            None => self.new_ticket(now, d, &f),
        };
        self.open_by_root.insert(key, t);
        self.slots[d as usize].mem.faults[i].ticket = Some(t);
        self.start_work(now, t);
        t
    }

    /// A customer reports a problem with a device: it joins the device's unfinished ticket if
    /// there is one (the hub knew first), or opens one.
    pub fn customer_report(
        &mut self,
        now: Ms,
        device: &str,
        text: &str,
        user: &str,
    ) -> Result<TicketId, TicketError> {
        let now = now.max(self.last_now());
        let d = self
            .device_index(device)
            .ok_or_else(|| TicketError::NoSuchDevice(device.to_string()))?;
        let actor = Actor::Customer(user.to_string());
        let existing = self
            .open_by_root
            .iter()
            .filter(|((dev, _), _)| *dev == d)
            .map(|(_, t)| *t)
            .min();
        let t = match existing {
            Some(t) => t,
            None => {
                let mut f = Fault::new(FaultKind::Reported, self.cfg.check_warn_severity);
                // A reported fault's detail is who reported it.
                f.detail = user.to_string();
                let t = self.new_ticket(now, d, &f);
                self.open_by_root.insert((d, FaultKind::Reported), t);
                self.start_work(now, t);
                t
            }
        };
        self.with_ticket(t, |tk| {
            tk.customer_reported_at.get_or_insert(now);
            let text = text.to_string();
            tk.note(now, actor, What::CustomerReport { text });
        });
        self.emit(Output::TicketChanged(t));
        Ok(t)
    }

    fn new_ticket(&mut self, now: Ms, d: u32, f: &Fault) -> TicketId {
        let id = self.next_ticket;
        self.next_ticket += 1;
        let info = &self.slots[d as usize].info;
        let sla = self
            .cfg
            .sla
            .get(&info.project)
            .copied()
            .unwrap_or_default()
            .times(f.severity);
        let preventive = matches!(f.kind, FaultKind::Trend { .. });
        let mut t = Ticket {
            id,
            tenant: info.tenant.clone(),
            project: info.project.clone(),
            site: info.site.clone(),
            device: info.id.clone(),
            root: f.kind.clone(),
            title: format!(
                "{}{}: {}",
                if preventive { "[preventive] " } else { "" },
                info.id,
                f.kind.describe()
            ),
            severity: f.severity,
            state: TicketState::Open,
            engineer: None,
            opened_at: now,
            updated_at: now,
            closed_at: None,
            affected: Vec::new(),
            flapping: f.flapping,
            predicted_failure_at: f.predicted_at,
            verify_until: None,
            sla,
            respond_by: now + sla.respond,
            repair_by: now + sla.repair,
            reopened: 0,
            timeline: Vec::new(),
            dispatch: Default::default(),
            customer_reported_at: None,
            fault_since: f.raw_since,
            accepted_at: None,
            rating: None,
        };
        let what = What::Opened {
            fault: f.kind.clone(),
            detail: self.detail_of(now, d, f),
            predicted_at: f.predicted_at,
        };
        t.note(now, Actor::System, what);
        self.tickets.insert(id, t);
        self.mark_ticket(id);
        self.emit(Output::TicketOpened(id));
        id
    }

    /// The ticket's fault is active again: a resolved ticket goes back to work.
    pub(super) fn fault_returned(&mut self, now: Ms, t: TicketId, kind: &FaultKind) {
        let Some(tk) = self.tickets.get(&t) else {
            return;
        };
        if tk.state == TicketState::Resolved {
            let what = What::VerificationFailed {
                fault: kind.clone(),
            };
            self.with_ticket(t, |tk| {
                tk.verify_until = None;
                tk.set_state(now, Actor::System, TicketState::Accepted, what);
            });
            self.emit(Output::TicketChanged(t));
            self.clocks_resume(t);
        }
    }

    /// The fault's detail as the timeline keeps it: a silent device in figures (how long, against
    /// which check-in), a customer's report by whom, anything else in the device's own words.
    fn detail_of(&self, now: Ms, d: u32, f: &Fault) -> Detail {
        match (&f.kind, f.raw_since) {
            (FaultKind::Silent, Some(deadline)) => {
                let checkin = self.slots[d as usize].mem.checkin;
                Detail::Silent {
                    for_s: (now - deadline + checkin) / 1_000,
                    checkin_s: checkin / 1_000,
                }
            }
            (FaultKind::Reported, _) => Detail::ReportedBy {
                user: f.detail.clone(),
            },
            _ => Detail::Text(f.detail.clone()),
        }
    }
}
