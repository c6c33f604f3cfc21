//! The embedded MQTT broker (RMQTT in library mode) and the hub's link to it.
//!
//! Two device listeners (`mqtt.v4_listen`, `mqtt.v5_listen`; each accepts MQTT 3.1.1 and 5),
//! device authentication against the [`Directory`] and the topic rules of [`acl`] as broker
//! hooks ([`hooks`]), retained messages in memory (the `rmqtt-retainer` plugin), and an internal
//! loopback listener for the hub's own connection ([`link`]). In a cluster (`[cluster]`), the
//! `rmqtt-cluster-broadcast` plugin joins this node to the broker-only nodes
//! (`heartline-hub broker`, [`node`]). Both kinds of node build their server with [`server`].

pub mod acl;
pub mod hooks;
pub mod link;
pub mod node;
pub mod server;

use crate::config::{ClusterConfig, MqttConfig};
use crate::directory::Directory;
use crate::metrics::Metrics;
use rmqtt::net::Builder;
use rmqtt::server::MqttServer;
use server::{LID_LINK, LID_V4, LID_V5, add_hooks, bind, context, device_listener, serve};
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub use link::{Delivery, LinkTx};

pub struct BrokerLink {
    pub v4: SocketAddr,
    pub v5: SocketAddr,
    pub tx: LinkTx,
    pub rx: flume::Receiver<Delivery>,
    /// Set (once) when the broker failed: its server stopped or the link stayed down.
    pub failed: watch::Receiver<Option<String>>,
}

/// Starts the broker with its two device listeners and the hub's link subscribed to every report
/// and state topic. Returns once the link's subscriptions are granted.
pub async fn start(
    cfg: &MqttConfig,
    cluster: Option<&ClusterConfig>,
    directory: Directory,
    metrics: Arc<Metrics>,
) -> anyhow::Result<BrokerLink> {
    let scx = context(cfg, cluster).await?;
    if let Some(c) = cluster {
        server::join(&scx, c).await?;
    }
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let credentials = hooks::LinkCredentials {
        listener: LID_LINK,
        secret: secret.clone(),
    };
    add_hooks(
        &scx,
        hooks::Hooks::new(directory, metrics, Some(credentials)),
    )
    .await;

    let v4 = bind(
        device_listener("mqtt", *cfg.v4_listen.get_ref(), cfg),
        "MQTT",
        *cfg.v4_listen.get_ref(),
    )?;
    let v5 = bind(
        device_listener("mqtt-v5", *cfg.v5_listen.get_ref(), cfg),
        "MQTT 5",
        *cfg.v5_listen.get_ref(),
    )?;
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let internal = Builder::new()
        .name("hub-link")
        .laddr(loopback)
        .allow_anonymous(false)
        .nodelay(true)
        .max_connections(link::LINK_SESSIONS + 2)
        .max_packet_size(*cfg.max_packet_bytes.get_ref() as u32 + 1024)
        .max_inflight(NonZeroU16::new(link::LINK_INFLIGHT).expect("not zero"))
        .max_mqueue_len(link::LINK_QUEUE)
        .session_expiry_interval(Duration::ZERO);
    let internal = bind(internal, "the hub's link", loopback)?;
    let (v4_addr, v5_addr, link_addr) = (
        v4.local_addr().map_err(|e| anyhow::anyhow!("{e}"))?,
        v5.local_addr().map_err(|e| anyhow::anyhow!("{e}"))?,
        internal.local_addr().map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    // The hub's link first, devices once it is subscribed: a report published before anyone
    // subscribes is acknowledged by the broker and delivered to nobody. The device would send it
    // again when no ack comes, but a later report committed meanwhile opens a gap, and a gap is
    // forgotten if the hub restarts before it is filled (chaos_kill lost a report that way).
    // Until then devices wait in the listeners' backlog (their TCP connect succeeds).
    let (failed_tx, failed) = watch::channel(None);
    let link_server = MqttServer::new(scx.clone())
        .listener_by_id(internal, LID_LINK)
        .build();
    let link_server = serve(link_server, failed_tx.clone());
    let (tx, rx) = link::connect(
        link_addr,
        secret,
        *cfg.max_packet_bytes.get_ref(),
        failed_tx.clone(),
    )
    .await?;
    let devices = MqttServer::new(scx.clone())
        .listener_by_id(v4, LID_V4)
        .listener_by_id(v5, LID_V5)
        .build();
    let devices = serve(devices, failed_tx);
    if crate::parts::injected("broker") {
        devices.abort();
        link_server.abort();
    }
    tracing::info!(v4 = %v4_addr, v5 = %v5_addr, "MQTT broker listening (3.1.1 and 5 on both)");
    Ok(BrokerLink {
        v4: v4_addr,
        v5: v5_addr,
        tx,
        rx,
        failed,
    })
}
