//! The no_std firmware end to end: the board binary boots in QEMU (lm3s6965evb) with its UART
//! wired to the real hub's MQTT 3.1.1 listener and a TMP105 on its I²C bus. A counted run sends
//! its reports, sees them all acknowledged and says goodbye (QEMU exits 0 only then); an endless
//! run overheats (a CRIT check, a ticket), then is killed like a device losing power, and the hub
//! takes the last will and opens a ticket.
//!
//! Needs `qemu-system-arm` and the two board binaries, so it is ignored in a plain `cargo test`:
//! `firmware/qemu/e2e.sh` builds them and runs it with `--ignored`.

use heartline_e2e::{HubProcess, eventually, free_port, scrape};
use heartline_engine::{EventKind, FaultKind, Presence};
use heartline_hub::inventory::token_sha256;
use heartline_hub::store::{Scope, Store};
use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const HUB: &str = env!("CARGO_BIN_EXE_hub");
/// Backstop for one QEMU run (the firmware's own deadline is shorter).
const QEMU_LIMIT: &str = "120";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by firmware/qemu/e2e.sh"))
}

/// The firmware's device, as the board binaries were built for it.
struct Board {
    tenant: String,
    device: String,
    reports: u64,
}

fn inventory(b: &Board) -> String {
    let (t, d) = (&b.tenant, &b.device);
    format!(
        "[[tenant]]\nid = \"{t}\"\nname = \"Lab\"\n\n\
         [[project]]\nid = \"{t}-p\"\ntenant = \"{t}\"\nname = \"Firmware\"\n\n\
         [[site]]\nid = \"{t}-s\"\nproject = \"{t}-p\"\nname = \"Bench\"\n\n\
         [[device]]\nid = \"{d}\"\nsite = \"{t}-s\"\nkind = \"sensor\"\nkey = \"{}\"\ntoken_sha256 = \"{}\"\n",
        var("HEARTLINE_FW_KEY"),
        hex::encode(token_sha256(&var("HEARTLINE_FW_TOKEN")))
    )
}

/// A QEMU run under `timeout`, stopped with it (a SIGTERM that `timeout` passes on to QEMU)
/// when dropped, so a failing test leaves no emulator behind.
struct Qemu(Child, Monitor);

impl Qemu {
    /// Sets the TMP105's temperature.
    fn temperature(&mut self, millicelsius: i32) {
        self.1.run(&format!(
            "qom-set /machine/peripheral/thermometer temperature {millicelsius}"
        ));
    }

