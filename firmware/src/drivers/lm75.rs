//! LM75-class I²C temperature sensor (LM75A/B, TMP75, TMP105, DS75...): the temperature register
//! is a left-aligned two's-complement value in 1/256 °C, of which a part keeps 9 to 12 bits.

use embedded_hal::i2c::I2c;

/// The bus address with A2..A0 tied low; the others are 0x49..=0x4F.
pub const DEFAULT_ADDRESS: u8 = 0x48;

const REG_TEMP: u8 = 0x00;
const REG_CONFIG: u8 = 0x01;
/// Configuration bit 0: shutdown.
const SHUTDOWN: u8 = 0x01;

/// An LM75 on an I²C bus.
pub struct Lm75<I> {
    i2c: I,
    address: u8,
}

impl<I: I2c> Lm75<I> {
    pub fn new(i2c: I, address: u8) -> Self {
        Lm75 { i2c, address }
    }

    /// Leaves shutdown mode (the part keeps the bit over a microcontroller reset).
    pub fn wake(&mut self) -> Result<(), I::Error> {
        let mut config = [0u8];
        self.i2c
            .write_read(self.address, &[REG_CONFIG], &mut config)?;
        self.i2c
            .write(self.address, &[REG_CONFIG, config[0] & !SHUTDOWN])
    }

    /// The temperature in milli-degrees Celsius.
    #[cfg_attr(feature = "footprint", inline(never))]
    pub fn read_millicelsius(&mut self) -> Result<i32, I::Error> {
        let mut raw = [0u8; 2];
        self.i2c.write_read(self.address, &[REG_TEMP], &mut raw)?;
        Ok(i32::from(i16::from_be_bytes(raw)) * 1_000 / 256)
    }

    /// Gives the bus back.
    pub fn release(self) -> I {
        self.i2c
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use embedded_hal::i2c::ErrorKind;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
    use std::vec;

    fn read(bytes: [u8; 2]) -> i32 {
        let expect = [Transaction::write_read(0x48, vec![0x00], bytes.to_vec())];
        let mut lm75 = Lm75::new(Mock::new(&expect), DEFAULT_ADDRESS);
        let t = lm75.read_millicelsius().unwrap();
        lm75.release().done();
        t
    }

    #[test]
    fn datasheet_values() {
        // LM75B datasheet table: 11-bit values, 0.125 °C per step.
        assert_eq!(read([0x7F, 0x00]), 127_000);
        assert_eq!(read([0x7E, 0xE0]), 126_875);
        assert_eq!(read([0x19, 0x20]), 25_125);
        assert_eq!(read([0x00, 0x20]), 125);
        assert_eq!(read([0x00, 0x00]), 0);
        assert_eq!(read([0xFF, 0xE0]), -125);
        assert_eq!(read([0xE7, 0x00]), -25_000);
        assert_eq!(read([0xC9, 0x20]), -54_875);
        // A 9-bit LM75A: 0.5 °C steps, the low byte is 0x80 or 0.
        assert_eq!(read([0x4B, 0x80]), 75_500);
    }

    #[test]
    fn wake_clears_only_the_shutdown_bit() {
        let expect = [
            Transaction::write_read(0x49, vec![0x01], vec![0x19]),
            Transaction::write(0x49, vec![0x01, 0x18]),
        ];
        let mut lm75 = Lm75::new(Mock::new(&expect), 0x49);
        lm75.wake().unwrap();
        lm75.release().done();
    }

    #[test]
    fn a_bus_error_is_returned() {
        let expect = [
            Transaction::write_read(0x48, vec![0x00], vec![0, 0]).with_error(
                ErrorKind::NoAcknowledge(embedded_hal::i2c::NoAcknowledgeSource::Address),
            ),
        ];
        let mut lm75 = Lm75::new(Mock::new(&expect), DEFAULT_ADDRESS);
        assert!(lm75.read_millicelsius().is_err());
        lm75.release().done();
    }
}
