//! Durability: the hub process is killed with SIGKILL while reports stream in, then restarted on
//! the same store. Every acknowledged report is there, none twice; devices re-send what was not
//! acknowledged (as their outbox does) and a SIGTERM then stops the hub cleanly.

use heartline_e2e::{Device, Fleet, HubProcess, Protocol, assert_history_exact, free_port, ids};
use heartline_hub::store::Store;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

const HUB: &str = env!("CARGO_BIN_EXE_hub");

/// Starts the real `heartline-hub run` on fresh ports.
fn spawn_hub(dir: &Path) -> HubProcess {
    HubProcess::spawn(HUB, dir, [free_port(), free_port(), free_port()], "")
}

/// Streams reports `from..` with at most `window` unacknowledged, until the connection dies or
/// `until` is reached. Returns the highest sequence handed to the client.
async fn stream(
    mut dev: Device,
    from: u64,
    until: u64,
    acked: Arc<AtomicU64>,
    window: u64,
    progress: Arc<Notify>,
) -> u64 {
    let mut sent = from - 1;
    while sent < until {
        // A re-sent duplicate is acked with the highest committed sequence, which may be ahead.
        if sent.saturating_sub(acked.load(Ordering::Acquire)) >= window {
            match dev.next_ack().await {
                Ok(a) => {
                    acked.fetch_max(a.sequence, Ordering::AcqRel);
                    progress.notify_one();
                }
                Err(_) => return sent,
            }
            continue;
        }
        if dev.send(&dev.report(sent + 1)).await.is_err() {
            return sent;
        }
        sent += 1;
    }
    while acked.load(Ordering::Acquire) < until {
        match dev.next_ack().await {
            Ok(a) => {
                acked.fetch_max(a.sequence, Ordering::AcqRel);
                progress.notify_one();
            }
            Err(_) => break,
        }
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_no_acknowledged_report_and_duplicates_none() {
    let fleet = Fleet::new(&[("acme", ids("dev", 4))]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();

    // Phase 1: stream until 400 reports are acknowledged in all, then SIGKILL.
    let mut hub = spawn_hub(dir.path());
    let acked: Vec<Arc<AtomicU64>> = fleet
        .devices
        .iter()
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    let progress = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for (i, creds) in fleet.devices.iter().enumerate() {
        let (addr, proto) = if i % 2 == 0 {
            (hub.v4, Protocol::V4)
        } else {
            (hub.v5, Protocol::V5)
        };
        let dev = Device::connect(addr, creds, proto).await.unwrap();
        tasks.push(tokio::spawn(stream(
            dev,
            1,
            u64::MAX,
            acked[i].clone(),
            50,
            progress.clone(),
        )));
    }
    let total = || acked.iter().map(|a| a.load(Ordering::Acquire)).sum::<u64>();
    while total() < 400 {
        progress.notified().await;
    }
    hub.child.kill().unwrap(); // SIGKILL
    hub.child.wait().unwrap();
    let mut sent = Vec::new();
    for t in tasks {
        sent.push(t.await.unwrap());
    }
    let acked_before: Vec<u64> = acked.iter().map(|a| a.load(Ordering::Acquire)).collect();
    assert!(acked_before.iter().sum::<u64>() >= 400);

    // Phase 2: restart on the same store. Every device re-sends from a little before its last ack
    // (its ack may have been lost) up to past what it had sent, then the hub gets SIGTERM.
    let hub = spawn_hub(dir.path());
    let mut tasks = Vec::new();
    let mut finals = Vec::new();
    for (i, creds) in fleet.devices.iter().enumerate() {
        let dev = Device::connect(hub.v4, creds, Protocol::V4).await.unwrap();
        let from = acked_before[i].saturating_sub(10).max(1);
        let until = sent[i] + 20;
        finals.push(until);
        let counter = Arc::new(AtomicU64::new(from - 1));
        tasks.push(tokio::spawn(stream(
            dev,
            from,
            until,
            counter,
            50,
            Arc::new(Notify::new()),
        )));
    }
    for (t, until) in tasks.into_iter().zip(&finals) {
        assert_eq!(t.await.unwrap(), *until);
    }
    hub.stop();

    // The store, opened by the test itself: exactly 1..=final for every device, each once.
    let store = Store::open(&dir.path().join("store.redb"), 1_000_000).unwrap();
    for (creds, until) in fleet.devices.iter().zip(&finals) {
        assert_history_exact(&store, &creds.id, *until);
    }
}
