//! The embedded broker breaking is noticed: rumqttd 0.20 panics, and poisons its listener for
//! good, when a client it turned away at `max_connections` comes back with the same id. The hub
//! must not run on deaf: `run` stops gracefully and returns an error that says what happened and
//! what to do, so that a service manager restarts it.

use heartline_e2e::{Device, Fleet, Protocol, config_in, free_port, ids};
use std::net::SocketAddr;
use std::time::Duration;
use toml::Spanned;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_broker_stops_the_hub_with_a_clear_error() {
    let fleet = Fleet::new(&[("acme", ids("acme", 4))]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path(), &fleet).unwrap();
    let v4 = SocketAddr::from(([127, 0, 0, 1], free_port()));
    config.mqtt.v4_listen = Spanned::new(0..0, v4);
    // The hub's own link to the broker is one of the connections: three devices fit.
    config.mqtt.max_connections = 4;
    let run = heartline_hub::run(config, std::future::pending());
    let devices = async {
        let mut held = Vec::new();
        for i in 0..3 {
            let creds = fleet.device(&format!("acme-{i}"));
            // The hub may still be starting: its listener is up once a connection succeeds.
            let dev = loop {
                match Device::connect(v4, creds, Protocol::V4).await {
                    Ok(d) => break d,
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            };
            held.push(dev);
        }
        // The fourth is turned away, then comes back with the same id (as any device retrying
        // does).
        let fourth = fleet.device("acme-3");
        for _ in 0..2 {
            let attempt = tokio::time::timeout(
                Duration::from_secs(3),
                Device::connect(v4, fourth, Protocol::V4),
            )
            .await;
            assert!(
                !matches!(attempt, Ok(Ok(_))),
                "served beyond max_connections"
            );
        }
        // The deadline for the hub to notice (the devices stay connected meanwhile).
        tokio::time::sleep(Duration::from_secs(30)).await;
        held
    };
    let outcome = tokio::select! {
        outcome = run => outcome,
        _ = devices => panic!("the hub kept running on a broken broker for 30 s"),
    };
    let err = format!("{:#}", outcome.expect_err("run ended without an error"));
    assert!(err.contains("embedded MQTT broker failed"), "{err}");
    assert!(err.contains("rumqttd panicked at"), "{err}");
    assert!(err.contains("start it again"), "{err}");
    // The store was closed cleanly: it opens again.
    heartline_hub::store::Store::open(&dir.path().join("store.redb"), 1_000).unwrap();
}
