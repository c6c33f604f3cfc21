//! A minimal MQTT 3.1.1 client for load generators: the few packets a device needs, written by
//! hand so that one device costs a small tokio task and a socket rather than an event loop.

use crate::DeviceCreds;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An MQTT string: two length bytes, then the bytes.
fn put_str(buf: &mut Vec<u8>, s: &[u8]) {
    buf.extend_from_slice(&(s.len() as u16).to_be_bytes());
    buf.extend_from_slice(s);
}

/// A packet: the first header byte, the remaining length (variable-length integer), `body`.
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut len = body.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// CONNECT with username = client id = the device id, the token as password, clean session.
pub fn connect_packet(c: &DeviceCreds, keepalive_s: u16) -> Vec<u8> {
    let mut body = Vec::with_capacity(96);
    put_str(&mut body, b"MQTT");
    body.push(4); // protocol level 3.1.1
    body.push(0xC2); // username, password, clean session
    body.extend_from_slice(&keepalive_s.to_be_bytes());
    put_str(&mut body, c.id.as_bytes());
    put_str(&mut body, c.id.as_bytes());
    put_str(&mut body, c.token.as_bytes());
    packet(0x10, &body)
}

/// SUBSCRIBE to one topic at QoS 1 (packet id 1).
pub fn subscribe_packet(topic: &str) -> Vec<u8> {
    let mut body = vec![0, 1];
    put_str(&mut body, topic.as_bytes());
    body.push(1);
    packet(0x82, &body)
}

/// PUBLISH at QoS 1 with packet id `id`.
pub fn publish_packet(topic: &str, id: u16, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(topic.len() + payload.len() + 4);
    put_str(&mut body, topic.as_bytes());
    body.extend_from_slice(&id.to_be_bytes());
    body.extend_from_slice(payload);
    packet(0x32, &body)
}

/// PINGREQ.
pub const PINGREQ: [u8; 2] = [0xC0, 0];

/// Reads one packet: (first header byte, body).
pub async fn read_packet(s: &mut tokio::net::TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let first = s.read_u8().await?;
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let b = s.read_u8().await?;
        len |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).await?;
    Ok((first, body))
}

/// A PUBLISH received: its payload, after answering PUBACK when it came at QoS 1.
pub async fn take_publish(
    s: &mut tokio::net::TcpStream,
    first: u8,
    body: &[u8],
) -> std::io::Result<Vec<u8>> {
    let bad = || std::io::Error::other("malformed PUBLISH");
    let tlen = usize::from(u16::from_be_bytes([
        *body.first().ok_or_else(bad)?,
        *body.get(1).ok_or_else(bad)?,
    ]));
    let mut at = 2 + tlen;
    if first & 0x06 != 0 {
        let id = body.get(at..at + 2).ok_or_else(bad)?;
        if first & 0x06 == 0x02 {
            s.write_all(&[0x40, 2, id[0], id[1]]).await?;
        }
        at += 2;
    }
    Ok(body.get(at..).ok_or_else(bad)?.to_vec())
}

/// Connects from `source` to `addr`, logs in as `c` and subscribes to `subscribe` (if any);
/// an error says which step failed.
pub async fn login(
    source: std::net::Ipv4Addr,
    addr: std::net::SocketAddr,
    c: &DeviceCreds,
    keepalive_s: u16,
    subscribe: Option<&str>,
) -> std::io::Result<tokio::net::TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind((source, 0).into())?;
    let mut s = sock.connect(addr).await?;
    s.write_all(&connect_packet(c, keepalive_s)).await?;
    let (first, body) = read_packet(&mut s).await?;
    if first != 0x20 || body.get(1) != Some(&0) {
        return Err(std::io::Error::other(format!(
            "CONNACK refused (code {:?})",
            body.get(1)
        )));
    }
    if let Some(topic) = subscribe {
        s.write_all(&subscribe_packet(topic)).await?;
        let (first, body) = read_packet(&mut s).await?;
        if first != 0x90 || body.get(2).is_none_or(|c| *c >= 0x80) {
            return Err(std::io::Error::other("SUBACK refused"));
        }
    }
    Ok(s)
}
