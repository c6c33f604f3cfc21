//! A full disk under the hub's store: the store lives on a small tmpfs the test mounts itself.
//! Devices stream reports until the disk fills; the failed commit acknowledges nothing, the hub
//! says why and exits (redb refuses every write after a failed one until the file is reopened);
//! the file is intact and holds everything acknowledged; once space returns, a restarted hub
//! stores the devices' re-sent reports exactly once.
//!
//! The same under the agent's outbox: the agent stops with a clear error instead of reporting
//! into a file it cannot write; what its outbox held reaches the hub once space returns.
//!
//! Needs root (mount); without it the tests say so and pass without testing anything.

use heartline_e2e::{
    Device, Fleet, HubProcess, PATIENCE, Protocol, eventually, free_port, ids, scrape, spawn_agent,
    write_agent_config,
};
use heartline_hub::audit::Verdict;
use heartline_hub::store::{Scope, Store};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const HUB: &str = env!("CARGO_BIN_EXE_hub");
const AGENT: &str = env!("CARGO_BIN_EXE_agent");
const DEVICES: usize = 4;
const BEFORE: u64 = 20;
/// Upper bound on reports per device while waiting for the disk to fill.
const MOST: u64 = 20_000;

/// A tmpfs mounted on a temp folder, unmounted on drop (lazily if something still holds it).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED disk_full: cannot mount a tmpfs ({}); run the tests as root to test a full disk",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED disk_full: no mount command ({e})");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// Fills the file system under `path` with a filler file until it refuses more.
fn fill(path: &Path) -> PathBuf {
    let filler = path.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0xa5u8; 64 * 1024];
    loop {
        if let Err(e) = f.write_all(&chunk).and_then(|()| f.sync_all()) {
            assert_eq!(e.raw_os_error(), Some(28), "{e}");
            break;
        }
    }
    // Small writes take the last scraps.
    while f.write_all(&[0u8; 512]).and_then(|()| f.sync_all()).is_ok() {}
    filler
}

/// Every device's history must be exactly 1..=n (each report once, no gap); returns each n.
fn stored(store: &Store, fleet: &Fleet) -> Vec<u64> {
    fleet
        .devices
        .iter()
        .map(|d| {
            let history = store.history(&Scope::Operator, &d.id, usize::MAX).unwrap();
            let seqs: Vec<u64> = history.iter().map(|r| r.sequence).collect();
            let n = seqs.len() as u64;
            assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "{}", d.id);
            n
        })
        .collect()
}

