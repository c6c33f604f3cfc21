//! A hub whose part dies exits: the real `heartline-hub run` binary, with one part broken on
//! purpose (`HEARTLINE_FAULT=<part>`, compiled in only with the hub's `fault-injection` feature,
//! which this crate turns on), logs which part died and why, stops the rest gracefully and exits
//! non-zero, so a service manager restarts it. The store's death (a full disk) is tested with a
//! real full disk in `disk_full`. Without a fault the same hub runs until SIGTERM and exits 0.

use heartline_e2e::{Fleet, free_port, ids};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HUB: &str = env!("CARGO_BIN_EXE_hub");

/// Starts the hub binary with `fault`, waits for it to exit (at most 30 s); returns its exit
/// code and its stderr (log and error).
fn run_with_fault(fault: &str) -> (Option<i32>, String) {
    let fleet = Fleet::new(&[("acme", ids("acme", 2))]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();
    std::fs::write(
        dir.path().join("webhook.secret"),
        "a-webhook-secret-of-some-length",
    )
    .unwrap();
    let [v4, v5, http, hook] = [free_port(), free_port(), free_port(), free_port()];
    std::fs::write(
        dir.path().join("hub.toml"),
        format!(
            "inventory = \"inventory.toml\"\n\
             [mqtt]\nv4_listen = \"127.0.0.1:{v4}\"\nv5_listen = \"127.0.0.1:{v5}\"\n\
             [store]\npath = \"store.redb\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n\
             [notify]\nwebhook_url = \"http://127.0.0.1:{hook}/hook\"\n\
             webhook_secret_file = \"webhook.secret\"\n"
        ),
    )
    .unwrap();
    let log = dir.path().join("hub.log");
    let mut child = Command::new(HUB)
        .args(["run", "--config"])
        .arg(dir.path().join("hub.toml"))
        .env("HEARTLINE_FAULT", fault)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Without a fault, the hub runs: stop it with SIGTERM once it says it runs.
    if fault.is_empty() {
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        assert!(first.starts_with("hub running"), "{first}");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the hub exited on its own"
        );
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
    }
    let t0 = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!(
                "HEARTLINE_FAULT={fault}: the hub still runs after 30 s:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status.code(), std::fs::read_to_string(&log).unwrap())
}

#[test]
fn a_hub_whose_part_dies_says_which_and_exits_non_zero() {
    for (fault, part, says) in [
        (
            "ingest",
            "ingest",
            "the hub's ingest died (panicked: injected fault",
        ),
        (
            "notifier",
            "notifier",
            "the hub's notifier died (panicked: injected fault",
        ),
        (
            "http",
            "HTTP server",
            "the hub's HTTP server died (injected fault",
        ),
        ("broker", "broker", "the embedded MQTT broker failed"),
    ] {
        let (code, log) = run_with_fault(fault);
        assert_eq!(code, Some(1), "HEARTLINE_FAULT={fault}:\n{log}");
        assert!(
            log.contains("a part of the hub died") && log.contains(&format!("part=\"{part}\""))
                || log.contains(&format!("part={part}")),
            "HEARTLINE_FAULT={fault}: the log does not name the part:\n{log}"
        );
        let error = log
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("HEARTLINE_FAULT={fault}: no error line:\n{log}"));
        assert!(error.contains(says), "HEARTLINE_FAULT={fault}: {error}");
        assert!(
            error.contains("start the hub again") || error.contains("start it again"),
            "HEARTLINE_FAULT={fault}: the error does not say what to do: {error}"
        );
    }
    // The control: no fault, a clean SIGTERM, exit 0 and no death logged.
    let (code, log) = run_with_fault("");
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("a part of the hub died"), "{log}");
}
