//! Tenants are isolated on MQTT itself, tried with a client nobody here wrote (Debian's
//! `mosquitto_sub` / `mosquitto_pub`, installed by `tests/run-all`): a device of tenant A that
//! subscribes to `#`, `hl/v1/#`, tenant B's topics or another device's ack and config is refused
//! and receives nothing while B's devices report; what A publishes on B's topics, retained or
//! not, is dropped, and B's retained config is unchanged.

use heartline_e2e::{Device, DeviceCreds, Fleet, Protocol, TestHub, eventually, ids};
use heartline_hub::broker::acl::Refusal;
use heartline_proto::envelope::seal;
use heartline_proto::{Channel, wire};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The filters tenant A's device tries, and whether each is its own (granted).
fn filters(a: &DeviceCreds, a2: &DeviceCreds, b: &DeviceCreds) -> Vec<(String, bool)> {
    vec![
        ("#".into(), false),
        ("hl/v1/#".into(), false),
        (format!("hl/v1/{}/#", b.tenant), false),
        ("hl/v1/+/+/ack".into(), false),
        (b.topic(Channel::Ack), false),
        (b.topic(Channel::Config), false),
        (b.topic(Channel::State), false),
        (a2.topic(Channel::Ack), false),
        (a2.topic(Channel::Config), false),
        (a.topic(Channel::Config), true),
    ]
}

fn config(d: &DeviceCreds, version: u64) -> Vec<u8> {
    let c = wire::DeviceConfig {
        device_id: d.id.clone(),
        version,
        report_interval_s: 60,
        checks: vec![],
    };
    seal(&d.key, &c)
}

