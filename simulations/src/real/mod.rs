//! Real mode: the scenario's fleet as real MQTT clients against a running hub, in wall-clock
//! time. Every device is a task ([`device`]) that signs its reports and keeps them until the hub
//! acknowledges them; engineers ([`engineer`]) work their queue through the hub's gRPC API with
//! their own tokens; the fault controller here draws the scenario's schedule (the same
//! [`schedule::plan`] as virtual time: the ground truth), starts each problem when its time
//! comes, ends the ones that end by themselves and heals a device when an engineer repairs it.
//! With `rounds: None` the schedule is drawn again, with the next seed, each time it runs out.
//!
//! Not simulated in real mode: planned maintenance and hub restarts (they need the hub's own
//! configuration and process); those entries of a schedule are skipped.

pub mod device;
pub mod engineer;

use crate::fleet::Fleet;
use crate::run::{Outcome, Stats};
use crate::scenario::{FaultType, Scenario};
use crate::schedule::{Class, Problem, plan};
use crate::secrets::Secrets;
use device::Condition;
use heartline_engine::{Ms, Ticket, TicketId, TicketState};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Where the hub listens.
#[derive(Debug, Clone, Copy)]
pub struct Endpoints {
    /// MQTT 3.1.1.
    pub mqtt: SocketAddr,
    /// HTTP: the gRPC API.
    pub http: SocketAddr,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// How many times the schedule runs; `None`: until stopped.
    pub rounds: Option<u32>,
}

/// Counters shared by the devices, engineers and controller.
pub struct Shared {
    pub hub: SocketAddr,
    pub connected: AtomicUsize,
    pub reports: AtomicU64,
    pub acked: AtomicU64,
    pub resent: AtomicU64,
    /// Engineer steps the hub refused.
    pub refused: AtomicU64,
    pub repaired: AtomicU64,
    /// Wall-clock ms of each device's last report (0: none yet).
    pub last_report: Vec<AtomicI64>,
}

/// An engineer has repaired the device: heal it, then answer.
pub struct Repair {
    pub device: String,
    pub done: oneshot::Sender<()>,
}

/// What the fleet is doing, for a progress line.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    pub devices: usize,
    pub connected: usize,
    pub reports: u64,
    pub acked: u64,
    pub resent: u64,
    pub problems_started: usize,
    pub problems_active: usize,
    pub repaired: u64,
}

/// A fleet running against a hub.
pub struct Running {
    shared: Arc<Shared>,
    problems: Arc<Mutex<Vec<Problem>>>,
    device_ids: Vec<String>,
    stop: watch::Sender<bool>,
    controller: JoinHandle<()>,
    devices: Vec<JoinHandle<()>>,
    engineers: Vec<JoinHandle<()>>,
    started_ms: Ms,
    scenario: String,
    probe_timeout: Ms,
    seed: u64,
    engineer_count: usize,
}

fn now_ms() -> Ms {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Ms)
}

