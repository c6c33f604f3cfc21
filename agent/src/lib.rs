//! The Heartline agent: a small Linux daemon that reports its device's health to the hub and never
//! loses a report.
//!
//! Component map:
//! - [`config`]: `agent.toml`, validated with the line of each mistake;
//! - [`collect`]: CPU, memory, disks, network, temperatures, uptime, boot identity;
//! - [`checks`]: process, TCP, HTTP and Nagios-convention command checks, each with its own
//!   schedule and timeout;
//! - [`outbox`]: the bounded on-disk queue every report passes through until the hub acks it;
//! - [`session`]: the MQTT session (persistent, signed will, TLS, jittered reconnect);
//! - [`daemon`]: the main loop; [`cli`]: the `heartline-agent` command.

pub mod checks;
pub mod cli;
pub mod collect;
pub mod config;
pub mod daemon;
pub mod outbox;
pub mod session;

pub use config::AgentConfig;
pub use daemon::run;
