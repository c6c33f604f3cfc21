//! The hub's link to its broker: an MQTT connection over loopback to an internal listener,
//! authenticated with a secret made at start-up and treated by the broker as a superuser.
//!
//! It subscribes to every report and state topic and hands each publish to ingest through a
//! bounded channel; ingest's acks, probes and configs go back out through [`LINK_SESSIONS`]
//! connections, each device's always through the same one (so they stay in order): a session's
//! publishes are forwarded one after the other, and in a cluster each waits for the other nodes,
//! so one session would cap the acks per second the hub can send.
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

/// The hub's client id; not a valid device id, so no device can claim it. The sending sessions
/// are `heartline:hub#1` and so on.
pub const LINK_CLIENT_ID: &str = "heartline:hub";
/// Connections the hub sends to devices through (the first one also receives).
pub const LINK_SESSIONS: usize = 8;

/// Whether `client_id` is one of the hub's link sessions.
pub fn is_link_client(client_id: &str) -> bool {
    client_id == LINK_CLIENT_ID
        || client_id
            .strip_prefix(LINK_CLIENT_ID)
            .and_then(|rest| rest.strip_prefix('#'))
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| (1..LINK_SESSIONS).contains(&n))
}
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
    clients: Vec<AsyncClient>,
}

impl LinkTx {
    /// Sends a message to one device (an ack or a probe): at most once, not retained.
    pub fn send(&self, topic: String, payload: Vec<u8>) -> Result<(), ClientError> {
        self.client(&topic)
            .try_publish(topic, QoS::AtMostOnce, false, payload)
    }

    /// Publishes a retained message (a device's config), at least once.
    pub fn retain(&self, topic: String, payload: Vec<u8>) -> Result<(), ClientError> {
        self.client(&topic)
            .try_publish(topic, QoS::AtLeastOnce, true, payload)
    }

    /// The session for the device `topic` is addressed to: the same one for every message to it.
    fn client(&self, topic: &str) -> &AsyncClient {
        let device = topic.rsplit('/').nth(1).unwrap_or(topic);
        let hash = device.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        &self.clients[(hash % self.clients.len() as u64) as usize]
    }
}

/// One sending session of the link: connects, then drives its connection (rumqttc reconnects)
/// until it has been down for `LINK_DOWN_MAX`.
async fn sender(
    addr: SocketAddr,
    n: usize,
    secret: String,
    max_packet_bytes: usize,
    failed: watch::Sender<Option<String>>,
) -> anyhow::Result<AsyncClient> {
    let id = format!("{LINK_CLIENT_ID}#{n}");
    let (client, mut events) = session(&id, addr, secret, max_packet_bytes);
    let deadline = Instant::now() + LINK_CONNECT_MAX;
    loop {
        let event = tokio::time::timeout_at(deadline.into(), events.poll())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "the hub's link session {id} did not connect within {LINK_CONNECT_MAX:?}"
                )
            })?;
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => break,
            Ok(_) => {}
            Err(e) => anyhow::bail!("the hub's link session {id} to its broker at {addr}: {e}"),
        }
    }
    tokio::spawn(async move {
        let mut down_since: Option<Instant> = None;
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => down_since = None,
                Ok(_) => {}
                Err(e) => {
                    if !still_up(&mut down_since, &id, &e, &failed).await {
                        return;
                    }
                }
            }
        }
    });
    Ok(client)
}

/// After a connection error of the link session `id`: false (and the broker reported failed)
/// once it has been down for `LINK_DOWN_MAX`, else true after a pause before rumqttc reconnects.
async fn still_up(
    down_since: &mut Option<Instant>,
    id: &str,
    e: &rumqttc::ConnectionError,
    failed: &watch::Sender<Option<String>>,
) -> bool {
    let since = *down_since.get_or_insert_with(Instant::now);
    if since.elapsed() >= LINK_DOWN_MAX {
        let why = format!(
            "the hub's link session {id} to its broker is down since {:?}: {e}",
            since.elapsed()
        );
        let _ = failed.send(Some(why));
        return false;
    }
    tracing::warn!(error = %e, session = id, "a link session to the broker dropped; reconnecting");
    tokio::time::sleep(Duration::from_millis(100)).await;
    true
}

/// A link session's client and event loop. In a cluster, a CONNECT asks the other nodes about
/// the client id first; a node that is not up yet makes that wait for the cluster's request
/// timeout, hence the long connection timeout.
fn session(
    id: &str,
    addr: SocketAddr,
    secret: String,
    max_packet_bytes: usize,
) -> (AsyncClient, rumqttc::EventLoop) {
    let (client, mut events) =
        AsyncClient::new(options(id, addr, secret, max_packet_bytes), LINK_REQUESTS);
    let mut net = events.network_options();
    net.set_connection_timeout(LINK_CONNECT_MAX.as_secs());
    events.set_network_options(net);
    (client, events)
}

fn options(id: &str, addr: SocketAddr, secret: String, max_packet_bytes: usize) -> MqttOptions {
    let mut opts = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    opts.set_credentials(id, secret)
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(max_packet_bytes + 1024, max_packet_bytes + 1024)
        .set_inflight(LINK_INFLIGHT);
    opts
}

/// Connects the link and runs it on a task. Returns once the subscriptions are granted.
pub async fn connect(
    addr: SocketAddr,
    secret: String,
    max_packet_bytes: usize,
    failed: watch::Sender<Option<String>>,
) -> anyhow::Result<(LinkTx, flume::Receiver<Delivery>)> {
    // The sending sessions connect meanwhile.
    let senders: Vec<_> = (1..LINK_SESSIONS)
        .map(|n| {
            tokio::spawn(sender(
                addr,
                n,
                secret.clone(),
                max_packet_bytes,
                failed.clone(),
            ))
        })
        .collect();
    let (client, mut events) = session(LINK_CLIENT_ID, addr, secret, max_packet_bytes);
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
    let mut clients = vec![client.clone()];
    for s in senders {
        clients.push(s.await??);
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
                    if !still_up(&mut down_since, LINK_CLIENT_ID, &e, &failed).await {
                        return;
                    }
                }
            }
        }
    });
    Ok((LinkTx { clients }, rx))
}
