//! The session against a scripted broker, in virtual time: CONNACK refused, a lost PUBACK and the
//! retransmission, a silent broker, messages split across reads, oversized packets; and the
//! decoder on arbitrary bytes.

extern crate std;
use super::codec::{self, DecodeError, kind};
use super::{Connect, Event, Lost, Options, Session, Will};
use crate::script::{self, Script};
use proptest::prelude::*;

const OPTS: Options = Options {
    keep_alive_s: 10,
    response_timeout_ms: 2_000,
    retransmit_ms: 1_000,
    max_retransmits: 2,
};

type TestSession = Session<128, 128>;

const CONNECT: Connect<'static> = Connect {
    client_id: "mcu-0",
    username: "mcu-0",
    password: b"secret",
    keep_alive_s: 10,
    will: Some(Will {
        topic: "hl/v1/lab/mcu-0/state",
        payload: b"offline",
        retain: true,
    }),
};

/// Polls once and returns the event, owned enough to compare.
fn poll(s: &mut TestSession, now: u64, link: &mut Script) -> Option<Event<'static>> {
    s.poll(now, link).unwrap().map(|e| match e {
        Event::Message { .. } => panic!("use poll_message"),
        Event::Connected => Event::Connected,
        Event::Lost(l) => Event::Lost(l),
        Event::Published(id) => Event::Published(id),
        Event::Subscribed { granted } => Event::Subscribed { granted },
    })
}

/// Polls at ticks `0..ticks` and collects the messages.
fn messages(
    s: &mut TestSession,
    link: &mut Script,
    ticks: u64,
) -> std::vec::Vec<(std::string::String, std::vec::Vec<u8>)> {
    let mut got = std::vec::Vec::new();
    for t in 0..ticks {
        if let Some(Event::Message { topic, payload }) = s.poll(t, link).unwrap() {
            got.push((std::string::String::from(topic), payload.to_vec()));
        }
    }
    got
}

fn connected(now: u64) -> (TestSession, Script) {
    let mut s = TestSession::new(OPTS);
    let mut link = Script::new();
    s.connect(now, &mut link, &CONNECT).unwrap();
    link.feed(&script::connack(0));
    assert_eq!(poll(&mut s, now, &mut link), Some(Event::Connected));
    link.take_packets();
    (s, link)
}

#[test]
fn connect_carries_credentials_and_the_will() {
    let mut s = TestSession::new(OPTS);
    let mut link = Script::new();
    s.connect(0, &mut link, &CONNECT).unwrap();
    let sent = link.take_packets();
    let c = sent[0].connect();
    // username, password, will retain, will QoS 1, will, clean session
    assert_eq!(c.flags, 0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02);
    assert_eq!((c.keep_alive, c.client_id.as_str()), (10, "mcu-0"));
    assert_eq!(
        (c.username.as_str(), c.password.as_slice()),
        ("mcu-0", &b"secret"[..])
    );
    let (topic, payload) = c.will.unwrap();
    assert_eq!(
        (topic.as_str(), payload.as_slice()),
        ("hl/v1/lab/mcu-0/state", &b"offline"[..])
    );
    assert!(!s.is_up() && !s.is_idle());
}

#[test]
fn connack_refused_ends_the_session() {
    let mut s = TestSession::new(OPTS);
    let mut link = Script::new();
    s.connect(0, &mut link, &CONNECT).unwrap();
    link.feed(&script::connack(5));
    assert_eq!(
        poll(&mut s, 10, &mut link),
        Some(Event::Lost(Lost::Refused(5)))
    );
    assert!(s.is_idle());
    assert_eq!(
        s.publish(20, &mut link, "t", b"x", false),
        Err(super::Error::NotConnected)
    );
}

#[test]
fn no_connack_in_time_means_the_broker_is_silent() {
    let mut s = TestSession::new(OPTS);
    let mut link = Script::new();
    s.connect(0, &mut link, &CONNECT).unwrap();
    assert_eq!(poll(&mut s, 1_999, &mut link), None);
    assert_eq!(s.next_deadline(), Some(2_000));
    assert_eq!(
        poll(&mut s, 2_000, &mut link),
        Some(Event::Lost(Lost::BrokerSilent))
    );
    assert!(s.is_idle());
}

