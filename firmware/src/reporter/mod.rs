//! The health reporter: numbers, signs and queues reports, keeps the MQTT session up (credentials,
//! signed last will, `online` on connect, subscriptions to `ack` and `config`), publishes what
//! the hub has not acknowledged, and drops a report only when the hub's signed ack covers it.
//!
//! Sans-IO in time: every call takes `now`; the stream is any `embedded-io` byte stream.

use crate::clock::{Millis, WallClock};
use crate::drivers::{ResetCause, Supply};
use crate::envelope::{EnvelopeError, open, seal};
use crate::health::{self, Limits};
use crate::mqtt::{self, Connect, Event, Lost, Session, Will};
use crate::outbox::Outbox;
use crate::pb::{Ack, DeviceConfig, Goodbye, Presence, StateChange};
use crate::report::Draft;
use crate::topics::Topics;
use embedded_io::{Read, ReadReady, Write};
use heartline_proto::{DeviceKey, ProbeGuard};

/// Largest sealed report: what this reporter writes with a 64-byte device id and its longest
/// check messages and event seals to 367 bytes (`the_largest_report_fits_its_slot…`).
pub const REPORT_CAP: usize = 400;
/// Unacknowledged reports kept.
pub const OUTBOX_SLOTS: usize = 4;
/// Receive buffer: an ack or a config from the hub with its topic.
pub const RX_CAP: usize = 512;
/// Send buffer: a report with its topic and PUBLISH header, or CONNECT with the will (which
/// leaves room for a token of up to 120 bytes).
pub const TX_CAP: usize = REPORT_CAP + crate::topics::MAX_TOPIC + 10;
/// Largest sealed state message (online, will, goodbye).
const STATE_CAP: usize = 200;

/// The reporter's large buffers (MQTT receive and send, the outbox), owned by the caller so a
/// board can put them in a zero-initialised static instead of building them on the stack.
pub struct Buffers {
    session: Session<RX_CAP, TX_CAP>,
    outbox: Outbox<OUTBOX_SLOTS, REPORT_CAP>,
}

impl Buffers {
    pub const fn new() -> Buffers {
        // All zeros, so a static of it lands in .bss, not in flash; `Reporter::new` sets the
        // real options.
        const ZERO: mqtt::Options = mqtt::Options {
            keep_alive_s: 0,
            response_timeout_ms: 0,
            retransmit_ms: 0,
            max_retransmits: 0,
        };
        Buffers {
            session: Session::new(ZERO),
            outbox: Outbox::new(),
        }
    }
}

impl Default for Buffers {
    fn default() -> Self {
        Self::new()
    }
}

/// Who the device is; the token is its MQTT password, the key signs everything.
pub struct Identity<'a> {
    pub tenant: &'a str,
    pub device: &'a str,
    pub token: &'a str,
    pub key: DeviceKey,
}

/// What the board decides.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub interval_ms: Millis,
    /// Pause before connecting again after a session ended; it doubles with every further
    /// failure up to `reconnect_max_ms`, plus up to a quarter of random jitter, so a fleet that
    /// lost its broker does not come back all in the same second.
    pub reconnect_ms: Millis,
    pub reconnect_max_ms: Millis,
    /// Reports published but not acknowledged this long are published again.
    pub ack_timeout_ms: Millis,
    pub mqtt: mqtt::Options,
    pub limits: Limits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            interval_ms: 60_000,
            reconnect_ms: 2_000,
            reconnect_max_ms: 120_000,
            ack_timeout_ms: 10_000,
            mqtt: mqtt::Options::default(),
            limits: Limits::default(),
        }
    }
}

/// One round of sensor readings; `None` where a sensor failed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Readings {
    pub temperature_mc: Option<i32>,
    pub supply: Option<Supply>,
}

/// What happened, for the board's log or its test run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Connected,
    Lost(Lost),
    /// The hub committed every report up to this sequence.
    Acked(u64),
    /// A config from the hub changed the report interval.
    Configured {
        interval_ms: Millis,
    },
    /// A message on our topics that did not verify or decode.
    Refused(EnvelopeError),
    /// The broker took the goodbye: the caller may disconnect.
    GoodbyeSent,
}

/// What the session does next once up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Subscribe,
    AwaitSubAck,
    Online,
    Reports,
}

/// The publish in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    Online,
    Report(u64),
    Goodbye,
}

/// Counters reported as metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub connects: u32,
    pub refused: u32,
    /// Reports that did not fit their slot (a capacity bug; the tests keep it at zero).
    pub too_large: u32,
}