/// Starts the fleet: devices connect within their first interval, engineers watch their queue,
/// the schedule starts now. Must be called within a tokio runtime.
pub fn start(s: &Scenario, secrets: &Secrets, hub: Endpoints, opts: &Options) -> Running {
    let fleet = Fleet::build(s);
    let seed = opts.seed.unwrap_or(s.seed);
    let shared = Arc::new(Shared {
        hub: hub.mqtt,
        connected: AtomicUsize::new(0),
        reports: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        resent: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        repaired: AtomicU64::new(0),
        last_report: (0..fleet.len()).map(|_| AtomicI64::new(0)).collect(),
    });
    let healthy: Vec<Arc<_>> = fleet
        .templates
        .iter()
        .map(|t| Arc::new(t.report.clone()))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut conditions = Vec::with_capacity(fleet.len());
    let mut devices = Vec::with_capacity(fleet.len());
    for (i, info) in fleet.infos.iter().enumerate() {
        let (tx, rx) = watch::channel(Condition::Healthy);
        conditions.push(tx);
        let every = Duration::from_millis(fleet.every(i as u32) as u64);
        // Connections spread over the first interval (at most ten seconds): no connect storm.
        let first_in =
            Duration::from_millis(rng.random_range(0..every.as_millis().min(10_000) as u64 + 1));
        let spec = device::Spec {
            index: i,
            tenant: info.tenant.clone(),
            id: info.id.clone(),
            key: secrets.device_key(&info.id),
            token: secrets.device_token(&info.id),
            every,
            healthy: healthy[fleet.template[i] as usize].clone(),
        };
        devices.push(tokio::spawn(device::run(
            spec,
            rx,
            shared.clone(),
            first_in,
        )));
    }
    let (repair_tx, repairs) = mpsc::channel(64);
    let engineers = fleet
        .engineers
        .iter()
        .map(|e| {
            tokio::spawn(engineer::run(
                e.clone(),
                secrets.engineer_token(&e.id),
                hub.http,
                repair_tx.clone(),
                shared.clone(),
            ))
        })
        .collect();
    let (stop, stopped) = watch::channel(false);
    let problems = Arc::new(Mutex::new(Vec::new()));
    let device_ids = fleet.infos.iter().map(|i| i.id.clone()).collect();
    let engineer_count = fleet.engineers.len();
    let controller = Controller {
        s: s.clone(),
        fleet,
        conditions,
        shared: shared.clone(),
        problems: problems.clone(),
        active_at: HashMap::new(),
        busy: HashMap::new(),
        events: BinaryHeap::new(),
        seq: 0,
        staged: Vec::new(),
        rounds: opts.rounds,
        seed,
    };
    Running {
        shared,
        problems,
        device_ids,
        stop,
        controller: tokio::spawn(controller.run(repairs, stopped)),
        devices,
        engineers,
        started_ms: now_ms(),
        scenario: s.name.clone(),
        probe_timeout: s.detection.probe_timeout,
        seed,
        engineer_count,
    }
}

impl Running {
    pub fn snapshot(&self) -> Snapshot {
        let p = self.problems.lock().expect("problems");
        Snapshot {
            devices: self.device_ids.len(),
            connected: self.shared.connected.load(Ordering::Relaxed),
            reports: self.shared.reports.load(Ordering::Relaxed),
            acked: self.shared.acked.load(Ordering::Relaxed),
            resent: self.shared.resent.load(Ordering::Relaxed),
            problems_started: p.len(),
            problems_active: p.iter().filter(|p| p.end.is_none()).count(),
            repaired: self.shared.repaired.load(Ordering::Relaxed),
        }
    }

    /// The problems started so far: the ground truth.
    pub fn problems(&self) -> Vec<Problem> {
        self.problems.lock().expect("problems").clone()
    }

    pub fn engineers(&self) -> usize {
        self.engineer_count
    }

    pub fn device_ids(&self) -> &[String] {
        &self.device_ids
    }

    /// Stops the fleet: engineers stop, devices say goodbye (planned: no tickets) and disconnect.
    /// The outcome is scored with the hub's `tickets`.
    pub async fn stop(self, tickets: Vec<Ticket>) -> Outcome {
        let _ = self.stop.send(true);
        let _ = self.controller.await;
        for e in &self.engineers {
            e.abort();
        }
        let wall_s = (now_ms() - self.started_ms) as f64 / 1_000.0;
        for d in self.devices {
            let _ = d.await;
        }
        let end = now_ms();
        let dispatched_at = dispatched_at(&tickets);
        let reports = self.shared.reports.load(Ordering::Relaxed);
        Outcome {
            scenario: self.scenario,
            seed: self.seed,
            devices: self.device_ids.len(),
            engineers: self.engineer_count,
            start: self.started_ms,
            end,
            problems: self.problems.lock().expect("problems").clone(),
            device_ids: self.device_ids,
            tickets,
            dispatched_at,
            stats: Stats {
                inputs: reports,
                reports,
                ticks: 0,
                actions_refused: self.shared.refused.load(Ordering::Relaxed),
                inputs_lost: 0,
                restarts: 0,
                wall_s,
                ..Stats::default()
            },
            probe_timeout: self.probe_timeout,
        }
    }
}

