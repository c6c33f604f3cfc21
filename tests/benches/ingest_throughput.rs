//! Ingest throughput through the real broker: signed ~200-byte reports from concurrent MQTT
//! clients on loopback into the `heartline-hub` process (broker + verification + dedupe + redb
//! commit + ack). Prints committed reports/s and the hub process's CPU-µs per report.
//!
//! `cargo bench -p heartline-e2e --bench ingest_throughput` (env: DEVICES, REPORTS, ROUNDS).

use heartline_e2e::bench::{Pace, connect_all, cpu_us, env_or, publish_all, rss_kib, spawn_hub};
use heartline_e2e::{Fleet, ids};
use heartline_proto::envelope::seal;
use std::time::Instant;

const HUB: &str = env!("CARGO_BIN_EXE_hub");

fn main() {
    let devices = env_or("DEVICES", 64) as usize;
    let reports = env_or("REPORTS", 1_000);
    let rounds = env_or("ROUNDS", 3);
    let window = 100;

    let fleet = Fleet::new(&[("bench", ids("b", devices))]);
    // The per-device rate limit is off: this measures how fast ingest goes, and each device here
    // sends far more than a real one would.
    let (_dir, hub) = spawn_hub(HUB, &fleet, "[ingest]\nmax_reports_per_minute = 0\n");
    let pid = hub.child.id();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let size = seal(
        &fleet.devices[0].key,
        &heartline_e2e::sample_report("b-0", 1, 1),
    )
    .len();
    println!(
        "ingest_throughput: {devices} devices (half MQTT 3.1.1, half MQTT 5), {reports} reports each per round, \
         {size}-byte signed payloads, window {window}"
    );
    let mut rates = Vec::new();
    let mut cpus = Vec::new();
    for round in 0..rounds {
        let first = round * reports + 1;
        let (elapsed, cpu) = rt.block_on(async {
            let devs = connect_all(&fleet.devices, hub.v4, hub.v5).await;
            let cpu0 = cpu_us(pid);
            let t0 = Instant::now();
            publish_all(devs, first, reports, Pace::HubAcks(window)).await;
            (t0.elapsed(), cpu_us(pid) - cpu0)
        });
        let total = devices as u64 * reports;
        let rate = total as f64 / elapsed.as_secs_f64();
        let per = cpu as f64 / total as f64;
        println!(
            "  round {}: {total} reports committed and acked in {:.2} s = {rate:.0} reports/s, hub CPU {per:.1} µs/report, hub RSS {} KiB",
            round + 1,
            elapsed.as_secs_f64(),
            rss_kib(pid)
        );
        rates.push(rate);
        cpus.push(per);
    }
    rates.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    println!(
        "median: {:.0} reports/s committed, {:.1} hub CPU-µs/report (target ≥ 20,000 reports/s)",
        rates[rates.len() / 2],
        cpus[cpus.len() / 2]
    );
    hub.stop();
}
