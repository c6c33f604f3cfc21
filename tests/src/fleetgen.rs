//! A fleet of raw MQTT 3.1.1 devices in a process of its own, for the benchmarks that need more
//! devices than one process may hold sockets (`cluster_fleet`) or the fleet apart from the hub
//! (`soak`). A bench re-runs its own binary with `FLEET_LOADGEN` set ([`is_loadgen`]); that
//! process runs [`loadgen`] and prints a `stat` line every second, which [`spawn_loadgen`] reads.
//!
//! Each device signs a report every `REPORT_S` and keeps what is not acknowledged (an outbox):
//! it is sent again after a reconnect and after 30 s without its ack, as the agent does. A device
//! whose node dies moves to another one. With `SILENT_EVERY_S`, one device in a hundred falls
//! silent for `SILENT_FOR_S` that often (its connection dropped, no reports), so the hub opens
//! and closes tickets as it would in the field.

use crate::bench::{env_or, note_pid};
use crate::{DeviceCreds, ids, rawmqtt, sample_report};
use heartline_proto::Channel;
use heartline_proto::envelope::{open, seal};
use heartline_proto::wire;
use std::io::BufRead;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// The fleet's tenant and its devices' ids (`c-0`, `c-1`, …).
pub const TENANT: &str = "bench";
pub const PREFIX: &str = "c";
const BOOT: u64 = 1;
/// How long a report waits for its ack before a device sends it again.
const RESEND_EVERY: Duration = Duration::from_secs(30);
/// The environment variable that makes a bench binary a load generator.
const LOADGEN_ENV: &str = "FLEET_LOADGEN";

/// Whether this process was started by [`spawn_loadgen`].
pub fn is_loadgen() -> bool {
    std::env::var_os(LOADGEN_ENV).is_some()
}

/// Counters of one load generator, printed once a second as a `stat` line.
#[derive(Default)]
struct Stats {
    connected: AtomicU64,
    reconnects: AtomicU64,
    failed_attempts: AtomicU64,
    sent: AtomicU64,
    acked: AtomicU64,
    resent: AtomicU64,
}

struct Settings {
    nodes: Vec<SocketAddr>,
    keepalive_s: u16,
    report_s: u64,
    /// One device in a hundred falls silent this often, for `silent_for`.
    silent_every: Option<Duration>,
    silent_for: Duration,
    stopping: AtomicBool,
}

/// The load generator's `main`: devices `LG_FROM..LG_TO` of `LG_NODES`, a `stat` line a second.
pub fn loadgen() {
    let from = env_or("LG_FROM", 0) as usize;
    let to = env_or("LG_TO", 0) as usize;
    let handshakes = env_or("HANDSHAKES", 16) as usize;
    let nodes: Vec<SocketAddr> = std::env::var("LG_NODES")
        .expect("LG_NODES")
        .split(',')
        .map(|a| a.parse().expect("LG_NODES: host:port,..."))
        .collect();
    let cfg = Arc::new(Settings {
        nodes,
        keepalive_s: env_or("KEEPALIVE_S", 60) as u16,
        report_s: env_or("REPORT_S", 120),
        silent_every: Some(env_or("SILENT_EVERY_S", 0))
            .filter(|s| *s > 0)
            .map(Duration::from_secs),
        silent_for: Duration::from_secs(env_or("SILENT_FOR_S", 120)),
        stopping: AtomicBool::new(false),
    });
    let stats = Arc::new(Stats::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // "stop" on stdin: no new reports from now on (what is unacknowledged is still resent).
    let c = cfg.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if line.map(|l| l.trim() == "stop").unwrap_or(true) {
                c.stopping.store(true, Ordering::Relaxed);
                break;
            }
        }
    });
    rt.block_on(async {
        let gate = Arc::new(tokio::sync::Semaphore::new(handshakes));
        for (i, id) in ids(PREFIX, to).into_iter().enumerate().skip(from) {
            let (cfg, stats, gate) = (cfg.clone(), stats.clone(), gate.clone());
            tokio::spawn(device(
                DeviceCreds::derived(TENANT, &id),
                i,
                cfg,
                stats,
                gate,
            ));
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
            println!(
                "stat {} {} {} {} {} {}",
                l(&stats.connected),
                l(&stats.reconnects),
                l(&stats.failed_attempts),
                l(&stats.sent),
                l(&stats.acked),
                l(&stats.resent)
            );
        }
    });
}

