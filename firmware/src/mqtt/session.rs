//! One MQTT 3.1.1 client session over any `embedded-io` byte stream: CONNECT and its CONNACK,
//! QoS 1 publishing with retransmission, subscriptions, keepalive pings, and the verdict that the
//! broker is gone so the caller connects again.
//!
//! The session never blocks and never reads a clock: every call takes `now` (milliseconds), reads
//! only what the stream says is ready, and returns at most one event. One QoS 1 publish is in
//! flight at a time, which keeps a single retransmission copy in RAM.

use super::codec::{self, BufferFull, Connect, DUP, DecodeError, Packet};
use crate::clock::Millis;
use core::ops::Range;
use embedded_io::{Read, ReadReady, Write};

/// Timing of the session.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Sent in CONNECT; a ping goes out after half of it without traffic.
    pub keep_alive_s: u16,
    /// How long a CONNACK, SUBACK or PINGRESP may take before the broker counts as gone.
    pub response_timeout_ms: Millis,
    /// A PUBLISH without PUBACK after this is sent again with the DUP flag.
    pub retransmit_ms: Millis,
    /// Retransmissions of one PUBLISH before the broker counts as gone.
    pub max_retransmits: u8,
}

impl Options {
    pub const DEFAULT: Options = Options {
        keep_alive_s: 30,
        response_timeout_ms: 5_000,
        retransmit_ms: 3_000,
        max_retransmits: 3,
    };
}

impl Default for Options {
    fn default() -> Self {
        Options::DEFAULT
    }
}

/// Why a session ended; the caller connects again after a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// CONNACK with a non-zero return code (4: bad credentials, 5: not authorised).
    Refused(u8),
    /// No CONNACK, SUBACK, PINGRESP or PUBACK in time.
    BrokerSilent,
    /// The stream reported its end.
    Closed,
    /// The broker sent bytes that are not MQTT.
    Protocol(DecodeError),
}

/// What the broker did, one per [`Session::poll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    Connected,
    Lost(Lost),
    /// A message on a subscribed topic (already acknowledged to the broker when QoS 1).
    Message {
        topic: &'a str,
        payload: &'a [u8],
    },
    /// The broker took the in-flight PUBLISH with this packet id.
    Published(u16),
    /// The broker answered SUBSCRIBE; `granted` is false if it refused any filter.
    Subscribed {
        granted: bool,
    },
}

/// A failure of a call, as opposed to an event of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<E> {
    /// The stream failed.
    Link(E),
    /// The packet does not fit the session's buffer.
    BufferFull,
    /// Publishing or subscribing needs a connected session.
    NotConnected,
    /// A QoS 1 publish is still in flight.
    Busy,
}

impl<E> From<BufferFull> for Error<E> {
    fn from(_: BufferFull) -> Self {
        Error::BufferFull
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Connecting { since: Millis },
    Up,
}

#[derive(Debug, Clone, Copy)]
struct Inflight {
    packet_id: u16,
    len: usize,
    sent_at: Millis,
    retransmits: u8,
}

/// Counters worth reporting as metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub retransmits: u32,
    /// Packets from the broker larger than the receive buffer, skipped.
    pub oversized: u32,
}

/// A received packet, by position in the receive buffer, so the buffer can be borrowed again
/// after the session state is updated.
enum Incoming {
    ConnAck(u8),
    Publish {
        topic: Range<usize>,
        payload: Range<usize>,
        packet_id: Option<u16>,
    },
    PubAck(u16),
    SubAck(bool),
    PingResp,
}

/// A session with `RX` bytes to receive one packet and `TX` bytes for each packet sent (the
/// in-flight PUBLISH keeps its own `TX` bytes for retransmission).
pub struct Session<const RX: usize, const TX: usize> {
    opts: Options,
    state: State,
    rx: [u8; RX],
    rx_len: usize,
    /// Bytes of the packet returned by the last poll, dropped at the next one.
    consumed: usize,
    /// Bytes of an oversized packet still to discard.
    skip: usize,
    tx: [u8; TX],
    inflight_buf: [u8; TX],
    inflight: Option<Inflight>,
    /// Packet id and time of an unanswered SUBSCRIBE.
    subscribing: Option<(u16, Millis)>,
    ping_sent: Option<Millis>,
    last_tx: Millis,
    last_rx: Millis,
    next_id: u16,
    pub stats: Stats,
}

