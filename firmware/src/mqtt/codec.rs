//! MQTT 3.1.1 packets, by hand: the few the firmware sends (CONNECT, PUBLISH, PUBACK, SUBSCRIBE,
//! PINGREQ, DISCONNECT) and a decoder for what a broker sends back.
//!
//! Encoders write into a caller's buffer and fail cleanly when it is too small; the decoder takes
//! any bytes (it is fuzzed) and borrows topic and payload from them.

/// Packet type nibbles (MQTT 3.1.1 §2.2.1).
pub mod kind {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
}

/// The DUP flag of a PUBLISH's first byte, set on a retransmission.
pub const DUP: u8 = 0x08;
/// Longest remaining length MQTT can express (four length bytes).
pub const MAX_REMAINING: usize = 268_435_455;

/// Why a packet could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferFull;

/// Why received bytes are not an MQTT packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The remaining length uses more than four bytes.
    BadLength,
    /// A packet the client never expects (a CONNECT from the broker, say) or reserved flags set.
    BadPacket,
    /// The body is shorter than its fields say, or a topic is not UTF-8.
    Malformed,
}

/// The last will: the broker publishes it when the connection drops without a DISCONNECT.
#[derive(Debug, Clone, Copy)]
pub struct Will<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub retain: bool,
}

/// What CONNECT carries.
#[derive(Debug, Clone, Copy)]
pub struct Connect<'a> {
    pub client_id: &'a str,
    pub username: &'a str,
    pub password: &'a [u8],
    pub keep_alive_s: u16,
    pub will: Option<Will<'a>>,
}

/// A packet from the broker, borrowing from the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    ConnAck {
        session_present: bool,
        code: u8,
    },
    Publish {
        topic: &'a str,
        payload: &'a [u8],
        /// Set for QoS 1 and 2; the broker waits for our PUBACK (QoS 2 is never requested).
        packet_id: Option<u16>,
        retain: bool,
    },
    PubAck(u16),
    SubAck {
        packet_id: u16,
        /// One return code per filter: the granted QoS, or 0x80 for a refusal.
        codes: &'a [u8],
    },
    PingResp,
}

/// A cursor over a caller's buffer.
struct Out<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Out<'_> {
    fn byte(&mut self, b: u8) -> Result<(), BufferFull> {
        *self.buf.get_mut(self.at).ok_or(BufferFull)? = b;
        self.at += 1;
        Ok(())
    }

    fn bytes(&mut self, b: &[u8]) -> Result<(), BufferFull> {
        let end = self.at.checked_add(b.len()).ok_or(BufferFull)?;
        self.buf
            .get_mut(self.at..end)
            .ok_or(BufferFull)?
            .copy_from_slice(b);
        self.at = end;
        Ok(())
    }

    fn u16(&mut self, v: u16) -> Result<(), BufferFull> {
        self.bytes(&v.to_be_bytes())
    }

    /// A length-prefixed string or binary field.
    fn field(&mut self, b: &[u8]) -> Result<(), BufferFull> {
        self.u16(u16::try_from(b.len()).map_err(|_| BufferFull)?)?;
        self.bytes(b)
    }

    /// The fixed header: first byte and the remaining length as a variable-length integer.
    fn header(&mut self, first: u8, remaining: usize) -> Result<(), BufferFull> {
        if remaining > MAX_REMAINING {
            return Err(BufferFull);
        }
        self.byte(first)?;
        let mut n = remaining;
        loop {
            let digit = (n % 128) as u8;
            n /= 128;
            self.byte(if n > 0 { digit | 0x80 } else { digit })?;
            if n == 0 {
                return Ok(());
            }
        }
    }
}

fn field_len(b: &[u8]) -> usize {
    2 + b.len()
}

/// Writes CONNECT (clean session: the device's own outbox, not the broker, keeps what matters).
pub fn connect(buf: &mut [u8], c: &Connect<'_>) -> Result<usize, BufferFull> {
    // Flags: username, password, will (QoS 1, retain as asked), clean session.
    let mut flags = 0x80 | 0x40 | 0x02;
    let mut remaining = 10 + field_len(c.client_id.as_bytes());
    if let Some(w) = &c.will {
        flags |= 0x04 | 0x08 | if w.retain { 0x20 } else { 0 };
        remaining += field_len(w.topic.as_bytes()) + field_len(w.payload);
    }
    remaining += field_len(c.username.as_bytes()) + field_len(c.password);
    let mut out = Out { buf, at: 0 };
    out.header(kind::CONNECT << 4, remaining)?;
    out.field(b"MQTT")?;
    out.byte(4)?; // protocol level 3.1.1
    out.byte(flags)?;
    out.u16(c.keep_alive_s)?;
    out.field(c.client_id.as_bytes())?;
    if let Some(w) = &c.will {
        out.field(w.topic.as_bytes())?;
        out.field(w.payload)?;
    }
    out.field(c.username.as_bytes())?;
    out.field(c.password)?;
    Ok(out.at)
}

