//! Connections: many devices held connected to one hub process, each with MQTT keepalive pings and
//! a signed report every few minutes; the hub's RSS per connected device and its CPU, level by
//! level. The devices are raw MQTT 3.1.1 clients, one small tokio task each (CONNECT, SUBSCRIBE to
//! its acks, PINGREQ, PUBLISH), far lighter than a rumqttc event loop per device; they connect
//! from several loopback source addresses so that ephemeral ports do not run out.
//!
//! Run by `tests/side-by-side/connections.sh` (env: DEVICES, STEP, HOLD_S, FINAL_HOLD_S,
//! KEEPALIVE_S, REPORT_S, SOURCES, SUBSCRIBE, HANDSHAKES, SIDE_BY_SIDE_MD, SIDE_BY_SIDE_PIDS).
//! A device that fails to connect does not retry (the table counts it as refused), so a
//! figure is what one attempt per device achieves.

use heartline_e2e::bench::{cpu_us, emit_markdown, env_or, note_pid, rss_kib, spawn_hub};
use heartline_e2e::{DeviceCreds, Fleet, ids, sample_report};
use heartline_proto::Channel;
use heartline_proto::envelope::seal;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    hub: SocketAddr,
    keepalive_s: u16,
    report_s: u64,
    subscribe: bool,
}

/// An MQTT string: two length bytes, then the bytes.
fn put_str(buf: &mut Vec<u8>, s: &[u8]) {
    buf.extend_from_slice(&(s.len() as u16).to_be_bytes());
    buf.extend_from_slice(s);
}

/// A packet: the first header byte, the remaining length (variable-length integer), `body`.
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut len = body.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

fn connect_packet(c: &DeviceCreds, keepalive_s: u16) -> Vec<u8> {
    let mut body = Vec::with_capacity(96);
    put_str(&mut body, b"MQTT");
    body.push(4); // protocol level 3.1.1
    body.push(0xC2); // username, password, clean session
    body.extend_from_slice(&keepalive_s.to_be_bytes());
    put_str(&mut body, c.id.as_bytes());
    put_str(&mut body, c.id.as_bytes());
    put_str(&mut body, c.token.as_bytes());
    packet(0x10, &body)
}

fn subscribe_packet(topic: &str) -> Vec<u8> {
    let mut body = vec![0, 1];
    put_str(&mut body, topic.as_bytes());
    body.push(1);
    packet(0x82, &body)
}

fn publish_packet(topic: &str, id: u16, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(topic.len() + payload.len() + 4);
    put_str(&mut body, topic.as_bytes());
    body.extend_from_slice(&id.to_be_bytes());
    body.extend_from_slice(payload);
    packet(0x32, &body)
}

