//! Dispatch end to end through the running hub: a device's fault opens a ticket, the chosen
//! engineer's gRPC stream (and SSE) receives it, the engineer accepts, goes on site and resolves
//! it through the API, the device's own reports verify the repair and the ticket closes, with
//! every step and its actor on the timeline. The webhook gets the dispatch, signed, and a retry
//! after a lost answer is dropped by its idempotency key.

use heartline_e2e::{
    Device, EngineerClient, Fleet, Protocol, TestHub, WebhookReceiver, engineer_client, eventually,
    ids,
};
use heartline_proto::wire;
use std::time::Duration;
use toml::Spanned;

const SECRET: &str = "a-webhook-secret-of-some-length";

fn action(ticket: &str, note: &str) -> wire::TicketActionRequest {
    wire::TicketActionRequest {
        ticket_id: ticket.into(),
        note: note.into(),
        to_engineer_id: String::new(),
    }
}

async fn next(stream: &mut tonic::Streaming<wire::Assignment>) -> anyhow::Result<wire::Assignment> {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await??
        .ok_or_else(|| anyhow::anyhow!("the stream ended"))
}

/// Connects acme-0 and has it report a critical check (ticket-worthy), acknowledged.
async fn failing_device(th: &TestHub, fleet: &Fleet) -> Device {
    let mut dev = Device::connect(th.hub.mqtt_v4, fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    let mut r = dev.report(1);
    r.checks[0].status = wire::CheckStatus::Crit as i32;
    r.next_checkin_s = 3600;
    dev.send(&r).await.unwrap();
    dev.wait_ack(1, 1).await.unwrap();
    dev
}

fn state(t: &wire::Ticket) -> wire::TicketState {
    wire::TicketState::try_from(t.state).unwrap()
}

/// The body of the first SSE event of the engineer's queue.
async fn first_sse_event(http: std::net::SocketAddr, token: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(http).await?;
    let req = format!(
        "GET /api/v1/engineer/assignments HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = tokio::time::timeout_at(deadline, s.read(&mut buf)).await??;
        anyhow::ensure!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(at) = text.find("event: assignment") {
            if let Some(end) = text[at..].find("\n\n") {
                return Ok(text[at..at + end].to_string());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_is_dispatched_worked_verified_and_closed_with_every_step_on_the_timeline() {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 1))]);
    let engineers = fleet.with_engineers("acme", 2);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = WebhookReceiver::serve(listener, SECRET.as_bytes().to_vec(), true);
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("webhook.secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    let th = TestHub::start_with(&fleet, |c| {
        c.detection.recovery_confirm = 300;
        c.detection.verify = 1_000;
        c.notify.webhook_url = Some(Spanned::new(0..0, hook));
        c.notify.webhook_secret_file = Some(Spanned::new(0..0, secret_file));
        c.notify.retry_max_ms = 200;
    })
    .await
    .unwrap();
    let http = th.hub.http;
    let (e0, e1) = (&engineers[0], &engineers[1]);
    let mut me: EngineerClient = engineer_client(http, &e0.1).await.unwrap();
    let mut other = engineer_client(http, &e1.1).await.unwrap();
    let mut queue = me
        .watch_assignments(wire::WatchAssignmentsRequest {})
        .await
        .unwrap()
        .into_inner();

    // A wrong token is refused, with what to do about it.
    let mut forged = engineer_client(http, "not-a-token-anyone-has")
        .await
        .unwrap();
    let err = forged
        .watch_assignments(wire::WatchAssignmentsRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert!(err.message().contains("not valid"), "{}", err.message());

    // The device reports a critical check: a ticket, dispatched to the least busy engineer.
    let mut dev = failing_device(&th, &fleet).await;
    let a = next(&mut queue).await.unwrap();
    let t = a.ticket.unwrap();
    assert_eq!(state(&t), wire::TicketState::Dispatched);
    assert_eq!(t.engineer_id, e0.0);
    assert_eq!(
        a.reason,
        "chosen: eng-0 — covers region acme-r, skill sensor, 0 open tickets"
    );
    let id = t.ticket_id.clone();

    // The same queue over SSE.
    let event = first_sse_event(http, &e0.1).await.unwrap();
    assert!(event.contains(&format!("\"ticket_id\":{id}")), "{event}");
    assert!(event.contains("\"state\":\"dispatched\""), "{event}");

    // Another engineer cannot touch it; it does not exist for them.
    let err = other.accept(action(&id, "")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    // Nor can the right engineer skip a step.
    let err = me.resolve(action(&id, "")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(err.message().contains("accept the ticket first"));

    let t = me.accept(action(&id, "")).await.unwrap().into_inner();
    assert_eq!(state(&t), wire::TicketState::Accepted);
    assert_eq!(
        state(&next(&mut queue).await.unwrap().ticket.unwrap()),
        wire::TicketState::Accepted
    );
    me.on_site(action(&id, "")).await.unwrap();
    me.add_note(action(&id, "PoE injector dead")).await.unwrap();
    let t = me
        .resolve(action(&id, "replaced the PoE injector"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&t), wire::TicketState::Resolved);

    // The device's own health verifies the repair.
    let mut r = dev.report(2);
    r.next_checkin_s = 3600;
    dev.send(&r).await.unwrap();
    dev.wait_ack(1, 2).await.unwrap();
    let closed = loop {
        let t = next(&mut queue).await.unwrap().ticket.unwrap();
        if state(&t) == wire::TicketState::Closed {
            break t;
        }
    };
    let steps: Vec<(String, String, String)> = closed
        .timeline
        .iter()
        .map(|e| (e.actor_kind.clone(), e.actor.clone(), e.what.clone()))
        .collect();
    let expected: [(&str, &str, &str); 9] = [
        ("system", "", "opened: rtsp CRIT"),
        ("system", "", "chosen: eng-0"),
        ("system", "", "open → dispatched: dispatched to eng-0"),
        ("engineer", "eng-0", "dispatched → accepted"),
        ("engineer", "eng-0", "accepted → on site"),
        ("engineer", "eng-0", "note: PoE injector dead"),
        (
            "engineer",
            "eng-0",
            "on site → resolved, awaiting verification: replaced the PoE injector",
        ),
        ("system", "", "verifying: the device must stay healthy"),
        (
            "system",
            "",
            "resolved, awaiting verification → closed: verified",
        ),
    ];
    let mut at = 0;
    for (kind, who, what) in expected {
        let found = steps[at..]
            .iter()
            .position(|(k, w, s)| k == kind && w == who && s.starts_with(what));
        let Some(found) = found else {
            panic!("no step ({kind}, {who}, {what}) after step {at} in {steps:#?}");
        };
        at += found + 1;
    }

    // The webhook was told of the dispatch, signed; the retry after the lost answer was
    // recognised by its key and processed once.
    eventually("the dispatch notice reached the webhook", || {
        receiver
            .processed()
            .iter()
            .any(|n| n["kind"] == "dispatched" && n["to"] == "eng-0")
    })
    .await
    .unwrap();
    let requests = receiver.requests();
    assert!(requests.iter().all(|r| r.signed_ok));
    let key = requests[0].key.clone();
    assert!(
        requests.iter().filter(|r| r.key == key).count() >= 2,
        "the first answer was lost, so the hub sent it again"
    );
    let processed = receiver.processed();
    let mut keys: Vec<&str> = requests.iter().map(|r| r.key.as_str()).collect();
    keys.dedup();
    assert_eq!(processed.len(), {
        let mut k = keys.clone();
        k.sort();
        k.dedup();
        k.len()
    });
    th.hub.shutdown().await.unwrap();
}

/// Runs `heartline-hub engineer ...` (the real CLI) as `token`'s owner.
fn cli(http: std::net::SocketAddr, token: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hub"))
        .arg("engineer")
        .arg("--hub")
        .arg(format!("http://{http}"))
        .args(args)
        .env("HEARTLINE_TOKEN", token)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engineer_command_line_shows_the_queue_and_acts() {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 1))]);
    let engineers = fleet.with_engineers("acme", 1);
    let th = TestHub::start(&fleet).await.unwrap();
    let http = th.hub.http;
    let token = engineers[0].1.clone();
    let _dev = failing_device(&th, &fleet).await;
    eventually("a dispatched ticket", || {
        th.hub
            .store()
            .engineer_queue("eng-0")
            .is_ok_and(|q| q.len() == 1)
    })
    .await
    .unwrap();

    let (ok, out) = tokio::task::spawn_blocking(move || cli(http, &token, &["queue"]))
        .await
        .unwrap();
    assert!(ok, "{out}");
    assert!(
        out.contains("#1") && out.contains("dispatched") && out.contains("acme-0"),
        "{out}"
    );

    let token = engineers[0].1.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || cli(http, &token, &["accept", "1"]))
        .await
        .unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("accepted"), "{out}");

    // Mistakes come back as messages a person can act on, with a failing exit code.
    let token = engineers[0].1.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || cli(http, &token, &["accept", "1"]))
        .await
        .unwrap();
    assert!(!ok);
    assert!(
        out.contains("only a dispatched ticket can be accepted"),
        "{out}"
    );
    let (ok, out) =
        tokio::task::spawn_blocking(move || cli(http, "wrong-token-wrong-token", &["queue"]))
            .await
            .unwrap();
    assert!(!ok);
    assert!(out.contains("token is not valid"), "{out}");
    th.hub.shutdown().await.unwrap();
}
