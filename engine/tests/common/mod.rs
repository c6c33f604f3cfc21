//! What the engine's virtual-time tests share: a `Sim` that steps the engine through time as
//! ingest would, and the devices and reports they send.
// Each test file uses a part of these.
#![allow(dead_code)]

use heartline_engine::*;
use heartline_proto::CheckState;
use std::collections::HashMap;

pub const T0: Ms = 1_790_000_000_000;

pub struct Sim {
    pub engine: Engine,
    pub now: Ms,
    pub devices: Vec<DeviceInfo>,
    pub cfg: EngineConfig,
}

pub fn dev(id: &str, uplink: Option<&str>, kind: &str) -> DeviceInfo {
    DeviceInfo {
        id: id.into(),
        tenant: "t".into(),
        project: "p".into(),
        site: "s".into(),
        kind: kind.into(),
        uplink: uplink.map(Into::into),
    }
}

pub fn report(checkin_s: u32) -> Report {
    Report {
        boot_id: 1,
        sequence: 1,
        sent_at_ms: 0,
        received_at_ms: 0,
        next_checkin_s: checkin_s,
        metrics: vec![],
        checks: vec![],
        events: vec![],
    }
}

/// Reports that are not about the heartbeat declare a day's check-in, so silence plays no part.
pub const DAY_S: u32 = 86_400;

pub fn metric(name: &str, instance: &str, value: f64) -> Report {
    let mut r = report(DAY_S);
    r.metrics.push(MetricValue {
        name: name.into(),
        instance: instance.into(),
        value,
        unit: "%".into(),
    });
    r
}

pub fn check(name: &str, state: CheckState) -> Report {
    let mut r = report(DAY_S);
    r.checks.push(CheckResult {
        name: name.into(),
        state,
        message: "m".into(),
    });
    r
}

pub fn event(kind: EventKind) -> Report {
    let mut r = report(DAY_S);
    r.events.push(DeviceEvent {
        kind,
        at_ms: 0,
        detail: String::new(),
    });
    r
}

impl Sim {
    pub fn new(cfg: EngineConfig, devices: Vec<DeviceInfo>) -> Sim {
        Sim {
            engine: Engine::new(cfg.clone(), devices.clone()),
            now: T0,
            devices,
            cfg,
        }
    }

    pub fn one(cfg: EngineConfig) -> Sim {
        Sim::new(cfg, vec![dev("d", None, "camera")])
    }

    pub fn send(&mut self, device: &str, r: Report) {
        self.engine
            .handle(self.now, Input::Report { device, report: &r })
            .unwrap();
    }

    pub fn input(&mut self, input: Input<'_>) {
        self.engine.handle(self.now, input).unwrap();
    }

    /// The operator dispatches and cancels; everything else is the engineer's own action.
    pub fn act(&mut self, id: TicketId, action: TicketAction) -> Result<(), TicketError> {
        let actor = match action {
            TicketAction::Dispatch { .. } | TicketAction::Cancel { .. } => {
                Actor::Operator("ops".into())
            }
            _ => Actor::Engineer("e".into()),
        };
        self.act_as(id, action, actor)
    }

    pub fn act_as(
        &mut self,
        id: TicketId,
        action: TicketAction,
        actor: Actor,
    ) -> Result<(), TicketError> {
        self.engine
            .handle(self.now, Input::Ticket { id, action, actor })
    }

    /// Steps virtual time to `t`, ticking at every deadline the engine asks for.
    pub fn to(&mut self, t: Ms) {
        while self.engine.next_deadline() <= t {
            self.now = self.engine.next_deadline().max(self.now);
            self.engine.handle(self.now, Input::Tick).unwrap();
        }
        self.now = t;
        self.engine.handle(self.now, Input::Tick).unwrap();
    }

    pub fn by(&mut self, dt: Ms) {
        self.to(self.now + dt);
    }

    /// Keeps `device` reporting `r` every `every` until `until`.
    pub fn keep(&mut self, device: &str, r: &Report, every: Ms, until: Ms) {
        while self.now + every <= until {
            self.by(every);
            self.send(device, r.clone());
        }
        self.to(until);
    }

    pub fn tickets(&self) -> Vec<Ticket> {
        self.engine.tickets().cloned().collect()
    }

    pub fn unfinished(&self) -> Vec<Ticket> {
        self.engine
            .tickets()
            .filter(|t| !t.state.is_terminal())
            .cloned()
            .collect()
    }

    pub fn only(&self) -> Ticket {
        let all = self.tickets();
        assert_eq!(all.len(), 1, "expected one ticket: {all:#?}");
        all[0].clone()
    }

    /// Simulates a hub restart: everything the engine handed out is all that survives.
    pub fn restart(
        &mut self,
        persisted: &mut (
            HashMap<String, DeviceMemory>,
            HashMap<TicketId, Ticket>,
            TicketId,
        ),
    ) {
        let changes = self.engine.take_changes();
        persisted.0.extend(changes.devices);
        persisted
            .1
            .extend(changes.tickets.into_iter().map(|t| (t.id, t)));
        persisted.2 = changes.next_ticket;
        self.engine = Engine::restore(
            self.cfg.clone(),
            self.devices.clone(),
            persisted.0.clone(),
            persisted.1.values().cloned().collect(),
            persisted.2,
            self.now,
        );
    }
}

pub fn cfg() -> EngineConfig {
    EngineConfig::default()
}
