//! End-to-end harness: a real hub (embedded broker, redb file in a temp folder) on ephemeral
//! loopback ports, and test devices that speak the real protocol over rumqttc (MQTT 3.1.1 or 5).

pub mod bench;
pub mod cluster;
pub mod fleetgen;
pub mod rawmqtt;

use anyhow::{Context, anyhow, bail};
use heartline_hub::Hub;
use heartline_hub::config::HubConfig;
use heartline_hub::inventory::token_sha256;
use heartline_proto::envelope::{open, seal};
use heartline_proto::wire;
use heartline_proto::{Channel, DeviceKey, Topic};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long a test waits for something the hub should do.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A device's identity and secrets, as the inventory declares them.
#[derive(Clone, Debug)]
pub struct DeviceCreds {
    pub tenant: String,
    pub id: String,
    pub key: DeviceKey,
    pub token: String,
}

impl DeviceCreds {
    /// Secrets derived from the id, so a test can rebuild them; never do this outside tests.
    pub fn derived(tenant: &str, id: &str) -> DeviceCreds {
        DeviceCreds {
            tenant: tenant.into(),
            id: id.into(),
            key: DeviceKey(token_sha256(&format!("key:{id}"))),
            token: hex::encode(&token_sha256(&format!("token:{id}"))[..16]),
        }
    }

    pub fn topic(&self, channel: Channel) -> String {
        Topic::new(&self.tenant, &self.id, channel).to_string()
    }
}

/// An inventory with one project and site per tenant and the given devices.
pub struct Fleet {
    pub devices: Vec<DeviceCreds>,
    pub inventory: String,
}

impl Fleet {
    /// `tenants`: (tenant id, device ids).
    pub fn new(tenants: &[(&str, Vec<String>)]) -> Fleet {
        let mut inventory = String::new();
        let mut devices = Vec::new();
        for (tenant, ids) in tenants {
            let _ = write!(
                inventory,
                "[[tenant]]\nid = \"{tenant}\"\nname = \"Tenant {tenant}\"\n\n\
                 [[project]]\nid = \"{tenant}-p\"\ntenant = \"{tenant}\"\nname = \"Project\"\n\n\
                 [[site]]\nid = \"{tenant}-s\"\nproject = \"{tenant}-p\"\nname = \"Site\"\n\
                 region = \"{tenant}-r\"\n\n"
            );
            for id in ids {
                let c = DeviceCreds::derived(tenant, id);
                let _ = write!(
                    inventory,
                    "[[device]]\nid = \"{id}\"\nsite = \"{tenant}-s\"\nkind = \"sensor\"\n\
                     key = \"{}\"\ntoken_sha256 = \"{}\"\n\n",
                    hex::encode(c.key.0),
                    hex::encode(token_sha256(&c.token))
                );
                devices.push(c);
            }
        }
        Fleet { devices, inventory }
    }

