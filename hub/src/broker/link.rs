//! The hub's link to its broker: an MQTT connection over loopback to an internal listener,
//! authenticated with a secret made at start-up and treated by the broker as a superuser.
//!
//! It subscribes to every report and state topic and hands each publish to ingest through a
//! bounded channel; ingest's acks, probes and configs go back out through the same connection.
//! The same path serves a single node and a cluster: the cluster plugin routes a publish that
//! arrived at any node to this subscription. A bounded channel and the broker's own queue for
//! this session (`LINK_QUEUE` messages) bound the memory between devices and ingest; a publish
//! the broker cannot queue is dropped there and the device, holding its unacknowledged report,
//! sends it again.

use bytes::Bytes;
use heartline_proto::topic::{ALL_REPORTS, ALL_STATES};
use rumqttc::{AsyncClient, ClientError, Event, MqttOptions, Packet, QoS};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The hub's client id; not a valid device id, so no device can claim it.
pub const LINK_CLIENT_ID: &str = "heartline:hub";
/// Deliveries waiting for ingest before the link stops reading from the broker.
pub const LINK_CHANNEL: usize = 65_536;
/// The broker's queue for the hub's session (messages), and the messages in flight to it.
pub const LINK_QUEUE: usize = 200_000;
pub const LINK_INFLIGHT: u16 = 4_096;
/// Publishes from ingest waiting to be written to the broker.
const LINK_REQUESTS: usize = 65_536;
/// How long the link's CONNECT may take: in a cluster whose other nodes are not up yet, the
/// broker first waits for them (about 10 s) to learn whether the client id is connected there.
const LINK_CONNECT_MAX: Duration = Duration::from_secs(30);
/// How long the link may stay disconnected before the broker counts as failed.
const LINK_DOWN_MAX: Duration = Duration::from_secs(10);

/// A publish from a device, as ingest receives it.
pub struct Delivery {
    pub topic: String,
    pub payload: Bytes,
}

/// Ingest's side of the link for sending to devices. Sending never blocks ingest: when the
/// link's queue is full the message is dropped and logged (an ack the device misses is sent
/// again when it re-sends the report).
#[derive(Clone)]
pub struct LinkTx {
    client: AsyncClient,
}

impl LinkTx {
    /// Sends a message to one device (an ack or a probe): at most once, not retained.
    pub fn send(&self, topic: String, payload: Vec<u8>) -> Result<(), ClientError> {
        self.client
            .try_publish(topic, QoS::AtMostOnce, false, payload)
    }

    /// Publishes a retained message (a device's config), at least once.
    pub fn retain(&self, topic: String, payload: Vec<u8>) -> Result<(), ClientError> {
        self.client
            .try_publish(topic, QoS::AtLeastOnce, true, payload)
    }
}

/// Connects the link and runs it on a task. Returns once the subscriptions are granted.
pub async fn connect(
    addr: SocketAddr,
    secret: String,
    max_packet_bytes: usize,
    failed: watch::Sender<Option<String>>,
) -> anyhow::Result<(LinkTx, flume::Receiver<Delivery>)> {
    let mut opts = MqttOptions::new(LINK_CLIENT_ID, addr.ip().to_string(), addr.port());
    opts.set_credentials(LINK_CLIENT_ID, secret)
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(max_packet_bytes + 1024, max_packet_bytes + 1024)
        .set_inflight(LINK_INFLIGHT);
    let (client, mut events) = AsyncClient::new(opts, LINK_REQUESTS);
    // In a cluster, a CONNECT asks the other nodes about the client id first; a node that is not
    // up yet makes that wait for the cluster's request timeout.
    let mut net = events.network_options();
    net.set_connection_timeout(LINK_CONNECT_MAX.as_secs());
    events.set_network_options(net);
    let (tx, rx) = flume::bounded(LINK_CHANNEL);
    let subscribe = |client: &AsyncClient| {
        client.try_subscribe_many(
            [ALL_REPORTS, ALL_STATES]
                .map(|t| rumqttc::SubscribeFilter::new(t.to_string(), QoS::AtLeastOnce)),
        )
    };
    // The first connection and its SUBACK, before start-up goes on.
    let deadline = Instant::now() + LINK_CONNECT_MAX;
    loop {
        let event = tokio::time::timeout_at(deadline.into(), events.poll())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "the hub's link to its broker did not connect within {LINK_CONNECT_MAX:?}"
                )
            })?;
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => subscribe(&client)?,
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                anyhow::ensure!(
                    ack.return_codes
                        .iter()
                        .all(|c| matches!(c, rumqttc::SubscribeReasonCode::Success(_))),
                    "the broker refused the hub's subscriptions: {:?}",
                    ack.return_codes
                );
                break;
            }
            Ok(_) => {}
            Err(e) => anyhow::bail!("the hub's link to its broker at {addr}: {e}"),
        }
    }
    let resubscribe = client.clone();
    tokio::spawn(async move {
        let mut down_since: Option<Instant> = None;
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let delivery = Delivery {
                        topic: p.topic,
                        payload: p.payload,
                    };
                    if tx.send_async(delivery).await.is_err() {
                        // Ingest stopped; nothing more to deliver.
                        return;
                    }
                }
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    tracing::warn!("the hub's link to its broker reconnected; subscribing again");
                    down_since = None;
                    if let Err(e) = subscribe(&resubscribe) {
                        tracing::error!(error = %e, "cannot subscribe the hub's link again");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let since = *down_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= LINK_DOWN_MAX {
                        let why = format!(
                            "the hub's link to its broker is down since {:?}: {e}",
                            since.elapsed()
                        );
                        let _ = failed.send(Some(why));
                        return;
                    }
                    tracing::warn!(error = %e, "the hub's link to its broker dropped; reconnecting");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok((LinkTx { client }, rx))
}
