//! The agent's main loop: one `select!` over the report interval, check results, the MQTT session
//! and shutdown. Every report goes to the on-disk outbox first and leaves it only when the hub's
//! signed ack covers it.

use crate::checks::{self, Outcome};
use crate::collect::{self, Collector};
use crate::config::{AgentConfig, CheckConfig};
use crate::outbox::{Entry, Outbox};
use crate::session::{self, SessionEvent};
use anyhow::Context;
use heartline_proto::envelope::{open, seal};
use heartline_proto::wire::{self, Presence};
use heartline_proto::{Channel, DeviceKey, ProbeGuard};
use rumqttc::QoS;
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a sent report may wait for its ack before it is sent again (while connected; a
/// reconnect sends everything waiting at once).
const RESEND_EVERY: Duration = Duration::from_secs(30);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Builds reports: system metrics, the latest result of every check, device events.
pub struct Reporter {
    pub cfg: AgentConfig,
    pub boot_id: u64,
    collector: Collector,
    latest: BTreeMap<String, Outcome>,
    pending_events: Vec<wire::DeviceEvent>,
}

impl Reporter {
    pub fn new(cfg: AgentConfig, boot_id: u64) -> Reporter {
        let collector = Collector::new(cfg.collect.clone());
        Reporter {
            cfg,
            boot_id,
            collector,
            latest: BTreeMap::new(),
            pending_events: Vec::new(),
        }
    }

    /// Records a check result; true when its state changed (a failing first result counts).
    pub fn record(&mut self, o: Outcome) -> bool {
        let before = self.latest.get(&o.name).map(|p| p.state);
        let changed = match before {
            Some(s) => s != o.state,
            None => o.state.is_failing(),
        };
        self.latest.insert(o.name.clone(), o);
        changed
    }

    pub fn event(&mut self, kind: wire::EventKind, detail: String) {
        self.pending_events.push(wire::DeviceEvent {
            kind: kind as i32,
            at_ms: now_ms(),
            detail,
        });
    }

    /// One report, unsigned.
    pub fn report(&mut self, sequence: u64, dropped: u64) -> wire::HealthReport {
        let mut metrics = self.collector.collect();
        for o in self.latest.values() {
            metrics.extend(o.metrics.iter().cloned());
        }
        if dropped > 0 {
            metrics.push(wire::Metric {
                name: "agent_outbox_dropped".into(),
                value: dropped as f64,
                unit: String::new(),
                instance: String::new(),
            });
        }
        wire::HealthReport {
            device_id: self.cfg.device_id.clone(),
            boot_id: self.boot_id,
            sequence,
            sent_at_ms: now_ms(),
            next_checkin_s: self.cfg.interval.as_secs().max(1) as u32,
            metrics,
            checks: self
                .latest
                .values()
                .map(|o| wire::Check {
                    name: o.name.clone(),
                    status: o.state as i32,
                    message: o.message.clone(),
                })
                .collect(),
            events: std::mem::take(&mut self.pending_events),
        }
    }
}

struct Daemon {
    reporter: Reporter,
    outbox: Outbox,
    client: rumqttc::AsyncClient,
    key: DeviceKey,
    connected: bool,
    checks: Vec<JoinHandle<()>>,
    check_tx: mpsc::Sender<Outcome>,
    config_version: u64,
    /// The last probe answered: an ack repeating it is a replay.
    probes: ProbeGuard,
}

/// What a message from the hub asks of the main loop.
enum Reaction {
    Nothing,
    /// The config set a new report interval.
    Interval(Duration),
    /// An ack carrying a probe: report now.
    ReportNow,
}

/// Runs the agent until `shutdown` resolves, then says goodbye.
pub async fn run(cfg: AgentConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.state_dir)
        .with_context(|| format!("creating state dir {}", cfg.state_dir.display()))?;
    let outbox = Outbox::open(&cfg.state_dir.join("outbox.redb"), cfg.outbox_max)
        .with_context(|| format!("opening the outbox in {}", cfg.state_dir.display()))?;
    let boot_id = collect::boot_id();
    let (client, eventloop) = session::client(&cfg)?;
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    // Each connection's will and its `online` name the same session and time.
    let will = {
        let cfg = cfg.clone();
        move |session, at_ms| {
            session::state_change(&cfg, boot_id, session, Presence::Offline, at_ms)
        }
    };
    let state_topic = session::topic(&cfg, Channel::State);
    let driver = tokio::spawn(session::drive(eventloop, ev_tx, state_topic, will, now_ms));
    // The session of the current (or last) connection: the goodbye names it.
    let mut session_id = 0u64;
    let (check_tx, mut check_rx) = mpsc::channel(64);
    let mut reporter = Reporter::new(cfg.clone(), boot_id);
    if outbox.last_boot()? != Some(boot_id) {
        reporter.event(wire::EventKind::Reboot, "agent started after a boot".into());
        if collect::watchdog_reset() {
            reporter.event(
                wire::EventKind::WatchdogReset,
                "watchdog bootstatus is set".into(),
            );
        }
        outbox.set_last_boot(boot_id)?;
    }
    let mut d = Daemon {
        reporter,
        outbox,
        client,
        key: DeviceKey(cfg.key),
        connected: false,
        checks: Vec::new(),
        check_tx,
        config_version: 0,
        probes: ProbeGuard::default(),
    };
    d.start_checks(cfg.checks.clone());
    let mut interval = tokio::time::interval(cfg.interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut resend = tokio::time::interval(RESEND_EVERY);
    resend.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut unacked = HashSet::new();
    tokio::pin!(shutdown);
    tracing::info!(device = %cfg.device_id, hub = %format!("{}:{}", cfg.host, cfg.port), pending = d.outbox.len()?, "agent started");
    loop {
        tokio::select! {
            _ = interval.tick() => d.produce(true).await?,
            _ = resend.tick() => unacked = d.resend(&unacked).await?,
            Some(o) = check_rx.recv() => {
                if d.reporter.record(o) {
                    d.produce(false).await?;
                }
            }
            Some(ev) = ev_rx.recv() => match ev {
                SessionEvent::Connected { session, at_ms } => {
                    session_id = session;
                    d.connected(session, at_ms).await?
                }
                SessionEvent::Disconnected(e) => {
                    if d.connected {
                        tracing::warn!(error = %e, pending = d.outbox.len()?, "lost the hub; reports wait in the outbox");
                    }
                    d.connected = false;
                }
                SessionEvent::Message { topic, payload } => match d.message(&topic, &payload)? {
                    Reaction::Interval(every) => {
                        interval = tokio::time::interval(every);
                        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    }
                    Reaction::ReportNow => d.produce(false).await?,
                    Reaction::Nothing => {}
                },
            },
            _ = &mut shutdown => break,
        }
    }
    // A clean stop: goodbye, so the hub opens no ticket for the silence that follows.
    let cfg = &d.reporter.cfg;
    let bye = session::state_change(cfg, boot_id, session_id, Presence::Goodbye, now_ms());
    if d.connected {
        let _ = d
            .client
            .publish(
                session::topic(cfg, Channel::State),
                QoS::AtLeastOnce,
                true,
                bye,
            )
            .await;
        let _ = d.client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
    }
    tracing::info!(pending = d.outbox.len()?, "agent stopped");
    Ok(())
}

impl Daemon {
    fn start_checks(&mut self, checks: Vec<CheckConfig>) {
        for h in self.checks.drain(..) {
            h.abort();
        }
        for c in checks {
            self.checks
                .push(tokio::spawn(checks::schedule(c, self.check_tx.clone())));
        }
    }

    /// Builds a report, stores it durably, and sends it if connected.
    async fn produce(&mut self, periodic: bool) -> anyhow::Result<()> {
        let dropped_so_far = self.outbox.dropped()?;
        let (reporter, key) = (&mut self.reporter, &self.key);
        let (entry, dropped) = self.outbox.append(reporter.boot_id, periodic, |seq| {
            seal(key, &reporter.report(seq, dropped_so_far))
        })?;
        if dropped > 0 {
            tracing::warn!(dropped, "outbox full: dropped the oldest periodic reports");
        }
        if self.connected {
            self.send(&entry).await;
        }
        Ok(())
    }

    /// Sends again what was already waiting for its ack at the last call (`before`) and still is:
    /// a report the broker took but the hub never received (a failed forward between broker
    /// nodes) is held back by the hub's ack until it comes. Returns what waits now.
    async fn resend(&self, before: &HashSet<(u64, u64)>) -> anyhow::Result<HashSet<(u64, u64)>> {
        let pending = self.outbox.pending()?;
        let waiting = pending.iter().map(|e| (e.boot_id, e.sequence)).collect();
        if !self.connected {
            return Ok(waiting);
        }
        let again: Vec<&Entry> = pending
            .iter()
            .filter(|e| before.contains(&(e.boot_id, e.sequence)))
            .collect();
        if !again.is_empty() {
            tracing::info!(
                reports = again.len(),
                "sending again reports the hub has not acknowledged for {RESEND_EVERY:?}"
            );
        }
        for e in again {
            self.send(e).await;
        }
        Ok(waiting)
    }

    async fn send(&self, e: &Entry) {
        let topic = session::topic(&self.reporter.cfg, Channel::Report);
        if let Err(err) = self
            .client
            .publish(topic, QoS::AtLeastOnce, false, e.payload.clone())
            .await
        {
            tracing::warn!(error = %err, "cannot queue a report; it stays in the outbox");
        }
    }

    async fn connected(&mut self, session_id: u64, session_at: i64) -> anyhow::Result<()> {
        self.connected = true;
        let cfg = &self.reporter.cfg;
        for (channel, qos) in [
            (Channel::Ack, QoS::AtLeastOnce),
            (Channel::Config, QoS::AtLeastOnce),
        ] {
            self.client
                .subscribe(session::topic(cfg, channel), qos)
                .await?;
        }
        let online = session::state_change(
            cfg,
            self.reporter.boot_id,
            session_id,
            Presence::Online,
            session_at,
        );
        self.client
            .publish(
                session::topic(cfg, Channel::State),
                QoS::AtLeastOnce,
                true,
                online,
            )
            .await?;
        let pending = self.outbox.pending()?;
        tracing::info!(
            pending = pending.len(),
            "connected to the hub; sending what waits in the outbox"
        );
        for e in &pending {
            self.send(e).await;
        }
        Ok(())
    }

    /// Handles an ack (which may carry a probe: "report now") or a config message.
    fn message(&mut self, topic: &str, payload: &[u8]) -> anyhow::Result<Reaction> {
        let cfg = &self.reporter.cfg;
        if topic == session::topic(cfg, Channel::Ack) {
            match open::<wire::Ack>(&self.key, payload) {
                Ok(ack) if ack.device_id == cfg.device_id => {
                    self.outbox.ack(ack.boot_id, ack.sequence)?;
                    if self.probes.asks(ack.report_now_at_ms) {
                        tracing::debug!(
                            "the hub asked for a report now (a device behind us went silent)"
                        );
                        return Ok(Reaction::ReportNow);
                    }
                    if self.probes.is_replay(ack.report_now_at_ms) {
                        tracing::warn!("ignored a replayed probe");
                    }
                }
                _ => tracing::warn!("ignored an ack that is not signed with this device's key"),
            }
            return Ok(Reaction::Nothing);
        }
        if topic == session::topic(cfg, Channel::Config) {
            let Ok(c) = open::<wire::DeviceConfig>(&self.key, payload) else {
                tracing::warn!("ignored a config that is not signed with this device's key");
                return Ok(Reaction::Nothing);
            };
            if c.version <= self.config_version || c.device_id != cfg.device_id {
                return Ok(Reaction::Nothing);
            }
            if !(1..=86_400).contains(&c.report_interval_s) && c.report_interval_s != 0 {
                tracing::warn!(
                    interval_s = c.report_interval_s,
                    "ignored a config with a report interval outside 1 s ..1 day"
                );
                return Ok(Reaction::Nothing);
            }
            self.config_version = c.version;
            let mut checks = cfg.checks.clone();
            for o in &c.checks {
                if let Some(ch) = checks.iter_mut().find(|ch| ch.name == o.name) {
                    if o.interval_s > 0 {
                        ch.interval = Duration::from_secs(o.interval_s as u64);
                    }
                    if o.timeout_s > 0 {
                        ch.timeout = Duration::from_secs(o.timeout_s as u64);
                    }
                }
            }
            checks.retain(|ch| {
                c.checks
                    .iter()
                    .find(|o| o.name == ch.name)
                    .is_none_or(|o| o.enabled)
            });
            tracing::info!(
                version = c.version,
                interval_s = c.report_interval_s,
                checks = checks.len(),
                "applied the hub's config"
            );
            self.start_checks(checks);
            if c.report_interval_s > 0 {
                let every = Duration::from_secs(c.report_interval_s as u64);
                self.reporter.cfg.interval = every;
                return Ok(Reaction::Interval(every));
            }
        }
        Ok(Reaction::Nothing)
    }
}