    /// Adds `n` engineers `eng-0 ..` covering `tenant`'s region for the harness's device kind
    /// ("sensor"), always on duty, under one grid manager → district manager → service leader;
    /// returns their (id, API token).
    pub fn with_engineers(&mut self, tenant: &str, n: usize) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let _ = write!(
            self.inventory,
            "[[manager]]\nid = \"gm\"\nname = \"Grid\"\nlevel = \"grid\"\nregions = [\"{tenant}-r\"]\nreports_to = \"dm\"\n\n\
             [[manager]]\nid = \"dm\"\nname = \"District\"\nlevel = \"district\"\nreports_to = \"sl\"\n\n\
             [[manager]]\nid = \"sl\"\nname = \"Leader\"\nlevel = \"service_leader\"\n\n"
        );
        for i in 0..n {
            let id = format!("eng-{i}");
            let token = format!("engineer-token-{tenant}-{i}-0123456789");
            let _ = write!(
                self.inventory,
                "[[engineer]]\nid = \"{id}\"\nname = \"Engineer {i}\"\nregions = [\"{tenant}-r\"]\n\
                 skills = [\"sensor\"]\nshifts = [\"always\"]\ngrid_manager = \"gm\"\n\
                 token_sha256 = \"{}\"\n\n",
                hex::encode(token_sha256(&token))
            );
            out.push((id, token));
        }
        out
    }

    /// Adds a user account (`role` operator / customer / engineer, `of` = its tenant or engineer
    /// id) and returns the password.
    pub fn with_user(&mut self, id: &str, role: &str, of: &str) -> String {
        let password = format!("pw-{id}-0123456789");
        let hash = heartline_hub::web::session::hash_password(&password);
        let link = match role {
            "customer" => format!("tenant = \"{of}\"\n"),
            "engineer" => format!("engineer = \"{of}\"\n"),
            _ => String::new(),
        };
        let _ = write!(
            self.inventory,
            "[[user]]\nid = \"{id}\"\nname = \"User {id}\"\nrole = \"{role}\"\n{link}password_hash = \"{hash}\"\n\n"
        );
        password
    }

    /// Adds an API token for `user` and returns it.
    pub fn with_user_token(&mut self, user: &str) -> String {
        let token = format!("api-token-of-{user}-0123456789");
        let _ = write!(
            self.inventory,
            "[[user_token]]\nuser = \"{user}\"\ntoken_sha256 = \"{}\"\n\n",
            hex::encode(token_sha256(&token))
        );
        token
    }

    pub fn device(&self, id: &str) -> &DeviceCreds {
        self.devices
            .iter()
            .find(|d| d.id == id)
            .expect("device in fleet")
    }
}

/// Device ids `prefix-0 .. prefix-(n-1)`.
pub fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// A hub config on ephemeral loopback ports with its store and inventory in `dir`.
pub fn config_in(dir: &std::path::Path, fleet: &Fleet) -> anyhow::Result<HubConfig> {
    let inventory = dir.join("inventory.toml");
    std::fs::write(&inventory, &fleet.inventory)?;
    let mut config = HubConfig::ephemeral(dir.join("store.redb"));
    config.inventory = Some(inventory);
    Ok(config)
}

/// A hub running in this process, with its temp folder.
pub struct TestHub {
    pub hub: Hub,
    pub dir: tempfile::TempDir,
}

impl TestHub {
    /// How many reports of `device` the store holds.
    pub fn stored_reports(&self, device: &str) -> u64 {
        self.hub
            .store()
            .device_state(&heartline_hub::store::Scope::Operator, device)
            .unwrap()
            .map_or(0, |s| s.reports)
    }

    pub async fn start(fleet: &Fleet) -> anyhow::Result<TestHub> {
        TestHub::start_with(fleet, |_| {}).await
    }

