//! Webhook delivery survives the receiver being down for a minute, and the hub being killed with
//! SIGKILL meanwhile: the notices wait in the store's outbox, are retried with backoff, reach the
//! receiver once it is back, and none is processed twice (the idempotency key is the same on every
//! retry, across the restart too).

use heartline_e2e::{
    Device, Fleet, HubProcess, Protocol, WebhookReceiver, eventually, free_port, ids,
};
use heartline_proto::wire;
use std::time::{Duration, Instant};

const HUB: &str = env!("CARGO_BIN_EXE_hub");
const SECRET: &str = "another-webhook-secret-0123456789";
/// How long the receiver is down (`NOTIFY_OUTAGE_S` to change it).
fn outage() -> Duration {
    let s = std::env::var("NOTIFY_OUTAGE_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(s)
}

fn spawn(dir: &std::path::Path, ports: [u16; 3], hook_port: u16) -> HubProcess {
    let extra = format!(
        "[notify]\nwebhook_url = \"http://127.0.0.1:{hook_port}/hook\"\n\
         webhook_secret_file = \"webhook.secret\"\nretry_max = \"5s\"\n"
    );
    HubProcess::spawn(HUB, dir, ports, &extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_wait_out_a_receiver_outage_and_a_hub_sigkill_and_arrive_once() {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 3))]);
    fleet.with_engineers("acme", 2);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();
    std::fs::write(dir.path().join("webhook.secret"), SECRET).unwrap();
    let hook_port = free_port();
    let ports = [free_port(), free_port(), free_port()];
    let down_since = Instant::now();
    let mut hub = spawn(dir.path(), ports, hook_port);

    // Three faults: three dispatches, three notices, while nobody listens at the webhook.
    for d in &fleet.devices {
        let mut dev = Device::connect(hub.v4, d, Protocol::V4).await.unwrap();
        let mut r = dev.report(1);
        r.checks[0].status = wire::CheckStatus::Crit as i32;
        r.next_checkin_s = 3600;
        dev.send(&r).await.unwrap();
        dev.wait_ack(1, 1).await.unwrap();
    }
    let log = dir.path().join("hub.log");
    eventually("the hub says delivery failed and it will retry", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("notification not delivered; will retry")
    })
    .await
    .unwrap();

    // Half-way through the outage the hub is killed, then started again on the same store.
    tokio::time::sleep(outage() / 2).await;
    hub.child.kill().unwrap();
    hub.child.wait().unwrap();
    let hub = spawn(dir.path(), ports, hook_port);
    let remaining = outage().saturating_sub(down_since.elapsed());
    tokio::time::sleep(remaining).await;

    // The receiver comes back; it loses its first answer to every notice, so each is sent again.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", hook_port))
        .await
        .unwrap();
    let receiver = WebhookReceiver::serve(listener, SECRET.as_bytes().to_vec(), true);
    eventually("three dispatch notices processed", || {
        receiver.processed().len() >= 3
    })
    .await
    .unwrap();
    let processed = receiver.processed();
    assert_eq!(processed.len(), 3, "{processed:#?}");
    let mut tickets: Vec<u64> = processed
        .iter()
        .map(|n| {
            assert_eq!(n["kind"], "dispatched");
            n["ticket"].as_u64().unwrap()
        })
        .collect();
    tickets.sort_unstable();
    assert_eq!(tickets, vec![1, 2, 3], "one notice per ticket, none lost");
    let requests = receiver.requests();
    assert!(requests.iter().all(|r| r.signed_ok), "every POST is signed");
    assert!(
        requests.len() >= 6,
        "each notice was sent again after its lost answer: {} requests",
        requests.len()
    );
    hub.stop();
}
