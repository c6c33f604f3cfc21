//! Engineers' positions through the running hub's API: an engineer reports one (and bad input
//! gets a clear 400; nobody else may report one); the operator's map shows every engineer with
//! the fix's local time, stale once `[http] position_stale` has passed; a customer's map shows
//! only the engineer of its own open ticket, and another tenant's customer sees none.

use heartline_e2e::{Device, Fleet, PATIENCE, Protocol, TestHub, WebClient, eventually, ids};
use heartline_hub::store::Scope;
use serde_json::{Value, json};

const STALE_MS: u64 = 4_000;

fn engineers_on(map: &Value) -> Vec<String> {
    let mut ids: Vec<String> = map["engineers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["engineer_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_shown_to_staff_and_to_the_customer_of_the_engineers_ticket_only() {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 1)), ("globex", ids("globex", 1))]);
    fleet.with_engineers("acme", 2);
    let li = fleet.with_user("li", "engineer", "eng-0");
    let bo = fleet.with_user("bo", "engineer", "eng-1");
    let alice = fleet.with_user("alice", "customer", "acme");
    let gina = fleet.with_user("gina", "customer", "globex");
    let ops = fleet.with_user("ops", "operator", "");
    let th = TestHub::start_with(&fleet, |c| c.http.position_stale_ms = STALE_MS)
        .await
        .unwrap();
    let http = th.hub.http;
    let client = |user: &'static str, password: String| async move {
        let mut c = WebClient::new(http);
        assert_eq!(c.login(user, &password).await.0, 200, "{user}");
        c
    };
    let mut li = client("li", li).await;
    let bo = client("bo", bo).await;
    let mut alice = client("alice", alice).await;
    let gina = client("gina", gina).await;
    let ops = client("ops", ops).await;

    // Bad input: a clear error, in the caller's language.
    li.language = Some("en".into());
    let (status, e) = li
        .post(
            "/api/v1/engineer/position",
            json!({"lat": 95.0, "lon": 121.0}),
        )
        .await;
    assert_eq!(status, 400, "{e}");
    assert!(e.to_string().contains("lat in -90..90"), "{e}");
    let (status, _) = li
        .post(
            "/api/v1/engineer/position",
            json!({"lat": 31.2, "lon": 121.4, "accuracy_m": -1.0}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = li
        .post("/api/v1/engineer/position", json!({"lat": "north"}))
        .await;
    assert_eq!(status, 400);
    // Only engineers report positions.
    for c in [&alice, &ops] {
        let (status, _) = c
            .post(
                "/api/v1/engineer/position",
                json!({"lat": 31.2, "lon": 121.4}),
            )
            .await;
        assert_eq!(status, 404);
    }

    // A fault at acme: its ticket goes to one of the two engineers.
    let mut dev = Device::connect(th.hub.mqtt_v4, fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    dev.check_in(1, true).await;
    let store = th.hub.store();
    eventually("acme's ticket is dispatched", || {
        store
            .tickets(&Scope::Operator)
            .unwrap()
            .first()
            .is_some_and(|t| t.engineer.is_some())
    })
    .await
    .unwrap();
    let assigned = store.tickets(&Scope::Operator).unwrap()[0]
        .engineer
        .clone()
        .unwrap();

    // Both report where they are.
    for (c, lat) in [(&li, 31.23), (&bo, 31.30)] {
        let (status, v) = c
            .post(
                "/api/v1/engineer/position",
                json!({"lat": lat, "lon": 121.47, "accuracy_m": 12.0}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }
    let (_, staff) = ops.get("/api/v1/map").await;
    assert_eq!(engineers_on(&staff), ["eng-0", "eng-1"], "{staff}");
    for e in staff["engineers"].as_array().unwrap() {
        assert_eq!(e["reported"], true, "{e}");
        assert_eq!(e["stale"], false, "{e}");
        assert_eq!(e["accuracy_m"], 12.0, "{e}");
        assert!(e["at_local"].as_str().unwrap().starts_with("20"), "{e}");
    }
    // The customer: only the engineer of its own open ticket; the other tenant: nobody.
    alice.language = None;
    let (_, own) = alice.get("/api/v1/map").await;
    assert_eq!(engineers_on(&own), vec![assigned], "{own}");
    let (_, other) = gina.get("/api/v1/map").await;
    assert_eq!(engineers_on(&other), Vec::<String>::new(), "{other}");

    // Stale once `position_stale` has passed (polled, as `eventually` does).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (_, m) = ops.get("/api/v1/map").await;
        if m["engineers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["stale"] == true)
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never stale: {m}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    th.hub.shutdown().await.unwrap();
}
