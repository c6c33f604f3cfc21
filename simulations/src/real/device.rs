//! One simulated device as a real MQTT 3.1.1 client (rumqttc), speaking the agent's protocol:
//! client id = device id, persistent session, a signed retained last will, `online` on every
//! connect, signed reports at its interval kept in an in-memory outbox until the hub's signed ack
//! covers them (re-sent on reconnect, and when an ack is overdue), `goodbye` on a clean stop.
//! What the device goes through (silent, cut off, faulty, healed) is set by the fault
//! controller through a watch channel.

use super::Shared;
use crate::scenario::FaultType;
use heartline_engine::Report;
use heartline_proto::envelope::{open, seal};
use heartline_proto::wire::{self, Presence};
use heartline_proto::{Channel, DeviceKey, Topic};
use rand::Rng;
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// What a device is going through.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Healthy,
    /// Reports nothing; its connection stays up (hung software, or behind a dead uplink).
    Silent,
    /// The connection is cut without an MQTT DISCONNECT, so the broker publishes the last will;
    /// nothing until healed.
    Cut,
    /// Reports what the fault makes it say, `since` its start.
    Faulty {
        fault: FaultType,
        since: Instant,
    },
    /// Says goodbye (planned: no ticket) and disconnects for good.
    Stop,
}

/// Who the device is and what it reports when healthy.
pub struct Spec {
    pub index: usize,
    pub tenant: String,
    pub id: String,
    pub key: DeviceKey,
    pub token: String,
    pub every: Duration,
    pub healthy: Arc<Report>,
}

/// Reports kept until acknowledged; beyond this the oldest is dropped, as the agent's outbox.
const OUTBOX_MAX: usize = 200;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

struct Device {
    spec: Spec,
    boot_id: u64,
    sequence: u64,
    /// sequence → (signed report, when last sent)
    outbox: BTreeMap<u64, (Vec<u8>, Option<Instant>)>,
    shared: Arc<Shared>,
    /// Time of the last connection's presence session: the next is stamped strictly later, so
    /// its `online` is newer than any earlier will.
    presence_at_ms: i64,
}

/// Runs the device until its condition is `Stop` (or the controller is gone).
pub async fn run(
    spec: Spec,
    mut cond: watch::Receiver<Condition>,
    shared: Arc<Shared>,
    first_in: Duration,
) {
    tokio::time::sleep(first_in).await;
    let mut d = Device {
        boot_id: rand::rng().random_range(1..u64::MAX >> 1),
        sequence: 0,
        outbox: BTreeMap::new(),
        spec,
        shared,
        presence_at_ms: 0,
    };
    loop {
        loop {
            match *cond.borrow_and_update() {
                Condition::Stop => return,
                Condition::Cut => {}
                _ => break,
            }
            if cond.changed().await.is_err() {
                return;
            }
        }
        if !d.connection(&mut cond).await {
            return;
        }
    }
}

impl Device {
    fn topic(&self, channel: Channel) -> String {
        Topic::new(&self.spec.tenant, &self.spec.id, channel).to_string()
    }

    /// A signed presence message; `at_ms` orders it against the hub's last one.
    fn presence(&self, presence: Presence, session: u64, at_ms: i64) -> Vec<u8> {
        seal(
            &self.spec.key,
            &wire::StateChange {
                device_id: self.spec.id.clone(),
                boot_id: self.boot_id,
                presence: presence as i32,
                at_ms,
                session,
                goodbye: (presence == Presence::Goodbye).then(|| wire::Goodbye {
                    reason: "simulation stopped".into(),
                    back_in_s: 0,
                }),
            },
        )
    }

    /// A new presence session: a random id, stamped strictly after the last one.
    fn next_session(&mut self) -> (u64, i64) {
        self.presence_at_ms = now_ms().max(self.presence_at_ms + 1);
        (rand::random(), self.presence_at_ms)
    }

