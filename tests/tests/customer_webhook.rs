//! The customer is told through its tenant's webhook (inventory `webhook`, `webhook_secret`),
//! received by a real HTTP server the test starts (`WebhookReceiver`, axum): a fault → one signed
//! notice per step (detected, on site, resolved, confirmed) in the tenant's language, with the
//! ticket link and the times in the tenant's zone and in UTC. With the receiver down and the hub
//! killed with SIGKILL meanwhile, the notice still reaches the receiver once: every attempt
//! carries the same `Idempotency-Key` (the outbox id, stored, so stable across the restart) and
//! the receiver acts on a key once. A receiver that answers 4xx has its notice dropped, not
//! retried forever, and the other tenant's notices are not held back; nor are they by a receiver
//! that is down, whose own tenant's notices wait for it.

use heartline_e2e::{
    Device, Fleet, Protocol, TestHub, WebhookReceiver, eventually, free_port, ids,
    killed_while_undelivered, work_ticket,
};
use heartline_engine::TicketState;
use heartline_hub::store::{Scope, Store};

const HUB: &str = env!("CARGO_BIN_EXE_hub");
const ACME_SECRET: &str = "acme-customer-hook-secret-0123";
const GLOBEX_SECRET: &str = "globex-customer-hook-secret-45";

/// acme reads Chinese (the default), globex English; each with a webhook at the given URL.
fn fleet(acme_url: &str, globex_url: &str) -> Fleet {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 1)), ("globex", ids("globex", 1))]);
    fleet.inventory = fleet
        .inventory
        .replace(
            "name = \"Tenant acme\"\n",
            &format!(
                "name = \"Tenant acme\"\nwebhook = \"{acme_url}\"\nwebhook_secret = \"{ACME_SECRET}\"\n"
            ),
        )
        .replace(
            "name = \"Tenant globex\"\n",
            &format!(
                "name = \"Tenant globex\"\nlanguage = \"en\"\nwebhook = \"{globex_url}\"\n\
                 webhook_secret = \"{GLOBEX_SECRET}\"\n"
            ),
        );
    fleet
}

async fn receiver(secret: &str, fail_first: bool) -> (WebhookReceiver, u16) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (
        WebhookReceiver::serve(listener, secret.as_bytes().to_vec(), fail_first),
        port,
    )
}