/// One device for as long as the run lasts: connects to its home node, reports every
/// `report_s`, counts the hub's acks; when its connection drops it moves to another node and
/// resends what has no ack.
async fn device(
    c: DeviceCreds,
    index: usize,
    cfg: Arc<Settings>,
    stats: Arc<Stats>,
    gate: Arc<tokio::sync::Semaphore>,
) {
    let n = cfg.nodes.len();
    let mut node = index % n;
    let source = Ipv4Addr::new(127, 0, 0, 2 + (index % 5) as u8);
    let (ack_topic, report_topic) = (c.topic(Channel::Ack), c.topic(Channel::Report));
    let every = Duration::from_secs(cfg.report_s);
    let phase = Duration::from_millis((index as u64 * 7_919 % (cfg.report_s * 1_000)).max(1));
    let mut report = tokio::time::interval_at(tokio::time::Instant::now() + phase, every);
    // A device that falls silent now and then: one in a hundred, when the run asks for it. While
    // silent it makes no reports (none are owed afterwards either).
    let silent_every = cfg.silent_every.filter(|_| index % 100 == 0);
    let period = silent_every.unwrap_or(Duration::from_secs(86_400));
    let mut silence =
        tokio::time::interval_at(tokio::time::Instant::now() + period + phase, period);
    if silent_every.is_some() {
        report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    }
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut first = true;
    loop {
        let permit = gate.acquire().await.unwrap();
        let login = rawmqtt::login(
            source,
            cfg.nodes[node],
            &c,
            cfg.keepalive_s,
            Some(&ack_topic),
        );
        let conn = tokio::time::timeout(Duration::from_secs(30), login).await;
        drop(permit);
        let Ok(Ok(mut s)) = conn else {
            stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
            // Another node: spread over all the others, never the same one again at once.
            node = next_node(node, index, n);
            tokio::time::sleep(Duration::from_millis(500 + (index as u64 % 1_000))).await;
            continue;
        };
        stats.connected.fetch_add(1, Ordering::Relaxed);
        if !first {
            stats.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        first = false;
        let keepalive = Duration::from_secs(cfg.keepalive_s.into());
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
        // Like an agent: what waited for its ack a whole period goes again (a report the node
        // took but could not forward; the hub's ack stops below it until it comes).
        let mut resend =
            tokio::time::interval_at(tokio::time::Instant::now() + RESEND_EVERY, RESEND_EVERY);
        let mut waiting_up_to = sent;
        // Ok(true): the device falls silent now.
        let outcome: std::io::Result<bool> = async {
            // The outbox: everything sent and not acknowledged goes again.
            for seq in acked + 1..=sent {
                s.write_all(&publish(&c, &report_topic, seq, cfg.report_s))
                    .await?;
            }
            loop {
                tokio::select! {
                    _ = ping.tick() => s.write_all(&rawmqtt::PINGREQ).await?,
                    _ = silence.tick(), if silent_every.is_some() => return Ok(true),
                    _ = resend.tick() => {
                        for seq in acked + 1..=waiting_up_to.min(sent) {
                            stats.resent.fetch_add(1, Ordering::Relaxed);
                            s.write_all(&publish(&c, &report_topic, seq, cfg.report_s)).await?;
                        }
                        waiting_up_to = sent;
                    }
                    _ = report.tick(), if !cfg.stopping.load(Ordering::Relaxed) => {
                        sent += 1;
                        stats.sent.fetch_add(1, Ordering::Relaxed);
                        s.write_all(&publish(&c, &report_topic, sent, cfg.report_s)).await?;
                    }
                    p = rawmqtt::read_packet(&mut s) => {
                        let (first, body) = p?;
                        if first >> 4 == 3 {
                            let payload = rawmqtt::take_publish(&mut s, first, &body).await?;
                            if let Ok(ack) = open::<wire::Ack>(&c.key, &payload) {
                                if ack.boot_id == BOOT && ack.sequence > acked {
                                    let newly = ack.sequence.min(sent) - acked;
                                    stats.acked.fetch_add(newly, Ordering::Relaxed);
                                    acked += newly;
                                }
                            }
                        }
                    }
                }
            }
        }
        .await;
        stats.connected.fetch_sub(1, Ordering::Relaxed);
        if let Ok(true) = outcome {
            // The connection dropped without a DISCONNECT, as a device that loses power.
            drop(s);
            tokio::time::sleep(cfg.silent_for).await;
            report.reset();
            silence.reset();
            continue;
        }
        node = next_node(node, index, n);
        tokio::time::sleep(Duration::from_millis(200 + (index as u64 % 2_000))).await;
    }
}

/// The node a device tries after `node` failed: spread over all the others, never the same one
/// again at once (the only one when there is one).
fn next_node(node: usize, index: usize, n: usize) -> usize {
    if n < 2 {
        return 0;
    }
    (node + 1 + index % (n - 1)) % n
}

fn publish(c: &DeviceCreds, topic: &str, seq: u64, report_s: u64) -> Vec<u8> {
    let mut r = sample_report(&c.id, BOOT, seq);
    r.next_checkin_s = (report_s * 2) as u32;
    rawmqtt::publish_packet(topic, (seq % 65_535 + 1) as u16, &seal(&c.key, &r))
}

/// The last `stat` line of one load generator.
#[derive(Clone, Copy, Default)]
pub struct LgStat {
    pub connected: u64,
    pub reconnects: u64,
    pub failed: u64,
    pub sent: u64,
    pub acked: u64,
    pub resent: u64,
}

/// A load-generator process and its last `stat` line; killed when dropped.
pub struct Loadgen {
    pub child: std::process::Child,
    last: Arc<Mutex<LgStat>>,
}

impl Drop for Loadgen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts this binary again as a load generator for devices `from..to` on `nodes` (`host:port`
/// separated by commas), with `settings` (`REPORT_S`, `KEEPALIVE_S`, `SILENT_EVERY_S`, …) on top
/// of what it inherits.
pub fn spawn_loadgen(from: usize, to: usize, nodes: &str, settings: &[(&str, u64)]) -> Loadgen {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .envs(settings.iter().map(|(k, v)| (*k, v.to_string())))
        .env(LOADGEN_ENV, "1")
        .env("LG_FROM", from.to_string())
        .env("LG_TO", to.to_string())
        .env("LG_NODES", nodes)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    note_pid(child.id());
    let last = Arc::new(Mutex::new(LgStat::default()));
    let out = child.stdout.take().unwrap();
    let l = last.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let v: Vec<u64> = line
                .strip_prefix("stat ")
                .unwrap_or_default()
                .split(' ')
                .filter_map(|x| x.parse().ok())
                .collect();
            if let [connected, reconnects, failed, sent, acked, resent] = v[..] {
                *l.lock().unwrap() = LgStat {
                    connected,
                    reconnects,
                    failed,
                    sent,
                    acked,
                    resent,
                };
            }
        }
    });
    Loadgen { child, last }
}

