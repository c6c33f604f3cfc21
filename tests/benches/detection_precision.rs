//! Deadline precision through the running hub: 100,000 devices each send one signed report that
//! declares its next check-in (spread over 20–59 s), then fall silent. The hub must open a
//! heartbeat ticket for every one; the overshoot is the ticket's opening time minus the device's
//! deadline (last report + declared check-in + grace), all on the hub's clock.
//!
//! `cargo bench -p heartline-e2e --bench detection_precision` (env: DEVICES, PUBLISHERS).
//! Reports are published by a few connections on the devices' own topics: the hub trusts the
//! signature, not the connection, which lets one machine stand in for 100k devices' timers.

use heartline_e2e::bench::{env_or, percentile};
use heartline_e2e::{Device, Fleet, HubProcess, Protocol, free_port, ids, sample_report, scrape};
use heartline_hub::store::{Scope, Store};
use heartline_proto::Channel;
use heartline_proto::envelope::seal;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const HUB: &str = env!("CARGO_BIN_EXE_hub");
const GRACE_MS: i64 = 1_000;

/// Polls a counter of the hub until it reaches `target`.
fn wait_for(http: SocketAddr, name: &str, target: f64, limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let now = scrape(http, name);
        if now >= target {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "{name} reached {now}, not {target}, within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn main() {
    let n = env_or("DEVICES", 100_000) as usize;
    let publishers = env_or("PUBLISHERS", 8) as usize;
    let fleet = Fleet::new(&[("bench", ids("p", n))]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();
    let t0 = Instant::now();
    let hub = HubProcess::spawn(
        HUB,
        dir.path(),
        [free_port(), free_port(), free_port()],
        &format!("[engine]\nheartbeat_grace = \"{GRACE_MS}ms\"\n"),
    );
    let (v4, http) = (hub.v4.port(), hub.http);
    println!(
        "detection_precision: {n} devices; hub started with their inventory in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sent = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for p in 0..publishers {
            let creds = fleet.devices[p].clone();
            let mine: Vec<_> = fleet
                .devices
                .iter()
                .skip(p)
                .step_by(publishers)
                .cloned()
                .collect();
            tasks.push(tokio::spawn(async move {
                let dev = Device::connect(([127, 0, 0, 1], v4).into(), &creds, Protocol::V4)
                    .await
                    .unwrap();
                for (i, d) in mine.iter().enumerate() {
                    let mut r = sample_report(&d.id, 1, 1);
                    r.next_checkin_s = 20 + (i % 40) as u32;
                    dev.publish(&d.topic(Channel::Report), seal(&d.key, &r))
                        .await
                        .unwrap();
                }
                dev
            }));
        }
        let mut keep = Vec::new();
        for t in tasks {
            keep.push(t.await.unwrap());
        }
        let took = tokio::task::spawn_blocking(move || {
            wait_for(
                http,
                "heartline_ingest_reports_committed_total",
                n as f64,
                Duration::from_secs(300),
            )
        })
        .await
        .unwrap();
        println!(
            "  {n} reports committed {:.1} s after the first was sent",
            sent.elapsed().as_secs_f64().max(took.as_secs_f64())
        );
        drop(keep);
    });
    wait_for(
        http,
        "heartline_engine_tickets_opened_total",
        n as f64,
        Duration::from_secs(300),
    );
    println!(
        "  all {n} heartbeat tickets open {:.1} s after the first report was sent",
        sent.elapsed().as_secs_f64()
    );
    hub.stop();

    let store = Store::open(&dir.path().join("store.redb"), 4).unwrap();
    let memory = store.engine_state(0).unwrap().memory;
    let mut overshoot: Vec<i64> = store
        .tickets(&Scope::Operator)
        .unwrap()
        .iter()
        .map(|t| {
            let m = &memory[&t.device];
            let deadline = m.last_report_at.unwrap() + m.checkin + GRACE_MS;
            t.opened_at - deadline
        })
        .collect();
    overshoot.sort_unstable();
    assert_eq!(overshoot.len(), n, "one ticket per silent device");
    assert!(
        overshoot[0] > 0,
        "a ticket opened before its deadline: {} ms",
        overshoot[0]
    );
    println!(
        "overshoot of the deadline: p50 {} ms, p99 {} ms, max {} ms (target p99 ≤ 1,000 ms)",
        percentile(&overshoot, 0.5),
        percentile(&overshoot, 0.99),
        overshoot[n - 1]
    );
}
