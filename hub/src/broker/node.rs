//! Cluster membership of the embedded broker: the `rmqtt-cluster-broadcast` plugin with a static
//! list of nodes, and this node's gRPC server for the others.

use crate::config::ClusterConfig;
use rmqtt::context::ServerContext;

/// The plugin's configuration (TOML) for `c`, already validated by `ClusterConfig::nodes`.
pub fn cluster_plugin_config(c: &ClusterConfig) -> String {
    let nodes: Vec<String> = c
        .nodes
        .get_ref()
        .iter()
        .map(|n| format!("{:?}", n.replace(' ', "")))
        .collect();
    format!(
        "node_grpc_addrs = [{}]\nnode_grpc_client_timeout = \"5s\"\nnode_grpc_batch_size = 128\n",
        nodes.join(", ")
    )
}

/// Starts this node's gRPC server and joins the cluster.
pub async fn join(scx: &ServerContext, c: &ClusterConfig) -> anyhow::Result<()> {
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
