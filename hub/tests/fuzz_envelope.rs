//! Bounded fuzzing of what ingest does first with a device's bytes: decoding the `Signed`
//! envelope, verifying its MAC and decoding the `HealthReport` inside. Arbitrary bytes never
//! panic and never verify; any single flipped bit of a signed report, and the right bytes under
//! another device's key, are refused. Runs with `cargo test` (case counts below); failures are
//! kept in `fuzz_envelope.proptest-regressions` and replayed first (2,000 cases per property).

use heartline_proto::envelope::{OpenError, decode_envelope, open, seal, verify_body};
use heartline_proto::wire::{Check, HealthReport, Metric, Signed};
use heartline_proto::{DeviceKey, Topic};
use proptest::prelude::*;
use prost::Message;

fn report() -> impl Strategy<Value = HealthReport> {
    (
        "[a-z0-9-]{1,64}",
        any::<u64>(),
        1..u64::MAX,
        any::<i64>(),
        any::<u32>(),
        prop::collection::vec(("[a-z_]{1,24}", any::<f64>(), "[a-z%]{0,4}"), 0..8),
        prop::collection::vec(("[a-z_]{1,24}", 0..4i32, ".{0,40}"), 0..4),
    )
        .prop_map(
            |(device_id, boot_id, sequence, sent_at_ms, next_checkin_s, metrics, checks)| {
                HealthReport {
                    device_id,
                    boot_id,
                    sequence,
                    sent_at_ms,
                    next_checkin_s,
                    metrics: metrics
                        .into_iter()
                        .map(|(name, value, unit)| Metric {
                            name,
                            value,
                            unit,
                            ..Default::default()
                        })
                        .collect(),
                    checks: checks
                        .into_iter()
                        .map(|(name, status, message)| Check {
                            name,
                            status,
                            message,
                        })
                        .collect(),
                    events: Vec::new(),
                }
            },
        )
}

fn key() -> impl Strategy<Value = DeviceKey> {
    any::<[u8; 32]>().prop_map(DeviceKey)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Noise: decoding never panics and nothing verifies without the key having signed it.
    #[test]
    fn arbitrary_bytes_never_panic_and_never_verify(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        k in key(),
    ) {
        let opened = open::<HealthReport>(&k, &bytes);
        prop_assert!(opened.is_err(), "random bytes verified: {opened:?}");
        if let Ok(signed) = decode_envelope(&bytes) {
            prop_assert!(verify_body::<HealthReport>(&k, &signed).is_err());
        }
    }

    /// A correctly signed body of arbitrary bytes: verification passes, the body decoder must
    /// refuse or decode it without panicking.
    #[test]
    fn a_signed_body_of_noise_decodes_or_is_refused_without_panic(
        body in prop::collection::vec(any::<u8>(), 0..1024),
        k in key(),
    ) {
        let mac = heartline_proto::signing::sign(&k, &body).to_vec();
        let payload = Signed { body, mac }.encode_to_vec();
        match open::<HealthReport>(&k, &payload) {
            Ok(_) | Err(OpenError::Malformed) => {}
            Err(e) => prop_assert!(false, "a correctly signed body was refused as {e:?}"),
        }
    }

    /// Any single bit flipped anywhere in a signed report is refused.
    #[test]
    fn every_bit_flip_of_a_signed_report_is_refused(r in report(), k in key(), at in any::<prop::sample::Index>()) {
        let payload = seal(&k, &r);
        prop_assert_eq!(open::<HealthReport>(&k, &payload), Ok(r));
        let bit = at.index(payload.len() * 8);
        let mut flipped = payload.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let opened = open::<HealthReport>(&k, &flipped);
        prop_assert!(opened.is_err(), "bit {bit} of {} flipped and still verified", payload.len() * 8);
    }

    /// The same bytes under another device's key are refused as a bad signature.
    #[test]
    fn another_devices_key_does_not_verify(r in report(), k in key(), other in key()) {
        prop_assume!(k.0 != other.0);
        let payload = seal(&k, &r);
        prop_assert_eq!(open::<HealthReport>(&other, &payload), Err(OpenError::BadSignature));
    }

    /// Topics from the broker are untrusted text too.
    #[test]
    fn arbitrary_topics_never_panic(topic in prop_oneof![".{0,200}", "hl/v1/[a-z/+#-]{0,60}", "hl/v1/.{0,100}"]) {
        if let Some(t) = Topic::parse(&topic) {
            prop_assert!(!t.tenant.is_empty() && !t.device.is_empty());
        }
    }
}

/// Every bit of one fixed report, exhaustively (the property above samples one bit per case).
#[test]
fn each_bit_of_one_report_exhaustively() {
    let k = DeviceKey([7; 32]);
    let r = HealthReport {
        device_id: "cam-1".into(),
        boot_id: 3,
        sequence: 42,
        sent_at_ms: 1_764_000_000_000,
        next_checkin_s: 60,
        metrics: vec![Metric {
            name: "cpu_pct".into(),
            value: 12.5,
            unit: "%".into(),
            ..Default::default()
        }],
        checks: vec![Check {
            name: "disk".into(),
            status: 1,
            message: "ok".into(),
        }],
        events: Vec::new(),
    };
    let payload = seal(&k, &r);
    for bit in 0..payload.len() * 8 {
        let mut flipped = payload.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert!(
            open::<HealthReport>(&k, &flipped).is_err(),
            "bit {bit} flipped and still verified"
        );
    }
    eprintln!(
        "each of the {} bits of a {}-byte signed report flipped: all refused",
        payload.len() * 8,
        payload.len()
    );
}
