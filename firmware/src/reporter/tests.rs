//! The reporter against a scripted broker in virtual time, with the hub's side played by the
//! hub's own prost types and envelope: what it publishes verifies and decodes as the hub does,
//! reports stay until a signed ack covers them, and a reconnect sends them again.

extern crate std;
use super::*;
use crate::drivers::{ResetCause, Supply};
use crate::mqtt::codec::kind;
use crate::script::{self, Script, Sent};
use heartline_proto::envelope as hub_envelope;
use heartline_proto::wire;
use std::vec::Vec;

const KEY: [u8; 32] = [5; 32];
const BOOT: u64 = 1_790_000_000_000;

fn settings() -> Settings {
    Settings {
        interval_ms: 1_000,
        reconnect_ms: 500,
        reconnect_max_ms: 3_000,
        ack_timeout_ms: 5_000,
        mqtt: mqtt::Options {
            keep_alive_s: 30,
            response_timeout_ms: 2_000,
            retransmit_ms: 1_000,
            max_retransmits: 2,
        },
        limits: Limits::default(),
    }
}

fn reporter() -> Reporter<'static> {
    let id = Identity {
        tenant: "lab",
        device: "mcu-0",
        token: "tok",
        key: DeviceKey(KEY),
    };
    let buffers = std::boxed::Box::leak(std::boxed::Box::new(Buffers::new()));
    Reporter::new(
        id,
        settings(),
        buffers,
        BOOT,
        WallClock::known(BOOT as i64, 0),
        ResetCause::Watchdog,
    )
    .unwrap()
}

fn readings(mc: i32) -> Readings {
    Readings {
        temperature_mc: Some(mc),
        supply: Some(Supply {
            millivolts: 3_900,
            battery_pct: 66,
        }),
    }
}

/// Polls until nothing more happens at `now`; returns the notices.
fn run(r: &mut Reporter<'_>, now: Millis, link: &mut Script) -> Vec<Notice> {
    let mut notices = Vec::new();
    for _ in 0..20 {
        if let Some(n) = r.poll(now, link).unwrap() {
            notices.push(n);
        }
    }
    notices
}

fn hub_ack(sequence: u64, boot_id: u64, key: [u8; 32]) -> Vec<u8> {
    hub_probe(sequence, boot_id, key, 0)
}

/// An ack that also asks for a report now (a probe) when `report_now_at_ms` is not 0.
fn hub_probe(sequence: u64, boot_id: u64, key: [u8; 32], report_now_at_ms: i64) -> Vec<u8> {
    let ack = wire::Ack {
        device_id: "mcu-0".into(),
        boot_id,
        sequence,
        report_now_at_ms,
    };
    script::publish(
        "hl/v1/lab/mcu-0/ack",
        &hub_envelope::seal(&DeviceKey(key), &ack),
        Some(9),
    )
}

fn state_of(payload: &[u8]) -> wire::StateChange {
    hub_envelope::open(&DeviceKey(KEY), payload).expect("a state message the hub accepts")
}

/// Connects, subscribes and announces itself; returns the will and the online message.
fn bring_up(
    r: &mut Reporter<'_>,
    now: Millis,
    link: &mut Script,
) -> (wire::StateChange, wire::StateChange) {
    run(r, now, link);
    let connect = link.take_packets().remove(0).connect();
    assert_eq!(
        (connect.client_id.as_str(), connect.username.as_str()),
        ("mcu-0", "mcu-0")
    );
    assert_eq!(connect.password, b"tok");
    let (will_topic, will) = connect.will.unwrap();
    assert_eq!(will_topic, "hl/v1/lab/mcu-0/state");
    link.feed(&script::connack(0));
    assert_eq!(run(r, now, link), [Notice::Connected]);
    let (id, filters) = link.take_packets().remove(0).subscribe();
    assert_eq!(filters, ["hl/v1/lab/mcu-0/ack", "hl/v1/lab/mcu-0/config"]);
    link.feed(&script::suback(id, &[1, 1]));
    run(r, now, link);
    let online = link.take_packets().remove(0);
    let (topic, id, payload) = online.publish();
    assert_eq!(topic, "hl/v1/lab/mcu-0/state");
    assert!(online.retain());
    let online_msg = state_of(payload);
    link.feed(&script::puback(id));
    run(r, now, link);
    (state_of(&will), online_msg)
}