pub struct Reporter<'a> {
    id: Identity<'a>,
    topics: Topics,
    settings: Settings,
    boot_id: u64,
    wall: WallClock,
    sequence: u64,
    acked: u64,
    session: &'a mut Session<RX_CAP, TX_CAP>,
    outbox: &'a mut Outbox<OUTBOX_SLOTS, REPORT_CAP>,
    phase: Phase,
    sending: Option<Sending>,
    attempt: u16,
    /// Wall time of the current connection: its will and its `online` carry the same time, as
    /// the hub takes a will only if it is not older than the `online` it follows.
    connected_at_ms: i64,
    retry_at: Millis,
    /// Sessions ended since the last accepted CONNACK.
    failures: u32,
    /// xorshift state for the reconnect jitter.
    jitter: u64,
    next_report_at: Millis,
    last_publish_at: Millis,
    reset: Option<ResetCause>,
    config_version: u64,
    /// The last probe answered: an ack repeating it is a replay.
    probes: ProbeGuard,
    goodbye: Option<(&'a str, u32)>,
    pub stats: Stats,
}

impl<'a> Reporter<'a> {
    /// `None` when the tenant or device id breaks the id rules. The first report carries
    /// `reset` as a device event.
    pub fn new(
        id: Identity<'a>,
        settings: Settings,
        buffers: &'a mut Buffers,
        boot_id: u64,
        wall: WallClock,
        reset: ResetCause,
    ) -> Option<Reporter<'a>> {
        buffers.session.reset(settings.mqtt);
        buffers.outbox.clear();
        Some(Reporter {
            topics: Topics::new(id.tenant, id.device)?,
            id,
            settings,
            boot_id,
            wall,
            sequence: 0,
            acked: 0,
            session: &mut buffers.session,
            outbox: &mut buffers.outbox,
            phase: Phase::Subscribe,
            sending: None,
            attempt: 0,
            connected_at_ms: 0,
            retry_at: 0,
            failures: 0,
            jitter: boot_id | 1,
            next_report_at: 0,
            last_publish_at: 0,
            reset: Some(reset),
            config_version: 0,
            probes: ProbeGuard::default(),
            goodbye: None,
            stats: Stats::default(),
        })
    }

    /// Highest sequence the hub acknowledged.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Sequence of the last report recorded.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Reports waiting for the hub's ack.
    pub fn unacked(&self) -> usize {
        self.outbox.len()
    }

    /// Reports lost because the outbox was full.
    pub fn dropped(&self) -> u32 {
        self.outbox.dropped
    }

    pub fn interval_ms(&self) -> Millis {
        self.settings.interval_ms
    }

    pub fn session_stats(&self) -> mqtt::session::Stats {
        self.session.stats
    }

    /// A report is due: read the sensors and call [`Reporter::record`].
    pub fn report_due(&self, now: Millis) -> bool {
        now >= self.next_report_at
    }

    /// Builds, signs and queues the next report from `readings`.
    #[cfg_attr(feature = "footprint", inline(never))]
    pub fn record(&mut self, now: Millis, readings: &Readings) {
        self.sequence += 1;
        self.next_report_at = now + self.settings.interval_ms;
        let checkin_s = self.settings.interval_ms.div_ceil(1_000) as u32;
        let at = self.wall.unix_ms(now);
        let mut d = Draft::new(self.id.device, self.boot_id, self.sequence, at, checkin_s);
        health::temperature(&mut d, readings.temperature_mc, &self.settings.limits);
        health::supply(&mut d, readings.supply, &self.settings.limits);
        d.metric("uptime_s", (now / 1_000) as f64, "s", "");
        d.metric("mqtt_connects", f64::from(self.stats.connects), "", "");
        d.metric("unacked_reports", self.outbox.len() as f64, "", "");
        if let Some(cause) = self.reset.take() {
            let (kind, detail) = cause.event();
            // The reset happened at boot, uptime zero.
            d.event(kind, self.wall.unix_ms(0), detail);
        }
        let key = &self.id.key;
        // A report that does not fit its slot is dropped and counted rather than sent truncated.
        if self
            .outbox
            .push_with(self.sequence, |slot| seal(key, &d.report, slot))
            .is_err()
        {
            self.stats.too_large += 1;
        }
    }

    /// Publishes a goodbye (planned downtime, no ticket) before the next report; wait for
    /// [`Notice::GoodbyeSent`], then [`Reporter::disconnect`].
    pub fn say_goodbye(&mut self, reason: &'a str, back_in_s: u32) {
        self.goodbye = Some((reason, back_in_s));
    }

    /// Ends the session cleanly: the broker discards the will.
    pub fn disconnect<L: Write>(&mut self, now: Millis, link: &mut L) -> Result<(), L::Error> {
        self.sending = None;
        self.session.disconnect(now, link)
    }

    /// Seals a state message for this connection into `out`.
    #[cfg_attr(feature = "footprint", inline(never))]
    fn state(&self, out: &mut [u8], presence: Presence, at_ms: i64) -> usize {
        let mut change = StateChange {
            device_id: heapless::String::new(),
            boot_id: self.boot_id,
            presence,
            at_ms,
            session: self.session_id(),
            ..StateChange::default()
        };
        let _ = change.device_id.push_str(self.id.device);
        if let (Presence::Goodbye, Some((reason, back_in_s))) = (presence, self.goodbye) {
            let mut g = Goodbye {
                back_in_s,
                ..Goodbye::default()
            };
            let _ = g.reason.push_str(reason);
            change.set_goodbye(g);
        }
        seal(&self.id.key, &change, out).expect("STATE_CAP holds any state message")
    }

    /// The pause before the next connection attempt: doubling per failure, capped, jittered.
    fn backoff(&mut self) -> Millis {
        let base = self.settings.reconnect_ms;
        let pause = base
            .saturating_mul(1 << self.failures.min(20))
            .min(self.settings.reconnect_max_ms.max(base));
        self.failures = self.failures.saturating_add(1);
        let mut x = self.jitter;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter = x;
        pause + x % (pause / 4 + 1)
    }

    /// Differs for every connection of every boot: the hub honours only the will of the
    /// connection that announced itself online.
    fn session_id(&self) -> u64 {
        self.boot_id.wrapping_shl(16) | u64::from(self.attempt)
    }

    /// Moves the session forward: connects when idle, takes what the broker sent, publishes
    /// what is pending. Call it in a loop; it never blocks. A stream error ends the session and
    /// is returned; on a stream that can close (a TCP socket), open a new one after an error or
    /// [`Notice::Lost`]`(`[`Lost::Closed`]`)`: the next connect goes out on whatever `link` is.
    #[cfg_attr(feature = "footprint", inline(never))]
    pub fn poll<L: Read + Write + ReadReady>(
        &mut self,
        now: Millis,
        link: &mut L,
    ) -> Result<Option<Notice>, L::Error> {
        match self.step(now, link) {
            Ok(n) => Ok(n),
            Err(mqtt::Error::Link(e)) => {
                // The stream broke: start over after the pause.
                self.session.disconnect(now, link).ok();
                self.retry_at = now + self.backoff();
                Err(e)
            }
            // Capacity bugs or calls in the wrong state: the session goes on.
            Err(_) => Ok(None),
        }
    }

    #[cfg_attr(feature = "footprint", inline(never))]
    fn step<L: Read + Write + ReadReady>(
        &mut self,
        now: Millis,
        link: &mut L,
    ) -> Result<Option<Notice>, mqtt::Error<L::Error>> {
        if self.session.is_idle() {
            if now < self.retry_at {
                return Ok(None);
            }
            self.retry_at = now + self.settings.reconnect_ms;
            self.attempt = self.attempt.wrapping_add(1);
            // Strictly after the last connection's, even on a clock that stood still: this
            // connection's `online` must be newer than the earlier will.
            self.connected_at_ms = self.wall.unix_ms(now).max(self.connected_at_ms + 1);
            let mut will = [0u8; STATE_CAP];
            let n = self.state(&mut will, Presence::Offline, self.connected_at_ms);
            let connect = Connect {
                client_id: self.id.device,
                username: self.id.device,
                password: self.id.token.as_bytes(),
                keep_alive_s: self.settings.mqtt.keep_alive_s,
                will: Some(Will {
                    topic: &self.topics.state,
                    payload: &will[..n],
                    retain: true,
                }),
            };
            self.session.connect(now, link, &connect)?;
            return Ok(None);
        }
        let notice = match self.session.poll(now, link)? {
            Some(event) => {
                let (after, notice) = on_event(
                    event,
                    &mut Shared {
                        topics: &self.topics,
                        key: &self.id.key,
                        device: self.id.device,
                        boot_id: self.boot_id,
                        outbox: &mut *self.outbox,
                        acked: &mut self.acked,
                        config_version: &mut self.config_version,
                        interval_ms: &mut self.settings.interval_ms,
                        probes: &mut self.probes,
                        next_report_at: &mut self.next_report_at,
                    },
                );
                self.after_event(now, after, notice)
            }
            None => None,
        };
        if notice.is_some() {
            return Ok(notice);
        }
        self.send_next(now, link)?;
        Ok(None)
    }

    #[cfg_attr(feature = "footprint", inline(never))]
    fn after_event(&mut self, now: Millis, kind: After, notice: Option<Notice>) -> Option<Notice> {
        match kind {
            After::Connected => {
                self.stats.connects += 1;
                self.failures = 0;
                self.phase = Phase::Subscribe;
                self.sending = None;
                // A new session: the broker kept nothing, so everything unacknowledged goes again.
                self.outbox.rewind();
            }
            After::Lost(why) => {
                if matches!(why, Lost::Refused(_)) {
                    self.stats.refused += 1;
                }
                self.sending = None;
                self.retry_at = now + self.backoff();
            }
            After::Subscribed => self.phase = Phase::Online,
            After::Published => match self.sending.take() {
                Some(Sending::Online) => self.phase = Phase::Reports,
                Some(Sending::Report(seq)) => self.outbox.mark_sent(seq),
                Some(Sending::Goodbye) => {
                    self.goodbye = None;
                    return Some(Notice::GoodbyeSent);
                }
                None => {}
            },
            After::Nothing => {}
        }
        notice
    }

    #[cfg_attr(feature = "footprint", inline(never))]
    fn send_next<L: Write>(
        &mut self,
        now: Millis,
        link: &mut L,
    ) -> Result<(), mqtt::Error<L::Error>> {
        if !self.session.can_publish() {
            return Ok(());
        }
        match self.phase {
            Phase::Subscribe => {
                self.session
                    .subscribe(now, link, &[&self.topics.ack, &self.topics.config])?;
                self.phase = Phase::AwaitSubAck;
            }
            Phase::AwaitSubAck => {}
            Phase::Online => {
                let mut buf = [0u8; STATE_CAP];
                let n = self.state(&mut buf, Presence::Online, self.connected_at_ms);
                self.session
                    .publish(now, link, &self.topics.state, &buf[..n], true)?;
                self.sending = Some(Sending::Online);
            }
            Phase::Reports => {
                if self.goodbye.is_some() {
                    let mut buf = [0u8; STATE_CAP];
                    let n = self.state(&mut buf, Presence::Goodbye, self.wall.unix_ms(now));
                    self.session
                        .publish(now, link, &self.topics.state, &buf[..n], true)?;
                    self.sending = Some(Sending::Goodbye);
                } else if let Some((seq, bytes)) = self.outbox.next_unsent() {
                    self.session
                        .publish(now, link, &self.topics.report, bytes, false)?;
                    self.sending = Some(Sending::Report(seq));
                    self.last_publish_at = now;
                } else if !self.outbox.is_empty()
                    && now.saturating_sub(self.last_publish_at) >= self.settings.ack_timeout_ms
                {
                    // Published, yet no ack: the hub may have missed them; send them again.
                    self.outbox.rewind();
                }
            }
        }
        Ok(())
    }
}