/// The same instant, local (RFC 3339 with the zone's offset) and UTC.
fn same_instant(when: &serde_json::Value, offset: &str) {
    let local = when["local"].as_str().unwrap();
    let utc = when["utc"].as_str().unwrap();
    assert!(local.ends_with(offset), "{when}");
    assert!(utc.ends_with('Z'), "{when}");
    let parse = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    assert_eq!(parse(local), parse(utc), "{when}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_webhook_gets_each_step_once_in_the_tenants_language() {
    let (acme_rx, acme_port) = receiver(ACME_SECRET, false).await;
    let (globex_rx, globex_port) = receiver(GLOBEX_SECRET, false).await;
    let mut fleet = fleet(
        &format!("http://127.0.0.1:{acme_port}/hook"),
        &format!("http://127.0.0.1:{globex_port}/hook"),
    );
    fleet.with_engineers("acme", 1);
    let li = fleet.with_user("li", "engineer", "eng-0");
    let th = TestHub::start_with(&fleet, |c| {
        c.notify.base_url = Some("https://hub.example".into());
        c.notify.retry_max_ms = 500;
        c.detection.recovery_confirm = 300;
        c.detection.verify = 500;
    })
    .await
    .unwrap();
    let store = th.hub.store();
    let mut acme = Device::connect(th.hub.mqtt_v4, fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    acme.check_in(1, false).await;
    acme.check_in(2, true).await;
    eventually("the detected notice", || !acme_rx.processed().is_empty())
        .await
        .unwrap();
    let ticket = store.tickets(&Scope::Operator).unwrap()[0].clone();

    work_ticket(th.hub.http, "li", &li, ticket.id).await;
    acme.check_in(3, false).await;
    eventually("closed after verification", || {
        store
            .ticket(&Scope::Operator, ticket.id)
            .unwrap()
            .is_some_and(|t| t.state == TicketState::Closed)
    })
    .await
    .unwrap();
    let mut globex = Device::connect(th.hub.mqtt_v4, fleet.device("globex-0"), Protocol::V4)
        .await
        .unwrap();
    globex.check_in(1, true).await;
    eventually("every notice delivered", || {
        acme_rx.processed().len() >= 4
            && !globex_rx.processed().is_empty()
            && store.pending_customer_hooks(10).unwrap().is_empty()
    })
    .await
    .unwrap();

    // acme: four steps, one request each (none repeated), signed, in Chinese, Shanghai time.
    let requests = acme_rx.requests();
    assert_eq!(requests.len(), 4, "{requests:#?}");
    assert!(requests.iter().all(|r| r.signed_ok));
    let steps: Vec<&str> = requests
        .iter()
        .map(|r| r.body["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["detected", "onsite", "resolved", "confirmed"]);
    let first = &requests[0].body;
    assert_eq!(first["ticket"], ticket.id);
    assert_eq!(first["tenant"], "acme");
    assert_eq!(first["lang"], "zh-CN");
    assert_eq!(first["zone"], "Asia/Shanghai");
    assert_eq!(first["engineer"], "eng-0");
    assert_eq!(
        first["link"],
        format!("https://hub.example/#/ticket/{}", ticket.id)
    );
    assert_eq!(first["idempotency_key"], requests[0].key.as_str());
    let text = first["text"].as_str().unwrap();
    assert!(text.contains("我们在您报告之前发现了故障"), "{text}");
    let repair_by = heartline_hub::localtime::Zone::default().format(ticket.repair_by);
    assert!(text.contains(&repair_by), "{repair_by}: {text}");
    same_instant(&first["at"], "+08:00");
    same_instant(&first["repair_by"], "+08:00");
    assert!(
        requests[1].body["text"]
            .as_str()
            .unwrap()
            .contains("工程师 eng-0 已到达现场")
    );
    assert!(
        requests[3].body["text"]
            .as_str()
            .unwrap()
            .contains("设备上报确认修复完成")
    );

    // globex: its one notice in English, to its own receiver only.
    let g = globex_rx.requests();
    assert_eq!(g.len(), 1, "{g:#?}");
    assert!(g[0].signed_ok);
    assert_eq!(g[0].body["tenant"], "globex");
    assert_eq!(g[0].body["lang"], "en");
    assert!(
        g[0].body["text"]
            .as_str()
            .unwrap()
            .contains("We detected a fault before you had to report it"),
        "{}",
        g[0].body
    );
    th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_receiver_down_and_the_hub_killed_the_notice_arrives_once() {
    let hook_port = free_port();
    let other_port = free_port();
    let fleet = fleet(
        &format!("http://127.0.0.1:{hook_port}/hook"),
        &format!("http://127.0.0.1:{other_port}/hook"),
    );
    let dir = tempfile::tempdir().unwrap();
    let extra = "[notify]\nretry_max = \"1s\"\nbase_url = \"https://hub.example\"\n";
    // Killed while the notice waits; started again on the same store; the receiver comes up and
    // loses its first answer to each key (500 after it saw the notice), so the hub sends again.
    let hub = killed_while_undelivered(
        HUB,
        &fleet,
        dir.path(),
        extra,
        "acme-0",
        "customer webhook notice not delivered; will retry",
    )
    .await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", hook_port))
        .await
        .unwrap();
    let rx = WebhookReceiver::serve(listener, ACME_SECRET.as_bytes().to_vec(), true);
    eventually("the notice is processed", || !rx.processed().is_empty())
        .await
        .unwrap_or_else(|e| {
            let log = std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default();
            panic!("{e}\n{log}")
        });
    hub.stop();
    let store = Store::open(&dir.path().join("store.redb"), 10).unwrap();
    assert!(store.pending_customer_hooks(10).unwrap().is_empty());
    let requests = rx.requests();
    assert!(requests.len() >= 2, "the lost answer was retried");
    assert!(
        requests.iter().all(|r| r.key == "heartline-customer-1"),
        "one key on every attempt, across the restart: {requests:#?}"
    );
    assert_eq!(rx.processed().len(), 1, "acted on once");
    assert_eq!(rx.processed()[0]["step"], "detected");
    let log = std::fs::read_to_string(dir.path().join("hub.log")).unwrap();
    assert!(!log.contains(ACME_SECRET), "the secret is in the log");
}

/// acme's notice first, at `acme_url` (which fails), then globex's at a receiver that takes it;
/// returns once globex's was processed, with the hub still running.
async fn acme_fails_then_globex(acme_url: impl Fn(u16) -> String) -> (TestHub, WebhookReceiver) {
    let (rx, port) = receiver(GLOBEX_SECRET, false).await;
    let fleet = fleet(&acme_url(port), &format!("http://127.0.0.1:{port}/hook"));
    let th = TestHub::start_with(&fleet, |c| c.notify.retry_max_ms = 60_000)
        .await
        .unwrap();
    let store = th.hub.store();
    let mut acme = Device::connect(th.hub.mqtt_v4, fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    acme.check_in(1, true).await;
    eventually("acme's ticket", || {
        !store.tickets(&Scope::Operator).unwrap().is_empty()
    })
    .await
    .unwrap();
    let mut globex = Device::connect(th.hub.mqtt_v4, fleet.device("globex-0"), Protocol::V4)
        .await
        .unwrap();
    globex.check_in(1, true).await;
    eventually("globex's notice arrives behind acme's", || {
        !rx.processed().is_empty()
    })
    .await
    .unwrap_or_else(|e| {
        let pending = store.pending_customer_hooks(10).unwrap();
        panic!("{e}: outbox {pending:?}")
    });
    let all = rx.requests();
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].body["tenant"], "globex");
    (th, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_refused_with_4xx_is_dropped_and_does_not_hold_back_the_others() {
    // acme's URL is a path the receiver does not serve: 404, for good.
    let (th, _rx) =
        acme_fails_then_globex(|port| format!("http://127.0.0.1:{port}/no-such-hook")).await;
    let store = th.hub.store();
    eventually("the outbox empties: acme's notice dropped", || {
        store.pending_customer_hooks(10).unwrap().is_empty()
    })
    .await
    .unwrap();
    th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_holds_back_only_its_own_tenant() {
    // acme's receiver is down: nothing listens on its port.
    let down = free_port();
    let (th, _rx) = acme_fails_then_globex(|_| format!("http://127.0.0.1:{down}/hook")).await;
    // acme's waits for its receiver, kept for the next attempt; globex's leaves the outbox once
    // the hub has read its receiver's answer (just after the receiver counted it).
    let store = th.hub.store();
    eventually("only acme's notice left in the outbox", || {
        let pending = store.pending_customer_hooks(10).unwrap();
        pending.len() == 1 && pending[0].1.tenant == "acme"
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {:?}", store.pending_customer_hooks(10)));
    th.hub.shutdown().await.unwrap();
}
