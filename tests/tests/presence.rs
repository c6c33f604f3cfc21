//! The state topic: a device says it is online, the broker publishes its signed last will when
//! the connection drops, and a clean shutdown says goodbye. Only the will of the connection that
//! announced itself counts, and a stale or forged state message changes nothing.

use heartline_e2e::{Device, Fleet, Protocol, TestHub, eventually, ids, state_change};
use heartline_engine::{FaultKind, Presence};
use heartline_hub::ingest::RejectReason;
use heartline_hub::store::Scope;
use heartline_proto::envelope::seal;
use heartline_proto::{Channel, DeviceKey, wire};

fn presence(hub: &TestHub, device: &str) -> Presence {
    hub.hub
        .store()
        .device_state(&Scope::Operator, device)
        .unwrap()
        .map(|s| s.presence)
        .unwrap_or_default()
}

#[tokio::test]
async fn online_then_last_will_then_goodbye() {
    let fleet = Fleet::new(&[("acme", ids("acme", 2))]);
    let hub = TestHub::start(&fleet).await.unwrap();
    let creds = fleet.device("acme-0");
    let state_topic = creds.topic(Channel::State);

    // Connection with session 7: online, and a will for session 7.
    let will = state_change(creds, wire::Presence::Offline, 7, 1_000);
    let mut dev = Device::connect_with_will(hub.hub.mqtt_v4, creds, will)
        .await
        .unwrap();
    dev.publish(
        &state_topic,
        state_change(creds, wire::Presence::Online, 7, 1_000),
    )
    .await
    .unwrap();
    // An offline message from another session (a replay of an old will) is stale.
    dev.publish(
        &state_topic,
        state_change(creds, wire::Presence::Offline, 6, 1_000),
    )
    .await
    .unwrap();
    // A forged one is refused.
    dev.publish(
        &state_topic,
        seal(&DeviceKey([9; 32]), &wire::StateChange::default()),
    )
    .await
    .unwrap();
    // A report on the same connection orders the check after the state messages.
    dev.send(&dev.report(1)).await.unwrap();
    dev.wait_ack(1, 1).await.unwrap();
    assert_eq!(presence(&hub, "acme-0"), Presence::Online);
    let m = hub.hub.metrics();
    assert_eq!(m.rejected(RejectReason::StalePresence), 1);
    assert_eq!(m.rejected(RejectReason::BadSignature), 1);

    // The power goes: the broker publishes the will, which the hub takes.
    dev.cut();
    eventually("offline after the will", || {
        presence(&hub, "acme-0") == Presence::Offline
    })
    .await
    .unwrap();

    // Back, then a clean shutdown with a goodbye.
    let dev = Device::connect(hub.hub.mqtt_v5, creds, Protocol::V5)
        .await
        .unwrap();
    dev.publish(
        &state_topic,
        state_change(creds, wire::Presence::Online, 8, 2_000),
    )
    .await
    .unwrap();
    dev.publish(
        &state_topic,
        state_change(creds, wire::Presence::Goodbye, 8, 2_001),
    )
    .await
    .unwrap();
    eventually("goodbye recorded", || {
        presence(&hub, "acme-0") == Presence::Goodbye { back_in_s: 300 }
    })
    .await
    .unwrap();
    assert_eq!(presence(&hub, "acme-1"), Presence::Unknown);
    assert_eq!(m.states_committed.get(), 4);
    hub.hub.shutdown().await.unwrap();
}

