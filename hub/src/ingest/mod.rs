//! Ingest: broker link → decode → verify signature → drop duplicates → commit → ack.
//!
//! Runs on its own thread and works in batches: it takes every message the broker has ready (up to
//! `batch_max`), commits them in one store transaction, and only then acknowledges them. A refused
//! message is data, not an error: it is counted under its reason, logged once, and dropped.
//!
//! Architecture invariant: an `ack` leaves the hub only after the store committed what it covers;
//! when a commit fails nothing is acknowledged and the in-memory state is left as it was, so the
//! devices send the same reports again.
//!
//! Here: the loop and admission (decode, verify, dedupe, rate) of each message; `commit` is the
//! commit step and the acks after it; `restore` rebuilds the engine from the store; `convert`
//! turns wire types into the engine's domain types; `dedupe`, `holes`, `rate`, `reject` below.

mod commit;
mod convert;
mod dedupe;
mod holes;
mod rate;
pub mod reject;
mod restore;

pub use dedupe::{Admit, MAX_BOOTS, admit};
pub use reject::{RejectLog, RejectReason};

use crate::broker::{Delivery, LinkTx};
use crate::directory::Directory;
use crate::live::{CommandError, DeviceView, LiveIngest, Reply, Request, TicketCommand};
use crate::metrics::{Metrics, ReasonLabel};
use crate::store::{DeviceRecord, DeviceStateRecord, Scope, Store, StoreError};
use heartline_engine::{Engine, EngineConfig, Input, Presence, Report, TicketId};
use heartline_proto::envelope::{OpenError, decode_envelope, verify_body};
use heartline_proto::wire;
use heartline_proto::{Channel, DeviceKey, Topic};
use holes::Hole;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// How often the ingest thread looks at the stop flag and for ticket actions while the broker is
/// quiet: the longest an action waits before it is applied.
const STOP_POLL: Duration = Duration::from_millis(10);
/// Quiet period of the rejection log.
const REJECT_LOG_QUIET: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_report_bytes: usize,
    pub batch_max: usize,
    /// New reports accepted per device per minute; 0 = no limit.
    pub max_reports_per_minute: u32,
    /// How many a device may send at once (the bucket's size).
    pub report_burst: u32,
    /// How long a skipped sequence holds the device's ack back, waiting for the device to send
    /// it again (see `holes`); 0: acks are the highest committed sequence, gaps are not waited for.
    pub gap_wait_ms: i64,
}

pub struct Ingest {
    store: Arc<Store>,
    directory: Directory,
    metrics: Arc<Metrics>,
    limits: Limits,
    /// Committed state of every device heard from.
    states: HashMap<String, DeviceStateRecord>,
    /// Sequences skipped over, per device with any (see `holes`).
    holes: HashMap<String, Vec<Hole>>,
    log: RejectLog,
    rate: rate::RateLimit,
    link_tx: LinkTx,
    engine: Engine,
    engine_cfg: EngineConfig,
    /// Bumped by an inventory apply: the engine is rebuilt with the new devices.
    inventory_gen: Arc<AtomicU64>,
    seen_gen: u64,
    live: LiveIngest,
    /// Wakes the notifier when notices were committed.
    notices: Option<flume::Sender<()>>,
    /// Told why, when the store can no longer write until it is reopened; ingest then stops.
    store_failed: Option<crate::parts::Deaths>,
    failed: bool,
    /// When finished tickets past the reopen window next leave the engine's memory.
    next_evict: i64,
}

/// How often settled tickets are dropped from the engine's memory (the store keeps them).
const EVICT_EVERY_MS: i64 = 5 * 60 * 1000;

/// Where a committed request's answer goes.
type Answer = oneshot::Sender<Result<Reply, CommandError>>;

