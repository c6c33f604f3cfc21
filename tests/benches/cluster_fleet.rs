//! A fleet through a broker cluster: the hub (node 1) and `NODES - 1` `heartline-hub broker`
//! processes, devices spread over all of them by load generators in `LOADGENS` processes (each
//! process, broker or load generator, under the container's 20,000 open files), each device
//! sending a signed report every `REPORT_S` and keeping what is not acknowledged (an outbox);
//! after the fleet has held for `HOLD_S`, broker node `KILL_NODE` is SIGKILLed, its devices
//! reconnect to the other nodes and resend; then the fleet holds for `AFTER_KILL_S`, stops
//! reporting, and every report sent must be committed and acknowledged with no ticket opened.
//!
//! Run by `tests/side-by-side/cluster.sh` (env: DEVICES, NODES, LOADGENS, KEEPALIVE_S, REPORT_S,
//! HOLD_S, AFTER_KILL_S, KILL_NODE, HANDSHAKES). The same binary is the load generator when
//! `heartline_e2e::fleetgen` asks for a load generator.

use heartline_e2e::bench::{
    cpu_us, emit_markdown, env_or, note_pid, open_files_limit, rss_kib, spawn_hub,
};
use heartline_e2e::cluster::{BrokerNode, Cluster};
use heartline_e2e::fleetgen::{self, Loadgen, PREFIX, TENANT, spawn_loadgen, total, wait_for};
use heartline_e2e::{Fleet, ids, scrape};
use std::time::{Duration, Instant};

const HUB: &str = env!("CARGO_BIN_EXE_hub");

fn main() {
    if fleetgen::is_loadgen() {
        fleetgen::loadgen();
    } else {
        orchestrate();
    }
}

