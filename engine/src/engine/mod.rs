//! The detection engine: a sans-IO state machine that turns device inputs into faults and tickets.
//!
//! `handle(now, input)` applies one input at the caller's time; `next_deadline()` says when the
//! caller must come back with `Input::Tick`. There is no clock, no tokio, no store and no broker
//! in here: ingest feeds it and commits what it changed (`take_changes`) in the same transaction
//! as the input, and tests and the simulator drive it in virtual time.
//!
//! The engine is one type, `Engine`, whose methods live by what they decide:
//! - `detect`: what a report, a will or a goodbye says about a device's conditions;
//! - `step`: one fault's course through hold, activation, flapping and recovery;
//! - `place`: where an active fault goes: a ticket, an uplink's ticket, or nowhere yet
//!   (maintenance, planned downtime, waiting for the uplink's verdict);
//! - `probe`: probes to uplinks, an unanswered one taken as the uplink down, and the false
//!   alarm withdrawn when the uplink turns out alive;
//! - `open`: which ticket it gets: the open one, a reopened one, or a new one;
//! - `verify`: closed-loop verification of a resolved ticket;
//! - `actions`: a person's action on a ticket, and finishing one;
//! - `assign`: dispatch to engineers, SLA clocks and escalation, applied to tickets;
//! - `evict`: finished tickets past the reopen window leave memory (the hub's store keeps them).
//!
//! Architecture invariant: the engine knows nothing of tokio, the broker or the store.

mod actions;
mod assign;
mod detect;
mod evict;
mod open;
mod place;
mod probe;
mod step;
mod verify;

use crate::by_metric::ByMetric;
use crate::dispatch::next_clock;
use crate::domain::{
    Actor, Changes, DeviceInfo, DeviceMemory, FaultKind, Maintenance, Ms, Output, Report, Series,
    Ticket, TicketAction, TicketError, TicketId,
};
use crate::rules::EngineConfig;
use crate::timers::TimerQueue;
use heartline_proto::DeviceStatus;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The engine's cadence: `next_deadline` is never further away than this, so a longer gap between
/// inputs means the hub itself stalled.
pub const TICK: Ms = 1_000;

/// A probe not answered within this may be sent again (for a device that starts waiting later).
pub const PROBE_RETRY: Ms = 5_000;

/// After a hub restart, how long devices may take to reconnect and re-send what they sent
/// while it was down (agents back off up to 30 s; a large fleet reconnects over a minute or so).
pub const RECONNECT: Ms = 120_000;

/// Everything the engine reacts to.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    Report {
        device: &'a str,
        report: &'a Report,
    },
    /// A report from a device named by the handle `Engine::device_ref` gave: no lookup by id.
    ReportRef {
        device: DeviceRef,
        report: &'a Report,
    },
    /// The device announced itself on a new connection.
    Online {
        device: &'a str,
    },
    /// The device's last will: its connection is gone.
    Offline {
        device: &'a str,
    },
    /// A clean, planned shutdown: `back_in_s` = 0 when unknown.
    Goodbye {
        device: &'a str,
        back_in_s: u32,
    },
    Tick,
    Maintenance(Maintenance),
    Ticket {
        id: TicketId,
        action: TicketAction,
        actor: Actor,
    },
}

/// A device as the engine numbers it, from `Engine::device_ref`: for a caller (the simulator)
/// that sends many inputs and would rather not have every one looked up by id. Valid for this
/// engine, and for one restored with the same devices in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRef(u32);

pub(crate) struct Slot {
    pub info: DeviceInfo,
    pub uplink: Option<u32>,
    pub mem: DeviceMemory,
    /// The earliest device timer in the heap, if any.
    armed: Option<Ms>,
    /// Some device below this one may be waiting for its verdict (see `place::topology_wait`):
    /// set when one starts waiting, cleared when this device's report answers them. Kept out of
    /// the hot path: a report walks the devices below only while this is set.
    pub(crate) waiting_below: bool,
    /// When this device was last probed for a report on behalf of a device waiting below it.
    pub(crate) probed_at: Option<Ms>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Device(u32),
    Ticket(TicketId),
    Maintenance,
}

