//! The engine's timer queue: a calendar of one bucket per second over a window ahead, and a heap
//! beyond it. Entries pop in exactly the `(time, timer)` order a binary heap gives, but a fleet's
//! deadline timers (one per report) cost a push onto a bucket and a pop from a sorted run instead
//! of a sift through a heap far larger than the cache.

use crate::domain::Ms;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Seconds the calendar covers ahead of the second being drained (a power of two). Nine hours:
/// every device interval of the shipped scenarios fits; anything later waits in the heap.
const WINDOW: i64 = 1 << 15;

pub(crate) struct TimerQueue<T> {
    /// Entries of the seconds after `sec`, inside the window, by `second % WINDOW`.
    buckets: Vec<Vec<(Ms, T)>>,
    /// Entries in `buckets`.
    near: usize,
    /// Entries at or past the window's end.
    far: BinaryHeap<Reverse<(Ms, T)>>,
    /// The second being drained; `cur[pos..]` are its entries (and any pushed for earlier
    /// times since), sorted.
    sec: i64,
    cur: Vec<(Ms, T)>,
    pos: usize,
}

impl<T: Ord + Copy> TimerQueue<T> {
    pub(crate) fn new() -> TimerQueue<T> {
        TimerQueue {
            buckets: (0..WINDOW).map(|_| Vec::new()).collect(),
            near: 0,
            far: BinaryHeap::new(),
            sec: 0,
            cur: Vec::new(),
            pos: 0,
        }
    }

    pub(crate) fn push(&mut self, at: Ms, timer: T) {
        let s = at.div_euclid(1_000);
        if s < self.sec {
            self.rewind(s);
        }
        if s == self.sec {
            let e = (at, timer);
            let i = self.pos + self.cur[self.pos..].partition_point(|&x| x <= e);
            self.cur.insert(i, e);
        } else {
            self.file((at, timer));
            self.settle();
        }
    }

    /// Into the calendar or the heap, for a second after `sec`.
    fn file(&mut self, e: (Ms, T)) {
        let s = e.0.div_euclid(1_000);
        if s < self.sec + WINDOW {
            self.buckets[(s & (WINDOW - 1)) as usize].push(e);
            self.near += 1;
        } else {
            self.far.push(Reverse(e));
        }
    }

    /// Makes `s` the second being drained again: `settle` moved on past empty seconds, and now
    /// something is due before the entries it found.
    fn rewind(&mut self, s: i64) {
        let old = self.sec;
        // The calendar's window shrinks at the end: what lies past it goes to the heap.
        for x in 0..(old - s).min(WINDOW) {
            let b = std::mem::take(&mut self.buckets[((s + x) & (WINDOW - 1)) as usize]);
            self.near -= b.len();
            self.far.extend(b.into_iter().map(Reverse));
        }
        self.sec = s;
        let keep =
            self.pos + self.cur[self.pos..].partition_point(|&(at, _)| at.div_euclid(1_000) <= s);
        let later: Vec<(Ms, T)> = self.cur.drain(keep..).collect();
        for e in later {
            self.file(e);
        }
    }

    /// The earliest entry.
    pub(crate) fn peek(&self) -> Option<(Ms, T)> {
        self.cur.get(self.pos).copied()
    }

    pub(crate) fn pop(&mut self) -> Option<(Ms, T)> {
        let e = self.peek()?;
        self.pos += 1;
        self.settle();
        Some(e)
    }

    /// Moves on to the next busy second once the current one is drained, so that `peek` is
    /// always the earliest entry.
    fn settle(&mut self) {
        while self.pos == self.cur.len() {
            if self.near == 0 {
                let Some(&Reverse((at, _))) = self.far.peek() else {
                    return;
                };
                // Nothing in the window: jump to the heap's first second.
                self.sec = self.sec.max(at.div_euclid(1_000) - 1);
            }
            self.sec += 1;
            self.pos = 0;
            // Taken, not swapped: a bucket holds memory only while it holds entries.
            self.cur = std::mem::take(&mut self.buckets[(self.sec & (WINDOW - 1)) as usize]);
            self.near -= self.cur.len();
            // The window moved on by a second: what the heap holds for it comes in.
            while let Some(&Reverse((at, _))) = self.far.peek() {
                let s = at.div_euclid(1_000);
                if s >= self.sec + WINDOW {
                    break;
                }
                let Some(Reverse(e)) = self.far.pop() else {
                    unreachable!("peeked")
                };
                if s <= self.sec {
                    self.cur.push(e);
                } else {
                    self.buckets[(s & (WINDOW - 1)) as usize].push(e);
                    self.near += 1;
                }
            }
            self.cur.sort_unstable();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Pops in the order a binary heap of the same entries would, whatever the mix of pushes
    /// into the past, the current second, the window and beyond it.
    #[test]
    fn pops_in_heap_order() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut q = TimerQueue::new();
        let mut h = BinaryHeap::new();
        let mut now: Ms = 1_795_000_000_000;
        for _ in 0..200_000 {
            if rng.random_bool(0.55) {
                let ahead = match rng.random_range(0..10) {
                    0 => rng.random_range(-5_000..0),
                    1..=6 => rng.random_range(0..10_000),
                    7 | 8 => rng.random_range(0..WINDOW * 1_000 + 5_000),
                    _ => rng.random_range(0..10 * WINDOW * 1_000),
                };
                let e = (now + ahead, rng.random_range(0..50u32));
                q.push(e.0, e.1);
                h.push(Reverse(e));
            } else {
                now += rng.random_range(0..3_000);
                while let Some(&Reverse((at, _))) = h.peek() {
                    if at > now {
                        break;
                    }
                    let Reverse(e) = h.pop().expect("peeked");
                    assert_eq!(q.pop(), Some(e));
                }
                assert_eq!(q.peek(), h.peek().map(|&Reverse(e)| e));
            }
        }
        while let Some(Reverse(e)) = h.pop() {
            assert_eq!(q.pop(), Some(e));
        }
        assert_eq!(q.pop(), None);
    }
}
