//! A network partition between one site's agents and the hub. The site's ten agents (a gateway and
//! nine devices behind it) run in their own network namespace behind a veth pair; a second site's
//! agents stay on loopback. The link is first impaired (10 % packet loss both ways and a 256 kbit/s
//! bottleneck), then cut completely, then healed:
//! - impaired: the outboxes and MQTT carry everything, no ticket opens;
//! - cut: the hub opens ONE ticket, the gateway's, with the nine devices behind it attached, and
//!   none for the devices one by one (nor for the other site);
//! - healed: every report produced during the cut reaches the store, exactly once and in order.
//!
//! The kernel here has no `netem` (CONFIG_NET_SCH_NETEM is not set), so loss is an nftables
//! `numgen random` rule, the slow link a `tbf` qdisc, and the cut an nftables drop-all that keeps
//! the link up (as a failed upstream router does: no reset, packets vanish). Needs root, `ip`,
//! `tc` and `nft` (`tests/run-all` installs iproute2 and nftables).

use heartline_e2e::{
    Fleet, HubProcess, WebClient, assert_agent_lost_nothing, free_port, ids, now_ms, spawn_agent,
    write_agent_config_at,
};
use heartline_engine::FaultKind;
use heartline_hub::store::{Scope, Store};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;
use tokio::time::Instant;

const HUB: &str = env!("CARGO_BIN_EXE_hub");
const AGENT: &str = env!("CARGO_BIN_EXE_agent");
/// The agents' reporting interval (and so their declared check-in).
const AGENT_SETTINGS: &str = "interval = \"1s\"";
/// The hub's grace after a declared check-in before a device counts as silent. The probe
/// timeout is the default: reports the impaired link delivers late were sent before the probe
/// to the gateway went out, and the hub dates them so (they do not answer for the gateway).
const HUB_SETTINGS: &str = "[engine]\nheartbeat_grace = \"5s\"\n";
const IMPAIRED: Duration = Duration::from_secs(20);
const CUT: Duration = Duration::from_secs(25);

/// Runs a command, panicking with its output when it fails.
fn run(args: &[&str], stdin: Option<&str>) {
    use std::io::Write;
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e} (tests/run-all installs it)"));
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace joined to the host by a veth pair; removed on drop.
struct Netns {
    name: String,
    host_if: String,
    inner_if: String,
    host_ip: String,
}