    /// Ends QEMU at once, without warning the firmware: to the broker it is a device whose power
    /// went off.
    fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        self.0.wait().unwrap()
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

/// QEMU with the board's UART connected to `mqtt` and a TMP105 (an LM75-class sensor) at
/// `millicelsius` on its I²C bus; the console lines arrive on the receiver. QEMU starts paused:
/// the sensor's temperature can only be set through the monitor after the machine's reset, and
/// the firmware must find it set at its first reading.
fn qemu(
    elf: &str,
    mqtt: SocketAddr,
    dir: &Path,
    millicelsius: i32,
) -> (Qemu, mpsc::Receiver<String>) {
    // QEMU connects its monitor to this socket as a client, before the machine starts.
    let monitor = dir.join(format!("qemu-{}.sock", free_port()));
    let listener = UnixListener::bind(&monitor).unwrap();
    let mut child = Command::new("timeout")
        .args(["--kill-after=5", QEMU_LIMIT, "qemu-system-arm"])
        .args(["-M", "lm3s6965evb", "-nographic", "-S"])
        .arg("-monitor")
        .arg(format!("unix:{}", monitor.display()))
        .args(["-semihosting-config", "enable=on,target=native"])
        .args(["-device", "tmp105,id=thermometer,address=0x48"])
        .arg("-serial")
        .arg(format!("tcp:{mqtt}"))
        .args(["-kernel", elf])
        .stdout(Stdio::piped())
        .spawn()
        .expect("qemu-system-arm (through timeout) starts");
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            println!("qemu: {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let monitor = Monitor::accept(listener);
    let mut qemu = Qemu(child, monitor);
    qemu.temperature(millicelsius);
    qemu.1.run("cont");
    (qemu, rx)
}

/// QEMU's human monitor, on a socket QEMU connected to.
struct Monitor {
    reader: std::io::BufReader<UnixStream>,
    writer: UnixStream,
}

impl Monitor {
    fn accept(listener: UnixListener) -> Monitor {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(listener.accept().map(|(s, _)| s));
        });
        let stream = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("QEMU connects its monitor")
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut m = Monitor {
            reader: std::io::BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        m.prompt();
        m
    }

    /// Reads up to the next "(qemu) " prompt (no newline follows it).
    fn prompt(&mut self) -> String {
        let mut seen = Vec::new();
        while !seen.ends_with(b"(qemu) ") {
            let mut byte = [0u8; 1];
            self.reader
                .read_exact(&mut byte)
                .expect("QEMU monitor answers");
            seen.push(byte[0]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    }

    /// Runs one command and waits until it answered.
    fn run(&mut self, command: &str) {
        writeln!(self.writer, "{command}").unwrap();
        let answer = self.prompt();
        assert!(!answer.contains("rror"), "{command}: {answer}");
    }
}

/// Waits for a console line starting with `prefix`.
fn wait_line(rx: &mpsc::Receiver<String>, prefix: &str) -> String {
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.starts_with(prefix) => return line,
            Ok(_) => {}
            Err(e) => panic!("no \"{prefix}\" from the firmware: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs qemu-system-arm and the board binaries: run by firmware/qemu/e2e.sh"]
async fn firmware_reports_are_stored_and_acked_and_its_death_opens_a_ticket() {
    let board = Board {
        tenant: var("HEARTLINE_FW_TENANT"),
        device: var("HEARTLINE_FW_DEVICE"),
        reports: var("HEARTLINE_FW_REPORTS").parse().unwrap(),
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), inventory(&board)).unwrap();
    // A lost connection becomes a fault after one second instead of ten.
    let hub = HubProcess::spawn(
        HUB,
        dir.path(),
        [free_port(), free_port(), free_port()],
        "[engine]\noffline_hold = \"1s\"\n",
    );
    let committed = || scrape(hub.http, "heartline_ingest_reports_committed_total") as u64;

    // 1. A counted run: QEMU exits 0 only after the firmware verified the hub's acks for all of
    //    its reports and its goodbye was taken.
    let (mut counted, lines) = qemu(&var("HEARTLINE_FW_ELF_COUNTED"), hub.v4, dir.path(), 41_500);
    let status = counted.0.wait().unwrap();
    // The console ends with QEMU.
    let console: Vec<String> = lines.iter().collect();
    assert!(
        status.success(),
        "counted run failed: {status}\n{console:#?}"
    );
    let acked = format!("acked {}", board.reports);
    assert!(console.contains(&acked), "{console:#?}");
    assert_eq!(committed(), board.reports);
    assert_eq!(
        scrape(hub.http, "heartline_engine_tickets_opened_total"),
        0.0,
        "a goodbye is planned"
    );

    // 2. An endless run. Once two of its reports are acknowledged the board overheats: the next
    //    report carries a CRIT check and the hub opens a ticket for it. Then QEMU is killed: the
    //    broker publishes the signed will and the hub opens a ticket for the lost connection.
    let tickets_opened = || scrape(hub.http, "heartline_engine_tickets_opened_total");
    let (mut endless, lines) = qemu(&var("HEARTLINE_FW_ELF_FOREVER"), hub.v4, dir.path(), 41_500);
    wait_line(&lines, "acked 2");
    endless.temperature(75_000);
    eventually("a ticket for the over-temperature", || {
        tickets_opened() >= 1.0
    })
    .await
    .unwrap();
    endless.stop();
    eventually("a ticket for the lost connection", || {
        tickets_opened() >= 2.0
    })
    .await
    .unwrap();
    hub.stop();

    // What the hub stored.
    let store = Store::open(&dir.path().join("store.redb"), 1_000_000).unwrap();
    let history = store
        .history(&Scope::Operator, &board.device, usize::MAX)
        .unwrap();
    let boots: Vec<u64> = history
        .iter()
        .map(|r| r.boot_id)
        .fold(Vec::new(), |mut v, b| {
            if v.last() != Some(&b) {
                v.push(b);
            }
            v
        });
    assert_eq!(boots.len(), 2, "two boots, in order: {boots:?}");
    let first: Vec<u64> = history
        .iter()
        .filter(|r| r.boot_id == boots[0])
        .map(|r| r.sequence)
        .collect();
    assert_eq!(first, (1..=board.reports).collect::<Vec<_>>());
    let second = history.iter().filter(|r| r.boot_id == boots[1]).count();
    assert!(second >= 2, "{second} reports of the endless run");
    let r = &history[0];
    assert!(
        r.sent_at_ms > 1_700_000_000_000,
        "the board knows the wall time"
    );
    let metric = |name: &str| r.metrics.iter().find(|m| m.name == name).map(|m| m.value);
    assert_eq!(
        metric("temperature_c"),
        Some(41.5),
        "from QEMU's TMP105 over I²C"
    );
    assert_eq!(metric("supply_v"), Some(3.9));
    assert!(metric("battery_pct").is_some() && metric("uptime_s").is_some());
    let temperature = r.checks.iter().find(|c| c.name == "temperature").unwrap();
    assert_eq!(
        temperature.state,
        heartline_proto::CheckState::Ok,
        "{temperature:?}"
    );
    assert_eq!(
        r.events.len(),
        1,
        "the reset cause, in the first report of a boot"
    );
    assert_eq!(r.events[0].kind, EventKind::Reboot);
    assert!(history[1].events.is_empty());

    let state = store
        .device_state(&Scope::Operator, &board.device)
        .unwrap()
        .unwrap();
    assert_eq!(state.presence, Presence::Offline);
    let tickets = store.tickets(&Scope::Operator).unwrap();
    assert_eq!(tickets.len(), 2, "{tickets:#?}");
    assert!(tickets.iter().all(|t| t.device == board.device));
    assert!(
        tickets
            .iter()
            .any(|t| matches!(&t.root, FaultKind::Check { name } if name == "temperature")),
        "{tickets:#?}"
    );
    assert!(
        tickets.iter().any(|t| t.root == FaultKind::Offline),
        "{tickets:#?}"
    );
    let hot = history
        .iter()
        .filter(|r| r.boot_id == boots[1])
        .flat_map(|r| &r.checks)
        .find(|c| c.name == "temperature" && c.state == heartline_proto::CheckState::Crit)
        .expect("a report with the over-temperature");
    assert_eq!(hot.message, "75.0 C, limit 70.0 C");
}
