//! Engine throughput on one core: 100,000 devices (1,000 gateways with 99 devices behind each),
//! threshold and trend rules, reports arriving round-robin in virtual time with ticks whenever the
//! engine asks. Prints inputs/s per round and the median.
//!
//! `cargo bench -p heartline-engine --bench engine_throughput` (env: DEVICES, INPUTS, ROUNDS).

use heartline_engine::*;
use heartline_proto::{CheckState, Severity};
use std::time::Instant;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let devices = env_or("DEVICES", 100_000) as usize;
    let inputs = env_or("INPUTS", 2_000_000) as usize;
    let rounds = env_or("ROUNDS", 3);
    let infos: Vec<DeviceInfo> = (0..devices)
        .map(|i| {
            let gw = i - i % 100;
            DeviceInfo {
                id: format!("d{i}"),
                tenant: format!("t{}", i % 10),
                project: format!("p{}", i % 100),
                site: format!("s{gw}"),
                kind: if i % 100 == 0 {
                    "gateway".into()
                } else {
                    "camera".into()
                },
                uplink: (i % 100 != 0).then(|| format!("d{gw}")),
            }
        })
        .collect();
    let cfg = EngineConfig {
        thresholds: vec![ThresholdRule {
            name: "cpu-high".into(),
            metric: "cpu_pct".into(),
            instance: String::new(),
            direction: Direction::Above,
            threshold: 95.0,
            clear: 90.0,
            hold: 5 * MINUTE,
            severity: Severity::Major,
            kinds: vec![],
            projects: vec![],
        }],
        trends: vec![TrendRule {
            name: "disk-filling".into(),
            metric: "disk_used_pct".into(),
            instance: "/".into(),
            direction: Direction::Above,
            limit: 100.0,
            horizon: 72 * HOUR,
            window: 6 * HOUR,
            min_samples: 6,
            severity: Severity::Minor,
            kinds: vec![],
            projects: vec![],
        }],
        ..EngineConfig::default()
    };
    let ids: Vec<String> = infos.iter().map(|d| d.id.clone()).collect();
    let mut reports: Vec<Report> = (0..16)
        .map(|k| Report {
            boot_id: 1,
            sequence: 1,
            sent_at_ms: 0,
            received_at_ms: 0,
            next_checkin_s: 60,
            metrics: vec![
                MetricValue {
                    name: "cpu_pct".into(),
                    instance: String::new(),
                    value: 20.0 + k as f64,
                    unit: "%".into(),
                },
                MetricValue {
                    name: "disk_used_pct".into(),
                    instance: "/".into(),
                    value: 40.0,
                    unit: "%".into(),
                },
                MetricValue {
                    name: "temperature_c".into(),
                    instance: "cpu".into(),
                    value: 50.0,
                    unit: "C".into(),
                },
            ],
            checks: vec![CheckResult {
                name: "rtsp".into(),
                state: CheckState::Ok,
                message: "ok".into(),
            }],
            events: vec![],
        })
        .collect();
    reports[3].checks[0].state = CheckState::Crit;

    println!("engine_throughput: {devices} devices, {inputs} inputs per round, one core");
    let mut rates = Vec::new();
    for round in 0..rounds {
        let mut engine = Engine::new(cfg.clone(), infos.clone());
        let start: Ms = 1_790_000_000_000;
        let mut now = start;
        let t0 = Instant::now();
        let mut handled = 0usize;
        let mut i = 0usize;
        while handled < inputs {
            let d = i % devices;
            // One device in 64 cycles through a failing check now and then; the rest are healthy.
            let r = if d % 64 == 0 {
                &reports[(i / devices) % reports.len()]
            } else {
                &reports[(i / devices) % 3]
            };
            engine
                .handle(
                    now,
                    Input::Report {
                        device: &ids[d],
                        report: r,
                    },
                )
                .unwrap();
            handled += 1;
            i += 1;
            // Every device reports once a minute: 100k devices = 1,667 reports per virtual second.
            now = start + (i as i64 * 60_000) / devices as i64;
            if engine.next_deadline() <= now {
                engine.handle(now, Input::Tick).unwrap();
                handled += 1;
            }
            if handled % 65_536 == 0 {
                // What ingest does after every batch.
                std::hint::black_box(engine.take_changes());
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let rate = handled as f64 / secs;
        let open = engine.tickets().filter(|t| !t.state.is_terminal()).count();
        println!(
            "  round {}: {handled} inputs in {secs:.2} s = {rate:.0} inputs/s ({} tickets, {open} unfinished)",
            round + 1,
            engine.tickets().count()
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "median: {:.0} inputs/s (target ≥ 500,000 on one core)",
        rates[rates.len() / 2]
    );
}
