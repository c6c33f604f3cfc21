//! The virtual-time run: the hub's sans-IO engine (with its dispatch policy) driven directly,
//! seeded and deterministic. Devices report from a calendar queue, faults and engineers from an
//! event heap, and the engine is ticked exactly when its `next_deadline` asks; nothing ticks
//! every device every second, so the work follows the reports, not the clock.

mod engineers;
mod faults;
mod restart;

use crate::fleet::Fleet;
use crate::queue::ReportQueue;
use crate::scenario::{FaultType, Scenario};
use crate::schedule::{Plan, Problem, plan};
use heartline_engine::diagnostic::FileError;
use heartline_engine::{
    DeviceMemory, DeviceRef, Engine, EngineConfig, Input, Maintenance, Ms, NoticeKind, Output,
    Ticket, TicketId,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::Instant;

/// How a run is made.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// A progress line on stderr.
    pub progress: bool,
}

/// Counters of one run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    /// Every `Engine::handle` call: reports, presence, ticks, maintenance, ticket actions.
    pub inputs: u64,
    pub reports: u64,
    pub ticks: u64,
    /// Uplinks probed for a report because a device behind them went silent, and answers.
    pub probes: u64,
    pub probes_answered: u64,
    /// Engineer actions the engine refused (the ticket moved on: healed, merged, re-offered).
    pub actions_refused: u64,
    /// Inputs that arrived while the hub was down (engineers' actions, probe answers); reports
    /// sent then wait in the device's outbox instead, see `resent`.
    pub inputs_lost: u64,
    /// Devices that re-sent their outbox when the hub came back, as the agent does.
    pub resent: u64,
    pub restarts: u64,
    pub wall_s: f64,
}

/// Everything a run produced, for scoring.
pub struct Outcome {
    pub scenario: String,
    pub seed: u64,
    pub devices: usize,
    pub engineers: usize,
    pub start: Ms,
    pub end: Ms,
    pub problems: Vec<Problem>,
    /// Device ids by index (problems name devices by index).
    pub device_ids: Vec<String>,
    pub tickets: Vec<Ticket>,
    /// When each ticket was first offered to an engineer.
    pub dispatched_at: HashMap<TicketId, Ms>,
    pub stats: Stats,
    /// The engine's probe timeout, which findings allow for.
    pub probe_timeout: Ms,
}

/// Device flags: any set means the device does not report.
const DEAD: u8 = 1;
const BEHIND: u8 = 2;
const OFF: u8 = 4;
const FLAP: u8 = 8;
const NONE: u32 = u32::MAX;
/// Planned work is booked with this margin after the work itself.
pub const MAINTENANCE_MARGIN: Ms = 10 * 60_000;
/// A device back on the network reports within this.
const RECONNECT: Ms = 30_000;
/// From the hub's probe to the uplink's answering report arriving back (a generous LAN round
/// trip plus ingest's batching).
pub const PROBE_RTT: Ms = 250;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Accept,
    OnSite,
    Repair,
}

/// What the simulator itself schedules (device reports live in the [`ReportQueue`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Start(u32),
    /// A problem that ends by itself (overheat over, flapping over, maintenance done).
    End(u32),
    /// A flapping link goes down (`true`) or comes back.
    Flap(u32, bool),
    Engineer(TicketId, u16, Step),
    HubDown(usize),
    HubUp(usize),
    /// A probed device's answer: one extra report, if it can still send.
    ProbeAnswer(u32),
}

/// What the hub had committed when it stopped: what `Engine::restore` gets back. Ingest commits
/// every change of an input before acknowledging it, so this is the engine's whole state at the
/// stop; it is read through the engine's public accessors rather than kept from every
/// `take_changes`, which would double the cost of a run.
struct Persisted {
    memory: HashMap<String, DeviceMemory>,
    tickets: BTreeMap<TicketId, Ticket>,
    next_ticket: TicketId,
}

