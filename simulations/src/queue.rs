//! When each device reports next: a calendar queue with one bucket per virtual second, so a
//! fleet of 100,000 devices costs a push and a pop per report instead of a heap's log n.

use heartline_engine::Ms;

pub struct ReportQueue {
    buckets: Vec<Vec<(Ms, u32)>>,
    mask: i64,
    /// The second being drained, sorted; `pos` is the next entry.
    sec: i64,
    cur: Vec<(Ms, u32)>,
    pos: usize,
    len: usize,
}

impl ReportQueue {
    /// A queue starting at `start` that takes entries up to `horizon` ms ahead of the second
    /// being drained.
    pub fn new(start: Ms, horizon: Ms) -> ReportQueue {
        let n = ((horizon / 1_000 + 2) as usize).next_power_of_two();
        ReportQueue {
            buckets: vec![Vec::new(); n],
            mask: n as i64 - 1,
            sec: start.div_euclid(1_000),
            cur: Vec::new(),
            pos: 0,
            len: 0,
        }
    }

    /// Schedules device `d` at `t`. A time before the second being drained (`peek` may have
    /// moved on to the next busy second) joins that second's entries ahead of them, in order.
    pub fn push(&mut self, t: Ms, d: u32) {
        let s = t.div_euclid(1_000);
        assert!(
            s - self.sec <= self.mask,
            "a report scheduled beyond the queue's horizon"
        );
        if s <= self.sec {
            let at = self.pos + self.cur[self.pos..].partition_point(|&e| e <= (t, d));
            self.cur.insert(at, (t, d));
        } else {
            self.buckets[(s & self.mask) as usize].push((t, d));
        }
        self.len += 1;
    }

    /// The earliest entry.
    pub fn peek(&mut self) -> Option<(Ms, u32)> {
        while self.pos == self.cur.len() {
            if self.len == 0 {
                return None;
            }
            self.sec += 1;
            self.cur.clear();
            self.pos = 0;
            std::mem::swap(
                &mut self.cur,
                &mut self.buckets[(self.sec & self.mask) as usize],
            );
            self.cur.sort_unstable();
        }
        Some(self.cur[self.pos])
    }

    pub fn pop(&mut self) -> Option<(Ms, u32)> {
        let e = self.peek()?;
        self.pos += 1;
        self.len -= 1;
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_across_seconds_and_wraps() {
        let mut q = ReportQueue::new(10_000, 5_000);
        q.push(14_500, 1);
        q.push(10_200, 2);
        q.push(10_100, 3);
        q.push(12_000, 4);
        assert_eq!(q.pop(), Some((10_100, 3)));
        // An entry in the second being drained lands in order.
        q.push(10_150, 5);
        assert_eq!(q.pop(), Some((10_150, 5)));
        assert_eq!(q.pop(), Some((10_200, 2)));
        assert_eq!(q.pop(), Some((12_000, 4)));
        // peek moves on to the next busy second; an earlier push still comes first.
        assert_eq!(q.peek(), Some((14_500, 1)));
        q.push(13_200, 7);
        assert_eq!(q.pop(), Some((13_200, 7)));
        q.push(17_000, 6); // wraps around the ring
        assert_eq!(q.pop(), Some((14_500, 1)));
        assert_eq!(q.pop(), Some((17_000, 6)));
        assert_eq!(q.pop(), None);
    }
}
