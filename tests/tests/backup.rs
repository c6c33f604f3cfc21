//! Backup and restore end to end: `heartline-hub backup FILE` (the real CLI) copies the store of
//! a hub running in its own process (which holds redb's lock) through the hub's control socket,
//! while a device keeps committing reports; a hub started on the copy has every device's reports
//! as a gap-free prefix, the ticket, and an intact audit chain, and carries on ingesting. With the
//! hub stopped, the CLI copies the file itself.

use heartline_e2e::{Device, Fleet, HubProcess, Protocol, free_port, ids, output_of};
use heartline_hub::Hub;
use heartline_hub::audit::Verdict;
use heartline_hub::config::HubConfig;
use heartline_hub::store::{Scope, Store};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const HUB: &str = env!("CARGO_BIN_EXE_hub");
const DEVICES: usize = 8;
const REPORTS: u64 = 100;

/// Runs `heartline-hub backup FILE`; (exit success, stdout, stderr).
fn backup(config: &Path, file: &Path) -> (bool, String, String) {
    output_of(
        std::process::Command::new(HUB)
            .arg("backup")
            .arg(file)
            .arg("--config")
            .arg(config),
    )
}

/// Each device's committed report count, checking that its history is exactly sequences
/// 1..=count (boot 1): a consistent snapshot has no gap and no report twice.
fn committed(store: &Store, fleet: &Fleet) -> Vec<u64> {
    fleet
        .devices
        .iter()
        .map(|d| {
            let state = store
                .device_state(&Scope::Operator, &d.id)
                .unwrap()
                .unwrap_or_default();
            let history = store.history(&Scope::Operator, &d.id, usize::MAX).unwrap();
            let seqs: Vec<u64> = history.iter().map(|r| r.sequence).collect();
            let expected: Vec<u64> = (1..=state.reports).collect();
            assert_eq!(
                seqs, expected,
                "{}: history is not 1..={}",
                d.id, state.reports
            );
            state.reports
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_reports_arrive_restores_to_a_working_hub() {
    let fleet = Fleet::new(&[("acme", ids("acme", DEVICES))]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let hub = HubProcess::spawn(HUB, dir.path(), ports, "");
    let config = dir.path().join("hub.toml");

    // Every device commits REPORTS reports; acme-0's first is critical (a ticket).
    let mut devices = Vec::new();
    for creds in &fleet.devices {
        let mut dev = Device::connect(hub.v4, creds, Protocol::V4).await.unwrap();
        for seq in 1..=REPORTS {
            let r = match (creds.id.as_str(), seq) {
                ("acme-0", 1) => dev.critical_report(seq),
                _ => dev.report(seq),
            };
            dev.send(&r).await.unwrap();
        }
        let boot = dev.report(1).boot_id;
        dev.wait_ack(boot, REPORTS).await.unwrap();
        devices.push(dev);
    }

    // Every device keeps reporting, one acknowledged report after another, during the backup.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = devices
        .into_iter()
        .map(|mut dev| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut seq = REPORTS;
                while !stop.load(Ordering::Acquire) {
                    seq += 1;
                    let r = dev.report(seq);
                    dev.send(&r).await.unwrap();
                    dev.wait_ack(r.boot_id, seq).await.unwrap();
                }
                (dev, seq)
            })
        })
        .collect();
    let copy = dir.path().join("copy.redb");
    let (ok, out, err) = {
        let (config, copy) = (config.clone(), copy.clone());
        tokio::task::spawn_blocking(move || backup(&config, &copy))
            .await
            .unwrap()
    };
    stop.store(true, Ordering::Release);
    let mut devices = Vec::new();
    let mut last_sent = Vec::new();
    for w in writers {
        let (dev, seq) = w.await.unwrap();
        devices.push(dev);
        last_sent.push(seq);
    }
    assert!(ok, "backup failed: {out}{err}");
    assert!(out.starts_with("backup written to"), "{out}");
    assert!(err.contains("copied history"), "no progress shown: {err}");
    assert!(err.contains("copied audit"), "no progress shown: {err}");
    // A backup never overwrites.
    let (ok, _, err) = backup(&config, &copy);
    assert!(!ok);
    assert!(err.contains("exists"), "{err}");
    drop(devices);
    hub.stop();
    assert!(
        !dir.path().join("store.redb.sock").exists(),
        "control socket left behind"
    );

    // Restore: a hub on the copy.
    let restored_dir = tempfile::tempdir().unwrap();
    let restored_file = restored_dir.path().join("store.redb");
    std::fs::copy(&copy, &restored_file).unwrap();
    let mut restore_config = HubConfig::ephemeral(restored_file);
    restore_config.store.history_len = 1_000_000;
    let restored = Hub::start(restore_config).await.unwrap();
    let store = restored.store();
    let counts = committed(store, &fleet);
    for (i, n) in counts.iter().enumerate() {
        assert!(
            (REPORTS..=last_sent[i]).contains(n),
            "acme-{i}: {n} not in {REPORTS}..={}",
            last_sent[i]
        );
    }
    let tickets = store.tickets(&Scope::Operator).unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:#?}");
    assert_eq!(tickets[0].device, "acme-0");
    let Verdict::Intact { records, .. } = store.verify_audit().unwrap() else {
        panic!("audit chain broken in the copy");
    };
    assert!(records > 0);
    eprintln!(
        "backup under load: {} reports in the copy, {} more committed while it was taken, \
         1 ticket, {records} audit records intact",
        counts.iter().sum::<u64>(),
        last_sent.iter().sum::<u64>() - counts.iter().sum::<u64>()
    );

    // The restored hub carries on: acme-1 re-sends from where the copy ends and the next report
    // is stored once; what the copy already has is only acknowledged again.
    let mut dev = Device::connect(restored.mqtt_v4, fleet.device("acme-1"), Protocol::V4)
        .await
        .unwrap();
    let have = counts[1];
    for seq in have - 1..=have + 1 {
        let r = dev.report(seq);
        dev.send(&r).await.unwrap();
    }
    dev.wait_ack(dev.report(1).boot_id, have + 1).await.unwrap();
    assert_eq!(committed(store, &fleet)[1], have + 1);
    drop(dev);
    restored.shutdown().await.unwrap();

    // With no hub running the CLI copies the file itself, with the same contents.
    let offline = dir.path().join("offline.redb");
    let (ok, out, err) = backup(&config, &offline);
    assert!(ok, "{out}{err}");
    let store = Store::open(&offline, 1_000_000).unwrap();
    let final_counts = committed(&store, &fleet);
    // The original store, as the stopped hub left it.
    assert_eq!(final_counts, last_sent);
    assert_eq!(store.tickets(&Scope::Operator).unwrap().len(), 1);
    assert!(matches!(
        store.verify_audit().unwrap(),
        Verdict::Intact { .. }
    ));
}