/// The real agent: killed without a goodbye, its last will reaches the hub and counts (the will
/// is stamped when the agent starts, so its `online` must carry the same time, or the hub takes
/// the will for an old message).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agents_last_will_counts() {
    let fleet = Fleet::new(&[("acme", ids("acme", 1))]);
    let hub = TestHub::start(&fleet).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = heartline_e2e::write_agent_config(
        dir.path(),
        hub.hub.mqtt_v4.port(),
        fleet.device("acme-0"),
    );
    let mut agent = heartline_e2e::spawn_agent(env!("CARGO_BIN_EXE_agent"), &config);
    // Reports committed after the agent said it is online (the will comes from its start).
    eventually("the agent online and reporting", || {
        presence(&hub, "acme-0") == Presence::Online
            && hub
                .hub
                .store()
                .device_state(&Scope::Operator, "acme-0")
                .unwrap()
                .is_some_and(|s| s.reports >= 3)
    })
    .await
    .unwrap();
    agent.kill().unwrap(); // SIGKILL: no goodbye, the broker publishes the will
    agent.wait().unwrap();
    eventually("the agent's last will taken", || {
        presence(&hub, "acme-0") == Presence::Offline
    })
    .await
    .unwrap();
    hub.hub.shutdown().await.unwrap();
}

/// A replayed `online` does not hide a lost connection. Two devices, each connected with a will
/// for its session S stamped T and an `online` (S, T); both connections drop and both wills
/// arrive. Then device A's own earlier `online` is published again, byte for byte (same session,
/// same time): the hub refuses it as stale, and both devices get their "connection lost" ticket
/// after `offline_hold`. A new connection with a new session is online again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_online_does_not_hide_a_lost_connection() {
    let fleet = Fleet::new(&[("acme", ids("acme", 2))]);
    let hub = TestHub::start_with(&fleet, |c| c.detection.offline_hold = 1_000)
        .await
        .unwrap();
    let (a, b) = (fleet.device("acme-0"), fleet.device("acme-1"));
    let mut online_a = Vec::new();
    for (creds, session) in [(a, 41), (b, 42)] {
        let at = heartline_e2e::now_ms();
        let will = state_change(creds, wire::Presence::Offline, session, at);
        let online = state_change(creds, wire::Presence::Online, session, at);
        let mut dev = Device::connect_with_will(hub.hub.mqtt_v4, creds, will)
            .await
            .unwrap();
        dev.publish(&creds.topic(Channel::State), online.clone())
            .await
            .unwrap();
        dev.send(&dev.report(1)).await.unwrap();
        dev.wait_ack(dev.boot_id, 1).await.unwrap();
        assert_eq!(presence(&hub, &creds.id), Presence::Online);
        if creds.id == a.id {
            online_a = online;
        }
        dev.cut();
    }
    eventually("both wills taken", || {
        presence(&hub, "acme-0") == Presence::Offline
            && presence(&hub, "acme-1") == Presence::Offline
    })
    .await
    .unwrap();

    // The replay: A's own `online` of the connection that is gone, through a connection of A.
    let replayer = Device::connect(hub.hub.mqtt_v5, a, Protocol::V5)
        .await
        .unwrap();
    replayer
        .publish(&a.topic(Channel::State), online_a)
        .await
        .unwrap();
    let m = hub.hub.metrics();
    eventually("the replay refused", || {
        m.rejected(RejectReason::StalePresence) == 1
    })
    .await
    .unwrap();
    assert_eq!(presence(&hub, "acme-0"), Presence::Offline);
    drop(replayer);

    // Both lost connections are tickets, the replayed one like the control.
    let offline_tickets = || {
        hub.hub
            .store()
            .tickets(&Scope::Operator)
            .unwrap()
            .into_iter()
            .filter(|t| t.root == FaultKind::Offline)
            .map(|t| t.device)
            .collect::<std::collections::BTreeSet<_>>()
    };
    eventually("a connection-lost ticket for each device", || {
        offline_tickets().len() == 2
    })
    .await
    .unwrap();

    // A comes back: a new connection is a new session, and it counts.
    let at = heartline_e2e::now_ms();
    let back = Device::connect_with_will(
        hub.hub.mqtt_v4,
        a,
        state_change(a, wire::Presence::Offline, 43, at),
    )
    .await
    .unwrap();
    back.publish(
        &a.topic(Channel::State),
        state_change(a, wire::Presence::Online, 43, at),
    )
    .await
    .unwrap();
    eventually("A online again", || {
        presence(&hub, "acme-0") == Presence::Online
    })
    .await
    .unwrap();
    assert_eq!(m.rejected(RejectReason::StalePresence), 1);
    hub.hub.shutdown().await.unwrap();
}