fn range_in(outer: &[u8], inner: &[u8]) -> Range<usize> {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    start..start + inner.len()
}

impl<const RX: usize, const TX: usize> Session<RX, TX> {
    pub const fn new(opts: Options) -> Self {
        Session {
            opts,
            state: State::Idle,
            rx: [0; RX],
            rx_len: 0,
            consumed: 0,
            skip: 0,
            tx: [0; TX],
            inflight_buf: [0; TX],
            inflight: None,
            subscribing: None,
            ping_sent: None,
            last_tx: 0,
            last_rx: 0,
            next_id: 0,
            stats: Stats {
                retransmits: 0,
                oversized: 0,
            },
        }
    }

    /// Forgets everything and takes new options; the next call is [`Session::connect`].
    pub fn reset(&mut self, opts: Options) {
        self.opts = opts;
        self.end(Lost::Closed);
        self.rx_len = 0;
        self.consumed = 0;
        self.skip = 0;
    }

    /// Connected and CONNACK accepted.
    pub fn is_up(&self) -> bool {
        self.state == State::Up
    }

    /// Neither connected nor connecting: the caller may [`Session::connect`].
    pub fn is_idle(&self) -> bool {
        self.state == State::Idle
    }

    /// Up with no QoS 1 publish in flight.
    pub fn can_publish(&self) -> bool {
        self.is_up() && self.inflight.is_none()
    }

    fn packet_id(&mut self) -> u16 {
        // Packet id 0 is not allowed.
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        self.next_id
    }

    fn send<L: Write>(&mut self, now: Millis, link: &mut L, len: usize) -> Result<(), L::Error> {
        link.write_all(&self.tx[..len])?;
        link.flush()?;
        self.last_tx = now;
        Ok(())
    }