/// The messages taken from the broker but not yet committed.
#[derive(Default)]
struct Batch {
    /// New state of each device touched (starts as a copy of the committed state).
    states: HashMap<String, DeviceStateRecord>,
    reports: Vec<(String, u64, Report)>,
    /// (device, boot) → sequence to acknowledge once committed.
    acks: HashMap<(String, u64), u64>,
    /// New holes of each device touched (starts as a copy of the committed ones).
    holes: HashMap<String, Vec<Hole>>,
    state_changes: u64,
    messages: usize,
    /// Ticket actions applied in this batch, answered once it is committed.
    /// (the ticket to answer with, if any; the caller).
    replies: Vec<(Option<TicketId>, Answer)>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Ingest {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<Store>,
        directory: Directory,
        metrics: Arc<Metrics>,
        limits: Limits,
        link_tx: LinkTx,
        engine_cfg: EngineConfig,
        inventory_gen: Arc<AtomicU64>,
        live: LiveIngest,
        notices: Option<flume::Sender<()>>,
    ) -> Result<Ingest, StoreError> {
        let states = store.device_states()?;
        let engine = restore::build_engine(&store, &engine_cfg, now_ms())?;
        let seen_gen = inventory_gen.load(Ordering::Acquire);
        let now = now_ms();
        for d in store.devices(&Scope::Operator)? {
            let last = states.get(&d.id).map_or(0, |s| s.last_report_at_ms);
            let view = DeviceView {
                status: engine.status(&d.id, now),
                last_report_ms: last,
            };
            live.board.set_device(&d.id, view);
        }
        Ok(Ingest {
            store,
            directory,
            metrics,
            limits,
            states,
            holes: HashMap::new(),
            log: RejectLog::new(REJECT_LOG_QUIET),
            rate: rate::RateLimit::new(limits.max_reports_per_minute, limits.report_burst),
            link_tx,
            engine,
            engine_cfg,
            inventory_gen,
            seen_gen,
            live,
            notices,
            store_failed: None,
            failed: false,
            next_evict: 0,
        })
    }

    /// Where to say that the store failed a write and ingest stopped (see
    /// [`StoreError::needs_reopen`]).
    pub fn on_store_failure(mut self, deaths: crate::parts::Deaths) -> Self {
        self.store_failed = Some(deaths);
        self
    }

    /// Rebuilds device states and the engine from the store: after a failed commit (the memory
    /// may hold changes the store refused) or an inventory change.
    fn reload(&mut self) {
        match self.store.device_states().and_then(|s| {
            Ok((
                s,
                restore::build_engine(&self.store, &self.engine_cfg, now_ms())?,
            ))
        }) {
            Ok((states, engine)) => {
                self.states = states;
                self.engine = engine;
                // What was missing may have come in the batch the store refused: ask again.
                self.holes.clear();
            }
            Err(e) => tracing::error!(error = %e, "cannot reload ingest state from the store"),
        }
    }

    /// Processes messages until `stop` is set, then drains what the broker already delivered,
    /// commits it, and returns.
    pub fn run(mut self, rx: flume::Receiver<Delivery>, stop: Arc<AtomicBool>) {
        let mut batch = Batch::default();
        if crate::parts::injected("ingest") {
            panic!("injected fault (HEARTLINE_FAULT=ingest)");
        }
        loop {
            let generation = self.inventory_gen.load(Ordering::Acquire);
            if generation != self.seen_gen {
                self.seen_gen = generation;
                self.reload();
            }
            let until_tick =
                (self.engine.next_deadline() - now_ms()).clamp(0, STOP_POLL.as_millis() as i64);
            match rx.recv_deadline(Instant::now() + Duration::from_millis(until_tick as u64)) {
                Ok(d) => self.delivery(d, &mut batch),
                Err(flume::RecvTimeoutError::Timeout) => {}
                Err(flume::RecvTimeoutError::Disconnected) => {
                    tracing::error!("the broker's link closed; ingest stops");
                    break;
                }
            }
            // Take everything already waiting, without blocking, into the same transaction.
            while batch.messages < self.limits.batch_max {
                match rx.try_recv() {
                    Ok(d) => self.delivery(d, &mut batch),
                    Err(_) => break,
                }
            }
            while let Ok(cmd) = self.live.commands.try_recv() {
                self.command(cmd, &mut batch);
            }
            let now = now_ms();
            if now >= self.engine.next_deadline() {
                let _ = self.engine.handle(now, Input::Tick);
            }
            let idle = batch.messages == 0 && batch.replies.is_empty();
            self.flush(std::mem::take(&mut batch));
            if self.failed {
                // Nothing more can be committed, so nothing more may be taken or acknowledged.
                return;
            }
            if idle && stop.load(Ordering::Acquire) {
                break;
            }
            self.evict_settled(now);
        }
        while let Ok(cmd) = self.live.commands.try_recv() {
            self.command(cmd, &mut batch);
        }
        self.flush(batch);
        tracing::info!("ingest drained and stopped");
    }

    /// Every `EVICT_EVERY_MS`: finished tickets past the reopen window leave the engine's memory,
    /// so it holds the unfinished and recent ones, not every ticket the hub ever opened. Runs
    /// after a flush, when every change has been taken and stored.
    fn evict_settled(&mut self, now: i64) {
        if now < self.next_evict {
            return;
        }
        self.next_evict = now + EVICT_EVERY_MS;
        let gone = self.engine.evict_settled(now);
        if !gone.is_empty() {
            tracing::debug!(tickets = gone.len(), "finished tickets left memory");
        }
        self.metrics
            .engine_tickets
            .set(self.engine.tickets().count() as i64);
    }

