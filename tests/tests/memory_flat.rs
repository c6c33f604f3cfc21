//! The hub's memory stays flat under a steady stream of reports: after a warm-up, the RSS the
//! real hub process gains over the second half of the run, per 10,000 reports, stays under a
//! stated bound. The cheap guard of the memory issue; `tests/side-by-side/soak.sh` is the long
//! version.
//!
//! The store's page cache is set to 1 MiB so that it is full after the warm-up: what grows after
//! that grows with the reports. Before the cache was bounded (redb's default is 1 GiB), the hub
//! gained about 3 MiB per 10,000 reports here, for as long as its file grew.

use heartline_e2e::bench::{Pace, connect_all, publish_all, rss_kib, spawn_hub};
use heartline_e2e::{Fleet, ids};

const HUB: &str = env!("CARGO_BIN_EXE_hub");
const DEVICES: usize = 32;
/// Reports per device per round: a round is 3,200 reports.
const PER_ROUND: u64 = 100;
const WARM_UP_ROUNDS: u64 = 3;
/// Measured rounds: the first half of them, then the second.
const ROUNDS: u64 = 6;
/// What the hub may gain in the second half, per 10,000 reports: about 100 bytes a report, a
/// third of what the unbounded page cache cost.
const BOUND_KIB_PER_10K: f64 = 1024.0;

#[test]
fn the_hub_gains_no_memory_per_report_after_warm_up() {
    let fleet = Fleet::new(&[("mem", ids("m", DEVICES))]);
    let (_dir, hub) = spawn_hub(
        HUB,
        &fleet,
        "[store]\ncache_mb = 1\n[ingest]\nmax_reports_per_minute = 0\n",
    );
    let pid = hub.child.id();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let round = |n: u64| {
        rt.block_on(async {
            let devs = connect_all(&fleet.devices, hub.v4, hub.v5).await;
            publish_all(devs, n * PER_ROUND + 1, PER_ROUND, Pace::HubAcks(50)).await;
        });
        rss_kib(pid)
    };
    for n in 0..WARM_UP_ROUNDS {
        round(n);
    }
    let mut rss = vec![rss_kib(pid)];
    for n in WARM_UP_ROUNDS..WARM_UP_ROUNDS + ROUNDS {
        rss.push(round(n));
    }
    let half = (ROUNDS / 2) as usize;
    let reports_per_half = (half as u64 * PER_ROUND * DEVICES as u64) as f64;
    let per_10k = |from: u64, to: u64| (to as f64 - from as f64) / reports_per_half * 10_000.0;
    let first = per_10k(rss[0], rss[half]);
    let second = per_10k(rss[half], rss[2 * half]);
    println!(
        "hub RSS after warm-up and each round (KiB): {rss:?}; per 10,000 reports: first half \
         {first:.0} KiB, second half {second:.0} KiB (bound {BOUND_KIB_PER_10K} KiB)"
    );
    assert!(
        second <= BOUND_KIB_PER_10K,
        "the hub gained {second:.0} KiB per 10,000 reports in the second half of the run (first \
         half {first:.0} KiB; bound {BOUND_KIB_PER_10K} KiB): something grows with every report; \
         RSS samples {rss:?}"
    );
    hub.stop();
}