/// When each ticket was first offered to an engineer, from its timeline.
fn dispatched_at(tickets: &[Ticket]) -> HashMap<TicketId, Ms> {
    tickets
        .iter()
        .filter_map(|t| {
            let e = t
                .timeline
                .iter()
                .find(|e| matches!(e.change, Some((_, TicketState::Dispatched))))?;
            Some((t.id, e.at))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Start(usize),
    End(usize),
    /// A flapping link goes down (`true`) or comes back.
    Flap(usize, bool),
    /// The next round of the schedule.
    Round(u32),
}

struct Controller {
    s: Scenario,
    fleet: Fleet,
    conditions: Vec<watch::Sender<Condition>>,
    shared: Arc<Shared>,
    problems: Arc<Mutex<Vec<Problem>>>,
    /// Unfinished problem by its root device, and by every device it touches.
    active_at: HashMap<u32, usize>,
    busy: HashMap<u32, usize>,
    events: BinaryHeap<Reverse<(Ms, u64, Event)>>,
    seq: u64,
    /// Problems drawn but not started yet (`Event::Start` names them here).
    staged: Vec<Option<Problem>>,
    rounds: Option<u32>,
    seed: u64,
}

impl Controller {
    fn schedule(&mut self, at: Ms, e: Event) {
        self.seq += 1;
        self.events.push(Reverse((at, self.seq, e)));
    }

    async fn run(mut self, mut repairs: mpsc::Receiver<Repair>, mut stop: watch::Receiver<bool>) {
        self.schedule(now_ms(), Event::Round(0));
        loop {
            let next = self.events.peek().map(|Reverse((t, _, _))| *t);
            let Some(next) = next else { break };
            let wait = Duration::from_millis((next - now_ms()).max(0) as u64);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {
                    let Some(Reverse((_, _, e))) = self.events.pop() else { continue };
                    self.event(e);
                }
                Some(r) = repairs.recv() => {
                    self.repair(&r.device);
                    let _ = r.done.send(());
                }
                _ = stop.changed() => break,
            }
        }
        // The schedule ran out, or the run stops: devices stop once asked.
        if !*stop.borrow() {
            // Keep healing repaired devices until the run stops.
            loop {
                tokio::select! {
                    Some(r) = repairs.recv() => {
                        self.repair(&r.device);
                        let _ = r.done.send(());
                    }
                    _ = stop.changed() => break,
                }
            }
        }
        for c in &self.conditions {
            let _ = c.send(Condition::Stop);
        }
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::Round(r) => self.round(r),
            Event::Start(i) => self.begin(i),
            Event::End(p) => self.finish(p, false),
            Event::Flap(p, down) => self.flap(p, down),
        }
    }

    /// Draws the schedule once more, starting now.
    fn round(&mut self, r: u32) {
        if self.rounds.is_some_and(|n| r >= n) {
            return;
        }
        let mut s = self.s.clone();
        s.start = now_ms();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed.wrapping_add(r as u64));
        match plan(&s, &self.fleet, &mut rng) {
            Ok(plan) => {
                for p in plan.problems {
                    if matches!(
                        p.fault,
                        FaultType::Maintenance { .. } | FaultType::HubRestart { .. }
                    ) {
                        continue;
                    }
                    self.staged.push(Some(p.clone()));
                    self.schedule(p.start, Event::Start(self.staged.len() - 1));
                }
            }
            Err(e) => eprintln!("heartline-sim: the schedule cannot be drawn: {e}"),
        }
        self.schedule(s.start + s.duration, Event::Round(r + 1));
    }

    fn set(&self, d: u32, c: Condition) {
        let _ = self.conditions[d as usize].send(c);
    }

    /// A staged problem starts, unless a device it needs is still in an earlier one.
    fn begin(&mut self, staged: usize) {
        let Some(mut p) = self.staged[staged].take() else {
            return;
        };
        if p.devices.iter().any(|d| self.busy.contains_key(d)) {
            return;
        }
        let now = now_ms();
        p.start = now;
        let root = p.device;
        let info = self.fleet.infos[root as usize].clone();
        let grace = self
            .s
            .detection
            .project_grace
            .get(&info.project)
            .copied()
            .unwrap_or(self.s.detection.heartbeat_grace);
        let last = self.shared.last_report[root as usize].load(Ordering::Relaxed);
        let silence_due = (last > 0).then(|| last + self.fleet.every(root) + grace);
        let offline_due = now + self.s.detection.offline_hold;
        let idx = {
            let mut all = self.problems.lock().expect("problems");
            all.push(p.clone());
            all.len() - 1
        };
        self.active_at.insert(root, idx);
        for &d in &p.devices {
            self.busy.insert(d, idx);
        }
        let (due, by_silence) = match &p.fault {
            FaultType::Dies => {
                self.set(root, Condition::Silent);
                (silence_due, true)
            }
            FaultType::UplinkDown { .. } => {
                for &d in &p.devices {
                    self.set(d, Condition::Silent);
                }
                (silence_due, true)
            }
            FaultType::Disconnects => {
                self.set(root, Condition::Cut);
                (Some(offline_due), false)
            }
            FaultType::Flapping { lasts, .. } => {
                self.schedule(now + lasts, Event::End(idx));
                self.flap(idx, true);
                (Some(offline_due), false)
            }
            fault => {
                if let FaultType::Overheats { lasts: Some(l), .. } = fault {
                    self.schedule(now + l, Event::End(idx));
                }
                self.set(
                    root,
                    Condition::Faulty {
                        fault: fault.clone(),
                        since: tokio::time::Instant::now(),
                    },
                );
                // A device reports a changed state at once (as the agent does), so the fault
                // shows from now, plus the rule's hold.
                let hold = crate::symptoms::hold(&self.s.detection, &info, fault);
                (hold.map(|h| now + h), false)
            }
        };
        // Uplink faults: the first deadline among the gateway and the devices behind it.
        let first_due = matches!(p.fault, FaultType::UplinkDown { .. })
            .then(|| {
                p.devices
                    .iter()
                    .filter_map(|&d| {
                        let last = self.shared.last_report[d as usize].load(Ordering::Relaxed);
                        let project = &self.fleet.infos[d as usize].project;
                        let grace = self
                            .s
                            .detection
                            .project_grace
                            .get(project)
                            .copied()
                            .unwrap_or(self.s.detection.heartbeat_grace);
                        (last > 0).then(|| last + self.fleet.every(d) + grace)
                    })
                    .min()
            })
            .flatten();
        let mut all = self.problems.lock().expect("problems");
        all[idx].due = due;
        all[idx].by_silence = by_silence;
        all[idx].first_due = first_due;
        if p.class == Class::Check || p.class == Class::Threshold {
            all[idx].first_bad = Some(now);
        }
    }

    fn flap(&mut self, idx: usize, down: bool) {
        let (fault, root, over) = {
            let all = self.problems.lock().expect("problems");
            (
                all[idx].fault.clone(),
                all[idx].device,
                all[idx].end.is_some(),
            )
        };
        let FaultType::Flapping { period, .. } = fault else {
            return;
        };
        if over {
            return;
        }
        self.set(
            root,
            if down {
                Condition::Cut
            } else {
                Condition::Healthy
            },
        );
        self.schedule(now_ms() + period / 2, Event::Flap(idx, !down));
    }

    /// The problem is over: repaired by an engineer, or ended by itself. Its devices are healthy.
    fn finish(&mut self, idx: usize, repaired: bool) {
        let devices = {
            let mut all = self.problems.lock().expect("problems");
            let p = &mut all[idx];
            if p.end.is_some() {
                return;
            }
            p.end = Some(now_ms());
            p.repaired = repaired;
            self.active_at.remove(&p.device);
            p.devices.clone()
        };
        for d in devices {
            self.busy.remove(&d);
            self.set(d, Condition::Healthy);
        }
    }

    /// An engineer repaired `device`: whatever problem it is the root of is over.
    fn repair(&mut self, device: &str) {
        self.shared.repaired.fetch_add(1, Ordering::Relaxed);
        let Some(&d) = self.fleet.index.get(device) else {
            return;
        };
        if let Some(&idx) = self.active_at.get(&d).or_else(|| self.busy.get(&d)) {
            self.finish(idx, true);
        }
    }
}