    /// Starts with a config adjusted by `tune` (detection settings, say).
    pub async fn start_with(
        fleet: &Fleet,
        tune: impl FnOnce(&mut HubConfig),
    ) -> anyhow::Result<TestHub> {
        let dir = tempfile::tempdir()?;
        let mut config = config_in(dir.path(), fleet)?;
        tune(&mut config);
        let hub = Hub::start(config).await?;
        Ok(TestHub { hub, dir })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    V4,
    V5,
}

enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// A test device connected to the hub, subscribed to its acks.
pub struct Device {
    pub creds: DeviceCreds,
    pub boot_id: u64,
    client: Client,
    acks: mpsc::UnboundedReceiver<wire::Ack>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Device {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Device {
    /// Connects with the device's own credentials and waits until its ack subscription is active.
    pub async fn connect(
        addr: SocketAddr,
        creds: &DeviceCreds,
        protocol: Protocol,
    ) -> anyhow::Result<Device> {
        Device::connect_as(addr, creds, &creds.id, &creds.token, protocol).await
    }

    /// Connects over MQTT 3.1.1 with `will` as the last will on the device's state topic.
    pub async fn connect_with_will(
        addr: SocketAddr,
        creds: &DeviceCreds,
        will: Vec<u8>,
    ) -> anyhow::Result<Device> {
        Device::connect_inner(
            addr,
            creds,
            &creds.id,
            &creds.token,
            Protocol::V4,
            Some(will),
        )
        .await
    }

    /// Drops the TCP connection without an MQTT DISCONNECT, as a device losing power does.
    pub fn cut(self) {
        self.task.abort();
    }

    /// Connects with any client id and password: for the tests that the hub refuses.
    pub async fn connect_as(
        addr: SocketAddr,
        creds: &DeviceCreds,
        client_id: &str,
        token: &str,
        protocol: Protocol,
    ) -> anyhow::Result<Device> {
        Device::connect_inner(addr, creds, client_id, token, protocol, None).await
    }

    async fn connect_inner(
        addr: SocketAddr,
        creds: &DeviceCreds,
        client_id: &str,
        token: &str,
        protocol: Protocol,
        will: Option<Vec<u8>>,
    ) -> anyhow::Result<Device> {
        let (ack_tx, acks) = mpsc::unbounded_channel();
        let (ready_tx, ready) = oneshot::channel();
        let ack_topic = creds.topic(Channel::Ack);
        let key = creds.key.clone();
        let host = addr.ip().to_string();
        let (client, task) = match protocol {
            Protocol::V4 => {
                let mut o = rumqttc::MqttOptions::new(client_id, host, addr.port());
                o.set_credentials(creds.id.clone(), token)
                    .set_keep_alive(Duration::from_secs(30));
                o.set_inflight(100).set_max_packet_size(1 << 20, 1 << 20);
                if let Some(will) = will {
                    o.set_last_will(rumqttc::LastWill::new(
                        creds.topic(Channel::State),
                        will,
                        rumqttc::QoS::AtLeastOnce,
                        false,
                    ));
                }
                let (client, mut el) = rumqttc::AsyncClient::new(o, 1_000);
                client
                    .subscribe(ack_topic.clone(), rumqttc::QoS::AtLeastOnce)
                    .await?;
                let task = tokio::spawn(async move {
                    let mut ready = Some(ready_tx);
                    loop {
                        match el.poll().await {
                            Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                                if let Some(r) = ready.take() {
                                    let _ = r.send(Ok(()));
                                }
                            }
                            Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                                if p.topic == ack_topic {
                                    if let Ok(ack) = open::<wire::Ack>(&key, &p.payload) {
                                        let _ = ack_tx.send(ack);
                                    }
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                if let Some(r) = ready.take() {
                                    let _ = r.send(Err(e.to_string()));
                                }
                                return;
                            }
                        }
                    }
                });
                (Client::V4(client), task)
            }
            Protocol::V5 => {
                use rumqttc::v5::mqttbytes::v5::Packet;
                let mut o = rumqttc::v5::MqttOptions::new(client_id, host, addr.port());
                o.set_credentials(creds.id.clone(), token)
                    .set_keep_alive(Duration::from_secs(30));
                let (client, mut el) = rumqttc::v5::AsyncClient::new(o, 1_000);
                client
                    .subscribe(ack_topic.clone(), rumqttc::v5::mqttbytes::QoS::AtLeastOnce)
                    .await?;
                let task = tokio::spawn(async move {
                    let mut ready = Some(ready_tx);
                    loop {
                        match el.poll().await {
                            Ok(rumqttc::v5::Event::Incoming(Packet::SubAck(_))) => {
                                if let Some(r) = ready.take() {
                                    let _ = r.send(Ok(()));
                                }
                            }
                            Ok(rumqttc::v5::Event::Incoming(Packet::Publish(p))) => {
                                if p.topic == ack_topic.as_bytes() {
                                    if let Ok(ack) = open::<wire::Ack>(&key, &p.payload) {
                                        let _ = ack_tx.send(ack);
                                    }
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                if let Some(r) = ready.take() {
                                    let _ = r.send(Err(e.to_string()));
                                }
                                return;
                            }
                        }
                    }
                });
                (Client::V5(client), task)
            }
        };
        let outcome = tokio::time::timeout(PATIENCE, ready)
            .await
            .context("no SUBACK from the hub's broker")?
            .map_err(|_| anyhow!("event loop ended"))?;
        if let Err(e) = outcome {
            task.abort();
            bail!("connection failed: {e}");
        }
        Ok(Device {
            creds: creds.clone(),
            boot_id: 1,
            client,
            acks,
            task,
        })
    }

    /// A realistic report of about 200 bytes once signed.
    pub fn report(&self, sequence: u64) -> wire::HealthReport {
        sample_report(&self.creds.id, self.boot_id, sequence)
    }

    /// A report whose first check is CRIT and whose next check-in is an hour away: a fault that
    /// opens a ticket, with no heartbeat deadline in the way.
    pub fn critical_report(&self, sequence: u64) -> wire::HealthReport {
        let mut r = self.report(sequence);
        r.checks[0].status = wire::CheckStatus::Crit as i32;
        r.next_checkin_s = 3600;
        r
    }

    /// Publishes raw bytes, QoS 1, on any topic.
    pub async fn publish(&self, topic: &str, payload: Vec<u8>) -> anyhow::Result<()> {
        match &self.client {
            Client::V4(c) => {
                c.publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
                    .await?
            }
            Client::V5(c) => {
                c.publish(
                    topic,
                    rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                    false,
                    payload,
                )
                .await?
            }
        }
        Ok(())
    }

    /// Signs `report` with this device's key and publishes it on its own report topic.
    pub async fn send(&self, report: &wire::HealthReport) -> anyhow::Result<()> {
        self.publish(
            &self.creds.topic(Channel::Report),
            seal(&self.creds.key, report),
        )
        .await
    }

    /// Sends report `seq` of boot 1 (its first check critical when `crit`, else every check
    /// OK), declaring the next check-in an hour away, and waits for its ack.
    pub async fn check_in(&mut self, seq: u64, crit: bool) {
        let mut r = self.report(seq);
        if crit {
            r.checks[0].status = wire::CheckStatus::Crit as i32;
        }
        r.next_checkin_s = 3600;
        self.send(&r).await.unwrap();
        self.wait_ack(1, seq).await.unwrap();
    }

    /// Waits for an ack covering `(boot_id, sequence)`.
    pub async fn wait_ack(&mut self, boot_id: u64, sequence: u64) -> anyhow::Result<wire::Ack> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let ack = tokio::time::timeout_at(deadline, self.acks.recv())
                .await
                .with_context(|| {
                    format!("no ack for boot {boot_id} seq {sequence} within {PATIENCE:?}")
                })?
                .context("device event loop ended")?;
            if ack.boot_id == boot_id && ack.sequence >= sequence {
                return Ok(ack);
            }
        }
    }

