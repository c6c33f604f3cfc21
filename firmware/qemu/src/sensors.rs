//! The sensors this board would carry, simulated: QEMU's lm3s6965evb has no temperature sensor
//! and nothing on its ADC, so an LM75 answers on a software I²C bus (register protocol as the
//! datasheet) and the ADC returns a battery voltage. The library's real drivers read them.

use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation};
use heartline_firmware::drivers::{Adc, lm75};

/// An I²C bus with one LM75 at its default address, at `millicelsius`.
pub struct SimulatedBus {
    pub millicelsius: i32,
    register: u8,
}

impl SimulatedBus {
    pub fn new(millicelsius: i32) -> Self {
        SimulatedBus {
            millicelsius,
            register: 0,
        }
    }
}

impl ErrorType for SimulatedBus {
    type Error = ErrorKind;
}

impl I2c for SimulatedBus {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), ErrorKind> {
        if address != lm75::DEFAULT_ADDRESS {
            return Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
        }
        for op in operations {
            match op {
                Operation::Write(bytes) => {
                    if let Some(r) = bytes.first() {
                        self.register = *r;
                    }
                }
                Operation::Read(buf) => {
                    // Temperature register: 1/256 °C, left-aligned, 11 significant bits.
                    let raw = (self.millicelsius * 256 / 1_000) as i16 as u16 & 0xFFE0;
                    let value = match self.register {
                        0 => raw.to_be_bytes(),
                        _ => [0, 0],
                    };
                    for (b, v) in buf.iter_mut().zip(value) {
                        *b = v;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A 12-bit ADC channel reading a fixed value.
pub struct SimulatedAdc(pub u16);

impl Adc for SimulatedAdc {
    type Error = ();
    fn read(&mut self) -> Result<u16, ()> {
        Ok(self.0)
    }
}