/// Answers every report PUBLISH with a PUBACK; returns the reports as the hub decodes them.
fn take_reports(link: &mut Script) -> Vec<wire::HealthReport> {
    let sent: Vec<Sent> = link.take_packets();
    let mut out = Vec::new();
    for p in sent.iter().filter(|p| p.kind() == kind::PUBLISH) {
        let (topic, id, payload) = p.publish();
        assert_eq!(topic, "hl/v1/lab/mcu-0/report");
        out.push(hub_envelope::open(&DeviceKey(KEY), payload).expect("the hub verifies it"));
        link.feed(&script::puback(id));
    }
    out
}

#[test]
fn reports_are_signed_acknowledged_and_leave_the_outbox() {
    let mut r = reporter();
    let mut link = Script::new();
    let (will, online) = bring_up(&mut r, 0, &mut link);
    assert_eq!(will.presence, wire::Presence::Offline as i32);
    assert_eq!(online.presence, wire::Presence::Online as i32);
    // The hub honours a will only from the session that announced itself, at the same time.
    assert_eq!((will.session, will.at_ms), (online.session, online.at_ms));
    assert_eq!((online.device_id.as_str(), online.boot_id), ("mcu-0", BOOT));

    assert!(r.report_due(0));
    r.record(0, &readings(36_500));
    assert!(!r.report_due(999) && r.report_due(1_000));
    run(&mut r, 0, &mut link);
    let reports = take_reports(&mut link);
    assert_eq!(reports.len(), 1);
    let first = &reports[0];
    assert_eq!(
        (first.boot_id, first.sequence, first.sent_at_ms),
        (BOOT, 1, BOOT as i64)
    );
    assert_eq!(first.next_checkin_s, 1);
    let metric = |name: &str| {
        first
            .metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    };
    assert_eq!(metric("temperature_c"), Some(36.5));
    assert_eq!(metric("supply_v"), Some(3.9));
    assert_eq!(metric("battery_pct"), Some(66.0));
    assert_eq!(first.checks.len(), 2);
    assert!(
        first
            .checks
            .iter()
            .all(|c| c.status == wire::CheckStatus::Ok as i32)
    );
    // The reset cause goes in the first report only.
    assert_eq!(first.events.len(), 1);
    assert_eq!(first.events[0].kind, wire::EventKind::WatchdogReset as i32);

    run(&mut r, 10, &mut link);
    assert_eq!(r.unacked(), 1, "published is not acknowledged");
    link.feed(&hub_ack(1, BOOT, KEY));
    assert_eq!(run(&mut r, 20, &mut link), [Notice::Acked(1)]);
    assert_eq!((r.unacked(), r.acked()), (0, 1));

    // Over-temperature is a CRIT check; no second reset event.
    r.record(1_000, &readings(75_000));
    run(&mut r, 1_000, &mut link);
    let second = take_reports(&mut link).remove(0);
    assert_eq!(second.sequence, 2);
    assert!(second.events.is_empty());
    let temp = second
        .checks
        .iter()
        .find(|c| c.name == "temperature")
        .unwrap();
    assert_eq!(temp.status, wire::CheckStatus::Crit as i32);
}

/// A connected reporter whose first report went out (not yet acknowledged).
fn up_with_one_report() -> (Reporter<'static>, Script) {
    let mut r = reporter();
    let mut link = Script::new();
    bring_up(&mut r, 0, &mut link);
    r.record(0, &readings(30_000));
    run(&mut r, 0, &mut link);
    take_reports(&mut link);
    (r, link)
}

#[test]
fn forged_acks_and_acks_of_other_boots_change_nothing() {
    let (mut r, mut link) = up_with_one_report();
    link.feed(&hub_ack(1, BOOT, [6; 32]));
    assert_eq!(
        run(&mut r, 10, &mut link),
        [Notice::Refused(EnvelopeError::BadSignature)]
    );
    link.feed(&hub_ack(1, BOOT - 1, KEY));
    assert_eq!(run(&mut r, 20, &mut link), []);
    assert_eq!((r.unacked(), r.acked()), (1, 0));
}

#[test]
fn a_probe_makes_a_report_due_now_once_and_a_replay_or_forgery_does_not() {
    let (mut r, mut link) = up_with_one_report();
    assert!(!r.report_due(100), "the next report is an interval away");
    // Forged: nothing.
    link.feed(&hub_probe(1, BOOT, [6; 32], 50));
    run(&mut r, 100, &mut link);
    assert!(!r.report_due(100));
    // Genuine (even naming an older boot, as before the first ack): due at once.
    link.feed(&hub_probe(0, 0, KEY, 50));
    run(&mut r, 100, &mut link);
    assert!(r.report_due(100));
    r.record(100, &readings(30_000));
    run(&mut r, 100, &mut link);
    assert_eq!(take_reports(&mut link)[0].sequence, 2);
    // The same probe again is a replay.
    link.feed(&hub_probe(0, 0, KEY, 50));
    run(&mut r, 200, &mut link);
    assert!(!r.report_due(200));
}

