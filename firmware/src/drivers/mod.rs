//! Sensor drivers over `embedded-hal` 1.0 traits, and the reset cause.

pub mod lm75;
pub mod reset;
pub mod supply;

pub use lm75::Lm75;
pub use reset::ResetCause;
pub use supply::{Adc, Supply, SupplyConfig, SupplyMonitor};
