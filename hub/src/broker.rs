//! The embedded MQTT broker (rumqttd), wrapped so that an external broker cluster can replace it
//! (DESIGN.md, "Growing past one machine"): the rest of the hub sees only an in-process link.
//!
//! rumqttd runs on its own threads and has no shutdown: it lives as long as the process.

use crate::config::MqttConfig;
use crate::directory::Directory;
use crate::metrics::Metrics;
use anyhow::Context;
use heartline_proto::topic::{ALL_REPORTS, ALL_STATES};
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::{Config, ConnectionSettings, RouterConfig, SegmentConfig, ServerSettings};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The hub's client id on its own broker; not a valid device id, so no device can claim it.
const LINK_CLIENT_ID: &str = "heartline:hub";
/// Segment size of the logs that hold reports and state changes on their way to ingest.
const INGEST_SEGMENT_BYTES: usize = 1024 * 1024;
/// How long start-up waits for the broker's listeners.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

pub struct BrokerLink {
    pub v4: SocketAddr,
    pub v5: SocketAddr,
    pub tx: LinkTx,
    pub rx: LinkRx,
}

/// rumqttd binds inside its own thread, where a taken port is only logged, and it cannot report an
/// ephemeral port back. So each address is bound here first: a taken port fails start-up with a
/// clear error, and port 0 becomes a port that was free a moment ago.
fn concrete(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let probe = TcpListener::bind(addr).with_context(|| {
        format!("cannot listen for MQTT on {addr}: is another broker or hub running?")
    })?;
    Ok(probe.local_addr()?)
}

fn server(
    name: &str,
    listen: SocketAddr,
    cfg: &MqttConfig,
    auth: impl Fn(String, String, String) -> bool + Send + Sync + 'static,
) -> ServerSettings {
    let mut connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: *cfg.max_packet_bytes.get_ref(),
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let auth = Arc::new(auth);
    connections.set_auth_handler(move |client_id, user, pass| {
        let auth = auth.clone();
        async move { auth(client_id, user, pass) }
    });
    ServerSettings {
        name: name.to_string(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    }
}

/// Starts the broker with one MQTT 3.1.1 and one MQTT 5 listener, device authentication against
/// the directory, and the hub's link subscribed to every report and state topic. Returns once
/// both listeners accept connections.
pub fn start(
    cfg: &MqttConfig,
    directory: Directory,
    metrics: Arc<Metrics>,
) -> anyhow::Result<BrokerLink> {
    let v4 = concrete(*cfg.v4_listen.get_ref())?;
    let v5 = concrete(*cfg.v5_listen.get_ref())?;
    let auth = move |client_id: String, user: String, pass: String| {
        directory.authenticate_counted(&metrics, &client_id, &user, &pass)
    };
    let auth = Arc::new(auth);
    let (a4, a5) = (auth.clone(), auth);
    // Everything devices publish to the hub lands in the logs of the hub's two subscriptions;
    // they get a large ring so a burst never overtakes ingest. Every other log (each device's ack
    // and config subscription) stays small: the broker keeps what a log holds, delivered or not.
    let ingest_segments = SegmentConfig {
        max_segment_size: INGEST_SEGMENT_BYTES,
        max_segment_count: (cfg.ingest_buffer_bytes / INGEST_SEGMENT_BYTES).max(2),
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: cfg.max_connections,
            max_outgoing_packet_count: 500,
            max_segment_size: *cfg.segment_bytes.get_ref(),
            max_segment_count: *cfg.segment_count.get_ref(),
            custom_segment: Some(HashMap::from([
                (ALL_REPORTS.to_string(), ingest_segments.clone()),
                (ALL_STATES.to_string(), ingest_segments),
            ])),
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([(
            "1".to_string(),
            server("mqtt-v4", v4, cfg, move |c, u, p| a4(c, u, p)),
        )])),
        v5: Some(HashMap::from([(
            "1".to_string(),
            server("mqtt-v5", v5, cfg, move |c, u, p| a5(c, u, p)),
        )])),
        ..Config::default()
    };
    let mut broker = rumqttd::Broker::new(config);
    let (mut tx, rx) = broker
        .link(LINK_CLIENT_ID)
        .context("opening the hub's broker link")?;
    tx.subscribe(ALL_REPORTS)
        .context("subscribing to reports")?;
    tx.subscribe(ALL_STATES)
        .context("subscribing to state changes")?;
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "the MQTT broker stopped");
            }
        })?;
    for addr in [v4, v5] {
        wait_listening(addr)?;
    }
    tracing::info!(%v4, %v5, "MQTT broker listening (3.1.1 and 5)");
    Ok(BrokerLink { v4, v5, tx, rx })
}

fn wait_listening(addr: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + LISTEN_TIMEOUT;
    let target = if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    };
    loop {
        if TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "the MQTT broker is not listening on {addr} after {LISTEN_TIMEOUT:?}: is the port taken?"
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
