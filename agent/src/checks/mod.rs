//! Service checks: a process is running, a TCP port answers, an HTTP URL answers with the expected
//! status, or a command in the Nagios plugin convention. Each runs on its own schedule with its own
//! timeout, in its own task: a hung check is cut off and never blocks the others.

pub mod nagios;

use crate::config::{CheckConfig, Probe};
use heartline_proto::CheckState;
use heartline_proto::wire::Metric;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The result of one run of a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub name: String,
    pub state: CheckState,
    pub message: String,
    /// Latency and any performance data the check reported.
    pub metrics: Vec<Metric>,
}

/// Runs `check` every interval until the receiver is gone, sending each outcome.
pub async fn schedule(check: CheckConfig, tx: mpsc::Sender<Outcome>) {
    let mut tick = tokio::time::interval(check.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let outcome = run(&check).await;
        if tx.send(outcome).await.is_err() {
            return;
        }
    }
}

/// Runs a check once, within its timeout.
pub async fn run(check: &CheckConfig) -> Outcome {
    let started = Instant::now();
    let result = tokio::time::timeout(check.timeout, probe(check)).await;
    let latency = started.elapsed();
    let (state, message, mut metrics) = match result {
        Ok(r) => r,
        Err(_) => (
            CheckState::Unknown,
            format!("timed out after {} ms", check.timeout.as_millis()),
            Vec::new(),
        ),
    };
    metrics.push(Metric {
        name: format!("{}.latency_ms", check.name),
        value: latency.as_secs_f64() * 1_000.0,
        unit: "ms".into(),
        instance: String::new(),
    });
    Outcome {
        name: check.name.clone(),
        state,
        message,
        metrics,
    }
}

async fn probe(check: &CheckConfig) -> (CheckState, String, Vec<Metric>) {
    match &check.probe {
        Probe::Process(name) => {
            let name = name.clone();
            let found = tokio::task::spawn_blocking(move || process_running(&name))
                .await
                .unwrap_or(false);
            if found {
                (
                    CheckState::Ok,
                    format!("process {} is running", check_target(check)),
                    Vec::new(),
                )
            } else {
                (
                    CheckState::Crit,
                    format!("process {} is not running", check_target(check)),
                    Vec::new(),
                )
            }
        }
        Probe::Tcp(addr) => match tokio::net::TcpStream::connect(addr.as_str()).await {
            Ok(_) => (CheckState::Ok, format!("TCP {addr} answers"), Vec::new()),
            Err(e) => (CheckState::Crit, format!("TCP {addr}: {e}"), Vec::new()),
        },
        Probe::Http { url, expect_status } => {
            let (url, expect, timeout) = (url.clone(), *expect_status, check.timeout);
            let got = tokio::task::spawn_blocking(move || http_status(&url, timeout)).await;
            match got {
                Ok(Ok(status)) if status == expect => {
                    (CheckState::Ok, format!("HTTP {status}"), Vec::new())
                }
                Ok(Ok(status)) => (
                    CheckState::Crit,
                    format!("HTTP {status}, expected {expect}"),
                    Vec::new(),
                ),
                Ok(Err(e)) => (
                    CheckState::Crit,
                    format!("HTTP request failed: {e}"),
                    Vec::new(),
                ),
                Err(e) => (
                    CheckState::Unknown,
                    format!("HTTP check could not run: {e}"),
                    Vec::new(),
                ),
            }
        }
        Probe::Command(argv) => command(&check.name, argv).await,
    }
}

fn check_target(check: &CheckConfig) -> &str {
    match &check.probe {
        Probe::Process(n) => n,
        _ => &check.name,
    }
}

/// Runs a plugin; the child is killed if the check times out (the future is dropped).
async fn command(name: &str, argv: &[String]) -> (CheckState, String, Vec<Metric>) {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    match cmd.output().await {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            let (message, perf) = nagios::parse_output(&text, name);
            let state = out
                .status
                .code()
                .map_or(CheckState::Unknown, CheckState::from_code);
            (state, message, perf)
        }
        Err(e) => (
            CheckState::Unknown,
            format!("cannot run {}: {e}", argv[0]),
            Vec::new(),
        ),
    }
}

/// Looks for a process by name in /proc (the kernel's `comm`, or the program's file name).
pub fn process_running(name: &str) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let path = e.path();
        if !e
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            return false;
        }
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            return true;
        }
        let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
        let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or(&[]);
        std::path::Path::new(&*String::from_utf8_lossy(argv0))
            .file_name()
            .is_some_and(|f| f == name)
    })
}

fn http_status(url: &str, timeout: Duration) -> Result<u16, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .get(url)
        .call()
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(probe: Probe, timeout_ms: u64) -> CheckConfig {
        CheckConfig {
            name: "c".into(),
            probe,
            interval: Duration::from_secs(60),
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    #[tokio::test]
    async fn plugin_exit_codes_and_perfdata() {
        let sh = |script: &str| Probe::Command(vec!["sh".into(), "-c".into(), script.into()]);
        let cases = [
            (
                "echo 'OK - fine | x=1'; exit 0",
                CheckState::Ok,
                "OK - fine",
            ),
            (
                "echo 'WARNING - meh'; exit 1",
                CheckState::Warn,
                "WARNING - meh",
            ),
            (
                "echo 'CRITICAL - down'; exit 2",
                CheckState::Crit,
                "CRITICAL - down",
            ),
            (
                "echo 'UNKNOWN - ?'; exit 3",
                CheckState::Unknown,
                "UNKNOWN - ?",
            ),
            ("exit 7", CheckState::Unknown, ""),
        ];
        for (script, state, message) in cases {
            let o = run(&cfg(sh(script), 5_000)).await;
            assert_eq!((o.state, o.message.as_str()), (state, message), "{script}");
        }
        let o = run(&cfg(sh("echo 'OK | x=1'"), 5_000)).await;
        assert!(o.metrics.iter().any(|m| m.name == "c.x" && m.value == 1.0));
        assert!(o.metrics.iter().any(|m| m.name == "c.latency_ms"));
    }

    #[tokio::test]
    async fn a_hung_command_is_cut_off_at_its_timeout() {
        let o = run(&cfg(Probe::Command(vec!["sleep".into(), "30".into()]), 200)).await;
        assert_eq!(o.state, CheckState::Unknown);
        assert!(
            o.message.contains("timed out after 200 ms"),
            "{}",
            o.message
        );
    }

    #[tokio::test]
    async fn tcp_and_process_probes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap().to_string();
        assert_eq!(
            run(&cfg(Probe::Tcp(open), 2_000)).await.state,
            CheckState::Ok
        );
        drop(listener);
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        assert_eq!(
            run(&cfg(Probe::Tcp(closed), 2_000)).await.state,
            CheckState::Crit
        );
        // The test binary itself is a running process.
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert!(process_running(me.trim()));
        assert!(!process_running("no-such-process-heartline"));
    }
}