    /// Applies a person's ticket action; refused ones are answered at once, the others once the
    /// batch is committed. A ticket the engine let go (finished long ago) is taken back from
    /// the store first, so a late rating still applies.
    fn command(&mut self, cmd: TicketCommand, batch: &mut Batch) {
        let done = match cmd.request {
            Request::Act { id, action, actor } => {
                if self.engine.ticket(id).is_none() {
                    match self.store.ticket(&Scope::Operator, id) {
                        Ok(Some(t)) => self.engine.readmit(t),
                        Ok(None) => {}
                        Err(e) => {
                            let _ = cmd.reply.send(Err(CommandError::Store(e.to_string())));
                            return;
                        }
                    }
                }
                self.engine
                    .handle(now_ms(), Input::Ticket { id, action, actor })
                    .map(|()| id)
            }
            Request::Report { device, text, user } => {
                self.engine.customer_report(now_ms(), &device, &text, &user)
            }
            Request::Maintenance(m) => {
                let _ = self.engine.handle(now_ms(), Input::Maintenance(m));
                batch.replies.push((None, cmd.reply));
                return;
            }
        };
        match done {
            Ok(id) => batch.replies.push((Some(id), cmd.reply)),
            Err(e) => {
                let _ = cmd.reply.send(Err(e.into()));
            }
        }
    }

    fn delivery(&mut self, d: Delivery, batch: &mut Batch) {
        batch.messages += 1;
        self.message(&d.topic, &d.payload, batch);
    }

    fn message(&mut self, topic: &str, payload: &[u8], batch: &mut Batch) {
        let parsed = Topic::parse(topic);
        let device_hint = parsed.map_or("?", |t| t.device);
        if payload.len() > self.limits.max_report_bytes {
            return self.reject(device_hint, RejectReason::Oversized);
        }
        let Some(topic) = parsed else {
            return self.reject(device_hint, RejectReason::BadTopic);
        };
        let device = match self.directory.get(topic.device) {
            Some(d) if d.info.tenant == topic.tenant => d,
            _ => return self.reject(topic.device, RejectReason::UnknownDevice),
        };
        let key = DeviceKey(device.secrets.key);
        let result = match topic.channel {
            Channel::Report => self.report(&device, &key, payload, batch),
            Channel::State => self.state_change(&device, &key, payload, batch),
            // The hub's own publishes; it does not subscribe to them.
            Channel::Ack | Channel::Config => Ok(()),
        };
        if let Err(reason) = result {
            self.reject(topic.device, reason);
        }
    }

