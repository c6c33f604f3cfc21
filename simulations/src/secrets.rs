//! The simulated fleet's secrets: one random master secret per fleet, from which every device's
//! signing key and MQTT token and every engineer's API token are derived, so the inventory (which
//! holds only keys and token hashes) and the simulator agree without a table of thousands of
//! secrets. Kept in a file (mode 0600) so a demo folder can be reused.

use anyhow::Context;
use heartline_hub::inventory::token_sha256;
use heartline_proto::DeviceKey;
use std::path::Path;

#[derive(Clone)]
pub struct Secrets {
    master: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

impl Secrets {
    /// A fresh random master secret.
    pub fn fresh() -> Secrets {
        Secrets {
            master: heartline_hub::cli::secret_hex(32),
        }
    }

    /// Reads the master secret from `path`, or writes a fresh one there (mode 0600).
    pub fn load_or_create(path: &Path) -> anyhow::Result<Secrets> {
        if let Ok(text) = std::fs::read_to_string(path) {
            let master = text.trim().to_string();
            anyhow::ensure!(
                master.len() >= 32,
                "{} holds no fleet secret",
                path.display()
            );
            return Ok(Secrets { master });
        }
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let s = Secrets::fresh();
        let mut f = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(f, "{}", s.master)?;
        Ok(s)
    }

    fn derive(&self, what: &str, id: &str) -> [u8; 32] {
        token_sha256(&format!("{}/{what}/{id}", self.master))
    }

    pub fn device_key(&self, device: &str) -> DeviceKey {
        DeviceKey(self.derive("key", device))
    }

    /// The device's MQTT password.
    pub fn device_token(&self, device: &str) -> String {
        hex::encode(&self.derive("token", device)[..16])
    }

    /// The engineer's API token.
    pub fn engineer_token(&self, engineer: &str) -> String {
        hex::encode(&self.derive("engineer", engineer)[..24])
    }
}
