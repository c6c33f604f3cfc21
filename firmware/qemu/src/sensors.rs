//! The supply-voltage input, simulated: QEMU's lm3s6965evb has nothing on its ADC, so the channel
//! returns a fixed battery voltage, read through the library's real supply driver.

use heartline_firmware::drivers::Adc;

/// A 12-bit ADC channel reading a fixed value.
pub struct SimulatedAdc(pub u16);

impl Adc for SimulatedAdc {
    type Error = ();
    fn read(&mut self) -> Result<u16, ()> {
        Ok(self.0)
    }
}