    fn client(&self, session: u64, at_ms: i64) -> (AsyncClient, EventLoop) {
        let host = if self.shared.hub.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            self.shared.hub.ip().to_string()
        };
        let mut o = MqttOptions::new(self.spec.id.clone(), host, self.shared.hub.port());
        o.set_credentials(self.spec.id.clone(), self.spec.token.clone())
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_session(false)
            .set_inflight(20)
            .set_last_will(LastWill::new(
                self.topic(Channel::State),
                self.presence(Presence::Offline, session, at_ms),
                QoS::AtLeastOnce,
                true,
            ));
        AsyncClient::new(o, 64)
    }

    /// One connection, until it is cut (true: connect again) or the device stops (false).
    async fn connection(&mut self, cond: &mut watch::Receiver<Condition>) -> bool {
        // Every connection is a new presence session: its will and its `online` carry the same
        // session and time, later than any earlier one's (the hub refuses an `online` of a
        // session whose will it applied, and anything older than what it knows).
        let (mut session, mut session_at) = self.next_session();
        let (client, mut el) = self.client(session, session_at);
        let every = self.spec.every;
        // Reports at a random phase of the interval, so a fleet that connected together does
        // not report in bursts.
        let phase = every.mul_f64(rand::rng().random_range(0.0..1.0));
        let mut tick = tokio::time::interval_at(Instant::now() + phase, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut connected = false;
        let mut failures = 0u32;
        let mut first = true;
        let ack_topic = self.topic(Channel::Ack);
        let mut probes = heartline_proto::ProbeGuard::default();
        let cut = loop {
            tokio::select! {
                ev = el.poll() => match ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        failures = 0;
                        if !connected {
                            connected = true;
                            self.shared.connected.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = client.try_subscribe(ack_topic.clone(), QoS::AtLeastOnce);
                        let online = self.presence(Presence::Online, session, session_at);
                        let _ = client.try_publish(self.topic(Channel::State), QoS::AtLeastOnce, true, online);
                        if first {
                            // A device reports as soon as it is up.
                            first = false;
                            self.produce(&cond.borrow().clone());
                        }
                        self.resend(&client, Duration::ZERO);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == ack_topic => {
                        if let Ok(ack) = open::<wire::Ack>(&self.spec.key, &p.payload) {
                            if ack.device_id == self.spec.id && ack.boot_id == self.boot_id {
                                let before = self.outbox.len();
                                self.outbox.retain(|&s, _| s > ack.sequence);
                                let acked = (before - self.outbox.len()) as u64;
                                self.shared.acked.fetch_add(acked, Ordering::Relaxed);
                            }
                            // A probe: the hub asks for a report now, as the agent answers it.
                            if ack.device_id == self.spec.id && probes.asks(ack.report_now_at_ms) {
                                self.produce(&cond.borrow().clone());
                                self.resend(&client, Duration::ZERO);
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        if connected {
                            connected = false;
                            self.shared.connected.fetch_sub(1, Ordering::Relaxed);
                        }
                        // rumqttc connects again with the same options: a new session's will.
                        (session, session_at) = self.next_session();
                        el.mqtt_options.set_last_will(LastWill::new(
                            self.topic(Channel::State),
                            self.presence(Presence::Offline, session, session_at),
                            QoS::AtLeastOnce,
                            true,
                        ));
                        failures = failures.saturating_add(1);
                        let base = (500u64 << failures.min(5)).min(10_000);
                        let jitter = rand::rng().random_range(0.5..1.5);
                        tokio::time::sleep(Duration::from_millis((base as f64 * jitter) as u64)).await;
                    }
                },
                _ = tick.tick() => {
                    let now = cond.borrow().clone();
                    self.produce(&now);
                    if connected {
                        // An ack overdue by two intervals: send again (the hub drops duplicates).
                        self.resend(&client, every * 2);
                    }
                }
                changed = cond.changed() => {
                    if changed.is_err() {
                        break false;
                    }
                    let now = cond.borrow_and_update().clone();
                    match now {
                        Condition::Cut => break true,
                        Condition::Stop => break false,
                        // A changed state is reported at once, as the agent does.
                        other => {
                            self.produce(&other);
                            if connected {
                                self.resend(&client, Duration::ZERO);
                            }
                        }
                    }
                }
            }
        };
        if connected {
            self.shared.connected.fetch_sub(1, Ordering::Relaxed);
        }
        if cut {
            // Dropping the event loop closes the socket without a DISCONNECT: the will goes out.
            return true;
        }
        if connected {
            let bye = self.presence(Presence::Goodbye, session, now_ms());
            let _ = client.try_publish(self.topic(Channel::State), QoS::AtLeastOnce, true, bye);
            let _ = client.try_disconnect();
            let _ = tokio::time::timeout(Duration::from_secs(3), async {
                loop {
                    match el.poll().await {
                        Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
            .await;
        }
        false
    }

    /// Builds the next report (unless silent) and keeps it in the outbox.
    fn produce(&mut self, cond: &Condition) {
        let report = match cond {
            Condition::Healthy => self.spec.healthy.as_ref().clone(),
            Condition::Faulty { fault, since } => {
                let mut r = self.spec.healthy.as_ref().clone();
                let hours = since.elapsed().as_secs_f64() / 3_600.0;
                crate::symptoms::apply(&mut r, fault, hours);
                r
            }
            Condition::Silent | Condition::Cut | Condition::Stop => return,
        };
        self.sequence += 1;
        let now = now_ms();
        let wire = wire_report(
            &report,
            &self.spec.id,
            self.boot_id,
            self.sequence,
            now,
            self.spec.every.as_secs() as u32,
        );
        if self.outbox.len() >= OUTBOX_MAX {
            self.outbox.pop_first();
        }
        self.outbox
            .insert(self.sequence, (seal(&self.spec.key, &wire), None));
        self.shared.reports.fetch_add(1, Ordering::Relaxed);
        self.shared.last_report[self.spec.index].store(now, Ordering::Relaxed);
    }

    /// Sends, in order, every report not sent within `older_than`.
    fn resend(&mut self, client: &AsyncClient, older_than: Duration) {
        let topic = self.topic(Channel::Report);
        let now = Instant::now();
        for (payload, sent) in self.outbox.values_mut() {
            if sent.is_some_and(|at| now.duration_since(at) < older_than) {
                continue;
            }
            if client
                .try_publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone())
                .is_err()
            {
                // The client's queue is full: the rest waits for the next round.
                break;
            }
            if sent.is_some() {
                self.shared.resent.fetch_add(1, Ordering::Relaxed);
            }
            *sent = Some(now);
        }
    }
}

/// A domain report as the wire message a device signs.
pub fn wire_report(
    r: &Report,
    device: &str,
    boot_id: u64,
    sequence: u64,
    sent_at_ms: i64,
    next_checkin_s: u32,
) -> wire::HealthReport {
    wire::HealthReport {
        device_id: device.to_string(),
        boot_id,
        sequence,
        sent_at_ms,
        next_checkin_s,
        metrics: r
            .metrics
            .iter()
            .map(|m| wire::Metric {
                name: m.name.clone(),
                value: m.value,
                unit: m.unit.clone(),
                instance: m.instance.clone(),
            })
            .collect(),
        checks: r
            .checks
            .iter()
            .map(|c| wire::Check {
                name: c.name.clone(),
                status: c.state as i32,
                message: c.message.clone(),
            })
            .collect(),
        events: Vec::new(),
    }
}
