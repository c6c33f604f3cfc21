//! A broker cluster for tests and benchmarks: the cluster settings every node shares, and
//! broker-only nodes as `heartline-hub broker` processes (so that a test can SIGKILL one).

use crate::free_port;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;

/// The membership of a cluster of `n` nodes on loopback: node 1 is the hub's.
pub struct Cluster {
    pub grpc: Vec<u16>,
    pub secret_file: std::path::PathBuf,
}

impl Cluster {
    /// Picks ports and writes the shared secret into `dir`.
    pub fn new(dir: &Path, n: usize) -> Cluster {
        let secret_file = dir.join("cluster.secret");
        std::fs::write(&secret_file, hex::encode(rand::random::<[u8; 24]>())).unwrap();
        Cluster {
            grpc: (0..n).map(|_| free_port()).collect(),
            secret_file,
        }
    }

    /// The `[cluster]` section of node `id` (1-based).
    pub fn section(&self, id: usize) -> String {
        let nodes: Vec<String> = self
            .grpc
            .iter()
            .enumerate()
            .map(|(i, p)| format!("\"{}@127.0.0.1:{p}\"", i + 1))
            .collect();
        format!(
            "[cluster]\nnode_id = {id}\nlisten = \"127.0.0.1:{}\"\nnodes = [{}]\nsecret_file = {:?}\n",
            self.grpc[id - 1],
            nodes.join(", "),
            self.secret_file
        )
    }

    /// The hub's `[cluster]` as a config value.
    pub fn hub_config(&self) -> heartline_hub::config::ClusterConfig {
        let text = self.section(1);
        #[derive(serde::Deserialize)]
        struct Wrap {
            cluster: heartline_hub::config::ClusterConfig,
        }
        toml::from_str::<Wrap>(&text).unwrap().cluster
    }
}

/// A `heartline-hub broker` process.
pub struct BrokerNode {
    pub child: std::process::Child,
    pub v4: SocketAddr,
    pub v5: SocketAddr,
    pub http: SocketAddr,
}

impl BrokerNode {
    /// Starts node `id` of `cluster` with its files in `dir`, following the hub at `hub_http`;
    /// returns once it prints that it runs. `extra` goes into its `[mqtt]` section.
    pub fn spawn(
        bin: &str,
        dir: &Path,
        cluster: &Cluster,
        id: usize,
        hub_http: SocketAddr,
        extra: &str,
    ) -> BrokerNode {
        let (v4, v5, http) = (free_port(), free_port(), free_port());
        let config = format!(
            "[mqtt]\nv4_listen = \"127.0.0.1:{v4}\"\nv5_listen = \"127.0.0.1:{v5}\"\n{extra}\n\
             {}\n[hub]\nurl = \"http://{hub_http}\"\nrefresh = \"500ms\"\n\
             [http]\nlisten = \"127.0.0.1:{http}\"\n",
            cluster.section(id)
        );
        let path = dir.join(format!("broker-{id}.toml"));
        std::fs::write(&path, config).unwrap();
        let mut child = std::process::Command::new(bin)
            .args(["broker", "--config"])
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(dir.join(format!("broker-{id}.log"))).unwrap())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines
            .next()
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(dir.join(format!("broker-{id}.log")));
                panic!("broker node {id} printed nothing: {log:?}")
            })
            .unwrap();
        assert!(
            first.starts_with("broker node running"),
            "unexpected: {first}"
        );
        let at = |p| SocketAddr::from(([127, 0, 0, 1], p));
        BrokerNode {
            child,
            v4: at(v4),
            v5: at(v5),
            http: at(http),
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BrokerNode {
    fn drop(&mut self) {
        self.kill();
    }
}
