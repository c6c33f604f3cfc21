//! Per-device report rate limit: a token bucket per device, so that one device flooding the hub
//! (a bug, a loop, a stolen key) cannot crowd out the others' reports.
//!
//! A bucket holds up to one minute's allowance and refills continuously; a report takes one
//! token. A refused report is not acknowledged, so an honest device keeps it and sends it again
//! later: the limit slows a device down, it never loses its reports.

use std::collections::HashMap;
use std::time::Instant;

pub struct RateLimit {
    /// Reports per device per minute; 0 = no limit.
    per_minute: u32,
    buckets: HashMap<String, Bucket>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    pub fn new(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute,
            buckets: HashMap::new(),
        }
    }

    /// Takes one token from `device`'s bucket; `false` when it is empty.
    pub fn allow(&mut self, device: &str, now: Instant) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let capacity = f64::from(self.per_minute);
        let bucket = match self.buckets.get_mut(device) {
            Some(b) => b,
            None => self.buckets.entry(device.to_string()).or_insert(Bucket {
                tokens: capacity,
                at: now,
            }),
        };
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * capacity / 60.0;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
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

    #[test]
    fn a_minute_of_burst_then_the_refill_rate_and_devices_apart() {
        let mut limit = RateLimit::new(60);
        let t0 = Instant::now();
        let allowed = (0..100).filter(|_| limit.allow("noisy", t0)).count();
        assert_eq!(allowed, 60);
        // Another device is not affected.
        assert!(limit.allow("quiet", t0));
        // One token per second comes back.
        assert!(!limit.allow("noisy", t0 + Duration::from_millis(500)));
        assert!(limit.allow("noisy", t0 + Duration::from_millis(1_500)));
        assert!(!limit.allow("noisy", t0 + Duration::from_millis(1_600)));
        // A long pause refills to one minute's allowance, not more.
        let later = t0 + Duration::from_secs(3_600);
        assert_eq!((0..100).filter(|_| limit.allow("noisy", later)).count(), 60);
    }

    #[test]
    fn zero_means_no_limit() {
        let mut limit = RateLimit::new(0);
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| limit.allow("d", t0)));
    }
}