pub struct Engine {
    pub(crate) cfg: EngineConfig,
    pub(crate) slots: Vec<Slot>,
    index: HashMap<String, u32>,
    pub(crate) children: Vec<Vec<u32>>,
    pub(crate) tickets: BTreeMap<TicketId, Ticket>,
    /// Unfinished ticket per root cause (device, fault kind).
    pub(crate) open_by_root: HashMap<(u32, FaultKind), TicketId>,
    /// Latest finished ticket per root cause, for reopening.
    pub(crate) last_by_root: HashMap<(u32, FaultKind), TicketId>,
    pub(crate) next_ticket: TicketId,
    timers: TimerQueue<Timer>,
    pub(crate) maintenance: Vec<Maintenance>,
    maintenance_armed: Option<Ms>,
    last_now: Ms,
    dirty_devices: BTreeSet<u32>,
    /// Whether `take_changes` reports device memories (see `skip_device_changes`).
    device_changes: bool,
    dirty_tickets: BTreeSet<TicketId>,
    new_maintenance: Vec<Maintenance>,
    outputs: Vec<Output>,
    probes: Vec<String>,
    /// Uplinks taken as down because they did not answer a probe, their own deadline not yet
    /// passed: a report from them or from behind them withdraws their ticket (see `probe`).
    pub(crate) probe_down: BTreeSet<u32>,
    /// Rules by metric name, for reports.
    pub(crate) thresholds_by_metric: ByMetric,
    pub(crate) trends_by_metric: ByMetric,
}

impl Engine {
    /// An engine for these devices, with nothing remembered.
    pub fn new(cfg: EngineConfig, devices: Vec<DeviceInfo>) -> Engine {
        Engine::restore(cfg, devices, HashMap::new(), Vec::new(), 1, 0)
    }

