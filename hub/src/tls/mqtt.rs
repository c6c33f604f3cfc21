//! MQTT over TLS: the hub terminates TLS (rustls, ring) on its own port and pipes each device's
//! connection over loopback to the broker's plain listener of the device's MQTT version, read from
//! its CONNECT packet. Devices log in exactly as on the plain ports (username/password on
//! CONNECT, checked by the broker). Why not rumqttd's own TLS: see ARCHITECTURE.md.

use crate::metrics::Metrics;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A device must finish the handshake and send its CONNECT within this (the broker's own
/// connection timeout); a silent or slow client costs no more.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest prefix needed to tell the version: fixed header (1 + up to 4 length bytes),
/// protocol name (2 + 4) and the level byte.
const PREFIX_MAX: usize = 12;

/// What the first bytes of a connection say about its MQTT version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// MQTT 3.1.1 (protocol level 4).
    V4,
    /// MQTT 5.
    V5,
    /// Not yet enough bytes.
    NeedMore,
    /// Not an MQTT 3.1.1 or 5 CONNECT: the connection is closed.
    Unsupported,
}

/// Reads the protocol level of the CONNECT packet at the start of `bytes`.
pub fn version(bytes: &[u8]) -> Version {
    let Some(&first) = bytes.first() else {
        return Version::NeedMore;
    };
    if first != 0x10 {
        return Version::Unsupported;
    }
    // Remaining length: 1 to 4 bytes, 7 bits each, high bit = more follow.
    let mut at = 1;
    loop {
        let Some(&b) = bytes.get(at) else {
            return Version::NeedMore;
        };
        at += 1;
        if b & 0x80 == 0 {
            break;
        }
        if at == 5 {
            return Version::Unsupported;
        }
    }
    let name = [0x00, 0x04, b'M', b'Q', b'T', b'T'];
    for (i, expected) in name.iter().enumerate() {
        match bytes.get(at + i) {
            None => return Version::NeedMore,
            Some(b) if b != expected => return Version::Unsupported,
            Some(_) => {}
        }
    }
    match bytes.get(at + name.len()) {
        None => Version::NeedMore,
        Some(4) => Version::V4,
        Some(5) => Version::V5,
        Some(_) => Version::Unsupported,
    }
}

/// Where the plain listeners are, as the pipe reaches them over loopback.
#[derive(Debug, Clone, Copy)]
pub struct Upstream {
    pub v4: SocketAddr,
    pub v5: SocketAddr,
}

impl Upstream {
    /// The broker's listeners; an unspecified address (0.0.0.0) is reached on loopback.
    pub fn of(v4: SocketAddr, v5: SocketAddr) -> Upstream {
        let local = |a: SocketAddr| {
            if a.ip().is_unspecified() {
                SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), a.port())
            } else {
                a
            }
        };
        Upstream {
            v4: local(v4),
            v5: local(v5),
        }
    }
}

/// Accepts TLS connections on `listener` until the task is aborted; at most `max_connections`
/// at once (the broker's own limit), the rest wait in the kernel's backlog.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    upstream: Upstream,
    max_connections: usize,
    metrics: Arc<Metrics>,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, say: back off instead of spinning.
                tracing::warn!(error = %e, "MQTT TLS listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (acceptor, metrics) = (acceptor.clone(), metrics.clone());
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(why) = pipe(tcp, acceptor, upstream, &metrics).await {
                tracing::debug!(%peer, why, "MQTT TLS connection closed");
            }
        });
    }
}

/// One device connection: handshake, version from CONNECT, then bytes both ways until either
/// side closes.
async fn pipe(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    upstream: Upstream,
    metrics: &Metrics,
) -> Result<(), &'static str> {
    let _ = tcp.set_nodelay(true);
    let opened = tokio::time::timeout(CONNECT_TIMEOUT, async {
        let handshake = acceptor.accept(tcp).await;
        metrics.tls_handshake("mqtt", handshake.is_ok());
        let mut tls = handshake.map_err(|_| "TLS handshake failed")?;
        let mut first = Vec::with_capacity(PREFIX_MAX);
        let mut buf = [0u8; PREFIX_MAX];
        loop {
            match version(&first) {
                Version::NeedMore => {}
                Version::Unsupported => return Err("not an MQTT 3.1.1 or 5 CONNECT"),
                v => return Ok((tls, first, v)),
            }
            let n = tls
                .read(&mut buf[..PREFIX_MAX - first.len()])
                .await
                .map_err(|_| "read failed before CONNECT")?;
            if n == 0 {
                return Err("closed before CONNECT");
            }
            first.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .map_err(|_| "no handshake and CONNECT in time")?;
    let (mut tls, first, v) = opened?;
    let to = if v == Version::V5 {
        upstream.v5
    } else {
        upstream.v4
    };
    let mut broker = TcpStream::connect(to)
        .await
        .map_err(|_| "broker listener unreachable")?;
    let _ = broker.set_nodelay(true);
    broker
        .write_all(&first)
        .await
        .map_err(|_| "broker closed")?;
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A CONNECT as clients encode it: fixed header, remaining length, "MQTT", level, the rest.
    fn connect(level: u8, rest_len: usize) -> Vec<u8> {
        let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', level, 0x02, 0x00, 0x3c];
        body.extend(std::iter::repeat_n(0u8, rest_len));
        let mut out = vec![0x10];
        let mut len = body.len();
        loop {
            let byte = (len % 128) as u8;
            len /= 128;
            out.push(if len > 0 { byte | 0x80 } else { byte });
            if len == 0 {
                break;
            }
        }
        out.extend(body);
        out
    }

    #[test]
    fn reads_the_level_of_both_versions_whatever_the_length_field() {
        for rest in [0, 200, 20_000, 3_000_000] {
            assert_eq!(version(&connect(4, rest)), Version::V4);
            assert_eq!(version(&connect(5, rest)), Version::V5);
        }
    }

    #[test]
    fn refuses_what_is_not_a_3_1_1_or_5_connect() {
        assert_eq!(version(&connect(3, 0)), Version::Unsupported);
        assert_eq!(version(b"GET / HTTP/1.1\r\n"), Version::Unsupported);
        assert_eq!(version(&[0x30, 0x00]), Version::Unsupported);
        // MQTT 3.1's protocol name.
        assert_eq!(
            version(&[0x10, 0x10, 0x00, 0x06, b'M', b'Q', b'I', b's']),
            Version::Unsupported
        );
        // A remaining length longer than four bytes.
        assert_eq!(
            version(&[0x10, 0x80, 0x80, 0x80, 0x80, 0x01]),
            Version::Unsupported
        );
    }

    proptest! {
        #[test]
        fn every_prefix_of_a_connect_asks_for_more(level in 4u8..=5, rest in 0usize..300_000, cut in 0usize..12) {
            let bytes = connect(level, rest);
            let head = 1 + bytes[1..].iter().position(|b| b & 0x80 == 0).unwrap() + 1 + 7;
            let cut = cut.min(head - 1);
            prop_assert_eq!(version(&bytes[..cut]), Version::NeedMore);
            let full = if level == 4 { Version::V4 } else { Version::V5 };
            prop_assert_eq!(version(&bytes[..head]), full);
        }

        #[test]
        fn never_panics_and_never_needs_more_than_twelve_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let v = version(&bytes);
            if bytes.len() >= PREFIX_MAX {
                prop_assert_ne!(v, Version::NeedMore);
            }
        }
    }
}
