//! `heartline-sim demo`, the one-command tour, and `heartline-sim real`: a hub in this process
//! (embedded broker, store in a folder) and the scenario's fleet as real MQTT clients against
//! it, with engineers working their queue through the API. The demo prints the web address and
//! its logins and runs rounds of its compressed day of faults until Ctrl-C.

use crate::local::{ephemeral_config, raise_fd_limit, write_fleet};
use crate::real::{self, Endpoints, Running};
use crate::scenario::Scenario;
use anyhow::Context;
use heartline_engine::{Ticket, TicketState};
use heartline_hub::Hub;
use heartline_hub::config::HubConfig;
use heartline_hub::store::Scope;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The demo's scenario, built in so the command works from any folder.
pub const DEMO_SCENARIO: &str = include_str!("../scenarios/demo.toml");

/// Appended to the demo's `hub.toml`: where its detection settings come from.
const DETECTION_NOTE: &str = "
# heartline-sim demo: the detection settings ([engine], [[rule]], [[trend]]) of the running demo
# come from its scenario (simulations/scenarios/demo.toml, or --scenario), not from this file.
";

fn load(scenario: Option<&Path>) -> anyhow::Result<Scenario> {
    Ok(match scenario {
        Some(p) => Scenario::load(p)?,
        None => Scenario::parse(Path::new("simulations/scenarios/demo.toml"), DEMO_SCENARIO)?,
    })
}

fn tickets(hub: &Hub) -> Vec<Ticket> {
    hub.store().tickets(&Scope::Operator).unwrap_or_default()
}

/// The fleet's part of a progress line.
fn fleet_line(fleet: &Running) -> String {
    let f = fleet.snapshot();
    format!(
        "devices {}/{} connected · reports {} (acked {}, re-sent {}) · faults {} started, {} active, {} repairs",
        f.connected,
        f.devices,
        f.reports,
        f.acked,
        f.resent,
        f.problems_started,
        f.problems_active,
        f.repaired,
    )
}

/// One line: the fleet and the hub's tickets.
fn progress(hub: &Hub, fleet: &Running) -> String {
    let t = tickets(hub);
    let count = |want: &[TicketState]| t.iter().filter(|t| want.contains(&t.state)).count();
    use TicketState::*;
    format!(
        "{} · tickets {} open, {} with engineers, {} awaiting verification, {} closed, {} auto-recovered",
        fleet_line(fleet),
        count(&[Open, Reopened]),
        count(&[Dispatched, Accepted, OnSite]),
        count(&[Resolved]),
        count(&[Closed]),
        count(&[AutoRecovered]),
    )
}

fn endpoints(hub: &Hub) -> Endpoints {
    Endpoints {
        mqtt: hub.mqtt_v4,
        http: hub.http,
    }
}

