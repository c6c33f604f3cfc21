//! Abuse limits against the running hub: one device flooding its report topic is held to its
//! per-device allowance (the excess refused, counted as `rate_limited` and not acknowledged)
//! while every report of the other devices is committed and acknowledged; nothing after the first
//! refused report is taken until the device sends that one again, so no report becomes a gap;
//! and the broker's
//! `mqtt.max_connections` turns away the connection beyond the limit.

use heartline_e2e::{Device, Fleet, Protocol, TestHub, eventually, ids, state_change};
use heartline_hub::ingest::RejectReason;
use heartline_hub::store::Scope;
use heartline_proto::envelope::seal;
use heartline_proto::{Channel, wire};
use std::time::{Duration, Instant};
use toml::Spanned;

const PER_MINUTE: i64 = 30;
const FLOOD: u64 = 2_000;
const QUIET: usize = 4;
const QUIET_REPORTS: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_device_is_held_to_its_allowance_and_the_others_get_through() {
    let fleet = Fleet::new(&[("acme", ids("acme", 1 + QUIET))]);
    let th = TestHub::start_with(&fleet, |c| {
        c.ingest.max_reports_per_minute = Spanned::new(0..0, PER_MINUTE);
        c.ingest.report_burst = Spanned::new(0..0, PER_MINUTE);
    })
    .await
    .unwrap();
    let started = Instant::now();

    // The noisy device publishes FLOOD reports as fast as its client can, without waiting.
    let noisy_creds = fleet.device("acme-0").clone();
    let noisy = Device::connect(th.hub.mqtt_v4, &noisy_creds, Protocol::V4)
        .await
        .unwrap();
    let flood = tokio::spawn(async move {
        let topic = noisy_creds.topic(Channel::Report);
        for seq in 1..=FLOOD {
            let payload = seal(&noisy_creds.key, &noisy.report(seq));
            noisy.publish(&topic, payload).await.unwrap();
        }
        noisy
    });

    // Meanwhile each quiet device sends its reports one at a time, each acknowledged.
    let mut quiet = Vec::new();
    for i in 1..=QUIET {
        let creds = fleet.device(&format!("acme-{i}")).clone();
        let mut dev = Device::connect(th.hub.mqtt_v4, &creds, Protocol::V4)
            .await
            .unwrap();
        quiet.push(tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            for seq in 1..=QUIET_REPORTS {
                let r = dev.report(seq);
                let sent = Instant::now();
                dev.send(&r).await.unwrap();
                dev.wait_ack(r.boot_id, seq).await.unwrap();
                slowest = slowest.max(sent.elapsed());
            }
            slowest
        }));
    }
    let mut slowest = Duration::ZERO;
    for q in quiet {
        slowest = slowest.max(q.await.unwrap());
    }
    let noisy = flood.await.unwrap();

    // Every flood report is either stored or refused as rate-limited, none both.
    let metrics = th.hub.metrics();
    eventually("the hub has handled the whole flood", || {
        th.stored_reports("acme-0") + metrics.rejected(RejectReason::RateLimited) == FLOOD
    })
    .await
    .unwrap();
    let elapsed = started.elapsed();
    let noisy_stored = th.stored_reports("acme-0");
    let limited = metrics.rejected(RejectReason::RateLimited);
    // The burst, and nothing after the first refused report (31) however many tokens came back.
    assert_eq!(noisy_stored, PER_MINUTE as u64);
    for i in 1..=QUIET {
        assert_eq!(
            th.stored_reports(&format!("acme-{i}")),
            QUIET_REPORTS,
            "acme-{i}"
        );
    }
    assert_eq!(metrics.rejected(RejectReason::Duplicate), 0);
    eprintln!(
        "rate limit: flood of {FLOOD} from one device → {noisy_stored} stored, {limited} refused \
         as rate_limited in {:.1} s; {QUIET} quiet devices × {QUIET_REPORTS} reports all \
         stored and acknowledged, slowest ack {} ms; the first refused report, re-sent, is \
         stored after them, no gap",
        elapsed.as_secs_f64(),
        slowest.as_millis()
    );

    // The noisy device sends the refused report again (as an agent does from its outbox when it
    // reconnects): it is taken once a token is back (one every 2 s here), and the history has no gap.
    let mut noisy = noisy;
    let next = PER_MINUTE as u64 + 1;
    let r = noisy.report(next);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        noisy.send(&r).await.unwrap();
        if let Ok(Ok(ack)) =
            tokio::time::timeout(Duration::from_millis(500), noisy.next_ack()).await
        {
            if ack.sequence >= next {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the re-sent report was never taken"
        );
    }
    let seqs: Vec<u64> = th
        .hub
        .store()
        .history(&Scope::Operator, "acme-0", usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.sequence)
        .collect();
    assert_eq!(seqs, (1..=next).collect::<Vec<_>>());
    drop(noisy);
    th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_presence_changes_takes_from_the_same_allowance() {
    const CHANGES: i64 = 500;
    let fleet = Fleet::new(&[("acme", ids("acme", 2))]);
    let th = TestHub::start_with(&fleet, |c| {
        c.ingest.max_reports_per_minute = Spanned::new(0..0, PER_MINUTE);
        c.ingest.report_burst = Spanned::new(0..0, PER_MINUTE);
    })
    .await
    .unwrap();
    let creds = fleet.device("acme-0");
    let noisy = Device::connect(th.hub.mqtt_v4, creds, Protocol::V4)
        .await
        .unwrap();
    // A connection that flaps: `online` after `online`, each a new connection (session) and
    // newer than the last, so none is stale. (An offline in between would be stale once its
    // online was refused: a will counts only for the connection that announced itself.)
    let topic = creds.topic(Channel::State);
    for i in 1..=CHANGES {
        noisy
            .publish(
                &topic,
                state_change(creds, wire::Presence::Online, i as u64, 1_000 + i),
            )
            .await
            .unwrap();
    }
    let metrics = th.hub.metrics();
    eventually("every presence change handled", || {
        metrics.states_committed.get() + metrics.rejected(RejectReason::RateLimited)
            == CHANGES as u64
    })
    .await
    .unwrap();
    assert_eq!(metrics.states_committed.get(), PER_MINUTE as u64);
    // The other device's report still goes through at once.
    let mut quiet = Device::connect(th.hub.mqtt_v4, fleet.device("acme-1"), Protocol::V4)
        .await
        .unwrap();
    let r = quiet.report(1);
    quiet.send(&r).await.unwrap();
    quiet.wait_ack(r.boot_id, 1).await.unwrap();
    eprintln!(
        "presence flood: {CHANGES} online/offline changes from one device → {} committed, {} \
         refused as rate_limited",
        metrics.states_committed.get(),
        metrics.rejected(RejectReason::RateLimited)
    );
    drop((noisy, quiet));
    th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_beyond_max_connections_is_not_served() {
    let fleet = Fleet::new(&[("acme", ids("acme", 4))]);
    // Per device listener; the hub's own link has a listener of its own.
    let th = TestHub::start_with(&fleet, |c| c.mqtt.max_connections = 3)
        .await
        .unwrap();
    let mut held = Vec::new();
    for i in 0..3 {
        let creds = fleet.device(&format!("acme-{i}"));
        held.push(
            Device::connect(th.hub.mqtt_v4, creds, Protocol::V4)
                .await
                .unwrap(),
        );
    }
    let fourth = fleet.device("acme-3");
    let refused = tokio::time::timeout(
        Duration::from_secs(3),
        Device::connect(th.hub.mqtt_v4, fourth, Protocol::V4),
    )
    .await;
    assert!(
        !matches!(refused, Ok(Ok(_))),
        "a fourth device was served beyond max_connections"
    );
    // The held devices are still served.
    let dev = &mut held[0];
    let r = dev.report(1);
    dev.send(&r).await.unwrap();
    dev.wait_ack(r.boot_id, 1).await.unwrap();
    // `broker_edge.rs` tests that the turned-away client coming back does no harm.
    drop(held);
    th.hub.shutdown().await.unwrap();
}
