//! The `heartline-sim` command: `run` a scenario in virtual time and print its score, `real`
//! runs it as MQTT clients against a hub in this process, `demo` is the one-command tour, and
//! `check` validates a scenario file.

use crate::run::Options;
use crate::scenario::Scenario;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "heartline-sim", about = "Heartline's fleet simulator", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a scenario in virtual time against the hub's engine and prints the score.
    Run {
        #[arg(long)]
        scenario: PathBuf,
        /// Overrides the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Writes the score as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Multiplies the sites, engineers and faults (e.g. 0.1 for a quick look).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// No progress line.
        #[arg(long)]
        quiet: bool,
    },
    #[cfg(feature = "real")]
    /// Runs a scenario in real time: its devices as MQTT clients and its engineers on the API,
    /// against a hub started in this process; prints the score.
    Real {
        #[arg(long)]
        scenario: PathBuf,
        /// The hub's folder (config, inventory, store); a temporary one when absent.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// How many times the fault schedule runs.
        #[arg(long, default_value_t = 1)]
        rounds: u32,
        /// How long to keep going after the schedule, for the last tickets to close.
        #[arg(long, default_value = "1m", value_parser = humantime::parse_duration)]
        drain: std::time::Duration,
        #[arg(long)]
        seed: Option<u64>,
        /// Writes the score as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    #[cfg(feature = "real")]
    /// The one-command tour: a hub (store in DIR), a simulated fleet of about 2,000 devices and
    /// 40 engineers, and a compressed day of faults, until Ctrl-C. Re-running reuses DIR.
    Demo {
        #[arg(long, default_value = "heartline-demo")]
        dir: PathBuf,
        /// Another scenario instead of the built-in demo (simulations/scenarios/demo.toml).
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    #[cfg(feature = "real")]
    /// Only the fleet of a demo folder (or `--scenario`), against a hub running elsewhere on
    /// that folder's inventory (`heartline-hub run --config DIR/hub.toml`), until Ctrl-C.
    Fleet {
        #[arg(long, default_value = "heartline-demo")]
        dir: PathBuf,
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// The hub's MQTT 3.1.1 address.
        #[arg(long, default_value = "127.0.0.1:1883")]
        mqtt: std::net::SocketAddr,
        /// The hub's HTTP address (gRPC API).
        #[arg(long, default_value = "127.0.0.1:9090")]
        http: std::net::SocketAddr,
    },
    /// Validates a scenario file as `run` does (the fault schedule drawn too) and prints what it
    /// describes.
    Check {
        #[arg(long)]
        scenario: PathBuf,
        /// Overrides the scenario's seed (the schedule drawn depends on it).
        #[arg(long)]
        seed: Option<u64>,
    },
}

/// Runs the command; a failure is printed as its message (with its causes), never with a Rust
/// backtrace, whatever `RUST_BACKTRACE` says: the reader is a user, not a debugger.
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
    match Cli::parse().command {
        Command::Run {
            scenario,
            seed,
            json,
            scale,
            quiet,
        } => {
            let mut s = Scenario::load(&scenario)?;
            if scale != 1.0 {
                s = s.scaled(scale);
            }
            let opts = Options {
                seed,
                progress: !quiet,
            };
            let score = crate::run_and_score(&s, &opts)?;
            report(&score, json.as_deref())
        }
        #[cfg(feature = "real")]
        Command::Real {
            scenario,
            dir,
            rounds,
            drain,
            seed,
            json,
        } => {
            let score = crate::demo::real(&scenario, dir, rounds, drain, seed)?;
            report(&score, json.as_deref())
        }
        #[cfg(feature = "real")]
        Command::Demo { dir, scenario } => crate::demo::demo(&dir, scenario.as_deref()),
        #[cfg(feature = "real")]
        Command::Fleet {
            dir,
            scenario,
            mqtt,
            http,
        } => crate::demo::fleet_only(&dir, scenario.as_deref(), mqtt, http),
        Command::Check { scenario, seed } => {
            let s = Scenario::load(&scenario)?;
            let (fleet, plan) = crate::check(&s, seed)?;
            println!(
                "{}: {} devices on {} sites, {} engineers, {} fault entries ({} problems, {} hub \
                 restarts), {:.0} virtual hours",
                s.name,
                fleet.len(),
                fleet.sites.len(),
                fleet.engineers.len(),
                s.faults.len(),
                plan.problems.len(),
                plan.restarts.len(),
                s.duration as f64 / 3_600_000.0
            );
            Ok(())
        }
    }
}

/// Prints the score's table and writes its JSON.
fn report(score: &crate::score::Score, json: Option<&std::path::Path>) -> anyhow::Result<()> {
    print!("{}", crate::score::table(score));
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(score)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
