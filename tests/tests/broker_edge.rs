//! The device edge holds up against clients that misbehave at connect time: a device that
//! resets its TCP connection after CONNECT, before CONNACK, and comes back with its id, again and
//! again; and a device turned away at `max_connections` that retries with its id. Afterwards
//! every other device still connects and reports, and so does the misbehaving one.
//! (rumqttd 0.20 was left deaf for everyone by either; see RELIABILITY.md.)

use heartline_e2e::{Device, DeviceCreds, Fleet, Protocol, TestHub, ids, rawmqtt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Sends CONNECT and resets the connection at once (SO_LINGER 0), before any CONNACK is read.
async fn connect_and_reset(addr: SocketAddr, creds: &DeviceCreds) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&rawmqtt::connect_packet(creds, 30))
        .await
        .unwrap();
    s.set_zero_linger().unwrap();
    drop(s);
}

/// Connects, retrying a refused attempt up to 100 times, 50 ms apart (a device's backoff).
async fn connect_retrying(addr: SocketAddr, creds: &DeviceCreds) -> Device {
    let mut last = None;
    for _ in 0..100 {
        match Device::connect(addr, creds, Protocol::V4).await {
            Ok(d) => return d,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never got in again: {:#}", creds.id, last.unwrap());
}

async fn connects_and_reports(addr: SocketAddr, creds: &DeviceCreds, protocol: Protocol) {
    let mut dev = Device::connect(addr, creds, protocol)
        .await
        .unwrap_or_else(|e| panic!("{} cannot connect: {e:#}", creds.id));
    let r = dev.report(1);
    dev.send(&r).await.unwrap();
    dev.wait_ack(r.boot_id, 1)
        .await
        .unwrap_or_else(|e| panic!("{} got no ack: {e:#}", creds.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_before_connack_leave_every_device_able_to_connect() {
    let fleet = Fleet::new(&[("acme", ids("acme", 6)), ("beta", ids("beta", 2))]);
    let th = TestHub::start(&fleet).await.unwrap();
    let rogue = fleet.device("acme-0");
    for round in 0..50 {
        connect_and_reset(th.hub.mqtt_v4, rogue).await;
        // Every few rounds it also reconnects properly with its id, then resets again: the
        // broker sees the id of a dropped connection come back, both half-open and complete.
        // While the broker still winds up the connections just reset, it answers a new CONNECT
        // with the same id "server unavailable"; the device retries, as any device does.
        if round % 10 == 9 {
            let d = connect_retrying(th.hub.mqtt_v4, rogue).await;
            d.cut();
        }
    }
    for d in &fleet.devices[1..] {
        connects_and_reports(th.hub.mqtt_v4, d, Protocol::V4).await;
        connects_and_reports(th.hub.mqtt_v5, d, Protocol::V5).await;
    }
    // And the device that misbehaved, once it behaves.
    connects_and_reports(th.hub.mqtt_v4, rogue, Protocol::V4).await;
    th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_turned_away_at_max_connections_can_come_back() {
    let fleet = Fleet::new(&[("acme", ids("acme", 4))]);
    let th = TestHub::start_with(&fleet, |c| c.mqtt.max_connections = 3)
        .await
        .unwrap();
    let mut held = Vec::new();
    for i in 0..3 {
        let creds = fleet.device(&format!("acme-{i}"));
        held.push(
            Device::connect(th.hub.mqtt_v4, creds, Protocol::V4)
                .await
                .unwrap(),
        );
    }
    let fourth = fleet.device("acme-3");
    for _ in 0..5 {
        let attempt = tokio::time::timeout(
            Duration::from_secs(3),
            Device::connect(th.hub.mqtt_v4, fourth, Protocol::V4),
        )
        .await;
        assert!(
            !matches!(attempt, Ok(Ok(_))),
            "served beyond max_connections"
        );
    }
    // A place frees up: the device that was turned away with its id gets in and reports.
    held.pop().unwrap().cut();
    let mut served = None;
    for _ in 0..100 {
        // The broker counts the freed connection once it notices the cut.
        match tokio::time::timeout(
            Duration::from_secs(3),
            Device::connect(th.hub.mqtt_v4, fourth, Protocol::V4),
        )
        .await
        {
            Ok(Ok(d)) => {
                served = Some(d);
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let mut dev = served.expect("the freed place was never given to the waiting device");
    let r = dev.report(1);
    dev.send(&r).await.unwrap();
    dev.wait_ack(r.boot_id, 1).await.unwrap();
    // The devices held all along are still served.
    let d = &mut held[0];
    let r = d.report(1);
    d.send(&r).await.unwrap();
    d.wait_ack(r.boot_id, 1).await.unwrap();
    drop((held, dev));
    th.hub.shutdown().await.unwrap();
}
