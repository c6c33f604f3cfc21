//! The `heartline-hub` command line. `main` only parses arguments and calls [`main`] here.

use crate::config::HubConfig;
use crate::inventory::{Inventory, token_sha256};
use crate::store::Store;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use rand::RngCore;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "heartline-hub",
    version,
    about = "Heartline hub: devices report their own faults"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub until SIGINT or SIGTERM (SIGHUP re-applies the inventory).
    Run {
        #[arg(long, default_value = "hub.toml")]
        config: PathBuf,
    },
    /// Run a broker-only node of the hub's cluster (devices connect to it as to the hub).
    Broker {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
    },
    /// Write a commented example hub.toml and inventory.toml (with fresh device secrets).
    Init {
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Validate a config file and the inventory it names; print the line of any mistake.
    CheckConfig {
        #[arg(long, default_value = "hub.toml")]
        config: PathBuf,
    },
    /// Inventory commands.
    Inventory {
        #[command(subcommand)]
        command: InventoryCommand,
    },
    /// Take a consistent copy of the store into FILE, also while the hub runs (restore: start a
    /// hub whose [store] path is the copy).
    Backup {
        file: PathBuf,
        #[arg(long, default_value = "hub.toml")]
        config: PathBuf,
    },
    /// Audit trail commands.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Device credential commands.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// People's accounts for the web view and API (kept in the inventory file).
    User {
        #[command(subcommand)]
        command: crate::user_cli::UserCommand,
    },
    /// A field engineer's queue and ticket actions, through the hub's API.
    Engineer(crate::engineer_cli::EngineerArgs),
    /// The one-command tour: writes ./heartline-demo/ on first use and runs the hub on it.
    Demo {
        #[arg(long, default_value = "heartline-demo")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum InventoryCommand {
    /// Apply an inventory file to the store named by the config (while the hub is stopped; a
    /// running hub re-applies its own inventory on SIGHUP).
    Apply {
        file: PathBuf,
        #[arg(long, default_value = "hub.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the audit trail's hash chain; exit code 1 names the first broken record.
    Verify {
        #[arg(long, default_value = "hub.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum DeviceCommand {
    /// Print a fresh signing key and token for a new device, and the token's SHA-256.
    New,
}

/// The hub's default log filter. The broker (RMQTT) logs every client that drops its connection;
/// the hub counts and logs what matters about devices itself (refused logins and topics).
pub const LOG_FILTER: &str =
    "info,rmqtt=warn,rmqtt_net=warn,rmqtt_retainer=warn,rmqtt_cluster_broadcast=warn";

fn init_logging() {
    init_logging_with(LOG_FILTER);
}

/// Logs to stderr with `default` as the filter unless `RUST_LOG` sets one.
pub fn init_logging_with(default: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Entry point of the binary: runs the command and turns an error into a message and exit code 1.
pub fn main() -> std::process::ExitCode {
    match dispatch() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => serve(&config),
        Command::Broker { config } => {
            init_logging();
            let cfg = crate::broker::node::NodeConfig::load(&config)?;
            tokio::runtime::Runtime::new()?.block_on(crate::broker::node::run(cfg, async {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut term), Ok(mut int)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                ) else {
                    return std::future::pending().await;
                };
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }))
        }
        Command::User { command } => crate::user_cli::run(command),
        Command::Engineer(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(crate::engineer_cli::run(args)),
        Command::Init { dir, force } => {
            for path in write_examples(&dir, force)? {
                println!("wrote {}", path.display());
            }
            println!(
                "next: heartline-hub check-config --config {}",
                dir.join("hub.toml").display()
            );
            Ok(())
        }
        Command::CheckConfig { config } => {
            let cfg = HubConfig::load(&config)?;
            println!("{}: ok", config.display());
            if let Some(inv) = &cfg.inventory {
                let i = Inventory::load(inv)?;
                println!(
                    "{}: ok ({} tenants, {} projects, {} sites, {} devices, {} engineers)",
                    inv.display(),
                    i.tenants.len(),
                    i.projects.len(),
                    i.sites.len(),
                    i.devices.len(),
                    i.engineers.len()
                );
            }
            Ok(())
        }
        Command::Inventory {
            command: InventoryCommand::Apply { file, config },
        } => {
            let cfg = HubConfig::load(&config)?;
            let inv = Inventory::load(&file)?;
            let store = Store::open_with_cache(
                &cfg.store.path,
                cfg.store.history_len,
                cfg.store.cache_bytes(),
            )
            .with_context(|| {
                format!(
                    "opening {} (if a hub is running on it, send it SIGHUP instead)",
                    cfg.store.path.display()
                )
            })?;
            let who = format!(
                "operator:{}",
                std::env::var("USER").unwrap_or_else(|_| "cli".into())
            );
            let s = store.apply_inventory_by(&inv, &who)?;
            println!(
                "applied {}: {} created, {} updated, {} unchanged",
                file.display(),
                s.created,
                s.updated,
                s.unchanged
            );
            Ok(())
        }
        Command::Backup { file, config } => crate::backup::backup_command(&config, &file),
        Command::Audit {
            command: AuditCommand::Verify { config },
        } => crate::backup::verify_command(&config),
        Command::Device {
            command: DeviceCommand::New,
        } => {
            let (key, token) = (secret_hex(32), secret_hex(24));
            println!(
                "key = \"{key}\"\ntoken = \"{token}\"\ntoken_sha256 = \"{}\"",
                hex::encode(token_sha256(&token))
            );
            Ok(())
        }
        Command::Demo { dir } => {
            if !dir.join("hub.toml").exists() {
                write_examples(&dir, false)?;
                write_demo_logins(&dir, "acme-health", ("eng-li", "Li Wei"))?;
                println!("wrote a demo config and inventory in {}", dir.display());
            }
            println!(
                "(a hub without devices; for the demo with a simulated fleet of 2,000 devices run \
                 `cargo run --release -p heartline-sim -- demo`)"
            );
            print_demo_logins(&dir);
            serve(&dir.join("hub.toml"))
        }
    }
}

fn serve(config: &Path) -> anyhow::Result<()> {
    init_logging();
    let cfg = HubConfig::load(config)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let inventory = cfg.inventory.clone();
        let hub = crate::Hub::start(cfg).await?;
        // Before saying it runs: a SIGTERM right after that line must stop it cleanly.
        let signals = StopSignals::install()?;
        let tls = hub
            .mqtt_tls
            .map(|a| format!(", MQTT over TLS on {a}"))
            .unwrap_or_default();
        let scheme = if hub.https { "https" } else { "http" };
        println!(
            "hub running: MQTT 3.1.1 on {}, MQTT 5 on {}{tls}, web view and API on {scheme}://{}/ (metrics at /metrics)",
            hub.mqtt_v4, hub.mqtt_v5, hub.http
        );
        let died = signals.wait(&hub, inventory.as_deref()).await?;
        crate::stop_after(hub, died).await
    })
}

