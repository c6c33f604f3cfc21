//! Connections: many devices held connected to one hub process, each with MQTT keepalive pings and
//! a signed report every few minutes; the hub's RSS per connected device and its CPU, level by
//! level, then the same for Mosquitto (`$MOSQUITTO`, when installed). The devices are raw MQTT
//! 3.1.1 clients ([`rawmqtt`]), one small tokio task each (CONNECT, SUBSCRIBE to its acks,
//! PINGREQ, PUBLISH), far lighter than a rumqttc event loop per device; they connect from
//! several loopback source addresses so that ephemeral ports do not run out.
//!
//! Run by `tests/side-by-side/connections.sh` (env: DEVICES, STEP, HOLD_S, FINAL_HOLD_S,
//! KEEPALIVE_S, REPORT_S, SOURCES, SUBSCRIBE, HANDSHAKES, SIDE_BY_SIDE_MD, SIDE_BY_SIDE_PIDS).
//! A device that fails to connect does not retry (the table counts it as refused), so a
//! figure is what one attempt per device achieves.

use heartline_e2e::bench::{
    cpu_us, emit_markdown, env_or, note_pid, open_files_limit, rss_kib, spawn_hub, spawn_mosquitto,
};
use heartline_e2e::{DeviceCreds, Fleet, ids, rawmqtt, sample_report};
use heartline_proto::Channel;
use heartline_proto::envelope::seal;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const HUB: &str = env!("CARGO_BIN_EXE_hub");

