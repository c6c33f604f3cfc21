//! A real hub with its embedded broker and a redb file: devices over MQTT 3.1.1 and 5 send signed
//! reports, which are stored and acknowledged; every kind of bad input is refused, counted under
//! its reason, stores nothing, and leaves the hub serving the next good report.

use heartline_e2e::{Device, Fleet, Protocol, TestHub, ids, sample_report};
use heartline_hub::broker::acl::Refusal;
use heartline_hub::ingest::RejectReason;
use heartline_hub::metrics::AuthResult;
use heartline_hub::store::Scope;
use heartline_proto::envelope::seal;
use heartline_proto::wire;
use heartline_proto::{Channel, DeviceKey, sign};
use prost::Message;

fn fleet() -> Fleet {
    Fleet::new(&[("acme", ids("acme", 3)), ("globex", ids("globex", 1))])
}

fn stored(hub: &TestHub, device: &str) -> Vec<heartline_engine::Report> {
    hub.hub
        .store()
        .history(&Scope::Operator, device, usize::MAX)
        .unwrap()
}

#[tokio::test]
async fn reports_over_mqtt_3_and_5_are_stored_and_acked() {
    let fleet = fleet();
    let hub = TestHub::start(&fleet).await.unwrap();
    let mut v4 = Device::connect(hub.hub.mqtt_v4, fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    let mut v5 = Device::connect(hub.hub.mqtt_v5, fleet.device("acme-1"), Protocol::V5)
        .await
        .unwrap();

    for seq in 1..=5 {
        v4.send(&v4.report(seq)).await.unwrap();
        v5.send(&v5.report(seq)).await.unwrap();
    }
    let a4 = v4.wait_ack(1, 5).await.unwrap();
    let a5 = v5.wait_ack(1, 5).await.unwrap();
    assert_eq!((a4.device_id.as_str(), a4.sequence), ("acme-0", 5));
    assert_eq!((a5.device_id.as_str(), a5.sequence), ("acme-1", 5));

    for device in [&v4, &v5] {
        let history = stored(&hub, &device.creds.id);
        let seqs: Vec<u64> = history.iter().map(|r| r.sequence).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5], "{}", device.creds.id);
        // What was sent is what was stored.
        let sent = device.report(3);
        let got = &history[2];
        assert_eq!(got.metrics.len(), sent.metrics.len());
        assert_eq!(got.metrics[2].name, "disk_used_pct");
        assert_eq!(got.metrics[2].instance, "/");
        assert_eq!(got.metrics[2].value, 63.2);
        assert_eq!(got.checks[0].message, "RTSP OK 12ms");
        assert_eq!(got.sent_at_ms, sent.sent_at_ms);
        let state = hub
            .hub
            .store()
            .device_state(&Scope::Operator, &device.creds.id)
            .unwrap()
            .unwrap();
        assert_eq!(state.reports, 5);
        assert_eq!(state.next_checkin_s, 60);
    }
    assert_eq!(hub.hub.metrics().reports_committed.get(), 10);
    hub.hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_wrong_token_or_a_borrowed_client_id_is_refused_at_connect() {
    let fleet = fleet();
    let hub = TestHub::start(&fleet).await.unwrap();
    let creds = fleet.device("acme-0");
    for protocol in [Protocol::V4, Protocol::V5] {
        let addr = if protocol == Protocol::V4 {
            hub.hub.mqtt_v4
        } else {
            hub.hub.mqtt_v5
        };
        let wrong =
            Device::connect_as(addr, creds, &creds.id, "not-the-token-at-all", protocol).await;
        assert!(wrong.is_err(), "{protocol:?}: wrong token accepted");
        // Right token but posing as another device's client id (which would kick that device off).
        let other = Device::connect_as(addr, creds, "acme-1", &creds.token, protocol).await;
        assert!(other.is_err(), "{protocol:?}: another client id accepted");
    }
    assert_eq!(hub.hub.metrics().auth_count(AuthResult::Refused), 4);
    // The right credentials still work.
    let mut ok = Device::connect(hub.hub.mqtt_v4, creds, Protocol::V4)
        .await
        .unwrap();
    ok.send(&ok.report(1)).await.unwrap();
    ok.wait_ack(1, 1).await.unwrap();
    assert_eq!(hub.hub.metrics().auth_count(AuthResult::Accepted), 1);
    hub.hub.shutdown().await.unwrap();
}

/// Who refuses a bad message: the broker, for a topic the device may not publish on (it never
/// reaches ingest), or ingest, for what the topic allows but the payload breaks.
#[derive(Clone, Copy, Debug, PartialEq)]
enum By {
    Broker(Refusal),
    Ingest(RejectReason),
}

