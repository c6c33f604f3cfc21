//! Shared by the load benches: knobs from the environment, a process's CPU and memory from
//! `/proc`, percentiles, the windowed publisher of signed reports, and the peers (Mosquitto,
//! Prometheus, Alertmanager) started as child processes that stop with the bench.

use crate::{Device, DeviceCreds, Fleet, HubProcess, Protocol, free_port};
use heartline_proto::Channel;
use heartline_proto::envelope::seal;
use std::net::SocketAddr;

/// A number from the environment, or `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// utime + stime of a process, in microseconds.
pub fn cpu_us(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let hz = 100; // USER_HZ on Linux
    ticks * 1_000_000 / hz
}

/// Resident memory of a process, in KiB (0 when it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The value at quantile `p` of a sorted, non-empty slice (the nearest index, rounded).
pub fn percentile(sorted: &[i64], p: f64) -> i64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The nearest-rank quantile `p` of a sorted, non-empty slice: the smallest value with at least
/// `p` of the values at or below it.
pub fn nearest_rank(sorted: &[i64], p: f64) -> i64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// The middle value (the upper one of an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Starts the hub binary `bin` (`heartline-hub run`) on free loopback ports in a new temp folder
/// holding `fleet`'s inventory, with `extra` TOML in its config; notes its pid.
pub fn spawn_hub(bin: &str, fleet: &Fleet, extra: &str) -> (tempfile::TempDir, HubProcess) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();
    let hub = HubProcess::spawn(
        bin,
        dir.path(),
        [free_port(), free_port(), free_port()],
        extra,
    );
    note_pid(hub.child.id());
    (dir, hub)
}

/// Connects every device of `creds`, alternately over MQTT 3.1.1 (`v4`) and MQTT 5 (`v5`).
pub async fn connect_all(creds: &[DeviceCreds], v4: SocketAddr, v5: SocketAddr) -> Vec<Device> {
    let mut devs = Vec::new();
    for (i, c) in creds.iter().enumerate() {
        let (addr, p) = if i % 2 == 0 {
            (v4, Protocol::V4)
        } else {
            (v5, Protocol::V5)
        };
        devs.push(Device::connect(addr, c, p).await.unwrap());
    }
    devs
}

/// How a publisher paces itself.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// At most this many reports not yet acknowledged by the hub (its signed ack, sent after
    /// commit); returns once the last one is acknowledged.
    HubAcks(u64),
    /// Only MQTT's own flow control (the client's in-flight limit of QoS 1 PUBACKs): for a
    /// broker that merely forwards. Returns once every report is queued.
    BrokerOnly,
}

/// Publishes the signed sample reports `first ..= first + count - 1` of `dev` on its report topic.
pub async fn publish_reports(dev: &mut Device, first: u64, count: u64, pace: Pace) {
    let last = first + count - 1;
    let topic = dev.creds.topic(Channel::Report);
    let window = match pace {
        Pace::HubAcks(w) => w,
        Pace::BrokerOnly => u64::MAX,
    };
    let mut acked = first - 1;
    let mut next = first;
    while next <= last {
        while next <= last && next - acked <= window {
            let payload = seal(&dev.creds.key, &dev.report(next));
            dev.publish(&topic, payload).await.unwrap();
            next += 1;
        }
        if let Pace::HubAcks(_) = pace {
            acked = acked.max(dev.next_ack().await.unwrap().sequence);
        }
    }
    if let Pace::HubAcks(_) = pace {
        while acked < last {
            acked = acked.max(dev.next_ack().await.unwrap().sequence);
        }
    }
}

/// Runs [`publish_reports`] for all `devs` at once; returns them (still connected) when every
/// publisher is done.
pub async fn publish_all(devs: Vec<Device>, first: u64, count: u64, pace: Pace) -> Vec<Device> {
    let tasks: Vec<_> = devs
        .into_iter()
        .map(|mut d| {
            tokio::spawn(async move {
                publish_reports(&mut d, first, count, pace).await;
                d
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// A peer process (or a hub) the bench started: killed and reaped when dropped, so a failed
/// bench leaves nothing running. Its pid is appended to `$SIDE_BY_SIDE_PIDS` when set, for the
/// calling script's trap.
pub struct Peer {
    pub name: &'static str,
    pub child: std::process::Child,
}

impl Peer {
    /// Starts `program` with `args`, its output in `log`.
    pub fn spawn(
        name: &'static str,
        program: &str,
        args: &[String],
        log: &std::path::Path,
    ) -> Peer {
        let out = std::fs::File::create(log).unwrap();
        let child = std::process::Command::new(program)
            .args(args)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({program}): {e}"));
        note_pid(child.id());
        Peer { name, child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends `pid` to the file named by `$SIDE_BY_SIDE_PIDS`, if any.
pub fn note_pid(pid: u32) {
    use std::io::Write;
    if let Ok(path) = std::env::var("SIDE_BY_SIDE_PIDS") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{pid}");
        }
    }
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_listening(addr: SocketAddr, what: &str) {
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(30),
            "{what} is not listening on {addr}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Writes the markdown `text` to `$SIDE_BY_SIDE_MD` when set (the script splices it into
/// BENCHMARKS.md), and prints it.
pub fn emit_markdown(text: &str) {
    println!("{text}");
    if let Ok(path) = std::env::var("SIDE_BY_SIDE_MD") {
        std::fs::write(path, text).unwrap();
    }
}

/// Mosquitto (`program`) on a free loopback port with `conf` lines after its listener, its files
/// in `dir`; returns it with its address and version line once it listens.
pub fn spawn_mosquitto(
    program: &str,
    dir: &std::path::Path,
    conf: &str,
) -> (Peer, SocketAddr, String) {
    let port = crate::free_port();
    let path = dir.join("mosquitto.conf");
    std::fs::write(
        &path,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{conf}\
             log_dest stderr\nlog_type error\n"
        ),
    )
    .unwrap();
    let mq = Peer::spawn(
        "mosquitto",
        program,
        &["-c".into(), path.display().to_string()],
        &dir.join("mosquitto.log"),
    );
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_listening(addr, "mosquitto");
    let version = crate::output_of(std::process::Command::new(program).arg("-h"))
        .1
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    (mq, addr, version)
}

/// The soft limit on open files of this process (processes it starts inherit it).
pub fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}