/// Reads one packet: (first header byte, body).
async fn read_packet(s: &mut tokio::net::TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let first = s.read_u8().await?;
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let b = s.read_u8().await?;
        len |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).await?;
    Ok((first, body))
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
    let run = async {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.bind((source, 0).into())?;
        let mut s = sock.connect(cfg.hub).await?;
        s.write_all(&connect_packet(&c, cfg.keepalive_s)).await?;
        let (first, body) = read_packet(&mut s).await?;
        if first != 0x20 || body.get(1) != Some(&0) {
            return Err(std::io::Error::other("CONNACK refused"));
        }
        if cfg.subscribe {
            s.write_all(&subscribe_packet(&c.topic(Channel::Ack)))
                .await?;
            let (first, _) = read_packet(&mut s).await?;
            if first != 0x90 {
                return Err(std::io::Error::other("no SUBACK"));
            }
        }
        stats.connected.fetch_add(1, Ordering::Relaxed);
        Ok(s)
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
                _ = ping.tick() => s.write_all(&[0xC0, 0]).await?,
                _ = report.tick() => {
                    seq += 1;
                    let mut r = sample_report(&c.id, 1, seq);
                    r.next_checkin_s = (cfg.report_s * 2) as u32;
                    let payload = seal(&c.key, &r);
                    s.write_all(&publish_packet(&topic, seq as u16, &payload)).await?;
                    stats.reports.fetch_add(1, Ordering::Relaxed);
                }
                p = read_packet(&mut s) => {
                    let (first, body) = p?;
                    match first >> 4 {
                        13 => { stats.pongs.fetch_add(1, Ordering::Relaxed); }
                        3 => {
                            stats.acks.fetch_add(1, Ordering::Relaxed);
                            // QoS 1: acknowledge with the packet id after the topic.
                            if first & 0x06 == 0x02 {
                                let tlen = usize::from(u16::from_be_bytes([body[0], body[1]]));
                                let id = &body[2 + tlen..4 + tlen];
                                s.write_all(&[0x40, 2, id[0], id[1]]).await?;
                            }
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

/// The soft limit on open files of this process (the hub, started by the same script, has it too).
fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
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

fn main() {
    let wanted = env_or("DEVICES", 100_000);
    let step = env_or("STEP", 5_000);
    let hold = Duration::from_secs(env_or("HOLD_S", 45));
    let final_hold = Duration::from_secs(env_or("FINAL_HOLD_S", 150));
    let sources = env_or("SOURCES", 5) as u8;
    let handshakes = env_or("HANDSHAKES", 32) as usize;
    let limit = open_files_limit();
    // Both this process and the hub need one descriptor per device, and some for themselves.
    let fits = limit.saturating_sub(200);
    let target = wanted.min(fits);
    note_pid(std::process::id());

    let fleet = Fleet::new(&[("bench", ids("c", target as usize))]);
    // The broker\'s connection limit (`mqtt.max_connections`) is 100,000 by default.
    let (dir, hub) = spawn_hub(HUB, &fleet, "");
    let hub_pid = hub.child.id();
    let cfg = Arc::new(Settings {
        hub: hub.v4,
        keepalive_s: env_or("KEEPALIVE_S", 30) as u16,
        report_s: env_or("REPORT_S", 120),
        subscribe: env_or("SUBSCRIBE", 1) == 1,
    });
    println!(
        "connections: {wanted} devices wanted, open-file limit {limit} → {target} tried, in steps of \
         {step}; keepalive {} s, a report every {} s, {sources} source addresses, {handshakes} handshakes at once",
        cfg.keepalive_s, cfg.report_s
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stats = Arc::new(Stats::default());
    let base_rss = rss_kib(hub_pid);
    let base_client = rss_kib(std::process::id());
    let mut levels = Vec::new();
    rt.block_on(async {
        let mut started = 0u64;
        // At most this many handshakes at once: more only make the broker drop CONNECTs it could
        // not answer within its 10 s connection timeout.
        let gate = Arc::new(tokio::sync::Semaphore::new(handshakes));
        while started < target {
            let level = (started + step).min(target);
            let t0 = Instant::now();
            while started < level {
                let c = fleet.devices[started as usize].clone();
                let source = Ipv4Addr::new(127, 0, 0, 2 + (started % u64::from(sources)) as u8);
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
            let this_hold = if level == target { final_hold } else { hold };
            let (cpu0, h0) = (cpu_us(hub_pid), Instant::now());
            tokio::time::sleep(this_hold).await;
            let l = Level {
                devices: level,
                connected: stats.connected.load(Ordering::Relaxed)
                    - stats.dropped.load(Ordering::Relaxed),
                ramp,
                hub_rss_kib: rss_kib(hub_pid),
                hub_cpu_pct: (cpu_us(hub_pid) - cpu0) as f64 / h0.elapsed().as_micros() as f64
                    * 100.0,
                client_rss_kib: rss_kib(std::process::id()),
                held: h0.elapsed(),
                dropped: stats.dropped.load(Ordering::Relaxed),
                refused: stats.refused.load(Ordering::Relaxed),
            };
            println!(
                "  {} devices: {} connected after {:.1} s (refused {}, dropped {}); hub RSS {} MiB \
                 ({:.1} KiB per device over the {} MiB before), hub CPU {:.1} % of a core over {:.0} s; \
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
    let mut table = String::from(
        "| devices connected (held for) | the step's devices connected in | hub RSS | hub RSS per device | hub CPU while held | load generator RSS | refused / dropped |\n|---|---|---|---|---|---|---|\n",
    );
    for l in &levels {
        table.push_str(&format!(
            "| {} ({:.0} s) | {:.1} s | {} MiB | {:.1} KiB | {:.1} % of one core | {} MiB | {} / {} |\n",
            l.connected,
            l.held.as_secs_f64(),
            l.ramp.as_secs_f64(),
            l.hub_rss_kib / 1024,
            (l.hub_rss_kib - base_rss) as f64 / l.connected.max(1) as f64,
            l.hub_cpu_pct,
            (l.client_rss_kib.saturating_sub(base_client)) / 1024,
            l.refused,
            l.dropped
        ));
    }
    table.push_str(&format!(
        "\nHub RSS before any device connected, with the {target}-device inventory loaded: {} MiB. \
         {} keepalive answers, {} reports sent, {} hub acks received over the run. \
         Open-file limit of the run: {limit} ({}).\n",
        base_rss / 1024,
        stats.pongs.load(Ordering::Relaxed),
        stats.reports.load(Ordering::Relaxed),
        stats.acks.load(Ordering::Relaxed),
        if target < wanted {
            format!("{wanted} devices wanted; capped at {target} by it")
        } else {
            "enough for the devices wanted".to_string()
        }
    ));
    for (why, count) in stats.why.lock().unwrap().iter() {
        table.push_str(&format!("\n- {count} devices {why}"));
    }
    let log = std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default();
    let complaints: std::collections::BTreeSet<&str> = log
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest))
        .collect();
    for c in complaints.iter().take(5) {
        table.push_str(&format!(
            "\n- hub log: `{}`",
            c.chars().take(200).collect::<String>()
        ));
    }
    table.push('\n');
    emit_markdown(&table);
    drop(rt);
    hub.stop();
}
