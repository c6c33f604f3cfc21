//! The `heartline-sim` command: `run` a scenario in virtual time and print its score, or
//! `check` a scenario file.

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
    /// Validates a scenario file and prints what it describes.
    Check {
        #[arg(long)]
        scenario: PathBuf,
    },
}

pub fn main() -> anyhow::Result<()> {
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
            print!("{}", crate::score::table(&score));
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&score)?;
                std::fs::write(&path, text + "\n")
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(())
        }
        Command::Check { scenario } => {
            let s = Scenario::load(&scenario)?;
            let fleet = crate::fleet::Fleet::build(&s);
            println!(
                "{}: {} devices on {} sites, {} engineers, {} fault entries, {:.0} virtual hours",
                s.name,
                fleet.len(),
                fleet.sites.len(),
                fleet.engineers.len(),
                s.faults.len(),
                s.duration as f64 / 3_600_000.0
            );
            Ok(())
        }
    }
}
