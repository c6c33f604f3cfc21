//! The audit trail's records and their SHA-256 hash chain: who did what to which object, when.
//!
//! Every record's hash covers the previous record's hash and the record's own canonical bytes,
//! so editing, deleting or reordering any record breaks the chain from that record on. The store
//! appends records in the transaction of the change they describe (`store::audit`); `verify`
//! walks a chain and names the first record that does not hold.

use heartline_engine::Actor;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash the first record chains from.
pub const GENESIS: [u8; 32] = [0; 32];

/// A change to record, before it has a place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// `engineer:eng-1`, `device:cam-3`, `system`, `operator:alice`.
    pub who: String,
    pub what: String,
    /// `ticket/12`, `device/cam-3`, `inventory`.
    pub object: String,
}

/// One stored, chained record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub at: i64,
    pub who: String,
    pub what: String,
    pub object: String,
    /// SHA-256(previous record's hash ‖ [`AuditRecord::canonical`]).
    pub hash: [u8; 32],
}

impl AuditRecord {
    /// Places `entry` after a record whose hash is `prev`.
    pub fn chain(prev: &[u8; 32], seq: u64, entry: AuditEntry) -> AuditRecord {
        let mut record = AuditRecord {
            seq,
            at: entry.at,
            who: entry.who,
            what: entry.what,
            object: entry.object,
            hash: [0; 32],
        };
        record.hash = record.expected_hash(prev);
        record
    }

    /// The bytes the hash covers, independent of how the store encodes records: seq and time as
    /// 8 big-endian bytes, then each text as a 4-byte big-endian length and its UTF-8 bytes.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(28 + self.who.len() + self.what.len() + self.object.len());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.at.to_be_bytes());
        for text in [&self.who, &self.what, &self.object] {
            out.extend_from_slice(&(text.len() as u32).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out
    }

    /// The hash this record must carry when it follows `prev`.
    pub fn expected_hash(&self, prev: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(prev);
        h.update(self.canonical());
        h.finalize().into()
    }
}

/// What walking a chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `head` is the last record's hash ([`GENESIS`] for an empty trail): kept elsewhere (with a
    /// backup, in a ticket system), it shows later whether records were cut off the end.
    Intact {
        records: u64,
        head: [u8; 32],
    },
    Broken {
        seq: u64,
        reason: String,
    },
}

/// The last record retention removed from the start of the trail (`[store] retention_days`):
/// the first record kept must chain from its hash. Anyone holding an older backup can check
/// that the removed records end in this hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub seq: u64,
    pub at: i64,
    pub hash: [u8; 32],
}

/// Walks `(key, decoded record)` pairs in key order. The first record must be seq 1, every key
/// must equal its record's seq and follow the previous one, and every hash must match.
pub fn verify<I>(rows: I) -> Verdict
where
    I: IntoIterator<Item = (u64, Option<AuditRecord>)>,
{
    verify_from(None, rows)
}

/// As [`verify`], for a trail whose start retention removed: the first record must follow
/// `anchor` (seq and hash); without an anchor, the genesis.
pub fn verify_from<I>(anchor: Option<&Anchor>, rows: I) -> Verdict
where
    I: IntoIterator<Item = (u64, Option<AuditRecord>)>,
{
    let (mut prev, mut expected) = anchor.map_or((GENESIS, 1), |a| (a.hash, a.seq + 1));
    let first = expected;
    for (key, record) in rows {
        let broken = |reason: String| Verdict::Broken { seq: key, reason };
        let Some(r) = record else {
            return broken("the record cannot be decoded".into());
        };
        if key != expected {
            return Verdict::Broken {
                seq: expected,
                reason: format!("record {expected} is missing (the next one is {key})"),
            };
        }
        if r.seq != key {
            return broken(format!("the record says seq {} under key {key}", r.seq));
        }
        if r.expected_hash(&prev) != r.hash {
            return broken(
                "its hash does not match its contents and the previous record's hash".into(),
            );
        }
        prev = r.hash;
        expected += 1;
    }
    Verdict::Intact {
        records: expected - first,
        head: prev,
    }
}

