//! Side by side: the same signed reports from the same publishers into the hub (broker +
//! verification + engine + redb commit, a round ends when every report is acknowledged by the
//! hub) and into Mosquitto, which merely forwards them to one QoS 1 subscriber (a round ends when
//! the subscriber has counted every report). Rounds alternate between the two.
//!
//! Run by `tests/side-by-side/ingest.sh` (env: MOSQUITTO, DEVICES, REPORTS, ROUNDS,
//! SIDE_BY_SIDE_MD, SIDE_BY_SIDE_PIDS).

use heartline_e2e::bench::{
    Pace, connect_all, cpu_us, emit_markdown, env_or, median, note_pid, publish_all, rss_kib,
    spawn_hub, spawn_mosquitto,
};
use heartline_e2e::{Fleet, ids};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const HUB: &str = env!("CARGO_BIN_EXE_hub");
const WINDOW: u64 = 100;

/// Subscribes to every report topic on `broker` and counts what arrives.
async fn counting_subscriber(broker: SocketAddr) -> Arc<AtomicU64> {
    let count = Arc::new(AtomicU64::new(0));
    let mut o = rumqttc::MqttOptions::new("counter", broker.ip().to_string(), broker.port());
    o.set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = rumqttc::AsyncClient::new(o, 100);
    client
        .subscribe("hl/v1/+/+/report", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    let seen = count.clone();
    tokio::spawn(async move {
        let _client = client;
        let mut ready_tx = Some(ready_tx);
        loop {
            match el.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(_))) => {
                    seen.fetch_add(1, Ordering::Relaxed);
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                    if let Some(r) = ready_tx.take() {
                        let _ = r.send(());
                    }
                }
                Ok(_) => {}
                // Mosquitto stopped (the end of the run); a loss mid-round shows as a count
                // that never completes.
                Err(_) => return,
            }
        }
    });
    ready.await.unwrap();
    count
}

struct Round {
    rate: f64,
    cpu_us_per: f64,
    rss_kib: u64,
}

fn main() {
    let devices = env_or("DEVICES", 64) as usize;
    let reports = env_or("REPORTS", 1_000);
    let rounds = env_or("ROUNDS", 3);
    let mosquitto = std::env::var("MOSQUITTO").unwrap_or_else(|_| "/usr/sbin/mosquitto".into());
    note_pid(std::process::id());

    let fleet = Fleet::new(&[("bench", ids("b", devices))]);
    // As in ingest_throughput: the per-device rate limit is off, each device here sends far more
    // than a real one would.
    let (dir, hub) = spawn_hub(HUB, &fleet, "[ingest]\nmax_reports_per_minute = 0\n");
    let hub_pid = hub.child.id();

    // Mosquitto as its docs suggest for a local broker, with the same in-flight window towards
    // the subscriber as the hub's broker has (100), and no cap on its queue so that nothing is
    // dropped when the subscriber falls behind.
    let (mq, mq_addr, version) = spawn_mosquitto(
        &mosquitto,
        dir.path(),
        "max_inflight_messages 100\nmax_queued_messages 0\n",
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let counter = rt.block_on(counting_subscriber(mq_addr));
    println!(
        "ingest_vs_mosquitto: {devices} devices (half MQTT 3.1.1, half MQTT 5), {reports} reports \
         each per round, window {WINDOW}; {version}"
    );

    let total = devices as u64 * reports;
    let (mut hub_rounds, mut mq_rounds) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let first = round * reports + 1;
        // The hub: done when every report is committed and acknowledged.
        let (elapsed, cpu) = rt.block_on(async {
            let devs = connect_all(&fleet.devices, hub.v4, hub.v5).await;
            let (cpu0, t0) = (cpu_us(hub_pid), Instant::now());
            publish_all(devs, first, reports, Pace::HubAcks(WINDOW)).await;
            (t0.elapsed(), cpu_us(hub_pid) - cpu0)
        });
        hub_rounds.push(Round {
            rate: total as f64 / elapsed.as_secs_f64(),
            cpu_us_per: cpu as f64 / total as f64,
            rss_kib: rss_kib(hub_pid),
        });
        // Mosquitto: done when the subscriber has every report.
        let (elapsed, cpu) = rt.block_on(async {
            let devs = connect_all(&fleet.devices, mq_addr, mq_addr).await;
            let base = counter.load(Ordering::Relaxed);
            let (cpu0, t0) = (cpu_us(mq.pid()), Instant::now());
            let devs = publish_all(devs, first, reports, Pace::BrokerOnly).await;
            while counter.load(Ordering::Relaxed) < base + total {
                assert!(
                    t0.elapsed() < Duration::from_secs(300),
                    "the subscriber got {} of {total}",
                    counter.load(Ordering::Relaxed) - base
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let took = (t0.elapsed(), cpu_us(mq.pid()) - cpu0);
            drop(devs);
            took
        });
        mq_rounds.push(Round {
            rate: total as f64 / elapsed.as_secs_f64(),
            cpu_us_per: cpu as f64 / total as f64,
            rss_kib: rss_kib(mq.pid()),
        });
        let (h, m) = (&hub_rounds[round as usize], &mq_rounds[round as usize]);
        println!(
            "  round {}: hub {:.0} reports/s committed ({:.1} CPU-µs each, RSS {} KiB); \
             mosquitto {:.0} reports/s forwarded ({:.1} CPU-µs each, RSS {} KiB); ratio {:.2}",
            round + 1,
            h.rate,
            h.cpu_us_per,
            h.rss_kib,
            m.rate,
            m.cpu_us_per,
            m.rss_kib,
            h.rate / m.rate
        );
    }

    let col = |rs: &[Round], f: fn(&Round) -> f64| -> Vec<f64> { rs.iter().map(f).collect() };
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let (hr, mr) = (col(&hub_rounds, |r| r.rate), col(&mq_rounds, |r| r.rate));
    let ratios: Vec<f64> = hr.iter().zip(&mr).map(|(h, m)| h / m).collect();
    let rss = |rs: &[Round]| rs.iter().map(|r| r.rss_kib).max().unwrap_or(0) / 1024;
    let table = format!(
        "| system (one run, {rounds} rounds of {devices} devices × {reports} reports) | reports/s per round | median | CPU per report (median) | RSS (max) |\n\
         |---|---|---|---|---|\n\
         | Heartline hub: broker + verify + engine + redb commit, acked after commit | {} | **{:.0}** | {:.1} µs | {} MiB |\n\
         | Mosquitto ({version}): forward to one QoS 1 subscriber | {} | **{:.0}** | {:.1} µs | {} MiB |\n\
         | ratio hub / Mosquitto | {} | **{:.2}** | | |\n",
        list(&hr),
        median(&hr),
        median(&col(&hub_rounds, |r| r.cpu_us_per)),
        rss(&hub_rounds),
        list(&mr),
        median(&mr),
        median(&col(&mq_rounds, |r| r.cpu_us_per)),
        rss(&mq_rounds),
        ratios
            .iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(" / "),
        median(&ratios),
    );
    emit_markdown(&table);
    drop(mq);
    hub.stop();
}
