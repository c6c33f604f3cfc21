//! The Linux agent against the real hub: reports arrive and are acknowledged; a check turning
//! critical is reported at once, not at the next interval; Nagios performance data becomes
//! metrics; a hung check is cut off at its timeout while the others go on; and a hub outage loses
//! nothing: everything produced meanwhile arrives exactly once, in order.

use heartline_agent::AgentConfig;
use heartline_e2e::{DeviceCreds, Fleet, TestHub, eventually, ids};
use heartline_hub::store::{Scope, Store};
use heartline_proto::CheckState;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;
use tokio::sync::oneshot;

fn agent_toml(
    hub: SocketAddr,
    d: &DeviceCreds,
    state: &Path,
    interval: &str,
    checks: &str,
) -> String {
    format!(
        "[hub]\nhost = \"{}\"\nport = {}\ntenant = \"{}\"\ndevice_id = \"{}\"\ntoken = \"{}\"\nkey = \"{}\"\n\n\
         [agent]\ninterval = \"{interval}\"\nstate_dir = \"{}\"\n\n\
         [collect]\ntemperatures = false\nnetwork = false\n\n{checks}",
        hub.ip(),
        hub.port(),
        d.tenant,
        d.id,
        d.token,
        hex::encode(d.key.0),
        state.display()
    )
}