/// Wall-clock milliseconds since the Unix epoch, the trail's time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// How an actor is written in the trail.
pub fn who(actor: &Actor) -> String {
    match actor {
        Actor::Device(d) => format!("device:{d}"),
        Actor::System => "system".into(),
        Actor::Engineer(e) => format!("engineer:{e}"),
        Actor::Customer(c) => format!("customer:{c}"),
        Actor::Operator(o) => format!("operator:{o}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let r = AuditRecord::chain(
                    &prev,
                    seq,
                    AuditEntry {
                        at: seq as i64 * 1000,
                        who: "engineer:e".into(),
                        what: format!("step {seq}"),
                        object: "ticket/1".into(),
                    },
                );
                prev = r.hash;
                r
            })
            .collect()
    }

    fn rows(c: &[AuditRecord]) -> Vec<(u64, Option<AuditRecord>)> {
        c.iter().map(|r| (r.seq, Some(r.clone()))).collect()
    }

    #[test]
    fn an_untouched_chain_is_intact() {
        let c = chain(5);
        assert_eq!(
            verify(rows(&c)),
            Verdict::Intact {
                records: 5,
                head: c[4].hash
            }
        );
        assert_eq!(
            verify(Vec::new()),
            Verdict::Intact {
                records: 0,
                head: GENESIS
            }
        );
    }

    #[test]
    fn an_edit_breaks_the_chain_at_the_edited_record_or_the_next() {
        let mut c = chain(5);
        c[2].what = "step 3, but nicer".into();
        assert!(matches!(verify(rows(&c)), Verdict::Broken { seq: 3, .. }));
        // Rehashing the edited record moves the break to its successor.
        let prev = c[1].hash;
        c[2].hash = c[2].expected_hash(&prev);
        assert!(matches!(verify(rows(&c)), Verdict::Broken { seq: 4, .. }));
    }

    #[test]
    fn a_deleted_or_undecodable_record_is_named() {
        let c = chain(4);
        let mut r = rows(&c);
        r.remove(1);
        assert!(matches!(verify(r), Verdict::Broken { seq: 2, .. }));
        let mut r = rows(&c);
        r[2].1 = None;
        assert!(matches!(verify(r), Verdict::Broken { seq: 3, .. }));
    }

    #[test]
    fn a_trail_cut_by_retention_verifies_from_its_anchor_and_only_from_it() {
        let c = chain(6);
        let anchor = Anchor {
            seq: 2,
            at: c[1].at,
            hash: c[1].hash,
        };
        let kept = rows(&c[2..]);
        assert_eq!(
            verify_from(Some(&anchor), kept.clone()),
            Verdict::Intact {
                records: 4,
                head: c[5].hash
            }
        );
        // Without the anchor, or with one that is not the removed record's, it is broken.
        assert!(matches!(
            verify(kept.clone()),
            Verdict::Broken { seq: 1, .. }
        ));
        let forged = Anchor {
            hash: c[0].hash,
            ..anchor.clone()
        };
        assert!(matches!(
            verify_from(Some(&forged), kept),
            Verdict::Broken { seq: 3, .. }
        ));
        // Everything removed: the anchor is the head.
        assert_eq!(
            verify_from(Some(&anchor), rows(&c[..0])),
            Verdict::Intact {
                records: 0,
                head: c[1].hash
            }
        );
    }

    #[test]
    fn texts_cannot_shift_between_fields() {
        let a = AuditRecord::chain(
            &GENESIS,
            1,
            AuditEntry {
                at: 0,
                who: "ab".into(),
                what: "c".into(),
                object: String::new(),
            },
        );
        let b = AuditRecord::chain(
            &GENESIS,
            1,
            AuditEntry {
                at: 0,
                who: "a".into(),
                what: "bc".into(),
                object: String::new(),
            },
        );
        assert_ne!(a.hash, b.hash);
    }
}