fn orchestrate() {
    let devices = env_or("DEVICES", 100_000) as usize;
    let n_nodes = env_or("NODES", 7) as usize;
    let n_lg = env_or("LOADGENS", 7) as usize;
    let hold = Duration::from_secs(env_or("HOLD_S", 150));
    let after_kill = Duration::from_secs(env_or("AFTER_KILL_S", 300));
    let kill_node = env_or("KILL_NODE", 2) as usize;
    let report_s = env_or("REPORT_S", 120);
    assert!(
        n_nodes >= 3,
        "NODES must be at least 3 (the hub, the node killed, one more)"
    );
    assert!(
        (2..=n_nodes).contains(&kill_node),
        "KILL_NODE must be a broker node: 2..=NODES"
    );
    let limit = open_files_limit();
    // After the kill the survivors share its devices.
    let per_node = devices.div_ceil(n_nodes - 1) as u64;
    let per_lg = devices.div_ceil(n_lg) as u64;
    assert!(
        per_node + 200 <= limit && per_lg + 200 <= limit,
        "{per_node} devices per node after the kill, {per_lg} per load generator: more than the \
         open-file limit {limit} allows; raise NODES or LOADGENS"
    );
    println!(
        "cluster: {devices} devices over the hub and {} broker nodes, {n_lg} load generators, a \
         report every {report_s} s; node {kill_node} killed after {} s",
        n_nodes - 1,
        hold.as_secs()
    );

    let fleet = Fleet::new(&[(TENANT, ids(PREFIX, devices))]);
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::new(dir.path(), n_nodes);
    let (hub_dir, hub) = spawn_hub(HUB, &fleet, &cluster.section(1));
    let hub_pid = hub.child.id();
    let mut nodes: Vec<BrokerNode> = (2..=n_nodes)
        .map(|id| {
            let node = BrokerNode::spawn(HUB, dir.path(), &cluster, id, hub.http, "");
            note_pid(node.child.id());
            node
        })
        .collect();
    let addrs: Vec<String> = std::iter::once(hub.v4)
        .chain(nodes.iter().map(|n| n.v4))
        .map(|a| a.to_string())
        .collect();
    let pids: Vec<u32> = std::iter::once(hub_pid)
        .chain(nodes.iter().map(|n| n.child.id()))
        .collect();
    let base_rss: Vec<u64> = pids.iter().map(|p| rss_kib(*p)).collect();

    // The ramp: every load generator at once, times taken at each tenth of the fleet.
    let t0 = Instant::now();
    let lgs: Vec<Loadgen> = (0..n_lg)
        .map(|i| {
            let (from, to) = (devices * i / n_lg, devices * (i + 1) / n_lg);
            spawn_loadgen(from, to, &addrs.join(","), &[("REPORT_S", report_s)])
        })
        .collect();
    let mut steps = Vec::new();
    let step = (devices / 10).max(1);
    let mut last = Duration::ZERO;
    for level in (step..=devices).step_by(step) {
        if !wait_for(&lgs, Duration::from_secs(300), |t| {
            t.connected as usize >= level
        }) {
            println!(
                "  the ramp stalled below {level} devices: {} connected",
                total(&lgs).connected
            );
            break;
        }
        let at = t0.elapsed();
        println!(
            "  {level} devices connected after {:.1} s",
            at.as_secs_f64()
        );
        steps.push((level, at - last, at));
        last = at;
    }
    let ramped = total(&lgs).connected as usize >= devices;

    // Hold: memory and CPU of every node, reports committed per second.
    let measure = |span: Duration| {
        let cpu0: Vec<u64> = pids.iter().map(|p| cpu_us(*p)).collect();
        let c0 = scrape(hub.http, "heartline_ingest_reports_committed_total");
        let h0 = Instant::now();
        // A progress line every 10 s: connected devices and reports committed meanwhile.
        let mut last = c0;
        while h0.elapsed() < span {
            std::thread::sleep((span - h0.elapsed()).min(Duration::from_secs(10)));
            let now = scrape(hub.http, "heartline_ingest_reports_committed_total");
            let t = total(&lgs);
            println!(
                "    {:.0} s: {} connected, {} committed since the last line, {} sent / {} acked in all",
                h0.elapsed().as_secs_f64(),
                t.connected,
                now - last,
                t.sent,
                t.acked
            );
            last = now;
        }
        let secs = h0.elapsed().as_secs_f64();
        let c1 = scrape(hub.http, "heartline_ingest_reports_committed_total");
        let cpu: Vec<f64> = pids
            .iter()
            .zip(&cpu0)
            .map(|(p, c)| (cpu_us(*p).saturating_sub(*c)) as f64 / (secs * 1e4))
            .collect();
        let rss: Vec<u64> = pids.iter().map(|p| rss_kib(*p)).collect();
        (cpu, rss, (c1 - c0) / secs)
    };
    let before = if ramped { Some(measure(hold)) } else { None };
    let before_conn = total(&lgs);

    // The kill.
    let victim = &mut nodes[kill_node - 2];
    let victim_pid = victim.child.id();
    let kill_at = Instant::now();
    victim.kill();
    let back = wait_for(&lgs, Duration::from_secs(300), |t| {
        t.connected as usize >= devices && t.reconnects > before_conn.reconnects
    });
    let reconnect_time = kill_at.elapsed();
    let moved = total(&lgs).reconnects - before_conn.reconnects;
    println!(
        "  node {kill_node} killed: {moved} devices reconnected elsewhere, all back after {:.1} s",
        reconnect_time.as_secs_f64()
    );
    let after = measure(after_kill);

    // Stop reporting; everything sent must be acknowledged.
    let (fin, drained) = fleetgen::stop_and_drain(&lgs, Duration::from_secs(180));
    let committed = scrape(hub.http, "heartline_ingest_reports_committed_total") as u64;
    let tickets = scrape(hub.http, "heartline_engine_tickets_opened_total") as u64;
    let lost = fin.sent.saturating_sub(committed);
    let verdict = ramped && back && drained && lost == 0 && committed == fin.sent && tickets == 0;
    println!(
        "  sent {}, acknowledged {}, sent again after 30 s without an ack {}, committed {committed}, tickets {tickets}: {}",
        fin.sent,
        fin.acked,
        fin.resent,
        if verdict { "PASS" } else { "FAIL" }
    );

    let mut md = format!(
        "{devices} devices, {} nodes (the hub and {} `heartline-hub broker` processes), {n_lg} \
         load-generator processes, keepalive {} s, a signed report every {report_s} s.\n\n\
         | devices connected | this step took | since the start |\n|---|---|---|\n",
        n_nodes,
        n_nodes - 1,
        env_or("KEEPALIVE_S", 60)
    );
    for (level, took, at) in &steps {
        md.push_str(&format!(
            "| {level} | {:.1} s | {:.1} s |\n",
            took.as_secs_f64(),
            at.as_secs_f64()
        ));
    }
    md.push_str("\n| node | RSS before devices | RSS held (before the kill) | per device | CPU held | RSS after the kill | CPU after |\n|---|---|---|---|---|---|---|\n");
    for (i, pid) in pids.iter().enumerate() {
        let name = if i == 0 {
            "1 (hub)".to_string()
        } else {
            (i + 1).to_string()
        };
        let held = before.as_ref().map(|(cpu, rss, _)| (cpu[i], rss[i]));
        let (cpu_a, rss_a) = (after.0[i], after.1[i]);
        let per_dev = held.map(|(_, r)| {
            (r.saturating_sub(base_rss[i])) as f64 / (devices as f64 / n_nodes as f64)
        });
        let dead = *pid == victim_pid;
        md.push_str(&format!(
            "| {name} | {} MiB | {} | {} | {} | {} | {} |\n",
            base_rss[i] / 1024,
            held.map_or("-".into(), |(_, r)| format!("{} MiB", r / 1024)),
            per_dev.map_or("-".into(), |d| format!("{d:.1} KiB")),
            held.map_or("-".into(), |(c, _)| format!("{c:.1} %")),
            if dead {
                "killed".into()
            } else {
                format!("{} MiB", rss_a / 1024)
            },
            if dead {
                "-".into()
            } else {
                format!("{cpu_a:.1} %")
            },
        ));
    }
    md.push_str(&format!(
        "\nReports committed per second while held: {:.0} before the kill, {:.0} after. Node \
         {kill_node} SIGKILLed: {moved} devices reconnected to the other nodes, all {devices} \
         connected again {:.1} s after the kill ({} connection attempts refused or timed out \
         over the run). Reports sent {}, acknowledged {}, sent again after 30 s without an ack {}, \
         committed {committed} (lost {lost}); tickets opened {tickets}. Verdict: **{}**.\n",
        before.as_ref().map_or(0.0, |b| b.2),
        after.2,
        reconnect_time.as_secs_f64(),
        fin.failed,
        fin.sent,
        fin.acked,
        fin.resent,
        if verdict { "pass" } else { "fail" }
    ));
    emit_markdown(&md);
    drop(lgs);
    drop(nodes);
    hub.stop();
    drop(hub_dir);
    if !verdict {
        std::process::exit(1);
    }
}
