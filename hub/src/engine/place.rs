//! Where an active fault goes (its own ticket, its uplink's ticket, or nowhere yet because of
//! maintenance or planned downtime), what its recovery does to the ticket, and the ticket actions
//! and timers.

use super::fault::{Fault, FaultKind};
use super::ticket::{Actor, Ticket, TicketAction, TicketError, TicketId, TicketState};
use super::{Engine, Ms, Output};

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
                            tk.note(
                                now,
                                Actor::System,
                                format!(
                                    "flapping: {} changes within {} min",
                                    flap_count,
                                    flap_window / 60_000
                                ),
                            );
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
                now + super::TICK
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
                        &format!("merged into #{t}: uplink {up} is down"),
                    );
                    self.slots[c as usize].mem.faults[i].ticket = None;
                }
                self.attach_affected(now, c, i, t);
                self.dirty_device(c);
            }
        }
    }

    /// The unfinished ticket of this root cause, a reopened recent one, or a new one.
    fn open_or_attach(&mut self, now: Ms, d: u32, i: usize) -> TicketId {
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
                let detail = f.detail.clone();
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
                        &format!("the fault is back: {detail}"),
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
                f.detail = format!("reported by {user}");
                let t = self.new_ticket(now, d, &f);
                self.open_by_root.insert((d, FaultKind::Reported), t);
                self.start_work(now, t);
                t
            }
        };
        self.with_ticket(t, |tk| {
            tk.customer_reported_at.get_or_insert(now);
            tk.note(now, actor, format!("customer reports: {text}"));
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
        let what = match f.predicted_at {
            Some(p) => format!("opened: {} (predicted to fail at {} ms)", f.detail, p),
            None => format!("opened: {}", f.detail),
        };
        t.note(now, Actor::System, what);
        self.tickets.insert(id, t);
        self.mark_ticket(id);
        self.emit(Output::TicketOpened(id));
        id
    }

    /// The ticket's fault is active again: a resolved ticket goes back to work.
    fn fault_returned(&mut self, now: Ms, t: TicketId, kind: &FaultKind) {
        let Some(tk) = self.tickets.get(&t) else {
            return;
        };
        if tk.state == TicketState::Resolved {
            let what = kind.describe();
            self.with_ticket(t, |tk| {
                tk.verify_until = None;
                tk.set_state(
                    now,
                    Actor::System,
                    TicketState::Accepted,
                    &format!("verification failed: {what} again"),
                );
            });
            self.emit(Output::TicketChanged(t));
            self.clocks_resume(t);
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
                        "the device recovered before anyone was sent",
                    );
                }
                Some(TicketState::Dispatched) => {
                    self.finish(
                        now,
                        t,
                        TicketState::AutoRecovered,
                        "the device recovered before the engineer accepted",
                    );
                }
                Some(TicketState::Resolved) => self.verification_may_start(now, t),
                Some(s) if !s.is_terminal() => {
                    self.with_ticket(t, |tk| {
                        tk.note(
                            now,
                            Actor::Device(tk.device.clone()),
                            "device reports healthy again",
                        )
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
                stack.extend(self.children[c as usize].iter().copied());
                self.touch(now, c);
            }
        }
    }

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
            tk.note(
                now,
                Actor::System,
                format!(
                    "verifying: the device must stay healthy for {}",
                    humantime::format_duration(std::time::Duration::from_secs(
                        ((until - now) / 1000).max(1) as u64
                    ))
                ),
            );
        });
        self.arm_ticket(t, until);
    }

    /// Whether the ticket's root fault is an active fault right now.
    fn root_active(&self, t: TicketId) -> bool {
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
            self.finish(
                now,
                t,
                TicketState::Closed,
                "verified: the device stayed healthy",
            );
        }
    }

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
                                &format!("merged into #{up}: the uplink is down"),
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
                self.finish(
                    now,
                    t,
                    TicketState::AutoRecovered,
                    "the device had already recovered",
                );
            }
            _ => {}
        }
        self.clocks_after_action(now, t, &action, before);
        Ok(())
    }

    /// Moves a ticket to a terminal state.
    fn finish(&mut self, now: Ms, t: TicketId, to: TicketState, why: &str) {
        self.clocks_stop(now, t, why);
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