    /// The device's pending state in this batch, starting from its committed state.
    fn pending<'b>(
        committed: &HashMap<String, DeviceStateRecord>,
        pending: &'b mut HashMap<String, DeviceStateRecord>,
        device: &str,
    ) -> &'b mut DeviceStateRecord {
        pending
            .entry(device.to_string())
            .or_insert_with(|| committed.get(device).cloned().unwrap_or_default())
    }

    fn report(
        &mut self,
        device: &DeviceRecord,
        key: &DeviceKey,
        payload: &[u8],
        batch: &mut Batch,
    ) -> Result<(), RejectReason> {
        let report: wire::HealthReport = open(key, payload)?;
        if report.device_id != device.info.id {
            return Err(RejectReason::DeviceMismatch);
        }
        if report.sequence == 0 {
            return Err(RejectReason::Malformed);
        }
        let id = &device.info.id;
        let now = now_ms();
        let state = Self::pending(&self.states, &mut batch.states, id);
        let holes = batch
            .holes
            .entry(id.clone())
            .or_insert_with(|| self.holes.get(id).cloned().unwrap_or_default());
        let given_up = holes::expire(holes, now, self.limits.gap_wait_ms, |boot| {
            state.boots.iter().any(|b| b.boot_id == boot)
        });
        self.metrics.gaps_given_up.inc_by(given_up as u64);
        let boot_id = report.boot_id;
        let late = holes
            .iter()
            .any(|h| h.boot_id == boot_id && (h.from..=h.to).contains(&report.sequence));
        // Only new reports count against the limit: a replayed copy of a device's report (any
        // client can subscribe to it) must not use up that device's allowance.
        let mut boots = state.boots.clone();
        let admitted = if late {
            Admit::New { gap: 0 }
        } else {
            admit(&mut boots, boot_id, report.sequence)
        };
        if matches!(admitted, Admit::New { .. })
            && !self
                .rate
                .admit(id, boot_id, report.sequence, Instant::now())
        {
            return Err(RejectReason::RateLimited);
        }
        let committed = |boots: &[crate::store::BootCursor]| {
            boots
                .iter()
                .find(|b| b.boot_id == boot_id)
                .map_or(0, |b| b.committed)
        };
        let result = match admitted {
            Admit::Duplicate { .. } => Err(RejectReason::Duplicate),
            Admit::New { .. } if late => {
                // Sent before a report already committed: kept in the history, but the
                // device's current checks and the engine have newer news.
                holes::fill(holes, boot_id, report.sequence);
                self.metrics.reports_late.inc();
                let report = convert::report(report, now);
                let index = state.reports;
                state.reports += 1;
                batch.reports.push((id.clone(), index, report));
                Ok(())
            }
            Admit::New { gap } => {
                state.boots = boots;
                if gap > 0 {
                    self.metrics.sequence_gaps.inc();
                    if self.limits.gap_wait_ms > 0 {
                        let given_up = holes::open(
                            holes,
                            boot_id,
                            report.sequence - gap,
                            report.sequence - 1,
                            now,
                        );
                        self.metrics.gaps_given_up.inc_by(given_up as u64);
                    }
                }
                let report = convert::report(report, now);
                state.last_report_at_ms = report.received_at_ms;
                state.next_checkin_s = report.next_checkin_s;
                for check in &report.checks {
                    match state.checks.iter_mut().find(|c| c.name == check.name) {
                        Some(c) => *c = check.clone(),
                        None => state.checks.push(check.clone()),
                    }
                }
                let index = state.reports;
                state.reports += 1;
                let _ = self.engine.handle(
                    report.received_at_ms,
                    Input::Report {
                        device: id,
                        report: &report,
                    },
                );
                batch.reports.push((id.clone(), index, report));
                Ok(())
            }
        };
        // A duplicate is acked again: the device missed the first ack and still holds the report.
        let floor = holes::ack_floor(holes, boot_id, committed(&state.boots));
        let ack = batch.acks.entry((id.clone(), boot_id)).or_default();
        *ack = (*ack).max(floor);
        result
    }

    fn state_change(
        &mut self,
        device: &DeviceRecord,
        key: &DeviceKey,
        payload: &[u8],
        batch: &mut Batch,
    ) -> Result<(), RejectReason> {
        let change: wire::StateChange = open(key, payload)?;
        if change.device_id != device.info.id {
            return Err(RejectReason::DeviceMismatch);
        }
        let presence = convert::presence(&change).ok_or(RejectReason::Malformed)?;
        let state = Self::pending(&self.states, &mut batch.states, &device.info.id);
        // Presence goes by connection (session), not by clock: a last will counts only for the
        // connection that set it; a connection whose will or goodbye was applied is over, so its
        // `online` again (a replayed retained copy, byte for byte) changes nothing, whatever its
        // time; and nothing older than what we know replaces it.
        let ended = matches!(state.presence, Presence::Offline | Presence::Goodbye { .. })
            && change.session == state.presence_session;
        let stale = change.at_ms < state.presence_at_ms
            || (presence == Presence::Offline && change.session != state.presence_session)
            || (presence == Presence::Online && ended);
        if stale {
            return Err(RejectReason::StalePresence);
        }
        if !self.rate.admit_state(&device.info.id, Instant::now()) {
            return Err(RejectReason::RateLimited);
        }
        state.presence = presence;
        state.presence_at_ms = change.at_ms;
        state.presence_session = change.session;
        batch.state_changes += 1;
        let device = device.info.id.as_str();
        let input = match presence {
            Presence::Online => Input::Online { device },
            Presence::Offline => Input::Offline { device },
            Presence::Goodbye { back_in_s } => Input::Goodbye { device, back_in_s },
            Presence::Unknown => return Ok(()),
        };
        let _ = self.engine.handle(now_ms(), input);
        Ok(())
    }

    fn reject(&mut self, device: &str, reason: RejectReason) {
        self.metrics
            .rejected
            .get_or_create(&ReasonLabel { reason })
            .inc();
        if let Some(held_back) = self.log.note(Instant::now(), device, reason) {
            tracing::warn!(
                device,
                reason = reason.as_str(),
                held_back,
                "message refused"
            );
        }
    }
}

fn open<M: prost::Message + Default>(key: &DeviceKey, payload: &[u8]) -> Result<M, RejectReason> {
    let reason = |e| match e {
        OpenError::Malformed => RejectReason::Malformed,
        OpenError::Unsigned => RejectReason::Unsigned,
        OpenError::BadSignature => RejectReason::BadSignature,
    };
    let signed = decode_envelope(payload).map_err(reason)?;
    verify_body(key, &signed).map_err(reason)
}
