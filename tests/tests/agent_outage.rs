//! The agent never loses a report: across a hub outage, and across its own SIGKILL. Everything it
//! produced in between reaches the hub exactly once and in order (what is still unacknowledged
//! when the test stops it is in its outbox, right after what the hub stored).

use heartline_e2e::{
    Fleet, HubProcess, assert_agent_lost_nothing, eventually, free_port, ids, scrape, spawn_agent,
    write_agent_config,
};
use heartline_hub::store::Store;
use std::process::Command;
use std::time::Duration;

const HUB: &str = env!("CARGO_BIN_EXE_hub");
const AGENT: &str = env!("CARGO_BIN_EXE_agent");

fn sigterm(child: &mut std::process::Child) {
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "agent did not stop cleanly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_outage_and_an_agent_sigkill_lose_nothing_and_duplicate_nothing() {
    let fleet = Fleet::new(&[("acme", ids("gw", 1))]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let config = write_agent_config(dir.path(), ports[0], &fleet.devices[0]);
    let committed = |hub: &HubProcess| scrape(hub.http, "heartline_ingest_reports_committed_total");

    // The agent reports every 100 ms into a running hub.
    let hub = HubProcess::spawn(HUB, dir.path(), ports, "");
    let mut agent = spawn_agent(AGENT, &config);
    eventually("reports flowing", || committed(&hub) >= 5.0)
        .await
        .unwrap();

    // Outage: the hub is down for a while; the agent keeps reporting into its outbox.
    hub.stop();
    tokio::time::sleep(Duration::from_millis(1_500)).await; // the outage itself, not a wait for anything
    let hub = HubProcess::spawn(HUB, dir.path(), ports, "");
    // Everything from the outage arrives after the agent reconnects (its backoff is at most a few s).
    eventually("outbox flushed after the outage", || {
        committed(&hub) >= 15.0
    })
    .await
    .unwrap();

    // The agent is killed without warning mid-stream, and started again.
    agent.kill().unwrap();
    agent.wait().unwrap();
    let before = committed(&hub);
    let mut agent = spawn_agent(AGENT, &config);
    eventually("reporting again after the kill", || {
        committed(&hub) >= before + 5.0
    })
    .await
    .unwrap();
    sigterm(&mut agent);
    hub.stop();

    let store = Store::open(&dir.path().join("store.redb"), 1_000_000).unwrap();
    let stored = assert_agent_lost_nothing(&store, dir.path(), "gw-0").len();
    assert!(stored >= 25, "only {stored} reports stored");
}