#[test]
fn lost_puback_is_retransmitted_with_dup_then_the_session_gives_up() {
    let (mut s, mut link) = connected(0);
    let id = s
        .publish(100, &mut link, "hl/v1/lab/mcu-0/report", b"r1", false)
        .unwrap();
    let first = link.take_packets().remove(0);
    assert_eq!(first.publish(), ("hl/v1/lab/mcu-0/report", id, &b"r1"[..]));
    assert!(!first.dup());
    assert_eq!(
        s.publish(150, &mut link, "t", b"x", false),
        Err(super::Error::Busy)
    );

    // The PUBACK never comes: the same packet again, flagged DUP.
    assert_eq!(poll(&mut s, 1_099, &mut link), None);
    assert!(link.take_packets().is_empty());
    assert_eq!(poll(&mut s, 1_100, &mut link), None);
    let again = link.take_packets().remove(0);
    assert!(again.dup());
    assert_eq!(again.publish(), first.publish());
    assert_eq!(s.stats.retransmits, 1);

    // This time it is acknowledged; a late PUBACK for the same id changes nothing.
    link.feed(&script::puback(id));
    assert_eq!(poll(&mut s, 1_200, &mut link), Some(Event::Published(id)));
    link.feed(&script::puback(id));
    assert_eq!(poll(&mut s, 1_300, &mut link), None);
    assert!(s.can_publish());

    // A publish that is never acknowledged: two retransmissions, then the broker is gone.
    let id2 = s.publish(2_000, &mut link, "t", b"r2", false).unwrap();
    assert_ne!(id2, id);
    assert_eq!(poll(&mut s, 3_000, &mut link), None);
    assert_eq!(poll(&mut s, 4_000, &mut link), None);
    assert_eq!(link.take_packets().iter().filter(|p| p.dup()).count(), 2);
    assert_eq!(
        poll(&mut s, 5_000, &mut link),
        Some(Event::Lost(Lost::BrokerSilent))
    );
}

#[test]
fn keepalive_pings_and_a_silent_broker_is_detected() {
    let (mut s, mut link) = connected(0);
    // Half the keepalive without traffic: PINGREQ.
    assert_eq!(poll(&mut s, 4_999, &mut link), None);
    assert!(link.take_packets().is_empty());
    assert_eq!(poll(&mut s, 5_000, &mut link), None);
    assert_eq!(link.take_packets()[0].kind(), kind::PINGREQ);
    link.feed(&script::pingresp());
    assert_eq!(poll(&mut s, 5_100, &mut link), None);
    assert!(s.is_up());

    // The next ping goes unanswered: the session ends so the caller reconnects.
    assert_eq!(poll(&mut s, 10_100, &mut link), None);
    assert_eq!(link.take_packets()[0].kind(), kind::PINGREQ);
    assert_eq!(s.next_deadline(), Some(12_100));
    assert_eq!(poll(&mut s, 12_099, &mut link), None);
    assert_eq!(
        poll(&mut s, 12_100, &mut link),
        Some(Event::Lost(Lost::BrokerSilent))
    );
    assert!(s.is_idle());

    // Reconnect on the same stream.
    s.connect(14_000, &mut link, &CONNECT).unwrap();
    link.feed(&script::connack(0));
    assert_eq!(poll(&mut s, 14_010, &mut link), Some(Event::Connected));
}

#[test]
fn messages_arrive_whole_even_byte_by_byte_and_qos1_is_acknowledged() {
    let (mut s, mut link) = connected(0);
    link.chunk = 1;
    link.feed(&script::publish("hl/v1/lab/mcu-0/ack", b"payload", Some(7)));
    link.feed(&script::publish("hl/v1/lab/mcu-0/config", b"cfg", None));
    let got = messages(&mut s, &mut link, 200);
    assert_eq!(
        got,
        [
            ("hl/v1/lab/mcu-0/ack".into(), b"payload".to_vec()),
            ("hl/v1/lab/mcu-0/config".into(), b"cfg".to_vec())
        ]
    );
    let sent = link.take_packets();
    assert_eq!(sent.len(), 1, "one PUBACK, for the QoS 1 message only");
    assert_eq!(
        (sent[0].kind(), sent[0].body.as_slice()),
        (kind::PUBACK, &[0, 7][..])
    );
}

#[test]
fn an_oversized_packet_is_skipped_and_the_next_one_read() {
    let (mut s, mut link) = connected(0);
    link.chunk = 16;
    link.feed(&script::publish("big", &[0xAB; 300], None));
    link.feed(&script::publish("small", b"ok", None));
    let got = messages(&mut s, &mut link, 100);
    assert_eq!(got, [("small".into(), b"ok".to_vec())]);
    assert_eq!(s.stats.oversized, 1);
    assert!(s.is_up());
}