/// `mosquitto_sub` as device `d`, debug on, printing each message's topic; its output lines are
/// collected as they come.
struct Sub {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Sub {
    fn start(addr: SocketAddr, d: &DeviceCreds, version: &str, topics: &[String]) -> Sub {
        // Line-buffered: its output is read while it runs.
        let mut cmd = Command::new("stdbuf");
        cmd.args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &addr.port().to_string(),
        ])
        .args(["-V", version, "-i", &d.id, "-u", &d.id, "-P", &d.token])
        .args(["-q", "1", "-d", "-F", "MSG %t"]);
        for t in topics {
            cmd.args(["-t", t]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mosquitto_sub (Debian: apt-get install mosquitto-clients)");
        let lines = Arc::new(Mutex::new(Vec::new()));
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Sub { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn messages(&self) -> Vec<String> {
        self.lines()
            .iter()
            .filter_map(|l| l.strip_prefix("MSG ").map(str::to_string))
            .collect()
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn publish(addr: SocketAddr, d: &DeviceCreds, topic: &str, payload: &[u8], retain: bool) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), payload).unwrap();
    let mut cmd = Command::new("timeout");
    cmd.args(["10", "mosquitto_pub", "-h", "127.0.0.1"])
        .args(["-p", &addr.port().to_string(), "-V", "mqttv311"])
        .args([
            "-i", &d.id, "-u", &d.id, "-P", &d.token, "-q", "1", "-t", topic,
        ])
        .arg("-f")
        .arg(file.path());
    if retain {
        cmd.arg("-r");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "mosquitto_pub on {topic}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The retained message on `topic`, read as device `d` (hex), with `mosquitto_sub -C 1`.
fn retained(addr: SocketAddr, d: &DeviceCreds, topic: &str) -> String {
    let out = Command::new("timeout")
        .args(["10", "mosquitto_sub", "-h", "127.0.0.1"])
        .args(["-p", &addr.port().to_string(), "-V", "mqttv311"])
        .args(["-i", &d.id, "-u", &d.id, "-P", &d.token, "-q", "1"])
        .args(["-t", topic, "-C", "1", "-F", "%x"])
        .output()
        .unwrap();
    assert!(out.status.success(), "no retained message on {topic}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_reads_and_writes_only_its_own_topics() {
    let fleet = Fleet::new(&[("acme", ids("acme", 2)), ("beta", ids("beta", 2))]);
    let th = TestHub::start(&fleet).await.unwrap();
    let (a, a2, b) = (
        fleet.device("acme-0"),
        fleet.device("acme-1"),
        fleet.device("beta-0"),
    );
    let b_config = config(b, 3);
    th.hub
        .publish_retained(b.topic(Channel::Config), b_config.clone())
        .unwrap();
    let tried = filters(a, a2, b);
    let topics: Vec<String> = tried.iter().map(|(t, _)| t.clone()).collect();

    for (version, addr) in [("mqttv311", th.hub.mqtt_v4), ("mqttv5", th.hub.mqtt_v5)] {
        let sub = Sub::start(addr, a, version, &topics);
        if let Err(e) = eventually("the SUBACK", || {
            sub.lines().iter().any(|l| l.starts_with("Subscribed"))
        })
        .await
        {
            panic!("{version}: {e:#}; mosquitto_sub said {:#?}", sub.lines());
        }
        // One code per filter, in order: 128 (3.1.1) or 135 (5: not authorized) for each foreign
        // one, the granted QoS for the device's own config.
        let suback = sub
            .lines()
            .into_iter()
            .find(|l| l.starts_with("Subscribed"))
            .unwrap();
        let codes: Vec<u32> = suback
            .split_once("):")
            .unwrap()
            .1
            .split(',')
            .map(|c| c.trim().parse().unwrap())
            .collect();
        assert_eq!(codes.len(), tried.len(), "{suback}");
        for ((filter, own), code) in tried.iter().zip(&codes) {
            if *own {
                assert!(*code <= 1, "{version}: {filter} refused: {suback}");
            } else {
                assert!(*code >= 128, "{version}: {filter} granted: {suback}");
            }
        }
        // B's devices report and are acked; the hub writes B's and A2's configs.
        for d in [b, fleet.device("beta-1")] {
            let mut dev = Device::connect(th.hub.mqtt_v4, d, Protocol::V4)
                .await
                .unwrap();
            for seq in 1..=3 {
                let r = dev.report(seq);
                dev.send(&r).await.unwrap();
                dev.wait_ack(r.boot_id, seq).await.unwrap();
            }
        }
        th.hub
            .publish_retained(a2.topic(Channel::Config), config(a2, 1))
            .unwrap();
        // Last, A's own config: once A has it, everything published before it on the hub's
        // link would have reached A first had A been allowed to read it.
        th.hub
            .publish_retained(a.topic(Channel::Config), config(a, 1))
            .unwrap();
        let own = a.topic(Channel::Config);
        eventually("A's own config", || sub.messages().contains(&own))
            .await
            .unwrap();
        let got = sub.messages();
        assert!(
            got.iter().all(|t| *t == own),
            "{version}: A received foreign messages: {got:?}"
        );
    }
    let m = th.hub.metrics();
    assert_eq!(m.mqtt_refused(Refusal::SubscribeForeignTopic), 18);

    // A writes on B's topics, retained and not: all dropped.
    let forged = config(a, 99);
    publish(th.hub.mqtt_v4, a, &b.topic(Channel::Config), &forged, true);
    publish(th.hub.mqtt_v4, a, &b.topic(Channel::Config), &forged, false);
    publish(th.hub.mqtt_v4, a, &b.topic(Channel::State), &forged, true);
    publish(th.hub.mqtt_v4, a, &b.topic(Channel::Report), &forged, false);
    publish(th.hub.mqtt_v4, a, &a2.topic(Channel::Ack), &forged, false);
    // And a retained report on its own topic: retained copies are config and presence only.
    publish(th.hub.mqtt_v4, a, &a.topic(Channel::Report), &forged, true);
    eventually("the publishes refused", || {
        m.mqtt_refused(Refusal::PublishForeignTopic) == 5
            && m.mqtt_refused(Refusal::RetainedReport) == 1
    })
    .await
    .unwrap();
    assert_eq!(
        retained(th.hub.mqtt_v4, b, &b.topic(Channel::Config)),
        hex::encode(&b_config),
        "B's retained config was replaced"
    );
    assert_eq!(th.stored_reports("beta-0"), 3);
    assert_eq!(th.stored_reports("acme-0"), 0);
    assert_eq!(m.reports_committed.get(), 6);
    th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_will_on_another_devices_topic_is_refused_at_connect() {
    let fleet = Fleet::new(&[("acme", ids("acme", 1)), ("beta", ids("beta", 1))]);
    let th = TestHub::start(&fleet).await.unwrap();
    let (a, b) = (fleet.device("acme-0"), fleet.device("beta-0"));
    let out = Command::new("timeout")
        .args(["10", "mosquitto_sub", "-h", "127.0.0.1"])
        .args(["-p", &th.hub.mqtt_v4.port().to_string(), "-V", "mqttv311"])
        .args(["-i", &a.id, "-u", &a.id, "-P", &a.token])
        .args(["-t", &a.topic(Channel::Ack), "-C", "1"])
        .args([
            "--will-topic",
            &b.topic(Channel::State),
            "--will-payload",
            "x",
        ])
        .args(["--will-retain"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "connected with a foreign will");
    assert_eq!(th.hub.metrics().mqtt_refused(Refusal::WillForeignTopic), 1);
    // With its own state topic as will, it connects (a device's will is its `offline`).
    let ok = Command::new("timeout")
        .args(["10", "mosquitto_sub", "-h", "127.0.0.1"])
        .args(["-p", &th.hub.mqtt_v4.port().to_string(), "-V", "mqttv311"])
        .args(["-i", &a.id, "-u", &a.id, "-P", &a.token])
        .args(["-t", &a.topic(Channel::Ack), "-C", "1", "-W", "1"])
        .args([
            "--will-topic",
            &a.topic(Channel::State),
            "--will-payload",
            "x",
        ])
        .output()
        .unwrap();
    // -W 1: it waited a second for a message and timed out, which is exit code 27, not refusal.
    assert_eq!(
        ok.status.code(),
        Some(27),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    th.hub.shutdown().await.unwrap();
}
