//! The RMQTT server as both kinds of node build it, the hub's own and a broker-only node: its
//! context and plugins (retained messages, the `rmqtt-cluster-broadcast` cluster with a static
//! list of nodes), the device hooks, the device listeners, and the server's task.

use super::hooks;
use super::link;
use crate::config::{ClusterConfig, MqttConfig};
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

/// Listener ids inside the broker (its `Id::lid`): the hub's link is told apart by its own.
pub(crate) const LID_V4: ListenerId = 1;
pub(crate) const LID_V5: ListenerId = 2;
pub(crate) const LID_LINK: ListenerId = 3;
/// A device that has not finished CONNECT by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages in flight to one device, and queued for one device that does not read: a device
/// needs only its latest ack and its config, so a few are plenty.
const DEVICE_INFLIGHT: u16 = 16;

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
        scx = scx.plugins_config_map_add("rmqtt-cluster-broadcast", cluster_plugin_config(c));
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

/// The plugin's configuration (TOML) for `c`, already validated by `ClusterConfig::nodes`.
/// The request timeout is above the gRPC client's reconnect interval (3 s), so that a message
/// to a node that just came up waits for the connection instead of failing.
fn cluster_plugin_config(c: &ClusterConfig) -> String {
    let nodes: Vec<String> = c
        .nodes
        .get_ref()
        .iter()
        .map(|n| format!("{:?}", n.replace(' ', "")))
        .collect();
    format!(
        "node_grpc_addrs = [{}]\nnode_grpc_client_timeout = \"4s\"\nnode_grpc_batch_size = 128\n",
        nodes.join(", ")
    )
}

/// Starts this node's gRPC server and joins the cluster.
pub(crate) async fn join(scx: &ServerContext, c: &ClusterConfig) -> anyhow::Result<()> {
    let listen = *c.listen.get_ref();
    // Bound here first, so that a taken port stops start-up with a clear error; the server
    // binds it again (with SO_REUSEADDR) right after.
    std::net::TcpListener::bind(listen).map_err(|e| {
        anyhow::anyhow!("cannot listen for the cluster's other nodes on {listen}: {e}")
    })?;
    scx.node.start_grpc_server(scx.clone(), listen, true, false);
    rmqtt_cluster_broadcast::register(scx, true, false)
        .await
        .map_err(|e| anyhow::anyhow!("joining the broker cluster: {e}"))?;
    tracing::info!(node = c.node_id, %listen, nodes = ?c.nodes.get_ref(), "joined the broker cluster");
    Ok(())
}
