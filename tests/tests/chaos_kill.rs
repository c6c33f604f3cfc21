//! Chaos: the real hub process is SIGKILLed every few seconds while 1,000 devices report through
//! it, then restarted on the same store and ports. Each device behaves as the agent does: an
//! outbox of unacknowledged reports, re-sent after every reconnect or when acks stop coming.
//! After the run every report every device produced is in the store exactly once, each of the 20
//! faults opened exactly one ticket, and the restarts opened no heartbeat-loss ticket.
//!
//! `CHAOS_SECS` sets the length of the kill phase (120 s by default).

use heartline_e2e::{
    Fleet, HubProcess, assert_history_exact, free_port, ids, now_ms, sample_report,
};
use heartline_engine::FaultKind;
use heartline_hub::store::{Scope, Store};
use heartline_proto::envelope::{open, seal};
use heartline_proto::{Channel, wire};
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

const HUB: &str = env!("CARGO_BIN_EXE_hub");
const TENANTS: usize = 20;
const PER_TENANT: usize = 50;
/// Every device produces a report this often.
const PERIOD: Duration = Duration::from_secs(2);
/// The first device of each tenant reports a CRIT check from this sequence on.
const FAULT_FROM: u64 = 5;
/// Without any ack for this long, a device re-sends its whole outbox (as the agent does).
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// What one device produced and what the hub acknowledged to it.
#[derive(Default)]
struct Tally {
    produced: AtomicU64,
    acked: AtomicU64,
    reconnects: AtomicU64,
}

/// One device: produces a report every [`PERIOD`] until `stop`, keeps what is unacknowledged,
/// reconnects with jitter whenever the hub goes away, and returns once `stop` is set and its
/// outbox is empty.
async fn device(
    creds: heartline_e2e::DeviceCreds,
    port: u16,
    faulty: bool,
    mut stop: watch::Receiver<bool>,
    tally: Arc<Tally>,
    seed: u64,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let ack_topic = creds.topic(Channel::Ack);
    let report_topic = creds.topic(Channel::Report);
    let mut outbox: VecDeque<Vec<u8>> = VecDeque::new();
    let mut first_unacked = 1u64;
    let mut produced = 0u64;
    let mut stopping = false;
    let start = Instant::now() + Duration::from_millis(rng.random_range(0..2000));
    let mut tick = tokio::time::interval_at(start, PERIOD);
    loop {
        let mut o = rumqttc::MqttOptions::new(creds.id.clone(), "127.0.0.1", port);
        o.set_credentials(creds.id.clone(), creds.token.clone())
            .set_keep_alive(Duration::from_secs(30))
            .set_inflight(200);
        let (client, mut events) = rumqttc::AsyncClient::new(o, 4_096);
        let _ = client.try_subscribe(ack_topic.clone(), rumqttc::QoS::AtLeastOnce);
        let mut subscribed = false;
        let mut last_progress = Instant::now();
        let mut resend = tokio::time::interval(ACK_TIMEOUT);
        let publish_all = |outbox: &VecDeque<Vec<u8>>| {
            for r in outbox {
                let _ = client.try_publish(
                    report_topic.clone(),
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    r.clone(),
                );
            }
        };
        let lost = loop {
            if stopping && outbox.is_empty() {
                let _ = client.try_disconnect();
                return;
            }
            tokio::select! {
                ev = events.poll() => match ev {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                        subscribed = true;
                        publish_all(&outbox);
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) if p.topic == ack_topic => {
                        let Ok(ack) = open::<wire::Ack>(&creds.key, &p.payload) else { continue };
                        while first_unacked <= ack.sequence && !outbox.is_empty() {
                            outbox.pop_front();
                            first_unacked += 1;
                        }
                        tally.acked.fetch_max(ack.sequence, Ordering::AcqRel);
                        last_progress = Instant::now();
                    }
                    Ok(_) => {}
                    Err(_) => break true,
                },
                _ = tick.tick(), if !stopping => {
                    produced += 1;
                    let mut r = sample_report(&creds.id, 1, produced);
                    r.sent_at_ms = now_ms();
                    r.next_checkin_s = 30;
                    if faulty && produced >= FAULT_FROM {
                        r.checks[0].status = wire::CheckStatus::Crit as i32;
                        r.checks[0].message = "RTSP CRITICAL: no stream".into();
                    }
                    let sealed = seal(&creds.key, &r);
                    if subscribed {
                        let _ = client.try_publish(report_topic.clone(), rumqttc::QoS::AtLeastOnce, false, sealed.clone());
                    }
                    outbox.push_back(sealed);
                    tally.produced.store(produced, Ordering::Release);
                }
                _ = resend.tick() => {
                    if subscribed && !outbox.is_empty() && last_progress.elapsed() >= ACK_TIMEOUT {
                        publish_all(&outbox);
                        last_progress = Instant::now();
                    }
                }
                _ = stop.changed(), if !stopping => stopping = true,
            }
        };
        if lost {
            tally.reconnects.fetch_add(1, Ordering::Relaxed);
            drop(events);
            tokio::time::sleep(Duration::from_millis(rng.random_range(100..800))).await;
        }
    }
}