impl Netns {
    fn create() -> Netns {
        let n = std::process::id() % 200 + 20;
        let ns = Netns {
            name: format!("hl-part-{}", std::process::id()),
            host_if: format!("hlp{n}h"),
            inner_if: format!("hlp{n}n"),
            host_ip: format!("10.231.{n}.1"),
        };
        let inner_ip = format!("10.231.{n}.2/24");
        run(&["ip", "netns", "add", &ns.name], None);
        run(
            &[
                "ip",
                "link",
                "add",
                &ns.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &ns.inner_if,
            ],
            None,
        );
        run(
            &["ip", "link", "set", &ns.inner_if, "netns", &ns.name],
            None,
        );
        run(
            &[
                "ip",
                "addr",
                "add",
                &format!("{}/24", ns.host_ip),
                "dev",
                &ns.host_if,
            ],
            None,
        );
        run(&["ip", "link", "set", &ns.host_if, "up"], None);
        ns.exec(&["ip", "addr", "add", &inner_ip, "dev", &ns.inner_if]);
        ns.exec(&["ip", "link", "set", &ns.inner_if, "up"]);
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    fn exec(&self, args: &[&str]) {
        let mut all = vec!["ip", "netns", "exec", &self.name];
        all.extend_from_slice(args);
        run(&all, None);
    }

    /// Replaces the namespace's packet filter with `rules` (an nftables chain body).
    fn filter(&self, rules: &str) {
        let _ = Command::new("ip")
            .args([
                "netns", "exec", &self.name, "nft", "delete", "table", "inet", "hl",
            ])
            .stderr(std::process::Stdio::null())
            .status();
        if rules.is_empty() {
            return;
        }
        let script = format!(
            "table inet hl {{\n\
             chain out {{ type filter hook output priority 0; policy accept;\n{rules}\n}}\n\
             chain inp {{ type filter hook input priority 0; policy accept;\n{rules}\n}}\n}}\n"
        );
        run(
            &["ip", "netns", "exec", &self.name, "nft", "-f", "-"],
            Some(&script),
        );
    }

    /// Impairs the link: loss both ways and a slow bottleneck out of the namespace.
    fn impair(&self) {
        self.filter("numgen random mod 100 < 10 drop");
        self.exec(&[
            "tc",
            "qdisc",
            "add",
            "dev",
            &self.inner_if,
            "root",
            "tbf",
            "rate",
            "256kbit",
            "burst",
            "16kb",
            "latency",
            "400ms",
        ]);
    }

    fn cut(&self) {
        self.filter("drop");
    }

    /// Removes every impairment (the bottleneck may already be gone).
    fn heal(&self) {
        self.filter("");
        let _ = Command::new("ip")
            .args(["netns", "exec", &self.name, "tc", "qdisc", "del", "dev"])
            .args([&self.inner_if, "root"])
            .stderr(std::process::Stdio::null())
            .status();
    }

    /// Starts an agent inside the namespace.
    fn spawn_agent(&self, config: &Path) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.name, AGENT, "run", "--config"])
            .arg(config)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(config.with_extension("log")).unwrap())
            .spawn()
            .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Agents stopped (SIGTERM) when the test ends, whatever happens.
struct Agents(Vec<(String, PathBuf, Child)>);

