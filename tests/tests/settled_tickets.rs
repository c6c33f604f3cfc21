//! A ticket finished before the reopen window leaves the engine's memory but not the store:
//! after a restart (which loads only the tickets the engine still needs) the customer still sees
//! it and can still rate it, and the rating is stored.

use heartline_e2e::{Device, Fleet, Protocol, TestHub, WebClient, config_in, eventually, ids};
use heartline_engine::TicketState;
use heartline_hub::config::HubConfig;
use heartline_hub::store::Scope;
use heartline_proto::wire;
use serde_json::json;

fn tune(c: &mut HubConfig) {
    c.detection.recovery_confirm = 300;
    // Anything finished is settled almost at once.
    c.detection.reopen_window = 1;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settled_ticket_is_still_shown_and_rated_after_a_restart() {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 1))]);
    let password = fleet.with_user("alice", "customer", "acme");
    let th = TestHub::start_with(&fleet, tune).await.unwrap();
    let mut dev = Device::connect(th.hub.mqtt_v4, fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    for (seq, status) in [(1, wire::CheckStatus::Crit), (2, wire::CheckStatus::Ok)] {
        let mut r = dev.report(seq);
        r.checks[0].status = status as i32;
        r.next_checkin_s = 3600;
        dev.send(&r).await.unwrap();
        dev.wait_ack(1, seq).await.unwrap();
    }
    let store = th.hub.store();
    eventually("the ticket auto-recovers", || {
        store
            .tickets(&Scope::Operator)
            .unwrap()
            .first()
            .is_some_and(|t| t.state == TicketState::AutoRecovered)
    })
    .await
    .unwrap();
    let id = store.tickets(&Scope::Operator).unwrap()[0].id;
    drop(dev);

    let TestHub { hub, dir } = th;
    hub.shutdown().await.unwrap();
    let mut config = config_in(dir.path(), &fleet).unwrap();
    tune(&mut config);
    let hub = heartline_hub::Hub::start(config).await.unwrap();

    let mut alice = WebClient::new(hub.http);
    alice.login("alice", &password).await;
    let (status, t) = alice.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(
        (status, t["state"].as_str()),
        (200, Some("auto-recovered")),
        "{t}"
    );
    let (status, t) = alice
        .post(
            &format!("/api/v1/tickets/{id}/rate"),
            json!({"stars": 4, "comment": "没等我们发现就修好了"}),
        )
        .await;
    assert_eq!(
        (status, t["rating"]["stars"].as_u64()),
        (200, Some(4)),
        "{t}"
    );
    let stored = hub.store().ticket(&Scope::Operator, id).unwrap().unwrap();
    assert_eq!(stored.rating.map(|r| r.stars), Some(4));
    hub.shutdown().await.unwrap();
}
