//! Who may write and read which topic: the broker's authorization rules for devices, as pure
//! functions of the device's record and the topic (the hooks in `hooks.rs` apply them).
//!
//! A device may publish only on `hl/v1/{its tenant}/{its id}/report` (never retained) and
//! `…/state` (retained or not: its presence), may subscribe only to its own `…/ack` and
//! `…/config`, and may leave a last will only on its own `…/state`. Everything else is refused.
//! The hub's own link is a superuser and is not checked here.

use heartline_proto::{Channel, Topic};
use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};

/// Why the broker refused what a connected device asked for.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Refusal {
    /// A publish on a topic that is not the device's own report or state topic.
    PublishForeignTopic,
    /// A retained publish on the device's report topic: retained copies on device topics are
    /// the hub's (config) and the device's presence (state) only.
    RetainedReport,
    /// A subscription to anything but the device's own ack or config topic (wildcards included).
    SubscribeForeignTopic,
    /// A last will on a topic that is not the device's own state topic; the connection is refused.
    WillForeignTopic,
}

impl Refusal {
    pub const ALL: [Refusal; 4] = [
        Refusal::PublishForeignTopic,
        Refusal::RetainedReport,
        Refusal::SubscribeForeignTopic,
        Refusal::WillForeignTopic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::PublishForeignTopic => "publish_foreign_topic",
            Refusal::RetainedReport => "retained_report",
            Refusal::SubscribeForeignTopic => "subscribe_foreign_topic",
            Refusal::WillForeignTopic => "will_foreign_topic",
        }
    }
}

impl EncodeLabelValue for Refusal {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

/// The device a connection speaks for: its tenant and id, as the directory holds them.
#[derive(Clone, Copy, Debug)]
pub struct Speaker<'a> {
    pub tenant: &'a str,
    pub device: &'a str,
}

impl Speaker<'_> {
    /// The channel of `topic` when it is one of this device's own topics.
    fn own_channel(&self, topic: &str) -> Option<Channel> {
        let t = Topic::parse(topic)?;
        (t.tenant == self.tenant && t.device == self.device).then_some(t.channel)
    }
}

/// May this device publish on `topic`?
pub fn may_publish(who: Speaker<'_>, topic: &str, retain: bool) -> Result<(), Refusal> {
    match who.own_channel(topic) {
        Some(Channel::Report) if retain => Err(Refusal::RetainedReport),
        Some(Channel::Report | Channel::State) => Ok(()),
        _ => Err(Refusal::PublishForeignTopic),
    }
}

/// May this device subscribe to `filter`? Only its own ack and config topics, written out:
/// a wildcard or a shared subscription (`$share/…`) never matches.
pub fn may_subscribe(who: Speaker<'_>, filter: &str) -> Result<(), Refusal> {
    match who.own_channel(filter) {
        Some(Channel::Ack | Channel::Config) => Ok(()),
        _ => Err(Refusal::SubscribeForeignTopic),
    }
}

/// May this device leave a last will on `topic`? Only its own state topic.
pub fn may_will(who: Speaker<'_>, topic: &str) -> Result<(), Refusal> {
    match who.own_channel(topic) {
        Some(Channel::State) => Ok(()),
        _ => Err(Refusal::WillForeignTopic),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAM: Speaker<'static> = Speaker {
        tenant: "acme",
        device: "cam-1",
    };

    #[test]
    fn a_device_publishes_only_its_own_report_and_state() {
        assert_eq!(may_publish(CAM, "hl/v1/acme/cam-1/report", false), Ok(()));
        assert_eq!(may_publish(CAM, "hl/v1/acme/cam-1/state", true), Ok(()));
        assert_eq!(may_publish(CAM, "hl/v1/acme/cam-1/state", false), Ok(()));
        for topic in [
            "hl/v1/acme/cam-2/report",
            "hl/v1/beta/cam-1/report",
            "hl/v1/acme/cam-1/ack",
            "hl/v1/acme/cam-1/config",
            "hl/v1/acme/cam-2/state",
            "hl/v1/acme/cam-1/report/x",
            "hl/v1/acme/cam-1",
            "other",
            "$SYS/broker",
            "",
        ] {
            assert_eq!(
                may_publish(CAM, topic, false),
                Err(Refusal::PublishForeignTopic),
                "{topic}"
            );
            assert_eq!(
                may_publish(CAM, topic, true),
                Err(Refusal::PublishForeignTopic),
                "{topic}"
            );
        }
        assert_eq!(
            may_publish(CAM, "hl/v1/acme/cam-1/report", true),
            Err(Refusal::RetainedReport)
        );
    }

    #[test]
    fn a_device_subscribes_only_to_its_own_ack_and_config() {
        assert_eq!(may_subscribe(CAM, "hl/v1/acme/cam-1/ack"), Ok(()));
        assert_eq!(may_subscribe(CAM, "hl/v1/acme/cam-1/config"), Ok(()));
        for filter in [
            "#",
            "+",
            "hl/#",
            "hl/v1/#",
            "hl/v1/acme/#",
            "hl/v1/acme/+/ack",
            "hl/v1/acme/cam-1/#",
            "hl/v1/acme/cam-1/+",
            "hl/v1/+/cam-1/ack",
            "hl/v1/beta/cam-1/ack",
            "hl/v1/acme/cam-2/config",
            "hl/v1/acme/cam-1/state",
            "hl/v1/acme/cam-1/report",
            "$share/g/hl/v1/acme/cam-1/ack",
            "$SYS/#",
        ] {
            assert_eq!(
                may_subscribe(CAM, filter),
                Err(Refusal::SubscribeForeignTopic),
                "{filter}"
            );
        }
    }

    #[test]
    fn a_will_goes_only_to_the_devices_own_state() {
        assert_eq!(may_will(CAM, "hl/v1/acme/cam-1/state"), Ok(()));
        for topic in [
            "hl/v1/acme/cam-2/state",
            "hl/v1/acme/cam-1/report",
            "hl/v1/acme/cam-1/config",
            "x",
        ] {
            assert_eq!(may_will(CAM, topic), Err(Refusal::WillForeignTopic));
        }
    }
}