impl Agents {
    fn stop(&mut self) {
        for (_, _, child) in &mut self.0 {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        for (_, _, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `probe` every 250 ms until it returns `Some`, for at most `within`.
async fn wait_for<T>(what: &str, within: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn last_report_ms(web: &WebClient, device: &str) -> i64 {
    let (status, body) = web.get(&format!("/api/v1/devices/{device}")).await;
    assert_eq!(status, 200, "{device}: {body}");
    body["device"]["last_report_ms"].as_i64().unwrap_or(0)
}

async fn tickets(web: &WebClient) -> Vec<Value> {
    let (status, body) = web.get("/api/v1/tickets").await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_site_loses_nothing_and_opens_one_uplink_ticket() {
    let inside = ids("pd", 9);
    let mut fleet = Fleet::new(&[
        ("part", [vec!["pgw".to_string()], inside.clone()].concat()),
        ("calm", ids("cd", 3)),
    ]);
    for d in &inside {
        let line = format!("id = \"{d}\"\n");
        fleet.inventory = fleet
            .inventory
            .replace(&line, &format!("{line}uplink = \"pgw\"\n"));
    }
    let password = fleet.with_user("op", "operator", "");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.toml"), &fleet.inventory).unwrap();

    let ns = Netns::create();
    let ports = [free_port(), free_port(), free_port()];
    let hub_dir = dir.path().to_path_buf();
    let hub = tokio::task::spawn_blocking(move || {
        HubProcess::spawn_on(HUB, &hub_dir, "0.0.0.0", ports, HUB_SETTINGS)
    })
    .await
    .unwrap();
    let mut web = WebClient::new(hub.http);
    // Titles and timelines in English, as the assertions below read them.
    web.language = Some("en".into());
    assert_eq!(web.login("op", &password).await.0, 200);

    let mut agents = Agents(Vec::new());
    for d in &fleet.devices {
        let adir = dir.path().join(&d.id);
        std::fs::create_dir_all(&adir).unwrap();
        let partitioned = d.tenant == "part";
        let host = if partitioned {
            ns.host_ip.as_str()
        } else {
            "127.0.0.1"
        };
        let config = write_agent_config_at(&adir, host, ports[0], d, AGENT_SETTINGS);
        let child = if partitioned {
            ns.spawn_agent(&config)
        } else {
            spawn_agent(AGENT, &config)
        };
        agents.0.push((d.id.clone(), adir, child));
    }
    let names: Vec<String> = fleet.devices.iter().map(|d| d.id.clone()).collect();
    let part: Vec<String> = [vec!["pgw".to_string()], inside.clone()].concat();
    wait_for(
        "every agent reporting",
        Duration::from_secs(30),
        async || {
            for d in &names {
                if last_report_ms(&web, d).await == 0 {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;

    // 1. Impaired link: loss and a bottleneck. Reports keep arriving; nothing looks silent.
    ns.impair();
    let impaired_at = now_ms();
    tokio::time::sleep(IMPAIRED).await; // the impairment lasts this long; nothing is awaited
    for d in &part {
        let last = last_report_ms(&web, d).await;
        assert!(
            last > impaired_at,
            "{d}: nothing arrived through the impaired link"
        );
    }
    let open = tickets(&web).await;
    assert!(open.is_empty(), "tickets while only impaired: {open:#?}");

    // 2. Cut: one ticket for the gateway, the nine devices behind it attached, no other ticket.
    ns.heal();
    ns.cut();
    let cut_at = now_ms();
    let gw_ticket = wait_for(
        "one uplink ticket with the 9 devices behind it",
        Duration::from_secs(60),
        async || {
            tickets(&web).await.into_iter().find_map(|t| {
                let id = t["ticket_id"].as_u64()?;
                (t["device_id"] == "pgw").then_some(id)
            })
        },
    )
    .await;
    let detail = wait_for("all 9 attached", Duration::from_secs(60), async || {
        let (_, t) = web.get(&format!("/api/v1/tickets/{gw_ticket}")).await;
        (t["affected"].as_array().map_or(0, Vec::len) == inside.len()).then_some(t)
    })
    .await;
    let cut_elapsed = Duration::from_millis((now_ms() - cut_at) as u64);
    assert!(
        detail["title"]
            .as_str()
            .unwrap()
            .contains("uplink down, 9 device(s) behind it unreachable"),
        "{detail:#}"
    );
    tokio::time::sleep(CUT.saturating_sub(cut_elapsed)).await; // the cut lasts this long
    let all = tickets(&web).await;
    assert_eq!(
        all.len(),
        1,
        "one ticket for the partitioned site: {all:#?}"
    );

    // 3. Healed: every agent delivers what it kept during the cut.
    ns.heal();
    let healed_at = now_ms();
    wait_for(
        "fresh reports from every agent",
        Duration::from_secs(90),
        async || {
            for d in &part {
                if last_report_ms(&web, d).await <= healed_at {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    agents.stop();
    hub.stop();

    let store = Store::open(&dir.path().join("store.redb"), 1_000_000).unwrap();
    let cut_secs = (healed_at - cut_at) / 1000;
    for (id, adir, _) in &agents.0 {
        let stored = assert_agent_lost_nothing(&store, adir, id);
        if part.contains(id) {
            let during = stored
                .iter()
                .filter(|r| r.sent_at_ms > cut_at && r.sent_at_ms < healed_at)
                .count() as i64;
            assert!(
                during >= cut_secs - 3,
                "{id}: {during} reports of the {cut_secs} s cut stored"
            );
        }
    }
    let tickets = store.tickets(&Scope::Operator).unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:#?}");
    assert_eq!(tickets[0].device, "pgw");
    assert_eq!(tickets[0].root, FaultKind::Silent);
    let mut affected = tickets[0].affected.clone();
    affected.sort();
    assert_eq!(affected, inside);
    eprintln!(
        "partition: cut {cut_secs} s; ticket #{} {:?} \"{}\"",
        tickets[0].id, tickets[0].state, tickets[0].title
    );
}
