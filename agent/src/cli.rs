//! The `heartline-agent` command line.

use crate::config::AgentConfig;
use crate::daemon::Reporter;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use rand::RngCore;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "heartline-agent",
    version,
    about = "Heartline agent: reports this device's health"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run until SIGINT or SIGTERM (then say goodbye to the hub).
    Run {
        #[arg(long, default_value = "/etc/heartline/agent.toml")]
        config: PathBuf,
    },
    /// Write a commented example agent.toml.
    Init {
        #[arg(long, default_value = "agent.toml")]
        path: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Validate a config file; print the line of any mistake.
    CheckConfig {
        #[arg(long, default_value = "/etc/heartline/agent.toml")]
        config: PathBuf,
    },
    /// Collect and print one report as JSON, without sending it (for a technician on site).
    Once {
        #[arg(long, default_value = "/etc/heartline/agent.toml")]
        config: PathBuf,
    },
}

pub fn main() -> std::process::ExitCode {
    match dispatch() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // One thread: the agent is small and mostly waits.
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn dispatch() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run { config } => {
            // RUST_LOG is a level here (error, warn, info, debug, trace).
            let level = std::env::var("RUST_LOG")
                .ok()
                .and_then(|v| v.parse::<tracing_subscriber::filter::LevelFilter>().ok())
                .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
            tracing_subscriber::fmt()
                .with_max_level(level)
                .with_target(false)
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .init();
            let cfg = AgentConfig::load(&config)?;
            runtime()?.block_on(crate::run(cfg, stop_signal()))
        }
        Command::Init { path, force } => {
            if path.exists() && !force {
                bail!("{} exists; pass --force to overwrite it", path.display());
            }
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            let mut token = [0u8; 24];
            rand::rng().fill_bytes(&mut token);
            let text = include_str!("templates/agent.toml")
                .replace("{{KEY}}", &hex::encode(key))
                .replace("{{TOKEN}}", &hex::encode(token));
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            println!(
                "wrote {} (declare the same key and token for this device in the hub's inventory)",
                path.display()
            );
            Ok(())
        }
        Command::CheckConfig { config } => {
            let cfg = AgentConfig::load(&config)?;
            println!(
                "{}: ok ({} checks, report every {:?})",
                config.display(),
                cfg.checks.len(),
                cfg.interval
            );
            Ok(())
        }
        Command::Once { config } => {
            let cfg = AgentConfig::load(&config)?;
            runtime()?.block_on(async {
                let checks = cfg.checks.clone();
                let mut reporter = Reporter::new(cfg, crate::collect::boot_id());
                for c in &checks {
                    reporter.record(crate::checks::run(c).await);
                }
                let r = reporter.report(0, 0);
                let json = serde_json::json!({
                    "device_id": r.device_id,
                    "boot_id": r.boot_id,
                    "next_checkin_s": r.next_checkin_s,
                    "metrics": r.metrics.iter().map(|m| serde_json::json!({"name": m.name, "instance": m.instance, "value": m.value, "unit": m.unit})).collect::<Vec<_>>(),
                    "checks": r.checks.iter().map(|c| serde_json::json!({"name": c.name, "status": heartline_proto::CheckState::from_code(c.status).as_str(), "message": c.message})).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&json)?);
                Ok(())
            })
        }
    }
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