#[test]
fn subscribe_is_answered_and_refusals_are_seen() {
    let (mut s, mut link) = connected(0);
    s.subscribe(10, &mut link, &["a/ack", "a/config"]).unwrap();
    let (id, filters) = link.take_packets()[0].subscribe();
    assert_eq!(filters, ["a/ack", "a/config"]);
    link.feed(&script::suback(id, &[1, 0x80]));
    assert_eq!(
        poll(&mut s, 20, &mut link),
        Some(Event::Subscribed { granted: false })
    );
    // An unanswered SUBSCRIBE also means the broker is gone.
    s.subscribe(30, &mut link, &["a/ack"]).unwrap();
    assert_eq!(
        poll(&mut s, 2_030, &mut link),
        Some(Event::Lost(Lost::BrokerSilent))
    );
}

#[test]
fn a_closed_stream_or_garbage_ends_the_session() {
    let (mut s, mut link) = connected(0);
    link.closed = true;
    assert_eq!(poll(&mut s, 1, &mut link), Some(Event::Lost(Lost::Closed)));

    let (mut s, mut link) = connected(0);
    link.feed(&[0x10, 0x00]); // a CONNECT, from the broker
    assert_eq!(
        poll(&mut s, 1, &mut link),
        Some(Event::Lost(Lost::Protocol(DecodeError::BadPacket)))
    );

    // Anything but CONNACK first is a protocol error too.
    let mut s = TestSession::new(OPTS);
    let mut link = Script::new();
    s.connect(0, &mut link, &CONNECT).unwrap();
    link.feed(&script::puback(1));
    assert!(matches!(
        poll(&mut s, 1, &mut link),
        Some(Event::Lost(Lost::Protocol(_)))
    ));
}

#[test]
fn encoders_refuse_small_buffers() {
    let mut small = [0u8; 8];
    assert!(codec::connect(&mut small, &CONNECT).is_err());
    assert!(codec::publish(&mut small, "topic", b"payload", Some(1), false).is_err());
    assert!(codec::subscribe(&mut small, 1, &["a/long/filter"]).is_err());
    // The remaining length takes two bytes past 127.
    let mut buf = [0u8; 256];
    let n = codec::publish(&mut buf, "t", &[0; 200], None, false).unwrap();
    assert_eq!(&buf[..3], &[0x30, (203 % 128) | 0x80, 1]);
    assert_eq!(n, 3 + 203);
    assert_eq!(
        codec::header(&[0x30, 0xff, 0xff, 0xff, 0xff]),
        Err(DecodeError::BadLength)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Any bytes: the decoder answers (a packet within bounds, "more", or an error), never panics.
    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(Some((_, used))) = codec::decode(&bytes) {
            prop_assert!(used <= bytes.len() && used >= 2);
        }
    }

    /// Well-framed packets of any type and flags with any body: same guarantee, deeper paths.
    #[test]
    fn decoder_on_framed_noise(first in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut bytes = std::vec![first, 0, 0];
        let n = body.len();
        bytes[1] = (n % 128) as u8 | if n >= 128 { 0x80 } else { 0 };
        if n >= 128 { bytes[2] = (n / 128) as u8; } else { bytes.pop(); }
        bytes.extend_from_slice(&body);
        if let Ok(Some((_, used))) = codec::decode(&bytes) {
            prop_assert_eq!(used, bytes.len());
        }
    }

    /// A session fed arbitrary bytes after connecting survives them, in any chunking.
    #[test]
    fn session_survives_arbitrary_input(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        chunk in 1usize..64,
    ) {
        let (mut s, mut link) = connected(0);
        link.chunk = chunk;
        link.feed(&bytes);
        for t in 0..(bytes.len() as u64 + 10) {
            let _ = s.poll(t, &mut link).unwrap();
        }
    }

    /// What the encoder writes, the decoder reads back.
    #[test]
    fn publish_round_trip(topic in "[a-z/]{1,40}", payload in proptest::collection::vec(any::<u8>(), 0..300), id in 1u16.., retain: bool) {
        let mut buf = [0u8; 400];
        let n = codec::publish(&mut buf, &topic, &payload, Some(id), retain).unwrap();
        let (p, used) = codec::decode(&buf[..n]).unwrap().unwrap();
        prop_assert_eq!(used, n);
        prop_assert_eq!(p, codec::Packet::Publish { topic: &topic, payload: &payload, packet_id: Some(id), retain });
    }
}
