//! Side by side: time from a device's death to the hub's ticket, and to Alertmanager's
//! notification from Prometheus scraping the same devices. One fleet of virtual devices each
//! reports to the hub over MQTT (a signed report declaring its next check-in) and serves its own
//! `/metrics` target to Prometheus; a death stops both at the same instant (the MQTT connection is
//! cut without a will, the target answers 503), so both systems see the same deaths.
//!
//! Run by `tests/side-by-side/detect.sh` (env: PROMETHEUS, ALERTMANAGER, DEVICES, KILLS,
//! KILL_SPAN_S, CHECKIN_S, GRACE_S, SCRAPE_S, FOR_S, GROUP_WAIT_S, SIDE_BY_SIDE_MD,
//! SIDE_BY_SIDE_PIDS).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use heartline_e2e::bench::{
    Peer, emit_markdown, env_or, note_pid, percentile, rss_kib, spawn_hub, wait_listening,
};
use heartline_e2e::{Device, Fleet, Protocol, WebClient, free_port, ids, now_ms, sample_report};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HUB: &str = env!("CARGO_BIN_EXE_hub");

/// The peer's settings: what a production setup would plausibly use for 15 s scrapes.
struct PeerTiming {
    scrape_s: u64,
    for_s: u64,
    group_wait_s: u64,
}

/// Which virtual devices are alive, as their `/metrics` targets see it.
type Alive = Arc<Vec<AtomicBool>>;

/// `/metrics/{device}`: a few gauges while the device lives, 503 once it is dead.
async fn metrics(State(alive): State<Alive>, Path(device): Path<String>) -> (StatusCode, String) {
    let up = device
        .strip_prefix("d-")
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| alive.get(i))
        .is_some_and(|a| a.load(Ordering::Relaxed));
    if !up {
        return (StatusCode::SERVICE_UNAVAILABLE, String::new());
    }
    (
        StatusCode::OK,
        "# TYPE cpu_pct gauge\ncpu_pct 12.5\n# TYPE mem_used_pct gauge\nmem_used_pct 41\n\
         # TYPE disk_used_pct gauge\ndisk_used_pct 63.2\n"
            .into(),
    )
}

/// Alertmanager's webhook: the first time each device's alert is notified, on this clock.
async fn hook(
    State(seen): State<Arc<Mutex<BTreeMap<String, i64>>>>,
    body: axum::Json<serde_json::Value>,
) -> StatusCode {
    let at = now_ms();
    let mut seen = seen.lock().unwrap();
    for alert in body["alerts"].as_array().into_iter().flatten() {
        if alert["status"] == "firing" {
            if let Some(d) = alert["labels"]["device"].as_str() {
                seen.entry(d.to_string()).or_insert(at);
            }
        }
    }
    StatusCode::OK
}

fn prometheus_config(n: usize, targets: u16, am: u16, t: &PeerTiming) -> String {
    let list: Vec<String> = (0..n).map(|i| format!("'d-{i}'")).collect();
    format!(
        "global:\n  scrape_interval: {}s\n  scrape_timeout: 10s\n  evaluation_interval: {}s\n\
         rule_files: ['rules.yml']\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am}']\n\
         scrape_configs:\n  - job_name: devices\n    static_configs:\n      - targets: [{}]\n\
         \x20   relabel_configs:\n\
         \x20     - source_labels: [__address__]\n        target_label: device\n\
         \x20     - source_labels: [__address__]\n        target_label: instance\n\
         \x20     - source_labels: [__address__]\n        target_label: __metrics_path__\n        replacement: /metrics/$1\n\
         \x20     - target_label: __address__\n        replacement: 127.0.0.1:{targets}\n",
        t.scrape_s,
        t.scrape_s,
        list.join(", ")
    )
}

fn rules(t: &PeerTiming) -> String {
    format!(
        "groups:\n  - name: devices\n    rules:\n      - alert: DeviceDown\n        \
         expr: up{{job=\"devices\"}} == 0\n        for: {}s\n",
        t.for_s
    )
}

