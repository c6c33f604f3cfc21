//! The `Signed` envelope on the device side: a message is encoded straight into the send buffer
//! and framed as `Signed { body, mac }` around it (no second copy), and what the hub sends is
//! opened only when its HMAC verifies under the device key.

use crate::pb::Signed;
use heartline_proto::signing::{DeviceKey, MAC_LEN, sign, verify};
use micropb::{MessageDecode, MessageEncode, PbEncoder};

/// Why a message could not be sealed or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The sealed message does not fit the buffer.
    TooLarge,
    /// Not a `Signed` envelope, or its body is not the expected message.
    Malformed,
    /// The MAC does not match: the message is not from the hub (or not for this device).
    BadSignature,
}

/// `Signed.body` is field 1, `Signed.mac` field 2, both length-delimited.
const BODY_TAG: u8 = 1 << 3 | 2;
const MAC_TAG: u8 = 2 << 3 | 2;

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut [u8], mut v: usize) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}

/// Encodes `msg`, signs it with `key` and writes the envelope into `out`; returns its length.
#[cfg_attr(feature = "footprint", inline(never))]
pub fn seal<M: MessageEncode>(
    key: &DeviceKey,
    msg: &M,
    out: &mut [u8],
) -> Result<usize, EnvelopeError> {
    let body_len = msg.compute_size();
    let head = 1 + varint_len(body_len);
    let total = head + body_len + 2 + MAC_LEN;
    if total > out.len() {
        return Err(EnvelopeError::TooLarge);
    }
    out[0] = BODY_TAG;
    put_varint(&mut out[1..], body_len);
    let body = &mut out[head..head + body_len];
    {
        let mut encoder = PbEncoder::new(&mut *body);
        msg.encode(&mut encoder)
            .map_err(|()| EnvelopeError::TooLarge)?;
    }
    let mac = sign(key, body);
    let tail = &mut out[head + body_len..total];
    tail[0] = MAC_TAG;
    tail[1] = MAC_LEN as u8;
    tail[2..].copy_from_slice(&mac);
    Ok(total)
}

/// Decodes the envelope, verifies its MAC under `key`, and decodes the body as `M`.
#[cfg_attr(feature = "footprint", inline(never))]
pub fn open<M: MessageDecode + Default>(
    key: &DeviceKey,
    payload: &[u8],
) -> Result<M, EnvelopeError> {
    let mut signed = Signed::default();
    signed
        .decode_from_bytes(payload)
        .map_err(|_| EnvelopeError::Malformed)?;
    if !verify(key, &signed.body, &signed.mac) {
        return Err(EnvelopeError::BadSignature);
    }
    let mut msg = M::default();
    msg.decode_from_bytes(&signed.body)
        .map_err(|_| EnvelopeError::Malformed)?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::pb::Ack;
    use heartline_proto::wire;
    use prost::Message;
    use std::vec;

    const KEY: DeviceKey = DeviceKey([3; 32]);

    #[test]
    fn sealed_by_the_device_opens_on_the_hub() {
        let mut ack = Ack::default();
        ack.device_id.push_str("mcu-0").unwrap();
        ack.boot_id = 77;
        ack.sequence = 300;
        let mut out = [0u8; 128];
        let n = seal(&KEY, &ack, &mut out).unwrap();
        let hub: wire::Ack = heartline_proto::envelope::open(&KEY, &out[..n]).unwrap();
        assert_eq!(
            (hub.device_id.as_str(), hub.boot_id, hub.sequence),
            ("mcu-0", 77, 300)
        );
        // One byte short of the envelope is refused, not truncated.
        assert_eq!(
            seal(&KEY, &ack, &mut out[..n - 1]),
            Err(EnvelopeError::TooLarge)
        );
    }

    #[test]
    fn sealed_by_the_hub_opens_on_the_device_only_with_its_key() {
        let sealed = heartline_proto::envelope::seal(
            &KEY,
            &wire::Ack {
                device_id: "mcu-0".into(),
                boot_id: 5,
                sequence: 9,
                report_now_at_ms: 0,
            },
        );
        let ack: Ack = open(&KEY, &sealed).unwrap();
        assert_eq!(
            (ack.device_id.as_str(), ack.boot_id, ack.sequence),
            ("mcu-0", 5, 9)
        );
        assert_eq!(
            open::<Ack>(&DeviceKey([4; 32]), &sealed),
            Err(EnvelopeError::BadSignature)
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            open::<Ack>(&KEY, &tampered),
            Err(EnvelopeError::BadSignature)
        );
        assert_eq!(
            open::<Ack>(&KEY, b"\x0a\xff"),
            Err(EnvelopeError::Malformed)
        );
        // A validly signed body that is not an Ack.
        let junk = wire::Signed {
            body: vec![0xff, 0xff],
            mac: sign(&KEY, &[0xff, 0xff]).to_vec(),
        }
        .encode_to_vec();
        assert_eq!(open::<Ack>(&KEY, &junk), Err(EnvelopeError::Malformed));
    }
}
