//! Live fan-out of the project view: VIEWERS customers hold `GET /api/v1/events` open against the
//! real hub process while devices fault; for every change each viewer receives, latency = receipt
//! time − the change's `at_ms` (stamped by the hub right after the commit that caused it). Same
//! clock on both sides.
//!
//! `cargo bench -p heartline-e2e --bench sse_fanout` (env: VIEWERS, FAULTS).

use heartline_e2e::bench::{env_or, nearest_rank};
use heartline_e2e::{Device, Fleet, HubProcess, Protocol, SseClient, free_port, ids, now_ms};
use heartline_proto::wire;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HUB: &str = env!("CARGO_BIN_EXE_hub");

fn main() {
    let viewers = env_or("VIEWERS", 1_000) as usize;
    let faults = env_or("FAULTS", 20) as usize;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let mut fleet = Fleet::new(&[("acme", ids("acme", faults))]);
            fleet.with_engineers("acme", 2);
            fleet.with_user("alice", "customer", "acme");
            let token = "a-viewer-token-for-the-fanout-bench";
            fleet.inventory.push_str(&format!(
                "[[user_token]]\nuser = \"alice\"\ntoken_sha256 = \"{}\"\n",
                hex::encode(heartline_hub::inventory::token_sha256(token))
            ));
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();
            let hub =
                HubProcess::spawn(HUB, dir.path(), [free_port(), free_port(), free_port()], "");

            let bearer = format!("Bearer {token}");
            let samples: Arc<Mutex<Vec<i64>>> = Arc::default();
            let mut tasks = Vec::new();
            for _ in 0..viewers {
                let mut sse =
                    SseClient::connect(hub.http, "/api/v1/events", &[("Authorization", &bearer)])
                        .await
                        .unwrap();
                let samples = samples.clone();
                tasks.push(tokio::spawn(async move {
                    let mut seen = 0;
                    while let Ok(ev) = sse.next(Duration::from_secs(10)).await {
                        let at = now_ms();
                        let change: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
                        let sent = change["at_ms"].as_i64().unwrap();
                        samples.lock().unwrap().push(at - sent);
                        seen += 1;
                    }
                    seen
                }));
            }
            println!("{viewers} viewers connected");

            let started = std::time::Instant::now();
            for d in &fleet.devices {
                let mut dev = Device::connect(hub.v4, d, Protocol::V4).await.unwrap();
                let mut r = dev.report(1);
                r.checks[0].status = wire::CheckStatus::Crit as i32;
                r.next_checkin_s = 3600;
                dev.send(&r).await.unwrap();
                dev.wait_ack(1, 1).await.unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await; // pacing, not synchronisation
            }
            let mut per_viewer = Vec::new();
            for t in tasks {
                per_viewer.push(t.await.unwrap());
            }
            let mut lat = samples.lock().unwrap().clone();
            lat.sort_unstable();
            assert!(!lat.is_empty(), "no viewer received anything");
            let min_seen = per_viewer.iter().min().copied().unwrap_or(0);
            let max_seen = per_viewer.iter().max().copied().unwrap_or(0);
            assert_eq!(min_seen, max_seen, "every viewer received every change");
            println!(
                "SSE fan-out: {viewers} viewers × {max_seen} changes = {} deliveries in {:.1} s",
                lat.len(),
                started.elapsed().as_secs_f64()
            );
            println!(
                "  commit → viewer p50 {} ms   p99 {} ms   max {} ms   (target p99 ≤ 200 ms)",
                nearest_rank(&lat, 0.5),
                nearest_rank(&lat, 0.99),
                lat.last().unwrap()
            );
            println!(
                "{{\"bench\":\"sse_fanout\",\"viewers\":{viewers},\"deliveries\":{},\"p50_ms\":{},\"p99_ms\":{},\"max_ms\":{}}}",
                lat.len(),
                nearest_rank(&lat, 0.5),
                nearest_rank(&lat, 0.99),
                lat.last().unwrap()
            );
            hub.stop();
        });
}