    fn end(&mut self, why: Lost) -> Event<'static> {
        self.state = State::Idle;
        self.inflight = None;
        self.subscribing = None;
        self.ping_sent = None;
        Event::Lost(why)
    }

    /// Sends CONNECT and starts waiting for CONNACK; whatever was in flight is forgotten.
    #[cfg_attr(feature = "footprint", inline(never))]
    pub fn connect<L: Write>(
        &mut self,
        now: Millis,
        link: &mut L,
        connect: &Connect<'_>,
    ) -> Result<(), Error<L::Error>> {
        self.rx_len = 0;
        self.consumed = 0;
        self.skip = 0;
        self.inflight = None;
        self.subscribing = None;
        self.ping_sent = None;
        let len = codec::connect(&mut self.tx, connect)?;
        self.send(now, link, len).map_err(Error::Link)?;
        self.last_rx = now;
        self.state = State::Connecting { since: now };
        Ok(())
    }

    /// Publishes at QoS 1; the packet id comes back in [`Event::Published`].
    #[cfg_attr(feature = "footprint", inline(never))]
    pub fn publish<L: Write>(
        &mut self,
        now: Millis,
        link: &mut L,
        topic: &str,
        payload: &[u8],
        retain: bool,
    ) -> Result<u16, Error<L::Error>> {
        if !self.is_up() {
            return Err(Error::NotConnected);
        }
        if self.inflight.is_some() {
            return Err(Error::Busy);
        }
        let packet_id = self.packet_id();
        let len = codec::publish(
            &mut self.inflight_buf,
            topic,
            payload,
            Some(packet_id),
            retain,
        )?;
        link.write_all(&self.inflight_buf[..len])
            .and_then(|()| link.flush())
            .map_err(Error::Link)?;
        self.last_tx = now;
        self.inflight = Some(Inflight {
            packet_id,
            len,
            sent_at: now,
            retransmits: 0,
        });
        Ok(packet_id)
    }

    /// Subscribes to `filters` at QoS 1.
    #[cfg_attr(feature = "footprint", inline(never))]
    pub fn subscribe<L: Write>(
        &mut self,
        now: Millis,
        link: &mut L,
        filters: &[&str],
    ) -> Result<(), Error<L::Error>> {
        if !self.is_up() {
            return Err(Error::NotConnected);
        }
        let packet_id = self.packet_id();
        let len = codec::subscribe(&mut self.tx, packet_id, filters)?;
        self.send(now, link, len).map_err(Error::Link)?;
        self.subscribing = Some((packet_id, now));
        Ok(())
    }

    /// Sends DISCONNECT (the broker discards the will) and ends the session.
    #[cfg_attr(feature = "footprint", inline(never))]
    pub fn disconnect<L: Write>(&mut self, now: Millis, link: &mut L) -> Result<(), L::Error> {
        let len = codec::disconnect(&mut self.tx).expect("two bytes fit any buffer");
        let sent = self.send(now, link, len);
        self.end(Lost::Closed);
        sent
    }

    /// The earliest time at which [`Session::poll`] has something to do without new input.
    pub fn next_deadline(&self) -> Option<Millis> {
        let timeout = self.opts.response_timeout_ms;
        match self.state {
            State::Idle => None,
            State::Connecting { since } => Some(since + timeout),
            State::Up => {
                let half = u64::from(self.opts.keep_alive_s) * 500;
                let mut at = match self.ping_sent {
                    Some(t) => t + timeout,
                    None => self.last_tx.min(self.last_rx) + half,
                };
                if let Some(f) = &self.inflight {
                    at = at.min(f.sent_at + self.opts.retransmit_ms);
                }
                if let Some((_, t)) = self.subscribing {
                    at = at.min(t + timeout);
                }
                Some(at)
            }
        }
    }

    /// Reads what the stream has ready, handles at most one packet, and runs the timers.
    #[cfg_attr(feature = "footprint", inline(never))]
    pub fn poll<L: Read + Write + ReadReady>(
        &mut self,
        now: Millis,
        link: &mut L,
    ) -> Result<Option<Event<'_>>, Error<L::Error>> {
        if self.consumed > 0 {
            self.rx.copy_within(self.consumed..self.rx_len, 0);
            self.rx_len -= self.consumed;
            self.consumed = 0;
        }
        if self.state == State::Idle {
            return Ok(None);
        }
        if (self.skip > 0 || self.rx_len < RX) && link.read_ready().map_err(Error::Link)? {
            let n = if self.skip > 0 {
                let mut scratch = [0u8; 32];
                let want = self.skip.min(scratch.len());
                let n = link.read(&mut scratch[..want]).map_err(Error::Link)?;
                self.skip -= n;
                n
            } else {
                let n = link
                    .read(&mut self.rx[self.rx_len..])
                    .map_err(Error::Link)?;
                self.rx_len += n;
                n
            };
            if n == 0 {
                return Ok(Some(self.end(Lost::Closed)));
            }
            self.last_rx = now;
        }
        match self.take_packet() {
            Err(e) => return Ok(Some(self.end(Lost::Protocol(e)))),
            Ok(Some(incoming)) => return self.handle(now, link, incoming),
            Ok(None) => {}
        }
        self.timers(now, link)
    }

    /// Decodes the packet at the front of the receive buffer, skipping one too large for it.
    #[cfg_attr(feature = "footprint", inline(never))]
    fn take_packet(&mut self) -> Result<Option<Incoming>, DecodeError> {
        let buf = &self.rx[..self.rx_len];
        let Some((head, remaining)) = codec::header(buf)? else {
            return Ok(None);
        };
        if head + remaining > RX {
            // Larger than the buffer, so not all of it is here yet: drop it as it arrives.
            self.stats.oversized += 1;
            self.skip = head + remaining - self.rx_len;
            self.rx_len = 0;
            return Ok(None);
        }
        let Some((packet, used)) = codec::decode(buf)? else {
            return Ok(None);
        };
        self.consumed = used;
        Ok(Some(match packet {
            Packet::ConnAck { code, .. } => Incoming::ConnAck(code),
            Packet::Publish {
                topic,
                payload,
                packet_id,
                ..
            } => Incoming::Publish {
                topic: range_in(buf, topic.as_bytes()),
                payload: range_in(buf, payload),
                packet_id,
            },
            Packet::PubAck(id) => Incoming::PubAck(id),
            Packet::SubAck { codes, .. } => Incoming::SubAck(codes.iter().all(|c| *c < 0x80)),
            Packet::PingResp => Incoming::PingResp,
        }))
    }

    #[cfg_attr(feature = "footprint", inline(never))]
    fn handle<L: Write>(
        &mut self,
        now: Millis,
        link: &mut L,
        incoming: Incoming,
    ) -> Result<Option<Event<'_>>, Error<L::Error>> {
        let connecting = matches!(self.state, State::Connecting { .. });
        match incoming {
            Incoming::ConnAck(code) if connecting => {
                if code != 0 {
                    return Ok(Some(self.end(Lost::Refused(code))));
                }
                self.state = State::Up;
                Ok(Some(Event::Connected))
            }
            // Before CONNACK the broker may send nothing else.
            _ if connecting => Ok(Some(self.end(Lost::Protocol(DecodeError::BadPacket)))),
            Incoming::ConnAck(_) => Ok(Some(self.end(Lost::Protocol(DecodeError::BadPacket)))),
            Incoming::Publish {
                topic,
                payload,
                packet_id,
            } => {
                if let Some(id) = packet_id {
                    let len = codec::puback(&mut self.tx, id)?;
                    self.send(now, link, len).map_err(Error::Link)?;
                }
                let Ok(topic) = core::str::from_utf8(&self.rx[topic]) else {
                    return Ok(None); // checked by the decoder
                };
                Ok(Some(Event::Message {
                    topic,
                    payload: &self.rx[payload],
                }))
            }
            Incoming::PubAck(id) => match self.inflight {
                Some(f) if f.packet_id == id => {
                    self.inflight = None;
                    Ok(Some(Event::Published(id)))
                }
                // A late PUBACK for a retransmitted copy already acknowledged.
                _ => Ok(None),
            },
            Incoming::SubAck(granted) => {
                self.subscribing = None;
                Ok(Some(Event::Subscribed { granted }))
            }
            Incoming::PingResp => {
                self.ping_sent = None;
                Ok(None)
            }
        }
    }

    #[cfg_attr(feature = "footprint", inline(never))]
    fn timers<L: Write>(
        &mut self,
        now: Millis,
        link: &mut L,
    ) -> Result<Option<Event<'_>>, Error<L::Error>> {
        let timeout = self.opts.response_timeout_ms;
        let expired = |since: Millis, after: Millis| now.saturating_sub(since) >= after;
        match self.state {
            State::Idle => return Ok(None),
            State::Connecting { since } => {
                if expired(since, timeout) {
                    return Ok(Some(self.end(Lost::BrokerSilent)));
                }
                return Ok(None);
            }
            State::Up => {}
        }
        let silent = self.ping_sent.is_some_and(|t| expired(t, timeout))
            || self.subscribing.is_some_and(|(_, t)| expired(t, timeout));
        if silent {
            return Ok(Some(self.end(Lost::BrokerSilent)));
        }
        if let Some(f) = self.inflight.as_mut()
            && expired(f.sent_at, self.opts.retransmit_ms)
        {
            if f.retransmits >= self.opts.max_retransmits {
                return Ok(Some(self.end(Lost::BrokerSilent)));
            }
            f.retransmits += 1;
            f.sent_at = now;
            let len = f.len;
            self.stats.retransmits += 1;
            self.inflight_buf[0] |= DUP;
            link.write_all(&self.inflight_buf[..len])
                .and_then(|()| link.flush())
                .map_err(Error::Link)?;
            self.last_tx = now;
        }
        let half = u64::from(self.opts.keep_alive_s) * 500;
        let quiet = expired(self.last_tx, half) || expired(self.last_rx, half);
        if self.ping_sent.is_none() && quiet {
            let len = codec::pingreq(&mut self.tx)?;
            self.send(now, link, len).map_err(Error::Link)?;
            self.ping_sent = Some(now);
        }
        Ok(None)
    }
}