/// Starts `heartline-hub run` on the fixed ports, off the async threads (it blocks until ready).
async fn start_hub(dir: &Path, ports: [u16; 3]) -> HubProcess {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || HubProcess::spawn(HUB, &dir, ports, ""))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_every_few_seconds_under_1000_devices_loses_and_duplicates_nothing() {
    let secs: u64 = std::env::var("CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let tenants: Vec<(String, Vec<String>)> = (0..TENANTS)
        .map(|t| (format!("t{t:02}"), ids(&format!("t{t:02}-d"), PER_TENANT)))
        .collect();
    let borrowed: Vec<(&str, Vec<String>)> = tenants
        .iter()
        .map(|(t, d)| (t.as_str(), d.clone()))
        .collect();
    let fleet = Fleet::new(&borrowed);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let mut hub = start_hub(dir.path(), ports).await;

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tallies = Vec::new();
    let mut tasks = Vec::new();
    let mut faulty_ids = Vec::new();
    for (i, creds) in fleet.devices.iter().enumerate() {
        let faulty = i % PER_TENANT == 0;
        if faulty {
            faulty_ids.push(creds.id.clone());
        }
        let tally = Arc::new(Tally::default());
        tallies.push(tally.clone());
        tasks.push(tokio::spawn(device(
            creds.clone(),
            ports[0],
            faulty,
            stop_rx.clone(),
            tally,
            i as u64,
        )));
    }
    let acked = |t: &[Arc<Tally>]| {
        t.iter()
            .map(|t| t.acked.load(Ordering::Acquire))
            .sum::<u64>()
    };

    // The kill schedule: a seeded pause of 2–6 s, SIGKILL, restart on the same store and ports.
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261124);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut lives = Vec::new();
    while Instant::now() < end {
        let before = acked(&tallies);
        tokio::time::sleep(Duration::from_millis(rng.random_range(2000..6000))).await;
        hub.child.kill().unwrap();
        hub.child.wait().unwrap();
        lives.push(acked(&tallies) - before);
        hub = start_hub(dir.path(), ports).await;
    }

    // Stop producing; every device empties its outbox into the last hub.
    stop_tx.send(true).unwrap();
    let drained = tokio::time::timeout(Duration::from_secs(180), async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    let produced: Vec<u64> = tallies
        .iter()
        .map(|t| t.produced.load(Ordering::Acquire))
        .collect();
    let reconnects: u64 = tallies
        .iter()
        .map(|t| t.reconnects.load(Ordering::Relaxed))
        .sum();
    let total: u64 = produced.iter().sum();
    eprintln!(
        "chaos: {} kills in {secs} s, {total} reports produced, {reconnects} reconnects, \
         acks per life {lives:?}",
        lives.len()
    );
    assert!(
        drained.is_ok(),
        "devices still had unacknowledged reports 180 s after the last restart"
    );
    assert!(lives.len() >= 3, "only {} kills", lives.len());
    assert!(
        lives.iter().filter(|&&n| n > 0).count() * 2 >= lives.len(),
        "the hub made no progress in most of its lives: {lives:?}"
    );
    hub.stop();
    let log = std::fs::read_to_string(dir.path().join("hub.log")).unwrap();
    assert!(
        log.contains("fresh grace period"),
        "the restarted hub did not say it gave devices a fresh grace period:\n{log}"
    );

    // The store, opened by the test itself.
    let store = Store::open(&dir.path().join("store.redb"), 1_000_000).unwrap();
    for (creds, &n) in fleet.devices.iter().zip(&produced) {
        assert_history_exact(&store, &creds.id, n);
    }
    let tickets = store.tickets(&Scope::Operator).unwrap();
    let mut summary: Vec<String> = tickets
        .iter()
        .map(|t| format!("{} {:?} {:?}", t.device, t.root, t.state))
        .collect();
    summary.sort();
    assert_eq!(
        tickets.len(),
        faulty_ids.len(),
        "one ticket per fault expected, got: {summary:#?}"
    );
    for id in &faulty_ids {
        let mine: Vec<_> = tickets.iter().filter(|t| &t.device == id).collect();
        assert_eq!(mine.len(), 1, "{id}: {summary:#?}");
        assert!(
            matches!(&mine[0].root, FaultKind::Check { name } if name == "rtsp"),
            "{id}: {:?}",
            mine[0].root
        );
    }
}
