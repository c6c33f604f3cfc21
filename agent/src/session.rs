//! The MQTT session to the hub: stable client id (the device id), persistent session, a signed
//! last will, TLS from a CA file (rustls with ring), and reconnection with jittered backoff. The
//! event loop runs in its own task and reports what happens as [`SessionEvent`]s.

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
    /// Connected (again): subscribe, announce, re-send the outbox.
    Connected,
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

/// Builds the client; the will says "offline" for this connection's session.
pub fn client(cfg: &AgentConfig, will: Vec<u8>) -> anyhow::Result<(AsyncClient, EventLoop)> {
    let mut o = MqttOptions::new(cfg.device_id.clone(), cfg.host.clone(), cfg.port);
    o.set_credentials(cfg.device_id.clone(), cfg.token.clone())
        .set_keep_alive(cfg.keep_alive)
        .set_clean_session(false)
        .set_max_packet_size(256 * 1024, 256 * 1024)
        .set_last_will(LastWill::new(
            topic(cfg, Channel::State),
            will,
            QoS::AtLeastOnce,
            true,
        ));
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

/// Polls the event loop forever, forwarding what matters; after an error it waits a jittered,
/// growing delay (0.5 s doubling to 30 s) before the next attempt.
pub async fn drive(mut eventloop: EventLoop, tx: mpsc::UnboundedSender<SessionEvent>) {
    let mut failures: u32 = 0;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                if tx.send(SessionEvent::Connected).is_err() {
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
                failures = failures.saturating_add(1);
                let base = (500u64 << failures.min(6)).min(30_000);
                let jitter = rand::rng().random_range(0.5..1.5);
                tokio::time::sleep(Duration::from_millis((base as f64 * jitter) as u64)).await;
            }
        }
    }
}
