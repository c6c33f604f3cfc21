//! Detection through the running hub: a device that stops reporting gets a ticket after its own
//! declared check-in; a failing check gets one at once; both survive a hub restart on the same
//! store without duplicates, and recovery is seen after it.

use heartline_e2e::{Device, Fleet, Protocol, TestHub, eventually, ids};
use heartline_engine::{FaultKind, TicketState};
use heartline_hub::Hub;
use heartline_hub::config::HubConfig;
use heartline_hub::store::Scope;
use heartline_proto::wire;

fn tune(c: &mut HubConfig) {
    c.detection.heartbeat_grace = 200;
    c.detection.recovery_confirm = 300;
}

fn tickets(hub: &Hub) -> Vec<heartline_engine::Ticket> {
    hub.store().tickets(&Scope::Operator).unwrap()
}

#[tokio::test]
async fn silence_and_failing_checks_become_tickets_that_survive_a_restart() {
    let fleet = Fleet::new(&[("acme", ids("acme", 2)), ("globex", ids("globex", 1))]);
    let th = TestHub::start_with(&fleet, tune).await.unwrap();
    let mut quiet = Device::connect(th.hub.mqtt_v4, fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    let mut failing = Device::connect(th.hub.mqtt_v5, fleet.device("acme-1"), Protocol::V5)
        .await
        .unwrap();

    // acme-0 promises a report within 1 s, then says nothing.
    let mut r = quiet.report(1);
    r.next_checkin_s = 1;
    quiet.send(&r).await.unwrap();
    quiet.wait_ack(1, 1).await.unwrap();
    // acme-1 reports a critical check.
    let mut r = failing.report(1);
    r.checks[0].status = wire::CheckStatus::Crit as i32;
    r.next_checkin_s = 3600;
    failing.send(&r).await.unwrap();
    failing.wait_ack(1, 1).await.unwrap();

    eventually("two tickets", || tickets(&th.hub).len() == 2)
        .await
        .unwrap();
    let all = tickets(&th.hub);
    let silent = all.iter().find(|t| t.device == "acme-0").unwrap();
    assert_eq!(silent.root, FaultKind::Silent);
    let check = all.iter().find(|t| t.device == "acme-1").unwrap();
    assert!(matches!(check.root, FaultKind::Check { ref name } if name == "rtsp"));
    // The customer of another tenant sees none of them.
    assert!(
        th.hub
            .store()
            .tickets(&Scope::Tenant("globex".into()))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        th.hub
            .store()
            .tickets(&Scope::Tenant("acme".into()))
            .unwrap()
            .len(),
        2
    );
    assert!(
        th.hub
            .store()
            .ticket(&Scope::Tenant("globex".into()), silent.id)
            .unwrap()
            .is_none()
    );

    // Restart on the same store, same folder.
    let TestHub { hub, dir } = th;
    hub.shutdown().await.unwrap();
    let mut config = heartline_e2e::config_in(dir.path(), &fleet).unwrap();
    tune(&mut config);
    let hub = Hub::start(config).await.unwrap();
    let mut failing = Device::connect(hub.mqtt_v4, fleet.device("acme-1"), Protocol::V4)
        .await
        .unwrap();
    let mut r = failing.report(2);
    r.checks[0].status = wire::CheckStatus::Crit as i32;
    r.next_checkin_s = 3600;
    failing.send(&r).await.unwrap();
    failing.wait_ack(1, 2).await.unwrap();
    assert_eq!(
        tickets(&hub).len(),
        2,
        "the same fault after a restart is the same ticket"
    );

    // It recovers: the ticket auto-recovers after the confirmation period.
    let mut r = failing.report(3);
    r.next_checkin_s = 3600;
    failing.send(&r).await.unwrap();
    failing.wait_ack(1, 3).await.unwrap();
    eventually("auto-recovered", || {
        tickets(&hub)
            .iter()
            .any(|t| t.device == "acme-1" && t.state == TicketState::AutoRecovered)
    })
    .await
    .unwrap();
    let t = tickets(&hub)
        .into_iter()
        .find(|t| t.device == "acme-1")
        .unwrap();
    assert!(t.timeline.len() >= 2, "{:#?}", t.timeline);
    assert_eq!(
        hub.metrics().tickets_opened.get(),
        0,
        "no new ticket after the restart"
    );
    drop(quiet);
    hub.shutdown().await.unwrap();
}
