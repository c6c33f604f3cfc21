//! The MQTT session to the hub: stable client id (the device id), persistent session, a signed
//! last will, TLS from a CA file (rustls with ring), and reconnection with jittered backoff. The
//! event loop runs in its own task and reports what happens as [`SessionEvent`]s. Every
//! connection is a new presence session (a random id, stamped strictly after the last), so the
//! hub can tell a lost connection from a replay of an earlier `online`.

use crate::config::AgentConfig;
use anyhow::Context;
use heartline_proto::envelope::seal;
use heartline_proto::wire::{Presence, StateChange};
use heartline_proto::{Channel, DeviceKey, Topic};
use rand::Rng;
use rumqttc::{
    AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS, TlsConfiguration, Transport,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the event loop tells the agent.
#[derive(Debug)]
pub enum SessionEvent {
    /// Connected (again): subscribe, announce `online` for this connection's session (its will
    /// carries the same), re-send the outbox.
    Connected {
        session: u64,
        at_ms: i64,
    },
    Disconnected(String),
    Message {
        topic: String,
        payload: Vec<u8>,
    },
}

/// A signed presence message of this device.
pub fn state_change(
    cfg: &AgentConfig,
    boot_id: u64,
    session: u64,
    presence: Presence,
    at_ms: i64,
) -> Vec<u8> {
    seal(
        &DeviceKey(cfg.key),
        &StateChange {
            device_id: cfg.device_id.clone(),
            boot_id,
            presence: presence as i32,
            at_ms,
            session,
            goodbye: (presence == Presence::Goodbye).then(|| heartline_proto::wire::Goodbye {
                reason: "agent stopped".into(),
                back_in_s: 0,
            }),
        },
    )
}

pub fn topic(cfg: &AgentConfig, channel: Channel) -> String {
    Topic::new(&cfg.tenant, &cfg.device_id, channel).to_string()
}

/// Builds the client; [`drive`] gives each connection its will.
pub fn client(cfg: &AgentConfig) -> anyhow::Result<(AsyncClient, EventLoop)> {
    let mut o = MqttOptions::new(cfg.device_id.clone(), cfg.host.clone(), cfg.port);
    o.set_credentials(cfg.device_id.clone(), cfg.token.clone())
        .set_keep_alive(cfg.keep_alive)
        .set_clean_session(false)
        .set_max_packet_size(256 * 1024, 256 * 1024);
    if let Some(ca) = &cfg.ca_file {
        o.set_transport(Transport::tls_with_config(tls(ca)?));
    }
    Ok(AsyncClient::new(o, 64))
}

fn tls(ca_file: &std::path::Path) -> anyhow::Result<TlsConfiguration> {
    let pem =
        std::fs::read(ca_file).with_context(|| format!("reading CA file {}", ca_file.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots
            .add(cert.context("parsing the CA file")?)
            .context("adding the CA certificate")?;
    }
    anyhow::ensure!(
        !roots.is_empty(),
        "{} holds no certificate",
        ca_file.display()
    );
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConfiguration::Rustls(Arc::new(config)))
}

/// The presence session of one connection: a random id and a time strictly after the last one's,
/// so that the next `online` is newer than any earlier will even when the clock stood still.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    session: u64,
    at_ms: i64,
}

impl Stamp {
    fn after(previous: Option<Stamp>, now_ms: i64) -> Stamp {
        Stamp {
            session: rand::random(),
            at_ms: previous.map_or(now_ms, |p| now_ms.max(p.at_ms + 1)),
        }
    }
}

/// Polls the event loop forever, forwarding what matters; after an error it waits a jittered,
/// growing delay (0.5 s doubling to 30 s) before the next attempt. Before every connection it
/// sets a will ("offline", signed by `will(session, at_ms)`) for a new session.
pub async fn drive(
    mut eventloop: EventLoop,
    tx: mpsc::UnboundedSender<SessionEvent>,
    state_topic: String,
    will: impl Fn(u64, i64) -> Vec<u8>,
    now_ms: impl Fn() -> i64,
) {
    let set_will = |el: &mut EventLoop, s: Stamp| {
        el.mqtt_options.set_last_will(LastWill::new(
            state_topic.clone(),
            will(s.session, s.at_ms),
            QoS::AtLeastOnce,
            true,
        ));
    };
    let mut stamp = Stamp::after(None, now_ms());
    set_will(&mut eventloop, stamp);
    let mut failures: u32 = 0;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                let connected = SessionEvent::Connected {
                    session: stamp.session,
                    at_ms: stamp.at_ms,
                };
                if tx.send(connected).is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let _ = tx.send(SessionEvent::Message {
                    topic: p.topic,
                    payload: p.payload.to_vec(),
                });
            }
            Ok(_) => {}
            Err(e) => {
                if tx.send(SessionEvent::Disconnected(e.to_string())).is_err() {
                    return;
                }
                // The next connection is a new session; this one's will may already be out.
                stamp = Stamp::after(Some(stamp), now_ms());
                set_will(&mut eventloop, stamp);
                failures = failures.saturating_add(1);
                let base = (500u64 << failures.min(6)).min(30_000);
                let jitter = rand::rng().random_range(0.5..1.5);
                tokio::time::sleep(Duration::from_millis((base as f64 * jitter) as u64)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Stamp;

    #[test]
    fn each_connection_is_a_new_session_stamped_after_the_last() {
        let first = Stamp::after(None, 1_000);
        assert_eq!(first.at_ms, 1_000);
        // The clock stood still, or went back: the next stamp is still later.
        let second = Stamp::after(Some(first), 1_000);
        let third = Stamp::after(Some(second), 900);
        assert_eq!((second.at_ms, third.at_ms), (1_001, 1_002));
        assert_ne!(first.session, second.session);
        assert_ne!(second.session, third.session);
        // A clock that moved on is taken as it is.
        assert_eq!(Stamp::after(Some(third), 5_000).at_ms, 5_000);
    }
}