#[test]
fn unacknowledged_reports_are_sent_again_after_a_reconnect() {
    let mut r = reporter();
    let mut link = Script::new();
    let (_, first_online) = bring_up(&mut r, 0, &mut link);
    r.record(0, &readings(30_000));
    run(&mut r, 0, &mut link);
    let sent: Vec<u64> = take_reports(&mut link).iter().map(|x| x.sequence).collect();
    assert_eq!(sent, [1]);
    run(&mut r, 1, &mut link);
    r.record(1_000, &readings(30_000));
    run(&mut r, 1_000, &mut link);
    let sent: Vec<u64> = take_reports(&mut link).iter().map(|x| x.sequence).collect();
    assert_eq!(sent, [2]);
    run(&mut r, 1_002, &mut link);
    // The hub acked 1 only; 2 stays. After the ack timeout it is published again, but now the
    // broker is silent: no PUBACK, two retransmissions, and the session is given up.
    link.feed(&hub_ack(1, BOOT, KEY));
    run(&mut r, 1_100, &mut link);
    assert_eq!(r.unacked(), 1);
    link.take_packets();
    run(&mut r, 5_999, &mut link);
    assert!(link.take_packets().is_empty());
    run(&mut r, 6_000, &mut link);
    let p = link.take_packets().remove(0);
    let report: wire::HealthReport = hub_envelope::open(&DeviceKey(KEY), p.publish().2).unwrap();
    assert_eq!((report.sequence, p.dup()), (2, false));
    run(&mut r, 7_000, &mut link);
    run(&mut r, 8_000, &mut link);
    assert!(link.take_packets().iter().all(|p| p.dup()));
    assert_eq!(
        run(&mut r, 9_000, &mut link),
        [Notice::Lost(Lost::BrokerSilent)]
    );

    // After the pause it connects again, as a new session with a new will, and re-sends 2.
    assert!(run(&mut r, 9_499, &mut link).is_empty());
    assert!(link.take_packets().is_empty());
    // The first pause is 500 ms plus up to 125 ms of jitter.
    let (will, online) = bring_up(&mut r, 9_625, &mut link);
    assert_ne!(online.session, first_online.session);
    assert_eq!(will.session, online.session);
    let again: Vec<u64> = take_reports(&mut link).iter().map(|x| x.sequence).collect();
    assert_eq!(again, [2]);
    run(&mut r, 9_700, &mut link);
    link.feed(&hub_ack(2, BOOT, KEY));
    assert_eq!(run(&mut r, 9_800, &mut link), [Notice::Acked(2)]);
    assert_eq!(r.unacked(), 0);
    assert_eq!(r.stats.connects, 2);
}

/// Refuses connections until `until`; returns the times of the CONNECTs seen.
fn refuse_connects(r: &mut Reporter<'_>, link: &mut Script, until: Millis) -> Vec<Millis> {
    let mut at = Vec::new();
    for now in (0..until).step_by(5) {
        run(r, now, link);
        for p in link.take_packets() {
            assert_eq!(p.kind(), kind::CONNECT);
            at.push(now);
            link.feed(&script::connack(4));
        }
    }
    at
}

#[test]
fn refused_connections_back_off_with_jitter_up_to_the_cap() {
    let mut r = reporter();
    let mut link = Script::new();
    let at = refuse_connects(&mut r, &mut link, 20_000);
    let pauses: Vec<Millis> = at.windows(2).map(|w| w[1] - w[0]).collect();
    // 500, 1000, 2000 ms, then the 3000 ms cap, each plus up to a quarter of jitter (and the
    // 5 ms polling step).
    for (i, p) in pauses.iter().enumerate() {
        let base = (500u64 << i.min(3)).min(3_000);
        assert!(
            *p >= base && *p <= base + base / 4 + 10,
            "pause {i}: {p} ms ({pauses:?})"
        );
    }
    assert!(pauses.len() >= 6, "{pauses:?}");
    assert!(
        pauses.windows(2).any(|w| w[0] != w[1]),
        "jittered: {pauses:?}"
    );
    assert_eq!(r.stats.refused as usize, at.len());
}