pub fn total(lgs: &[Loadgen]) -> LgStat {
    lgs.iter().fold(LgStat::default(), |a, l| {
        let s = *l.last.lock().unwrap();
        LgStat {
            connected: a.connected + s.connected,
            reconnects: a.reconnects + s.reconnects,
            failed: a.failed + s.failed,
            sent: a.sent + s.sent,
            acked: a.acked + s.acked,
            resent: a.resent + s.resent,
        }
    })
}

/// Waits until `cond` holds for the fleet's totals, checking every second; false after `limit`.
pub fn wait_for(lgs: &[Loadgen], limit: Duration, mut cond: impl FnMut(LgStat) -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if cond(total(lgs)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    cond(total(lgs))
}

/// Tells every load generator to stop reporting, then waits (up to `limit`) until every report
/// sent is acknowledged and the counts stood still for 3 s (a report whose tick raced the stop
/// shows up in a later `stat` line). Returns the final counts and whether they drained.
pub fn stop_and_drain(lgs: &[Loadgen], limit: Duration) -> (LgStat, bool) {
    use std::io::Write;
    for lg in lgs {
        let _ = writeln!(lg.child.stdin.as_ref().unwrap(), "stop");
    }
    let t0 = Instant::now();
    let mut fin = total(lgs);
    let mut drained = false;
    while !drained && t0.elapsed() < limit {
        std::thread::sleep(Duration::from_secs(3));
        let now = total(lgs);
        drained = now.acked >= now.sent && now.sent == fin.sent && now.acked == fin.acked;
        fin = now;
    }
    (fin, drained)
}