/// Collects the acks a device has received, until none arrives for a moment (the hub is gone).
async fn drain_acks(dev: &mut Device) -> u64 {
    let mut highest = 0;
    while let Ok(Ok(ack)) = tokio::time::timeout(Duration::from_millis(200), dev.next_ack()).await {
        highest = highest.max(ack.sequence);
    }
    highest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_acknowledges_nothing_corrupts_nothing_and_loses_nothing() {
    let Some(tmpfs) = Tmpfs::mount("4m") else {
        return;
    };
    let fleet = Fleet::new(&[("acme", ids("acme", DEVICES))]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();
    // The hub's config, log and control socket stay on the real disk; only the store is on the
    // tmpfs (the file the config names is a link to it).
    let store_file = tmpfs.path().join("store.redb");
    std::os::unix::fs::symlink(&store_file, dir.path().join("store.redb")).unwrap();
    let mut hub = HubProcess::spawn(HUB, dir.path(), [free_port(), free_port(), free_port()], "");

    let mut devices = Vec::new();
    for creds in &fleet.devices {
        let mut dev = Device::connect(hub.v4, creds, Protocol::V4).await.unwrap();
        for seq in 1..=BEFORE {
            dev.send(&dev.report(seq)).await.unwrap();
        }
        dev.wait_ack(dev.report(1).boot_id, BEFORE).await.unwrap();
        devices.push(dev);
    }

    // The disk fills; the devices keep reporting until the hub gives up.
    let filler = fill(tmpfs.path());
    let mut sent = vec![BEFORE; DEVICES];
    let deadline = Instant::now() + PATIENCE * 4;
    let status = loop {
        if let Some(status) = hub.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the hub kept running on a full disk"
        );
        for (dev, n) in devices.iter().zip(sent.iter_mut()) {
            if *n < MOST {
                *n += 1;
                // The broker may already be gone; what was not published is re-sent below.
                if dev.send(&dev.report(*n)).await.is_err() {
                    *n -= 1;
                }
            }
        }
    };
    assert!(!status.success(), "the hub exited cleanly on a full disk");
    let log = std::fs::read_to_string(dir.path().join("hub.log")).unwrap();
    assert!(
        log.contains("is its disk full?") && log.contains("No space left on device"),
        "the log does not say why: {log}"
    );
    let mut acked = Vec::new();
    for dev in &mut devices {
        acked.push(drain_acks(dev).await.max(BEFORE));
    }
    drop(devices);

    // Space returns. The file opens, every acknowledged report is in it, each once.
    std::fs::remove_file(filler).unwrap();
    let store = Store::open(&store_file, 1_000_000).unwrap();
    let kept = stored(&store, &fleet);
    for i in 0..DEVICES {
        assert!(
            kept[i] >= acked[i],
            "acme-{i}: {} acknowledged but only {} stored",
            acked[i],
            kept[i]
        );
    }
    assert!(matches!(
        store.verify_audit().unwrap(),
        Verdict::Intact { .. }
    ));
    drop(store);

    // A restarted hub takes the devices' re-sends (everything from 1: duplicates are only
    // acknowledged again) and stores each report once.
    hub = HubProcess::spawn(HUB, dir.path(), [free_port(), free_port(), free_port()], "");
    for (creds, &n) in fleet.devices.iter().zip(&sent) {
        let mut dev = Device::connect(hub.v4, creds, Protocol::V4).await.unwrap();
        for seq in 1..=n {
            dev.send(&dev.report(seq)).await.unwrap();
        }
        dev.wait_ack(dev.report(1).boot_id, n).await.unwrap();
    }
    hub.stop();
    let store = Store::open(&store_file, 1_000_000).unwrap();
    assert_eq!(stored(&store, &fleet), sent);
    assert!(matches!(
        store.verify_audit().unwrap(),
        Verdict::Intact { .. }
    ));
    let said = log
        .lines()
        .find(|l| l.contains("is its disk full?"))
        .unwrap_or("");
    eprintln!(
        "disk full: store on a 4 MiB tmpfs; before the failure {} reports acknowledged and {} \
         stored; {} sent in all, all stored exactly once after the restart; the hub said: {said}",
        acked.iter().sum::<u64>(),
        kept.iter().sum::<u64>(),
        sent.iter().sum::<u64>()
    );
    drop(store);
    drop(tmpfs);
}

/// Waits for a child process to exit by itself, for at most `limit`.
async fn exited(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_the_agents_outbox_stops_it_and_loses_nothing_it_kept() {
    let Some(tmpfs) = Tmpfs::mount("4m") else {
        return;
    };
    let fleet = Fleet::new(&[("acme", ids("gw", 1))]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();
    std::os::unix::fs::symlink(tmpfs.path(), dir.path().join("state")).unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let config = write_agent_config(dir.path(), ports[0], &fleet.devices[0]);
    let committed = |hub: &HubProcess| scrape(hub.http, "heartline_ingest_reports_committed_total");

    let hub = HubProcess::spawn(HUB, dir.path(), ports, "");
    let mut agent = spawn_agent(AGENT, &config);
    eventually("reports flowing", || committed(&hub) >= 5.0)
        .await
        .unwrap();
    // The hub goes away, so reports pile up in the outbox; then its disk fills.
    hub.stop();
    let filler = fill(tmpfs.path());
    let status = exited(&mut agent, PATIENCE * 4)
        .await
        .expect("the agent kept running with a full disk under its outbox");
    assert!(!status.success());
    let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap();
    assert!(
        log.contains("No space left on device"),
        "the log does not say why: {log}"
    );
    let said = log
        .lines()
        .rev()
        .find(|l| l.contains("No space left on device"))
        .unwrap_or("")
        .to_string();

    // Space returns: the outbox opens, and what it kept is still there, in order.
    std::fs::remove_file(filler).unwrap();
    let outbox =
        heartline_agent::outbox::Outbox::open(&tmpfs.path().join("outbox.redb"), 100_000).unwrap();
    let kept: Vec<u64> = outbox
        .pending()
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect();
    let last_kept = *kept.last().expect("the outbox kept nothing");
    drop(outbox);

    // Hub and agent start again; the outbox drains into the hub.
    let hub = HubProcess::spawn(HUB, dir.path(), ports, "");
    let mut agent = spawn_agent(AGENT, &config);
    let store_has = |hub: &HubProcess| committed(hub) >= kept.len() as f64;
    eventually("the kept reports arrive", || store_has(&hub))
        .await
        .unwrap();
    Command::new("kill")
        .arg("-TERM")
        .arg(agent.id().to_string())
        .status()
        .unwrap();
    assert!(agent.wait().unwrap().success());
    hub.stop();
    let store = Store::open(&dir.path().join("store.redb"), 1_000_000).unwrap();
    let seqs: Vec<u64> = store
        .history(&Scope::Operator, "gw-0", usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.sequence)
        .collect();
    // Every report of the first boot is stored once, in order, through the last one kept.
    let first_boot: Vec<u64> = seqs
        .iter()
        .copied()
        .take_while(|&s| s <= last_kept)
        .collect();
    assert_eq!(first_boot, (1..=last_kept).collect::<Vec<_>>());
    eprintln!(
        "agent disk full: outbox on a 4 MiB tmpfs; the agent stopped with: {said}; {} reports \
         waited in its outbox, all stored once after the restart ({} stored in all)",
        kept.len(),
        seqs.len()
    );
    drop(store);
    drop(tmpfs);
}