#[test]
fn an_accepted_connection_resets_the_back_off() {
    let mut r = reporter();
    let mut link = Script::new();
    refuse_connects(&mut r, &mut link, 5_000);
    // The next attempt is accepted; once it is lost, the pause is the first one again.
    let start = 10_000;
    let (_, _) = bring_up(&mut r, start, &mut link);
    link.closed = true;
    assert_eq!(
        run(&mut r, start + 10, &mut link),
        [Notice::Lost(Lost::Closed)]
    );
    link.closed = false;
    run(&mut r, start + 10 + 499, &mut link);
    assert!(link.take_packets().is_empty());
    run(&mut r, start + 10 + 625, &mut link);
    assert_eq!(link.take_packets()[0].kind(), kind::CONNECT);
}

#[test]
fn a_full_outbox_keeps_the_newest_reports() {
    let mut r = reporter();
    let mut link = Script::new();
    // Never connected: reports pile up.
    for i in 0..(OUTBOX_SLOTS as u64 + 2) {
        r.record(i * 1_000, &readings(30_000));
    }
    assert_eq!(r.unacked(), OUTBOX_SLOTS);
    assert_eq!(r.dropped(), 2);
    bring_up(&mut r, 10_000, &mut link);
    let first = take_reports(&mut link).remove(0);
    assert_eq!(first.sequence, 3, "the two oldest were dropped");
}

#[test]
fn a_signed_config_changes_the_interval_and_goodbye_is_said() {
    let mut r = reporter();
    let mut link = Script::new();
    bring_up(&mut r, 0, &mut link);
    let config = |version, interval| {
        let c = wire::DeviceConfig {
            device_id: "mcu-0".into(),
            version,
            report_interval_s: interval,
            checks: std::vec![],
        };
        script::publish(
            "hl/v1/lab/mcu-0/config",
            &hub_envelope::seal(&DeviceKey(KEY), &c),
            None,
        )
    };
    link.feed(&config(3, 30));
    assert_eq!(
        run(&mut r, 10, &mut link),
        [Notice::Configured {
            interval_ms: 30_000
        }]
    );
    // An older retained copy does not undo it.
    link.feed(&config(2, 5));
    assert_eq!(run(&mut r, 20, &mut link), []);
    assert_eq!(r.interval_ms(), 30_000);

    r.say_goodbye("firmware update", 120);
    run(&mut r, 30, &mut link);
    let p = link.take_packets().remove(0);
    let (topic, id, payload) = p.publish();
    assert_eq!(topic, "hl/v1/lab/mcu-0/state");
    let bye = state_of(payload);
    assert_eq!(bye.presence, wire::Presence::Goodbye as i32);
    assert_eq!(bye.goodbye.unwrap().back_in_s, 120);
    link.feed(&script::puback(id));
    assert_eq!(run(&mut r, 40, &mut link), [Notice::GoodbyeSent]);
    r.disconnect(40, &mut link).unwrap();
    assert_eq!(link.take_packets()[0].kind(), kind::DISCONNECT);
}

#[test]
fn the_largest_report_fits_its_slot_and_its_publish_the_send_buffer() {
    let long = "x".repeat(64);
    let id = Identity {
        tenant: &long,
        device: &long,
        token: "tok",
        key: DeviceKey(KEY),
    };
    let buffers = std::boxed::Box::leak(std::boxed::Box::new(Buffers::new()));
    let mut r = Reporter::new(
        id,
        settings(),
        buffers,
        u64::MAX,
        WallClock::known(i64::MAX / 2, 0),
        ResetCause::Unknown,
    )
    .unwrap();
    // The longest messages: a supply under its limit, a temperature far over it.
    let worst = Readings {
        temperature_mc: Some(-100_000),
        supply: Some(Supply {
            millivolts: 3_299,
            battery_pct: 100,
        }),
    };
    r.record(u64::MAX / 2, &worst);
    r.record(u64::MAX / 2, &readings(127_000));
    assert_eq!((r.unacked(), r.stats.too_large), (2, 0));
    let mut link = Script::new();
    run(&mut r, 0, &mut link);
    assert_eq!(link.take_packets()[0].kind(), kind::CONNECT);
    link.feed(&script::connack(0));
    run(&mut r, 0, &mut link);
    let (id, _) = link.take_packets().remove(0).subscribe();
    link.feed(&script::suback(id, &[1, 1]));
    run(&mut r, 0, &mut link);
    let (_, id, _) = link.take_packets().remove(0).publish();
    link.feed(&script::puback(id));
    run(&mut r, 0, &mut link);
    let sent = link.take_packets();
    let (_, _, payload) = sent[0].publish();
    let report: wire::HealthReport = hub_envelope::open(&DeviceKey(KEY), payload).unwrap();
    assert_eq!(report.device_id, long);
    assert!(payload.len() <= REPORT_CAP, "{}", payload.len());
}