fn alertmanager_config(hook_port: u16, t: &PeerTiming) -> String {
    // One group per alert ('...'), so that every device's alert waits group_wait only, not the
    // group_interval of an existing group.
    format!(
        "route:\n  receiver: hook\n  group_by: ['...']\n  group_wait: {}s\n  group_interval: 1m\n  \
         repeat_interval: 4h\nreceivers:\n  - name: hook\n    webhook_configs:\n      \
         - url: http://127.0.0.1:{hook_port}/hook\n        send_resolved: false\n",
        t.group_wait_s
    )
}

/// One virtual device's MQTT side: a report declaring `checkin_s` every `checkin_s`, from a phase
/// offset, until the task is aborted (its death: the connection drops without a will). Each
/// report's sending time goes to `sent`.
async fn report_loop(dev: Device, phase: Duration, checkin_s: u32, sent: Arc<AtomicI64>) {
    tokio::time::sleep(phase).await;
    let mut seq = 1;
    let mut tick = tokio::time::interval(Duration::from_secs(checkin_s.into()));
    loop {
        tick.tick().await;
        let mut r = sample_report(&dev.creds.id, 1, seq);
        r.sent_at_ms = now_ms();
        r.next_checkin_s = checkin_s;
        if dev.send(&r).await.is_err() {
            return;
        }
        sent.store(r.sent_at_ms, Ordering::Relaxed);
        seq += 1;
    }
}

fn summary(lat: &mut [i64]) -> String {
    lat.sort_unstable();
    if lat.is_empty() {
        return "none | | |".into();
    }
    let s = |ms: i64| format!("{:.1} s", ms as f64 / 1000.0);
    format!(
        "**{}** | **{}** | {}",
        s(percentile(lat, 0.5)),
        s(percentile(lat, 0.99)),
        s(lat[lat.len() - 1])
    )
}

