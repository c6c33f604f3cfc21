//! Probing an uplink: a device behind a gateway goes silent, the hub asks the gateway (a real
//! agent that reports only every 10 min) for a report at once, the agent answers, and the device
//! gets its own ticket without waiting for the gateway's next scheduled report. A probe is an ack
//! carrying `report_now_at_ms`; the agent ignores probes that are forged or replayed.

use heartline_e2e::{Device, Fleet, Protocol, TestHub, eventually, ids, now_ms};
use heartline_engine::FaultKind;
use heartline_hub::broker::acl::Refusal;
use heartline_hub::store::Scope;
use heartline_proto::envelope::seal;
use heartline_proto::{Channel, DeviceKey, wire};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_device_behind_a_slow_gateway_gets_its_ticket_after_one_probe() {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 2))]);
    // acme-0 is the gateway, acme-1 a camera behind it.
    fleet.inventory = fleet.inventory.replace(
        "id = \"acme-1\"\n",
        "id = \"acme-1\"\nuplink = \"acme-0\"\n",
    );
    let hub = TestHub::start_with(&fleet, |c| c.detection.heartbeat_grace = 1_000)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.device("acme-0");
    let config = heartline_e2e::write_agent_config(dir.path(), hub.hub.mqtt_v4.port(), gw);
    let config_text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("interval = \"100ms\"", "interval = \"10m\"");
    std::fs::write(&config, config_text).unwrap();
    let mut agent = heartline_e2e::spawn_agent(env!("CARGO_BIN_EXE_agent"), &config);
    let log = config.with_extension("log");
    let log_has = |s: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(s)
    };
    eventually("the gateway's first report", || {
        hub.stored_reports("acme-0") == 1
    })
    .await
    .unwrap();

    let mut cam = Device::connect(hub.hub.mqtt_v4, fleet.device("acme-1"), Protocol::V4)
        .await
        .unwrap();
    let probe_topic = gw.topic(Channel::Ack);
    let probe = |key: &DeviceKey, report_now_at_ms: i64| {
        let p = wire::Ack {
            device_id: "acme-0".into(),
            report_now_at_ms,
            ..Default::default()
        };
        seal(key, &p)
    };
    // Another device cannot write on the gateway's ack topic at all: the broker drops it.
    let m = hub.hub.metrics();
    cam.publish(&probe_topic, probe(&gw.key, now_ms()))
        .await
        .unwrap();
    eventually("the camera's probe refused by the broker", || {
        m.mqtt_refused(Refusal::PublishForeignTopic) == 1
    })
    .await
    .unwrap();
    // What reaches the ack topic comes from the hub's link, and the signature still decides:
    // a probe signed with the gateway's key is answered with a report at once.
    let genuine = probe(&gw.key, now_ms());
    hub.hub
        .publish(probe_topic.clone(), genuine.clone())
        .unwrap();
    eventually("the answer to a probe", || {
        hub.stored_reports("acme-0") == 2
    })
    .await
    .unwrap();
    // The same probe again is a replay; one signed with another key is a forgery.
    hub.hub.publish(probe_topic.clone(), genuine).unwrap();
    hub.hub
        .publish(
            probe_topic.clone(),
            probe(&DeviceKey([7; 32]), now_ms() + 1),
        )
        .unwrap();
    eventually("the agent ignores a replay and a forgery", || {
        log_has("ignored a replayed probe") && log_has("ignored an ack that is not signed")
    })
    .await
    .unwrap();
    assert_eq!(hub.stored_reports("acme-0"), 2, "neither was answered");

    // The camera reports once (next check-in 1 s), then falls silent without a will.
    let mut r = cam.report(1);
    r.next_checkin_s = 1;
    cam.send(&r).await.unwrap();
    cam.wait_ack(cam.boot_id, 1).await.unwrap();
    let tickets = || hub.hub.store().tickets(&Scope::Operator).unwrap();
    eventually("the camera's own ticket", || !tickets().is_empty())
        .await
        .unwrap();
    let all = tickets();
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(
        (all[0].device.as_str(), all[0].root.clone()),
        ("acme-1", FaultKind::Silent)
    );
    assert!(all[0].affected.is_empty());
    // Its verdict came from the gateway's answer to the hub's probe, 10 min before its next report.
    assert_eq!(hub.stored_reports("acme-0"), 3);
    assert!(hub.hub.metrics().probes_sent.get() >= 1);

    agent.kill().unwrap();
    agent.wait().unwrap();
    drop(cam);
    hub.hub.shutdown().await.unwrap();
}
