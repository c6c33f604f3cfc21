//! Host tests only: a scripted byte stream standing in for the broker (the test feeds the bytes
//! the broker would send and reads back what the firmware wrote), and helpers to build broker
//! packets and take the firmware's packets apart.

extern crate std;
use crate::mqtt::codec::{header, kind};
use core::convert::Infallible;
use embedded_io::{ErrorType, Read, ReadReady, Write};
use std::collections::VecDeque;
use std::vec::Vec;

/// The stream: `to_device` is what the broker "sent", `written` what the device wrote.
#[derive(Default)]
pub struct Script {
    pub to_device: VecDeque<u8>,
    pub written: Vec<u8>,
    /// Largest read: 1 makes every packet arrive byte by byte.
    pub chunk: usize,
    /// The stream ended (a TCP connection closed): reads return 0.
    pub closed: bool,
}

impl Script {
    pub fn new() -> Script {
        Script {
            chunk: usize::MAX,
            ..Script::default()
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.to_device.extend(bytes);
    }

    /// Takes the packets written since the last call.
    pub fn take_packets(&mut self) -> Vec<Sent> {
        let bytes = core::mem::take(&mut self.written);
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let (head, remaining) = header(&bytes[at..]).unwrap().expect("whole packets");
            out.push(Sent {
                first: bytes[at],
                body: bytes[at + head..at + head + remaining].to_vec(),
            });
            at += head + remaining;
        }
        out
    }
}

impl ErrorType for Script {
    type Error = Infallible;
}

impl ReadReady for Script {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(self.closed || !self.to_device.is_empty())
    }
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let n = buf.len().min(self.chunk).min(self.to_device.len());
        for b in buf.iter_mut().take(n) {
            *b = self.to_device.pop_front().unwrap();
        }
        Ok(n)
    }
}

impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// A packet the device wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub first: u8,
    pub body: Vec<u8>,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

/// A length-prefixed field at `at`; returns it and the offset after it.
fn field(b: &[u8], at: usize) -> (&[u8], usize) {
    let n = usize::from(u16_at(b, at));
    (&b[at + 2..at + 2 + n], at + 2 + n)
}

impl Sent {
    pub fn kind(&self) -> u8 {
        self.first >> 4
    }

    pub fn dup(&self) -> bool {
        self.first & 0x08 != 0
    }

    pub fn retain(&self) -> bool {
        self.first & 0x01 != 0
    }

    /// PUBLISH: (topic, packet id, payload).
    pub fn publish(&self) -> (&str, u16, &[u8]) {
        assert_eq!(self.kind(), kind::PUBLISH, "{self:?}");
        assert_eq!(self.first & 0x06, 0x02, "QoS 1");
        let (topic, at) = field(&self.body, 0);
        (
            core::str::from_utf8(topic).unwrap(),
            u16_at(&self.body, at),
            &self.body[at + 2..],
        )
    }

    /// SUBSCRIBE: (packet id, filters).
    pub fn subscribe(&self) -> (u16, Vec<std::string::String>) {
        assert_eq!(self.kind(), kind::SUBSCRIBE, "{self:?}");
        let mut at = 2;
        let mut filters = Vec::new();
        while at < self.body.len() {
            let (f, next) = field(&self.body, at);
            filters.push(std::string::String::from_utf8(f.to_vec()).unwrap());
            assert_eq!(self.body[next], 1, "QoS 1");
            at = next + 1;
        }
        (u16_at(&self.body, 0), filters)
    }

    /// CONNECT: (flags, keep alive, client id, will topic and payload, username, password).
    pub fn connect(&self) -> Connect {
        assert_eq!(self.kind(), kind::CONNECT, "{self:?}");
        let (proto, at) = field(&self.body, 0);
        assert_eq!((proto, self.body[at]), (&b"MQTT"[..], 4));
        let flags = self.body[at + 1];
        let keep_alive = u16_at(&self.body, at + 2);
        let (client, mut at) = field(&self.body, at + 4);
        let mut will = None;
        if flags & 0x04 != 0 {
            let (t, next) = field(&self.body, at);
            let (p, next) = field(&self.body, next);
            will = Some((
                std::string::String::from_utf8(t.to_vec()).unwrap(),
                p.to_vec(),
            ));
            at = next;
        }
        let (user, at) = field(&self.body, at);
        let (pass, _) = field(&self.body, at);
        Connect {
            flags,
            keep_alive,
            client_id: std::string::String::from_utf8(client.to_vec()).unwrap(),
            will,
            username: std::string::String::from_utf8(user.to_vec()).unwrap(),
            password: pass.to_vec(),
        }
    }
}

#[derive(Debug)]
pub struct Connect {
    pub flags: u8,
    pub keep_alive: u16,
    pub client_id: std::string::String,
    pub will: Option<(std::string::String, Vec<u8>)>,
    pub username: std::string::String,
    pub password: Vec<u8>,
}

pub fn connack(code: u8) -> [u8; 4] {
    [kind::CONNACK << 4, 2, 0, code]
}

pub fn puback(id: u16) -> [u8; 4] {
    let [a, b] = id.to_be_bytes();
    [kind::PUBACK << 4, 2, a, b]
}

pub fn suback(id: u16, codes: &[u8]) -> Vec<u8> {
    let mut v = std::vec![kind::SUBACK << 4, (2 + codes.len()) as u8];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(codes);
    v
}

pub fn pingresp() -> [u8; 2] {
    [kind::PINGRESP << 4, 0]
}

/// A PUBLISH from the broker (QoS 1 when `id` is given).
pub fn publish(topic: &str, payload: &[u8], id: Option<u16>) -> Vec<u8> {
    let mut buf = std::vec![0u8; topic.len() + payload.len() + 16];
    let n = crate::mqtt::codec::publish(&mut buf, topic, payload, id, false).unwrap();
    buf.truncate(n);
    buf
}
