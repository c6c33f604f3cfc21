//! Sealing and opening the `Signed` envelope that wraps every payload on the wire.

use crate::signing::{DeviceKey, sign, verify};
use crate::wire::Signed;
use prost::Message;

/// Why an envelope could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// The bytes are not a `Signed` envelope, or its body is not the expected message.
    Malformed,
    /// The envelope carries no MAC.
    Unsigned,
    /// The MAC does not match the body under this key.
    BadSignature,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OpenError::Malformed => "not a well-formed signed message",
            OpenError::Unsigned => "message carries no signature",
            OpenError::BadSignature => "signature does not match the device key",
        })
    }
}

impl std::error::Error for OpenError {}

/// Encodes `msg`, signs it with `key` and wraps both in a `Signed` envelope.
pub fn seal<M: Message>(key: &DeviceKey, msg: &M) -> Vec<u8> {
    let body = msg.encode_to_vec();
    let mac = sign(key, &body).to_vec();
    Signed { body, mac }.encode_to_vec()
}

/// Decodes the envelope only; the caller looks up the key and calls [`verify_body`].
pub fn decode_envelope(payload: &[u8]) -> Result<Signed, OpenError> {
    let signed = Signed::decode(payload).map_err(|_| OpenError::Malformed)?;
    if signed.mac.is_empty() {
        return Err(OpenError::Unsigned);
    }
    Ok(signed)
}

/// Verifies the envelope's MAC, then decodes its body as `M`.
pub fn verify_body<M: Message + Default>(key: &DeviceKey, signed: &Signed) -> Result<M, OpenError> {
    if !verify(key, &signed.body, &signed.mac) {
        return Err(OpenError::BadSignature);
    }
    M::decode(signed.body.as_slice()).map_err(|_| OpenError::Malformed)
}

/// Decodes, verifies and decodes the body in one call (devices opening acks and config).
pub fn open<M: Message + Default>(key: &DeviceKey, payload: &[u8]) -> Result<M, OpenError> {
    verify_body(key, &decode_envelope(payload)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Ack;

    #[test]
    fn seal_open_round_trip_and_failures() {
        let key = DeviceKey([1; 32]);
        let ack = Ack {
            device_id: "cam-1".into(),
            boot_id: 9,
            sequence: 42,
            report_now_at_ms: 0,
        };
        let sealed = seal(&key, &ack);
        assert_eq!(open::<Ack>(&key, &sealed), Ok(ack.clone()));
        assert_eq!(
            open::<Ack>(&DeviceKey([2; 32]), &sealed),
            Err(OpenError::BadSignature)
        );
        assert_eq!(
            open::<Ack>(&key, b"\xff\xff\xff"),
            Err(OpenError::Malformed)
        );
        let unsigned = Signed {
            body: ack.encode_to_vec(),
            mac: vec![],
        }
        .encode_to_vec();
        assert_eq!(open::<Ack>(&key, &unsigned), Err(OpenError::Unsigned));
    }
}