fn main() {
    let n = env_or("DEVICES", 1_000) as usize;
    let kills = env_or("KILLS", 50) as usize;
    let kill_span = Duration::from_secs(env_or("KILL_SPAN_S", 120));
    let checkin_s = env_or("CHECKIN_S", 15) as u32;
    let grace_s = env_or("GRACE_S", 30);
    let timing = PeerTiming {
        scrape_s: env_or("SCRAPE_S", 15),
        for_s: env_or("FOR_S", 30),
        group_wait_s: env_or("GROUP_WAIT_S", 10),
    };
    let prometheus = std::env::var("PROMETHEUS").unwrap_or_else(|_| "/usr/bin/prometheus".into());
    let alertmanager =
        std::env::var("ALERTMANAGER").unwrap_or_else(|_| "/usr/bin/prometheus-alertmanager".into());
    note_pid(std::process::id());

    let mut fleet = Fleet::new(&[("bench", ids("d", n))]);
    let password = fleet.with_user("op", "operator", "");
    let (dir, hub) = spawn_hub(
        HUB,
        &fleet,
        &format!("[engine]\nheartbeat_grace = \"{grace_s}s\"\n"),
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let alive: Alive = Arc::new((0..n).map(|_| AtomicBool::new(true)).collect());
    let last_sent: Vec<Arc<AtomicI64>> = (0..n).map(|_| Arc::new(AtomicI64::new(0))).collect();
    let notified = Arc::new(Mutex::new(BTreeMap::<String, i64>::new()));
    let (targets_port, hook_port) = rt.block_on(async {
        let targets = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hooks = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ports = (
            targets.local_addr().unwrap().port(),
            hooks.local_addr().unwrap().port(),
        );
        let app = axum::Router::new()
            .route("/metrics/{device}", axum::routing::get(metrics))
            .with_state(alive.clone());
        tokio::spawn(async move { axum::serve(targets, app).await });
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(notified.clone());
        tokio::spawn(async move { axum::serve(hooks, app).await });
        ports
    });

    // The peer, configured in the same temp folder.
    let (prom_port, am_port) = (free_port(), free_port());
    let d = dir.path();
    std::fs::write(
        d.join("prometheus.yml"),
        prometheus_config(n, targets_port, am_port, &timing),
    )
    .unwrap();
    std::fs::write(d.join("rules.yml"), rules(&timing)).unwrap();
    std::fs::write(
        d.join("alertmanager.yml"),
        alertmanager_config(hook_port, &timing),
    )
    .unwrap();
    let path = |name: &str| d.join(name).display().to_string();
    let am = Peer::spawn(
        "alertmanager",
        &alertmanager,
        &[
            format!("--config.file={}", path("alertmanager.yml")),
            format!("--storage.path={}", path("am-data")),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=".into(),
        ],
        &d.join("alertmanager.log"),
    );
    let prom = Peer::spawn(
        "prometheus",
        &prometheus,
        &[
            format!("--config.file={}", path("prometheus.yml")),
            format!("--storage.tsdb.path={}", path("prom-data")),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ],
        &d.join("prometheus.log"),
    );
    wait_listening(([127, 0, 0, 1], am_port).into(), "alertmanager");
    wait_listening(([127, 0, 0, 1], prom_port).into(), "prometheus");
    let version = |bin: &str| {
        let (_, out, err) =
            heartline_e2e::output_of(std::process::Command::new(bin).arg("--version"));
        let text = format!("{out}{err}");
        text.split_whitespace().nth(2).unwrap_or("?").to_string()
    };
    let (prom_version, am_version) = (version(&prometheus), version(&alertmanager));

    println!(
        "detect_vs_prometheus: {n} devices, {kills} deaths over {kill_span:?}; Heartline check-in \
         {checkin_s} s + grace {grace_s} s; Prometheus {prom_version} scrape {} s, for {} s, \
         Alertmanager {am_version} group_wait {} s",
        timing.scrape_s, timing.for_s, timing.group_wait_s
    );

    let v4: SocketAddr = hub.v4;
    let (deaths, web) = rt.block_on(async {
        // Connect the fleet, a few at a time, and start each device's reports at its own phase.
        let mut tasks = Vec::with_capacity(n);
        for chunk in fleet.devices.chunks(50) {
            let conns: Vec<_> = chunk
                .iter()
                .map(|c| {
                    let c = c.clone();
                    tokio::spawn(async move { Device::connect(v4, &c, Protocol::V4).await })
                })
                .collect();
            for c in conns {
                let dev = c.await.unwrap().unwrap();
                let i = tasks.len();
                let phase =
                    Duration::from_millis(i as u64 * u64::from(checkin_s) * 1000 / n as u64);
                let sent = last_sent[i].clone();
                tasks.push(tokio::spawn(report_loop(dev, phase, checkin_s, sent)));
            }
        }
        println!("  {n} devices connected and reporting; warming up");
        // Every device has reported and been scraped a few times before the first death.
        let warmup = Duration::from_secs((3 * timing.scrape_s).max(3 * u64::from(checkin_s)));
        tokio::time::sleep(warmup).await;

        // Deaths: devices spread over the fleet, at even intervals over the span.
        let mut deaths = BTreeMap::new();
        let every = kill_span / kills as u32;
        for k in 0..kills {
            let i = (k * n / kills + k % 7) % n;
            tasks[i].abort();
            alive[i].store(false, Ordering::Relaxed);
            deaths.insert(format!("d-{i}"), now_ms());
            tokio::time::sleep(every).await;
        }
        println!("  {kills} devices dead; waiting for both systems to notice");

        let mut web = WebClient::new(hub.http);
        assert_eq!(web.login("op", &password).await.0, 200, "operator login");
        // The slowest the peer can be: a scrape interval to miss, an evaluation interval to see
        // it, `for`, an evaluation interval to fire, group_wait; plus a margin.
        let patience =
            Duration::from_secs(3 * timing.scrape_s + timing.for_s + timing.group_wait_s + 30)
                .max(Duration::from_secs(u64::from(checkin_s) + grace_s + 30));
        let t0 = tokio::time::Instant::now();
        loop {
            let tickets = web.get("/api/v1/tickets").await.1;
            let opened = tickets.as_array().map_or(0, Vec::len);
            let got = notified.lock().unwrap().len();
            if (opened >= kills && got >= kills) || t0.elapsed() > patience {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        for t in tasks {
            t.abort();
        }
        (deaths, web)
    });

    // Heartline: each dead device's first ticket, from the JSON API.
    let tickets = rt.block_on(web.get("/api/v1/tickets")).1;
    let mut opened = BTreeMap::<String, i64>::new();
    let mut heartline_false = 0;
    for t in tickets.as_array().into_iter().flatten() {
        let (Some(dev), Some(at)) = (t["device_id"].as_str(), t["opened_ms"].as_i64()) else {
            continue;
        };
        if !deaths.contains_key(dev) {
            heartline_false += 1;
        }
        let e = opened.entry(dev.to_string()).or_insert(at);
        *e = (*e).min(at);
    }
    let notified = notified.lock().unwrap().clone();
    let peer_false = notified.keys().filter(|d| !deaths.contains_key(*d)).count();
    let lat = |seen: &BTreeMap<String, i64>| -> Vec<i64> {
        deaths
            .iter()
            .filter_map(|(d, at)| seen.get(d).map(|s| s - at))
            .collect()
    };
    let (mut hl, mut pl) = (lat(&opened), lat(&notified));
    // Heartline's promise: a ticket by the deadline the device declared (its last report + the
    // check-in it declared + grace); how far past it the ticket opened.
    let mut past: Vec<i64> = deaths
        .keys()
        .filter_map(|d| {
            let i: usize = d.strip_prefix("d-")?.parse().ok()?;
            let deadline = last_sent[i].load(Ordering::Relaxed)
                + i64::from(checkin_s) * 1_000
                + grace_s as i64 * 1_000;
            opened.get(d).map(|at| at - deadline)
        })
        .collect();
    past.sort_unstable();
    let hub_rss = rss_kib(hub.child.id()) / 1024;
    let peer_rss = (rss_kib(prom.pid()) + rss_kib(am.pid())) / 1024;
    let (hl_n, pl_n) = (hl.len(), pl.len());
    let table = format!(
        "| {n} devices, {kills} deaths over {} s | settings | detected | p50 death → alert | p99 | max | false alerts | RSS |\n\
         |---|---|---|---|---|---|---|---|\n\
         | Heartline hub: death → ticket opened (`opened_ms`, JSON API) | report every {checkin_s} s declaring its next check-in, grace {grace_s} s | {hl_n} / {kills} | {} | {heartline_false} | {hub_rss} MiB |\n\
         | Prometheus {prom_version} + Alertmanager {am_version}: death → webhook notification | scrape {} s, evaluation {} s, `up == 0` for {} s, group_wait {} s, group_by ['...'] | {pl_n} / {kills} | {} | {peer_false} | {peer_rss} MiB |\n",
        kill_span.as_secs(),
        summary(&mut hl),
        timing.scrape_s,
        timing.scrape_s,
        timing.for_s,
        timing.group_wait_s,
        summary(&mut pl),
    );
    let table = if past.is_empty() {
        table
    } else {
        format!(
            "{table}\nHeartline's tickets opened past each device's declared deadline (its last \
             report's sending time + check-in + grace): p50 {} ms, p99 {} ms, max {} ms.\n",
            percentile(&past, 0.5),
            percentile(&past, 0.99),
            past[past.len() - 1]
        )
    };
    emit_markdown(&table);
    drop(prom);
    drop(am);
    hub.stop();
}
