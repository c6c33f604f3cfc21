//! The signature every payload carries: HMAC-SHA256 over the encoded inner message with the
//! device's key.
//!
//! The broker cannot tell the hub who published a message, and an external broker is someone
//! else's; the MAC is what lets a device speak only for itself. Both directions use the same two
//! functions: devices sign reports and verify acks, the hub verifies reports and signs acks.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Length of the MAC in bytes.
pub const MAC_LEN: usize = 32;
/// Length of a device key in bytes.
pub const KEY_LEN: usize = 32;

/// A device's secret signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceKey(pub [u8; KEY_LEN]);

impl core::fmt::Debug for DeviceKey {
    // Secrets are never printed, not even by accident in a debug log.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DeviceKey(..)")
    }
}

fn mac(key: &DeviceKey, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail for a 32-byte key.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0).expect("HMAC accepts any key");
    mac.update(body);
    mac
}

/// Signs `body` (the encoded inner message) with the device key.
pub fn sign(key: &DeviceKey, body: &[u8]) -> [u8; MAC_LEN] {
    mac(key, body).finalize().into_bytes().into()
}

/// Checks `tag` against `body` in constant time; any length other than [`MAC_LEN`] fails.
pub fn verify(key: &DeviceKey, body: &[u8], tag: &[u8]) -> bool {
    tag.len() == MAC_LEN && mac(key, body).verify_slice(tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify() {
        let key = DeviceKey([7; KEY_LEN]);
        let tag = sign(&key, b"report");
        assert!(verify(&key, b"report", &tag));
        assert!(!verify(&key, b"report!", &tag));
        assert!(!verify(&DeviceKey([8; KEY_LEN]), b"report", &tag));
        assert!(!verify(&key, b"report", &tag[..31]));
        assert!(!verify(&key, b"report", &[]));
    }

    #[test]
    fn matches_rfc4231_case_2() {
        // RFC 4231 test case 2 uses a short key; HMAC pads keys, so pad it here the same way.
        let mut k = [0u8; KEY_LEN];
        k[..4].copy_from_slice(b"Jefe");
        let tag = sign(&DeviceKey(k), b"what do ya want for nothing?");
        let expected = [
            0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
            0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
            0x64, 0xec, 0x38, 0x43,
        ];
        assert_eq!(tag, expected);
    }

    #[test]
    fn debug_hides_the_key() {
        extern crate std;
        let shown = std::format!("{:?}", DeviceKey([0xAB; KEY_LEN]));
        assert!(!shown.contains("ab") && !shown.contains("171"));
    }
}
