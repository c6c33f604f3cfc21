//! The MQTT topic scheme: `hl/v1/{tenant}/{device}/{channel}`.
//!
//! Parsing borrows from the topic string and building goes through `Display`, so the firmware can
//! write a topic into a fixed buffer and the hub can parse millions without allocating.

use crate::ids::validate_id;
use core::fmt;

/// Every topic starts with this prefix; `v1` changes only with an incompatible payload change.
pub const PREFIX: &str = "hl/v1/";

/// The hub's subscription for every device report.
pub const ALL_REPORTS: &str = "hl/v1/+/+/report";
/// The hub's subscription for every presence change (online, last will, goodbye).
pub const ALL_STATES: &str = "hl/v1/+/+/state";

/// What a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Device → hub, QoS 1: a signed `HealthReport`.
    Report,
    /// Device → hub, retained: a signed `StateChange` (online, offline as last will, goodbye).
    State,
    /// Hub → device: a signed `Ack` with the highest committed sequence.
    Ack,
    /// Hub → device, retained: a signed `DeviceConfig`.
    Config,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Report => "report",
            Channel::State => "state",
            Channel::Ack => "ack",
            Channel::Config => "config",
        }
    }

    fn parse(s: &str) -> Option<Channel> {
        Some(match s {
            "report" => Channel::Report,
            "state" => Channel::State,
            "ack" => Channel::Ack,
            "config" => Channel::Config,
            _ => return None,
        })
    }
}

/// A parsed or to-be-built topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic<'a> {
    pub tenant: &'a str,
    pub device: &'a str,
    pub channel: Channel,
}

impl<'a> Topic<'a> {
    pub const fn new(tenant: &'a str, device: &'a str, channel: Channel) -> Self {
        Topic {
            tenant,
            device,
            channel,
        }
    }

    /// Parses `hl/v1/{tenant}/{device}/{channel}`; `None` for anything else, including ids that
    /// break the id rules.
    pub fn parse(topic: &'a str) -> Option<Topic<'a>> {
        let rest = topic.strip_prefix(PREFIX)?;
        let mut parts = rest.split('/');
        let tenant = parts.next()?;
        let device = parts.next()?;
        let channel = Channel::parse(parts.next()?)?;
        if parts.next().is_some() || validate_id(tenant).is_err() || validate_id(device).is_err() {
            return None;
        }
        Some(Topic {
            tenant,
            device,
            channel,
        })
    }
}

impl fmt::Display for Topic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{}/{}/{}",
            self.tenant,
            self.device,
            self.channel.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for channel in [
            Channel::Report,
            Channel::State,
            Channel::Ack,
            Channel::Config,
        ] {
            let t = Topic::new("acme", "cam-1", channel);
            let s = t.to_string();
            assert_eq!(Topic::parse(&s), Some(t));
        }
    }

    #[test]
    fn refuses_foreign_topics() {
        for bad in [
            "",
            "hl/v1/acme/cam-1",
            "hl/v2/acme/cam-1/report",
            "hl/v1/acme/cam-1/report/extra",
            "hl/v1/acme/cam-1/other",
            "hl/v1//cam-1/report",
            "hl/v1/acme/+/report",
            "x/hl/v1/acme/cam-1/report",
        ] {
            assert_eq!(Topic::parse(bad), None, "{bad:?}");
        }
    }
}
