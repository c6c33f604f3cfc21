//! Supply voltage from an ADC channel behind a resistor divider, and the battery's charge as a
//! straight line between its empty and full voltages (good enough to see it heading down).

/// One ADC channel; boards implement it over their HAL (there is no ADC trait in
/// `embedded-hal` 1.0).
pub trait Adc {
    type Error;
    /// One conversion, right-aligned in `bits` bits.
    fn read(&mut self) -> Result<u16, Self::Error>;
}

/// How the channel is wired and what the battery looks like.
#[derive(Debug, Clone, Copy)]
pub struct SupplyConfig {
    /// ADC reference, millivolts.
    pub vref_mv: u32,
    /// ADC resolution.
    pub bits: u8,
    /// Divider ratio as (top + bottom) / bottom, times 1000 (2000 for two equal resistors).
    pub divider_x1000: u32,
    /// Battery voltage at 0 % and at 100 %.
    pub empty_mv: u32,
    pub full_mv: u32,
}

/// A supply reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supply {
    pub millivolts: u32,
    /// 0..=100.
    pub battery_pct: u8,
}

/// Reads the supply through `adc`.
pub struct SupplyMonitor<A> {
    adc: A,
    cfg: SupplyConfig,
}

impl<A: Adc> SupplyMonitor<A> {
    pub fn new(adc: A, cfg: SupplyConfig) -> Self {
        SupplyMonitor { adc, cfg }
    }

    #[cfg_attr(feature = "footprint", inline(never))]
    pub fn read(&mut self) -> Result<Supply, A::Error> {
        let raw = u64::from(self.adc.read()?);
        let c = &self.cfg;
        let full_scale = (1u64 << c.bits) - 1;
        let at_pin = raw.min(full_scale) * u64::from(c.vref_mv) / full_scale;
        let millivolts = (at_pin * u64::from(c.divider_x1000) / 1_000) as u32;
        Ok(Supply {
            millivolts,
            battery_pct: percent(millivolts, c.empty_mv, c.full_mv),
        })
    }
}

fn percent(mv: u32, empty: u32, full: u32) -> u8 {
    if full <= empty || mv <= empty {
        return 0;
    }
    (((mv - empty).min(full - empty)) * 100 / (full - empty)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Result<u16, ()>);

    impl Adc for Fixed {
        type Error = ();
        fn read(&mut self) -> Result<u16, ()> {
            self.0
        }
    }

    const LIPO: SupplyConfig = SupplyConfig {
        vref_mv: 3_300,
        bits: 12,
        divider_x1000: 2_000,
        empty_mv: 3_300,
        full_mv: 4_200,
    };

    fn read(raw: u16) -> Supply {
        SupplyMonitor::new(Fixed(Ok(raw)), LIPO).read().unwrap()
    }

    #[test]
    fn divider_and_battery_percent() {
        let cases = [
            // (raw, millivolts, percent)
            (4_095, 6_600, 100),
            (2_606, 4_200, 100),
            (2_327, 3_750, 50),
            (2_048, 3_300, 0),
            (1_000, 1_611, 0),
            (0, 0, 0),
            // Out of range from a misbehaving ADC: clamped to full scale.
            (u16::MAX, 6_600, 100),
        ];
        for (raw, mv, pct) in cases {
            let s = read(raw);
            assert!(s.millivolts.abs_diff(mv) <= 2, "raw {raw}: {s:?}");
            assert_eq!(s.battery_pct, pct, "raw {raw}: {s:?}");
        }
    }

    #[test]
    fn adc_errors_pass_through() {
        assert_eq!(SupplyMonitor::new(Fixed(Err(())), LIPO).read(), Err(()));
    }
}
