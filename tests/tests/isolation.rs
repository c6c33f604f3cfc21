//! Tenant isolation, route by route: a customer of tenant A asks every API route (taken from the
//! hub's own route table, so a new route cannot be forgotten) for tenant B's objects, and gets
//! nothing — 404 for an object, no trace of B in a list — whatever the URL says. The same for the
//! live event stream and for every engineer gRPC method.

use heartline_e2e::{
    Device, Fleet, Protocol, SseClient, TestHub, WebClient, engineer_client, eventually, ids,
};
use heartline_hub::store::Scope;
use heartline_proto::wire;
use serde_json::json;
use std::time::Duration;

async fn failing(th: &TestHub, fleet: &Fleet, id: &str) -> Device {
    let mut dev = Device::connect(th.hub.mqtt_v4, fleet.device(id), Protocol::V4)
        .await
        .unwrap();
    let mut r = dev.report(1);
    r.checks[0].status = wire::CheckStatus::Crit as i32;
    r.next_checkin_s = 3600;
    dev.send(&r).await.unwrap();
    dev.wait_ack(1, 1).await.unwrap();
    dev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_can_never_reach_another_tenants_objects() {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 1)), ("globex", ids("globex", 1))]);
    let engineers = fleet.with_engineers("acme", 1);
    let alice = fleet.with_user("alice", "customer", "acme");
    let th = TestHub::start(&fleet).await.unwrap();
    let _a = failing(&th, &fleet, "acme-0").await;
    let _g = failing(&th, &fleet, "globex-0").await;
    eventually("a ticket per tenant", || {
        th.hub.store().tickets(&Scope::Operator).unwrap().len() == 2
    })
    .await
    .unwrap();
    let tickets = th.hub.store().tickets(&Scope::Operator).unwrap();
    let theirs = tickets.iter().find(|t| t.tenant == "globex").unwrap().id;
    let mine = tickets.iter().find(|t| t.tenant == "acme").unwrap().id;

    let mut web = WebClient::new(th.hub.http);
    web.login("alice", &alice).await;
    let mut checked = 0;
    for route in heartline_hub::web::routes() {
        if route.path == "/api/v1/events" {
            continue; // a stream: checked below
        }
        let path = route
            .path
            .replace("{project}", "globex-p")
            .replace("{device}", "globex-0")
            .replace("{ticket}", &theirs.to_string());
        assert!(
            !path.contains('{'),
            "route {} has a parameter this test does not know: teach it",
            route.path
        );
        let body = json!({"text": "x", "stars": 5, "device": "globex-0"});
        let (status, answer) = match route.method {
            "GET" => web.get(&path).await,
            _ => web.post(&path, body).await,
        };
        let text = answer.to_string();
        let leaked = text.contains("globex");
        let object_route = route.path.contains('{');
        if object_route {
            assert_eq!(status, 404, "{} {path} → {status} {text}", route.method);
        } else {
            assert!(
                status == 404 || (status == 200 && !leaked),
                "{} {path} → {status} {text}",
                route.method
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} routes checked");
    // Her own ticket is there, so the 404s above are about scope, not a broken API.
    assert_eq!(web.get(&format!("/api/v1/tickets/{mine}")).await.0, 200);

    // The live stream: a change at globex, then one at acme; the first event must be acme's.
    let cookie = web.cookie.clone().unwrap();
    let mut events = SseClient::connect(th.hub.http, "/api/v1/events", &[("Cookie", &cookie)])
        .await
        .unwrap();
    // Subscribed once the response has started: a comment-free way is to trigger and read.
    let ops = heartline_hub::engine::Actor::Operator("ops".into());
    let note = |text: &str| heartline_hub::engine::TicketAction::Note { text: text.into() };
    th.hub
        .live()
        .act(theirs, note("globex only"), ops.clone())
        .await
        .unwrap();
    th.hub.live().act(mine, note("acme"), ops).await.unwrap();
    let ev = events.next(Duration::from_secs(5)).await.unwrap();
    assert!(ev.data.contains("\"tenant\":\"acme\""), "{ev:?}");

    // gRPC: acme's engineer asks for globex's ticket through every engineer method.
    let mut grpc = engineer_client(th.hub.http, &engineers[0].1).await.unwrap();
    let req = || wire::TicketActionRequest {
        ticket_id: theirs.to_string(),
        note: "x".into(),
        to_engineer_id: "eng-0".into(),
    };
    let codes = [
        grpc.accept(req()).await.unwrap_err().code(),
        grpc.decline(req()).await.unwrap_err().code(),
        grpc.on_site(req()).await.unwrap_err().code(),
        grpc.add_note(req()).await.unwrap_err().code(),
        grpc.resolve(req()).await.unwrap_err().code(),
        grpc.hand_over(req()).await.unwrap_err().code(),
    ];
    assert!(
        codes.iter().all(|c| *c == tonic::Code::NotFound),
        "{codes:?}"
    );
    th.hub.shutdown().await.unwrap();
}
