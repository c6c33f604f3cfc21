//! A broker-only node (`heartline-hub broker`): its config file, and a node that joins the
//! cluster, authenticates devices against the directory it follows from the hub, and serves them.

use super::server;
use crate::config::ClusterConfig;

/// `broker.toml`: a broker-only node (`heartline-hub broker`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Device listeners and limits, as in the hub's `[mqtt]`.
    #[serde(default)]
    pub mqtt: crate::config::MqttConfig,
    /// The same nodes as the hub's `[cluster]`, with this node's own id and address.
    pub cluster: ClusterConfig,
    /// Where the device directory comes from.
    pub hub: HubSource,
    /// `/metrics` and `/healthz` of this node; none: not served.
    pub http: Option<crate::config::HttpConfig>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSource {
    /// The hub's HTTP port, e.g. `"http://10.0.0.1:9090"`.
    pub url: toml::Spanned<String>,
    /// How often the node asks whether the directory changed.
    #[serde(
        default = "default_refresh",
        with = "crate::config::humantime_serde_ms"
    )]
    pub refresh: u64,
}

fn default_refresh() -> u64 {
    2_000
}

impl NodeConfig {
    pub fn parse(
        path: &std::path::Path,
        src: &str,
    ) -> Result<NodeConfig, heartline_engine::diagnostic::FileError> {
        use heartline_engine::diagnostic::FileError;
        let config: NodeConfig =
            toml::from_str(src).map_err(|e| FileError::from_toml(path, src, &e))?;
        let at =
            |span: std::ops::Range<usize>, msg: String| FileError::at(path, src, Some(span), msg);
        config
            .cluster
            .nodes()
            .map_err(|(span, msg)| at(span, msg))?;
        let url = config.hub.url.get_ref();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(at(
                config.hub.url.span(),
                format!("url {url:?} must start with http:// or https:// (the hub's HTTP port)"),
            ));
        }
        Ok(config)
    }

    /// Reads and checks the file; the secret file is taken relative to it.
    pub fn load(
        path: &std::path::Path,
    ) -> Result<NodeConfig, heartline_engine::diagnostic::FileError> {
        use heartline_engine::diagnostic::FileError;
        let src = std::fs::read_to_string(path).map_err(|e| FileError::unreadable(path, &e))?;
        let mut config = NodeConfig::parse(path, &src)?;
        config
            .cluster
            .resolve(path.parent().unwrap_or(std::path::Path::new(".")));
        if let Err(e) = config.cluster.secret() {
            return Err(FileError::at(
                path,
                &src,
                Some(config.cluster.secret_file.span()),
                format!("{e:#}"),
            ));
        }
        Ok(config)
    }
}

/// A running broker-only node.
pub struct Node {
    pub v4: std::net::SocketAddr,
    pub v5: std::net::SocketAddr,
    pub http: Option<std::net::SocketAddr>,
    pub directory: crate::directory::Directory,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    failed: tokio::sync::watch::Receiver<Option<String>>,
}

impl Node {
    /// Joins the cluster, starts the device listeners and follows the hub's directory. Devices
    /// are refused until the first directory arrived.
    pub async fn start(cfg: NodeConfig) -> anyhow::Result<Node> {
        use std::sync::Arc;
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let directory = crate::directory::Directory::default();
        let secret = cfg.cluster.secret()?;
        let mut follower = crate::cluster::Follower::new(cfg.hub.url.get_ref(), secret);
        // The first fetch, tried for a short while so that a node started with its hub is
        // ready at once; after that it goes on in the background.
        let first = tokio::task::spawn_blocking({
            let directory = directory.clone();
            move || {
                let r = follower.refresh(&directory);
                (follower, r)
            }
        })
        .await?;
        let mut follower = first.0;
        match first.1 {
            Ok(n) => tracing::info!(
                devices = n.unwrap_or(0),
                "device directory fetched from the hub"
            ),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "no device directory yet; devices are refused until the hub answers")
            }
        }
        let refresh = std::time::Duration::from_millis(cfg.hub.refresh.max(100));
        {
            let directory = directory.clone();
            std::thread::Builder::new()
                .name("directory".into())
                .spawn(move || {
                    let mut failing = false;
                    loop {
                        std::thread::sleep(refresh);
                        match follower.refresh(&directory) {
                            Ok(Some(n)) => {
                                tracing::info!(devices = n, "device directory changed on the hub; updated");
                                failing = false;
                            }
                            Ok(None) => failing = false,
                            // Logged once per outage; the node keeps the directory it has.
                            Err(e) if !failing => {
                                tracing::warn!(error = %format!("{e:#}"), "cannot fetch the device directory; keeping the last one");
                                failing = true;
                            }
                            Err(_) => {}
                        }
                    }
                })?;
        }
        let scx = server::context(&cfg.mqtt, Some(&cfg.cluster)).await?;
        server::join(&scx, &cfg.cluster).await?;
        server::add_hooks(
            &scx,
            super::hooks::Hooks::new(directory.clone(), metrics.clone(), None),
        )
        .await;
        let (v4a, v5a) = (*cfg.mqtt.v4_listen.get_ref(), *cfg.mqtt.v5_listen.get_ref());
        let v4 = server::bind(server::device_listener("mqtt", v4a, &cfg.mqtt), "MQTT", v4a)?;
        let v5 = server::bind(
            server::device_listener("mqtt-v5", v5a, &cfg.mqtt),
            "MQTT 5",
            v5a,
        )?;
        let (v4, v5, v4a, v5a) = {
            let a = v4.local_addr().map_err(|e| anyhow::anyhow!("{e}"))?;
            let b = v5.local_addr().map_err(|e| anyhow::anyhow!("{e}"))?;
            (v4, v5, a, b)
        };
        let server = rmqtt::server::MqttServer::new(scx)
            .listener_by_id(v4, server::LID_V4)
            .listener_by_id(v5, server::LID_V5)
            .build();
        let (failed_tx, failed) = tokio::sync::watch::channel(None);
        let _server = server::serve(server, failed_tx);
        let http = match &cfg.http {
            Some(h) => {
                let listener = tokio::net::TcpListener::bind(h.listen)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot serve HTTP on {}: {e}", h.listen))?;
                let addr = listener.local_addr()?;
                let app = crate::http::router(metrics.clone());
                tokio::spawn(async move { axum::serve(listener, app).await });
                Some(addr)
            }
            None => None,
        };
        tracing::info!(node = cfg.cluster.node_id, v4 = %v4a, v5 = %v5a, "broker node listening (3.1.1 and 5 on both)");
        Ok(Node {
            v4: v4a,
            v5: v5a,
            http,
            directory,
            metrics,
            failed,
        })
    }

    /// Resolves when the node's MQTT server failed.
    pub async fn failed(&self) -> String {
        let mut rx = self.failed.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(why) => why.clone().unwrap_or_default(),
            Err(_) => std::future::pending().await,
        }
    }
}

/// `heartline-hub broker`: runs a node until `shutdown` resolves or its server fails.
pub async fn run(
    cfg: NodeConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let node = Node::start(cfg).await?;
    println!(
        "broker node running: MQTT on {} and {}{}",
        node.v4,
        node.v5,
        node.http
            .map(|a| format!(", metrics at http://{a}/metrics"))
            .unwrap_or_default()
    );
    tokio::select! {
        () = shutdown => Ok(()),
        why = node.failed() => anyhow::bail!("the broker node's MQTT server failed ({why}); start it again"),
    }
}