struct World<'a> {
    s: &'a Scenario,
    fleet: Fleet,
    cfg: EngineConfig,
    engine: Engine,
    /// The engine's handle of each device, so that reports skip the lookup by id.
    refs: Vec<DeviceRef>,
    rng: ChaCha8Rng,
    now: Ms,
    end: Ms,
    reports: ReportQueue,
    events: BinaryHeap<Reverse<(Ms, u64, Event)>>,
    seq: u64,
    flags: Vec<u8>,
    scheduled: Vec<bool>,
    last_report: Vec<Ms>,
    /// A report sent while the hub was down waits in the device's outbox until it is back.
    outbox: Vec<bool>,
    fault_of: Vec<u32>,
    problems: Vec<Problem>,
    /// The unfinished problem rooted at a device.
    active_at: HashMap<u32, u32>,
    restarts: Vec<crate::schedule::Restart>,
    busy: Vec<Ms>,
    hub_up: bool,
    /// What the stopped hub had committed, until it is back.
    persisted: Option<Persisted>,
    next_ticket: TicketId,
    collected: Ms,
    dispatched_at: HashMap<TicketId, Ms>,
    stats: Stats,
}

/// Runs a scenario in virtual time.
pub fn run(s: &Scenario, opts: &Options) -> Result<Outcome, FileError> {
    let seed = opts.seed.unwrap_or(s.seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let fleet = Fleet::build(s);
    let Plan { problems, restarts } = plan(s, &fleet, &mut rng)?;
    let mut cfg = EngineConfig {
        roster: fleet.roster.clone(),
        ..s.detection.clone()
    };
    // Planned work is booked in the hub's configuration ahead of time, as `[[maintenance]]` in
    // hub.toml is: it survives a restart.
    for p in &problems {
        if let FaultType::Maintenance { lasts } = p.fault {
            cfg.maintenance.push(Maintenance {
                scope: fleet.infos[p.device as usize].site.clone(),
                from: p.start,
                until: p.start + lasts + MAINTENANCE_MARGIN,
                reason: "planned work (simulated)".into(),
            });
        }
    }
    let mut engine = Engine::new(cfg.clone(), fleet.infos.clone());
    // Device memories are read back only at a restart, through `device_memory`.
    engine.skip_device_changes();
    let refs = fleet
        .infos
        .iter()
        .map(|i| engine.device_ref(&i.id).expect("the engine's own device"))
        .collect();
    let horizon = fleet
        .templates
        .iter()
        .map(|t| t.every)
        .max()
        .unwrap_or(1_000)
        + RECONNECT;
    let n = fleet.len();
    let mut w = World {
        s,
        cfg,
        engine,
        refs,
        rng,
        now: s.start,
        end: s.start + s.duration,
        reports: ReportQueue::new(s.start, horizon),
        events: BinaryHeap::new(),
        seq: 0,
        flags: vec![0; n],
        scheduled: vec![true; n],
        last_report: vec![Ms::MIN; n],
        outbox: vec![false; n],
        fault_of: vec![NONE; n],
        problems,
        active_at: HashMap::new(),
        busy: vec![s.start; fleet.engineers.len()],
        hub_up: true,
        persisted: None,
        next_ticket: 1,
        collected: s.start,
        restarts,
        dispatched_at: HashMap::new(),
        stats: Stats::default(),
        fleet,
    };
    // Every device reports first at a random phase of its interval.
    for d in 0..n as u32 {
        let phase = w.rng.random_range(0..w.fleet.every(d));
        w.reports.push(s.start + phase, d);
    }
    for p in 0..w.problems.len() {
        let at = w.problems[p].start;
        w.schedule(at, Event::Start(p as u32));
    }
    for i in 0..w.restarts.len() {
        let r = w.restarts[i];
        w.schedule(r.at, Event::HubDown(i));
        w.schedule(r.at + r.down, Event::HubUp(i));
    }
    let wall = Instant::now();
    w.main_loop(opts.progress);
    w.stats.wall_s = wall.elapsed().as_secs_f64();
    let World {
        engine,
        problems,
        dispatched_at,
        stats,
        fleet,
        ..
    } = w;
    Ok(Outcome {
        scenario: s.name.clone(),
        seed,
        devices: fleet.len(),
        engineers: fleet.engineers.len(),
        start: s.start,
        end: s.start + s.duration,
        problems,
        device_ids: fleet.infos.into_iter().map(|i| i.id).collect(),
        tickets: engine.tickets().cloned().collect(),
        dispatched_at,
        stats,
        probe_timeout: s.detection.probe_timeout,
    })
}

impl World<'_> {
    fn schedule(&mut self, at: Ms, e: Event) {
        self.seq += 1;
        self.events.push(Reverse((at, self.seq, e)));
    }

    fn main_loop(&mut self, progress: bool) {
        let mut bar = crate::progress::Bar::new(progress, self.s.start, self.end);
        loop {
            let report = self.reports.peek().map(|(t, _)| t);
            let event = self.events.peek().map(|Reverse((t, _, _))| *t);
            let next = match (report, event) {
                (Some(r), Some(e)) => r.min(e),
                (r, e) => r.or(e).unwrap_or(Ms::MAX),
            };
            if next > self.end {
                if self.advance(self.end) {
                    break;
                }
                continue;
            }
            if !self.advance(next) {
                continue; // a probe's answer is due first
            }
            if event == Some(next) {
                let Some(Reverse((_, _, e))) = self.events.pop() else {
                    unreachable!("peeked")
                };
                self.event(e);
            } else if let Some((t, d)) = self.reports.pop() {
                self.report(t, d);
            }
            bar.at(self.now);
        }
        bar.done();
    }

    /// Ticks the engine at every deadline it asks for up to `t`, then sets the clock to `t`.
    /// Stops early (and says so) when a tick sent a probe whose answer is due before `t`: the
    /// answer must reach the engine before the probe's timeout does.
    fn advance(&mut self, t: Ms) -> bool {
        if self.hub_up {
            while self.engine.next_deadline() <= t {
                let at = self.engine.next_deadline().max(self.now);
                self.now = at;
                self.handle(Input::Tick);
                self.stats.ticks += 1;
                self.probes();
                // Ingest commits in batches; once per virtual second is plenty for notices,
                // which carry their own time.
                if at / 1_000 != self.collected / 1_000 {
                    self.collect();
                }
                if self.events.peek().is_some_and(|Reverse((e, _, _))| *e < t) {
                    return false;
                }
            }
        }
        self.now = self.now.max(t);
        true
    }

    fn handle(&mut self, input: Input<'_>) -> bool {
        if !self.hub_up {
            self.stats.inputs_lost += 1;
            return false;
        }
        self.stats.inputs += 1;
        match self.engine.handle(self.now, input) {
            Ok(()) => true,
            Err(_) => {
                self.stats.actions_refused += 1;
                false
            }
        }
    }

    /// Sends the engine's probes: a device that can report answers one round trip later.
    fn probes(&mut self) {
        let probes = self.engine.take_probes();
        self.send_probes(probes);
    }

    fn send_probes(&mut self, probes: Vec<String>) {
        for id in probes {
            let Some(&d) = self.fleet.index.get(&id) else {
                continue;
            };
            self.stats.probes += 1;
            self.schedule(self.now + PROBE_RTT, Event::ProbeAnswer(d));
        }
    }

    /// Takes the engine's changes as ingest would: notices go to the simulated engineers, and
    /// with a restart in the scenario, the rest is kept as the store would keep it.
    fn collect(&mut self) {
        self.collected = self.now;
        let mut changes = self.engine.take_changes();
        // Probes go out with the batch, as ingest sends them (a restart's among them).
        self.send_probes(std::mem::take(&mut changes.probes));
        for o in &changes.outputs {
            if let Output::Notify(n) = o {
                if n.kind != NoticeKind::Dispatched {
                    continue;
                }
                self.dispatched_at.entry(n.ticket).or_insert(n.at);
                if let Some(&e) = self.fleet.engineer_index.get(&n.to) {
                    let think = self.draw(self.fleet.engineers[e as usize].accept);
                    let at = (n.at + think).max(self.now);
                    self.schedule(at, Event::Engineer(n.ticket, e, Step::Accept));
                }
            }
        }
        self.next_ticket = changes.next_ticket;
    }

    fn draw(&mut self, (lo, hi): (Ms, Ms)) -> Ms {
        if hi > lo {
            self.rng.random_range(lo..=hi)
        } else {
            lo
        }
    }

    fn grace(&self, d: u32) -> Ms {
        let project = &self.fleet.infos[d as usize].project;
        self.cfg
            .project_grace
            .get(project)
            .copied()
            .unwrap_or(self.cfg.heartbeat_grace)
    }

    /// Schedules a report from a device that had stopped, unless one is pending.
    fn wake(&mut self, d: u32, at: Ms) {
        if !self.scheduled[d as usize] {
            self.scheduled[d as usize] = true;
            self.reports.push(at, d);
        }
    }

    fn report(&mut self, t: Ms, d: u32) {
        let i = d as usize;
        if self.flags[i] != 0 {
            self.scheduled[i] = false;
            return;
        }
        self.reports.push(t + self.fleet.every(d), d);
        self.send(t, d);
    }

    /// One report from device `d` at `t` (a scheduled one, or the answer to a probe).
    fn send(&mut self, t: Ms, d: u32) {
        let i = d as usize;
        self.stats.reports += 1;
        if !self.hub_up {
            self.outbox[i] = true;
            return;
        }
        self.last_report[i] = t;
        let device = self.refs[i];
        let p = self.fault_of[i];
        if p == NONE {
            let template = &self.fleet.templates[self.fleet.template[i] as usize];
            self.stats.inputs += 1;
            let _ = self.engine.handle(
                self.now,
                Input::ReportRef {
                    device,
                    report: &template.report,
                },
            );
            return;
        }
        let (report, bad) = self.faulty_report(d, p as usize);
        self.handle(Input::ReportRef {
            device,
            report: &report,
        });
        let hold = bad.then(|| self.hold(d, p as usize)).flatten();
        let problem = &mut self.problems[p as usize];
        if let (None, Some(hold)) = (problem.first_bad, hold) {
            problem.first_bad = Some(t);
            problem.due = Some(t + hold);
        }
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::Start(p) => self.start(p as usize),
            Event::End(p) => self.finish(p as usize, false),
            Event::Flap(p, down) => self.flap(p as usize, down),
            Event::Engineer(t, e, step) => self.engineer(t, e, step),
            Event::HubDown(_) => {
                self.collect();
                let memory = self
                    .fleet
                    .infos
                    .iter()
                    .filter_map(|i| {
                        let m = self.engine.device_memory(&i.id)?;
                        Some((i.id.clone(), m.clone()))
                    })
                    .collect();
                let tickets = self.engine.tickets().map(|t| (t.id, t.clone())).collect();
                self.persisted = Some(Persisted {
                    memory,
                    tickets,
                    next_ticket: self.next_ticket,
                });
                self.hub_up = false;
            }
            Event::HubUp(i) => self.hub_up(i),
            Event::ProbeAnswer(d) => {
                // Dead, cut off or disconnected devices don't answer.
                if self.flags[d as usize] == 0 {
                    self.stats.probes_answered += 1;
                    self.send(self.now, d);
                    self.probes();
                }
            }
        }
    }

    fn device_id(&self, d: u32) -> String {
        self.fleet.infos[d as usize].id.clone()
    }
}
