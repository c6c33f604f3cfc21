//! The embedded MQTT broker (RMQTT in library mode) and the hub's link to it.
//!
//! Two device listeners (`mqtt.v4_listen`, `mqtt.v5_listen`; each accepts MQTT 3.1.1 and 5),
//! device authentication against the [`Directory`] and the topic rules of [`acl`] as broker
//! hooks ([`hooks`]), retained messages in memory (the `rmqtt-retainer` plugin), and an internal
//! loopback listener for the hub's own connection ([`link`]). In a cluster (`[cluster]`), the
//! `rmqtt-cluster-broadcast` plugin joins this node to the broker-only nodes
//! (`heartline-hub broker`, [`node`]).

pub mod acl;
pub mod hooks;
pub mod link;
pub mod node;

use crate::config::{ClusterConfig, MqttConfig};
use crate::directory::Directory;
use crate::metrics::Metrics;
use anyhow::Context;
use rmqtt::context::ServerContext;
use rmqtt::net::Builder;
use rmqtt::server::MqttServer;
use rmqtt::types::ListenerId;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub use link::{Delivery, LinkTx};

/// Listener ids inside the broker (its `Id::lid`): the hub's link is told apart by its own.
const LID_V4: ListenerId = 1;
const LID_V5: ListenerId = 2;
const LID_LINK: ListenerId = 3;
/// A device that has not finished CONNECT by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages in flight to one device, and queued for one device that does not read: a device
/// needs only its latest ack and its config, so a few are plenty.
const DEVICE_INFLIGHT: u16 = 16;

pub struct BrokerLink {
    pub v4: SocketAddr,
    pub v5: SocketAddr,
    pub tx: LinkTx,
    pub rx: flume::Receiver<Delivery>,
    /// Set (once) when the broker failed: its server stopped or the link stayed down.
    pub failed: watch::Receiver<Option<String>>,
}

/// The device listener settings shared by the hub's node and broker-only nodes.
pub(crate) fn device_listener(name: &str, addr: SocketAddr, cfg: &MqttConfig) -> Builder {
    Builder::new()
        .name(name)
        .laddr(addr)
        .allow_anonymous(false)
        .nodelay(true)
        .reuseaddr(Some(true))
        .backlog(4096)
        .max_connections(cfg.max_connections)
        .max_handshaking_limit(cfg.max_connections.clamp(1, 10_000))
        .max_packet_size(*cfg.max_packet_bytes.get_ref() as u32)
        .handshake_timeout(HANDSHAKE_TIMEOUT)
        .max_inflight(NonZeroU16::new(DEVICE_INFLIGHT).expect("not zero"))
        .max_mqueue_len(cfg.device_queue)
        // Retained configs and presence must not expire; queued acks do (a device that comes
        // back after this gets a fresh ack for its next report anyway).
        .message_expiry_interval(Duration::from_secs(300))
}

/// Builds the broker's context: node id, plugins (retained messages; the cluster, if any).
pub(crate) async fn context(
    cfg: &MqttConfig,
    cluster: Option<&ClusterConfig>,
) -> anyhow::Result<ServerContext> {
    let node_id = cluster.map_or(1, |c| c.node_id);
    // The plugin takes sizes with a unit; a retained message is at most one packet.
    let retainer = format!(
        "storage.type = \"ram\"\nmax_retained_messages = {}\nmax_payload_size = \"{}KB\"\n\
         retained_message_ttl = \"0s\"\n",
        cfg.max_retained,
        cfg.max_packet_bytes.get_ref().div_ceil(1000)
    );
    let mut scx = ServerContext::new()
        .node_id(node_id)
        // RMQTT limits sessions per node (connected devices, and persistent sessions of offline
        // ones), answering CONNECT past it with "server unavailable"; the hub's link sessions
        // come on top.
        .mqtt_max_sessions((cfg.max_connections + link::LINK_SESSIONS) as isize)
        .busy_check_enable(false)
        // Every publish waits for every other node's answer, so a node that is down stalls each
        // publish for the request timeout (4 s) until the circuit breaker opens: after three
        // calls here, then calls to that node fail at once for 10 s before one is tried again.
        .circuit_breaker_config(rmqtt::context::CircuitBreakerConfig {
            failure_rate_threshold: 0.5,
            minimum_number_of_calls: 3,
            wait_duration_in_open: Duration::from_secs(10),
            ..Default::default()
        })
        .plugins_config_map_add("rmqtt-retainer", retainer);
    if let Some(c) = cluster {
        scx = scx.plugins_config_map_add("rmqtt-cluster-broadcast", node::cluster_plugin_config(c));
    }
    let scx = scx.build().await;
    rmqtt_retainer::register(&scx, true, false)
        .await
        .map_err(|e| anyhow::anyhow!("starting the broker's retained-message store: {e}"))?;
    Ok(scx)
}

pub(crate) async fn add_hooks(scx: &ServerContext, hooks: Arc<hooks::Hooks>) {
    let register = scx.extends.hook_mgr().register();
    for typ in hooks::TYPES {
        register
            .add_priority(typ, 0, Box::new(hooks::HookHandler(hooks.clone())))
            .await;
    }
    register.start().await;
}

pub(crate) fn bind(
    builder: Builder,
    what: &str,
    addr: SocketAddr,
) -> anyhow::Result<rmqtt::net::Listener> {
    builder
        .bind()
        .and_then(|l| l.tcp())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| {
            format!("cannot listen for {what} on {addr}: is another broker or hub running?")
        })
}

/// Runs the server on a task; its end (it has none while it works) is a failure. The handle
/// aborts the server (fault injection only).
pub(crate) fn serve(
    server: MqttServer,
    failed: watch::Sender<Option<String>>,
) -> tokio::task::AbortHandle {
    let task = tokio::spawn(server.run());
    let abort = task.abort_handle();
    tokio::spawn(async move {
        let why = match task.await {
            Ok(Ok(())) => "the MQTT server stopped".to_string(),
            Ok(Err(e)) => format!("the MQTT server failed: {e}"),
            Err(e) if e.is_cancelled() => "the MQTT server's task was cancelled".to_string(),
            Err(e) => format!("the MQTT server panicked: {e}"),
        };
        let _ = failed.send(Some(why));
    });
    abort
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
        node::join(&scx, c).await?;
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
    let server = MqttServer::new(scx.clone())
        .listener_by_id(v4, LID_V4)
        .listener_by_id(v5, LID_V5)
        .listener_by_id(internal, LID_LINK)
        .build();
    let (failed_tx, failed) = watch::channel(None);
    let server = serve(server, failed_tx.clone());
    let (tx, rx) = link::connect(
        link_addr,
        secret,
        *cfg.max_packet_bytes.get_ref(),
        failed_tx,
    )
    .await?;
    if crate::parts::injected("broker") {
        server.abort();
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