/// Sends `bad` from `acme-0`'s connection, then a good report on the same connection: once the
/// good one is acked the bad one has been processed (one connection keeps its order).
async fn refused(
    bad_topic: impl FnOnce(&Device) -> String,
    bad: impl FnOnce(&Device) -> Vec<u8>,
    reason: impl Into<By>,
) {
    let by = reason.into();
    let fleet = fleet();
    let hub = TestHub::start(&fleet).await.unwrap();
    let mut dev = Device::connect(hub.hub.mqtt_v4, fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    dev.send(&dev.report(1)).await.unwrap();
    dev.wait_ack(1, 1).await.unwrap();

    let topic = bad_topic(&dev);
    dev.publish(&topic, bad(&dev)).await.unwrap();
    dev.send(&dev.report(2)).await.unwrap();
    dev.wait_ack(1, 2).await.unwrap();

    let m = hub.hub.metrics();
    for other in RejectReason::ALL {
        let expected = u64::from(by == By::Ingest(other));
        assert_eq!(
            m.rejected(other),
            expected,
            "{other:?} counted for a {by:?} case"
        );
    }
    for other in Refusal::ALL {
        let expected = u64::from(by == By::Broker(other));
        assert_eq!(
            m.mqtt_refused(other),
            expected,
            "{other:?} counted for a {by:?} case"
        );
    }
    assert_eq!(m.reports_committed.get(), 2);
    for d in &fleet.devices {
        let seqs: Vec<u64> = stored(&hub, &d.id).iter().map(|r| r.sequence).collect();
        let expected: Vec<u64> = if d.id == "acme-0" { vec![1, 2] } else { vec![] };
        assert_eq!(seqs, expected, "history of {}", d.id);
    }
    hub.hub.shutdown().await.unwrap();
}

impl From<RejectReason> for By {
    fn from(r: RejectReason) -> By {
        By::Ingest(r)
    }
}

impl From<Refusal> for By {
    fn from(r: Refusal) -> By {
        By::Broker(r)
    }
}

fn own_topic(d: &Device) -> String {
    d.creds.topic(Channel::Report)
}

#[tokio::test]
async fn a_forged_signature_is_refused() {
    refused(
        own_topic,
        |d| seal(&DeviceKey([0x42; 32]), &d.report(7)),
        RejectReason::BadSignature,
    )
    .await;
}

#[tokio::test]
async fn a_report_signed_by_device_a_on_device_b_topic_is_refused() {
    // acme-0 signs a report (naming itself, or naming acme-1) with its own key and publishes it on
    // acme-1's topic: the broker refuses the topic (before RMQTT, the hub verified with acme-1's
    // key, so neither passed either).
    refused(
        |_| fleet().device("acme-1").topic(Channel::Report),
        |d| seal(&d.creds.key, &d.report(7)),
        Refusal::PublishForeignTopic,
    )
    .await;
    refused(
        |_| fleet().device("acme-1").topic(Channel::Report),
        |d| seal(&d.creds.key, &sample_report("acme-1", 1, 7)),
        Refusal::PublishForeignTopic,
    )
    .await;
}

#[tokio::test]
async fn a_correctly_signed_report_naming_another_device_is_refused() {
    // Signed with acme-0's own key on its own topic, but the body says acme-1.
    refused(
        own_topic,
        |d| seal(&d.creds.key, &sample_report("acme-1", 1, 7)),
        RejectReason::DeviceMismatch,
    )
    .await;
}

#[tokio::test]
async fn a_device_named_under_another_tenant_is_refused() {
    refused(
        |d| format!("hl/v1/globex/{}/report", d.creds.id),
        |d| seal(&d.creds.key, &d.report(7)),
        Refusal::PublishForeignTopic,
    )
    .await;
}

#[tokio::test]
async fn a_replayed_sequence_number_is_refused_and_acked_again() {
    refused(
        own_topic,
        |d| seal(&d.creds.key, &d.report(1)),
        RejectReason::Duplicate,
    )
    .await;
}

#[tokio::test]
async fn garbage_bytes_are_refused() {
    refused(
        own_topic,
        |_| b"\xde\xad\xbe\xef garbage \xff\xff\xff\xff".to_vec(),
        RejectReason::Malformed,
    )
    .await;
}

#[tokio::test]
async fn an_unsigned_report_is_refused() {
    refused(
        own_topic,
        |d| {
            wire::Signed {
                body: d.report(7).encode_to_vec(),
                mac: vec![],
            }
            .encode_to_vec()
        },
        RejectReason::Unsigned,
    )
    .await;
}

#[tokio::test]
async fn a_signed_envelope_around_garbage_is_refused() {
    refused(
        own_topic,
        |d| {
            let body = b"\xff\xff\xff\xff not a report".to_vec();
            let mac = sign(&d.creds.key, &body).to_vec();
            wire::Signed { body, mac }.encode_to_vec()
        },
        RejectReason::Malformed,
    )
    .await;
}

#[tokio::test]
async fn an_oversized_report_is_refused() {
    refused(
        own_topic,
        |d| {
            let mut r = d.report(7);
            r.checks[0].message = "x".repeat(heartline_proto::wire::DEFAULT_MAX_PAYLOAD);
            seal(&d.creds.key, &r)
        },
        RejectReason::Oversized,
    )
    .await;
}

#[tokio::test]
async fn a_foreign_topic_is_refused() {
    // Matches the hub's subscription, but the device segment breaks the id rules: not the
    // device's own topic, so the broker refuses it (ingest would refuse it as bad_topic).
    refused(
        |_| "hl/v1/acme/acme 0/report".into(),
        |d| seal(&d.creds.key, &d.report(7)),
        Refusal::PublishForeignTopic,
    )
    .await;
}

#[tokio::test]
async fn a_customer_scope_reads_only_its_own_tenant() {
    let fleet = fleet();
    let hub = TestHub::start(&fleet).await.unwrap();
    let mut dev = Device::connect(hub.hub.mqtt_v5, fleet.device("globex-0"), Protocol::V5)
        .await
        .unwrap();
    dev.send(&dev.report(1)).await.unwrap();
    dev.wait_ack(1, 1).await.unwrap();
    let store = hub.hub.store();
    let acme = Scope::Tenant("acme".into());
    let globex = Scope::Tenant("globex".into());
    assert_eq!(store.history(&globex, "globex-0", 10).unwrap().len(), 1);
    assert!(store.history(&acme, "globex-0", 10).unwrap().is_empty());
    assert!(store.device(&acme, "globex-0").unwrap().is_none());
    assert!(store.device_state(&acme, "globex-0").unwrap().is_none());
    assert!(
        store
            .devices(&acme)
            .unwrap()
            .iter()
            .all(|d| d.tenant == "acme")
    );
    assert_eq!(store.devices(&acme).unwrap().len(), 3);
    assert_eq!(store.tenants(&acme).unwrap().len(), 1);
    assert!(store.engineers(&acme).unwrap().is_empty());
    assert_eq!(store.devices(&Scope::Operator).unwrap().len(), 4);
    hub.hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_skipped_report_holds_the_ack_back_until_the_device_sends_it_again() {
    let fleet = fleet();
    let hub = TestHub::start(&fleet).await.unwrap();
    let mut dev = Device::connect(hub.hub.mqtt_v4, fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    dev.send(&dev.report(1)).await.unwrap();
    dev.wait_ack(1, 1).await.unwrap();
    // Report 2 was taken by a broker node that could not forward it: 3 and 4 arrive first. Acking
    // 4 would make the device forget 2.
    for seq in [3, 4] {
        dev.send(&dev.report(seq)).await.unwrap();
        let ack = dev.next_ack().await.unwrap();
        assert_eq!((ack.boot_id, ack.sequence), (1, 1), "after report {seq}");
    }
    let mut late = dev.report(2);
    late.checks[0].message = "sent before 3 and 4".into();
    dev.send(&late).await.unwrap();
    let ack = dev.next_ack().await.unwrap();
    assert_eq!(
        ack.sequence, 4,
        "2 arrived: everything up to 4 is committed"
    );
    // Sent again (the ack of 2 was lost): a duplicate now, acked again, stored once.
    dev.send(&late).await.unwrap();
    assert_eq!(dev.next_ack().await.unwrap().sequence, 4);

    let seqs: Vec<u64> = stored(&hub, "acme-0").iter().map(|r| r.sequence).collect();
    assert_eq!(
        seqs,
        [1, 3, 4, 2],
        "stored once each, in the order they arrived"
    );
    let m = hub.hub.metrics();
    assert_eq!(m.reports_committed.get(), 4);
    assert_eq!(m.reports_late.get(), 1);
    assert_eq!(m.sequence_gaps.get(), 1);
    assert_eq!(m.rejected(RejectReason::Duplicate), 1);
    // The late report is history, not news: the device's current checks are report 4's.
    let state = hub
        .hub
        .store()
        .device_state(&Scope::Operator, "acme-0")
        .unwrap()
        .unwrap();
    assert_eq!(state.reports, 4);
    assert!(
        state
            .checks
            .iter()
            .all(|c| c.message != late.checks[0].message),
        "{:?}",
        state.checks
    );
    hub.hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_report_the_device_dropped_holds_the_ack_back_only_for_gap_wait() {
    let fleet = fleet();
    let hub = TestHub::start_with(&fleet, |c| {
        c.ingest.gap_wait_s = toml::Spanned::new(0..0, 1);
    })
    .await
    .unwrap();
    let mut dev = Device::connect(hub.hub.mqtt_v5, fleet.device("acme-1"), Protocol::V5)
        .await
        .unwrap();
    dev.send(&dev.report(1)).await.unwrap();
    dev.wait_ack(1, 1).await.unwrap();
    // 2 was dropped by the device itself (a full outbox): it never comes.
    dev.send(&dev.report(3)).await.unwrap();
    assert_eq!(dev.next_ack().await.unwrap().sequence, 1);
    // The device sends 3 again, as it does while unacknowledged, until the hub stops waiting.
    let deadline = tokio::time::Instant::now() + heartline_e2e::PATIENCE;
    loop {
        dev.send(&dev.report(3)).await.unwrap();
        let ack = dev.next_ack().await.unwrap();
        if ack.sequence == 3 {
            break;
        }
        assert_eq!(ack.sequence, 1);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gap was never given up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let m = hub.hub.metrics();
    assert_eq!(m.gaps_given_up.get(), 1);
    assert_eq!(m.reports_committed.get(), 2, "3 is stored once");
    hub.hub.shutdown().await.unwrap();
}
