//! Dispatch latency through the real hub process: from a ticket opening (the engine's clock, when
//! the report that caused it was taken in) to the chosen engineer's gRPC `WatchAssignments`
//! stream receiving it. Includes the redb commit (the dispatch is only sent once durable), the
//! broadcast and the HTTP/2 stream on loopback.
//!
//! `cargo bench -p heartline-e2e --bench dispatch_latency` (env: TICKETS, DEVICES, ENGINEERS,
//! RATE = tickets opened per second).

use heartline_e2e::bench::{env_or, nearest_rank};
use heartline_e2e::{Device, Fleet, HubProcess, Protocol, engineer_client, free_port, ids, now_ms};
use heartline_proto::wire;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HUB: &str = env!("CARGO_BIN_EXE_hub");

fn main() {
    let tickets = env_or("TICKETS", 1_000) as usize;
    let devices = env_or("DEVICES", 50) as usize;
    let engineers = env_or("ENGINEERS", 10) as usize;
    let rate = env_or("RATE", 200);
    let checks_per_device = tickets.div_ceil(devices);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let mut fleet = Fleet::new(&[("acme", ids("acme", devices))]);
            let crew = fleet.with_engineers("acme", engineers);
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();
            let hub = HubProcess::spawn(HUB, dir.path(), [free_port(), free_port(), free_port()], "");

            // Every engineer watches their queue; the first sight of each ticket is timed.
            let seen: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
            for (_, token) in &crew {
                let mut client = engineer_client(hub.http, token).await.unwrap();
                let mut stream = client
                    .watch_assignments(wire::WatchAssignmentsRequest {})
                    .await
                    .unwrap()
                    .into_inner();
                let seen = seen.clone();
                tokio::spawn(async move {
                    while let Ok(Some(a)) = stream.message().await {
                        let at = now_ms();
                        let Some(t) = a.ticket else { continue };
                        let latency = at - t.opened_ms;
                        seen.lock().unwrap().entry(t.ticket_id).or_insert(latency);
                    }
                });
            }
            let mut devs = Vec::new();
            for d in &fleet.devices {
                devs.push(Device::connect(hub.v4, d, Protocol::V4).await.unwrap());
            }

            // Ticket k: device k % devices turns its check k / devices critical (earlier ones stay
            // critical), at RATE tickets per second.
            let mut crit: Vec<usize> = vec![0; devices];
            let mut seq: Vec<u64> = vec![0; devices];
            let gap = Duration::from_micros(1_000_000 / rate.max(1));
            let mut tick = tokio::time::interval(gap);
            let started = std::time::Instant::now();
            for k in 0..tickets {
                tick.tick().await;
                let d = k % devices;
                crit[d] += 1;
                seq[d] += 1;
                let mut r = devs[d].report(seq[d]);
                r.next_checkin_s = 3600;
                r.checks = (0..checks_per_device)
                    .map(|c| wire::Check {
                        name: format!("check-{c}"),
                        status: if c < crit[d] {
                            wire::CheckStatus::Crit as i32
                        } else {
                            wire::CheckStatus::Ok as i32
                        },
                        message: String::new(),
                    })
                    .collect();
                devs[d].send(&r).await.unwrap();
            }
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while seen.lock().unwrap().len() < tickets && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let elapsed = started.elapsed();
            let mut latencies: Vec<i64> = seen.lock().unwrap().values().copied().collect();
            latencies.sort_unstable();
            assert_eq!(
                latencies.len(),
                tickets,
                "every ticket reaches its engineer's stream"
            );
            let (p50, p99, max) = (
                nearest_rank(&latencies, 0.50),
                nearest_rank(&latencies, 0.99),
                *latencies.last().unwrap(),
            );
            println!(
                "dispatch latency, ticket opened → engineer's gRPC stream: {tickets} tickets, \
                 {engineers} engineers, {rate}/s over {:.1} s",
                elapsed.as_secs_f64()
            );
            println!("  p50 {p50} ms   p99 {p99} ms   max {max} ms   (target p99 ≤ 100 ms)");
            println!(
                "{{\"bench\":\"dispatch_latency\",\"tickets\":{tickets},\"p50_ms\":{p50},\"p99_ms\":{p99},\"max_ms\":{max}}}"
            );
            drop(devs);
            hub.stop();
        });
}