    /// The next ack, whatever it covers.
    pub async fn next_ack(&mut self) -> anyhow::Result<wire::Ack> {
        tokio::time::timeout(PATIENCE, self.acks.recv())
            .await
            .context("no ack")?
            .context("device event loop ended")
    }
}

/// Waits until `cond` holds, checking every 10 ms, for at most [`PATIENCE`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !cond() {
        if tokio::time::Instant::now() > deadline {
            bail!("{what}: not within {PATIENCE:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// A signed presence change of `creds`' device.
pub fn state_change(
    creds: &DeviceCreds,
    presence: wire::Presence,
    session: u64,
    at_ms: i64,
) -> Vec<u8> {
    let goodbye = (presence == wire::Presence::Goodbye).then(|| wire::Goodbye {
        reason: "firmware update".into(),
        back_in_s: 300,
    });
    seal(
        &creds.key,
        &wire::StateChange {
            device_id: creds.id.clone(),
            boot_id: 1,
            presence: presence as i32,
            at_ms,
            session,
            goodbye,
        },
    )
}

/// A report with a few metrics and one check; about 200 bytes once signed.
pub fn sample_report(device: &str, boot_id: u64, sequence: u64) -> wire::HealthReport {
    let metric = |name: &str, value: f64, unit: &str, instance: &str| wire::Metric {
        name: name.into(),
        value,
        unit: unit.into(),
        instance: instance.into(),
    };
    wire::HealthReport {
        device_id: device.into(),
        boot_id,
        sequence,
        sent_at_ms: 1_790_000_000_000 + sequence as i64,
        next_checkin_s: 60,
        metrics: vec![
            metric("cpu_pct", 12.5, "%", ""),
            metric("mem_used_pct", 41.0, "%", ""),
            metric("disk_used_pct", 63.2, "%", "/"),
            metric("temperature_c", 48.0, "C", "cpu"),
        ],
        checks: vec![wire::Check {
            name: "rtsp".into(),
            status: wire::CheckStatus::Ok as i32,
            message: "RTSP OK 12ms".into(),
        }],
        events: vec![],
    }
}

/// Runs a command to its end: (exit success, stdout, stderr).
pub fn output_of(cmd: &mut std::process::Command) -> (bool, String, String) {
    let out = cmd.output().expect("command runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes `agent.toml` in `dir` for device `d` reporting every 100 ms to the hub's MQTT 3.1.1
/// `port`, its outbox in `dir/state`.
pub fn write_agent_config(dir: &std::path::Path, port: u16, d: &DeviceCreds) -> std::path::PathBuf {
    write_agent_config_at(dir, "127.0.0.1", port, d, "interval = \"100ms\"")
}

/// Writes `agent.toml` in `dir` for device `d` talking to `host:port`, with `agent` as the
/// `[agent]` settings besides its outbox in `dir/state`.
pub fn write_agent_config_at(
    dir: &std::path::Path,
    host: &str,
    port: u16,
    d: &DeviceCreds,
    agent: &str,
) -> std::path::PathBuf {
    let path = dir.join("agent.toml");
    let toml = format!(
        "[hub]\nhost = \"{host}\"\nport = {port}\ntenant = \"{}\"\ndevice_id = \"{}\"\ntoken = \"{}\"\nkey = \"{}\"\n\n\
         [agent]\n{agent}\nstate_dir = \"state\"\n\n[collect]\ntemperatures = false\nnetwork = false\n",
        d.tenant,
        d.id,
        d.token,
        hex::encode(d.key.0)
    );
    std::fs::write(&path, toml).unwrap();
    path
}

/// Starts the agent binary `bin` on `config`, its log next to the config (`agent.log`).
pub fn spawn_agent(bin: &str, config: &std::path::Path) -> std::process::Child {
    std::process::Command::new(bin)
        .args(["run", "--config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(config.with_extension("log")).unwrap())
        .spawn()
        .unwrap()
}

/// Asserts that the store holds exactly the reports `1..=until` of device `id`, each once.
pub fn assert_history_exact(store: &heartline_hub::store::Store, id: &str, until: u64) {
    let seqs: Vec<u64> = store
        .history(&heartline_hub::store::Scope::Operator, id, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.sequence)
        .collect();
    assert!(
        seqs.iter().copied().eq(1..=until),
        "{id}: {} reports stored ({:?}…), expected exactly 1..={until}",
        seqs.len(),
        &seqs[..seqs.len().min(5)]
    );
}

/// Asserts that the reports of `device` in the store, followed by those still waiting in its
/// agent's outbox (`agent_dir/state`), are exactly `1..=n` in order, each once; returns the
/// stored reports.
pub fn assert_agent_lost_nothing(
    store: &heartline_hub::store::Store,
    agent_dir: &std::path::Path,
    device: &str,
) -> Vec<heartline_engine::Report> {
    let stored = store
        .history(&heartline_hub::store::Scope::Operator, device, usize::MAX)
        .unwrap();
    let seqs: Vec<u64> = stored.iter().map(|r| r.sequence).collect();
    let outbox =
        heartline_agent::outbox::Outbox::open(&agent_dir.join("state/outbox.redb"), 100_000)
            .unwrap();
    let pending: Vec<u64> = outbox
        .pending()
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .filter(|s| !seqs.contains(s))
        .collect();
    let all: Vec<u64> = seqs.iter().chain(pending.iter()).copied().collect();
    assert!(
        all.iter().copied().eq(1..=all.len() as u64),
        "{device}: stored {seqs:?} + still pending {pending:?}"
    );
    stored
}

/// A port that was free a moment ago on every address, so that a hub may listen on it on
/// 0.0.0.0 too (the partition test does): one free on 127.0.0.1 alone may be the local port of
/// a connection from another loopback address (a load generator's, on 127.0.0.5, say).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `heartline-hub run` process (the real CLI), for tests that kill or restart it.
pub struct HubProcess {
    pub child: std::process::Child,
    pub v4: SocketAddr,
    pub v5: SocketAddr,
    pub http: SocketAddr,
}

impl HubProcess {
    /// Writes `hub.toml` in `dir` (inventory `inventory.toml`, store `store.redb`, the given
    /// ports, then `extra` TOML, whose `[store]` if any gets the store's path) and starts `bin` on
    /// it; returns once it prints "hub running".
    pub fn spawn(bin: &str, dir: &std::path::Path, ports: [u16; 3], extra: &str) -> HubProcess {
        HubProcess::spawn_on(bin, dir, "127.0.0.1", ports, extra)
    }

    /// As [`HubProcess::spawn`], with the MQTT listeners on `mqtt_host` (the HTTP port stays on
    /// loopback).
    pub fn spawn_on(
        bin: &str,
        dir: &std::path::Path,
        mqtt_host: &str,
        ports: [u16; 3],
        extra: &str,
    ) -> HubProcess {
        use std::io::BufRead;
        let [v4, v5, http] = ports;
        // `extra` may open `[store]` itself (a cache size, say): the store's path goes there.
        let mut store = "path = \"store.redb\"\n".to_string();
        if !extra.contains("history_len") {
            store.push_str("history_len = 1000000\n");
        }
        let (extra, store) = match extra.split_once("[store]\n") {
            Some((before, after)) => (format!("{before}[store]\n{store}{after}"), String::new()),
            None => (extra.to_string(), format!("[store]\n{store}")),
        };
        let config = format!(
            "inventory = \"inventory.toml\"\n{extra}\n\
             [mqtt]\nv4_listen = \"{mqtt_host}:{v4}\"\nv5_listen = \"{mqtt_host}:{v5}\"\n\
             {store}[http]\nlisten = \"127.0.0.1:{http}\"\n"
        );
        std::fs::write(dir.join("hub.toml"), config).unwrap();
        let mut child = std::process::Command::new(bin)
            .args(["run", "--config"])
            .arg(dir.join("hub.toml"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(dir.join("hub.log")).unwrap())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        // A hub that did not start says why in its log (a port taken meanwhile, say).
        let log = || std::fs::read_to_string(dir.join("hub.log")).unwrap_or_default();
        let first = lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("the hub printed nothing; its log:\n{}", log()));
        assert!(
            first.starts_with("hub running"),
            "unexpected: {first}; its log:\n{}",
            log()
        );
        let at = |p| SocketAddr::from(([127, 0, 0, 1], p));
        HubProcess {
            child,
            v4: at(v4),
            v5: at(v5),
            http: at(http),
        }
    }

    /// SIGTERM, and waits for a clean exit.
    pub fn stop(mut self) {
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        assert!(
            self.child.wait().unwrap().success(),
            "hub did not stop cleanly"
        );
    }
}

/// For the "delivered once across a restart" tests: starts a hub process on `dir` (with
/// `fleet`'s inventory and `extra` settings), makes `device` report a failing check so that a
/// notice goes out, waits until the hub's log says `undelivered` (its receiver is down), kills
/// the hub with SIGKILL and starts it again on the same store. What waited in the outbox must
/// now go out, once.
pub async fn killed_while_undelivered(
    bin: &str,
    fleet: &Fleet,
    dir: &std::path::Path,
    extra: &str,
    device: &str,
    undelivered: &str,
) -> HubProcess {
    std::fs::write(dir.join("inventory.toml"), &fleet.inventory).unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let mut hub = HubProcess::spawn(bin, dir, ports, extra);
    let mut dev = Device::connect(hub.v4, fleet.device(device), Protocol::V4)
        .await
        .unwrap();
    dev.check_in(1, true).await;
    let log = dir.join("hub.log");
    eventually(&format!("the hub logs {undelivered:?}"), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(undelivered)
    })
    .await
    .unwrap();
    hub.child.kill().unwrap();
    hub.child.wait().unwrap();
    drop(dev);
    HubProcess::spawn(bin, dir, ports, extra)
}

/// One value from a Prometheus endpoint (0 when absent or unreachable).
pub fn scrape(http: SocketAddr, name: &str) -> f64 {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(http) else {
        return 0.0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: hub\r\nConnection: close\r\n\r\n");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// Adds `Authorization: Bearer <token>` to every gRPC call.
#[derive(Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

pub type EngineerClient = wire::engineer_service_client::EngineerServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
>;

/// A gRPC client of the hub's engineer API (on its HTTP port), calling as the token's owner.
pub async fn engineer_client(http: SocketAddr, token: &str) -> anyhow::Result<EngineerClient> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{http}"))?
        .connect()
        .await?;
    let bearer = Bearer(format!("Bearer {token}").parse()?);
    Ok(wire::engineer_service_client::EngineerServiceClient::with_interceptor(channel, bearer))
}

/// A gRPC channel to the hub's HTTP port and the interceptor that adds `token`.
pub async fn grpc_channel(
    http: SocketAddr,
    token: &str,
) -> anyhow::Result<(tonic::transport::Channel, Bearer)> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{http}"))?
        .connect()
        .await?;
    Ok((channel, Bearer(format!("Bearer {token}").parse()?)))
}

/// Milliseconds since the Unix epoch, the hub's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One POST the webhook receiver saw.
#[derive(Debug, Clone)]
pub struct Received {
    pub key: String,
    pub body: serde_json::Value,
    /// The `X-Heartline-Signature` header matched the HMAC of the body.
    pub signed_ok: bool,
}

/// A webhook receiver as an operator would write one: it checks the signature and processes each
/// idempotency key once. With `fail_first`, the first attempt of every key is answered 500 after
/// it was seen (a lost answer), so the hub must retry and the receiver must drop the repeat.
#[derive(Clone, Default)]
pub struct WebhookReceiver {
    /// Every request, in order.
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    /// Processed notices by key: what the receiver acted on, once each.
    pub processed:
        std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, serde_json::Value>>>,
}

impl WebhookReceiver {
    /// Serves `POST /hook` on `listener` until the runtime ends.
    pub fn serve(
        listener: tokio::net::TcpListener,
        secret: Vec<u8>,
        fail_first: bool,
    ) -> WebhookReceiver {
        use axum::http::{HeaderMap, StatusCode};
        let receiver = WebhookReceiver::default();
        let state = receiver.clone();
        let handler = move |headers: HeaderMap, body: axum::body::Bytes| {
            let state = state.clone();
            let secret = secret.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                let key = header("Idempotency-Key");
                let signed_ok = header(heartline_hub::notify::SIGNATURE_HEADER)
                    == heartline_hub::notify::signature(&secret, &body);
                let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
                    return StatusCode::BAD_REQUEST;
                };
                let first = {
                    let mut requests = state.requests.lock().unwrap();
                    let first = !requests.iter().any(|r| r.key == key);
                    requests.push(Received {
                        key: key.clone(),
                        body: json.clone(),
                        signed_ok,
                    });
                    first
                };
                if !signed_ok || key.is_empty() {
                    return StatusCode::UNAUTHORIZED;
                }
                if fail_first && first {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                state.processed.lock().unwrap().entry(key).or_insert(json);
                StatusCode::OK
            }
        };
        let app = axum::Router::new().route("/hook", axum::routing::post(handler));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        receiver
    }

    pub fn processed(&self) -> Vec<serde_json::Value> {
        self.processed.lock().unwrap().values().cloned().collect()
    }

    pub fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }
}

/// A browser-less client of the web API: logs in like the page does and keeps the session cookie.
#[derive(Clone)]
pub struct WebClient {
    base: String,
    agent: ureq::Agent,
    pub cookie: Option<String>,
    pub bearer: Option<String>,
    /// Sent as `Accept-Language` (the hub answers in Chinese without one).
    pub language: Option<String>,
}

impl WebClient {
    pub fn new(http: SocketAddr) -> WebClient {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .new_agent();
        WebClient {
            base: format!("http://{http}"),
            agent,
            cookie: None,
            language: None,
            bearer: None,
        }
    }

    /// POST /login; returns the status and the Set-Cookie header, and keeps the session.
    pub async fn login(&mut self, user: &str, password: &str) -> (u16, String) {
        let (agent, url) = (self.agent.clone(), format!("{}/login", self.base));
        let form = format!("user={user}&password={password}");
        let (status, cookie) = tokio::task::spawn_blocking(move || {
            let r = agent
                .post(&url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(form)
                .unwrap();
            let cookie = r
                .headers()
                .get("set-cookie")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            (r.status().as_u16(), cookie)
        })
        .await
        .unwrap();
        if status == 200 {
            self.cookie = cookie.split(';').next().map(str::to_string);
        }
        (status, cookie)
    }

    /// A request with the session or token; the status and the body (JSON when it is JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let (agent, url) = (self.agent.clone(), format!("{}{path}", self.base));
        let (cookie, bearer, method) =
            (self.cookie.clone(), self.bearer.clone(), method.to_string());
        let language = self.language.clone();
        tokio::task::spawn_blocking(move || {
            let mut builder = ureq::http::Request::builder()
                .method(method.as_str())
                .uri(&url);
            if let Some(c) = cookie {
                builder = builder.header("Cookie", c);
            }
            if let Some(b) = bearer {
                builder = builder.header("Authorization", format!("Bearer {b}"));
            }
            if let Some(l) = language {
                builder = builder.header("Accept-Language", l);
            }
            let text = body.map(|b| b.to_string()).unwrap_or_default();
            let request = builder
                .header("Content-Type", "application/json")
                .body(text)
                .unwrap();
            let mut r = agent.run(request).unwrap();
            let status = r.status().as_u16();
            let text = r.body_mut().read_to_string().unwrap_or_default();
            let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
            (status, json)
        })
        .await
        .unwrap()
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call("POST", path, Some(body)).await
    }
}

/// Logs in to the web API at `http` as engineer `user` and takes ticket `id` through accept, on
/// site and resolve, as the phone page does.
pub async fn work_ticket(http: SocketAddr, user: &str, password: &str, id: u64) {
    let mut eng = WebClient::new(http);
    assert_eq!(eng.login(user, password).await.0, 200, "{user} logs in");
    for step in ["accept", "onsite", "resolve"] {
        let (status, t) = eng
            .post(
                &format!("/api/v1/tickets/{id}/{step}"),
                serde_json::json!({"text": "replaced the switch"}),
            )
            .await;
        assert_eq!(status, 200, "{step}: {t}");
    }
}

/// A Server-Sent-Events reader over a raw connection (what a browser's EventSource does).
pub struct SseClient {
    stream: tokio::net::TcpStream,
    buf: String,
}

/// One event: its `event:`, `id:` and `data:` fields.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub event: String,
    pub id: String,
    pub data: String,
}

impl SseClient {
    pub async fn connect(
        http: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<SseClient> {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(http).await?;
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: hub\r\nAccept: text/event-stream\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).await?;
        // The hub subscribes before it answers: once the headers are here, nothing is missed.
        let mut client = SseClient {
            stream,
            buf: String::new(),
        };
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !client.buf.contains("\r\n\r\n") {
            use tokio::io::AsyncReadExt;
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, client.stream.read(&mut chunk))
                .await
                .context("no answer to the event stream request")??;
            if n == 0 {
                bail!("closed before answering: {}", client.buf);
            }
            client.buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
        let (head, rest) = client.buf.split_once("\r\n\r\n").unwrap_or_default();
        if !head.starts_with("HTTP/1.1 200") {
            bail!("the event stream was refused: {head}");
        }
        client.buf = rest.replace("\r\n", "\n");
        Ok(client)
    }

    /// The next event that is not a keep-alive comment, within `within`.
    pub async fn next(&mut self, within: Duration) -> anyhow::Result<SseEvent> {
        use tokio::io::AsyncReadExt;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = SseEvent::default();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        ev.event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        ev.id = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        ev.data.push_str(v.trim());
                    }
                }
                if !ev.event.is_empty() {
                    return Ok(ev);
                }
            }
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .context("no event in time")??;
            if n == 0 {
                bail!("the event stream closed");
            }
            // Chunked transfer framing lines are harmless here: they never hold "event:".
            self.buf
                .push_str(&String::from_utf8_lossy(&chunk[..n]).replace("\r\n", "\n"));
        }
    }
}
