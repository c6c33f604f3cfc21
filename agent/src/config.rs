//! The agent's configuration file (`agent.toml`), validated with the line of each mistake.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// A mistake in the config file: where, and what.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    hub: RawHub,
    #[serde(default)]
    agent: RawAgent,
    #[serde(default)]
    collect: Collect,
    #[serde(default)]
    check: Vec<RawCheck>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHub {
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    tenant: Spanned<String>,
    device_id: Spanned<String>,
    token: Option<String>,
    token_file: Option<PathBuf>,
    key: Option<Spanned<String>>,
    key_file: Option<PathBuf>,
    /// PEM file with the CA that signed the hub's certificate: enables TLS.
    ca_file: Option<PathBuf>,
    #[serde(default = "default_keep_alive")]
    keep_alive: Spanned<String>,
}

fn default_port() -> u16 {
    1883
}
fn default_keep_alive() -> Spanned<String> {
    Spanned::new(0..0, "30s".into())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    #[serde(default = "default_interval")]
    interval: Spanned<String>,
    #[serde(default = "default_state_dir")]
    state_dir: PathBuf,
    #[serde(default = "default_outbox_max")]
    outbox_max: usize,
}

impl Default for RawAgent {
    fn default() -> Self {
        RawAgent {
            interval: default_interval(),
            state_dir: default_state_dir(),
            outbox_max: default_outbox_max(),
        }
    }
}

fn default_interval() -> Spanned<String> {
    Spanned::new(0..0, "60s".into())
}
fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/heartline-agent")
}
fn default_outbox_max() -> usize {
    10_000
}

/// What the agent measures; each collector refreshes only what it reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collect {
    #[serde(default = "yes")]
    pub cpu: bool,
    #[serde(default = "yes")]
    pub memory: bool,
    /// Mount points to report; empty: every mounted disk.
    #[serde(default)]
    pub disks: Vec<String>,
    #[serde(default = "yes")]
    pub disk: bool,
    #[serde(default = "yes")]
    pub network: bool,
    #[serde(default = "yes")]
    pub temperatures: bool,
}

fn yes() -> bool {
    true
}

impl Default for Collect {
    fn default() -> Self {
        Collect {
            cpu: true,
            memory: true,
            disks: Vec::new(),
            disk: true,
            network: true,
            temperatures: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    name: Spanned<String>,
    process: Option<String>,
    tcp: Option<String>,
    http: Option<String>,
    #[serde(default = "default_status")]
    expect_status: u16,
    command: Option<Vec<String>>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
}

fn default_status() -> u16 {
    200
}

/// What a check looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A process with this name is running.
    Process(String),
    /// A TCP connect to this address succeeds.
    Tcp(String),
    /// A GET of this URL answers with this status.
    Http { url: String, expect_status: u16 },
    /// A command in the Nagios plugin convention.
    Command(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckConfig {
    pub name: String,
    pub probe: Probe,
    pub interval: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub host: String,
    pub port: u16,
    pub tenant: String,
    pub device_id: String,
    pub token: String,
    pub key: [u8; 32],
    pub ca_file: Option<PathBuf>,
    pub keep_alive: Duration,
    pub interval: Duration,
    pub state_dir: PathBuf,
    pub outbox_max: usize,
    pub collect: Collect,
    pub checks: Vec<CheckConfig>,
}

impl AgentConfig {
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.display().to_string(),
            line: 0,
            message: format!("cannot read the file: {e}"),
        })?;
        AgentConfig::parse(path, &src)
    }

