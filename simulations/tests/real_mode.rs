//! Real mode against a real hub in this process (embedded broker, redb store in a temporary
//! folder): the 50 devices of `real-small.toml` as MQTT clients, its engineers on the gRPC API.
//! Asserts through the hub's store that a silenced device opened a ticket, that a gateway outage
//! opened one ticket for its site (its devices attached, none of their own), and that an
//! engineer's resolve led to Closed once the device reported healthy. Waits for conditions with
//! a deadline, never for a fixed time.

use heartline_engine::{Actor, Ticket, TicketState};
use heartline_hub::Hub;
use heartline_hub::store::Scope;
use heartline_sim::local::ephemeral_config;
use heartline_sim::real::{self, Endpoints, Options};
use heartline_sim::scenario::{FaultType, Scenario};
use heartline_sim::schedule::Problem;
use std::path::Path;
use std::time::Duration;

/// What the run must show; `Err` says what is still missing.
fn verdict(problems: &[Problem], ids: &[String], tickets: &[Ticket]) -> Result<(), String> {
    if problems.len() < 5 {
        return Err(format!("{} of 5 problems started", problems.len()));
    }
    let find = |f: &dyn Fn(&FaultType) -> bool| problems.iter().find(|p| f(&p.fault)).unwrap();
    let dead = &ids[find(&|f| *f == FaultType::Dies).device as usize];
    if !tickets
        .iter()
        .any(|t| &t.device == dead && t.root.is_down())
    {
        return Err(format!("no ticket for the silenced device {dead}"));
    }
    let outage = find(&|f| matches!(f, FaultType::UplinkDown { .. }));
    let site: Vec<&String> = outage.devices.iter().map(|&d| &ids[d as usize]).collect();
    let site_tickets: Vec<&Ticket> = tickets
        .iter()
        .filter(|t| site.contains(&&t.device))
        .collect();
    match site_tickets.as_slice() {
        [t] if &t.device == site[0] && !t.affected.is_empty() => {}
        [] => return Err(format!("no ticket for the gateway {}", site[0])),
        more => {
            return Err(format!(
                "the outage of {} made {} tickets: {:?}",
                site[0],
                more.len(),
                more.iter()
                    .map(|t| (&t.device, &t.title))
                    .collect::<Vec<_>>()
            ));
        }
    }
    let closed_after_engineer = tickets.iter().any(|t| {
        t.state == TicketState::Closed
            && t.timeline.iter().any(|e| {
                matches!(e.actor, Actor::Engineer(_))
                    && e.change.is_some_and(|(_, to)| to == TicketState::Resolved)
            })
    });
    if !closed_after_engineer {
        return Err("no ticket closed after an engineer's resolve".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_fleet_opens_one_ticket_per_problem_and_engineers_close_them() -> anyhow::Result<()>
{
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/real-small.toml");
    let s = Scenario::load(&path)?;
    let dir = tempfile::tempdir()?;
    let (config, secrets) = ephemeral_config(dir.path(), &s)?;
    let hub = Hub::start(config).await?;
    let hub_at = Endpoints {
        mqtt: hub.mqtt_v4,
        http: hub.http,
    };
    let fleet = real::start(
        &s,
        &secrets,
        hub_at,
        &Options {
            seed: None,
            rounds: Some(1),
        },
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let result = loop {
        let tickets = hub.store().tickets(&Scope::Operator)?;
        match verdict(&fleet.problems(), fleet.device_ids(), &tickets) {
            Ok(()) => break Ok(()),
            Err(missing) if tokio::time::Instant::now() > deadline => break Err(missing),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let tickets = hub.store().tickets(&Scope::Operator)?;
    // What the fleet saw, should the hub have seen too little (devices not connected, say).
    let fleet_saw = fleet.snapshot();
    let outcome = fleet.stop(tickets).await;
    let score = heartline_sim::score::score(&outcome);
    hub.shutdown().await?;
    let table = heartline_sim::score::table(&score);
    eprintln!("{table}");
    if let Err(missing) = result {
        panic!("within 90 s: {missing}\nfleet: {fleet_saw:?}\n{table}");
    }
    assert_eq!(score.duplicate_tickets, 0, "{table}");
    assert_eq!(score.false_tickets, 0, "{table}");
    assert_eq!(score.missed, 0, "{table}");
    assert!(score.closed >= 1, "{table}");
    Ok(())
}

/// The slow-gateways scenario in real mode (`heartline-sim real`, the hub in that process):
/// routers that report 15 times less often than the cameras behind them, a switch behind a
/// router, faults that kill a router or a switch with what is behind it. Two seeds: no missed,
/// no false and no duplicate ticket, as in virtual time.
#[test]
fn slow_gateways_in_real_mode_give_one_ticket_per_problem() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/real-slow-gateways.toml");
    for seed in ["15", "16"] {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("score.json");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_heartline-sim"))
            .args(["real", "--seed", seed, "--drain", "20s", "--scenario"])
            .arg(&scenario)
            .arg("--json")
            .arg(&json)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "seed {seed}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let score: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        for field in ["missed", "false_tickets", "duplicate_tickets", "pending"] {
            assert_eq!(score[field], 0, "seed {seed}, {field}: {stdout}");
        }
        assert_eq!(
            score["detected"], score["expected"],
            "seed {seed}: {stdout}"
        );
    }
}
