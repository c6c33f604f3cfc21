//! The device's four topics, written into fixed buffers once at start-up without `core::fmt`
//! (formatting machinery costs kilobytes of flash).

use heartline_proto::topic::PREFIX;
use heartline_proto::{Channel, validate_id};

/// Longest topic: prefix, two ids of at most 64 bytes, separators, the longest channel name.
pub const MAX_TOPIC: usize = 6 + 64 + 1 + 64 + 1 + 6;

pub type TopicBuf = heapless::String<MAX_TOPIC>;

/// `hl/v1/{tenant}/{device}/{channel}`; `None` when an id breaks the id rules.
pub fn topic(tenant: &str, device: &str, channel: Channel) -> Option<TopicBuf> {
    validate_id(tenant).ok()?;
    validate_id(device).ok()?;
    let mut t = TopicBuf::new();
    for part in [PREFIX, tenant, "/", device, "/", channel.as_str()] {
        t.push_str(part).ok()?;
    }
    Some(t)
}

/// The topics of one device.
#[derive(Debug, Clone)]
pub struct Topics {
    pub report: TopicBuf,
    pub state: TopicBuf,
    pub ack: TopicBuf,
    pub config: TopicBuf,
}

impl Topics {
    pub fn new(tenant: &str, device: &str) -> Option<Topics> {
        Some(Topics {
            report: topic(tenant, device, Channel::Report)?,
            state: topic(tenant, device, Channel::State)?,
            ack: topic(tenant, device, Channel::Ack)?,
            config: topic(tenant, device, Channel::Config)?,
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use heartline_proto::Topic;
    use std::string::ToString;

    #[test]
    fn same_as_the_shared_topic_scheme() {
        let long = "d".repeat(64);
        for (tenant, device) in [("acme", "mcu-0"), (long.as_str(), long.as_str())] {
            for channel in [
                Channel::Report,
                Channel::State,
                Channel::Ack,
                Channel::Config,
            ] {
                let ours = topic(tenant, device, channel).unwrap();
                assert_eq!(
                    ours.as_str(),
                    Topic::new(tenant, device, channel).to_string()
                );
            }
        }
        assert!(topic("acme", "a/b", Channel::Report).is_none());
        assert!(Topics::new("", "x").is_none());
    }
}
