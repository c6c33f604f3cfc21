//! The broker's hooks: connect-time authentication against the [`Directory`] and the topic rules
//! of [`acl`](super::acl) on every subscribe and publish. Refusals are counted per reason in
//! `/metrics` and logged once per device and reason per minute. A retained message (a device's
//! state, a will) is kept as a copy of its own, not as a slice of the connection's read buffer.

use super::acl::{self, Refusal, Speaker};
use crate::directory::Directory;
use crate::ingest::reject::RejectLog;
use crate::metrics::{Metrics, RefusalLabel};
use async_trait::async_trait;
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::types::{
    AuthResult, ConnectInfo, LastWill, ListenerId, Publish, PublishAclResult, SubscribeAclResult,
    TopicName,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Quiet period of the refusal log, per device and reason.
const REFUSAL_LOG_QUIET: Duration = Duration::from_secs(60);

/// The hub's own connections (its link sessions, see [`super::link::is_link_client`]): accepted
/// only on its internal listener, with the per-process secret.
#[derive(Clone)]
pub struct LinkCredentials {
    pub listener: ListenerId,
    pub secret: String,
}

/// The hook types [`Hooks`] answers.
pub const TYPES: [Type; 4] = [
    Type::ClientAuthenticate,
    Type::ClientSubscribeCheckAcl,
    Type::MessagePublishCheckAcl,
    Type::MessagePublish,
];

/// A retained publish with its topic and payload copied out of the buffer they were decoded in.
///
/// The codec hands them out as slices of the connection's 8 KiB read buffer (for a will, of the
/// CONNECT packet's); the retainer keeps a retained message until it is replaced, so a slice
/// would keep that whole buffer alive — 8 KiB for a message of a few dozen bytes, per device,
/// for as long as the message is retained (for a will, after the connection is gone).
pub fn detached(p: &Publish) -> Publish {
    let mut copy = p.clone();
    copy.inner.topic = TopicName::from(&*p.inner.topic);
    copy.inner.payload = bytes::Bytes::copy_from_slice(&p.inner.payload);
    copy
}

pub struct Hooks {
    directory: Directory,
    metrics: Arc<Metrics>,
    link: Option<LinkCredentials>,
    log: Mutex<RejectLog<Refusal>>,
}

impl Hooks {
    pub fn new(
        directory: Directory,
        metrics: Arc<Metrics>,
        link: Option<LinkCredentials>,
    ) -> Arc<Hooks> {
        Arc::new(Hooks {
            directory,
            metrics,
            link,
            log: Mutex::new(RejectLog::new(REFUSAL_LOG_QUIET)),
        })
    }

    fn refuse(&self, device: &str, topic: &str, reason: Refusal) {
        self.metrics
            .mqtt_refused
            .get_or_create(&RefusalLabel { reason })
            .inc();
        let held_back = self.log.lock().expect("refusal log lock poisoned").note(
            Instant::now(),
            device,
            reason,
        );
        if let Some(held_back) = held_back {
            tracing::warn!(
                device,
                topic,
                reason = reason.as_str(),
                held_back,
                "MQTT request refused: a device may publish only its own report and state and \
                 subscribe only to its own ack and config"
            );
        }
    }

    fn authenticate(&self, c: &ConnectInfo) -> AuthResult {
        let id = c.id();
        let client_id: &str = &id.client_id;
        let username: &str = c.username().map_or("", |u| u.as_ref());
        let password = c
            .password()
            .and_then(|p| std::str::from_utf8(p).ok())
            .unwrap_or("");
        if let Some(link) = self.link.as_ref().filter(|l| l.listener == id.lid) {
            let ok = super::link::is_link_client(client_id)
                && username == client_id
                && bool::from(password.as_bytes().ct_eq(link.secret.as_bytes()));
            if ok {
                return AuthResult::Allow(true, None);
            }
            tracing::warn!(
                client_id,
                "refused a connection on the hub's internal link listener: only the hub connects there"
            );
            return AuthResult::NotAuthorized;
        }
        if !self
            .directory
            .authenticate_counted(&self.metrics, client_id, username, password)
        {
            return AuthResult::BadUsernameOrPassword;
        }
        if let Some(will) = c.last_will() {
            let topic: &str = match will {
                LastWill::V3(w) => &w.topic,
                LastWill::V5(w) => &w.topic,
            };
            if let Err(reason) = self.speaker(client_id, |who| acl::may_will(who, topic)) {
                self.refuse(client_id, topic, reason);
                return AuthResult::NotAuthorized;
            }
        }
        AuthResult::Allow(false, None)
    }

    /// Applies `rule` to the device `client_id` speaks for; an unknown device (removed from the
    /// inventory while connected) may do nothing.
    fn speaker(
        &self,
        client_id: &str,
        rule: impl FnOnce(Speaker<'_>) -> Result<(), Refusal>,
    ) -> Result<(), Refusal> {
        match self.directory.get(client_id) {
            Some(d) => rule(Speaker {
                tenant: &d.info.tenant,
                device: &d.info.id,
            }),
            None => rule(Speaker {
                tenant: "",
                device: "",
            }),
        }
    }
}

/// rmqtt wants one boxed handler per hook type; they share one [`Hooks`].
pub struct HookHandler(pub Arc<Hooks>);

#[async_trait]
impl Handler for HookHandler {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        let hooks = &self.0;
        match param {
            Parameter::ClientAuthenticate(c) => {
                (false, Some(HookResult::AuthResult(hooks.authenticate(c))))
            }
            Parameter::ClientSubscribeCheckAcl(session, subscribe) => {
                let filter: &str = &subscribe.topic_filter;
                let client_id: &str = &session.id.client_id;
                let result = match hooks.speaker(client_id, |who| acl::may_subscribe(who, filter)) {
                    Ok(()) => SubscribeAclResult::new_success(subscribe.opts.qos(), None),
                    Err(reason) => {
                        hooks.refuse(client_id, filter, reason);
                        SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized)
                    }
                };
                (false, Some(HookResult::SubscribeAclResult(result)))
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let topic: &str = &publish.topic;
                let client_id: &str = &session.id.client_id;
                let retain = publish.retain;
                let result =
                    match hooks.speaker(client_id, |who| acl::may_publish(who, topic, retain)) {
                        Ok(()) => PublishAclResult::allow(),
                        Err(reason) => {
                            hooks.refuse(client_id, topic, reason);
                            PublishAclResult::rejected(false, None)
                        }
                    };
                (false, Some(HookResult::PublishAclResult(result)))
            }
            Parameter::MessagePublish(_, _, publish) => {
                let publish = match &acc {
                    Some(HookResult::Publish(p)) => p,
                    _ => publish,
                };
                if publish.retain {
                    (true, Some(HookResult::Publish(detached(publish))))
                } else {
                    (true, acc)
                }
            }
            _ => (true, acc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmqtt::codec::types::{Publish as CodecPublish, QoS};

    #[test]
    fn a_retained_message_owns_its_topic_and_payload() {
        // As the codec decodes it: topic and payload are slices of one 8 KiB read buffer.
        let mut buffer = vec![0u8; 8192];
        let packet = b"hl/v1/t/d1/state{\"online\"}";
        buffer[..packet.len()].copy_from_slice(packet);
        let buffer = bytes::Bytes::from(buffer);
        let from_buffer = Publish {
            inner: Box::new(CodecPublish {
                dup: false,
                retain: true,
                qos: QoS::AtLeastOnce,
                topic: TopicName::try_from(buffer.slice(0..16)).unwrap(),
                packet_id: None,
                payload: buffer.slice(16..packet.len()),
                properties: None,
            }),
            target_clientid: None,
            delay_interval: None,
            create_time: None,
        };
        let copy = detached(&from_buffer);
        assert_eq!(&*copy.inner.topic, "hl/v1/t/d1/state");
        assert_eq!(&copy.inner.payload[..], b"{\"online\"}");
        assert!(copy.retain && copy.qos == QoS::AtLeastOnce);
        let inside = |p: *const u8| buffer.as_ptr_range().contains(&p);
        assert!(
            inside(from_buffer.inner.payload.as_ptr()),
            "the test's premise"
        );
        assert!(!inside(copy.inner.payload.as_ptr()));
        assert!(!inside(copy.inner.topic.as_bytes().as_ptr()));
    }
}