    /// Rebuilds the engine from what the store kept. A device whose report fell due while the
    /// hub was down, or falls due before devices can have reconnected and re-sent their
    /// outboxes ([`Engine::restart_grace`]), gets a fresh grace from `now`: the hub was not
    /// listening, so silence then proves nothing. The others keep their deadlines: the pause
    /// did not touch them, and a fresh grace would only delay what they are due to tell.
    pub fn restore(
        cfg: EngineConfig,
        devices: Vec<DeviceInfo>,
        mut memory: HashMap<String, DeviceMemory>,
        tickets: Vec<Ticket>,
        next_ticket: TicketId,
        now: Ms,
    ) -> Engine {
        let index: HashMap<String, u32> = devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.clone(), i as u32))
            .collect();
        let mut children = vec![Vec::new(); devices.len()];
        let slots: Vec<Slot> = devices
            .into_iter()
            .enumerate()
            .map(|(i, info)| {
                let uplink = info.uplink.as_ref().and_then(|u| index.get(u).copied());
                if let Some(u) = uplink {
                    children[u as usize].push(i as u32);
                }
                let mut mem = memory.remove(&info.id).unwrap_or_default();
                for s in &mut mem.series {
                    s.rule_index = Series::RULE_UNKNOWN;
                }
                Slot {
                    info,
                    uplink,
                    mem,
                    armed: None,
                    waiting_below: false,
                    probed_at: None,
                }
            })
            .collect();
        let thresholds_by_metric = ByMetric::new(cfg.thresholds.iter().map(|r| r.metric.as_str()));
        let trends_by_metric = ByMetric::new(cfg.trends.iter().map(|r| r.metric.as_str()));
        let maintenance = cfg.maintenance.clone();
        let mut engine = Engine {
            cfg,
            slots,
            index,
            children,
            tickets: BTreeMap::new(),
            open_by_root: HashMap::new(),
            last_by_root: HashMap::new(),
            next_ticket: next_ticket.max(1),
            timers: TimerQueue::new(),
            maintenance,
            maintenance_armed: None,
            last_now: now,
            dirty_devices: BTreeSet::new(),
            device_changes: true,
            dirty_tickets: BTreeSet::new(),
            new_maintenance: Vec::new(),
            outputs: Vec::new(),
            probes: Vec::new(),
            probe_down: BTreeSet::new(),
            thresholds_by_metric,
            trends_by_metric,
        };
        for t in tickets {
            engine.adopt_ticket(t);
        }
        for d in 0..engine.slots.len() as u32 {
            if now > 0 {
                engine.restart_grace(d, now);
            }
            engine.arm(d, now);
            let mem = &engine.slots[d as usize].mem;
            if let Some(i) = mem
                .faults
                .iter()
                .position(|f| f.topology_wait_until.is_some())
            {
                engine.mark_waiting(d);
                // Any probe sent before the stop went unheard: ask again.
                for u in engine.uplinks_to_probe(d, i) {
                    engine.probe(now, u);
                }
            }
            if engine.silenced_by_probe(d) {
                engine.probe_down.insert(d);
            }
        }
        engine.arm_maintenance(now);
        // Holds, confirmations and waits that fell due while the hub was down.
        if now > 0 {
            engine.evaluate_all(now);
        }
        engine
    }

    fn adopt_ticket(&mut self, t: Ticket) {
        if let Some(&d) = self.index.get(&t.device) {
            let key = (d, t.root.root());
            if t.state.is_terminal() {
                let newer = self.last_by_root.get(&key).is_none_or(|&old| old < t.id);
                if newer {
                    self.last_by_root.insert(key, t.id);
                }
            } else {
                self.open_by_root.insert(key, t.id);
            }
        }
        if let Some(v) = t.verify_until {
            self.timers.push(v, Timer::Ticket(t.id));
        }
        if let Some(at) = next_clock(&t) {
            self.timers.push(at, Timer::Ticket(t.id));
        }
        self.next_ticket = self.next_ticket.max(t.id + 1);
        self.tickets.insert(t.id, t);
    }

    /// Applies one input at `now`. Only ticket actions can be refused.
    pub fn handle(&mut self, now: Ms, input: Input<'_>) -> Result<(), TicketError> {
        // The caller's clock may step back; the engine's time does not.
        let now = now.max(self.last_now);
        let gap = now - self.last_now;
        if self.last_now > 0 && gap > self.cfg.stall_threshold {
            self.outputs.push(Output::Stalled { gap });
            for d in 0..self.slots.len() as u32 {
                self.fresh_grace(d, now);
            }
        }
        self.last_now = now;
        match input {
            Input::Report { device, report } => {
                if let Some(d) = self.device_index(device) {
                    self.on_report(now, d, report);
                    self.touch(now, d);
                }
            }
            Input::ReportRef {
                device: DeviceRef(d),
                report,
            } => {
                self.on_report(now, d, report);
                self.touch(now, d);
            }
            Input::Online { device } => {
                if let Some(d) = self.device_index(device) {
                    self.on_online(now, d);
                    self.touch(now, d);
                }
            }
            Input::Offline { device } => {
                if let Some(d) = self.device_index(device) {
                    self.on_offline(now, d);
                    self.touch(now, d);
                }
            }
            Input::Goodbye { device, back_in_s } => {
                if let Some(d) = self.device_index(device) {
                    self.on_goodbye(now, d, back_in_s);
                    self.touch(now, d);
                }
            }
            Input::Tick => self.run_timers(now),
            Input::Maintenance(m) => {
                self.new_maintenance.push(m.clone());
                self.maintenance.push(m);
                self.arm_maintenance(now);
                self.evaluate_all(now);
            }
            Input::Ticket { id, action, actor } => self.on_ticket_action(now, id, action, actor)?,
        }
        Ok(())
    }

    /// When the caller must call `handle(_, Input::Tick)` next.
    pub fn next_deadline(&self) -> Ms {
        let cadence = self.last_now + TICK;
        self.timers.peek().map_or(cadence, |(t, _)| t.min(cadence))
    }

    /// Everything changed since the last call, for the store; and what to tell the world.
    pub fn take_changes(&mut self) -> Changes {
        let devices = std::mem::take(&mut self.dirty_devices)
            .into_iter()
            .map(|d| {
                let s = &self.slots[d as usize];
                (s.info.id.clone(), s.mem.clone())
            })
            .collect();
        let tickets = std::mem::take(&mut self.dirty_tickets)
            .into_iter()
            .filter_map(|id| self.tickets.get(&id).cloned())
            .collect();
        Changes {
            devices,
            tickets,
            maintenance: std::mem::take(&mut self.new_maintenance),
            outputs: std::mem::take(&mut self.outputs),
            probes: self.take_probes(),
            next_ticket: self.next_ticket,
        }
    }

    /// The uplinks to probe now, taken on their own: a caller that batches `take_changes` can
    /// still send probes without waiting for the batch.
    pub fn take_probes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.probes)
    }

    /// For a caller that keeps no device memories (the simulator): from now on `take_changes`
    /// leaves `devices` empty, and the engine does not track them. Ingest, which commits them,
    /// never calls this.
    pub fn skip_device_changes(&mut self) {
        self.device_changes = false;
        self.dirty_devices.clear();
    }

    /// The handle of a device, for `Input::ReportRef`.
    pub fn device_ref(&self, device: &str) -> Option<DeviceRef> {
        self.device_index(device).map(DeviceRef)
    }

    pub fn ticket(&self, id: TicketId) -> Option<&Ticket> {
        self.tickets.get(&id)
    }

    pub fn tickets(&self) -> impl Iterator<Item = &Ticket> {
        self.tickets.values()
    }

    pub fn device_memory(&self, device: &str) -> Option<&DeviceMemory> {
        self.device_index(device)
            .map(|d| &self.slots[d as usize].mem)
    }

    /// The device's health as the project view shows it.
    pub fn status(&self, device: &str, now: Ms) -> DeviceStatus {
        let Some(d) = self.device_index(device) else {
            return DeviceStatus::Unknown;
        };
        let s = &self.slots[d as usize];
        let active = || s.mem.faults.iter().filter(|f| f.active);
        if self.in_maintenance(d, now) {
            DeviceStatus::Maintenance
        } else if active().any(|f| f.kind.is_down() && f.affected_by.is_some()) {
            DeviceStatus::Affected
        } else if active().any(|f| f.kind.is_down()) {
            DeviceStatus::Down
        } else if active().next().is_some() {
            DeviceStatus::Warning
        } else if s.mem.last_report_at.is_some() {
            DeviceStatus::Ok
        } else {
            DeviceStatus::Unknown
        }
    }

    pub(crate) fn last_now(&self) -> Ms {
        self.last_now
    }

    pub(crate) fn device_index(&self, device: &str) -> Option<u32> {
        self.index.get(device).copied()
    }

    /// After a restart at `now`: a fresh grace for a device due before now + [`RECONNECT`] or
    /// two graces, whichever is longer (its report may have been sent while the hub was down:
    /// an agent re-sends it on reconnecting, a device without an outbox at its next check-in).
    pub(crate) fn restart_grace(&mut self, d: u32, now: Ms) {
        let window = (2 * self.grace(d)).max(RECONNECT);
        if self.slots[d as usize]
            .mem
            .deadline
            .is_some_and(|dl| dl <= now + window)
        {
            self.fresh_grace(d, now);
        }
    }

    /// Pushes every heartbeat deadline to at least `now` + the declared check-in + grace.
    pub(crate) fn fresh_grace(&mut self, d: u32, now: Ms) {
        let grace = self.grace(d);
        let slot = &mut self.slots[d as usize];
        // A device already judged silent stays silent: the hub's pause proves nothing either way.
        if slot
            .mem
            .faults
            .iter()
            .any(|f| f.kind == FaultKind::Silent && f.raw_since.is_some())
        {
            return;
        }
        if let Some(deadline) = slot.mem.deadline {
            let fresh = now + slot.mem.checkin + grace;
            if fresh > deadline {
                slot.mem.deadline = Some(fresh);
                self.dirty_device(d);
            }
        }
    }

    pub(crate) fn grace(&self, d: u32) -> Ms {
        let project = &self.slots[d as usize].info.project;
        self.cfg
            .project_grace
            .get(project)
            .copied()
            .unwrap_or(self.cfg.heartbeat_grace)
    }

    /// Re-evaluates a device after a change and re-arms its timer.
    pub(crate) fn touch(&mut self, now: Ms, d: u32) {
        self.step_device(now, d);
        self.dirty_device(d);
        self.arm(d, now);
    }

    pub(crate) fn dirty_device(&mut self, d: u32) {
        if self.device_changes {
            self.dirty_devices.insert(d);
        }
    }

    pub(crate) fn mark_ticket(&mut self, id: TicketId) {
        self.dirty_tickets.insert(id);
    }

    pub(crate) fn emit(&mut self, o: Output) {
        self.outputs.push(o);
    }

    pub(crate) fn arm(&mut self, d: u32, now: Ms) {
        let Some(wake) = self.device_wake(d, now) else {
            return;
        };
        let slot = &mut self.slots[d as usize];
        if slot.armed.is_none_or(|a| wake < a) {
            slot.armed = Some(wake);
            self.timers.push(wake, Timer::Device(d));
        }
    }

    pub(crate) fn arm_ticket(&mut self, id: TicketId, at: Ms) {
        self.timers.push(at, Timer::Ticket(id));
    }

    fn arm_maintenance(&mut self, now: Ms) {
        let next = self
            .maintenance
            .iter()
            .flat_map(|m| [m.from, m.until])
            .filter(|&t| t > now)
            .min();
        if let Some(t) = next {
            if self.maintenance_armed.is_none_or(|a| t < a) {
                self.maintenance_armed = Some(t);
                self.timers.push(t, Timer::Maintenance);
            }
        }
    }

    fn run_timers(&mut self, now: Ms) {
        while let Some((at, timer)) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Device(d) => {
                    let slot = &mut self.slots[d as usize];
                    if slot.armed != Some(at) {
                        continue; // superseded
                    }
                    slot.armed = None;
                    let probe_due = slot.probed_at.is_some() && self.probe_wake(d).is_some();
                    let slot = &mut self.slots[d as usize];
                    let healthy = !probe_due
                        && slot.mem.faults.is_empty()
                        && slot.mem.deadline.is_none_or(|dl| dl >= now)
                        && slot
                            .mem
                            .planned_until
                            .is_none_or(|p| p == Ms::MAX || p >= now);
                    if healthy {
                        // The deadline moved on with later reports: nothing changed, just re-arm.
                        self.arm(d, now);
                    } else {
                        self.touch(now, d);
                    }
                }
                Timer::Ticket(id) => self.on_ticket_timer(now, id),
                Timer::Maintenance => {
                    if self.maintenance_armed != Some(at) {
                        continue; // superseded by an earlier boundary
                    }
                    self.maintenance_armed = None;
                    self.maintenance.retain(|m| m.until > now);
                    self.arm_maintenance(now);
                    self.evaluate_all(now);
                }
            }
        }
    }

    fn evaluate_all(&mut self, now: Ms) {
        for d in 0..self.slots.len() as u32 {
            if !self.slots[d as usize].mem.faults.is_empty() {
                self.touch(now, d);
            }
        }
    }

    /// Whether planned work covers the device (itself, its site or its project) at `now`.
    pub(crate) fn in_maintenance(&self, d: u32, now: Ms) -> bool {
        let info = &self.slots[d as usize].info;
        self.maintenance.iter().any(|m| {
            m.from <= now
                && now < m.until
                && (m.scope == info.id || m.scope == info.site || m.scope == info.project)
        })
    }
}