/// Writes PUBLISH; `packet_id` makes it QoS 1, `None` QoS 0.
pub fn publish(
    buf: &mut [u8],
    topic: &str,
    payload: &[u8],
    packet_id: Option<u16>,
    retain: bool,
) -> Result<usize, BufferFull> {
    let mut first = kind::PUBLISH << 4 | u8::from(retain);
    let mut remaining = field_len(topic.as_bytes()) + payload.len();
    if packet_id.is_some() {
        first |= 0x02;
        remaining += 2;
    }
    let mut out = Out { buf, at: 0 };
    out.header(first, remaining)?;
    out.field(topic.as_bytes())?;
    if let Some(id) = packet_id {
        out.u16(id)?;
    }
    out.bytes(payload)?;
    Ok(out.at)
}

/// Writes PUBACK for a QoS 1 message received.
pub fn puback(buf: &mut [u8], packet_id: u16) -> Result<usize, BufferFull> {
    let mut out = Out { buf, at: 0 };
    out.header(kind::PUBACK << 4, 2)?;
    out.u16(packet_id)?;
    Ok(out.at)
}

/// Writes SUBSCRIBE for `filters`, each at QoS 1.
pub fn subscribe(buf: &mut [u8], packet_id: u16, filters: &[&str]) -> Result<usize, BufferFull> {
    let remaining = 2 + filters
        .iter()
        .map(|f| field_len(f.as_bytes()) + 1)
        .sum::<usize>();
    let mut out = Out { buf, at: 0 };
    out.header(kind::SUBSCRIBE << 4 | 0x02, remaining)?;
    out.u16(packet_id)?;
    for f in filters {
        out.field(f.as_bytes())?;
        out.byte(1)?;
    }
    Ok(out.at)
}

/// Writes PINGREQ.
pub fn pingreq(buf: &mut [u8]) -> Result<usize, BufferFull> {
    let mut out = Out { buf, at: 0 };
    out.header(kind::PINGREQ << 4, 0)?;
    Ok(out.at)
}

/// Writes DISCONNECT: the broker then drops the will.
pub fn disconnect(buf: &mut [u8]) -> Result<usize, BufferFull> {
    let mut out = Out { buf, at: 0 };
    out.header(kind::DISCONNECT << 4, 0)?;
    Ok(out.at)
}

/// Reads a fixed header: `Some((header length, remaining length))` once enough bytes are there.
pub fn header(buf: &[u8]) -> Result<Option<(usize, usize)>, DecodeError> {
    let mut remaining = 0usize;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((2 + i, remaining)));
        }
    }
    Err(DecodeError::BadLength)
}

/// Decodes the first packet of `buf`: `Ok(None)` while it is incomplete, else the packet and the
/// number of bytes it used.
pub fn decode(buf: &[u8]) -> Result<Option<(Packet<'_>, usize)>, DecodeError> {
    let Some((head, remaining)) = header(buf)? else {
        return Ok(None);
    };
    let total = head + remaining;
    let Some(body) = buf.get(head..total) else {
        return Ok(None);
    };
    Ok(Some((body_packet(buf[0], body)?, total)))
}

/// Decodes a packet from its first byte and its body (everything after the fixed header).
pub fn body_packet(first: u8, body: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let flags = first & 0x0f;
    let u16_at = |i: usize| -> Result<u16, DecodeError> {
        match body.get(i..i + 2) {
            Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
            None => Err(DecodeError::Malformed),
        }
    };
    match first >> 4 {
        kind::CONNACK if flags == 0 && body.len() == 2 => Ok(Packet::ConnAck {
            session_present: body[0] & 1 == 1,
            code: body[1],
        }),
        kind::PUBLISH => {
            let qos = (flags >> 1) & 0x03;
            if qos == 3 {
                return Err(DecodeError::BadPacket);
            }
            let topic_len = usize::from(u16_at(0)?);
            let topic = body.get(2..2 + topic_len).ok_or(DecodeError::Malformed)?;
            let topic = core::str::from_utf8(topic).map_err(|_| DecodeError::Malformed)?;
            let mut at = 2 + topic_len;
            let packet_id = if qos > 0 {
                at += 2;
                Some(u16_at(at - 2)?)
            } else {
                None
            };
            Ok(Packet::Publish {
                topic,
                payload: &body[at..],
                packet_id,
                retain: flags & 1 == 1,
            })
        }
        kind::PUBACK if flags == 0 && body.len() == 2 => Ok(Packet::PubAck(u16_at(0)?)),
        kind::SUBACK if flags == 0 && body.len() >= 3 => Ok(Packet::SubAck {
            packet_id: u16_at(0)?,
            codes: &body[2..],
        }),
        kind::PINGRESP if flags == 0 && body.is_empty() => Ok(Packet::PingResp),
        _ => Err(DecodeError::BadPacket),
    }
}