/// Waits for SIGINT or SIGTERM (`None`) or the death of a part of the hub (which part and why);
/// re-applies the inventory on SIGHUP.
pub async fn wait_for_stop(
    hub: &crate::Hub,
    inventory: Option<&Path>,
) -> anyhow::Result<Option<crate::parts::Death>> {
    StopSignals::install()?.wait(hub, inventory).await
}

/// The signals that stop the hub (SIGTERM, SIGINT) or re-apply its inventory (SIGHUP), caught
/// from the moment they are installed.
pub struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub fn install() -> std::io::Result<StopSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// See [`wait_for_stop`].
    pub async fn wait(
        self,
        hub: &crate::Hub,
        inventory: Option<&Path>,
    ) -> anyhow::Result<Option<crate::parts::Death>> {
        let StopSignals {
            mut term,
            mut int,
            mut hup,
        } = self;
        loop {
            tokio::select! {
                _ = term.recv() => return Ok(None),
                _ = int.recv() => return Ok(None),
                death = hub.failed() => return Ok(Some(death)),
                _ = hup.recv() => match inventory {
                    None => tracing::warn!("SIGHUP: no inventory configured, nothing to apply"),
                    Some(path) => match Inventory::load(path).map_err(anyhow::Error::from).and_then(|i| hub.apply_inventory(&i)) {
                        Ok(s) => tracing::info!(created = s.created, updated = s.updated, unchanged = s.unchanged, "SIGHUP: inventory re-applied"),
                        Err(e) => tracing::error!(error = %e, "SIGHUP: inventory not applied; the hub keeps the previous one"),
                    },
                },
            }
        }
    }
}

