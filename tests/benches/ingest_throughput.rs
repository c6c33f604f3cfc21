//! Ingest throughput through the real broker: signed ~200-byte reports from concurrent MQTT
//! clients on loopback into the `heartline-hub` process (broker + verification + dedupe + redb
//! commit + ack). Prints committed reports/s and the hub process's CPU-µs per report.
//!
//! `cargo bench -p heartline-e2e --bench ingest_throughput` (env: DEVICES, REPORTS, ROUNDS).

use heartline_e2e::{Device, Fleet, HubProcess, Protocol, free_port, ids};
use heartline_proto::envelope::seal;
use std::net::SocketAddr;
use std::time::Instant;

const HUB: &str = env!("CARGO_BIN_EXE_hub");

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// utime + stime of a process, in microseconds.
fn cpu_us(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let hz = 100; // USER_HZ on Linux
    ticks * 1_000_000 / hz
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn run_device(mut dev: Device, first: u64, count: u64, window: u64) {
    let mut acked = first - 1;
    let last = first + count - 1;
    let mut next = first;
    let topic = dev.creds.topic(heartline_proto::Channel::Report);
    while acked < last {
        while next <= last && next - acked <= window {
            let payload = seal(&dev.creds.key, &dev.report(next));
            dev.publish(&topic, payload).await.unwrap();
            next += 1;
        }
        acked = acked.max(dev.next_ack().await.unwrap().sequence);
    }
}

fn main() {
    let devices = env_or("DEVICES", 64) as usize;
    let reports = env_or("REPORTS", 1_000);
    let rounds = env_or("ROUNDS", 3);
    let window = 100;

    let fleet = Fleet::new(&[("bench", ids("b", devices))]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();
    // The per-device rate limit is off: this measures how fast ingest goes, and each device here
    // sends far more than a real one would.
    let hub = HubProcess::spawn(
        HUB,
        dir.path(),
        [free_port(), free_port(), free_port()],
        "[ingest]\nmax_reports_per_minute = 0\n",
    );
    let (v4, v5) = (hub.v4.port(), hub.v5.port());
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
            let mut devs = Vec::new();
            for (i, c) in fleet.devices.iter().enumerate() {
                let (addr, p): (SocketAddr, _) = if i % 2 == 0 {
                    (([127, 0, 0, 1], v4).into(), Protocol::V4)
                } else {
                    (([127, 0, 0, 1], v5).into(), Protocol::V5)
                };
                devs.push(Device::connect(addr, c, p).await.unwrap());
            }
            let cpu0 = cpu_us(pid);
            let t0 = Instant::now();
            let tasks: Vec<_> = devs
                .into_iter()
                .map(|d| tokio::spawn(run_device(d, first, reports, window)))
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
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