/// What the reporter does after an event, apart from its notice.
enum After {
    Connected,
    Lost(Lost),
    Subscribed,
    Published,
    Nothing,
}

/// The parts of the reporter an incoming event touches (the event borrows the session).
struct Shared<'r> {
    topics: &'r Topics,
    key: &'r DeviceKey,
    device: &'r str,
    boot_id: u64,
    outbox: &'r mut Outbox<OUTBOX_SLOTS, REPORT_CAP>,
    acked: &'r mut u64,
    config_version: &'r mut u64,
    interval_ms: &'r mut Millis,
    probes: &'r mut ProbeGuard,
    next_report_at: &'r mut Millis,
}

fn on_event(event: Event<'_>, s: &mut Shared<'_>) -> (After, Option<Notice>) {
    match event {
        Event::Connected => (After::Connected, Some(Notice::Connected)),
        Event::Lost(why) => (After::Lost(why), Some(Notice::Lost(why))),
        Event::Subscribed { .. } => (After::Subscribed, None),
        Event::Published(_) => (After::Published, None),
        Event::Message { topic, payload } => (After::Nothing, on_message(topic, payload, s)),
    }
}

#[cfg_attr(feature = "footprint", inline(never))]
fn on_message(topic: &str, payload: &[u8], s: &mut Shared<'_>) -> Option<Notice> {
    if topic == s.topics.ack.as_str() {
        let ack: Ack = match open(s.key, payload) {
            Ok(a) => a,
            Err(e) => return Some(Notice::Refused(e)),
        };
        if ack.device_id.as_str() != s.device {
            return None;
        }
        // A probe (a device behind us went silent): report now, whatever boot the ack names.
        if s.probes.asks(ack.report_now_at_ms) {
            *s.next_report_at = 0;
        }
        // An ack for another boot (an old retained copy) says nothing about this one.
        if ack.boot_id != s.boot_id {
            return None;
        }
        s.outbox.ack(ack.sequence);
        if ack.sequence > *s.acked {
            *s.acked = ack.sequence;
            return Some(Notice::Acked(ack.sequence));
        }
        None
    } else if topic == s.topics.config.as_str() {
        let config: DeviceConfig = match open(s.key, payload) {
            Ok(c) => c,
            Err(e) => return Some(Notice::Refused(e)),
        };
        if config.device_id.as_str() != s.device
            || config.version <= *s.config_version
            || config.report_interval_s == 0
        {
            return None;
        }
        *s.config_version = config.version;
        *s.interval_ms = Millis::from(config.report_interval_s) * 1_000;
        Some(Notice::Configured {
            interval_ms: *s.interval_ms,
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
