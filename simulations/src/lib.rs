//! Heartline's fleet simulator, virtual-time mode: a scenario file describes a fleet and a fault
//! schedule; the run drives the hub's own sans-IO engine (detection, tickets, dispatch) with
//! simulated devices and engineers, seeded and deterministic, and scores the tickets against
//! the ground truth.
//!
//! Component map:
//! - [`scenario`]: the TOML file, validated with the line of each mistake;
//! - [`fleet`]: devices, sites, uplinks, report templates and the dispatch roster laid out;
//! - [`schedule`]: the fault schedule drawn with the seed: the ground truth, one problem each;
//! - [`queue`]: the calendar queue of device reports;
//! - [`run`]: the virtual-time event loop (devices, faults, engineers, hub restarts);
//! - [`score`]: ground truth against tickets, as a table and as JSON;
//! - [`progress`]: the progress line; [`cli`]: the `heartline-sim` command.
//!
//! Architecture invariant: the simulator drives the engine only through its public sans-IO
//! interface (`handle`, `next_deadline`, `take_changes`, `restore`), exactly as ingest does.

pub mod cli;
pub mod fleet;
pub mod progress;
pub mod queue;
pub mod run;
pub mod scenario;
pub mod schedule;
pub mod score;
pub mod usage;

use heartline_hub::diagnostic::FileError;

/// Runs a scenario and scores it.
pub fn run_and_score(
    s: &scenario::Scenario,
    opts: &run::Options,
) -> Result<score::Score, FileError> {
    let outcome = run::run(s, opts)?;
    Ok(score::score(&outcome))
}
