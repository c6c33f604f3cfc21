//! Heartline's fleet simulator. Virtual-time mode: a scenario file describes a fleet and a fault
//! schedule; the run drives the hub's own sans-IO engine (detection, tickets, dispatch) with
//! simulated devices and engineers, seeded and deterministic, and scores the tickets against
//! the ground truth. Real mode runs the same fleet and schedule as MQTT clients against a hub.
//!
//! Component map:
//! - [`scenario`]: the TOML file, validated with the line of each mistake;
//! - [`fleet`]: devices, sites, uplinks, report templates and the dispatch roster laid out;
//! - [`schedule`]: the fault schedule drawn with the seed: the ground truth, one problem each;
//! - [`queue`]: the calendar queue of device reports;
//! - [`run`]: the virtual-time event loop (devices, faults, engineers, hub restarts);
//! - [`score`]: ground truth against tickets, as a table and as JSON;
//! - [`progress`]: the progress line; [`cli`]: the `heartline-sim` command;
//! - [`symptoms`]: what a faulty device reports (both modes);
//! - with the `real` feature (on by default): [`real`], real mode, the fleet as MQTT clients and
//!   engineers on the API against a hub; [`secrets`], [`inventory`], [`local`]: the fleet's
//!   secrets, its inventory file, a hub in this process for it; [`demo`]: `heartline-sim demo`
//!   and `heartline-sim real`. Without it the simulator depends on `heartline-engine` alone.
//!
//! Architecture invariant: the simulator drives the engine only through its public sans-IO
//! interface (`handle`, `next_deadline`, `take_changes`, `restore`), exactly as ingest does.

pub mod cli;
#[cfg(feature = "real")]
pub mod demo;
pub mod fleet;
#[cfg(feature = "real")]
pub mod inventory;
#[cfg(feature = "real")]
pub mod local;
pub mod progress;
pub mod queue;
#[cfg(feature = "real")]
pub mod real;
pub mod run;
pub mod scenario;
pub mod schedule;
pub mod score;
#[cfg(feature = "real")]
pub mod secrets;
pub mod symptoms;
pub mod usage;

use heartline_engine::diagnostic::FileError;

/// Runs a scenario and scores it.
pub fn run_and_score(
    s: &scenario::Scenario,
    opts: &run::Options,
) -> Result<score::Score, FileError> {
    let outcome = run::run(s, opts)?;
    Ok(score::score(&outcome))
}

/// Validates a scenario as `run` does before it starts: the fleet laid out and the fault
/// schedule drawn with `seed` (the scenario's own when `None`); `heartline-sim check` is this.
pub fn check(
    s: &scenario::Scenario,
    seed: Option<u64>,
) -> Result<(fleet::Fleet, schedule::Plan), FileError> {
    use rand::SeedableRng;
    let fleet = fleet::Fleet::build(s);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed.unwrap_or(s.seed));
    let plan = schedule::plan(s, &fleet, &mut rng)?;
    Ok((fleet, plan))
}