/// What the devices saw, summed over all of them.
#[derive(Default)]
struct Stats {
    connected: AtomicU64,
    refused: AtomicU64,
    dropped: AtomicU64,
    pongs: AtomicU64,
    reports: AtomicU64,
    /// Packets from the hub on the ack topic (the hub's signed acks after commit).
    acks: AtomicU64,
    /// Why devices were refused or dropped, with counts.
    why: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Stats {
    fn failed(&self, counter: &AtomicU64, why: String) {
        counter.fetch_add(1, Ordering::Relaxed);
        *self.why.lock().unwrap().entry(why).or_default() += 1;
    }
}

struct Settings {
    /// The broker the devices connect to (the hub's, or Mosquitto's).
    addr: SocketAddr,
    keepalive_s: u16,
    report_s: u64,
    subscribe: bool,
}

/// One device for as long as the run lasts: connects, subscribes to its acks, pings every
/// keepalive, reports every `report_s` from a random-looking phase.
async fn device(
    c: DeviceCreds,
    source: Ipv4Addr,
    phase: Duration,
    cfg: Arc<Settings>,
    stats: Arc<Stats>,
    handshaking: tokio::sync::OwnedSemaphorePermit,
) {
    let ack_topic = cfg.subscribe.then(|| c.topic(Channel::Ack));
    let run = async {
        let s = rawmqtt::login(source, cfg.addr, &c, cfg.keepalive_s, ack_topic.as_deref()).await?;
        stats.connected.fetch_add(1, Ordering::Relaxed);
        Ok::<_, std::io::Error>(s)
    };
    let mut s: tokio::net::TcpStream =
        match tokio::time::timeout(Duration::from_secs(30), run).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return stats.failed(&stats.refused, format!("refused: {e}")),
            Err(_) => return stats.failed(&stats.refused, "no CONNACK/SUBACK within 30 s".into()),
        };
    drop(handshaking);
    let keepalive = Duration::from_secs(cfg.keepalive_s.into());
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
    let every = Duration::from_secs(cfg.report_s);
    let mut report = tokio::time::interval_at(tokio::time::Instant::now() + phase, every);
    let topic = c.topic(Channel::Report);
    let mut seq = 0u64;
    let outcome: std::io::Result<()> = async {
        loop {
            tokio::select! {
                _ = ping.tick() => s.write_all(&rawmqtt::PINGREQ).await?,
                _ = report.tick() => {
                    seq += 1;
                    let mut r = sample_report(&c.id, 1, seq);
                    r.next_checkin_s = (cfg.report_s * 2) as u32;
                    let payload = seal(&c.key, &r);
                    s.write_all(&rawmqtt::publish_packet(&topic, seq as u16, &payload)).await?;
                    stats.reports.fetch_add(1, Ordering::Relaxed);
                }
                p = rawmqtt::read_packet(&mut s) => {
                    let (first, body) = p?;
                    match first >> 4 {
                        13 => { stats.pongs.fetch_add(1, Ordering::Relaxed); }
                        3 => {
                            stats.acks.fetch_add(1, Ordering::Relaxed);
                            rawmqtt::take_publish(&mut s, first, &body).await?;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    .await;
    if let Err(e) = outcome {
        stats.failed(&stats.dropped, format!("dropped: {e}"));
    }
}

/// One level held: what it cost.
struct Level {
    devices: u64,
    connected: u64,
    ramp: Duration,
    hub_rss_kib: u64,
    hub_cpu_pct: f64,
    client_rss_kib: u64,
    held: Duration,
    dropped: u64,
    refused: u64,
}

/// How a run ramps: steps of `step` devices up to `target`, each held for `hold` (the last for
/// `final_hold`), from `sources` loopback addresses, `handshakes` at once.
struct Plan {
    target: u64,
    step: u64,
    hold: Duration,
    final_hold: Duration,
    sources: u8,
    handshakes: usize,
}

/// One broker's run: its levels, its RSS before any device, what the devices saw.
struct Run {
    levels: Vec<Level>,
    base_rss: u64,
    base_client: u64,
    stats: Arc<Stats>,
}

/// Connects `plan.target` devices of `fleet` to `cfg.addr` step by step, measuring process
/// `pid` at each level; the devices disconnect when it returns.
fn run_levels(name: &str, pid: u32, fleet: &Fleet, plan: &Plan, cfg: Arc<Settings>) -> Run {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stats = Arc::new(Stats::default());
    let base_rss = rss_kib(pid);
    let base_client = rss_kib(std::process::id());
    let mut levels = Vec::new();
    println!("{name}:");
    rt.block_on(async {
        let mut started = 0u64;
        // At most this many handshakes at once: more only make the broker drop CONNECTs it could
        // not answer within its 10 s connection timeout.
        let gate = Arc::new(tokio::sync::Semaphore::new(plan.handshakes));
        while started < plan.target {
            let level = (started + plan.step).min(plan.target);
            let t0 = Instant::now();
            while started < level {
                let c = fleet.devices[started as usize].clone();
                let source =
                    Ipv4Addr::new(127, 0, 0, 2 + (started % u64::from(plan.sources)) as u8);
                // Spread the reports over the report interval.
                let phase = Duration::from_millis(
                    (started * 7_919 % (cfg.report_s * 1_000)).max(1),
                );
                let (cfg, stats) = (cfg.clone(), stats.clone());
                let permit = gate.clone().acquire_owned().await.unwrap();
                tokio::spawn(device(c, source, phase, cfg, stats, permit));
                started += 1;
            }
            // Wait for this level's handshakes to finish.
            loop {
                let done = stats.connected.load(Ordering::Relaxed)
                    + stats.refused.load(Ordering::Relaxed);
                if done >= level || t0.elapsed() > Duration::from_secs(120) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let ramp = t0.elapsed();
            let this_hold = if level == plan.target { plan.final_hold } else { plan.hold };
            let (cpu0, h0) = (cpu_us(pid), Instant::now());
            tokio::time::sleep(this_hold).await;
            let l = Level {
                devices: level,
                connected: stats.connected.load(Ordering::Relaxed)
                    - stats.dropped.load(Ordering::Relaxed),
                ramp,
                hub_rss_kib: rss_kib(pid),
                hub_cpu_pct: (cpu_us(pid) - cpu0) as f64 / h0.elapsed().as_micros() as f64
                    * 100.0,
                client_rss_kib: rss_kib(std::process::id()),
                held: h0.elapsed(),
                dropped: stats.dropped.load(Ordering::Relaxed),
                refused: stats.refused.load(Ordering::Relaxed),
            };
            println!(
                "  {} devices: {} connected after {:.1} s (refused {}, dropped {}); RSS {} MiB \
                 ({:.1} KiB per device over the {} MiB before), CPU {:.1} % of a core over {:.0} s; \
                 this load generator {} MiB; {} pongs, {} reports, {} acks so far",
                l.devices,
                l.connected,
                l.ramp.as_secs_f64(),
                l.refused,
                l.dropped,
                l.hub_rss_kib / 1024,
                (l.hub_rss_kib - base_rss) as f64 / l.connected.max(1) as f64,
                base_rss / 1024,
                l.hub_cpu_pct,
                l.held.as_secs_f64(),
                l.client_rss_kib / 1024,
                stats.pongs.load(Ordering::Relaxed),
                stats.reports.load(Ordering::Relaxed),
                stats.acks.load(Ordering::Relaxed),
            );
            // A level holds when at most 1 % of its devices failed to connect and none dropped.
            let failed = l.refused * 100 > l.devices || l.dropped > 0;
            levels.push(l);
            if failed {
                println!("  stopping: devices were refused or dropped at this level");
                break;
            }
        }
    });
    drop(rt);
    Run {
        levels,
        base_rss,
        base_client,
        stats,
    }
}

fn table(name: &str, run: &Run) -> String {
    let mut t = format!(
        "| {name}: devices connected (held for) | the step's devices connected in | RSS | RSS per device | CPU while held | load generator RSS | refused / dropped |\n|---|---|---|---|---|---|---|\n",
    );
    for l in &run.levels {
        t.push_str(&format!(
            "| {} ({:.0} s) | {:.1} s | {} MiB | {:.1} KiB | {:.1} % of one core | {} MiB | {} / {} |\n",
            l.connected,
            l.held.as_secs_f64(),
            l.ramp.as_secs_f64(),
            l.hub_rss_kib / 1024,
            (l.hub_rss_kib - run.base_rss) as f64 / l.connected.max(1) as f64,
            l.hub_cpu_pct,
            (l.client_rss_kib.saturating_sub(run.base_client)) / 1024,
            l.refused,
            l.dropped
        ));
    }
    for (why, count) in run.stats.why.lock().unwrap().iter() {
        t.push_str(&format!("\n- {name}: {count} devices {why}"));
    }
    t
}

fn main() {
    let wanted = env_or("DEVICES", 100_000);
    let limit = open_files_limit();
    // Both this process and the broker need one descriptor per device, and some for themselves.
    let fits = limit.saturating_sub(200);
    let plan = Plan {
        target: wanted.min(fits),
        step: env_or("STEP", 5_000),
        hold: Duration::from_secs(env_or("HOLD_S", 45)),
        final_hold: Duration::from_secs(env_or("FINAL_HOLD_S", 150)),
        sources: env_or("SOURCES", 5) as u8,
        handshakes: env_or("HANDSHAKES", 32) as usize,
    };
    let target = plan.target;
    note_pid(std::process::id());
    let settings = |addr| {
        Arc::new(Settings {
            addr,
            keepalive_s: env_or("KEEPALIVE_S", 30) as u16,
            report_s: env_or("REPORT_S", 120),
            subscribe: env_or("SUBSCRIBE", 1) == 1,
        })
    };

    let fleet = Fleet::new(&[("bench", ids("c", target as usize))]);
    // The broker's connection limit (`mqtt.max_connections`) is 100,000 by default.
    let (dir, hub) = spawn_hub(HUB, &fleet, "");
    let cfg = settings(hub.v4);
    println!(
        "connections: {wanted} devices wanted, open-file limit {limit} → {target} tried, in steps of \
         {}; keepalive {} s, a report every {} s, {} source addresses, {} handshakes at once",
        plan.step, cfg.keepalive_s, cfg.report_s, plan.sources, plan.handshakes
    );
    let hub_run = run_levels("hub", hub.child.id(), &fleet, &plan, cfg);
    let log = std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default();
    hub.stop();

    // Mosquitto holding the same devices (anonymous: it checks no token and no topic), when
    // installed. It only forwards: nobody acks the reports.
    let mosquitto = std::env::var("MOSQUITTO").unwrap_or_else(|_| "/usr/sbin/mosquitto".into());
    let mq_run = std::path::Path::new(&mosquitto).exists().then(|| {
        let (mq, addr, version) = spawn_mosquitto(&mosquitto, dir.path(), "max_connections -1\n");
        let run = run_levels(&version, mq.pid(), &fleet, &plan, settings(addr));
        (version, run)
    });

    let mut md = table("hub", &hub_run);
    md.push_str(&format!(
        "\n\nHub RSS before any device connected, with the {target}-device inventory loaded: {} MiB. \
         {} keepalive answers, {} reports sent, {} hub acks received over the run. \
         Open-file limit of the run: {limit} ({}).\n",
        hub_run.base_rss / 1024,
        hub_run.stats.pongs.load(Ordering::Relaxed),
        hub_run.stats.reports.load(Ordering::Relaxed),
        hub_run.stats.acks.load(Ordering::Relaxed),
        if target < wanted {
            format!("{wanted} devices wanted; capped at {target} by it")
        } else {
            "enough for the devices wanted".to_string()
        }
    ));
    let complaints: std::collections::BTreeSet<&str> = log
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest))
        .collect();
    for c in complaints.iter().take(5) {
        md.push_str(&format!(
            "\n- hub log: `{}`",
            c.chars().take(200).collect::<String>()
        ));
    }
    if let Some((version, run)) = &mq_run {
        md.push_str(&format!(
            "\n\nThe same devices, the same ramp, against {version} (its RSS before: {} MiB):\n\n",
            run.base_rss / 1024
        ));
        md.push_str(&table("Mosquitto", run));
        let per = |r: &Run| {
            r.levels.last().map_or(0.0, |l| {
                (l.hub_rss_kib - r.base_rss) as f64 / l.connected.max(1) as f64
            })
        };
        md.push_str(&format!(
            "\n\nAt the top level: hub {:.1} KiB per device, Mosquitto {:.1} KiB (ratio {:.1}).\n",
            per(&hub_run),
            per(run),
            per(&hub_run) / per(run).max(0.001)
        ));
    }
    md.push('\n');
    emit_markdown(&md);
}
