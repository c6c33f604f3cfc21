//! The device edge as a cluster: the hub's node and two broker-only nodes (`heartline-hub broker`
//! processes) joined by RMQTT's cluster plugin. Devices connect to the broker nodes, report, and
//! get their acks there; one node is SIGKILLed mid-run, its devices reconnect to the other node
//! and send what was not acknowledged: nothing is lost, nothing duplicated, no ticket opens.
//! An inventory applied on the hub reaches the nodes' directories.

use heartline_e2e::cluster::{BrokerNode, Cluster};
use heartline_e2e::{
    Device, DeviceCreds, Fleet, Protocol, TestHub, assert_history_exact, eventually, ids,
};
use std::net::SocketAddr;
use std::time::Duration;

const HUB: &str = env!("CARGO_BIN_EXE_hub");
const DEVICES: usize = 200;

/// Connects, retrying while the node is still fetching its directory or joining the cluster.
async fn connect(addr: SocketAddr, creds: &DeviceCreds) -> Device {
    let mut last = None;
    for _ in 0..200 {
        match Device::connect(addr, creds, Protocol::V4).await {
            Ok(d) => return d,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} cannot connect to {addr}: {:#}", creds.id, last.unwrap());
}

/// Sends reports `from..=to` as a device's outbox does: what is not acknowledged within 3 s is
/// sent again (an ack lost while a node was unreachable costs a re-send, which the hub answers
/// with an ack of what it already committed), for at most a minute.
async fn report(dev: &mut Device, from: u64, to: u64) -> anyhow::Result<()> {
    let mut acked = from - 1;
    for _ in 0..20 {
        for seq in acked + 1..=to {
            let r = dev.report(seq);
            dev.send(&r).await?;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while acked < to {
            match tokio::time::timeout_at(deadline, dev.next_ack()).await {
                Ok(Ok(ack)) if ack.boot_id == dev.boot_id => acked = acked.max(ack.sequence),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => break,
            }
        }
        if acked >= to {
            return Ok(());
        }
    }
    anyhow::bail!(
        "{}: {acked} of {to} acknowledged after a minute",
        dev.creds.id
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_on_broker_nodes_report_and_survive_a_node_killed() {
    let fleet = Fleet::new(&[
        ("acme", ids("acme", DEVICES / 2)),
        ("beta", ids("beta", DEVICES / 2)),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::new(dir.path(), 3);
    let th = TestHub::start_with(&fleet, |c| c.cluster = Some(cluster.hub_config()))
        .await
        .unwrap();
    let mut nodes: Vec<BrokerNode> = (2..=3)
        .map(|id| BrokerNode::spawn(HUB, dir.path(), &cluster, id, th.hub.http, ""))
        .collect();

    // Half the devices on each broker node; none on the hub's node.
    let mut devices = Vec::new();
    for (i, d) in fleet.devices.iter().enumerate() {
        devices.push(connect(nodes[i % 2].v4, d).await);
    }
    for dev in &mut devices {
        report(dev, 1, 3).await.unwrap();
    }
    eventually("every report committed", || {
        th.hub.metrics().reports_committed.get() == 3 * DEVICES as u64
    })
    .await
    .unwrap();

    // Node 2 dies. Its devices send more meanwhile, and cannot get acks.
    nodes[0].kill();
    let mut moved = Vec::new();
    for (i, dev) in devices.into_iter().enumerate() {
        if i % 2 == 0 {
            // Outbox: 4 and 5 were sent into the dead connection and not acknowledged.
            let _ = dev.send(&dev.report(4)).await;
            let _ = dev.send(&dev.report(5)).await;
            drop(dev);
            moved.push(connect(nodes[1].v4, &fleet.devices[i]).await);
        } else {
            moved.push(dev);
        }
    }
    // Every device, moved or not, sends what it holds (4, 5) and more; the moved ones now
    // through node 3.
    for dev in &mut moved {
        report(dev, 4, 6).await.unwrap();
    }
    let store = th.hub.store();
    for d in &fleet.devices {
        assert_history_exact(store, &d.id, 6);
    }
    assert_eq!(th.hub.metrics().tickets_opened.get(), 0, "tickets opened");

    // A device added on the hub can log in at the nodes after the next refresh.
    let grown = Fleet::new(&[
        ("acme", ids("acme", DEVICES / 2 + 1)),
        ("beta", ids("beta", DEVICES / 2)),
    ]);
    let inv = heartline_hub::inventory::Inventory::parse(
        std::path::Path::new("inventory.toml"),
        &grown.inventory,
    )
    .unwrap();
    th.hub.apply_inventory(&inv).unwrap();
    let newcomer = grown.device(&format!("acme-{}", DEVICES / 2));
    let mut dev = connect(nodes[1].v4, newcomer).await;
    report(&mut dev, 1, 1).await.unwrap();
    assert_history_exact(store, &newcomer.id, 1);
    drop((moved, dev, nodes));
    th.hub.shutdown().await.unwrap();
}
