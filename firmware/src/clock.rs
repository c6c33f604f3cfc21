//! Time as the firmware sees it: milliseconds since boot, counted from a hardware tick, plus an
//! optional wall clock. Everything else takes `now` as an argument, so host tests run in virtual
//! time.

/// Milliseconds since boot.
pub type Millis = u64;

/// A monotonic millisecond clock.
pub trait Clock {
    fn now(&self) -> Millis;
}

/// Turns a free-running, wrapping hardware counter (`bits` wide, `hz` ticks per second) into
/// milliseconds since boot. Call [`Ticks::update`] more often than the counter wraps.
#[derive(Debug, Clone)]
pub struct Ticks {
    hz: u32,
    mask: u32,
    last: u32,
    total: u64,
}

impl Ticks {
    /// `bits` in 1..=32; `raw` is the counter's current value.
    pub const fn new(hz: u32, bits: u32, raw: u32) -> Ticks {
        let mask = if bits >= 32 {
            u32::MAX
        } else {
            (1 << bits) - 1
        };
        Ticks {
            hz,
            mask,
            last: raw & mask,
            total: 0,
        }
    }

    /// Takes the counter's current value; returns milliseconds since [`Ticks::new`].
    pub fn update(&mut self, raw: u32) -> Millis {
        let raw = raw & self.mask;
        self.total += u64::from(raw.wrapping_sub(self.last) & self.mask);
        self.last = raw;
        self.total * 1_000 / u64::from(self.hz)
    }
}

/// Unix time, when the board knows it: the wall time at boot plus the uptime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WallClock {
    boot_unix_ms: Option<i64>,
}

impl WallClock {
    /// No wall clock: reports carry 0, as the schema says.
    pub const fn none() -> WallClock {
        WallClock { boot_unix_ms: None }
    }

    /// The board learned that Unix time was `unix_ms` when the uptime was `at`.
    pub const fn known(unix_ms: i64, at: Millis) -> WallClock {
        WallClock {
            boot_unix_ms: Some(unix_ms.saturating_sub(millis_i64(at))),
        }
    }

    /// Unix milliseconds at uptime `now`, or 0.
    pub fn unix_ms(&self, now: Millis) -> i64 {
        self.boot_unix_ms
            .map_or(0, |b| b.saturating_add(millis_i64(now)))
    }
}

const fn millis_i64(ms: Millis) -> i64 {
    if ms > i64::MAX as u64 {
        i64::MAX
    } else {
        ms as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_survive_wrapping() {
        // A 24-bit counter at 1 kHz: one tick per millisecond.
        let mut t = Ticks::new(1_000, 24, 0xFF_FFF0);
        assert_eq!(t.update(0xFF_FFFF), 15);
        assert_eq!(t.update(0x00_0010), 32, "wrapped past zero");
        assert_eq!(t.update(0x00_0010), 32);
        // Upper bits of the raw value are ignored.
        assert_eq!(t.update(0xAB00_0020), 48);
    }

    #[test]
    fn ticks_scale_to_milliseconds() {
        let mut t = Ticks::new(12_000_000, 32, 0);
        assert_eq!(t.update(12_000), 1);
        assert_eq!(t.update(12_000_000), 1_000);
    }

    #[test]
    fn wall_clock() {
        assert_eq!(WallClock::none().unix_ms(5), 0);
        let w = WallClock::known(1_700_000_000_000, 2_000);
        assert_eq!(w.unix_ms(2_000), 1_700_000_000_000);
        assert_eq!(w.unix_ms(3_500), 1_700_000_001_500);
        // Absurd uptimes saturate instead of wrapping.
        assert_eq!(w.unix_ms(u64::MAX), i64::MAX);
    }
}