struct RunningAgent {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn start_agent(toml: &str, dir: &Path) -> RunningAgent {
    let cfg = AgentConfig::parse(&dir.join("agent.toml"), toml).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(heartline_agent::run(cfg, async move {
        let _ = stopped.await;
    }));
    RunningAgent { stop, task }
}

impl RunningAgent {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

fn history(store: &Store, device: &str) -> Vec<heartline_engine::Report> {
    store.history(&Scope::Operator, device, usize::MAX).unwrap()
}

/// Waits until the last stored report of `nvr-0` shows the `recorder` check in `state`.
async fn last_check_is(store: &Store, what: &str, state: CheckState) {
    eventually(what, || {
        history(store, "nvr-0").last().is_some_and(|r| {
            r.checks
                .iter()
                .any(|c| c.name == "recorder" && c.state == state)
        })
    })
    .await
    .unwrap();
}

fn sh(name: &str, script: &str, extra: &str) -> String {
    format!("[[check]]\nname = \"{name}\"\ncommand = [\"sh\", \"-c\", {script:?}]\n{extra}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_arrive_and_are_acknowledged_out_of_the_outbox() {
    let fleet = Fleet::new(&[("acme", ids("gw", 1))]);
    let th = TestHub::start(&fleet).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let toml = agent_toml(th.hub.mqtt_v4, &fleet.devices[0], dir.path(), "200ms", "");
    let agent = start_agent(&toml, dir.path());
    eventually("five reports stored", || {
        history(th.hub.store(), "gw-0").len() >= 5
    })
    .await
    .unwrap();
    agent.stop().await;
    let stored = history(th.hub.store(), "gw-0");
    let seqs: Vec<u64> = stored.iter().map(|r| r.sequence).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "in order, none missing"
    );
    let first = &stored[0];
    assert!(
        first.metrics.iter().any(|m| m.name == "cpu_pct"),
        "{:?}",
        first.metrics
    );
    assert!(first.metrics.iter().any(|m| m.name == "mem_used_pct"));
    assert!(first.metrics.iter().any(|m| m.name == "disk_used_pct"));
    assert_eq!(
        first.next_checkin_s, 1,
        "declares its interval (rounded up to a second)"
    );
    // The acks emptied the outbox (at most the reports still in flight when it stopped remain).
    let outbox =
        heartline_agent::outbox::Outbox::open(&dir.path().join("outbox.redb"), 100).unwrap();
    let pending = outbox.pending().unwrap();
    assert!(
        pending.len() <= 2,
        "{} reports were never acknowledged",
        pending.len()
    );
    // The goodbye reached the hub: planned downtime.
    eventually("goodbye", || {
        th.hub
            .store()
            .device_state(&Scope::Operator, "gw-0")
            .unwrap()
            .is_some_and(|s| matches!(s.presence, heartline_engine::Presence::Goodbye { .. }))
    })
    .await
    .unwrap();
    th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_turning_critical_is_reported_at_once_with_perfdata_as_metrics() {
    let fleet = Fleet::new(&[("acme", ids("nvr", 1))]);
    let th = TestHub::start(&fleet).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("broken");
    let script = format!(
        "if [ -e {f} ]; then echo 'CRITICAL - recorder stopped | fps=0;10;5;0'; exit 2; \
         else echo 'OK - recording | fps=25;10;5;0 '\\''disk /'\\''=40%;80;90'; fi",
        f = flag.display()
    );
    let checks = sh(
        "recorder",
        &script,
        "interval = \"100ms\"\ntimeout = \"2s\"",
    );
    // The interval is an hour: anything after the first report is a change report.
    let agent = start_agent(
        &agent_toml(th.hub.mqtt_v4, &fleet.devices[0], dir.path(), "1h", &checks),
        dir.path(),
    );
    let store = th.hub.store();
    eventually("first report", || !history(store, "nvr-0").is_empty())
        .await
        .unwrap();
    // A first result that is OK waits for the next periodic report; a change does not.
    std::fs::write(&flag, b"").unwrap();
    last_check_is(store, "critical reported", CheckState::Crit).await;
    std::fs::remove_file(&flag).unwrap();
    last_check_is(store, "ok reported", CheckState::Ok).await;
    let ok = history(store, "nvr-0").pop().unwrap();
    let fps = ok
        .metrics
        .iter()
        .find(|m| m.name == "recorder.fps")
        .expect("perfdata became a metric");
    assert_eq!((fps.value, fps.unit.as_str()), (25.0, ""));
    let disk = ok
        .metrics
        .iter()
        .find(|m| m.name == "recorder.disk /")
        .expect("quoted label");
    assert_eq!((disk.value, disk.unit.as_str()), (40.0, "%"));

    let mut latencies = Vec::new();
    for round in 0..3 {
        let before = history(store, "nvr-0").len();
        let t0 = Instant::now();
        std::fs::write(&flag, b"").unwrap();
        last_check_is(store, "critical reported", CheckState::Crit).await;
        latencies.push(t0.elapsed());
        assert_eq!(
            history(store, "nvr-0").len(),
            before + 1,
            "round {round}: exactly one change report"
        );
        std::fs::remove_file(&flag).unwrap();
        last_check_is(store, "ok again", CheckState::Ok).await;
    }
    println!("check flip → report committed at the hub: {latencies:?}");
    agent.stop().await;
    th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_check_is_cut_off_and_does_not_block_the_others() {
    let fleet = Fleet::new(&[("acme", ids("kiosk", 1))]);
    let th = TestHub::start(&fleet).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let checks = sh(
        "hung",
        "sleep 30",
        "interval = \"100ms\"\ntimeout = \"300ms\"",
    ) + &sh(
        "fine",
        "echo 'OK - fine'",
        "interval = \"100ms\"\ntimeout = \"2s\"",
    );
    let agent = start_agent(
        &agent_toml(
            th.hub.mqtt_v4,
            &fleet.devices[0],
            dir.path(),
            "300ms",
            &checks,
        ),
        dir.path(),
    );
    let store = th.hub.store();
    eventually("both checks reported", || {
        history(store, "kiosk-0").iter().any(|r| {
            r.checks.iter().any(|c| {
                c.name == "hung"
                    && c.state == CheckState::Unknown
                    && c.message.contains("timed out after 300 ms")
            }) && r
                .checks
                .iter()
                .any(|c| c.name == "fine" && c.state == CheckState::Ok)
        })
    })
    .await
    .unwrap();
    agent.stop().await;
    th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_applies_the_hubs_signed_config_and_ignores_a_forged_one() {
    use heartline_proto::envelope::seal;
    use heartline_proto::{Channel, DeviceKey, wire};
    let fleet = Fleet::new(&[("acme", ids("cam", 2))]);
    let th = TestHub::start(&fleet).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = &fleet.devices[0];
    // An hour between reports until the hub says otherwise.
    let agent = start_agent(
        &agent_toml(th.hub.mqtt_v4, d, dir.path(), "1h", ""),
        dir.path(),
    );
    let store = th.hub.store();
    eventually("first report", || history(store, "cam-0").len() == 1)
        .await
        .unwrap();
    // Configs arrive on the device's retained config topic, which only the hub may write (the
    // broker refuses devices; see mqtt_acl.rs). The signature decides whether the agent takes one,
    // whoever delivered it: here a forged one comes first.
    let config = |version, interval| wire::DeviceConfig {
        device_id: d.id.clone(),
        version,
        report_interval_s: interval,
        checks: vec![],
    };
    let topic = d.topic(Channel::Config);
    // Forged (wrong key): had it been taken, its high version would shadow the real one.
    th.hub
        .publish_retained(topic.clone(), seal(&DeviceKey([7; 32]), &config(99, 1)))
        .unwrap();
    th.hub
        .publish_retained(topic, seal(&d.key, &config(2, 2)))
        .unwrap();
    eventually("reports every two seconds", || {
        history(store, "cam-0").len() >= 3
    })
    .await
    .unwrap();
    let intervals: Vec<u32> = history(store, "cam-0")
        .iter()
        .skip(1)
        .map(|r| r.next_checkin_s)
        .collect();
    assert!(
        intervals.iter().all(|&s| s == 2),
        "declares the hub's interval, not the forged one: {intervals:?}"
    );
    agent.stop().await;
    th.hub.shutdown().await.unwrap();
}
