//! Heartline's `no_std` health reporter for microcontrollers.
//!
//! This crate grows in the firmware issue (report building with micropb, the MQTT session over
//! `embedded-io`, sensor drivers); for now it pins down that the shared schema crate builds
//! without `std` or an allocator, and re-exports what the firmware will use from it.
#![no_std]

pub use heartline_proto::{Channel, CheckState, DeviceKey, Topic, ids, signing, status, topic};
