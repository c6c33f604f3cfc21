//! Per-device report rate limit: a token bucket per device, so that one device flooding the hub
//! (a bug, a loop, a stolen key) cannot crowd out the others' reports.
//!
//! A bucket holds `burst` tokens (enough for an agent's full outbox after an outage) and refills
//! at `per_minute`; a new report takes one. A refused report is not acknowledged, and because an
//! ack covers every sequence up to it, nothing after a refused report is accepted either until
//! the device sends the refused one again (it does when it reconnects, from its outbox, in
//! order): the limit holds a device back, it never turns a refusal into a silent gap.

use std::collections::HashMap;
use std::time::Instant;

pub struct RateLimit {
    /// Refill, reports per device per minute; 0 = no limit.
    per_minute: u32,
    /// Bucket size.
    burst: u32,
    buckets: HashMap<String, Bucket>,
    /// (device, boot) → the lowest sequence refused and not yet re-sent.
    holes: HashMap<(String, u64), u64>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    pub fn new(per_minute: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_minute,
            burst: burst.max(1),
            buckets: HashMap::new(),
            holes: HashMap::new(),
        }
    }

    /// Whether a new report `(boot, sequence)` of `device` may be committed now.
    pub fn admit(&mut self, device: &str, boot: u64, sequence: u64, now: Instant) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let key = (device.to_string(), boot);
        let hole = self.holes.get(&key).copied();
        if hole.is_some_and(|h| sequence > h) {
            // Held behind an earlier refused report: accepting it would let the ack skip that one.
            return false;
        }
        if self.take(device, now) {
            if hole == Some(sequence) {
                self.holes.remove(&key);
            }
            true
        } else {
            let h = self.holes.entry(key).or_insert(sequence);
            *h = (*h).min(sequence);
            false
        }
    }

    /// Whether a presence change of `device` may be committed now: it takes a token from the
    /// same bucket, so a device cannot flood the hub with online/offline either.
    pub fn admit_state(&mut self, device: &str, now: Instant) -> bool {
        self.per_minute == 0 || self.take(device, now)
    }

    fn take(&mut self, device: &str, now: Instant) -> bool {
        let (burst, per_minute) = (f64::from(self.burst), f64::from(self.per_minute));
        let bucket = match self.buckets.get_mut(device) {
            Some(b) => b,
            None => self.buckets.entry(device.to_string()).or_insert(Bucket {
                tokens: burst,
                at: now,
            }),
        };
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * per_minute / 60.0;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// How many of `seqs` are admitted at `at`.
    fn admitted(limit: &mut RateLimit, seqs: std::ops::RangeInclusive<u64>, at: Instant) -> u64 {
        seqs.filter(|&s| limit.admit("noisy", 1, s, at)).count() as u64
    }

    #[test]
    fn a_burst_then_the_refill_rate_and_devices_apart() {
        let mut limit = RateLimit::new(60, 60);
        let t0 = Instant::now();
        assert_eq!(admitted(&mut limit, 1..=100, t0), 60);
        // Another device is not affected.
        assert!(limit.admit("quiet", 1, 1, t0));
        // One token per second comes back, but 62.. waits behind the refused 61.
        assert!(!limit.admit("noisy", 1, 101, t0 + Duration::from_millis(1_500)));
        assert!(limit.admit("noisy", 1, 61, t0 + Duration::from_millis(1_500)));
        assert!(!limit.admit("noisy", 1, 62, t0 + Duration::from_millis(1_600)));
        // A long pause refills to the burst, not more; the re-sends go through in order.
        let later = t0 + Duration::from_secs(3_600);
        assert_eq!(admitted(&mut limit, 62..=200, later), 60);
    }

    #[test]
    fn nothing_after_a_refused_report_is_accepted_until_it_comes_again() {
        let mut limit = RateLimit::new(60, 2);
        let t0 = Instant::now();
        assert_eq!(admitted(&mut limit, 1..=3, t0), 2);
        let later = t0 + Duration::from_secs(60);
        // Tokens are back, but 4 and 5 would let the ack cover the refused 3.
        assert!(!limit.admit("noisy", 1, 4, later));
        assert!(!limit.admit("noisy", 1, 5, later));
        // The device re-sends from 3 (after a reconnect): in order, as tokens allow.
        assert_eq!(admitted(&mut limit, 3..=5, later), 2);
        // Another boot has its own order.
        assert!(limit.admit("noisy", 2, 1, later + Duration::from_secs(60)));
    }

    #[test]
    fn zero_means_no_limit() {
        let mut limit = RateLimit::new(0, 0);
        let t0 = Instant::now();
        assert!((1..=10_000).all(|s| limit.admit("d", 1, s, t0)));
    }
}
