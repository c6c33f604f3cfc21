//! `[cluster]`: the members of a broker cluster and the secret they share, checked before any
//! node starts.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Membership of a broker cluster (`rmqtt-cluster-broadcast`): the hub's node and the
/// broker-only nodes (`heartline-hub broker`) list the same nodes; membership is static.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's id, unique in the cluster (1 to 65535).
    pub node_id: u64,
    /// Where this node listens for the other nodes (gRPC).
    pub listen: Spanned<SocketAddr>,
    /// Every node of the cluster, this one included, as `"id@host:port"`.
    pub nodes: Spanned<Vec<String>>,
    /// A file with the secret every node shares (at least 16 characters): broker nodes send it
    /// to fetch the device directory from the hub. Relative to the config file.
    pub secret_file: Spanned<PathBuf>,
}

/// A config mistake: the byte range of the value to point at, and what is wrong with it.
pub type SpannedError = (std::ops::Range<usize>, String);

impl ClusterConfig {
    /// Reads the shared secret (relative to `base`), or says what is wrong with it.
    pub fn secret(&self) -> anyhow::Result<String> {
        let path = self.secret_file.get_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cluster secret_file {}: {e}", path.display()))?;
        let secret = text.trim().to_string();
        anyhow::ensure!(
            secret.len() >= 16,
            "the cluster secret in {} is shorter than 16 characters",
            path.display()
        );
        Ok(secret)
    }

    /// Makes `secret_file` relative to the folder of the config file.
    pub fn resolve(&mut self, base: &Path) {
        let span = self.secret_file.span();
        self.secret_file = Spanned::new(span, base.join(self.secret_file.get_ref()));
    }

    /// The nodes as (id, address), checked: well-formed, unique, this node among them at its
    /// `listen` port. The error carries the span to show.
    pub fn nodes(&self) -> Result<Vec<(u64, SocketAddr)>, SpannedError> {
        let span = self.nodes.span();
        if !(1..=u64::from(u16::MAX)).contains(&self.node_id) {
            return Err((
                span,
                format!("node_id = {} is out of range: use 1 to 65535", self.node_id),
            ));
        }
        let mut out: Vec<(u64, SocketAddr)> = Vec::new();
        for entry in self.nodes.get_ref() {
            let parsed = entry.split_once('@').and_then(|(id, addr)| {
                Some((
                    id.trim().parse::<u64>().ok()?,
                    addr.trim().parse::<SocketAddr>().ok()?,
                ))
            });
            let Some((id, addr)) = parsed else {
                return Err((
                    span,
                    format!(
                        "{entry:?} is not a node: write \"id@host:port\", e.g. \"2@10.0.0.2:5363\""
                    ),
                ));
            };
            if out.iter().any(|(other, _)| *other == id) {
                return Err((span, format!("node id {id} is listed twice")));
            }
            out.push((id, addr));
        }
        match out.iter().find(|(id, _)| *id == self.node_id) {
            None => Err((
                span,
                format!(
                    "this node (node_id = {}) is not in nodes: list every node, this one included",
                    self.node_id
                ),
            )),
            Some((_, addr)) if addr.port() != self.listen.get_ref().port() => Err((
                self.listen.span(),
                format!(
                    "listen {} and this node's entry in nodes ({addr}) name different ports",
                    self.listen.get_ref()
                ),
            )),
            Some(_) if out.len() < 2 => Err((
                span,
                "a cluster needs at least two nodes; without other nodes leave out [cluster]"
                    .into(),
            )),
            Some(_) => Ok(out),
        }
    }
}
