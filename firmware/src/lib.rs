//! Heartline's `no_std` health reporter for microcontrollers: the same protocol as the Linux
//! agent (signed reports over MQTT, kept until the hub acknowledges them), in fixed RAM and no
//! allocator, tested on the host.
//!
//! - [`reporter`]: the top: numbers, signs and queues reports, runs the MQTT session, applies acks
//!   and config. The board calls [`reporter::Reporter::poll`] in its main loop.
//! - [`mqtt`]: a hand-written MQTT 3.1.1 codec and a non-blocking session over any
//!   `embedded-io` byte stream (a UART to a modem, a TCP socket).
//! - [`report`], [`health`]: the micropb `HealthReport` filled from sensor readings, with checks.
//! - [`envelope`], [`topics`], [`outbox`]: signing, the topic scheme, unacknowledged reports.
//! - [`drivers`]: LM75 temperature (`embedded-hal` I²C), supply voltage (an ADC), reset cause.
//! - [`text`]: decimal numbers without `core::fmt`.
//! - [`clock`]: milliseconds from a tick counter; everything else takes `now` as an argument.
//! - [`pb`]: the types micropb generates from `proto/heartline/v1/device.proto`.
#![no_std]

pub mod clock;
pub mod drivers;
pub mod envelope;
pub mod health;
pub mod mqtt;
pub mod outbox;
pub mod report;
pub mod reporter;
#[cfg(test)]
mod script;
pub mod text;
pub mod topics;

/// The device protocol as micropb generates it (fixed-capacity `heapless` fields).
pub mod pb {
    #![allow(
        clippy::all,
        missing_docs,
        nonstandard_style,
        unused,
        irrefutable_let_patterns
    )]
    include!(concat!(env!("OUT_DIR"), "/device.rs"));
    pub use heartline_::v1_::*;
}

pub use heartline_proto::{DeviceKey, signing};
pub use reporter::{Buffers, Identity, Notice, Readings, Reporter, Settings};