    pub fn parse(path: &Path, src: &str) -> Result<AgentConfig, ConfigError> {
        let at = |span: Option<std::ops::Range<usize>>, message: String| ConfigError {
            path: path.display().to_string(),
            line: span.map_or(0, |s| {
                src[..s.start.min(src.len())].matches('\n').count() + 1
            }),
            message,
        };
        let raw: Raw = toml::from_str(src).map_err(|e| at(e.span(), e.message().to_string()))?;
        let dur = |s: &Spanned<String>| {
            humantime::parse_duration(s.get_ref()).map_err(|e| {
                at(
                    Some(s.span()),
                    format!(
                        "{:?} is not a duration like \"30s\" or \"5m\": {e}",
                        s.get_ref()
                    ),
                )
            })
        };
        for id in [&raw.hub.tenant, &raw.hub.device_id] {
            heartline_proto::validate_id(id.get_ref())
                .map_err(|e| at(Some(id.span()), format!("{:?}: {e}", id.get_ref())))?;
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let read = |p: &PathBuf| {
            std::fs::read_to_string(base.join(p))
                .map(|s| s.trim().to_string())
                .map_err(|e| at(None, format!("cannot read {}: {e}", p.display())))
        };
        let token = match (&raw.hub.token, &raw.hub.token_file) {
            (Some(t), None) => t.clone(),
            (None, Some(f)) => read(f)?,
            _ => {
                return Err(at(
                    Some(raw.hub.device_id.span()),
                    "give exactly one of hub.token or hub.token_file".into(),
                ));
            }
        };
        let (key_hex, key_span) = match (&raw.hub.key, &raw.hub.key_file) {
            (Some(k), None) => (k.get_ref().clone(), Some(k.span())),
            (None, Some(f)) => (read(f)?, None),
            _ => {
                return Err(at(
                    Some(raw.hub.device_id.span()),
                    "give exactly one of hub.key or hub.key_file".into(),
                ));
            }
        };
        let mut key = [0u8; 32];
        hex::decode_to_slice(key_hex.trim(), &mut key).map_err(|_| {
            at(
                key_span,
                "the device key must be 64 hexadecimal digits (32 bytes)".into(),
            )
        })?;
        let interval = dur(&raw.agent.interval)?;
        let mut checks = Vec::new();
        let mut names = std::collections::HashSet::new();
        for c in &raw.check {
            if !names.insert(c.name.get_ref().clone()) {
                return Err(at(
                    Some(c.name.span()),
                    format!("check {:?} is declared twice", c.name.get_ref()),
                ));
            }
            let probes = [
                c.process.clone().map(Probe::Process),
                c.tcp.clone().map(Probe::Tcp),
                c.http.clone().map(|url| Probe::Http {
                    url,
                    expect_status: c.expect_status,
                }),
                c.command.clone().map(Probe::Command),
            ];
            let mut given = probes.into_iter().flatten();
            let (Some(probe), None) = (given.next(), given.next()) else {
                return Err(at(
                    Some(c.name.span()),
                    format!(
                        "check {:?} needs exactly one of process, tcp, http, command",
                        c.name.get_ref()
                    ),
                ));
            };
            if let Probe::Command(argv) = &probe {
                if argv.is_empty() {
                    return Err(at(Some(c.name.span()), "command is empty".into()));
                }
            }
            checks.push(CheckConfig {
                name: c.name.get_ref().clone(),
                probe,
                interval: c
                    .interval
                    .as_ref()
                    .map(dur)
                    .transpose()?
                    .unwrap_or(interval),
                timeout: c
                    .timeout
                    .as_ref()
                    .map(dur)
                    .transpose()?
                    .unwrap_or(Duration::from_secs(10)),
            });
        }
        Ok(AgentConfig {
            host: raw.hub.host,
            port: raw.hub.port,
            tenant: raw.hub.tenant.into_inner(),
            device_id: raw.hub.device_id.into_inner(),
            token,
            key,
            ca_file: raw.hub.ca_file.map(|p| base.join(p)),
            keep_alive: dur(&raw.hub.keep_alive)?,
            interval,
            state_dir: base.join(raw.agent.state_dir),
            outbox_max: raw.agent.outbox_max.max(10),
            collect: raw.collect,
            checks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn hub(extra: &str) -> String {
        format!(
            "[hub]\nhost = \"h\"\ntenant = \"t\"\ndevice_id = \"d\"\ntoken = \"x\"\nkey = \"{KEY}\"\n{extra}"
        )
    }

    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("templates/agent.toml")
            .replace("{{KEY}}", KEY)
            .replace("{{TOKEN}}", "tok");
        let cfg = AgentConfig::parse(Path::new("agent.toml"), &text).unwrap();
        assert_eq!(cfg.checks.len(), 2);
        assert_eq!(cfg.interval, Duration::from_secs(60));
        assert_eq!(cfg.port, 1883);
    }

    #[test]
    fn mistakes_point_at_their_line() {
        let cases = [
            (hub("[agent]\ninterval = \"often\"\n"), 8, "not a duration"),
            (hub("").replace(KEY, "beef"), 6, "64 hexadecimal"),
            (
                hub("").replace("device_id = \"d\"", "device_id = \"a/b\""),
                4,
                "outside A-Z",
            ),
            (
                hub("[[check]]\nname = \"c\"\n"),
                8,
                "exactly one of process, tcp, http, command",
            ),
            (
                hub("[[check]]\nname = \"c\"\ntcp = \"x:1\"\nprocess = \"p\"\n"),
                8,
                "exactly one of",
            ),
            (
                hub(
                    "[[check]]\nname = \"c\"\ntcp = \"x:1\"\n[[check]]\nname = \"c\"\ntcp = \"y:1\"\n",
                ),
                11,
                "declared twice",
            ),
            (hub("[collect]\ncpus = true\n"), 8, "unknown field"),
            (
                hub("").replace("token = \"x\"\n", ""),
                4,
                "exactly one of hub.token",
            ),
        ];
        for (i, (text, line, words)) in cases.iter().enumerate() {
            let e = AgentConfig::parse(Path::new("agent.toml"), text)
                .expect_err(&format!("case {i} accepted"));
            assert_eq!(e.line, *line, "case {i}: {e}");
            assert!(e.to_string().contains(words), "case {i}: {e}");
        }
    }
}