/// Runs the demo in `dir` until Ctrl-C.
pub fn demo(dir: &Path, scenario: Option<&Path>) -> anyhow::Result<()> {
    let s = load(scenario)?;
    raise_fd_limit();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let hub_toml = dir.join("hub.toml");
    if !hub_toml.exists() {
        let text = format!("{}{DETECTION_NOTE}", heartline_hub::cli::EXAMPLE_HUB_TOML);
        std::fs::write(&hub_toml, text)
            .with_context(|| format!("writing {}", hub_toml.display()))?;
    }
    let (secrets, fresh) = write_fleet(dir, &s)?;
    if fresh {
        let fleet = crate::fleet::Fleet::build(&s);
        let tenant = s
            .tenants
            .first()
            .context("the demo scenario has no tenant")?;
        let engineer = fleet
            .engineers
            .first()
            .context("the demo scenario has no engineer")?;
        heartline_hub::cli::write_demo_logins(dir, tenant, (&engineer.id, &engineer.id))?;
        println!(
            "wrote the demo's config, inventory ({} devices, {} engineers) and logins in {}",
            fleet.len(),
            fleet.engineers.len(),
            dir.display()
        );
    }
    // A fleet of simulated devices coming and going: the broker's per-connection errors are
    // noise here; the hub's own warnings stay.
    heartline_hub::cli::init_logging_with("warn,rmqtt=error,rmqtt_net=error");
    let mut cfg = HubConfig::load(&hub_toml)?;
    cfg.detection = s.detection.clone();
    let inventory = cfg.inventory.clone();
    tokio::runtime::Runtime::new()?.block_on(async move {
        let hub = Hub::start(cfg).await?;
        let web = if hub.http.ip().is_loopback() || hub.http.ip().is_unspecified() {
            format!("http://localhost:{}/", hub.http.port())
        } else {
            format!("http://{}/", hub.http)
        };
        println!("\nHeartline demo: hub with its embedded broker (MQTT on {}), store in {}", hub.mqtt_v4, dir.display());
        println!("web view: {web}  (log in as the operator for the whole board)");
        heartline_hub::cli::print_demo_logins(dir);
        let fleet = real::start(&s, &secrets, endpoints(&hub), &real::Options::default());
        println!(
            "fleet: {} devices connecting, {} engineers on shift; a compressed day of faults every {} min. Ctrl-C stops.\n",
            fleet.device_ids().len(),
            fleet.engineers(),
            s.duration / 60_000
        );
        let stopped = {
            let stop = heartline_hub::cli::wait_for_stop(&hub, inventory.as_deref());
            tokio::pin!(stop);
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            tick.tick().await;
            loop {
                tokio::select! {
                    r = &mut stop => break r,
                    _ = tick.tick() => println!("{}", progress(&hub, &fleet)),
                }
            }
        };
        println!("stopping: devices say goodbye, then the hub stops");
        let died = stopped?;
        let outcome = fleet.stop(tickets(&hub)).await;
        print!("{}", crate::score::table(&crate::score::score(&outcome)));
        heartline_hub::stop_after(hub, died).await
    })
}

/// `heartline-sim real`: runs the scenario `rounds` times as real MQTT clients against a hub in
/// this process (store in `dir`, or a temporary folder), waits `drain` for the last tickets to
/// close, and scores the hub's tickets against the schedule.
pub fn real(
    scenario: &Path,
    dir: Option<PathBuf>,
    rounds: u32,
    drain: Duration,
    opts_seed: Option<u64>,
) -> anyhow::Result<crate::score::Score> {
    let s = Scenario::load(scenario)?;
    raise_fd_limit();
    let temp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| temp.path().to_path_buf());
    let (cfg, secrets) = ephemeral_config(&dir, &s)?;
    tokio::runtime::Runtime::new()?.block_on(async move {
        let hub = Hub::start(cfg).await?;
        let opts = real::Options {
            seed: opts_seed,
            rounds: Some(rounds),
        };
        let fleet = real::start(&s, &secrets, endpoints(&hub), &opts);
        let run_for = Duration::from_millis((s.duration as u64) * rounds as u64) + drain;
        let until = tokio::time::Instant::now() + run_for;
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                _ = tokio::signal::ctrl_c() => break,
                _ = tick.tick() => eprintln!("{}", progress(&hub, &fleet)),
            }
        }
        let outcome = fleet.stop(tickets(&hub)).await;
        let score = crate::score::score(&outcome);
        hub.shutdown().await?;
        Ok(score)
    })
}

/// `heartline-sim fleet`: the fleet of `dir` (its secret and scenario) against a hub elsewhere.
pub fn fleet_only(
    dir: &Path,
    scenario: Option<&Path>,
    mqtt: std::net::SocketAddr,
    http: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let s = load(scenario)?;
    raise_fd_limit();
    let secret = dir.join(crate::local::SECRET_FILE);
    anyhow::ensure!(
        secret.exists(),
        "{} does not exist: run `heartline-sim demo --dir {}` once to write the folder",
        secret.display(),
        dir.display()
    );
    let secrets = crate::secrets::Secrets::load_or_create(&secret)?;
    tokio::runtime::Runtime::new()?.block_on(async move {
        let fleet = real::start(
            &s,
            &secrets,
            Endpoints { mqtt, http },
            &real::Options::default(),
        );
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = tick.tick() => println!("{}", fleet_line(&fleet)),
            }
        }
        println!("stopping: devices say goodbye");
        fleet.stop(Vec::new()).await;
        Ok(())
    })
}
