//! The reports the hub has not acknowledged yet: a fixed ring of sealed reports, oldest first.
//!
//! The hub acknowledges a sequence only after committing it, so a report stays here until then
//! and is sent again after a reconnect. RAM bounds the ring: when it is full the oldest report
//! is dropped (and counted), because fresh health matters more than old health.

/// One sealed report.
#[derive(Clone)]
struct Slot<const CAP: usize> {
    sequence: u64,
    len: usize,
    /// Published (PUBACK received) in the current session.
    sent: bool,
    bytes: [u8; CAP],
}

/// Up to `SLOTS` reports of at most `CAP` bytes each.
pub struct Outbox<const SLOTS: usize, const CAP: usize> {
    slots: [Slot<CAP>; SLOTS],
    /// Index of the oldest report.
    head: usize,
    len: usize,
    /// Reports dropped unacknowledged because the ring was full.
    pub dropped: u32,
}

/// Why a report was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

impl<const SLOTS: usize, const CAP: usize> Default for Outbox<SLOTS, CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SLOTS: usize, const CAP: usize> Outbox<SLOTS, CAP> {
    pub const fn new() -> Self {
        const { assert!(SLOTS > 0) };
        Outbox {
            slots: [const {
                Slot {
                    sequence: 0,
                    len: 0,
                    sent: false,
                    bytes: [0; CAP],
                }
            }; SLOTS],
            head: 0,
            len: 0,
            dropped: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn index(&self, i: usize) -> usize {
        (self.head + i) % SLOTS
    }

    /// Queues a sealed report, written by `fill` into the slot (returning its length), so the
    /// report is built in place. When the ring is full the oldest report makes room, and is lost
    /// even if `fill` fails (its slot was written over).
    pub fn push_with<E>(
        &mut self,
        sequence: u64,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<(), E> {
        let full = self.len == SLOTS;
        let i = if full {
            self.head
        } else {
            self.index(self.len)
        };
        let slot = &mut self.slots[i];
        let filled = fill(&mut slot.bytes);
        if full {
            self.head = (self.head + 1) % SLOTS;
            self.len -= 1;
            self.dropped += 1;
        }
        let len = filled?;
        let slot = &mut self.slots[i];
        slot.len = len;
        slot.sequence = sequence;
        slot.sent = false;
        self.len += 1;
        Ok(())
    }

    /// Queues a copy of `bytes`.
    pub fn push(&mut self, sequence: u64, bytes: &[u8]) -> Result<(), TooLarge> {
        if bytes.len() > CAP {
            return Err(TooLarge);
        }
        self.push_with(sequence, |slot| {
            slot[..bytes.len()].copy_from_slice(bytes);
            Ok(bytes.len())
        })
    }

    /// Drops everything (a new boot starts with an empty ring).
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// The oldest report not yet published in this session.
    pub fn next_unsent(&self) -> Option<(u64, &[u8])> {
        (0..self.len)
            .map(|i| &self.slots[self.index(i)])
            .find(|s| !s.sent)
            .map(|s| (s.sequence, &s.bytes[..s.len]))
    }

    /// The broker took report `sequence`.
    pub fn mark_sent(&mut self, sequence: u64) {
        for i in 0..self.len {
            let slot = &mut self.slots[(self.head + i) % SLOTS];
            if slot.sequence == sequence {
                slot.sent = true;
            }
        }
    }

    /// Everything is to be published again (a new session, or acks stopped coming).
    pub fn rewind(&mut self) {
        for slot in &mut self.slots {
            slot.sent = false;
        }
    }

    /// The hub committed everything up to `sequence`: those reports leave the ring. Returns how
    /// many left.
    pub fn ack(&mut self, sequence: u64) -> usize {
        let mut n = 0;
        while self.len > 0 && self.slots[self.head].sequence <= sequence {
            self.head = (self.head + 1) % SLOTS;
            self.len -= 1;
            n += 1;
        }
        n
    }

    /// Sequences held, oldest first (tests and diagnostics).
    pub fn sequences(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len).map(|i| self.slots[self.index(i)].sequence)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn seqs<const S: usize, const C: usize>(o: &Outbox<S, C>) -> Vec<u64> {
        o.sequences().collect()
    }

    #[test]
    fn acks_drain_in_order_and_resend_after_rewind() {
        let mut o = Outbox::<3, 8>::new();
        for seq in 1..=3 {
            o.push(seq, &[seq as u8; 4]).unwrap();
        }
        assert_eq!(o.next_unsent(), Some((1, &[1u8; 4][..])));
        o.mark_sent(1);
        o.mark_sent(2);
        assert_eq!(o.next_unsent().unwrap().0, 3);
        // The hub committed 1 only.
        assert_eq!(o.ack(1), 1);
        assert_eq!(seqs(&o), [2, 3]);
        // Reconnect: 2 was published but never acknowledged, so it goes again.
        o.rewind();
        assert_eq!(o.next_unsent().unwrap().0, 2);
        assert_eq!(o.ack(3), 2);
        assert!(o.is_empty() && o.next_unsent().is_none());
        // An old ack changes nothing.
        o.push(4, b"x").unwrap();
        assert_eq!(o.ack(2), 0);
        assert_eq!(seqs(&o), [4]);
    }

    #[test]
    fn full_ring_drops_the_oldest_and_counts_it() {
        let mut o = Outbox::<2, 8>::new();
        for seq in 1..=5 {
            o.push(seq, b"r").unwrap();
        }
        assert_eq!(seqs(&o), [4, 5]);
        assert_eq!(o.dropped, 3);
        assert_eq!(o.push(6, &[0; 9]), Err(TooLarge));
        assert_eq!(seqs(&o), [4, 5], "a refused report evicts nothing");
    }

    #[test]
    fn a_failed_fill_leaves_the_ring_as_it_was() {
        let mut o = Outbox::<2, 8>::new();
        o.push(1, b"a").unwrap();
        assert_eq!(
            o.push_with(2, |_| Err("encode failed")),
            Err("encode failed")
        );
        assert_eq!(seqs(&o), [1]);
    }
}
