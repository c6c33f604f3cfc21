//! A hub in this process for a scenario (real mode, the demo, tests): its folder with the
//! fleet's secret, `hub.toml` and the inventory generated from the scenario, and the hub's
//! detection settings taken from the scenario.

use crate::fleet::Fleet;
use crate::inventory::inventory_toml;
use crate::scenario::Scenario;
use crate::secrets::Secrets;
use anyhow::Context;
use heartline_hub::config::HubConfig;
use std::path::Path;

/// The fleet's master secret, next to the inventory.
pub const SECRET_FILE: &str = "fleet.secret";

/// Writes the scenario's inventory into `dir` (created if needed) with a fresh fleet secret,
/// unless `dir` already holds one (then the folder is reused as it is). True when written.
pub fn write_fleet(dir: &Path, s: &Scenario) -> anyhow::Result<(Secrets, bool)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let fresh = !dir.join(SECRET_FILE).exists();
    let secrets = Secrets::load_or_create(&dir.join(SECRET_FILE))?;
    if fresh {
        let fleet = Fleet::build(s);
        let path = dir.join("inventory.toml");
        std::fs::write(&path, inventory_toml(s, &fleet, &secrets))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok((secrets, fresh))
}

/// A hub config on ephemeral loopback ports with its store and the scenario's inventory in
/// `dir`, and the scenario's detection settings.
pub fn ephemeral_config(dir: &Path, s: &Scenario) -> anyhow::Result<(HubConfig, Secrets)> {
    let (secrets, _) = write_fleet(dir, s)?;
    let mut config = HubConfig::ephemeral(dir.join("heartline.redb"));
    config.inventory = Some(dir.join("inventory.toml"));
    config.detection = s.detection.clone();
    Ok((config, secrets))
}

/// Raises this process's open-file limit to its hard limit: every simulated device holds a
/// socket, and with the hub in the same process, so does the broker's end of it.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a stack value they fill or read.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    lim.rlim_cur
}
