//! Replay and duplicate protection by (boot id, sequence).
//!
//! A device numbers its reports from 1 on every boot. The hub keeps, per device, the highest
//! committed sequence of its most recent boots: a report at or below it was committed already
//! (a re-send after a lost ack, or a replay) and is dropped. Several boots are kept because an
//! agent's on-disk outbox may still hold reports from before a reboot.

use crate::store::BootCursor;

/// Boots remembered per device.
pub const MAX_BOOTS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Not seen before; `gap` reports were skipped since the last committed one of this boot.
    New { gap: u64 },
    /// Already committed; `committed` is the boot's highest committed sequence, to ack again.
    Duplicate { committed: u64 },
}

/// Decides whether `(boot_id, sequence)` is new and, if so, records it in `boots` (most recent
/// first). `sequence` must be at least 1.
pub fn admit(boots: &mut Vec<BootCursor>, boot_id: u64, sequence: u64) -> Admit {
    match boots.iter().position(|b| b.boot_id == boot_id) {
        Some(i) => {
            let committed = boots[i].committed;
            if sequence <= committed {
                return Admit::Duplicate { committed };
            }
            let mut cursor = boots.remove(i);
            cursor.committed = sequence;
            boots.insert(0, cursor);
            Admit::New {
                gap: sequence - committed - 1,
            }
        }
        None => {
            boots.insert(
                0,
                BootCursor {
                    boot_id,
                    committed: sequence,
                },
            );
            boots.truncate(MAX_BOOTS);
            Admit::New { gap: sequence - 1 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // (boot, seq, expected) applied in order to one device.
        let steps: &[(u64, u64, Admit)] = &[
            (1, 1, Admit::New { gap: 0 }),
            (1, 2, Admit::New { gap: 0 }),
            (1, 2, Admit::Duplicate { committed: 2 }),
            (1, 1, Admit::Duplicate { committed: 2 }),
            (1, 5, Admit::New { gap: 2 }),
            // reboot: sequence restarts
            (2, 1, Admit::New { gap: 0 }),
            // the outbox still held boot 1's reports: old ones duplicate, newer ones accepted
            (1, 5, Admit::Duplicate { committed: 5 }),
            (1, 6, Admit::New { gap: 0 }),
            (2, 1, Admit::Duplicate { committed: 1 }),
            (2, 2, Admit::New { gap: 0 }),
        ];
        let mut boots = Vec::new();
        for (i, &(boot, seq, expected)) in steps.iter().enumerate() {
            assert_eq!(
                admit(&mut boots, boot, seq),
                expected,
                "step {i}: boot {boot} seq {seq}"
            );
        }
        assert_eq!(boots[0].boot_id, 2);
    }

    #[test]
    fn remembers_a_bounded_number_of_boots() {
        let mut boots = Vec::new();
        for boot in 0..(MAX_BOOTS as u64 + 3) {
            admit(&mut boots, boot, 1);
        }
        assert_eq!(boots.len(), MAX_BOOTS);
        assert_eq!(
            admit(&mut boots, MAX_BOOTS as u64 + 2, 1),
            Admit::Duplicate { committed: 1 }
        );
    }
}
