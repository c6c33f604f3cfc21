//! Sequences the hub skipped over: reports a device sent but the hub has not received, below one
//! it committed (a forward between broker nodes that failed, a queue that overflowed).
//!
//! While a hole is open the device's ack stops just below it, so the device keeps the missing
//! report (and the later ones) in its outbox and sends them again; the missing one is then
//! admitted although its sequence is below the boot's highest, and the ack moves on. A device
//! that dropped reports on purpose (a full outbox) never fills its hole: after `wait` the hub
//! stops waiting and the ack covers it. At most [`MAX_HOLES`] holes are kept per device, oldest
//! given up first. Holes live in memory only: after a hub restart the ack is the highest committed
//! sequence again, as it was before holes were kept.

/// Holes remembered per device; one more gives up the oldest.
pub const MAX_HOLES: usize = 16;

/// The sequences `from..=to` of one boot, missing since `since_ms` (hub clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hole {
    pub boot_id: u64,
    pub from: u64,
    pub to: u64,
    pub since_ms: i64,
}

/// Records that `from..=to` of `boot_id` is missing; returns how many holes were given up to
/// make room.
pub fn open(holes: &mut Vec<Hole>, boot_id: u64, from: u64, to: u64, now_ms: i64) -> usize {
    if from > to {
        return 0;
    }
    holes.push(Hole {
        boot_id,
        from,
        to,
        since_ms: now_ms,
    });
    let over = holes.len().saturating_sub(MAX_HOLES);
    // Pushed in time order, so the oldest are first.
    holes.drain(..over);
    over
}

/// Whether `sequence` of `boot_id` is missing; if so it is no longer (the caller admits it).
pub fn fill(holes: &mut Vec<Hole>, boot_id: u64, sequence: u64) -> bool {
    let Some(i) = holes
        .iter()
        .position(|h| h.boot_id == boot_id && (h.from..=h.to).contains(&sequence))
    else {
        return false;
    };
    let h = holes[i];
    match (h.from == sequence, h.to == sequence) {
        (true, true) => {
            holes.remove(i);
        }
        (true, false) => holes[i].from = sequence + 1,
        (false, true) => holes[i].to = sequence - 1,
        (false, false) => {
            holes[i].to = sequence - 1;
            holes.insert(
                i + 1,
                Hole {
                    from: sequence + 1,
                    ..h
                },
            );
        }
    }
    true
}

/// Gives up holes open for `wait_ms` or longer, and those of boots no longer remembered;
/// returns how many.
pub fn expire(
    holes: &mut Vec<Hole>,
    now_ms: i64,
    wait_ms: i64,
    boot_known: impl Fn(u64) -> bool,
) -> usize {
    let before = holes.len();
    holes.retain(|h| now_ms - h.since_ms < wait_ms && boot_known(h.boot_id));
    before - holes.len()
}

/// What to acknowledge for `boot_id` whose highest committed sequence is `committed`: everything
/// below its lowest hole.
pub fn ack_floor(holes: &[Hole], boot_id: u64, committed: u64) -> u64 {
    holes
        .iter()
        .filter(|h| h.boot_id == boot_id)
        .map(|h| h.from - 1)
        .min()
        .unwrap_or(committed)
        .min(committed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ack_stops_below_the_lowest_hole_until_it_is_filled() {
        let mut holes = Vec::new();
        // 1..=3 committed, 4 and 5 lost, 6 committed.
        open(&mut holes, 7, 4, 5, 0);
        assert_eq!(ack_floor(&holes, 7, 6), 3);
        // Another boot is not held back.
        assert_eq!(ack_floor(&holes, 8, 6), 6);
        assert!(fill(&mut holes, 7, 5));
        assert!(!fill(&mut holes, 7, 5), "a sequence is admitted once");
        assert_eq!(ack_floor(&holes, 7, 6), 3);
        assert!(fill(&mut holes, 7, 4));
        assert!(holes.is_empty());
        assert_eq!(ack_floor(&holes, 7, 6), 6);
    }

    #[test]
    fn filling_the_middle_splits_a_hole() {
        let mut holes = Vec::new();
        open(&mut holes, 1, 10, 20, 0);
        assert!(fill(&mut holes, 1, 15));
        assert!(fill(&mut holes, 1, 10));
        assert!(fill(&mut holes, 1, 20));
        let left: Vec<(u64, u64)> = holes.iter().map(|h| (h.from, h.to)).collect();
        assert_eq!(left, [(11, 14), (16, 19)]);
        assert_eq!(ack_floor(&holes, 1, 30), 10);
        assert!(!fill(&mut holes, 1, 9) && !fill(&mut holes, 1, 21));
        assert!(!fill(&mut holes, 2, 12), "another boot's sequence");
    }

    #[test]
    fn holes_are_given_up_after_the_wait_when_their_boot_is_gone_and_beyond_the_bound() {
        let mut holes = Vec::new();
        open(&mut holes, 1, 2, 2, 0);
        open(&mut holes, 1, 5, 6, 1_000);
        assert_eq!(expire(&mut holes, 1_500, 1_000, |_| true), 1);
        assert_eq!(ack_floor(&holes, 1, 9), 4);
        assert_eq!(expire(&mut holes, 1_500, 1_000, |b| b != 1), 1);
        assert_eq!(ack_floor(&holes, 1, 9), 9);
        let mut given_up = 0;
        for i in 0..(MAX_HOLES as u64 + 3) {
            given_up += open(&mut holes, 1, 10 * i + 1, 10 * i + 2, i as i64);
        }
        assert_eq!((given_up, holes.len()), (3, MAX_HOLES));
        assert_eq!(ack_floor(&holes, 1, 1_000), 30, "the oldest three gave way");
    }
}