/// The demo's web logins, written next to its inventory on first use (mode 0600).
const DEMO_LOGINS: &str = "demo-logins.txt";

/// Prints the demo's web logins, if `dir` has them.
pub fn print_demo_logins(dir: &Path) {
    if let Ok(logins) = std::fs::read_to_string(dir.join(DEMO_LOGINS)) {
        println!(
            "web view logins (from {}):",
            dir.join(DEMO_LOGINS).display()
        );
        print!("{logins}");
    }
}

/// Adds an operator, a customer of `tenant` and the engineer `(id, name)` as users of the
/// inventory in `dir`, with fresh passwords kept in `demo-logins.txt`.
pub fn write_demo_logins(dir: &Path, tenant: &str, engineer: (&str, &str)) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let customer = format!("tenant = \"{tenant}\"\n");
    let linked = format!("engineer = \"{}\"\n", engineer.0);
    let users = [
        ("ops", "Operator on duty", "operator", String::new()),
        ("customer", "Customer IT", "customer", customer),
        ("engineer", engineer.1, "engineer", linked),
    ];
    let mut inventory =
        String::from("\n# Demo logins for the web view (passwords in demo-logins.txt).\n");
    let mut logins = String::new();
    for (id, name, role, link) in users {
        let password = secret_hex(8);
        let hash = crate::web::session::hash_password(&password);
        inventory.push_str(&format!(
            "[[user]]\nid = \"{id}\"\nname = \"{name}\"\nrole = \"{role}\"\n{link}password_hash = \"{hash}\"\n\n"
        ));
        logins.push_str(&format!("  {role:<9} user {id:<8} password {password}\n"));
    }
    let path = dir.join("inventory.toml");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .with_context(|| format!("appending demo users to {}", path.display()))?;
    f.write_all(inventory.as_bytes())?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(dir.join(DEMO_LOGINS))?;
    f.write_all(logins.as_bytes())?;
    Ok(())
}

/// `bytes` random bytes as hex.
pub fn secret_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// The commented example `hub.toml` (`init`, `demo`).
pub const EXAMPLE_HUB_TOML: &str = include_str!("templates/hub.toml");

/// Writes `hub.toml` and `inventory.toml` into `dir`, with fresh secrets in the inventory.
pub fn write_examples(dir: &Path, force: bool) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let inventory = include_str!("templates/inventory.toml")
        .replace("{{GW_KEY}}", &secret_hex(32))
        .replace("{{GW_TOKEN}}", &secret_hex(24))
        .replace("{{CAM_KEY}}", &secret_hex(32))
        .replace("{{CAM_TOKEN}}", &secret_hex(24))
        .replace("{{ENG_TOKEN}}", &secret_hex(24));
    let files = [
        (dir.join("hub.toml"), EXAMPLE_HUB_TOML.to_string()),
        (dir.join("inventory.toml"), inventory),
    ];
    if !force {
        if let Some((path, _)) = files.iter().find(|(p, _)| p.exists()) {
            bail!("{} exists; pass --force to overwrite it", path.display());
        }
    }
    let mut written = Vec::new();
    for (path, text) in files {
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
